#include "event.h"

#include <stdio.h>
#include <string.h>

#include "jsonw.h"
#include "timefmt.h"

const char *dapi_event_type_name(enum dapi_event_type type)
{
	return type == DAPI_EVENT_MESSAGE ? "message" : "consent";
}

char *dapi_event_encode(const struct dapi_event *ev, size_t *len)
{
	const char *type = dapi_event_type_name(ev->type);
	bool sealed = ev->type == DAPI_EVENT_MESSAGE && ev->sealed;
	char ts[DAPI_TIME_BUFSZ];
	struct dapi_jsonw w;

	dapi_time_format_ms(ev->received_at, ts);
	dapi_jsonw_begin(&w, 192 + (ev->type != DAPI_EVENT_MESSAGE ? 0
	                            : sealed                       ? ev->sealed_len
	                                                           : ev->text_len));
	dapi_jsonw_int(&w, "v", sealed ? DAPI_EVENT_VERSION_SEALED : DAPI_EVENT_VERSION);
	dapi_jsonw_str(&w, "type", type, strlen(type));
	dapi_jsonw_str(&w, "eventId", ev->event_id, strlen(ev->event_id));
	dapi_jsonw_str(&w, "dialogId", ev->dialog_id, strlen(ev->dialog_id));
	if (sealed) {
		dapi_jsonw_str(&w, "sealed", ev->sealed, ev->sealed_len);
	} else if (ev->type == DAPI_EVENT_MESSAGE) {
		dapi_jsonw_str(&w, "customerId", ev->customer_id, strlen(ev->customer_id));
		dapi_jsonw_str(&w, "text", ev->text, ev->text_len);
		dapi_jsonw_str(&w, "language", ev->language, strlen(ev->language));
	} else {
		dapi_jsonw_bool(&w, "granted", ev->granted);
	}
	dapi_jsonw_str(&w, "receivedAt", ts, strlen(ts));
	return dapi_jsonw_finish(&w, len);
}

char *dapi_event_box_encode(const struct dapi_event *ev, size_t *len)
{
	struct dapi_jsonw w;
	dapi_jsonw_begin(&w, 96 + ev->text_len);
	dapi_jsonw_str(&w, "customerId", ev->customer_id, strlen(ev->customer_id));
	dapi_jsonw_str(&w, "text", ev->text, ev->text_len);
	dapi_jsonw_str(&w, "language", ev->language, strlen(ev->language));
	return dapi_jsonw_finish(&w, len);
}

/* Fetches a required string member; NULL with errstr/reason set when absent or mistyped. */
static const char *get_string(json_t *root, const char *key, size_t *len, const char **reason,
                              char *errstr, size_t errstr_size)
{
	json_t *v = json_object_get(root, key);
	if (!v) {
		*reason = "missing_field";
		snprintf(errstr, errstr_size, "%s is missing", key);
		return NULL;
	}
	if (!json_is_string(v)) {
		*reason = "invalid_field";
		snprintf(errstr, errstr_size, "%s must be a string", key);
		return NULL;
	}
	if (len)
		*len = json_string_length(v);
	return json_string_value(v);
}

static const char *get_id(json_t *root, const char *key, const char **reason, char *errstr,
                          size_t errstr_size)
{
	size_t len;
	const char *s = get_string(root, key, &len, reason, errstr, errstr_size);
	if (s && !dapi_valid_id(s, len)) {
		*reason = "invalid_field";
		snprintf(errstr, errstr_size, "%s " DAPI_ID_RULE, key);
		return NULL;
	}
	return s;
}

/* v, type, eventId, dialogId and receivedAt: what every event has. */
static const char *decode_common(json_t *root, struct dapi_event *ev, char *errstr,
                                 size_t errstr_size)
{
	const char *reason = NULL, *type, *ts;
	json_t *v = json_object_get(root, "v");

	if (!json_is_integer(v) || (json_integer_value(v) != DAPI_EVENT_VERSION &&
	                            json_integer_value(v) != DAPI_EVENT_VERSION_SEALED)) {
		snprintf(errstr, errstr_size, "v must be %d or %d", DAPI_EVENT_VERSION,
		         DAPI_EVENT_VERSION_SEALED);
		return v ? "unsupported_version" : "missing_field";
	}
	ev->version = (int)json_integer_value(v);
	if (!(type = get_string(root, "type", NULL, &reason, errstr, errstr_size)))
		return reason;
	if (!strcmp(type, "message")) {
		ev->type = DAPI_EVENT_MESSAGE;
	} else if (!strcmp(type, "consent")) {
		ev->type = DAPI_EVENT_CONSENT;
	} else {
		snprintf(errstr, errstr_size, "type must be message or consent");
		return "unknown_type";
	}
	if (!(ev->event_id = get_id(root, "eventId", &reason, errstr, errstr_size)) ||
	    !(ev->dialog_id = get_id(root, "dialogId", &reason, errstr, errstr_size)) ||
	    !(ts = get_string(root, "receivedAt", NULL, &reason, errstr, errstr_size)))
		return reason;
	if (!dapi_time_parse(ts, &ev->received_at)) {
		snprintf(errstr, errstr_size, "receivedAt must be an RFC 3339 time");
		return "invalid_field";
	}
	return NULL;
}

static const char *decode_consent(json_t *root, struct dapi_event *ev, char *errstr,
                                  size_t errstr_size)
{
	json_t *v = json_object_get(root, "granted");
	if (!json_is_boolean(v)) {
		snprintf(errstr, errstr_size, "granted must be a boolean");
		return v ? "invalid_field" : "missing_field";
	}
	ev->granted = json_is_true(v);
	return NULL;
}

static const char *decode_message(json_t *root, size_t max_text, struct dapi_event *ev,
                                  char *errstr, size_t errstr_size)
{
	const char *reason = NULL, *lang;
	size_t len;

	if (!(ev->customer_id = get_id(root, "customerId", &reason, errstr, errstr_size)) ||
	    !(ev->text = get_string(root, "text", &ev->text_len, &reason, errstr, errstr_size)) ||
	    !(lang = get_string(root, "language", &len, &reason, errstr, errstr_size)))
		return reason;
	if (ev->text_len == 0) {
		snprintf(errstr, errstr_size, "text must not be empty");
		return "invalid_field";
	}
	if (ev->text_len > max_text) {
		snprintf(errstr, errstr_size, "text is %zu bytes, over the limit of %zu",
		         ev->text_len, max_text);
		return "text_too_large";
	}
	if (!dapi_language_normalize(lang, len, ev->language)) {
		snprintf(errstr, errstr_size, "language " DAPI_LANG_RULE);
		return "invalid_field";
	}
	return NULL;
}

/* A v2 message: the box, and no personal field in clear beside it. */
static const char *decode_sealed(json_t *root, struct dapi_event *ev, char *errstr,
                                 size_t errstr_size)
{
	static const char *const personal[] = { "customerId", "text", "language" };
	const char *reason = NULL;

	for (size_t i = 0; i < sizeof(personal) / sizeof(personal[0]); i++) {
		if (json_object_get(root, personal[i])) {
			snprintf(errstr, errstr_size, "%s must be inside sealed in a v2 event",
			         personal[i]);
			return "invalid_field";
		}
	}
	ev->sealed = get_string(root, "sealed", &ev->sealed_len, &reason, errstr, errstr_size);
	return ev->sealed ? NULL : reason;
}

const char *dapi_event_open_box(struct dapi_event *ev, const char *json, size_t len,
                                size_t max_text, char *errstr, size_t errstr_size)
{
	json_error_t jerr;
	json_decref(ev->box);
	ev->box = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(ev->box)) {
		snprintf(errstr, errstr_size, "the sealed box is not a JSON object");
		json_decref(ev->box);
		ev->box = NULL;
		return "invalid_json";
	}
	return decode_message(ev->box, max_text, ev, errstr, errstr_size);
}

static const char *decode_fields(json_t *root, size_t max_text, struct dapi_event *ev, char *errstr,
                                 size_t errstr_size)
{
	const char *reason = decode_common(root, ev, errstr, errstr_size);
	if (reason)
		return reason;
	if (ev->type == DAPI_EVENT_CONSENT)
		return decode_consent(root, ev, errstr, errstr_size);
	if (ev->version == DAPI_EVENT_VERSION_SEALED)
		return decode_sealed(root, ev, errstr, errstr_size);
	return decode_message(root, max_text, ev, errstr, errstr_size);
}

const char *dapi_event_decode(const void *buf, size_t len, size_t max_text, struct dapi_event *ev,
                              char *errstr, size_t errstr_size)
{
	json_error_t jerr;
	const char *reason;

	memset(ev, 0, sizeof(*ev));
	/* Rejects invalid UTF-8, NUL escapes and duplicate keys. */
	ev->root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!ev->root) {
		snprintf(errstr, errstr_size, "not valid JSON at byte %d", jerr.position);
		return "invalid_json";
	}
	if (!json_is_object(ev->root)) {
		snprintf(errstr, errstr_size, "value must be a JSON object");
		dapi_event_clear(ev);
		return "invalid_json";
	}
	reason = decode_fields(ev->root, max_text, ev, errstr, errstr_size);
	if (reason)
		dapi_event_clear(ev);
	return reason;
}

void dapi_event_clear(struct dapi_event *ev)
{
	json_decref(ev->root);
	json_decref(ev->box);
	memset(ev, 0, sizeof(*ev));
}
