#include "admin.h"

#include "mongo.h"

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
