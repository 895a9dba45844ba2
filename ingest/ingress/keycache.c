#include "keycache.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "idset.h"

/* Ways a set: with 4, 100,000 dialogs in 262,144 slots overflowed their sets for about 2 %
 * of them (a set's dialogs follow a Poisson law of mean 1.5), which then evicted each other
 * on every message and went back to the key store each time (B1 sealed fell to 0.67 of
 * unsealed). With 16 ways (mean 6.1 a set) next to none overflow below 60 % full. */
#define WAYS 16

/* A dialog is known by two independent 64-bit hashes of its id (a 128-bit name: two
 * dialogs sharing one is not to be expected), so an entry is 56 bytes whatever the id. */
struct slot {
	uint64_t h1, h2;
	int64_t expires_ms; /* 0: empty */
	uint8_t dek[DAPI_AEAD_KEY];
};

struct ingress_keycache {
	pthread_mutex_t lock;
	struct slot *slots; /* sets of WAYS slots */
	size_t sets_mask;
	int64_t ttl_ms;
};

struct ingress_keycache *ingress_keycache_new(size_t slots, int64_t ttl_ms)
{
	struct ingress_keycache *kc = calloc(1, sizeof(*kc));
	size_t sets = 1;
	while (sets * WAYS < slots)
		sets *= 2;
	if (kc)
		kc->slots = calloc(sets * WAYS, sizeof(*kc->slots));
	if (!kc || !kc->slots) {
		free(kc);
		return NULL;
	}
	pthread_mutex_init(&kc->lock, NULL);
	kc->sets_mask = sets - 1;
	kc->ttl_ms = ttl_ms;
	return kc;
}

void ingress_keycache_destroy(struct ingress_keycache *kc)
{
	if (!kc)
		return;
	OPENSSL_cleanse(kc->slots, (kc->sets_mask + 1) * WAYS * sizeof(*kc->slots));
	free(kc->slots);
	pthread_mutex_destroy(&kc->lock);
	free(kc);
}

static void hash_id(const char *id, uint64_t *h1, uint64_t *h2)
{
	uint64_t b = 0x9e3779b97f4a7c15ULL; /* a multiply-xorshift, independent of FNV-1a */
	for (const char *p = id; *p; p++) {
		b = (b ^ (uint8_t)*p) * 0xff51afd7ed558ccdULL;
		b ^= b >> 33;
	}
	*h1 = dapi_fnv1a(id);
	*h2 = b | 1; /* never 0, so an empty slot never matches */
}

static struct slot *set_of(struct ingress_keycache *kc, uint64_t h1)
{
	return &kc->slots[(h1 & kc->sets_mask) * WAYS];
}

bool ingress_keycache_get(struct ingress_keycache *kc, const char *dialog_id, int64_t now_ms,
                          uint8_t dek[DAPI_AEAD_KEY])
{
	uint64_t h1, h2;
	bool hit = false;
	hash_id(dialog_id, &h1, &h2);
	pthread_mutex_lock(&kc->lock);
	struct slot *set = set_of(kc, h1);
	for (int w = 0; w < WAYS && !hit; w++) {
		struct slot *s = &set[w];
		if (s->expires_ms != 0 && s->expires_ms <= now_ms)
			OPENSSL_cleanse(s, sizeof(*s)); /* nothing stays longer than the TTL */
		else if (s->expires_ms != 0 && s->h1 == h1 && s->h2 == h2) {
			memcpy(dek, s->dek, DAPI_AEAD_KEY);
			hit = true;
		}
	}
	pthread_mutex_unlock(&kc->lock);
	return hit;
}

void ingress_keycache_put(struct ingress_keycache *kc, const char *dialog_id,
                          const uint8_t dek[DAPI_AEAD_KEY], int64_t now_ms)
{
	uint64_t h1, h2;
	hash_id(dialog_id, &h1, &h2);
	pthread_mutex_lock(&kc->lock);
	struct slot *set = set_of(kc, h1), *victim = &set[0];
	for (int w = 0; w < WAYS; w++) {
		if (set[w].h1 == h1 && set[w].h2 == h2) {
			victim = &set[w]; /* the same dialog: refresh */
			break;
		}
		if (set[w].expires_ms < victim->expires_ms)
			victim = &set[w]; /* else the one closest to expiry (or empty) */
	}
	OPENSSL_cleanse(victim, sizeof(*victim));
	victim->h1 = h1;
	victim->h2 = h2;
	memcpy(victim->dek, dek, DAPI_AEAD_KEY);
	victim->expires_ms = now_ms + kc->ttl_ms;
	pthread_mutex_unlock(&kc->lock);
}

void ingress_keycache_forget(struct ingress_keycache *kc, const char *dialog_id)
{
	uint64_t h1, h2;
	if (!kc)
		return;
	hash_id(dialog_id, &h1, &h2);
	pthread_mutex_lock(&kc->lock);
	struct slot *set = set_of(kc, h1);
	for (int w = 0; w < WAYS; w++)
		if (set[w].h1 == h1 && set[w].h2 == h2)
			OPENSSL_cleanse(&set[w], sizeof(set[w]));
	pthread_mutex_unlock(&kc->lock);
}
