/* The ingress: HTTP requests in, events to Kafka, 202 once Kafka has them. */
#ifndef INGRESS_H
#define INGRESS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "http.h"
#include "erasures.h"
#include "keystore.h"

struct ingress_config {
	const char *brokers;
	const struct dapi_props *props; /* librdkafka properties */
	const char *topic;
	int64_t produce_timeout_ms; /* a request is answered 503 when its report is later */
	int64_t queue_max;          /* events waiting for Kafka before new requests get 503 */
	size_t max_text;
	size_t max_batch_lines; /* POST /batch: more lines get 413 */
	int retry_after_s;
	/* Sealing: the data-key store (borrowed), or NULL to publish messages in clear (v1). */
	struct dapi_keystore *keys;
	/* Where person-level erasure requests are recorded (borrowed; NULL with sealing off:
	 * POST /privacy/erasures answers 501). */
	struct dapi_erasures *erasures;
};

struct ingress;

/* The routing table (its handlers take the ingress as app): public for the tests that hold
 * it against the OpenAPI document and the auth matrix. */
extern const struct dapi_http_route ingress_routes[];
extern const size_t ingress_nroutes;

/* Creates the producer and waits up to 5 s for the topic's metadata (a warning, not an
 * error, when Kafka is not there yet). Returns NULL with errstr. */
struct ingress *ingress_new(const struct ingress_config *cfg, char *errstr, size_t errstr_size);

/* Starts serving the routes on a server built from hcfg (its auth, limits and body_max;
 * state_free is the ingress's). Returns the port, or -1 with errstr. */
int ingress_listen(struct ingress *in, const struct dapi_http_config *hcfg, char *errstr,
                   size_t errstr_size);

/* Answers overdue requests until dapi_stop_requested or a fatal producer error; then stops
 * accepting and gives in-flight requests up to drain_ms for their reports. Returns 0 when
 * every request got its report, else 1. */
int ingress_run(struct ingress *in, int64_t drain_ms);

/* Answers whatever still waits (503), stops the server, then the producer, which gets what
 * is left of the drain time to flush. NULL is a no-op. */
void ingress_destroy(struct ingress *in);

#endif
