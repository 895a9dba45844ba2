/* Unit tests: the ingress's body validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"

static void expect_message_error(const char *body, size_t max_text, const char *code,
                                 const char *field)
{
	struct dapi_message_req req;
	struct dapi_input_error err = { 0 };
	assert_false(dapi_message_req_parse(body, strlen(body), max_text, &req, &err));
	assert_string_equal(err.code, code);
	if (field)
		assert_string_equal(err.field, field);
	else
		assert_null(err.field);
	assert_null(req.root);
}

static void a_valid_message_is_parsed(void **state)
{
	struct dapi_message_req req;
	struct dapi_input_error err;
	const char *body = "{\"language\": \"pt-br\", \"text\": \"ol\\u00e1 \\\"x\\\"\"}";
	assert_true(dapi_message_req_parse(body, strlen(body), 100, &req, &err));
	assert_string_equal(req.text, "ol\xc3\xa1 \"x\"");
	assert_int_equal(req.text_len, 8);
	assert_string_equal(req.language, "PT-BR");
	dapi_message_req_clear(&req);
}

static void message_errors_are_precise(void **state)
{
	expect_message_error("", 100, "invalid_json", NULL);
	expect_message_error("{", 100, "invalid_json", NULL);
	expect_message_error("[1]", 100, "invalid_body", NULL);
	expect_message_error("\"text\"", 100, "invalid_body", NULL);
	expect_message_error("{\"text\":\"a\",\"language\":\"EN\"} {}", 100, "invalid_json", NULL);
	expect_message_error("{\"text\":\"a\",\"text\":\"b\",\"language\":\"EN\"}", 100,
	                     "invalid_json", NULL);
	expect_message_error("{\"text\":\"a\",\"language\":\"EN\",\"extra\":1}", 100,
	                     "unknown_field", NULL);
	expect_message_error("{\"language\":\"EN\"}", 100, "missing_field", "text");
	expect_message_error("{\"text\":\"a\"}", 100, "missing_field", "language");
	expect_message_error("{\"text\":5,\"language\":\"EN\"}", 100, "invalid_field", "text");
	expect_message_error("{\"text\":null,\"language\":\"EN\"}", 100, "invalid_field", "text");
	expect_message_error("{\"text\":\"\",\"language\":\"EN\"}", 100, "invalid_field", "text");
	expect_message_error("{\"text\":\"abcd\",\"language\":\"EN\"}", 3, "invalid_field", "text");
	expect_message_error("{\"text\":\"a\",\"language\":\"E\"}", 100, "invalid_field",
	                     "language");
	expect_message_error("{\"text\":\"a\",\"language\":[\"EN\"]}", 100, "invalid_field",
	                     "language");
	expect_message_error("{\"text\":\"\\u0000\",\"language\":\"EN\"}", 100, "invalid_json",
	                     NULL);
	expect_message_error("{\"text\":\"\xff\",\"language\":\"EN\"}", 100, "invalid_json", NULL);
	expect_message_error("{\"text\":\"\\ud800\",\"language\":\"EN\"}", 100, "invalid_json",
	                     NULL);
}

static void text_at_the_limit_is_accepted(void **state)
{
	struct dapi_message_req req;
	struct dapi_input_error err;
	char body[64];
	snprintf(body, sizeof(body), "{\"text\":\"%s\",\"language\":\"EN\"}", "abc");
	assert_true(dapi_message_req_parse(body, strlen(body), 3, &req, &err));
	dapi_message_req_clear(&req);
}

static void consent_bodies(void **state)
{
	struct dapi_input_error err = { 0 };
	bool granted = false;
	assert_true(dapi_consent_req_parse("true", 4, &granted, &err));
	assert_true(granted);
	assert_true(dapi_consent_req_parse(" false ", 7, &granted, &err));
	assert_false(granted);
	assert_true(dapi_consent_req_parse("{\"consent\":true}", 16, &granted, &err));
	assert_true(granted);

	assert_false(dapi_consent_req_parse("\"yes\"", 5, &granted, &err));
	assert_string_equal(err.code, "invalid_field");
	assert_false(dapi_consent_req_parse("1", 1, &granted, &err));
	assert_string_equal(err.code, "invalid_field");
	assert_false(dapi_consent_req_parse("{}", 2, &granted, &err));
	assert_string_equal(err.code, "missing_field");
	assert_false(dapi_consent_req_parse("{\"consent\":true,\"x\":1}", 22, &granted, &err));
	assert_string_equal(err.code, "unknown_field");
	assert_false(dapi_consent_req_parse("{\"consent\":\"true\"}", 18, &granted, &err));
	assert_string_equal(err.code, "invalid_field");
	assert_false(dapi_consent_req_parse("true false", 10, &granted, &err));
	assert_string_equal(err.code, "invalid_json");
	assert_false(dapi_consent_req_parse("", 0, &granted, &err));
	assert_string_equal(err.code, "invalid_json");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_valid_message_is_parsed),
		cmocka_unit_test(message_errors_are_precise),
		cmocka_unit_test(text_at_the_limit_is_accepted),
		cmocka_unit_test(consent_bodies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
