/* Person-level erasure requests (SPEC "Privacy requests"), one document each in
 * privacy_erasures beside the data keys (the key store's database: a rebuild of the dialogs'
 * database keeps them, and the receipt outlives the data):
 *   {_id: erasureId, status: "pending"|"running"|"completed", requestedAt, startedAt,
 *    completedAt, dialogs, keysDeleted, request: <tag of the caller's requestId>,
 *    customer: {master, wrapped, box}, runner, leaseUntil}
 * The customerId is kept sealed (AES-256-GCM under a key of the request's own, wrapped by
 * the master key) only until the request completes; then `customer` is removed and what
 * remains is a receipt with no personal data. The ingress creates them, ingestd runs them,
 * the query service reads them. */
#ifndef DAPI_ERASURES_H
#define DAPI_ERASURES_H

#include <mongoc/mongoc.h>
#include <stdbool.h>

#include "masterkeys.h"
#include "validate.h"

#define DAPI_ERASURES_COLLECTION "privacy_erasures"
#define DAPI_ERASURE_ID_LEN      32 /* hex of 16 random bytes */

enum dapi_erasure_status { DAPI_ERASURE_PENDING, DAPI_ERASURE_RUNNING, DAPI_ERASURE_COMPLETED };

struct dapi_erasure {
	char id[DAPI_ERASURE_ID_LEN + 1];
	enum dapi_erasure_status status;
	int64_t requested_at, started_at, completed_at; /* ms since the epoch; 0: not yet */
	int64_t dialogs, keys_deleted;
	/* filled by dapi_erasures_claim only (wipe it after use) */
	char customer_id[DAPI_ID_MAX + 1];
};

struct dapi_erasures;

/* pool borrowed; mk borrowed, NULL for a reader (the query service). NULL when out of
 * memory. */
struct dapi_erasures *dapi_erasures_new(mongoc_client_pool_t *pool, const char *db,
                                        const struct dapi_master_keys *mk);
void dapi_erasures_destroy(struct dapi_erasures *e);

/* "pending", "running", "completed". */
const char *dapi_erasure_status_name(enum dapi_erasure_status st);

enum dapi_erasure_request {
	DAPI_ERASURE_CREATED,
	DAPI_ERASURE_EXISTS,   /* the requestId's request, as it stands */
	DAPI_ERASURE_CONFLICT, /* the requestId names another customer's request */
	DAPI_ERASURE_FAILED,   /* the store did not answer well (err) */
};

/* Records a request to erase customer_id's dialogs, as of now (request_id: the caller's
 * idempotency key, or NULL); *out receives it. Returns when the store acknowledged. */
enum dapi_erasure_request dapi_erasures_request(struct dapi_erasures *e, const char *customer_id,
                                                const char *request_id, struct dapi_erasure *out,
                                                bson_error_t *err);

/* The request id names into *out (*found false when there is none). False on a store
 * error. */
bool dapi_erasures_get(struct dapi_erasures *e, const char *id, struct dapi_erasure *out,
                       bool *found, bson_error_t *err);

/* Takes the oldest request not completed whose lease (if any) has run out: running, leased
 * to runner for lease_ms, its customerId unsealed into out. *found false when none is
 * waiting. False on a store error. A write: a poller asks dapi_erasures_oldest_open
 * first, so that an idle one writes nothing. */
bool dapi_erasures_claim(struct dapi_erasures *e, const char *runner, int64_t lease_ms,
                         struct dapi_erasure *out, bool *found, bson_error_t *err);

/* Extends runner's lease on id; *held false when the request is not runner's any more. */
bool dapi_erasures_renew(struct dapi_erasures *e, const char *id, const char *runner,
                         int64_t lease_ms, bool *held, bson_error_t *err);

/* Completes runner's request id with its counts and removes its sealed customerId. */
bool dapi_erasures_complete(struct dapi_erasures *e, const char *id, const char *runner,
                            int64_t dialogs, int64_t keys_deleted, bson_error_t *err);

/* requestedAt of the oldest request not completed into *requested_at (0: none). */
bool dapi_erasures_oldest_open(struct dapi_erasures *e, int64_t *requested_at, bson_error_t *err);

/* Creates the indexes the requests need (a unique requestId tag; open requests by age),
 * when missing. */
bool dapi_erasures_indexes(struct dapi_erasures *e, bson_error_t *err);

#endif
