/* dataapi-ingress: wiring, flags, signals and an orderly shutdown. */
#include <stdio.h>
#include <stdlib.h>

#include "ingress.h"
#include "kafka.h"
#include "log.h"
#include "metrics.h"
#include "options.h"
#include "service.h"
#include "timefmt.h"

static const char summary[] =
        "Accepts chatbot messages and consents over HTTP and publishes them to Kafka,\n"
        "answering 202 only after Kafka acknowledged the event (acks=all, idempotent).";

int main(int argc, char **argv)
{
	const char *log_level;
	struct dapi_kafka_opts kafka;
	int64_t max_body, max_text, timeout_ms, queue_max, retry_after, drain_ms;
	struct dapi_service_opts svc;
	struct dapi_auth_opts auth_opts;
	struct dapi_auth *auth = NULL;
	struct ingress in = { 0 };
	struct dapi_http_server *server = NULL;
	char errstr[512];
	int rc;

	/* clang-format off */
	const struct dapi_opt opts[] = {
		DAPI_OPT_HTTP(svc, "8080"),
		DAPI_OPT_HTTP_THREADS(svc),
		DAPI_OPT_KAFKA(kafka, "Topic the events are published to"),
		{"produce-timeout", 0, "PRODUCE_TIMEOUT", DAPI_OPT_DURATION, &timeout_ms, "5s", 100,
		 300000, "Longest wait for Kafka's acknowledgement before answering 503"},
		{"producer-queue", 0, "PRODUCER_QUEUE", DAPI_OPT_INT, &queue_max, "100000", 1, 10000000,
		 "Events waiting for Kafka before new requests get 503"},
		{"max-body", 0, "MAX_BODY_BYTES", DAPI_OPT_INT, &max_body, "65536", 16, 16777216,
		 "Largest request body in bytes (413 above)"},
		{"max-text", 0, "MAX_TEXT_BYTES", DAPI_OPT_INT, &max_text, "16384", 1, 8388608,
		 "Largest message text in bytes"},
		{"retry-after", 0, "RETRY_AFTER", DAPI_OPT_INT, &retry_after, "2", 1, 3600,
		 "Seconds suggested in Retry-After on 503"},
		{"drain-timeout", 0, "DRAIN_TIMEOUT", DAPI_OPT_DURATION, &drain_ms, "15s", 0, 600000,
		 "On SIGTERM, longest wait for in-flight requests"},
		DAPI_OPT_AUTH(auth_opts),
		DAPI_OPT_LOG_LEVEL(log_level),
	}; /* clang-format on */

	rc = dapi_config_load(opts, sizeof(opts) / sizeof(opts[0]), argc, argv, summary, errstr,
	                      sizeof(errstr));
	if (rc == 1)
		return 0;
	if (rc < 0 || dapi_service_log_init("ingress", log_level, errstr, sizeof(errstr)) < 0) {
		fprintf(stderr, "dataapi-ingress: %s\n", errstr);
		return 2;
	}
	if (dapi_service_auth_load(&auth_opts, &auth, errstr, sizeof(errstr)) < 0) {
		fprintf(stderr, "dataapi-ingress: %s\n", errstr);
		return 2;
	}
	dapi_signals_install();

	in.topic = kafka.topic;
	in.produce_timeout_ms = timeout_ms;
	in.m_published = dapi_metrics_family("dataapi_events_published_total",
	                                     "Events handed to Kafka, by type and delivery result",
	                                     DAPI_COUNTER, NULL, 0);
	in.m_produce =
	        dapi_metrics_family("dataapi_produce_duration_seconds",
	                            "From produce to Kafka's acknowledgement (or the 503 deadline)",
	                            DAPI_HISTOGRAM, dapi_latency_buckets, dapi_latency_nbuckets);
	struct dapi_series *m_inflight = dapi_metrics_series(
	        dapi_metrics_family("dataapi_ingress_inflight",
	                            "Requests waiting for their delivery report", DAPI_GAUGE, NULL,
	                            0),
	        "");
	pthread_mutex_init(&in.lock, NULL);
	in.max_text = (size_t)max_text;
	in.retry_after_s = (int)retry_after;
	struct dapi_producer_config pcfg = {
		.brokers = kafka.brokers,
		.props = &kafka.props,
		.delivery_timeout_ms = timeout_ms,
		.queue_max = queue_max,
		.client_id = "dataapi-ingress",
		.on_delivery = ingress_on_delivery,
	};
	in.producer = dapi_producer_new(&pcfg, errstr, sizeof(errstr));
	if (!in.producer)
		goto fail;
	/* Warm up: without the topic's metadata the first requests wait for it (measured:
	 * p99 410 ms in the first seconds after a start, 5 ms after). Not fatal: an
	 * unreachable broker is answered with 503s, and /readyz says so. */
	rd_kafka_resp_err_t warm = dapi_producer_topic_check(in.producer, kafka.topic, 5000);
	if (warm)
		DAPI_WARN("kafka_not_ready", "{s:s,s:s}", "topic", kafka.topic, "error",
		          rd_kafka_err2name(warm));

	struct dapi_http_config hcfg = { 0 };
	dapi_service_http_config(&svc, &hcfg);
	hcfg.auth = auth;
	hcfg.body_max = (size_t)max_body;
	hcfg.state_free = ingress_state_free;
	server = dapi_http_server_new(&hcfg, ingress_routes, ingress_nroutes, &in, errstr,
	                              sizeof(errstr));
	if (!server)
		goto fail;
	DAPI_INFO("started", "{s:s, s:i, s:s, s:s}", "bind", svc.bind, "port",
	          dapi_http_server_port(server), "brokers", kafka.brokers, "topic", kafka.topic);

	while (!dapi_stop_requested && !dapi_producer_failed(in.producer)) {
		dapi_sleep_unless_stopped(50);
		ingress_expire(&in, dapi_time_mono_ms());
		dapi_series_set(m_inflight, atomic_load(&in.inflight));
	}

	/* Stop accepting, let every published request get its report and its answer. */
	DAPI_INFO("stopping", "{s:i}", "inflight", atomic_load(&in.inflight));
	dapi_http_server_quiesce(server);
	int64_t end = dapi_time_mono_ms() + drain_ms;
	while (atomic_load(&in.inflight) > 0 && dapi_time_mono_ms() < end) {
		dapi_producer_flush(in.producer, 10);
		ingress_expire(&in, dapi_time_mono_ms());
	}
	rc = atomic_load(&in.inflight) == 0 && !dapi_producer_failed(in.producer) ? 0 : 1;
	/* Whatever is still waiting is answered now, so that no report arriving later can
	 * touch a connection of the stopped server. */
	ingress_expire(&in, INT64_MAX);
	dapi_http_server_destroy(server);
	int64_t left = end - dapi_time_mono_ms();
	dapi_producer_destroy(in.producer, left > 0 ? (int)left : 0);
	dapi_auth_destroy(auth);
	DAPI_INFO("stopped", "{s:i}", "exit", rc);
	return rc;

fail:
	DAPI_ERROR("start_failed", "{s:s}", "detail", errstr);
	dapi_auth_destroy(auth);
	dapi_http_server_destroy(server);
	dapi_producer_destroy(in.producer, 0);
	return 1;
}
