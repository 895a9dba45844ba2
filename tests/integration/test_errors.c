/* Integration: every client error of SPEC.md, over real HTTP, with its JSON error body. */
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

static struct stack S;

struct error_case {
	const char *service; /* "ingress" or "query" */
	const char *method;
	const char *path;
	const char *content_type; /* NULL: no Content-Type header */
	const char *body;         /* NULL: none */
	long status;
	const char *code;
	const char *field; /* expected "field", or NULL for none */
};

static const struct error_case cases[] = {
	/* ingress: paths and methods */
	{ "ingress", "POST", "/nope", "application/json", "{}", 404, "not_found", NULL },
	{ "ingress", "POST", "/data/c1", "application/json", "{}", 404, "not_found", NULL },
	{ "ingress", "GET", "/data/c1/d1", NULL, NULL, 405, "method_not_allowed", NULL },
	{ "ingress", "DELETE", "/consents/d1", NULL, NULL, 405, "method_not_allowed", NULL },
	{ "ingress", "POST", "/data/c%20x/d1", "application/json",
	  "{\"text\":\"a\",\"language\":\"EN\"}", 400, "invalid_path", "customerId" },
	{ "ingress", "POST", "/data/c1/d%3Bx", "application/json",
	  "{\"text\":\"a\",\"language\":\"EN\"}", 400, "invalid_path", "dialogId" },
	{ "ingress", "POST",
	  "/data/c1/"
	  "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
	  "d"
	  "ddddddddddddddddddddddddddddddddddddddddd",
	  "application/json", "{\"text\":\"a\",\"language\":\"EN\"}", 400, "invalid_path",
	  "dialogId" },
	{ "ingress", "POST", "/consents/%24where", "application/json", "true", 400, "invalid_path",
	  "dialogId" },
	/* ingress: bodies */
	{ "ingress", "POST", "/data/c1/d1", "text/plain", "{\"text\":\"a\",\"language\":\"EN\"}",
	  415, "unsupported_media_type", NULL },
	{ "ingress", "POST", "/consents/d1", "application/x-www-form-urlencoded", "true", 415,
	  "unsupported_media_type", NULL },
	{ "ingress", "POST", "/data/c1/d1", "application/json", "", 400, "invalid_json", NULL },
	{ "ingress", "POST", "/data/c1/d1", "application/json", "{\"text\":", 400, "invalid_json",
	  NULL },
	{ "ingress", "POST", "/data/c1/d1", "application/json",
	  "{\"text\":\"a\",\"language\":\"EN\"}garbage", 400, "invalid_json", NULL },
	{ "ingress", "POST", "/data/c1/d1", "application/json",
	  "{\"text\":\"a\",\"text\":\"a\",\"language\":\"EN\"}", 400, "invalid_json", NULL },
	{ "ingress", "POST", "/data/c1/d1", "application/json", "[]", 400, "invalid_body", NULL },
	{ "ingress", "POST", "/data/c1/d1", "application/json",
	  "{\"text\":\"a\",\"language\":\"EN\",\"mood\":\"ok\"}", 400, "unknown_field", NULL },
	{ "ingress", "POST", "/data/c1/d1", "application/json", "{\"language\":\"EN\"}", 400,
	  "missing_field", "text" },
	{ "ingress", "POST", "/data/c1/d1", "application/json", "{\"text\":\"a\"}", 400,
	  "missing_field", "language" },
	{ "ingress", "POST", "/data/c1/d1", "application/json",
	  "{\"text\":true,\"language\":\"EN\"}", 400, "invalid_field", "text" },
	{ "ingress", "POST", "/data/c1/d1", "application/json",
	  "{\"text\":\"\",\"language\":\"EN\"}", 400, "invalid_field", "text" },
	{ "ingress", "POST", "/data/c1/d1", "application/json",
	  "{\"text\":\"a\",\"language\":\"english\"}", 400, "invalid_field", "language" },
	{ "ingress", "POST", "/data/c1/d1", "application/json", "{\"text\":\"a\",\"language\":7}",
	  400, "invalid_field", "language" },
	{ "ingress", "POST", "/data/c1/d1", "application/json",
	  "{\"text\":\"\xc3\x28\",\"language\":\"EN\"}", 400, "invalid_json", NULL },
	{ "ingress", "POST", "/consents/d1", "application/json", "\"true\"", 400, "invalid_field",
	  "consent" },
	{ "ingress", "POST", "/consents/d1", "application/json", "{\"consent\":1}", 400,
	  "invalid_field", "consent" },
	{ "ingress", "POST", "/consents/d1", "application/json", "{\"granted\":true}", 400,
	  "missing_field", "consent" },
	{ "ingress", "POST", "/consents/d1", "application/json", "true,", 400, "invalid_json",
	  NULL },
	/* query */
	{ "query", "GET", "/nope", NULL, NULL, 404, "not_found", NULL },
	{ "query", "POST", "/data", "application/json", "{}", 405, "method_not_allowed", NULL },
	{ "query", "GET", "/data?limit=0", NULL, NULL, 400, "invalid_parameter", "limit" },
	{ "query", "GET", "/data?limit=1001", NULL, NULL, 400, "invalid_parameter", "limit" },
	{ "query", "GET", "/data?limit=ten", NULL, NULL, 400, "invalid_parameter", "limit" },
	{ "query", "GET", "/data?offset=-1", NULL, NULL, 400, "invalid_parameter", "offset" },
	{ "query", "GET", "/data?language=xx_YY", NULL, NULL, 400, "invalid_parameter",
	  "language" },
	{ "query", "GET", "/data?customerId=a%20b", NULL, NULL, 400, "invalid_parameter",
	  "customerId" },
	{ "query", "GET", "/data?customerId=a&customer_id=b", NULL, NULL, 400, "invalid_parameter",
	  "customerId" },
	{ "query", "GET", "/data?cursor=bm90LWEtY3Vyc29y", NULL, NULL, 400, "invalid_parameter",
	  "cursor" },
	{ "query", "GET", "/data?offset=100000001", NULL, NULL, 400, "invalid_parameter",
	  "offset" },
	{ "query", "GET", "/data?cursor=MTI6ZDE&cursor=MTI6ZDE", NULL, NULL, 400,
	  "invalid_parameter", "cursor" },
	{ "query", "GET", "/data?limit", NULL, NULL, 400, "invalid_parameter", "limit" },
	{ "query", "GET", "/data?colour=red", NULL, NULL, 400, "unknown_parameter", NULL },
	{ "query", "GET", "/data/export?limit=5", NULL, NULL, 400, "unknown_parameter", NULL },
	{ "query", "GET", "/data/c%20x/d1", NULL, NULL, 400, "invalid_path", "customerId" },
	{ "query", "GET", "/data/c1/d1?x=1", NULL, NULL, 400, "unknown_parameter", NULL },
	{ "query", "GET", "/data/c1/no-such-dialog", NULL, NULL, 404, "not_found", NULL },
};

static int setup(void **state)
{
	stack_ready(&S);
	return 0;
}

static void check_case(const struct error_case *c)
{
	char url[1024], ct[128];
	const char *headers[] = { NULL, NULL };
	struct http_res r;

	snprintf(url, sizeof(url), "%s%s", !strcmp(c->service, "ingress") ? S.ingress : S.query,
	         c->path);
	if (c->content_type) {
		snprintf(ct, sizeof(ct), "Content-Type: %s", c->content_type);
		headers[0] = ct;
	}
	assert_int_equal(
	        http_do(c->method, url, c->body, c->body ? strlen(c->body) : 0, headers, &r), 0);
	if (r.status != c->status)
		fail_msg("%s %s: status %ld, expected %ld (%s)", c->method, c->path, r.status,
		         c->status, r.body);
	json_t *j = http_json(&r), *err = json_object_get(j, "error");
	if (!json_is_object(err))
		fail_msg("%s %s: no JSON error body: %s", c->method, c->path, r.body);
	assert_string_equal(json_string_value(json_object_get(err, "code")), c->code);
	assert_true(json_string_length(json_object_get(err, "message")) > 0);
	if (c->field)
		assert_string_equal(json_string_value(json_object_get(err, "field")), c->field);
	else
		assert_null(json_object_get(err, "field"));
	assert_non_null(strstr(r.headers, "Content-Type: application/json"));
	if (c->status == 405)
		assert_non_null(strstr(r.headers, "Allow: "));
	json_decref(j);
	http_res_free(&r);
}

static void every_client_error_is_precise(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_case(&cases[i]);
}

static void oversized_bodies_get_413(void **state)
{
	size_t n = 70 * 1024;
	char *big = malloc(n), url[256];
	const char *plain[] = { "Content-Type: application/json", NULL };
	const char *chunked[] = { "Content-Type: application/json", "Transfer-Encoding: chunked",
		                  NULL };
	struct http_res r;

	memset(big, 'a', n);
	snprintf(url, sizeof(url), "%s/data/c1/d1", S.ingress);
	assert_int_equal(http_do("POST", url, big, n, plain, &r), 0);
	assert_int_equal(r.status, 413);
	assert_non_null(strstr(r.body, "\"body_too_large\""));
	http_res_free(&r);
	assert_int_equal(http_do("POST", url, big, n, chunked, &r), 0);
	assert_int_equal(r.status, 413);
	http_res_free(&r);
	/* text over 16 KiB inside a body under 64 KiB is a 400 on the field */
	char *body = malloc(20000);
	int off = snprintf(body, 20000, "{\"language\":\"EN\",\"text\":\"");
	memset(body + off, 'x', 16385);
	strcpy(body + off + 16385, "\"}");
	assert_int_equal(http_do("POST", url, body, strlen(body), plain, &r), 0);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "\"field\":\"text\""));
	http_res_free(&r);
	free(body);
	free(big);
}

static void missing_content_type_is_accepted(void **state)
{
	char url[256];
	struct http_res r;
	const char *body = "{\"text\":\"no content type\",\"language\":\"EN\"}";
	snprintf(url, sizeof(url), "%s/data/%s-c/%s-noct", S.ingress, run_id(), run_id());
	assert_int_equal(http_do("POST", url, body, strlen(body),
	                         (const char *[]){ "Content-Type:", NULL }, &r),
	                 0);
	assert_int_equal(r.status, 202);
	http_res_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_client_error_is_precise),
		cmocka_unit_test(oversized_bodies_get_413),
		cmocka_unit_test(missing_content_type_is_accepted),
	};
	return harness_run_tests(tests, setup, NULL);
}
