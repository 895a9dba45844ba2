#include "erasures.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mongo.h"
#include "timefmt.h"

struct dapi_erasures {
	mongoc_client_pool_t *pool;
	char db[64];
	const struct dapi_master_keys *mk;
};

struct dapi_erasures *dapi_erasures_new(mongoc_client_pool_t *pool, const char *db,
                                        const struct dapi_master_keys *mk)
{
	struct dapi_erasures *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->pool = pool;
	e->mk = mk;
	snprintf(e->db, sizeof(e->db), "%s", db);
	return e;
}

void dapi_erasures_destroy(struct dapi_erasures *e)
{
	free(e);
}

const char *dapi_erasure_status_name(enum dapi_erasure_status st)
{
	return st == DAPI_ERASURE_COMPLETED ? "completed"
	       : st == DAPI_ERASURE_RUNNING ? "running"
	                                    : "pending";
}

static mongoc_collection_t *get_coll(struct dapi_erasures *e, mongoc_client_t **client)
{
	*client = mongoc_client_pool_pop(e->pool);
	return mongoc_client_get_collection(*client, e->db, DAPI_ERASURES_COLLECTION);
}

static void put_coll(struct dapi_erasures *e, mongoc_client_t *client, mongoc_collection_t *c)
{
	mongoc_collection_destroy(c);
	mongoc_client_pool_push(e->pool, client);
}

/* ---- the sealed customerId ------------------------------------------------------- */

/* customer: {master, wrapped, box}: customer_id sealed under a fresh key of the request's
 * own (bound to its id), that key wrapped by the newest master key. */
static bool append_sealed_customer(bson_t *doc, const struct dapi_master_keys *mk, const char *id,
                                   const char *customer_id)
{
	uint8_t dek[DAPI_AEAD_KEY], wrapped[DAPI_DEK_WRAPPED];
	uint8_t box[DAPI_ID_MAX + DAPI_AEAD_OVERHEAD];
	size_t len = strlen(customer_id);
	const char *master;
	bool ok = len <= DAPI_ID_MAX && dapi_random(dek, sizeof(dek)) &&
	          dapi_dek_wrap(mk, id, dek, wrapped, &master) &&
	          dapi_aead_seal(dek, id, strlen(id), customer_id, len, box);
	OPENSSL_cleanse(dek, sizeof(dek));
	if (!ok)
		return false;
	bson_t sub;
	BSON_APPEND_DOCUMENT_BEGIN(doc, "customer", &sub);
	BSON_APPEND_UTF8(&sub, "master", master);
	BSON_APPEND_BINARY(&sub, "wrapped", BSON_SUBTYPE_BINARY, wrapped, sizeof(wrapped));
	BSON_APPEND_BINARY(&sub, "box", BSON_SUBTYPE_BINARY, box, len + DAPI_AEAD_OVERHEAD);
	bson_append_document_end(doc, &sub);
	return true;
}

static const uint8_t *binary_field(const bson_t *doc, const char *name, uint32_t *len)
{
	bson_iter_t it;
	bson_subtype_t sub;
	const uint8_t *data = NULL;
	*len = 0;
	if (bson_iter_init_find(&it, doc, name) && BSON_ITER_HOLDS_BINARY(&it))
		bson_iter_binary(&it, &sub, len, &data);
	return data;
}

/* The customerId sealed in doc into out (DAPI_ID_MAX + 1 bytes); false when the request has
 * none any more (completed), or it does not open with these master keys. */
static bool open_sealed_customer(const struct dapi_master_keys *mk, const char *id,
                                 const bson_t *doc, char *out)
{
	bson_iter_t it, sub;
	const uint8_t *data;
	uint32_t dlen, wlen, blen;
	bson_t c;
	uint8_t dek[DAPI_AEAD_KEY];
	if (!bson_iter_init_find(&it, doc, "customer") || !BSON_ITER_HOLDS_DOCUMENT(&it))
		return false;
	bson_iter_document(&it, &dlen, &data);
	if (!bson_init_static(&c, data, dlen) || !bson_iter_init_find(&sub, &c, "master") ||
	    !BSON_ITER_HOLDS_UTF8(&sub))
		return false;
	const char *master = bson_iter_utf8(&sub, NULL);
	const uint8_t *wrapped = binary_field(&c, "wrapped", &wlen);
	const uint8_t *box = binary_field(&c, "box", &blen);
	if (!wrapped || !box || blen < DAPI_AEAD_OVERHEAD ||
	    blen - DAPI_AEAD_OVERHEAD > DAPI_ID_MAX ||
	    dapi_dek_unwrap(mk, master, id, wrapped, wlen, dek) != DAPI_UNWRAP_OK)
		return false;
	bool ok = dapi_aead_open(dek, id, strlen(id), box, blen, (uint8_t *)out);
	OPENSSL_cleanse(dek, sizeof(dek));
	out[ok ? blen - DAPI_AEAD_OVERHEAD : 0] = '\0';
	return ok;
}

/* ---- reading a request ------------------------------------------------------------ */

static int64_t date_field(const bson_t *doc, const char *name)
{
	bson_iter_t it;
	return bson_iter_init_find(&it, doc, name) && BSON_ITER_HOLDS_DATE_TIME(&it)
	               ? bson_iter_date_time(&it)
	               : 0;
}

static int64_t int_field(const bson_t *doc, const char *name)
{
	bson_iter_t it;
	return bson_iter_init_find(&it, doc, name) && BSON_ITER_HOLDS_NUMBER(&it)
	               ? bson_iter_as_int64(&it)
	               : 0;
}

static void read_request(const bson_t *doc, struct dapi_erasure *out)
{
	bson_iter_t it;
	memset(out, 0, sizeof(*out));
	if (bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_UTF8(&it))
		snprintf(out->id, sizeof(out->id), "%s", bson_iter_utf8(&it, NULL));
	const char *st = bson_iter_init_find(&it, doc, "status") && BSON_ITER_HOLDS_UTF8(&it)
	                         ? bson_iter_utf8(&it, NULL)
	                         : "pending";
	out->status = !strcmp(st, "completed") ? DAPI_ERASURE_COMPLETED
	              : !strcmp(st, "running") ? DAPI_ERASURE_RUNNING
	                                       : DAPI_ERASURE_PENDING;
	out->requested_at = date_field(doc, "requestedAt");
	out->started_at = date_field(doc, "startedAt");
	out->completed_at = date_field(doc, "completedAt");
	out->dialogs = int_field(doc, "dialogs");
	out->keys_deleted = int_field(doc, "keysDeleted");
}

/* The first document filter matches, into *out; *found false when none. */
static bool find_one(struct dapi_erasures *e, const bson_t *filter, bson_t *out, bool *found,
                     bson_error_t *err)
{
	mongoc_client_t *client;
	mongoc_collection_t *coll = get_coll(e, &client);
	bson_t *opts = BCON_NEW("limit", BCON_INT64(1));
	mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
	const bson_t *doc;
	*found = mongoc_cursor_next(cur, &doc);
	if (*found)
		bson_copy_to(doc, out);
	bool ok = !mongoc_cursor_error(cur, err);
	mongoc_cursor_destroy(cur);
	bson_destroy(opts);
	put_coll(e, client, coll);
	return ok;
}

bool dapi_erasures_get(struct dapi_erasures *e, const char *id, struct dapi_erasure *out,
                       bool *found, bson_error_t *err)
{
	bson_t *filter = BCON_NEW("_id", BCON_UTF8(id)), doc;
	bool ok = find_one(e, filter, &doc, found, err);
	if (ok && *found) {
		read_request(&doc, out);
		bson_destroy(&doc);
	}
	bson_destroy(filter);
	return ok;
}

/* ---- making a request ------------------------------------------------------------- */

/* {request: {$in: [the tag of request_id under every master key]}} */
static bool request_filter(const struct dapi_master_keys *mk, const char *request_id,
                           bson_t *filter)
{
	bson_t in, arr;
	uint8_t tag[DAPI_TAG_LEN];
	bool ok = true;
	BSON_APPEND_DOCUMENT_BEGIN(filter, "request", &in);
	BSON_APPEND_ARRAY_BEGIN(&in, "$in", &arr);
	for (int i = 0; ok && i < mk->n; i++) {
		char key[16];
		snprintf(key, sizeof(key), "%d", i);
		ok = dapi_master_tag(mk, i, "request", request_id, tag);
		BSON_APPEND_BINARY(&arr, key, BSON_SUBTYPE_BINARY, tag, sizeof(tag));
	}
	bson_append_array_end(&in, &arr);
	bson_append_document_end(filter, &in);
	return ok;
}

/* The request request_id already names: EXISTS (into *out), CONFLICT when it is another
 * customer's, CREATED when there is none yet (the caller makes it), FAILED. */
static enum dapi_erasure_request find_request(struct dapi_erasures *e, const char *customer_id,
                                              const char *request_id, struct dapi_erasure *out,
                                              bson_error_t *err)
{
	bson_t filter = BSON_INITIALIZER, doc;
	bool found = false, ok = request_filter(e->mk, request_id, &filter) &&
	                         find_one(e, &filter, &doc, &found, err);
	enum dapi_erasure_request r = !ok ? DAPI_ERASURE_FAILED : DAPI_ERASURE_CREATED;
	bson_destroy(&filter);
	if (!ok || !found)
		return r;
	read_request(&doc, out);
	char theirs[DAPI_ID_MAX + 1];
	/* a completed request has no customerId left to compare: the same requestId is taken
	 * as the same request */
	bool sealed = open_sealed_customer(e->mk, out->id, &doc, theirs);
	r = sealed && strcmp(theirs, customer_id) ? DAPI_ERASURE_CONFLICT : DAPI_ERASURE_EXISTS;
	OPENSSL_cleanse(theirs, sizeof(theirs));
	bson_destroy(&doc);
	return r;
}

static bool new_request_doc(const struct dapi_master_keys *mk, const char *customer_id,
                            const char *request_id, struct dapi_erasure *out, bson_t *doc)
{
	uint8_t raw[DAPI_ERASURE_ID_LEN / 2], tag[DAPI_TAG_LEN];
	if (!dapi_random(raw, sizeof(raw)))
		return false;
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(out->id + 2 * i, 3, "%02x", raw[i]);
	out->requested_at = dapi_time_now_ms();
	BSON_APPEND_UTF8(doc, "_id", out->id);
	BSON_APPEND_UTF8(doc, "status", "pending");
	BSON_APPEND_DATE_TIME(doc, "requestedAt", out->requested_at);
	if (request_id) {
		if (!dapi_master_tag(mk, mk->n - 1, "request", request_id, tag))
			return false;
		BSON_APPEND_BINARY(doc, "request", BSON_SUBTYPE_BINARY, tag, sizeof(tag));
	}
	return append_sealed_customer(doc, mk, out->id, customer_id);
}

enum dapi_erasure_request dapi_erasures_request(struct dapi_erasures *e, const char *customer_id,
                                                const char *request_id, struct dapi_erasure *out,
                                                bson_error_t *err)
{
	enum dapi_erasure_request r = DAPI_ERASURE_CREATED;
	/* two attempts: a concurrent request with the same requestId wins the unique index,
	 * and the second look finds it */
	for (int attempt = 0; attempt < 2; attempt++) {
		if (request_id && (r = find_request(e, customer_id, request_id, out, err)) !=
		                          DAPI_ERASURE_CREATED)
			return r;
		bson_t doc = BSON_INITIALIZER;
		if (!new_request_doc(e->mk, customer_id, request_id, out, &doc)) {
			bson_destroy(&doc);
			bson_set_error(err, 0, 0, "no random bytes or OpenSSL failed");
			return DAPI_ERASURE_FAILED;
		}
		mongoc_client_t *client;
		mongoc_collection_t *coll = get_coll(e, &client);
		bool ok = mongoc_collection_insert_one(coll, &doc, NULL, NULL, err);
		put_coll(e, client, coll);
		bson_destroy(&doc);
		if (ok)
			return DAPI_ERASURE_CREATED;
		if (!request_id || err->code != 11000)
			return DAPI_ERASURE_FAILED;
	}
	return DAPI_ERASURE_FAILED;
}

/* ---- running requests (ingestd) --------------------------------------------------- */

bool dapi_erasures_claim(struct dapi_erasures *e, const char *runner, int64_t lease_ms,
                         struct dapi_erasure *out, bool *found, bson_error_t *err)
{
	int64_t now = dapi_time_now_ms();
	/* {status: {$ne: "completed"}, $or: [{leaseUntil: {$exists: false}}, {leaseUntil:
	 * {$lt: now}}]}, oldest first */
	bson_t *query = BCON_NEW("status", "{", "$ne", BCON_UTF8("completed"), "}", "$or", "[", "{",
	                         "leaseUntil", "{", "$exists", BCON_BOOL(false), "}", "}", "{",
	                         "leaseUntil", "{", "$lt", BCON_DATE_TIME(now), "}", "}", "]");
	bson_t *sort = BCON_NEW("requestedAt", BCON_INT32(1));
	bson_t *update = BCON_NEW("$set", "{", "status", BCON_UTF8("running"), "runner",
	                          BCON_UTF8(runner), "leaseUntil", BCON_DATE_TIME(now + lease_ms),
	                          "}", "$min", "{", "startedAt", BCON_DATE_TIME(now), "}");
	mongoc_client_t *client;
	mongoc_collection_t *coll = get_coll(e, &client);
	mongoc_find_and_modify_opts_t *opts = mongoc_find_and_modify_opts_new();
	bson_t reply;
	bson_iter_t it;
	mongoc_find_and_modify_opts_set_sort(opts, sort);
	mongoc_find_and_modify_opts_set_update(opts, update);
	mongoc_find_and_modify_opts_set_flags(opts, MONGOC_FIND_AND_MODIFY_RETURN_NEW);
	bool ok = mongoc_collection_find_and_modify_with_opts(coll, query, opts, &reply, err);
	*found = false;
	if (ok && bson_iter_init_find(&it, &reply, "value") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
		const uint8_t *data;
		uint32_t len;
		bson_t doc;
		bson_iter_document(&it, &len, &data);
		if (bson_init_static(&doc, data, len)) {
			read_request(&doc, out);
			*found = open_sealed_customer(e->mk, out->id, &doc, out->customer_id);
			if (!*found)
				bson_set_error(err, 0, 0,
				               "request %s: its customerId does not open", out->id);
			ok = *found;
		}
	}
	bson_destroy(&reply);
	mongoc_find_and_modify_opts_destroy(opts);
	put_coll(e, client, coll);
	bson_destroy(update);
	bson_destroy(sort);
	bson_destroy(query);
	return ok;
}

/* One update of runner's request id; *held false when it matched none. */
static bool update_mine(struct dapi_erasures *e, const char *id, const char *runner,
                        const bson_t *update, bool *held, bson_error_t *err)
{
	bson_t *filter = BCON_NEW("_id", BCON_UTF8(id), "runner", BCON_UTF8(runner), "status",
	                          BCON_UTF8("running"));
	mongoc_client_t *client;
	mongoc_collection_t *coll = get_coll(e, &client);
	bson_t reply;
	bson_iter_t it;
	bool ok = mongoc_collection_update_one(coll, filter, update, NULL, &reply, err);
	*held = ok && bson_iter_init_find(&it, &reply, "matchedCount") &&
	        bson_iter_as_int64(&it) == 1;
	bson_destroy(&reply);
	put_coll(e, client, coll);
	bson_destroy(filter);
	return ok;
}

bool dapi_erasures_renew(struct dapi_erasures *e, const char *id, const char *runner,
                         int64_t lease_ms, bool *held, bson_error_t *err)
{
	bson_t *update = BCON_NEW("$set", "{", "leaseUntil",
	                          BCON_DATE_TIME(dapi_time_now_ms() + lease_ms), "}");
	bool ok = update_mine(e, id, runner, update, held, err);
	bson_destroy(update);
	return ok;
}

bool dapi_erasures_complete(struct dapi_erasures *e, const char *id, const char *runner,
                            int64_t dialogs, int64_t keys_deleted, bson_error_t *err)
{
	bool held;
	bson_t *update =
	        BCON_NEW("$set", "{", "status", BCON_UTF8("completed"), "completedAt",
	                 BCON_DATE_TIME(dapi_time_now_ms()), "dialogs", BCON_INT64(dialogs),
	                 "keysDeleted", BCON_INT64(keys_deleted), "}", "$unset", "{", "customer",
	                 BCON_UTF8(""), "runner", BCON_UTF8(""), "leaseUntil", BCON_UTF8(""), "}");
	bool ok = update_mine(e, id, runner, update, &held, err);
	bson_destroy(update);
	if (ok && !held)
		bson_set_error(err, 0, 0, "request %s is no longer this runner's", id);
	return ok && held;
}

bool dapi_erasures_oldest_open(struct dapi_erasures *e, int64_t *requested_at, bson_error_t *err)
{
	bson_t *filter = BCON_NEW("status", "{", "$ne", BCON_UTF8("completed"), "}");
	bson_t *opts =
	        BCON_NEW("sort", "{", "requestedAt", BCON_INT32(1), "}", "limit", BCON_INT64(1));
	mongoc_client_t *client;
	mongoc_collection_t *coll = get_coll(e, &client);
	mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
	const bson_t *doc;
	*requested_at = mongoc_cursor_next(cur, &doc) ? date_field(doc, "requestedAt") : 0;
	bool ok = !mongoc_cursor_error(cur, err);
	mongoc_cursor_destroy(cur);
	put_coll(e, client, coll);
	bson_destroy(opts);
	bson_destroy(filter);
	return ok;
}

bool dapi_erasures_indexes(struct dapi_erasures *e, bson_error_t *err)
{
	mongoc_client_t *client = mongoc_client_pool_pop(e->pool);
	bson_t *specs[] = {
		BCON_NEW("name", BCON_UTF8("request_unique"), "key", "{", "request", BCON_INT32(1),
		         "}", "unique", BCON_BOOL(true), "sparse", BCON_BOOL(true)),
		BCON_NEW("name", BCON_UTF8("status_requested"), "key", "{", "status", BCON_INT32(1),
		         "requestedAt", BCON_INT32(1), "}"),
	};
	bool ok = dapi_mongo_ensure_indexes(client, e->db, DAPI_ERASURES_COLLECTION, specs, 2, NULL,
	                                    err);
	bson_destroy(specs[0]);
	bson_destroy(specs[1]);
	mongoc_client_pool_push(e->pool, client);
	return ok;
}
