#include "apply.h"

#include <stdlib.h>
#include <string.h>

void ingestd_dialog_init(struct ingestd_dialog *d, const char *id)
{
	memset(d, 0, sizeof(*d));
	d->id = id;
}

void ingestd_dialog_clear(struct ingestd_dialog *d)
{
	for (size_t i = 0; i < d->loaded_count; i++)
		free(d->loaded_ids[i]);
	free(d->loaded_ids);
	free(d->languages);
	free(d->added);
	memset(d, 0, sizeof(*d));
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	void *p;
	size_t n;
	if (need <= *cap)
		return 0;
	n = *cap ? *cap * 2 : 8;
	while (n < need)
		n *= 2;
	p = realloc(*arr, n * elem);
	if (!p)
		return -1;
	*arr = p;
	*cap = n;
	return 0;
}

int ingestd_dialog_add_loaded_id(struct ingestd_dialog *d, const char *event_id)
{
	char *copy = strdup(event_id), **ids;
	if (!copy)
		return -1;
	ids = realloc(d->loaded_ids, (d->loaded_count + 1) * sizeof(*ids));
	if (!ids) {
		free(copy);
		return -1;
	}
	d->loaded_ids = ids;
	d->loaded_ids[d->loaded_count++] = copy;
	return 0;
}

int ingestd_dialog_add_language(struct ingestd_dialog *d, const char *language)
{
	char tag[DAPI_LANG_MAX + 1];
	size_t len = strlen(language);

	if (len > DAPI_LANG_MAX || !dapi_language_normalize(language, len, tag) ||
	    strcmp(tag, language))
		return -2;
	for (size_t i = 0; i < d->n_languages; i++)
		if (!strcmp(d->languages[i], language))
			return 0;
	if (grow((void **)&d->languages, &d->cap_languages, d->n_languages + 1,
	         sizeof(*d->languages)) < 0)
		return -1;
	strcpy(d->languages[d->n_languages++], language);
	return 0;
}

static bool has_event(const struct ingestd_dialog *d, const char *event_id)
{
	for (size_t i = 0; i < d->loaded_count; i++)
		if (!strcmp(d->loaded_ids[i], event_id))
			return true;
	for (size_t i = 0; i < d->n_added; i++)
		if (!strcmp(d->added[i]->event_id, event_id))
			return true;
	return false;
}

/* At most what one message adds to the stored document: its entry in messages (the index
 * key, four field names, lengths, terminators, the date) and a language added to the list. */
static size_t message_bytes(const struct dapi_event *ev)
{
	return 96 + strlen(ev->event_id) + ev->text_len + 2 * strlen(ev->language);
}

/* The document's size before this batch's messages: nothing when it is written anew. */
static size_t base_bytes(const struct ingestd_dialog *d)
{
	return d->fresh || d->loaded_state == INGESTD_DIALOG_ABSENT ? 0 : d->loaded_bytes;
}

static int apply_message(struct ingestd_dialog *d, const struct dapi_event *ev)
{
	enum ingestd_apply_outcome outcome = INGESTD_APPLY_APPENDED;
	size_t cost = message_bytes(ev);

	switch (d->state) {
	case INGESTD_DIALOG_TOMBSTONE:
		return INGESTD_APPLY_DROPPED_REVOKED;
	case INGESTD_DIALOG_ABSENT:
		outcome = INGESTD_APPLY_CREATED;
		break;
	case INGESTD_DIALOG_PENDING:
	case INGESTD_DIALOG_CONSENTED:
		if (strcmp(d->doc.customer_id, ev->customer_id) != 0)
			return INGESTD_APPLY_CUSTOMER_MISMATCH;
		if (has_event(d, ev->event_id))
			return INGESTD_APPLY_DUPLICATE;
		break;
	}
	if (base_bytes(d) + d->added_bytes + cost > INGESTD_DIALOG_MAX_BYTES)
		return INGESTD_APPLY_TOO_LARGE; /* this message alone; the dialog's others go on */
	if (grow((void **)&d->added, &d->cap_added, d->n_added + 1, sizeof(*d->added)) < 0 ||
	    ingestd_dialog_add_language(d, ev->language) == -1)
		return -1;
	if (outcome == INGESTD_APPLY_CREATED) {
		d->state = INGESTD_DIALOG_PENDING;
		strcpy(d->doc.customer_id, ev->customer_id);
		d->doc.created_at = ev->received_at;
	}
	d->added[d->n_added++] = ev;
	d->added_bytes += cost;
	/* Clocks of several ingress hosts may disagree: lastMessageAt never goes back. */
	if (ev->received_at > d->doc.last_message_at)
		d->doc.last_message_at = ev->received_at;
	return outcome;
}

/* Drops every piece of personal data; what remains is the tombstone. */
static void erase(struct ingestd_dialog *d, int64_t at)
{
	d->state = INGESTD_DIALOG_TOMBSTONE;
	d->doc.revoked_at = at;
	d->doc.customer_id[0] = '\0';
	d->n_added = 0;
	d->added_bytes = 0;
	d->n_languages = 0;
	d->doc.created_at = d->doc.last_message_at = d->doc.consented_at = 0;
}

/* The loaded incarnation is over: the dialog is absent for this event, and what the batch
 * writes replaces the loaded document (or deletes it). Its position stays: the version. */
static void expire(struct ingestd_dialog *d)
{
	for (size_t i = 0; i < d->loaded_count; i++)
		free(d->loaded_ids[i]);
	d->loaded_count = 0;
	erase(d, 0);
	d->state = INGESTD_DIALOG_ABSENT;
	d->fresh = true;
}

/* Whether ev comes a lifetime (d->rules) after the dialog's last message (pending) or its
 * revocation (tombstone). Consented dialogs never expire here. */
static bool expired_at(const struct ingestd_dialog *d, const struct dapi_event *ev)
{
	const struct ingestd_apply_rules *r = d->rules;
	if (!r)
		return false;
	if (d->state == INGESTD_DIALOG_TOMBSTONE)
		return r->tombstone_ttl_ms > 0 &&
		       ev->received_at - d->doc.revoked_at >= r->tombstone_ttl_ms;
	return d->state == INGESTD_DIALOG_PENDING && r->pending_ttl_ms > 0 &&
	       d->doc.last_message_at > 0 &&
	       ev->received_at - d->doc.last_message_at >= r->pending_ttl_ms;
}

/* Whether ev was read from the same partition as the document's last change, not after it. */
static bool read_before(const struct dapi_event *ev, const struct ingestd_dialog *d)
{
	return ev->pos.known && d->doc.applied.known &&
	       ev->pos.partition == d->doc.applied.partition &&
	       ev->pos.offset <= d->doc.applied.offset;
}

static int apply_consent(struct ingestd_dialog *d, const struct dapi_event *ev)
{
	if (ev->granted) {
		switch (d->state) {
		case INGESTD_DIALOG_ABSENT:
			return INGESTD_APPLY_CONSENT_ABSENT;
		case INGESTD_DIALOG_PENDING:
			d->state = INGESTD_DIALOG_CONSENTED;
			d->doc.consented_at = ev->received_at;
			return INGESTD_APPLY_CONSENTED;
		default:
			return INGESTD_APPLY_NOOP;
		}
	}
	switch (d->state) {
	case INGESTD_DIALOG_ABSENT:
		erase(d, ev->received_at);
		return INGESTD_APPLY_TOMBSTONED;
	case INGESTD_DIALOG_PENDING:
	case INGESTD_DIALOG_CONSENTED:
		erase(d, ev->received_at);
		return INGESTD_APPLY_ERASED;
	default:
		return INGESTD_APPLY_NOOP;
	}
}

int ingestd_dialog_apply(struct ingestd_dialog *d, const struct dapi_event *ev)
{
	if (read_before(ev, d))
		return INGESTD_APPLY_REPLAYED;
	if (expired_at(d, ev))
		expire(d);
	int outcome = ev->type == DAPI_EVENT_MESSAGE ? apply_message(d, ev) : apply_consent(d, ev);
	switch (outcome) {
	case INGESTD_APPLY_CREATED:
	case INGESTD_APPLY_APPENDED:
	case INGESTD_APPLY_CONSENTED:
	case INGESTD_APPLY_ERASED:
	case INGESTD_APPLY_TOMBSTONED:
		if (ev->pos.known)
			d->doc.applied = ev->pos;
		break;
	default:
		break;
	}
	return outcome;
}

bool ingestd_dialog_changed(const struct ingestd_dialog *d)
{
	/* fresh: the loaded document is replaced or deleted, if there was one */
	return d->state != d->loaded_state || d->n_added > 0 ||
	       (d->fresh && d->loaded_state != INGESTD_DIALOG_ABSENT);
}

const char *ingestd_apply_outcome_name(enum ingestd_apply_outcome o)
{
	static const char *const names[INGESTD_APPLY_OUTCOMES] = {
		"created",         "appended",          "duplicate",
		"dropped_revoked", "customer_mismatch", "consented",
		"consent_absent",  "replayed",          "noop",
		"erased",          "tombstoned",        "too_large",
	};
	return o < INGESTD_APPLY_OUTCOMES ? names[o] : "unknown";
}
