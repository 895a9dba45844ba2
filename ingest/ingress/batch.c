/* The one way an event is published: a batch of lines. POST /batch is a batch of its
 * NDJSON lines, a single POST a batch of one (ingress_publish_one). The request goes
 * through up to two waits: its dialogs' data keys (those not cached; sealing only), then
 * every published line's delivery report. It is answered once all are in (or its deadline
 * passed): a batch with one result per line, in order; a single POST in its own shape.
 * Lines are published in line order from one thread, so the idempotent producer keeps the
 * order of one dialog's lines in its partition. A line that failed says whether it was
 * certainly not stored (`unavailable`) or may have been (`outcome_unknown`: it was handed
 * to Kafka and no answer came); a retry with the same idempotency key is safe either way. */
#include <openssl/crypto.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"
#include "idset.h"
#include "ingress_internal.h"
#include "jsonw.h"
#include "log.h"
#include "request.h"
#include "seal.h"
#include "timefmt.h"

enum line_state {
	LINE_REJECTED, /* invalid: its error says why */
	LINE_WAITING,  /* valid, not (yet) durable */
	LINE_ACCEPTED, /* durable in Kafka */
	LINE_FAILED,   /* valid, but not stored (key store, Kafka): why says why */
};

struct batch;

struct batch_line {
	struct delivery d; /* the producer's opaque while published */
	struct batch *b;
	struct ingress_batch_line req;
	size_t lineno;
	atomic_int state;  /* enum line_state */
	const char *why;   /* LINE_FAILED, set before the state */
	bool maybe_stored; /* LINE_FAILED after it was sent: set before the state */
	bool produced;     /* handed to the producer (set on the request's thread) */
	int outcome;       /* the state as answered (settle) */
	bool late;         /* answered failed while still waiting for its key or report */
	struct dapi_input_error error;
	int key; /* its dialog's slot in b->keys (messages under sealing), else -1 */
	char event_id[INGRESS_UUID_BUFSZ];
};

/* One dialog's data key, cached or fetched. */
struct batch_key {
	struct batch *b;
	const char *dialog_id;   /* a line's */
	const char *customer_id; /* the first line's of the dialog: a new key is tagged with it */
	atomic_int status;       /* enum dapi_key_status, or -1 while fetched */
	uint8_t dek[DAPI_AEAD_KEY];
};

struct batch {
	struct waiter w; /* first */
	struct dapi_http_req *r;
	struct ingress *in;
	atomic_int refs;
	/* Fetches, and reports, still to come (+1 while they are being started). Apart: a
	 * fetch that comes after its wait's deadline must not count as a report. */
	atomic_int keys_pending, reports_pending;
	/* The wait the request is suspended in (a phase), 0 once it ended: the first of its
	 * last fetch or report and the deadline ends it, and only the wait it belongs to. */
	atomic_int waiting_for;
	enum { BATCH_KEYS = 1, BATCH_PUBLISHED } phase;
	bool single; /* a single POST's one line: answered in that shape */
	int64_t started_ms;
	size_t nlines, nkeys;
	struct batch_line *lines;
	struct batch_key *keys;
};

static const char why_key[] = "the key store is not available; retry";
static const char why_kafka[] = "the event could not be stored in Kafka; retry";
static const char why_memory[] = "out of memory; retry";
static const char why_unknown[] = "Kafka did not confirm the event in time: it may have been "
                                  "stored; retry with the same idempotency key";

static void batch_unref(struct batch *b)
{
	if (atomic_fetch_sub(&b->refs, 1) != 1)
		return;
	for (size_t i = 0; i < b->nlines; i++)
		ingress_batch_line_clear(&b->lines[i].req);
	if (b->keys)
		OPENSSL_cleanse(b->keys, b->nkeys * sizeof(*b->keys));
	free(b->lines);
	free(b->keys);
	free(b);
}

/* Ends the wait for phase, if it is the current one and still on: resumes the request. */
static void wake(struct batch *b, int phase)
{
	if (atomic_compare_exchange_strong(&b->waiting_for, &phase, 0))
		dapi_http_resume(b->r);
}

/* Suspends the request in a wait for phase, with its deadline. */
static void wait_for(struct dapi_http_req *r, struct batch *b, int phase)
{
	b->phase = phase;
	atomic_store(&b->waiting_for, phase);
	dapi_http_suspend(r);
	ingress_inflight_add(&b->in->waiting, &b->w.entry);
}

/* One fetch or report of the phase is in: the last one ends its wait. */
static void step_done(struct batch *b, atomic_int *pending, int phase)
{
	if (atomic_fetch_sub(pending, 1) == 1)
		wake(b, phase);
}

static void batch_overdue(struct waiter *w)
{
	struct batch *b = (struct batch *)w;
	int phase = atomic_load(&b->waiting_for);
	if (phase)
		wake(b, phase);
}

static void batch_release(struct waiter *w)
{
	struct batch *b = (struct batch *)w;
	ingress_inflight_remove(&b->in->waiting, &b->w.entry);
	atomic_fetch_sub(&b->in->inflight_count, 1);
	batch_unref(b);
}

static void line_delivered(struct delivery *d, rd_kafka_resp_err_t err, bool maybe_stored)
{
	struct batch_line *l = (struct batch_line *)d; /* d is first */
	struct batch *b = l->b;
	if (err) {
		l->why = maybe_stored ? why_unknown : why_kafka;
		l->maybe_stored = maybe_stored;
	}
	atomic_store(&l->state, err ? LINE_FAILED : LINE_ACCEPTED);
	step_done(b, &b->reports_pending, BATCH_PUBLISHED);
	batch_unref(b);
}

static void key_fetched(void *arg, enum dapi_key_status st, const uint8_t *dek)
{
	struct batch_key *k = arg;
	struct batch *b = k->b;
	if (st == DAPI_KEY_OK) {
		ingress_keycache_put(b->in->keycache, k->dialog_id, dek, dapi_time_mono_ms());
		memcpy(k->dek, dek, DAPI_AEAD_KEY);
	}
	atomic_store(&k->status, (int)st);
	step_done(b, &b->keys_pending, BATCH_KEYS);
	batch_unref(b);
}

/* ---- reading the body ---------------------------------------------------------------- */

/* Counts the body's lines that are not blank. */
static size_t count_lines(const char *body, size_t len)
{
	size_t pos = 0, lineno = 0, n = 0, line_len;
	const char *line;
	while (ingress_ndjson_next(body, len, &pos, &lineno, &line, &line_len))
		n++;
	return n;
}

static void init_line(struct batch *b, struct batch_line *l, size_t lineno)
{
	l->d.done = line_delivered;
	l->b = b;
	l->lineno = lineno;
	l->key = -1;
}

/* A valid line: WAITING, with its event id (from its idempotency key, else random). */
static void accept_line(struct batch_line *l)
{
	atomic_init(&l->state, LINE_WAITING);
	if (l->req.idempotency_key)
		ingress_uuid_from_key(l->req.dialog_id, l->req.idempotency_key, l->event_id);
	else
		ingress_uuid_v4(l->event_id);
}

/* Parses every line into b->lines: valid ones WAITING with their event id, invalid ones
 * REJECTED with their error. */
static void parse_lines(struct batch *b, const char *body, size_t len)
{
	size_t pos = 0, lineno = 0, line_len;
	const char *text;

	for (size_t i = 0; ingress_ndjson_next(body, len, &pos, &lineno, &text, &line_len); i++) {
		struct batch_line *l = &b->lines[i];
		init_line(b, l, lineno);
		if (!ingress_batch_line_parse(text, line_len, b->in->max_text, &l->req,
		                              &l->error)) {
			atomic_init(&l->state, LINE_REJECTED);
			continue;
		}
		accept_line(l);
	}
}

/* A new batch for n lines, owned by the request. NULL when out of memory. */
static struct batch *batch_new(struct dapi_http_req *r, struct ingress *in, size_t n)
{
	struct batch *b = calloc(1, sizeof(*b));
	if (!b || !(b->lines = calloc(n, sizeof(*b->lines)))) {
		free(b);
		return NULL;
	}
	b->w.overdue = batch_overdue;
	b->w.release = batch_release;
	b->r = r;
	b->in = in;
	b->nlines = n;
	b->started_ms = dapi_time_mono_ms();
	atomic_init(&b->refs, 1);
	atomic_fetch_add(&in->inflight_count, 1);
	*dapi_http_state(r) = b;
	return b;
}

/* ---- keys ------------------------------------------------------------------------- */

/* One key slot for each distinct dialog among ids (the lines' own: NULL for a line that
 * seals nothing), ready when its key is cached; each line's slot from slot[]. */
static bool make_key_slots(struct batch *b, const char **ids, const char **distinct, size_t *slot)
{
	int64_t now = dapi_time_mono_ms();
	size_t n = dapi_distinct(ids, b->nlines, distinct, slot);
	if (n == SIZE_MAX || !(b->keys = calloc(n ? n : 1, sizeof(*b->keys))))
		return false;
	b->nkeys = n;
	for (size_t k = 0; k < n; k++) {
		struct batch_key *key = &b->keys[k];
		key->b = b;
		key->dialog_id = distinct[k];
		atomic_init(&key->status, -1);
		if (ingress_keycache_get(b->in->keycache, key->dialog_id, now, key->dek))
			atomic_store(&key->status, DAPI_KEY_OK);
	}
	for (size_t i = b->nlines; i-- > 0;) {
		if (!ids[i])
			continue;
		b->lines[i].key = (int)slot[i];
		b->keys[slot[i]].customer_id = b->lines[i].req.customer_id;
	}
	return true;
}

/* Gives every valid message line its dialog's key slot. False when out of memory. */
static bool assign_keys(struct batch *b)
{
	size_t cap = b->nlines ? b->nlines : 1;
	/* one scratch block: the lines' ids, the distinct ones, each line's slot */
	void *scratch = calloc(cap, 2 * sizeof(const char *) + sizeof(size_t));
	if (!scratch)
		return false;
	const char **ids = scratch, **distinct = ids + cap;
	size_t *slot = (size_t *)(distinct + cap);
	for (size_t i = 0; i < b->nlines; i++) {
		const struct batch_line *l = &b->lines[i];
		if (atomic_load(&l->state) == LINE_WAITING && l->req.type == DAPI_EVENT_MESSAGE)
			ids[i] = l->req.dialog_id;
	}
	bool ok = make_key_slots(b, ids, distinct, slot);
	free(scratch);
	return ok;
}

/* Suspends the request and queues a fetch for every key not cached; true when it waits
 * (the handler runs again once the keys are in, or the deadline passed). */
static bool fetch_keys(struct dapi_http_req *r, struct batch *b)
{
	size_t missing = 0;
	for (size_t i = 0; i < b->nkeys; i++)
		missing += atomic_load(&b->keys[i].status) < 0;
	if (!missing)
		return false;
	atomic_store(&b->keys_pending, 1);
	wait_for(r, b, BATCH_KEYS);
	for (size_t i = 0; i < b->nkeys; i++) {
		struct batch_key *k = &b->keys[i];
		if (atomic_load(&k->status) >= 0)
			continue;
		atomic_fetch_add(&b->refs, 1);
		atomic_fetch_add(&b->keys_pending, 1);
		if (!ingress_keyfetch_submit(b->in->keyfetch, k->dialog_id, k->customer_id,
		                             key_fetched, k)) {
			atomic_store(&k->status, DAPI_KEY_UNAVAILABLE);
			atomic_fetch_sub(&b->keys_pending, 1);
			atomic_fetch_sub(&b->refs, 1);
		}
	}
	step_done(b, &b->keys_pending, BATCH_KEYS); /* the +1 of the start */
	return true;
}

/* ---- publishing ------------------------------------------------------------------- */

static void line_failed(struct batch_line *l, const char *why)
{
	l->why = why;
	atomic_store(&l->state, LINE_FAILED);
}

/* The line's event, sealed when it is a message under sealing. NULL (the line failed)
 * when its key did not come or memory ran out. */
static char *encode_line(struct batch *b, struct batch_line *l, size_t *len)
{
	struct dapi_event ev = {
		.type = l->req.type,
		.event_id = l->event_id,
		.dialog_id = l->req.dialog_id,
		.customer_id = l->req.customer_id,
		.text = l->req.text,
		.text_len = l->req.text_len,
		.granted = l->req.granted,
		.received_at = dapi_time_now_ms(),
	};
	char *sealed = NULL, *value;

	if (ev.type == DAPI_EVENT_CONSENT && !ev.granted) /* its key is about to go */
		ingress_keycache_forget(b->in->keycache, ev.dialog_id);
	memcpy(ev.language, l->req.language, sizeof(ev.language));
	if (l->key >= 0) {
		struct batch_key *k = &b->keys[l->key];
		if (atomic_load(&k->status) != DAPI_KEY_OK) {
			line_failed(l, why_key);
			return NULL;
		}
		if (!dapi_seal_event(&ev, k->dek, &sealed)) {
			line_failed(l, why_memory);
			return NULL;
		}
	}
	value = dapi_event_encode(&ev, len);
	free(sealed);
	if (!value)
		line_failed(l, why_memory);
	return value;
}

/* Publishes every valid line in order and suspends until their reports are in (when
 * none is published, the wait ends at once and the handler answers). */
static enum MHD_Result publish_lines(struct dapi_http_req *r, struct batch *b)
{
	size_t len;
	char *value;

	ingress_inflight_remove(&b->in->waiting, &b->w.entry); /* the key wait's deadline */
	atomic_store(&b->reports_pending, 1);
	wait_for(r, b, BATCH_PUBLISHED);
	for (size_t i = 0; i < b->nlines; i++) {
		struct batch_line *l = &b->lines[i];
		if (atomic_load(&l->state) != LINE_WAITING || !(value = encode_line(b, l, &len)))
			continue;
		atomic_fetch_add(&b->refs, 1);
		atomic_fetch_add(&b->reports_pending, 1);
		l->produced = true;
		if (ingress_produce(b->in, l->req.type, l->req.dialog_id, value, len, &l->d)) {
			l->produced = false; /* no report comes */
			line_failed(l, why_kafka);
			atomic_fetch_sub(&b->reports_pending, 1);
			atomic_fetch_sub(&b->refs, 1);
		}
	}
	step_done(b, &b->reports_pending, BATCH_PUBLISHED); /* the +1 of the start */
	return MHD_YES;
}

/* ---- the answer ------------------------------------------------------------------- */

struct tally {
	size_t accepted, rejected, failed;
};

static void write_error(struct dapi_jsonw *w, const char *code, const char *message,
                        const char *field)
{
	dapi_jsonw_open(w, "error", '{');
	dapi_jsonw_str(w, "code", code, strlen(code));
	dapi_jsonw_str(w, "message", message, strlen(message));
	if (field)
		dapi_jsonw_str(w, "field", field, strlen(field));
	dapi_jsonw_close(w, '}');
}

/* Fixes every line's outcome for the answer: a line still waiting now failed (its key or
 * report came too late), whatever arrives later; one that was sent may have been stored. */
static struct tally settle(struct batch *b)
{
	struct tally t = { 0 };
	for (size_t i = 0; i < b->nlines; i++) {
		struct batch_line *l = &b->lines[i];
		int state = atomic_load(&l->state);
		l->late = state == LINE_WAITING; /* its why may still be written: not read */
		if (l->late)
			state = LINE_FAILED;
		l->outcome = state;
		t.accepted += state == LINE_ACCEPTED;
		t.rejected += state == LINE_REJECTED;
		t.failed += state == LINE_FAILED;
	}
	return t;
}

/* A failed line's error: code and message. */
static void failure_of(const struct batch_line *l, const char **code, const char **message)
{
	bool unknown = l->late ? l->produced : l->maybe_stored;
	*code = unknown ? "outcome_unknown" : "unavailable";
	*message = unknown ? why_unknown : l->late ? "no acknowledgement in time; retry" : l->why;
}

static void write_line(struct dapi_jsonw *w, const struct batch_line *l)
{
	dapi_jsonw_open(w, NULL, '{');
	dapi_jsonw_int(w, "line", (long long)l->lineno);
	if (l->outcome == LINE_REJECTED) {
		dapi_jsonw_str(w, "status", "rejected", 8);
		write_error(w, l->error.code, l->error.message, l->error.field);
	} else if (l->outcome == LINE_ACCEPTED) {
		dapi_jsonw_str(w, "status", "accepted", 8);
		dapi_jsonw_str(w, "eventId", l->event_id, strlen(l->event_id));
		dapi_jsonw_str(w, "dialogId", l->req.dialog_id, strlen(l->req.dialog_id));
	} else {
		const char *code, *message;
		failure_of(l, &code, &message);
		dapi_jsonw_str(w, "status", "failed", 6);
		dapi_jsonw_str(w, "dialogId", l->req.dialog_id, strlen(l->req.dialog_id));
		write_error(w, code, message, NULL);
	}
	dapi_jsonw_close(w, '}');
}

/* The counts, and for a batch of which no line was stored, the error of the whole:
 * 503 when a line may succeed on a retry, else 400. */
static unsigned write_summary(struct dapi_jsonw *w, const struct tally *t)
{
	dapi_jsonw_int(w, "accepted", (long long)t->accepted);
	dapi_jsonw_int(w, "rejected", (long long)t->rejected);
	dapi_jsonw_int(w, "failed", (long long)t->failed);
	if (t->accepted)
		return MHD_HTTP_OK;
	if (t->failed) {
		write_error(w, "unavailable", "no line was stored; retry", NULL);
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	}
	write_error(w, "invalid_batch", "no line is valid; see results", NULL);
	return MHD_HTTP_BAD_REQUEST;
}

static void count_lines_metrics(struct batch *b, const struct tally *t)
{
	struct ingress *in = b->in;
	int64_t ms = dapi_time_mono_ms() - b->started_ms;

	dapi_metrics_inc(in->m_batch_lines, "result=\"accepted\"", (double)t->accepted);
	dapi_metrics_inc(in->m_batch_lines, "result=\"rejected\"", (double)t->rejected);
	dapi_metrics_inc(in->m_batch_lines, "result=\"failed\"", (double)t->failed);
	if (t->failed)
		DAPI_WARN("batch_failed_lines", "{s:I, s:I, s:I, s:I}", "lines",
		          (json_int_t)b->nlines, "accepted", (json_int_t)t->accepted, "failed",
		          (json_int_t)t->failed, "ms", (json_int_t)ms);
	else
		DAPI_DEBUG("batch", "{s:I, s:I, s:I, s:I}", "lines", (json_int_t)b->nlines,
		           "accepted", (json_int_t)t->accepted, "rejected", (json_int_t)t->rejected,
		           "ms", (json_int_t)ms);
}

/* A single POST's answer: 202 with the event's ids, or 503 saying whether it may have
 * been stored. Counted in dataapi_published_total and the produce-latency histogram. */
static enum MHD_Result finish_single(struct dapi_http_req *r, struct batch *b)
{
	static const char *const labels[2][2] = {
		{ "type=\"consent\",result=\"ok\"", "type=\"consent\",result=\"error\"" },
		{ "type=\"message\",result=\"ok\"", "type=\"message\",result=\"error\"" },
	};
	const struct batch_line *l = &b->lines[0];
	struct ingress *in = b->in;
	int64_t ms = dapi_time_mono_ms() - b->started_ms;
	bool ok = l->outcome == LINE_ACCEPTED;
	const char *code, *message;
	struct dapi_jsonw w;
	size_t len;

	dapi_metrics_inc(in->m_published, labels[l->req.type == DAPI_EVENT_MESSAGE][!ok], 1);
	dapi_metrics_observe(in->m_produce, ok ? "result=\"ok\"" : "result=\"error\"",
	                     (double)ms / 1000.0);
	if (!ok) {
		failure_of(l, &code, &message);
		DAPI_WARN("publish_failed", "{s:s, s:s, s:s, s:I}", "dialogId", l->req.dialog_id,
		          "eventId", l->event_id, "error", code, "ms", (json_int_t)ms);
		return dapi_http_reply_error_retry(r, MHD_HTTP_SERVICE_UNAVAILABLE, code, message,
		                                   in->retry_after_s);
	}
	DAPI_DEBUG("published", "{s:s, s:s, s:s, s:I}", "type", dapi_event_type_name(l->req.type),
	           "dialogId", l->req.dialog_id, "eventId", l->event_id, "ms", (json_int_t)ms);
	dapi_jsonw_begin(&w, 128);
	dapi_jsonw_str(&w, "eventId", l->event_id, strlen(l->event_id));
	dapi_jsonw_str(&w, "dialogId", l->req.dialog_id, strlen(l->req.dialog_id));
	dapi_jsonw_str(&w, "status", "accepted", strlen("accepted"));
	char *body = dapi_jsonw_finish(&w, &len);
	return dapi_http_reply_json_text(r, MHD_HTTP_ACCEPTED, body, len);
}

static enum MHD_Result finish(struct dapi_http_req *r, struct batch *b)
{
	struct tally t;
	struct dapi_jsonw w;
	unsigned status;
	size_t len;
	char *body;

	ingress_inflight_remove(&b->in->waiting, &b->w.entry);
	t = settle(b);
	if (b->single)
		return finish_single(r, b);
	dapi_jsonw_begin(&w, 64 + 128 * b->nlines);
	dapi_jsonw_int(&w, "lines", (long long)b->nlines);
	status = write_summary(&w, &t);
	dapi_jsonw_open(&w, "results", '[');
	for (size_t i = 0; i < b->nlines; i++)
		write_line(&w, &b->lines[i]);
	dapi_jsonw_close(&w, ']');
	count_lines_metrics(b, &t);
	body = dapi_jsonw_finish(&w, &len);
	return dapi_http_reply_json_text_retry(r, status, body, len,
	                                       t.failed ? b->in->retry_after_s : 0);
}

/* ---- the route -------------------------------------------------------------------- */

/* Reads the body into a new batch; NULL with the answer in *ret when the request as a
 * whole is refused. */
static struct batch *start(struct dapi_http_req *r, struct ingress *in, enum MHD_Result *ret)
{
	size_t len, n;
	const char *body = dapi_http_body(r, &len);
	struct batch *b;

	if (dapi_http_header(r, "Idempotency-Key")) {
		*ret = dapi_http_reply_error(r, MHD_HTTP_BAD_REQUEST, "invalid_header",
		                             "a batch takes an idempotencyKey on each line, not "
		                             "the Idempotency-Key header",
		                             "Idempotency-Key");
		return NULL;
	}
	if ((n = count_lines(body, len)) == 0) {
		*ret = dapi_http_reply_error(r, MHD_HTTP_BAD_REQUEST, "empty_batch",
		                             "the body has no lines (NDJSON: one event a line)",
		                             NULL);
		return NULL;
	}
	if (n > in->max_batch_lines) {
		char msg[96];
		snprintf(msg, sizeof(msg), "the batch has %zu lines; the limit is %zu", n,
		         in->max_batch_lines);
		*ret = dapi_http_reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "too_many_lines", msg,
		                             NULL);
		return NULL;
	}
	if ((b = batch_new(r, in, n)))
		parse_lines(b, body, len);
	if (!b || (in->keycache && !assign_keys(b))) {
		*ret = dapi_http_reply_unavailable(r, "out of memory", in->retry_after_s);
		return NULL;
	}
	return b;
}

/* A new batch's first phase: its keys' wait when some are not cached, else publishing. */
static enum MHD_Result begin(struct dapi_http_req *r, struct batch *b)
{
	if (b->in->keycache && fetch_keys(r, b))
		return MHD_YES;
	return publish_lines(r, b);
}

enum MHD_Result ingress_batch_continue(struct dapi_http_req *r)
{
	struct batch *b = *dapi_http_state(r);
	return b->phase == BATCH_PUBLISHED ? finish(r, b) : publish_lines(r, b);
}

enum MHD_Result ingress_handle_batch(struct dapi_http_req *r, void *app)
{
	struct ingress *in = app;
	struct batch *b;
	enum MHD_Result ret;

	if (*dapi_http_state(r))
		return ingress_batch_continue(r);
	if (!(b = start(r, in, &ret)))
		return ret;
	return begin(r, b);
}

enum MHD_Result ingress_publish_one(struct dapi_http_req *r, struct ingress *in,
                                    struct ingress_batch_line *line)
{
	struct batch *b = batch_new(r, in, 1);
	if (!b) {
		ingress_batch_line_clear(line);
		return dapi_http_reply_unavailable(r, "out of memory", in->retry_after_s);
	}
	b->single = true;
	struct batch_line *l = &b->lines[0];
	init_line(b, l, 1);
	l->req = *line;
	accept_line(l);
	if (in->keycache && !assign_keys(b))
		return dapi_http_reply_unavailable(r, "out of memory", in->retry_after_s);
	return begin(r, b);
}
