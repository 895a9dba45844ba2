/* The ingress: HTTP requests in, events to Kafka, 202 once Kafka has them. */
#ifndef DAPI_INGRESS_H
#define DAPI_INGRESS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "producer.h"

struct ingress {
	struct dapi_producer *producer;
	const char *topic;
	size_t max_text;
	int retry_after_s;
	atomic_int inflight; /* requests between validation and their reply */
};

extern const struct dapi_http_route ingress_routes[];
extern const size_t ingress_nroutes;

/* The producer's delivery callback: completes the request waiting for this event. */
void ingress_on_delivery(void *opaque, rd_kafka_resp_err_t err);

/* Frees a request's publishing state (dapi_http_config.state_free). */
void ingress_state_free(void *state);

#endif
