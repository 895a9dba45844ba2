/* How a page of GET /data is read, by server and filter: a cursor page carries its total;
 * a first or offset page counts beside its find (COUNT) or, on a server that reads every
 * match anyway, scans once (SCAN: small pages by their keys, then each dialog by _id;
 * larger ones streamed). The reply itself is written by page.c. */
#include "dialogs.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "dialogs_internal.h"
#include "doc.h"
#include "filter.h"
#include "log.h"
#include "mongo.h"
#include "page.h"
#include "render.h"

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
	mongoc_client_t *client = dialogs_client(job->q, &job->err);
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
			dialogs_skipped_unservable();
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

/* How this page's server is best counted: the configured way, or AUTO decided once, from
 * the server's explain, into q->resolved (not while the explain fails: COUNT meanwhile;
 * without q->resolved, decided on every page). */
static enum query_total total_mode(const struct query_dialogs *q, mongoc_client_t *client)
{
	int mode = q->resolved ? atomic_load(q->resolved) : QUERY_TOTAL_AUTO;
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
	if (!q->resolved || atomic_exchange(q->resolved, mode) == QUERY_TOTAL_AUTO)
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

	dialogs_page_query(q, p, true, &filter, &opts);
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
			dialogs_skipped_unservable();
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
		ok = !query_filter_matches(doc, p) ||
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
	bson_t *opts = dialogs_by_id_opts(q);
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

	dialogs_page_query(q, p, scan, &filter, &opts);
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
	mongoc_client_t *client = dialogs_client(q, err);
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
	query_filter_build(p, false, &job.filter);
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
	if (!(client = dialogs_client(q, err)))
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
