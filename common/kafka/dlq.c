#include "dlq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dapi_dlq_on_delivery(void *opaque, rd_kafka_resp_err_t err, bool maybe_stored)
{
	struct dapi_dlq_batch *b = opaque;
	if (err)
		atomic_fetch_add(&b->failed, 1);
	atomic_fetch_sub(&b->pending, 1);
}

rd_kafka_resp_err_t dapi_dlq_produce(struct dapi_producer *p, const char *topic,
                                     const rd_kafka_message_t *rkm, void *value, size_t len,
                                     rd_kafka_headers_t *hdrs, struct dapi_dlq_batch *batch)
{
	rd_kafka_resp_err_t err;
	atomic_fetch_add(&batch->pending, 1);
	err = dapi_producer_send(p, topic, rkm->key, rkm->key_len, value, len, hdrs, batch);
	if (err)
		atomic_fetch_sub(&batch->pending, 1);
	return err;
}

rd_kafka_resp_err_t dapi_dlq_send(struct dapi_producer *p, const char *dlq_topic,
                                  const rd_kafka_message_t *rkm, const char *reason,
                                  const char *detail, struct dapi_dlq_batch *batch)
{
	rd_kafka_headers_t *orig = NULL, *hdrs;
	char num[32];
	size_t len = rkm->len > DAPI_DLQ_VALUE_MAX ? DAPI_DLQ_VALUE_MAX : rkm->len;
	void *value = malloc(len ? len : 1);

	if (!value)
		return RD_KAFKA_RESP_ERR__FAIL;
	if (len)
		memcpy(value, rkm->payload, len);
	hdrs = rd_kafka_message_headers(rkm, &orig) == RD_KAFKA_RESP_ERR_NO_ERROR
	               ? rd_kafka_headers_copy(orig)
	               : rd_kafka_headers_new(5);
	rd_kafka_header_add(hdrs, "dlq.reason", -1, reason, -1);
	rd_kafka_header_add(hdrs, "dlq.detail", -1, detail, -1);
	rd_kafka_header_add(hdrs, "dlq.source.topic", -1, rd_kafka_topic_name(rkm->rkt), -1);
	snprintf(num, sizeof(num), "%d", (int)rkm->partition);
	rd_kafka_header_add(hdrs, "dlq.source.partition", -1, num, -1);
	snprintf(num, sizeof(num), "%lld", (long long)rkm->offset);
	rd_kafka_header_add(hdrs, "dlq.source.offset", -1, num, -1);
	snprintf(num, sizeof(num), "%lld", (long long)rd_kafka_message_timestamp(rkm, NULL));
	rd_kafka_header_add(hdrs, "dlq.source.timestamp", -1, num, -1);
	if (len < rkm->len) {
		snprintf(num, sizeof(num), "%zu", rkm->len);
		rd_kafka_header_add(hdrs, "dlq.value.truncated", -1, num, -1);
	}

	return dapi_dlq_produce(p, dlq_topic, rkm, value, len, hdrs, batch);
}
