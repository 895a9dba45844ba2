/* libFuzzer target: the ingress's body validation. First byte picks the parser: a
 * message, a consent or a batch. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"

/* A batch body: every line either parses into what the contract allows or is refused
 * with a code; line numbers only grow. */
static void check_batch(const char *body, size_t len)
{
	size_t pos = 0, lineno = 0, prev = 0, n;
	const char *line;
	struct ingress_batch_line l;
	struct dapi_input_error err = { 0 };

	while (ingress_ndjson_next(body, len, &pos, &lineno, &line, &n)) {
		if (lineno <= prev || line < body || line + n > body + len || memchr(line, '\n', n))
			abort();
		prev = lineno;
		err.code = NULL;
		if (!ingress_batch_line_parse(line, n, 64, &l, &err)) {
			if (!err.code)
				abort();
			continue;
		}
		if (!dapi_valid_id(l.dialog_id, strlen(l.dialog_id)) ||
		    (l.type == DAPI_EVENT_MESSAGE &&
		     (!dapi_valid_id(l.customer_id, strlen(l.customer_id)) || l.text_len == 0 ||
		      l.text_len > 64)))
			abort();
		ingress_batch_line_clear(&l);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dapi_input_error err;
	if (size == 0)
		return 0;
	if (data[0] & 1) {
		struct ingress_message_req req;
		if (ingress_message_req_parse((const char *)data + 1, size - 1, 16384, &req,
		                              &err)) {
			/* what is accepted is what the contract allows */
			if (req.text_len == 0 || req.text_len > 16384 ||
			    strlen(req.text) != req.text_len)
				abort();
			ingress_message_req_clear(&req);
		}
	} else if (data[0] & 2) {
		bool granted;
		ingress_consent_req_parse((const char *)data + 1, size - 1, &granted, &err);
	} else {
		check_batch((const char *)data + 1, size - 1);
	}
	return 0;
}
