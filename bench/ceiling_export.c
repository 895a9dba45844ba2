/* B3's export ceiling: the export's own query (dapi_export_query: the same filter, sort
 * and batch size) through the driver, every document read and counted, nothing rendered
 * or sent. What GET /data/export could reach if turning BSON into NDJSON and writing it
 * to a socket cost nothing.
 * Usage: dapi-bench-ceiling-export <uri> <db> <collection> '<query string>'
 * Prints: RESULT dialogs=<n> seconds=<s> rate=<dialogs a second> */
#include <mongoc/mongoc.h>
#include <stdio.h>

#include "dialogs.h"
#include "mongo.h"
#include "params.h"

int main(int argc, char **argv)
{
	struct dapi_query_params p;
	struct dapi_input_error ierr;
	char errstr[256];
	bson_error_t err;
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
	const bson_t *doc;
	long long n = 0;

	if (argc != 5) {
		fprintf(stderr, "usage: %s <uri> <db> <collection> '<query string>'\n", argv[0]);
		return 2;
	}
	dapi_query_params_init(&p, false);
	if (!dapi_query_params_parse(&p, argv[4], &ierr)) {
		fprintf(stderr, "%s\n", ierr.message);
		return 2;
	}
	dapi_mongo_init();
	mongoc_client_pool_t *pool = dapi_mongo_pool_new(argv[1], "dapi-bench-ceiling-export", 0, 0,
	                                                 errstr, sizeof(errstr));
	if (!pool) {
		fprintf(stderr, "%s\n", errstr);
		return 1;
	}
	struct dapi_dialogs q = { pool, argv[2], argv[3], 600000, 600000, 0 };
	mongoc_client_t *client = mongoc_client_pool_pop(pool);
	mongoc_collection_t *coll = mongoc_client_get_collection(client, argv[2], argv[3]);
	dapi_export_query(&q, &p, &filter, &opts);
	int64_t start = bson_get_monotonic_time();
	mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, &filter, &opts, NULL);
	while (mongoc_cursor_next(cursor, &doc))
		n++;
	double secs = (double)(bson_get_monotonic_time() - start) / 1e6;
	bool failed = mongoc_cursor_error(cursor, &err);
	if (failed)
		fprintf(stderr, "find: %s\n", err.message);
	else
		printf("RESULT dialogs=%lld seconds=%.3f rate=%.1f\n", n, secs, (double)n / secs);
	mongoc_cursor_destroy(cursor);
	mongoc_collection_destroy(coll);
	mongoc_client_pool_push(pool, client);
	bson_destroy(&filter);
	bson_destroy(&opts);
	mongoc_client_pool_destroy(pool);
	mongoc_cleanup();
	return failed ? 1 : 0;
}
