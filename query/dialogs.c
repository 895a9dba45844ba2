/* The dialogs' reads that are neither a page (paging.c) nor an export (export.c): one
 * dialog by id, a page's find command and its plan, and what the three share. */
#include "dialogs.h"

#include "dialogs_internal.h"
#include "doc.h"
#include "filter.h"
#include "log.h"
#include "render.h"

/* A pooled client, or NULL with err after the pool's bounded wait (every client busy). */
mongoc_client_t *dialogs_client(const struct query_dialogs *q, bson_error_t *err)
{
	mongoc_client_t *client = mongoc_client_pool_pop(q->pool);
	if (!client)
		bson_set_error(err, QUERY_DIALOGS_BUSY, 1, "every database client is busy");
	return client;
}

/* Documents a page that counts by scanning reads a round trip. */
#define SCAN_BATCH 2000

void dialogs_page_query(const struct query_dialogs *q, const struct query_params *p, bool scan,
                        bson_t *filter, bson_t *opts)
{
	query_filter_build(p, true, filter);
	/* with a cursor: skipped after it */
	query_filter_find_opts(scan ? 0 : p->limit, p->offset, q->max_time_ms, opts);
	if (scan)
		BSON_APPEND_INT32(opts, "batchSize", SCAN_BATCH);
}

void query_dialogs_find_command(const struct query_dialogs *q, const struct query_params *p,
                                bson_t *cmd)
{
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;

	dialogs_page_query(q, p, false, &filter, &opts);
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
	mongoc_client_t *client = dialogs_client(q, err);
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

void dialogs_skipped_unservable(void)
{
	DAPI_WARN("document_skipped", "{s:s}", "reason",
	          "not a valid dialog id or no lastMessageAt date (not written by ingestd)");
}

/* The options of a read by _id: one document in one batch, so that no cursor is left open
 * on the server (a server that keeps one after a full first batch would cost a killCursors
 * round trip a read). */
bson_t *dialogs_by_id_opts(const struct query_dialogs *q)
{
	return BCON_NEW("limit", BCON_INT64(1), "singleBatch", BCON_BOOL(true), "maxTimeMS",
	                BCON_INT64(q->max_time_ms));
}

int query_dialogs_get(const struct query_dialogs *q, const char *customer_id, const char *dialog_id,
                      json_t **item, bson_error_t *err)
{
	mongoc_client_t *client = dialogs_client(q, err);
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
	opts = dialogs_by_id_opts(q);
	cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
	if (mongoc_cursor_next(cursor, &doc)) {
		if (query_filter_consented(doc) && query_filter_of_customer(doc, customer_id)) {
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
