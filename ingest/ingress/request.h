/* Validation of ingress request bodies. Pure functions: no I/O, no logging. */
#ifndef INGRESS_REQUEST_H
#define INGRESS_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "event.h"
#include "validate.h"

struct ingress_message_req {
	json_t *root;     /* owns text */
	const char *text; /* valid UTF-8, no NUL */
	size_t text_len;
	char language[DAPI_LANG_MAX + 1]; /* upper-cased */
};

/* Parses {"text": "...", "language": "EN"}: exactly these two members, no duplicates, no
 * trailing data, text 1..max_text bytes. Returns true and fills req (release with
 * ingress_message_req_clear), or false and fills err. */
bool ingress_message_req_parse(const char *body, size_t len, size_t max_text,
                               struct ingress_message_req *req, struct dapi_input_error *err);
void ingress_message_req_clear(struct ingress_message_req *req);

/* Parses `true`, `false`, or {"consent": true|false}. */
bool ingress_consent_req_parse(const char *body, size_t len, bool *granted,
                               struct dapi_input_error *err);

/* POST /privacy/erasures: {"customerId": "<id>"} with an optional "requestId" (the caller's
 * idempotency key: 1-128 printable characters), nothing else; copied into customer_id and
 * request_id ("" when absent). */
bool ingress_erasure_req_parse(const char *body, size_t len, char customer_id[DAPI_ID_MAX + 1],
                               char request_id[DAPI_ID_MAX + 1], struct dapi_input_error *err);

/* POST /batch's NDJSON body: the next line from *pos that is not blank (spaces, tabs, a
 * CR), without its line end; *lineno counts every line, blank ones included (1-based
 * after the first call). false at the end of the body. */
bool ingress_ndjson_next(const char *body, size_t len, size_t *pos, size_t *lineno,
                         const char **line, size_t *line_len);

/* One line of a batch: a message {"customerId","dialogId","text","language"} or, when it
 * has "consent", a consent {"dialogId","consent"}; either with an optional
 * "idempotencyKey". The strings live in root. */
struct ingress_batch_line {
	json_t *root;
	enum dapi_event_type type;
	const char *customer_id, *dialog_id; /* valid ids */
	const char *idempotency_key;         /* NULL when absent */
	const char *text;                    /* message: as ingress_message_req's */
	size_t text_len;
	char language[DAPI_LANG_MAX + 1];
	bool granted; /* consent */
};

/* Parses a line under the rules of the single routes (ids as in the path, the same text
 * and language rules, no unknown members or duplicates). Release with
 * ingress_batch_line_clear. */
bool ingress_batch_line_parse(const char *line, size_t len, size_t max_text,
                              struct ingress_batch_line *out, struct dapi_input_error *err);
void ingress_batch_line_clear(struct ingress_batch_line *line);

#endif
