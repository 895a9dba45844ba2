/* Master keys: they wrap the dialogs' data keys and never reach Kafka or MongoDB. Read from
 * a file of "<id> <64 hex digits>" lines ('#' starts a comment); the last key listed wraps
 * new data keys, every listed key unwraps (rotation: append a new key, restart, and keep
 * the old ones listed while data keys wrapped by them exist; docs/operations.md). */
#ifndef DAPI_MASTERKEYS_H
#define DAPI_MASTERKEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aead.h"

#define DAPI_MASTER_ID_MAX 32
#define DAPI_MASTER_MAX    16
#define DAPI_DEK_WRAPPED   (DAPI_AEAD_KEY + DAPI_AEAD_OVERHEAD)

struct dapi_master_key {
	char id[DAPI_MASTER_ID_MAX + 1];
	uint8_t key[DAPI_AEAD_KEY];
};

struct dapi_master_keys {
	struct dapi_master_key keys[DAPI_MASTER_MAX];
	int n; /* keys[n - 1] wraps */
};

/* Loads path into mk. Returns 0, or -1 with errstr (no file, a malformed line, a repeated
 * id, no key, more than DAPI_MASTER_MAX). The message never quotes key material. */
int dapi_master_keys_load(const char *path, struct dapi_master_keys *mk, char *errstr,
                          size_t errstr_size);

/* Wipes the key material. */
void dapi_master_keys_clear(struct dapi_master_keys *mk);

/* Wraps a data key for dialog_id under the newest master key: out receives the box, id the
 * master key's id (static storage of mk). The dialog's id is bound in (associated data): a
 * wrapped key copied to another dialog does not unwrap. False if the random source fails. */
bool dapi_dek_wrap(const struct dapi_master_keys *mk, const char *dialog_id,
                   const uint8_t dek[DAPI_AEAD_KEY], uint8_t out[DAPI_DEK_WRAPPED],
                   const char **id);

/* A keyed tag of value for purpose (e.g. "person"), under master key mk->keys[index]:
 * HMAC-SHA256(HMAC-SHA256(master, "dataapi <purpose> tag v1"), value). It lets a value be
 * found again (whose dialogs are these?) without being stored: it cannot be reversed or
 * recomputed without the master key. A tag made under the newest key is found by the tags
 * under every listed key (rotation). False when OpenSSL fails. */
#define DAPI_TAG_LEN 32
bool dapi_master_tag(const struct dapi_master_keys *mk, int index, const char *purpose,
                     const char *value, uint8_t out[DAPI_TAG_LEN]);

enum dapi_unwrap { DAPI_UNWRAP_OK, DAPI_UNWRAP_UNKNOWN_MASTER, DAPI_UNWRAP_INVALID };

/* Unwraps a data key wrapped by master key id for dialog_id. */
enum dapi_unwrap dapi_dek_unwrap(const struct dapi_master_keys *mk, const char *id,
                                 const char *dialog_id, const uint8_t *wrapped, size_t len,
                                 uint8_t dek[DAPI_AEAD_KEY]);

#endif
