/* Validation of ingress request bodies. Pure functions: no I/O, no logging. */
#ifndef DAPI_REQUEST_H
#define DAPI_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "validate.h"

struct dapi_message_req {
	json_t *root;     /* owns text */
	const char *text; /* valid UTF-8, no NUL */
	size_t text_len;
	char language[DAPI_LANG_MAX + 1]; /* upper-cased */
};

/* Parses {"text": "...", "language": "EN"}: exactly these two members, no duplicates, no
 * trailing data, text 1..max_text bytes. Returns true and fills req (release with
 * dapi_message_req_clear), or false and fills err. */
bool dapi_message_req_parse(const char *body, size_t len, size_t max_text,
                            struct dapi_message_req *req, struct dapi_input_error *err);
void dapi_message_req_clear(struct dapi_message_req *req);

/* Parses `true`, `false`, or {"consent": true|false}. */
bool dapi_consent_req_parse(const char *body, size_t len, bool *granted,
                            struct dapi_input_error *err);

#endif
