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
static void loaded(struct ingestd_dialog *d, enum ingestd_dialog_state st)
{
	ingestd_dialog_init(d, "d1");
	d->state = d->loaded_state = st;
	if (st == INGESTD_DIALOG_PENDING || st == INGESTD_DIALOG_CONSENTED) {
		strcpy(d->doc.customer_id, "c1");
		ingestd_dialog_add_loaded_id(d, "m0");
		d->loaded_count = 1;
		ingestd_dialog_add_language(d, "EN");
		d->doc.created_at = d->doc.last_message_at = 100;
		if (st == INGESTD_DIALOG_CONSENTED)
			d->doc.consented_at = 150;
	}
	if (st == INGESTD_DIALOG_TOMBSTONE)
		d->doc.revoked_at = 50;
}

static void message_cells(void **state)
{
	struct ingestd_dialog d;
	struct dapi_event m = msg("m1", "c1", "DE", 200);

	loaded(&d, INGESTD_DIALOG_ABSENT);
	assert_int_equal(ingestd_dialog_apply(&d, &m), INGESTD_APPLY_CREATED);
	assert_int_equal(d.state, INGESTD_DIALOG_PENDING);
	assert_string_equal(d.doc.customer_id, "c1");
	assert_int_equal(d.doc.created_at, 200);
	assert_int_equal(d.n_added, 1);
	assert_true(ingestd_dialog_changed(&d));
	ingestd_dialog_clear(&d);

	loaded(&d, INGESTD_DIALOG_PENDING);
	assert_int_equal(ingestd_dialog_apply(&d, &m), INGESTD_APPLY_APPENDED);
	assert_int_equal(d.state, INGESTD_DIALOG_PENDING);
	assert_int_equal(d.n_languages, 2);
	assert_string_equal(d.languages[1], "DE");
	assert_int_equal(d.doc.last_message_at, 200);
	ingestd_dialog_clear(&d);

	loaded(&d, INGESTD_DIALOG_CONSENTED);
	assert_int_equal(ingestd_dialog_apply(&d, &m), INGESTD_APPLY_APPENDED);
	assert_int_equal(d.state, INGESTD_DIALOG_CONSENTED);
	assert_int_equal(d.doc.consented_at, 150);
	ingestd_dialog_clear(&d);

	loaded(&d, INGESTD_DIALOG_TOMBSTONE);
	assert_int_equal(ingestd_dialog_apply(&d, &m), INGESTD_APPLY_DROPPED_REVOKED);
	assert_int_equal(d.state, INGESTD_DIALOG_TOMBSTONE);
	assert_int_equal(d.n_added, 0);
	assert_false(ingestd_dialog_changed(&d));
	ingestd_dialog_clear(&d);
}

static void consent_true_cells(void **state)
{
	struct ingestd_dialog d;
	struct dapi_event yes = consent("k1", true, 300);

	loaded(&d, INGESTD_DIALOG_ABSENT);
	assert_int_equal(ingestd_dialog_apply(&d, &yes), INGESTD_APPLY_CONSENT_ABSENT);
	assert_int_equal(d.state, INGESTD_DIALOG_ABSENT);
	assert_false(ingestd_dialog_changed(&d));
	ingestd_dialog_clear(&d);

	loaded(&d, INGESTD_DIALOG_PENDING);
	assert_int_equal(ingestd_dialog_apply(&d, &yes), INGESTD_APPLY_CONSENTED);
	assert_int_equal(d.state, INGESTD_DIALOG_CONSENTED);
	assert_int_equal(d.doc.consented_at, 300);
	assert_true(ingestd_dialog_changed(&d));
	ingestd_dialog_clear(&d);

	loaded(&d, INGESTD_DIALOG_CONSENTED);
	assert_int_equal(ingestd_dialog_apply(&d, &yes), INGESTD_APPLY_NOOP);
	assert_int_equal(d.doc.consented_at, 150);
	assert_false(ingestd_dialog_changed(&d));
	ingestd_dialog_clear(&d);

	loaded(&d, INGESTD_DIALOG_TOMBSTONE);
	assert_int_equal(ingestd_dialog_apply(&d, &yes), INGESTD_APPLY_NOOP);
	assert_int_equal(d.state, INGESTD_DIALOG_TOMBSTONE);
	ingestd_dialog_clear(&d);
}

static void consent_false_cells(void **state)
{
	struct ingestd_dialog d;
	struct dapi_event no = consent("k2", false, 400);
	enum ingestd_dialog_state erasable[] = { INGESTD_DIALOG_PENDING, INGESTD_DIALOG_CONSENTED };

	loaded(&d, INGESTD_DIALOG_ABSENT);
	assert_int_equal(ingestd_dialog_apply(&d, &no), INGESTD_APPLY_TOMBSTONED);
	assert_int_equal(d.state, INGESTD_DIALOG_TOMBSTONE);
	assert_int_equal(d.doc.revoked_at, 400);
	assert_true(ingestd_dialog_changed(&d));
	ingestd_dialog_clear(&d);

	for (int i = 0; i < 2; i++) {
		loaded(&d, erasable[i]);
		assert_int_equal(ingestd_dialog_apply(&d, &no), INGESTD_APPLY_ERASED);
		assert_int_equal(d.state, INGESTD_DIALOG_TOMBSTONE);
		assert_int_equal(d.doc.revoked_at, 400);
		assert_string_equal(d.doc.customer_id, "");
		assert_int_equal(d.n_languages, 0);
		assert_int_equal(d.n_added, 0);
		ingestd_dialog_clear(&d);
	}

	loaded(&d, INGESTD_DIALOG_TOMBSTONE);
	assert_int_equal(ingestd_dialog_apply(&d, &no), INGESTD_APPLY_NOOP);
	assert_int_equal(d.doc.revoked_at, 50);
	assert_false(ingestd_dialog_changed(&d));
	ingestd_dialog_clear(&d);
}

static void duplicates_and_mismatches(void **state)
{
	struct ingestd_dialog d;
	struct dapi_event stored = msg("m0", "c1", "EN", 500);
	struct dapi_event again = msg("m1", "c1", "EN", 600);
	struct dapi_event other = msg("m2", "c2", "EN", 700);

	loaded(&d, INGESTD_DIALOG_PENDING);
	assert_int_equal(ingestd_dialog_apply(&d, &stored), INGESTD_APPLY_DUPLICATE);
	assert_int_equal(ingestd_dialog_apply(&d, &again), INGESTD_APPLY_APPENDED);
	assert_int_equal(ingestd_dialog_apply(&d, &again), INGESTD_APPLY_DUPLICATE);
	assert_int_equal(ingestd_dialog_apply(&d, &other), INGESTD_APPLY_CUSTOMER_MISMATCH);
	assert_int_equal(d.n_added, 1);
	assert_int_equal(d.doc.last_message_at, 600);
	ingestd_dialog_clear(&d);
}

static void a_batch_ending_in_revocation_leaves_only_a_tombstone(void **state)
{
	struct ingestd_dialog d;
	struct dapi_event e[] = { msg("a", "c1", "EN", 1), msg("b", "c1", "FR", 2),
		                  consent("y", true, 3),   consent("n", false, 4),
		                  msg("c", "c1", "EN", 5), consent("y2", true, 6) };
	int expect[] = { INGESTD_APPLY_CREATED,         INGESTD_APPLY_APPENDED,
		         INGESTD_APPLY_CONSENTED,       INGESTD_APPLY_ERASED,
		         INGESTD_APPLY_DROPPED_REVOKED, INGESTD_APPLY_NOOP };

	loaded(&d, INGESTD_DIALOG_ABSENT);
	for (int i = 0; i < 6; i++)
		assert_int_equal(ingestd_dialog_apply(&d, &e[i]), expect[i]);
	assert_int_equal(d.state, INGESTD_DIALOG_TOMBSTONE);
	assert_int_equal(d.doc.revoked_at, 4);
	assert_int_equal(d.n_added, 0);
	ingestd_dialog_clear(&d);
}

static void reapplying_a_batch_changes_nothing(void **state)
{
	/* After a write conflict the batch is applied again to what was stored: the result
	 * must be what one application gives. */
	struct ingestd_dialog d;
	struct dapi_event e[] = { msg("a", "c1", "EN", 1), msg("b", "c1", "EN", 2),
		                  consent("y", true, 3) };

	ingestd_dialog_init(&d, "d1");
	d.state = d.loaded_state = INGESTD_DIALOG_CONSENTED;
	strcpy(d.doc.customer_id, "c1");
	ingestd_dialog_add_loaded_id(&d, "a");
	ingestd_dialog_add_loaded_id(&d, "b");
	d.doc.consented_at = 3;
	d.doc.last_message_at = 2;
	for (int i = 0; i < 3; i++)
		ingestd_dialog_apply(&d, &e[i]);
	assert_false(ingestd_dialog_changed(&d));
	assert_int_equal(d.doc.consented_at, 3);
	ingestd_dialog_clear(&d);
}

static void last_message_time_never_goes_back(void **state)
{
	struct ingestd_dialog d;
	struct dapi_event late = msg("a", "c1", "EN", 900), early = msg("b", "c1", "EN", 800);
	loaded(&d, INGESTD_DIALOG_ABSENT);
	ingestd_dialog_apply(&d, &late);
	ingestd_dialog_apply(&d, &early);
	assert_int_equal(d.doc.last_message_at, 900);
	assert_int_equal(d.n_added, 2);
	assert_string_equal(d.added[1]->event_id, "b");
	ingestd_dialog_clear(&d);
}

/* The event as read from partition p at offset o. */
static struct dapi_event at(struct dapi_event ev, int32_t p, int64_t o)
{
	ev.pos = (struct dapi_event_position){ true, p, o };
	return ev;
}

/* Applies n events in order; none may run out of memory. */
static void apply_all(struct ingestd_dialog *d, struct dapi_event *e, int n)
{
	for (int i = 0; i < n; i++)
		assert_true(ingestd_dialog_apply(d, &e[i]) >= 0);
}

static void a_consent_read_again_after_the_first_message_stays_a_no_op(void **state)
{
	/* consent true before any message (no-op), then a message: the document is created
	 * with appliedThrough = the message's offset */
	struct ingestd_dialog d;
	struct dapi_event e[] = { at(consent("y", true, 1), 3, 10),
		                  at(msg("a", "c1", "EN", 2), 3, 11) };

	loaded(&d, INGESTD_DIALOG_ABSENT);
	assert_int_equal(ingestd_dialog_apply(&d, &e[0]), INGESTD_APPLY_CONSENT_ABSENT);
	assert_int_equal(ingestd_dialog_apply(&d, &e[1]), INGESTD_APPLY_CREATED);
	assert_true(d.doc.applied.known);
	assert_int_equal(d.doc.applied.partition, 3);
	assert_int_equal(d.doc.applied.offset, 11);
	ingestd_dialog_clear(&d);

	/* both read again over the stored, pending document: nothing changes */
	loaded(&d, INGESTD_DIALOG_PENDING);
	d.doc.applied = e[1].pos;
	assert_int_equal(ingestd_dialog_apply(&d, &e[0]), INGESTD_APPLY_REPLAYED);
	assert_int_equal(d.state, INGESTD_DIALOG_PENDING);
	struct dapi_event again = at(msg("m0", "c1", "EN", 2), 3, 11); /* "m0" is stored */
	assert_int_equal(ingestd_dialog_apply(&d, &again), INGESTD_APPLY_REPLAYED);
	again.pos.partition = 4; /* from another partition: a duplicate by its eventId */
	assert_int_equal(ingestd_dialog_apply(&d, &again), INGESTD_APPLY_DUPLICATE);
	assert_false(ingestd_dialog_changed(&d));
	ingestd_dialog_clear(&d);
}

static void a_consent_after_the_documents_last_change_applies(void **state)
{
	struct ingestd_dialog d;
	struct dapi_event later = at(consent("y", true, 5), 3, 12);
	struct dapi_event other_partition = at(consent("y", true, 5), 4, 2);
	struct dapi_event unknown = consent("y", true, 5);

	loaded(&d, INGESTD_DIALOG_PENDING);
	d.doc.applied = (struct dapi_event_position){ true, 3, 11 };
	assert_int_equal(ingestd_dialog_apply(&d, &later), INGESTD_APPLY_CONSENTED);
	assert_int_equal(d.doc.applied.offset, 12);
	ingestd_dialog_clear(&d);

	/* positions of another partition (more partitions since) or none say nothing */
	loaded(&d, INGESTD_DIALOG_PENDING);
	d.doc.applied = (struct dapi_event_position){ true, 3, 11 };
	assert_int_equal(ingestd_dialog_apply(&d, &other_partition), INGESTD_APPLY_CONSENTED);
	assert_int_equal(d.doc.applied.partition, 4);
	ingestd_dialog_clear(&d);
	loaded(&d, INGESTD_DIALOG_PENDING);
	d.doc.applied = (struct dapi_event_position){ true, 3, 11 };
	assert_int_equal(ingestd_dialog_apply(&d, &unknown), INGESTD_APPLY_CONSENTED);
	ingestd_dialog_clear(&d);
}

static void no_op_events_do_not_move_the_position(void **state)
{
	struct ingestd_dialog d;
	struct dapi_event e[] = { at(msg("a", "c1", "EN", 1), 0, 5),
		                  at(msg("a", "c1", "EN", 1), 0, 6),
		                  at(consent("n", false, 2), 0, 7), at(consent("y", true, 3), 0, 8),
		                  at(msg("b", "c1", "EN", 4), 0, 9) };

	loaded(&d, INGESTD_DIALOG_ABSENT);
	apply_all(&d, e, 2); /* created at 5; the duplicate at 6 changes nothing */
	assert_int_equal(d.doc.applied.offset, 5);
	apply_all(&d, e + 2, 3); /* erased at 7; the consent and message after are dropped */
	assert_int_equal(d.state, INGESTD_DIALOG_TOMBSTONE);
	assert_int_equal(d.doc.applied.offset, 7);
	ingestd_dialog_clear(&d);
}

static void an_old_revocation_read_again_leaves_a_later_incarnation(void **state)
{
	/* the document is a later incarnation (its last change at offset 30): the revocation
	 * at offset 12 of the same partition erased an earlier one, already reflected */
	struct ingestd_dialog d;
	struct dapi_event old_no = at(consent("n", false, 40), 3, 12);
	struct dapi_event old_msg = at(msg("x", "c1", "EN", 30), 3, 11);

	loaded(&d, INGESTD_DIALOG_CONSENTED);
	d.doc.applied = (struct dapi_event_position){ true, 3, 30 };
	assert_int_equal(ingestd_dialog_apply(&d, &old_no), INGESTD_APPLY_REPLAYED);
	assert_int_equal(ingestd_dialog_apply(&d, &old_msg), INGESTD_APPLY_REPLAYED);
	assert_int_equal(d.state, INGESTD_DIALOG_CONSENTED);
	assert_int_equal(d.n_added, 0);
	assert_false(ingestd_dialog_changed(&d));
	ingestd_dialog_clear(&d);
}

static void a_tombstone_expires_by_event_time(void **state)
{
	const struct ingestd_apply_rules rules = { 0, 1000 };
	struct ingestd_dialog d;
	struct dapi_event late = msg("m1", "c9", "EN", 1049), after = msg("m2", "c9", "EN", 1050);
	struct dapi_event no = consent("n", false, 2000);

	loaded(&d, INGESTD_DIALOG_TOMBSTONE); /* revoked at 50 */
	d.rules = &rules;
	assert_int_equal(ingestd_dialog_apply(&d, &late), INGESTD_APPLY_DROPPED_REVOKED);
	assert_false(ingestd_dialog_changed(&d));
	/* a tombstone TTL after the revocation the dialogId starts again, whether or not the
	 * sweeper has removed the tombstone yet */
	assert_int_equal(ingestd_dialog_apply(&d, &after), INGESTD_APPLY_CREATED);
	assert_int_equal(d.state, INGESTD_DIALOG_PENDING);
	assert_true(d.fresh);
	assert_true(ingestd_dialog_changed(&d));
	assert_string_equal(d.doc.customer_id, "c9");
	ingestd_dialog_clear(&d);

	/* a revocation after an expired tombstone is a new one, written anew */
	loaded(&d, INGESTD_DIALOG_TOMBSTONE);
	d.rules = &rules;
	assert_int_equal(ingestd_dialog_apply(&d, &no), INGESTD_APPLY_TOMBSTONED);
	assert_int_equal(d.doc.revoked_at, 2000);
	assert_true(ingestd_dialog_changed(&d));
	ingestd_dialog_clear(&d);
}

static void a_pending_dialog_expires_by_event_time(void **state)
{
	const struct ingestd_apply_rules rules = { 1000, 0 };
	struct ingestd_dialog d;
	struct dapi_event in_time = consent("y", true, 1099), too_late = consent("y", true, 1100);
	struct dapi_event again = msg("m0", "c1", "EN", 1100); /* "m0" is the stored message */

	loaded(&d, INGESTD_DIALOG_PENDING); /* last message at 100 */
	d.rules = &rules;
	assert_int_equal(ingestd_dialog_apply(&d, &in_time), INGESTD_APPLY_CONSENTED);
	ingestd_dialog_clear(&d);

	loaded(&d, INGESTD_DIALOG_PENDING);
	d.rules = &rules;
	assert_int_equal(ingestd_dialog_apply(&d, &too_late), INGESTD_APPLY_CONSENT_ABSENT);
	assert_int_equal(d.state, INGESTD_DIALOG_ABSENT); /* written as a guarded delete */
	assert_true(d.fresh);
	assert_true(ingestd_dialog_changed(&d));
	ingestd_dialog_clear(&d);

	/* a message after the TTL starts a new incarnation: the old messages are not in it */
	loaded(&d, INGESTD_DIALOG_PENDING);
	d.rules = &rules;
	assert_int_equal(ingestd_dialog_apply(&d, &again), INGESTD_APPLY_CREATED);
	assert_int_equal(d.loaded_count, 0);
	assert_int_equal(d.n_added, 1);
	assert_int_equal(d.doc.created_at, 1100);
	ingestd_dialog_clear(&d);

	/* a consented dialog has no TTL */
	struct dapi_event much_later = msg("m9", "c1", "EN", 100000);
	loaded(&d, INGESTD_DIALOG_CONSENTED);
	d.rules = &rules;
	assert_int_equal(ingestd_dialog_apply(&d, &much_later), INGESTD_APPLY_APPENDED);
	assert_false(d.fresh);
	ingestd_dialog_clear(&d);
}

static void an_oversized_message_fails_alone(void **state)
{
	struct ingestd_dialog d;
	struct dapi_event big = msg("m1", "c1", "EN", 200), small = msg("m2", "c1", "EN", 201);
	struct dapi_event yes = consent("y", true, 300);

	loaded(&d, INGESTD_DIALOG_PENDING);
	d.loaded_bytes = INGESTD_DIALOG_MAX_BYTES - 200;
	big.text_len = 150; /* with its fields, past the bound */
	assert_int_equal(ingestd_dialog_apply(&d, &big), INGESTD_APPLY_TOO_LARGE);
	assert_int_equal(d.n_added, 0);
	small.text_len = 5;
	assert_int_equal(ingestd_dialog_apply(&d, &small), INGESTD_APPLY_APPENDED);
	assert_int_equal(ingestd_dialog_apply(&d, &yes), INGESTD_APPLY_CONSENTED);
	assert_int_equal(d.state, INGESTD_DIALOG_CONSENTED);
	ingestd_dialog_clear(&d);
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
		cmocka_unit_test(a_consent_read_again_after_the_first_message_stays_a_no_op),
		cmocka_unit_test(a_consent_after_the_documents_last_change_applies),
		cmocka_unit_test(no_op_events_do_not_move_the_position),
		cmocka_unit_test(an_old_revocation_read_again_leaves_a_later_incarnation),
		cmocka_unit_test(a_tombstone_expires_by_event_time),
		cmocka_unit_test(a_pending_dialog_expires_by_event_time),
		cmocka_unit_test(an_oversized_message_fails_alone),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
