#include "params.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void query_params_init(struct query_params *p, bool paging)
{
	memset(p, 0, sizeof(*p));
	p->paging = paging;
	p->limit = QUERY_LIMIT_DEFAULT;
	p->after_total = -1;
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

static bool twice(struct dapi_input_error *err, const char *field)
{
	return dapi_input_fail(err, "invalid_parameter", field, "%s given twice", field);
}

static bool set_language(struct query_params *p, const char *v, struct dapi_input_error *err)
{
	if (p->language[0])
		return twice(err, "language");
	if (!dapi_language_normalize(v, strlen(v), p->language))
		return dapi_input_fail(err, "invalid_parameter", "language",
		                       "language " DAPI_LANG_RULE);
	return true;
}

static bool set_customer(struct query_params *p, const char *v, struct dapi_input_error *err)
{
	if (p->customer_id[0])
		return twice(err, "customerId");
	if (!dapi_valid_id(v, strlen(v)))
		return dapi_input_fail(err, "invalid_parameter", "customerId",
		                       "customerId " DAPI_ID_RULE);
	strcpy(p->customer_id, v);
	return true;
}

static bool set_limit(struct query_params *p, const char *v, struct dapi_input_error *err)
{
	if (p->has_limit)
		return twice(err, "limit");
	if (!parse_uint(v, 1, QUERY_LIMIT_MAX, &p->limit))
		return dapi_input_fail(err, "invalid_parameter", "limit",
		                       "limit must be a whole number from 1 to %d",
		                       QUERY_LIMIT_MAX);
	return p->has_limit = true;
}

static bool set_offset(struct query_params *p, const char *v, struct dapi_input_error *err)
{
	if (p->has_offset)
		return twice(err, "offset");
	if (!parse_uint(v, 0, QUERY_OFFSET_MAX, &p->offset))
		return dapi_input_fail(err, "invalid_parameter", "offset",
		                       "offset must be a whole number from 0 to %d",
		                       QUERY_OFFSET_MAX);
	return p->has_offset = true;
}

static bool set_cursor(struct query_params *p, const char *v, struct dapi_input_error *err)
{
	if (p->has_cursor)
		return twice(err, "cursor");
	if (!query_cursor_decode(v, &p->after_ms, p->after_id, &p->after_total))
		return dapi_input_fail(err, "invalid_parameter", "cursor",
		                       "cursor is not a nextCursor value from this API");
	return p->has_cursor = true;
}

/* The parameters: name, the field errors name, whether only pages take it, its setter. */
static const struct param {
	const char *name, *field;
	bool paging_only;
	bool (*set)(struct query_params *, const char *, struct dapi_input_error *);
} params[] = {
	{ "language", "language", false, set_language },
	{ "customerId", "customerId", false, set_customer },
	{ "customer_id", "customerId", false, set_customer },
	{ "limit", "limit", true, set_limit },
	{ "offset", "offset", true, set_offset },
	{ "cursor", "cursor", true, set_cursor },
};

bool query_params_add(struct query_params *p, const char *key, const char *value,
                      struct dapi_input_error *err)
{
	const struct param *param = NULL;

	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]) && !param; i++)
		if (!strcmp(key, params[i].name) && (p->paging || !params[i].paging_only))
			param = &params[i];
	if (!param)
		return dapi_input_fail(
		        err, "unknown_parameter", NULL,
		        p->paging ? "unknown parameter; allowed: language, "
		                    "customerId, limit, offset, cursor"
		                  : "unknown parameter; allowed: language, customerId");
	if (!value || !*value)
		return dapi_input_fail(err, "invalid_parameter", param->field, "%s needs a value",
		                       param->field);
	return param->set(p, value, err);
}

bool query_params_parse(struct query_params *p, const char *qs, struct dapi_input_error *err)
{
	char buf[1024], *save = NULL;

	if (strlen(qs) >= sizeof(buf))
		return dapi_input_fail(err, "invalid_parameter", NULL, "query string too long");
	strcpy(buf, qs);
	for (char *arg = strtok_r(buf, "&", &save); arg; arg = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(arg, '=');
		if (eq)
			*eq = '\0';
		if (!query_params_add(p, arg, eq ? eq + 1 : NULL, err))
			return false;
	}
	return true;
}

/* ---- cursor ----------------------------------------------------------------------- */

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

bool query_cursor_encode(int64_t ms, const char *dialog_id, int64_t total,
                         char out[QUERY_CURSOR_MAX])
{
	char raw[DAPI_ID_MAX + 64];
	size_t n, o = 0;
	uint32_t acc = 0;
	int bits = 0;

	out[0] = '\0';
	if (!dapi_valid_id(dialog_id, strlen(dialog_id)))
		return false;
	/* "t", 19 digits, a colon, 20 digits, a colon and DAPI_ID_MAX bytes: it fits, and so
	 * does its base64 */
	if (total >= 0)
		n = (size_t)snprintf(raw, sizeof(raw), "t%lld:%lld:%s", (long long)total,
		                     (long long)ms, dialog_id);
	else
		n = (size_t)snprintf(raw, sizeof(raw), "%lld:%s", (long long)ms, dialog_id);
	assert(n < sizeof(raw) && (n * 4 + 2) / 3 < QUERY_CURSOR_MAX);
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

/* Decodes unpadded base64url into raw (NUL-terminated); false for any other character,
 * non-canonical trailing bits or a decoded NUL. */
static bool b64url_decode(const char *token, size_t len, char raw[QUERY_CURSOR_MAX])
{
	size_t n = 0;
	uint32_t acc = 0;
	int bits = 0;

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
	return !memchr(raw, '\0', n);
}

/* "t<total>:" at the start of raw into *total (-1 without); *rest after it. */
static bool read_total(char *raw, int64_t *total, char **rest)
{
	char *end;
	*total = -1;
	*rest = raw;
	if (raw[0] != 't')
		return true;
	if (!isdigit((unsigned char)raw[1]))
		return false;
	errno = 0;
	*total = strtoll(raw + 1, &end, 10);
	*rest = end + 1;
	return !errno && *end == ':';
}

bool query_cursor_decode(const char *token, int64_t *ms, char id[DAPI_ID_MAX + 1], int64_t *total)
{
	char raw[QUERY_CURSOR_MAX], canonical[QUERY_CURSOR_MAX], *colon, *end, *pos;
	size_t len = strlen(token);

	if (len == 0 || len >= QUERY_CURSOR_MAX || len % 4 == 1 ||
	    !b64url_decode(token, len, raw) || !read_total(raw, total, &pos))
		return false;
	colon = strchr(pos, ':');
	if (!colon || colon == pos)
		return false;
	*colon = '\0';
	errno = 0;
	*ms = strtoll(pos, &end, 10);
	if (errno || *end || !(isdigit((unsigned char)pos[0]) || pos[0] == '-') ||
	    !dapi_valid_id(colon + 1, strlen(colon + 1)))
		return false;
	strcpy(id, colon + 1);
	/* Only the token we would have issued: one position, one token ("07:d" is not "7:d"). */
	query_cursor_encode(*ms, id, *total, canonical);
	return strcmp(canonical, token) == 0;
}
