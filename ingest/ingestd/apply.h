/* The product contract's state table (SPEC.md, kept beside the repository; restated in
 * docs/architecture.md, "State table and idempotency"), applied in memory: a dialog as
 * loaded from the store plus the events of one batch, in order. Pure: no I/O. The store
 * turns the result into one write. */
#ifndef DAPI_APPLY_H
#define DAPI_APPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "validate.h"

enum dapi_dialog_state {
	DAPI_DIALOG_ABSENT,
	DAPI_DIALOG_PENDING,   /* consent: false */
	DAPI_DIALOG_CONSENTED, /* consent: true */
	DAPI_DIALOG_TOMBSTONE, /* revoked: true, no personal data */
};

enum dapi_apply_outcome {
	DAPI_APPLY_CREATED,           /* message: absent -> pending */
	DAPI_APPLY_APPENDED,          /* message: appended */
	DAPI_APPLY_DUPLICATE,         /* message: eventId already stored */
	DAPI_APPLY_DROPPED_REVOKED,   /* message: dialog is a tombstone */
	DAPI_APPLY_CUSTOMER_MISMATCH, /* message: other customerId -> DLQ */
	DAPI_APPLY_CONSENTED,         /* consent true: pending -> consented */
	DAPI_APPLY_CONSENT_ABSENT,    /* consent true on an absent dialog: no-op, counted */
	DAPI_APPLY_REPLAYED,          /* consent true read again, older than the document */
	DAPI_APPLY_NOOP,              /* consent that changes nothing */
	DAPI_APPLY_ERASED,            /* consent false: data erased, tombstone */
	DAPI_APPLY_TOMBSTONED,        /* consent false on an absent dialog: tombstone */
	DAPI_APPLY_OUTCOMES
};

/* A dialog document's own fields, beside its messages and languages. */
struct dapi_dialog_doc {
	char customer_id[DAPI_ID_MAX + 1];
	int64_t created_at, last_message_at, consented_at, revoked_at; /* ms; 0 = unset */
	/* The last event that changed the document (stored as appliedThrough): a consent
	 * read again from an earlier offset of the same partition is already reflected. */
	struct dapi_event_position applied;
};

struct dapi_dialog {
	const char *id; /* borrowed from the batch's events */
	enum dapi_dialog_state state, loaded_state;
	struct dapi_dialog_doc doc;
	/* messages as loaded: count and eventIds (for de-duplication) */
	size_t loaded_count;
	char **loaded_ids;
	size_t loaded_bytes; /* BSON size of the loaded document */
	/* appliedThrough as loaded: the version the write is conditional on (store.c) */
	struct dapi_event_position loaded_applied;
	/* the stored document's appliedThrough is not as ingestd writes it: no guarded write
	 * could match it, so the dialog is not written (its events go to the DLQ) */
	bool loaded_untrusted;
	/* languages in order of first appearance */
	char (*languages)[DAPI_LANG_MAX + 1];
	size_t n_languages, cap_languages;
	/* messages this batch appends, borrowed from the events */
	const struct dapi_event **added;
	size_t n_added, cap_added;
};

/* An absent dialog with that id (borrowed, as the events own it); the store or the cache
 * fills the loaded fields before events are applied. */
void dapi_dialog_init(struct dapi_dialog *d, const char *id);
void dapi_dialog_clear(struct dapi_dialog *d);

/* Copies a stored message's eventId (loading). Returns -1 when out of memory. */
int dapi_dialog_add_loaded_id(struct dapi_dialog *d, const char *event_id);
/* Adds a language if new. Returns -1 when out of memory, -2 when it is not a normalized
 * language tag (events carry only those; a stored entry may not). */
int dapi_dialog_add_language(struct dapi_dialog *d, const char *language);

/* Applies one event (its dialogId is d->id). ev must outlive d. Returns -1 only when out
 * of memory, else the outcome.
 *
 * Kafka delivers again what was read after the last committed offset. Messages are
 * de-duplicated by eventId and a revocation is final, so re-applying them cannot change
 * a document; a granted consent can: one that came before the dialog's first message is a
 * no-op, but read again after that message it would consent the dialog. So a granted
 * consent whose offset is not after d->doc.applied (same partition) is not applied again. */
int dapi_dialog_apply(struct dapi_dialog *d, const struct dapi_event *ev);

/* Whether the batch changed the dialog, i.e. whether a write is needed. */
bool dapi_dialog_changed(const struct dapi_dialog *d);

const char *dapi_apply_outcome_name(enum dapi_apply_outcome o);

#endif
