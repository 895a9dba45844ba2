#include "render.h"

#include <stdlib.h>
#include <string.h>

#include "doc.h"
#include "timefmt.h"
#include "validate.h"

static json_t *utf8_of(const bson_iter_t *it)
{
	uint32_t len;
	const char *s;
	if (!BSON_ITER_HOLDS_UTF8(it))
		return json_null();
	s = bson_iter_utf8(it, &len);
	return json_stringn(s, len);
}

static json_t *date_of(const bson_iter_t *it)
{
	char buf[DAPI_TIME_BUFSZ];
	if (!BSON_ITER_HOLDS_DATE_TIME(it))
		return json_null();
	dapi_time_format_ms(bson_iter_date_time(it), buf);
	return json_string(buf);
}

static json_t *render_message(bson_iter_t *msg)
{
	json_t *m = json_object();
	bson_iter_t f;
	if (!BSON_ITER_HOLDS_DOCUMENT(msg) || !bson_iter_recurse(msg, &f))
		return m;
	while (bson_iter_next(&f)) {
		const char *k = bson_iter_key(&f);
		if (!strcmp(k, DAPI_MSG_TEXT) || !strcmp(k, DAPI_MSG_LANGUAGE))
			json_object_set_new(m, k, utf8_of(&f));
		else if (!strcmp(k, DAPI_MSG_RECEIVED_AT))
			json_object_set_new(m, k, date_of(&f));
	}
	return m;
}

json_t *query_render_dialog(const bson_t *doc)
{
	json_t *out = json_object(), *languages = json_array(), *messages = json_array();
	json_t *customer = json_null(), *dialog = json_null(), *consented = json_null(),
	       *last = json_null();
	bson_iter_t it, arr;

	if (bson_iter_init(&it, doc)) {
		while (bson_iter_next(&it)) {
			const char *k = bson_iter_key(&it);
			if (!strcmp(k, "_id")) {
				json_decref(dialog);
				dialog = utf8_of(&it);
			} else if (!strcmp(k, DAPI_DOC_CUSTOMER_ID)) {
				json_decref(customer);
				customer = utf8_of(&it);
			} else if (!strcmp(k, DAPI_DOC_CONSENTED_AT)) {
				json_decref(consented);
				consented = date_of(&it);
			} else if (!strcmp(k, DAPI_DOC_LAST_MESSAGE_AT)) {
				json_decref(last);
				last = date_of(&it);
			} else if (!strcmp(k, DAPI_DOC_LANGUAGES) && BSON_ITER_HOLDS_ARRAY(&it) &&
			           bson_iter_recurse(&it, &arr)) {
				while (bson_iter_next(&arr))
					json_array_append_new(languages, utf8_of(&arr));
			} else if (!strcmp(k, DAPI_DOC_MESSAGES) && BSON_ITER_HOLDS_ARRAY(&it) &&
			           bson_iter_recurse(&it, &arr)) {
				while (bson_iter_next(&arr))
					json_array_append_new(messages, render_message(&arr));
			}
		}
	}
	json_object_set_new(out, "dialogId", dialog);
	json_object_set_new(out, "customerId", customer);
	json_object_set_new(out, "languages", languages);
	json_object_set_new(out, "messages", messages);
	json_object_set_new(out, "consentedAt", consented);
	json_object_set_new(out, "lastMessageAt", last);
	return out;
}

char *query_render_dialog_text(const bson_t *doc, size_t *len)
{
	json_t *item = query_render_dialog(doc);
	char *text = item ? json_dumps(item, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(item);
	*len = text ? strlen(text) : 0;
	return text;
}

bool query_render_servable(const bson_t *doc)
{
	bson_iter_t it;
	uint32_t len;
	const char *id;

	if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_UTF8(&it))
		return false;
	id = bson_iter_utf8(&it, &len);
	return dapi_valid_id(id, len) && bson_iter_init_find(&it, doc, DAPI_DOC_LAST_MESSAGE_AT) &&
	       BSON_ITER_HOLDS_DATE_TIME(&it);
}
