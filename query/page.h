/* A GET /data reply, written as its dialogs arrive: {"items":[...], "total", "limit",
 * "offset", "nextCursor"}. Each dialog is rendered once, straight into the reply. */
#ifndef DAPI_PAGE_H
#define DAPI_PAGE_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>

#include "dialogs.h"

/* Starts page's reply (page zeroed, *cap 0); false when out of memory. */
bool dapi_page_begin(struct dapi_page *page, size_t *cap);

enum dapi_page_item { DAPI_ITEM_ADDED, DAPI_ITEM_CUT, DAPI_ITEM_OOM };

/* Adds the servable dialog doc to the items, unless the items would then pass bytes_max
 * and the page has one already: then the page is cut (has_next, next_pos = last, the
 * position of the page's last dialog) and doc is left for the next page. */
enum dapi_page_item dapi_page_item(struct dapi_page *page, size_t *cap, size_t bytes_max,
                                   const bson_t *doc, const struct dapi_position *last);

/* Closes the items and appends total, limit, offset and nextCursor (made from next_pos and
 * total when has_next); false when out of memory. */
bool dapi_page_finish(struct dapi_page *page, size_t *cap, const struct dapi_query_params *p);

/* The keyset position of a servable document (or of its projection to _id and
 * lastMessageAt). */
void dapi_page_position(const bson_t *doc, struct dapi_position *pos);

#endif
