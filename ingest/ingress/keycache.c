#include "keycache.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"

struct slot {
	char dialog_id[DAPI_ID_MAX + 1];
	uint8_t dek[DAPI_AEAD_KEY];
	int64_t expires_ms;
};

struct keycache {
	pthread_mutex_t lock;
	struct slot *slots;
	size_t mask;
	int64_t ttl_ms;
};

struct keycache *keycache_new(size_t slots, int64_t ttl_ms)
{
	struct keycache *kc = calloc(1, sizeof(*kc));
	size_t n = 64;
	while (n < slots)
		n *= 2;
	if (kc)
		kc->slots = calloc(n, sizeof(*kc->slots));
	if (!kc || !kc->slots) {
		free(kc);
		return NULL;
	}
	pthread_mutex_init(&kc->lock, NULL);
	kc->mask = n - 1;
	kc->ttl_ms = ttl_ms;
	return kc;
}

void keycache_destroy(struct keycache *kc)
{
	if (!kc)
		return;
	OPENSSL_cleanse(kc->slots, (kc->mask + 1) * sizeof(*kc->slots));
	free(kc->slots);
	pthread_mutex_destroy(&kc->lock);
	free(kc);
}

static struct slot *slot_of(struct keycache *kc, const char *dialog_id)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (const char *p = dialog_id; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ULL;
	return &kc->slots[h & kc->mask];
}

bool keycache_get(struct keycache *kc, const char *dialog_id, int64_t now_ms,
                  uint8_t dek[DAPI_AEAD_KEY])
{
	bool hit = false;
	pthread_mutex_lock(&kc->lock);
	struct slot *s = slot_of(kc, dialog_id);
	if (s->expires_ms > now_ms && !strcmp(s->dialog_id, dialog_id)) {
		memcpy(dek, s->dek, DAPI_AEAD_KEY);
		hit = true;
	} else if (s->expires_ms != 0 && s->expires_ms <= now_ms) {
		OPENSSL_cleanse(s, sizeof(*s)); /* expired: nothing stays longer than the TTL */
	}
	pthread_mutex_unlock(&kc->lock);
	return hit;
}

void keycache_put(struct keycache *kc, const char *dialog_id, const uint8_t dek[DAPI_AEAD_KEY],
                  int64_t now_ms)
{
	if (strlen(dialog_id) > DAPI_ID_MAX)
		return;
	pthread_mutex_lock(&kc->lock);
	struct slot *s = slot_of(kc, dialog_id);
	OPENSSL_cleanse(s, sizeof(*s));
	strcpy(s->dialog_id, dialog_id);
	memcpy(s->dek, dek, DAPI_AEAD_KEY);
	s->expires_ms = now_ms + kc->ttl_ms;
	pthread_mutex_unlock(&kc->lock);
}
