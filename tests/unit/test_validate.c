/* Unit tests: ids, language tags, idempotency keys, times and durations, event ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "ids.h"
#include "timefmt.h"
#include "validate.h"

static void ids_follow_the_charset(void **state)
{
	char long_id[130];
	memset(long_id, 'a', sizeof(long_id));
	assert_true(dapi_valid_id("d1", 2));
	assert_true(dapi_valid_id("A-z.0_9:~@+", 11));
	assert_true(dapi_valid_id(long_id, 128));
	assert_false(dapi_valid_id(long_id, 129));
	assert_false(dapi_valid_id("", 0));
	assert_false(dapi_valid_id("a b", 3));
	assert_false(dapi_valid_id("a/b", 3));
	assert_false(dapi_valid_id("$x", 2));
	assert_false(dapi_valid_id("a\0b", 3));
	assert_false(dapi_valid_id("\xc3\xa9", 2));
}

static void language_tags_are_normalised(void **state)
{
	char out[DAPI_LANG_MAX + 1];
	assert_true(dapi_language_normalize("EN", 2, out));
	assert_string_equal(out, "EN");
	assert_true(dapi_language_normalize("de", 2, out));
	assert_string_equal(out, "DE");
	assert_true(dapi_language_normalize("pt-BR", 5, out));
	assert_string_equal(out, "PT-BR");
	assert_true(dapi_language_normalize("zh-Hant-TW", 10, out));
	assert_string_equal(out, "ZH-HANT-TW");
	assert_true(dapi_language_normalize("gsw", 3, out));
	assert_false(dapi_language_normalize("e", 1, out));
	assert_false(dapi_language_normalize("engl", 4, out));
	assert_false(dapi_language_normalize("en-", 3, out));
	assert_false(dapi_language_normalize("en--US", 6, out));
	assert_false(dapi_language_normalize("en-abcdefghi", 12, out));
	assert_false(dapi_language_normalize("e1", 2, out));
	assert_false(dapi_language_normalize("en_US", 5, out));
	assert_false(dapi_language_normalize("en-US-", 6, out));
}

static void idempotency_keys_are_printable(void **state)
{
	char k[130];
	memset(k, 'k', sizeof(k));
	k[128] = '\0';
	assert_true(dapi_valid_idempotency_key("retry-1 of job #7"));
	assert_true(dapi_valid_idempotency_key(k));
	k[128] = 'k';
	k[129] = '\0';
	assert_false(dapi_valid_idempotency_key(k));
	assert_false(dapi_valid_idempotency_key(""));
	assert_false(dapi_valid_idempotency_key("tab\there"));
	assert_false(dapi_valid_idempotency_key("caf\xc3\xa9"));
}

static void times_round_trip(void **state)
{
	char buf[DAPI_TIME_BUFSZ];
	int64_t ms;
	assert_true(dapi_time_parse("2026-11-22T10:00:00.123Z", &ms));
	assert_int_equal(ms, 1795341600123LL);
	dapi_time_format_ms(ms, buf);
	assert_string_equal(buf, "2026-11-22T10:00:00.123Z");
	assert_true(dapi_time_parse("2026-11-22T11:00:00+01:00", &ms));
	assert_int_equal(ms, 1795341600000LL);
	assert_true(dapi_time_parse("1970-01-01T00:00:00Z", &ms));
	assert_int_equal(ms, 0);
	assert_true(dapi_time_parse("2024-02-29T00:00:00.5Z", &ms));
	dapi_time_format_ms(ms, buf);
	assert_string_equal(buf, "2024-02-29T00:00:00.500Z");
	dapi_time_format_ms(-1, buf);
	assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
	dapi_time_format_ms(253402300800000LL, buf); /* five-digit years take the slow path */
	assert_string_equal(buf, "10000-01-01T00:00:00.000Z");
	assert_false(dapi_time_parse("2023-02-29T00:00:00Z", &ms));
	assert_false(dapi_time_parse("2026-11-22 10:00:00Z", &ms));
	assert_false(dapi_time_parse("2026-11-22T10:00:00", &ms));
	assert_false(dapi_time_parse("2026-13-01T00:00:00Z", &ms));
	assert_false(dapi_time_parse("2026-11-22T10:00:00.Z", &ms));
	assert_false(dapi_time_parse("2026-11-22T10:00:00Zjunk", &ms));
}

static void durations_parse_with_units(void **state)
{
	int64_t ms;
	assert_true(dapi_duration_parse("72h", &ms));
	assert_int_equal(ms, 72LL * 3600 * 1000);
	assert_true(dapi_duration_parse("30d", &ms));
	assert_int_equal(ms, 30LL * 86400 * 1000);
	assert_true(dapi_duration_parse("500ms", &ms));
	assert_int_equal(ms, 500);
	assert_true(dapi_duration_parse("10s", &ms));
	assert_int_equal(ms, 10000);
	assert_true(dapi_duration_parse("250", &ms));
	assert_int_equal(ms, 250);
	assert_false(dapi_duration_parse("-1s", &ms));
	assert_false(dapi_duration_parse("10 s", &ms));
	assert_false(dapi_duration_parse("1w", &ms));
	assert_false(dapi_duration_parse("99999999999999999999d", &ms));
	assert_false(dapi_duration_parse("", &ms));
}

static void event_ids_from_keys_are_stable_and_scoped(void **state)
{
	char a[INGRESS_UUID_BUFSZ], b[INGRESS_UUID_BUFSZ], c[INGRESS_UUID_BUFSZ],
	        r1[INGRESS_UUID_BUFSZ], r2[INGRESS_UUID_BUFSZ], x[INGRESS_UUID_BUFSZ],
	        y[INGRESS_UUID_BUFSZ];
	/* RFC 9562's own example of a version 5 UUID (namespace DNS, "www.example.com") */
	static const uint8_t dns[16] = { 0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1,
		                         0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8 };
	ingress_uuid_v5(dns, "www.example.com", 15, x);
	assert_string_equal(x, "2ed6657d-e927-568b-95e1-2665a8aea6a2");

	ingress_uuid_from_key("d1", "k", a);
	ingress_uuid_from_key("d1", "k", b);
	ingress_uuid_from_key("d2", "k", c);
	assert_string_equal(a, b);
	/* Pinned: a retry after an upgrade must get the event id the first attempt got. (It
	 * was FNV-based, version 8, before; Python: uuid5(UUID(INGRESS_UUID_NAMESPACE), "d1\0k").)
	 */
	assert_string_equal(a, "fc15b2fc-4701-5315-a468-494a7cdce493");
	assert_string_not_equal(a, c);
	assert_int_equal(strlen(a), 36);
	assert_int_equal(a[14], '5');
	/* the boundary between dialog and key is part of the name */
	ingress_uuid_from_key("ab", "c", x);
	ingress_uuid_from_key("a", "bc", y);
	assert_string_not_equal(x, y);
	ingress_uuid_v4(r1);
	ingress_uuid_v4(r2);
	assert_string_not_equal(r1, r2);
	assert_int_equal(r1[14], '4');
	assert_non_null(strchr("89ab", r1[19])); /* RFC 9562's variant */
	for (int i = 0; i < 100; i++) { /* drawn from a per-thread block: across its refills */
		ingress_uuid_v4(r2);
		assert_string_not_equal(r1, r2);
		assert_int_equal(strlen(r2), 36);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ids_follow_the_charset),
		cmocka_unit_test(language_tags_are_normalised),
		cmocka_unit_test(idempotency_keys_are_printable),
		cmocka_unit_test(times_round_trip),
		cmocka_unit_test(durations_parse_with_units),
		cmocka_unit_test(event_ids_from_keys_are_stable_and_scoped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
