/* dataapi-query: wiring, flags, signals and an orderly shutdown. */
#include <mongoc/mongoc.h>
#include <stdio.h>

#include "log.h"
#include "mongo.h"
#include "options.h"
#include "query.h"
#include "service.h"

static const char summary[] =
        "Serves consented DataAPI dialogs read-only over HTTP: GET /data (pages),\n"
        "GET /data/{customerId}/{dialogId}, GET /data/export (NDJSON stream).";

int main(int argc, char **argv)
{
	const char *log_level;
	struct dapi_mongo_opts mongo;
	int64_t max_time, retry_after, exports_max, export_time, export_rate, page_bytes, pool_wait;
	struct dapi_service_opts svc;
	struct dapi_auth_opts auth_opts;
	struct dapi_auth *auth = NULL;
	struct query q = { 0 };
	mongoc_client_pool_t *pool = NULL;
	struct dapi_http_server *server = NULL;
	char errstr[512];
	int rc;

	/* clang-format off */
	const struct dapi_opt opts[] = {
		DAPI_OPT_HTTP(svc, "8081"),
		DAPI_OPT_MONGO(mongo),
		{"query-timeout", 0, "QUERY_TIMEOUT", DAPI_OPT_DURATION, &max_time, "5s", 10, 600000,
		 "maxTimeMS for each page query"},
		{"retry-after", 0, "RETRY_AFTER", DAPI_OPT_INT, &retry_after, "2", 1, 3600,
		 "Seconds suggested in Retry-After on 503"},
		{"pool-wait", 0, "POOL_WAIT", DAPI_OPT_DURATION, &pool_wait, "1s", 10, 60000,
		 "Longest wait for a free database client before answering 503 (the pool's size is "
		 "the URI's maxPoolSize, 100 by default)"},
		{"max-page-bytes", 0, "MAX_PAGE_BYTES", DAPI_OPT_INT, &page_bytes, "8388608", 65536,
		 1073741824, "Most bytes of dialogs on a GET /data page; a longer page ends early and "
		 "nextCursor continues it (a page holds at least one dialog)"},
		{"max-exports", 0, "MAX_EXPORTS", DAPI_OPT_INT, &exports_max, "8", 1, 1000,
		 "Concurrent GET /data/export streams (each holds a database client); more get 503"},
		{"export-timeout", 0, "EXPORT_TIMEOUT", DAPI_OPT_DURATION, &export_time, "30m", 1000,
		 86400000, "Longest time one export may stream (also its cursor's maxTimeMS)"},
		{"export-min-rate", 0, "EXPORT_MIN_RATE", DAPI_OPT_INT, &export_rate, "1024", 0,
		 1073741824, "Bytes a second an export's client must take, over each --conn-timeout, "
		 "or the export is cut off (0: no minimum)"},
		DAPI_OPT_AUTH(auth_opts),
		DAPI_OPT_LOG_LEVEL(log_level),
	}; /* clang-format on */

	rc = dapi_config_load(opts, sizeof(opts) / sizeof(opts[0]), argc, argv, summary, errstr,
	                      sizeof(errstr));
	if (rc == 1)
		return 0;
	if (rc < 0 || dapi_service_log_init("query", log_level, errstr, sizeof(errstr)) < 0) {
		fprintf(stderr, "dataapi-query: %s\n", errstr);
		return 2;
	}
	if (dapi_service_auth_load(&auth_opts, &auth, errstr, sizeof(errstr)) < 0) {
		fprintf(stderr, "dataapi-query: %s\n", errstr);
		return 2;
	}
	dapi_signals_install();
	dapi_mongo_init();

	pool = dapi_mongo_pool_new(mongo.uri, "dataapi-query", max_time, (int32_t)pool_wait, errstr,
	                           sizeof(errstr));
	if (!pool)
		goto fail;
	q.probe = dapi_mongo_probe_new(mongo.uri, "dataapi-query-probe", 1000, errstr,
	                               sizeof(errstr));
	if (!q.probe)
		goto fail;
	q.dialogs = (struct dapi_dialogs){ pool,     mongo.db,    mongo.collection,
		                           max_time, export_time, (size_t)page_bytes };
	q.retry_after_s = (int)retry_after;
	q.exports_max = (int)exports_max;
	q.export_deadline_ms = export_time;
	q.export_min_rate = export_rate;
	q.export_window_ms = svc.conn_timeout_s * 1000;

	struct dapi_http_config hcfg = { 0 };
	dapi_service_http_config(&svc, &hcfg);
	/* A thread per connection: database calls block, and a slow page or export must hold
	 * only its own connection, never /healthz's, /metrics' or another reader's. */
	hcfg.threads = 0;
	hcfg.auth = auth;
	server = dapi_http_server_new(&hcfg, query_routes, query_nroutes, &q, errstr,
	                              sizeof(errstr));
	if (!server)
		goto fail;
	DAPI_INFO("started", "{s:s, s:i}", "bind", svc.bind, "port", dapi_http_server_port(server));

	while (!dapi_stop_requested)
		dapi_sleep_unless_stopped(100);

	DAPI_INFO("stopping", NULL);
	dapi_http_server_quiesce(server);
	dapi_http_server_destroy(server); /* finishes the responses under way */
	dapi_mongo_probe_destroy(q.probe);
	mongoc_client_pool_destroy(pool);
	mongoc_cleanup();
	dapi_auth_destroy(auth);
	DAPI_INFO("stopped", "{s:i}", "exit", 0);
	return 0;

fail:
	DAPI_ERROR("start_failed", "{s:s}", "detail", errstr);
	dapi_auth_destroy(auth);
	dapi_http_server_destroy(server);
	dapi_mongo_probe_destroy(q.probe);
	mongoc_client_pool_destroy(pool);
	mongoc_cleanup();
	return 1;
}
