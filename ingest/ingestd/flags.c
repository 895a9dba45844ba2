/* dataapi-ingestd's configuration table. */
#include "flags.h"

#include <stdio.h>
#include <string.h>

#include "service.h"
#include "store.h"
#include "timefmt.h"

static const char summary[] =
        "Consumes DataAPI events from Kafka as a consumer-group member and applies them to\n"
        "MongoDB in order per dialog; offsets are committed only after MongoDB acknowledged.";

static const char *const load_by_names[] = { [INGESTD_LOAD_AUTO] = "auto",
	                                     [INGESTD_LOAD_IN] = "in",
	                                     [INGESTD_LOAD_BY_ID] = "id",
	                                     [INGESTD_LOAD_BY_ID + 1] = NULL };
static const char *const indexes_names[] = { [INGESTD_INDEXES_AUTO] = "auto",
	                                     [INGESTD_INDEXES_ALL] = "all",
	                                     [INGESTD_INDEXES_ALL + 1] = NULL };

/* What the table cannot check, and the DLQ topic's default. */
static int check(struct ingestd_opts *o, const char *dlq_topic, char *errstr, size_t errstr_size)
{
	int64_t ms;
	if (*o->replay_from && strcmp(o->replay_from, "earliest") != 0 &&
	    !dapi_time_parse(o->replay_from, &ms)) {
		snprintf(errstr, errstr_size, "--replay-from takes earliest or an RFC 3339 time");
		return -1;
	}
	snprintf(o->dlq_topic, sizeof(o->dlq_topic), "%s%s",
	         *dlq_topic ? dlq_topic : o->kafka.topic, *dlq_topic ? "" : ".dlq");
	return 0;
}

int ingestd_configure(struct ingestd_opts *o, int argc, char **argv)
{
	const char *dlq_topic;
	char errstr[512];

	/* clang-format off */
	const struct dapi_opt opts[] = {
		DAPI_OPT_KAFKA(o->kafka, "Topic the events are consumed from"),
		DAPI_OPT_MONGO(o->mongo),
		{"dlq-topic", 0, "KAFKA_DLQ_TOPIC", DAPI_OPT_STRING, &dlq_topic, "", 0, 0,
		 "Dead-letter topic (default: <topic>.dlq)"},
		{"group", 0, "KAFKA_GROUP", DAPI_OPT_STRING, &o->group, "dataapi-ingestd", 0, 0,
		 "Consumer group id"},
		{"batch-size", 0, "BATCH_SIZE", DAPI_OPT_INT, &o->batch_max, "1000", 1, 100000,
		 "Most records consumed and applied as one batch"},
		{"cache-dialogs", 0, "CACHE_DIALOGS", DAPI_OPT_INT, &o->cache_dialogs, "50000", 0,
		 10000000,
		 "Dialogs remembered as written, so later batches need not read them back (0: none)"},
		{"cache-max-age", 0, "CACHE_MAX_AGE", DAPI_OPT_DURATION, &o->cache_max_age_ms, "10m", 0,
		 86400000, "A remembered dialog older than this is read back from the store"},
		{"load-by", 0, "LOAD_BY", DAPI_OPT_ENUM, &o->load_by, "auto", 0, 0,
		 "How a batch's dialogs are read: in (one $in query), id (a query per dialog, for FerretDB) or auto",
		 load_by_names},
		{"indexes", 0, "INDEXES", DAPI_OPT_ENUM, &o->indexes, "auto", 0, 0,
		 "Secondary indexes: all, or auto (all unless the server answers no filter but _id from an index, as FerretDB's SQLite backend)",
		 indexes_names},
		{"max-text", 0, "MAX_TEXT_BYTES", DAPI_OPT_INT, &o->max_text, "16384", 1, 8388608,
		 "Largest message text accepted from the topic (larger: DLQ)"},
		{"retry-backoff-max", 0, "RETRY_BACKOFF_MAX", DAPI_OPT_DURATION, &o->backoff_max_ms,
		 "5s", 100, 600000, "Longest pause between retries while MongoDB is unavailable"},
		{"pending-ttl", 0, "PENDING_TTL", DAPI_OPT_DURATION, &o->pending_ttl_ms, "72h", 1000,
		 INT64_MAX / 2, "Pending dialogs with no message for this long are erased"},
		{"tombstone-ttl", 0, "TOMBSTONE_TTL", DAPI_OPT_DURATION, &o->tombstone_ttl_ms, "30d",
		 1000, INT64_MAX / 2, "Tombstones older than this are removed"},
		{"retention", 0, "RETENTION", DAPI_OPT_DURATION, &o->retention_ms, "0s", 0,
		 INT64_MAX / 2, "Consented dialogs whose last message is older than this are erased, "
		 "data keys included (0s: kept until revoked)"},
		{"sweep-interval", 0, "SWEEP_INTERVAL", DAPI_OPT_DURATION, &o->sweep_every_ms, "10m",
		 100, 86400000, "How often the sweeper runs"},
		{"replay-from", 0, "REPLAY_FROM", DAPI_OPT_STRING, &o->replay_from, "", 0, 0,
		 "Before consuming, move the group's offsets to earliest or an RFC 3339 time"},
		{"take-key-sweep", 0, NULL, DAPI_OPT_BOOL, &o->take_key_sweep, "false", 0, 0,
		 "Claim the key store's sweep for this group and store from whichever holds it (only after moving the live system; docs/operations.md)"},
		{"admin-bind", 0, "ADMIN_BIND", DAPI_OPT_STRING, &o->admin_bind, "127.0.0.1", 0, 0,
		 "Address of the admin server (/healthz, /readyz, /metrics)"},
		{"admin-port", 0, "ADMIN_PORT", DAPI_OPT_INT, &o->admin_port, "8082", 0, 65535,
		 "Port of the admin server"},
		DAPI_OPT_SEALING(o->sealing),
		DAPI_OPT_LOG_LEVEL(o->log_level),
	}; /* clang-format on */

	int rc = dapi_config_load(opts, sizeof(opts) / sizeof(opts[0]), argc, argv, summary, errstr,
	                          sizeof(errstr));
	if (rc == 0)
		rc = check(o, dlq_topic, errstr, sizeof(errstr));
	if (rc == 0)
		rc = dapi_sealing_check(&o->sealing, errstr, sizeof(errstr));
	return dapi_service_configured("ingestd", rc, errstr, o->log_level);
}
