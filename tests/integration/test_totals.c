/* Integration: a page's "total" is the same whichever way it is produced. Dialogs are
 * stored through POST /batch; then every page shape (first page, offsets inside, at and
 * past the end, filters, pages cut by their byte bound) is fetched with the count beside
 * the page (COUNT) and with one scanning read (SCAN), on the stack's database, and the two
 * replies must be the same, byte for byte; the customer's total is the number stored. A
 * dialog erased between a scanning page's two steps is left out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dialogs.h"
#include "harness.h"
#include "mongo.h"
#include "page.h"

#define DIALOGS 37

static struct stack S;
static char customer[64];

/* DIALOGS consented dialogs of one customer, languages EN and DE in turn, one batch. */
static int setup(void **state)
{
	char url[256], *body = malloc(64 * 1024);
	size_t n = 0;
	struct http_res r;
	const char *headers[] = { "Content-Type: application/x-ndjson", NULL };

	stack_ready(&S);
	snprintf(customer, sizeof(customer), "%s-tot", run_id());
	for (int i = 0; i < DIALOGS; i++) {
		n += (size_t)sprintf(
		        body + n,
		        "{\"customerId\":\"%s\",\"dialogId\":\"%s-d%d\",\"text\":\"t%d\","
		        "\"language\":\"%s\"}\n{\"dialogId\":\"%s-d%d\",\"consent\":true}\n",
		        customer, customer, i, i, i % 2 ? "DE" : "EN", customer, i);
	}
	snprintf(url, sizeof(url), "%s/batch", S.ingress);
	assert_int_equal(http_do("POST", url, body, n, headers, &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"accepted\":74"));
	http_res_free(&r);
	free(body);
	assert_true(kafka_wait_drained(&S, 60000));
	return 0;
}

/* The reply of GET /data?qs, produced with total. */
static char *page_with(mongoc_client_pool_t *pool, const char *qs, enum query_total total,
                       size_t page_bytes, int64_t *out_total)
{
	struct query_dialogs q = { pool, "dataapi", "dialogs", 10000, 60000, page_bytes, total };
	struct query_params p;
	struct dapi_input_error ierr;
	struct query_page page;
	bson_error_t err;

	query_params_init(&p, true);
	if (!query_params_parse(&p, qs, &ierr))
		fail_msg("GET /data?%s: %s", qs, ierr.message);
	if (!query_dialogs_page(&q, &p, &page, &err))
		fail_msg("GET /data?%s (%s): %s", qs, total == QUERY_TOTAL_SCAN ? "scan" : "count",
		         err.message);
	*out_total = page.total;
	return page.body;
}

static void count_and_scan_agree_on_every_page_shape(void **state)
{
	mongoc_uri_t *uri = mongoc_uri_new(S.mongodb_uri);
	mongoc_client_pool_t *pool = mongoc_client_pool_new(uri);
	char qs[256];
	/* odd dialogs are DE (18), even ones EN (19) */
	static const struct {
		const char *qs;
		int64_t total;
	} shapes[] = {
		{ "limit=10", DIALOGS },
		{ "limit=10&offset=30", DIALOGS },
		{ "limit=10&offset=36", DIALOGS },
		{ "limit=10&offset=37", DIALOGS },
		{ "limit=5&offset=500", DIALOGS },
		{ "limit=3&language=de", DIALOGS / 2 },
		{ "limit=1000", DIALOGS },
		{ "limit=7&offset=3&language=EN", DIALOGS / 2 + 1 },
	};
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		for (int cut = 0; cut < 2; cut++) {
			int64_t counted, scanned;
			size_t bytes = cut ? 300 : 8 << 20; /* 300: about two dialogs a page */
			snprintf(qs, sizeof(qs), "%s&customerId=%s", shapes[i].qs, customer);
			char *a = page_with(pool, qs, QUERY_TOTAL_COUNT, bytes, &counted);
			char *b = page_with(pool, qs, QUERY_TOTAL_SCAN, bytes, &scanned);
			if (strcmp(a, b) != 0)
				fail_msg("GET /data?%s (page bytes %zu):\ncount: %s\nscan:  %s", qs,
				         bytes, a, b);
			assert_int_equal(counted, shapes[i].total);
			assert_int_equal(scanned, counted);
			free(a);
			free(b);
		}
	}
	/* the whole store: the same total either way (no other test writes meanwhile) */
	int64_t counted, scanned;
	free(page_with(pool, "limit=5", QUERY_TOTAL_COUNT, 8 << 20, &counted));
	free(page_with(pool, "limit=5", QUERY_TOTAL_SCAN, 8 << 20, &scanned));
	assert_int_equal(scanned, counted);
	assert_true(counted >= DIALOGS);
	mongoc_client_pool_destroy(pool);
	mongoc_uri_destroy(uri);
}

/* The service itself (total auto): the customer's total, and a cursor walk that keeps it. */
static void the_service_reports_the_stored_count(void **state)
{
	char url[512];
	struct http_res r;
	json_t *page;

	snprintf(url, sizeof(url), "%s/data?customerId=%s&limit=30", S.query, customer);
	assert_int_equal(http_get(url, &r), 200);
	page = http_json(&r);
	http_res_free(&r);
	assert_int_equal(json_integer_value(json_object_get(page, "total")), DIALOGS);
	assert_int_equal(json_array_size(json_object_get(page, "items")), 30);
	snprintf(url, sizeof(url), "%s/data?customerId=%s&limit=30&cursor=%s", S.query, customer,
	         json_string_value(json_object_get(page, "nextCursor")));
	json_decref(page);
	assert_int_equal(http_get(url, &r), 200);
	page = http_json(&r);
	http_res_free(&r);
	assert_int_equal(json_integer_value(json_object_get(page, "total")), DIALOGS);
	assert_int_equal(json_array_size(json_object_get(page, "items")), DIALOGS - 30);
	assert_true(json_is_null(json_object_get(page, "nextCursor")));
	json_decref(page);
}

/* A dialog erased between a scanning page's scan of the keys and its reads by _id is left
 * out, and the page's cursor still leads past it to the rest. Four dialogs of one customer;
 * their keys read as the scan reads them; the second erased (consent false); then the page
 * of the first three keys. */
static void a_dialog_erased_after_the_scan_is_left_out(void **state)
{
	mongoc_uri_t *uri = mongoc_uri_new(S.mongodb_uri);
	mongoc_client_pool_t *pool = mongoc_client_pool_new(uri);
	mongoc_client_t *client = mongoc_client_pool_pop(pool);
	mongoc_collection_t *coll = mongoc_client_get_collection(client, "dataapi", "dialogs");
	struct query_dialogs q = { pool,  "dataapi", "dialogs",       10000,
		                   60000, 8 << 20,   QUERY_TOTAL_SCAN };
	struct query_position keys[4];
	struct query_params p;
	struct dapi_input_error ierr;
	struct query_page page;
	bson_error_t err;
	char gone[64], body[1024], url[256], qs[512];
	const char *headers[] = { "Content-Type: application/x-ndjson", NULL };
	struct http_res r;
	size_t n = 0;
	int nkeys = 0;

	snprintf(gone, sizeof(gone), "%s-gone", run_id());
	for (int i = 0; i < 4; i++)
		n += (size_t)snprintf(
		        body + n, sizeof(body) - n,
		        "{\"customerId\":\"%s\",\"dialogId\":\"%s-d%d\",\"text\":\"t\","
		        "\"language\":\"EN\"}\n{\"dialogId\":\"%s-d%d\",\"consent\":true}\n",
		        gone, gone, i, gone, i);
	snprintf(url, sizeof(url), "%s/batch", S.ingress);
	assert_int_equal(http_do("POST", url, body, n, headers, &r), 0);
	assert_int_equal(r.status, 200);
	http_res_free(&r);
	assert_true(kafka_wait_drained(&S, 60000));

	bson_t *filter = BCON_NEW("customerId", BCON_UTF8(gone));
	bson_t *opts = BCON_NEW("sort", "{", "lastMessageAt", BCON_INT32(-1), "_id", BCON_INT32(1),
	                        "}", "projection", "{", "lastMessageAt", BCON_INT32(1), "}");
	mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
	const bson_t *doc;
	while (nkeys < 4 && mongoc_cursor_next(cursor, &doc))
		query_page_position(doc, &keys[nkeys++]);
	assert_int_equal(nkeys, 4);
	mongoc_cursor_destroy(cursor);
	bson_destroy(filter);
	bson_destroy(opts);

	n = (size_t)snprintf(body, sizeof(body), "{\"dialogId\":\"%s\",\"consent\":false}\n",
	                     keys[1].id);
	assert_int_equal(http_do("POST", url, body, n, headers, &r), 0);
	assert_int_equal(r.status, 200);
	http_res_free(&r);
	assert_true(kafka_wait_drained(&S, 60000));

	snprintf(qs, sizeof(qs), "limit=3&customerId=%s", gone);
	query_params_init(&p, true);
	assert_true(query_params_parse(&p, qs, &ierr));
	assert_true(query_dialogs_page_of_keys(&q, &p, keys, 3, true, 4, &page, &err));
	assert_int_equal(page.count, 2); /* the first and the third */
	assert_non_null(strstr(page.body, keys[0].id));
	assert_null(strstr(page.body, keys[1].id));
	assert_non_null(strstr(page.body, keys[2].id));
	assert_null(strstr(page.body, keys[3].id));
	assert_true(page.has_next);
	assert_string_equal(page.next_pos.id, keys[2].id);

	/* its cursor: the fourth, and the end */
	snprintf(qs, sizeof(qs), "limit=3&customerId=%s&cursor=%s", gone, page.next);
	free(page.body);
	query_params_init(&p, true);
	assert_true(query_params_parse(&p, qs, &ierr));
	assert_true(query_dialogs_page(&q, &p, &page, &err));
	assert_int_equal(page.count, 1);
	assert_non_null(strstr(page.body, keys[3].id));
	assert_false(page.has_next);
	free(page.body);

	/* every key erased: no item, and still the way on when more came after */
	snprintf(qs, sizeof(qs), "limit=1&customerId=%s", gone);
	query_params_init(&p, true);
	assert_true(query_params_parse(&p, qs, &ierr));
	assert_true(query_dialogs_page_of_keys(&q, &p, &keys[1], 1, true, 3, &page, &err));
	assert_int_equal(page.count, 0);
	assert_true(page.has_next);
	assert_string_equal(page.next_pos.id, keys[1].id);
	free(page.body);
	assert_true(query_dialogs_page_of_keys(&q, &p, &keys[1], 1, false, 3, &page, &err));
	assert_false(page.has_next);
	assert_non_null(strstr(page.body, "\"nextCursor\":null"));
	free(page.body);

	/* the page as the service makes it: the three left, and a total of three */
	snprintf(qs, sizeof(qs), "limit=10&customerId=%s", gone);
	query_params_init(&p, true);
	assert_true(query_params_parse(&p, qs, &ierr));
	assert_true(query_dialogs_page(&q, &p, &page, &err));
	assert_int_equal(page.count, 3);
	assert_int_equal(page.total, 3);
	assert_null(strstr(page.body, keys[1].id));
	free(page.body);

	mongoc_collection_destroy(coll);
	mongoc_client_pool_push(pool, client);
	mongoc_client_pool_destroy(pool);
	mongoc_uri_destroy(uri);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(count_and_scan_agree_on_every_page_shape),
		cmocka_unit_test(the_service_reports_the_stored_count),
		cmocka_unit_test(a_dialog_erased_after_the_scan_is_left_out),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	dapi_mongo_init();
	int rc = cmocka_run_group_tests(tests, setup, NULL);
	mongoc_cleanup();
	curl_global_cleanup();
	return rc;
}
