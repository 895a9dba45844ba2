/* What ingress.c (the object's life), routes.c (its handlers) and batch.c (the one
 * publishing mechanism) share; not for the wiring, which sees only ingress.h. */
#ifndef INGRESS_INTERNAL_H
#define INGRESS_INTERNAL_H

#include <stdatomic.h>

#include "erasures.h"
#include "inflight.h"
#include "keycache.h"
#include "keyfetch.h"
#include "ingress.h"
#include "metrics.h"
#include "event.h"
#include "producer.h"
#include "request.h"

struct ingress {
	struct dapi_producer *producer;
	struct dapi_http_server *server;
	const char *topic;
	size_t max_text, max_batch_lines;
	int retry_after_s;
	atomic_int inflight_count;       /* requests between validation and their reply */
	struct ingress_inflight waiting; /* published requests waiting for a delivery report */
	int64_t drain_end_ms; /* set by ingress_run: the producer's last flush deadline */
	struct dapi_family *m_published, *m_produce, *m_batch_lines;
	struct dapi_series *m_inflight;
	/* Sealing (NULL when off): recent dialogs' data keys, and the threads that fetch the
	 * others from the key store. */
	struct ingress_keycache *keycache;
	struct ingress_keyfetch *keyfetch;
	/* Person-level erasure requests (NULL when sealing is off): recorded one at a time. */
	struct dapi_erasures *erasures;
	atomic_bool erasure_busy, erasure_indexes;
};

/* What the state of every suspended request (dapi_http_state) starts with: its deadline
 * in in->waiting, and how to end it. */
struct waiter {
	struct ingress_inflight_entry entry; /* first: the registry's entries are waiters */
	void (*overdue)(struct waiter *w);   /* the deadline passed (under the registry's lock) */
	void (*release)(struct waiter *w);   /* the request completed: unlist, drop its reference */
};

/* What the producer's opaque points at: one event waiting for its delivery report. */
struct delivery {
	void (*done)(struct delivery *d, rd_kafka_resp_err_t err, bool maybe_stored);
};

/* The producer's delivery callback: hands the report to its delivery. */
void ingress_on_delivery(void *opaque, rd_kafka_resp_err_t err, bool maybe_stored);

/* Ends a request's state (dapi_http_config.state_free): its waiter's release. */
void ingress_state_free(void *state);

/* Publishes one event (its encoded value, malloc'd, taken whatever the outcome) keyed by
 * its dialog, with the type header; the report goes to d. Returns librdkafka's error when
 * it was not queued (then no report comes). */
rd_kafka_resp_err_t ingress_produce(struct ingress *in, enum dapi_event_type type,
                                    const char *dialog_id, char *value, size_t len,
                                    struct delivery *d);

/* batch.c: every event goes through one mechanism, a batch of lines with up to two waits
 * (its dialogs' data keys when not cached, then every line's delivery report), answered
 * once all are in or its deadline passed. POST /batch is a batch of its NDJSON lines. */
enum MHD_Result ingress_handle_batch(struct dapi_http_req *r, void *app);

/* A single POST (/data/..., /consents/...) whose event was validated into line (taken,
 * whatever the outcome): a batch of that one line, answered in the single routes' shape
 * (202 {eventId, dialogId, status}, or 503 + Retry-After). */
enum MHD_Result ingress_publish_one(struct dapi_http_req *r, struct ingress *in,
                                    struct ingress_batch_line *line);

/* privacy.c: POST /privacy/erasures. */
enum MHD_Result ingress_handle_erasure(struct dapi_http_req *r, void *app);

/* The handler of a request that has a batch already (dapi_http_state): it runs again after
 * a wait; goes on to the next phase or answers. */
enum MHD_Result ingress_batch_continue(struct dapi_http_req *r);

/* Answers 503 to every request whose delivery report is overdue (INT64_MAX: to every
 * waiting request); the main loop calls it at least every 100 ms. librdkafka's own message
 * timeout is not a tight bound with the idempotent producer while the broker is
 * unreachable. */
void ingress_expire(struct ingress *in, int64_t now_mono_ms);

#endif
