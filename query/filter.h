/* What a read of consented dialogs matches, and in which order: the MongoDB filter and its
 * in-memory twin, kept together in filter.c. */
#ifndef QUERY_FILTER_H
#define QUERY_FILTER_H

#include <bson/bson.h>
#include <stdbool.h>

#include "params.h"

/* Appends the filter of p to filter: {consent: true, revoked absent, languages?,
 * customerId?} and, with_cursor, the keyset position after p's cursor. */
void query_filter_build(const struct query_params *p, bool with_cursor, bson_t *filter);

/* Appends the find options of every read to opts: newest lastMessageAt first, ties by _id
 * ascending; limit and skip when positive; maxTimeMS. */
void query_filter_find_opts(int64_t limit, int64_t skip, int64_t max_time_ms, bson_t *opts);

/* The in-memory twin of query_filter_build(p, false): whether doc (read by _id) is
 * servable, consented, not a tombstone, and of p's customer and language when set. */
bool query_filter_matches(const bson_t *doc, const struct query_params *p);

/* Consented and not a tombstone. */
bool query_filter_consented(const bson_t *doc);

/* doc's customerId is customer_id. */
bool query_filter_of_customer(const bson_t *doc, const char *customer_id);

#endif
