#include "mongo.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

static void on_mongoc_log(mongoc_log_level_t level, const char *domain, const char *message,
                          void *data)
{
	int lvl = level <= MONGOC_LOG_LEVEL_ERROR     ? DAPI_LOG_ERROR
	          : level == MONGOC_LOG_LEVEL_WARNING ? DAPI_LOG_WARN
	          : level <= MONGOC_LOG_LEVEL_INFO    ? DAPI_LOG_INFO
	                                              : DAPI_LOG_DEBUG;
	DAPI_LOG(lvl, "mongoc", "{s:s, s:s}", "domain", domain, "detail", message);
}

void dapi_mongo_init(void)
{
	mongoc_log_set_handler(on_mongoc_log, NULL);
	mongoc_init();
}

mongoc_client_pool_t *dapi_mongo_pool_new(const char *uri_str, const char *appname,
                                          int64_t longest_reply_ms, int32_t wait_ms, char *errstr,
                                          size_t errstr_size)
{
	int64_t socket_ms = longest_reply_ms + 5000 > 30000 ? longest_reply_ms + 5000 : 30000;
	bson_error_t err;
	mongoc_uri_t *uri = mongoc_uri_new_with_error(uri_str, &err);
	mongoc_client_pool_t *pool;

	if (!uri) {
		snprintf(errstr, errstr_size, "MongoDB URI: %s", err.message);
		return NULL;
	}
	if (!mongoc_uri_has_option(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
		mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 3000);
	/* A reply that never comes (seen with FerretDB after clients were killed mid-write)
	 * must become an error that the caller retries on a new connection, not a 5-minute
	 * stall (the driver's default). */
	if (!mongoc_uri_has_option(uri, MONGOC_URI_SOCKETTIMEOUTMS))
		mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS,
		                               socket_ms > INT32_MAX ? INT32_MAX
		                                                     : (int32_t)socket_ms);
	if (!mongoc_uri_has_option(uri, MONGOC_URI_W)) {
		mongoc_write_concern_t *wc = mongoc_write_concern_new();
		mongoc_write_concern_set_wmajority(wc, 10000);
		mongoc_uri_set_write_concern(uri, wc);
		mongoc_write_concern_destroy(wc);
	}
	if (!mongoc_uri_get_appname(uri))
		mongoc_uri_set_appname(uri, appname);
	if (wait_ms > 0 && !mongoc_uri_has_option(uri, MONGOC_URI_WAITQUEUETIMEOUTMS))
		mongoc_uri_set_option_as_int32(uri, MONGOC_URI_WAITQUEUETIMEOUTMS, wait_ms);
	pool = mongoc_client_pool_new_with_error(uri, &err);
	mongoc_uri_destroy(uri);
	if (!pool) {
		snprintf(errstr, errstr_size, "MongoDB pool: %s", err.message);
		return NULL;
	}
	mongoc_client_pool_set_error_api(pool, MONGOC_ERROR_API_VERSION_2);
	return pool;
}

bool dapi_mongo_ping(mongoc_client_pool_t *pool, bson_error_t *err)
{
	mongoc_client_t *client = mongoc_client_pool_pop(pool);
	bson_t cmd = BSON_INITIALIZER;
	bool ok;

	BSON_APPEND_INT32(&cmd, "ping", 1);
	ok = mongoc_client_command_simple(client, "admin", &cmd, NULL, NULL, err);
	bson_destroy(&cmd);
	mongoc_client_pool_push(pool, client);
	return ok;
}

struct dapi_mongo_probe {
	mongoc_client_t *client; /* single-threaded: one probe at a time */
	pthread_mutex_t lock;
	int32_t timeout_ms;
};

struct dapi_mongo_probe *dapi_mongo_probe_new(const char *uri_str, const char *appname,
                                              int32_t timeout_ms, char *errstr, size_t errstr_size)
{
	struct dapi_mongo_probe *p = calloc(1, sizeof(*p));
	bson_error_t err;
	mongoc_uri_t *uri = mongoc_uri_new_with_error(uri_str, &err);

	if (!p || !uri) {
		snprintf(errstr, errstr_size, "MongoDB URI: %s",
		         uri ? "out of memory" : err.message);
		goto fail;
	}
	mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, timeout_ms);
	mongoc_uri_set_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, timeout_ms);
	mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS, timeout_ms);
	if (!mongoc_uri_get_appname(uri))
		mongoc_uri_set_appname(uri, appname);
	p->client = mongoc_client_new_from_uri_with_error(uri, &err);
	if (!p->client) {
		snprintf(errstr, errstr_size, "MongoDB client: %s", err.message);
		goto fail;
	}
	mongoc_client_set_error_api(p->client, MONGOC_ERROR_API_VERSION_2);
	pthread_mutex_init(&p->lock, NULL);
	p->timeout_ms = timeout_ms;
	mongoc_uri_destroy(uri);
	return p;
fail:
	mongoc_uri_destroy(uri);
	free(p);
	return NULL;
}

bool dapi_mongo_probe_ping(struct dapi_mongo_probe *p, bson_error_t *err)
{
	struct timespec until;
	bson_t cmd = BSON_INITIALIZER;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += p->timeout_ms / 1000;
	until.tv_nsec += (long)(p->timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	if (pthread_mutex_timedlock(&p->lock, &until) != 0) {
		bson_set_error(err, MONGOC_ERROR_CLIENT, MONGOC_ERROR_CLIENT_NO_ACCEPTABLE_PEER,
		               "an earlier readiness probe is still waiting for the database");
		return false;
	}
	BSON_APPEND_INT32(&cmd, "ping", 1);
	ok = mongoc_client_command_simple(p->client, "admin", &cmd, NULL, NULL, err);
	pthread_mutex_unlock(&p->lock);
	bson_destroy(&cmd);
	return ok;
}

void dapi_mongo_probe_destroy(struct dapi_mongo_probe *p)
{
	if (!p)
		return;
	mongoc_client_destroy(p->client);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* Server error codes worth retrying: the server is away, stepping down or shutting down,
 * or an operation ran out of time. */
static const int32_t transient_codes[] = {
	6,     /* HostUnreachable */
	7,     /* HostNotFound */
	50,    /* MaxTimeMSExpired */
	64,    /* WriteConcernFailed */
	89,    /* NetworkTimeout */
	91,    /* ShutdownInProgress */
	112,   /* WriteConflict */
	189,   /* PrimarySteppedDown */
	262,   /* ExceededTimeLimit */
	9001,  /* SocketException */
	10107, /* NotWritablePrimary */
	11600, /* InterruptedAtShutdown */
	11602, /* InterruptedDueToReplStateChange */
	13435, /* NotPrimaryNoSecondaryOk */
	13436, /* NotPrimaryOrSecondary */
};

bool dapi_mongo_code_transient(int32_t code)
{
	for (size_t i = 0; i < sizeof(transient_codes) / sizeof(transient_codes[0]); i++)
		if (transient_codes[i] == code)
			return true;
	return false;
}

bool dapi_mongo_error_transient(const bson_error_t *err)
{
	switch (err->domain) {
	case MONGOC_ERROR_STREAM:
	case MONGOC_ERROR_SERVER_SELECTION:
	case MONGOC_ERROR_CLIENT:
	case MONGOC_ERROR_PROTOCOL:
		return true;
	case MONGOC_ERROR_SERVER:
	case MONGOC_ERROR_WRITE_CONCERN:
		return dapi_mongo_code_transient((int32_t)err->code) ||
		       err->domain == MONGOC_ERROR_WRITE_CONCERN;
	default:
		return false;
	}
}

void dapi_mongo_append_in(bson_t *doc, const char *field, const char *const *values, size_t n)
{
	bson_t in, arr;
	BSON_APPEND_DOCUMENT_BEGIN(doc, field, &in);
	BSON_APPEND_ARRAY_BEGIN(&in, "$in", &arr);
	for (size_t i = 0; i < n; i++) {
		char key[16];
		const char *k;
		size_t klen = bson_uint32_to_string((uint32_t)i, &k, key, sizeof(key));
		bson_append_utf8(&arr, k, (int)klen, values[i], -1);
	}
	bson_append_array_end(&in, &arr);
	bson_append_document_end(doc, &in);
}

int dapi_mongo_filter_pushdown(mongoc_client_t *client, const char *db, const char *collection,
                               const bson_t *filter)
{
	bson_t *cmd = BCON_NEW("explain", "{", "find", BCON_UTF8(collection), "filter",
	                       BCON_DOCUMENT(filter), "limit", BCON_INT32(1), "}");
	bson_t reply;
	bson_iter_t it;
	int pushdown = -1;

	if (mongoc_client_command_simple(client, db, cmd, NULL, &reply, NULL))
		pushdown = !(bson_iter_init_find(&it, &reply, "filterPushdown") &&
		             BSON_ITER_HOLDS_BOOL(&it) && !bson_iter_bool(&it));
	bson_destroy(&reply);
	bson_destroy(cmd);
	return pushdown;
}

/* Whether spec's name is among the names listed (index_names: the collection's). */
static bool spec_listed(const bson_t *spec, const bson_t *names)
{
	bson_iter_t it, n;
	const char *name = bson_iter_init_find(&it, spec, "name") && BSON_ITER_HOLDS_UTF8(&it)
	                           ? bson_iter_utf8(&it, NULL)
	                           : "";
	if (!bson_iter_init(&n, names))
		return false;
	while (bson_iter_next(&n))
		if (BSON_ITER_HOLDS_UTF8(&n) && !strcmp(bson_iter_utf8(&n, NULL), name))
			return true;
	return false;
}

/* The collection's index names into names (an array document). */
static bool index_names(mongoc_collection_t *coll, bson_t *names, bson_error_t *err)
{
	mongoc_cursor_t *cur = mongoc_collection_find_indexes_with_opts(coll, NULL);
	const bson_t *doc;
	bson_iter_t it;
	uint32_t i = 0;
	while (mongoc_cursor_next(cur, &doc)) {
		char key[16];
		const char *k;
		if (!bson_iter_init_find(&it, doc, "name") || !BSON_ITER_HOLDS_UTF8(&it))
			continue;
		size_t klen = bson_uint32_to_string(i++, &k, key, sizeof(key));
		bson_append_utf8(names, k, (int)klen, bson_iter_utf8(&it, NULL), -1);
	}
	/* a collection that does not exist yet has no indexes: not an error */
	bool ok = !mongoc_cursor_error(cur, err) || err->code == 26;
	mongoc_cursor_destroy(cur);
	return ok;
}

bool dapi_mongo_ensure_indexes(mongoc_client_t *client, const char *db, const char *collection,
                               bson_t *const *specs, size_t n, int *created, bson_error_t *err)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(client, db, collection);
	bson_t names = BSON_INITIALIZER, cmd = BSON_INITIALIZER, list;
	int missing = 0;
	bool ok = index_names(coll, &names, err);
	BSON_APPEND_UTF8(&cmd, "createIndexes", collection);
	BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &list);
	for (size_t i = 0; ok && i < n; i++) {
		char key[16];
		if (spec_listed(specs[i], &names))
			continue;
		snprintf(key, sizeof(key), "%d", missing++);
		BSON_APPEND_DOCUMENT(&list, key, specs[i]);
	}
	bson_append_array_end(&cmd, &list);
	if (ok && missing > 0) {
		mongoc_database_t *d = mongoc_client_get_database(client, db);
		ok = mongoc_database_write_command_with_opts(d, &cmd, NULL, NULL, err);
		mongoc_database_destroy(d);
	}
	if (created)
		*created = ok ? missing : 0;
	bson_destroy(&cmd);
	bson_destroy(&names);
	mongoc_collection_destroy(coll);
	return ok;
}

bool dapi_mongo_delete_many(mongoc_collection_t *coll, bson_t *filter, int64_t *deleted,
                            bson_error_t *err)
{
	bson_t reply;
	bson_iter_t it;
	bool ok = mongoc_collection_delete_many(coll, filter, NULL, &reply, err);
	*deleted = ok && bson_iter_init_find(&it, &reply, "deletedCount") ? bson_iter_as_int64(&it)
	                                                                  : 0;
	bson_destroy(&reply);
	bson_destroy(filter);
	return ok;
}
