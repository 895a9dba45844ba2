#ifndef BENCH_WORKLOAD_H
#define BENCH_WORKLOAD_H

#include <stddef.h>

struct bench_workload {
	const char *prefix; /* makes ids unique per run */
	long dialogs;
	long events; /* message events; each dialog then gets one consent */
	size_t text_bytes;
};

void bench_dialog_id(const struct bench_workload *w, long i, char out[32]);
void bench_customer_id(const struct bench_workload *w, long i, char out[32]);
void bench_event_id(const struct bench_workload *w, long i, char out[48]);
const char *bench_language(long i);
/* Seconds on the monotonic clock, for timing runs. */
double bench_now_s(void);
/* out holds text_bytes + 1. */
void bench_text(const struct bench_workload *w, long i, char *out);

#endif
