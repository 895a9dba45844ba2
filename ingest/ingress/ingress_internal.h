/* What ingress.c (the object's life) and routes.c (its handlers) share; not for the
 * wiring, which sees only ingress.h. */
#ifndef DAPI_INGRESS_INTERNAL_H
#define DAPI_INGRESS_INTERNAL_H

#include <stdatomic.h>

#include "inflight.h"
#include "keycache.h"
#include "keyfetch.h"
#include "ingress.h"
#include "metrics.h"
#include "producer.h"

struct ingress {
	struct dapi_producer *producer;
	struct dapi_http_server *server;
	const char *topic;
	size_t max_text;
	int retry_after_s;
	atomic_int inflight_count; /* requests between validation and their reply */
	struct inflight waiting;   /* published requests waiting for a delivery report */
	int64_t drain_end_ms;      /* set by ingress_run: the producer's last flush deadline */
	struct dapi_family *m_published, *m_produce;
	struct dapi_series *m_inflight;
	/* Sealing (NULL when off): recent dialogs' data keys, and the threads that fetch the
	 * others from the key store. */
	struct keycache *keycache;
	struct keyfetch *keyfetch;
};

/* The producer's delivery callback: completes the request waiting for this event. */
void ingress_on_delivery(void *opaque, rd_kafka_resp_err_t err);

/* Frees a request's publishing state (dapi_http_config.state_free). */
void ingress_state_free(void *state);

/* Answers 503 to every request whose delivery report is overdue (INT64_MAX: to every
 * waiting request); the main loop calls it at least every 100 ms. librdkafka's own message
 * timeout is not a tight bound with the idempotent producer while the broker is
 * unreachable. */
void ingress_expire(struct ingress *in, int64_t now_mono_ms);

#endif
