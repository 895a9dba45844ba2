#include "request.h"

#include <stdio.h>
#include <string.h>

/* Loads any JSON value, refusing duplicate keys, NUL escapes, invalid UTF-8 and anything
 * after the value; what names the input in messages ("body", "line"). */
static json_t *load_as(const char *what, const char *body, size_t len, struct dapi_input_error *err)
{
	json_error_t jerr;
	json_t *root;

	if (len == 0) {
		dapi_input_fail(err, "invalid_json", NULL, "request %s is empty", what);
		return NULL;
	}
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!root)
		dapi_input_fail(err, "invalid_json", NULL, "%s is not valid JSON: %s (at byte %d)",
		                what, jerr.text, jerr.position);
	return root;
}

static json_t *load(const char *body, size_t len, struct dapi_input_error *err)
{
	return load_as("body", body, len, err);
}

/* Refuses a member the body may not have. The name is echoed only when it is short and
 * printable. */
static bool unknown_field(struct dapi_input_error *err, const char *key, const char *allowed)
{
	size_t n = strlen(key);
	if (n <= 64 &&
	    strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") == n)
		return dapi_input_fail(err, "unknown_field", NULL,
		                       "unknown field \"%s\"; allowed: %s", key, allowed);
	return dapi_input_fail(err, "unknown_field", NULL, "unknown field in body; allowed: %s",
	                       allowed);
}

/* A message's text (1..max_text bytes) and language (a tag, upper-cased into language). */
static bool take_text(json_t *text, json_t *lang, size_t max_text, const char **out,
                      size_t *out_len, char language[DAPI_LANG_MAX + 1],
                      struct dapi_input_error *err)
{
	if (!text)
		return dapi_input_fail(err, "missing_field", "text", "text is required");
	if (!json_is_string(text))
		return dapi_input_fail(err, "invalid_field", "text", "text must be a string");
	*out = json_string_value(text);
	*out_len = json_string_length(text);
	if (*out_len == 0)
		return dapi_input_fail(err, "invalid_field", "text", "text must not be empty");
	if (*out_len > max_text)
		return dapi_input_fail(err, "invalid_field", "text",
		                       "text is %zu bytes; the limit is %zu", *out_len, max_text);
	if (!lang)
		return dapi_input_fail(err, "missing_field", "language", "language is required");
	if (!json_is_string(lang) ||
	    !dapi_language_normalize(json_string_value(lang), json_string_length(lang), language))
		return dapi_input_fail(err, "invalid_field", "language",
		                       "language " DAPI_LANG_RULE);
	return true;
}

bool ingress_message_req_parse(const char *body, size_t len, size_t max_text,
                               struct ingress_message_req *req, struct dapi_input_error *err)
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
			unknown_field(err, key, "text, language");
			goto fail;
		}
	}
	if (take_text(text, lang, max_text, &req->text, &req->text_len, req->language, err))
		return true;
fail:
	ingress_message_req_clear(req);
	return false;
}

void ingress_message_req_clear(struct ingress_message_req *req)
{
	json_decref(req->root);
	memset(req, 0, sizeof(*req));
}

bool ingress_consent_req_parse(const char *body, size_t len, bool *granted,
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

static const char *take_id(json_t *root, const char *name, struct dapi_input_error *err);

/* The optional requestId of an erasure request into out ("" when absent). */
static bool take_request_id(json_t *root, char out[DAPI_ID_MAX + 1], struct dapi_input_error *err)
{
	json_t *v = json_object_get(root, "requestId");
	*out = '\0';
	if (!v)
		return true;
	if (!json_is_string(v) || json_string_length(v) > DAPI_ID_MAX ||
	    !dapi_valid_idempotency_key(json_string_value(v)))
		return dapi_input_fail(err, "invalid_field", "requestId",
		                       "requestId " DAPI_IDEMPOTENCY_KEY_RULE);
	snprintf(out, DAPI_ID_MAX + 1, "%s", json_string_value(v));
	return true;
}

bool ingress_erasure_req_parse(const char *body, size_t len, char customer_id[DAPI_ID_MAX + 1],
                               char request_id[DAPI_ID_MAX + 1], struct dapi_input_error *err)
{
	json_t *root = load(body, len, err), *v;
	const char *key, *customer;
	bool ok = root != NULL;

	if (ok && !json_is_object(root))
		ok = dapi_input_fail(err, "invalid_json", NULL,
		                     "body must be an object {\"customerId\", \"requestId\"}");
	json_object_foreach(ok ? root : NULL, key, v)
	{
		if (ok && strcmp(key, "customerId") && strcmp(key, "requestId"))
			ok = unknown_field(err, key, "customerId, requestId");
	}
	ok = ok && (customer = take_id(root, "customerId", err)) &&
	     take_request_id(root, request_id, err);
	if (ok)
		snprintf(customer_id, DAPI_ID_MAX + 1, "%s", customer);
	json_decref(root);
	return ok;
}

/* ---- POST /batch ------------------------------------------------------------------ */

/* Only spaces, tabs and CRs. */
static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

bool ingress_ndjson_next(const char *body, size_t len, size_t *pos, size_t *lineno,
                         const char **line, size_t *line_len)
{
	while (*pos < len) {
		const char *start = body + *pos;
		const char *nl = memchr(start, '\n', len - *pos);
		size_t n = nl ? (size_t)(nl - start) : len - *pos;
		*pos += n + (nl != NULL);
		++*lineno;
		if (blank(start, n))
			continue;
		*line = start;
		*line_len = n > 0 && start[n - 1] == '\r' ? n - 1 : n;
		return true;
	}
	return false;
}

/* A string member that must be an id (customerId, dialogId); NULL with err when it is
 * missing or invalid. */
static const char *take_id(json_t *root, const char *name, struct dapi_input_error *err)
{
	json_t *v = json_object_get(root, name);
	if (!v) {
		dapi_input_fail(err, "missing_field", name, "%s is required", name);
		return NULL;
	}
	if (!json_is_string(v) || !dapi_valid_id(json_string_value(v), json_string_length(v))) {
		dapi_input_fail(err, "invalid_field", name, "%s " DAPI_ID_RULE, name);
		return NULL;
	}
	return json_string_value(v);
}

/* The members a line of its type may have, and the optional idempotency key. */
static bool check_members(struct ingress_batch_line *out, struct dapi_input_error *err)
{
	static const char *const message[] = { "customerId", "dialogId",       "text",
		                               "language",   "idempotencyKey", NULL };
	static const char *const consent[] = { "dialogId", "consent", "idempotencyKey", NULL };
	bool is_message = out->type == DAPI_EVENT_MESSAGE;
	const char *const *names = is_message ? message : consent;
	const char *key;
	json_t *v;

	json_object_foreach(out->root, key, v)
	{
		size_t i = 0;
		while (names[i] && strcmp(names[i], key) != 0)
			i++;
		if (!names[i])
			return unknown_field(err, key,
			                     is_message ? "customerId, dialogId, text, language, "
			                                  "idempotencyKey"
			                                : "dialogId, consent, idempotencyKey");
	}
	v = json_object_get(out->root, "idempotencyKey");
	if (v && (!json_is_string(v) || !dapi_valid_idempotency_key(json_string_value(v))))
		return dapi_input_fail(err, "invalid_field", "idempotencyKey",
		                       "idempotencyKey " DAPI_IDEMPOTENCY_KEY_RULE);
	out->idempotency_key = v ? json_string_value(v) : NULL;
	return true;
}

bool ingress_batch_line_parse(const char *line, size_t len, size_t max_text,
                              struct ingress_batch_line *out, struct dapi_input_error *err)
{
	json_t *consent;
	bool ok = false;

	memset(out, 0, sizeof(*out));
	if (!(out->root = load_as("line", line, len, err)))
		return false;
	if (!json_is_object(out->root)) {
		dapi_input_fail(err, "invalid_body", NULL, "a line must be a JSON object");
		goto done;
	}
	consent = json_object_get(out->root, "consent");
	out->type = consent ? DAPI_EVENT_CONSENT : DAPI_EVENT_MESSAGE;
	if (!check_members(out, err) || !(out->dialog_id = take_id(out->root, "dialogId", err)))
		goto done;
	if (consent) {
		if (!json_is_boolean(consent)) {
			dapi_input_fail(err, "invalid_field", "consent",
			                "consent must be true or false");
			goto done;
		}
		out->granted = json_is_true(consent);
		ok = true;
	} else {
		ok = (out->customer_id = take_id(out->root, "customerId", err)) &&
		     take_text(json_object_get(out->root, "text"),
		               json_object_get(out->root, "language"), max_text, &out->text,
		               &out->text_len, out->language, err);
	}
done:
	if (!ok)
		ingress_batch_line_clear(out);
	return ok;
}

void ingress_batch_line_clear(struct ingress_batch_line *line)
{
	json_decref(line->root);
	memset(line, 0, sizeof(*line));
}
