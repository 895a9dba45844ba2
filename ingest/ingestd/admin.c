#include "admin.h"

#include <stdio.h>
#include <stdlib.h>

#include "http.h"
#include "mongo.h"

struct ingestd_admin {
	struct dapi_mongo_probe *probe;
	rd_kafka_t *rk;
	const char *topic;
	struct dapi_http_server *server;
};

static enum MHD_Result handle_readyz(struct dapi_http_req *r, void *app)
{
	struct ingestd_admin *a = app;
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt;
	rd_kafka_resp_err_t err;
	bson_error_t berr;

	if (!dapi_mongo_probe_ping(a->probe, &berr))
		return dapi_http_reply_unavailable(r, "MongoDB is not reachable", 2);
	rkt = rd_kafka_topic_new(a->rk, a->topic, NULL);
	err = rd_kafka_metadata(a->rk, 0, rkt, &md, 1000);
	rd_kafka_topic_destroy(rkt);
	if (md)
		rd_kafka_metadata_destroy(md);
	if (err)
		return dapi_http_reply_unavailable(r, "Kafka is not reachable", 2);
	return dapi_http_reply_json(r, MHD_HTTP_OK, json_pack("{s:s}", "status", "ready"));
}

/* clang-format off */
const struct dapi_http_route ingestd_admin_routes[] = {
	{"GET", "/healthz", dapi_http_handle_healthz, 0, DAPI_ROLE_PUBLIC},
	{"GET", "/readyz",  handle_readyz,            0, DAPI_ROLE_PUBLIC},
	{"GET", "/metrics", dapi_http_handle_metrics, 0, DAPI_ROLE_PUBLIC},
};
/* clang-format on */
const size_t ingestd_admin_nroutes = sizeof(ingestd_admin_routes) / sizeof(ingestd_admin_routes[0]);

struct ingestd_admin *ingestd_admin_start(const struct ingestd_opts *o, rd_kafka_t *rk,
                                          char *errstr, size_t errstr_size)
{
	struct ingestd_admin *a = calloc(1, sizeof(*a));
	if (!a) {
		snprintf(errstr, errstr_size, "out of memory");
		return NULL;
	}
	a->rk = rk;
	a->topic = o->kafka.topic;
	a->probe = dapi_mongo_probe_new(o->mongo.uri, "dataapi-ingestd-probe", 1000, errstr,
	                                errstr_size);
	struct dapi_http_config cfg = { .bind_addr = o->admin_bind,
		                        .port = (int)o->admin_port,
		                        .threads = 0,
		                        .conn_timeout_s = 10,
		                        .conn_limit = 64 };
	if (a->probe)
		a->server = dapi_http_server_new(&cfg, ingestd_admin_routes, ingestd_admin_nroutes,
		                                 a, errstr, errstr_size);
	if (!a->server) {
		ingestd_admin_stop(a);
		return NULL;
	}
	return a;
}

int ingestd_admin_port(const struct ingestd_admin *a)
{
	return dapi_http_server_port(a->server);
}

void ingestd_admin_stop(struct ingestd_admin *a)
{
	if (!a)
		return;
	dapi_http_server_destroy(a->server);
	dapi_mongo_probe_destroy(a->probe);
	free(a);
}
