/* An idempotent Kafka producer (acks=all, murmur2_random) with a thread that serves
 * delivery reports. Every message carries an opaque pointer handed back, with the final
 * delivery result, to the callback given at creation; that callback runs on the poller
 * thread and must not block. */
#ifndef DAPI_PRODUCER_H
#define DAPI_PRODUCER_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"

struct dapi_producer;

/* A delivery report: err 0 when the event is durable; otherwise maybe_stored tells an event
 * that may be in the log all the same (librdkafka's POSSIBLY_PERSISTED: sent, no answer)
 * from one that certainly is not. */
typedef void (*dapi_delivery_fn)(void *opaque, rd_kafka_resp_err_t err, bool maybe_stored);

struct dapi_producer_config {
	const char *brokers;
	const struct dapi_props *props; /* pass-through librdkafka properties */
	int64_t delivery_timeout_ms;    /* message.timeout.ms: a report comes within this */
	int64_t queue_max;              /* queue.buffering.max.messages */
	const char *client_id;
	dapi_delivery_fn on_delivery;
};

struct dapi_producer *dapi_producer_new(const struct dapi_producer_config *cfg, char *errstr,
                                        size_t errstr_size);

/* Enqueues one record. Always takes ownership of `value` (malloc'd) and of `hdrs` (may be
 * NULL). Returns 0, or the error (queue full, unknown topic, fatal) in which case no
 * delivery report will come for `opaque`. */
rd_kafka_resp_err_t dapi_producer_send(struct dapi_producer *p, const char *topic, const char *key,
                                       size_t key_len, void *value, size_t value_len,
                                       rd_kafka_headers_t *hdrs, void *opaque);

/* Waits until every enqueued record has its report or timeout_ms passed; returns how many
 * are still outstanding. */
int dapi_producer_flush(struct dapi_producer *p, int timeout_ms);

/* True once librdkafka raised a fatal error (the producer can no longer deliver). */
bool dapi_producer_failed(const struct dapi_producer *p);

/* The librdkafka handle. */
rd_kafka_t *dapi_producer_handle(struct dapi_producer *p);

/* Asks the brokers for topic's metadata (for readiness, and at start so that the first
 * records do not wait for it): 0 when the topic is there, else why not. */
rd_kafka_resp_err_t dapi_producer_topic_check(struct dapi_producer *p, const char *topic,
                                              int timeout_ms);

/* Stops the poller, flushes for up to timeout_ms, purges what is left (its reports come
 * with a _PURGE_* error) and destroys. NULL is a no-op. */
void dapi_producer_destroy(struct dapi_producer *p, int timeout_ms);

#endif
