/* The ingress object: its producer, its HTTP server, its main loop and its drain. */
#include <assert.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingress_internal.h"
#include "log.h"
#include "service.h"
#include "timefmt.h"

static void register_metrics(struct ingress *in)
{
	in->m_published = dapi_metrics_family("dataapi_events_published_total",
	                                      "Events handed to Kafka, by type and delivery result",
	                                      DAPI_COUNTER, NULL, 0);
	in->m_produce =
	        dapi_metrics_family("dataapi_produce_duration_seconds",
	                            "From produce to Kafka's acknowledgement (or the 503 deadline)",
	                            DAPI_HISTOGRAM, dapi_latency_buckets, dapi_latency_nbuckets);
	in->m_inflight = dapi_metrics_one("dataapi_ingress_inflight",
	                                  "Requests waiting for their delivery report", DAPI_GAUGE);
	in->m_batch_lines = dapi_metrics_family(
	        "dataapi_batch_lines_total",
	        "POST /batch lines by outcome: accepted (durable), rejected (invalid), failed "
	        "(Kafka or the key store: retry)",
	        DAPI_COUNTER, NULL, 0);
	dapi_metrics_series(in->m_batch_lines, "result=\"accepted\"");
	dapi_metrics_series(in->m_batch_lines, "result=\"rejected\"");
	dapi_metrics_series(in->m_batch_lines, "result=\"failed\"");
}

void ingress_on_delivery(void *opaque, rd_kafka_resp_err_t err, bool maybe_stored)
{
	struct delivery *d = opaque;
	d->done(d, err, maybe_stored);
}

void ingress_state_free(void *state)
{
	struct waiter *w = state;
	w->release(w);
}

static void expire_one(struct ingress_inflight_entry *e)
{
	struct waiter *w = (struct waiter *)e; /* the entry is a waiter's first member */
	w->overdue(w);
}

void ingress_expire(struct ingress *in, int64_t now)
{
	ingress_inflight_expire(&in->waiting, now, expire_one);
}

rd_kafka_resp_err_t ingress_produce(struct ingress *in, enum dapi_event_type type,
                                    const char *dialog_id, char *value, size_t len,
                                    struct delivery *d)
{
	rd_kafka_headers_t *hdrs = rd_kafka_headers_new(1);
	rd_kafka_header_add(hdrs, "type", -1, dapi_event_type_name(type), -1);
	return dapi_producer_send(in->producer, in->topic, dialog_id, strlen(dialog_id), value, len,
	                          hdrs, d);
}

/* Keys are cached for ten minutes (DAPI_KEY_CACHE_TTL_MS): their usedAt, refreshed on every
 * fetch, stays well inside the pending TTL, and a revoked dialog's key lingers here at most
 * that long (what it seals then is shredded at ingestd). 262,144 dialogs (14 MiB). One
 * fetch thread (it batches; keyfetch.c); 10,000 waiting fetches at most. */
static bool start_sealing(struct ingress *in, struct dapi_keystore *keys)
{
	in->keycache = ingress_keycache_new(262144, DAPI_KEY_CACHE_TTL_MS);
	in->keyfetch = in->keycache ? ingress_keyfetch_start(keys, 1, 10000) : NULL;
	return in->keyfetch != NULL;
}

struct ingress *ingress_new(const struct ingress_config *cfg, char *errstr, size_t errstr_size)
{
	struct ingress *in = calloc(1, sizeof(*in));
	if (!in) {
		snprintf(errstr, errstr_size, "out of memory");
		return NULL;
	}
	in->topic = cfg->topic;
	in->max_text = cfg->max_text;
	in->max_batch_lines = cfg->max_batch_lines ? cfg->max_batch_lines : 1000;
	in->retry_after_s = cfg->retry_after_s;
	in->erasures = cfg->erasures;
	ingress_inflight_init(&in->waiting, cfg->produce_timeout_ms);
	register_metrics(in);
	struct dapi_producer_config pcfg = {
		.brokers = cfg->brokers,
		.props = cfg->props,
		.delivery_timeout_ms = cfg->produce_timeout_ms,
		.queue_max = cfg->queue_max,
		.client_id = "dataapi-ingress",
		.on_delivery = ingress_on_delivery,
	};
	in->producer = dapi_producer_new(&pcfg, errstr, errstr_size);
	if (in->producer && cfg->keys && !start_sealing(in, cfg->keys))
		snprintf(errstr, errstr_size, "out of memory");
	if (!in->producer || (cfg->keys && !in->keyfetch)) {
		ingress_destroy(in);
		return NULL;
	}
	/* Warm up: without the topic's metadata the first requests wait for it (measured:
	 * p99 410 ms in the first seconds after a start, 5 ms after). Not fatal: an
	 * unreachable broker is answered with 503s, and /readyz says so. */
	rd_kafka_resp_err_t warm = dapi_producer_topic_check(in->producer, in->topic, 5000);
	if (warm)
		DAPI_WARN("kafka_not_ready", "{s:s,s:s}", "topic", in->topic, "error",
		          rd_kafka_err2name(warm));
	return in;
}

int ingress_listen(struct ingress *in, const struct dapi_http_config *hcfg, char *errstr,
                   size_t errstr_size)
{
	struct dapi_http_config cfg = *hcfg;
	assert(!in->server);
	cfg.state_free = ingress_state_free;
	in->server = dapi_http_server_new(&cfg, ingress_routes, ingress_nroutes, in, errstr,
	                                  errstr_size);
	return in->server ? dapi_http_server_port(in->server) : -1;
}

int ingress_run(struct ingress *in, int64_t drain_ms)
{
	while (!dapi_stop_requested && !dapi_producer_failed(in->producer)) {
		dapi_sleep_unless_stopped(50);
		ingress_expire(in, dapi_time_mono_ms());
		dapi_series_set(in->m_inflight, atomic_load(&in->inflight_count));
	}
	/* Stop accepting, let every published request get its report and its answer. */
	DAPI_INFO("stopping", "{s:i}", "inflight", atomic_load(&in->inflight_count));
	dapi_http_server_quiesce(in->server);
	in->drain_end_ms = dapi_time_mono_ms() + drain_ms;
	while (atomic_load(&in->inflight_count) > 0 && dapi_time_mono_ms() < in->drain_end_ms) {
		dapi_producer_flush(in->producer, 10);
		ingress_expire(in, dapi_time_mono_ms());
	}
	return atomic_load(&in->inflight_count) == 0 && !dapi_producer_failed(in->producer) ? 0 : 1;
}

void ingress_destroy(struct ingress *in)
{
	if (!in)
		return;
	/* Whatever is still waiting is answered now, so that no report arriving later can
	 * touch a connection of the stopped server. */
	ingress_expire(in, INT64_MAX);
	dapi_http_server_destroy(in->server);
	ingress_keyfetch_stop(
	        in->keyfetch); /* their requests were answered: no resume after this */
	ingress_keycache_destroy(in->keycache);
	int64_t left = in->drain_end_ms - dapi_time_mono_ms();
	dapi_producer_destroy(in->producer, left > 0 ? (int)left : 0);
	ingress_inflight_destroy(&in->waiting);
	free(in);
}
