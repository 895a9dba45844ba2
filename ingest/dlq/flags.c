/* dataapi-dlq's configuration table. */
#include "flags.h"

#include <stdio.h>

#include "service.h"

static const char summary[] =
        "Lists the records of the DataAPI dead-letter topic, and with --redrive sends the\n"
        "matching ones back to the events topic (same key, value and headers).";

int dlq_configure(struct dlq_opts *o, int argc, char **argv)
{
	const char *dlq_topic;
	char errstr[512];

	/* clang-format off */
	const struct dapi_opt opts[] = {
		DAPI_OPT_KAFKA(o->kafka, "The events topic records are sent back to"),
		{"dlq-topic", 0, "KAFKA_DLQ_TOPIC", DAPI_OPT_STRING, &dlq_topic, "", 0, 0,
		 "Dead-letter topic (default: <topic>.dlq)"},
		{"reason", 0, NULL, DAPI_OPT_STRING, &o->reason, "", 0, 0,
		 "Only records whose dlq.reason is this"},
		{"key", 0, NULL, DAPI_OPT_STRING, &o->key, "", 0, 0,
		 "Only records with this key (dialogId)"},
		{"redrive", 0, NULL, DAPI_OPT_BOOL, &o->redrive, "false", 0, 0,
		 "Send the matching records back to the topic (default: only list them)"},
		{"tombstone-ttl", 0, "TOMBSTONE_TTL", DAPI_OPT_DURATION, &o->tombstone_ttl_ms, "30d",
		 1000, INT64_MAX / 2, "ingestd's --tombstone-ttl: older records are never re-driven "
		 "(an erased dialog's tombstone may be gone)"},
		DAPI_OPT_LOG_LEVEL(o->log_level),
	};
	/* clang-format on */

	int rc = dapi_config_load(opts, sizeof(opts) / sizeof(opts[0]), argc, argv, summary, errstr,
	                          sizeof(errstr));
	if (rc == 0)
		snprintf(o->dlq_topic, sizeof(o->dlq_topic), "%s%s",
		         *dlq_topic ? dlq_topic : o->kafka.topic, *dlq_topic ? "" : ".dlq");
	return dapi_service_configured("dlq", rc, errstr, o->log_level);
}
