#include "keyfetch.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "idset.h"
#include "log.h"
#include "metrics.h"
#include "timefmt.h"
#include "validate.h"

/* Most fetches the thread takes at once: their new keys go in one insertMany. One thread
 * with batches as large as the queue made creates more keys a second than several with
 * small ones (FerretDB/SQLite writes one at a time; measured in docs/benchmarks.md), and
 * keeps the key store's load to one request at a time per ingress. */
#define BATCH 256

struct job {
	struct job *next;
	char dialog_id[DAPI_ID_MAX + 1];
	char customer_id[DAPI_ID_MAX + 1]; /* "" when not known */
	ingress_keyfetch_done done;
	void *arg;
};

struct ingress_keyfetch {
	struct dapi_keystore *ks;
	pthread_mutex_t lock;
	pthread_cond_t ready;
	struct job *head, *tail;
	int queued, queue_max, nthreads;
	atomic_bool stopping;
	struct dapi_series *m_result[3]; /* ok, unavailable, unusable */
	struct dapi_series *m_duration, *m_replaced;
	pthread_t threads[];
};

/* Up to max queued jobs into jobs (waits for one); 0 once stopping with none left. */
static size_t take(struct ingress_keyfetch *kf, struct job **jobs, size_t max)
{
	size_t n = 0;
	pthread_mutex_lock(&kf->lock);
	while (!kf->head && !kf->stopping)
		pthread_cond_wait(&kf->ready, &kf->lock);
	while (kf->head && n < max) {
		jobs[n++] = kf->head;
		kf->head = kf->head->next;
		kf->queued--;
	}
	if (!kf->head)
		kf->tail = NULL;
	pthread_mutex_unlock(&kf->lock);
	return n;
}

/* The distinct dialogs of jobs into ids, the customerId of each one's first job into
 * persons (NULL when not known); job_id[j] the index of job j's dialog. Out of memory,
 * each job is its own (a dialog twice is then fetched twice: the same key). */
static size_t distinct(struct job **jobs, size_t n, const char **ids, const char **persons,
                       size_t *job_id)
{
	const char *names[BATCH];
	for (size_t j = 0; j < n; j++)
		names[j] = jobs[j]->dialog_id;
	size_t nid = dapi_distinct(names, n, ids, job_id);
	if (nid == SIZE_MAX) {
		for (size_t j = 0; j < n; j++) {
			ids[j] = names[j];
			job_id[j] = j;
		}
		nid = n;
	}
	for (size_t i = 0; i < nid; i++)
		persons[i] = NULL;
	for (size_t j = n; j-- > 0;)
		persons[job_id[j]] = *jobs[j]->customer_id ? jobs[j]->customer_id : NULL;
	return nid;
}

/* Gets or creates the keys of ids[0..n): the new ones in one insertMany, the existing ones
 * one by one (their usedAt refreshed). */
static void fetch_all(struct ingress_keyfetch *kf, const char **ids, const char **persons, size_t n,
                      uint8_t (*deks)[DAPI_AEAD_KEY], enum dapi_key_status *status)
{
	bson_error_t err;
	int64_t start = dapi_time_mono_ms();
	if (kf->stopping ||
	    !dapi_keystore_create_many(kf->ks, ids, persons, n, deks, status, &err)) {
		if (!kf->stopping)
			DAPI_WARN("key_store_unavailable", "{s:s}", "detail", err.message);
		for (size_t i = 0; i < n; i++)
			status[i] = DAPI_KEY_UNAVAILABLE;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (status[i] != DAPI_KEY_ABSENT)
			continue;
		bool replaced = false;
		status[i] = dapi_keystore_get_or_create(kf->ks, ids[i], persons[i], deks[i],
		                                        &replaced, &err);
		if (replaced) {
			dapi_series_add(kf->m_replaced, 1);
			DAPI_INFO("data_key_replaced", "{s:s, s:s}", "dialogId", ids[i], "reason",
			          "the dialog lapsed unconsented (pending TTL): a new incarnation");
		}
		if (status[i] == DAPI_KEY_UNAVAILABLE)
			DAPI_WARN("key_store_unavailable", "{s:s}", "detail", err.message);
		else if (status[i] != DAPI_KEY_OK)
			DAPI_ERROR("data_key_unusable", "{s:s, s:s}", "dialogId", ids[i], "reason",
			           status[i] == DAPI_KEY_UNKNOWN_MASTER ? "unknown master key"
			                                                : "invalid");
	}
	dapi_series_observe(kf->m_duration, (double)(dapi_time_mono_ms() - start) / 1000);
}

static void count(struct ingress_keyfetch *kf, const enum dapi_key_status *status, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dapi_series_add(kf->m_result[status[i] == DAPI_KEY_OK            ? 0
		                             : status[i] == DAPI_KEY_UNAVAILABLE ? 1
		                                                                 : 2],
		                1);
}

static void register_metrics(struct ingress_keyfetch *kf)
{
	static const char *const results[] = { "result=\"ok\"", "result=\"unavailable\"",
		                               "result=\"unusable\"" };
	struct dapi_family *f = dapi_metrics_family(
	        "dataapi_key_fetches_total",
	        "Data keys the ingress fetched or created for dialogs not in its cache, by result",
	        DAPI_COUNTER, NULL, 0);
	for (int i = 0; i < 3; i++)
		kf->m_result[i] = dapi_metrics_series(f, results[i]);
	kf->m_duration = dapi_metrics_series(
	        dapi_metrics_family("dataapi_key_store_duration_seconds",
	                            "One round of key-store work for up to 256 dialogs",
	                            DAPI_HISTOGRAM, dapi_latency_buckets, dapi_latency_nbuckets),
	        "");
	kf->m_replaced = dapi_metrics_series(
	        dapi_metrics_family("dataapi_keys_replaced_total",
	                            "Data keys of dialogs that lapsed unconsented, replaced by a "
	                            "fresh key for the dialogId's next incarnation",
	                            DAPI_COUNTER, NULL, 0),
	        "");
}

static void *fetch_loop(void *arg)
{
	struct ingress_keyfetch *kf = arg;
	struct job *jobs[BATCH];
	const char *ids[BATCH], *persons[BATCH];
	size_t job_id[BATCH], n;
	uint8_t deks[BATCH][DAPI_AEAD_KEY];
	enum dapi_key_status status[BATCH];

	while ((n = take(kf, jobs, BATCH)) > 0) {
		size_t nid = distinct(jobs, n, ids, persons, job_id);
		fetch_all(kf, ids, persons, nid, deks, status);
		count(kf, status, nid);
		for (size_t j = 0; j < n; j++) {
			size_t k = job_id[j];
			jobs[j]->done(jobs[j]->arg, status[k],
			              status[k] == DAPI_KEY_OK ? deks[k] : NULL);
		}
		OPENSSL_cleanse(deks, sizeof(deks));
		for (size_t j = 0; j < n; j++)
			free(jobs[j]);
	}
	return NULL;
}

struct ingress_keyfetch *ingress_keyfetch_start(struct dapi_keystore *ks, int threads,
                                                int queue_max)
{
	struct ingress_keyfetch *kf = calloc(1, sizeof(*kf) + (size_t)threads * sizeof(pthread_t));
	if (!kf)
		return NULL;
	kf->ks = ks;
	kf->queue_max = queue_max;
	register_metrics(kf);
	pthread_mutex_init(&kf->lock, NULL);
	pthread_cond_init(&kf->ready, NULL);
	for (; kf->nthreads < threads; kf->nthreads++) {
		if (pthread_create(&kf->threads[kf->nthreads], NULL, fetch_loop, kf) != 0) {
			ingress_keyfetch_stop(kf);
			return NULL;
		}
	}
	return kf;
}

bool ingress_keyfetch_submit(struct ingress_keyfetch *kf, const char *dialog_id,
                             const char *customer_id, ingress_keyfetch_done done, void *arg)
{
	struct job *j = calloc(1, sizeof(*j));
	if (!j || strlen(dialog_id) > DAPI_ID_MAX ||
	    (customer_id && strlen(customer_id) > DAPI_ID_MAX)) {
		free(j);
		return false;
	}
	strcpy(j->dialog_id, dialog_id);
	if (customer_id)
		strcpy(j->customer_id, customer_id);
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

void ingress_keyfetch_stop(struct ingress_keyfetch *kf)
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
