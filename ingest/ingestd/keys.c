/* A batch's data keys: sealed events are opened with their dialog's key before they are
 * applied, and the keys of dialogs that end the batch as tombstones are deleted after the
 * tombstones are written (crypto-shredding: every sealed copy of their events, in the topic,
 * the DLQ and any backup, becomes unreadable). */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumer_internal.h"
#include "log.h"
#include "seal.h"
#include "service.h"

static bool sealed_message(const struct item *it)
{
	return !it->decode_reason && it->ev.type == DAPI_EVENT_MESSAGE &&
	       it->ev.version == DAPI_EVENT_VERSION_SEALED;
}

/* The distinct dialog ids of the sealed events into ids; returns how many. */
static size_t sealed_dialogs(const struct item *items, size_t n, const char **ids)
{
	size_t nid = 0;
	for (size_t i = 0; i < n; i++) {
		if (!sealed_message(&items[i]))
			continue;
		size_t k = 0;
		while (k < nid && strcmp(ids[k], items[i].ev.dialog_id) != 0)
			k++;
		if (k == nid)
			ids[nid++] = items[i].ev.dialog_id;
	}
	return nid;
}

/* What a key's status makes of a sealed event: opened, shredded, or a DLQ reason. */
static void open_item(struct dapi_consumer *c, struct item *it, enum dapi_key_status st,
                      const uint8_t *dek)
{
	switch (st) {
	case DAPI_KEY_OK:
		it->decode_reason = dapi_seal_open_event(&it->ev, dek, c->cfg.max_text, it->detail,
		                                         sizeof(it->detail));
		return;
	case DAPI_KEY_ABSENT:
		it->shredded = true;
		dapi_series_add(c->m_shredded, 1);
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

/* The keys of ids[0..nid), waiting out an outage; false on a stop. */
static bool find_keys(struct dapi_consumer *c, const char **ids, size_t nid,
                      uint8_t (*deks)[DAPI_AEAD_KEY], enum dapi_key_status *status)
{
	int64_t backoff = 100;
	bson_error_t err;
	while (!dapi_keystore_find(c->cfg.keys, ids, nid, deks, status, &err)) {
		DAPI_WARN("key_store_unavailable", "{s:s, s:I}", "detail", err.message, "retryInMs",
		          (json_int_t)backoff);
		dapi_series_add(c->m_retries, 1);
		if (!dapi_consumer_backoff(c, &backoff))
			return false;
	}
	return true;
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

/* Opens each sealed event with the key found for its dialog (ids[k], status[k], deks[k]). */
static void open_all(struct dapi_consumer *c, struct item *items, size_t n, const char **ids,
                     const enum dapi_key_status *status, uint8_t (*deks)[DAPI_AEAD_KEY])
{
	for (size_t i = 0; i < n; i++) {
		if (!sealed_message(&items[i]))
			continue;
		size_t k = 0;
		while (strcmp(ids[k], items[i].ev.dialog_id) != 0)
			k++;
		open_item(c, &items[i], status[k], deks[k]);
	}
}

int dapi_batch_open_sealed(struct dapi_consumer *c, struct item *items, size_t n)
{
	size_t cap = n ? n : 1, nid;
	const char **ids = calloc(cap, sizeof(*ids));
	uint8_t(*deks)[DAPI_AEAD_KEY] = calloc(cap, sizeof(*deks));
	enum dapi_key_status *status = calloc(cap, sizeof(*status));
	int rc = ids && deks && status ? 0 : -1;

	if (rc == 0 && !c->cfg.keys)
		refuse_sealed(items, n);
	else if (rc == 0 && (nid = sealed_dialogs(items, n, ids)) > 0)
		rc = find_keys(c, ids, nid, deks, status) ? 0 : -1;
	if (rc == 0 && c->cfg.keys)
		open_all(c, items, n, ids, status, deks);
	if (deks)
		OPENSSL_cleanse(deks, cap * sizeof(*deks));
	free(ids);
	free(deks);
	free(status);
	return rc;
}

int dapi_batch_erase_keys(struct dapi_consumer *c, const struct dapi_dialog *dialogs, size_t nd)
{
	const char **ids = calloc(nd ? nd : 1, sizeof(*ids));
	size_t n = 0;
	int64_t backoff = 100, deleted = 0;
	bson_error_t err;

	if (!ids)
		return -1;
	for (size_t i = 0; c->cfg.keys && i < nd; i++)
		if (dialogs[i].state == DAPI_DIALOG_TOMBSTONE)
			ids[n++] = dialogs[i].id;
	if (n > 0) /* the tombstones are written, the keys not yet deleted */
		dapi_failpoint("after_tombstone_write");
	while (n > 0 && !dapi_keystore_delete(c->cfg.keys, ids, n, 0, &deleted, &err)) {
		DAPI_WARN("key_store_unavailable", "{s:s, s:I}", "detail", err.message, "retryInMs",
		          (json_int_t)backoff);
		if (!dapi_consumer_backoff(c, &backoff)) {
			free(ids);
			return -1;
		}
	}
	if (deleted > 0) {
		dapi_series_add(c->m_keys_erased, (double)deleted);
		DAPI_INFO("data_keys_deleted", "{s:I}", "count", (json_int_t)deleted);
	}
	free(ids);
	return 0;
}
