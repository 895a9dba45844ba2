/* libFuzzer target: decoding Kafka records; what decodes must encode and decode the same. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dapi_event ev, again;
	char detail[160];
	size_t len;

	if (dapi_event_decode(data, size, 16384, &ev, detail, sizeof(detail)))
		return 0;
	char *json = dapi_event_encode(&ev, &len);
	if (!json)
		abort();
	if (dapi_event_decode(json, len, 16384, &again, detail, sizeof(detail)))
		abort(); /* our own encoding must decode */
	bool sealed = ev.type == DAPI_EVENT_MESSAGE && ev.version == DAPI_EVENT_VERSION_SEALED;
	/* a consent reads the same under v1 and v2, and is written as v1 */
	if (again.type != ev.type ||
	    (ev.type == DAPI_EVENT_MESSAGE && again.version != ev.version) ||
	    strcmp(again.event_id, ev.event_id) || strcmp(again.dialog_id, ev.dialog_id) ||
	    again.received_at != ev.received_at)
		abort();
	if (sealed && (again.sealed_len != ev.sealed_len ||
	               memcmp(again.sealed, ev.sealed, ev.sealed_len) || again.text || ev.text))
		abort(); /* a sealed message round-trips its box, and nothing in clear */
	if (!sealed && ev.type == DAPI_EVENT_MESSAGE &&
	    (again.text_len != ev.text_len || memcmp(again.text, ev.text, ev.text_len) ||
	     strcmp(again.language, ev.language)))
		abort();
	dapi_event_clear(&again);
	dapi_event_clear(&ev);
	free(json);
	return 0;
}
