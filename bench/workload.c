/* The benchmark's events, the same for the producer (B2's topic) and the ceiling (B2's raw
 * upserts): event i is a message of dialog i % dialogs, so a dialog's messages are spread
 * over the whole topic as they would be in a live stream. */
#include "workload.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

double bench_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void bench_dialog_id(const struct bench_workload *w, long i, char out[32])
{
	snprintf(out, 32, "%s-d%06ld", w->prefix, i % w->dialogs);
}

void bench_customer_id(const struct bench_workload *w, long i, char out[32])
{
	snprintf(out, 32, "%s-c%04ld", w->prefix, (i % w->dialogs) % 1000);
}

void bench_event_id(const struct bench_workload *w, long i, char out[48])
{
	snprintf(out, 48, "%s-e%09ld", w->prefix, i);
}

const char *bench_language(long i)
{
	static const char *const langs[] = { "EN", "DE", "FR", "ES" };
	return langs[(i / 7) % 4];
}

void bench_text(const struct bench_workload *w, long i, char *out)
{
	static const char words[] = "hello where is my parcel thanks please order refund ";
	size_t n = w->text_bytes, wl = sizeof(words) - 1, off = (size_t)i % wl;
	for (size_t k = 0; k < n; k++)
		out[k] = words[(off + k) % wl];
	out[n] = '\0';
}
