/* The sweeper's side of crypto-shredding: no data key outlives what it protects. */
#ifndef DAPI_KEY_SWEEP_H
#define DAPI_KEY_SWEEP_H

#include "keystore.h"
#include "metrics.h"
#include "store.h"

/* The series of dataapi_data_keys_deleted_total{by=<by>}: "revocation" (a batch's
 * tombstones) or "sweep". */
struct dapi_series *dapi_keys_deleted_series(const char *by);

/* Deletes the data key of every tombstoned dialog (one left by a message posted after the
 * revocation, or by a crash between a tombstone and its key's deletion). */
bool dapi_key_sweep_tombstones(struct dapi_store *st, struct dapi_keystore *ks, int64_t *deleted,
                               bson_error_t *err);

/* Deletes the keys not used since used_before whose dialog is not consented: those of
 * pending dialogs past their TTL (erased with them) and of dialogs that are gone. */
bool dapi_key_sweep_unused(struct dapi_store *st, struct dapi_keystore *ks, int64_t used_before,
                           int64_t *deleted, bson_error_t *err);

#endif
