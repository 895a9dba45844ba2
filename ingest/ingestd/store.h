/* ingestd's side of MongoDB: load the dialogs of a batch, write each changed dialog back
 * with one bulk operation. Inserts rely on the unique _id; updates and replaces match the
 * loaded document's _id and version (appliedThrough) and never a tombstone, so a writer
 * that got there first (another member, the sweeper's delete, an insert) shows up as a
 * conflict and the batch is applied again instead of being overwritten. */
#ifndef INGESTD_STORE_H
#define INGESTD_STORE_H

#include <mongoc/mongoc.h>
#include <stdbool.h>

#include "apply.h"

/* Largest document we attempt to write; MongoDB refuses 16 MiB and more. */
#define INGESTD_DOC_MAX_BYTES (16 * 1024 * 1024 - 64 * 1024)

struct ingestd_store;

/* How a batch's dialogs are read: one $in query, or one query per _id (FerretDB answers
 * only an _id equality from an index). AUTO asks the server which it is. */
enum ingestd_load_by { INGESTD_LOAD_AUTO, INGESTD_LOAD_IN, INGESTD_LOAD_BY_ID };

/* Which secondary indexes (those of the query shapes and sweepers) are created. AUTO: all,
 * unless the server says in explain that it answers no filter but _id from an index
 * (FerretDB's SQLite backend: `filterPushdown: false`), where they would only make every
 * write dearer. ALL: always. */
enum ingestd_indexes { INGESTD_INDEXES_AUTO, INGESTD_INDEXES_ALL };

/* pool is borrowed. */
struct ingestd_store *ingestd_store_new(mongoc_client_pool_t *pool, const char *db,
                                        const char *collection, enum ingestd_load_by load_by,
                                        enum ingestd_indexes indexes);
void ingestd_store_destroy(struct ingestd_store *st);

/* The i-th secondary index ({name, key}; NULL past the last): one for each GET /data shape,
 * keys ordered equality, then sort (test_indexes checks every page shape has one), and the
 * sweeper's. The caller destroys it. */
bson_t *ingestd_store_index_spec(size_t i);

/* Whether loads go one _id at a time (settled by ingestd_store_open). */
bool ingestd_store_loads_by_id(const struct ingestd_store *st);

/* Settles the AUTOs and creates the missing indexes (see ingestd_indexes). Idempotent; never
 * drops an index. */
bool ingestd_store_open(struct ingestd_store *st, bson_error_t *err);

/* Reads one stored document into d (as ingestd_dialog_init left it), trusting nothing: a
 * customerId that is not a valid id is left empty, language entries that are not language
 * tags are dropped, wrong types read as absent, and an appliedThrough that is not as
 * ingestd writes it marks the dialog loaded_untrusted (ingestd_store_write refuses it:
 * "store_untrusted"). False only when out of memory. */
bool ingestd_store_parse_dialog(struct ingestd_dialog *d, const bson_t *doc);

/* Fills each dialog's loaded state (ABSENT when there is no document), except those with
 * known[i] true (already filled; known may be NULL). dialogs must be sorted by id (strcmp
 * order) and distinct, as the consumer groups them. */
bool ingestd_store_load(struct ingestd_store *st, struct ingestd_dialog *dialogs, size_t n,
                        const bool *known, bson_error_t *err);

enum ingestd_write_status {
	INGESTD_WRITE_OK,        /* every changed dialog written or rejected */
	INGESTD_WRITE_CONFLICT,  /* a guard did not match: reload and apply again */
	INGESTD_WRITE_TRANSIENT, /* the database did not answer well: retry later */
	INGESTD_WRITE_LOST,      /* (consumer) the partitions were lost: do not write */
};

/* Writes every changed dialog, in bulks of a few dozen. rejected[i] receives NULL, or for a
 * dialog the database refused for good (too large, invalid) or whose stored version cannot
 * be trusted (loaded_untrusted) a reason for the DLQ. */
enum ingestd_write_status ingestd_store_write(struct ingestd_store *st,
                                              struct ingestd_dialog *dialogs, size_t n,
                                              const char **rejected, bson_error_t *err);

/* Sweeper: deletes pending dialogs whose last message is older than pending_before and
 * tombstones revoked before tombstone_before (ms). Counts go to *pending, *tombstones. */
/* Deletes the consented dialogs whose last message is before `before` (--retention) into
 * *erased. */
bool ingestd_store_sweep_retained(struct ingestd_store *st, int64_t before, int64_t *erased,
                                  bson_error_t *err);

bool ingestd_store_sweep(struct ingestd_store *st, int64_t pending_before, int64_t tombstone_before,
                         int64_t *pending, int64_t *tombstones, bson_error_t *err);

/* A page of ids, for the sweeper's walks over a collection in _id order, with a time each
 * (a tombstone's revokedAt). */
#define INGESTD_ID_PAGE 500
struct ingestd_id_page {
	char ids[INGESTD_ID_PAGE][DAPI_ID_MAX + 1];
	int64_t at[INGESTD_ID_PAGE];
	size_t n;
};

/* The next page of tombstones' ids after `after` ("" for the first), with their revokedAt. */
bool ingestd_store_tombstone_ids(struct ingestd_store *st, const char *after,
                                 struct ingestd_id_page *page, bson_error_t *err);

#endif
