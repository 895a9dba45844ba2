/* libFuzzer target: the ingress's body validation. First byte picks the parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dapi_input_error err;
	if (size == 0)
		return 0;
	if (data[0] & 1) {
		struct dapi_message_req req;
		if (dapi_message_req_parse((const char *)data + 1, size - 1, 16384, &req, &err)) {
			/* what is accepted is what the contract allows */
			if (req.text_len == 0 || req.text_len > 16384 ||
			    strlen(req.text) != req.text_len)
				abort();
			dapi_message_req_clear(&req);
		}
	} else {
		bool granted;
		dapi_consent_req_parse((const char *)data + 1, size - 1, &granted, &err);
	}
	return 0;
}
