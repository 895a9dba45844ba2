/* dataapi-query's options: the table of flags and environment variables, and what it
 * fills. */
#ifndef QUERY_FLAGS_H
#define QUERY_FLAGS_H

#include <stdint.h>

#include "mongo.h"
#include "options.h" /* common/http */

struct query_opts {
	struct dapi_service_opts http;
	struct dapi_auth_opts auth;
	struct dapi_mongo_opts mongo;
	int64_t max_time_ms, retry_after_s, pool_wait_ms, page_bytes;
	int64_t exports_max, export_time_ms, export_rate;
	int total;                      /* enum query_total */
	const char *keys_uri, *keys_db; /* where erasure receipts are (the key store's) */
	int log_level;
};

/* Fills o from the environment and argv and sets up logging. Returns 0 to run, 1 after
 * --help (exit 0) or 2 after a refusal printed on stderr (exit 2). */
int query_configure(struct query_opts *o, int argc, char **argv);

#endif
