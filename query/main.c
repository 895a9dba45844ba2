/* dataapi-query: wiring. Options, then the database pool, the readiness probe and the HTTP
 * server; serve until SIGTERM; one ladder tears down after a failure or a stop. */
#include <stdio.h>

#include "flags.h"
#include "log.h"
#include "query.h"
#include "service.h"

/* The receipts of erasure requests, on the key store's server (its own pool) or, by
 * default, the dialogs'. False with errstr. */
static bool open_receipts(const struct query_opts *o, struct query *q, char *errstr,
                          size_t errstr_size)
{
	mongoc_client_pool_t *pool = q->dialogs.pool;
	if (*o->keys_uri && !(pool = q->keys_pool = dapi_mongo_pool_new(
	                              o->keys_uri, "dataapi-query-keys", o->max_time_ms,
	                              (int32_t)o->pool_wait_ms, errstr, errstr_size)))
		return false;
	if (!(q->erasures = dapi_erasures_new(pool, o->keys_db, NULL)))
		snprintf(errstr, errstr_size, "out of memory");
	return q->erasures != NULL;
}

int main(int argc, char **argv)
{
	struct query_opts o;
	struct dapi_auth *auth = NULL;
	struct query q = { 0 };
	struct dapi_http_server *server = NULL;
	struct dapi_http_config hcfg = { 0 };
	char errstr[512] = "";
	int rc;

	if ((rc = query_configure(&o, argc, argv)))
		return rc == 1 ? 0 : rc;
	if (dapi_service_auth_load(&o.auth, &auth, errstr, sizeof(errstr)) < 0) {
		fprintf(stderr, "dataapi-query: %s\n", errstr);
		return 2;
	}
	dapi_signals_install();
	dapi_mongo_init();
	q = (struct query){ .dialogs = { NULL, o.mongo.db, o.mongo.collection, o.max_time_ms,
		                         o.export_time_ms, (size_t)o.page_bytes,
		                         (enum query_total)o.total },
		            .retry_after_s = (int)o.retry_after_s,
		            .exports_max = (int)o.exports_max,
		            .export_deadline_ms = o.export_time_ms,
		            .export_min_rate = o.export_rate,
		            .export_window_ms = o.http.conn_timeout_s * 1000 };
	q.dialogs.resolved = &q.total_resolved; /* q lives as long as main */
	query_metrics_init(&q);
	dapi_service_http_config(&o.http, &hcfg);
	/* A thread per connection: database calls block, and a slow page or export must hold
	 * only its own connection, never /healthz's, /metrics' or another reader's. */
	hcfg.threads = 0;
	hcfg.auth = auth;
	rc = 1;
	if (!(q.dialogs.pool =
	              dapi_mongo_pool_new(o.mongo.uri, "dataapi-query", o.max_time_ms,
	                                  (int32_t)o.pool_wait_ms, errstr, sizeof(errstr))) ||
	    !open_receipts(&o, &q, errstr, sizeof(errstr)) ||
	    !(q.probe = dapi_mongo_probe_new(o.mongo.uri, "dataapi-query-probe", 1000, errstr,
	                                     sizeof(errstr))) ||
	    !(server = dapi_http_server_new(&hcfg, query_routes, query_nroutes, &q, errstr,
	                                    sizeof(errstr))))
		goto out;
	DAPI_INFO("started", "{s:s, s:i}", "bind", o.http.bind, "port",
	          dapi_http_server_port(server));
	while (!dapi_stop_requested)
		dapi_sleep_unless_stopped(100);
	DAPI_INFO("stopping", NULL);
	dapi_http_server_quiesce(server);
	rc = 0;
out:
	if (*errstr)
		DAPI_ERROR("start_failed", "{s:s}", "detail", errstr);
	dapi_http_server_destroy(server); /* finishes the responses under way */
	dapi_mongo_probe_destroy(q.probe);
	dapi_erasures_destroy(q.erasures);
	if (q.keys_pool)
		mongoc_client_pool_destroy(q.keys_pool);
	if (q.dialogs.pool)
		mongoc_client_pool_destroy(q.dialogs.pool);
	mongoc_cleanup();
	dapi_auth_destroy(auth);
	DAPI_INFO("stopped", "{s:i}", "exit", rc);
	return rc;
}
