/* The store's life and its collection handles. Its jobs are one file each:
 * store_indexes.c (indexes and what the server can do), store_doc.c (the document's form),
 * store_load.c, store_write.c and store_sweep.c. */
#include <stdio.h>
#include <stdlib.h>

#include "store_internal.h"

struct ingestd_store *ingestd_store_new(mongoc_client_pool_t *pool, const char *db,
                                        const char *collection, enum ingestd_load_by load_by,
                                        enum ingestd_indexes indexes)
{
	struct ingestd_store *st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->pool = pool;
	st->load_by = load_by;
	st->indexes = indexes;
	snprintf(st->db, sizeof(st->db), "%s", db);
	snprintf(st->collection, sizeof(st->collection), "%s", collection);
	return st;
}

void ingestd_store_destroy(struct ingestd_store *st)
{
	free(st);
}

mongoc_collection_t *store_get(struct ingestd_store *st, mongoc_client_t **client)
{
	*client = mongoc_client_pool_pop(st->pool);
	return mongoc_client_get_collection(*client, st->db, st->collection);
}

void store_put(struct ingestd_store *st, mongoc_client_t *client, mongoc_collection_t *coll)
{
	mongoc_collection_destroy(coll);
	mongoc_client_pool_push(st->pool, client);
}

bool ingestd_store_loads_by_id(const struct ingestd_store *st)
{
	return st->load_by == INGESTD_LOAD_BY_ID;
}
