/* dataapi-ingestd: wiring. Options, then the store (waiting for MongoDB), the DLQ producer,
 * the dialog cache, the consumer (which moves the offsets of --replay-from), the sweeper and
 * the admin server; the consumer loop until SIGTERM; one ladder tears down after a failure
 * or a stop. */
#include <stdio.h>

#include "admin.h"
#include "consumer.h"
#include "dlq.h"
#include "flags.h"
#include "log.h"
#include "privacy.h"
#include "service.h"
#include "sweeper.h"

/* Indexes first (where the server can use them): a store without them would scan on every
 * query. Waits for MongoDB; NULL with errstr on a lasting error, or with none on a stop.
 * The key store (when sealing) then looks keys up as the store loads dialogs: one _id at a
 * time on FerretDB. */
static struct ingestd_store *open_store(const struct ingestd_opts *o, mongoc_client_pool_t *pool,
                                        struct dapi_keystore *keys, char *errstr,
                                        size_t errstr_size)
{
	struct ingestd_store *st =
	        ingestd_store_new(pool, o->mongo.db, o->mongo.collection, o->load_by, o->indexes);
	bson_error_t berr;
	while (st && !dapi_stop_requested && !ingestd_store_open(st, &berr)) {
		if (!dapi_mongo_error_transient(&berr)) {
			snprintf(errstr, errstr_size, "creating indexes: %.400s", berr.message);
			break;
		}
		DAPI_WARN("store_unavailable", "{s:s}", "detail", berr.message);
		dapi_sleep_unless_stopped(1000);
	}
	if (st && (dapi_stop_requested || *errstr)) {
		ingestd_store_destroy(st);
		return NULL;
	}
	if (!st)
		snprintf(errstr, errstr_size, "out of memory");
	if (st && keys)
		dapi_keystore_one_by_one(keys, ingestd_store_loads_by_id(st));
	return st;
}

static struct dapi_producer *new_dlq_producer(const struct ingestd_opts *o, char *errstr,
                                              size_t errstr_size)
{
	struct dapi_producer_config cfg = {
		.brokers = o->kafka.brokers,
		.props = &o->kafka.props,
		.delivery_timeout_ms = 30000,
		.queue_max = 100000,
		.client_id = "dataapi-ingestd-dlq",
		.on_delivery = dapi_dlq_on_delivery,
	};
	return dapi_producer_new(&cfg, errstr, errstr_size);
}

/* --cache-dialogs 0 is no cache: *cache stays NULL. */
static bool new_cache(const struct ingestd_opts *o, struct ingestd_cache **cache, char *errstr,
                      size_t errstr_size)
{
	if (o->cache_dialogs == 0)
		return true;
	*cache = ingestd_cache_new((size_t)o->cache_dialogs, o->cache_max_age_ms);
	if (!*cache)
		snprintf(errstr, errstr_size, "out of memory");
	return *cache != NULL;
}

/* The batch object (into *batch) and the consumer that hands it records. */
static struct ingestd_consumer *
new_consumer(const struct ingestd_opts *o, struct ingestd_store *store, struct dapi_producer *dlq,
             struct ingestd_cache *cache, struct dapi_keystore *keys, struct ingestd_batch **batch,
             char *errstr, size_t errstr_size)
{
	struct ingestd_batch_config bcfg = {
		.store = store,
		.dlq = dlq,
		.dlq_topic = o->dlq_topic,
		.cache = cache,
		.keys = keys,
		.rules = { o->pending_ttl_ms, o->tombstone_ttl_ms },
		.max_text = (size_t)o->max_text,
		.max_records = (size_t)o->batch_max,
		.backoff_max_ms = o->backoff_max_ms,
	};
	struct ingestd_consumer_config cfg = {
		.brokers = o->kafka.brokers,
		.props = &o->kafka.props,
		.topic = o->kafka.topic,
		.group = o->group,
		.batch_max = (int)o->batch_max,
		.replay_from = o->replay_from,
	};
	if (!(*batch = ingestd_batch_new(&bcfg))) {
		snprintf(errstr, errstr_size, "out of memory");
		return NULL;
	}
	return ingestd_consumer_new(&cfg, *batch, errstr, errstr_size);
}

/* The threads beside the consumer: the sweeper and, with sealing, the runner of erasure
 * requests (on its own record of them, into *erasures). False with errstr. */
struct background {
	struct ingestd_sweeper *sweeper;
	struct dapi_erasures *erasures;
	struct ingestd_privacy *privacy;
};

static bool start_background(const struct ingestd_opts *o, mongoc_client_pool_t *pool,
                             struct ingestd_cache *cache, struct dapi_sealing *sealing,
                             struct dapi_producer *producer, struct background *bg, char *errstr,
                             size_t errstr_size)
{
	struct ingestd_sweeper_config swcfg = {
		.mongo = &o->mongo,
		.kafka = &o->kafka,
		.group = o->group,
		.pending_ttl_ms = o->pending_ttl_ms,
		.tombstone_ttl_ms = o->tombstone_ttl_ms,
		.interval_ms = o->sweep_every_ms,
		.retention_ms = o->retention_ms,
		.take_keys = o->take_key_sweep,
	};
	if (!(bg->sweeper =
	              ingestd_sweeper_start(&swcfg, cache, sealing->keys, errstr, errstr_size)))
		return false;
	if (!sealing->keys)
		return true; /* a person's dialogs are found through their keys */
	bg->erasures = dapi_erasures_new(sealing->pool, o->sealing.db, &sealing->mk);
	struct ingestd_privacy_config pcfg = {
		.pool = pool,
		.db = o->mongo.db,
		.collection = o->mongo.collection,
		.keys = sealing->keys,
		.erasures = bg->erasures,
		.producer = producer,
		.topic = o->kafka.topic,
		.poll_ms = 500,
	};
	if (!bg->erasures || !(bg->privacy = ingestd_privacy_start(&pcfg)))
		snprintf(errstr, errstr_size, "out of memory");
	return bg->privacy != NULL;
}

static void stop_background(struct background *bg)
{
	ingestd_privacy_stop(bg->privacy);
	ingestd_sweeper_stop(bg->sweeper); /* after the commit: it may be inside a long sweep */
	dapi_erasures_destroy(bg->erasures);
}

int main(int argc, char **argv)
{
	struct ingestd_opts o;
	mongoc_client_pool_t *pool = NULL;
	struct ingestd_store *store = NULL;
	struct dapi_sealing *sealing = NULL;
	struct dapi_producer *dlq = NULL;
	struct ingestd_cache *cache = NULL;
	struct background bg = { 0 };
	struct ingestd_batch *batch = NULL;
	struct ingestd_consumer *consumer = NULL;
	struct ingestd_admin *admin = NULL;
	char errstr[512] = "";
	int rc;

	if ((rc = ingestd_configure(&o, argc, argv)))
		return rc == 1 ? 0 : rc;
	dapi_signals_install();
	dapi_mongo_init();
	if (!(pool = dapi_mongo_pool_new(o.mongo.uri, "dataapi-ingestd", 0, 0, errstr,
	                                 sizeof(errstr))) ||
	    !(sealing = dapi_sealing_open(&o.sealing, o.mongo.uri, "dataapi-ingestd-keys", errstr,
	                                  sizeof(errstr))) ||
	    !(store = open_store(&o, pool, sealing->keys, errstr, sizeof(errstr))) ||
	    !(dlq = new_dlq_producer(&o, errstr, sizeof(errstr))) ||
	    !new_cache(&o, &cache, errstr, sizeof(errstr)) ||
	    !(consumer = new_consumer(&o, store, dlq, cache, sealing->keys, &batch, errstr,
	                              sizeof(errstr))) ||
	    /* after the consumer: --replay-from has moved the group's offsets back, so the
	     * sweeper's first frontier is the rebuilding store's, not the one before it */
	    !start_background(&o, pool, cache, sealing, dlq, &bg, errstr, sizeof(errstr)) ||
	    !(admin = ingestd_admin_start(&o, ingestd_consumer_handle(consumer), errstr,
	                                  sizeof(errstr)))) {
		rc = *errstr ? 1 : 0; /* no reason: a stop while waiting for MongoDB */
		goto out;
	}
	DAPI_INFO("started", "{s:s, s:s, s:s, s:s, s:i}", "brokers", o.kafka.brokers, "topic",
	          o.kafka.topic, "group", o.group, "dlq", o.dlq_topic, "adminPort",
	          ingestd_admin_port(admin));
	rc = ingestd_consumer_run(consumer) == 0 ? 0 : 1;
	DAPI_INFO("stopping", NULL);
out:
	if (*errstr)
		DAPI_ERROR("start_failed", "{s:s}", "detail", errstr);
	ingestd_admin_stop(admin);
	ingestd_consumer_destroy(consumer); /* commits what was stored */
	ingestd_batch_destroy(batch);
	stop_background(&bg);
	ingestd_cache_destroy(cache);
	dapi_producer_destroy(dlq, 10000);
	dapi_sealing_close(sealing);
	ingestd_store_destroy(store);
	if (pool)
		mongoc_client_pool_destroy(pool);
	mongoc_cleanup();
	DAPI_INFO("stopped", "{s:i}", "exit", rc);
	return rc;
}
