/* Event ids. */
#ifndef DAPI_IDS_H
#define DAPI_IDS_H

#define DAPI_UUID_BUFSZ 37

/* A random (version 4) UUID from the kernel's generator. */
void dapi_uuid_v4(char out[DAPI_UUID_BUFSZ]);

/* A UUID-shaped id derived only from (dialogId, Idempotency-Key), so that a retried request
 * carries the same eventId and ingestd stores it once. Version nibble 8 (custom). */
void dapi_uuid_from_key(const char *dialog_id, const char *key, char out[DAPI_UUID_BUFSZ]);

#endif
