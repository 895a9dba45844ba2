#include "inflight.h"

#include <assert.h>

#include "timefmt.h"

void ingress_inflight_init(struct ingress_inflight *r, int64_t timeout_ms)
{
	pthread_mutex_init(&r->lock, NULL);
	r->oldest = r->newest = NULL;
	r->timeout_ms = timeout_ms;
}

void ingress_inflight_destroy(struct ingress_inflight *r)
{
	assert(!r->oldest && !r->newest);
	pthread_mutex_destroy(&r->lock);
}

void ingress_inflight_add(struct ingress_inflight *r, struct ingress_inflight_entry *e)
{
	pthread_mutex_lock(&r->lock);
	assert(!e->listed);
	e->started_ms = dapi_time_mono_ms();
	e->prev = r->newest;
	e->next = NULL;
	if (r->newest)
		r->newest->next = e;
	else
		r->oldest = e;
	r->newest = e;
	e->listed = true;
	pthread_mutex_unlock(&r->lock);
}

void ingress_inflight_remove(struct ingress_inflight *r, struct ingress_inflight_entry *e)
{
	pthread_mutex_lock(&r->lock);
	if (e->listed) {
		if (e->prev)
			e->prev->next = e->next;
		else
			r->oldest = e->next;
		if (e->next)
			e->next->prev = e->prev;
		else
			r->newest = e->prev;
		e->listed = false;
	}
	pthread_mutex_unlock(&r->lock);
}

void ingress_inflight_expire(struct ingress_inflight *r, int64_t now_ms,
                             void (*overdue)(struct ingress_inflight_entry *))
{
	pthread_mutex_lock(&r->lock);
	for (struct ingress_inflight_entry *e = r->oldest;
	     e && (now_ms == INT64_MAX || now_ms - e->started_ms >= r->timeout_ms); e = e->next)
		overdue(e);
	pthread_mutex_unlock(&r->lock);
}
