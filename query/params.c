#include "params.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dapi_query_params_init(struct dapi_query_params *p, bool paging)
{
	memset(p, 0, sizeof(*p));
	p->paging = paging;
	p->limit = DAPI_LIMIT_DEFAULT;
}

static bool parse_uint(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;
	if (!*s || strlen(s) > 12)
		return false;
	for (const char *c = s; *c; c++)
		if (!isdigit((unsigned char)*c))
			return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

bool dapi_query_params_add(struct dapi_query_params *p, const char *key, const char *value,
                           struct dapi_input_error *err)
{
	bool customer = !strcmp(key, "customerId") || !strcmp(key, "customer_id");
	bool paging_key = !strcmp(key, "limit") || !strcmp(key, "offset") || !strcmp(key, "cursor");
	const char *field = customer ? "customerId" : key;

	if (!customer && strcmp(key, "language") != 0 && !(paging_key && p->paging))
		return dapi_input_fail(
		        err, "unknown_parameter", NULL,
		        p->paging ? "unknown parameter; allowed: language, "
		                    "customerId, limit, offset, cursor"
		                  : "unknown parameter; allowed: language, customerId");
	if (!value || !*value)
		return dapi_input_fail(err, "invalid_parameter", field, "%s needs a value", field);
	if (!strcmp(key, "language")) {
		if (p->language[0])
			return dapi_input_fail(err, "invalid_parameter", field,
			                       "language given twice");
		if (!dapi_language_normalize(value, strlen(value), p->language))
			return dapi_input_fail(err, "invalid_parameter", field,
			                       "language " DAPI_LANG_RULE);
	} else if (customer) {
		if (p->customer_id[0])
			return dapi_input_fail(err, "invalid_parameter", field,
			                       "customerId given twice");
		if (!dapi_valid_id(value, strlen(value)))
			return dapi_input_fail(err, "invalid_parameter", field,
			                       "customerId " DAPI_ID_RULE);
		strcpy(p->customer_id, value);
	} else if (!strcmp(key, "limit")) {
		if (p->has_limit)
			return dapi_input_fail(err, "invalid_parameter", field,
			                       "limit given twice");
		if (!parse_uint(value, 1, DAPI_LIMIT_MAX, &p->limit))
			return dapi_input_fail(err, "invalid_parameter", field,
			                       "limit must be a whole number from 1 to %d",
			                       DAPI_LIMIT_MAX);
		p->has_limit = true;
	} else if (!strcmp(key, "offset")) {
		if (p->has_offset)
			return dapi_input_fail(err, "invalid_parameter", field,
			                       "offset given twice");
		if (!parse_uint(value, 0, DAPI_OFFSET_MAX, &p->offset))
			return dapi_input_fail(err, "invalid_parameter", field,
			                       "offset must be a whole number from 0 to %d",
			                       DAPI_OFFSET_MAX);
		p->has_offset = true;
	} else {
		if (p->has_cursor)
			return dapi_input_fail(err, "invalid_parameter", field,
			                       "cursor given twice");
		if (!dapi_cursor_decode(value, &p->after_ms, p->after_id))
			return dapi_input_fail(err, "invalid_parameter", field,
			                       "cursor is not a nextCursor value from this API");
		p->has_cursor = true;
	}
	return true;
}

bool dapi_query_params_parse(struct dapi_query_params *p, const char *qs,
                             struct dapi_input_error *err)
{
	char buf[1024], *save = NULL;

	if (strlen(qs) >= sizeof(buf))
		return dapi_input_fail(err, "invalid_parameter", NULL, "query string too long");
	strcpy(buf, qs);
	for (char *arg = strtok_r(buf, "&", &save); arg; arg = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(arg, '=');
		if (eq)
			*eq = '\0';
		if (!dapi_query_params_add(p, arg, eq ? eq + 1 : NULL, err))
			return false;
	}
	return true;
}

/* ---- cursor ----------------------------------------------------------------------- */

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

bool dapi_cursor_encode(int64_t ms, const char *dialog_id, char out[DAPI_CURSOR_MAX])
{
	char raw[DAPI_ID_MAX + 32];
	size_t n, o = 0;
	uint32_t acc = 0;
	int bits = 0;

	out[0] = '\0';
	if (!dapi_valid_id(dialog_id, strlen(dialog_id)))
		return false;
	/* at most 20 digits, a colon and DAPI_ID_MAX bytes: it fits, and so does its base64 */
	n = (size_t)snprintf(raw, sizeof(raw), "%lld:%s", (long long)ms, dialog_id);
	assert(n < sizeof(raw) && (n * 4 + 2) / 3 < DAPI_CURSOR_MAX);
	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | (uint8_t)raw[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = b64url[(acc >> bits) & 63];
		}
	}
	if (bits > 0)
		out[o++] = b64url[(acc << (6 - bits)) & 63];
	out[o] = '\0';
	return true;
}

bool dapi_cursor_decode(const char *token, int64_t *ms, char id[DAPI_ID_MAX + 1])
{
	char raw[DAPI_CURSOR_MAX];
	size_t len = strlen(token), n = 0;
	uint32_t acc = 0;
	int bits = 0;
	char *colon, *end;

	if (len == 0 || len >= DAPI_CURSOR_MAX || len % 4 == 1)
		return false;
	for (size_t i = 0; i < len; i++) {
		const char *pos = token[i] ? strchr(b64url, token[i]) : NULL;
		if (!pos)
			return false;
		acc = (acc << 6) | (uint32_t)(pos - b64url);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			raw[n++] = (char)((acc >> bits) & 0xff);
		}
	}
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
		return false; /* non-canonical trailing bits */
	raw[n] = '\0';
	if (memchr(raw, '\0', n))
		return false;
	colon = strchr(raw, ':');
	if (!colon || colon == raw)
		return false;
	*colon = '\0';
	errno = 0;
	*ms = strtoll(raw, &end, 10);
	if (errno || *end || !(isdigit((unsigned char)raw[0]) || raw[0] == '-'))
		return false;
	if (!dapi_valid_id(colon + 1, strlen(colon + 1)))
		return false;
	strcpy(id, colon + 1);
	/* Only the token we would have issued: one position, one token ("07:d" is not "7:d"). */
	char canonical[DAPI_CURSOR_MAX];
	dapi_cursor_encode(*ms, id, canonical);
	return strcmp(canonical, token) == 0;
}
