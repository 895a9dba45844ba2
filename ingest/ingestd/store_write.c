/* Writing a batch's changed dialogs: unordered bulks of at most WRITE_CHUNK operations,
 * every update and replace guarded (store_doc_guard). */
#include <assert.h>
#include <string.h>

#include "mongo.h"
#include "store_internal.h"

/* Most writes in one command. FerretDB 1.24 keeps a database connection for each update of
 * a command until the whole command ends, out of a pool of 100: a command of 100 updates
 * waits forever for a connection (seen as a stalled store). 32 leaves room for a second
 * ingestd and the query service; MongoDB loses little (a round trip per 32 writes). */
#define WRITE_CHUNK 32

/* The guarded write of a dialog the store holds: a tombstone replaces it, an expired
 * incarnation with nothing in its place is deleted, a new incarnation replaces it whole,
 * anything else is an update. False when the document would be too large. */
static bool add_guarded(mongoc_bulk_operation_t *bulk, const struct ingestd_dialog *d,
                        bson_t *filter, bson_t *doc)
{
	store_doc_guard(filter, d);
	if (d->state == INGESTD_DIALOG_TOMBSTONE) {
		store_doc_tombstone(doc, d);
		return mongoc_bulk_operation_replace_one_with_opts(bulk, filter, doc, NULL, NULL);
	}
	if (d->state == INGESTD_DIALOG_ABSENT)
		return mongoc_bulk_operation_remove_one_with_opts(bulk, filter, NULL, NULL);
	if (d->fresh) {
		store_doc_full(doc, d);
		return doc->len < INGESTD_DOC_MAX_BYTES &&
		       mongoc_bulk_operation_replace_one_with_opts(bulk, filter, doc, NULL, NULL);
	}
	store_doc_update(doc, d);
	return d->loaded_bytes + doc->len < INGESTD_DOC_MAX_BYTES &&
	       mongoc_bulk_operation_update_one_with_opts(bulk, filter, doc, NULL, NULL);
}

/* Adds the write for one changed dialog; returns false when it would be too large. */
static bool add_op(mongoc_bulk_operation_t *bulk, const struct ingestd_dialog *d, bool *is_insert)
{
	bson_t doc = BSON_INITIALIZER, filter = BSON_INITIALIZER;
	bool ok;

	*is_insert = d->loaded_state == INGESTD_DIALOG_ABSENT;
	if (*is_insert) {
		if (d->state == INGESTD_DIALOG_TOMBSTONE)
			store_doc_tombstone(&doc, d);
		else
			store_doc_full(&doc, d);
		ok = doc.len < INGESTD_DOC_MAX_BYTES &&
		     mongoc_bulk_operation_insert_with_opts(bulk, &doc, NULL, NULL);
	} else {
		ok = add_guarded(bulk, d, &filter, &doc);
	}
	bson_destroy(&doc);
	bson_destroy(&filter);
	return ok;
}

/* The operations of one bulk: which dialog each writes, and whether it inserts. */
struct chunk {
	size_t op_dialog[WRITE_CHUNK];
	bool op_insert[WRITE_CHUNK];
	size_t nops, nupdates;
	size_t failed_updates, n_errors; /* from the reply */
};

/* One writeErrors entry's index (-1 when it names no operation of ours) and code. */
static void read_write_error(bson_iter_t *entry, size_t nops, int32_t *index, int32_t *code)
{
	bson_iter_t el;
	*index = -1;
	*code = 0;
	if (!bson_iter_recurse(entry, &el))
		return;
	while (bson_iter_next(&el)) {
		int64_t v = BSON_ITER_HOLDS_NUMBER(&el) ? bson_iter_as_int64(&el) : -1;
		if (!strcmp(bson_iter_key(&el), "index"))
			*index = v >= 0 && v < (int64_t)nops ? (int32_t)v : -1;
		else if (!strcmp(bson_iter_key(&el), "code"))
			*code = v >= 0 && v <= INT32_MAX ? (int32_t)v : 0;
	}
}

/* Reads writeErrors: duplicate keys are conflicts, some codes transient, the rest reject
 * the dialog for good. */
static enum ingestd_write_status read_write_errors(const bson_t *reply, struct chunk *c,
                                                   const char **rejected)
{
	enum ingestd_write_status status = INGESTD_WRITE_OK;
	bson_iter_t it, arr;

	if (!bson_iter_init_find(&it, reply, "writeErrors") || !BSON_ITER_HOLDS_ARRAY(&it) ||
	    !bson_iter_recurse(&it, &arr))
		return status;
	while (bson_iter_next(&arr)) {
		int32_t index, code;
		read_write_error(&arr, c->nops, &index, &code);
		/* a reply that names no operation of ours is not a verdict on our data */
		if (index < 0)
			return INGESTD_WRITE_TRANSIENT;
		c->n_errors++;
		c->failed_updates += !c->op_insert[index];
		if (code == 11000)
			status = status == INGESTD_WRITE_OK ? INGESTD_WRITE_CONFLICT : status;
		else if (dapi_mongo_code_transient(code))
			status = INGESTD_WRITE_TRANSIENT;
		else
			rejected[c->op_dialog[index]] = "store_rejected";
	}
	return status;
}

/* The verdict on an executed bulk (ok: what execute returned). */
static enum ingestd_write_status read_reply(const bson_t *reply, bool ok, struct chunk *c,
                                            const char **rejected)
{
	enum ingestd_write_status status = read_write_errors(reply, c, rejected);
	bson_iter_t it;
	uint32_t wce_len = 0;
	const uint8_t *wce_data;

	/* A failure without any write error (the reply carries writeErrors even when it is
	 * empty) is the connection or the server, not the data: retry later. */
	if (!ok && c->n_errors == 0)
		status = INGESTD_WRITE_TRANSIENT;
	if (bson_iter_init_find(&it, reply, "writeConcernErrors") && BSON_ITER_HOLDS_ARRAY(&it))
		bson_iter_array(&it, &wce_len, &wce_data);
	if (wce_len > 5) /* not the 5-byte empty array */
		status = INGESTD_WRITE_TRANSIENT;
	if (status == INGESTD_WRITE_OK) {
		/* a guarded delete (an expired incarnation) that matched counts as removed */
		int64_t matched =
		        (bson_iter_init_find(&it, reply, "nMatched") ? bson_iter_as_int64(&it)
		                                                     : 0) +
		        (bson_iter_init_find(&it, reply, "nRemoved") ? bson_iter_as_int64(&it) : 0);
		if ((size_t)matched + c->failed_updates < c->nupdates)
			status = INGESTD_WRITE_CONFLICT;
	}
	return status;
}

/* Adds the writes of the changed dialogs from dialogs[*next] on, up to WRITE_CHUNK; *next
 * receives the first dialog it did not reach. */
static void add_ops(mongoc_bulk_operation_t *bulk, struct ingestd_dialog *dialogs, size_t n,
                    size_t *next, const char **rejected, struct chunk *c)
{
	size_t i;
	for (i = *next; i < n && c->nops < WRITE_CHUNK; i++) {
		if (!ingestd_dialog_changed(&dialogs[i]))
			continue;
		if (dialogs[i].loaded_untrusted) { /* its version cannot be compared: DLQ */
			rejected[i] = "store_untrusted";
			continue;
		}
		if (!add_op(bulk, &dialogs[i], &c->op_insert[c->nops])) {
			rejected[i] = "dialog_too_large";
			continue;
		}
		c->nupdates += !c->op_insert[c->nops];
		c->op_dialog[c->nops++] = i;
	}
	assert(c->nops <= WRITE_CHUNK && c->nupdates <= c->nops);
	*next = i;
}

/* Writes the changed dialogs from dialogs[*next] on in one unordered bulk of at most
 * WRITE_CHUNK operations; *next receives the first dialog it did not reach. */
static enum ingestd_write_status write_chunk(mongoc_collection_t *coll,
                                             struct ingestd_dialog *dialogs, size_t n, size_t *next,
                                             const char **rejected, bson_error_t *err)
{
	struct chunk c = { 0 };
	enum ingestd_write_status status = INGESTD_WRITE_OK;
	bson_t opts = BSON_INITIALIZER, reply;
	mongoc_bulk_operation_t *bulk;

	BSON_APPEND_BOOL(&opts, "ordered", false);
	bulk = mongoc_collection_create_bulk_operation_with_opts(coll, &opts);
	add_ops(bulk, dialogs, n, next, rejected, &c);
	if (c.nops > 0) {
		bool ok = mongoc_bulk_operation_execute(bulk, &reply, err) != 0;
		status = read_reply(&reply, ok, &c, rejected);
		bson_destroy(&reply);
	}
	mongoc_bulk_operation_destroy(bulk);
	bson_destroy(&opts);
	return status;
}

enum ingestd_write_status ingestd_store_write(struct ingestd_store *st,
                                              struct ingestd_dialog *dialogs, size_t n,
                                              const char **rejected, bson_error_t *err)
{
	mongoc_client_t *client;
	mongoc_collection_t *coll = store_get(st, &client);
	enum ingestd_write_status status = INGESTD_WRITE_OK;

	for (size_t i = 0; i < n; i++)
		rejected[i] = NULL;
	/* Chunks written before a conflict stay written: applying the batch again to the
	 * reloaded dialogs finds their events present and changes nothing there. */
	for (size_t next = 0; next < n && status != INGESTD_WRITE_TRANSIENT;) {
		enum ingestd_write_status s = write_chunk(coll, dialogs, n, &next, rejected, err);
		if (s > status)
			status = s;
	}
	store_put(st, client, coll);
	return status;
}
