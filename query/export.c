/* GET /data/export's reads: every match, in page order, one cursor read as the client
 * takes the stream. */
#include "dialogs.h"

#include <stdlib.h>

#include "dialogs_internal.h"
#include "filter.h"
#include "render.h"

struct query_export {
	mongoc_client_pool_t *pool;
	mongoc_client_t *client;
	mongoc_collection_t *coll;
	mongoc_cursor_t *cursor;
	bson_t *first;  /* read by open, served first */
	bool exhausted; /* the cursor must not be advanced again */
};

void query_export_query(const struct query_dialogs *q, const struct query_params *p, bson_t *filter,
                        bson_t *opts)
{
	query_filter_build(p, false, filter);
	query_filter_find_opts(0, 0, q->export_time_ms,
	                       opts); /* an export's own, longer deadline */
	BSON_APPEND_INT32(opts, "batchSize", 500);
}

struct query_export *query_export_open(const struct query_dialogs *q, const struct query_params *p,
                                       bson_error_t *err)
{
	struct query_export *ex = calloc(1, sizeof(*ex));
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
	const bson_t *doc;
	bool found = false;

	if (!ex) {
		bson_set_error(err, MONGOC_ERROR_CLIENT, 0, "out of memory");
		return NULL;
	}
	ex->pool = q->pool;
	ex->client = dialogs_client(q, err);
	if (!ex->client) {
		free(ex);
		return NULL;
	}
	ex->coll = mongoc_client_get_collection(ex->client, q->db, q->collection);
	query_export_query(q, p, &filter, &opts);
	ex->cursor = mongoc_collection_find_with_opts(ex->coll, &filter, &opts, NULL);
	bson_destroy(&filter);
	bson_destroy(&opts);
	while (!found && mongoc_cursor_next(ex->cursor, &doc)) {
		found = query_render_servable(doc);
		if (!found)
			dialogs_skipped_unservable();
	}
	if (found) {
		ex->first = bson_copy(doc);
	} else if (mongoc_cursor_error(ex->cursor, err)) {
		query_export_close(ex);
		return NULL;
	} else {
		ex->exhausted = true; /* no match at all: an empty, complete stream */
	}
	return ex;
}

static char *line_of(const bson_t *doc, size_t *len)
{
	char *text = query_render_dialog_text(doc, len), *line;
	if (!text)
		return NULL;
	*len += 1;
	line = realloc(text, *len + 1);
	if (!line) {
		free(text);
		return NULL;
	}
	line[*len - 1] = '\n';
	line[*len] = '\0';
	return line;
}

char *query_export_next(struct query_export *ex, size_t *len, bool *failed)
{
	const bson_t *doc;
	bson_error_t err;
	char *line;

	*failed = false;
	if (ex->first) {
		line = line_of(ex->first, len);
		bson_destroy(ex->first);
		ex->first = NULL;
		*failed = line == NULL;
		return line;
	}
	if (ex->exhausted)
		return NULL;
	while (mongoc_cursor_next(ex->cursor, &doc)) {
		if (!query_render_servable(doc)) {
			dialogs_skipped_unservable();
			continue;
		}
		line = line_of(doc, len);
		*failed = line == NULL;
		return line;
	}
	ex->exhausted = true;
	*failed = mongoc_cursor_error(ex->cursor, &err);
	return NULL;
}

void query_export_close(struct query_export *ex)
{
	if (!ex)
		return;
	bson_destroy(ex->first);
	mongoc_cursor_destroy(ex->cursor);
	mongoc_collection_destroy(ex->coll);
	mongoc_client_pool_push(ex->pool, ex->client);
	free(ex);
}
