#include "ids.h"

#include <stdint.h>
#include <string.h>
#include <sys/random.h>

/* 8-4-4-4-12 lower-case hex digits (a hand loop: snprintf cost 6,000 instructions). */
static void format_uuid(uint8_t b[16], char out[DAPI_UUID_BUFSZ])
{
	static const char hex[] = "0123456789abcdef";
	char *p = out;

	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		*p++ = hex[b[i] >> 4];
		*p++ = hex[b[i] & 15];
	}
	*p = '\0';
}

void dapi_uuid_v4(char out[DAPI_UUID_BUFSZ])
{
	uint8_t b[16];
	size_t got = 0;

	while (got < sizeof(b)) {
		ssize_t r = getrandom(b + got, sizeof(b) - got, 0);
		if (r > 0)
			got += (size_t)r;
	}
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	format_uuid(b, out);
}

/* 64-bit FNV-1a over two strings joined by a NUL, from a given basis. */
static uint64_t fnv1a(uint64_t h, const char *a, const char *b)
{
	for (const char *p = a;; p++) {
		h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
		if (!*p)
			break;
	}
	for (const char *p = b; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
	return h;
}

void dapi_uuid_from_key(const char *dialog_id, const char *key, char out[DAPI_UUID_BUFSZ])
{
	uint64_t h1 = fnv1a(0xcbf29ce484222325ULL, dialog_id, key);
	uint64_t h2 = fnv1a(0x84222325cbf29ce4ULL, key, dialog_id);
	uint8_t b[16];

	for (int i = 0; i < 8; i++) {
		b[i] = (uint8_t)(h1 >> (56 - 8 * i));
		b[8 + i] = (uint8_t)(h2 >> (56 - 8 * i));
	}
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x80);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	format_uuid(b, out);
}
