#include "keyfetch.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "validate.h"

struct job {
	struct job *next;
	char dialog_id[DAPI_ID_MAX + 1];
	keyfetch_done done;
	void *arg;
};

struct keyfetch {
	struct dapi_keystore *ks;
	pthread_mutex_t lock;
	pthread_cond_t ready;
	struct job *head, *tail;
	int queued, queue_max, nthreads;
	atomic_bool stopping;
	pthread_t threads[];
};

static struct job *take(struct keyfetch *kf)
{
	pthread_mutex_lock(&kf->lock);
	while (!kf->head && !kf->stopping)
		pthread_cond_wait(&kf->ready, &kf->lock);
	struct job *j = kf->head;
	if (j) {
		kf->head = j->next;
		if (!kf->head)
			kf->tail = NULL;
		kf->queued--;
	}
	pthread_mutex_unlock(&kf->lock);
	return j;
}

static void *fetch_loop(void *arg)
{
	struct keyfetch *kf = arg;
	struct job *j;
	while ((j = take(kf))) {
		uint8_t dek[DAPI_AEAD_KEY];
		bson_error_t err;
		enum dapi_key_status st =
		        kf->stopping ? DAPI_KEY_UNAVAILABLE
		                     : dapi_keystore_get_or_create(kf->ks, j->dialog_id, dek, &err);
		if (st == DAPI_KEY_UNAVAILABLE && !kf->stopping)
			DAPI_WARN("key_store_unavailable", "{s:s}", "detail", err.message);
		else if (st != DAPI_KEY_OK && st != DAPI_KEY_UNAVAILABLE)
			DAPI_ERROR("data_key_unusable", "{s:s, s:s}", "dialogId", j->dialog_id,
			           "reason",
			           st == DAPI_KEY_UNKNOWN_MASTER ? "unknown master key"
			                                         : "invalid");
		j->done(j->arg, st, st == DAPI_KEY_OK ? dek : NULL);
		OPENSSL_cleanse(dek, sizeof(dek));
		free(j);
	}
	return NULL;
}

struct keyfetch *keyfetch_start(struct dapi_keystore *ks, int threads, int queue_max)
{
	struct keyfetch *kf = calloc(1, sizeof(*kf) + (size_t)threads * sizeof(pthread_t));
	if (!kf)
		return NULL;
	kf->ks = ks;
	kf->queue_max = queue_max;
	pthread_mutex_init(&kf->lock, NULL);
	pthread_cond_init(&kf->ready, NULL);
	for (; kf->nthreads < threads; kf->nthreads++) {
		if (pthread_create(&kf->threads[kf->nthreads], NULL, fetch_loop, kf) != 0) {
			keyfetch_stop(kf);
			return NULL;
		}
	}
	return kf;
}

bool keyfetch_submit(struct keyfetch *kf, const char *dialog_id, keyfetch_done done, void *arg)
{
	struct job *j = calloc(1, sizeof(*j));
	if (!j || strlen(dialog_id) > DAPI_ID_MAX) {
		free(j);
		return false;
	}
	strcpy(j->dialog_id, dialog_id);
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&kf->lock);
	bool ok = !kf->stopping && kf->queued < kf->queue_max;
	if (ok) {
		if (kf->tail)
			kf->tail->next = j;
		else
			kf->head = j;
		kf->tail = j;
		kf->queued++;
		pthread_cond_signal(&kf->ready);
	}
	pthread_mutex_unlock(&kf->lock);
	if (!ok)
		free(j);
	return ok;
}

void keyfetch_stop(struct keyfetch *kf)
{
	if (!kf)
		return;
	pthread_mutex_lock(&kf->lock);
	kf->stopping = true;
	pthread_cond_broadcast(&kf->ready);
	pthread_mutex_unlock(&kf->lock);
	for (int i = 0; i < kf->nthreads; i++)
		pthread_join(kf->threads[i], NULL);
	pthread_cond_destroy(&kf->ready);
	pthread_mutex_destroy(&kf->lock);
	free(kf);
}
