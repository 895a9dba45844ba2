/* libFuzzer target: what the HTTP glue reads from a request before any handler runs, and
 * the time parser. The input is split at its first two newlines into a method, a path and
 * a header value; each piece goes to the parser that takes it:
 *   - the path matcher, against both services' routing tables: a match is the route's own
 *     method, captures exactly its "*" segments, each non-empty and free of '/'; a miss
 *     lists in Allow only methods that route the path;
 *   - the Content-Type check: accepted only for JSON (or no header);
 *   - the Authorization parser, against a known token: accepted only for that token;
 *   - the RFC 3339 parser: whatever it accepts formats and parses back to the same time. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "http.h"
#include "ingress.h"
#include "query.h"
#include "timefmt.h"

#define TOKEN "fuzz-token-0123456789"

static void check_routes(const struct dapi_http_route *routes, size_t n, const char *method,
                         const char *path)
{
	char *params[DAPI_HTTP_MAX_PARAMS] = { NULL };
	char allow[64];
	const struct dapi_http_route *rt =
	        dapi_http_route_find(routes, n, method, path, params, allow, sizeof(allow));
	int stars = 0;

	if (rt) {
		if (strcmp(rt->method, method) != 0)
			abort();
		for (const char *p = rt->path; (p = strchr(p, '*')); p++)
			stars++;
		for (int i = 0; i < DAPI_HTTP_MAX_PARAMS; i++) {
			if ((i < stars) != (params[i] != NULL))
				abort(); /* one capture per "*" */
			if (params[i] && (!params[i][0] || strchr(params[i], '/')))
				abort();
			free(params[i]);
		}
	} else {
		for (int i = 0; i < DAPI_HTTP_MAX_PARAMS; i++)
			if (params[i])
				abort(); /* a miss leaves nothing behind */
		if (strlen(allow) >= sizeof(allow))
			abort();
		/* every method in Allow routes this path */
		char copy[64], *save = NULL;
		strcpy(copy, allow);
		for (char *m = strtok_r(copy, ", ", &save); m; m = strtok_r(NULL, ", ", &save)) {
			char *got[DAPI_HTTP_MAX_PARAMS] = { NULL }, a2[64];
			if (!dapi_http_route_find(routes, n, m, path, got, a2, sizeof(a2)))
				abort();
			for (int i = 0; i < DAPI_HTTP_MAX_PARAMS; i++)
				free(got[i]);
		}
	}
}

static void check_content_type(const char *ct)
{
	const char *p = ct;
	while (*p == ' ')
		p++;
	if (dapi_http_content_type_ok(ct, false) && strncasecmp(p, "application/json", 16) != 0)
		abort();
	if (dapi_http_content_type_ok(ct, true) && strncasecmp(p, "application/json", 16) != 0 &&
	    strncasecmp(p, "application/x-ndjson", 20) != 0)
		abort();
}

static void check_auth(const struct dapi_auth *auth, const char *header)
{
	enum dapi_auth_result r = dapi_auth_check(auth, header, DAPI_ROLE_WRITER);
	const char *tok = strchr(header, ' ');
	if (r == DAPI_AUTH_OK && (!tok || strncasecmp(header, "Bearer", 6) != 0))
		abort();
	if (r == DAPI_AUTH_OK) {
		while (*tok == ' ')
			tok++;
		/* only the configured token is accepted (spaces around it are not part of it) */
		if (strncmp(tok, TOKEN, strlen(TOKEN)) != 0 ||
		    strspn(tok + strlen(TOKEN), " ") != strlen(tok + strlen(TOKEN)))
			abort();
	}
	if (dapi_auth_check(auth, header, DAPI_ROLE_READER) == DAPI_AUTH_OK)
		abort(); /* the token has the writer role only */
}

static void check_time(const char *s)
{
	int64_t ms, back;
	char buf[DAPI_TIME_BUFSZ];
	if (!dapi_time_parse(s, &ms))
		return;
	dapi_time_format_ms(ms, buf);
	if (!dapi_time_parse(buf, &back) || back != ms)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dapi_auth *auth;
	char *s = malloc(size + 1), *method, *path, *value;

	if (!auth) {
		char errstr[128];
		auth = dapi_auth_new();
		if (dapi_auth_load_spec(auth, "writer:" TOKEN, errstr, sizeof(errstr)) != 0)
			abort();
	}
	memcpy(s, data, size);
	s[size] = '\0';
	method = s;
	path = strchr(method, '\n');
	path = path ? (*path = '\0', path + 1) : method + strlen(method);
	value = strchr(path, '\n');
	value = value ? (*value = '\0', value + 1) : path + strlen(path);

	check_routes(ingress_routes, ingress_nroutes, method, path);
	check_routes(query_routes, query_nroutes, method, path);
	check_content_type(value);
	check_auth(auth, value);
	check_time(value);
	free(s);
	return 0;
}
