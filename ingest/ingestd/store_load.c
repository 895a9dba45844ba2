/* Loading a batch's dialogs: one $in query, or a query per _id. */
#include <string.h>

#include "doc.h"
#include "store_internal.h"

/* dialogs are sorted by id (ingestd_store_load's contract): a binary search per document. */
static struct ingestd_dialog *find_dialog(struct ingestd_dialog *dialogs, size_t n, const char *id)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(dialogs[mid].id, id);
		if (c == 0)
			return &dialogs[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Reads every document of cursor into its dialog, then destroys the cursor. */
static bool read_loaded(mongoc_cursor_t *cursor, struct ingestd_dialog *dialogs, size_t n,
                        bson_error_t *err)
{
	const bson_t *doc;
	bool ok = true;
	while (ok && mongoc_cursor_next(cursor, &doc)) {
		bson_iter_t it;
		struct ingestd_dialog *d;
		if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_UTF8(&it))
			continue;
		d = find_dialog(dialogs, n, bson_iter_utf8(&it, NULL));
		if (d && !ingestd_store_parse_dialog(d, doc)) {
			bson_set_error(err, MONGOC_ERROR_CLIENT,
			               MONGOC_ERROR_CLIENT_NO_ACCEPTABLE_PEER,
			               "out of memory loading a dialog");
			ok = false;
		}
	}
	if (ok && mongoc_cursor_error(cursor, err))
		ok = false;
	mongoc_cursor_destroy(cursor);
	return ok;
}

/* One query for the whole batch, everything in the first reply: no server-side cursor
 * stays open between round trips, so none is left behind if this process dies mid-read. */
static bool load_in(mongoc_collection_t *coll, struct ingestd_dialog *dialogs, size_t n,
                    const bool *known, bson_error_t *err)
{
	bson_t filter = BSON_INITIALIZER, in, ids;
	uint32_t asked = 0;
	BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &in);
	BSON_APPEND_ARRAY_BEGIN(&in, "$in", &ids);
	for (size_t i = 0; i < n; i++) {
		const char *key;
		char buf[16];
		if (known && known[i])
			continue;
		size_t klen = bson_uint32_to_string(asked++, &key, buf, sizeof(buf));
		bson_append_utf8(&ids, key, (int)klen, dialogs[i].id, -1);
	}
	bson_append_array_end(&in, &ids);
	bson_append_document_end(&filter, &in);
	if (asked == 0) {
		bson_destroy(&filter);
		return true;
	}
	bson_t *opts = BCON_NEW("batchSize", BCON_INT64((int64_t)asked));
	bool ok = read_loaded(mongoc_collection_find_with_opts(coll, &filter, opts, NULL), dialogs,
	                      n, err);
	bson_destroy(opts);
	bson_destroy(&filter);
	return ok;
}

/* One query per dialog, by _id equality: the only filter FerretDB's SQLite backend answers
 * from an index ($in scans the collection: 14 s for 100 ids at 20,000 dialogs). */
static bool load_by_id(mongoc_collection_t *coll, struct ingestd_dialog *dialogs, size_t n,
                       const bool *known, bson_error_t *err)
{
	bson_t *opts = BCON_NEW("limit", BCON_INT64(1), "singleBatch", BCON_BOOL(true));
	bool ok = true;
	for (size_t i = 0; ok && i < n; i++) {
		if (known && known[i])
			continue;
		bson_t filter = BSON_INITIALIZER;
		BSON_APPEND_UTF8(&filter, "_id", dialogs[i].id);
		ok = read_loaded(mongoc_collection_find_with_opts(coll, &filter, opts, NULL),
		                 &dialogs[i], 1, err);
		bson_destroy(&filter);
	}
	bson_destroy(opts);
	return ok;
}

bool ingestd_store_load(struct ingestd_store *st, struct ingestd_dialog *dialogs, size_t n,
                        const bool *known, bson_error_t *err)
{
	mongoc_client_t *client;
	mongoc_collection_t *coll = store_get(st, &client);
	bool ok;

	for (size_t i = 0; i < n; i++) {
		const char *id = dialogs[i].id;
		if (known && known[i])
			continue;
		ingestd_dialog_clear(&dialogs[i]);
		ingestd_dialog_init(&dialogs[i], id);
	}
	ok = st->load_by == INGESTD_LOAD_BY_ID ? load_by_id(coll, dialogs, n, known, err)
	                                       : load_in(coll, dialogs, n, known, err);
	store_put(st, client, coll);
	return ok;
}
