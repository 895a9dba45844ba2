/* A thread that erases pending dialogs past --pending-ttl and tombstones past
 * --tombstone-ttl, every interval, by the group's frontier (frontier.h), not the clock; and,
 * in the one ingestd group that holds the key store's sweeper claim, the data keys left
 * behind (keystore.h). */
#ifndef INGESTD_SWEEPER_H
#define INGESTD_SWEEPER_H

#include <stdint.h>

#include "dialog_cache.h"
#include "kafka.h"
#include "keystore.h"
#include "mongo.h"
#include "store.h"

struct ingestd_sweeper_config {
	const struct dapi_mongo_opts *mongo;
	const struct dapi_kafka_opts *kafka;
	const char *group;
	int64_t pending_ttl_ms, tombstone_ttl_ms, interval_ms;
	int64_t retention_ms; /* 0: off */
	bool take_keys;       /* --sweep-keys take: claim the key sweep from whoever holds it */
};

struct ingestd_sweeper;

/* Starts the thread, on a MongoDB client pool and store of its own. cache (borrowed, may be
 * NULL) is invalidated after deletions; keys (borrowed, NULL when sealing is off) lose the
 * data keys of what is erased. Returns NULL with errstr. */
struct ingestd_sweeper *ingestd_sweeper_start(const struct ingestd_sweeper_config *cfg,
                                              struct ingestd_cache *cache,
                                              struct dapi_keystore *keys, char *errstr,
                                              size_t errstr_size);

/* Stops and joins the thread. NULL is a no-op. */
void ingestd_sweeper_stop(struct ingestd_sweeper *sw);

#endif
