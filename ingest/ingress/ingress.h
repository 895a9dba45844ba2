/* The ingress: HTTP requests in, events to Kafka, 202 once Kafka has them. */
#ifndef DAPI_INGRESS_H
#define DAPI_INGRESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "producer.h"

struct publish;

struct ingress {
	struct dapi_producer *producer;
	const char *topic;
	size_t max_text;
	int retry_after_s;
	int64_t produce_timeout_ms; /* a request is answered 503 when its report is later */
	atomic_int inflight;        /* requests between validation and their reply */
	/* Requests waiting for a delivery report, oldest first (all share one timeout). */
	pthread_mutex_t lock;
	struct publish *oldest, *newest;
	struct dapi_family *m_published, *m_produce;
};

extern const struct dapi_http_route ingress_routes[];
extern const size_t ingress_nroutes;

/* The producer's delivery callback: completes the request waiting for this event. */
void ingress_on_delivery(void *opaque, rd_kafka_resp_err_t err);

/* Frees a request's publishing state (dapi_http_config.state_free). */
void ingress_state_free(void *state);

/* Answers 503 to every request whose delivery report is overdue (INT64_MAX: to every
 * waiting request); the main loop calls it at least every 100 ms. librdkafka's own message timeout
 * is not a tight bound with the idempotent producer while the broker is unreachable. */
void ingress_expire(struct ingress *in, int64_t now_mono_ms);

#endif
