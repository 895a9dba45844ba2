#include "seal.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "dataapi/v2\n<eventId>\n<dialogId>\n<type>" (no NUL); 0 when it does not fit. */
static size_t event_aad(const struct dapi_event *ev, char *aad, size_t size)
{
	const char *parts[] = { "dataapi/v2", ev->event_id, ev->dialog_id,
		                dapi_event_type_name(ev->type) };
	size_t used = 0;

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		size_t n = strlen(parts[i]);
		if (n + 1 > size - used)
			return 0;
		if (i > 0)
			aad[used++] = '\n';
		memcpy(aad + used, parts[i], n);
		used += n;
	}
	return used;
}

bool dapi_seal_event(struct dapi_event *ev, const uint8_t dek[DAPI_AEAD_KEY], char **sealed)
{
	char aad[512];
	size_t aad_len = event_aad(ev, aad, sizeof(aad)), len;
	char *box_plain = dapi_event_box_encode(ev, &len);
	uint8_t *box = box_plain ? malloc(len + DAPI_AEAD_OVERHEAD) : NULL;
	bool ok = false;

	*sealed = box ? malloc(4 * ((len + DAPI_AEAD_OVERHEAD + 2) / 3) + 1) : NULL;
	if (*sealed && aad_len > 0 && dapi_aead_seal(dek, aad, aad_len, box_plain, len, box)) {
		ev->sealed_len = dapi_base64_encode(box, len + DAPI_AEAD_OVERHEAD, *sealed);
		ev->sealed = *sealed;
		ok = true;
	}
	if (box_plain)
		OPENSSL_cleanse(box_plain, len);
	free(box_plain);
	free(box);
	if (!ok) {
		free(*sealed);
		*sealed = NULL;
	}
	return ok;
}

const char *dapi_seal_open_event(struct dapi_event *ev, const uint8_t dek[DAPI_AEAD_KEY],
                                 size_t max_text, char *errstr, size_t errstr_size)
{
	char aad[512];
	size_t aad_len = event_aad(ev, aad, sizeof(aad));
	uint8_t *box = malloc(ev->sealed_len / 4 * 3 + 3);
	uint8_t *plain = malloc(ev->sealed_len / 4 * 3 + 3);
	long n = box ? dapi_base64_decode(ev->sealed, ev->sealed_len, box) : -1;
	const char *reason = NULL;

	if (!box || !plain) {
		snprintf(errstr, errstr_size, "out of memory");
		reason = "out_of_memory";
	} else if (n < DAPI_AEAD_OVERHEAD || aad_len == 0 ||
	           !dapi_aead_open(dek, aad, aad_len, box, (size_t)n, plain)) {
		snprintf(errstr, errstr_size,
		         "sealed does not open with the dialog's key (tampered, or sealed for "
		         "another event or key)");
		reason = "seal_invalid";
	} else {
		size_t len = (size_t)n - DAPI_AEAD_OVERHEAD;
		reason = dapi_event_open_box(ev, (const char *)plain, len, max_text, errstr,
		                             errstr_size);
		OPENSSL_cleanse(plain, len);
	}
	free(box);
	free(plain);
	return reason;
}
