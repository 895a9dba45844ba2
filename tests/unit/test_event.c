/* Unit tests: the event codec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "timefmt.h"

static const char *decode_reason(const char *json, size_t max_text)
{
	struct dapi_event ev;
	char detail[160];
	const char *reason =
	        dapi_event_decode(json, strlen(json), max_text, &ev, detail, sizeof(detail));
	if (!reason)
		dapi_event_clear(&ev);
	return reason;
}

static void message_round_trips(void **state)
{
	struct dapi_event in = { .type = DAPI_EVENT_MESSAGE,
		                 .event_id = "e-1",
		                 .dialog_id = "d.1",
		                 .customer_id = "c@1",
		                 .text = "caf\xc3\xa9 \"quoted\"\n",
		                 .language = "PT-BR",
		                 .received_at = 1795341600123LL };
	struct dapi_event out;
	char detail[160];
	size_t len;

	in.text_len = strlen(in.text);
	char *json = dapi_event_encode(&in, &len);
	assert_non_null(json);
	assert_non_null(strstr(json, "\"receivedAt\":\"2026-11-22T10:00:00.123Z\""));
	assert_true(strncmp(json, "{\"v\":1,\"type\":\"message\",", 24) == 0);
	assert_null(dapi_event_decode(json, len, 100, &out, detail, sizeof(detail)));
	assert_int_equal(out.type, DAPI_EVENT_MESSAGE);
	assert_string_equal(out.event_id, "e-1");
	assert_string_equal(out.dialog_id, "d.1");
	assert_string_equal(out.customer_id, "c@1");
	assert_string_equal(out.text, in.text);
	assert_int_equal(out.text_len, in.text_len);
	assert_string_equal(out.language, "PT-BR");
	assert_int_equal(out.received_at, in.received_at);
	dapi_event_clear(&out);
	free(json);
}

static void consent_round_trips(void **state)
{
	struct dapi_event in = { .type = DAPI_EVENT_CONSENT,
		                 .event_id = "e2",
		                 .dialog_id = "d1",
		                 .granted = false,
		                 .received_at = 1000 };
	struct dapi_event out;
	char detail[160];
	size_t len;
	char *json = dapi_event_encode(&in, &len);

	assert_null(dapi_event_decode(json, len, 100, &out, detail, sizeof(detail)));
	assert_int_equal(out.type, DAPI_EVENT_CONSENT);
	assert_false(out.granted);
	assert_int_equal(out.received_at, 1000);
	assert_null(out.customer_id);
	dapi_event_clear(&out);
	free(json);
}

#define MSG(fields) "{\"v\":1,\"type\":\"message\",\"eventId\":\"e\",\"dialogId\":\"d\"," fields "}"
#define OK_REST                                                                                   \
	"\"customerId\":\"c\",\"text\":\"t\",\"language\":\"EN\",\"receivedAt\":\"2026-11-22T10:" \
	"00:00Z\""

static void poison_records_have_reasons(void **state)
{
	assert_null(decode_reason(MSG(OK_REST), 100));
	assert_string_equal(decode_reason("not json", 100), "invalid_json");
	assert_string_equal(decode_reason("[1,2]", 100), "invalid_json");
	assert_string_equal(decode_reason("", 100), "invalid_json");
	assert_string_equal(decode_reason("{\"v\":3,\"type\":\"message\"}", 100),
	                    "unsupported_version");
	assert_string_equal(decode_reason("{\"type\":\"message\"}", 100), "missing_field");
	assert_string_equal(decode_reason("{\"v\":1,\"type\":\"other\"}", 100), "unknown_type");
	assert_string_equal(decode_reason(MSG("\"text\":\"t\""), 100), "missing_field");
	assert_string_equal(decode_reason("{\"v\":1,\"type\":\"message\",\"eventId\":\"e\","
	                                  "\"dialogId\":\"$where\"," OK_REST "}",
	                                  100),
	                    "invalid_field");
	assert_string_equal(decode_reason("{\"v\":1,\"type\":\"message\",\"eventId\":\"e\","
	                                  "\"dialogId\":\"a b\"," OK_REST "}",
	                                  100),
	                    "invalid_field");
	assert_string_equal(decode_reason(MSG(OK_REST), 0), "text_too_large");
	assert_string_equal(decode_reason(MSG("\"customerId\":\"c\",\"text\":\"t\",\"language\":"
	                                      "\"EN\",\"receivedAt\":\"yesterday\""),
	                                  100),
	                    "invalid_field");
	assert_string_equal(decode_reason(MSG("\"customerId\":\"c\",\"text\":\"\xff\",\"language\":"
	                                      "\"EN\",\"receivedAt\":\"2026-11-22T10:00:00Z\""),
	                                  100),
	                    "invalid_json");
	assert_string_equal(
	        decode_reason("{\"v\":1,\"type\":\"consent\",\"eventId\":\"e\",\"dialogId\":\"d\","
	                      "\"granted\":\"yes\",\"receivedAt\":\"2026-11-22T10:00:00Z\"}",
	                      100),
	        "invalid_field");
	assert_string_equal(
	        decode_reason(
	                "{\"v\":1,\"v\":1,\"type\":\"consent\",\"eventId\":\"e\",\"dialogId\":"
	                "\"d\",\"granted\":true,\"receivedAt\":\"2026-11-22T10:00:00Z\"}",
	                100),
	        "invalid_json");
}

static void a_megabyte_of_text_is_refused(void **state)
{
	size_t n = 1024 * 1024;
	char *json = malloc(n + 256);
	int off = snprintf(json, 256,
	                   "{\"v\":1,\"type\":\"message\",\"eventId\":\"e\","
	                   "\"dialogId\":\"d\",\"customerId\":\"c\",\"language\":\"EN\","
	                   "\"receivedAt\":\"2026-11-22T10:00:00Z\",\"text\":\"");
	memset(json + off, 'x', n);
	strcpy(json + off + n, "\"}");
	assert_string_equal(decode_reason(json, 16384), "text_too_large");
	free(json);
}

/* Appends code point cp as UTF-8; returns the bytes written. */
static size_t put_utf8(char *p, unsigned cp)
{
	if (cp < 0x80) {
		p[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		p[0] = (char)(0xc0 | cp >> 6);
		p[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		p[0] = (char)(0xe0 | cp >> 12);
		p[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		p[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	p[0] = (char)(0xf0 | cp >> 18);
	p[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	p[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	p[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A random code point, weighted towards what needs escaping (no NUL, no surrogates). */
static unsigned random_code_point(void)
{
	static const unsigned special[] = { '"',  '\\', '/',  '\b', '\f',   '\n',   '\r',
		                            '\t', 0x01, 0x1f, 0x7f, 0x2028, 0xfeff, 0x10ffff };
	switch (rand() % 4) {
	case 0:
		return special[rand() % (sizeof(special) / sizeof(special[0]))];
	case 1:
		return 1 + (unsigned)rand() % 0x7f;
	case 2:
		return 0x80 + (unsigned)rand() % (0xd800 - 0x80);
	default:
		return 0xe000 + (unsigned)rand() % (0x110000 - 0xe000);
	}
}

/* The encoder writes JSON itself (no jansson object per event); its bytes must be what
 * jansson's json_dumps() gives for the same object, for any text. */
static void encoding_matches_jansson(void **state)
{
	char text[400];

	srand(20261122);
	for (int round = 0; round < 2000; round++) {
		struct dapi_event ev = { .type = round % 7 ? DAPI_EVENT_MESSAGE
			                                   : DAPI_EVENT_CONSENT,
			                 .event_id = "0b6f6f1e-5d3c-4f0e-9a55-3c1d2e4f5a6b",
			                 .dialog_id = "d-42",
			                 .customer_id = "c:7",
			                 .text = text,
			                 .language = "EN",
			                 .granted = round % 2,
			                 .received_at = 1795341600123LL + round };
		char ts[DAPI_TIME_BUFSZ];
		json_t *o;
		char *want, *got;
		size_t len;

		ev.text_len = 0;
		for (int n = rand() % 64; n > 0; n--)
			ev.text_len += put_utf8(text + ev.text_len, random_code_point());
		dapi_time_format_ms(ev.received_at, ts);
		if (ev.type == DAPI_EVENT_MESSAGE)
			o = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s%, s:s, s:s}", "v", 1, "type",
			              "message", "eventId", ev.event_id, "dialogId", ev.dialog_id,
			              "customerId", ev.customer_id, "text", text, ev.text_len,
			              "language", ev.language, "receivedAt", ts);
		else
			o = json_pack("{s:i, s:s, s:s, s:s, s:b, s:s}", "v", 1, "type", "consent",
			              "eventId", ev.event_id, "dialogId", ev.dialog_id, "granted",
			              ev.granted, "receivedAt", ts);
		assert_non_null(o);
		want = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		got = dapi_event_encode(&ev, &len);
		assert_non_null(got);
		assert_string_equal(got, want);
		assert_int_equal(len, strlen(want));
		json_decref(o);
		free(want);
		free(got);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(message_round_trips),
		cmocka_unit_test(consent_round_trips),
		cmocka_unit_test(poison_records_have_reasons),
		cmocka_unit_test(a_megabyte_of_text_is_refused),
		cmocka_unit_test(encoding_matches_jansson),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
