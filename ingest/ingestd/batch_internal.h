/* What batch.c (one batch, start to end) and keys.c (its data keys) share; the consumer
 * sees batch.h. */
#ifndef INGESTD_BATCH_INTERNAL_H
#define INGESTD_BATCH_INTERNAL_H

#include "batch.h"
#include "event.h"
#include "metrics.h"

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

struct ingestd_batch {
	struct ingestd_batch_config cfg;
	struct item *items; /* cfg.max_records of them */
	struct dapi_family *m_applied, *m_dlq, *m_reads;
	struct dapi_series *m_retries, *m_duration, *m_load, *m_write;
	struct dapi_series *m_shredded, *m_keys_erased;
};

/* Waits *backoff_ms (less on a stop) and doubles it up to --retry-backoff-max. False when a
 * stop was requested: the caller gives the batch up uncommitted. */
bool ingestd_batch_backoff(const struct ingestd_batch *b, int64_t *backoff_ms);

/* Runs op(arg) until it succeeds, after a growing pause each time it fails (logged as
 * `event` with the error, and counted in `count` unless NULL). False when a stop
 * came first. Every retry of a batch's dependencies but the write (which has its own
 * policy for conflicts and lost partitions) goes through this. */
bool ingestd_batch_retry(const struct ingestd_batch *b, const char *event,
                         struct dapi_series *count, bool (*op)(void *arg, bson_error_t *err),
                         void *arg);

/* Opens the sealed (v2) events of items[0..n) with their dialogs' data keys: an event whose
 * key is gone is marked shredded, one that does not open gets its DLQ reason. Waits out a
 * key-store outage. Returns 0, or -1 on a stop meanwhile. */
int ingestd_batch_open_sealed(struct ingestd_batch *b, struct item *items, size_t n);

/* Deletes the data keys that the written tombstones of dialogs[0..nd) cover (erasure
 * reaches every sealed copy); a dialog the store refused (rejected[i]) keeps its key.
 * Waits out a key-store outage. Returns 0, or -1 on a stop. */
int ingestd_batch_erase_keys(struct ingestd_batch *b, const struct ingestd_dialog *dialogs,
                             size_t nd, const char *const *rejected);

/* Marks consented the keys of the dialogs that a granted consent among items[0..n) leaves
 * consented once written: the key store's own record that they must be kept. Waits out a
 * key-store outage. Returns 0, or -1 on a stop. */
int ingestd_batch_mark_consented(struct ingestd_batch *b, const struct item *items, size_t n,
                                 const struct ingestd_dialog *dialogs, const char *const *rejected);

#endif
