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

static void metrics_follow_the_traffic(void **state)
{
	char url[512], d[128], secret[128];
	long st;
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

	char *m = get_text(S.ingress, "/metrics", &st);
	assert_int_equal(st, 200);
	assert_non_null(strstr(m, "# TYPE dataapi_http_requests_total counter"));
	assert_non_null(strstr(
	        m,
	        "dataapi_http_requests_total{route=\"/data/*/*\",method=\"POST\",status=\"202\"}"));
	assert_non_null(
	        strstr(m, "dataapi_events_published_total{type=\"message\",result=\"ok\"}"));
	assert_non_null(
	        strstr(m, "dataapi_produce_duration_seconds_bucket{result=\"ok\",le=\"+Inf\"}"));
	assert_non_null(
	        strstr(m, "dataapi_http_request_duration_seconds_count{route=\"/consents/*\"}"));
	assert_non_null(strstr(m, "dataapi_ingress_inflight "));
	free(m);

	m = get_text(S.query, "/metrics", &st);
	assert_int_equal(st, 200);
	assert_non_null(strstr(
	        m,
	        "dataapi_http_requests_total{route=\"/data/*/*\",method=\"GET\",status=\"200\"}"));
	/* This scrape is in flight (other tests may share the stack: at least one). */
	assert_true(series_value(m, "dataapi_http_requests_in_flight") >= 1);
	free(m);

	m = get_text(S.ingestd_admin, "/metrics", &st);
	assert_int_equal(st, 200);
	assert_non_null(
	        strstr(m, "dataapi_events_applied_total{type=\"message\",outcome=\"created\"}"));
	assert_non_null(
	        strstr(m, "dataapi_events_applied_total{type=\"consent\",outcome=\"consented\"}"));
	assert_non_null(strstr(m, "dataapi_dlq_total{reason=\"invalid_json\"}"));
	assert_non_null(strstr(m, "dataapi_batch_duration_seconds_count "));
	/* Every applied batch read (from the store or not) and wrote. */
	assert_true(series_value(m, "dataapi_store_duration_seconds_count{op=\"load\"}") >= 1);
	assert_true(series_value(m, "dataapi_store_duration_seconds_count{op=\"write\"}") >= 1);
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
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests(tests, setup, NULL);
	curl_global_cleanup();
	return rc;
}
