/* dataapi-query's configuration table. */
#include "flags.h"

#include "service.h"

static const char summary[] =
        "Serves consented DataAPI dialogs read-only over HTTP: GET /data (pages),\n"
        "GET /data/{customerId}/{dialogId}, GET /data/export (NDJSON stream).";

/* In the order of enum query_total. */
static const char *const total_names[] = { "auto", "count", "scan", NULL };

int query_configure(struct query_opts *o, int argc, char **argv)
{
	char errstr[512];

	/* clang-format off */
	const struct dapi_opt opts[] = {
		DAPI_OPT_HTTP(o->http, "8081"),
		DAPI_OPT_MONGO(o->mongo),
		{"query-timeout", 0, "QUERY_TIMEOUT", DAPI_OPT_DURATION, &o->max_time_ms, "5s", 10,
		 600000, "maxTimeMS for each page query"},
		{"retry-after", 0, "RETRY_AFTER", DAPI_OPT_INT, &o->retry_after_s, "2", 1, 3600,
		 "Seconds suggested in Retry-After on 503"},
		{"pool-wait", 0, "POOL_WAIT", DAPI_OPT_DURATION, &o->pool_wait_ms, "1s", 10, 60000,
		 "Longest wait for a free database client before answering 503 (the pool's size is "
		 "the URI's maxPoolSize, 100 by default)"},
		{"max-page-bytes", 0, "MAX_PAGE_BYTES", DAPI_OPT_INT, &o->page_bytes, "8388608", 65536,
		 1073741824, "Most bytes of dialogs on a GET /data page; a longer page ends early and "
		 "nextCursor continues it (a page holds at least one dialog)"},
		{"total", 0, "PAGE_TOTAL", DAPI_OPT_ENUM, &o->total, "auto", 0, 0,
		 "How a first or offset page counts its total: count (a count beside the page), "
		 "scan (one read of every match, the page rendered from its head: for a server that "
		 "reads them all anyway, as FerretDB's SQLite backend), or auto (scan where the "
		 "server pushes down no filter, else count)",
		 total_names},
		{"max-exports", 0, "MAX_EXPORTS", DAPI_OPT_INT, &o->exports_max, "8", 1, 1000,
		 "Concurrent GET /data/export streams (each holds a database client); more get 503"},
		{"export-timeout", 0, "EXPORT_TIMEOUT", DAPI_OPT_DURATION, &o->export_time_ms, "30m",
		 1000, 86400000, "Longest time one export may stream (also its cursor's maxTimeMS)"},
		{"export-min-rate", 0, "EXPORT_MIN_RATE", DAPI_OPT_INT, &o->export_rate, "1024", 0,
		 1073741824, "Bytes a second an export's client must take, over each --conn-timeout, "
		 "or the export is cut off (0: no minimum)"},
		{"keys-uri", 0, "KEYS_MONGODB_URI", DAPI_OPT_STRING, &o->keys_uri, "", 0, 0,
		 "MongoDB connection string of the data-key store, where erasure receipts are "
		 "(default: the dialogs' server)"},
		{"keys-database", 0, "KEYS_DATABASE", DAPI_OPT_STRING, &o->keys_db, "dataapi_keys", 0,
		 0, "Database of the data-key store"},
		DAPI_OPT_AUTH(o->auth),
		DAPI_OPT_LOG_LEVEL(o->log_level),
	}; /* clang-format on */

	int rc = dapi_config_load(opts, sizeof(opts) / sizeof(opts[0]), argc, argv, summary, errstr,
	                          sizeof(errstr));
	return dapi_service_configured("query", rc, errstr, o->log_level);
}
