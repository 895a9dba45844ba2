/* What consumer.c (the consumer's life and group membership) and batch.c (one batch)
 * share; not for the wiring, which sees consumer.h. */
#ifndef INGESTD_CONSUMER_INTERNAL_H
#define INGESTD_CONSUMER_INTERNAL_H

#include "consumer.h"
#include "metrics.h"

struct ingestd_consumer {
	struct ingestd_consumer_config cfg;
	rd_kafka_t *rk;
	struct ingestd_store *store;
	struct dapi_producer *dlq;
	struct dapi_family *m_applied, *m_dlq, *m_lag, *m_reads;
	struct dapi_series *m_retries, *m_batch, *m_load, *m_write;
	struct dapi_series *m_shredded, *m_keys_erased;
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
	bool shredded; /* a sealed event whose dialog's key is gone: skipped, not dead-lettered */
};

/* Applies items[0..n) (records in poll order). Returns 0 when the batch is done (offsets
 * stored); 1 when given up because the partitions were lost (uncommitted: their new owner
 * applies it); -1 when given up on shutdown (consumed again after a restart) or when
 * memory ran out. */
int ingestd_batch_process(struct ingestd_consumer *c, struct item *items, size_t n);

/* Waits *backoff_ms (less on a stop) and doubles it up to --retry-backoff-max. False when a
 * stop was requested: the caller gives the batch up uncommitted. */
bool ingestd_consumer_backoff(struct ingestd_consumer *c, int64_t *backoff_ms);

/* Runs op(arg) until it succeeds, after a growing pause each time it fails (logged as
 * `event` with the error, and counted in `count` unless NULL). False when a stop
 * came first. Every retry of a batch's dependencies but the write (which has its own
 * policy for conflicts and lost partitions) goes through this. */
bool ingestd_consumer_retry(struct ingestd_consumer *c, const char *event,
                            struct dapi_series *count, bool (*op)(void *arg, bson_error_t *err),
                            void *arg);

/* Opens the batch's sealed (v2) events with their dialogs' data keys: an event whose key is
 * gone is marked shredded, one that does not open gets its DLQ reason. Waits out a key-store
 * outage. Returns 0, or -1 on a stop meanwhile. */
int ingestd_batch_open_sealed(struct ingestd_consumer *c, struct item *items, size_t n);

/* Deletes the data keys that the written tombstones of dialogs[0..nd) cover (erasure
 * reaches every sealed copy); a dialog the store refused (rejected[i]) keeps its key.
 * Waits out a key-store outage. Returns 0, or -1 on a stop. */
int ingestd_batch_erase_keys(struct ingestd_consumer *c, const struct ingestd_dialog *dialogs,
                             size_t nd, const char *const *rejected);

/* Marks consented the keys of the dialogs that a granted consent among items[0..n) leaves
 * consented once written: the key store's own record that they must be kept. Waits out a
 * key-store outage. Returns 0, or -1 on a stop. */
int ingestd_batch_mark_consented(struct ingestd_consumer *c, const struct item *items, size_t n,
                                 const struct ingestd_dialog *dialogs, const char *const *rejected);

#endif
