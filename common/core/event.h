/* The Kafka event codec: one JSON object per record, schema version 1.
 *   {"v":1,"type":"message","eventId":..,"dialogId":..,"customerId":..,"text":..,
 *    "language":..,"receivedAt":..}
 *   {"v":1,"type":"consent","eventId":..,"dialogId":..,"granted":true,"receivedAt":..} */
#ifndef DAPI_EVENT_H
#define DAPI_EVENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "validate.h"

#define DAPI_EVENT_VERSION 1

enum dapi_event_type { DAPI_EVENT_MESSAGE = 1, DAPI_EVENT_CONSENT = 2 };

/* Where the consumer read an event: its partition and offset. Zeroed: unknown (events
 * built by hand, or not read from Kafka). */
struct dapi_event_position {
	bool known;
	int32_t partition;
	int64_t offset;
};

struct dapi_event {
	enum dapi_event_type type;
	const char *event_id;
	const char *dialog_id;
	const char *customer_id; /* message only */
	const char *text;        /* message only; valid UTF-8 without NUL */
	size_t text_len;
	char language[DAPI_LANG_MAX + 1]; /* message only; upper-cased */
	bool granted;                     /* consent only */
	int64_t received_at;              /* ms since the epoch */
	struct dapi_event_position pos;   /* set by the consumer, not by the codec */
	json_t *root; /* owns the strings above after decode; NULL for hand-built events */
};

/* The header value and the "type" member for a type. */
const char *dapi_event_type_name(enum dapi_event_type type);

/* Serialises ev. Returns a malloc'd NUL-terminated string (caller frees) or NULL when out of
 * memory; *len receives its length. */
char *dapi_event_encode(const struct dapi_event *ev, size_t *len);

/* Parses and validates one record value. On success fills ev (release with
 * dapi_event_clear) and returns NULL. On failure returns a short reason code for the DLQ
 * ("invalid_json", "unsupported_version", "unknown_type", "missing_field",
 * "invalid_field", "text_too_large") and writes a detail naming the field into errstr;
 * the detail never contains message text. */
const char *dapi_event_decode(const void *buf, size_t len, size_t max_text, struct dapi_event *ev,
                              char *errstr, size_t errstr_size);

/* Releases what decode allocated; safe on a zeroed or hand-built event. */
void dapi_event_clear(struct dapi_event *ev);

#endif
