/* A GET /data reply, written as its dialogs arrive: {"items":[...], "total", "limit",
 * "offset", "nextCursor"}. Each dialog is rendered once, straight into the reply. */
#ifndef QUERY_PAGE_H
#define QUERY_PAGE_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>

#include "dialogs.h"

/* Starts page's reply (page zeroed, *cap 0); false when out of memory. */
bool query_page_begin(struct query_page *page, size_t *cap);

enum query_page_item { QUERY_ITEM_ADDED, QUERY_ITEM_CUT, QUERY_ITEM_OOM };

/* Adds the servable dialog doc to the items, unless the items would then pass bytes_max
 * and the page has one already: then the page is cut (has_next, next_pos = last, the
 * position of the page's last dialog) and doc is left for the next page. */
enum query_page_item query_page_item(struct query_page *page, size_t *cap, size_t bytes_max,
                                     const bson_t *doc, const struct query_position *last);

/* Closes the items and appends total, limit, offset and nextCursor (made from next_pos and
 * total when has_next); false when out of memory. */
bool query_page_finish(struct query_page *page, size_t *cap, const struct query_params *p);

/* The keyset position of a servable document (or of its projection to _id and
 * lastMessageAt). */
void query_page_position(const bson_t *doc, struct query_position *pos);

#endif
