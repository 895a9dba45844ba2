/* The dead-letter queue: records ingestd cannot decode or apply go to <topic>.dlq with the
 * original key, value and headers, plus headers saying why and where they came from:
 *   dlq.reason, dlq.detail, dlq.source.topic, dlq.source.partition, dlq.source.offset
 * A value over DAPI_DLQ_VALUE_MAX is cut to that size (header dlq.value.truncated holds
 * the original length): a dead letter too large for Kafka would block its partition. */
#ifndef DAPI_DLQ_H
#define DAPI_DLQ_H

#include <librdkafka/rdkafka.h>
#include <stdatomic.h>

#include "producer.h"

#define DAPI_DLQ_VALUE_MAX (256 * 1024)

/* Outstanding DLQ deliveries of one batch. */
struct dapi_dlq_batch {
	atomic_int pending;
	atomic_int failed;
};

/* The producer's delivery callback for DLQ records (opaque: struct dapi_dlq_batch *). */
void dapi_dlq_on_delivery(void *opaque, rd_kafka_resp_err_t err, bool maybe_stored);

/* Produces value (len bytes, malloc'd, taken) and hdrs (taken) with rkm's key to topic,
 * counted in batch until its delivery report. */
rd_kafka_resp_err_t dapi_dlq_produce(struct dapi_producer *p, const char *topic,
                                     const rd_kafka_message_t *rkm, void *value, size_t len,
                                     rd_kafka_headers_t *hdrs, struct dapi_dlq_batch *batch);

/* Enqueues a copy of rkm to dlq_topic. detail must not contain message text. */
rd_kafka_resp_err_t dapi_dlq_send(struct dapi_producer *p, const char *dlq_topic,
                                  const rd_kafka_message_t *rkm, const char *reason,
                                  const char *detail, struct dapi_dlq_batch *batch);

#endif
