/* What consumer.c (the consumer's life and group membership) and batch.c (one batch)
 * share; not for the wiring, which sees consumer.h. */
#ifndef DAPI_CONSUMER_INTERNAL_H
#define DAPI_CONSUMER_INTERNAL_H

#include "consumer.h"
#include "metrics.h"

struct dapi_consumer {
	struct dapi_consumer_config cfg;
	rd_kafka_t *rk;
	struct dapi_store *store;
	struct dapi_producer *dlq;
	struct dapi_family *m_applied, *m_dlq, *m_lag, *m_reads;
	struct dapi_series *m_retries, *m_batch, *m_load, *m_write;
};

/* One record of a batch. */
struct item {
	rd_kafka_message_t *rkm;
	struct dapi_event ev;
	const char *decode_reason; /* set once: the record cannot be decoded */
	const char *apply_reason;  /* set per attempt: the event cannot be applied */
	char detail[160];
	size_t dialog; /* index in the batch's dialogs */
	int outcome;
};

/* Applies items[0..n) (records in poll order). Returns 0 when the batch is done (offsets
 * stored); 1 when given up because the partitions were lost (uncommitted: their new owner
 * applies it); -1 when given up on shutdown (consumed again after a restart) or when
 * memory ran out. */
int dapi_batch_process(struct dapi_consumer *c, struct item *items, size_t n);

#endif
