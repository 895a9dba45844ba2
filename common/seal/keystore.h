/* The data-key store: one document per dialog in its own collection (dialog_keys by
 * default, on the store's server or another), holding the dialog's data key wrapped by a
 * master key: {_id: dialogId, master, wrapped, createdAt, usedAt}. Deleting the document
 * is what erases every sealed copy of the dialog's events (crypto-shredding). */
#ifndef DAPI_KEYSTORE_H
#define DAPI_KEYSTORE_H

#include <mongoc/mongoc.h>
#include <stdbool.h>

#include "masterkeys.h"

/* How long an ingress may seal with a key after fetching it, without refreshing its usedAt:
 * the sweeper spares keys used within the pending TTL plus twice this. */
#define DAPI_KEY_CACHE_TTL_MS (10 * 60 * 1000)

struct dapi_keystore_config {
	mongoc_client_pool_t *pool; /* borrowed; its URI's write concern is the keys' */
	const char *db, *collection;
	const struct dapi_master_keys *mk; /* borrowed */
	bool one_by_one; /* look keys up one _id at a time (FerretDB: no $in from the index) */
};

struct dapi_keystore;

/* NULL when out of memory. */
struct dapi_keystore *dapi_keystore_new(const struct dapi_keystore_config *cfg);

/* Sets cfg.one_by_one (after the server's capabilities are known). */
void dapi_keystore_one_by_one(struct dapi_keystore *ks, bool on);
void dapi_keystore_destroy(struct dapi_keystore *ks);

enum dapi_key_status {
	DAPI_KEY_OK,
	DAPI_KEY_ABSENT,         /* no key: the dialog was erased (or never had one) */
	DAPI_KEY_UNAVAILABLE,    /* the key store did not answer well: retry */
	DAPI_KEY_UNKNOWN_MASTER, /* wrapped by a master key this process does not have */
	DAPI_KEY_INVALID,        /* the document does not unwrap: tampered, or not this dialog's */
};

/* The dialog's data key, created (one random key, wrapped by the newest master key) when it
 * has none, atomically: every replica gets the same key. Marks the key used now (usedAt),
 * which keeps the pending-TTL sweep from erasing a key that events were just sealed with.
 * Returns when the store acknowledged the write. */
enum dapi_key_status dapi_keystore_get_or_create(struct dapi_keystore *ks, const char *dialog_id,
                                                 uint8_t dek[DAPI_AEAD_KEY], bson_error_t *err);

/* Creates a fresh key for each of ids[0..n) (distinct) in one unordered insertMany, so that
 * many new dialogs cost one round trip: status[i] DAPI_KEY_OK with deks[i] for each key
 * inserted, DAPI_KEY_ABSENT for a dialog that has a key already (get it with
 * dapi_keystore_get_or_create). False (err) when the store did not answer well. */
bool dapi_keystore_create_many(struct dapi_keystore *ks, const char *const *ids, size_t n,
                               uint8_t (*deks)[DAPI_AEAD_KEY], enum dapi_key_status *status,
                               bson_error_t *err);

/* The keys of ids[0..n) into deks[i], with status[i] (never UNAVAILABLE). False when the
 * store did not answer well (err). */
bool dapi_keystore_find(struct dapi_keystore *ks, const char *const *ids, size_t n,
                        uint8_t (*deks)[DAPI_AEAD_KEY], enum dapi_key_status *status,
                        bson_error_t *err);

/* Deletes the keys of ids[0..n) (those that exist), and with used_before > 0 only those not
 * used since then. *deleted (may be NULL) receives the count. False on a store error. */
bool dapi_keystore_delete(struct dapi_keystore *ks, const char *const *ids, size_t n,
                          int64_t used_before, int64_t *deleted, bson_error_t *err);

/* Up to max ids (each at most 128 characters) of keys not used since used_before, after
 * `after` in _id order ("" for the first), into ids (max * 129 bytes, NUL-terminated);
 * *n receives the count. */
bool dapi_keystore_unused_ids(struct dapi_keystore *ks, int64_t used_before, const char *after,
                              char *ids, size_t max, size_t *n, bson_error_t *err);

#endif
