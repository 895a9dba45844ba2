/* One batch of records: decode, find their dialogs, load (cache, then store), apply in
 * record order, write with one guarded bulk per chunk, dead-letter what cannot be applied,
 * then store the offsets. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumer_internal.h"
#include "dialog_cache.h"
#include "dlq.h"
#include "idset.h"
#include "log.h"
#include "service.h"
#include "timefmt.h"

/* The batch's working state: items[order[k]] for k < n_order are the decodable records,
 * in record order; dialogs[item.dialog] is each one's dialog. */
struct batch {
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

static void decode_item(const struct ingestd_consumer *c, struct item *it)
{
	const rd_kafka_message_t *m = it->rkm;

	it->decode_reason = dapi_event_decode(m->payload, m->payload ? m->len : 0, c->cfg.max_text,
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

/* Builds the batch's distinct dialogs (each item's into item.dialog); returns how many,
 * or SIZE_MAX when out of memory. */
static size_t group_dialogs(struct item *items, const size_t *order, size_t n_order,
                            struct ingestd_dialog *dialogs)
{
	size_t cap = n_order ? n_order : 1;
	/* one scratch block: the records' dialog ids, the distinct ones, each one's place */
	void *scratch = calloc(cap, 2 * sizeof(const char *) + sizeof(size_t));
	if (!scratch)
		return SIZE_MAX;
	const char **names = scratch, **ids = names + cap;
	size_t *index = (size_t *)(ids + cap);
	for (size_t k = 0; k < n_order; k++)
		names[k] = items[order[k]].ev.dialog_id;
	size_t nd = dapi_distinct(names, n_order, ids, index);
	for (size_t d = 0; nd != SIZE_MAX && d < nd; d++)
		ingestd_dialog_init(&dialogs[d], ids[d]);
	for (size_t k = 0; nd != SIZE_MAX && k < n_order; k++)
		items[order[k]].dialog = index[k];
	free(scratch);
	return nd;
}

/* Fills each dialog's state: from the cache where it has it, else from the store. */
static bool load_dialogs(struct ingestd_consumer *c, struct batch *b, int64_t now,
                         bson_error_t *err)
{
	size_t hits = 0;
	for (size_t i = 0; i < b->nd; i++)
		hits += b->known[i] = ingestd_cache_get(c->cfg.cache, &b->dialogs[i], now);
	dapi_metrics_inc(c->m_reads, "source=\"cache\"", (double)hits);
	dapi_metrics_inc(c->m_reads, "source=\"store\"", (double)(b->nd - hits));
	if (!ingestd_store_load(c->store, b->dialogs, b->nd, b->known, err))
		return false;
	dapi_series_observe(c->m_load, (double)(dapi_time_mono_ms() - now) / 1000.0);
	return true;
}

/* Applies every decodable event to its dialog, in record order; false when out of memory. */
static bool apply_events(const struct ingestd_consumer *c, struct batch *b, bson_error_t *err)
{
	for (size_t i = 0; i < b->nd; i++)
		b->dialogs[i].rules = &c->cfg.rules;
	for (size_t k = 0; k < b->n_order; k++) {
		struct item *it = &b->items[b->order[k]];
		it->apply_reason = NULL;
		it->outcome = ingestd_dialog_apply(&b->dialogs[it->dialog], &it->ev);
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
static void mark_rejected(struct batch *b)
{
	for (size_t k = 0; k < b->n_order; k++) {
		struct item *it = &b->items[b->order[k]];
		const char *why = b->rejected[it->dialog];
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
static enum ingestd_write_status attempt(struct ingestd_consumer *c, struct batch *b,
                                         bson_error_t *err)
{
	int64_t now = dapi_time_mono_ms();

	if (!load_dialogs(c, b, now, err))
		return INGESTD_WRITE_TRANSIENT;
	if (rd_kafka_assignment_lost(c->rk)) {
		/* Another member may own these partitions now: writing from this state could
		 * undo its work. */
		bson_set_error(err, 0, 0, "partition assignment lost");
		return INGESTD_WRITE_LOST;
	}
	if (!apply_events(c, b, err))
		return INGESTD_WRITE_TRANSIENT;
	int64_t write_start = dapi_time_mono_ms();
	enum ingestd_write_status status =
	        ingestd_store_write(c->store, b->dialogs, b->nd, b->rejected, err);
	dapi_series_observe(c->m_write, (double)(dapi_time_mono_ms() - write_start) / 1000.0);
	if (status != INGESTD_WRITE_OK)
		return status;
	for (size_t i = 0; i < b->nd; i++)
		ingestd_cache_put(c->cfg.cache, &b->dialogs[i], b->rejected[i] == NULL, now);
	mark_rejected(b);
	return status;
}

struct dead_letters {
	struct ingestd_consumer *c;
	struct item *items;
	size_t n;
};

/* One attempt to send every item that has a reason to the DLQ, waiting until Kafka has
 * them all; counted once Kafka has them, not per attempt. */
static bool send_dead_letters(void *arg, bson_error_t *err)
{
	struct dead_letters *dl = arg;
	struct ingestd_consumer *c = dl->c;
	struct dapi_dlq_batch b = { 0 };
	for (size_t i = 0; i < dl->n; i++) {
		const struct item *it = &dl->items[i];
		const char *reason = item_reason(it);
		if (!reason)
			continue;
		if (dapi_dlq_send(c->dlq, c->cfg.dlq_topic, it->rkm, reason, it->detail, &b) != 0)
			atomic_fetch_add(&b.failed, 1);
		DAPI_WARN("dead_lettered", "{s:s, s:s, s:i, s:I}", "reason", reason, "detail",
		          it->detail, "partition", it->rkm->partition, "offset",
		          (json_int_t)it->rkm->offset);
	}
	while (atomic_load(&b.pending) > 0)
		dapi_producer_flush(c->dlq, 100);
	if (atomic_load(&b.failed) > 0) {
		bson_set_error(err, 0, 0, "%d dead letters not acknowledged by Kafka",
		               atomic_load(&b.failed));
		return false;
	}
	for (size_t i = 0; i < dl->n; i++) {
		const char *reason = item_reason(&dl->items[i]);
		char labels[80];
		if (!reason)
			continue;
		snprintf(labels, sizeof(labels), "reason=\"%s\"", reason);
		dapi_metrics_inc(c->m_dlq, labels, 1);
	}
	return true;
}

/* Sends every item that has a reason to the DLQ and waits until Kafka has them all. */
static int dead_letter(struct ingestd_consumer *c, struct item *items, size_t n)
{
	struct dead_letters dl = { c, items, n };
	bool any = false;
	for (size_t i = 0; i < n && !any; i++)
		any = item_reason(&items[i]) != NULL;
	return !any || ingestd_consumer_retry(c, "dlq_retry", NULL, send_dead_letters, &dl) ? 0
	                                                                                    : -1;
}

static void store_offsets(struct ingestd_consumer *c, struct item *items, size_t n)
{
	rd_kafka_topic_partition_list_t *offs = rd_kafka_topic_partition_list_new((int)n);
	rd_kafka_resp_err_t err;

	for (size_t i = 0; i < n; i++) {
		const rd_kafka_message_t *m = items[i].rkm;
		rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(
		        offs, rd_kafka_topic_name(m->rkt), m->partition);
		if (!tp)
			tp = rd_kafka_topic_partition_list_add(offs, rd_kafka_topic_name(m->rkt),
			                                       m->partition);
		if (m->offset + 1 > tp->offset)
			tp->offset = m->offset + 1;
	}
	err = rd_kafka_offsets_store(c->rk, offs);
	if (err) /* partitions revoked meanwhile: their new owner re-applies, idempotently */
		DAPI_INFO("offsets_not_stored", "{s:s}", "error", rd_kafka_err2name(err));
	rd_kafka_topic_partition_list_destroy(offs);
}

/* Allocates b's arrays, decodes every record, opens the sealed ones and groups the
 * applicable ones by dialog. False when out of memory or on a stop while keys are away. */
static bool batch_begin(struct ingestd_consumer *c, struct batch *b, struct item *items, size_t n)
{
	*b = (struct batch){ .items = items, .n = n, .started_ms = dapi_time_mono_ms() };
	b->order = malloc(n * sizeof(*b->order));
	b->dialogs = calloc(n, sizeof(*b->dialogs));
	b->rejected = calloc(n, sizeof(*b->rejected));
	b->known = calloc(n, sizeof(*b->known));
	if (!b->order || !b->dialogs || !b->rejected || !b->known)
		return false;
	for (size_t i = 0; i < n; i++)
		decode_item(c, &items[i]);
	if (ingestd_batch_open_sealed(c, items, n) < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!items[i].decode_reason && !items[i].shredded)
			b->order[b->n_order++] = i;
	b->nd = group_dialogs(items, b->order, b->n_order, b->dialogs);
	if (b->nd == SIZE_MAX) {
		b->nd = 0;
		return false;
	}
	assert(b->nd <= b->n_order && b->n_order <= n);
	return true;
}

static void batch_end(struct batch *b)
{
	for (size_t i = 0; b->dialogs && i < b->nd; i++)
		ingestd_dialog_clear(&b->dialogs[i]);
	free(b->order);
	free(b->dialogs);
	free(b->rejected);
	free(b->known);
}

/* Attempts until the batch is written: 0; 1 when the partitions were lost; -1 on a stop
 * while the database is unavailable. Conflicts are retried at once (three times), errors
 * after a growing pause. */
static int write_until_done(struct ingestd_consumer *c, struct batch *b)
{
	int64_t backoff = 100;
	int conflicts = 0;

	for (;;) {
		bson_error_t err = { 0 };
		enum ingestd_write_status st = attempt(c, b, &err);
		if (st == INGESTD_WRITE_OK)
			return 0;
		/* A conflict means another writer; after an error, what was written is unknown. */
		ingestd_cache_clear(c->cfg.cache);
		if (st == INGESTD_WRITE_LOST) {
			/* Abandoned uncommitted: the partitions' new owner applies these events. */
			DAPI_WARN("batch_abandoned", "{s:s}", "detail", err.message);
			return 1;
		}
		dapi_series_add(c->m_retries, 1);
		if (st == INGESTD_WRITE_CONFLICT && ++conflicts <= 3) {
			DAPI_INFO("write_conflict", "{s:i}", "attempt", conflicts);
			continue;
		}
		DAPI_WARN("store_unavailable", "{s:s, s:I}", "detail",
		          st == INGESTD_WRITE_CONFLICT ? "repeated write conflicts" : err.message,
		          "retryInMs", (json_int_t)backoff);
		if (!ingestd_consumer_backoff(c, &backoff))
			return -1; /* not stored: the batch is consumed again after restart */
	}
}

static void count_applied(struct ingestd_consumer *c, const struct batch *b)
{
	for (size_t k = 0; k < b->n_order; k++) {
		const struct item *it = &b->items[b->order[k]];
		char labels[96];
		if (it->apply_reason)
			continue;
		snprintf(labels, sizeof(labels), "type=\"%s\",outcome=\"%s\"",
		         dapi_event_type_name(it->ev.type),
		         ingestd_apply_outcome_name(it->outcome));
		dapi_metrics_inc(c->m_applied, labels, 1);
	}
}

int ingestd_batch_process(struct ingestd_consumer *c, struct item *items, size_t n)
{
	struct batch b;
	int rc = batch_begin(c, &b, items, n) ? write_until_done(c, &b) : -1;

	/* The data first, then the keys: a crash between the two is repaired by consuming the
	 * batch again (offsets are stored after both). */
	if (rc == 0 && (ingestd_batch_mark_consented(c, items, n, b.dialogs, b.rejected) < 0 ||
	                ingestd_batch_erase_keys(c, b.dialogs, b.nd, b.rejected) < 0))
		rc = -1;
	if (rc == 0 && dead_letter(c, items, n) < 0)
		rc = -1;
	if (rc == 0) {
		count_applied(c, &b);
		store_offsets(c, items, n);
		dapi_series_observe(c->m_batch,
		                    (double)(dapi_time_mono_ms() - b.started_ms) / 1000.0);
		DAPI_DEBUG("batch_applied", "{s:i, s:i}", "records", (int)n, "dialogs", (int)b.nd);
	}
	batch_end(&b);
	return rc;
}
