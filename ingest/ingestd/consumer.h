/* ingestd's consumer loop: poll a batch, decode, apply per dialog in order, one bulk write,
 * DLQ what cannot be applied, then store the offsets (committed in the background and on
 * revoke/close). Nothing is stored before MongoDB acknowledged the batch. */
#ifndef INGESTD_CONSUMER_H
#define INGESTD_CONSUMER_H

#include <stddef.h>
#include <stdint.h>

#include "apply.h"
#include "config.h"
#include "producer.h"
#include "keystore.h"
#include "store.h"

struct ingestd_consumer_config {
	const char *brokers;
	const struct dapi_props *props;
	const char *topic;
	const char *dlq_topic;
	const char *group;
	int batch_max;
	size_t max_text;
	int64_t backoff_max_ms;
	/* Before joining: move the group's offsets to the start ("earliest") or to the first
	 * record at or after an RFC 3339 time. NULL or "" leaves them where they are. */
	const char *replay_from;
	struct ingestd_cache *cache; /* borrowed; NULL: every batch reads its dialogs */
	/* borrowed; NULL: sealing off (a sealed event then goes to the DLQ, "sealing_off") */
	struct dapi_keystore *keys;
	/* the lifetimes applied by event time (apply.h) */
	struct ingestd_apply_rules rules;
};

struct ingestd_consumer;

/* store and dlq are borrowed. Returns NULL with errstr. */
struct ingestd_consumer *ingestd_consumer_new(const struct ingestd_consumer_config *cfg,
                                              struct ingestd_store *store,
                                              struct dapi_producer *dlq, char *errstr,
                                              size_t errstr_size);

/* Consumes until dapi_stop_requested. A batch under way is finished (or, when the database
 * is down, abandoned uncommitted). Returns 0, or -1 on a fatal consumer error. */
int ingestd_consumer_run(struct ingestd_consumer *c);

/* The librdkafka handle, for metadata requests (readiness). */
rd_kafka_t *ingestd_consumer_handle(struct ingestd_consumer *c);

/* Leaves the group (committing stored offsets) and frees. NULL is a no-op. */
void ingestd_consumer_destroy(struct ingestd_consumer *c);

#endif
