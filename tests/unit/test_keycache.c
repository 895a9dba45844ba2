/* Unit tests: the ingress's cache of dialogs' data keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "keycache.h"

static void key_for(int i, uint8_t dek[DAPI_AEAD_KEY])
{
	memset(dek, 0, DAPI_AEAD_KEY);
	memcpy(dek, &i, sizeof(i));
}

static void keys_come_back_until_they_expire(void **state)
{
	struct ingress_keycache *kc = ingress_keycache_new(64, 1000);
	uint8_t a[DAPI_AEAD_KEY], b[DAPI_AEAD_KEY], got[DAPI_AEAD_KEY];
	key_for(1, a);
	key_for(2, b);
	assert_false(ingress_keycache_get(kc, "d-1", 0, got));
	ingress_keycache_put(kc, "d-1", a, 0);
	ingress_keycache_put(kc, "d-2", b, 0);
	assert_true(ingress_keycache_get(kc, "d-1", 999, got));
	assert_memory_equal(got, a, DAPI_AEAD_KEY);
	assert_true(ingress_keycache_get(kc, "d-2", 999, got));
	assert_memory_equal(got, b, DAPI_AEAD_KEY);
	assert_false(ingress_keycache_get(kc, "d-1", 1000, got)); /* the TTL bounds a key's stay */
	assert_false(ingress_keycache_get(kc, "d-3", 0, got));
	ingress_keycache_put(kc, "d-1", b, 2000); /* refreshed with another key: the new one */
	assert_true(ingress_keycache_get(kc, "d-1", 2001, got));
	assert_memory_equal(got, b, DAPI_AEAD_KEY);
	ingress_keycache_destroy(kc);
}

/* Over capacity, entries make room, and a hit is always the key put for that dialog. */
static void a_full_cache_never_mixes_dialogs(void **state)
{
	struct ingress_keycache *kc = ingress_keycache_new(64, 1000000);
	uint8_t dek[DAPI_AEAD_KEY], got[DAPI_AEAD_KEY];
	char id[32];
	int hits = 0;
	for (int i = 0; i < 1000; i++) {
		snprintf(id, sizeof(id), "dialog-%d", i);
		key_for(i, dek);
		ingress_keycache_put(kc, id, dek, i);
	}
	for (int i = 0; i < 1000; i++) {
		snprintf(id, sizeof(id), "dialog-%d", i);
		key_for(i, dek);
		if (ingress_keycache_get(kc, id, 5000, got)) {
			assert_memory_equal(got, dek, DAPI_AEAD_KEY);
			hits++;
		}
	}
	assert_true(hits > 0 && hits <= 64);
	ingress_keycache_destroy(kc);
}

/* Well under capacity nothing is evicted: a set overflowing would send its dialogs back to
 * the key store on every message. 100,000 dialogs in 262,144 slots (the ingress's size). */
static void a_cache_under_capacity_keeps_every_dialog(void **state)
{
	struct ingress_keycache *kc = ingress_keycache_new(262144, 1000000);
	uint8_t dek[DAPI_AEAD_KEY], got[DAPI_AEAD_KEY];
	char id[48];
	int misses = 0;
	(void)state;
	for (int i = 0; i < 100000; i++) {
		snprintf(id, sizeof(id), "b1796070077-d%d", i);
		key_for(i, dek);
		ingress_keycache_put(kc, id, dek, 1);
	}
	for (int i = 0; i < 100000; i++) {
		snprintf(id, sizeof(id), "b1796070077-d%d", i);
		key_for(i, dek);
		if (!ingress_keycache_get(kc, id, 2, got) || memcmp(got, dek, DAPI_AEAD_KEY) != 0)
			misses++;
	}
	assert_int_equal(misses, 0);
	ingress_keycache_destroy(kc);
}

static void a_revoked_dialogs_key_is_forgotten(void **state)
{
	struct ingress_keycache *kc = ingress_keycache_new(64, 1000);
	uint8_t a[DAPI_AEAD_KEY], b[DAPI_AEAD_KEY], got[DAPI_AEAD_KEY];
	memset(a, 1, sizeof(a));
	memset(b, 2, sizeof(b));
	ingress_keycache_put(kc, "d-1", a, 0);
	ingress_keycache_put(kc, "d-2", b, 0);
	ingress_keycache_forget(kc, "d-1");
	ingress_keycache_forget(kc, "d-9"); /* not held: nothing happens */
	assert_false(ingress_keycache_get(kc, "d-1", 1, got));
	assert_true(ingress_keycache_get(kc, "d-2", 1, got));
	assert_memory_equal(got, b, DAPI_AEAD_KEY);
	ingress_keycache_forget(NULL, "d-2");
	ingress_keycache_destroy(kc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(keys_come_back_until_they_expire),
		cmocka_unit_test(a_full_cache_never_mixes_dialogs),
		cmocka_unit_test(a_cache_under_capacity_keeps_every_dialog),
		cmocka_unit_test(a_revoked_dialogs_key_is_forgotten),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
