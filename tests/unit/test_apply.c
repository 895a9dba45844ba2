/* Unit tests: SPEC.md's state table, every cell, plus idempotency and ordering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "apply.h"

static struct dapi_event msg(const char *id, const char *customer, const char *lang, int64_t at)
{
	struct dapi_event ev = { .type = DAPI_EVENT_MESSAGE,
		                 .event_id = id,
		                 .dialog_id = "d1",
		                 .customer_id = customer,
		                 .text = "hello",
		                 .text_len = 5,
		                 .received_at = at };
	strcpy(ev.language, lang);
	return ev;
}

static struct dapi_event consent(const char *id, bool granted, int64_t at)
{
	struct dapi_event ev = { .type = DAPI_EVENT_CONSENT,
		                 .event_id = id,
		                 .dialog_id = "d1",
		                 .granted = granted,
		                 .received_at = at };
	return ev;
}

/* A dialog as loaded in a given state, with one stored message "m0" when it has data. */
static void loaded(struct dapi_dialog *d, enum dapi_dialog_state st)
{
	dapi_dialog_init(d, "d1");
	d->state = d->loaded_state = st;
	if (st == DAPI_DIALOG_PENDING || st == DAPI_DIALOG_CONSENTED) {
		strcpy(d->customer_id, "c1");
		dapi_dialog_add_loaded_id(d, "m0");
		d->loaded_count = 1;
		dapi_dialog_add_language(d, "EN");
		d->created_at = d->last_message_at = 100;
		if (st == DAPI_DIALOG_CONSENTED)
			d->consented_at = 150;
	}
	if (st == DAPI_DIALOG_TOMBSTONE)
		d->revoked_at = 50;
}

static void message_cells(void **state)
{
	struct dapi_dialog d;
	struct dapi_event m = msg("m1", "c1", "DE", 200);

	loaded(&d, DAPI_DIALOG_ABSENT);
	assert_int_equal(dapi_dialog_apply(&d, &m), DAPI_APPLY_CREATED);
	assert_int_equal(d.state, DAPI_DIALOG_PENDING);
	assert_string_equal(d.customer_id, "c1");
	assert_int_equal(d.created_at, 200);
	assert_int_equal(d.n_added, 1);
	assert_true(dapi_dialog_changed(&d));
	dapi_dialog_clear(&d);

	loaded(&d, DAPI_DIALOG_PENDING);
	assert_int_equal(dapi_dialog_apply(&d, &m), DAPI_APPLY_APPENDED);
	assert_int_equal(d.state, DAPI_DIALOG_PENDING);
	assert_int_equal(d.n_languages, 2);
	assert_string_equal(d.languages[1], "DE");
	assert_int_equal(d.last_message_at, 200);
	dapi_dialog_clear(&d);

	loaded(&d, DAPI_DIALOG_CONSENTED);
	assert_int_equal(dapi_dialog_apply(&d, &m), DAPI_APPLY_APPENDED);
	assert_int_equal(d.state, DAPI_DIALOG_CONSENTED);
	assert_int_equal(d.consented_at, 150);
	dapi_dialog_clear(&d);

	loaded(&d, DAPI_DIALOG_TOMBSTONE);
	assert_int_equal(dapi_dialog_apply(&d, &m), DAPI_APPLY_DROPPED_REVOKED);
	assert_int_equal(d.state, DAPI_DIALOG_TOMBSTONE);
	assert_int_equal(d.n_added, 0);
	assert_false(dapi_dialog_changed(&d));
	dapi_dialog_clear(&d);
}

static void consent_true_cells(void **state)
{
	struct dapi_dialog d;
	struct dapi_event yes = consent("k1", true, 300);

	loaded(&d, DAPI_DIALOG_ABSENT);
	assert_int_equal(dapi_dialog_apply(&d, &yes), DAPI_APPLY_CONSENT_ABSENT);
	assert_int_equal(d.state, DAPI_DIALOG_ABSENT);
	assert_false(dapi_dialog_changed(&d));
	dapi_dialog_clear(&d);

	loaded(&d, DAPI_DIALOG_PENDING);
	assert_int_equal(dapi_dialog_apply(&d, &yes), DAPI_APPLY_CONSENTED);
	assert_int_equal(d.state, DAPI_DIALOG_CONSENTED);
	assert_int_equal(d.consented_at, 300);
	assert_true(dapi_dialog_changed(&d));
	dapi_dialog_clear(&d);

	loaded(&d, DAPI_DIALOG_CONSENTED);
	assert_int_equal(dapi_dialog_apply(&d, &yes), DAPI_APPLY_NOOP);
	assert_int_equal(d.consented_at, 150);
	assert_false(dapi_dialog_changed(&d));
	dapi_dialog_clear(&d);

	loaded(&d, DAPI_DIALOG_TOMBSTONE);
	assert_int_equal(dapi_dialog_apply(&d, &yes), DAPI_APPLY_NOOP);
	assert_int_equal(d.state, DAPI_DIALOG_TOMBSTONE);
	dapi_dialog_clear(&d);
}

static void consent_false_cells(void **state)
{
	struct dapi_dialog d;
	struct dapi_event no = consent("k2", false, 400);
	enum dapi_dialog_state erasable[] = { DAPI_DIALOG_PENDING, DAPI_DIALOG_CONSENTED };

	loaded(&d, DAPI_DIALOG_ABSENT);
	assert_int_equal(dapi_dialog_apply(&d, &no), DAPI_APPLY_TOMBSTONED);
	assert_int_equal(d.state, DAPI_DIALOG_TOMBSTONE);
	assert_int_equal(d.revoked_at, 400);
	assert_true(dapi_dialog_changed(&d));
	dapi_dialog_clear(&d);

	for (int i = 0; i < 2; i++) {
		loaded(&d, erasable[i]);
		assert_int_equal(dapi_dialog_apply(&d, &no), DAPI_APPLY_ERASED);
		assert_int_equal(d.state, DAPI_DIALOG_TOMBSTONE);
		assert_int_equal(d.revoked_at, 400);
		assert_string_equal(d.customer_id, "");
		assert_int_equal(d.n_languages, 0);
		assert_int_equal(d.n_added, 0);
		dapi_dialog_clear(&d);
	}

	loaded(&d, DAPI_DIALOG_TOMBSTONE);
	assert_int_equal(dapi_dialog_apply(&d, &no), DAPI_APPLY_NOOP);
	assert_int_equal(d.revoked_at, 50);
	assert_false(dapi_dialog_changed(&d));
	dapi_dialog_clear(&d);
}

static void duplicates_and_mismatches(void **state)
{
	struct dapi_dialog d;
	struct dapi_event stored = msg("m0", "c1", "EN", 500);
	struct dapi_event again = msg("m1", "c1", "EN", 600);
	struct dapi_event other = msg("m2", "c2", "EN", 700);

	loaded(&d, DAPI_DIALOG_PENDING);
	assert_int_equal(dapi_dialog_apply(&d, &stored), DAPI_APPLY_DUPLICATE);
	assert_int_equal(dapi_dialog_apply(&d, &again), DAPI_APPLY_APPENDED);
	assert_int_equal(dapi_dialog_apply(&d, &again), DAPI_APPLY_DUPLICATE);
	assert_int_equal(dapi_dialog_apply(&d, &other), DAPI_APPLY_CUSTOMER_MISMATCH);
	assert_int_equal(d.n_added, 1);
	assert_int_equal(d.last_message_at, 600);
	dapi_dialog_clear(&d);
}

static void a_batch_ending_in_revocation_leaves_only_a_tombstone(void **state)
{
	struct dapi_dialog d;
	struct dapi_event e[] = { msg("a", "c1", "EN", 1), msg("b", "c1", "FR", 2),
		                  consent("y", true, 3),   consent("n", false, 4),
		                  msg("c", "c1", "EN", 5), consent("y2", true, 6) };
	int expect[] = { DAPI_APPLY_CREATED, DAPI_APPLY_APPENDED,        DAPI_APPLY_CONSENTED,
		         DAPI_APPLY_ERASED,  DAPI_APPLY_DROPPED_REVOKED, DAPI_APPLY_NOOP };

	loaded(&d, DAPI_DIALOG_ABSENT);
	for (int i = 0; i < 6; i++)
		assert_int_equal(dapi_dialog_apply(&d, &e[i]), expect[i]);
	assert_int_equal(d.state, DAPI_DIALOG_TOMBSTONE);
	assert_int_equal(d.revoked_at, 4);
	assert_int_equal(d.n_added, 0);
	dapi_dialog_clear(&d);
}

static void reapplying_a_batch_changes_nothing(void **state)
{
	/* After a write conflict the batch is applied again to what was stored: the result
	 * must be what one application gives. */
	struct dapi_dialog d;
	struct dapi_event e[] = { msg("a", "c1", "EN", 1), msg("b", "c1", "EN", 2),
		                  consent("y", true, 3) };

	dapi_dialog_init(&d, "d1");
	d.state = d.loaded_state = DAPI_DIALOG_CONSENTED;
	strcpy(d.customer_id, "c1");
	dapi_dialog_add_loaded_id(&d, "a");
	dapi_dialog_add_loaded_id(&d, "b");
	d.consented_at = 3;
	d.last_message_at = 2;
	for (int i = 0; i < 3; i++)
		dapi_dialog_apply(&d, &e[i]);
	assert_false(dapi_dialog_changed(&d));
	assert_int_equal(d.consented_at, 3);
	dapi_dialog_clear(&d);
}

static void last_message_time_never_goes_back(void **state)
{
	struct dapi_dialog d;
	struct dapi_event late = msg("a", "c1", "EN", 900), early = msg("b", "c1", "EN", 800);
	loaded(&d, DAPI_DIALOG_ABSENT);
	dapi_dialog_apply(&d, &late);
	dapi_dialog_apply(&d, &early);
	assert_int_equal(d.last_message_at, 900);
	assert_int_equal(d.n_added, 2);
	assert_string_equal(d.added[1]->event_id, "b");
	dapi_dialog_clear(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(message_cells),
		cmocka_unit_test(consent_true_cells),
		cmocka_unit_test(consent_false_cells),
		cmocka_unit_test(duplicates_and_mismatches),
		cmocka_unit_test(a_batch_ending_in_revocation_leaves_only_a_tombstone),
		cmocka_unit_test(reapplying_a_batch_changes_nothing),
		cmocka_unit_test(last_message_time_never_goes_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
