/* The registry of published requests waiting for their delivery report, oldest first. All
 * share one timeout, so the overdue ones are always at the front. Thread-safe: HTTP
 * threads add and remove, the main loop expires, librdkafka's thread reports. */
#ifndef DAPI_INFLIGHT_H
#define DAPI_INFLIGHT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Embedded in what waits; the registry never allocates. */
struct inflight_entry {
	struct inflight_entry *prev, *next;
	int64_t started_ms;
	bool listed;
};

struct inflight {
	pthread_mutex_t lock;
	struct inflight_entry *oldest, *newest;
	int64_t timeout_ms;
};

void inflight_init(struct inflight *r, int64_t timeout_ms);
void inflight_destroy(struct inflight *r);

/* Lists e as the newest entry, started now. */
void inflight_add(struct inflight *r, struct inflight_entry *e);

/* Unlists e; a no-op when it is not listed. */
void inflight_remove(struct inflight *r, struct inflight_entry *e);

/* Calls overdue(e) for every entry started timeout_ms or more before now_ms (INT64_MAX: for
 * every entry), under the registry's lock: overdue must not add or remove. Entries stay
 * listed until removed. */
void inflight_expire(struct inflight *r, int64_t now_ms, void (*overdue)(struct inflight_entry *));

#endif
