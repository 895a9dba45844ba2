/* The product contract's state table (SPEC.md, kept beside the repository; restated in
 * docs/architecture.md, "State table and idempotency"), applied in memory: a dialog as
 * loaded from the store plus the events of one batch, in order. Pure: no I/O. The store
 * turns the result into one write. */
#ifndef INGESTD_APPLY_H
#define INGESTD_APPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "validate.h"

enum ingestd_dialog_state {
	INGESTD_DIALOG_ABSENT,
	INGESTD_DIALOG_PENDING,   /* consent: false */
	INGESTD_DIALOG_CONSENTED, /* consent: true */
	INGESTD_DIALOG_TOMBSTONE, /* revoked: true, no personal data */
};

/* Largest dialog document a batch grows by its messages: a message that would take the
 * document past it fails alone (dialog_too_large), its dialog's other events still apply.
 * Below the store's hard bound (store.h), which counts every field exactly. */
#define INGESTD_DIALOG_MAX_BYTES (16 * 1024 * 1024 - 128 * 1024)

/* The lifetimes the state table applies by event time (SPEC.md: pending dialogs with no
 * message for the pending TTL are erased, tombstones expire after theirs). An event that
 * arrives (receivedAt) that long after the dialog's last message, or its revocation, finds
 * that incarnation over, whether or not a sweep has removed it yet: the outcome is the
 * topic's alone, the same live and in any replay. 0: never. */
struct ingestd_apply_rules {
	int64_t pending_ttl_ms, tombstone_ttl_ms;
};

enum ingestd_apply_outcome {
	INGESTD_APPLY_CREATED,           /* message: absent -> pending */
	INGESTD_APPLY_APPENDED,          /* message: appended */
	INGESTD_APPLY_DUPLICATE,         /* message: eventId already stored */
	INGESTD_APPLY_DROPPED_REVOKED,   /* message: dialog is a tombstone */
	INGESTD_APPLY_CUSTOMER_MISMATCH, /* message: other customerId -> DLQ */
	INGESTD_APPLY_CONSENTED,         /* consent true: pending -> consented */
	INGESTD_APPLY_CONSENT_ABSENT,    /* consent true on an absent dialog: no-op, counted */
	INGESTD_APPLY_REPLAYED,          /* read again from an offset the document reflects */
	INGESTD_APPLY_NOOP,              /* consent that changes nothing */
	INGESTD_APPLY_ERASED,            /* consent false: data erased, tombstone */
	INGESTD_APPLY_TOMBSTONED,        /* consent false on an absent dialog: tombstone */
	INGESTD_APPLY_TOO_LARGE,         /* message: the document would pass its bound -> DLQ */
	INGESTD_APPLY_OUTCOMES
};

/* A dialog document's own fields, beside its messages and languages. */
struct ingestd_dialog_doc {
	char customer_id[DAPI_ID_MAX + 1];
	int64_t created_at, last_message_at, consented_at, revoked_at; /* ms; 0 = unset */
	/* The last event that changed the document (stored as appliedThrough): a consent
	 * read again from an earlier offset of the same partition is already reflected. */
	struct dapi_event_position applied;
};

struct ingestd_dialog {
	const char *id;                          /* borrowed from the batch's events */
	const struct ingestd_apply_rules *rules; /* borrowed; NULL: nothing expires */
	enum ingestd_dialog_state state, loaded_state;
	/* the loaded incarnation expired (rules): the write replaces the loaded version whole,
	 * or deletes it when nothing took its place */
	bool fresh;
	struct ingestd_dialog_doc doc;
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
	size_t added_bytes; /* what the added messages make the document grow by, at most */
};

/* An absent dialog with that id (borrowed, as the events own it); the store or the cache
 * fills the loaded fields before events are applied. */
void ingestd_dialog_init(struct ingestd_dialog *d, const char *id);
void ingestd_dialog_clear(struct ingestd_dialog *d);

/* Copies a stored message's eventId (loading). Returns -1 when out of memory. */
int ingestd_dialog_add_loaded_id(struct ingestd_dialog *d, const char *event_id);
/* Adds a language if new. Returns -1 when out of memory, -2 when it is not a normalized
 * language tag (events carry only those; a stored entry may not). */
int ingestd_dialog_add_language(struct ingestd_dialog *d, const char *language);

/* Applies one event (its dialogId is d->id). ev must outlive d. Returns -1 only when out
 * of memory, else the outcome.
 *
 * Kafka delivers again what was read after the last committed offset, and a replay reads
 * the whole topic again. An event whose offset is not after d->doc.applied (same
 * partition) is already reflected in the document: REPLAYED, nothing changes. Without
 * that, a granted consent read again after the dialog's first message would consent it,
 * an old revocation would erase a later incarnation of the dialogId, and an expired
 * incarnation's messages would join the next one. Messages are also de-duplicated by
 * eventId (events read from another partition, after the topic was recreated).
 *
 * With d->rules, an incarnation past its lifetime at the event's receivedAt is over before
 * the event applies (see ingestd_apply_rules): a message then starts a new pending dialog, a
 * consent finds the dialog absent. */
int ingestd_dialog_apply(struct ingestd_dialog *d, const struct dapi_event *ev);

/* Whether the batch changed the dialog, i.e. whether a write is needed. */
bool ingestd_dialog_changed(const struct ingestd_dialog *d);

const char *ingestd_apply_outcome_name(enum ingestd_apply_outcome o);

#endif
