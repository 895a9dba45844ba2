/* Event ids. */
#ifndef INGRESS_IDS_H
#define INGRESS_IDS_H

#define INGRESS_UUID_BUFSZ 37

/* A random (version 4) UUID from OpenSSL's generator (dapi_random_public). */
void ingress_uuid_v4(char out[INGRESS_UUID_BUFSZ]);

#include <stddef.h>
#include <stdint.h>

/* A name-based (version 5, SHA-1) UUID of name in namespace ns, as RFC 9562 section 5.5
 * defines it. */
void ingress_uuid_v5(const uint8_t ns[16], const void *name, size_t len,
                     char out[INGRESS_UUID_BUFSZ]);

/* The eventId of a request with an Idempotency-Key: the version 5 UUID of
 * "<dialogId>\0<key>" in DataAPI's own namespace (INGRESS_UUID_NAMESPACE), so that a retried
 * request carries the same eventId and ingestd stores it once, and ids of different
 * (dialog, key) pairs collide no more often than SHA-1 does. */
void ingress_uuid_from_key(const char *dialog_id, const char *key, char out[INGRESS_UUID_BUFSZ]);

/* 02490b51-9870-4df2-b9c9-35c91b67c8ca, drawn once at random for this purpose. */
#define INGRESS_UUID_NAMESPACE                                                                \
	{                                                                                     \
		0x02, 0x49, 0x0b, 0x51, 0x98, 0x70, 0x4d, 0xf2, 0xb9, 0xc9, 0x35, 0xc9, 0x1b, \
		        0x67, 0xc8, 0xca                                                      \
	}

#endif
