/* Read-only queries over the dialogs collection: consented dialogs only, newest
 * lastMessageAt first, ties by dialogId ascending; each shape served by an index. */
#ifndef DAPI_DIALOGS_H
#define DAPI_DIALOGS_H

#include <jansson.h>
#include <mongoc/mongoc.h>

#include "params.h"

struct dapi_dialogs {
	mongoc_client_pool_t *pool; /* borrowed */
	const char *db;
	const char *collection;
	int64_t max_time_ms; /* maxTimeMS on every query */
};

/* One page: *items (a new JSON array), *total (matches without the cursor), and the
 * cursor of the last item when the page is full (*has_next). */
bool dapi_dialogs_page(const struct dapi_dialogs *q, const struct dapi_query_params *p,
                       json_t **items, int64_t *total, char next[DAPI_CURSOR_MAX], bool *has_next,
                       bson_error_t *err);

/* The find command of the page p ({find, filter, sort, skip, limit, maxTimeMS}), exactly as
 * dapi_dialogs_page sends it; appended to cmd. */
void dapi_dialogs_find_command(const struct dapi_dialogs *q, const struct dapi_query_params *p,
                               bson_t *cmd);

/* The server's plan for that page: the reply of {explain: <find>, verbosity: queryPlanner}
 * (reply always initialized; the caller destroys it). */
bool dapi_dialogs_explain(const struct dapi_dialogs *q, const struct dapi_query_params *p,
                          bson_t *reply, bson_error_t *err);

/* One consented dialog of that customer: 1 found (*item set), 0 none, -1 error. */
int dapi_dialogs_get(const struct dapi_dialogs *q, const char *customer_id, const char *dialog_id,
                     json_t **item, bson_error_t *err);

/* A streaming export of every match, in page order. */
struct dapi_export;

/* Runs the query and reads the first result, so that an unavailable database is reported
 * here (NULL, err set) rather than in the middle of a stream. */
struct dapi_export *dapi_export_open(const struct dapi_dialogs *q,
                                     const struct dapi_query_params *p, bson_error_t *err);
/* The next dialog as a malloc'd NDJSON line (with "\n"); NULL at the end or on error
 * (*failed tells which). */
char *dapi_export_next(struct dapi_export *ex, size_t *len, bool *failed);
void dapi_export_close(struct dapi_export *ex);

#endif
