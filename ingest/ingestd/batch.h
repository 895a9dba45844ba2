/* A batch of records applied to the store: decode, open the sealed ones, find their
 * dialogs, load (cache, then store), apply in record order, write, mark or delete the data
 * keys the written dialogs call for, and dead-letter what cannot be applied. The batch owns
 * what it uses (store, DLQ producer, dialog cache, key store, its metrics); the consumer
 * hands it the records it polled and stores their offsets once it is done. */
#ifndef INGESTD_BATCH_H
#define INGESTD_BATCH_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apply.h"
#include "dialog_cache.h"
#include "keystore.h"
#include "producer.h"
#include "store.h"

struct ingestd_batch_config {
	struct ingestd_store *store; /* borrowed */
	struct dapi_producer *dlq;   /* borrowed */
	const char *dlq_topic;
	struct ingestd_cache *cache; /* borrowed; NULL: every batch reads its dialogs */
	/* borrowed; NULL: sealing off (a sealed event then goes to the DLQ, "sealing_off") */
	struct dapi_keystore *keys;
	struct ingestd_apply_rules rules; /* the lifetimes applied by event time (apply.h) */
	size_t max_text;
	size_t max_records; /* the most records one call hands over */
	int64_t backoff_max_ms;
};

/* Whether the records' partitions were taken from this member since they were polled:
 * writing from the batch's state then could undo their new owner's work. */
struct ingestd_batch_owner {
	bool (*lost)(void *arg);
	void *arg;
};

struct ingestd_batch;

/* NULL when out of memory. */
struct ingestd_batch *ingestd_batch_new(const struct ingestd_batch_config *cfg);

/* Applies records[0..n) (borrowed, in poll order, n <= max_records). Returns 0 when the
 * batch is done: its offsets may be stored; 1 when given up because the partitions were
 * lost (their new owner applies it); -1 when given up on a stop (consumed again after a
 * restart) or when memory ran out. */
int ingestd_batch_apply(struct ingestd_batch *b, rd_kafka_message_t *const *records, size_t n,
                        const struct ingestd_batch_owner *owner);

/* The partitions this member owns changed: whoever owned them meanwhile may have written
 * their dialogs, so what the batch remembers of them is forgotten. */
void ingestd_batch_forget(struct ingestd_batch *b);

/* NULL is a no-op. */
void ingestd_batch_destroy(struct ingestd_batch *b);

#endif
