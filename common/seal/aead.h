/* AES-256-GCM with a random 96-bit nonce: a box is nonce (12) | ciphertext | tag (16). */
#ifndef DAPI_AEAD_H
#define DAPI_AEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DAPI_AEAD_KEY      32
#define DAPI_AEAD_NONCE    12
#define DAPI_AEAD_TAG      16
#define DAPI_AEAD_OVERHEAD (DAPI_AEAD_NONCE + DAPI_AEAD_TAG)

/* Seals pt under key, authenticating aad too, into out (pt_len + DAPI_AEAD_OVERHEAD bytes).
 * False only when the system's random source or OpenSSL fails. */
bool dapi_aead_seal(const uint8_t key[DAPI_AEAD_KEY], const void *aad, size_t aad_len,
                    const void *pt, size_t pt_len, uint8_t *out);

/* Opens a box of box_len bytes into out (box_len - DAPI_AEAD_OVERHEAD bytes). False when it
 * is too short, or the key, the aad or any byte differs from the sealing. */
bool dapi_aead_open(const uint8_t key[DAPI_AEAD_KEY], const void *aad, size_t aad_len,
                    const uint8_t *box, size_t box_len, uint8_t *out);

/* Fills buf with n random bytes from the operating system's source; false on failure. */
bool dapi_random(void *buf, size_t n);

/* The same source, drawn a block at a time per thread: for bytes that are public once used
 * (nonces, event ids), never for keys. False on failure. */
bool dapi_random_public(void *buf, size_t n);

/* Standard base64 (with padding) of n bytes into out (4 * ((n + 2) / 3) + 1 bytes, NUL
 * terminated); returns the length written. */
size_t dapi_base64_encode(const uint8_t *in, size_t n, char *out);

/* Decodes standard base64 (padded, nothing else) into out (at most 3 * len / 4 bytes);
 * returns the bytes decoded, or -1 when s is not canonical base64. */
long dapi_base64_decode(const char *s, size_t len, uint8_t *out);

#endif
