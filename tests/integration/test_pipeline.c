/* Integration: the whole pipeline over HTTP, on the real Kafka broker and database that the
 * CTest fixture started with deploy/stack.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define WAIT_MS 30000

static struct stack S;

static int setup(void **state)
{
	stack_ready(&S);
	return 0;
}

/* "<run>-<name>" */
static const char *uid(const char *name)
{
	static char buf[8][128];
	static int i;
	char *b = buf[i++ % 8];
	snprintf(b, 128, "%s-%s", run_id(), name);
	return b;
}

static long post_message(const char *customer, const char *dialog, const char *text,
                         const char *lang)
{
	char url[512], body[1024];
	snprintf(url, sizeof(url), "%s/data/%s/%s", S.ingress, customer, dialog);
	json_t *j = json_pack("{s:s, s:s}", "text", text, "language", lang);
	char *s = json_dumps(j, JSON_COMPACT);
	snprintf(body, sizeof(body), "%s", s);
	free(s);
	json_decref(j);
	return http_post_json(url, body, NULL, NULL);
}

static long post_consent(const char *dialog, bool granted)
{
	char url[512];
	snprintf(url, sizeof(url), "%s/consents/%s", S.ingress, dialog);
	return http_post_json(url, granted ? "true" : "false", NULL, NULL);
}

static long get_dialog(const char *customer, const char *dialog, json_t **out)
{
	char url[512];
	struct http_res r;
	snprintf(url, sizeof(url), "%s/data/%s/%s", S.query, customer, dialog);
	long st = http_get(url, &r);
	if (out)
		*out = http_json(&r);
	http_res_free(&r);
	return st;
}

static long wait_dialog(const char *customer, const char *dialog, long status)
{
	char url[512];
	snprintf(url, sizeof(url), "%s/data/%s/%s", S.query, customer, dialog);
	return http_wait_status(url, status, WAIT_MS);
}

static json_t *get_list(const char *query, long *status)
{
	char url[1024];
	struct http_res r;
	snprintf(url, sizeof(url), "%s/data?%s", S.query, query);
	*status = http_get(url, &r);
	json_t *j = http_json(&r);
	http_res_free(&r);
	return j;
}

/* ---- consent gates what is readable ------------------------------------------------ */

static void a_dialog_is_readable_only_after_consent(void **state)
{
	const char *c = uid("c"), *d = uid("gate");
	assert_int_equal(post_message(c, d, "hello", "en"), 202);
	assert_true(kafka_wait_drained(&S, WAIT_MS));
	bson_t *doc = mongo_find(&S, d);
	assert_non_null(doc); /* stored pending ... */
	bson_iter_t it;
	assert_true(bson_iter_init_find(&it, doc, "consent"));
	assert_false(bson_iter_as_bool(&it));
	bson_destroy(doc);
	assert_int_equal(get_dialog(c, d, NULL), 404); /* ... but not readable */

	assert_int_equal(post_consent(d, true), 202);
	assert_int_equal(wait_dialog(c, d, 200), 200);
	json_t *item;
	assert_int_equal(get_dialog(c, d, &item), 200);
	assert_string_equal(json_string_value(json_object_get(item, "dialogId")), d);
	assert_string_equal(json_string_value(json_object_get(item, "customerId")), c);
	assert_string_equal(
	        json_string_value(json_array_get(json_object_get(item, "languages"), 0)), "EN");
	assert_non_null(json_string_value(json_object_get(item, "consentedAt")));
	json_decref(item);
	/* the wrong customer does not see it */
	assert_int_equal(get_dialog(uid("someone-else"), d, NULL), 404);
}

static void revocation_erases_for_good(void **state)
{
	const char *c = uid("c"), *d = uid("revoke");
	assert_int_equal(post_message(c, d, "secret one", "EN"), 202);
	assert_int_equal(post_consent(d, true), 202);
	assert_int_equal(wait_dialog(c, d, 200), 200);

	assert_int_equal(post_consent(d, false), 202);
	assert_int_equal(wait_dialog(c, d, 404), 404);
	/* later events do not bring it back */
	assert_int_equal(post_message(c, d, "secret two", "EN"), 202);
	assert_int_equal(post_consent(d, true), 202);
	assert_true(kafka_wait_drained(&S, WAIT_MS));
	assert_int_equal(get_dialog(c, d, NULL), 404);

	/* what remains is a tombstone without personal data */
	bson_t *doc = mongo_find(&S, d);
	bson_iter_t it;
	assert_non_null(doc);
	assert_true(bson_iter_init_find(&it, doc, "revoked") && bson_iter_as_bool(&it));
	assert_true(bson_has_field(doc, "revokedAt"));
	assert_false(bson_has_field(doc, "messages"));
	assert_false(bson_has_field(doc, "customerId"));
	assert_false(bson_has_field(doc, "languages"));
	bson_destroy(doc);
}

static void revocation_before_any_message_blocks_later_ones(void **state)
{
	const char *c = uid("c"), *d = uid("early-no");
	assert_int_equal(post_consent(d, false), 202);
	assert_int_equal(post_message(c, d, "after no", "EN"), 202);
	assert_int_equal(post_consent(d, true), 202);
	assert_true(kafka_wait_drained(&S, WAIT_MS));
	assert_int_equal(get_dialog(c, d, NULL), 404);
	bson_t *doc = mongo_find(&S, d);
	assert_non_null(doc);
	assert_false(bson_has_field(doc, "messages"));
	bson_destroy(doc);
}

static void messages_keep_their_order(void **state)
{
	const char *c = uid("c"), *d = uid("order");
	char text[32];
	for (int i = 0; i < 25; i++) {
		snprintf(text, sizeof(text), "message %02d", i);
		assert_int_equal(post_message(c, d, text, i % 2 ? "DE" : "EN"), 202);
	}
	assert_int_equal(post_consent(d, true), 202);
	assert_int_equal(wait_dialog(c, d, 200), 200);
	json_t *item, *msgs;
	get_dialog(c, d, &item);
	msgs = json_object_get(item, "messages");
	assert_int_equal(json_array_size(msgs), 25);
	for (int i = 0; i < 25; i++) {
		snprintf(text, sizeof(text), "message %02d", i);
		assert_string_equal(
		        json_string_value(json_object_get(json_array_get(msgs, i), "text")), text);
	}
	assert_int_equal(json_array_size(json_object_get(item, "languages")), 2);
	json_decref(item);
}

/* ---- listing: order, filters, pages -------------------------------------------------- */

static void sort_and_filters(void **state)
{
	const char *c1 = uid("sortA"), *c2 = uid("sortB");
	const char *d[4] = { uid("s0"), uid("s1"), uid("s2"), uid("s3") };
	const char *lang[4] = { "FR", "EN", "FR", "EN" };
	for (int i = 0; i < 4; i++) {
		assert_int_equal(post_message(i < 2 ? c1 : c2, d[i], "x", lang[i]), 202);
		assert_int_equal(post_consent(d[i], true), 202);
		sleep_ms(5); /* distinct receivedAt */
	}
	assert_int_equal(wait_dialog(c2, d[3], 200), 200);
	assert_true(kafka_wait_drained(&S, WAIT_MS));

	long st;
	char q[256];
	snprintf(q, sizeof(q), "customerId=%s", c1);
	json_t *page = get_list(q, &st);
	assert_int_equal(st, 200);
	assert_int_equal(json_integer_value(json_object_get(page, "total")), 2);
	/* newest first */
	assert_string_equal(json_string_value(json_object_get(
	                            json_array_get(json_object_get(page, "items"), 0), "dialogId")),
	                    d[1]);
	assert_string_equal(json_string_value(json_object_get(
	                            json_array_get(json_object_get(page, "items"), 1), "dialogId")),
	                    d[0]);
	json_decref(page);

	snprintf(q, sizeof(q), "customer_id=%s&language=fr", c2);
	page = get_list(q, &st);
	assert_int_equal(st, 200);
	assert_int_equal(json_integer_value(json_object_get(page, "total")), 1);
	assert_string_equal(json_string_value(json_object_get(
	                            json_array_get(json_object_get(page, "items"), 0), "dialogId")),
	                    d[2]);
	json_decref(page);

	/* the global listing is ordered by lastMessageAt desc, then dialogId */
	page = get_list("limit=1000", &st);
	assert_int_equal(st, 200);
	json_t *items = json_object_get(page, "items");
	for (size_t i = 1; i < json_array_size(items); i++) {
		const char *a = json_string_value(
		        json_object_get(json_array_get(items, i - 1), "lastMessageAt"));
		const char *b = json_string_value(
		        json_object_get(json_array_get(items, i), "lastMessageAt"));
		assert_true(strcmp(a, b) >= 0);
		if (!strcmp(a, b))
			assert_true(strcmp(json_string_value(json_object_get(
			                           json_array_get(items, i - 1), "dialogId")),
			                   json_string_value(json_object_get(
			                           json_array_get(items, i), "dialogId"))) < 0);
	}
	json_decref(page);
}

static void pagination_sees_each_dialog_once(void **state)
{
	enum { N = 55 };
	const char *c = uid("pager");
	char ids[N][128], q[1024];
	for (int i = 0; i < N; i++) {
		snprintf(ids[i], sizeof(ids[i]), "%s-p%02d", run_id(), i);
		assert_int_equal(post_message(c, ids[i], "page me", "EN"), 202);
		assert_int_equal(post_consent(ids[i], true), 202);
	}
	assert_true(kafka_wait_drained(&S, WAIT_MS));

	/* offset pages of 7 */
	int seen_offset[N] = { 0 }, count = 0;
	char first_order[N][128];
	for (int off = 0; off < N + 7; off += 7) {
		long st;
		snprintf(q, sizeof(q), "customerId=%s&limit=7&offset=%d", c, off);
		json_t *page = get_list(q, &st), *items = json_object_get(page, "items");
		assert_int_equal(st, 200);
		assert_int_equal(json_integer_value(json_object_get(page, "total")), N);
		assert_int_equal(json_integer_value(json_object_get(page, "offset")), off);
		for (size_t i = 0; i < json_array_size(items); i++) {
			const char *id = json_string_value(
			        json_object_get(json_array_get(items, i), "dialogId"));
			int k = atoi(strrchr(id, 'p') + 1);
			seen_offset[k]++;
			snprintf(first_order[count++], 128, "%s", id);
		}
		json_decref(page);
	}
	assert_int_equal(count, N);
	for (int i = 0; i < N; i++)
		assert_int_equal(seen_offset[i], 1);

	/* cursor pages of 8 give the same sequence, and the total of the first page: a dialog
	 * stored after it (newer, so before the walk's position) is not counted by the cursor
	 * pages, which do not count again; a new first page counts it */
	char cursor[512] = "", late[128];
	int pos = 0, pages = 0;
	do {
		long st;
		if (cursor[0])
			snprintf(q, sizeof(q), "customerId=%s&limit=8&cursor=%s", c, cursor);
		else
			snprintf(q, sizeof(q), "customerId=%s&limit=8", c);
		json_t *page = get_list(q, &st), *items = json_object_get(page, "items");
		assert_int_equal(st, 200);
		assert_int_equal(json_integer_value(json_object_get(page, "total")), N);
		if (pages == 0) {
			snprintf(late, sizeof(late), "%s-late", run_id());
			assert_int_equal(post_message(c, late, "after the first page", "EN"), 202);
			assert_int_equal(post_consent(late, true), 202);
			assert_true(kafka_wait_drained(&S, WAIT_MS));
		}
		for (size_t i = 0; i < json_array_size(items); i++) {
			assert_true(pos < N);
			assert_string_equal(json_string_value(json_object_get(
			                            json_array_get(items, i), "dialogId")),
			                    first_order[pos]);
			pos++;
		}
		json_t *next = json_object_get(page, "nextCursor");
		cursor[0] = '\0';
		if (json_is_string(next))
			snprintf(cursor, sizeof(cursor), "%s", json_string_value(next));
		json_decref(page);
		assert_true(++pages <= N);
	} while (cursor[0]);
	assert_int_equal(pos, N);
	long st;
	snprintf(q, sizeof(q), "customerId=%s&limit=8", c);
	json_t *page = get_list(q, &st);
	assert_int_equal(st, 200);
	assert_int_equal(json_integer_value(json_object_get(page, "total")), N + 1);
	json_decref(page);
}

static void export_streams_every_match_in_order(void **state)
{
	const char *c = uid("export");
	char url[512], d[64];
	for (int i = 0; i < 5; i++) {
		snprintf(d, sizeof(d), "%s-e%d", run_id(), i);
		assert_int_equal(post_message(c, d, "to export", "EN"), 202);
		assert_int_equal(post_consent(d, true), 202);
	}
	assert_true(kafka_wait_drained(&S, WAIT_MS));
	snprintf(url, sizeof(url), "%s/data/export?customerId=%s", S.query, c);
	struct http_res r;
	assert_int_equal(http_get(url, &r), 200);
	assert_non_null(strstr(r.headers, "application/x-ndjson"));
	assert_non_null(strstr(r.headers, "chunked"));
	int lines = 0;
	char prev[64] = "~";
	for (char *line = strtok(r.body, "\n"); line; line = strtok(NULL, "\n")) {
		json_t *item = json_loads(line, 0, NULL);
		assert_non_null(item);
		assert_string_equal(json_string_value(json_object_get(item, "customerId")), c);
		const char *t = json_string_value(json_object_get(item, "lastMessageAt"));
		assert_true(strcmp(prev, t) >= 0 || prev[0] == '~');
		snprintf(prev, sizeof(prev), "%s", t);
		json_decref(item);
		lines++;
	}
	assert_int_equal(lines, 5);
	http_res_free(&r);

	/* nothing matches: an empty, complete stream (not a broken one) */
	snprintf(url, sizeof(url), "%s/data/export?customerId=%s-nobody", S.query, run_id());
	assert_int_equal(http_do("GET", url, NULL, 0, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.len, 0);
	http_res_free(&r);
}

/* ---- idempotency, duplicates, poison ---------------------------------------------- */

static void a_retried_request_is_stored_once(void **state)
{
	const char *c = uid("c"), *d = uid("idem");
	char url[512];
	struct http_res a, b;
	snprintf(url, sizeof(url), "%s/data/%s/%s", S.ingress, c, d);
	assert_int_equal(
	        http_post_json(url, "{\"text\":\"once\",\"language\":\"EN\"}", "job-7", &a), 202);
	assert_int_equal(
	        http_post_json(url, "{\"text\":\"once\",\"language\":\"EN\"}", "job-7", &b), 202);
	json_t *ja = http_json(&a), *jb = http_json(&b);
	assert_string_equal(json_string_value(json_object_get(ja, "eventId")),
	                    json_string_value(json_object_get(jb, "eventId")));
	assert_string_equal(json_string_value(json_object_get(ja, "status")), "accepted");
	json_decref(ja);
	json_decref(jb);
	http_res_free(&a);
	http_res_free(&b);
	assert_int_equal(
	        http_post_json(url, "{\"text\":\"twice\",\"language\":\"EN\"}", "job-8", NULL),
	        202);
	assert_int_equal(post_consent(d, true), 202);
	assert_int_equal(wait_dialog(c, d, 200), 200);
	json_t *item;
	get_dialog(c, d, &item);
	assert_int_equal(json_array_size(json_object_get(item, "messages")), 2);
	json_decref(item);
}

static void the_same_event_produced_twice_is_stored_once(void **state)
{
	const char *c = uid("c"), *d = uid("dup");
	char ev[512], now[32];
	snprintf(ev, sizeof(ev),
	         "{\"v\":1,\"type\":\"message\",\"eventId\":\"%s-e1\",\"dialogId\":\"%s\","
	         "\"customerId\":\"%s\",\"text\":\"dup\",\"language\":\"EN\","
	         "\"receivedAt\":\"%s\"}",
	         d, d, c, time_now_text(now));
	assert_int_equal(kafka_produce(&S, S.topic, d, ev, strlen(ev)), 0);
	assert_int_equal(kafka_produce(&S, S.topic, d, ev, strlen(ev)), 0);
	assert_int_equal(post_consent(d, true), 202);
	assert_int_equal(wait_dialog(c, d, 200), 200);
	assert_int_equal(kafka_produce(&S, S.topic, d, ev, strlen(ev)),
	                 0); /* and once more, later */
	assert_true(kafka_wait_drained(&S, WAIT_MS));
	json_t *item;
	get_dialog(c, d, &item);
	assert_int_equal(json_array_size(json_object_get(item, "messages")), 1);
	json_decref(item);
}

static void poison_goes_to_the_dlq_and_later_events_apply(void **state)
{
	const char *c = uid("c"), *d = uid("poison");
	char reason[64] = "", ev[512], now[32];
	static const char *const poisons[] = {
		"not json at all",
		"{\"v\":9,\"type\":\"message\"}",
		"{\"v\":1,\"type\":\"message\",\"eventId\":\"x\",\"dialogId\":\"%s\"}",
		"{\"v\":1,\"type\":\"message\",\"eventId\":\"x\",\"dialogId\":\"$where\","
		"\"customerId\":\"c\",\"text\":\"t\",\"language\":\"EN\",\"receivedAt\":\"2026-11-"
		"22T10:00:00Z\"}",
		"{\"v\":1,\"type\":\"message\",\"eventId\":\"x\",\"dialogId\":\"%s\","
		"\"customerId\":\"c\",\"text\":\"\xff\xfe\",\"language\":\"EN\",\"receivedAt\":"
		"\"2026-11-22T10:00:00Z\"}",
	};
	static const char *const reasons[] = { "invalid_json", "unsupported_version",
		                               "missing_field", "invalid_field", "invalid_json" };
	for (int i = 0; i < 5; i++) {
		char key[128];
		snprintf(key, sizeof(key), "%s-%d", d, i);
		/* Only the first "%s" of a poison is replaced by its key. */
		const char *mark = strstr(poisons[i], "%s");
		if (mark)
			snprintf(ev, sizeof(ev), "%.*s%s%s", (int)(mark - poisons[i]), poisons[i],
			         key, mark + 2);
		else
			snprintf(ev, sizeof(ev), "%s", poisons[i]);
		assert_int_equal(kafka_produce(&S, S.topic, key, ev, strlen(ev)), 0);
		/* a valid event right behind the poison, on the same key and partition */
		snprintf(ev, sizeof(ev),
		         "{\"v\":1,\"type\":\"message\",\"eventId\":\"ok-%d\",\"dialogId\":\"%s\","
		         "\"customerId\":\"%s\",\"text\":\"fine\",\"language\":\"EN\","
		         "\"receivedAt\":\"%s\"}",
		         i, key, c, time_now_text(now));
		assert_int_equal(kafka_produce(&S, S.topic, key, ev, strlen(ev)), 0);
		assert_int_equal(post_consent(key, true), 202);
	}
	for (int i = 0; i < 5; i++) {
		char key[128];
		snprintf(key, sizeof(key), "%s-%d", d, i);
		assert_int_equal(wait_dialog(c, key, 200), 200);
		assert_true(kafka_find_dlq(&S, key, reason, sizeof(reason), WAIT_MS));
		assert_string_equal(reason, reasons[i]);
	}
	/* nothing was injected under the poison's own ids */
	assert_null(mongo_find(&S, "$where"));
}

static void a_message_from_another_customer_is_dead_lettered(void **state)
{
	const char *c = uid("owner"), *d = uid("mismatch");
	char reason[64] = "";
	assert_int_equal(post_message(c, d, "mine", "EN"), 202);
	assert_int_equal(post_message(uid("intruder"), d, "not mine", "EN"), 202);
	assert_int_equal(post_consent(d, true), 202);
	assert_int_equal(wait_dialog(c, d, 200), 200);
	assert_true(kafka_find_dlq(&S, d, reason, sizeof(reason), WAIT_MS));
	assert_string_equal(reason, "customer_mismatch");
	json_t *item;
	get_dialog(c, d, &item);
	assert_int_equal(json_array_size(json_object_get(item, "messages")), 1);
	json_decref(item);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_dialog_is_readable_only_after_consent),
		cmocka_unit_test(revocation_erases_for_good),
		cmocka_unit_test(revocation_before_any_message_blocks_later_ones),
		cmocka_unit_test(messages_keep_their_order),
		cmocka_unit_test(sort_and_filters),
		cmocka_unit_test(pagination_sees_each_dialog_once),
		cmocka_unit_test(export_streams_every_match_in_order),
		cmocka_unit_test(a_retried_request_is_stored_once),
		cmocka_unit_test(the_same_event_produced_twice_is_stored_once),
		cmocka_unit_test(poison_goes_to_the_dlq_and_later_events_apply),
		cmocka_unit_test(a_message_from_another_customer_is_dead_lettered),
	};
	return harness_run_tests(tests, setup, NULL);
}
