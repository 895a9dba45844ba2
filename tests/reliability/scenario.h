/* A fault scenario: the workload (workload.h) runs while a fault is injected on a thread of
 * its own, then the programs are restored, the topic drained and the store compared with
 * the model: every acknowledged operation applied exactly once and in order, revoked
 * dialogs gone. Faults are driven by the workload's progress, not by time, so that a fast
 * machine gets as many as a slow one. Shared by the single-broker suite and the cluster's. */
#ifndef DAPI_SCENARIO_H
#define DAPI_SCENARIO_H

#include <stdbool.h>

#include "workload.h"

struct fault {
	struct workload *w;
	void (*run)(struct fault *f);        /* the fault, while the workload runs */
	void (*restore)(void);               /* afterwards: every program of the stack runs again */
	void (*prepare)(struct workload *w); /* replaces the generated operations (optional) */
	int workers;                         /* client threads (8 when 0) */
	int pause_ms;                        /* each worker's rest between operations */
	int gate;                /* operations from this index wait until run() opens it */
	int count;               /* faults injected */
	struct wl_timing timing; /* what clients saw, filled in by scenario_run */
	void *data;              /* the scenario's own */
};

/* Runs nops operations over ndialogs dialogs with fault f and checks the store; the
 * checks fail the calling cmocka test. */
void scenario_run(const struct stack *s, const char *name, int ndialogs, int nops, struct fault *f);

/* Sleeps up to ms; false early when the workload finished. */
bool wait_while_running(struct workload *w, int ms);
/* Waits until the workload has `acked` acknowledged operations; false when it ended first. */
bool wait_for_progress(struct workload *w, int acked);

#endif
