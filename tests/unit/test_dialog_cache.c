/* Unit tests: ingestd's cache of written dialogs gives back exactly the state written (the
 * loaded messages and this batch's), and forgets when it must: refused writes, age,
 * invalidation, capacity. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "dialog_cache.h"

static struct dapi_event msg(const char *dialog, const char *id, const char *lang, int64_t at)
{
	struct dapi_event ev = { .type = DAPI_EVENT_MESSAGE,
		                 .event_id = id,
		                 .dialog_id = dialog,
		                 .customer_id = "c1",
		                 .text = "hello",
		                 .text_len = 5,
		                 .received_at = at };
	strcpy(ev.language, lang);
	return ev;
}

/* A new dialog after a batch of two messages and a consent. */
static void written_dialog(struct ingestd_dialog *d, const char *id, struct dapi_event ev[3])
{
	ev[0] = msg(id, "e1", "EN", 100);
	ev[1] = msg(id, "e2", "DE", 200);
	ev[2] = (struct dapi_event){ .type = DAPI_EVENT_CONSENT,
		                     .event_id = "e3",
		                     .dialog_id = id,
		                     .granted = true,
		                     .received_at = 300 };
	for (int i = 0; i < 3; i++)
		ev[i].pos = (struct dapi_event_position){ true, 2, 40 + i };
	ingestd_dialog_init(d, id);
	for (int i = 0; i < 3; i++)
		assert_true(ingestd_dialog_apply(d, &ev[i]) >= 0);
	assert_int_equal(d->state, INGESTD_DIALOG_CONSENTED);
}

static void gives_back_the_state_written(void **state)
{
	struct ingestd_cache *c = ingestd_cache_new(10, 60000);
	struct ingestd_dialog d, got;
	struct dapi_event ev[3];
	written_dialog(&d, "d1", ev);
	ingestd_cache_put(c, &d, true, 1000);

	ingestd_dialog_init(&got, "d1");
	assert_true(ingestd_cache_get(c, &got, 1500));
	assert_int_equal(got.state, INGESTD_DIALOG_CONSENTED);
	assert_int_equal(got.loaded_state, INGESTD_DIALOG_CONSENTED);
	assert_string_equal(got.doc.customer_id, "c1");
	assert_int_equal(got.doc.created_at, d.doc.created_at);
	assert_int_equal(got.doc.last_message_at, 200);
	assert_int_equal(got.doc.consented_at, d.doc.consented_at);
	assert_true(got.doc.applied.known); /* the position of the consent, the last change */
	assert_int_equal(got.doc.applied.partition, 2);
	assert_int_equal(got.doc.applied.offset, 42);
	assert_int_equal(got.loaded_count, 2);
	assert_string_equal(got.loaded_ids[0], "e1");
	assert_string_equal(got.loaded_ids[1], "e2");
	assert_int_equal(got.n_languages, 2);
	assert_int_equal(got.n_added, 0);
	assert_true(got.loaded_bytes > 0);

	/* the same message read again is already reflected (its offset), as after a read
	 * from the store; read from another partition it is a duplicate by eventId */
	assert_int_equal(ingestd_dialog_apply(&got, &ev[0]), INGESTD_APPLY_REPLAYED);
	ev[0].pos = (struct dapi_event_position){ true, 5, 1 };
	assert_int_equal(ingestd_dialog_apply(&got, &ev[0]), INGESTD_APPLY_DUPLICATE);
	assert_false(ingestd_dialog_changed(&got));

	struct ingestd_dialog other;
	ingestd_dialog_init(&other, "d2");
	assert_false(ingestd_cache_get(c, &other, 1500));
	assert_int_equal(other.state, INGESTD_DIALOG_ABSENT);
	ingestd_dialog_clear(&other);
	ingestd_dialog_clear(&got);
	ingestd_dialog_clear(&d);
	ingestd_cache_destroy(c);
}

static void forgets_refused_writes_old_entries_and_on_invalidation(void **state)
{
	struct ingestd_cache *c = ingestd_cache_new(10, 60000);
	struct ingestd_dialog d, got;
	struct dapi_event ev[3];
	written_dialog(&d, "d1", ev);

	ingestd_cache_put(c, &d, true, 1000);
	ingestd_cache_put(c, &d, false, 1000); /* refused this time: what was there is stale */
	ingestd_dialog_init(&got, "d1");
	assert_false(ingestd_cache_get(c, &got, 1000));
	assert_int_equal(ingestd_cache_size(c), 0);

	ingestd_cache_put(c, &d, true, 1000);
	assert_false(ingestd_cache_get(c, &got, 1000 + 60001)); /* too old */
	assert_true(ingestd_cache_get(c, &got, 1000 + 60000));

	ingestd_cache_invalidate(c); /* as the sweeper does, from its thread */
	assert_false(ingestd_cache_get(c, &got, 1000));
	assert_int_equal(ingestd_cache_size(c), 0);

	ingestd_cache_put(c, &d, true, 1000);
	ingestd_cache_clear(c); /* as a rebalance does */
	assert_false(ingestd_cache_get(c, &got, 1000));
	ingestd_dialog_clear(&got);
	ingestd_dialog_clear(&d);
	ingestd_cache_destroy(c);
}

static void a_tombstone_keeps_no_messages(void **state)
{
	struct ingestd_cache *c = ingestd_cache_new(10, 60000);
	struct ingestd_dialog d, got;
	struct dapi_event ev[3], revoke = { .type = DAPI_EVENT_CONSENT,
		                            .event_id = "e4",
		                            .dialog_id = "d1",
		                            .granted = false,
		                            .received_at = 400 };
	written_dialog(&d, "d1", ev);
	assert_int_equal(ingestd_dialog_apply(&d, &revoke), INGESTD_APPLY_ERASED);
	ingestd_cache_put(c, &d, true, 1000);
	ingestd_dialog_init(&got, "d1");
	assert_true(ingestd_cache_get(c, &got, 1000));
	assert_int_equal(got.state, INGESTD_DIALOG_TOMBSTONE);
	assert_int_equal(got.loaded_count, 0);
	assert_int_equal(got.doc.revoked_at, d.doc.revoked_at);
	/* a late message stays dropped */
	struct dapi_event late = msg("d1", "e9", "EN", 500);
	assert_int_equal(ingestd_dialog_apply(&got, &late), INGESTD_APPLY_DROPPED_REVOKED);
	ingestd_dialog_clear(&got);
	ingestd_dialog_clear(&d);
	ingestd_cache_destroy(c);
}

static void stays_within_its_capacity(void **state)
{
	struct ingestd_cache *c = ingestd_cache_new(3, 60000);
	char ids[5][8];
	for (int i = 0; i < 5; i++) {
		struct ingestd_dialog d;
		struct dapi_event ev[3];
		snprintf(ids[i], sizeof(ids[i]), "d%d", i);
		written_dialog(&d, ids[i], ev);
		ingestd_cache_put(c, &d, true, 1000);
		ingestd_dialog_clear(&d);
		assert_true(ingestd_cache_size(c) <= 3);
	}
	struct ingestd_dialog last;
	ingestd_dialog_init(&last, ids[4]);
	assert_true(ingestd_cache_get(c, &last, 1000)); /* the newest is always kept */
	ingestd_dialog_clear(&last);
	ingestd_cache_destroy(c);
	assert_null(ingestd_cache_new(0, 60000)); /* disabled */
	struct ingestd_dialog none;
	ingestd_dialog_init(&none, "d1");
	assert_false(ingestd_cache_get(NULL, &none, 0));
	ingestd_cache_put(NULL, &none, true, 0);
	ingestd_cache_clear(NULL);
	ingestd_dialog_clear(&none);
}

static void rewriting_dialogs_keeps_every_other_one(void **state)
{
	/* 500 dialogs in 512 buckets share chains; writing each one again (the entry is
	 * replaced) must keep every other entry of its chain */
	enum { N = 500 };
	struct ingestd_cache *c = ingestd_cache_new(N, 60000);
	char ids[N][8];
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < N; i++) {
			struct ingestd_dialog d;
			struct dapi_event ev[3];
			snprintf(ids[i], sizeof(ids[i]), "d%d", i);
			written_dialog(&d, ids[i], ev);
			ingestd_cache_put(c, &d, true, 1000 + round);
			ingestd_dialog_clear(&d);
		}
		assert_int_equal(ingestd_cache_size(c), N);
	}
	for (int i = 0; i < N; i++) {
		struct ingestd_dialog got;
		ingestd_dialog_init(&got, ids[i]);
		if (!ingestd_cache_get(c, &got, 1001))
			fail_msg("%s was lost", ids[i]);
		assert_int_equal(got.loaded_count, 2);
		ingestd_dialog_clear(&got);
	}
	ingestd_cache_destroy(c); /* LeakSanitizer: nothing unreachable either */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(gives_back_the_state_written),
		cmocka_unit_test(forgets_refused_writes_old_entries_and_on_invalidation),
		cmocka_unit_test(a_tombstone_keeps_no_messages),
		cmocka_unit_test(stays_within_its_capacity),
		cmocka_unit_test(rewriting_dialogs_keeps_every_other_one),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
