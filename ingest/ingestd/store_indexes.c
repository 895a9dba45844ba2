/* The store's indexes (one per GET /data shape, and the sweeper's) and what the server
 * can do with them: FerretDB's SQLite backend answers no filter but _id from an index. */
#include <string.h>

#include "doc.h"
#include "log.h"
#include "mongo.h"
#include "store_internal.h"

static const char *const index_names[] = { "consent_recent", "consent_language_recent",
	                                   "consent_customer_recent", "revoked_at" };

bson_t *ingestd_store_index_spec(size_t i)
{
	const char *name = i < sizeof(index_names) / sizeof(index_names[0]) ? index_names[i] : NULL;

	if (!name)
		return NULL;
	if (!strcmp(name, "consent_recent"))
		return BCON_NEW("name", BCON_UTF8(name), "key", "{", DAPI_DOC_CONSENT,
		                BCON_INT32(1), DAPI_DOC_LAST_MESSAGE_AT, BCON_INT32(-1), "_id",
		                BCON_INT32(1), "}");
	if (!strcmp(name, "consent_language_recent"))
		return BCON_NEW("name", BCON_UTF8(name), "key", "{", DAPI_DOC_CONSENT,
		                BCON_INT32(1), DAPI_DOC_LANGUAGES, BCON_INT32(1),
		                DAPI_DOC_LAST_MESSAGE_AT, BCON_INT32(-1), "_id", BCON_INT32(1),
		                "}");
	if (!strcmp(name, "consent_customer_recent"))
		return BCON_NEW("name", BCON_UTF8(name), "key", "{", DAPI_DOC_CONSENT,
		                BCON_INT32(1), DAPI_DOC_CUSTOMER_ID, BCON_INT32(1),
		                DAPI_DOC_LAST_MESSAGE_AT, BCON_INT32(-1), "_id", BCON_INT32(1),
		                "}");
	return BCON_NEW("name", BCON_UTF8(name), "key", "{", DAPI_DOC_REVOKED_AT, BCON_INT32(1),
	                "}");
}

static bool ensure_indexes(struct ingestd_store *st, mongoc_client_t *client, bson_error_t *err)
{
	enum { N = sizeof(index_names) / sizeof(index_names[0]) };
	bson_t *specs[N];
	int created = 0;
	for (size_t i = 0; i < N; i++)
		specs[i] = ingestd_store_index_spec(i);
	bool ok =
	        dapi_mongo_ensure_indexes(client, st->db, st->collection, specs, N, &created, err);
	for (size_t i = 0; i < N; i++)
		bson_destroy(specs[i]);
	if (ok && created > 0)
		DAPI_INFO("indexes_created", "{s:i}", "count", created);
	return ok;
}

/* FerretDB answers buildInfo with a ferretdbVersion field. */
static bool server_is_ferretdb(mongoc_client_t *client, bool *ferretdb, bson_error_t *err)
{
	bson_t *cmd = BCON_NEW("buildInfo", BCON_INT32(1)), reply;
	bson_iter_t it;
	bool ok = mongoc_client_command_simple(client, "admin", cmd, NULL, &reply, err);
	*ferretdb = ok && bson_iter_init_find(&it, &reply, "ferretdbVersion");
	bson_destroy(&reply);
	bson_destroy(cmd);
	return ok;
}

static bool server_pushes_down(mongoc_client_t *client, const struct ingestd_store *st,
                               bson_t *filter)
{
	/* an explain that fails says nothing: as if it pushed down */
	bool pushdown = dapi_mongo_filter_pushdown(client, st->db, st->collection, filter) != 0;
	bson_destroy(filter);
	return pushdown;
}

bool ingestd_store_open(struct ingestd_store *st, bson_error_t *err)
{
	mongoc_client_t *client = mongoc_client_pool_pop(st->pool);
	bool ferretdb = false, ok = server_is_ferretdb(client, &ferretdb, err);
	bool secondary = st->indexes == INGESTD_INDEXES_ALL;

	if (ok && st->load_by == INGESTD_LOAD_AUTO)
		st->load_by = ferretdb ? INGESTD_LOAD_BY_ID : INGESTD_LOAD_IN;
	if (ok && !secondary)
		secondary =
		        server_pushes_down(client, st, BCON_NEW(DAPI_DOC_CONSENT, BCON_BOOL(true)));
	if (ok)
		DAPI_INFO("store_server", "{s:b,s:s,s:s}", "ferretdb", ferretdb, "load_by",
		          st->load_by == INGESTD_LOAD_BY_ID ? "id" : "in", "indexes",
		          secondary ? "all" : "id only (the server uses no other index)");
	/* The write guard ({_id, revoked, appliedThrough...}) is the same on every server; one
	 * that does not narrow it by _id first scans the collection for every update: correct,
	 * but slow (a stock FerretDB; the local stack's is built with the fix). */
	if (ok && !server_pushes_down(client, st,
	                              BCON_NEW("_id", "x", DAPI_DOC_APPLIED "." DAPI_DOC_OFFSET,
	                                       BCON_INT64(0))))
		DAPI_WARN("store_guard_scans", "{s:s}", "detail",
		          "the server scans the collection for every guarded update; for FerretDB "
		          "build it with deploy/ferretdb-patch.sh");
	ok = ok && (!secondary || ensure_indexes(st, client, err));
	mongoc_client_pool_push(st->pool, client);
	return ok;
}
