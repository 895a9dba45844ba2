/* B3's page ceiling: a page's own find (query_dialogs_find_command: the same filter, sort,
 * skip and limit GET /data sends) through the driver on one client, one after the other,
 * every document read and counted, nothing rendered and no total counted. What GET /data
 * could reach if counting and rendering cost nothing.
 * Usage: dapi-bench-ceiling-page <uri> <db> <collection> '<query string>' <seconds>
 * Prints one JSON line: {"pages", "seconds", "rate" (pages a second), "p50_ms", "p99_ms"} */
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query_tool.h"

static int cmp_ms(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Splits a find command into the driver's filter and options (its other fields). */
static void split_command(const bson_t *cmd, bson_t *filter, bson_t *opts)
{
	bson_iter_t it;
	bson_iter_init(&it, cmd);
	while (bson_iter_next(&it)) {
		const char *key = bson_iter_key(&it);
		if (!strcmp(key, "filter")) {
			const uint8_t *data;
			uint32_t len;
			bson_iter_document(&it, &len, &data);
			bson_init_static(filter, data, len);
		} else if (strcmp(key, "find") != 0) {
			bson_append_iter(opts, key, -1, &it);
		}
	}
}

/* Runs the page's find once, reading every document; false (err) on a server error. */
static bool one_page(mongoc_collection_t *coll, const bson_t *filter, const bson_t *opts,
                     bson_error_t *err)
{
	const bson_t *doc;
	mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
	while (mongoc_cursor_next(cursor, &doc))
		;
	bool ok = !mongoc_cursor_error(cursor, err);
	mongoc_cursor_destroy(cursor);
	return ok;
}

int main(int argc, char **argv)
{
	struct query_params p;
	struct query_dialogs q;
	bson_error_t err;
	bson_t cmd = BSON_INITIALIZER, filter, opts = BSON_INITIALIZER;
	static double ms[100000];
	size_t n = 0;
	bool ok = true;
	int rc = bench_query_start(argc, argv, 6, " <seconds>", true, &p, &q);

	if (rc)
		return rc;
	mongoc_client_t *client = mongoc_client_pool_pop(q.pool);
	mongoc_collection_t *coll = mongoc_client_get_collection(client, q.db, q.collection);
	query_dialogs_find_command(&q, &p, &cmd);
	split_command(&cmd, &filter, &opts);
	int64_t start = bson_get_monotonic_time(), end = start + atoll(argv[5]) * 1000000;
	while (ok && n < sizeof(ms) / sizeof(ms[0]) && bson_get_monotonic_time() < end) {
		int64_t t0 = bson_get_monotonic_time();
		ok = one_page(coll, &filter, &opts, &err);
		ms[n++] = (double)(bson_get_monotonic_time() - t0) / 1000.0;
	}
	double secs = (double)(bson_get_monotonic_time() - start) / 1e6;
	if (!ok) {
		fprintf(stderr, "find: %s\n", err.message);
	} else {
		qsort(ms, n, sizeof(ms[0]), cmp_ms);
		printf("{\"pages\":%zu,\"seconds\":%.3f,\"rate\":%.2f,\"p50_ms\":%.1f,\"p99_ms\":%."
		       "1f}\n",
		       n, secs, (double)n / secs, ms[n / 2], ms[(n * 99) / 100]);
	}
	mongoc_collection_destroy(coll);
	mongoc_client_pool_push(q.pool, client);
	bson_destroy(&opts);
	bson_destroy(&cmd);
	bench_query_stop(&q);
	return ok ? 0 : 1;
}
