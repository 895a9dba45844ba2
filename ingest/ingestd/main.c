/* dataapi-ingestd: wiring, flags, signals and an orderly shutdown. */
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumer.h"
#include "admin.h"
#include "dlq.h"
#include "kafka.h"
#include "log.h"
#include "mongo.h"
#include "service.h"
#include "store.h"
#include "sweeper.h"
#include "timefmt.h"

static const char summary[] =
        "Consumes DataAPI events from Kafka as a consumer-group member and applies them to\n"
        "MongoDB in order per dialog; offsets are committed only after MongoDB acknowledged.";

int main(int argc, char **argv)
{
	struct dapi_kafka_opts kafka;
	struct dapi_mongo_opts mongo;
	const char *dlq_topic_opt, *group, *log_level;
	int64_t batch_max, max_text, backoff_max, pending_ttl, tombstone_ttl, sweep_every;
	mongoc_client_pool_t *pool = NULL, *sweep_pool = NULL;
	struct dapi_mongo_probe *probe = NULL;
	struct dapi_store *store = NULL, *sweep_store = NULL;
	struct dapi_producer *dlq = NULL;
	struct dapi_consumer *consumer = NULL;
	struct dapi_sweeper *sweeper = NULL;
	struct dapi_http_server *admin = NULL;
	struct ingestd_admin admin_app = { 0 };
	const char *admin_bind, *replay_from, *load_by, *indexes;
	int64_t cache_dialogs, cache_max_age;
	struct dapi_cache *cache = NULL;
	int64_t admin_port;
	char errstr[512], dlq_topic[300];
	bson_error_t berr;
	int rc;

	/* clang-format off */
	const struct dapi_opt opts[] = {
		DAPI_OPT_KAFKA(kafka, "Topic the events are consumed from"),
		DAPI_OPT_MONGO(mongo),
		{"dlq-topic", 0, "KAFKA_DLQ_TOPIC", DAPI_OPT_STRING, &dlq_topic_opt, "", 0, 0,
		 "Dead-letter topic (default: <topic>.dlq)"},
		{"group", 0, "KAFKA_GROUP", DAPI_OPT_STRING, &group, "dataapi-ingestd", 0, 0,
		 "Consumer group id"},
		{"batch-size", 0, "BATCH_SIZE", DAPI_OPT_INT, &batch_max, "1000", 1, 100000,
		 "Most records consumed and applied as one batch"},
		{"cache-dialogs", 0, "CACHE_DIALOGS", DAPI_OPT_INT, &cache_dialogs, "50000", 0, 10000000,
		 "Dialogs remembered as written, so later batches need not read them back (0: none)"},
		{"cache-max-age", 0, "CACHE_MAX_AGE", DAPI_OPT_DURATION, &cache_max_age, "10m", 0,
		 86400000, "A remembered dialog older than this is read back from the store"},
		{"load-by", 0, "LOAD_BY", DAPI_OPT_STRING, &load_by, "auto", 0, 0,
		 "How a batch's dialogs are read: in (one $in query), id (a query per dialog, for FerretDB) or auto"},
		{"indexes", 0, "INDEXES", DAPI_OPT_STRING, &indexes, "auto", 0, 0,
		 "Secondary indexes: all, or auto (all unless the server answers no filter but _id from an index, as FerretDB's SQLite backend)"},
		{"max-text", 0, "MAX_TEXT_BYTES", DAPI_OPT_INT, &max_text, "16384", 1, 8388608,
		 "Largest message text accepted from the topic (larger: DLQ)"},
		{"retry-backoff-max", 0, "RETRY_BACKOFF_MAX", DAPI_OPT_DURATION, &backoff_max, "5s", 100,
		 600000, "Longest pause between retries while MongoDB is unavailable"},
		{"pending-ttl", 0, "PENDING_TTL", DAPI_OPT_DURATION, &pending_ttl, "72h", 1000,
		 INT64_MAX / 2, "Pending dialogs with no message for this long are erased"},
		{"tombstone-ttl", 0, "TOMBSTONE_TTL", DAPI_OPT_DURATION, &tombstone_ttl, "30d", 1000,
		 INT64_MAX / 2, "Tombstones older than this are removed"},
		{"sweep-interval", 0, "SWEEP_INTERVAL", DAPI_OPT_DURATION, &sweep_every, "10m", 100,
		 86400000, "How often the sweeper runs"},
		{"replay-from", 0, "REPLAY_FROM", DAPI_OPT_STRING, &replay_from, "", 0, 0,
		 "Before consuming, move the group's offsets to earliest or an RFC 3339 time"},
		{"admin-bind", 0, "ADMIN_BIND", DAPI_OPT_STRING, &admin_bind, "127.0.0.1", 0, 0,
		 "Address of the admin server (/healthz, /readyz, /metrics)"},
		{"admin-port", 0, "ADMIN_PORT", DAPI_OPT_INT, &admin_port, "8082", 0, 65535,
		 "Port of the admin server"},
		DAPI_OPT_LOG_LEVEL(log_level),
	}; /* clang-format on */

	rc = dapi_config_load(opts, sizeof(opts) / sizeof(opts[0]), argc, argv, summary, errstr,
	                      sizeof(errstr));
	if (rc == 1)
		return 0;
	if (rc < 0 || dapi_service_log_init("ingestd", log_level, errstr, sizeof(errstr)) < 0) {
		fprintf(stderr, "dataapi-ingestd: %s\n", errstr);
		return 2;
	}
	if (strcmp(load_by, "auto") && strcmp(load_by, "in") && strcmp(load_by, "id")) {
		fprintf(stderr, "dataapi-ingestd: --load-by takes auto, in or id\n");
		return 2;
	}
	if (strcmp(indexes, "auto") && strcmp(indexes, "all")) {
		fprintf(stderr, "dataapi-ingestd: --indexes takes auto or all\n");
		return 2;
	}
	if (*replay_from && strcmp(replay_from, "earliest") != 0 &&
	    !dapi_time_parse(replay_from, &(int64_t){ 0 })) {
		fprintf(stderr,
		        "dataapi-ingestd: --replay-from takes earliest or an RFC 3339 time\n");
		return 2;
	}
	snprintf(dlq_topic, sizeof(dlq_topic), "%s%s", *dlq_topic_opt ? dlq_topic_opt : kafka.topic,
	         *dlq_topic_opt ? "" : ".dlq");
	dapi_signals_install();
	dapi_mongo_init();

	pool = dapi_mongo_pool_new(mongo.uri, "dataapi-ingestd", 0, 0, errstr, sizeof(errstr));
	if (!pool)
		goto fail;
	store = dapi_store_new(pool, mongo.db, mongo.collection,
	                       !strcmp(load_by, "in")   ? DAPI_LOAD_IN
	                       : !strcmp(load_by, "id") ? DAPI_LOAD_BY_ID
	                                                : DAPI_LOAD_AUTO,
	                       !strcmp(indexes, "all") ? DAPI_INDEXES_ALL : DAPI_INDEXES_AUTO);
	/* Indexes first (where the server can use them): a store without them would scan on
	 * every query. Wait for MongoDB. */
	while (!dapi_store_open(store, &berr)) {
		if (!dapi_mongo_error_transient(&berr)) {
			snprintf(errstr, sizeof(errstr), "creating indexes: %.400s", berr.message);
			goto fail;
		}
		DAPI_WARN("store_unavailable", "{s:s}", "detail", berr.message);
		dapi_sleep_unless_stopped(1000);
		if (dapi_stop_requested)
			goto stopped;
	}
	struct dapi_producer_config pcfg = {
		.brokers = kafka.brokers,
		.props = &kafka.props,
		.delivery_timeout_ms = 30000,
		.queue_max = 100000,
		.client_id = "dataapi-ingestd-dlq",
		.on_delivery = dapi_dlq_on_delivery,
	};
	dlq = dapi_producer_new(&pcfg, errstr, sizeof(errstr));
	if (!dlq)
		goto fail;
	/* Older entries are read back: a change made to the store by hand is overlooked for at
	 * most that long (docs/operations.md). */
	cache = dapi_cache_new((size_t)cache_dialogs, cache_max_age);
	struct dapi_consumer_config ccfg = {
		.brokers = kafka.brokers,
		.props = &kafka.props,
		.topic = kafka.topic,
		.dlq_topic = dlq_topic,
		.group = group,
		.batch_max = (int)batch_max,
		.max_text = (size_t)max_text,
		.backoff_max_ms = backoff_max,
		.replay_from = replay_from,
		.cache = cache,
	};
	consumer = dapi_consumer_new(&ccfg, store, dlq, errstr, sizeof(errstr));
	if (!consumer)
		goto fail;
	probe = dapi_mongo_probe_new(mongo.uri, "dataapi-ingestd-probe", 1000, errstr,
	                             sizeof(errstr));
	if (!probe)
		goto fail;
	admin_app = (struct ingestd_admin){ probe, dapi_consumer_handle(consumer), kafka.topic };
	/* A thread per connection: a /readyz waiting on a slow database holds only itself. */
	struct dapi_http_config acfg = { .bind_addr = admin_bind,
		                         .port = (int)admin_port,
		                         .threads = 0,
		                         .conn_timeout_s = 10,
		                         .conn_limit = 64 };
	admin = dapi_http_server_new(&acfg, ingestd_admin_routes, ingestd_admin_nroutes, &admin_app,
	                             errstr, sizeof(errstr));
	if (!admin)
		goto fail;
	/* The sweeper's deletes can take minutes (FerretDB scans the collection for them; so
	 * may MongoDB after a long backlog): on a pool of its own that waits 10 min for a
	 * reply they finish instead of failing at the 30 s the ingest path allows, and nothing
	 * waits behind them. */
	sweep_pool = dapi_mongo_pool_new(mongo.uri, "dataapi-ingestd-sweeper", 600000, 0, errstr,
	                                 sizeof(errstr));
	if (!sweep_pool)
		goto fail;
	sweep_store = dapi_store_new(sweep_pool, mongo.db, mongo.collection, DAPI_LOAD_BY_ID,
	                             DAPI_INDEXES_AUTO);
	if (!sweep_store) {
		snprintf(errstr, sizeof(errstr), "out of memory");
		goto fail;
	}
	sweeper = dapi_sweeper_start(sweep_store, cache, pending_ttl, tombstone_ttl, sweep_every);
	DAPI_INFO("started", "{s:s, s:s, s:s, s:s, s:i}", "brokers", kafka.brokers, "topic",
	          kafka.topic, "group", group, "dlq", dlq_topic, "adminPort",
	          dapi_http_server_port(admin));

	rc = dapi_consumer_run(consumer) == 0 ? 0 : 1;
	DAPI_INFO("stopping", NULL);
	dapi_http_server_destroy(admin);
	dapi_mongo_probe_destroy(probe);
	dapi_consumer_destroy(consumer); /* commits what was stored */
	dapi_sweeper_stop(sweeper);      /* after the commit: it may be inside a long sweep */
	dapi_cache_destroy(cache);
	dapi_producer_destroy(dlq, 10000);
	dapi_store_destroy(sweep_store);
	dapi_store_destroy(store);
	mongoc_client_pool_destroy(sweep_pool);
	mongoc_client_pool_destroy(pool);
	mongoc_cleanup();
	DAPI_INFO("stopped", "{s:i}", "exit", rc);
	return rc;

fail:
	DAPI_ERROR("start_failed", "{s:s}", "detail", errstr);
	rc = 1;
	goto cleanup;
stopped:
	rc = 0;
cleanup:
	dapi_http_server_destroy(admin);
	dapi_mongo_probe_destroy(probe);
	dapi_consumer_destroy(consumer);
	dapi_cache_destroy(cache);
	dapi_producer_destroy(dlq, 0);
	dapi_store_destroy(sweep_store);
	dapi_store_destroy(store);
	mongoc_client_pool_destroy(sweep_pool);
	mongoc_client_pool_destroy(pool);
	mongoc_cleanup();
	return rc;
}
