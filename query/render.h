/* Stored dialog (BSON) to its public JSON form. */
#ifndef DAPI_RENDER_H
#define DAPI_RENDER_H

#include <bson/bson.h>
#include <jansson.h>

/* {"dialogId","customerId","languages","messages":[{"text","language","receivedAt"}],
 *  "consentedAt","lastMessageAt"}; NULL when out of memory. */
json_t *dapi_render_dialog(const bson_t *doc);

/* The same as compact JSON text (malloc'd, *len bytes, NUL-terminated); NULL when out of
 * memory. */
char *dapi_render_dialog_text(const bson_t *doc, size_t *len);

#endif
