/* ingestd's small admin HTTP server: /healthz, /readyz (MongoDB ping and Kafka metadata),
 * /metrics. No data, so no authentication. A thread per connection, and a MongoDB probe
 * client of its own: a /readyz waiting on a slow database holds only itself. */
#ifndef INGESTD_ADMIN_H
#define INGESTD_ADMIN_H

#include <librdkafka/rdkafka.h>

#include "flags.h"
#include "http.h"

struct ingestd_admin;

/* The routing table (app: the struct ingestd_admin), public for the tests. */
extern const struct dapi_http_route ingestd_admin_routes[];
extern const size_t ingestd_admin_nroutes;

/* Serves on --admin-bind:--admin-port; rk (borrowed) answers the Kafka half of /readyz.
 * Returns NULL with errstr. */
struct ingestd_admin *ingestd_admin_start(const struct ingestd_opts *o, rd_kafka_t *rk,
                                          char *errstr, size_t errstr_size);

int ingestd_admin_port(const struct ingestd_admin *a);

/* Stops the server and frees. NULL is a no-op. */
void ingestd_admin_stop(struct ingestd_admin *a);

#endif
