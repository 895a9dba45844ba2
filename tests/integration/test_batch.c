/* Integration: POST /batch against the real stack. One result per line in order; a bad
 * line never fails its neighbours; one dialog's lines are stored in their order; a line's
 * idempotencyKey makes a retried batch store nothing twice; a message line and a single
 * POST of the same dialog and key are the same event; the whole-request refusals (empty,
 * header key, media type, too many lines, too large) are precise. */
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

/* POSTs an NDJSON body to /batch; returns the status, the answer parsed in *out. */
static long post_batch(const char *body, size_t len, const char *content_type, json_t **out)
{
	char url[256], ct[128];
	const char *headers[] = { ct, NULL };
	struct http_res r;
	long status;

	snprintf(url, sizeof(url), "%s/batch", S.ingress);
	snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
	assert_int_equal(http_do("POST", url, body, len, headers, &r), 0);
	if (out)
		*out = http_json(&r);
	status = r.status;
	http_res_free(&r);
	return status;
}

static json_t *result(json_t *answer, size_t i)
{
	return json_array_get(json_object_get(answer, "results"), i);
}

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

static const char *error_code(json_t *line)
{
	return str(json_object_get(line, "error"), "code");
}

/* Appends one line. */
static void add(char *buf, size_t size, const char *fmt, ...)
{
	size_t len = strlen(buf);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + len, size - len, fmt, ap);
	va_end(ap);
	len = strlen(buf);
	assert_true(len + 1 < size);
	buf[len] = '\n';
	buf[len + 1] = '\0';
}

/* The mixed batch of the first tests: two dialogs interleaved, a consent, bad lines in
 * between. */
static void mixed_batch(char *body, size_t size, const char *c, const char *d1, const char *d2)
{
	body[0] = '\0';
	add(body, size,
	    "{\"customerId\":\"%s\",\"dialogId\":\"%s\",\"text\":\"one\","
	    "\"language\":\"en\",\"idempotencyKey\":\"k1\"}",
	    c, d1);
	add(body, size,
	    "{\"customerId\":\"%s\",\"dialogId\":\"%s\",\"text\":\"x\",\"language\":"
	    "\"EN\",\"extra\":1}",
	    c, d1);
	add(body, size,
	    "{\"customerId\":\"%s\",\"dialogId\":\"%s\",\"text\":\"a\","
	    "\"language\":\"DE\",\"idempotencyKey\":\"k2\"}",
	    c, d2);
	add(body, size, "not json");
	add(body, size,
	    "{\"customerId\":\"%s\",\"dialogId\":\"%s\",\"text\":\"two\","
	    "\"language\":\"EN\",\"idempotencyKey\":\"k3\"}",
	    c, d1);
	add(body, size, "");
	add(body, size,
	    "{\"customerId\":\"%s\",\"dialogId\":\"%s\",\"text\":\"three\","
	    "\"language\":\"EN\",\"idempotencyKey\":\"k4\"}",
	    c, d1);
	add(body, size, "{\"dialogId\":\"%s\",\"consent\":true,\"idempotencyKey\":\"k5\"}", d1);
	add(body, size, "{\"dialogId\":\"bad id\",\"consent\":true}");
}

static void check_mixed_answer(json_t *a, const char *d1)
{
	/* lines 1..9 with line 7 blank: 8 results, in order */
	static const long lines[] = { 1, 2, 3, 4, 5, 7, 8, 9 };
	static const char *status[] = { "accepted", "rejected", "accepted", "rejected",
		                        "accepted", "accepted", "accepted", "rejected" };
	assert_int_equal(json_integer_value(json_object_get(a, "lines")), 8);
	assert_int_equal(json_integer_value(json_object_get(a, "accepted")), 5);
	assert_int_equal(json_integer_value(json_object_get(a, "rejected")), 3);
	assert_int_equal(json_integer_value(json_object_get(a, "failed")), 0);
	assert_int_equal(json_array_size(json_object_get(a, "results")), 8);
	for (size_t i = 0; i < 8; i++) {
		json_t *l = result(a, i);
		assert_int_equal(json_integer_value(json_object_get(l, "line")), lines[i]);
		assert_string_equal(str(l, "status"), status[i]);
	}
	assert_string_equal(error_code(result(a, 1)), "unknown_field");
	assert_string_equal(error_code(result(a, 3)), "invalid_json");
	assert_string_equal(error_code(result(a, 7)), "invalid_field");
	assert_string_equal(str(json_object_get(result(a, 7), "error"), "field"), "dialogId");
	assert_string_equal(str(result(a, 0), "dialogId"), d1);
	assert_int_equal(strlen(str(result(a, 0), "eventId")), 36);
}

/* The dialog as the query service serves it, once it has n messages (or after 30 s). */
static json_t *stored_dialog(const char *c, const char *d, size_t n)
{
	char url[512];
	json_t *item = NULL;
	snprintf(url, sizeof(url), "%s/data/%s/%s", S.query, c, d);
	for (int i = 0; i < 150; i++) {
		struct http_res r;
		json_decref(item);
		item = NULL;
		if (http_get(url, &r) == 200)
			item = http_json(&r);
		http_res_free(&r);
		if (item && json_array_size(json_object_get(item, "messages")) >= n)
			break;
		sleep_ms(200);
	}
	assert_non_null(item);
	return item;
}

static void lines_stand_alone_keep_order_and_retry_once(void **state)
{
	char c[64], d1[64], d2[64], body[4096];
	json_t *a, *again, *item, *msgs;

	snprintf(c, sizeof(c), "%s-bc", run_id());
	snprintf(d1, sizeof(d1), "%s-bd1", run_id());
	snprintf(d2, sizeof(d2), "%s-bd2", run_id());
	mixed_batch(body, sizeof(body), c, d1, d2);
	assert_int_equal(post_batch(body, strlen(body), "application/x-ndjson", &a), 200);
	check_mixed_answer(a, d1);

	/* the same batch again: the same event ids, nothing stored twice */
	assert_int_equal(post_batch(body, strlen(body), "application/x-ndjson", &again), 200);
	for (size_t i = 0; i < 8; i++)
		assert_string_equal(str(result(a, i), "eventId"), str(result(again, i), "eventId"));
	json_decref(again);

	item = stored_dialog(c, d1, 3);
	msgs = json_object_get(item, "messages");
	assert_int_equal(json_array_size(msgs), 3);
	assert_string_equal(str(json_array_get(msgs, 0), "text"), "one");
	assert_string_equal(str(json_array_get(msgs, 0), "language"), "EN");
	assert_string_equal(str(json_array_get(msgs, 1), "text"), "two");
	assert_string_equal(str(json_array_get(msgs, 2), "text"), "three");
	json_decref(item);
	json_decref(a);

	/* d2 never got a consent: it is not readable */
	char url[512];
	snprintf(url, sizeof(url), "%s/data/%s/%s", S.query, c, d2);
	assert_int_equal(http_get(url, NULL), 404);
}

/* A line's idempotencyKey is the Idempotency-Key of a single POST for the same dialog. */
static void a_line_and_a_single_post_are_the_same_event(void **state)
{
	char c[64], d[64], body[1024], url[512];
	struct http_res r;
	json_t *a, *single;

	snprintf(c, sizeof(c), "%s-sc", run_id());
	snprintf(d, sizeof(d), "%s-sd", run_id());
	body[0] = '\0';
	add(body, sizeof(body),
	    "{\"customerId\":\"%s\",\"dialogId\":\"%s\",\"text\":\"once\","
	    "\"language\":\"EN\",\"idempotencyKey\":\"same\"}",
	    c, d);
	assert_int_equal(post_batch(body, strlen(body), "application/json", &a), 200);
	snprintf(url, sizeof(url), "%s/data/%s/%s", S.ingress, c, d);
	assert_int_equal(http_post_json(url, "{\"text\":\"once\",\"language\":\"EN\"}", "same", &r),
	                 202);
	single = http_json(&r);
	assert_string_equal(str(single, "eventId"), str(result(a, 0), "eventId"));
	json_decref(single);
	json_decref(a);
	http_res_free(&r);
	snprintf(url, sizeof(url), "%s/consents/%s", S.ingress, d);
	assert_int_equal(http_post_json(url, "true", NULL, NULL), 202);
	assert_true(kafka_wait_drained(&S, 60000));
	json_t *item = stored_dialog(c, d, 1);
	assert_int_equal(json_array_size(json_object_get(item, "messages")), 1);
	json_decref(item);
}

static void expect_refusal(const char *body, size_t len, const char *ct, long status,
                           const char *code)
{
	json_t *a = NULL;
	long got = post_batch(body, len, ct, &a);
	if (got != status)
		fail_msg("expected %ld %s, got %ld", status, code, got);
	assert_non_null(a);
	assert_string_equal(str(json_object_get(a, "error"), "code"), code);
	json_decref(a);
}

static void whole_batch_refusals_are_precise(void **state)
{
	char url[256];
	struct http_res r;
	const char *headers[] = { "Idempotency-Key: k", "Content-Type: application/x-ndjson",
		                  NULL };
	const char *consent = "{\"dialogId\":\"d\",\"consent\":true}\n";
	size_t big = 1100 * 1024, n = 0;
	char *body = malloc(big + 64);

	expect_refusal("", 0, "application/x-ndjson", 400, "empty_batch");
	expect_refusal("\n \r\n", 4, "application/x-ndjson", 400, "empty_batch");
	expect_refusal("{}\n[1]\n", 7, "application/x-ndjson", 400, "invalid_batch");
	expect_refusal(consent, strlen(consent), "text/plain", 415, "unsupported_media_type");
	/* 1001 lines: one over the default limit, well under the byte limit */
	body[0] = '\0';
	for (int i = 0; i < 1001; i++)
		n += (size_t)sprintf(body + n, "%s", consent);
	expect_refusal(body, n, "application/x-ndjson", 413, "too_many_lines");
	/* over the byte limit (1 MiB), in one line */
	memset(body, ' ', big);
	expect_refusal(body, big, "application/x-ndjson", 413, "body_too_large");
	free(body);

	snprintf(url, sizeof(url), "%s/batch", S.ingress);
	assert_int_equal(http_do("POST", url, consent, strlen(consent), headers, &r), 0);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "\"Idempotency-Key\""));
	http_res_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lines_stand_alone_keep_order_and_retry_once),
		cmocka_unit_test(a_line_and_a_single_post_are_the_same_event),
		cmocka_unit_test(whole_batch_refusals_are_precise),
	};
	return harness_run_tests(tests, setup, NULL);
}
