#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"
#include "log.h"
#include "mongo.h"

/* Most writes in one command. FerretDB 1.24 keeps a database connection for each update of
 * a command until the whole command ends, out of a pool of 100: a command of 100 updates
 * waits forever for a connection (seen as a stalled store). 32 leaves room for a second
 * ingestd and the query service; MongoDB loses little (a round trip per 32 writes). */
#define WRITE_CHUNK 32

struct dapi_store {
	mongoc_client_pool_t *pool;
	enum dapi_load_by load_by;
	enum dapi_indexes indexes;
	char db[64];
	char collection[64];
};

struct dapi_store *dapi_store_new(mongoc_client_pool_t *pool, const char *db,
                                  const char *collection, enum dapi_load_by load_by,
                                  enum dapi_indexes indexes)
{
	struct dapi_store *st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->pool = pool;
	st->load_by = load_by;
	st->indexes = indexes;
	snprintf(st->db, sizeof(st->db), "%s", db);
	snprintf(st->collection, sizeof(st->collection), "%s", collection);
	return st;
}

void dapi_store_destroy(struct dapi_store *st)
{
	free(st);
}

static const char *const index_names[] = { "consent_recent", "consent_language_recent",
	                                   "consent_customer_recent", "revoked_at" };

bson_t *dapi_store_index_spec(size_t i)
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

/* Lists the collection's index names into have[] (true where present). */
static bool existing_indexes(mongoc_collection_t *coll, bool have[], bson_error_t *err)
{
	mongoc_cursor_t *cur = mongoc_collection_find_indexes_with_opts(coll, NULL);
	const bson_t *doc;
	bool ok;

	while (mongoc_cursor_next(cur, &doc)) {
		bson_iter_t it;
		if (!bson_iter_init_find(&it, doc, "name") || !BSON_ITER_HOLDS_UTF8(&it))
			continue;
		for (size_t i = 0; i < sizeof(index_names) / sizeof(index_names[0]); i++)
			if (!strcmp(bson_iter_utf8(&it, NULL), index_names[i]))
				have[i] = true;
	}
	/* A collection that does not exist yet has no indexes: not an error. */
	ok = !mongoc_cursor_error(cur, err) || err->code == 26;
	mongoc_cursor_destroy(cur);
	return ok;
}

static bool ensure_indexes(struct dapi_store *st, mongoc_client_t *client, bson_error_t *err)
{
	mongoc_database_t *db = mongoc_client_get_database(client, st->db);
	mongoc_collection_t *coll = mongoc_client_get_collection(client, st->db, st->collection);
	bool have[sizeof(index_names) / sizeof(index_names[0])] = { false }, ok;
	bson_t cmd = BSON_INITIALIZER, list;
	int missing = 0;

	/* Only the missing ones are created: FerretDB 1.24 fails on createIndexes for an
	 * index that already exists, which every restart of ingestd would send. */
	ok = existing_indexes(coll, have, err);
	BSON_APPEND_UTF8(&cmd, "createIndexes", st->collection);
	BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &list);
	for (size_t i = 0; ok && i < sizeof(index_names) / sizeof(index_names[0]); i++) {
		if (have[i])
			continue;
		char key[16];
		bson_t *spec = dapi_store_index_spec(i);
		snprintf(key, sizeof(key), "%d", missing++);
		BSON_APPEND_DOCUMENT(&list, key, spec);
		bson_destroy(spec);
	}
	bson_append_array_end(&cmd, &list);
	if (ok && missing > 0) {
		ok = mongoc_database_write_command_with_opts(db, &cmd, NULL, NULL, err);
		if (ok)
			DAPI_INFO("indexes_created", "{s:i}", "count", missing);
	}
	bson_destroy(&cmd);
	mongoc_collection_destroy(coll);
	mongoc_database_destroy(db);
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

/* False when the server's explain of a find with filter reports `filterPushdown: false`
 * (FerretDB; its SQLite backend reads every document for such a filter whatever indexes
 * exist). MongoDB's explain has no such field. An explain that fails says nothing: true.
 * filter is destroyed. */
static bool server_pushes_down(mongoc_client_t *client, const struct dapi_store *st, bson_t *filter)
{
	bson_t *cmd = BCON_NEW("explain", "{", "find", BCON_UTF8(st->collection), "filter",
	                       BCON_DOCUMENT(filter), "limit", BCON_INT32(1), "}");
	bson_t reply;
	bson_iter_t it;
	bool pushdown = true;

	if (mongoc_client_command_simple(client, st->db, cmd, NULL, &reply, NULL) &&
	    bson_iter_init_find(&it, &reply, "filterPushdown") && BSON_ITER_HOLDS_BOOL(&it))
		pushdown = bson_iter_bool(&it);
	bson_destroy(&reply);
	bson_destroy(cmd);
	bson_destroy(filter);
	return pushdown;
}

bool dapi_store_open(struct dapi_store *st, bson_error_t *err)
{
	mongoc_client_t *client = mongoc_client_pool_pop(st->pool);
	bool ferretdb = false, ok = server_is_ferretdb(client, &ferretdb, err);
	bool secondary = st->indexes == DAPI_INDEXES_ALL;

	if (ok && st->load_by == DAPI_LOAD_AUTO)
		st->load_by = ferretdb ? DAPI_LOAD_BY_ID : DAPI_LOAD_IN;
	if (ok && !secondary)
		secondary =
		        server_pushes_down(client, st, BCON_NEW(DAPI_DOC_CONSENT, BCON_BOOL(true)));
	if (ok)
		DAPI_INFO("store_server", "{s:b,s:s,s:s}", "ferretdb", ferretdb, "load_by",
		          st->load_by == DAPI_LOAD_BY_ID ? "id" : "in", "indexes",
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

/* ---- load ------------------------------------------------------------------------- */

static int64_t get_date(const bson_t *doc, const char *key)
{
	bson_iter_t it;
	return bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_DATE_TIME(&it)
	               ? bson_iter_date_time(&it)
	               : 0;
}

/* appliedThrough: {partition, offset} of the last event that changed the document. */
/* A whole number from an int32 or int64 field, within [0, max]. */
static bool get_count(const bson_iter_t *it, int64_t max, int64_t *out)
{
	if (!BSON_ITER_HOLDS_INT32(it) && !BSON_ITER_HOLDS_INT64(it))
		return false;
	*out = bson_iter_as_int64(it);
	return *out >= 0 && *out <= max;
}

/* appliedThrough as ingestd writes it ({partition, offset}, whole numbers, nothing else),
 * or absent; false for anything else: the write guard compares it, and a value that can
 * be neither read nor matched exactly would make every write a conflict. */
static bool parse_applied(struct dapi_dialog *d, const bson_t *doc)
{
	bson_iter_t it, f;
	int64_t partition = -1, offset = -1, v;

	if (!bson_iter_init_find(&it, doc, DAPI_DOC_APPLIED))
		return true;
	if (!BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &f))
		return false;
	while (bson_iter_next(&f)) {
		bool is_partition = !strcmp(bson_iter_key(&f), DAPI_DOC_PARTITION);
		if ((!is_partition && strcmp(bson_iter_key(&f), DAPI_DOC_OFFSET)) ||
		    !get_count(&f, is_partition ? INT32_MAX : INT64_MAX, &v))
			return false;
		*(is_partition ? &partition : &offset) = v;
	}
	if (partition < 0 || offset < 0)
		return false;
	d->doc.applied = (struct dapi_event_position){ true, (int32_t)partition, offset };
	return true;
}

static void append_applied(bson_t *doc, const struct dapi_dialog *d)
{
	bson_t pos;
	if (!d->doc.applied.known)
		return;
	BSON_APPEND_DOCUMENT_BEGIN(doc, DAPI_DOC_APPLIED, &pos);
	BSON_APPEND_INT32(&pos, DAPI_DOC_PARTITION, d->doc.applied.partition);
	BSON_APPEND_INT64(&pos, DAPI_DOC_OFFSET, d->doc.applied.offset);
	bson_append_document_end(doc, &pos);
}

bool dapi_store_parse_dialog(struct dapi_dialog *d, const bson_t *doc)
{
	bson_iter_t it, arr, el;
	int odd_languages = 0;

	d->loaded_bytes = doc->len;
	d->loaded_untrusted = !parse_applied(d, doc);
	d->loaded_applied = d->doc.applied;
	if (bson_iter_init_find(&it, doc, DAPI_DOC_REVOKED) && bson_iter_as_bool(&it)) {
		d->state = d->loaded_state = DAPI_DIALOG_TOMBSTONE;
		d->doc.revoked_at = get_date(doc, DAPI_DOC_REVOKED_AT);
		return true;
	}
	d->state = d->loaded_state =
	        bson_iter_init_find(&it, doc, DAPI_DOC_CONSENT) && bson_iter_as_bool(&it)
	                ? DAPI_DIALOG_CONSENTED
	                : DAPI_DIALOG_PENDING;
	/* A customerId that is not a valid id stays empty: no event's matches it, so every
	 * message for the dialog goes to the DLQ (customer_mismatch) instead of being mixed
	 * with a document nobody can vouch for. */
	if (bson_iter_init_find(&it, doc, DAPI_DOC_CUSTOMER_ID) && BSON_ITER_HOLDS_UTF8(&it)) {
		uint32_t len;
		const char *customer = bson_iter_utf8(&it, &len);
		if (dapi_valid_id(customer, len))
			memcpy(d->doc.customer_id, customer, len + 1);
	}
	d->doc.created_at = get_date(doc, DAPI_DOC_CREATED_AT);
	d->doc.last_message_at = get_date(doc, DAPI_DOC_LAST_MESSAGE_AT);
	d->doc.consented_at = get_date(doc, DAPI_DOC_CONSENTED_AT);
	/* languages is derived from the messages: an entry that is not a language tag is
	 * dropped here, and the next write stores the list without it. */
	if (bson_iter_init_find(&it, doc, DAPI_DOC_LANGUAGES) && BSON_ITER_HOLDS_ARRAY(&it) &&
	    bson_iter_recurse(&it, &arr)) {
		while (bson_iter_next(&arr)) {
			int rc = BSON_ITER_HOLDS_UTF8(&arr)
			                 ? dapi_dialog_add_language(d, bson_iter_utf8(&arr, NULL))
			                 : -2;
			if (rc == -1)
				return false;
			odd_languages += rc == -2;
		}
	}
	if (odd_languages > 0)
		DAPI_WARN("stored_languages_dropped", "{s:i}", "entries", odd_languages);
	if (bson_iter_init_find(&it, doc, DAPI_DOC_MESSAGES) && BSON_ITER_HOLDS_ARRAY(&it) &&
	    bson_iter_recurse(&it, &arr)) {
		while (bson_iter_next(&arr)) {
			const char *id = "";
			if (BSON_ITER_HOLDS_DOCUMENT(&arr) && bson_iter_recurse(&arr, &el) &&
			    bson_iter_find(&el, DAPI_MSG_EVENT_ID) && BSON_ITER_HOLDS_UTF8(&el))
				id = bson_iter_utf8(&el, NULL);
			if (dapi_dialog_add_loaded_id(d, id) < 0)
				return false;
		}
	}
	return true;
}

/* dialogs are sorted by id (dapi_store_load's contract): a binary search per document. */
static struct dapi_dialog *find_dialog(struct dapi_dialog *dialogs, size_t n, const char *id)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(dialogs[mid].id, id);
		if (c == 0)
			return &dialogs[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Reads every document of cursor into its dialog, then destroys the cursor. */
static bool read_loaded(mongoc_cursor_t *cursor, struct dapi_dialog *dialogs, size_t n,
                        bson_error_t *err)
{
	const bson_t *doc;
	bool ok = true;
	while (ok && mongoc_cursor_next(cursor, &doc)) {
		bson_iter_t it;
		struct dapi_dialog *d;
		if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_UTF8(&it))
			continue;
		d = find_dialog(dialogs, n, bson_iter_utf8(&it, NULL));
		if (d && !dapi_store_parse_dialog(d, doc)) {
			bson_set_error(err, MONGOC_ERROR_CLIENT,
			               MONGOC_ERROR_CLIENT_NO_ACCEPTABLE_PEER,
			               "out of memory loading a dialog");
			ok = false;
		}
	}
	if (ok && mongoc_cursor_error(cursor, err))
		ok = false;
	mongoc_cursor_destroy(cursor);
	return ok;
}

/* One query for the whole batch, everything in the first reply: no server-side cursor
 * stays open between round trips, so none is left behind if this process dies mid-read. */
static bool load_in(mongoc_collection_t *coll, struct dapi_dialog *dialogs, size_t n,
                    const bool *known, bson_error_t *err)
{
	bson_t filter = BSON_INITIALIZER, in, ids;
	uint32_t asked = 0;
	BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &in);
	BSON_APPEND_ARRAY_BEGIN(&in, "$in", &ids);
	for (size_t i = 0; i < n; i++) {
		const char *key;
		char buf[16];
		if (known && known[i])
			continue;
		size_t klen = bson_uint32_to_string(asked++, &key, buf, sizeof(buf));
		bson_append_utf8(&ids, key, (int)klen, dialogs[i].id, -1);
	}
	bson_append_array_end(&in, &ids);
	bson_append_document_end(&filter, &in);
	if (asked == 0) {
		bson_destroy(&filter);
		return true;
	}
	bson_t *opts = BCON_NEW("batchSize", BCON_INT64((int64_t)asked));
	bool ok = read_loaded(mongoc_collection_find_with_opts(coll, &filter, opts, NULL), dialogs,
	                      n, err);
	bson_destroy(opts);
	bson_destroy(&filter);
	return ok;
}

/* One query per dialog, by _id equality: the only filter FerretDB's SQLite backend answers
 * from an index ($in scans the collection: 14 s for 100 ids at 20,000 dialogs). */
static bool load_by_id(mongoc_collection_t *coll, struct dapi_dialog *dialogs, size_t n,
                       const bool *known, bson_error_t *err)
{
	bson_t *opts = BCON_NEW("limit", BCON_INT64(1), "singleBatch", BCON_BOOL(true));
	bool ok = true;
	for (size_t i = 0; ok && i < n; i++) {
		if (known && known[i])
			continue;
		bson_t filter = BSON_INITIALIZER;
		BSON_APPEND_UTF8(&filter, "_id", dialogs[i].id);
		ok = read_loaded(mongoc_collection_find_with_opts(coll, &filter, opts, NULL),
		                 &dialogs[i], 1, err);
		bson_destroy(&filter);
	}
	bson_destroy(opts);
	return ok;
}

bool dapi_store_load(struct dapi_store *st, struct dapi_dialog *dialogs, size_t n,
                     const bool *known, bson_error_t *err)
{
	mongoc_client_t *client = mongoc_client_pool_pop(st->pool);
	mongoc_collection_t *coll = mongoc_client_get_collection(client, st->db, st->collection);
	bool ok;

	for (size_t i = 0; i < n; i++) {
		const char *id = dialogs[i].id;
		if (known && known[i])
			continue;
		dapi_dialog_clear(&dialogs[i]);
		dapi_dialog_init(&dialogs[i], id);
	}
	ok = st->load_by == DAPI_LOAD_BY_ID ? load_by_id(coll, dialogs, n, known, err)
	                                    : load_in(coll, dialogs, n, known, err);
	mongoc_collection_destroy(coll);
	mongoc_client_pool_push(st->pool, client);
	return ok;
}

/* ---- write ------------------------------------------------------------------------ */

static void append_message(bson_t *arr, size_t i, const struct dapi_event *ev)
{
	const char *key;
	char buf[16];
	size_t klen = bson_uint32_to_string((uint32_t)i, &key, buf, sizeof(buf));
	bson_t m;
	bson_append_document_begin(arr, key, (int)klen, &m);
	BSON_APPEND_UTF8(&m, DAPI_MSG_EVENT_ID, ev->event_id);
	bson_append_utf8(&m, DAPI_MSG_TEXT, 4, ev->text, (int)ev->text_len);
	BSON_APPEND_UTF8(&m, DAPI_MSG_LANGUAGE, ev->language);
	BSON_APPEND_DATE_TIME(&m, DAPI_MSG_RECEIVED_AT, ev->received_at);
	bson_append_document_end(arr, &m);
}

static void append_messages(bson_t *doc, const char *key, const struct dapi_dialog *d)
{
	bson_t arr;
	bson_append_array_begin(doc, key, -1, &arr);
	for (size_t i = 0; i < d->n_added; i++)
		append_message(&arr, i, d->added[i]);
	bson_append_array_end(doc, &arr);
}

static void append_languages(bson_t *doc, const struct dapi_dialog *d)
{
	bson_t arr;
	BSON_APPEND_ARRAY_BEGIN(doc, DAPI_DOC_LANGUAGES, &arr);
	for (size_t i = 0; i < d->n_languages; i++) {
		const char *key;
		char buf[16];
		size_t klen = bson_uint32_to_string((uint32_t)i, &key, buf, sizeof(buf));
		bson_append_utf8(&arr, key, (int)klen, d->languages[i], -1);
	}
	bson_append_array_end(doc, &arr);
}

/* The fields that change when messages arrive or consent is given (appliedThrough too). */
static void append_mutable(bson_t *doc, const struct dapi_dialog *d)
{
	BSON_APPEND_BOOL(doc, DAPI_DOC_CONSENT, d->state == DAPI_DIALOG_CONSENTED);
	append_languages(doc, d);
	BSON_APPEND_DATE_TIME(doc, DAPI_DOC_LAST_MESSAGE_AT, d->doc.last_message_at);
	if (d->state == DAPI_DIALOG_CONSENTED)
		BSON_APPEND_DATE_TIME(doc, DAPI_DOC_CONSENTED_AT, d->doc.consented_at);
	append_applied(doc, d);
}

static void build_tombstone(bson_t *doc, const struct dapi_dialog *d)
{
	BSON_APPEND_UTF8(doc, "_id", d->id);
	BSON_APPEND_BOOL(doc, DAPI_DOC_REVOKED, true);
	BSON_APPEND_DATE_TIME(doc, DAPI_DOC_REVOKED_AT, d->doc.revoked_at);
	append_applied(doc, d);
}

static void build_full(bson_t *doc, const struct dapi_dialog *d)
{
	BSON_APPEND_UTF8(doc, "_id", d->id);
	BSON_APPEND_UTF8(doc, DAPI_DOC_CUSTOMER_ID, d->doc.customer_id);
	BSON_APPEND_DATE_TIME(doc, DAPI_DOC_CREATED_AT, d->doc.created_at);
	append_messages(doc, DAPI_DOC_MESSAGES, d);
	append_mutable(doc, d);
}

/* A compare-and-set: the update or replace matches only the document the write was
 * computed from, i.e. the same _id, not a tombstone, and the appliedThrough it was loaded
 * with (every write moves appliedThrough to a later offset of the dialog's partition, so
 * it is the document's version). Anything written since (another member that took the
 * partitions, the sweeper's delete, a revocation) makes it match nothing: a conflict,
 * and the consumer reloads and applies again, or gives up the batch when its partitions
 * are gone. This is what keeps a stale member's late write from landing on a newer state,
 * a tombstone above all. MongoDB serves it from the _id index; FerretDB's SQLite backend
 * does too with deploy/ferretdb-patch.sh (stock 1.24 scans the collection for any filter
 * beyond a lone _id: correct, but slow). */
static void build_guard(bson_t *filter, const struct dapi_dialog *d)
{
	bson_t absent;

	BSON_APPEND_UTF8(filter, "_id", d->id);
	BSON_APPEND_DOCUMENT_BEGIN(filter, DAPI_DOC_REVOKED, &absent);
	BSON_APPEND_BOOL(&absent, "$exists", false);
	bson_append_document_end(filter, &absent);
	if (d->loaded_applied.known) {
		BSON_APPEND_INT32(filter, DAPI_DOC_APPLIED "." DAPI_DOC_PARTITION,
		                  d->loaded_applied.partition);
		BSON_APPEND_INT64(filter, DAPI_DOC_APPLIED "." DAPI_DOC_OFFSET,
		                  d->loaded_applied.offset);
	} else {
		BSON_APPEND_DOCUMENT_BEGIN(filter, DAPI_DOC_APPLIED, &absent);
		BSON_APPEND_BOOL(&absent, "$exists", false);
		bson_append_document_end(filter, &absent);
	}
}

static void build_update(bson_t *update, const struct dapi_dialog *d)
{
	bson_t set, push, each;
	BSON_APPEND_DOCUMENT_BEGIN(update, "$set", &set);
	append_mutable(&set, d);
	bson_append_document_end(update, &set);
	if (d->n_added == 0)
		return;
	BSON_APPEND_DOCUMENT_BEGIN(update, "$push", &push);
	BSON_APPEND_DOCUMENT_BEGIN(&push, DAPI_DOC_MESSAGES, &each);
	append_messages(&each, "$each", d);
	bson_append_document_end(&push, &each);
	bson_append_document_end(update, &push);
}

/* Adds the write for one changed dialog; returns false when it would be too large. */
static bool add_op(mongoc_bulk_operation_t *bulk, const struct dapi_dialog *d, bool *is_insert)
{
	bson_t doc = BSON_INITIALIZER, filter = BSON_INITIALIZER;
	bool ok = true;

	*is_insert = d->loaded_state == DAPI_DIALOG_ABSENT;
	if (*is_insert) {
		if (d->state == DAPI_DIALOG_TOMBSTONE)
			build_tombstone(&doc, d);
		else
			build_full(&doc, d);
		ok = doc.len < DAPI_DOC_MAX_BYTES &&
		     mongoc_bulk_operation_insert_with_opts(bulk, &doc, NULL, NULL);
	} else {
		build_guard(&filter, d);
		if (d->state == DAPI_DIALOG_TOMBSTONE) {
			build_tombstone(&doc, d);
			ok = mongoc_bulk_operation_replace_one_with_opts(bulk, &filter, &doc, NULL,
			                                                 NULL);
		} else {
			build_update(&doc, d);
			ok = d->loaded_bytes + doc.len < DAPI_DOC_MAX_BYTES &&
			     mongoc_bulk_operation_update_one_with_opts(bulk, &filter, &doc, NULL,
			                                                NULL);
		}
	}
	bson_destroy(&doc);
	bson_destroy(&filter);
	return ok;
}

/* Reads writeErrors: duplicate keys are conflicts, some codes transient, the rest reject
 * the dialog for good. */
static enum dapi_write_status read_write_errors(const bson_t *reply, const size_t *op_dialog,
                                                size_t nops, const char **rejected,
                                                size_t *n_failed_updates, const bool *op_insert,
                                                size_t *n_errors)
{
	enum dapi_write_status status = DAPI_WRITE_OK;
	bson_iter_t it, arr, el;

	if (!bson_iter_init_find(&it, reply, "writeErrors") || !BSON_ITER_HOLDS_ARRAY(&it) ||
	    !bson_iter_recurse(&it, &arr))
		return status;
	while (bson_iter_next(&arr)) {
		int32_t index = -1, code = 0;
		if (!bson_iter_recurse(&arr, &el))
			continue;
		while (bson_iter_next(&el)) {
			int64_t v = BSON_ITER_HOLDS_NUMBER(&el) ? bson_iter_as_int64(&el) : -1;
			if (!strcmp(bson_iter_key(&el), "index"))
				index = v >= 0 && v < (int64_t)nops ? (int32_t)v : -1;
			else if (!strcmp(bson_iter_key(&el), "code"))
				code = v >= 0 && v <= INT32_MAX ? (int32_t)v : 0;
		}
		/* a reply that names no operation of ours is not a verdict on our data */
		if (index < 0)
			return DAPI_WRITE_TRANSIENT;
		(*n_errors)++;
		if (!op_insert[index])
			(*n_failed_updates)++;
		if (code == 11000) {
			if (status == DAPI_WRITE_OK)
				status = DAPI_WRITE_CONFLICT;
		} else if (dapi_mongo_code_transient(code)) {
			status = DAPI_WRITE_TRANSIENT;
		} else {
			rejected[op_dialog[index]] = "store_rejected";
		}
	}
	return status;
}

/* Writes the changed dialogs from dialogs[*next] on in one unordered bulk of at most
 * WRITE_CHUNK operations; *next receives the first dialog it did not reach. */
static enum dapi_write_status write_chunk(mongoc_collection_t *coll, struct dapi_dialog *dialogs,
                                          size_t n, size_t *next, const char **rejected,
                                          bson_error_t *err)
{
	size_t op_dialog[WRITE_CHUNK], nops = 0, nupdates = 0, i;
	bool op_insert[WRITE_CHUNK];
	enum dapi_write_status status = DAPI_WRITE_OK;
	bson_t opts = BSON_INITIALIZER, reply;
	mongoc_bulk_operation_t *bulk;

	BSON_APPEND_BOOL(&opts, "ordered", false);
	bulk = mongoc_collection_create_bulk_operation_with_opts(coll, &opts);
	for (i = *next; i < n && nops < WRITE_CHUNK; i++) {
		if (!dapi_dialog_changed(&dialogs[i]))
			continue;
		if (dialogs[i].loaded_untrusted) { /* its version cannot be compared: DLQ */
			rejected[i] = "store_untrusted";
			continue;
		}
		if (!add_op(bulk, &dialogs[i], &op_insert[nops])) {
			rejected[i] = "dialog_too_large";
			continue;
		}
		if (!op_insert[nops])
			nupdates++;
		op_dialog[nops++] = i;
	}
	*next = i;
	if (nops > 0) {
		size_t failed_updates = 0, n_errors = 0;
		bson_iter_t wce;
		uint32_t wce_len = 0;
		const uint8_t *wce_data;
		bool ok = mongoc_bulk_operation_execute(bulk, &reply, err) != 0;
		status = read_write_errors(&reply, op_dialog, nops, rejected, &failed_updates,
		                           op_insert, &n_errors);
		/* A failure without any write error (the reply carries writeErrors even when it
		 * is empty) is the connection or the server, not the data: retry later. */
		if (!ok && n_errors == 0)
			status = DAPI_WRITE_TRANSIENT;
		if (bson_iter_init_find(&wce, &reply, "writeConcernErrors") &&
		    BSON_ITER_HOLDS_ARRAY(&wce))
			bson_iter_array(&wce, &wce_len, &wce_data);
		if (wce_len > 5) /* not the 5-byte empty array */
			status = DAPI_WRITE_TRANSIENT;
		if (status == DAPI_WRITE_OK) {
			bson_iter_t it;
			int64_t matched = bson_iter_init_find(&it, &reply, "nMatched")
			                          ? bson_iter_as_int64(&it)
			                          : 0;
			if ((size_t)matched + failed_updates < nupdates)
				status = DAPI_WRITE_CONFLICT;
		}
		bson_destroy(&reply);
	}
	mongoc_bulk_operation_destroy(bulk);
	bson_destroy(&opts);
	return status;
}

enum dapi_write_status dapi_store_write(struct dapi_store *st, struct dapi_dialog *dialogs,
                                        size_t n, const char **rejected, bson_error_t *err)
{
	mongoc_client_t *client = mongoc_client_pool_pop(st->pool);
	mongoc_collection_t *coll = mongoc_client_get_collection(client, st->db, st->collection);
	enum dapi_write_status status = DAPI_WRITE_OK;

	for (size_t i = 0; i < n; i++)
		rejected[i] = NULL;
	/* Chunks written before a conflict stay written: applying the batch again to the
	 * reloaded dialogs finds their events present and changes nothing there. */
	for (size_t next = 0; next < n && status != DAPI_WRITE_TRANSIENT;) {
		enum dapi_write_status s = write_chunk(coll, dialogs, n, &next, rejected, err);
		if (s > status)
			status = s;
	}
	mongoc_collection_destroy(coll);
	mongoc_client_pool_push(st->pool, client);
	return status;
}

/* ---- sweeper ---------------------------------------------------------------------- */

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
	mongoc_client_t *client = mongoc_client_pool_pop(st->pool);
	mongoc_collection_t *coll = mongoc_client_get_collection(client, st->db, st->collection);
	bool ok = delete_many(coll,
	                      BCON_NEW(DAPI_DOC_CONSENT, BCON_BOOL(false), DAPI_DOC_LAST_MESSAGE_AT,
	                               "{", "$lt", BCON_DATE_TIME(pending_before), "}"),
	                      pending, err) &&
	          delete_many(coll,
	                      BCON_NEW(DAPI_DOC_REVOKED, BCON_BOOL(true), DAPI_DOC_REVOKED_AT, "{",
	                               "$lt", BCON_DATE_TIME(tombstone_before), "}"),
	                      tombstones, err);
	mongoc_collection_destroy(coll);
	mongoc_client_pool_push(st->pool, client);
	return ok;
}
