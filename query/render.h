/* Stored dialog (BSON) to its public JSON form. */
#ifndef QUERY_RENDER_H
#define QUERY_RENDER_H

#include <bson/bson.h>
#include <jansson.h>

/* {"dialogId","customerId","languages","messages":[{"text","language","receivedAt"}],
 *  "consentedAt","lastMessageAt"}; NULL when out of memory. */
json_t *query_render_dialog(const bson_t *doc);

/* Whether a stored document can be served: a dialog id that is a valid id and a
 * lastMessageAt that is a date (the page's sort keys, from which its cursor is made).
 * Anything else was not written by ingestd (another writer, a restore, a hand edit) and
 * is skipped rather than trusted. */
bool query_render_servable(const bson_t *doc);

/* The same as compact JSON text (malloc'd, *len bytes, NUL-terminated); NULL when out of
 * memory. */
char *query_render_dialog_text(const bson_t *doc, size_t *len);

#endif
