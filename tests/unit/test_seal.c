/* Unit tests: sealed events (AES-256-GCM boxes under a dialog's data key), data-key
 * wrapping under master keys, and the master key file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aead.h"
#include "masterkeys.h"
#include "seal.h"

static const uint8_t K1[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
static const uint8_t K2[32] = { 2, 2, 3, 4, 5, 6, 7, 8, 9, 10 };

static struct dapi_event message(const char *event_id, const char *dialog_id)
{
	struct dapi_event ev = { .type = DAPI_EVENT_MESSAGE,
		                 .event_id = event_id,
		                 .dialog_id = dialog_id,
		                 .customer_id = "cust-7",
		                 .text = "Hello \xc3\xa9 \"quoted\" secret-marker",
		                 .language = "PT-BR",
		                 .received_at = 1764000000123 };
	ev.text_len = strlen(ev.text);
	return ev;
}

/* Seals ev under key and decodes the record as ingestd would: a v2 event, not yet open. */
static char *seal_record(struct dapi_event *ev, const uint8_t *key, struct dapi_event *out)
{
	char *sealed, detail[160];
	size_t len;
	assert_true(dapi_seal_event(ev, key, &sealed));
	char *rec = dapi_event_encode(ev, &len);
	assert_non_null(rec);
	free(sealed);
	assert_null(dapi_event_decode(rec, len, 16384, out, detail, sizeof(detail)));
	return rec;
}

static void sealed_message_round_trips(void **state)
{
	struct dapi_event ev = message("e-1", "d-1"), got;
	char detail[160];
	char *rec = seal_record(&ev, K1, &got);

	/* nothing personal in the record */
	assert_null(strstr(rec, "secret-marker"));
	assert_null(strstr(rec, "cust-7"));
	assert_null(strstr(rec, "PT-BR"));
	assert_non_null(strstr(rec, "\"v\":2"));
	assert_int_equal(got.version, 2);
	assert_null(got.text);
	assert_null(dapi_seal_open_event(&got, K1, 16384, detail, sizeof(detail)));
	assert_string_equal(got.customer_id, "cust-7");
	assert_int_equal(got.text_len, ev.text_len);
	assert_memory_equal(got.text, ev.text, ev.text_len);
	assert_string_equal(got.language, "PT-BR");
	assert_string_equal(got.dialog_id, "d-1");
	assert_int_equal(got.received_at, ev.received_at);
	dapi_event_clear(&got);
	free(rec);
}

static void another_key_does_not_open(void **state)
{
	struct dapi_event ev = message("e-1", "d-1"), got;
	char detail[160];
	char *rec = seal_record(&ev, K1, &got);
	assert_string_equal(dapi_seal_open_event(&got, K2, 16384, detail, sizeof(detail)),
	                    "seal_invalid");
	assert_null(strstr(detail, "secret"));
	assert_null(got.text);
	dapi_event_clear(&got);
	free(rec);
}

/* Each thread keeps its GCM context between boxes: a failed open (a wrong key) must leave
 * the thread able to seal and open again, and boxes sealed on one thread open on another. */
static void boxes_seal_and_open_across_failures(void **state)
{
	uint8_t box[5 + DAPI_AEAD_OVERHEAD], out[5];

	for (int round = 0; round < 3; round++) {
		assert_true(dapi_aead_seal(K1, "aad", 3, "hello", 5, box));
		assert_false(dapi_aead_open(K2, "aad", 3, box, sizeof(box), out));
		assert_false(dapi_aead_open(K1, "aaX", 3, box, sizeof(box), out));
		assert_true(dapi_aead_open(K1, "aad", 3, box, sizeof(box), out));
		assert_memory_equal(out, "hello", 5);
	}
}

struct thread_box {
	uint8_t box[5 + DAPI_AEAD_OVERHEAD];
	bool sealed, opened;
};

static void *seal_on_a_thread(void *arg)
{
	struct thread_box *t = arg;
	t->sealed = dapi_aead_seal(K2, NULL, 0, "other", 5, t->box);
	return NULL;
}

static void *open_on_a_thread(void *arg)
{
	struct thread_box *t = arg;
	uint8_t out[5];
	t->opened = dapi_aead_open(K2, NULL, 0, t->box, sizeof(t->box), out) &&
	            memcmp(out, "other", 5) == 0;
	return NULL;
}

static void boxes_cross_threads(void **state)
{
	struct thread_box t = { 0 };
	pthread_t th;
	uint8_t out[5];

	assert_int_equal(pthread_create(&th, NULL, seal_on_a_thread, &t), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_true(t.sealed);
	assert_true(dapi_aead_open(K2, NULL, 0, t.box, sizeof(t.box), out));
	assert_int_equal(pthread_create(&th, NULL, open_on_a_thread, &t), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_true(t.opened);
}

/* Nonces come from a per-thread block of random bytes: none repeats, across refills. */
static int cmp_nonce(const void *a, const void *b)
{
	return memcmp(a, b, DAPI_AEAD_NONCE);
}

static void nonces_do_not_repeat(void **state)
{
	enum { N = 4096 };
	uint8_t(*nonces)[DAPI_AEAD_NONCE] = calloc(N, DAPI_AEAD_NONCE);
	uint8_t box[1 + DAPI_AEAD_OVERHEAD], big[200];

	assert_non_null(nonces);
	for (int i = 0; i < N; i++) {
		assert_true(dapi_aead_seal(K1, NULL, 0, "x", 1, box));
		memcpy(nonces[i], box, DAPI_AEAD_NONCE);
		if (i % 100 == 0) /* larger draws go to the generator directly, between */
			assert_true(dapi_random_public(big, sizeof(big)));
	}
	qsort(nonces, N, DAPI_AEAD_NONCE, cmp_nonce);
	for (int i = 1; i < N; i++)
		assert_int_not_equal(memcmp(nonces[i - 1], nonces[i], DAPI_AEAD_NONCE), 0);
	free(nonces);
}

/* The box of one event pasted into another (other eventId or dialogId) does not open. */
static void a_moved_box_does_not_open(void **state)
{
	struct dapi_event a = message("e-1", "d-1"), b = message("e-2", "d-1"),
	                  c = message("e-1", "d-2");
	struct dapi_event got;
	char *sealed, detail[160];
	size_t len;

	assert_true(dapi_seal_event(&a, K1, &sealed));
	b.sealed = c.sealed = a.sealed;
	b.sealed_len = c.sealed_len = a.sealed_len;
	struct dapi_event *moved[] = { &b, &c };
	for (int i = 0; i < 2; i++) {
		char *rec = dapi_event_encode(moved[i], &len);
		assert_null(dapi_event_decode(rec, len, 16384, &got, detail, sizeof(detail)));
		assert_string_equal(dapi_seal_open_event(&got, K1, 16384, detail, sizeof(detail)),
		                    "seal_invalid");
		dapi_event_clear(&got);
		free(rec);
	}
	free(sealed);
}

/* Every shortened or flipped box is refused: the tag covers every byte. */
static void a_tampered_box_does_not_open(void **state)
{
	struct dapi_event ev = message("e-1", "d-1"), got;
	char detail[160];
	char *rec = seal_record(&ev, K1, &got);
	char *box = strdup(got.sealed);
	size_t n = strlen(box);

	for (size_t cut = 0; cut < n; cut += 3) { /* truncated */
		got.sealed_len = cut;
		assert_non_null(dapi_seal_open_event(&got, K1, 16384, detail, sizeof(detail)));
	}
	got.sealed_len = n;
	for (size_t i = 0; i + 2 < n; i++) { /* one character changed */
		char *s = (char *)got.sealed, saved = s[i];
		s[i] = saved == 'A' ? 'B' : 'A';
		assert_string_equal(dapi_seal_open_event(&got, K1, 16384, detail, sizeof(detail)),
		                    "seal_invalid");
		s[i] = saved;
	}
	assert_null(dapi_seal_open_event(&got, K1, 16384, detail, sizeof(detail)));
	dapi_event_clear(&got);
	free(box);
	free(rec);
}

/* A box that opens must still hold a valid message: the text limit applies inside it. */
static void an_opened_box_is_validated(void **state)
{
	struct dapi_event ev = message("e-1", "d-1"), got;
	char detail[160];
	char *rec = seal_record(&ev, K1, &got);
	assert_string_equal(dapi_seal_open_event(&got, K1, 5, detail, sizeof(detail)),
	                    "text_too_large");
	dapi_event_clear(&got);
	free(rec);
}

/* A v2 record may not carry personal fields beside the box. */
static void a_v2_record_carries_nothing_personal_in_clear(void **state)
{
	static const char rec[] = "{\"v\":2,\"type\":\"message\",\"eventId\":\"e\",\"dialogId\":"
	                          "\"d\",\"receivedAt\":\"2026-11-22T10:00:00Z\",\"sealed\":"
	                          "\"AAAA\",\"text\":\"clear\"}";
	struct dapi_event got;
	char detail[160];
	assert_string_equal(dapi_event_decode(rec, strlen(rec), 100, &got, detail, sizeof(detail)),
	                    "invalid_field");
}

static const char *write_file(const char *text)
{
	static char path[64];
	snprintf(path, sizeof(path), "/tmp/dapi-mk-%d", (int)getpid());
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void master_keys_load_and_rotate(void **state)
{
	struct dapi_master_keys old, both;
	uint8_t dek[32] = { 9 }, wrapped[DAPI_DEK_WRAPPED], back[32];
	const char *id;
	char err[256];

	assert_int_equal(dapi_master_keys_load(write_file("# first\nk1 "
	                                                  "000102030405060708090a0b0c0d0e0f00010203"
	                                                  "0405060708090a0b0c0d0e0f\n"),
	                                       &old, err, sizeof(err)),
	                 0);
	assert_true(dapi_dek_wrap(&old, "d-1", dek, wrapped, &id));
	assert_string_equal(id, "k1");
	assert_int_equal(
	        dapi_master_keys_load(
	                write_file(
	                        "k1 "
	                        "000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f\n"
	                        "k2 "
	                        "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100  "
	                        "# new\n"),
	                &both, err, sizeof(err)),
	        0);
	/* the old key still unwraps; the newest wraps */
	assert_int_equal(dapi_dek_unwrap(&both, "k1", "d-1", wrapped, sizeof(wrapped), back),
	                 DAPI_UNWRAP_OK);
	assert_memory_equal(back, dek, 32);
	assert_true(dapi_dek_wrap(&both, "d-1", dek, wrapped, &id));
	assert_string_equal(id, "k2");
	assert_int_equal(dapi_dek_unwrap(&old, "k2", "d-1", wrapped, sizeof(wrapped), back),
	                 DAPI_UNWRAP_UNKNOWN_MASTER);
	/* bound to its dialog */
	assert_int_equal(dapi_dek_unwrap(&both, "k2", "d-2", wrapped, sizeof(wrapped), back),
	                 DAPI_UNWRAP_INVALID);
	wrapped[20] ^= 1;
	assert_int_equal(dapi_dek_unwrap(&both, "k2", "d-1", wrapped, sizeof(wrapped), back),
	                 DAPI_UNWRAP_INVALID);
	dapi_master_keys_clear(&old);
	dapi_master_keys_clear(&both);
}

static void bad_master_key_files_are_refused(void **state)
{
	static const char *const bad[] = {
		"",
		"# only a comment\n",
		"k1 0011\n",
		"k1 zz0102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f\n",
		"k/1 000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f\n",
		"k1 000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f\n"
		"k1 ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100\n",
	};
	struct dapi_master_keys mk;
	char err[256];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(dapi_master_keys_load(write_file(bad[i]), &mk, err, sizeof(err)),
		                 -1);
		assert_null(strstr(err, "0102030405")); /* never quotes key material */
	}
	assert_int_equal(dapi_master_keys_load("/nonexistent/keys", &mk, err, sizeof(err)), -1);
	unlink(write_file(""));
}

static void base64_is_canonical(void **state)
{
	uint8_t out[16];
	assert_int_equal(dapi_base64_decode("AAEC", 4, out), 3);
	assert_int_equal(dapi_base64_decode("AAE=", 4, out), 2);
	assert_int_equal(dapi_base64_decode("AA==", 4, out), 1);
	assert_int_equal(dapi_base64_decode("AB==", 4, out), -1); /* stray bits */
	assert_int_equal(dapi_base64_decode("AA=A", 4, out), -1);
	assert_int_equal(dapi_base64_decode("AAE", 3, out), -1);
	assert_int_equal(dapi_base64_decode("A-_A", 4, out), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sealed_message_round_trips),
		cmocka_unit_test(another_key_does_not_open),
		cmocka_unit_test(boxes_seal_and_open_across_failures),
		cmocka_unit_test(boxes_cross_threads),
		cmocka_unit_test(nonces_do_not_repeat),
		cmocka_unit_test(a_moved_box_does_not_open),
		cmocka_unit_test(a_tampered_box_does_not_open),
		cmocka_unit_test(an_opened_box_is_validated),
		cmocka_unit_test(a_v2_record_carries_nothing_personal_in_clear),
		cmocka_unit_test(master_keys_load_and_rotate),
		cmocka_unit_test(bad_master_key_files_are_refused),
		cmocka_unit_test(base64_is_canonical),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
