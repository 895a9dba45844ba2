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
	struct ingress_message_req req;
	struct dapi_input_error err = { 0 };
	assert_false(ingress_message_req_parse(body, strlen(body), max_text, &req, &err));
	assert_string_equal(err.code, code);
	if (field)
		assert_string_equal(err.field, field);
	else
		assert_null(err.field);
	assert_null(req.root);
}

static void a_valid_message_is_parsed(void **state)
{
	struct ingress_message_req req;
	struct dapi_input_error err;
	const char *body = "{\"language\": \"pt-br\", \"text\": \"ol\\u00e1 \\\"x\\\"\"}";
	assert_true(ingress_message_req_parse(body, strlen(body), 100, &req, &err));
	assert_string_equal(req.text, "ol\xc3\xa1 \"x\"");
	assert_int_equal(req.text_len, 8);
	assert_string_equal(req.language, "PT-BR");
	ingress_message_req_clear(&req);
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
	struct ingress_message_req req;
	struct dapi_input_error err;
	char body[64];
	snprintf(body, sizeof(body), "{\"text\":\"%s\",\"language\":\"EN\"}", "abc");
	assert_true(ingress_message_req_parse(body, strlen(body), 3, &req, &err));
	ingress_message_req_clear(&req);
}

static void consent_bodies(void **state)
{
	struct dapi_input_error err = { 0 };
	bool granted = false;
	assert_true(ingress_consent_req_parse("true", 4, &granted, &err));
	assert_true(granted);
	assert_true(ingress_consent_req_parse(" false ", 7, &granted, &err));
	assert_false(granted);
	assert_true(ingress_consent_req_parse("{\"consent\":true}", 16, &granted, &err));
	assert_true(granted);

	assert_false(ingress_consent_req_parse("\"yes\"", 5, &granted, &err));
	assert_string_equal(err.code, "invalid_field");
	assert_false(ingress_consent_req_parse("1", 1, &granted, &err));
	assert_string_equal(err.code, "invalid_field");
	assert_false(ingress_consent_req_parse("{}", 2, &granted, &err));
	assert_string_equal(err.code, "missing_field");
	assert_false(ingress_consent_req_parse("{\"consent\":true,\"x\":1}", 22, &granted, &err));
	assert_string_equal(err.code, "unknown_field");
	assert_false(ingress_consent_req_parse("{\"consent\":\"true\"}", 18, &granted, &err));
	assert_string_equal(err.code, "invalid_field");
	assert_false(ingress_consent_req_parse("true false", 10, &granted, &err));
	assert_string_equal(err.code, "invalid_json");
	assert_false(ingress_consent_req_parse("", 0, &granted, &err));
	assert_string_equal(err.code, "invalid_json");
}

/* NDJSON: blank lines (spaces, tabs, a CR) are skipped but counted, CRLF line ends and a
 * missing final newline are fine. */
static void ndjson_lines_are_numbered(void **state)
{
	const char body[] = "{\"a\":1}\r\n\n  \t\r\n{\"b\":2}\n{\"c\":3}";
	size_t pos = 0, lineno = 0, len;
	const char *line;

	assert_true(ingress_ndjson_next(body, sizeof(body) - 1, &pos, &lineno, &line, &len));
	assert_int_equal(lineno, 1);
	assert_memory_equal(line, "{\"a\":1}", len);
	assert_int_equal(len, 7);
	assert_true(ingress_ndjson_next(body, sizeof(body) - 1, &pos, &lineno, &line, &len));
	assert_int_equal(lineno, 4);
	assert_int_equal(len, 7);
	assert_memory_equal(line, "{\"b\":2}", len);
	assert_true(ingress_ndjson_next(body, sizeof(body) - 1, &pos, &lineno, &line, &len));
	assert_int_equal(lineno, 5);
	assert_memory_equal(line, "{\"c\":3}", len);
	assert_false(ingress_ndjson_next(body, sizeof(body) - 1, &pos, &lineno, &line, &len));
	pos = lineno = 0;
	assert_false(ingress_ndjson_next("\n \n", 3, &pos, &lineno, &line, &len));
	assert_int_equal(lineno, 2);
}

static void batch_lines_are_parsed(void **state)
{
	struct ingress_batch_line l;
	struct dapi_input_error err;
	const char *msg = "{\"customerId\":\"c1\",\"dialogId\":\"d1\",\"text\":\"hi\","
	                  "\"language\":\"pt-br\",\"idempotencyKey\":\"k 1\"}";
	const char *consent = "{\"consent\":false,\"dialogId\":\"d1\"}";

	assert_true(ingress_batch_line_parse(msg, strlen(msg), 100, &l, &err));
	assert_int_equal(l.type, DAPI_EVENT_MESSAGE);
	assert_string_equal(l.customer_id, "c1");
	assert_string_equal(l.dialog_id, "d1");
	assert_string_equal(l.text, "hi");
	assert_int_equal(l.text_len, 2);
	assert_string_equal(l.language, "PT-BR");
	assert_string_equal(l.idempotency_key, "k 1");
	ingress_batch_line_clear(&l);
	assert_null(l.root);

	assert_true(ingress_batch_line_parse(consent, strlen(consent), 100, &l, &err));
	assert_int_equal(l.type, DAPI_EVENT_CONSENT);
	assert_false(l.granted);
	assert_null(l.idempotency_key);
	assert_null(l.customer_id);
	ingress_batch_line_clear(&l);
}

static void expect_line_error(const char *line, const char *code, const char *field)
{
	struct ingress_batch_line l;
	struct dapi_input_error err = { 0 };
	assert_false(ingress_batch_line_parse(line, strlen(line), 5, &l, &err));
	assert_string_equal(err.code, code);
	if (field)
		assert_string_equal(err.field, field);
	else
		assert_null(err.field);
	assert_null(l.root);
}

static void batch_line_errors_are_precise(void **state)
{
	expect_line_error("{", "invalid_json", NULL);
	expect_line_error("[]", "invalid_body", NULL);
	expect_line_error("true", "invalid_body", NULL);
	expect_line_error("{\"dialogId\":\"d\",\"consent\":true,\"text\":\"a\"}", "unknown_field",
	                  NULL);
	expect_line_error("{\"dialogId\":\"d\",\"consent\":true,\"dialogId\":\"e\"}",
	                  "invalid_json", NULL);
	expect_line_error("{\"consent\":true}", "missing_field", "dialogId");
	expect_line_error("{\"dialogId\":\"a b\",\"consent\":true}", "invalid_field", "dialogId");
	expect_line_error("{\"dialogId\":\"d\",\"consent\":\"yes\"}", "invalid_field", "consent");
	expect_line_error("{\"dialogId\":\"d\",\"consent\":true,\"idempotencyKey\":\"\"}",
	                  "invalid_field", "idempotencyKey");
	expect_line_error("{\"dialogId\":\"d\",\"consent\":true,\"idempotencyKey\":7}",
	                  "invalid_field", "idempotencyKey");
	expect_line_error("{\"dialogId\":\"d\",\"text\":\"a\",\"language\":\"EN\"}",
	                  "missing_field", "customerId");
	expect_line_error("{\"customerId\":1,\"dialogId\":\"d\",\"text\":\"a\","
	                  "\"language\":\"EN\"}",
	                  "invalid_field", "customerId");
	expect_line_error("{\"customerId\":\"c\",\"dialogId\":\"d\",\"text\":\"abcdef\","
	                  "\"language\":\"EN\"}",
	                  "invalid_field", "text");
	expect_line_error("{\"customerId\":\"c\",\"dialogId\":\"d\",\"text\":\"a\"}",
	                  "missing_field", "language");
	/* a name that merely appears inside an allowed one is still unknown */
	expect_line_error("{\"customerId\":\"c\",\"dialogId\":\"d\",\"text\":\"a\","
	                  "\"language\":\"EN\",\"Id\":1}",
	                  "unknown_field", NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_valid_message_is_parsed),
		cmocka_unit_test(message_errors_are_precise),
		cmocka_unit_test(text_at_the_limit_is_accepted),
		cmocka_unit_test(consent_bodies),
		cmocka_unit_test(ndjson_lines_are_numbered),
		cmocka_unit_test(batch_lines_are_parsed),
		cmocka_unit_test(batch_line_errors_are_precise),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
