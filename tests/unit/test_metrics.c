/* Unit tests: the metrics registry under concurrent use, and its Prometheus text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "metrics.h"
#include "procstat.h"

#define THREADS 4
#define ROUNDS  20000
#define LABELS  16

static struct dapi_family *counter;

/* Each thread walks the same label sets in a different order, so that threads race to
 * create each series and to update it. */
static void *hammer(void *arg)
{
	int offset = (int)(intptr_t)arg;
	char labels[32];

	for (int i = 0; i < ROUNDS; i++) {
		snprintf(labels, sizeof(labels), "k=\"%d\"", (i + offset) % LABELS);
		dapi_metrics_inc(counter, labels, 1);
	}
	return NULL;
}

static size_t count_of(const char *text, const char *needle)
{
	size_t n = 0;
	for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void concurrent_updates_make_one_series_per_label_set(void **state)
{
	pthread_t t[THREADS];
	char line[64];
	size_t len;
	char *text;

	counter = dapi_metrics_family("test_hammer_total", "Test counter.", DAPI_COUNTER, NULL, 0);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer, (void *)(intptr_t)(i * 5)), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);

	text = dapi_metrics_render(&len);
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	assert_int_equal(count_of(text, "test_hammer_total{"), LABELS);
	for (int k = 0; k < LABELS; k++) {
		snprintf(line, sizeof(line), "test_hammer_total{k=\"%d\"} %d\n", k,
		         THREADS * ROUNDS / LABELS);
		assert_non_null(strstr(text, line));
	}
	free(text);
	/* The same labels give the same series, and the family is found again by name. */
	assert_ptr_equal(dapi_metrics_series(counter, "k=\"3\""),
	                 dapi_metrics_series(counter, "k=\"3\""));
	assert_ptr_equal(dapi_metrics_family("test_hammer_total", "x", DAPI_COUNTER, NULL, 0),
	                 counter);
}

static void histograms_render_cumulative_buckets(void **state)
{
	static const double bounds[] = { 0.5, 1 };
	struct dapi_family *h =
	        dapi_metrics_family("test_seconds", "Test histogram.", DAPI_HISTOGRAM, bounds, 2);
	size_t len;
	char *text;

	dapi_metrics_observe(h, "", 0.25);
	dapi_metrics_observe(h, "", 0.75);
	dapi_metrics_observe(h, "", 4);
	text = dapi_metrics_render(&len);
	assert_non_null(text);
	assert_non_null(strstr(text, "# TYPE test_seconds histogram\n"));
	assert_non_null(strstr(text, "test_seconds_bucket{le=\"0.5\"} 1\n"));
	assert_non_null(strstr(text, "test_seconds_bucket{le=\"1\"} 2\n"));
	assert_non_null(strstr(text, "test_seconds_bucket{le=\"+Inf\"} 3\n"));
	assert_non_null(strstr(text, "test_seconds_count 3\n"));
	assert_non_null(strstr(text, "test_seconds_sum 5\n"));
	free(text);
}

/* The process metrics come from /proc: they must follow what this process does. */
static void process_metrics_follow_the_process(void **state)
{
	struct dapi_procstat a, b;
	(void)state;
	assert_true(dapi_procstat_read(&a));
	assert_true(a.rss_bytes > 1024 * 1024);
	assert_true(a.start_time <= (double)time(NULL) + 1);
	assert_true(a.start_time > (double)time(NULL) - 3600);
	assert_true(a.open_fds >= 3 && a.max_fds >= a.open_fds);

	int fd = open("/dev/null", O_RDONLY);
	assert_true(fd >= 0);
	size_t big = 64 * 1024 * 1024;
	char *touched = malloc(big);
	assert_non_null(touched);
	memset(touched, 1, big);
	volatile double spin = 0;
	for (clock_t end = clock() + CLOCKS_PER_SEC / 5; clock() < end;)
		spin += 1;
	assert_true(dapi_procstat_read(&b));
	assert_true(b.open_fds == a.open_fds + 1);
	assert_true(b.rss_bytes >= a.rss_bytes + (double)big / 2);
	assert_true(b.cpu_seconds >= a.cpu_seconds + 0.1);
	assert_true(b.start_time == a.start_time);
	free(touched);
	close(fd);

	dapi_procstat_update_metrics();
	size_t len;
	char *text = dapi_metrics_render(&len);
	assert_non_null(text);
	assert_non_null(strstr(text, "# TYPE process_resident_memory_bytes gauge\n"));
	assert_non_null(strstr(text, "# TYPE process_cpu_seconds_total counter\n"));
	assert_non_null(strstr(text, "\nprocess_start_time_seconds 1"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(concurrent_updates_make_one_series_per_label_set),
		cmocka_unit_test(histograms_render_cumulative_buckets),
		cmocka_unit_test(process_metrics_follow_the_process),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
