/* ingestd's small admin HTTP server: /healthz, /readyz (MongoDB ping and Kafka metadata),
 * /metrics. No data, so no authentication. */
#ifndef DAPI_ADMIN_H
#define DAPI_ADMIN_H

#include <librdkafka/rdkafka.h>
#include <mongoc/mongoc.h>

#include "http.h"
#include "mongo.h"

struct ingestd_admin {
	struct dapi_mongo_probe *probe;
	rd_kafka_t *rk;
	const char *topic;
};

extern const struct dapi_http_route ingestd_admin_routes[];
extern const size_t ingestd_admin_nroutes;

#endif
