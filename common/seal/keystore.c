#include "keystore.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"
#include "mongo.h"
#include "timefmt.h"

struct dapi_keystore {
	struct dapi_keystore_config cfg;
	char db[64], collection[64];
	pthread_mutex_t lock;         /* guards the two below */
	int64_t lapse, lapse_read_ms; /* lapse_ms's: the last value, when it was read */
};

struct dapi_keystore *dapi_keystore_new(const struct dapi_keystore_config *cfg)
{
	struct dapi_keystore *ks = calloc(1, sizeof(*ks));
	if (!ks)
		return NULL;
	ks->cfg = *cfg;
	snprintf(ks->db, sizeof(ks->db), "%s", cfg->db);
	snprintf(ks->collection, sizeof(ks->collection), "%s", cfg->collection);
	ks->cfg.db = ks->db;
	ks->cfg.collection = ks->collection;
	pthread_mutex_init(&ks->lock, NULL);
	return ks;
}

void dapi_keystore_one_by_one(struct dapi_keystore *ks, bool on)
{
	ks->cfg.one_by_one = on;
}

void dapi_keystore_destroy(struct dapi_keystore *ks)
{
	if (ks)
		pthread_mutex_destroy(&ks->lock);
	free(ks);
}

static mongoc_collection_t *get_coll(struct dapi_keystore *ks, mongoc_client_t **client)
{
	*client = mongoc_client_pool_pop(ks->cfg.pool);
	return mongoc_client_get_collection(*client, ks->db, ks->collection);
}

static void put_coll(struct dapi_keystore *ks, mongoc_client_t *client, mongoc_collection_t *c)
{
	mongoc_collection_destroy(c);
	mongoc_client_pool_push(ks->cfg.pool, client);
}

/* Unwraps the key document doc of dialog_id into dek. */
static enum dapi_key_status unwrap_doc(const struct dapi_keystore *ks, const char *dialog_id,
                                       const bson_t *doc, uint8_t dek[DAPI_AEAD_KEY])
{
	bson_iter_t it;
	const char *master = NULL;
	const uint8_t *wrapped = NULL;
	uint32_t len = 0;
	bson_subtype_t sub;

	if (bson_iter_init_find(&it, doc, DAPI_KEY_MASTER) && BSON_ITER_HOLDS_UTF8(&it))
		master = bson_iter_utf8(&it, NULL);
	if (bson_iter_init_find(&it, doc, DAPI_KEY_WRAPPED) && BSON_ITER_HOLDS_BINARY(&it))
		bson_iter_binary(&it, &sub, &len, &wrapped);
	if (!master || !wrapped)
		return DAPI_KEY_INVALID;
	switch (dapi_dek_unwrap(ks->cfg.mk, master, dialog_id, wrapped, len, dek)) {
	case DAPI_UNWRAP_OK:
		return DAPI_KEY_OK;
	case DAPI_UNWRAP_UNKNOWN_MASTER:
		return DAPI_KEY_UNKNOWN_MASTER;
	default:
		return DAPI_KEY_INVALID;
	}
}

/* The person tag under the master key with that id, after what doc holds (nothing when
 * person is NULL or the id is unknown). */
static void append_person(bson_t *doc, const struct dapi_master_keys *mk, const char *master,
                          const char *person)
{
	uint8_t tag[DAPI_TAG_LEN];
	for (int i = 0; person && i < mk->n; i++)
		if (!strcmp(mk->keys[i].id, master) &&
		    dapi_master_tag(mk, i, "person", person, tag))
			BSON_APPEND_BINARY(doc, DAPI_KEY_PERSON, BSON_SUBTYPE_BINARY, tag,
			                   sizeof(tag));
}

/* {$setOnInsert: {master, wrapped, createdAt, person}, $max: {usedAt: now}} for a fresh key. */
static bool new_key_update(const struct dapi_keystore *ks, const char *dialog_id,
                           const char *person, int64_t now, bson_t *update)
{
	uint8_t dek[DAPI_AEAD_KEY], wrapped[DAPI_DEK_WRAPPED];
	const char *master;
	bool ok = dapi_random(dek, sizeof(dek)) &&
	          dapi_dek_wrap(ks->cfg.mk, dialog_id, dek, wrapped, &master);
	OPENSSL_cleanse(dek, sizeof(dek));
	if (!ok)
		return false;
	bson_t set, max;
	BSON_APPEND_DOCUMENT_BEGIN(update, "$setOnInsert", &set);
	BSON_APPEND_UTF8(&set, DAPI_KEY_MASTER, master);
	BSON_APPEND_BINARY(&set, DAPI_KEY_WRAPPED, BSON_SUBTYPE_BINARY, wrapped, sizeof(wrapped));
	BSON_APPEND_DATE_TIME(&set, DAPI_KEY_CREATED_AT, now);
	BSON_APPEND_BOOL(&set, DAPI_KEY_CONSENTED, false);
	append_person(&set, ks->cfg.mk, master, person);
	bson_append_document_end(update, &set);
	BSON_APPEND_DOCUMENT_BEGIN(update, "$max", &max);
	BSON_APPEND_DATE_TIME(&max, DAPI_KEY_USED_AT, now);
	bson_append_document_end(update, &max);
	return true;
}

/* {consented: false, usedAt: {$lt: before}}, after what filter holds: a key of a dialog
 * that never consented and has been quiet since before. */
static void append_quiet(bson_t *filter, int64_t before)
{
	bson_t lt;
	BSON_APPEND_BOOL(filter, DAPI_KEY_CONSENTED, false);
	BSON_APPEND_DOCUMENT_BEGIN(filter, DAPI_KEY_USED_AT, &lt);
	BSON_APPEND_DATE_TIME(&lt, "$lt", before);
	bson_append_document_end(filter, &lt);
}

/* One findAndModify upsert of the dialog's key, unless it lapsed (lapsed_before > 0: a
 * key quiet since then does not match, and the upsert fails on its _id instead); the
 * document after it in *reply (the caller destroys it). */
static bool upsert_key(mongoc_collection_t *coll, const char *dialog_id, int64_t lapsed_before,
                       const bson_t *update, bson_t *reply, bson_error_t *err)
{
	bson_t query = BSON_INITIALIZER, or, alive, ne, gte;
	mongoc_find_and_modify_opts_t *opts = mongoc_find_and_modify_opts_new();
	BSON_APPEND_UTF8(&query, "_id", dialog_id);
	if (lapsed_before > 0) { /* {$or: [{consented: {$ne: false}}, {usedAt: {$gte: t}}]} */
		BSON_APPEND_ARRAY_BEGIN(&query, "$or", & or);
		BSON_APPEND_DOCUMENT_BEGIN(& or, "0", &alive);
		BSON_APPEND_DOCUMENT_BEGIN(&alive, DAPI_KEY_CONSENTED, &ne);
		BSON_APPEND_BOOL(&ne, "$ne", false);
		bson_append_document_end(&alive, &ne);
		bson_append_document_end(& or, &alive);
		BSON_APPEND_DOCUMENT_BEGIN(& or, "1", &alive);
		BSON_APPEND_DOCUMENT_BEGIN(&alive, DAPI_KEY_USED_AT, &gte);
		BSON_APPEND_DATE_TIME(&gte, "$gte", lapsed_before);
		bson_append_document_end(&alive, &gte);
		bson_append_document_end(& or, &alive);
		bson_append_array_end(&query, & or);
	}
	mongoc_find_and_modify_opts_set_update(opts, update);
	mongoc_find_and_modify_opts_set_flags(opts, MONGOC_FIND_AND_MODIFY_UPSERT |
	                                                    MONGOC_FIND_AND_MODIFY_RETURN_NEW);
	bool ok = mongoc_collection_find_and_modify_with_opts(coll, &query, opts, reply, err);
	mongoc_find_and_modify_opts_destroy(opts);
	bson_destroy(&query);
	return ok;
}

static bool new_key_doc(const struct dapi_keystore *ks, const char *dialog_id, const char *person,
                        int64_t now, uint8_t dek[DAPI_AEAD_KEY], bson_t *doc);

/* Replaces the lapsed key of dialog_id (still quiet since lapsed_before) by a fresh one,
 * into dek. OK, ABSENT when no lapsed key was there any more (another replica replaced or
 * used it: ask again), UNAVAILABLE on a store error. */
static enum dapi_key_status replace_lapsed(struct dapi_keystore *ks, mongoc_collection_t *coll,
                                           const char *dialog_id, const char *person, int64_t now,
                                           int64_t lapsed_before, uint8_t dek[DAPI_AEAD_KEY],
                                           bson_error_t *err)
{
	bson_t filter = BSON_INITIALIZER, doc = BSON_INITIALIZER, reply;
	bson_iter_t it;
	enum dapi_key_status st = DAPI_KEY_UNAVAILABLE;
	BSON_APPEND_UTF8(&filter, "_id", dialog_id);
	append_quiet(&filter, lapsed_before);
	if (!new_key_doc(ks, dialog_id, person, now, dek, &doc))
		bson_set_error(err, 0, 0, "no random bytes for a data key");
	else if (mongoc_collection_replace_one(coll, &filter, &doc, NULL, &reply, err))
		st = bson_iter_init_find(&it, &reply, "modifiedCount") &&
		                     bson_iter_as_int64(&it) == 1
		             ? DAPI_KEY_OK
		             : DAPI_KEY_ABSENT;
	else
		bson_init(&reply);
	if (st != DAPI_KEY_OK)
		OPENSSL_cleanse(dek, DAPI_AEAD_KEY);
	bson_destroy(&reply);
	bson_destroy(&doc);
	bson_destroy(&filter);
	return st;
}

static bool read_published_ttl(struct dapi_keystore *ks, int64_t *ttl);

/* The pending TTL the key store's sweeper published, re-read at most once a minute: a key
 * quiet for that, plus an ingress's key cache and the allowed clock skew, is a lapsed
 * dialog's (0: not known, no key lapses). */
static int64_t lapse_ms(struct dapi_keystore *ks)
{
	int64_t now = dapi_time_mono_ms(), ttl = 0;
	pthread_mutex_lock(&ks->lock);
	bool stale = ks->lapse_read_ms == 0 || now - ks->lapse_read_ms >= 60 * 1000;
	if (stale)
		ks->lapse_read_ms = now; /* one reader at a time; the others use the last value */
	int64_t lapse = ks->lapse;
	pthread_mutex_unlock(&ks->lock);
	if (stale && read_published_ttl(ks, &ttl)) {
		lapse = ttl > 0 ? ttl + DAPI_KEY_CACHE_TTL_MS + DAPI_KEY_SKEW_MS : 0;
		pthread_mutex_lock(&ks->lock);
		ks->lapse = lapse;
		pthread_mutex_unlock(&ks->lock);
	}
	return lapse;
}

/* The key document in a findAndModify reply, unwrapped into dek; UNAVAILABLE when the
 * reply holds none. */
static enum dapi_key_status reply_key(const struct dapi_keystore *ks, const char *dialog_id,
                                      const bson_t *reply, uint8_t dek[DAPI_AEAD_KEY])
{
	bson_iter_t it;
	bson_t value;
	const uint8_t *data;
	uint32_t len;
	if (!bson_iter_init_find(&it, reply, "value") || !BSON_ITER_HOLDS_DOCUMENT(&it))
		return DAPI_KEY_UNAVAILABLE;
	bson_iter_document(&it, &len, &data);
	return bson_init_static(&value, data, len) ? unwrap_doc(ks, dialog_id, &value, dek)
	                                           : DAPI_KEY_UNAVAILABLE;
}

enum dapi_key_status dapi_keystore_get_or_create(struct dapi_keystore *ks, const char *dialog_id,
                                                 const char *person, uint8_t dek[DAPI_AEAD_KEY],
                                                 bool *replaced, bson_error_t *err)
{
	mongoc_client_t *client;
	mongoc_collection_t *coll = get_coll(ks, &client);
	enum dapi_key_status status = DAPI_KEY_UNAVAILABLE;
	int64_t now = dapi_time_now_ms(), lapse = lapse_ms(ks);
	int64_t lapsed_before = lapse > 0 ? now - lapse : 0;
	bson_t update = BSON_INITIALIZER, reply;

	*replaced = false;
	if (!new_key_update(ks, dialog_id, person, now, &update)) {
		bson_set_error(err, 0, 0, "no random bytes for a data key");
		goto out;
	}
	/* Two replicas creating the same dialog's key at once: one upsert may fail on the
	 * unique _id; the next attempt finds the winner's key. A lapsed key fails the upsert
	 * the same way: it is replaced (once, by one replica) and the next attempt finds the
	 * replacement. */
	for (int attempt = 0; attempt < 3 && status == DAPI_KEY_UNAVAILABLE; attempt++) {
		bool ok = upsert_key(coll, dialog_id, lapsed_before, &update, &reply, err);
		if (ok)
			status = reply_key(ks, dialog_id, &reply, dek);
		bson_destroy(&reply);
		if (ok && status == DAPI_KEY_UNAVAILABLE) {
			bson_set_error(err, 0, 0, "findAndModify returned no key document");
			break;
		}
		if (!ok && err->code == 11000 && lapsed_before > 0) {
			status = replace_lapsed(ks, coll, dialog_id, person, now, lapsed_before,
			                        dek, err);
			*replaced = status == DAPI_KEY_OK;
			if (status == DAPI_KEY_ABSENT)
				status = DAPI_KEY_UNAVAILABLE; /* ask again */
			else if (status == DAPI_KEY_UNAVAILABLE)
				break;
		}
	}
out:
	bson_destroy(&update);
	put_coll(ks, client, coll);
	return status;
}

/* {_id, master, wrapped, createdAt, usedAt, consented, person} of a fresh key for dialog_id;
 * dek receives it. */
static bool new_key_doc(const struct dapi_keystore *ks, const char *dialog_id, const char *person,
                        int64_t now, uint8_t dek[DAPI_AEAD_KEY], bson_t *doc)
{
	uint8_t wrapped[DAPI_DEK_WRAPPED];
	const char *master;
	if (!dapi_random(dek, DAPI_AEAD_KEY) ||
	    !dapi_dek_wrap(ks->cfg.mk, dialog_id, dek, wrapped, &master))
		return false;
	BSON_APPEND_UTF8(doc, "_id", dialog_id);
	BSON_APPEND_UTF8(doc, DAPI_KEY_MASTER, master);
	BSON_APPEND_BINARY(doc, DAPI_KEY_WRAPPED, BSON_SUBTYPE_BINARY, wrapped, sizeof(wrapped));
	BSON_APPEND_DATE_TIME(doc, DAPI_KEY_CREATED_AT, now);
	BSON_APPEND_DATE_TIME(doc, DAPI_KEY_USED_AT, now);
	BSON_APPEND_BOOL(doc, DAPI_KEY_CONSENTED, false);
	append_person(doc, ks->cfg.mk, master, person);
	return true;
}

/* Marks status[index] ABSENT for each duplicate-key error of an insertMany reply; false
 * when the reply holds any other error (or names no insert of ours). */
static bool read_duplicates(const bson_t *reply, size_t n, enum dapi_key_status *status)
{
	bson_iter_t it, arr, el;
	if (!bson_iter_init_find(&it, reply, "writeErrors") || !BSON_ITER_HOLDS_ARRAY(&it) ||
	    !bson_iter_recurse(&it, &arr))
		return true;
	while (bson_iter_next(&arr)) {
		int64_t index = -1, code = 0;
		if (!bson_iter_recurse(&arr, &el))
			return false;
		while (bson_iter_next(&el)) {
			if (!strcmp(bson_iter_key(&el), "index") && BSON_ITER_HOLDS_NUMBER(&el))
				index = bson_iter_as_int64(&el);
			else if (!strcmp(bson_iter_key(&el), "code") && BSON_ITER_HOLDS_NUMBER(&el))
				code = bson_iter_as_int64(&el);
		}
		if (index < 0 || index >= (int64_t)n || code != 11000)
			return false;
		status[index] = DAPI_KEY_ABSENT;
	}
	return true;
}

/* One unordered insertMany of docs[0..n); a duplicate's status[i] becomes ABSENT. */
static bool insert_keys(struct dapi_keystore *ks, const bson_t **docs, size_t n,
                        enum dapi_key_status *status, bson_error_t *err)
{
	mongoc_client_t *client;
	mongoc_collection_t *coll = get_coll(ks, &client);
	bson_t opts = BSON_INITIALIZER, reply;
	BSON_APPEND_BOOL(&opts, "ordered", false);
	bool sent = mongoc_collection_insert_many(coll, docs, n, &opts, &reply, err);
	/* a failure that is not only duplicates is the store's, not a verdict */
	bool ok = read_duplicates(&reply, n, status) &&
	          (sent || bson_has_field(&reply, "writeErrors"));
	bson_destroy(&reply);
	bson_destroy(&opts);
	put_coll(ks, client, coll);
	return ok;
}

bool dapi_keystore_create_many(struct dapi_keystore *ks, const char *const *ids,
                               const char *const *persons, size_t n, uint8_t (*deks)[DAPI_AEAD_KEY],
                               enum dapi_key_status *status, bson_error_t *err)
{
	bson_t *docs = calloc(n ? n : 1, sizeof(*docs));
	const bson_t **ptrs = calloc(n ? n : 1, sizeof(*ptrs));
	int64_t now = dapi_time_now_ms();
	bool ok = docs && ptrs;

	for (size_t i = 0; ok && i < n; i++) {
		bson_init(&docs[i]);
		ptrs[i] = &docs[i];
		status[i] = DAPI_KEY_OK;
	}
	for (size_t i = 0; ok && i < n; i++)
		ok = new_key_doc(ks, ids[i], persons ? persons[i] : NULL, now, deks[i], &docs[i]);
	if (!ok) {
		bson_set_error(err, 0, 0, "out of memory or no random bytes for data keys");
	} else if (n > 0) {
		ok = insert_keys(ks, ptrs, n, status, err);
	}
	for (size_t i = 0; docs && ptrs && i < n; i++)
		bson_destroy(&docs[i]);
	free(docs);
	free(ptrs);
	return ok;
}

/* Reads a cursor of key documents into the slots of the ids they name. */
static bool read_keys(struct dapi_keystore *ks, mongoc_cursor_t *cur, const char *const *ids,
                      size_t n, uint8_t (*deks)[DAPI_AEAD_KEY], enum dapi_key_status *status,
                      int64_t *created, bson_error_t *err)
{
	const bson_t *doc;
	bson_iter_t it;
	while (mongoc_cursor_next(cur, &doc)) {
		if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_UTF8(&it))
			continue;
		const char *id = bson_iter_utf8(&it, NULL);
		for (size_t i = 0; i < n; i++) {
			if (strcmp(ids[i], id))
				continue;
			status[i] = unwrap_doc(ks, ids[i], doc, deks[i]);
			if (created && bson_iter_init_find(&it, doc, DAPI_KEY_CREATED_AT) &&
			    BSON_ITER_HOLDS_DATE_TIME(&it))
				created[i] = bson_iter_date_time(&it);
		}
	}
	return !mongoc_cursor_error(cur, err);
}

/* {_id: id} or {_id: {$in: ids}} */
static void ids_filter(const char *const *ids, size_t n, bson_t *filter)
{
	if (n == 1)
		BSON_APPEND_UTF8(filter, "_id", ids[0]);
	else
		dapi_mongo_append_in(filter, "_id", ids, n);
}

bool dapi_keystore_find(struct dapi_keystore *ks, const char *const *ids, size_t n,
                        uint8_t (*deks)[DAPI_AEAD_KEY], enum dapi_key_status *status,
                        int64_t *created, bson_error_t *err)
{
	mongoc_client_t *client;
	mongoc_collection_t *coll = get_coll(ks, &client);
	size_t step = ks->cfg.one_by_one ? 1 : n;
	bool ok = true;

	for (size_t i = 0; i < n; i++) {
		status[i] = DAPI_KEY_ABSENT;
		if (created)
			created[i] = 0;
	}
	for (size_t at = 0; ok && at < n; at += step) {
		bson_t filter = BSON_INITIALIZER;
		ids_filter(ids + at, step, &filter);
		mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, &filter, NULL, NULL);
		ok = read_keys(ks, cur, ids + at, step, deks + at, status + at,
		               created ? created + at : NULL, err);
		mongoc_cursor_destroy(cur);
		bson_destroy(&filter);
	}
	put_coll(ks, client, coll);
	return ok;
}

/* {_id: id, createdAt: {op: at}} */
static void created_filter(bson_t *filter, const char *id, const char *op, int64_t at)
{
	bson_t cmp;
	BSON_APPEND_UTF8(filter, "_id", id);
	BSON_APPEND_DOCUMENT_BEGIN(filter, DAPI_KEY_CREATED_AT, &cmp);
	BSON_APPEND_DATE_TIME(&cmp, op, at);
	bson_append_document_end(filter, &cmp);
}

/* Runs an unordered bulk of one operation an id (by _id: an index lookup on every server),
 * when built (ok), adds the reply's count field to *count, and destroys it either way. */
static bool run_bulk(mongoc_bulk_operation_t *bulk, bool ok, const char *field, int64_t *count,
                     bson_error_t *err)
{
	bson_t reply = BSON_INITIALIZER;
	bson_iter_t it;
	ok = ok && mongoc_bulk_operation_execute(bulk, &reply, err) != 0;
	if (ok && count && bson_iter_init_find(&it, &reply, field))
		*count += bson_iter_as_int64(&it);
	bson_destroy(&reply);
	mongoc_bulk_operation_destroy(bulk);
	return ok;
}

static mongoc_bulk_operation_t *unordered_bulk(mongoc_collection_t *coll)
{
	bson_t opts = BSON_INITIALIZER;
	BSON_APPEND_BOOL(&opts, "ordered", false);
	mongoc_bulk_operation_t *bulk =
	        mongoc_collection_create_bulk_operation_with_opts(coll, &opts);
	bson_destroy(&opts);
	return bulk;
}

/* Operations a bulk command carries on FerretDB: its SQLite backend keeps each filtered
 * update's or delete's query open until the whole command ends, and a command of about
 * 100 of them waits forever for a connection of its own pool (FerretDB 1.24; the key store
 * then stops answering anyone). MongoDB takes a batch's operations in one command. */
#define FERRETDB_BULK_MAX 32

/* Adds operation i (mark or delete) of a bulk to it. */
typedef bool (*bulk_op)(mongoc_bulk_operation_t *bulk, const char *id, int64_t at,
                        const bson_t *update, bson_error_t *err);

/* Runs op over ids[0..n) as unordered bulks (of FERRETDB_BULK_MAX on FerretDB), adding each
 * reply's `field` to *count (may be NULL). */
static bool run_chunked(struct dapi_keystore *ks, const char *const *ids, const int64_t *at,
                        size_t n, bulk_op op, const bson_t *update, const char *field,
                        int64_t *count, bson_error_t *err)
{
	size_t step = ks->cfg.one_by_one ? FERRETDB_BULK_MAX : n;
	mongoc_client_t *client;
	mongoc_collection_t *coll = get_coll(ks, &client);
	bool ok = true;
	for (size_t from = 0; ok && from < n; from += step) {
		mongoc_bulk_operation_t *bulk = unordered_bulk(coll);
		for (size_t i = from; ok && i < n && i < from + step; i++)
			ok = op(bulk, ids[i], at[i], update, err);
		ok = run_bulk(bulk, ok, field, count, err);
	}
	put_coll(ks, client, coll);
	return ok;
}

static bool mark_one(mongoc_bulk_operation_t *bulk, const char *id, int64_t created_by,
                     const bson_t *update, bson_error_t *err)
{
	bson_t filter = BSON_INITIALIZER, ne;
	created_filter(&filter, id, "$lte", created_by);
	BSON_APPEND_DOCUMENT_BEGIN(&filter, DAPI_KEY_CONSENTED, &ne);
	BSON_APPEND_BOOL(&ne, "$ne", true);
	bson_append_document_end(&filter, &ne);
	bool ok = mongoc_bulk_operation_update_one_with_opts(bulk, &filter, update, NULL, err);
	bson_destroy(&filter);
	return ok;
}

static bool delete_one(mongoc_bulk_operation_t *bulk, const char *id, int64_t created_before,
                       const bson_t *update, bson_error_t *err)
{
	bson_t filter = BSON_INITIALIZER;
	created_filter(&filter, id, "$lt", created_before);
	bool ok = mongoc_bulk_operation_remove_one_with_opts(bulk, &filter, NULL, err);
	bson_destroy(&filter);
	return ok;
}

bool dapi_keystore_mark_consented(struct dapi_keystore *ks, const char *const *ids,
                                  const int64_t *created_by, size_t n, bson_error_t *err)
{
	bson_t *update = BCON_NEW("$set", "{", DAPI_KEY_CONSENTED, BCON_BOOL(true),
	                          DAPI_KEY_CONSENTED_AT, BCON_DATE_TIME(dapi_time_now_ms()), "}");
	bool ok = run_chunked(ks, ids, created_by, n, mark_one, update, "nModified", NULL, err);
	bson_destroy(update);
	return ok;
}

bool dapi_keystore_delete_revoked(struct dapi_keystore *ks, const char *const *ids,
                                  const int64_t *created_before, size_t n, int64_t *deleted,
                                  bson_error_t *err)
{
	int64_t count = 0;
	bool ok =
	        run_chunked(ks, ids, created_before, n, delete_one, NULL, "nRemoved", &count, err);
	if (deleted)
		*deleted = count;
	return ok;
}

bool dapi_keystore_delete_unconsented(struct dapi_keystore *ks, const char *const *ids, size_t n,
                                      int64_t used_before, int64_t *deleted, bson_error_t *err)
{
	int64_t count = 0;
	bool ok = true;
	if (n > 0) {
		mongoc_client_t *client;
		mongoc_collection_t *coll = get_coll(ks, &client);
		bson_t *filter = bson_new();
		ids_filter(ids, n, filter);
		append_quiet(filter, used_before);
		ok = dapi_mongo_delete_many(coll, filter, &count, err);
		put_coll(ks, client, coll);
	}
	if (deleted)
		*deleted = count;
	return ok;
}

/* Up to max ids of the keys filter matches after `after`, in _id order (filter is
 * destroyed). */
static bool list_ids(struct dapi_keystore *ks, bson_t *filter, const char *after, char *ids,
                     size_t max, size_t *n, bson_error_t *err)
{
	mongoc_client_t *client;
	mongoc_collection_t *coll = get_coll(ks, &client);
	BCON_APPEND(filter, "_id", "{", "$gt", BCON_UTF8(after), "}");
	bson_t *opts = BCON_NEW("projection", "{", "_id", BCON_INT32(1), "}", "sort", "{", "_id",
	                        BCON_INT32(1), "}", "limit", BCON_INT64((int64_t)max));
	mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
	const bson_t *doc;
	bson_iter_t it;

	*n = 0;
	while (*n < max && mongoc_cursor_next(cur, &doc)) {
		uint32_t len;
		if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_UTF8(&it))
			continue;
		const char *id = bson_iter_utf8(&it, &len);
		if (len <= 128)
			memcpy(ids + (*n)++ * 129, id, len + 1);
	}
	bool ok = !mongoc_cursor_error(cur, err);
	mongoc_cursor_destroy(cur);
	bson_destroy(opts);
	bson_destroy(filter);
	put_coll(ks, client, coll);
	return ok;
}

bool dapi_keystore_delete_consented(struct dapi_keystore *ks, int64_t used_before, int64_t *deleted,
                                    bson_error_t *err)
{
	mongoc_client_t *client;
	mongoc_collection_t *coll = get_coll(ks, &client);
	bool ok = dapi_mongo_delete_many(coll,
	                                 BCON_NEW(DAPI_KEY_CONSENTED, BCON_BOOL(true),
	                                          DAPI_KEY_USED_AT, "{", "$lt",
	                                          BCON_DATE_TIME(used_before), "}"),
	                                 deleted, err);
	put_coll(ks, client, coll);
	return ok;
}

bool dapi_keystore_unused_ids(struct dapi_keystore *ks, int64_t used_before, const char *after,
                              char *ids, size_t max, size_t *n, bson_error_t *err)
{
	bson_t *filter = bson_new();
	append_quiet(filter, used_before);
	return list_ids(ks, filter, after, ids, max, n, err);
}

bool dapi_keystore_person_ids(struct dapi_keystore *ks, const char *person, int64_t created_before,
                              const char *after, char *ids, size_t max, size_t *n,
                              bson_error_t *err)
{
	const struct dapi_master_keys *mk = ks->cfg.mk;
	bson_t *filter = bson_new(), in, arr;
	uint8_t tag[DAPI_TAG_LEN];
	bool ok = true;
	/* {person: {$in: [its tag under every master key]}, createdAt: {$lt: created_before}} */
	BSON_APPEND_DOCUMENT_BEGIN(filter, DAPI_KEY_PERSON, &in);
	BSON_APPEND_ARRAY_BEGIN(&in, "$in", &arr);
	for (int i = 0; ok && i < mk->n; i++) {
		char key[16];
		snprintf(key, sizeof(key), "%d", i);
		ok = dapi_master_tag(mk, i, "person", person, tag);
		BSON_APPEND_BINARY(&arr, key, BSON_SUBTYPE_BINARY, tag, sizeof(tag));
	}
	bson_append_array_end(&in, &arr);
	bson_append_document_end(filter, &in);
	BCON_APPEND(filter, DAPI_KEY_CREATED_AT, "{", "$lt", BCON_DATE_TIME(created_before), "}");
	OPENSSL_cleanse(tag, sizeof(tag));
	if (!ok) {
		bson_destroy(filter);
		bson_set_error(err, 0, 0, "no person tag (OpenSSL)");
		return false;
	}
	return list_ids(ks, filter, after, ids, max, n, err);
}

bool dapi_keystore_person_index(struct dapi_keystore *ks, bson_error_t *err)
{
	mongoc_client_t *client = mongoc_client_pool_pop(ks->cfg.pool);
	bson_t *spec = BCON_NEW("name", BCON_UTF8("person_created"), "key", "{", DAPI_KEY_PERSON,
	                        BCON_INT32(1), DAPI_KEY_CREATED_AT, BCON_INT32(1), "}", "sparse",
	                        BCON_BOOL(true));
	bool ok = dapi_mongo_ensure_indexes(client, ks->db, ks->collection, &spec, 1, NULL, err);
	bson_destroy(spec);
	mongoc_client_pool_push(ks->cfg.pool, client);
	return ok;
}

/* The sweeper's claim lives beside the keys, in <collection>_sweeper:
 * {_id: "sweeper", identity, claimedAt, pendingTtlMs}. */
static mongoc_collection_t *sweeper_coll(struct dapi_keystore *ks, mongoc_client_t **client)
{
	char name[80];
	*client = mongoc_client_pool_pop(ks->cfg.pool);
	snprintf(name, sizeof(name), "%s_sweeper", ks->collection);
	return mongoc_client_get_collection(*client, ks->db, name);
}

/* The claim document's identity into holder and pendingTtlMs into *ttl (0 when absent). */
static bool read_claim(mongoc_collection_t *coll, char *holder, size_t holder_size, int64_t *ttl,
                       bson_error_t *err)
{
	bson_t *filter = BCON_NEW("_id", BCON_UTF8("sweeper"));
	mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter, NULL, NULL);
	const bson_t *doc;
	bson_iter_t it;
	snprintf(holder, holder_size, "%s", "");
	*ttl = 0;
	if (mongoc_cursor_next(cur, &doc)) {
		if (bson_iter_init_find(&it, doc, "identity") && BSON_ITER_HOLDS_UTF8(&it))
			snprintf(holder, holder_size, "%s", bson_iter_utf8(&it, NULL));
		if (bson_iter_init_find(&it, doc, "pendingTtlMs") && BSON_ITER_HOLDS_NUMBER(&it))
			*ttl = bson_iter_as_int64(&it);
	}
	bool ok = !mongoc_cursor_error(cur, err);
	mongoc_cursor_destroy(cur);
	bson_destroy(filter);
	return ok;
}

static bool read_published_ttl(struct dapi_keystore *ks, int64_t *ttl)
{
	mongoc_client_t *client;
	mongoc_collection_t *coll = sweeper_coll(ks, &client);
	char holder[600];
	bson_error_t err;
	bool ok = read_claim(coll, holder, sizeof(holder), ttl, &err);
	mongoc_collection_destroy(coll);
	mongoc_client_pool_push(ks->cfg.pool, client);
	return ok;
}

bool dapi_keystore_sweeper(struct dapi_keystore *ks, const char *identity, int64_t pending_ttl_ms,
                           bool take, bool *owner, char *holder, size_t holder_size,
                           bson_error_t *err)
{
	mongoc_client_t *client;
	mongoc_collection_t *coll = sweeper_coll(ks, &client);
	bson_t *filter = BCON_NEW("_id", BCON_UTF8("sweeper"));
	bson_t *doc = BCON_NEW("_id", BCON_UTF8("sweeper"), "identity", BCON_UTF8(identity),
	                       "claimedAt", BCON_DATE_TIME(dapi_time_now_ms()), "pendingTtlMs",
	                       BCON_INT64(pending_ttl_ms));
	bson_t *mine = BCON_NEW("_id", BCON_UTF8("sweeper"), "identity", BCON_UTF8(identity));
	bson_t *publish = BCON_NEW("$set", "{", "pendingTtlMs", BCON_INT64(pending_ttl_ms), "}");
	bson_t *opts = BCON_NEW("upsert", BCON_BOOL(true));
	bson_error_t ignored;
	int64_t published = 0;
	bool ok = take ? mongoc_collection_replace_one(coll, filter, doc, opts, NULL, err)
	               : (mongoc_collection_insert_one(coll, doc, NULL, NULL, &ignored), true);
	/* a failed insert is the claim of another (or ours from before): read who holds it */
	ok = ok && read_claim(coll, holder, holder_size, &published, err);
	*owner = ok && !strcmp(holder, identity);
	/* the holder publishes its pending TTL: the ingress lapses keys by it */
	if (*owner && published != pending_ttl_ms)
		ok = mongoc_collection_update_one(coll, mine, publish, NULL, NULL, err);
	bson_destroy(opts);
	bson_destroy(publish);
	bson_destroy(mine);
	bson_destroy(doc);
	bson_destroy(filter);
	mongoc_collection_destroy(coll);
	mongoc_client_pool_push(ks->cfg.pool, client);
	return ok;
}
