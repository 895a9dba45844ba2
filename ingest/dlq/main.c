/* dataapi-dlq: inspect the dead-letter topic and send records back through the pipeline
 * once their cause is fixed. Reads the DLQ from its start to its current end; prints one
 * JSON line per record (metadata only, never the value); with --redrive, produces each
 * matching record back to the topic with its key, value and original headers (the dlq.*
 * ones dropped), and waits until Kafka has them all. Re-driving twice is harmless:
 * ingestd applies an event once by its eventId.
 *
 * A record older than --tombstone-ttl is never re-driven: its dialog may have been revoked
 * since, and the tombstone that makes ingestd drop the dialog's later events lives only
 * that long, so re-driving a message and a consent would bring an erased dialog back. */
#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlq.h"
#include "event.h"
#include "kafka.h"
#include "log.h"
#include "service.h"
#include "timefmt.h"

static const char summary[] =
        "Lists the records of the DataAPI dead-letter topic, and with --redrive sends the\n"
        "matching ones back to the events topic (same key, value and headers).";

/* A NUL-terminated copy of len bytes that are not NUL-terminated themselves (keys, header
 * values): strndup would look for a terminator past the end. */
static char *dup_bytes(const void *p, size_t len)
{
	char *s = malloc(len + 1);
	if (s) {
		if (len)
			memcpy(s, p, len);
		s[len] = '\0';
	}
	return s;
}

static char *header(const rd_kafka_message_t *m, const char *name)
{
	rd_kafka_headers_t *h;
	const void *v;
	size_t len;
	if (rd_kafka_message_headers(m, &h) || rd_kafka_header_get_last(h, name, &v, &len))
		return dup_bytes("", 0);
	return dup_bytes(v, v ? len : 0);
}

/* When the record's event was first received, as early as anything tells: the event's own
 * receivedAt, the source record's timestamp (dlq.source.timestamp), the DLQ record's. */
static int64_t first_seen_ms(const rd_kafka_message_t *m)
{
	int64_t t = rd_kafka_message_timestamp(m, NULL);
	char *src = header(m, "dlq.source.timestamp"), errstr[128];
	struct dapi_event ev = { 0 };
	long long v;

	if (src && sscanf(src, "%lld", &v) == 1 && v > 0 && (t <= 0 || v < t))
		t = v;
	free(src);
	if (!dapi_event_decode(m->payload, m->len, SIZE_MAX, &ev, errstr, sizeof(errstr)) &&
	    ev.received_at > 0 && (t <= 0 || ev.received_at < t))
		t = ev.received_at;
	dapi_event_clear(&ev);
	return t;
}

/* Whether re-driving the record could outlive its dialog's tombstone: older than the TTL
 * less a margin for the clocks of ingress hosts (an hour, at most half the TTL). A record
 * of unknown age counts as old. */
static bool too_old(const rd_kafka_message_t *m, int64_t tombstone_ttl_ms)
{
	int64_t margin = tombstone_ttl_ms / 2 < 3600000 ? tombstone_ttl_ms / 2 : 3600000;
	int64_t seen = first_seen_ms(m);
	return seen <= 0 || dapi_time_now_ms() - seen > tombstone_ttl_ms - margin;
}

/* The record's headers without the dlq.* ones that explain its stay in the DLQ. */
static rd_kafka_headers_t *original_headers(const rd_kafka_message_t *m)
{
	rd_kafka_headers_t *h, *out = rd_kafka_headers_new(4);
	const char *name;
	const void *v;
	size_t len;
	if (rd_kafka_message_headers(m, &h))
		return out;
	for (size_t i = 0; !rd_kafka_header_get_all(h, i, &name, &v, &len); i++)
		if (strncmp(name, "dlq.", 4) != 0)
			rd_kafka_header_add(out, name, -1, v, (ssize_t)len);
	return out;
}

int main(int argc, char **argv)
{
	struct dapi_kafka_opts kafka;
	const char *dlq_opt, *reason, *key, *log_level;
	bool redrive;
	int64_t tombstone_ttl;
	char errstr[512], dlq_topic[300];
	struct dapi_dlq_batch batch = { 0 };
	struct dapi_producer *producer = NULL;
	rd_kafka_t *rk = NULL;
	int rc, listed = 0, sent = 0, failed = 0, old = 0;

	/* clang-format off */
	const struct dapi_opt opts[] = {
		DAPI_OPT_KAFKA(kafka, "The events topic records are sent back to"),
		{"dlq-topic", 0, "KAFKA_DLQ_TOPIC", DAPI_OPT_STRING, &dlq_opt, "", 0, 0,
		 "Dead-letter topic (default: <topic>.dlq)"},
		{"reason", 0, NULL, DAPI_OPT_STRING, &reason, "", 0, 0,
		 "Only records whose dlq.reason is this"},
		{"key", 0, NULL, DAPI_OPT_STRING, &key, "", 0, 0, "Only records with this key (dialogId)"},
		{"redrive", 0, NULL, DAPI_OPT_BOOL, &redrive, "false", 0, 0,
		 "Send the matching records back to the topic (default: only list them)"},
		{"tombstone-ttl", 0, "TOMBSTONE_TTL", DAPI_OPT_DURATION, &tombstone_ttl, "30d", 1000,
		 INT64_MAX / 2, "ingestd's --tombstone-ttl: older records are never re-driven (an "
		 "erased dialog's tombstone may be gone)"},
		DAPI_OPT_LOG_LEVEL(log_level),
	};
	/* clang-format on */

	rc = dapi_config_load(opts, sizeof(opts) / sizeof(opts[0]), argc, argv, summary, errstr,
	                      sizeof(errstr));
	if (rc == 1)
		return 0;
	if (rc < 0 || dapi_service_log_init("dlq", log_level, errstr, sizeof(errstr)) < 0) {
		fprintf(stderr, "dataapi-dlq: %s\n", errstr);
		return 2;
	}
	snprintf(dlq_topic, sizeof(dlq_topic), "%s%s", *dlq_opt ? dlq_opt : kafka.topic,
	         *dlq_opt ? "" : ".dlq");

	const char *const defaults[] = { "group.id", "dataapi-dlq-tool",     "enable.auto.commit",
		                         "false",    "enable.partition.eof", "true",
		                         NULL };
	rd_kafka_conf_t *conf =
	        dapi_kafka_conf_new(kafka.brokers, defaults, &kafka.props, errstr, sizeof(errstr));
	if (!conf || !(rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr)))) {
		if (conf)
			rd_kafka_conf_destroy(conf);
		goto fail;
	}
	conf = NULL; /* now owned by rk */
	if (redrive) {
		struct dapi_producer_config pcfg = { .brokers = kafka.brokers,
			                             .props = &kafka.props,
			                             .delivery_timeout_ms = 30000,
			                             .queue_max = 100000,
			                             .client_id = "dataapi-dlq",
			                             .on_delivery = dapi_dlq_on_delivery };
		if (!(producer = dapi_producer_new(&pcfg, errstr, sizeof(errstr))))
			goto fail;
	}

	/* Assign every partition from its start; stop when each reports its end. */
	const struct rd_kafka_metadata *md;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, dlq_topic, NULL);
	rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
	rd_kafka_topic_destroy(rkt);
	if (err || md->topics[0].err) {
		snprintf(errstr, sizeof(errstr), "no metadata for %s: %s", dlq_topic,
		         rd_kafka_err2str(err ? err : md->topics[0].err));
		goto fail;
	}
	int nparts = md->topics[0].partition_cnt, ended = 0;
	rd_kafka_metadata_destroy(md);
	rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(nparts);
	for (int p = 0; p < nparts; p++)
		rd_kafka_topic_partition_list_add(parts, dlq_topic, p)->offset =
		        RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_assign(rk, parts);
	rd_kafka_topic_partition_list_destroy(parts);

	while (ended < nparts) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 1000);
		if (!m)
			continue;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			ended++;
		} else if (m->err) {
			fprintf(stderr, "dataapi-dlq: %s\n", rd_kafka_message_errstr(m));
		} else {
			char *why = header(m, "dlq.reason"), *detail = header(m, "dlq.detail");
			char *k = dup_bytes(m->key, m->key ? m->key_len : 0);
			bool match =
			        (!*reason || !strcmp(reason, why)) && (!*key || !strcmp(key, k));
			const char *action = !match ? "skipped" : redrive ? "redriven" : "listed";
			if (match && redrive && too_old(m, tombstone_ttl)) {
				action = "too_old";
				old++;
			} else if (match && redrive) {
				void *value = malloc(m->len ? m->len : 1);
				memcpy(value, m->payload, m->len);
				if (dapi_dlq_produce(producer, kafka.topic, m, value, m->len,
				                     original_headers(m), &batch) != 0) {
					action = "failed";
					failed++;
				} else {
					sent++;
				}
			}
			listed += match;
			json_t *line =
			        json_pack("{s:i, s:I, s:s, s:s, s:s, s:s}", "partition",
			                  m->partition, "offset", (json_int_t)m->offset, "key", k,
			                  "reason", why, "detail", detail, "action", action);
			char *text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
			puts(text);
			free(text);
			json_decref(line);
			free(why);
			free(detail);
			free(k);
		}
		rd_kafka_message_destroy(m);
	}
	while (producer && atomic_load(&batch.pending) > 0)
		dapi_producer_flush(producer, 100);
	failed += producer ? atomic_load(&batch.failed) : 0;
	fprintf(stderr,
	        "dataapi-dlq: %d matching record(s), %d sent back, %d failed, %d older than the "
	        "tombstone TTL not sent back\n",
	        listed, sent - (producer ? atomic_load(&batch.failed) : 0), failed, old);
	dapi_producer_destroy(producer, 10000);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return failed ? 1 : 0;

fail:
	fprintf(stderr, "dataapi-dlq: %s\n", errstr);
	dapi_producer_destroy(producer, 0);
	if (rk)
		rd_kafka_destroy(rk);
	return 1;
}
