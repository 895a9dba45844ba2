/* What the dialogs' readers share (dialogs.c, paging.c, export.c); not for their
 * callers, which see dialogs.h. */
#ifndef QUERY_DIALOGS_INTERNAL_H
#define QUERY_DIALOGS_INTERNAL_H

#include "dialogs.h"

/* A pooled client, or NULL with err (QUERY_DIALOGS_BUSY) after the pool's bounded wait. */
mongoc_client_t *dialogs_client(const struct query_dialogs *q, bson_error_t *err);

/* A page's filter and find options: one place for the page and for its explain. A page
 * that counts by scanning (scan) has no limit: it reads every match, in large batches. */
void dialogs_page_query(const struct query_dialogs *q, const struct query_params *p, bool scan,
                        bson_t *filter, bson_t *opts);

/* The options of a read by _id (the caller destroys them). */
bson_t *dialogs_by_id_opts(const struct query_dialogs *q);

/* Logs a document no reader can serve (not written by ingestd). */
void dialogs_skipped_unservable(void);

#endif
