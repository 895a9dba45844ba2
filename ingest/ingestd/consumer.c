#include "consumer_internal.h"
#include "key_sweep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dialog_cache.h"
#include "dlq.h"
#include "replay.h"
#include "kafka.h"
#include "log.h"
#include "metrics.h"
#include "timefmt.h"
#include "service.h"

static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque);

/* ---- group membership --------------------------------------------------------------- */

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct ingestd_consumer *c = opaque;
	bool cooperative = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");

	/* Whoever owned these partitions meanwhile may have written their dialogs. */
	ingestd_cache_clear(c->cfg.cache);

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

static void register_metrics(struct ingestd_consumer *c)
{
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
	c->m_retries = dapi_metrics_one(
	        "dataapi_store_retries_total",
	        "Batches applied again after a conflict or a database error", DAPI_COUNTER);
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
	c->m_shredded = dapi_metrics_one("dataapi_events_shredded_total",
	                                 "Sealed events whose dialog's data key is gone (erased): "
	                                 "skipped, not dead-lettered",
	                                 DAPI_COUNTER);
	c->m_keys_erased = ingestd_keys_deleted_series("revocation");
}

bool ingestd_consumer_backoff(struct ingestd_consumer *c, int64_t *backoff_ms)
{
	if (dapi_stop_requested)
		return false;
	dapi_sleep_unless_stopped(*backoff_ms);
	*backoff_ms =
	        *backoff_ms * 2 > c->cfg.backoff_max_ms ? c->cfg.backoff_max_ms : *backoff_ms * 2;
	return !dapi_stop_requested;
}

bool ingestd_consumer_retry(struct ingestd_consumer *c, const char *event,
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
		if (!ingestd_consumer_backoff(c, &backoff))
			return false;
	}
	return true;
}

/* The librdkafka consumer, its offsets moved for --replay-from, subscribed to the topic.
 * NULL with errstr. */
static rd_kafka_t *join_group(struct ingestd_consumer *c, char *errstr, size_t errstr_size)
{
	const struct ingestd_consumer_config *cfg = &c->cfg;
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
	rd_kafka_conf_t *conf =
	        dapi_kafka_conf_new(cfg->brokers, defaults, cfg->props, errstr, errstr_size);
	rd_kafka_t *rk;
	if (!conf)
		return NULL;
	rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
	rd_kafka_conf_set_stats_cb(conf, on_stats);
	rd_kafka_conf_set_opaque(conf, c);
	if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errstr_size))) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_poll_set_consumer(rk); /* conf is now owned by rk */
	if (cfg->replay_from && *cfg->replay_from &&
	    ingestd_replay_move_offsets(rk, cfg->topic, cfg->replay_from, errstr, errstr_size) <
	            0) {
		rd_kafka_destroy(rk);
		return NULL;
	}
	rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(topics, cfg->topic, RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, topics);
	rd_kafka_topic_partition_list_destroy(topics);
	if (err) {
		snprintf(errstr, errstr_size, "subscribe to %s: %s", cfg->topic,
		         rd_kafka_err2str(err));
		rd_kafka_destroy(rk);
		return NULL;
	}
	return rk;
}

struct ingestd_consumer *ingestd_consumer_new(const struct ingestd_consumer_config *cfg,
                                              struct ingestd_store *store,
                                              struct dapi_producer *dlq, char *errstr,
                                              size_t errstr_size)
{
	struct ingestd_consumer *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(errstr, errstr_size, "out of memory");
		return NULL;
	}
	c->cfg = *cfg;
	c->store = store;
	c->dlq = dlq;
	register_metrics(c);
	if (!(c->rk = join_group(c, errstr, errstr_size))) {
		free(c);
		return NULL;
	}
	return c;
}

void ingestd_consumer_destroy(struct ingestd_consumer *c)
{
	if (!c)
		return;
	rd_kafka_consumer_close(c->rk);
	rd_kafka_destroy(c->rk);
	free(c);
}

rd_kafka_t *ingestd_consumer_handle(struct ingestd_consumer *c)
{
	return c->rk;
}

/* librdkafka's statistics: consumer lag per assigned partition into a gauge. */
static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
	struct ingestd_consumer *c = opaque;
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

/* ---- loop ------------------------------------------------------------------------- */

/* Returns a record, or NULL (nothing, or an error event that was logged). */
static rd_kafka_message_t *poll_one(struct ingestd_consumer *c, int timeout_ms, int *fatal)
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

int ingestd_consumer_run(struct ingestd_consumer *c)
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
		int done = ingestd_batch_process(c, items, n);
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
