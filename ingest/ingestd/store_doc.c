/* The stored dialog document: read into a dialog, trusting nothing, and built back for an
 * insert, a replace or an update. */
#include <assert.h>
#include <string.h>

#include "doc.h"
#include "log.h"
#include "store_internal.h"
#include "validate.h"

static int64_t get_date(const bson_t *doc, const char *key)
{
	bson_iter_t it;
	return bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_DATE_TIME(&it)
	               ? bson_iter_date_time(&it)
	               : 0;
}

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
static bool parse_applied(struct ingestd_dialog *d, const bson_t *doc)
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

static void append_applied(bson_t *doc, const struct ingestd_dialog *d)
{
	bson_t pos;
	if (!d->doc.applied.known)
		return;
	BSON_APPEND_DOCUMENT_BEGIN(doc, DAPI_DOC_APPLIED, &pos);
	BSON_APPEND_INT32(&pos, DAPI_DOC_PARTITION, d->doc.applied.partition);
	BSON_APPEND_INT64(&pos, DAPI_DOC_OFFSET, d->doc.applied.offset);
	bson_append_document_end(doc, &pos);
}

/* A customerId that is not a valid id stays empty: no event's matches it, so every message
 * for the dialog goes to the DLQ (customer_mismatch) instead of being mixed with a
 * document nobody can vouch for. */
static void parse_customer(struct ingestd_dialog *d, const bson_t *doc)
{
	bson_iter_t it;
	if (bson_iter_init_find(&it, doc, DAPI_DOC_CUSTOMER_ID) && BSON_ITER_HOLDS_UTF8(&it)) {
		uint32_t len;
		const char *customer = bson_iter_utf8(&it, &len);
		if (dapi_valid_id(customer, len))
			memcpy(d->doc.customer_id, customer, len + 1);
	}
}

/* languages is derived from the messages: an entry that is not a language tag is dropped
 * here, and the next write stores the list without it. False when out of memory. */
static bool parse_languages(struct ingestd_dialog *d, const bson_t *doc)
{
	bson_iter_t it, arr;
	int odd = 0;

	if (!bson_iter_init_find(&it, doc, DAPI_DOC_LANGUAGES) || !BSON_ITER_HOLDS_ARRAY(&it) ||
	    !bson_iter_recurse(&it, &arr))
		return true;
	while (bson_iter_next(&arr)) {
		int rc = BSON_ITER_HOLDS_UTF8(&arr)
		                 ? ingestd_dialog_add_language(d, bson_iter_utf8(&arr, NULL))
		                 : -2;
		if (rc == -1)
			return false;
		odd += rc == -2;
	}
	if (odd > 0)
		DAPI_WARN("stored_languages_dropped", "{s:i}", "entries", odd);
	return true;
}

/* The eventIds of the stored messages (an entry without one counts as ""). False when out
 * of memory. */
static bool parse_message_ids(struct ingestd_dialog *d, const bson_t *doc)
{
	bson_iter_t it, arr, el;

	if (!bson_iter_init_find(&it, doc, DAPI_DOC_MESSAGES) || !BSON_ITER_HOLDS_ARRAY(&it) ||
	    !bson_iter_recurse(&it, &arr))
		return true;
	while (bson_iter_next(&arr)) {
		const char *id = "";
		if (BSON_ITER_HOLDS_DOCUMENT(&arr) && bson_iter_recurse(&arr, &el) &&
		    bson_iter_find(&el, DAPI_MSG_EVENT_ID) && BSON_ITER_HOLDS_UTF8(&el))
			id = bson_iter_utf8(&el, NULL);
		if (ingestd_dialog_add_loaded_id(d, id) < 0)
			return false;
	}
	return true;
}

bool ingestd_store_parse_dialog(struct ingestd_dialog *d, const bson_t *doc)
{
	bson_iter_t it;

	d->loaded_bytes = doc->len;
	d->loaded_untrusted = !parse_applied(d, doc);
	d->loaded_applied = d->doc.applied;
	if (bson_iter_init_find(&it, doc, DAPI_DOC_REVOKED) && bson_iter_as_bool(&it)) {
		d->state = d->loaded_state = INGESTD_DIALOG_TOMBSTONE;
		d->doc.revoked_at = get_date(doc, DAPI_DOC_REVOKED_AT);
		return true;
	}
	d->state = d->loaded_state =
	        bson_iter_init_find(&it, doc, DAPI_DOC_CONSENT) && bson_iter_as_bool(&it)
	                ? INGESTD_DIALOG_CONSENTED
	                : INGESTD_DIALOG_PENDING;
	parse_customer(d, doc);
	d->doc.created_at = get_date(doc, DAPI_DOC_CREATED_AT);
	d->doc.last_message_at = get_date(doc, DAPI_DOC_LAST_MESSAGE_AT);
	d->doc.consented_at = get_date(doc, DAPI_DOC_CONSENTED_AT);
	return parse_languages(d, doc) && parse_message_ids(d, doc);
}

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

static void append_messages(bson_t *doc, const char *key, const struct ingestd_dialog *d)
{
	bson_t arr;
	bson_append_array_begin(doc, key, -1, &arr);
	for (size_t i = 0; i < d->n_added; i++)
		append_message(&arr, i, d->added[i]);
	bson_append_array_end(doc, &arr);
}

static void append_languages(bson_t *doc, const struct ingestd_dialog *d)
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
static void append_mutable(bson_t *doc, const struct ingestd_dialog *d)
{
	BSON_APPEND_BOOL(doc, DAPI_DOC_CONSENT, d->state == INGESTD_DIALOG_CONSENTED);
	append_languages(doc, d);
	BSON_APPEND_DATE_TIME(doc, DAPI_DOC_LAST_MESSAGE_AT, d->doc.last_message_at);
	if (d->state == INGESTD_DIALOG_CONSENTED)
		BSON_APPEND_DATE_TIME(doc, DAPI_DOC_CONSENTED_AT, d->doc.consented_at);
	append_applied(doc, d);
}

void store_doc_tombstone(bson_t *doc, const struct ingestd_dialog *d)
{
	BSON_APPEND_UTF8(doc, "_id", d->id);
	BSON_APPEND_BOOL(doc, DAPI_DOC_REVOKED, true);
	BSON_APPEND_DATE_TIME(doc, DAPI_DOC_REVOKED_AT, d->doc.revoked_at);
	append_applied(doc, d);
}

void store_doc_full(bson_t *doc, const struct ingestd_dialog *d)
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
 * a tombstone above all. The one write that matches a tombstone replaces an expired one
 * (a dialogId used again after its tombstone's TTL), guarded on that tombstone's version
 * all the same. MongoDB serves it from the _id index; FerretDB's SQLite backend
 * does too with deploy/ferretdb-patch.sh (stock 1.24 scans the collection for any filter
 * beyond a lone _id: correct, but slow). */
void store_doc_guard(bson_t *filter, const struct ingestd_dialog *d)
{
	bson_t absent;

	BSON_APPEND_UTF8(filter, "_id", d->id);
	if (d->loaded_state == INGESTD_DIALOG_TOMBSTONE) {
		/* only an expired tombstone is ever written over (apply.h, ingestd_apply_rules) */
		assert(d->fresh);
		BSON_APPEND_BOOL(filter, DAPI_DOC_REVOKED, true);
	} else {
		BSON_APPEND_DOCUMENT_BEGIN(filter, DAPI_DOC_REVOKED, &absent);
		BSON_APPEND_BOOL(&absent, "$exists", false);
		bson_append_document_end(filter, &absent);
	}
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

void store_doc_update(bson_t *update, const struct ingestd_dialog *d)
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
