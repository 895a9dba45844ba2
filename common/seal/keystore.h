/* The data-key store: one document per dialog in its own collection (dialog_keys by
 * default, on the store's server or another), holding the dialog's data key wrapped by a
 * master key: {_id: dialogId, master, wrapped, createdAt, usedAt, consented, consentedAt}.
 * Deleting the document is what erases every sealed copy of the dialog's events
 * (crypto-shredding), so it is deleted only on evidence of its own: a revocation applied
 * (bounded to the keys it could cover by createdAt), or no consent ever marked on it by
 * the time its pending TTL has passed in what the live group has applied. What some
 * dialog store shows at that moment is never evidence. */
#ifndef DAPI_KEYSTORE_H
#define DAPI_KEYSTORE_H

#include <mongoc/mongoc.h>
#include <stdbool.h>

#include "masterkeys.h"

/* How long an ingress may seal with a key after fetching it, without refreshing its usedAt:
 * the sweeper spares keys used within the pending TTL plus twice this. */
#define DAPI_KEY_CACHE_TTL_MS (10 * 60 * 1000)

/* Keys are stamped by one ingress's clock and events by another's: within this, a key and
 * an event are taken as of the same time. */
#define DAPI_KEY_SKEW_MS (60 * 1000)

struct dapi_keystore_config {
	mongoc_client_pool_t *pool; /* borrowed; its URI's write concern is the keys' */
	const char *db, *collection;
	const struct dapi_master_keys *mk; /* borrowed */
	/* FerretDB: keys looked up one _id at a time (no $in from the index), marks and
	 * deletes sent 32 a command (more can wedge its SQLite backend) */
	bool one_by_one;
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
 * A key never consented and quiet for the pending TTL the sweeper published, plus
 * DAPI_KEY_CACHE_TTL_MS and DAPI_KEY_SKEW_MS, is a lapsed dialog's (ingestd erases that
 * incarnation whatever comes next): it is replaced by a fresh key (*replaced), so that
 * the new incarnation's events never open the erased one's. A key made here carries the
 * tag of person (the customerId of the message it is made for; NULL: none), the index of
 * that person's dialogs. Returns when the store acknowledged the write. */
enum dapi_key_status dapi_keystore_get_or_create(struct dapi_keystore *ks, const char *dialog_id,
                                                 const char *person, uint8_t dek[DAPI_AEAD_KEY],
                                                 bool *replaced, bson_error_t *err);

/* Creates a fresh key for each of ids[0..n) (distinct; persons[i] its customerId, as for
 * dapi_keystore_get_or_create; persons may be NULL) in one unordered insertMany, so that
 * many new dialogs cost one round trip: status[i] DAPI_KEY_OK with deks[i] for each key
 * inserted, DAPI_KEY_ABSENT for a dialog that has a key already (get it with
 * dapi_keystore_get_or_create). False (err) when the store did not answer well. */
bool dapi_keystore_create_many(struct dapi_keystore *ks, const char *const *ids,
                               const char *const *persons, size_t n, uint8_t (*deks)[DAPI_AEAD_KEY],
                               enum dapi_key_status *status, bson_error_t *err);

/* The keys of ids[0..n) into deks[i], with status[i] (never UNAVAILABLE) and, when created
 * is not NULL, created[i] (the key's createdAt, 0 when absent). False when the store did
 * not answer well (err). */
bool dapi_keystore_find(struct dapi_keystore *ks, const char *const *ids, size_t n,
                        uint8_t (*deks)[DAPI_AEAD_KEY], enum dapi_key_status *status,
                        int64_t *created, bson_error_t *err);

/* Marks the key of each ids[i] consented, if it was created no later than created_by[i]
 * (a consent covers the key its dialog's messages were sealed with, not one of a later
 * incarnation of the dialogId). Only ever protects a key. False on a store error. */
bool dapi_keystore_mark_consented(struct dapi_keystore *ks, const char *const *ids,
                                  const int64_t *created_by, size_t n, bson_error_t *err);

/* Deletes the key of each ids[i] that was created before created_before[i] (a revocation
 * erases the keys it covers, never a later incarnation's). *deleted (may be NULL) receives
 * the count. False on a store error. */
bool dapi_keystore_delete_revoked(struct dapi_keystore *ks, const char *const *ids,
                                  const int64_t *created_before, size_t n, int64_t *deleted,
                                  bson_error_t *err);

/* Deletes the keys of ids[0..n) never marked consented and not used since used_before
 * (checked again here: a key handed out or consented meanwhile stays). *deleted (may be
 * NULL) receives the count. False on a store error. */
bool dapi_keystore_delete_unconsented(struct dapi_keystore *ks, const char *const *ids, size_t n,
                                      int64_t used_before, int64_t *deleted, bson_error_t *err);

/* Deletes the keys marked consented and not used since used_before (--retention: their
 * dialogs' last message is older than the retention). *deleted receives the count. */
bool dapi_keystore_delete_consented(struct dapi_keystore *ks, int64_t used_before, int64_t *deleted,
                                    bson_error_t *err);

/* Up to max ids (each at most 128 characters) of keys never marked consented and not used
 * since used_before, after `after` in _id order ("" for the first), into ids (max * 129
 * bytes, NUL-terminated); *n receives the count. Keys without the consented field (made
 * before it existed) are not among them. */
bool dapi_keystore_unused_ids(struct dapi_keystore *ks, int64_t used_before, const char *after,
                              char *ids, size_t max, size_t *n, bson_error_t *err);

/* Up to max ids of the keys tagged for person (its customerId, under any listed master key)
 * and created before created_before, after `after` in _id order, into ids as
 * dapi_keystore_unused_ids does: the dialogs of a person's privacy request. */
bool dapi_keystore_person_ids(struct dapi_keystore *ks, const char *person, int64_t created_before,
                              const char *after, char *ids, size_t max, size_t *n,
                              bson_error_t *err);

/* Creates the index that serves dapi_keystore_person_ids (person, createdAt; sparse), when
 * missing. False on a store error. */
bool dapi_keystore_person_index(struct dapi_keystore *ks, bson_error_t *err);

/* The key store's sweeper: the one consumer (group, topic and dialog store: `identity`)
 * allowed to delete keys other than by applying a revocation. The first to ask claims it
 * (take: claims it from whoever had it). *owner is true when identity holds it; holder
 * (holder_size bytes) receives the holder's identity. The holder publishes its pending
 * TTL there, which the ingress's key lapse follows. False on a store error. */
bool dapi_keystore_sweeper(struct dapi_keystore *ks, const char *identity, int64_t pending_ttl_ms,
                           bool take, bool *owner, char *holder, size_t holder_size,
                           bson_error_t *err);

#endif
