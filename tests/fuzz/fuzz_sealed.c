/* libFuzzer target: sealed (v2) events. Any record: decoding and opening never crash, and
 * what opens is a valid message. Any bytes as a box: opening refuses them (forging a box
 * without the key must fail). Any text: sealing and opening give it back exactly. */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "seal.h"

static const uint8_t KEY[DAPI_AEAD_KEY] = { 0x5e, 0xa1, 0xed };

static void open_record(const uint8_t *data, size_t size)
{
	struct dapi_event ev;
	char detail[160];
	if (dapi_event_decode(data, size, 16384, &ev, detail, sizeof(detail)))
		return;
	if (ev.version == DAPI_EVENT_VERSION_SEALED && ev.type == DAPI_EVENT_MESSAGE &&
	    !dapi_seal_open_event(&ev, KEY, 16384, detail, sizeof(detail)) &&
	    (!ev.text || !ev.customer_id || !dapi_valid_id(ev.customer_id, strlen(ev.customer_id))))
		abort();
	dapi_event_clear(&ev);
}

static void open_forged_box(const uint8_t *data, size_t size)
{
	struct dapi_event ev = { .type = DAPI_EVENT_MESSAGE, .event_id = "e", .dialog_id = "d" };
	char *b64 = malloc(4 * ((size + 2) / 3) + 1), detail[160];
	if (!b64)
		return;
	ev.sealed_len = dapi_base64_encode(data, size, b64);
	ev.sealed = b64;
	if (!dapi_seal_open_event(&ev, KEY, 16384, detail, sizeof(detail)))
		abort(); /* a box nobody sealed opened */
	dapi_event_clear(&ev);
	free(b64);
}

static void seal_and_open(const uint8_t *data, size_t size)
{
	json_t *valid = json_stringn((const char *)data, size); /* UTF-8 without NUL */
	if (!valid || size == 0 || size > 16384 || memchr(data, 0, size)) {
		json_decref(valid);
		return;
	}
	json_decref(valid);
	struct dapi_event ev = { .type = DAPI_EVENT_MESSAGE,
		                 .event_id = "e-1",
		                 .dialog_id = "d-1",
		                 .customer_id = "c-1",
		                 .text = (const char *)data,
		                 .text_len = size,
		                 .language = "EN" },
	                  got;
	char *sealed, detail[160];
	size_t len;
	if (!dapi_seal_event(&ev, KEY, &sealed))
		abort();
	char *rec = dapi_event_encode(&ev, &len);
	if (!rec || dapi_event_decode(rec, len, 16384, &got, detail, sizeof(detail)) ||
	    dapi_seal_open_event(&got, KEY, 16384, detail, sizeof(detail)) ||
	    got.text_len != size || memcmp(got.text, data, size) != 0)
		abort();
	dapi_event_clear(&got);
	free(rec);
	free(sealed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	open_record(data, size);
	open_forged_box(data, size);
	seal_and_open(data, size);
	return 0;
}
