#include "ids.h"

#include "aead.h"

#include <assert.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* 8-4-4-4-12 lower-case hex digits (a hand loop: snprintf cost 6,000 instructions). */
static void format_uuid(uint8_t b[16], char out[INGRESS_UUID_BUFSZ])
{
	static const char hex[] = "0123456789abcdef";
	char *p = out;

	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		*p++ = hex[b[i] >> 4];
		*p++ = hex[b[i] & 15];
	}
	*p = '\0';
}

void ingress_uuid_v4(char out[INGRESS_UUID_BUFSZ])
{
	uint8_t b[16];

	if (!dapi_random_public(b, sizeof(b)))
		abort(); /* OpenSSL's generator fails only when the system's source does */
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	format_uuid(b, out);
}

/* SHA-1, fetched once: an implicit fetch on every digest costs more than the digest. */
static EVP_MD *sha1;
static pthread_once_t sha1_once = PTHREAD_ONCE_INIT;

static void fetch_sha1(void)
{
	sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
}

void ingress_uuid_v5(const uint8_t ns[16], const void *name, size_t len,
                     char out[INGRESS_UUID_BUFSZ])
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	EVP_MD_CTX *ctx;
	bool ok;

	pthread_once(&sha1_once, fetch_sha1);
	ctx = EVP_MD_CTX_new();
	ok = sha1 && ctx && EVP_DigestInit_ex(ctx, sha1, NULL) && EVP_DigestUpdate(ctx, ns, 16) &&
	     EVP_DigestUpdate(ctx, name, len) && EVP_DigestFinal_ex(ctx, md, &md_len) &&
	     md_len >= 16;
	EVP_MD_CTX_free(ctx);
	if (!ok) /* SHA-1 in memory fails only without memory or a crypto library */
		abort();
	md[6] = (uint8_t)((md[6] & 0x0f) | 0x50);
	md[8] = (uint8_t)((md[8] & 0x3f) | 0x80);
	format_uuid(md, out);
}

void ingress_uuid_from_key(const char *dialog_id, const char *key, char out[INGRESS_UUID_BUFSZ])
{
	static const uint8_t ns[16] = INGRESS_UUID_NAMESPACE;
	size_t dlen = strlen(dialog_id), klen = strlen(key);
	char name[2 * 256 + 2];

	/* ids and keys are at most 128 bytes (validated before); never truncated silently */
	assert(dlen + 1 + klen <= sizeof(name));
	memcpy(name, dialog_id, dlen);
	name[dlen] = '\0';
	memcpy(name + dlen + 1, key, klen);
	ingress_uuid_v5(ns, name, dlen + 1 + klen, out);
}
