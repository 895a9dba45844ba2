/* The runner of person-level erasure requests (common/seal/erasures.h): a thread that takes
 * the oldest open request (leased, so that one member runs it and another takes over when
 * it dies) and erases every dialog of the person that began before the request:
 *  1. its dialogs: the keys tagged with the person and made before the request (every
 *     dialog whose first message was acknowledged, also those still in flight), and the
 *     store's dialogs of that customerId made before it;
 *  2. a revocation (consent false) for each, published to the events topic keyed by the
 *     dialog: ordered after everything already published for it, applied by whichever
 *     member owns its partition like any revocation, and kept in the topic, so that a
 *     replay or a rebuild erases the dialog again;
 *  3. once the store shows every one of them as a tombstone: their data keys made before
 *     the request (plus the clock skew) deleted, which makes every sealed copy in the topic,
 *     the DLQ and their backups unreadable;
 *  4. completed, with its counts; the sealed customerId removed from the receipt. */
#ifndef INGESTD_PRIVACY_H
#define INGESTD_PRIVACY_H

#include <mongoc/mongoc.h>

#include "erasures.h"
#include "keystore.h"
#include "producer.h"

struct ingestd_privacy_config {
	mongoc_client_pool_t *pool; /* the dialogs' store (borrowed) */
	const char *db, *collection;
	struct dapi_keystore *keys;     /* borrowed */
	struct dapi_erasures *erasures; /* borrowed */
	struct dapi_producer *producer; /* borrowed: its reports count a struct dapi_dlq_batch */
	const char *topic;
	int64_t poll_ms; /* how often it looks for a request, and for a request's progress */
};

struct ingestd_privacy;

/* Starts the thread. NULL when out of memory or the thread does not start. */
struct ingestd_privacy *ingestd_privacy_start(const struct ingestd_privacy_config *cfg);

/* Stops and joins it (a request under way stays leased until its lease runs out, then
 * another member resumes it). NULL is a no-op. */
void ingestd_privacy_stop(struct ingestd_privacy *p);

#endif
