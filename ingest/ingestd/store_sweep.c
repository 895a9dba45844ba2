/* The sweeper's deletes: pending dialogs past their TTL, tombstones past theirs, consented
 * dialogs past --retention. */
#include <string.h>

#include "doc.h"
#include "mongo.h"
#include "store_internal.h"

bool ingestd_store_sweep(struct ingestd_store *st, int64_t pending_before, int64_t tombstone_before,
                         int64_t *pending, int64_t *tombstones, bson_error_t *err)
{
	mongoc_client_t *client;
	mongoc_collection_t *coll = store_get(st, &client);
	bool ok = dapi_mongo_delete_many(coll,
	                                 BCON_NEW(DAPI_DOC_CONSENT, BCON_BOOL(false),
	                                          DAPI_DOC_LAST_MESSAGE_AT, "{", "$lt",
	                                          BCON_DATE_TIME(pending_before), "}"),
	                                 pending, err) &&
	          dapi_mongo_delete_many(coll,
	                                 BCON_NEW(DAPI_DOC_REVOKED, BCON_BOOL(true),
	                                          DAPI_DOC_REVOKED_AT, "{", "$lt",
	                                          BCON_DATE_TIME(tombstone_before), "}"),
	                                 tombstones, err);
	store_put(st, client, coll);
	return ok;
}

bool ingestd_store_sweep_retained(struct ingestd_store *st, int64_t before, int64_t *erased,
                                  bson_error_t *err)
{
	mongoc_client_t *client;
	mongoc_collection_t *coll = store_get(st, &client);
	bool ok = dapi_mongo_delete_many(coll,
	                                 BCON_NEW(DAPI_DOC_CONSENT, BCON_BOOL(true),
	                                          DAPI_DOC_LAST_MESSAGE_AT, "{", "$lt",
	                                          BCON_DATE_TIME(before), "}"),
	                                 erased, err);
	store_put(st, client, coll);
	return ok;
}

/* Reads the _id and revokedAt of each document of cur into page. */
static bool read_ids(mongoc_cursor_t *cur, struct ingestd_id_page *page, bson_error_t *err)
{
	const bson_t *doc;
	bson_iter_t it;
	page->n = 0;
	while (page->n < INGESTD_ID_PAGE && mongoc_cursor_next(cur, &doc)) {
		uint32_t len;
		if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_UTF8(&it))
			continue;
		const char *id = bson_iter_utf8(&it, &len);
		if (len > DAPI_ID_MAX)
			continue;
		page->at[page->n] = bson_iter_init_find(&it, doc, DAPI_DOC_REVOKED_AT) &&
		                                    BSON_ITER_HOLDS_DATE_TIME(&it)
		                            ? bson_iter_date_time(&it)
		                            : 0;
		memcpy(page->ids[page->n++], id, len + 1);
	}
	return !mongoc_cursor_error(cur, err);
}

bool ingestd_store_tombstone_ids(struct ingestd_store *st, const char *after,
                                 struct ingestd_id_page *page, bson_error_t *err)
{
	mongoc_client_t *client;
	mongoc_collection_t *coll = store_get(st, &client);
	bson_t *filter = BCON_NEW(DAPI_DOC_REVOKED, BCON_BOOL(true), "_id", "{", "$gt",
	                          BCON_UTF8(after), "}");
	bson_t *opts = BCON_NEW("projection", "{", "_id", BCON_INT32(1), DAPI_DOC_REVOKED_AT,
	                        BCON_INT32(1), "}", "sort", "{", "_id", BCON_INT32(1), "}", "limit",
	                        BCON_INT64(INGESTD_ID_PAGE));
	mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
	bool ok = read_ids(cur, page, err);
	mongoc_cursor_destroy(cur);
	bson_destroy(opts);
	bson_destroy(filter);
	store_put(st, client, coll);
	return ok;
}
