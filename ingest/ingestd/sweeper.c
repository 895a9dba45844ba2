#include "sweeper.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "key_sweep.h"
#include "log.h"
#include "metrics.h"
#include "service.h"
#include "timefmt.h"

struct dapi_sweeper {
	mongoc_client_pool_t *pool;
	struct dapi_store *st;
	struct dapi_keystore *keys; /* borrowed; NULL: sealing off */
	struct dapi_cache *cache;
	int64_t pending_ttl, tombstone_ttl, interval;
	struct dapi_series *m_pending, *m_tombstones, *m_keys;
	struct dapi_series *m_ok, *m_failed, *m_last_ok;
	atomic_bool stop;
	pthread_t thread;
};

/* A key handed to an ingress is cached there for up to DAPI_KEY_CACHE_TTL_MS without its
 * usedAt moving: keys are swept twice that after the pending TTL, when their dialog is
 * surely swept too. */
#define KEY_MARGIN_MS (2 * DAPI_KEY_CACHE_TTL_MS)

/* The data keys: those of tombstones before the tombstones go (their deletion is what
 * erases the sealed copies), and after the pending dialogs, those left unused. */
static bool sweep_keys(struct dapi_sweeper *sw, bool tombstones, int64_t now, bson_error_t *err)
{
	int64_t deleted = 0;
	bool ok = !sw->keys ||
	          (tombstones ? dapi_key_sweep_tombstones(sw->st, sw->keys, &deleted, err)
	                      : dapi_key_sweep_unused(sw->st, sw->keys,
	                                              now - sw->pending_ttl - KEY_MARGIN_MS,
	                                              &deleted, err));
	dapi_series_add(sw->m_keys, (double)deleted);
	if (deleted)
		DAPI_INFO("keys_swept", "{s:s, s:I}", "kind", tombstones ? "tombstone" : "unused",
		          "deleted", (json_int_t)deleted);
	return ok;
}

static void sweep_once(struct dapi_sweeper *sw)
{
	int64_t now = dapi_time_now_ms(), pending = 0, tombstones = 0;
	bson_error_t err;
	bool ok = sweep_keys(sw, true, now, &err) &&
	          dapi_store_sweep(sw->st, now - sw->pending_ttl, now - sw->tombstone_ttl, &pending,
	                           &tombstones, &err) &&
	          sweep_keys(sw, false, now, &err);

	dapi_series_add(sw->m_pending, (double)pending);
	dapi_series_add(sw->m_tombstones, (double)tombstones);
	dapi_series_add(ok ? sw->m_ok : sw->m_failed, 1);
	if (ok)
		dapi_series_set(sw->m_last_ok, (double)dapi_time_now_ms() / 1000);
	if (!ok) { /* some deletions may have happened */
		dapi_cache_invalidate(sw->cache);
		DAPI_WARN("sweep_failed", "{s:s}", "detail", err.message);
	} else if (pending || tombstones) {
		dapi_cache_invalidate(sw->cache);
		DAPI_INFO("swept", "{s:I, s:I}", "pendingErased", (json_int_t)pending,
		          "tombstonesRemoved", (json_int_t)tombstones);
	}
}

static void *sweep_loop(void *arg)
{
	struct dapi_sweeper *sw = arg;
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
static bool open_store(struct dapi_sweeper *sw, const struct dapi_mongo_opts *mongo, char *errstr,
                       size_t errstr_size)
{
	sw->pool = dapi_mongo_pool_new(mongo->uri, "dataapi-ingestd-sweeper", 600000, 0, errstr,
	                               errstr_size);
	if (!sw->pool)
		return false;
	sw->st = dapi_store_new(sw->pool, mongo->db, mongo->collection, DAPI_LOAD_BY_ID,
	                        DAPI_INDEXES_AUTO);
	if (!sw->st)
		snprintf(errstr, errstr_size, "out of memory");
	return sw->st != NULL;
}

static void sweeper_free(struct dapi_sweeper *sw)
{
	dapi_store_destroy(sw->st);
	if (sw->pool)
		mongoc_client_pool_destroy(sw->pool);
	free(sw);
}

/* What an alert needs to tell a sweeper that stopped sweeping: its passes, the end of the
 * last complete one, and how often it should run. */
static void register_liveness(struct dapi_sweeper *sw)
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
}

struct dapi_sweeper *dapi_sweeper_start(const struct dapi_sweeper_config *cfg,
                                        struct dapi_cache *cache, struct dapi_keystore *keys,
                                        char *errstr, size_t errstr_size)
{
	struct dapi_sweeper *sw = calloc(1, sizeof(*sw));
	if (!sw) {
		snprintf(errstr, errstr_size, "out of memory");
		return NULL;
	}
	sw->cache = cache;
	sw->keys = keys;
	sw->pending_ttl = cfg->pending_ttl_ms;
	sw->tombstone_ttl = cfg->tombstone_ttl_ms;
	sw->interval = cfg->interval_ms;
	struct dapi_family *f = dapi_metrics_family(
	        "dataapi_sweeper_deleted_total",
	        "Documents the sweeper deleted: expired pending dialogs and old tombstones",
	        DAPI_COUNTER, NULL, 0);
	sw->m_pending = dapi_metrics_series(f, "kind=\"pending\"");
	sw->m_tombstones = dapi_metrics_series(f, "kind=\"tombstone\"");
	sw->m_keys = dapi_keys_deleted_series("sweep");
	register_liveness(sw);
	if (!open_store(sw, cfg->mongo, errstr, errstr_size)) {
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

void dapi_sweeper_stop(struct dapi_sweeper *sw)
{
	if (!sw)
		return;
	atomic_store(&sw->stop, true);
	pthread_join(sw->thread, NULL);
	sweeper_free(sw);
}
