/* A thread that erases pending dialogs past --pending-ttl and tombstones past
 * --tombstone-ttl, every interval. */
#ifndef DAPI_SWEEPER_H
#define DAPI_SWEEPER_H

#include <stdint.h>

#include "dialog_cache.h"
#include "store.h"

struct dapi_sweeper;

/* Starts the thread; st and cache (may be NULL) are borrowed; the cache is invalidated
 * after deletions. Returns NULL if the thread cannot start. */
struct dapi_sweeper *dapi_sweeper_start(struct dapi_store *st, struct dapi_cache *cache,
                                        int64_t pending_ttl_ms, int64_t tombstone_ttl_ms,
                                        int64_t interval_ms);
/* Stops and joins the thread. NULL is a no-op. */
void dapi_sweeper_stop(struct dapi_sweeper *sw);

#endif
