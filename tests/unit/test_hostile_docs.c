/* Unit tests: documents read back from MongoDB are checked before use. Another writer, a
 * restore or a hand edit can store anything; ingestd's loader and the query service's
 * renderer must neither overflow nor trust it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"
#include "render.h"
#include "store.h"

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* ---- ingestd: loading ------------------------------------------------------------- */

static void long_and_odd_language_entries_are_dropped(void **state)
{
	(void)state;
	char *long_tag = repeat('a', 5000);
	bson_t *doc = BCON_NEW("_id", "d1", "customerId", "c1", "consent", BCON_BOOL(true),
	                       "languages", "[", "EN", BCON_UTF8(long_tag), "de", "$x", "EN",
	                       BCON_INT32(7), "{", "a", "b", "}", "PT-BR", "]");
	struct ingestd_dialog d;
	ingestd_dialog_init(&d, "d1");
	assert_true(ingestd_store_parse_dialog(&d, doc));
	assert_int_equal(d.state, INGESTD_DIALOG_CONSENTED);
	/* kept: the normalized tags, once each; dropped: too long, lower case, not a tag,
	 * not a string */
	assert_int_equal(d.n_languages, 2);
	assert_string_equal(d.languages[0], "EN");
	assert_string_equal(d.languages[1], "PT-BR");
	ingestd_dialog_clear(&d);
	bson_destroy(doc);
	free(long_tag);
}

static void a_customer_id_that_is_no_id_is_not_trusted(void **state)
{
	(void)state;
	char *long_id = repeat('c', 300);
	const char *bad[] = { long_id, "", "has space", "c1\xff" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bson_t *doc = BCON_NEW("_id", "d1", "customerId", BCON_UTF8(bad[i]));
		struct ingestd_dialog d;
		ingestd_dialog_init(&d, "d1");
		assert_true(ingestd_store_parse_dialog(&d, doc));
		assert_string_equal(d.doc.customer_id, ""); /* every message: customer_mismatch */
		ingestd_dialog_clear(&d);
		bson_destroy(doc);
	}
	bson_t *doc = BCON_NEW("_id", "d1", "customerId", BCON_INT64(42));
	struct ingestd_dialog d;
	ingestd_dialog_init(&d, "d1");
	assert_true(ingestd_store_parse_dialog(&d, doc));
	assert_string_equal(d.doc.customer_id, "");
	ingestd_dialog_clear(&d);
	bson_destroy(doc);
	free(long_id);
}

static void wrong_types_read_as_absent(void **state)
{
	(void)state;
	bson_t *doc = BCON_NEW("_id", "d1", "customerId", "c1", "consent", "yes", "createdAt",
	                       "now", "lastMessageAt", BCON_INT32(5), "messages", "{", "0", "x",
	                       "}", "appliedThrough", "[", BCON_INT32(1), "]", "languages", "EN");
	struct ingestd_dialog d;
	ingestd_dialog_init(&d, "d1");
	assert_true(ingestd_store_parse_dialog(&d, doc));
	assert_int_equal(d.doc.created_at, 0);
	assert_int_equal(d.doc.last_message_at, 0);
	assert_int_equal(d.loaded_count, 0);
	assert_int_equal(d.n_languages, 0);
	assert_false(d.loaded_applied.known);
	assert_true(d.loaded_untrusted); /* an array for appliedThrough */
	ingestd_dialog_clear(&d);
	bson_destroy(doc);
}

/* appliedThrough is the version writes compare: only ingestd's own form is trusted. */
static void only_ingestds_own_version_is_trusted(void **state)
{
	(void)state;
	struct {
		bson_t *doc;
		bool trusted, known;
	} cases[] = {
		{ BCON_NEW("_id", "d1"), true, false },
		{ BCON_NEW("_id", "d1", "appliedThrough", "{", "partition", BCON_INT32(3), "offset",
		           BCON_INT64(77), "}"),
		  true, true },
		{ BCON_NEW("_id", "d1", "appliedThrough", "{", "partition", BCON_INT64(4294967299),
		           "offset", BCON_INT64(1), "}"),
		  false, false },
		{ BCON_NEW("_id", "d1", "appliedThrough", "{", "partition", BCON_DOUBLE(1.5),
		           "offset", BCON_INT64(1), "}"),
		  false, false },
		{ BCON_NEW("_id", "d1", "appliedThrough", "{", "partition", BCON_INT32(1), "offset",
		           BCON_INT64(-1), "}"),
		  false, false },
		{ BCON_NEW("_id", "d1", "appliedThrough", "{", "partition", BCON_INT32(1), "offset",
		           BCON_INT64(1), "by", "hand", "}"),
		  false, false },
		{ BCON_NEW("_id", "d1", "appliedThrough", "{", "offset", BCON_INT64(1), "}"), false,
		  false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ingestd_dialog d;
		ingestd_dialog_init(&d, "d1");
		assert_true(ingestd_store_parse_dialog(&d, cases[i].doc));
		assert_int_equal(d.loaded_untrusted, !cases[i].trusted);
		assert_int_equal(d.loaded_applied.known, cases[i].known);
		ingestd_dialog_clear(&d);
		bson_destroy(cases[i].doc);
	}
}

static void huge_message_arrays_load(void **state)
{
	(void)state;
	bson_t doc = BSON_INITIALIZER, arr;
	char *long_event = repeat('e', 10000);
	BSON_APPEND_UTF8(&doc, "_id", "d1");
	BSON_APPEND_UTF8(&doc, "customerId", "c1");
	BSON_APPEND_ARRAY_BEGIN(&doc, "messages", &arr);
	for (int i = 0; i < 30000; i++) {
		char key[16];
		bson_t m;
		snprintf(key, sizeof(key), "%d", i);
		BSON_APPEND_DOCUMENT_BEGIN(&arr, key, &m);
		if (i % 3 == 0)
			BSON_APPEND_UTF8(&m, "eventId", i == 0 ? long_event : "e");
		else if (i % 3 == 1)
			BSON_APPEND_INT32(&m, "eventId", i);
		bson_append_document_end(&arr, &m);
	}
	bson_append_array_end(&doc, &arr);
	struct ingestd_dialog d;
	ingestd_dialog_init(&d, "d1");
	assert_true(ingestd_store_parse_dialog(&d, &doc));
	assert_int_equal(d.loaded_count, 30000);
	assert_string_equal(d.loaded_ids[0], long_event);
	assert_string_equal(d.loaded_ids[1], ""); /* not a string: no id */
	ingestd_dialog_clear(&d);
	bson_destroy(&doc);
	free(long_event);
}

/* ---- query: rendering and cursors ---------------------------------------------------- */

static void documents_without_a_valid_id_or_date_are_not_served(void **state)
{
	(void)state;
	char *long_id = repeat('d', 129);
	bson_t *ok = BCON_NEW("_id", "d1", "lastMessageAt", BCON_DATE_TIME(1000));
	bson_t *bad[] = {
		BCON_NEW("_id", BCON_UTF8(long_id), "lastMessageAt", BCON_DATE_TIME(1000)),
		BCON_NEW("_id", BCON_INT32(5), "lastMessageAt", BCON_DATE_TIME(1000)),
		BCON_NEW("_id", "d 1", "lastMessageAt", BCON_DATE_TIME(1000)),
		BCON_NEW("_id", "d1", "lastMessageAt", "yesterday"),
		BCON_NEW("lastMessageAt", BCON_DATE_TIME(1000)),
	};
	assert_true(query_render_servable(ok));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(query_render_servable(bad[i]));
		bson_destroy(bad[i]);
	}
	bson_destroy(ok);
	free(long_id);
}

static void cursor_encoding_refuses_ids_it_could_not_decode(void **state)
{
	(void)state;
	char out[QUERY_CURSOR_MAX], id[DAPI_ID_MAX + 1];
	int64_t ms, total;
	char *max_id = repeat('x', DAPI_ID_MAX), *long_id = repeat('x', 5000);
	/* the longest cursor: the longest position and total */
	assert_true(query_cursor_encode(INT64_MIN, max_id, INT64_MAX, out));
	assert_true(query_cursor_decode(out, &ms, id, &total));
	assert_true(total == INT64_MAX);
	assert_int_equal(ms, INT64_MIN);
	assert_string_equal(id, max_id);
	assert_false(query_cursor_encode(1000, long_id, -1, out));
	assert_string_equal(out, "");
	assert_false(query_cursor_encode(1000, "", -1, out));
	assert_false(query_cursor_encode(1000, "a/b", -1, out));
	free(max_id);
	free(long_id);
}

static void rendering_survives_anything(void **state)
{
	(void)state;
	char *long_text = repeat('t', 1 << 20);
	bson_t doc = BSON_INITIALIZER, arr, m;
	BSON_APPEND_UTF8(&doc, "_id", "d1");
	BSON_APPEND_INT32(&doc, "customerId", 9);
	BSON_APPEND_UTF8(&doc, "consentedAt", "not a date");
	BSON_APPEND_ARRAY_BEGIN(&doc, "languages", &arr);
	BSON_APPEND_UTF8(&arr, "0", "EN");
	BSON_APPEND_DOUBLE(&arr, "1", 1.5);
	bson_append_utf8(&arr, "2", 1, "\xc0\xaf", 2); /* invalid UTF-8 */
	bson_append_array_end(&doc, &arr);
	BSON_APPEND_ARRAY_BEGIN(&doc, "messages", &arr);
	BSON_APPEND_DOCUMENT_BEGIN(&arr, "0", &m);
	BSON_APPEND_UTF8(&m, "text", long_text);
	BSON_APPEND_BOOL(&m, "language", true);
	bson_append_document_end(&arr, &m);
	BSON_APPEND_UTF8(&arr, "1", "not a message");
	for (int i = 2; i < 5000; i++) {
		char key[16];
		snprintf(key, sizeof(key), "%d", i);
		BSON_APPEND_DOCUMENT_BEGIN(&arr, key, &m);
		bson_append_document_end(&arr, &m);
	}
	bson_append_array_end(&doc, &arr);
	BSON_APPEND_DATE_TIME(&doc, "lastMessageAt", 1000);

	size_t len;
	char *text = query_render_dialog_text(&doc, &len);
	assert_non_null(text);
	json_error_t jerr;
	json_t *back = json_loadb(text, len, 0, &jerr); /* whatever was stored: valid JSON */
	assert_non_null(back);
	assert_true(json_is_null(json_object_get(back, "customerId")));
	assert_true(json_is_null(json_object_get(back, "consentedAt")));
	json_t *msgs = json_object_get(back, "messages");
	assert_int_equal(json_array_size(msgs), 5000);
	assert_int_equal(
	        strlen(json_string_value(json_object_get(json_array_get(msgs, 0), "text"))),
	        1 << 20);
	json_decref(back);
	free(text);
	bson_destroy(&doc);
	free(long_text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(long_and_odd_language_entries_are_dropped),
		cmocka_unit_test(a_customer_id_that_is_no_id_is_not_trusted),
		cmocka_unit_test(wrong_types_read_as_absent),
		cmocka_unit_test(only_ingestds_own_version_is_trusted),
		cmocka_unit_test(huge_message_arrays_load),
		cmocka_unit_test(documents_without_a_valid_id_or_date_are_not_served),
		cmocka_unit_test(cursor_encoding_refuses_ids_it_could_not_decode),
		cmocka_unit_test(rendering_survives_anything),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
