#include "sweeper.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "frontier.h"
#include "key_sweep.h"
#include "log.h"
#include "metrics.h"
#include "service.h"
#include "timefmt.h"

struct ingestd_sweeper {
	mongoc_client_pool_t *pool;
	struct ingestd_store *st;
	struct dapi_keystore *keys; /* borrowed; NULL: sealing off */
	struct ingestd_cache *cache;
	struct ingestd_frontier *frontier;
	char identity[600]; /* who this sweeper is, for the key store's claim */
	bool take_keys, owner, owner_known;
	int64_t pending_ttl, tombstone_ttl, interval, retention;
	struct dapi_series *m_frontier, *m_owner;
	struct dapi_series *m_pending, *m_tombstones, *m_keys, *m_retained, *m_keys_retained;
	struct dapi_series *m_ok, *m_failed, *m_last_ok;
	atomic_bool stop;
	pthread_t thread;
};

/* A key handed to an ingress is cached there for up to DAPI_KEY_CACHE_TTL_MS without its
 * usedAt moving: keys are swept twice that after the pending TTL, when their dialog is
 * surely swept too. */
#define KEY_MARGIN_MS (2 * DAPI_KEY_CACHE_TTL_MS)

/* Whether this sweeper holds the key store's claim (checked every pass: another group may
 * have taken it). Logged when that changes. */
static bool holds_keys(struct ingestd_sweeper *sw, bson_error_t *err)
{
	char holder[600];
	bool owner = false;
	if (!dapi_keystore_sweeper(sw->keys, sw->identity, sw->pending_ttl, sw->take_keys, &owner,
	                           holder, sizeof(holder), err))
		return false;
	sw->take_keys = false; /* taken once */
	if (owner != sw->owner || !sw->owner_known)
		DAPI_INFO(owner ? "key_sweep_claimed" : "key_sweep_elsewhere", "{s:s, s:s}", "self",
		          sw->identity, "holder", holder);
	sw->owner = owner;
	sw->owner_known = true;
	dapi_series_set(sw->m_owner, owner ? 1 : -1);
	return true;
}

/* The data keys: those the tombstones cover before the tombstones go (their deletion is
 * what erases the sealed copies), and after the pending dialogs, those never consented and
 * unused since the frontier's pending TTL (plus the ingress's key cache). */
static bool sweep_keys(struct ingestd_sweeper *sw, bool tombstones, int64_t frontier,
                       bson_error_t *err)
{
	int64_t deleted = 0;
	bool ok = tombstones ? ingestd_key_sweep_tombstones(sw->st, sw->keys, sw->tombstone_ttl,
	                                                    &deleted, err)
	                     : ingestd_key_sweep_unused(sw->keys,
	                                                frontier - sw->pending_ttl - KEY_MARGIN_MS,
	                                                &deleted, err);
	dapi_series_add(sw->m_keys, (double)deleted);
	if (deleted)
		DAPI_INFO("keys_swept", "{s:s, s:I}", "kind", tombstones ? "tombstone" : "unused",
		          "deleted", (json_int_t)deleted);
	return ok;
}

/* --retention: consented dialogs whose last message the group applied more than the
 * retention ago, then (the key sweep's owner only) the consented keys unused since that
 * and the ingress's key cache: a key's last message is at most DAPI_KEY_CACHE_TTL_MS after
 * its usedAt, so such a key seals nothing younger than the retention. The key's own usedAt
 * is the evidence, never what the store shows. */
static bool sweep_retained(struct ingestd_sweeper *sw, bool keys, int64_t frontier,
                           bson_error_t *err)
{
	int64_t erased = 0, deleted = 0;
	bool ok = ingestd_store_sweep_retained(sw->st, frontier - sw->retention, &erased, err);
	dapi_series_add(sw->m_retained, (double)erased);
	ok = ok &&
	     (!keys || dapi_keystore_delete_consented(
	                       sw->keys, frontier - sw->retention - KEY_MARGIN_MS, &deleted, err));
	dapi_series_add(sw->m_keys_retained, (double)deleted);
	if (erased || deleted)
		DAPI_INFO("retention_erased", "{s:I, s:I}", "dialogs", (json_int_t)erased, "keys",
		          (json_int_t)deleted);
	return ok;
}

/* One pass, judged by the frontier: what the group has applied, in the topic's time. */
static bool sweep_at(struct ingestd_sweeper *sw, int64_t frontier, int64_t *pending,
                     int64_t *tombstones, bson_error_t *err)
{
	if (sw->keys && !holds_keys(sw, err))
		return false;
	bool keys = sw->keys && sw->owner;
	if (keys && !sweep_keys(sw, true, frontier, err))
		return false;
	bool ok = ingestd_store_sweep(sw->st, frontier - sw->pending_ttl,
	                              frontier - sw->tombstone_ttl, pending, tombstones, err);
	/* counted as soon as they are gone, not after the keys' sweep */
	dapi_series_add(sw->m_pending, (double)*pending);
	dapi_series_add(sw->m_tombstones, (double)*tombstones);
	return ok && (!keys || sweep_keys(sw, false, frontier, err)) &&
	       (!sw->retention || sweep_retained(sw, keys, frontier, err));
}

static void sweep_once(struct ingestd_sweeper *sw)
{
	int64_t frontier = 0, pending = 0, tombstones = 0;
	bson_error_t err = { 0 };
	char errstr[512];
	bool ok = ingestd_frontier_get(sw->frontier, dapi_time_now_ms(), &frontier, errstr,
	                               sizeof(errstr));
	if (!ok)
		bson_set_error(&err, 0, 1, "%s", errstr);
	else {
		dapi_series_set(sw->m_frontier, (double)frontier / 1000);
		ok = sweep_at(sw, frontier, &pending, &tombstones, &err);
	}

	dapi_series_add(ok ? sw->m_ok : sw->m_failed, 1);
	if (ok)
		dapi_series_set(sw->m_last_ok, (double)dapi_time_now_ms() / 1000);
	if (!ok) { /* some deletions may have happened */
		ingestd_cache_invalidate(sw->cache);
		DAPI_WARN("sweep_failed", "{s:s}", "detail", err.message);
	} else if (pending || tombstones) {
		ingestd_cache_invalidate(sw->cache);
		DAPI_INFO("swept", "{s:I, s:I}", "pendingErased", (json_int_t)pending,
		          "tombstonesRemoved", (json_int_t)tombstones);
	}
}

static void *sweep_loop(void *arg)
{
	struct ingestd_sweeper *sw = arg;
	int64_t next = dapi_time_mono_ms();

	while (!atomic_load(&sw->stop)) {
		if (dapi_time_mono_ms() >= next) {
			sweep_once(sw);
			next = dapi_time_mono_ms() + sw->interval;
		}
		dapi_sleep_ms(50);
	}
	return NULL;
}

/* The sweeper's deletes can take minutes (FerretDB scans the collection for them; so may
 * MongoDB after a long backlog): on a pool of its own that waits 10 min for a reply they
 * finish instead of failing at the 30 s the ingest path allows, and nothing waits behind
 * them. */
static bool open_store(struct ingestd_sweeper *sw, const struct dapi_mongo_opts *mongo,
                       char *errstr, size_t errstr_size)
{
	sw->pool = dapi_mongo_pool_new(mongo->uri, "dataapi-ingestd-sweeper", 600000, 0, errstr,
	                               errstr_size);
	if (!sw->pool)
		return false;
	sw->st = ingestd_store_new(sw->pool, mongo->db, mongo->collection, INGESTD_LOAD_BY_ID,
	                           INGESTD_INDEXES_AUTO);
	if (!sw->st)
		snprintf(errstr, errstr_size, "out of memory");
	return sw->st != NULL;
}

static void sweeper_free(struct ingestd_sweeper *sw)
{
	ingestd_frontier_destroy(sw->frontier);
	ingestd_store_destroy(sw->st);
	if (sw->pool)
		mongoc_client_pool_destroy(sw->pool);
	free(sw);
}

/* What an alert needs to tell a sweeper that stopped sweeping: its passes, the end of the
 * last complete one, and how often it should run. */
static void register_liveness(struct ingestd_sweeper *sw)
{
	struct dapi_family *runs = dapi_metrics_family(
	        "dataapi_sweeper_runs_total",
	        "Sweeper passes, by result (ok: every step completed)", DAPI_COUNTER, NULL, 0);
	sw->m_ok = dapi_metrics_series(runs, "result=\"ok\"");
	sw->m_failed = dapi_metrics_series(runs, "result=\"failed\"");
	sw->m_last_ok = dapi_metrics_one("dataapi_sweeper_last_success_timestamp_seconds",
	                                 "End of the last complete sweeper pass (before the first "
	                                 "one: the sweeper's start)",
	                                 DAPI_GAUGE);
	dapi_series_set(sw->m_last_ok, (double)dapi_time_now_ms() / 1000);
	dapi_series_set(dapi_metrics_one("dataapi_sweeper_interval_seconds",
	                                 "Time between the starts of sweeper passes", DAPI_GAUGE),
	                (double)sw->interval / 1000);
	sw->m_frontier = dapi_metrics_one(
	        "dataapi_sweeper_frontier_timestamp_seconds",
	        "Every event received before this has been applied by the group: the sweeps' "
	        "clock (0 before the first pass)",
	        DAPI_GAUGE);
	sw->m_owner = dapi_metrics_one("dataapi_sweeper_keys_owner",
	                               "1: this ingestd sweeps the key store; -1: another group "
	                               "holds the claim (only revocations delete keys here); 0: "
	                               "not known yet or sealing off",
	                               DAPI_GAUGE);
}

struct ingestd_sweeper *ingestd_sweeper_start(const struct ingestd_sweeper_config *cfg,
                                              struct ingestd_cache *cache,
                                              struct dapi_keystore *keys, char *errstr,
                                              size_t errstr_size)
{
	struct ingestd_sweeper *sw = calloc(1, sizeof(*sw));
	if (!sw) {
		snprintf(errstr, errstr_size, "out of memory");
		return NULL;
	}
	sw->cache = cache;
	sw->keys = keys;
	sw->take_keys = cfg->take_keys;
	snprintf(sw->identity, sizeof(sw->identity), "group=%s topic=%s store=%s.%s", cfg->group,
	         cfg->kafka->topic, cfg->mongo->db, cfg->mongo->collection);
	sw->pending_ttl = cfg->pending_ttl_ms;
	sw->tombstone_ttl = cfg->tombstone_ttl_ms;
	sw->interval = cfg->interval_ms;
	sw->retention = cfg->retention_ms;
	struct dapi_family *f = dapi_metrics_family(
	        "dataapi_sweeper_deleted_total",
	        "Documents the sweeper deleted: expired pending dialogs and old tombstones",
	        DAPI_COUNTER, NULL, 0);
	sw->m_pending = dapi_metrics_series(f, "kind=\"pending\"");
	sw->m_tombstones = dapi_metrics_series(f, "kind=\"tombstone\"");
	sw->m_retained = dapi_metrics_series(f, "kind=\"retention\"");
	sw->m_keys = ingestd_keys_deleted_series("sweep");
	sw->m_keys_retained = ingestd_keys_deleted_series("retention");
	register_liveness(sw);
	if (!open_store(sw, cfg->mongo, errstr, errstr_size) ||
	    !(sw->frontier =
	              ingestd_frontier_new(cfg->kafka->brokers, &cfg->kafka->props,
	                                   cfg->kafka->topic, cfg->group, errstr, errstr_size))) {
		sweeper_free(sw);
		return NULL;
	}
	if (pthread_create(&sw->thread, NULL, sweep_loop, sw) != 0) {
		snprintf(errstr, errstr_size, "cannot start the sweeper thread");
		sweeper_free(sw);
		return NULL;
	}
	return sw;
}

void ingestd_sweeper_stop(struct ingestd_sweeper *sw)
{
	if (!sw)
		return;
	atomic_store(&sw->stop, true);
	pthread_join(sw->thread, NULL);
	sweeper_free(sw);
}
