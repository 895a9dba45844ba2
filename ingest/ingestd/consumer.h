/* ingestd's consumer: group membership (rebalances, --replay-from, lag statistics) and the
 * loop that polls a batch of records, hands it to the batch object (batch.h) and stores
 * the offsets of a batch done (committed in the background and on revoke/close). Nothing
 * is stored before MongoDB acknowledged the batch. */
#ifndef INGESTD_CONSUMER_H
#define INGESTD_CONSUMER_H

#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "config.h"

struct ingestd_consumer_config {
	const char *brokers;
	const struct dapi_props *props;
	const char *topic;
	const char *group;
	int batch_max; /* at most the batch's max_records */
	/* Before joining: move the group's offsets to the start ("earliest") or to the first
	 * record at or after an RFC 3339 time. NULL or "" leaves them where they are. */
	const char *replay_from;
};

struct ingestd_consumer;

/* batch is borrowed. Returns NULL with errstr. */
struct ingestd_consumer *ingestd_consumer_new(const struct ingestd_consumer_config *cfg,
                                              struct ingestd_batch *batch, char *errstr,
                                              size_t errstr_size);

/* Consumes until dapi_stop_requested. A batch under way is finished (or, when the database
 * is down, abandoned uncommitted). Returns 0, or -1 on a fatal consumer error. */
int ingestd_consumer_run(struct ingestd_consumer *c);

/* The librdkafka handle, for metadata requests (readiness). */
rd_kafka_t *ingestd_consumer_handle(struct ingestd_consumer *c);

/* Leaves the group (committing stored offsets) and frees. NULL is a no-op. */
void ingestd_consumer_destroy(struct ingestd_consumer *c);

#endif
