#include "scenario.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

bool wait_while_running(struct workload *w, int ms)
{
	for (int t = 0; t < ms; t += 50) {
		if (atomic_load(&w->done))
			return false;
		sleep_ms(50);
	}
	return true;
}

bool wait_for_progress(struct workload *w, int acked)
{
	while (atomic_load(&w->acked) < acked)
		if (!wait_while_running(w, 20))
			return false;
	return true;
}

static void *fault_thread(void *arg)
{
	struct fault *f = arg;
	f->run(f);
	atomic_store(&f->w->gate_open, true); /* a fault that failed early lets the rest go */
	return NULL;
}

static long now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void report(const char *name, const struct workload *w, const struct fault *f,
                   const struct wl_report *r, long seconds)
{
	const struct wl_timing *t = &f->timing;
	print_message("%s: %d ops sent of %d over %d dialogs in %lds; faults %d; acked %d, "
	              "attempts %d, 503 %d, no-connection %d, other %d; lost %d, duplicated %d, "
	              "unexpected %d, revoked present %d, wrong state %d, out of order %d\n",
	              name, t->sent, w->nops, w->ndialogs, seconds, f->count,
	              atomic_load(&w->acked), atomic_load(&w->attempts),
	              atomic_load(&w->unavailable), atomic_load(&w->refused_connection),
	              atomic_load(&w->other_status), r->lost, r->duplicated, r->unexpected,
	              r->revoked_present, r->wrong_state, r->order);
	print_message("%s: no acknowledgement at all for %ld ms at most; longest operation %ld ms "
	              "(first attempt to 202), longest request %ld ms; %d operations over 1 s\n",
	              name, t->longest_gap_ms, t->longest_op_ms, t->longest_request_ms,
	              t->ops_over_1s);
}

void scenario_run(const struct stack *s, const char *name, int ndialogs, int nops, struct fault *f)
{
	struct workload w;
	struct wl_report r;
	pthread_t th;
	char prefix[64];
	long t0 = now_s();

	snprintf(prefix, sizeof(prefix), "%s-%s", run_id(), name);
	wl_init(&w, s, prefix, ndialogs, nops, (unsigned)strlen(name) * 7919u + 17u);
	w.pause_ms = f->pause_ms;
	w.gate = f->gate;
	if (f->prepare)
		f->prepare(&w);
	f->w = &w;
	pthread_create(&th, NULL, fault_thread, f);
	wl_run(&w, f->workers ? f->workers : 8);
	pthread_join(th, NULL);
	if (f->restore)
		f->restore();
	bool drained = kafka_wait_drained(s, 180000);
	memset(&r, 0, sizeof(r));
	if (drained)
		wl_verify(&w, &r);
	wl_timing(&w, &f->timing);
	report(name, &w, f, &r, now_s() - t0);
	int acked = atomic_load(&w.acked), other = atomic_load(&w.other_status);
	bool stopped = atomic_load(&w.stop);
	wl_free(&w); /* before the checks: a failed one returns at once */
	f->w = NULL;
	assert_true(drained);
	assert_int_equal(acked, f->timing.sent); /* every operation sent was acknowledged */
	if (!stopped)
		assert_int_equal(acked, nops);
	assert_int_equal(other, 0); /* only 202, 503 or no connection */
	assert_int_equal(r.dialogs_checked, ndialogs);
	assert_int_equal(r.lost, 0);
	assert_int_equal(r.duplicated, 0);
	assert_int_equal(r.unexpected, 0);
	assert_int_equal(r.revoked_present, 0);
	assert_int_equal(r.wrong_state, 0);
	assert_int_equal(r.order, 0);
}
