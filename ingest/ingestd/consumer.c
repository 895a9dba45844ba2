#include "consumer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dialog_cache.h"
#include "dlq.h"
#include "kafka.h"
#include "log.h"
#include "metrics.h"
#include "timefmt.h"
#include "service.h"

struct dapi_consumer {
	struct dapi_consumer_config cfg;
	rd_kafka_t *rk;
	struct dapi_store *store;
	struct dapi_producer *dlq;
	struct dapi_family *m_applied, *m_dlq, *m_lag, *m_reads;
	struct dapi_series *m_retries, *m_batch, *m_load, *m_write;
};

/* One record of a batch. */
struct item {
	rd_kafka_message_t *rkm;
	struct dapi_event ev;
	const char *decode_reason; /* set once: the record cannot be decoded */
	const char *apply_reason;  /* set per attempt: the event cannot be applied */
	char detail[160];
	size_t dialog; /* index in the batch's dialogs */
	int outcome;
};

static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque);

/* ---- group membership --------------------------------------------------------------- */

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct dapi_consumer *c = opaque;
	bool cooperative = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");

	/* Whoever owned these partitions meanwhile may have written their dialogs. */
	dapi_cache_clear(c->cfg.cache);

	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		DAPI_INFO("partitions_assigned", "{s:i}", "count", parts->cnt);
		if (cooperative)
			rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, parts));
		else
			rd_kafka_assign(rk, parts);
		return;
	}
	DAPI_INFO("partitions_revoked", "{s:i}", "count", parts->cnt);
	/* Everything applied so far has its offset stored: commit it before letting go. */
	rd_kafka_commit(rk, NULL, 0);
	if (cooperative)
		rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, parts));
	else
		rd_kafka_assign(rk, NULL);
}

/* Commits, for the whole group, the offset each partition of the topic starts from. The
 * broker accepts this only while the group has no active member, like
 * kafka-consumer-groups.sh --reset-offsets. */
static int move_group_offsets(rd_kafka_t *rk, const char *topic, const char *from, char *errstr,
                              size_t errstr_size)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_partition_list_t *parts = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	rd_kafka_resp_err_t err;
	int64_t at = 0;
	bool earliest = !strcmp(from, "earliest");
	int rc = -1, n;

	if (!earliest && !dapi_time_parse(from, &at)) {
		snprintf(errstr, errstr_size, "--replay-from takes earliest or an RFC 3339 time");
		goto out;
	}
	err = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
	if (err || md->topic_cnt != 1 || md->topics[0].err) {
		snprintf(errstr, errstr_size, "replay: no metadata for topic %s: %s", topic,
		         rd_kafka_err2str(err ? err : md->topics[0].err));
		goto out;
	}
	n = md->topics[0].partition_cnt;
	parts = rd_kafka_topic_partition_list_new(n);
	for (int p = 0; p < n; p++) {
		int64_t lo, hi;
		err = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000);
		if (err) {
			snprintf(errstr, errstr_size, "replay: partition %d: %s", p,
			         rd_kafka_err2str(err));
			goto out;
		}
		/* offsets_for_times takes the time in the offset field */
		rd_kafka_topic_partition_list_add(parts, topic, p)->offset = earliest ? lo : at;
	}
	if (!earliest) {
		err = rd_kafka_offsets_for_times(rk, parts, 10000);
		if (err) {
			snprintf(errstr, errstr_size, "replay: offsets for time: %s",
			         rd_kafka_err2str(err));
			goto out;
		}
		for (int p = 0; p < n; p++) {
			int64_t lo, hi;
			if (parts->elems[p].offset >= 0)
				continue;
			/* nothing at or after that time: start at the end */
			rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000);
			parts->elems[p].offset = hi;
		}
	}
	err = rd_kafka_commit(rk, parts, 0);
	for (int p = 0; !err && p < n; p++)
		err = parts->elems[p].err;
	if (err) {
		snprintf(errstr, errstr_size,
		         "replay: cannot move the group's offsets (%s); stop every other member "
		         "of the group first",
		         rd_kafka_err2str(err));
		goto out;
	}
	DAPI_INFO("replay_offsets_moved", "{s:s, s:s, s:i}", "topic", topic, "from", from,
	          "partitions", n);
	rc = 0;
out:
	if (parts)
		rd_kafka_topic_partition_list_destroy(parts);
	if (md)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	return rc;
}

struct dapi_consumer *dapi_consumer_new(const struct dapi_consumer_config *cfg,
                                        struct dapi_store *store, struct dapi_producer *dlq,
                                        char *errstr, size_t errstr_size)
{
	struct dapi_consumer *c = calloc(1, sizeof(*c));
	rd_kafka_topic_partition_list_t *topics;
	rd_kafka_conf_t *conf;
	rd_kafka_resp_err_t err;
	/* clang-format off */
	const char *const defaults[] = {
		"group.id",                 cfg->group,
		"client.id",                "dataapi-ingestd",
		"enable.auto.commit",       "true",
		"enable.auto.offset.store", "false", /* stored only after MongoDB acked */
		"auto.offset.reset",        "earliest",
		"max.poll.interval.ms",     "600000",
		"session.timeout.ms",       "10000",   /* a killed member's partitions move in 10 s */
		"socket.keepalive.enable",  "true",
		"statistics.interval.ms",   "5000",  /* consumer lag for /metrics */
		/* A new record could wait out the broker's whole fetch wait (500 ms by default):
		 * freshness p99 was 0.9-1.1 s at any load, 43 ms with 50 (docs/benchmarks.md).
		 * Costs an idle member 20 fetches a second. */
		"fetch.wait.max.ms",        "50",
		NULL,
	};
	/* clang-format on */

	if (!c) {
		snprintf(errstr, errstr_size, "out of memory");
		return NULL;
	}
	c->cfg = *cfg;
	c->store = store;
	c->dlq = dlq;
	c->m_applied = dapi_metrics_family("dataapi_events_applied_total",
	                                   "Events applied to the store, by type and outcome",
	                                   DAPI_COUNTER, NULL, 0);
	c->m_dlq = dapi_metrics_family("dataapi_dlq_total", "Records sent to the DLQ, by reason",
	                               DAPI_COUNTER, NULL, 0);
	c->m_reads = dapi_metrics_family("dataapi_dialog_reads_total",
	                                 "Dialogs a batch needed, by where their state came from "
	                                 "(cache: written by this process; store: read back)",
	                                 DAPI_COUNTER, NULL, 0);
	c->m_lag = dapi_metrics_family("dataapi_consumer_lag",
	                               "Records behind the partition's end (librdkafka statistics)",
	                               DAPI_GAUGE, NULL, 0);
	c->m_retries = dapi_metrics_series(
	        dapi_metrics_family("dataapi_store_retries_total",
	                            "Batches applied again after a conflict or a database error",
	                            DAPI_COUNTER, NULL, 0),
	        "");
	c->m_batch = dapi_metrics_series(
	        dapi_metrics_family("dataapi_batch_duration_seconds",
	                            "From a batch's first record to its offsets being stored",
	                            DAPI_HISTOGRAM, dapi_latency_buckets, dapi_latency_nbuckets),
	        "");
	struct dapi_family *store_time =
	        dapi_metrics_family("dataapi_store_duration_seconds",
	                            "A batch's database work: reading the dialogs not in the "
	                            "cache, writing the changed",
	                            DAPI_HISTOGRAM, dapi_latency_buckets, dapi_latency_nbuckets);
	c->m_load = dapi_metrics_series(store_time, "op=\"load\"");
	c->m_write = dapi_metrics_series(store_time, "op=\"write\"");
	conf = dapi_kafka_conf_new(cfg->brokers, defaults, cfg->props, errstr, errstr_size);
	if (!conf)
		goto fail;
	rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
	rd_kafka_conf_set_stats_cb(conf, on_stats);
	rd_kafka_conf_set_opaque(conf, c);
	c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errstr_size);
	if (!c->rk) {
		rd_kafka_conf_destroy(conf);
		goto fail;
	}
	conf = NULL; /* now owned by rk */
	rd_kafka_poll_set_consumer(c->rk);
	if (cfg->replay_from && *cfg->replay_from &&
	    move_group_offsets(c->rk, cfg->topic, cfg->replay_from, errstr, errstr_size) < 0) {
		rd_kafka_destroy(c->rk);
		goto fail;
	}
	topics = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(topics, cfg->topic, RD_KAFKA_PARTITION_UA);
	err = rd_kafka_subscribe(c->rk, topics);
	rd_kafka_topic_partition_list_destroy(topics);
	if (err) {
		snprintf(errstr, errstr_size, "subscribe to %s: %s", cfg->topic,
		         rd_kafka_err2str(err));
		rd_kafka_destroy(c->rk);
		goto fail;
	}
	return c;
fail:
	free(c);
	return NULL;
}

void dapi_consumer_destroy(struct dapi_consumer *c)
{
	if (!c)
		return;
	rd_kafka_consumer_close(c->rk);
	rd_kafka_destroy(c->rk);
	free(c);
}

rd_kafka_t *dapi_consumer_handle(struct dapi_consumer *c)
{
	return c->rk;
}

/* librdkafka's statistics: consumer lag per assigned partition into a gauge. */
static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
	struct dapi_consumer *c = opaque;
	json_t *root = json_loadb(json, len, 0, NULL), *topic, *part;
	const char *tname, *pname;

	DAPI_DEBUG("kafka_stats", "{s:i}", "bytes", (int)len);
	json_object_foreach(json_object_get(root, "topics"), tname, topic)
	{
		json_object_foreach(json_object_get(topic, "partitions"), pname, part)
		{
			json_t *lag = json_object_get(part, "consumer_lag");
			char labels[256];
			if (!strcmp(pname, "-1") || !json_is_integer(lag) ||
			    json_integer_value(lag) < 0)
				continue;
			snprintf(labels, sizeof(labels), "topic=\"%s\",partition=\"%s\"", tname,
			         pname);
			dapi_series_set(dapi_metrics_series(c->m_lag, labels),
			                (double)json_integer_value(lag));
		}
	}
	json_decref(root);
	return 0; /* librdkafka frees json */
}

/* ---- one batch -------------------------------------------------------------------- */

/* Why the item goes to the DLQ, or NULL. */
static const char *item_reason(const struct item *it)
{
	return it->decode_reason ? it->decode_reason : it->apply_reason;
}

static void decode_item(const struct dapi_consumer *c, struct item *it)
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

static struct item *sort_base;

/* Groups by dialogId, keeping record order inside a dialog. */
static int by_dialog(const void *a, const void *b)
{
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int c = strcmp(sort_base[i].ev.dialog_id, sort_base[j].ev.dialog_id);
	return c ? c : (i > j) - (i < j);
}

/* Builds the batch's distinct dialogs; returns how many (order[] lists decodable items
 * grouped by dialog). */
static size_t group_dialogs(struct item *items, size_t *order, size_t n_order,
                            struct dapi_dialog *dialogs)
{
	size_t nd = 0;
	sort_base = items;
	qsort(order, n_order, sizeof(*order), by_dialog);
	for (size_t k = 0; k < n_order; k++) {
		struct item *it = &items[order[k]];
		if (nd == 0 || strcmp(dialogs[nd - 1].id, it->ev.dialog_id) != 0)
			dapi_dialog_init(&dialogs[nd++], it->ev.dialog_id);
		it->dialog = nd - 1;
	}
	return nd;
}

/* Applies the events to the dialogs as loaded, then writes. */
static enum dapi_write_status attempt(struct dapi_consumer *c, struct item *items,
                                      const size_t *order, size_t n_order,
                                      struct dapi_dialog *dialogs, size_t nd, bool *known,
                                      const char **rejected, bson_error_t *err)
{
	enum dapi_write_status status;
	int64_t now = dapi_time_mono_ms();
	size_t hits = 0;

	for (size_t i = 0; i < nd; i++)
		hits += known[i] = dapi_cache_get(c->cfg.cache, &dialogs[i], now);
	dapi_metrics_inc(c->m_reads, "source=\"cache\"", (double)hits);
	dapi_metrics_inc(c->m_reads, "source=\"store\"", (double)(nd - hits));
	if (!dapi_store_load(c->store, dialogs, nd, known, err))
		return DAPI_WRITE_TRANSIENT;
	dapi_series_observe(c->m_load, (double)(dapi_time_mono_ms() - now) / 1000.0);
	if (rd_kafka_assignment_lost(c->rk)) {
		/* Another member may own these partitions now: writing from this state could
		 * undo its work. */
		bson_set_error(err, 0, 0, "partition assignment lost");
		return DAPI_WRITE_LOST;
	}
	for (size_t k = 0; k < n_order; k++) {
		struct item *it = &items[order[k]];
		it->apply_reason = NULL;
		it->outcome = dapi_dialog_apply(&dialogs[it->dialog], &it->ev);
		if (it->outcome < 0) {
			bson_set_error(err, 0, 0, "out of memory applying events");
			return DAPI_WRITE_TRANSIENT;
		}
		if (it->outcome == DAPI_APPLY_CUSTOMER_MISMATCH) {
			it->apply_reason = "customer_mismatch";
			snprintf(it->detail, sizeof(it->detail),
			         "customerId differs from the dialog's");
		}
	}
	int64_t write_start = dapi_time_mono_ms();
	status = dapi_store_write(c->store, dialogs, nd, rejected, err);
	dapi_series_observe(c->m_write, (double)(dapi_time_mono_ms() - write_start) / 1000.0);
	for (size_t i = 0; status == DAPI_WRITE_OK && i < nd; i++)
		dapi_cache_put(c->cfg.cache, &dialogs[i], rejected[i] == NULL, now);
	for (size_t k = 0; status == DAPI_WRITE_OK && k < n_order; k++) {
		struct item *it = &items[order[k]];
		if (rejected[it->dialog]) {
			it->apply_reason = rejected[it->dialog];
			snprintf(it->detail, sizeof(it->detail), "%s",
			         strcmp(it->apply_reason, "store_untrusted")
			                 ? "the database refused the dialog's write"
			                 : "the stored dialog's appliedThrough is not as ingestd "
			                   "writes it: repair the document, then re-drive");
		}
	}
	return status;
}

/* Sends every item that has a reason to the DLQ and waits until Kafka has them all. */
static int dead_letter(struct dapi_consumer *c, struct item *items, size_t n)
{
	int64_t backoff = 100;

	for (;;) {
		struct dapi_dlq_batch b = { 0 };
		int sent = 0;
		for (size_t i = 0; i < n; i++) {
			const char *reason = item_reason(&items[i]);
			if (!reason)
				continue;
			if (dapi_dlq_send(c->dlq, c->cfg.dlq_topic, items[i].rkm, reason,
			                  items[i].detail, &b) != 0)
				atomic_fetch_add(&b.failed, 1);
			DAPI_WARN("dead_lettered", "{s:s, s:s, s:i, s:I}", "reason", reason,
			          "detail", items[i].detail, "partition", items[i].rkm->partition,
			          "offset", (json_int_t)items[i].rkm->offset);
			sent++;
		}
		if (sent == 0)
			return 0;
		while (atomic_load(&b.pending) > 0)
			dapi_producer_flush(c->dlq, 100);
		if (atomic_load(&b.failed) == 0) {
			/* counted once Kafka has them, not per attempt */
			for (size_t i = 0; i < n; i++) {
				const char *reason = item_reason(&items[i]);
				char labels[80];
				if (!reason)
					continue;
				snprintf(labels, sizeof(labels), "reason=\"%s\"", reason);
				dapi_metrics_inc(c->m_dlq, labels, 1);
			}
			return 0;
		}
		DAPI_WARN("dlq_retry", "{s:i}", "failed", atomic_load(&b.failed));
		if (dapi_stop_requested)
			return -1;
		dapi_sleep_unless_stopped(backoff);
		backoff = backoff * 2 > c->cfg.backoff_max_ms ? c->cfg.backoff_max_ms : backoff * 2;
	}
}

static void store_offsets(struct dapi_consumer *c, struct item *items, size_t n)
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

/* Returns 0 when the batch is done (offsets stored); 1 when given up because the
 * partitions were lost (uncommitted: their new owner applies it); -1 when given up on
 * shutdown (consumed again after a restart) or when memory ran out. */
static int process_batch(struct dapi_consumer *c, struct item *items, size_t n)
{
	size_t *order = malloc(n * sizeof(*order)), n_order = 0, nd = 0;
	struct dapi_dialog *dialogs = calloc(n, sizeof(*dialogs));
	const char **rejected = calloc(n, sizeof(*rejected));
	bool *known = calloc(n, sizeof(*known));
	int64_t backoff = 100, started = dapi_time_mono_ms();
	int rc = -1, conflicts = 0;

	if (!order || !dialogs || !rejected || !known)
		goto out;
	for (size_t i = 0; i < n; i++) {
		decode_item(c, &items[i]);
		if (!items[i].decode_reason)
			order[n_order++] = i;
	}
	nd = group_dialogs(items, order, n_order, dialogs);
	for (;;) {
		bson_error_t err = { 0 };
		enum dapi_write_status st =
		        attempt(c, items, order, n_order, dialogs, nd, known, rejected, &err);
		if (st == DAPI_WRITE_OK)
			break;
		/* A conflict means another writer; after an error, what was written is unknown. */
		dapi_cache_clear(c->cfg.cache);
		if (st == DAPI_WRITE_LOST) {
			/* Abandoned uncommitted: the partitions' new owner applies these events. */
			DAPI_WARN("batch_abandoned", "{s:s}", "detail", err.message);
			rc = 1;
			goto out;
		}
		dapi_series_add(c->m_retries, 1);
		if (st == DAPI_WRITE_CONFLICT && ++conflicts <= 3) {
			DAPI_INFO("write_conflict", "{s:i}", "attempt", conflicts);
			continue;
		}
		DAPI_WARN("store_unavailable", "{s:s, s:I}", "detail",
		          st == DAPI_WRITE_CONFLICT ? "repeated write conflicts" : err.message,
		          "retryInMs", (json_int_t)backoff);
		if (dapi_stop_requested)
			goto out; /* not stored: the batch is consumed again after restart */
		dapi_sleep_unless_stopped(backoff);
		backoff = backoff * 2 > c->cfg.backoff_max_ms ? c->cfg.backoff_max_ms : backoff * 2;
	}
	if (dead_letter(c, items, n) < 0)
		goto out;
	for (size_t k = 0; k < n_order; k++) {
		const struct item *it = &items[order[k]];
		char labels[96];
		if (it->apply_reason)
			continue;
		snprintf(labels, sizeof(labels), "type=\"%s\",outcome=\"%s\"",
		         dapi_event_type_name(it->ev.type), dapi_apply_outcome_name(it->outcome));
		dapi_metrics_inc(c->m_applied, labels, 1);
	}
	store_offsets(c, items, n);
	dapi_series_observe(c->m_batch, (double)(dapi_time_mono_ms() - started) / 1000.0);
	DAPI_DEBUG("batch_applied", "{s:i, s:i}", "records", (int)n, "dialogs", (int)nd);
	rc = 0;
out:
	for (size_t i = 0; dialogs && i < nd; i++)
		dapi_dialog_clear(&dialogs[i]);
	free(order);
	free(dialogs);
	free(rejected);
	free(known);
	return rc;
}

/* ---- loop ------------------------------------------------------------------------- */

/* Returns a record, or NULL (nothing, or an error event that was logged). */
static rd_kafka_message_t *poll_one(struct dapi_consumer *c, int timeout_ms, int *fatal)
{
	rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, timeout_ms);
	if (!m || !m->err)
		return m;
	if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
		DAPI_WARN("consumer_error", "{s:s, s:s}", "error", rd_kafka_err2name(m->err),
		          "detail", rd_kafka_message_errstr(m));
		if (m->err == RD_KAFKA_RESP_ERR__FATAL)
			*fatal = 1;
	}
	rd_kafka_message_destroy(m);
	return NULL;
}

int dapi_consumer_run(struct dapi_consumer *c)
{
	size_t cap = (size_t)c->cfg.batch_max;
	struct item *items = calloc(cap, sizeof(*items));
	int fatal = 0, rc = 0;

	if (!items)
		return -1;
	while (!dapi_stop_requested && !fatal) {
		size_t n = 0;
		rd_kafka_message_t *m = poll_one(c, 100, &fatal);
		if (!m)
			continue;
		items[n++].rkm = m;
		while (n < cap && (m = poll_one(c, 0, &fatal)))
			items[n++].rkm = m;
		int done = process_batch(c, items, n);
		for (size_t i = 0; i < n; i++) {
			dapi_event_clear(&items[i].ev);
			rd_kafka_message_destroy(items[i].rkm);
			memset(&items[i], 0, sizeof(items[i]));
		}
		if (done < 0 && !dapi_stop_requested) {
			/* Going on would store later offsets past this batch: stop instead. */
			DAPI_ERROR("batch_failed", "{s:s}", "detail", "out of memory");
			rc = -1;
			break;
		}
	}
	free(items);
	return fatal ? -1 : rc;
}
