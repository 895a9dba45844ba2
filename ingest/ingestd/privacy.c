#include "privacy.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dlq.h"
#include "doc.h"
#include "event.h"
#include "idset.h"
#include "log.h"
#include "metrics.h"
#include "mongo.h"
#include "service.h"
#include "timefmt.h"

/* A runner that stops renewing (killed, cut off) loses its request after this. */
#define LEASE_MS (60 * 1000)
/* Keys and store documents looked at a round trip. */
#define CHUNK 256

struct ingestd_privacy {
	struct ingestd_privacy_config cfg;
	char runner[300]; /* who holds a lease: host and pid */
	struct dapi_series *m_completed, *m_errors, *m_duration, *m_open_age;
	atomic_bool stop;
	pthread_t thread;
};

/* The dialogs of one request: distinct ids, each its own allocation. */
struct idlist {
	char **ids;
	size_t n, cap;
};

static bool idlist_add(struct idlist *l, const char *id)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		char **ids = realloc(l->ids, cap * sizeof(*ids));
		if (!ids)
			return false;
		l->ids = ids;
		l->cap = cap;
	}
	return (l->ids[l->n] = strdup(id)) && ++l->n;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted, each id once (a dialog found both by its key and in the store). */
static void idlist_unique(struct idlist *l)
{
	size_t out = 0;
	if (l->n)
		qsort(l->ids, l->n, sizeof(*l->ids), cmp_str);
	for (size_t i = 0; i < l->n; i++) {
		if (out && !strcmp(l->ids[out - 1], l->ids[i]))
			free(l->ids[i]);
		else
			l->ids[out++] = l->ids[i];
	}
	l->n = out;
}

static void idlist_free(struct idlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->ids[i]);
	free(l->ids);
	*l = (struct idlist){ 0 };
}

/* ---- 1. the person's dialogs ------------------------------------------------------ */

/* The dialogs whose data key is tagged with the person and older than the request. */
static bool person_keys(struct ingestd_privacy *p, const struct dapi_erasure *e, struct idlist *l,
                        bson_error_t *err)
{
	char *buf = malloc(CHUNK * 129), after[129] = "";
	size_t n = CHUNK;
	bool ok = buf != NULL;
	while (ok && n == CHUNK) {
		ok = dapi_keystore_person_ids(p->cfg.keys, e->customer_id, e->requested_at, after,
		                              buf, CHUNK, &n, err);
		for (size_t i = 0; ok && i < n; i++)
			ok = idlist_add(l, buf + i * 129);
		if (ok && n)
			memcpy(after, buf + (n - 1) * 129, 129);
	}
	if (!buf)
		bson_set_error(err, 0, 0, "out of memory");
	free(buf);
	return ok;
}

static mongoc_collection_t *dialogs_coll(struct ingestd_privacy *p, mongoc_client_t **client)
{
	*client = mongoc_client_pool_pop(p->cfg.pool);
	return mongoc_client_get_collection(*client, p->cfg.db, p->cfg.collection);
}

/* The store's dialogs of the customer (consented or pending) made before the request: those
 * whose key carries no tag (made before keys had one). */
static bool store_dialogs(struct ingestd_privacy *p, const struct dapi_erasure *e, struct idlist *l,
                          bson_error_t *err)
{
	mongoc_client_t *client;
	mongoc_collection_t *coll = dialogs_coll(p, &client);
	/* consent first: the consent_customer_recent index serves it, both values */
	bson_t *filter =
	        BCON_NEW(DAPI_DOC_CONSENT, "{", "$in", "[", BCON_BOOL(true), BCON_BOOL(false), "]",
	                 "}", DAPI_DOC_CUSTOMER_ID, BCON_UTF8(e->customer_id), DAPI_DOC_CREATED_AT,
	                 "{", "$lt", BCON_DATE_TIME(e->requested_at), "}");
	bson_t *opts = BCON_NEW("projection", "{", "_id", BCON_INT32(1), "}");
	mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
	const bson_t *doc;
	bson_iter_t it;
	bool ok = true;
	while (ok && mongoc_cursor_next(cur, &doc))
		if (bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_UTF8(&it))
			ok = idlist_add(l, bson_iter_utf8(&it, NULL));
	if (!ok)
		bson_set_error(err, 0, 0, "out of memory");
	ok = ok && !mongoc_cursor_error(cur, err);
	mongoc_cursor_destroy(cur);
	bson_destroy(opts);
	bson_destroy(filter);
	mongoc_collection_destroy(coll);
	mongoc_client_pool_push(p->cfg.pool, client);
	return ok;
}

/* ---- 2. a revocation each ---------------------------------------------------------- */

/* One revocation of dialog_id, for request e, queued (counted in sent). Its eventId is the
 * same whenever the request runs again. */
static bool send_revocation(struct ingestd_privacy *p, const struct dapi_erasure *e,
                            const char *dialog_id, struct dapi_dlq_batch *sent)
{
	char event_id[80];
	size_t len;
	snprintf(event_id, sizeof(event_id), "era-%s-%016llx", e->id,
	         (unsigned long long)dapi_fnv1a(dialog_id));
	struct dapi_event ev = { .type = DAPI_EVENT_CONSENT,
		                 .event_id = event_id,
		                 .dialog_id = dialog_id,
		                 .granted = false,
		                 .received_at = dapi_time_now_ms() };
	char *value = dapi_event_encode(&ev, &len);
	rd_kafka_headers_t *hdrs = rd_kafka_headers_new(1);
	if (!value || !hdrs) {
		free(value);
		if (hdrs)
			rd_kafka_headers_destroy(hdrs);
		return false;
	}
	rd_kafka_header_add(hdrs, "type", -1, "consent", -1);
	atomic_fetch_add(&sent->pending, 1);
	if (dapi_producer_send(p->cfg.producer, p->cfg.topic, dialog_id, strlen(dialog_id), value,
	                       len, hdrs, sent) == 0)
		return true;
	atomic_fetch_sub(&sent->pending, 1);
	return false;
}

/* Publishes every revocation and waits for Kafka's acknowledgement of them all. */
static bool publish_revocations(struct ingestd_privacy *p, const struct dapi_erasure *e,
                                const struct idlist *l, bson_error_t *err)
{
	struct dapi_dlq_batch sent = { 0 };
	size_t queued = 0;
	for (size_t i = 0; i < l->n; i++)
		queued += send_revocation(p, e, l->ids[i], &sent);
	while (atomic_load(&sent.pending) > 0)
		dapi_producer_flush(p->cfg.producer, 100);
	if (queued < l->n || atomic_load(&sent.failed) > 0) {
		bson_set_error(err, 0, 0, "%zu of %zu revocations not acknowledged by Kafka",
		               l->n - queued + (size_t)atomic_load(&sent.failed), l->n);
		return false;
	}
	return true;
}

/* ---- 3. the store erased, then the keys ---------------------------------------------- */

/* Whether the store shows every dialog of l as a tombstone (the revocations applied). */
static bool all_tombstones(struct ingestd_privacy *p, const struct idlist *l, bool *all,
                           bson_error_t *err)
{
	mongoc_client_t *client;
	mongoc_collection_t *coll = dialogs_coll(p, &client);
	bool ok = true;
	*all = true;
	for (size_t at = 0; ok && *all && at < l->n; at += CHUNK) {
		size_t n = l->n - at < CHUNK ? l->n - at : CHUNK;
		bson_t filter = BSON_INITIALIZER;
		dapi_mongo_append_in(&filter, "_id", (const char *const *)l->ids + at, n);
		BSON_APPEND_BOOL(&filter, DAPI_DOC_REVOKED, true);
		int64_t count =
		        mongoc_collection_count_documents(coll, &filter, NULL, NULL, NULL, err);
		ok = count >= 0;
		*all = ok && (size_t)count == n;
		bson_destroy(&filter);
	}
	mongoc_collection_destroy(coll);
	mongoc_client_pool_push(p->cfg.pool, client);
	return ok;
}

/* How many of l's dialogs have a data key now. */
static bool count_keys(struct ingestd_privacy *p, const struct idlist *l, int64_t *present,
                       bson_error_t *err)
{
	uint8_t(*deks)[DAPI_AEAD_KEY] = calloc(CHUNK, DAPI_AEAD_KEY);
	enum dapi_key_status status[CHUNK];
	bool ok = deks != NULL;
	*present = 0;
	for (size_t at = 0; ok && at < l->n; at += CHUNK) {
		size_t n = l->n - at < CHUNK ? l->n - at : CHUNK;
		ok = dapi_keystore_find(p->cfg.keys, (const char *const *)l->ids + at, n, deks,
		                        status, NULL, err);
		for (size_t i = 0; ok && i < n; i++)
			*present += status[i] != DAPI_KEY_ABSENT;
	}
	if (deks)
		OPENSSL_cleanse(deks, CHUNK * DAPI_AEAD_KEY);
	else
		bson_set_error(err, 0, 0, "out of memory");
	free(deks);
	return ok;
}

/* Deletes the keys of l's dialogs made before the request (and the clock skew between
 * ingress hosts): the request is the evidence that those incarnations are erased. */
static bool delete_keys(struct ingestd_privacy *p, const struct dapi_erasure *e,
                        const struct idlist *l, bson_error_t *err)
{
	int64_t bound[CHUNK], deleted;
	bool ok = true;
	for (size_t i = 0; i < CHUNK; i++)
		bound[i] = e->requested_at + DAPI_KEY_SKEW_MS;
	for (size_t at = 0; ok && at < l->n; at += CHUNK) {
		size_t n = l->n - at < CHUNK ? l->n - at : CHUNK;
		ok = dapi_keystore_delete_revoked(p->cfg.keys, (const char *const *)l->ids + at,
		                                  bound, n, &deleted, err);
	}
	return ok;
}

/* ---- one request ------------------------------------------------------------------- */

/* Sleeps poll_ms and renews the lease; false on a stop or when the lease is lost. */
static bool wait_round(struct ingestd_privacy *p, const struct dapi_erasure *e)
{
	bson_error_t err;
	bool held = true;
	for (int64_t t = 0; t < p->cfg.poll_ms && !p->stop; t += 50)
		usleep(50 * 1000);
	if (p->stop)
		return false;
	if (!dapi_erasures_renew(p->cfg.erasures, e->id, p->runner, LEASE_MS, &held, &err))
		DAPI_WARN("key_store_unavailable", "{s:s}", "detail", err.message);
	if (!held)
		DAPI_WARN("erasure_lease_lost", "{s:s}", "erasureId", e->id);
	return held;
}

/* Runs op until it succeeds (logged and counted each time it fails); false on a stop or a
 * lost lease. */
static bool until_done(struct ingestd_privacy *p, const struct dapi_erasure *e, const char *step,
                       bool (*op)(struct ingestd_privacy *, void *, bson_error_t *), void *arg)
{
	bson_error_t err;
	while (!op(p, arg, &err)) {
		DAPI_WARN("erasure_step_failed", "{s:s, s:s, s:s}", "erasureId", e->id, "step",
		          step, "detail", err.message);
		dapi_series_add(p->m_errors, 1);
		if (!wait_round(p, e))
			return false;
	}
	return true;
}

/* What the steps share. */
struct run {
	const struct dapi_erasure *e;
	struct idlist dialogs;
	int64_t keys_before, keys_after;
	bool erased;
};

static bool step_find(struct ingestd_privacy *p, void *arg, bson_error_t *err)
{
	struct run *r = arg;
	idlist_free(&r->dialogs);
	bool ok =
	        person_keys(p, r->e, &r->dialogs, err) && store_dialogs(p, r->e, &r->dialogs, err);
	idlist_unique(&r->dialogs);
	return ok && count_keys(p, &r->dialogs, &r->keys_before, err);
}

static bool step_publish(struct ingestd_privacy *p, void *arg, bson_error_t *err)
{
	struct run *r = arg;
	return publish_revocations(p, r->e, &r->dialogs, err);
}

static bool step_erased(struct ingestd_privacy *p, void *arg, bson_error_t *err)
{
	struct run *r = arg;
	return all_tombstones(p, &r->dialogs, &r->erased, err);
}

static bool step_keys(struct ingestd_privacy *p, void *arg, bson_error_t *err)
{
	struct run *r = arg;
	return delete_keys(p, r->e, &r->dialogs, err) &&
	       count_keys(p, &r->dialogs, &r->keys_after, err);
}

static bool step_complete(struct ingestd_privacy *p, void *arg, bson_error_t *err)
{
	struct run *r = arg;
	return dapi_erasures_complete(p->cfg.erasures, r->e->id, p->runner, (int64_t)r->dialogs.n,
	                              r->keys_before - r->keys_after, err);
}

/* The request's steps in order; false when given up (a stop, a lost lease). */
static bool run_request(struct ingestd_privacy *p, const struct dapi_erasure *e)
{
	struct run r = { .e = e };
	bool ok = until_done(p, e, "find", step_find, &r) &&
	          until_done(p, e, "publish", step_publish, &r);
	DAPI_INFO("erasure_running", "{s:s, s:I}", "erasureId", e->id, "dialogs",
	          (json_int_t)r.dialogs.n);
	while (ok && until_done(p, e, "wait", step_erased, &r) && !r.erased)
		ok = wait_round(p, e);
	ok = ok && r.erased && until_done(p, e, "keys", step_keys, &r) &&
	     until_done(p, e, "complete", step_complete, &r);
	if (ok) {
		int64_t took = dapi_time_now_ms() - e->requested_at;
		dapi_series_add(p->m_completed, 1);
		dapi_series_observe(p->m_duration, (double)took / 1000.0);
		DAPI_INFO("erasure_completed", "{s:s, s:I, s:I, s:I}", "erasureId", e->id,
		          "dialogs", (json_int_t)r.dialogs.n, "keysDeleted",
		          (json_int_t)(r.keys_before - r.keys_after), "ms", (json_int_t)took);
	}
	idlist_free(&r.dialogs);
	return ok;
}

/* ---- the thread -------------------------------------------------------------------- */

/* Whether a request is open (one read, so that an idle runner writes nothing), its age
 * set for the alert on the completion bound. */
static bool any_open(struct ingestd_privacy *p)
{
	int64_t oldest = 0;
	bson_error_t err;
	if (!dapi_erasures_oldest_open(p->cfg.erasures, &oldest, &err))
		return false;
	dapi_series_set(p->m_open_age,
	                oldest ? (double)(dapi_time_now_ms() - oldest) / 1000.0 : 0.0);
	return oldest != 0;
}

static void *privacy_loop(void *arg)
{
	struct ingestd_privacy *p = arg;
	bson_error_t err;
	bool indexed = false;
	while (!p->stop) {
		struct dapi_erasure e = { 0 };
		bool found = false;
		if (!indexed && !(indexed = dapi_erasures_indexes(p->cfg.erasures, &err) &&
		                            dapi_keystore_person_index(p->cfg.keys, &err)))
			DAPI_WARN("key_store_unavailable", "{s:s}", "detail", err.message);
		if (indexed && any_open(p) &&
		    !dapi_erasures_claim(p->cfg.erasures, p->runner, LEASE_MS, &e, &found, &err))
			DAPI_WARN("erasure_claim_failed", "{s:s}", "detail", err.message);
		if (found)
			run_request(p, &e);
		OPENSSL_cleanse(e.customer_id, sizeof(e.customer_id));
		for (int64_t t = 0; !found && t < p->cfg.poll_ms && !p->stop; t += 50)
			usleep(50 * 1000);
	}
	return NULL;
}

static void register_metrics(struct ingestd_privacy *p)
{
	p->m_completed = dapi_metrics_one("dataapi_privacy_erasures_completed_total",
	                                  "Person-level erasure requests this member completed",
	                                  DAPI_COUNTER);
	p->m_errors = dapi_metrics_one("dataapi_privacy_erasure_errors_total",
	                               "Steps of erasure requests that failed and were retried "
	                               "(store, key store or Kafka unavailable)",
	                               DAPI_COUNTER);
	p->m_duration = dapi_metrics_series(
	        dapi_metrics_family("dataapi_privacy_erasure_duration_seconds",
	                            "From an erasure request to its completion", DAPI_HISTOGRAM,
	                            dapi_latency_buckets, dapi_latency_nbuckets),
	        "");
	p->m_open_age = dapi_metrics_one("dataapi_privacy_erasure_oldest_open_seconds",
	                                 "Age of the oldest erasure request not completed (0: "
	                                 "none); alerted on past the documented bound",
	                                 DAPI_GAUGE);
}

struct ingestd_privacy *ingestd_privacy_start(const struct ingestd_privacy_config *cfg)
{
	struct ingestd_privacy *p = calloc(1, sizeof(*p));
	char host[256] = "";
	if (!p)
		return NULL;
	p->cfg = *cfg;
	gethostname(host, sizeof(host) - 1);
	snprintf(p->runner, sizeof(p->runner), "ingestd@%s:%d", host, (int)getpid());
	register_metrics(p);
	if (pthread_create(&p->thread, NULL, privacy_loop, p) != 0) {
		free(p);
		return NULL;
	}
	return p;
}

void ingestd_privacy_stop(struct ingestd_privacy *p)
{
	if (!p)
		return;
	p->stop = true;
	pthread_join(p->thread, NULL);
	free(p);
}
