/* Recent dialogs' data keys, so that a dialog's later messages are sealed without a
 * key-store round trip (and keep flowing while the key store is briefly away). Bounded: a
 * 16-way set-associative table of `slots` entries of 56 bytes (the one closest to expiry
 * makes room); an entry lives `ttl_ms`, after which the key is fetched again (its usedAt
 * refreshed). Entries are wiped when replaced or expired. Thread-safe. */
#ifndef INGRESS_KEYCACHE_H
#define INGRESS_KEYCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aead.h"

struct ingress_keycache;

/* NULL when out of memory; slots is rounded up to a power of two (at least 64). */
struct ingress_keycache *ingress_keycache_new(size_t slots, int64_t ttl_ms);
void ingress_keycache_destroy(struct ingress_keycache *kc);

/* The key of dialog_id when held and fresh at now_ms. */
bool ingress_keycache_get(struct ingress_keycache *kc, const char *dialog_id, int64_t now_ms,
                          uint8_t dek[DAPI_AEAD_KEY]);

void ingress_keycache_put(struct ingress_keycache *kc, const char *dialog_id,
                          const uint8_t dek[DAPI_AEAD_KEY], int64_t now_ms);

/* Wipes the dialog's key if held: a revocation passed through this ingress, and the key is
 * about to be deleted (a message after it fetches the key store's answer again). NULL kc is
 * a no-op. */
void ingress_keycache_forget(struct ingress_keycache *kc, const char *dialog_id);

#endif
