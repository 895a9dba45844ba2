/* A batch's data keys: sealed events are opened with their dialog's key before they are
 * applied; once the batch is written, the keys of dialogs it consented are marked so (no
 * sweep ever deletes them), and the keys a written revocation covers are deleted
 * (crypto-shredding: every sealed copy of their events, in the topic, the DLQ and any
 * backup, becomes unreadable). */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_internal.h"
#include "idset.h"
#include "log.h"
#include "seal.h"
#include "service.h"

static bool sealed_message(const struct item *it)
{
	return !it->decode_reason && it->ev.type == DAPI_EVENT_MESSAGE &&
	       it->ev.version == DAPI_EVENT_VERSION_SEALED;
}

/* The distinct dialog ids of the sealed events into ids, each event's into key[i];
 * returns how many (SIZE_MAX when out of memory). */
static size_t sealed_dialogs(const struct item *items, size_t n, const char **ids, size_t *key)
{
	const char **names = calloc(n ? n : 1, sizeof(*names));
	if (!names)
		return SIZE_MAX;
	for (size_t i = 0; i < n; i++)
		names[i] = sealed_message(&items[i]) ? items[i].ev.dialog_id : NULL;
	size_t nid = dapi_distinct(names, n, ids, key);
	free(names);
	return nid;
}

static void shred(struct ingestd_batch *b, struct item *it)
{
	it->shredded = true;
	dapi_series_add(b->m_shredded, 1);
}

/* What a key's status makes of a sealed event: opened, shredded, or a DLQ reason. A key
 * made well after the event is a later incarnation's: the event's own key is gone. */
static void open_item(struct ingestd_batch *b, struct item *it, enum dapi_key_status st,
                      const uint8_t *dek, int64_t created)
{
	switch (st) {
	case DAPI_KEY_OK:
		it->decode_reason = dapi_seal_open_event(&it->ev, dek, b->cfg.max_text, it->detail,
		                                         sizeof(it->detail));
		if (it->decode_reason && created > it->ev.received_at + DAPI_KEY_SKEW_MS) {
			it->decode_reason = NULL;
			shred(b, it);
		}
		return;
	case DAPI_KEY_ABSENT:
		shred(b, it);
		return;
	case DAPI_KEY_UNKNOWN_MASTER:
		it->decode_reason = "master_key_unknown";
		snprintf(it->detail, sizeof(it->detail),
		         "the dialog's data key is wrapped by a master key this ingestd lacks");
		return;
	default:
		it->decode_reason = "data_key_invalid";
		snprintf(it->detail, sizeof(it->detail),
		         "the dialog's data key does not unwrap (tampered, or another dialog's)");
	}
}

/* The keys of ids[0..nid) (a key_find), waiting out an outage; false on a stop. */
struct key_find {
	struct dapi_keystore *ks;
	const char **ids;
	size_t nid;
	uint8_t (*deks)[DAPI_AEAD_KEY];
	enum dapi_key_status *status;
	int64_t *created;
};

static bool find_keys(void *arg, bson_error_t *err)
{
	struct key_find *f = arg;
	return dapi_keystore_find(f->ks, f->ids, f->nid, f->deks, f->status, f->created, err);
}

/* Without sealing, a sealed event cannot be opened: DLQ. */
static void refuse_sealed(struct item *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!sealed_message(&items[i]))
			continue;
		items[i].decode_reason = "sealing_off";
		snprintf(items[i].detail, sizeof(items[i].detail),
		         "a sealed event, and this ingestd runs with --no-seal");
	}
}

/* Opens each sealed event with the key found for its dialog (k = key[i]: status[k],
 * deks[k], created[k]). */
static void open_all(struct ingestd_batch *b, struct item *items, size_t n, const size_t *key,
                     const struct key_find *f)
{
	for (size_t i = 0; i < n; i++) {
		size_t k = key[i];
		if (sealed_message(&items[i]) && k != SIZE_MAX)
			open_item(b, &items[i], f->status[k], f->deks[k], f->created[k]);
	}
}

static bool key_find_alloc(struct key_find *f, struct dapi_keystore *ks, size_t cap)
{
	*f = (struct key_find){ .ks = ks };
	f->ids = calloc(cap, sizeof(*f->ids));
	f->deks = calloc(cap, sizeof(*f->deks));
	f->status = calloc(cap, sizeof(*f->status));
	f->created = calloc(cap, sizeof(*f->created));
	return f->ids && f->deks && f->status && f->created;
}

static void key_find_free(struct key_find *f, size_t cap)
{
	if (f->deks)
		OPENSSL_cleanse(f->deks, cap * sizeof(*f->deks));
	free(f->ids);
	free(f->deks);
	free(f->status);
	free(f->created);
}

int ingestd_batch_open_sealed(struct ingestd_batch *b, struct item *items, size_t n)
{
	size_t cap = n ? n : 1;
	struct key_find f;
	size_t *key = calloc(cap, sizeof(*key));
	bool ok = key_find_alloc(&f, b->cfg.keys, cap) && key;

	if (ok && !b->cfg.keys)
		refuse_sealed(items, n);
	else if (ok && (f.nid = sealed_dialogs(items, n, f.ids, key)) == SIZE_MAX)
		ok = false;
	else if (ok) {
		ok = f.nid == 0 ||
		     ingestd_batch_retry(b, "key_store_unavailable", b->m_retries, find_keys, &f);
		if (ok)
			open_all(b, items, n, key, &f);
	}
	key_find_free(&f, cap);
	free(key);
	return ok ? 0 : -1;
}

/* The dialogs a key operation names: ids[i], with a time bound[i] each. */
struct key_op {
	struct dapi_keystore *ks;
	const char **ids;
	int64_t *bound;
	size_t n;
	int64_t done;
};

static bool delete_revoked(void *arg, bson_error_t *err)
{
	struct key_op *op = arg;
	return dapi_keystore_delete_revoked(op->ks, op->ids, op->bound, op->n, &op->done, err);
}

static bool mark_consented(void *arg, bson_error_t *err)
{
	struct key_op *op = arg;
	return dapi_keystore_mark_consented(op->ks, op->ids, op->bound, op->n, err);
}

static bool key_op_alloc(struct key_op *op, struct dapi_keystore *ks, size_t nd)
{
	*op = (struct key_op){ .ks = ks };
	op->ids = calloc(nd ? nd : 1, sizeof(*op->ids));
	op->bound = calloc(nd ? nd : 1, sizeof(*op->bound));
	return op->ids && op->bound;
}

static void key_op_free(struct key_op *op)
{
	free(op->ids);
	free(op->bound);
}

int ingestd_batch_erase_keys(struct ingestd_batch *b, const struct ingestd_dialog *dialogs,
                             size_t nd, const char *const *rejected)
{
	/* A revocation covers the keys made up to its own time (and the clock skew between
	 * ingress hosts), never a key of a dialogId used again after its tombstone expired.
	 * Keys made later for messages the tombstone dropped go with the tombstone sweep. */
	int64_t reach = b->cfg.rules.tombstone_ttl_ms < DAPI_KEY_SKEW_MS
	                        ? b->cfg.rules.tombstone_ttl_ms
	                        : DAPI_KEY_SKEW_MS;
	struct key_op op;
	bool ok = key_op_alloc(&op, b->cfg.keys, nd);

	/* a tombstone the store refused is not written: its dialog is still readable, and
	 * its key stays with it (the revocation waits in the DLQ) */
	for (size_t i = 0; ok && b->cfg.keys && i < nd; i++) {
		if (dialogs[i].state != INGESTD_DIALOG_TOMBSTONE || rejected[i])
			continue;
		op.ids[op.n] = dialogs[i].id;
		op.bound[op.n++] = dialogs[i].doc.revoked_at + reach;
	}
	if (ok && op.n > 0) /* the tombstones are written, the keys not yet deleted */
		dapi_failpoint("after_tombstone_write");
	ok = ok && (op.n == 0 || ingestd_batch_retry(b, "key_store_unavailable", b->m_retries,
	                                             delete_revoked, &op));
	if (ok && op.done > 0) {
		dapi_series_add(b->m_keys_erased, (double)op.done);
		DAPI_INFO("data_keys_deleted", "{s:I}", "count", (json_int_t)op.done);
	}
	key_op_free(&op);
	return ok ? 0 : -1;
}

int ingestd_batch_mark_consented(struct ingestd_batch *b, const struct item *items, size_t n,
                                 const struct ingestd_dialog *dialogs, const char *const *rejected)
{
	struct key_op op;
	bool ok = key_op_alloc(&op, b->cfg.keys, n);

	/* every dialog a granted consent of the batch consented, also when the consent was
	 * already reflected (a crash after the write, a replay): marking is idempotent. A
	 * consent that found the dialog consented already (noop) was marked by the first. */
	for (size_t i = 0; ok && b->cfg.keys && i < n; i++) {
		const struct item *it = &items[i];
		if (it->decode_reason || it->shredded || it->ev.type != DAPI_EVENT_CONSENT ||
		    !it->ev.granted ||
		    (it->outcome != INGESTD_APPLY_CONSENTED &&
		     it->outcome != INGESTD_APPLY_REPLAYED))
			continue;
		const struct ingestd_dialog *d = &dialogs[it->dialog];
		if (d->state != INGESTD_DIALOG_CONSENTED || rejected[it->dialog])
			continue;
		op.ids[op.n] = d->id;
		op.bound[op.n++] = it->ev.received_at + DAPI_KEY_SKEW_MS;
	}
	ok = ok && (op.n == 0 || ingestd_batch_retry(b, "key_store_unavailable", b->m_retries,
	                                             mark_consented, &op));
	key_op_free(&op);
	return ok ? 0 : -1;
}
