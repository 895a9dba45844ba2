/* dataapi-ingress's configuration table. */
#include "flags.h"

#include "service.h"

static const char summary[] =
        "Accepts chatbot messages and consents over HTTP and publishes them to Kafka,\n"
        "answering 202 only after Kafka acknowledged the event (acks=all, idempotent).";

int ingress_configure(struct ingress_opts *o, int argc, char **argv)
{
	char errstr[512];

	/* clang-format off */
	const struct dapi_opt opts[] = {
		DAPI_OPT_HTTP(o->http, "8080"),
		DAPI_OPT_HTTP_THREADS(o->http),
		DAPI_OPT_KAFKA(o->kafka, "Topic the events are published to"),
		{"produce-timeout", 0, "PRODUCE_TIMEOUT", DAPI_OPT_DURATION, &o->produce_timeout_ms,
		 "5s", 100, 300000, "Longest wait for Kafka's acknowledgement before answering 503"},
		{"producer-queue", 0, "PRODUCER_QUEUE", DAPI_OPT_INT, &o->queue_max, "100000", 1,
		 10000000, "Events waiting for Kafka before new requests get 503"},
		{"max-body", 0, "MAX_BODY_BYTES", DAPI_OPT_INT, &o->max_body, "65536", 16, 16777216,
		 "Largest request body in bytes (413 above)"},
		{"max-batch-body", 0, "MAX_BATCH_BODY_BYTES", DAPI_OPT_INT, &o->max_batch_body,
		 "1048576", 1024, 67108864, "Largest POST /batch body in bytes (413 above)"},
		{"max-batch-lines", 0, "MAX_BATCH_LINES", DAPI_OPT_INT, &o->max_batch_lines, "1000",
		 1, 100000, "Most lines in one POST /batch (413 above)"},
		{"batch-budget", 0, "BATCH_BUDGET_BYTES", DAPI_OPT_INT, &o->batch_budget,
		 "67108864", 1024, 4294967296, "Bytes of batch bodies held at once (503 above)"},
		{"max-text", 0, "MAX_TEXT_BYTES", DAPI_OPT_INT, &o->max_text, "16384", 1, 8388608,
		 "Largest message text in bytes"},
		{"retry-after", 0, "RETRY_AFTER", DAPI_OPT_INT, &o->retry_after_s, "2", 1, 3600,
		 "Seconds suggested in Retry-After on 503"},
		{"drain-timeout", 0, "DRAIN_TIMEOUT", DAPI_OPT_DURATION, &o->drain_ms, "15s", 0,
		 600000, "On SIGTERM, longest wait for in-flight requests"},
		DAPI_OPT_SEALING(o->sealing),
		DAPI_OPT_AUTH(o->auth),
		DAPI_OPT_LOG_LEVEL(o->log_level),
	}; /* clang-format on */

	int rc = dapi_config_load(opts, sizeof(opts) / sizeof(opts[0]), argc, argv, summary, errstr,
	                          sizeof(errstr));
	if (rc == 0)
		rc = dapi_sealing_check(&o->sealing, errstr, sizeof(errstr));
	return dapi_service_configured("ingress", rc, errstr, o->log_level);
}
