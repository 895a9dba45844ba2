/* A few threads that fetch (or create) dialogs' data keys from the key store, so that an
 * HTTP thread never waits on MongoDB: a request whose key is not cached is suspended, its
 * fetch queued here, and resumed from the callback. */
#ifndef DAPI_KEYFETCH_H
#define DAPI_KEYFETCH_H

#include <stdbool.h>

#include "keystore.h"

/* Called on a fetch thread with the outcome (dek valid only when st is DAPI_KEY_OK). */
typedef void (*keyfetch_done)(void *arg, enum dapi_key_status st, const uint8_t *dek);

struct keyfetch;

/* NULL when out of memory or a thread does not start. ks is borrowed. */
struct keyfetch *keyfetch_start(struct dapi_keystore *ks, int threads, int queue_max);

/* Queues a fetch of dialog_id's key; false when the queue is full (then done is not
 * called). */
bool keyfetch_submit(struct keyfetch *kf, const char *dialog_id, keyfetch_done done, void *arg);

/* Stops the threads; queued fetches are completed with DAPI_KEY_UNAVAILABLE. NULL is a
 * no-op. */
void keyfetch_stop(struct keyfetch *kf);

#endif
