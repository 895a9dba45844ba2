#include "aead.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

bool dapi_random(void *buf, size_t n)
{
	return RAND_bytes(buf, (int)n) == 1;
}

/* Bytes drawn from the same generator a block at a time, per thread: one RAND_bytes call
 * (its context lookup and locking) took about 5 % of a sealed POST's CPU when made for each
 * 12-byte nonce. Only for values that are public once used: a block in memory holds no
 * secret. */
#define PUBLIC_BLOCK 384
static __thread struct {
	uint8_t bytes[PUBLIC_BLOCK];
	size_t left; /* unused bytes, at the end of bytes */
} public_pool;

bool dapi_random_public(void *buf, size_t n)
{
	if (n > PUBLIC_BLOCK / 4)
		return dapi_random(buf, n);
	if (public_pool.left < n) {
		if (!dapi_random(public_pool.bytes, PUBLIC_BLOCK))
			return false;
		public_pool.left = PUBLIC_BLOCK;
	}
	uint8_t *from = public_pool.bytes + PUBLIC_BLOCK - public_pool.left;
	memcpy(buf, from, n);
	memset(from, 0, n); /* a byte is handed out once */
	public_pool.left -= n;
	return true;
}

/* AES-256-GCM, fetched from the default provider once: EVP_aes_256_gcm() in an init is an
 * implicit fetch, a method-store lookup on every seal (measured under callgrind: 4,700 of
 * the 16,000 instructions a seal took). Never freed: it lives as long as the process. */
static EVP_CIPHER *gcm_cipher;
static pthread_once_t gcm_once = PTHREAD_ONCE_INIT;

static void gcm_fetch(void)
{
	gcm_cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
}

/* The cipher; NULL when the provider has none (every seal and open then fails). */
static const EVP_CIPHER *aes_256_gcm(void)
{
	pthread_once(&gcm_once, gcm_fetch);
	return gcm_cipher;
}

/* Each thread's GCM context, kept between seals: a new context a seal (allocation, cipher
 * set-up, the nonce length) cost as much as the key schedule. The key and the nonce are set
 * for each use; a context that failed is freed rather than used again. */
static pthread_key_t gcm_ctx_key;
static pthread_once_t gcm_ctx_once = PTHREAD_ONCE_INIT;

static void gcm_ctx_free(void *ctx)
{
	EVP_CIPHER_CTX_free(ctx);
}

static void gcm_ctx_key_make(void)
{
	if (pthread_key_create(&gcm_ctx_key, gcm_ctx_free) != 0)
		abort(); /* only when the process is out of thread keys, at its first seal */
}

/* This thread's context, set up for AES-256-GCM with 96-bit nonces; NULL on failure. */
static EVP_CIPHER_CTX *gcm_ctx(void)
{
	const EVP_CIPHER *cipher = aes_256_gcm();
	EVP_CIPHER_CTX *ctx;

	pthread_once(&gcm_ctx_once, gcm_ctx_key_make);
	ctx = pthread_getspecific(gcm_ctx_key);
	if (ctx || !cipher)
		return ctx;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx || EVP_CipherInit_ex(ctx, cipher, NULL, NULL, NULL, 1) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, DAPI_AEAD_NONCE, NULL) != 1 ||
	    pthread_setspecific(gcm_ctx_key, ctx) != 0) {
		EVP_CIPHER_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* A failed use: the context's state is unknown, so the thread starts a new one next time. */
static void gcm_ctx_drop(EVP_CIPHER_CTX *ctx)
{
	if (ctx && pthread_setspecific(gcm_ctx_key, NULL) == 0)
		EVP_CIPHER_CTX_free(ctx);
}

/* This thread's GCM context keyed for key and nonce, sealing (enc) or opening, with aad fed
 * in; NULL on failure. */
static EVP_CIPHER_CTX *gcm_start(bool enc, const uint8_t *key, const uint8_t *nonce,
                                 const void *aad, size_t aad_len)
{
	EVP_CIPHER_CTX *ctx = gcm_ctx();
	int n = 0;
	bool ok = ctx && EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc ? 1 : 0) == 1 &&
	          (aad_len == 0 || EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len) == 1);
	if (!ok) {
		gcm_ctx_drop(ctx);
		return NULL;
	}
	return ctx;
}

/* Runs len bytes of in through ctx into out and finishes (an open checks the tag here). */
static bool gcm_finish(EVP_CIPHER_CTX *ctx, const uint8_t *in, size_t len, uint8_t *out)
{
	int n = 0, fin = 0;
	return (len == 0 || EVP_CipherUpdate(ctx, out, &n, in, (int)len) == 1) &&
	       EVP_CipherFinal_ex(ctx, out + n, &fin) == 1;
}

bool dapi_aead_seal(const uint8_t key[DAPI_AEAD_KEY], const void *aad, size_t aad_len,
                    const void *pt, size_t pt_len, uint8_t *out)
{
	if (pt_len > INT32_MAX / 2 || aad_len > INT32_MAX / 2 ||
	    !dapi_random_public(out, DAPI_AEAD_NONCE))
		return false;
	EVP_CIPHER_CTX *ctx = gcm_start(true, key, out, aad, aad_len);
	if (!ctx)
		return false;
	if (!gcm_finish(ctx, pt, pt_len, out + DAPI_AEAD_NONCE) ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, DAPI_AEAD_TAG,
	                        out + DAPI_AEAD_NONCE + pt_len) != 1) {
		gcm_ctx_drop(ctx);
		return false;
	}
	return true;
}

bool dapi_aead_open(const uint8_t key[DAPI_AEAD_KEY], const void *aad, size_t aad_len,
                    const uint8_t *box, size_t box_len, uint8_t *out)
{
	uint8_t tag[DAPI_AEAD_TAG];
	if (box_len < DAPI_AEAD_OVERHEAD || box_len > INT32_MAX / 2 || aad_len > INT32_MAX / 2)
		return false;
	size_t len = box_len - DAPI_AEAD_OVERHEAD;
	memcpy(tag, box + DAPI_AEAD_NONCE + len, DAPI_AEAD_TAG);
	EVP_CIPHER_CTX *ctx = gcm_start(false, key, box, aad, aad_len);
	if (!ctx)
		return false;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, DAPI_AEAD_TAG, tag) != 1 ||
	    !gcm_finish(ctx, box + DAPI_AEAD_NONCE, len, out)) {
		gcm_ctx_drop(ctx); /* a wrong tag: rare (a damaged record or a wrong key) */
		return false;
	}
	return true;
}

size_t dapi_base64_encode(const uint8_t *in, size_t n, char *out)
{
	return (size_t)EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

static bool is_b64(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

long dapi_base64_decode(const char *s, size_t len, uint8_t *out)
{
	size_t pad = 0;
	if (len % 4 != 0 || len > INT32_MAX / 2)
		return -1;
	while (pad < 2 && pad < len && s[len - 1 - pad] == '=')
		pad++;
	for (size_t i = 0; i < len - pad; i++)
		if (!is_b64(s[i]))
			return -1;
	int n = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);
	if (n < 0)
		return -1;
	long decoded = n - (long)pad;
	/* canonical: encoding the bytes again gives s back (no stray bits in the padding) */
	char check[5];
	if (len >= 4 && pad > 0) {
		dapi_base64_encode(out + (decoded / 3) * 3, (size_t)(decoded % 3), check);
		if (memcmp(check, s + len - 4, 4) != 0)
			return -1;
	}
	return decoded;
}
