/* The Kafka event codec: one JSON object per record.
 *   {"v":1,"type":"message","eventId":..,"dialogId":..,"customerId":..,"text":..,
 *    "language":..,"receivedAt":..}
 *   {"v":2,"type":"message","eventId":..,"dialogId":..,"receivedAt":..,"sealed":..}
 *   {"v":1,"type":"consent","eventId":..,"dialogId":..,"granted":true,"receivedAt":..}
 * A v2 message carries its personal fields (customerId, text, language) only inside
 * "sealed": the base64 of an AES-256-GCM box under the dialog's data key (common/seal). The
 * codec reads and writes the box's plaintext, {"customerId":..,"text":..,"language":..};
 * the sealing itself is common/seal's. A consent has nothing to seal: it reads the same
 * under v1 and v2 and is written as v1. */
#ifndef DAPI_EVENT_H
#define DAPI_EVENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "validate.h"

#define DAPI_EVENT_VERSION        1 /* clear */
#define DAPI_EVENT_VERSION_SEALED 2

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
	int version; /* as decoded: 1, or 2 for a sealed message */
	const char *event_id;
	const char *dialog_id;
	const char *customer_id; /* message only */
	const char *text;        /* message only; valid UTF-8 without NUL */
	size_t text_len;
	char language[DAPI_LANG_MAX + 1]; /* message only; upper-cased */
	bool granted;                     /* consent only */
	int64_t received_at;              /* ms since the epoch */
	struct dapi_event_position pos;   /* set by the consumer, not by the codec */
	/* A v2 message as decoded: the box, until opened (dapi_event_open_box fills the
	 * personal fields above). On encode, a non-NULL sealed makes a v2 message. */
	const char *sealed;
	size_t sealed_len;
	json_t *root; /* owns the strings above after decode; NULL for hand-built events */
	json_t *box;  /* owns the personal fields of an opened v2 message */
};

/* The header value and the "type" member for a type. */
const char *dapi_event_type_name(enum dapi_event_type type);

/* Serialises ev. Returns a malloc'd NUL-terminated string (caller frees) or NULL when out of
 * memory; *len receives its length. */
char *dapi_event_encode(const struct dapi_event *ev, size_t *len);

/* The plaintext of a v2 message's box: {"customerId":..,"text":..,"language":..}; malloc'd,
 * NULL when out of memory. */
char *dapi_event_box_encode(const struct dapi_event *ev, size_t *len);

/* Reads an opened box into ev's personal fields, validated as a v1 message's. Returns NULL,
 * or a reason code as dapi_event_decode's, with errstr. */
const char *dapi_event_open_box(struct dapi_event *ev, const char *json, size_t len,
                                size_t max_text, char *errstr, size_t errstr_size);

/* Parses and validates one record value. On success fills ev (release with
 * dapi_event_clear) and returns NULL. On failure returns a short reason code for the DLQ
 * ("invalid_json", "unsupported_version", "unknown_type", "missing_field",
 * "invalid_field", "text_too_large") and writes a detail naming the field into errstr;
 * the detail never contains message text. */
const char *dapi_event_decode(const void *buf, size_t len, size_t max_text, struct dapi_event *ev,
                              char *errstr, size_t errstr_size);

/* A v2 message is decoded without its personal fields (ev->sealed holds them): the caller
 * opens it (common/seal) before applying it. */

/* Releases what decode allocated; safe on a zeroed or hand-built event. */
void dapi_event_clear(struct dapi_event *ev);

#endif
