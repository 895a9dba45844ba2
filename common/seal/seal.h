/* Sealed events (v2): a message's personal fields (customerId, text, language) in an
 * AES-256-GCM box under the dialog's data key, with the event's identity ("dataapi/v2",
 * eventId, dialogId, type) as associated data, so that a box moved to another event or
 * dialog does not open. */
#ifndef DAPI_SEAL_H
#define DAPI_SEAL_H

#include "aead.h"
#include "event.h"

/* Seals ev's personal fields under dek and points ev->sealed at the base64 of the box,
 * which *sealed owns (the caller frees it after encoding). False when out of memory or
 * the random source fails. */
bool dapi_seal_event(struct dapi_event *ev, const uint8_t dek[DAPI_AEAD_KEY], char **sealed);

/* Opens a decoded v2 message with dek into ev's personal fields. Returns NULL, or a DLQ
 * reason with errstr: "seal_invalid" (not base64, tampered, or sealed under another key or
 * for another event), or what dapi_event_open_box says of the box. Never quotes the box. */
const char *dapi_seal_open_event(struct dapi_event *ev, const uint8_t dek[DAPI_AEAD_KEY],
                                 size_t max_text, char *errstr, size_t errstr_size);

#endif
