#include "request.h"

#include <stdio.h>
#include <string.h>

/* Loads any JSON value, refusing duplicate keys, NUL escapes, invalid UTF-8 and anything
 * after the value. */
static json_t *load(const char *body, size_t len, struct dapi_input_error *err)
{
	json_error_t jerr;
	json_t *root;

	if (len == 0) {
		dapi_input_fail(err, "invalid_json", NULL, "request body is empty");
		return NULL;
	}
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!root)
		dapi_input_fail(err, "invalid_json", NULL,
		                "body is not valid JSON: %s (at byte %d)", jerr.text,
		                jerr.position);
	return root;
}

bool dapi_message_req_parse(const char *body, size_t len, size_t max_text,
                            struct dapi_message_req *req, struct dapi_input_error *err)
{
	const char *key;
	json_t *v, *text = NULL, *lang = NULL;

	memset(req, 0, sizeof(*req));
	if (!(req->root = load(body, len, err)))
		return false;
	if (!json_is_object(req->root)) {
		dapi_input_fail(err, "invalid_body", NULL, "body must be a JSON object");
		goto fail;
	}
	json_object_foreach(req->root, key, v)
	{
		if (!strcmp(key, "text")) {
			text = v;
		} else if (!strcmp(key, "language")) {
			lang = v;
		} else {
			/* The name is echoed only when it is short and printable. */
			dapi_input_fail(err, "unknown_field", NULL, "unknown field in body");
			if (strlen(key) <= 64 &&
			    strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
			                "6789_-.") == strlen(key))
				snprintf(err->message, sizeof(err->message),
				         "unknown field \"%s\"; allowed: text, language", key);
			goto fail;
		}
	}
	if (!text) {
		dapi_input_fail(err, "missing_field", "text", "text is required");
		goto fail;
	}
	if (!json_is_string(text)) {
		dapi_input_fail(err, "invalid_field", "text", "text must be a string");
		goto fail;
	}
	req->text = json_string_value(text);
	req->text_len = json_string_length(text);
	if (req->text_len == 0) {
		dapi_input_fail(err, "invalid_field", "text", "text must not be empty");
		goto fail;
	}
	if (req->text_len > max_text) {
		dapi_input_fail(err, "invalid_field", "text", "text is %zu bytes; the limit is %zu",
		                req->text_len, max_text);
		goto fail;
	}
	if (!lang) {
		dapi_input_fail(err, "missing_field", "language", "language is required");
		goto fail;
	}
	if (!json_is_string(lang) ||
	    !dapi_language_normalize(json_string_value(lang), json_string_length(lang),
	                             req->language)) {
		dapi_input_fail(err, "invalid_field", "language", "language " DAPI_LANG_RULE);
		goto fail;
	}
	return true;
fail:
	dapi_message_req_clear(req);
	return false;
}

void dapi_message_req_clear(struct dapi_message_req *req)
{
	json_decref(req->root);
	memset(req, 0, sizeof(*req));
}

bool dapi_consent_req_parse(const char *body, size_t len, bool *granted,
                            struct dapi_input_error *err)
{
	json_t *root = load(body, len, err), *v = root;
	bool ok = true;

	if (!root)
		return false;
	if (json_is_object(root)) {
		v = json_object_get(root, "consent");
		if (!v)
			ok = dapi_input_fail(err, "missing_field", "consent",
			                     "consent is required");
		else if (json_object_size(root) != 1)
			ok = dapi_input_fail(err, "unknown_field", NULL,
			                     "unknown field in body; allowed: consent");
	}
	if (ok && !json_is_boolean(v))
		ok = dapi_input_fail(
		        err, "invalid_field", "consent",
		        "consent must be true or false (or {\"consent\": true|false})");
	if (ok)
		*granted = json_is_true(v);
	json_decref(root);
	return ok;
}
