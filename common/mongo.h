/* MongoDB client pool shared by ingestd and the query service. */
#ifndef DAPI_MONGO_H
#define DAPI_MONGO_H

#include <mongoc/mongoc.h>
#include <stdbool.h>

/* mongoc_init() plus routing the driver's own log lines into our JSON log. */
void dapi_mongo_init(void);

/* Creates a pool for uri. Unless the URI says otherwise: serverSelectionTimeoutMS=3000,
 * socketTimeoutMS=30000 or, when longer, longest_reply_ms + 5000 (a query's maxTimeMS must
 * expire on the server before the socket gives up on it), w=majority, appname. Returns NULL
 * with errstr. Call mongoc_init() first. */
mongoc_client_pool_t *dapi_mongo_pool_new(const char *uri, const char *appname,
                                          int64_t longest_reply_ms, char *errstr,
                                          size_t errstr_size);

/* Runs {ping: 1} on a pooled client. */
bool dapi_mongo_ping(mongoc_client_pool_t *pool, bson_error_t *err);

/* Whether an error from a command or write is worth retrying (network, no primary, the
 * server shutting down, timeouts) rather than a verdict on the data. */
bool dapi_mongo_error_transient(const bson_error_t *err);
bool dapi_mongo_code_transient(int32_t code);

#endif
