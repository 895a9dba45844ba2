/* dapi-soak: batches of model-checked workloads against a running stack for a given time.
 * Usage: dapi-soak STACK_ENV SECONDS [WORKERS]. Prints one line per batch; exits 1 when a
 * batch loses, duplicates or misplaces anything. */
#include <curl/curl.h>
#include <mongoc/mongoc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "workload.h"

int main(int argc, char **argv)
{
	struct stack s;
	int failures = 0;
	if (argc < 3) {
		fprintf(stderr, "usage: dapi-soak STACK_ENV SECONDS [WORKERS]\n");
		return 2;
	}
	setenv("DAPI_STACK_ENV", argv[1], 1);
	long seconds = atol(argv[2]);
	int workers = argc > 3 ? atoi(argv[3]) : 4;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	mongoc_init();
	stack_load(&s);
	time_t end = time(NULL) + seconds;
	for (int batch = 0; time(NULL) < end; batch++) {
		struct workload w;
		struct wl_report r;
		char prefix[64];
		time_t t0 = time(NULL);
		snprintf(prefix, sizeof(prefix), "%s-soak%d", run_id(), batch);
		wl_init(&w, &s, prefix, 200, 2000, (unsigned)batch + 1);
		wl_run(&w, workers);
		if (!kafka_wait_drained(&s, 120000)) {
			fprintf(stderr, "batch %d: topic not drained\n", batch);
			failures++;
		}
		wl_verify(&w, &r);
		int bad = r.lost + r.duplicated + r.unexpected + r.revoked_present + r.wrong_state +
		          r.order + (atomic_load(&w.acked) != w.nops);
		failures += bad != 0;
		printf("batch %d: %d ops in %lds, acked %d, 503 %d; lost %d dup %d unexpected %d "
		       "revoked %d state %d order %d\n",
		       batch, w.nops, (long)(time(NULL) - t0), atomic_load(&w.acked),
		       atomic_load(&w.unavailable), r.lost, r.duplicated, r.unexpected,
		       r.revoked_present, r.wrong_state, r.order);
		fflush(stdout);
		wl_free(&w);
	}
	mongoc_cleanup();
	curl_global_cleanup();
	return failures ? 1 : 0;
}
