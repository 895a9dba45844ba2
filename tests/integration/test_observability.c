/* Integration: /healthz, /readyz and /metrics on all three programs after real traffic,
 * and no message text or token in any log line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static struct stack S;

static int setup(void **state)
{
	stack_ready(&S);
	return 0;
}

static char *get_text(const char *base, const char *path, long *status)
{
	char url[512];
	struct http_res r;
	snprintf(url, sizeof(url), "%s%s", base, path);
	*status = http_get(url, &r);
	free(r.headers);
	return r.body;
}

/* The value of the series named exactly `series` (name and labels), or -1 if absent. */
static double series_value(const char *metrics, const char *series)
{
	size_t n = strlen(series);
	for (const char *p = metrics; (p = strstr(p, series)); p += n)
		if ((p == metrics || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return -1;
}

static void every_program_answers_health_and_readiness(void **state)
{
	const char *bases[] = { S.ingress, S.query, S.ingestd_admin };
	for (int i = 0; i < 3; i++) {
		long st;
		free(get_text(bases[i], "/healthz", &st));
		assert_int_equal(st, 200);
		free(get_text(bases[i], "/readyz", &st));
		assert_int_equal(st, 200);
	}
}

/* The series that this test's traffic must move, on each program. */
static const char *const ingress_series[] = {
	"dataapi_http_requests_total{route=\"/data/*/*\",method=\"POST\",status=\"202\"}",
	"dataapi_events_published_total{type=\"message\",result=\"ok\"}",
	"dataapi_produce_duration_seconds_bucket{result=\"ok\",le=\"+Inf\"}",
	"dataapi_http_request_duration_seconds_count{route=\"/consents/*\"}",
};
static const char *const query_series[] = {
	"dataapi_http_requests_total{route=\"/data/*/*\",method=\"GET\",status=\"200\"}",
};
static const char *const ingestd_series[] = {
	"dataapi_events_applied_total{type=\"message\",outcome=\"created\"}",
	"dataapi_events_applied_total{type=\"consent\",outcome=\"consented\"}",
	"dataapi_dlq_total{reason=\"invalid_json\"}",
	"dataapi_batch_duration_seconds_count",
	"dataapi_store_duration_seconds_count{op=\"load\"}",
	"dataapi_store_duration_seconds_count{op=\"write\"}",
};
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Reads each series of names from base's /metrics into v (0 for a series not there yet). */
static void scrape(const char *base, const char *const *names, size_t n, double *v)
{
	long st;
	char *m = get_text(base, "/metrics", &st);
	assert_int_equal(st, 200);
	for (size_t i = 0; i < n; i++) {
		double x = series_value(m, names[i]);
		v[i] = x < 0 ? 0 : x;
	}
	free(m);
}

/* Each series grew by at least one since before[]: the traffic moved it, not an earlier
 * test on the shared stack. A request is counted when the server completes it, which may
 * be a moment after the client has the reply: up to 2 s are allowed. */
static void assert_grew(const char *base, const char *const *names, size_t n, const double *before)
{
	double after[8];
	size_t grew = 0;
	assert_true(n <= N(after));
	for (int tries = 0; tries < 40 && grew < n; tries++) {
		if (tries)
			sleep_ms(50);
		scrape(base, names, n, after);
		grew = 0;
		for (size_t i = 0; i < n; i++)
			grew += after[i] >= before[i] + 1;
	}
	for (size_t i = 0; i < n; i++) {
		if (after[i] < before[i] + 1)
			fprintf(stderr, "%s: %g -> %g\n", names[i], before[i], after[i]);
		assert_true(after[i] >= before[i] + 1);
	}
}

static void metrics_follow_the_traffic(void **state)
{
	char url[512], d[128], secret[128];
	double in_before[N(ingress_series)], q_before[N(query_series)],
	        ing_before[N(ingestd_series)];
	long st;

	scrape(S.ingress, ingress_series, N(ingress_series), in_before);
	scrape(S.query, query_series, N(query_series), q_before);
	scrape(S.ingestd_admin, ingestd_series, N(ingestd_series), ing_before);
	snprintf(d, sizeof(d), "%s-metrics", run_id());
	snprintf(secret, sizeof(secret), "zebra-%s-plaintext", run_id());
	snprintf(url, sizeof(url), "%s/data/mc/%s", S.ingress, d);
	char body[256];
	snprintf(body, sizeof(body), "{\"text\":\"%s\",\"language\":\"EN\"}", secret);
	assert_int_equal(http_post_json(url, body, NULL, NULL), 202);
	assert_int_equal(kafka_produce(&S, S.topic, d, "garbage", 7), 0); /* one DLQ entry */
	snprintf(url, sizeof(url), "%s/consents/%s", S.ingress, d);
	assert_int_equal(http_post_json(url, "true", NULL, NULL), 202);
	assert_true(kafka_wait_drained(&S, 30000));
	snprintf(url, sizeof(url), "%s/data/mc/%s", S.query, d);
	assert_int_equal(http_get(url, NULL), 200);

	assert_grew(S.ingress, ingress_series, N(ingress_series), in_before);
	assert_grew(S.query, query_series, N(query_series), q_before);
	assert_grew(S.ingestd_admin, ingestd_series, N(ingestd_series), ing_before);

	char *m = get_text(S.ingress, "/metrics", &st);
	assert_int_equal(st, 200);
	assert_non_null(strstr(m, "# TYPE dataapi_http_requests_total counter"));
	assert_non_null(strstr(m, "dataapi_ingress_inflight "));
	free(m);
	m = get_text(S.query, "/metrics", &st);
	/* This scrape is in flight (other tests may share the stack: at least one). */
	assert_true(series_value(m, "dataapi_http_requests_in_flight") >= 1);
	free(m);
	m = get_text(S.ingestd_admin, "/metrics", &st);
	assert_non_null(strstr(m, "# TYPE dataapi_sweeper_deleted_total counter"));
	free(m);
	/* librdkafka reports lag every 5 s */
	for (int i = 0; i < 40; i++) {
		m = get_text(S.ingestd_admin, "/metrics", &st);
		bool lag = strstr(m, "dataapi_consumer_lag{topic=") != NULL;
		free(m);
		if (lag)
			break;
		assert_true(i < 39);
		sleep_ms(250);
	}

	/* The text and the tokens never reach a log. */
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "grep -rlF -e '%s' -e '%s' -e '%s' '%s/logs'", secret,
	         S.writer_token, S.reader_token, S.state_dir);
	assert_int_not_equal(system(cmd), 0); /* grep finds nothing: exit 1 */
	snprintf(cmd, sizeof(cmd), "grep -qF '\"event\":\"started\"' '%s/logs/ingress.log'",
	         S.state_dir);
	assert_int_equal(system(cmd), 0); /* ... while the logs are there and have lines */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_program_answers_health_and_readiness),
		cmocka_unit_test(metrics_follow_the_traffic),
	};
	return harness_run_tests(tests, setup, NULL);
}
