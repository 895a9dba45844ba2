#include "dialogs.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"
#include "log.h"
#include "mongo.h"
#include "page.h"
#include "render.h"

/* {consent: true, not a tombstone, languages?, customerId?, and after the cursor position
 * when asked}. A tombstone never carries consent as ingestd writes it; the exclusion is
 * explicit all the same, so that no write gone wrong (a stale writer, a restore, a hand
 * edit) can make erased data readable. The server checks it at the fetch every page does
 * anyway; it costs no index key. */
static void build_filter(const struct query_params *p, bool with_cursor, bson_t *filter)
{
	bson_t absent;

	BSON_APPEND_BOOL(filter, DAPI_DOC_CONSENT, true);
	BSON_APPEND_DOCUMENT_BEGIN(filter, DAPI_DOC_REVOKED, &absent);
	BSON_APPEND_BOOL(&absent, "$exists", false);
	bson_append_document_end(filter, &absent);
	if (p->language[0])
		BSON_APPEND_UTF8(filter, DAPI_DOC_LANGUAGES, p->language);
	if (p->customer_id[0])
		BSON_APPEND_UTF8(filter, DAPI_DOC_CUSTOMER_ID, p->customer_id);
	if (with_cursor && p->has_cursor) {
		bson_t or, a, b, lt, gt;
		BSON_APPEND_ARRAY_BEGIN(filter, "$or", & or);
		BSON_APPEND_DOCUMENT_BEGIN(& or, "0", &a);
		BSON_APPEND_DOCUMENT_BEGIN(&a, DAPI_DOC_LAST_MESSAGE_AT, &lt);
		BSON_APPEND_DATE_TIME(&lt, "$lt", p->after_ms);
		bson_append_document_end(&a, &lt);
		bson_append_document_end(& or, &a);
		BSON_APPEND_DOCUMENT_BEGIN(& or, "1", &b);
		BSON_APPEND_DATE_TIME(&b, DAPI_DOC_LAST_MESSAGE_AT, p->after_ms);
		BSON_APPEND_DOCUMENT_BEGIN(&b, "_id", &gt);
		BSON_APPEND_UTF8(&gt, "$gt", p->after_id);
		bson_append_document_end(&b, &gt);
		bson_append_document_end(& or, &b);
		bson_append_array_end(filter, & or);
	}
}

static void build_find_opts(const struct query_dialogs *q, int64_t limit, int64_t skip,
                            int64_t max_time_ms, bson_t *opts)
{
	bson_t sort;
	BSON_APPEND_DOCUMENT_BEGIN(opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, DAPI_DOC_LAST_MESSAGE_AT, -1);
	BSON_APPEND_INT32(&sort, "_id", 1);
	bson_append_document_end(opts, &sort);
	if (limit > 0)
		BSON_APPEND_INT64(opts, "limit", limit);
	if (skip > 0)
		BSON_APPEND_INT64(opts, "skip", skip);
	BSON_APPEND_INT64(opts, "maxTimeMS", max_time_ms);
}

/* A pooled client, or NULL with err after the pool's bounded wait (every client busy). */
static mongoc_client_t *pop_client(const struct query_dialogs *q, bson_error_t *err)
{
	mongoc_client_t *client = mongoc_client_pool_pop(q->pool);
	if (!client)
		bson_set_error(err, QUERY_DIALOGS_BUSY, 1, "every database client is busy");
	return client;
}

/* Documents a page that counts by scanning reads a round trip. */
#define SCAN_BATCH 2000

/* A page's filter and find options: one place for the page and for its explain. A page
 * that counts by scanning has no limit: it reads every match (in large batches). */
static void build_page(const struct query_dialogs *q, const struct query_params *p, bool scan,
                       bson_t *filter, bson_t *opts)
{
	build_filter(p, true, filter);
	/* with a cursor: skipped after it */
	build_find_opts(q, scan ? 0 : p->limit, p->offset, q->max_time_ms, opts);
	if (scan)
		BSON_APPEND_INT32(opts, "batchSize", SCAN_BATCH);
}

void query_dialogs_find_command(const struct query_dialogs *q, const struct query_params *p,
                                bson_t *cmd)
{
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;

	build_page(q, p, false, &filter, &opts);
	BSON_APPEND_UTF8(cmd, "find", q->collection);
	BSON_APPEND_DOCUMENT(cmd, "filter", &filter);
	bson_concat(cmd, &opts);
	bson_destroy(&filter);
	bson_destroy(&opts);
}

bool query_dialogs_explain(const struct query_dialogs *q, const struct query_params *p,
                           bson_t *reply, bson_error_t *err)
{
	bson_t cmd = BSON_INITIALIZER, find;
	mongoc_client_t *client = pop_client(q, err);
	bool ok;

	if (!client) {
		bson_init(reply);
		return false;
	}
	BSON_APPEND_DOCUMENT_BEGIN(&cmd, "explain", &find);
	query_dialogs_find_command(q, p, &find);
	bson_append_document_end(&cmd, &find);
	BSON_APPEND_UTF8(&cmd, "verbosity", "queryPlanner");
	ok = mongoc_client_read_command_with_opts(client, q->db, &cmd, NULL, NULL, reply, err);
	mongoc_client_pool_push(q->pool, client);
	bson_destroy(&cmd);
	return ok;
}

static void skipped_unservable(void)
{
	DAPI_WARN("document_skipped", "{s:s}", "reason",
	          "not a valid dialog id or no lastMessageAt date (not written by ingestd)");
}

/* Out of memory while a page's reply was written: err says so; false. */
static bool page_oom(bson_error_t *err)
{
	bson_set_error(err, MONGOC_ERROR_CLIENT, 0, "out of memory rendering a page");
	return false;
}

/* The reply of a page that failed is dropped: ok as given. */
static bool page_done(struct query_page *page, bool ok)
{
	if (!ok) {
		free(page->body);
		page->body = NULL;
	}
	return ok;
}

/* The count for "total", on a client of its own, so that it can run beside the page. */
struct count_job {
	const struct query_dialogs *q;
	bson_t filter, opts;
	int64_t total;
	bson_error_t err;
};

static void *run_count(void *arg)
{
	struct count_job *job = arg;
	mongoc_client_t *client = pop_client(job->q, &job->err);
	mongoc_collection_t *coll;

	job->total = -1;
	if (!client)
		return NULL;
	coll = mongoc_client_get_collection(client, job->q->db, job->q->collection);
	job->total = mongoc_collection_count_documents(coll, &job->filter, &job->opts, NULL, NULL,
	                                               &job->err);
	mongoc_collection_destroy(coll);
	mongoc_client_pool_push(job->q->pool, client);
	return NULL;
}

/* Reads the page's documents into the reply's items, rendering each once, and stops at the
 * limit or before the dialog that would take the items past their byte bound. */
static bool read_page(const struct query_dialogs *q, const struct query_params *p,
                      mongoc_cursor_t *cursor, struct query_page *page, size_t *cap, int64_t *seen,
                      bson_error_t *err)
{
	const bson_t *doc;
	struct query_position last = { 0 };

	while (mongoc_cursor_next(cursor, &doc)) {
		++*seen;
		if (!query_render_servable(doc)) {
			skipped_unservable();
			continue;
		}
		switch (query_page_item(page, cap, q->page_bytes_max, doc, &last)) {
		case QUERY_ITEM_OOM:
			return page_oom(err);
		case QUERY_ITEM_CUT:
			return true;
		case QUERY_ITEM_ADDED:
			break;
		}
		query_page_position(doc, &last);
		if (page->count == p->limit) {
			page->has_next = true;
			page->next_pos = last;
			return true;
		}
	}
	return !mongoc_cursor_error(cursor, err);
}

/* How this page's server is best counted: the configured way, or AUTO decided once per
 * process from the server's explain (not while the explain fails: COUNT meanwhile). */
static enum query_total total_mode(const struct query_dialogs *q, mongoc_client_t *client)
{
	static atomic_int resolved; /* enum query_total; AUTO: not yet */
	int mode = atomic_load(&resolved);
	bson_t *filter;

	if (q->total != QUERY_TOTAL_AUTO)
		return q->total;
	if (mode != QUERY_TOTAL_AUTO)
		return (enum query_total)mode;
	filter = BCON_NEW(DAPI_DOC_CONSENT, BCON_BOOL(true));
	switch (dapi_mongo_filter_pushdown(client, q->db, q->collection, filter)) {
	case 0:
		mode = QUERY_TOTAL_SCAN;
		break;
	case 1:
		mode = QUERY_TOTAL_COUNT;
		break;
	default:
		bson_destroy(filter);
		return QUERY_TOTAL_COUNT;
	}
	bson_destroy(filter);
	if (atomic_exchange(&resolved, mode) == QUERY_TOTAL_AUTO)
		DAPI_INFO("page_total", "{s:s}", "by", mode == QUERY_TOTAL_SCAN ? "scan" : "count");
	return (enum query_total)mode;
}

/* After a scanning page's items: counts the matches left in its cursor into *seen. */
static bool count_rest(mongoc_cursor_t *cursor, int64_t *seen, bson_error_t *err)
{
	const bson_t *doc;
	while (mongoc_cursor_next(cursor, &doc))
		++*seen;
	return !mongoc_cursor_error(cursor, err);
}

/* The options of a read by _id: one document in one batch, so that no cursor is left open
 * on the server (a server that keeps one after a full first batch would cost a killCursors
 * round trip a read). */
static bson_t *by_id_opts(const struct query_dialogs *q)
{
	return BCON_NEW("limit", BCON_INT64(1), "singleBatch", BCON_BOOL(true), "maxTimeMS",
	                BCON_INT64(q->max_time_ms));
}

/* A dialog read by _id that is consented and not a tombstone: checked here rather than in
 * the filter, so that the lookup is an _id equality, which every server answers from an
 * index (stock FerretDB's SQLite backend answers nothing else from one). */
static bool consented(const bson_t *doc)
{
	bson_iter_t it;
	return !bson_iter_init_find(&it, doc, DAPI_DOC_REVOKED) &&
	       bson_iter_init_find(&it, doc, DAPI_DOC_CONSENT) && BSON_ITER_HOLDS_BOOL(&it) &&
	       bson_iter_bool(&it);
}

static bool of_customer(const bson_t *doc, const char *customer_id)
{
	bson_iter_t it;
	return bson_iter_init_find(&it, doc, DAPI_DOC_CUSTOMER_ID) && BSON_ITER_HOLDS_UTF8(&it) &&
	       !strcmp(bson_iter_utf8(&it, NULL), customer_id);
}

static bool in_language(const bson_t *doc, const char *language)
{
	bson_iter_t it, lang;
	if (!bson_iter_init_find(&it, doc, DAPI_DOC_LANGUAGES) || !BSON_ITER_HOLDS_ARRAY(&it) ||
	    !bson_iter_recurse(&it, &lang))
		return false;
	while (bson_iter_next(&lang))
		if (BSON_ITER_HOLDS_UTF8(&lang) && !strcmp(bson_iter_utf8(&lang, NULL), language))
			return true;
	return false;
}

/* Whether a dialog read by _id still matches page p's filter: erased or changed since the
 * page's scan, it is left out. */
static bool still_matches(const bson_t *doc, const struct query_params *p)
{
	return query_render_servable(doc) && consented(doc) &&
	       (!p->customer_id[0] || of_customer(doc, p->customer_id)) &&
	       (!p->language[0] || in_language(doc, p->language));
}

/* Pages of at most this many dialogs on a server that scans fetch them by _id after a scan
 * of their keys; larger ones are rendered from the scan itself (a lookup is a round trip:
 * about 0.7 ms on FerretDB, against 35 ms of a 5,000-match scan for its documents). */
#define KEYED_LIMIT_MAX 100

/* The page's keys: the sorted find of every match projected to _id and lastMessageAt. The
 * server reads each match as it would for the page (on FerretDB every document is decoded
 * and sorted either way) but sends a few bytes of each instead of the whole dialog. Keeps
 * the first p->limit servable keys, counts every match into *total (-1 when it cannot tell:
 * an offset past the end) and tells whether any came after the kept ones (*more). */
static bool scan_keys(const struct query_dialogs *q, const struct query_params *p,
                      mongoc_collection_t *coll, struct query_position *keys, int64_t *nkeys,
                      bool *more, int64_t *total, bson_error_t *err)
{
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, proj;
	mongoc_cursor_t *cursor;
	const bson_t *doc;
	int64_t seen = 0;
	bool ok;

	build_page(q, p, true, &filter, &opts);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
	BSON_APPEND_INT32(&proj, DAPI_DOC_LAST_MESSAGE_AT, 1);
	bson_append_document_end(&opts, &proj);
	cursor = mongoc_collection_find_with_opts(coll, &filter, &opts, NULL);
	*nkeys = 0;
	*more = false;
	while (mongoc_cursor_next(cursor, &doc)) {
		++seen;
		if (*nkeys == p->limit)
			*more = true;
		else if (query_render_servable(doc))
			query_page_position(doc, &keys[(*nkeys)++]);
		else
			skipped_unservable();
	}
	ok = !mongoc_cursor_error(cursor, err);
	if (ok)
		*total = seen > 0 || p->offset == 0 ? p->offset + seen : -1;
	mongoc_cursor_destroy(cursor);
	bson_destroy(&filter);
	bson_destroy(&opts);
	return ok;
}

/* One dialog by _id into the page, when it still matches (a page full by bytes is cut before
 * it, after before); false on a read error or out of memory (err set). */
static bool fetch_item(const struct query_dialogs *q, const struct query_params *p,
                       mongoc_collection_t *coll, const bson_t *opts, const char *id,
                       const struct query_position *before, struct query_page *page, size_t *cap,
                       bson_error_t *err)
{
	bson_t *filter = BCON_NEW("_id", BCON_UTF8(id));
	mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
	const bson_t *doc;
	bool ok = true;

	if (mongoc_cursor_next(cursor, &doc)) {
		ok = !still_matches(doc, p) ||
		     query_page_item(page, cap, q->page_bytes_max, doc, before) != QUERY_ITEM_OOM ||
		     page_oom(err);
	} else {
		ok = !mongoc_cursor_error(cursor, err);
	}
	mongoc_cursor_destroy(cursor);
	bson_destroy(filter);
	return ok;
}

/* Renders the page from its keys (the first p->limit matches, in page order), each dialog
 * read by _id, in order. A dialog erased or changed since the keys were read is left out and
 * the page goes on after it (its cursor is made from the keys), so a short page still leads
 * to the rest (more: matches came after the keys). */
static bool render_keys(const struct query_dialogs *q, const struct query_params *p,
                        mongoc_collection_t *coll, const struct query_position *keys, int64_t nkeys,
                        bool more, struct query_page *page, size_t *cap, bson_error_t *err)
{
	bson_t *opts = by_id_opts(q);
	bool ok = true;

	for (int64_t i = 0; ok && !page->cut && i < nkeys; i++)
		ok = fetch_item(q, p, coll, opts, keys[i].id, &keys[i > 0 ? i - 1 : 0], page, cap,
		                err);
	if (ok && !page->cut && nkeys > 0 && (page->count == p->limit || more)) {
		page->has_next = true;
		page->next_pos = keys[nkeys - 1];
	}
	bson_destroy(opts);
	return ok;
}

/* A first or offset page on a server that scans, its dialogs fetched by key: the scan of
 * the keys (one pass over the matches, counting them), then each dialog by _id. */
static bool keyed_page(const struct query_dialogs *q, const struct query_params *p,
                       mongoc_collection_t *coll, struct query_page *page, size_t *cap,
                       int64_t *total, bson_error_t *err)
{
	struct query_position *keys = calloc((size_t)p->limit, sizeof(*keys));
	int64_t nkeys = 0;
	bool more = false, ok = keys != NULL;

	if (!ok)
		bson_set_error(err, MONGOC_ERROR_CLIENT, 0, "out of memory reading a page");
	ok = ok && scan_keys(q, p, coll, keys, &nkeys, &more, total, err) &&
	     render_keys(q, p, coll, keys, nkeys, more, page, cap, err);
	free(keys);
	return ok;
}

/* The page's find, its dialogs rendered as they arrive; a scanning page (scan) reads on to
 * count every match into *total (-1 when it cannot tell: an offset past the end). */
static bool streamed_page(const struct query_dialogs *q, const struct query_params *p,
                          mongoc_collection_t *coll, bool scan, struct query_page *page,
                          size_t *cap, int64_t *total, bson_error_t *err)
{
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
	mongoc_cursor_t *cursor;
	int64_t seen = 0;
	bool ok;

	build_page(q, p, scan, &filter, &opts);
	cursor = mongoc_collection_find_with_opts(coll, &filter, &opts, NULL);
	ok = read_page(q, p, cursor, page, cap, &seen, err);
	/* the rest, when the page stopped before the cursor's end (which is not advanced) */
	if (ok && scan && (page->cut || page->count == p->limit))
		ok = count_rest(cursor, &seen, err);
	if (ok && scan)
		*total = seen > 0 || p->offset == 0 ? p->offset + seen : -1;
	mongoc_cursor_destroy(cursor);
	bson_destroy(&filter);
	bson_destroy(&opts);
	return ok;
}

/* Runs the page on a pooled client and renders it; a scanning page (scan) also counts every
 * match into *total: by keys then fetches when it is small, else streamed. */
static bool find_page(const struct query_dialogs *q, const struct query_params *p,
                      mongoc_client_t *client, bool scan, struct query_page *page, size_t *cap,
                      int64_t *total, bson_error_t *err)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(client, q->db, q->collection);
	bool ok = scan && p->limit <= KEYED_LIMIT_MAX
	                  ? keyed_page(q, p, coll, page, cap, total, err)
	                  : streamed_page(q, p, coll, scan, page, cap, total, err);
	mongoc_collection_destroy(coll);
	return ok;
}

/* The page and its total (job: the count's filter, and the carried total if any). A cursor
 * page reports the total of the page that began the walk, which its cursor carries: no
 * count. A first or offset page on a server that scans anyway reads every match once,
 * rendering the page's and counting the rest (SCAN). Elsewhere (COUNT) the count and the
 * page are two queries, run side by side (the two round trips overlap). Neither side waits
 * for a client while holding one, so pages cannot starve the pool, and a pool with none
 * free answers within its wait (waitQueueTimeoutMS). */
static bool page_and_total(const struct query_dialogs *q, const struct query_params *p,
                           struct query_page *page, size_t *cap, struct count_job *job,
                           bson_error_t *err)
{
	bool carried = p->has_cursor && p->after_total >= 0, counting, scan, ok;
	mongoc_client_t *client = pop_client(q, err);
	pthread_t counter;

	if (!client)
		return false;
	scan = !carried && !p->has_cursor && total_mode(q, client) == QUERY_TOTAL_SCAN;
	counting = !carried && !scan && pthread_create(&counter, NULL, run_count, job) == 0;
	ok = find_page(q, p, client, scan, page, cap, &job->total, err);
	mongoc_client_pool_push(q->pool, client);
	if (counting)
		pthread_join(counter, NULL);
	else if (!carried && (!scan || (ok && job->total < 0)))
		run_count(job); /* no thread to be had, or an offset past a scan's end */
	page->total = job->total;
	if (ok && job->total < 0) {
		*err = job->err;
		ok = false;
	}
	return ok;
}

bool query_dialogs_page(const struct query_dialogs *q, const struct query_params *p,
                        struct query_page *page, bson_error_t *err)
{
	struct count_job job = { .q = q, .filter = BSON_INITIALIZER, .opts = BSON_INITIALIZER };
	size_t cap = 0;
	bool ok;

	memset(page, 0, sizeof(*page));
	build_filter(p, false, &job.filter);
	BSON_APPEND_INT64(&job.opts, "maxTimeMS", q->max_time_ms);
	job.total = p->after_total;
	ok = (query_page_begin(page, &cap) || page_oom(err)) &&
	     page_and_total(q, p, page, &cap, &job, err) &&
	     (query_page_finish(page, &cap, p) || page_oom(err));
	bson_destroy(&job.filter);
	bson_destroy(&job.opts);
	return page_done(page, ok);
}

bool query_dialogs_page_of_keys(const struct query_dialogs *q, const struct query_params *p,
                                const struct query_position *keys, int64_t nkeys, bool more,
                                int64_t total, struct query_page *page, bson_error_t *err)
{
	mongoc_client_t *client;
	mongoc_collection_t *coll;
	size_t cap = 0;
	bool ok;

	memset(page, 0, sizeof(*page));
	page->total = total;
	if (!(client = pop_client(q, err)))
		return false;
	coll = mongoc_client_get_collection(client, q->db, q->collection);
	ok = (query_page_begin(page, &cap) || page_oom(err)) &&
	     render_keys(q, p, coll, keys, nkeys > p->limit ? p->limit : nkeys, more, page, &cap,
	                 err) &&
	     (query_page_finish(page, &cap, p) || page_oom(err));
	mongoc_collection_destroy(coll);
	mongoc_client_pool_push(q->pool, client);
	return page_done(page, ok);
}

int query_dialogs_get(const struct query_dialogs *q, const char *customer_id, const char *dialog_id,
                      json_t **item, bson_error_t *err)
{
	mongoc_client_t *client = pop_client(q, err);
	mongoc_collection_t *coll;
	bson_t *filter, *opts;
	mongoc_cursor_t *cursor;
	const bson_t *doc;
	int rc = 0;

	*item = NULL;
	if (!client)
		return -1;
	coll = mongoc_client_get_collection(client, q->db, q->collection);
	filter = BCON_NEW("_id", BCON_UTF8(dialog_id));
	opts = by_id_opts(q);
	cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
	if (mongoc_cursor_next(cursor, &doc)) {
		if (consented(doc) && of_customer(doc, customer_id)) {
			*item = query_render_dialog(doc);
			rc = 1;
		}
	} else if (mongoc_cursor_error(cursor, err)) {
		rc = -1;
	}
	mongoc_cursor_destroy(cursor);
	bson_destroy(filter);
	bson_destroy(opts);
	mongoc_collection_destroy(coll);
	mongoc_client_pool_push(q->pool, client);
	return rc;
}

struct query_export {
	mongoc_client_pool_t *pool;
	mongoc_client_t *client;
	mongoc_collection_t *coll;
	mongoc_cursor_t *cursor;
	bson_t *first;  /* read by open, served first */
	bool exhausted; /* the cursor must not be advanced again */
};

void query_export_query(const struct query_dialogs *q, const struct query_params *p, bson_t *filter,
                        bson_t *opts)
{
	build_filter(p, false, filter);
	build_find_opts(q, 0, 0, q->export_time_ms, opts); /* an export's own, longer deadline */
	BSON_APPEND_INT32(opts, "batchSize", 500);
}

struct query_export *query_export_open(const struct query_dialogs *q, const struct query_params *p,
                                       bson_error_t *err)
{
	struct query_export *ex = calloc(1, sizeof(*ex));
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
	const bson_t *doc;
	bool found = false;

	if (!ex) {
		bson_set_error(err, MONGOC_ERROR_CLIENT, 0, "out of memory");
		return NULL;
	}
	ex->pool = q->pool;
	ex->client = pop_client(q, err);
	if (!ex->client) {
		free(ex);
		return NULL;
	}
	ex->coll = mongoc_client_get_collection(ex->client, q->db, q->collection);
	query_export_query(q, p, &filter, &opts);
	ex->cursor = mongoc_collection_find_with_opts(ex->coll, &filter, &opts, NULL);
	bson_destroy(&filter);
	bson_destroy(&opts);
	while (!found && mongoc_cursor_next(ex->cursor, &doc)) {
		found = query_render_servable(doc);
		if (!found)
			skipped_unservable();
	}
	if (found) {
		ex->first = bson_copy(doc);
	} else if (mongoc_cursor_error(ex->cursor, err)) {
		query_export_close(ex);
		return NULL;
	} else {
		ex->exhausted = true; /* no match at all: an empty, complete stream */
	}
	return ex;
}

static char *line_of(const bson_t *doc, size_t *len)
{
	char *text = query_render_dialog_text(doc, len), *line;
	if (!text)
		return NULL;
	*len += 1;
	line = realloc(text, *len + 1);
	if (!line) {
		free(text);
		return NULL;
	}
	line[*len - 1] = '\n';
	line[*len] = '\0';
	return line;
}

char *query_export_next(struct query_export *ex, size_t *len, bool *failed)
{
	const bson_t *doc;
	bson_error_t err;
	char *line;

	*failed = false;
	if (ex->first) {
		line = line_of(ex->first, len);
		bson_destroy(ex->first);
		ex->first = NULL;
		*failed = line == NULL;
		return line;
	}
	if (ex->exhausted)
		return NULL;
	while (mongoc_cursor_next(ex->cursor, &doc)) {
		if (!query_render_servable(doc)) {
			skipped_unservable();
			continue;
		}
		line = line_of(doc, len);
		*failed = line == NULL;
		return line;
	}
	ex->exhausted = true;
	*failed = mongoc_cursor_error(ex->cursor, &err);
	return NULL;
}

void query_export_close(struct query_export *ex)
{
	if (!ex)
		return;
	bson_destroy(ex->first);
	mongoc_cursor_destroy(ex->cursor);
	mongoc_collection_destroy(ex->coll);
	mongoc_client_pool_push(ex->pool, ex->client);
	free(ex);
}
