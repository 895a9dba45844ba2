/* Integration: the 401/403 matrix on every route of both services, taken from the routing
 * tables compiled into the programs, so a new route cannot skip it: each role's token is
 * refused (403) wherever the route wants another role. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ingress.h"
#include "query.h"

static struct stack S;

static int setup(void **state)
{
	stack_ready(&S);
	return 0;
}

/* The route's path with each "*" replaced by an id. */
static void concrete_path(const char *pattern, char *out, size_t size)
{
	size_t o = 0;
	for (const char *p = pattern; *p && o + 8 < size; p++) {
		if (*p == '*') {
			memcpy(out + o, "authid", 6);
			o += 6;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
}

static long call(const char *base, const struct dapi_http_route *rt, const char *auth,
                 struct http_res *r)
{
	char url[512], path[256], hdr[256];
	const char *headers[] = { "Content-Type: application/json", hdr, NULL };
	const char *body = !(rt->flags & DAPI_ROUTE_BODY) ? NULL
	                   : strstr(rt->path, "consents") ? "true"
	                   : strstr(rt->path, "privacy")
	                           ? "{\"customerId\":\"authid\"}"
	                           : "{\"text\":\"auth\",\"language\":\"EN\"}";
	concrete_path(rt->path, path, sizeof(path));
	snprintf(url, sizeof(url), "%s%s", base, path);
	snprintf(hdr, sizeof(hdr), "Authorization:%s%s", auth ? " " : "", auth ? auth : "");
	assert_int_equal(http_do(rt->method, url, body, body ? strlen(body) : 0, headers, r), 0);
	return r->status;
}

static void expect_error(const char *base, const struct dapi_http_route *rt, const char *auth,
                         long status, const char *code)
{
	struct http_res r;
	if (call(base, rt, auth, &r) != status)
		fail_msg("%s %s with \"%s\": %ld, expected %ld", rt->method, rt->path,
		         auth ? auth : "(none)", r.status, status);
	assert_non_null(strstr(r.body, code));
	if (status == 401)
		assert_non_null(strstr(r.headers, "WWW-Authenticate: Bearer"));
	http_res_free(&r);
}

/* "Bearer <the stack's token of role>" */
static void bearer(enum dapi_role role, char out[200])
{
	snprintf(out, 200, "Bearer %s",
	         role == DAPI_ROLE_WRITER   ? S.writer_token
	         : role == DAPI_ROLE_READER ? S.reader_token
	                                    : S.privacy_token);
}

static void matrix(const char *base, const struct dapi_http_route *routes, size_t n)
{
	static const enum dapi_role roles[] = { DAPI_ROLE_WRITER, DAPI_ROLE_READER,
		                                DAPI_ROLE_PRIVACY };
	char own_hdr[200], other_hdr[200];
	for (size_t i = 0; i < n; i++) {
		const struct dapi_http_route *rt = &routes[i];
		struct http_res r;
		if (rt->role == DAPI_ROLE_PUBLIC) {
			assert_int_equal(call(base, rt, NULL, &r), 200);
			http_res_free(&r);
			continue;
		}
		expect_error(base, rt, NULL, 401, "\"unauthorized\"");
		expect_error(base, rt, "Bearer", 401, "\"unauthorized\"");
		expect_error(base, rt, "Bearer not-a-token", 401, "\"unauthorized\"");
		expect_error(base, rt, "Basic d3JpdGVyOnNlY3JldA==", 401, "\"unauthorized\"");
		for (size_t k = 0; k < sizeof(roles) / sizeof(roles[0]); k++) {
			if (roles[k] == rt->role)
				continue;
			bearer(roles[k], other_hdr);
			expect_error(base, rt, other_hdr, 403, "\"forbidden\"");
		}
		bearer((enum dapi_role)rt->role, own_hdr);
		long st = call(base, rt, own_hdr, &r);
		if (st == 401 || st == 403 || st >= 500)
			fail_msg("%s %s with its own role: %ld %s", rt->method, rt->path, st,
			         r.body);
		http_res_free(&r);
	}
}

static void every_ingress_route(void **state)
{
	matrix(S.ingress, ingress_routes, ingress_nroutes);
}

static void every_query_route(void **state)
{
	matrix(S.query, query_routes, query_nroutes);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_ingress_route),
		cmocka_unit_test(every_query_route),
	};
	return harness_run_tests(tests, setup, NULL);
}
