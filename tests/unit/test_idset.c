/* idset: FNV-1a against the published test vectors, and distinct ids in first-seen order
 * with each input's position, NULLs skipped, at sizes that make the table probe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idset.h"

static void fnv1a_matches_the_reference_vectors(void **state)
{
	assert_true(dapi_fnv1a("") == 0xcbf29ce484222325ULL); /* the offset basis itself */
	assert_true(dapi_fnv1a("a") == 0xaf63dc4c8601ec8cULL);
	assert_true(dapi_fnv1a("foobar") == 0x85944171f73967e8ULL);
}

static void distinct_keeps_first_seen_order_and_positions(void **state)
{
	const char *ids[] = { "b", "a", NULL, "b", "c", "a", NULL };
	const char *out[7];
	size_t index[7];
	assert_int_equal(dapi_distinct(ids, 7, out, index), 3);
	assert_string_equal(out[0], "b");
	assert_string_equal(out[1], "a");
	assert_string_equal(out[2], "c");
	size_t want[] = { 0, 1, SIZE_MAX, 0, 2, 1, SIZE_MAX };
	for (int i = 0; i < 7; i++)
		assert_true(index[i] == want[i]);
	assert_int_equal(dapi_distinct(ids, 0, out, NULL), 0);
}

/* 5,000 ids, each of 1,000 dialogs five times: every repeat maps to its first place. */
static void distinct_of_many_collides_and_still_matches(void **state)
{
	enum { N = 5000, D = 1000 };
	char(*names)[16] = calloc(N, 16);
	const char **ids = calloc(N, sizeof(*ids)), **out = calloc(N, sizeof(*out));
	size_t *index = calloc(N, sizeof(*index));
	assert_true(names && ids && out && index);
	for (int i = 0; i < N; i++) {
		snprintf(names[i], 16, "d%d", (i * 7) % D);
		ids[i] = names[i];
	}
	assert_int_equal(dapi_distinct(ids, N, out, index), D);
	for (int i = 0; i < N; i++)
		assert_string_equal(out[index[i]], ids[i]);
	for (int k = 1; k < D; k++)
		assert_true(strcmp(out[k - 1], out[k]) != 0);
	free(names);
	free(ids);
	free(out);
	free(index);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fnv1a_matches_the_reference_vectors),
		cmocka_unit_test(distinct_keeps_first_seen_order_and_positions),
		cmocka_unit_test(distinct_of_many_collides_and_still_matches),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
