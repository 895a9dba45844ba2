/* Unit tests: the JSON writer, held against jansson's reading of what it wrote. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"

static void flat_members_round_trip(void **state)
{
	struct dapi_jsonw w;
	size_t len;
	char *text;
	json_t *v;

	dapi_jsonw_begin(&w, 4); /* grows */
	dapi_jsonw_str(&w, "s", "a\"b\\c\n\x01", 7);
	dapi_jsonw_int(&w, "i", -42);
	dapi_jsonw_bool(&w, "t", true);
	text = dapi_jsonw_finish(&w, &len);
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	v = json_loads(text, 0, NULL);
	assert_non_null(v);
	assert_string_equal(json_string_value(json_object_get(v, "s")), "a\"b\\c\n\x01");
	assert_int_equal(json_integer_value(json_object_get(v, "i")), -42);
	assert_true(json_is_true(json_object_get(v, "t")));
	json_decref(v);
	free(text);
}

/* Integers are written by hand: every digit count, both signs, the extremes. */
static void integers_at_every_width(void **state)
{
	const long long cases[] = { 0,          7,           -7,
		                    10,         -10,         99,
		                    1000000007, -1000000007, 1764000000123LL,
		                    LLONG_MAX,  LLONG_MIN };
	char want[32];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dapi_jsonw w;
		size_t len;
		dapi_jsonw_begin(&w, 4);
		dapi_jsonw_int(&w, "n", cases[i]);
		char *text = dapi_jsonw_finish(&w, &len);
		assert_non_null(text);
		snprintf(want, sizeof(want), "{\"n\":%lld}", cases[i]);
		assert_string_equal(text, want);
		free(text);
	}
}

/* Objects in an array, an object in them, an empty array: commas only between
 * elements. */
static void nested_objects_and_arrays(void **state)
{
	struct dapi_jsonw w;
	size_t len;
	char *text;

	dapi_jsonw_begin(&w, 16);
	dapi_jsonw_int(&w, "n", 2);
	dapi_jsonw_open(&w, "items", '[');
	for (int i = 0; i < 2; i++) {
		dapi_jsonw_open(&w, NULL, '{');
		dapi_jsonw_int(&w, "i", i);
		dapi_jsonw_open(&w, "error", '{');
		dapi_jsonw_str(&w, "code", "x", 1);
		dapi_jsonw_close(&w, '}');
		dapi_jsonw_close(&w, '}');
	}
	dapi_jsonw_close(&w, ']');
	dapi_jsonw_open(&w, "none", '[');
	dapi_jsonw_close(&w, ']');
	dapi_jsonw_bool(&w, "last", false);
	text = dapi_jsonw_finish(&w, &len);
	assert_string_equal(text, "{\"n\":2,\"items\":[{\"i\":0,\"error\":{\"code\":\"x\"}},"
	                          "{\"i\":1,\"error\":{\"code\":\"x\"}}],\"none\":[],"
	                          "\"last\":false}");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(flat_members_round_trip),
		cmocka_unit_test(integers_at_every_width),
		cmocka_unit_test(nested_objects_and_arrays),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
