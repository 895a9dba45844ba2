/* Integration: person-level privacy requests on the real stack. A person with consented,
 * pending and in-flight dialogs (a message posted while ingestd is down), beside another
 * customer: their data read back (pending included) through the privacy route; an erasure
 * recorded while ingestd is down (pending), idempotent on its requestId and refused for
 * another customer under the same one; completed once ingestd is back, with its counts;
 * then no dialog, no key and no access left, the other customer untouched, a late message
 * for an erased dialog dropped, the person's dead letter re-driven and shredded, a dialog
 * begun afterwards kept as new data, and a receipt that carries no personal data.
 * DAPI_PRIVACY_DIALOGS (default 10) sizes the person. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "harness.h"

static struct stack S;
static char person[96], other[96];
static int ndialogs;

static int setup(void **state)
{
	stack_ready(&S);
	snprintf(person, sizeof(person), "%s-person", run_id());
	snprintf(other, sizeof(other), "%s-other", run_id());
	const char *n = getenv("DAPI_PRIVACY_DIALOGS");
	ndialogs = n && atoi(n) >= 4 ? atoi(n) : 10;
	return 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long request(const char *method, const char *base, const char *path, const char *body,
                    const char *token, struct http_res *r)
{
	char url[512], auth[256];
	snprintf(url, sizeof(url), "%s%s", base, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	assert_int_equal(http_do(method, url, body, body ? strlen(body) : 0,
	                         (const char *[]){ "Content-Type: application/json", auth, NULL },
	                         r),
	                 0);
	return r->status;
}

/* The person's dialogs i in [from, to): a message each, and a consent for all but every
 * third (i % 3 == 1 stays pending), through POST /batch, 200 dialogs a request. */
static void post_dialogs(const char *customer, int from, int to)
{
	for (; to - from > 200; from += 200)
		post_dialogs(customer, from, from + 200);
	size_t cap = (size_t)(to - from) * 200 + 1, len = 0;
	char *body = malloc(cap);
	for (int i = from; i < to; i++) {
		len += (size_t)snprintf(body + len, cap - len,
		                        "{\"customerId\":\"%s\",\"dialogId\":\"%s-d%d\",\"text\":"
		                        "\"hello %d\",\"language\":\"EN\"}\n",
		                        customer, customer, i, i);
		if (i % 3 != 1)
			len += (size_t)snprintf(body + len, cap - len,
			                        "{\"dialogId\":\"%s-d%d\",\"consent\":true}\n",
			                        customer, i);
	}
	struct http_res r;
	char url[256], auth[256];
	snprintf(url, sizeof(url), "%s/batch", S.ingress);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", S.writer_token);
	assert_int_equal(
	        http_do("POST", url, body, len,
	                (const char *[]){ "Content-Type: application/x-ndjson", auth, NULL }, &r),
	        0);
	assert_int_equal(r.status, 200);
	assert_null(strstr(r.body, "\"error\""));
	http_res_free(&r);
	free(body);
}

/* Lines of GET /privacy/customers/{customer}/data, each checked to be that customer's. */
static int person_data(const char *customer, int *pending)
{
	struct http_res r;
	char path[256], needle[160];
	snprintf(path, sizeof(path), "/privacy/customers/%s/data", customer);
	assert_int_equal(request("GET", S.query, path, NULL, S.privacy_token, &r), 200);
	assert_non_null(strstr(r.headers, "application/x-ndjson"));
	snprintf(needle, sizeof(needle), "\"customerId\":\"%s\"", customer);
	int lines = 0;
	*pending = 0;
	for (char *line = r.body, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		assert_non_null(strstr(line, needle));
		*pending += strstr(line, "\"consentedAt\":null") != NULL;
		lines++;
	}
	http_res_free(&r);
	return lines;
}

static json_t *receipt(const char *id)
{
	struct http_res r;
	char path[128];
	snprintf(path, sizeof(path), "/privacy/erasures/%s", id);
	assert_int_equal(request("GET", S.query, path, NULL, S.privacy_token, &r), 200);
	json_t *j = http_json(&r);
	assert_non_null(j);
	assert_null(strstr(r.body, person)); /* no personal data */
	http_res_free(&r);
	return j;
}

/* The receipt once the request completed (polled for up to 2 min), or fails the test. */
static json_t *wait_completed(const char *id)
{
	for (int i = 0; i < 1200; i++) {
		json_t *j = receipt(id);
		const char *status = json_string_value(json_object_get(j, "status"));
		assert_non_null(status);
		if (!strcmp(status, "completed"))
			return j;
		json_decref(j);
		sleep_ms(100);
	}
	fail_msg("erasure %s did not complete in 2 min", id);
	return NULL;
}

/* POST /privacy/erasures; the answer's erasureId into id (when 202). */
static long erase(const char *customer, const char *request_id, char id[64])
{
	struct http_res r;
	char body[256];
	snprintf(body, sizeof(body), "{\"customerId\":\"%s\",\"requestId\":\"%s\"}", customer,
	         request_id);
	long st = request("POST", S.ingress, "/privacy/erasures", body, S.privacy_token, &r);
	json_t *j = http_json(&r);
	if (st == 202) {
		snprintf(id, 64, "%s", json_string_value(json_object_get(j, "erasureId")));
		assert_string_equal(json_string_value(json_object_get(j, "status")), "pending");
	}
	json_decref(j);
	http_res_free(&r);
	return st;
}

/* Runs dataapi-dlq on the stack's topic with args; its exit status. */
static int dlq_tool(const char *args)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
	         "'%s/ingest/dataapi-dlq' --kafka-brokers '%s' --topic '%s' %s >/dev/null",
	         S.build_dir, S.brokers, S.topic, args);
	int status = system(cmd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static bool has_key(const char *dialog)
{
	bson_t *k = mongo_find_in(&S, "dataapi_keys", "dialog_keys", dialog);
	bson_destroy(k);
	return k != NULL;
}

static void a_persons_data_then_its_erasure(void **state)
{
	char dialog[160], path[512], id[64], again[64], rid[96];
	int pending;
	struct http_res r;
	bson_t *doc;

	post_dialogs(person, 0, ndialogs - 1);
	post_dialogs(other, 0, 1);
	/* one of the person's dialogs gets a message under another customerId: dead-lettered */
	snprintf(path, sizeof(path), "/data/%s/%s-d0", other, person);
	ingress_post_accepted(&S, path, "{\"text\":\"not theirs\",\"language\":\"EN\"}");
	assert_true(kafka_wait_drained(&S, 60000));
	char reason[64] = "";
	snprintf(dialog, sizeof(dialog), "%s-d0", person);
	assert_true(kafka_find_dlq(&S, dialog, reason, sizeof(reason), 30000));
	assert_string_equal(reason, "customer_mismatch");
	/* access: everything stored for the person, pending included */
	assert_int_equal(person_data(person, &pending), ndialogs - 1);
	assert_int_equal(pending, (ndialogs - 1 + 1) / 3);
	/* the last dialog in flight: posted while no ingestd applies it */
	assert_int_equal(stack_ctl(&S, "stop", "ingestd"), 0);
	snprintf(path, sizeof(path), "/data/%s/%s-d%d", person, person, ndialogs - 1);
	ingress_post_accepted(&S, path, "{\"text\":\"in flight\",\"language\":\"EN\"}");
	snprintf(rid, sizeof(rid), "%s-request", run_id());
	double t0 = now_s();
	assert_int_equal(erase(person, rid, id), 202);
	assert_int_equal(erase(person, rid, again), 202); /* idempotent on requestId */
	assert_string_equal(id, again);
	assert_int_equal(erase(other, rid, again), 409); /* another customer's requestId */
	json_t *j = receipt(id);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "pending");
	json_decref(j);

	assert_int_equal(stack_ctl(&S, "start", "ingestd"), 0);
	j = wait_completed(id);
	print_message("erasure of %d dialogs: %.1f s from the request (ingestd restarted in "
	              "between)\n",
	              ndialogs, now_s() - t0);
	assert_int_equal(json_integer_value(json_object_get(j, "dialogs")), ndialogs);
	assert_int_equal(json_integer_value(json_object_get(j, "keysDeleted")), ndialogs);
	assert_true(json_is_string(json_object_get(j, "completedAt")));
	json_decref(j);

	/* nothing left of the person: no access, no key, every dialog a tombstone */
	assert_int_equal(person_data(person, &pending), 0);
	for (int i = 0; i < ndialogs; i++) {
		snprintf(dialog, sizeof(dialog), "%s-d%d", person, i);
		assert_false(has_key(dialog));
		doc = mongo_find(&S, dialog);
		assert_non_null(doc);
		assert_true(bson_has_field(doc, "revoked"));
		assert_false(bson_has_field(doc, "customerId"));
		bson_destroy(doc);
	}
	/* the other customer untouched */
	snprintf(dialog, sizeof(dialog), "%s-d0", other);
	snprintf(path, sizeof(path), "%s/data/%s/%s", S.query, other, dialog);
	assert_int_equal(http_get(path, NULL), 200);
	assert_true(has_key(dialog));
	/* the person's dead letter, re-driven after the erasure, is shredded: d0 stays erased */
	char metric[256], args[256];
	snprintf(metric, sizeof(metric), "%s", "dataapi_events_shredded_total");
	double before = metric_value(S.ingestd_admin, metric);
	snprintf(args, sizeof(args), "--key '%s-d0' --reason customer_mismatch --redrive", person);
	assert_int_equal(dlq_tool(args), 0);
	assert_true(kafka_wait_drained(&S, 60000));
	double after = metric_value(S.ingestd_admin, metric);
	print_message("re-driven dead letter: %.0f event(s) shredded\n", after - before);
	assert_true(after - before >= 1);
	snprintf(dialog, sizeof(dialog), "%s-d0", person);
	doc = mongo_find(&S, dialog);
	assert_true(doc && bson_has_field(doc, "revoked"));
	bson_destroy(doc);
	assert_int_equal(person_data(person, &pending), 0);
	/* the stored request keeps no customerId once completed */
	doc = mongo_find_in(&S, "dataapi_keys", "privacy_erasures", id);
	assert_non_null(doc);
	assert_false(bson_has_field(doc, "customer"));
	bson_destroy(doc);
	(void)r;
}

static void after_an_erasure(void **state)
{
	char path[256], id[64], rid[96];
	int pending;
	/* a late message for an erased dialog stays dropped */
	snprintf(path, sizeof(path), "/data/%s/%s-d0", person, person);
	ingress_post_accepted(&S, path, "{\"text\":\"late\",\"language\":\"EN\"}");
	/* a dialog begun after the request is new data */
	snprintf(path, sizeof(path), "/data/%s/%s-new", person, person);
	ingress_post_accepted(&S, path, "{\"text\":\"new\",\"language\":\"EN\"}");
	assert_true(kafka_wait_drained(&S, 60000));
	assert_int_equal(person_data(person, &pending), 1);
	assert_int_equal(pending, 1);
	/* a person with nothing stored: completed, with nothing erased */
	snprintf(rid, sizeof(rid), "%s-nobody", run_id());
	char nobody[96];
	snprintf(nobody, sizeof(nobody), "%s-nobody", run_id());
	assert_int_equal(erase(nobody, rid, id), 202);
	json_t *j = wait_completed(id);
	assert_int_equal(json_integer_value(json_object_get(j, "dialogs")), 0);
	json_decref(j);
}

static void bad_requests(void **state)
{
	struct http_res r;
	static const char *const bodies[] = { "",
		                              "[]",
		                              "{}",
		                              "{\"customerId\":\"a b\"}",
		                              "{\"customerId\":\"c1\",\"extra\":1}",
		                              "{\"customerId\":\"c1\",\"requestId\":7}" };
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		assert_int_equal(request("POST", S.ingress, "/privacy/erasures", bodies[i],
		                         S.privacy_token, &r),
		                 400);
		assert_non_null(strstr(r.body, "\"error\""));
		http_res_free(&r);
	}
	assert_int_equal(
	        request("GET", S.query, "/privacy/erasures/nothex", NULL, S.privacy_token, &r),
	        400);
	http_res_free(&r);
	assert_int_equal(request("GET", S.query,
	                         "/privacy/erasures/0123456789abcdef0123456789abcdef", NULL,
	                         S.privacy_token, &r),
	                 404);
	http_res_free(&r);
	assert_int_equal(request("GET", S.query, "/privacy/customers/c1/data?limit=1", NULL,
	                         S.privacy_token, &r),
	                 400);
	http_res_free(&r);
	/* the other roles are refused (every route: test_auth_matrix) */
	assert_int_equal(
	        request("GET", S.query, "/privacy/customers/c1/data", NULL, S.reader_token, &r),
	        403);
	http_res_free(&r);
	assert_int_equal(request("POST", S.ingress, "/privacy/erasures", "{\"customerId\":\"c1\"}",
	                         S.writer_token, &r),
	                 403);
	http_res_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bad_requests),
		cmocka_unit_test(a_persons_data_then_its_erasure),
		cmocka_unit_test(after_an_erasure),
	};
	return harness_run_tests(tests, setup, NULL);
}
