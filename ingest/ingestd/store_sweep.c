/* The sweeper's deletes: pending dialogs past their TTL, tombstones past theirs. */
#include "doc.h"
#include "store_internal.h"

static bool delete_many(mongoc_collection_t *coll, bson_t *filter, int64_t *count,
                        bson_error_t *err)
{
	bson_t reply;
	bson_iter_t it;
	bool ok = mongoc_collection_delete_many(coll, filter, NULL, &reply, err);
	*count = ok && bson_iter_init_find(&it, &reply, "deletedCount") ? bson_iter_as_int64(&it)
	                                                                : 0;
	bson_destroy(&reply);
	bson_destroy(filter);
	return ok;
}

bool dapi_store_sweep(struct dapi_store *st, int64_t pending_before, int64_t tombstone_before,
                      int64_t *pending, int64_t *tombstones, bson_error_t *err)
{
	mongoc_client_t *client;
	mongoc_collection_t *coll = store_get(st, &client);
	bool ok = delete_many(coll,
	                      BCON_NEW(DAPI_DOC_CONSENT, BCON_BOOL(false), DAPI_DOC_LAST_MESSAGE_AT,
	                               "{", "$lt", BCON_DATE_TIME(pending_before), "}"),
	                      pending, err) &&
	          delete_many(coll,
	                      BCON_NEW(DAPI_DOC_REVOKED, BCON_BOOL(true), DAPI_DOC_REVOKED_AT, "{",
	                               "$lt", BCON_DATE_TIME(tombstone_before), "}"),
	                      tombstones, err);
	store_put(st, client, coll);
	return ok;
}
