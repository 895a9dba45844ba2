#include "consumer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"
#include "kafka.h"
#include "log.h"
#include "metrics.h"
#include "timefmt.h"
#include "service.h"

struct ingestd_consumer {
	struct ingestd_consumer_config cfg;
	struct ingestd_batch *batch; /* borrowed */
	rd_kafka_t *rk;
	struct dapi_family *m_lag;
};

static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque);

/* ---- group membership --------------------------------------------------------------- */

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct ingestd_consumer *c = opaque;
	bool cooperative = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");

	/* Whoever owned these partitions meanwhile may have written their dialogs. */
	ingestd_batch_forget(c->batch);

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
                                              struct ingestd_batch *batch, char *errstr,
                                              size_t errstr_size)
{
	struct ingestd_consumer *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(errstr, errstr_size, "out of memory");
		return NULL;
	}
	c->cfg = *cfg;
	c->batch = batch;
	c->m_lag = dapi_metrics_family("dataapi_consumer_lag",
	                               "Records behind the partition's end (librdkafka statistics)",
	                               DAPI_GAUGE, NULL, 0);
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

/* Stores the offsets past records[0..n) (a batch done); committed in the background and on
 * a revoke or close. */
static void store_offsets(struct ingestd_consumer *c, rd_kafka_message_t *const *records, size_t n)
{
	rd_kafka_topic_partition_list_t *offs = rd_kafka_topic_partition_list_new((int)n);
	rd_kafka_resp_err_t err;

	for (size_t i = 0; i < n; i++) {
		const rd_kafka_message_t *m = records[i];
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

static bool assignment_lost(void *arg)
{
	return rd_kafka_assignment_lost(arg) != 0;
}

int ingestd_consumer_run(struct ingestd_consumer *c)
{
	size_t cap = (size_t)c->cfg.batch_max;
	rd_kafka_message_t **records = calloc(cap, sizeof(*records));
	const struct ingestd_batch_owner owner = { assignment_lost, c->rk };
	int fatal = 0, rc = 0;

	if (!records)
		return -1;
	while (!dapi_stop_requested && !fatal) {
		size_t n = 0;
		rd_kafka_message_t *m = poll_one(c, 100, &fatal);
		if (!m)
			continue;
		records[n++] = m;
		while (n < cap && (m = poll_one(c, 0, &fatal)))
			records[n++] = m;
		int done = ingestd_batch_apply(c->batch, records, n, &owner);
		if (done == 0)
			store_offsets(c, records, n);
		for (size_t i = 0; i < n; i++)
			rd_kafka_message_destroy(records[i]);
		if (done < 0 && !dapi_stop_requested) {
			/* Going on would store later offsets past this batch: stop instead. */
			DAPI_ERROR("batch_failed", "{s:s}", "detail", "out of memory");
			rc = -1;
			break;
		}
	}
	free(records);
	return fatal ? -1 : rc;
}
