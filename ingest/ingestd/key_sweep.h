/* The sweeper's side of crypto-shredding: no data key outlives what it protects. */
#ifndef INGESTD_KEY_SWEEP_H
#define INGESTD_KEY_SWEEP_H

#include "keystore.h"
#include "metrics.h"
#include "store.h"

/* The series of dataapi_data_keys_deleted_total{by=<by>}: "revocation" (a batch's
 * tombstones) or "sweep". */
struct dapi_series *ingestd_keys_deleted_series(const char *by);

/* Deletes the data keys that the store's tombstones cover: each one's keys made before its
 * revokedAt plus tombstone_ttl (while it stood, every message for the dialog was dropped:
 * keys left by messages posted after the revocation, or by a crash between a tombstone
 * and its key's deletion), never a key of the dialogId's next incarnation. */
bool ingestd_key_sweep_tombstones(struct ingestd_store *st, struct dapi_keystore *ks,
                                  int64_t tombstone_ttl, int64_t *deleted, bson_error_t *err);

/* Deletes the keys never marked consented and not used since used_before: those of pending
 * dialogs past their TTL, wherever their data is. No dialog store is consulted: whether a
 * store shows a dialog at this moment is no evidence of anything (keystore.h). */
bool ingestd_key_sweep_unused(struct dapi_keystore *ks, int64_t used_before, int64_t *deleted,
                              bson_error_t *err);

#endif
