/* Read-only queries over the dialogs collection: consented dialogs only, newest
 * lastMessageAt first, ties by dialogId ascending; each shape served by an index. */
#ifndef QUERY_DIALOGS_H
#define QUERY_DIALOGS_H

#include <jansson.h>
#include <mongoc/mongoc.h>
#include <stdatomic.h>

#include "params.h"

/* How "total" is produced on a page that does not carry it (a first or offset page).
 * COUNT: a count beside the page's find (on MongoDB a walk of the matching index keys).
 * SCAN: one pass over the matches, for a server that reads every match anyway (FerretDB's
 * SQLite backend, which sorts in memory and pushes down no filter): the page's find without
 * its limit, projected to the sort keys when the page has at most 100 dialogs (which are
 * then read by _id), else whole, the items rendered from its head; the rest only counted.
 * AUTO (the zero value): SCAN where the server reports no filter pushdown, else COUNT,
 * decided on the first page. */
enum query_total { QUERY_TOTAL_AUTO, QUERY_TOTAL_COUNT, QUERY_TOTAL_SCAN };

struct query_dialogs {
	mongoc_client_pool_t *pool; /* borrowed; pops give up after a bounded wait (NULL) */
	const char *db;
	const char *collection;
	int64_t max_time_ms;    /* maxTimeMS on every page and single-dialog query */
	int64_t export_time_ms; /* maxTimeMS of an export's cursor (cumulative on MongoDB) */
	size_t page_bytes_max;  /* most rendered bytes of a page's items (at least one item) */
	enum query_total total; /* how a first or offset page learns its total */
	atomic_int *resolved;   /* AUTO as decided for this server (owned by the service; NULL:
	                           decided on every page) */
};

/* Errors of these functions: the driver's, or QUERY_DIALOGS_BUSY (err->domain) when no
 * pooled client became free in time; either way the caller answers 503. */
#define QUERY_DIALOGS_BUSY 0x44415049u

/* Where a page ends: its last dialog's lastMessageAt and id. */
struct query_position {
	int64_t ms;
	char id[DAPI_ID_MAX + 1];
};

struct query_page {
	char *body; /* the whole GET /data reply, malloc'd; the caller frees it */
	size_t len;
	int64_t count; /* items on the page */
	int64_t total; /* matches without the cursor (as of the walk's first page) */
	bool has_next; /* the page is full, or was cut by its size: next continues it */
	bool cut;      /* ended early by page_bytes_max */
	struct query_position next_pos; /* has_next: the position after which next starts */
	char next[QUERY_CURSOR_MAX];    /* has_next: its cursor, carrying total */
};

/* One page, rendered as the reply ({"items", "total", "limit", "offset", "nextCursor"}):
 * at most p->limit dialogs, and no more bytes of items than q->page_bytes_max unless its
 * first dialog alone is larger (a page always makes progress). Each dialog is rendered
 * once, straight into the reply, so a page takes that bound plus one dialog of memory.
 * On success the caller frees page->body. */
bool query_dialogs_page(const struct query_dialogs *q, const struct query_params *p,
                        struct query_page *page, bson_error_t *err);

/* What a first or offset page on a server that scans does after its scan of the keys:
 * renders the page from keys (at most p->limit positions of matches, in page order; more:
 * matches came after them) by reading each dialog by _id, leaving out one erased or changed
 * since the keys were read, with total as given. Its own entry point so that a test can
 * erase a dialog between the two steps. On success the caller frees page->body. */
bool query_dialogs_page_of_keys(const struct query_dialogs *q, const struct query_params *p,
                                const struct query_position *keys, int64_t nkeys, bool more,
                                int64_t total, struct query_page *page, bson_error_t *err);

/* The find command of the page p ({find, filter, sort, skip, limit, maxTimeMS}), exactly as
 * query_dialogs_page sends it; appended to cmd. */
void query_dialogs_find_command(const struct query_dialogs *q, const struct query_params *p,
                                bson_t *cmd);

/* The server's plan for that page: the reply of {explain: <find>, verbosity: queryPlanner}
 * (reply always initialized; the caller destroys it). */
bool query_dialogs_explain(const struct query_dialogs *q, const struct query_params *p,
                           bson_t *reply, bson_error_t *err);

/* One consented dialog of that customer, never a tombstone: 1 found (*item set), 0 none,
 * -1 error. */
int query_dialogs_get(const struct query_dialogs *q, const char *customer_id, const char *dialog_id,
                      json_t **item, bson_error_t *err);

/* A streaming export of every match, in page order. */
struct query_export;

/* The export's query: filter and find options (sort, maxTimeMS, batchSize), exactly as
 * query_export_open runs it; appended to filter and opts. */
void query_export_query(const struct query_dialogs *q, const struct query_params *p, bson_t *filter,
                        bson_t *opts);

/* Runs the query and reads the first result, so that an unavailable database is reported
 * here (NULL, err set) rather than in the middle of a stream. */
struct query_export *query_export_open(const struct query_dialogs *q, const struct query_params *p,
                                       bson_error_t *err);
/* The next dialog as a malloc'd NDJSON line (with "\n"); NULL at the end or on error
 * (*failed tells which). */
char *query_export_next(struct query_export *ex, size_t *len, bool *failed);
void query_export_close(struct query_export *ex);

#endif
