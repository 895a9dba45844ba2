#include "query_tool.h"

#include <stdio.h>
#include <string.h>

#include "mongo.h"

int bench_query_start(int argc, char **argv, int nargs, const char *usage, bool paging,
                      struct query_params *p, struct query_dialogs *q)
{
	struct dapi_input_error ierr;
	char errstr[256];

	if (argc != nargs) {
		fprintf(stderr, "usage: %s <uri> <db> <collection> '<query string>'%s\n", argv[0],
		        usage);
		return 2;
	}
	query_params_init(p, paging);
	if (!query_params_parse(p, argv[4], &ierr)) {
		fprintf(stderr, "%s\n", ierr.message);
		return 2;
	}
	dapi_mongo_init();
	*q = (struct query_dialogs){ .db = argv[2],
		                     .collection = argv[3],
		                     .max_time_ms = 600000,
		                     .export_time_ms = 600000 };
	const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	/* the socket waits as long as a query may run (a page over 200,000 dialogs on
	 * FerretDB takes over the default 30 s) */
	q->pool = dapi_mongo_pool_new(argv[1], name, q->max_time_ms, 0, errstr, sizeof(errstr));
	if (!q->pool) {
		fprintf(stderr, "%s\n", errstr);
		return 1;
	}
	return 0;
}

void bench_query_stop(struct query_dialogs *q)
{
	mongoc_client_pool_destroy(q->pool);
	mongoc_cleanup();
}
