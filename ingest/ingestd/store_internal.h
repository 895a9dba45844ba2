/* What the store's files share: the store itself, a collection handle from its pool, and
 * the document codec (store_doc.c). Not for the store's callers, which see store.h. */
#ifndef INGESTD_STORE_INTERNAL_H
#define INGESTD_STORE_INTERNAL_H

#include "store.h"

struct ingestd_store {
	mongoc_client_pool_t *pool;
	enum ingestd_load_by load_by;
	enum ingestd_indexes indexes;
	char db[64];
	char collection[64];
};

/* The dialogs collection on a client popped from the pool; store_put gives both back. */
mongoc_collection_t *store_get(struct ingestd_store *st, mongoc_client_t **client);
void store_put(struct ingestd_store *st, mongoc_client_t *client, mongoc_collection_t *coll);

/* ---- the stored document (store_doc.c) ---- */

/* A tombstone: _id, revoked, revokedAt, appliedThrough; nothing personal. */
void store_doc_tombstone(bson_t *doc, const struct ingestd_dialog *d);

/* A whole new dialog document. */
void store_doc_full(bson_t *doc, const struct ingestd_dialog *d);

/* The compare-and-set filter of an update or replace (see store_doc.c). */
void store_doc_guard(bson_t *filter, const struct ingestd_dialog *d);

/* The update of a loaded dialog: $set of what changed, $push of the new messages. */
void store_doc_update(bson_t *update, const struct ingestd_dialog *d);

#endif
