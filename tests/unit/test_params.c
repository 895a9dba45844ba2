/* Unit tests: GET /data parameters and the keyset cursor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "params.h"

static bool add(struct query_params *p, const char *k, const char *v, const char **code,
                const char **field)
{
	struct dapi_input_error err = { 0 };
	bool ok = query_params_add(p, k, v, &err);
	*code = err.code;
	*field = err.field;
	return ok;
}

static void defaults_and_values(void **state)
{
	struct query_params p;
	const char *code, *field;
	query_params_init(&p, true);
	assert_int_equal(p.limit, 100);
	assert_int_equal(p.offset, 0);
	assert_true(add(&p, "language", "de", &code, &field));
	assert_string_equal(p.language, "DE");
	assert_true(add(&p, "customer_id", "c-1", &code, &field));
	assert_string_equal(p.customer_id, "c-1");
	assert_true(add(&p, "limit", "1000", &code, &field));
	assert_int_equal(p.limit, 1000);
	assert_true(add(&p, "offset", "100000", &code, &field));
	assert_int_equal(p.offset, 100000);
}

static void bad_values_name_their_parameter(void **state)
{
	static const struct {
		const char *k, *v, *code, *field;
	} cases[] = {
		{ "limit", "0", "invalid_parameter", "limit" },
		{ "limit", "1001", "invalid_parameter", "limit" },
		{ "limit", "-1", "invalid_parameter", "limit" },
		{ "limit", "1e2", "invalid_parameter", "limit" },
		{ "limit", " 5", "invalid_parameter", "limit" },
		{ "limit", "", "invalid_parameter", "limit" },
		{ "limit", NULL, "invalid_parameter", "limit" },
		{ "offset", "x", "invalid_parameter", "offset" },
		{ "offset", "99999999999999999999", "invalid_parameter", "offset" },
		{ "language", "english", "invalid_parameter", "language" },
		{ "customerId", "a b", "invalid_parameter", "customerId" },
		{ "cursor", "!!", "invalid_parameter", "cursor" },
		{ "sort", "asc", "unknown_parameter", NULL },
		{ "Limit", "5", "unknown_parameter", NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct query_params p;
		const char *code, *field;
		query_params_init(&p, true);
		assert_false(add(&p, cases[i].k, cases[i].v, &code, &field));
		assert_string_equal(code, cases[i].code);
		if (cases[i].field)
			assert_string_equal(field, cases[i].field);
		else
			assert_null(field);
	}
}

static void repeats_and_combinations_are_refused(void **state)
{
	struct query_params p;
	const char *code, *field;
	char cur[QUERY_CURSOR_MAX];

	query_params_init(&p, true);
	assert_true(add(&p, "customerId", "a", &code, &field));
	assert_false(add(&p, "customer_id", "b", &code, &field));
	query_params_init(&p, true);
	assert_true(add(&p, "limit", "5", &code, &field));
	assert_false(add(&p, "limit", "5", &code, &field));

	/* offset and cursor compose: that many dialogs skipped after the cursor's position */
	query_cursor_encode(5, "d", 40, cur);
	query_params_init(&p, true);
	assert_true(add(&p, "offset", "5", &code, &field));
	assert_true(add(&p, "cursor", cur, &code, &field));
	assert_true(p.has_cursor && p.offset == 5);

	/* export takes filters only */
	query_params_init(&p, false);
	assert_true(add(&p, "language", "EN", &code, &field));
	assert_false(add(&p, "limit", "5", &code, &field));
	assert_string_equal(code, "unknown_parameter");
}

/* A whole raw query string, as the bench and the plan tests give one. */
static void whole_query_strings(void **state)
{
	struct query_params p;
	struct dapi_input_error err = { 0 };
	char longer[1100];
	(void)state;
	query_params_init(&p, true);
	assert_true(query_params_parse(&p, "limit=7&language=pt-br&customerId=c9", &err));
	assert_int_equal(p.limit, 7);
	assert_string_equal(p.language, "PT-BR");
	assert_string_equal(p.customer_id, "c9");
	query_params_init(&p, true);
	assert_true(query_params_parse(&p, "", &err));
	assert_int_equal(p.limit, 100);
	query_params_init(&p, true);
	assert_false(query_params_parse(&p, "limit=7&colour=red", &err));
	assert_string_equal(err.code, "unknown_parameter");
	query_params_init(&p, true);
	assert_true(query_params_parse(&p, "offset=5&cursor=MTpk", &err));
	assert_true(p.has_cursor && p.offset == 5 && p.after_ms == 1);
	query_params_init(&p, true);
	assert_false(query_params_parse(&p, "cursor=MTpk&cursor=MTpk", &err));
	assert_string_equal(err.field, "cursor");
	memset(longer, 'a', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	query_params_init(&p, true);
	assert_false(query_params_parse(&p, longer, &err));
}

static void cursors_round_trip(void **state)
{
	const char *ids[] = { "d", "dialog-42", "a.b:c~d@e+f_g-h", "x" };
	int64_t times[] = { 0, 1795341600123LL, -5, INT64_MAX };
	for (int i = 0; i < 4; i++) {
		char cur[QUERY_CURSOR_MAX], id[DAPI_ID_MAX + 1];
		int64_t ms;
		int64_t totals[] = { -1, 0, 7, INT64_MAX }, total;
		for (int t = 0; t < 4; t++) {
			query_cursor_encode(times[i], ids[i], totals[t], cur);
			assert_null(strpbrk(cur, "+/="));
			assert_true(query_cursor_decode(cur, &ms, id, &total));
			assert_int_equal(ms, times[i]);
			assert_string_equal(id, ids[i]);
			assert_true(total == totals[t]);
		}
	}
}

static void forged_cursors_are_refused(void **state)
{
	char id[DAPI_ID_MAX + 1];
	int64_t ms, total;
	/* base64url of "abc:d1", "12:", "12:a b", ":d1", "12x:d1" */
	assert_false(query_cursor_decode("YWJjOmQx", &ms, id, &total));
	assert_false(query_cursor_decode("MTI6", &ms, id, &total));
	assert_false(query_cursor_decode("MTI6YSBi", &ms, id, &total));
	assert_false(query_cursor_decode("OmQx", &ms, id, &total));
	assert_false(query_cursor_decode("MTJ4OmQx", &ms, id, &total));
	assert_false(query_cursor_decode("", &ms, id, &total));
	assert_false(query_cursor_decode("M", &ms, id, &total));
	assert_false(query_cursor_decode("MTI6ZDE=", &ms, id, &total));
	assert_false(query_cursor_decode("MTI6ZDF", &ms, id, &total)); /* non-canonical tail bits */
	assert_false(query_cursor_decode("MDc6ZDE", &ms, id, &total)); /* "07:d1": leading zero */
	assert_false(query_cursor_decode("KzEyOmQx", &ms, id, &total)); /* "+12:d1" */
	assert_true(query_cursor_decode("MTI6ZDE", &ms, id, &total));   /* "12:d1" */
	assert_int_equal(ms, 12);
	assert_string_equal(id, "d1");
	assert_true(total == -1); /* a cursor issued before totals were carried */
	/* carried totals: digits only, canonical, in range */
	assert_false(query_cursor_decode("dDoxMjpkMQ", &ms, id, &total));   /* "t:12:d1" */
	assert_false(query_cursor_decode("dDA3OjEyOmQx", &ms, id, &total)); /* "t07:12:d1" */
	assert_false(query_cursor_decode("dC0xOjEyOmQx", &ms, id, &total)); /* "t-1:12:d1" */
	assert_false(query_cursor_decode("dDEyOmQx", &ms, id, &total));     /* "t12:d1" */
	assert_false(query_cursor_decode("dDk5OTk5OTk5OTk5OTk5OTk5OTk5OjEyOmQx", &ms, id,
	                                 &total)); /* "t99999999999999999999:12:d1" */
	assert_false(query_cursor_decode("eDU6MTI6ZDE", &ms, id, &total)); /* "x5:12:d1" */
	assert_true(query_cursor_decode("dDU6MTI6ZDE", &ms, id, &total));  /* "t5:12:d1" */
	assert_true(ms == 12 && total == 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_and_values),
		cmocka_unit_test(bad_values_name_their_parameter),
		cmocka_unit_test(repeats_and_combinations_are_refused),
		cmocka_unit_test(whole_query_strings),
		cmocka_unit_test(cursors_round_trip),
		cmocka_unit_test(forged_cursors_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
