/* MongoDB client pool shared by ingestd and the query service. */
#ifndef DAPI_MONGO_H
#define DAPI_MONGO_H

#include <mongoc/mongoc.h>
#include <stdbool.h>

#include "config.h"

/* The MongoDB options every MongoDB program takes, filled by DAPI_OPT_MONGO's rows. */
struct dapi_mongo_opts {
	const char *uri, *db, *collection;
};

/* clang-format off */
#define DAPI_OPT_MONGO(o)                                                                  \
	{"mongodb-uri", 0, "MONGODB_URI", DAPI_OPT_STRING, &(o).uri,                       \
	 "mongodb://127.0.0.1:27017", 0, 0,                                                \
	 "MongoDB connection string (TLS and auth options go here)"},                      \
	{"database", 0, "MONGODB_DATABASE", DAPI_OPT_STRING, &(o).db, "dataapi", 0, 0,     \
	 "Database name"},                                                                 \
	{"collection", 0, "MONGODB_COLLECTION", DAPI_OPT_STRING, &(o).collection, "dialogs", \
	 0, 0, "Collection name"}
/* clang-format on */

/* mongoc_init() plus routing the driver's own log lines into our JSON log. */
void dapi_mongo_init(void);

/* Creates a pool for uri. Unless the URI says otherwise: serverSelectionTimeoutMS=3000,
 * socketTimeoutMS=30000 or, when longer, longest_reply_ms + 5000 (a query's maxTimeMS must
 * expire on the server before the socket gives up on it), w=majority, appname, and
 * waitQueueTimeoutMS=wait_ms when wait_ms > 0 (mongoc_client_pool_pop then returns NULL
 * after waiting that long for a free client; 0: it waits as long as it takes). Returns
 * NULL with errstr. Call mongoc_init() first. */
mongoc_client_pool_t *dapi_mongo_pool_new(const char *uri, const char *appname,
                                          int64_t longest_reply_ms, int32_t wait_ms, char *errstr,
                                          size_t errstr_size);

/* Runs {ping: 1} on a pooled client. */
bool dapi_mongo_ping(mongoc_client_pool_t *pool, bson_error_t *err);

/* A readiness probe: one client of its own (never one of the pool's, which busy requests
 * may all hold) whose every wait is bounded by timeout_ms: server selection, connect,
 * socket, and the turn of concurrent probes. NULL with errstr on a bad URI. */
struct dapi_mongo_probe;
struct dapi_mongo_probe *dapi_mongo_probe_new(const char *uri, const char *appname,
                                              int32_t timeout_ms, char *errstr, size_t errstr_size);
/* {ping: 1} within the probe's timeout; thread-safe. */
bool dapi_mongo_probe_ping(struct dapi_mongo_probe *p, bson_error_t *err);
void dapi_mongo_probe_destroy(struct dapi_mongo_probe *p);

/* 0 when the server's explain of a find with filter on db.collection reports
 * `filterPushdown: false` (FerretDB; its SQLite backend reads every document for such a
 * filter whatever indexes exist), 1 otherwise (MongoDB's explain has no such field), -1
 * when the explain failed (it says nothing). */
int dapi_mongo_filter_pushdown(mongoc_client_t *client, const char *db, const char *collection,
                               const bson_t *filter);

/* Creates those of specs[0..n) (each {name, key, ...}) that db.collection lacks by name, in
 * one createIndexes: FerretDB 1.24 fails on one that exists. A collection not there yet
 * has none. *created (may be NULL) receives how many were made. */
bool dapi_mongo_ensure_indexes(mongoc_client_t *client, const char *db, const char *collection,
                               bson_t *const *specs, size_t n, int *created, bson_error_t *err);

/* deleteMany of filter (taken: destroyed here) on coll; *deleted receives deletedCount. */
bool dapi_mongo_delete_many(mongoc_collection_t *coll, bson_t *filter, int64_t *deleted,
                            bson_error_t *err);

/* Appends field: {$in: [values[0..n)]} to doc (a filter). */
void dapi_mongo_append_in(bson_t *doc, const char *field, const char *const *values, size_t n);

/* Whether an error from a command or write is worth retrying (network, no primary, the
 * server shutting down, timeouts) rather than a verdict on the data. */
bool dapi_mongo_error_transient(const bson_error_t *err);
bool dapi_mongo_code_transient(int32_t code);

#endif
