/* B3's plan column: what the server plans for one GET /data page, from its explain of the
 * very find command the query service sends (dapi_dialogs_find_command), in one line
 * (plan.h says how to read it).
 * Usage: dapi-bench-explain <uri> <db> <collection> '<query string>'
 *        (the query string of the page, e.g. 'limit=100&language=DE') */
#include <mongoc/mongoc.h>
#include <stdio.h>

#include "dialogs.h"
#include "mongo.h"
#include "params.h"
#include "plan.h"

int main(int argc, char **argv)
{
	struct dapi_query_params p;
	struct dapi_input_error ierr;
	char errstr[256];
	bson_error_t err;
	bson_t reply;
	int rc = 0;

	if (argc != 5) {
		fprintf(stderr, "usage: %s <uri> <db> <collection> '<query string>'\n", argv[0]);
		return 2;
	}
	dapi_query_params_init(&p, true);
	if (!dapi_query_params_parse(&p, argv[4], &ierr)) {
		fprintf(stderr, "%s\n", ierr.message);
		return 2;
	}
	dapi_mongo_init();
	mongoc_client_pool_t *pool =
	        dapi_mongo_pool_new(argv[1], "dapi-bench-explain", 0, 0, errstr, sizeof(errstr));
	if (!pool) {
		fprintf(stderr, "%s\n", errstr);
		return 1;
	}
	struct dapi_dialogs q = { pool, argv[2], argv[3], 600000, 600000, 0 };
	if (dapi_dialogs_explain(&q, &p, &reply, &err)) {
		char line[640];
		bench_plan_describe(&reply, line, sizeof(line));
		printf("%s\n", line);
	} else {
		fprintf(stderr, "explain: %s\n", err.message);
		rc = 1;
	}
	bson_destroy(&reply);
	mongoc_client_pool_destroy(pool);
	mongoc_cleanup();
	return rc;
}
