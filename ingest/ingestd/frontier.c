#include "frontier.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka.h"

#define TIMEOUT_MS 10000
/* An event's receivedAt comes before its record's timestamp (the key fetch, the seal), and
 * the record reaches the broker up to the ingress's --produce-timeout (5 s) after that
 * timestamp: records newer than the clock less this may still be on their way, and events
 * received this long before the record-time frontier may still be behind it. */
#define IN_FLIGHT_MS 10000

struct ingestd_frontier {
	rd_kafka_t *rk;
	char topic[256];
};

struct ingestd_frontier *ingestd_frontier_new(const char *brokers, const struct dapi_props *props,
                                              const char *topic, const char *group, char *errstr,
                                              size_t errstr_size)
{
	const char *const defaults[] = {
		"group.id",           group,   "client.id", "dataapi-ingestd-frontier",
		"enable.auto.commit", "false", NULL
	};
	struct ingestd_frontier *f = calloc(1, sizeof(*f));
	rd_kafka_conf_t *conf =
	        f ? dapi_kafka_conf_new(brokers, defaults, props, errstr, errstr_size) : NULL;
	if (!f || !conf) {
		if (!f)
			snprintf(errstr, errstr_size, "out of memory");
		free(f);
		return NULL;
	}
	snprintf(f->topic, sizeof(f->topic), "%s", topic);
	if (!(f->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errstr_size))) {
		rd_kafka_conf_destroy(conf);
		free(f);
		return NULL;
	}
	return f; /* conf is now owned by f->rk */
}

void ingestd_frontier_destroy(struct ingestd_frontier *f)
{
	if (!f)
		return;
	rd_kafka_destroy(f->rk);
	free(f);
}

/* The group's position in each partition: its committed offset, the low watermark when it
 * has none; and each partition's high watermark into high[]. NULL with errstr. */
static rd_kafka_topic_partition_list_t *positions(struct ingestd_frontier *f, int64_t **high,
                                                  char *errstr, size_t errstr_size)
{
	int n = dapi_kafka_partition_count(f->rk, f->topic, TIMEOUT_MS, errstr, errstr_size);
	if (n < 0)
		return NULL;
	rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(n);
	*high = calloc(n ? (size_t)n : 1, sizeof(**high));
	for (int p = 0; p < n; p++)
		rd_kafka_topic_partition_list_add(parts, f->topic, p);
	rd_kafka_resp_err_t err =
	        *high ? rd_kafka_committed(f->rk, parts, TIMEOUT_MS) : RD_KAFKA_RESP_ERR__FAIL;
	for (int p = 0; !err && p < n; p++) {
		int64_t lo;
		err = rd_kafka_query_watermark_offsets(f->rk, f->topic, p, &lo, &(*high)[p],
		                                       TIMEOUT_MS);
		if (!err && parts->elems[p].offset < lo) /* none committed, or before the start */
			parts->elems[p].offset = lo;
	}
	if (err) {
		snprintf(errstr, errstr_size, "committed offsets of %s: %s", f->topic,
		         rd_kafka_err2str(err));
		rd_kafka_topic_partition_list_destroy(parts);
		free(*high);
		*high = NULL;
		return NULL;
	}
	return parts;
}

/* Whether every record before time t lies before the committed offsets: the first offset
 * at or after t (the partition's end when there is none) is not past them. -1: no answer. */
static int reached(struct ingestd_frontier *f, const rd_kafka_topic_partition_list_t *at,
                   const int64_t *high, int64_t t)
{
	rd_kafka_topic_partition_list_t *q = rd_kafka_topic_partition_list_copy(at);
	for (int p = 0; p < q->cnt; p++)
		q->elems[p].offset = t;
	rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(f->rk, q, TIMEOUT_MS);
	int yes = err ? -1 : 1;
	for (int p = 0; yes == 1 && p < q->cnt; p++) {
		int64_t first = q->elems[p].offset >= 0 ? q->elems[p].offset : high[p];
		if (q->elems[p].err)
			yes = -1;
		else if (at->elems[p].offset < first)
			yes = 0;
	}
	rd_kafka_topic_partition_list_destroy(q);
	return yes;
}

bool ingestd_frontier_get(struct ingestd_frontier *f, int64_t now_ms, int64_t *t_ms, char *errstr,
                          size_t errstr_size)
{
	int64_t *high = NULL;
	rd_kafka_topic_partition_list_t *at = positions(f, &high, errstr, errstr_size);
	if (!at)
		return false;
	/* seconds: lo is reached (nothing is older than the epoch), hi is the latest asked */
	int64_t lo = 0, hi = (now_ms - IN_FLIGHT_MS) / 1000;
	int r = reached(f, at, high, hi * 1000);
	if (r == 1)
		lo = hi;
	while (r >= 0 && lo < hi) {
		int64_t mid = lo + (hi - lo + 1) / 2;
		r = reached(f, at, high, mid * 1000);
		if (r == 1)
			lo = mid;
		else if (r == 0)
			hi = mid - 1;
	}
	rd_kafka_topic_partition_list_destroy(at);
	free(high);
	if (r < 0) {
		snprintf(errstr, errstr_size, "offsets for times of %s did not come back",
		         f->topic);
		return false;
	}
	*t_ms = lo * 1000 - IN_FLIGHT_MS; /* in receivedAt terms */
	return true;
}
