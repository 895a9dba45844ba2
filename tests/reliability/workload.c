#include "workload.h"

#include <mongoc/mongoc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

void wl_init(struct workload *w, const struct stack *s, const char *prefix, int ndialogs, int nops,
             unsigned seed)
{
	memset(w, 0, sizeof(*w));
	w->s = s;
	snprintf(w->prefix, sizeof(w->prefix), "%s", prefix);
	w->ndialogs = ndialogs;
	w->nops = nops;
	w->deadline_ms = 180000;
	w->ops = calloc((size_t)nops, sizeof(*w->ops));
	uint32_t x = seed ? seed : 1;
	for (int i = 0; i < nops; i++) {
		x ^= x << 13; /* xorshift32: the same seed, the same stream */
		x ^= x >> 17;
		x ^= x << 5;
		w->ops[i].dialog = (int)(x % (uint32_t)ndialogs);
		uint32_t k = (x >> 8) % 1000;
		w->ops[i].kind = k < 880 ? WL_MESSAGE : k < 990 ? WL_CONSENT : WL_REVOKE;
	}
}

void wl_free(struct workload *w)
{
	free(w->ops);
}

static void dialog_id(const struct workload *w, int d, char *out, size_t size)
{
	snprintf(out, size, "%s-d%04d", w->prefix, d);
}

static void customer_id(const struct workload *w, int d, char *out, size_t size)
{
	snprintf(out, size, "%s-c%03d", w->prefix, d % 97);
}

/* One operation, retried with the same Idempotency-Key until a 202 or the deadline. */
static void send_op(struct workload *w, int i, long deadline)
{
	const struct wl_op *op = &w->ops[i];
	char url[512], key[96], did[96], cid[96], body[128];

	dialog_id(w, op->dialog, did, sizeof(did));
	customer_id(w, op->dialog, cid, sizeof(cid));
	snprintf(key, sizeof(key), "%s-op-%d", w->prefix, i);
	if (op->kind == WL_MESSAGE) {
		snprintf(url, sizeof(url), "%s/data/%s/%s", w->s->ingress, cid, did);
		snprintf(body, sizeof(body), "{\"text\":\"op-%d\",\"language\":\"EN\"}", i);
	} else {
		snprintf(url, sizeof(url), "%s/consents/%s", w->s->ingress, did);
		snprintf(body, sizeof(body), "%s", op->kind == WL_CONSENT ? "true" : "false");
	}
	w->ops[i].first_ms = now_ms();
	while (now_ms() < deadline) {
		long t0 = now_ms();
		long st = http_post_json(url, body, key, NULL);
		long took = now_ms() - t0;
		atomic_fetch_add(&w->attempts, 1);
		for (long max = atomic_load(&w->longest_request_ms);
		     took > max &&
		     !atomic_compare_exchange_weak(&w->longest_request_ms, &max, took);)
			;
		if (st == 202) {
			w->ops[i].acked_ms = now_ms();
			w->ops[i].acked = true;
			atomic_fetch_add(&w->acked, 1);
			return;
		}
		if (st == 503)
			atomic_fetch_add(&w->unavailable, 1);
		else if (st == 0)
			atomic_fetch_add(&w->refused_connection, 1);
		else
			atomic_fetch_add(&w->other_status, 1);
		sleep_ms(100);
	}
}

struct worker {
	struct workload *w;
	int id;
	long deadline;
};

/* A worker owns the dialogs d with d % nworkers == id and sends their operations in
 * stream order, one at a time: per-dialog order is the order of acknowledgement. */
static void *work(void *arg)
{
	struct worker *wk = arg;
	struct workload *w = wk->w;
	for (int i = 0; i < w->nops && !atomic_load(&w->stop); i++) {
		if (w->ops[i].dialog % w->nworkers != wk->id)
			continue;
		while (w->gate && i >= w->gate && !atomic_load(&w->gate_open) &&
		       !atomic_load(&w->stop))
			sleep_ms(5);
		send_op(w, i, wk->deadline);
		if (w->pause_ms)
			sleep_ms(w->pause_ms);
	}
	return NULL;
}

static int by_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return (x > y) - (x < y);
}

void wl_timing(const struct workload *w, struct wl_timing *t)
{
	long *acks = calloc((size_t)w->nops, sizeof(long));
	int n = 0;

	memset(t, 0, sizeof(*t));
	t->longest_request_ms = atomic_load(&w->longest_request_ms);
	for (int i = 0; i < w->nops; i++) {
		const struct wl_op *op = &w->ops[i];
		t->sent += op->first_ms > 0;
		if (!op->acked)
			continue;
		long took = op->acked_ms - op->first_ms;
		if (took > t->longest_op_ms)
			t->longest_op_ms = took;
		t->ops_over_1s += took > 1000;
		acks[n++] = op->acked_ms;
	}
	qsort(acks, (size_t)n, sizeof(long), by_long);
	for (int i = 1; i < n; i++)
		if (acks[i] - acks[i - 1] > t->longest_gap_ms)
			t->longest_gap_ms = acks[i] - acks[i - 1];
	free(acks);
}

void wl_run(struct workload *w, int nworkers)
{
	pthread_t th[64];
	struct worker wk[64];
	long deadline = now_ms() + w->deadline_ms;

	w->nworkers = nworkers > 64 ? 64 : nworkers;
	for (int i = 0; i < w->nworkers; i++) {
		wk[i] = (struct worker){ w, i, deadline };
		pthread_create(&th[i], NULL, work, &wk[i]);
	}
	for (int i = 0; i < w->nworkers; i++)
		pthread_join(th[i], NULL);
	atomic_store(&w->done, true);
}

/* ---- the model -------------------------------------------------------------------- */

enum mstate { M_ABSENT, M_PENDING, M_CONSENTED, M_TOMBSTONE };

struct mdialog {
	enum mstate st;
	int *msgs; /* op indices, in order */
	int n, cap;
};

static void model_apply(struct mdialog *d, int op, enum wl_kind kind)
{
	switch (kind) {
	case WL_MESSAGE:
		if (d->st == M_TOMBSTONE)
			return;
		if (d->st == M_ABSENT)
			d->st = M_PENDING;
		if (d->n == d->cap) {
			d->cap = d->cap ? d->cap * 2 : 8;
			d->msgs = realloc(d->msgs, (size_t)d->cap * sizeof(int));
		}
		d->msgs[d->n++] = op;
		return;
	case WL_CONSENT:
		if (d->st == M_PENDING)
			d->st = M_CONSENTED;
		return;
	case WL_REVOKE:
		d->st = M_TOMBSTONE;
		d->n = 0;
		return;
	}
}

static void verify_one(struct workload *w, const struct mdialog *m, const bson_t *doc,
                       struct wl_report *r)
{
	bson_iter_t it, arr, f;
	if (m->st == M_ABSENT) {
		r->wrong_state += doc != NULL;
		return;
	}
	if (!doc) {
		r->wrong_state++;
		r->lost += m->n;
		return;
	}
	if (m->st == M_TOMBSTONE) {
		bool revoked = bson_iter_init_find(&it, doc, "revoked") && bson_iter_as_bool(&it);
		r->revoked_present += !revoked || bson_has_field(doc, "messages") ||
		                      bson_has_field(doc, "customerId");
		return;
	}
	bool consent = bson_iter_init_find(&it, doc, "consent") && bson_iter_as_bool(&it);
	r->wrong_state += consent != (m->st == M_CONSENTED);
	/* stored texts "op-N" against the model's list */
	int stored[4096], ns = 0;
	if (bson_iter_init_find(&it, doc, "messages") && bson_iter_recurse(&it, &arr))
		while (bson_iter_next(&arr) && ns < 4096)
			if (bson_iter_recurse(&arr, &f) && bson_iter_find(&f, "text"))
				stored[ns++] = atoi(bson_iter_utf8(&f, NULL) + 3);
	for (int i = 0; i < m->n; i++) {
		int count = 0;
		for (int k = 0; k < ns; k++)
			count += stored[k] == m->msgs[i];
		r->lost += count == 0;
		r->duplicated += count > 1;
	}
	for (int k = 0; k < ns; k++) {
		bool known = false;
		for (int i = 0; i < m->n && !known; i++)
			known = stored[k] == m->msgs[i];
		r->unexpected += !known;
		if (k > 0 && stored[k] < stored[k - 1])
			r->order++;
	}
}

/* A failed check names the dialog, what the model expected from which acknowledged
 * operations, and what the store holds, so that one run is enough to start looking. */
static void describe_mismatch(const struct workload *w, int d, const struct mdialog *m,
                              const bson_t *doc)
{
	static const char *const states[] = { "absent", "pending", "consented", "tombstone" };
	static const char *const kinds[] = { "message", "consent", "revoke" };
	char did[96];

	dialog_id(w, d, did, sizeof(did));
	fprintf(stderr, "mismatch %s: model %s after", did, states[m->st]);
	for (int i = 0; i < w->nops; i++)
		if (w->ops[i].dialog == d)
			fprintf(stderr, " %d:%s%s", i, kinds[w->ops[i].kind],
			        w->ops[i].acked ? "" : "(unacked)");
	char *json = doc ? bson_as_relaxed_extended_json(doc, NULL) : NULL;
	fprintf(stderr, "\n  store: %s\n", json ? json : "(no document)");
	bson_free(json);
}

void wl_verify(struct workload *w, struct wl_report *r)
{
	struct mdialog *model = calloc((size_t)w->ndialogs, sizeof(*model));
	mongoc_client_t *client = mongoc_client_new(w->s->mongodb_uri);
	mongoc_collection_t *coll = mongoc_client_get_collection(client, "dataapi", "dialogs");

	memset(r, 0, sizeof(*r));
	for (int i = 0; i < w->nops; i++)
		if (w->ops[i].acked)
			model_apply(&model[w->ops[i].dialog], i, w->ops[i].kind);
	for (int d = 0; d < w->ndialogs; d++) {
		char did[96];
		dialog_id(w, d, did, sizeof(did));
		bson_t *filter = BCON_NEW("_id", BCON_UTF8(did));
		mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter, NULL, NULL);
		const bson_t *doc = NULL;
		if (!mongoc_cursor_next(cur, &doc))
			doc = NULL;
		struct wl_report before = *r;
		verify_one(w, &model[d], doc, r);
		if (memcmp(&before, r, sizeof(before)) != 0)
			describe_mismatch(w, d, &model[d], doc);
		r->dialogs_checked++;
		mongoc_cursor_destroy(cur);
		bson_destroy(filter);
		free(model[d].msgs);
	}
	mongoc_collection_destroy(coll);
	mongoc_client_destroy(client);
	free(model);
}
