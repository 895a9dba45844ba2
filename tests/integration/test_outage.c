/* Integration: with the Kafka broker stopped, the ingress answers 503 + Retry-After within
 * its produce timeout and never 2xx; once the broker is back it recovers by itself, and
 * every request that got a 202 is stored. Stops and restarts the real broker. */
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

static int teardown(void **state)
{
	/* Whatever happened, leave the broker running for the tests after this one. */
	stack_ctl(&S, "start", "kafka");
	return 0;
}

static void broker_down_means_503_and_nothing_acknowledged_is_lost(void **state)
{
	char url[512], durl[512], key[64];
	int accepted_before = 0, accepted_after = 0;
	const char *c = "outage-c";
	struct http_res r;

	/* some traffic before */
	for (int i = 0; i < 5; i++) {
		snprintf(url, sizeof(url), "%s/data/%s/%s-before-%d", S.ingress, c, run_id(), i);
		accepted_before += http_post_json(url, "{\"text\":\"before\",\"language\":\"EN\"}",
		                                  NULL, NULL) == 202;
	}
	assert_int_equal(accepted_before, 5);

	assert_int_equal(stack_ctl(&S, "stop", "kafka"), 0);
	for (int i = 0; i < 3; i++) {
		snprintf(url, sizeof(url), "%s/data/%s/%s-down-%d", S.ingress, c, run_id(), i);
		snprintf(key, sizeof(key), "down-%d", i);
		assert_int_equal(
		        http_post_json(url, "{\"text\":\"during\",\"language\":\"EN\"}", key, &r),
		        503);
		assert_non_null(strstr(r.headers, "Retry-After: "));
		/* handed to the producer, no acknowledgement: it may be stored (a retry with the
		 * same Idempotency-Key is safe), which the answer says apart from a certain
		 * failure ("unavailable") */
		assert_non_null(strstr(r.body, "\"outcome_unknown\""));
		assert_non_null(strstr(r.body, "may have been stored"));
		assert_true(r.seconds < 10.0); /* bounded by --produce-timeout */
		http_res_free(&r);
	}
	snprintf(url, sizeof(url), "%s/readyz", S.ingress);
	assert_int_equal(http_get(url, NULL), 503);

	assert_int_equal(stack_ctl(&S, "start", "kafka"), 0);
	assert_int_equal(http_wait_status(url, 200, 60000), 200);

	/* the client retries what got 503, with the same keys, and new traffic flows */
	for (int i = 0; i < 3; i++) {
		snprintf(url, sizeof(url), "%s/data/%s/%s-down-%d", S.ingress, c, run_id(), i);
		snprintf(key, sizeof(key), "down-%d", i);
		long st = 0;
		for (int tries = 0; tries < 20 && st != 202; tries++) {
			st = http_post_json(url, "{\"text\":\"during\",\"language\":\"EN\"}", key,
			                    NULL);
			if (st != 202)
				sleep_ms(500);
		}
		accepted_after += st == 202;
	}
	assert_int_equal(accepted_after, 3);

	/* consent everything and check that each acknowledged message is stored exactly once */
	const char *groups[] = { "before", "down" };
	int counts[] = { 5, 3 };
	for (int g = 0; g < 2; g++)
		for (int i = 0; i < counts[g]; i++) {
			snprintf(durl, sizeof(durl), "%s/consents/%s-%s-%d", S.ingress, run_id(),
			         groups[g], i);
			assert_int_equal(http_post_json(durl, "true", NULL, NULL), 202);
		}
	assert_true(kafka_wait_drained(&S, 60000));
	for (int g = 0; g < 2; g++)
		for (int i = 0; i < counts[g]; i++) {
			snprintf(url, sizeof(url), "%s/data/%s/%s-%s-%d", S.query, c, run_id(),
			         groups[g], i);
			assert_int_equal(http_get(url, &r), 200);
			json_t *item = http_json(&r);
			assert_int_equal(json_array_size(json_object_get(item, "messages")), 1);
			json_decref(item);
			http_res_free(&r);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(broker_down_means_503_and_nothing_acknowledged_is_lost,
		                          teardown),
	};
	return harness_run_tests(tests, setup, NULL);
}
