/* B2's input: writes a workload's message events, then one consent per dialog, to a topic
 * through the same idempotent acks=all producer as the ingress, and waits for every
 * delivery report. Prints one JSON line: what it wrote ("events", "messages", "dialogs",
 * "text_bytes"), how fast ("seconds", "rate") and what Kafka did not take ("undelivered",
 * "failed").
 * Usage: dapi-bench-fill <brokers> <topic> <prefix> <dialogs> <events> <text-bytes> */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "event.h"
#include "producer.h"
#include "timefmt.h"
#include "workload.h"

static atomic_long failed;

static void on_delivery(void *opaque, rd_kafka_resp_err_t err, bool maybe_stored)
{
	(void)opaque;
	if (err)
		atomic_fetch_add(&failed, 1);
}

/* Encodes ev and enqueues it, waiting while the local queue is full. */
static int send_event(struct dapi_producer *p, const char *topic, const struct dapi_event *ev)
{
	size_t len;
	char *value = dapi_event_encode(ev, &len);
	if (!value)
		return -1;
	for (;;) {
		rd_kafka_resp_err_t err = dapi_producer_send(
		        p, topic, ev->dialog_id, strlen(ev->dialog_id), value, len, NULL, NULL);
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
			return 0;
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			return -1;
		value = dapi_event_encode(ev, &len); /* send took the first copy */
		if (!value)
			return -1;
		struct timespec pause = { 0, 5 * 1000 * 1000 };
		nanosleep(&pause, NULL);
	}
}

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr,
		        "usage: %s <brokers> <topic> <prefix> <dialogs> <events> <text-bytes>\n",
		        argv[0]);
		return 2;
	}
	struct bench_workload w = { .prefix = argv[3],
		                    .dialogs = atol(argv[4]),
		                    .events = atol(argv[5]),
		                    .text_bytes = (size_t)atol(argv[6]) };
	struct dapi_props props = { 0 };
	struct dapi_producer_config cfg = { .brokers = argv[1],
		                            .props = &props,
		                            .delivery_timeout_ms = 60000,
		                            .queue_max = 100000,
		                            .client_id = "dataapi-bench-fill",
		                            .on_delivery = on_delivery };
	char errstr[512], did[32], cid[32], eid[48], *text = malloc(w.text_bytes + 1);
	struct dapi_producer *p = dapi_producer_new(&cfg, errstr, sizeof(errstr));
	if (!p || !text) {
		fprintf(stderr, "bench-fill: %s\n", p ? "out of memory" : errstr);
		return 1;
	}
	double t0 = bench_now_s();
	for (long i = 0; i < w.events + w.dialogs; i++) {
		struct dapi_event ev = { .event_id = eid,
			                 .dialog_id = did,
			                 .received_at = dapi_time_now_ms() };
		bench_event_id(&w, i, eid);
		bench_dialog_id(&w, i, did);
		if (i < w.events) {
			ev.type = DAPI_EVENT_MESSAGE;
			bench_customer_id(&w, i, cid);
			bench_text(&w, i, text);
			ev.customer_id = cid;
			ev.text = text;
			ev.text_len = w.text_bytes;
			snprintf(ev.language, sizeof(ev.language), "%s", bench_language(i));
		} else {
			ev.type = DAPI_EVENT_CONSENT;
			ev.granted = true;
		}
		if (send_event(p, argv[2], &ev) < 0) {
			fprintf(stderr, "bench-fill: cannot enqueue event %ld\n", i);
			return 1;
		}
	}
	int left = dapi_producer_flush(p, 120000);
	double secs = bench_now_s() - t0;
	dapi_producer_destroy(p, 1000);
	free(text);
	printf("{\"events\":%ld,\"messages\":%ld,\"dialogs\":%ld,\"text_bytes\":%zu,"
	       "\"seconds\":%.3f,\"rate\":%.1f,\"undelivered\":%d,\"failed\":%ld}\n",
	       w.events + w.dialogs, w.events, w.dialogs, w.text_bytes, secs,
	       (double)(w.events + w.dialogs) / secs, left, atomic_load(&failed));
	return left == 0 && atomic_load(&failed) == 0 ? 0 : 1;
}
