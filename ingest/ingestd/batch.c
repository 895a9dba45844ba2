/* The batch object and one batch, start to end: decode, find the dialogs, load (cache,
 * then store), apply in record order, write with one guarded bulk per chunk, then the keys
 * (keys.c) and the dead letters. Nothing here stores an offset: the consumer does, for a
 * batch done. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_internal.h"
#include "dialog_cache.h"
#include "dlq.h"
#include "idset.h"
#include "key_sweep.h"
#include "log.h"
#include "service.h"
#include "timefmt.h"

/* One batch's working state: items[order[k]] for k < n_order are the decodable records,
 * in record order; dialogs[item.dialog] is each one's dialog. */
struct run {
	struct item *items;
	size_t n;
	size_t *order, n_order;
	struct ingestd_dialog *dialogs;
	size_t nd;
	bool *known;           /* dialogs[i] came from the cache */
	const char **rejected; /* dialogs[i]'s DLQ reason from the store, or NULL */
	int64_t started_ms;
};

/* Why the item goes to the DLQ, or NULL. */
static const char *item_reason(const struct item *it)
{
	return it->decode_reason ? it->decode_reason : it->apply_reason;
}

static void decode_item(const struct ingestd_batch *b, struct item *it)
{
	const rd_kafka_message_t *m = it->rkm;

	it->decode_reason = dapi_event_decode(m->payload, m->payload ? m->len : 0, b->cfg.max_text,
	                                      &it->ev, it->detail, sizeof(it->detail));
	if (it->decode_reason)
		return;
	it->ev.pos = (struct dapi_event_position){ true, m->partition, m->offset };
	if (!m->key || m->key_len != strlen(it->ev.dialog_id) ||
	    memcmp(m->key, it->ev.dialog_id, m->key_len) != 0) {
		it->decode_reason = "key_mismatch";
		snprintf(it->detail, sizeof(it->detail), "record key is not the event's dialogId");
		dapi_event_clear(&it->ev);
	}
}

/* The distinct ids being sorted (qsort has no context argument). */
static int cmp_named(const void *a, const void *b)
{
	const char *const *x = *(const char *const *const *)a;
	const char *const *y = *(const char *const *const *)b;
	return strcmp(*x, *y);
}

/* Builds the batch's distinct dialogs, sorted by id (ingestd_store_load finds a loaded
 * document's dialog by binary search), each item's into item.dialog; returns how many, or
 * SIZE_MAX when out of memory. */
static size_t group_dialogs(struct item *items, const size_t *order, size_t n_order,
                            struct ingestd_dialog *dialogs)
{
	size_t cap = n_order ? n_order : 1;
	/* one scratch block: the records' dialog ids, the distinct ones, pointers to those to
	 * sort, each record's distinct id, each distinct id's place once sorted */
	void *scratch = calloc(cap, 3 * sizeof(const char *) + 2 * sizeof(size_t));
	if (!scratch)
		return SIZE_MAX;
	const char **names = scratch, **ids = names + cap, ***sorted = (const char ***)(ids + cap);
	size_t *index = (size_t *)(sorted + cap), *place = index + cap;
	for (size_t k = 0; k < n_order; k++)
		names[k] = items[order[k]].ev.dialog_id;
	size_t nd = dapi_distinct(names, n_order, ids, index);
	for (size_t d = 0; nd != SIZE_MAX && d < nd; d++)
		sorted[d] = &ids[d];
	if (nd != SIZE_MAX && nd > 1)
		qsort(sorted, nd, sizeof(*sorted), cmp_named);
	for (size_t j = 0; nd != SIZE_MAX && j < nd; j++) {
		place[sorted[j] - ids] = j;
		ingestd_dialog_init(&dialogs[j], *sorted[j]);
	}
	for (size_t k = 0; nd != SIZE_MAX && k < n_order; k++)
		items[order[k]].dialog = place[index[k]];
	free(scratch);
	return nd;
}

/* Fills each dialog's state: from the cache where it has it, else from the store. */
static bool load_dialogs(struct ingestd_batch *b, struct run *r, int64_t now, bson_error_t *err)
{
	size_t hits = 0;
	for (size_t i = 0; i < r->nd; i++)
		hits += r->known[i] = ingestd_cache_get(b->cfg.cache, &r->dialogs[i], now);
	dapi_metrics_inc(b->m_reads, "source=\"cache\"", (double)hits);
	dapi_metrics_inc(b->m_reads, "source=\"store\"", (double)(r->nd - hits));
	if (!ingestd_store_load(b->cfg.store, r->dialogs, r->nd, r->known, err))
		return false;
	dapi_series_observe(b->m_load, (double)(dapi_time_mono_ms() - now) / 1000.0);
	return true;
}

/* Applies every decodable event to its dialog, in record order; false when out of memory. */
static bool apply_events(const struct ingestd_batch *b, struct run *r, bson_error_t *err)
{
	for (size_t i = 0; i < r->nd; i++)
		r->dialogs[i].rules = &b->cfg.rules;
	for (size_t k = 0; k < r->n_order; k++) {
		struct item *it = &r->items[r->order[k]];
		it->apply_reason = NULL;
		it->outcome = ingestd_dialog_apply(&r->dialogs[it->dialog], &it->ev);
		if (it->outcome < 0) {
			bson_set_error(err, 0, 0, "out of memory applying events");
			return false;
		}
		if (it->outcome == INGESTD_APPLY_CUSTOMER_MISMATCH) {
			it->apply_reason = "customer_mismatch";
			snprintf(it->detail, sizeof(it->detail),
			         "customerId differs from the dialog's");
		} else if (it->outcome == INGESTD_APPLY_TOO_LARGE) {
			it->apply_reason = "dialog_too_large";
			snprintf(it->detail, sizeof(it->detail),
			         "the message would take the dialog's document past %d bytes",
			         INGESTD_DIALOG_MAX_BYTES);
		}
	}
	return true;
}

/* Gives the events of dialogs the store refused their DLQ reason. */
static void mark_rejected(struct run *r)
{
	for (size_t k = 0; k < r->n_order; k++) {
		struct item *it = &r->items[r->order[k]];
		const char *why = r->rejected[it->dialog];
		if (!why)
			continue;
		it->apply_reason = why;
		snprintf(
		        it->detail, sizeof(it->detail), "%s",
		        strcmp(why, "store_untrusted")
		                ? "the database refused the dialog's write"
		                : "the stored dialog's appliedThrough is not as ingestd writes it: "
		                  "repair the document, then re-drive");
	}
}

/* Applies the events to the dialogs as loaded, then writes. */
static enum ingestd_write_status attempt(struct ingestd_batch *b, struct run *r,
                                         const struct ingestd_batch_owner *owner, bson_error_t *err)
{
	int64_t now = dapi_time_mono_ms();

	if (!load_dialogs(b, r, now, err))
		return INGESTD_WRITE_TRANSIENT;
	if (owner->lost(owner->arg)) {
		/* Another member may own these partitions now: writing from this state could
		 * undo its work. */
		bson_set_error(err, 0, 0, "partition assignment lost");
		return INGESTD_WRITE_LOST;
	}
	if (!apply_events(b, r, err))
		return INGESTD_WRITE_TRANSIENT;
	int64_t write_start = dapi_time_mono_ms();
	enum ingestd_write_status status =
	        ingestd_store_write(b->cfg.store, r->dialogs, r->nd, r->rejected, err);
	dapi_series_observe(b->m_write, (double)(dapi_time_mono_ms() - write_start) / 1000.0);
	if (status != INGESTD_WRITE_OK)
		return status;
	for (size_t i = 0; i < r->nd; i++)
		ingestd_cache_put(b->cfg.cache, &r->dialogs[i], r->rejected[i] == NULL, now);
	mark_rejected(r);
	return status;
}

struct dead_letters {
	struct ingestd_batch *b;
	struct item *items;
	size_t n;
};

/* One attempt to send every item that has a reason to the DLQ, waiting until Kafka has
 * them all; counted once Kafka has them, not per attempt. */
static bool send_dead_letters(void *arg, bson_error_t *err)
{
	struct dead_letters *dl = arg;
	struct ingestd_batch *b = dl->b;
	struct dapi_dlq_batch sent = { 0 };
	for (size_t i = 0; i < dl->n; i++) {
		const struct item *it = &dl->items[i];
		const char *reason = item_reason(it);
		if (!reason)
			continue;
		if (dapi_dlq_send(b->cfg.dlq, b->cfg.dlq_topic, it->rkm, reason, it->detail,
		                  &sent) != 0)
			atomic_fetch_add(&sent.failed, 1);
		DAPI_WARN("dead_lettered", "{s:s, s:s, s:i, s:I}", "reason", reason, "detail",
		          it->detail, "partition", it->rkm->partition, "offset",
		          (json_int_t)it->rkm->offset);
	}
	while (atomic_load(&sent.pending) > 0)
		dapi_producer_flush(b->cfg.dlq, 100);
	if (atomic_load(&sent.failed) > 0) {
		bson_set_error(err, 0, 0, "%d dead letters not acknowledged by Kafka",
		               atomic_load(&sent.failed));
		return false;
	}
	for (size_t i = 0; i < dl->n; i++) {
		const char *reason = item_reason(&dl->items[i]);
		char labels[80];
		if (!reason)
			continue;
		snprintf(labels, sizeof(labels), "reason=\"%s\"", reason);
		dapi_metrics_inc(b->m_dlq, labels, 1);
	}
	return true;
}

/* Sends every item that has a reason to the DLQ and waits until Kafka has them all. */
static int dead_letter(struct ingestd_batch *b, struct item *items, size_t n)
{
	struct dead_letters dl = { b, items, n };
	bool any = false;
	for (size_t i = 0; i < n && !any; i++)
		any = item_reason(&items[i]) != NULL;
	return !any || ingestd_batch_retry(b, "dlq_retry", NULL, send_dead_letters, &dl) ? 0 : -1;
}

/* Takes records[0..n) into the batch's items, allocates r's arrays, decodes every record,
 * opens the sealed ones and groups the applicable ones by dialog. False when out of memory
 * or on a stop while keys are away. */
static bool run_begin(struct ingestd_batch *b, struct run *r, rd_kafka_message_t *const *records,
                      size_t n)
{
	struct item *items = b->items;
	*r = (struct run){ .items = items, .n = n, .started_ms = dapi_time_mono_ms() };
	r->order = malloc(n * sizeof(*r->order));
	r->dialogs = calloc(n, sizeof(*r->dialogs));
	r->rejected = calloc(n, sizeof(*r->rejected));
	r->known = calloc(n, sizeof(*r->known));
	if (!r->order || !r->dialogs || !r->rejected || !r->known)
		return false;
	for (size_t i = 0; i < n; i++) {
		items[i] = (struct item){ .rkm = records[i] };
		decode_item(b, &items[i]);
	}
	if (ingestd_batch_open_sealed(b, items, n) < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!items[i].decode_reason && !items[i].shredded)
			r->order[r->n_order++] = i;
	r->nd = group_dialogs(items, r->order, r->n_order, r->dialogs);
	if (r->nd == SIZE_MAX) {
		r->nd = 0;
		return false;
	}
	assert(r->nd <= r->n_order && r->n_order <= n);
	return true;
}

/* Frees r's arrays and the items' events (the records stay the consumer's). */
static void run_end(struct run *r)
{
	for (size_t i = 0; r->dialogs && i < r->nd; i++)
		ingestd_dialog_clear(&r->dialogs[i]);
	for (size_t i = 0; i < r->n; i++) {
		dapi_event_clear(&r->items[i].ev);
		r->items[i] = (struct item){ 0 };
	}
	free(r->order);
	free(r->dialogs);
	free(r->rejected);
	free(r->known);
}

/* Attempts until the batch is written: 0; 1 when the partitions were lost; -1 on a stop
 * while the database is unavailable. Conflicts are retried at once (three times), errors
 * after a growing pause. */
static int write_until_done(struct ingestd_batch *b, struct run *r,
                            const struct ingestd_batch_owner *owner)
{
	int64_t backoff = 100;
	int conflicts = 0;

	for (;;) {
		bson_error_t err = { 0 };
		enum ingestd_write_status st = attempt(b, r, owner, &err);
		if (st == INGESTD_WRITE_OK)
			return 0;
		/* A conflict means another writer; after an error, what was written is unknown. */
		ingestd_cache_clear(b->cfg.cache);
		if (st == INGESTD_WRITE_LOST) {
			/* Abandoned uncommitted: the partitions' new owner applies these events. */
			DAPI_WARN("batch_abandoned", "{s:s}", "detail", err.message);
			return 1;
		}
		dapi_series_add(b->m_retries, 1);
		if (st == INGESTD_WRITE_CONFLICT && ++conflicts <= 3) {
			DAPI_INFO("write_conflict", "{s:i}", "attempt", conflicts);
			continue;
		}
		DAPI_WARN("store_unavailable", "{s:s, s:I}", "detail",
		          st == INGESTD_WRITE_CONFLICT ? "repeated write conflicts" : err.message,
		          "retryInMs", (json_int_t)backoff);
		if (!ingestd_batch_backoff(b, &backoff))
			return -1; /* not stored: the batch is consumed again after restart */
	}
}

static void count_applied(struct ingestd_batch *b, const struct run *r)
{
	for (size_t k = 0; k < r->n_order; k++) {
		const struct item *it = &r->items[r->order[k]];
		char labels[96];
		if (it->apply_reason)
			continue;
		snprintf(labels, sizeof(labels), "type=\"%s\",outcome=\"%s\"",
		         dapi_event_type_name(it->ev.type),
		         ingestd_apply_outcome_name(it->outcome));
		dapi_metrics_inc(b->m_applied, labels, 1);
	}
}

int ingestd_batch_apply(struct ingestd_batch *b, rd_kafka_message_t *const *records, size_t n,
                        const struct ingestd_batch_owner *owner)
{
	struct run r;
	assert(n <= b->cfg.max_records);
	int rc = run_begin(b, &r, records, n) ? write_until_done(b, &r, owner) : -1;

	/* The data first, then the keys: a crash between the two is repaired by consuming the
	 * batch again (offsets are stored after both). */
	if (rc == 0 && (ingestd_batch_mark_consented(b, r.items, n, r.dialogs, r.rejected) < 0 ||
	                ingestd_batch_erase_keys(b, r.dialogs, r.nd, r.rejected) < 0))
		rc = -1;
	if (rc == 0 && dead_letter(b, r.items, n) < 0)
		rc = -1;
	if (rc == 0) {
		count_applied(b, &r);
		dapi_series_observe(b->m_duration,
		                    (double)(dapi_time_mono_ms() - r.started_ms) / 1000.0);
		DAPI_DEBUG("batch_applied", "{s:i, s:i}", "records", (int)n, "dialogs", (int)r.nd);
	}
	run_end(&r);
	return rc;
}

/* ---- the object --------------------------------------------------------------------- */

bool ingestd_batch_backoff(const struct ingestd_batch *b, int64_t *backoff_ms)
{
	if (dapi_stop_requested)
		return false;
	dapi_sleep_unless_stopped(*backoff_ms);
	*backoff_ms =
	        *backoff_ms * 2 > b->cfg.backoff_max_ms ? b->cfg.backoff_max_ms : *backoff_ms * 2;
	return !dapi_stop_requested;
}

bool ingestd_batch_retry(const struct ingestd_batch *b, const char *event,
                         struct dapi_series *count, bool (*op)(void *arg, bson_error_t *err),
                         void *arg)
{
	int64_t backoff = 100;
	bson_error_t err = { 0 };
	while (!op(arg, &err)) {
		DAPI_WARN(event, "{s:s, s:I}", "detail", err.message, "retryInMs",
		          (json_int_t)backoff);
		if (count)
			dapi_series_add(count, 1);
		if (!ingestd_batch_backoff(b, &backoff))
			return false;
	}
	return true;
}

static void register_metrics(struct ingestd_batch *b)
{
	b->m_applied = dapi_metrics_family("dataapi_events_applied_total",
	                                   "Events applied to the store, by type and outcome",
	                                   DAPI_COUNTER, NULL, 0);
	b->m_dlq = dapi_metrics_family("dataapi_dlq_total", "Records sent to the DLQ, by reason",
	                               DAPI_COUNTER, NULL, 0);
	b->m_reads = dapi_metrics_family("dataapi_dialog_reads_total",
	                                 "Dialogs a batch needed, by where their state came from "
	                                 "(cache: written by this process; store: read back)",
	                                 DAPI_COUNTER, NULL, 0);
	b->m_retries = dapi_metrics_one(
	        "dataapi_store_retries_total",
	        "Batches applied again after a conflict or a database error", DAPI_COUNTER);
	b->m_duration = dapi_metrics_series(
	        dapi_metrics_family("dataapi_batch_duration_seconds",
	                            "From a batch's first record to its offsets being stored",
	                            DAPI_HISTOGRAM, dapi_latency_buckets, dapi_latency_nbuckets),
	        "");
	struct dapi_family *store_time =
	        dapi_metrics_family("dataapi_store_duration_seconds",
	                            "A batch's database work: reading the dialogs not in the "
	                            "cache, writing the changed",
	                            DAPI_HISTOGRAM, dapi_latency_buckets, dapi_latency_nbuckets);
	b->m_load = dapi_metrics_series(store_time, "op=\"load\"");
	b->m_write = dapi_metrics_series(store_time, "op=\"write\"");
	b->m_shredded = dapi_metrics_one("dataapi_events_shredded_total",
	                                 "Sealed events whose dialog's data key is gone (erased): "
	                                 "skipped, not dead-lettered",
	                                 DAPI_COUNTER);
	b->m_keys_erased = ingestd_keys_deleted_series("revocation");
}

struct ingestd_batch *ingestd_batch_new(const struct ingestd_batch_config *cfg)
{
	struct ingestd_batch *b = calloc(1, sizeof(*b));
	if (!b ||
	    !(b->items = calloc(cfg->max_records ? cfg->max_records : 1, sizeof(*b->items)))) {
		free(b);
		return NULL;
	}
	b->cfg = *cfg;
	register_metrics(b);
	return b;
}

void ingestd_batch_forget(struct ingestd_batch *b)
{
	ingestd_cache_clear(b->cfg.cache);
}

void ingestd_batch_destroy(struct ingestd_batch *b)
{
	if (!b)
		return;
	free(b->items);
	free(b);
}
