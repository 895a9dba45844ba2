/* B3's export ceiling: the export's own query (query_export_query: the same filter, sort
 * and batch size) through the driver, every document read and counted, nothing rendered
 * or sent. What GET /data/export could reach if turning BSON into NDJSON and writing it
 * to a socket cost nothing.
 * Usage: dapi-bench-ceiling-export <uri> <db> <collection> '<query string>'
 * Prints one JSON line: {"dialogs", "seconds", "rate" (dialogs a second)} */
#include <mongoc/mongoc.h>
#include <stdio.h>

#include "query_tool.h"

int main(int argc, char **argv)
{
	struct query_params p;
	struct query_dialogs q;
	bson_error_t err;
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
	const bson_t *doc;
	long long n = 0;
	int rc = bench_query_start(argc, argv, 5, "", false, &p, &q);

	if (rc)
		return rc;
	mongoc_client_t *client = mongoc_client_pool_pop(q.pool);
	mongoc_collection_t *coll = mongoc_client_get_collection(client, q.db, q.collection);
	query_export_query(&q, &p, &filter, &opts);
	int64_t start = bson_get_monotonic_time();
	mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, &filter, &opts, NULL);
	while (mongoc_cursor_next(cursor, &doc))
		n++;
	double secs = (double)(bson_get_monotonic_time() - start) / 1e6;
	bool failed = mongoc_cursor_error(cursor, &err);
	if (failed)
		fprintf(stderr, "find: %s\n", err.message);
	else
		printf("{\"dialogs\":%lld,\"seconds\":%.3f,\"rate\":%.1f}\n", n, secs,
		       (double)n / secs);
	mongoc_cursor_destroy(cursor);
	mongoc_collection_destroy(coll);
	mongoc_client_pool_push(q.pool, client);
	bson_destroy(&filter);
	bson_destroy(&opts);
	bench_query_stop(&q);
	return failed ? 1 : 0;
}
