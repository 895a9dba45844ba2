/* The registry of published requests waiting for their delivery report, oldest first. All
 * share one timeout, so the overdue ones are always at the front. Thread-safe: HTTP
 * threads add and remove, the main loop expires, librdkafka's thread reports. */
#ifndef INGRESS_INFLIGHT_H
#define INGRESS_INFLIGHT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Embedded in what waits; the registry never allocates. */
struct ingress_inflight_entry {
	struct ingress_inflight_entry *prev, *next;
	int64_t started_ms;
	bool listed;
};

struct ingress_inflight {
	pthread_mutex_t lock;
	struct ingress_inflight_entry *oldest, *newest;
	int64_t timeout_ms;
};

void ingress_inflight_init(struct ingress_inflight *r, int64_t timeout_ms);
void ingress_inflight_destroy(struct ingress_inflight *r);

/* Lists e as the newest entry, started now. */
void ingress_inflight_add(struct ingress_inflight *r, struct ingress_inflight_entry *e);

/* Unlists e; a no-op when it is not listed. */
void ingress_inflight_remove(struct ingress_inflight *r, struct ingress_inflight_entry *e);

/* Calls overdue(e) for every entry started timeout_ms or more before now_ms (INT64_MAX: for
 * every entry), under the registry's lock: overdue must not add or remove. Entries stay
 * listed until removed. */
void ingress_inflight_expire(struct ingress_inflight *r, int64_t now_ms,
                             void (*overdue)(struct ingress_inflight_entry *));

#endif
