/* Stored dialog (BSON) to its public JSON form. */
#ifndef DAPI_RENDER_H
#define DAPI_RENDER_H

#include <bson/bson.h>
#include <jansson.h>

/* {"dialogId","customerId","languages","messages":[{"text","language","receivedAt"}],
 *  "consentedAt","lastMessageAt"}; NULL when out of memory. */
json_t *dapi_render_dialog(const bson_t *doc);

/* Whether a stored document can be served: a dialog id that is a valid id and a
 * lastMessageAt that is a date (the page's sort keys, from which its cursor is made).
 * Anything else was not written by ingestd (another writer, a restore, a hand edit) and
 * is skipped rather than trusted. */
bool dapi_render_servable(const bson_t *doc);

/* The same as compact JSON text (malloc'd, *len bytes, NUL-terminated); NULL when out of
 * memory. */
char *dapi_render_dialog_text(const bson_t *doc, size_t *len);

#endif
