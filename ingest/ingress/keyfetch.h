/* A few threads that fetch (or create) dialogs' data keys from the key store, so that an
 * HTTP thread never waits on MongoDB: a request whose key is not cached is suspended, its
 * fetch queued here, and resumed from the callback. */
#ifndef INGRESS_KEYFETCH_H
#define INGRESS_KEYFETCH_H

#include <stdbool.h>

#include "keystore.h"

/* Called on a fetch thread with the outcome (dek valid only when st is DAPI_KEY_OK). */
typedef void (*ingress_keyfetch_done)(void *arg, enum dapi_key_status st, const uint8_t *dek);

struct ingress_keyfetch;

/* NULL when out of memory or a thread does not start. ks is borrowed. */
struct ingress_keyfetch *ingress_keyfetch_start(struct dapi_keystore *ks, int threads,
                                                int queue_max);

/* Queues a fetch of dialog_id's key, for a message of customer_id (a key made for it is
 * tagged with that person: keystore.h; NULL: not known); false when the queue is full
 * (then done is not called). */
bool ingress_keyfetch_submit(struct ingress_keyfetch *kf, const char *dialog_id,
                             const char *customer_id, ingress_keyfetch_done done, void *arg);

/* Stops the threads; queued fetches are completed with DAPI_KEY_UNAVAILABLE. NULL is a
 * no-op. */
void ingress_keyfetch_stop(struct ingress_keyfetch *kf);

#endif
