/* The query service: read-only HTTP API over the dialogs collection. */
#ifndef QUERY_H
#define QUERY_H

#include "dialogs.h"
#include "http.h"

#include <stdatomic.h>

#include "erasures.h"
#include "mongo.h"

struct query {
	struct query_dialogs dialogs;
	atomic_int total_resolved;      /* dialogs.resolved: how this server's totals are made */
	struct dapi_mongo_probe *probe; /* /readyz, never a pooled client */
	int retry_after_s;
	int exports_max;            /* concurrent exports; more are answered 503 */
	atomic_int exports;         /* running now */
	int64_t export_deadline_ms; /* an export's whole time */
	int64_t export_min_rate;    /* bytes a second the client must take, over each window */
	int64_t export_window_ms;   /* that window: --conn-timeout, which closes a client that
	                               takes nothing at all over the same time */
	struct dapi_series *m_page_items, *m_export_items, *m_exports; /* query_metrics_init */
	struct dapi_erasures *erasures;  /* the receipts of erasure requests */
	mongoc_client_pool_t *keys_pool; /* where they are, when not the dialogs' pool */
};

/* Registers the query service's own metrics (page sizes, exported dialogs, running
 * exports) in q. */
void query_metrics_init(struct query *q);

extern const struct dapi_http_route query_routes[];
extern const size_t query_nroutes;

#endif
