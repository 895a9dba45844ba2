/* Input rules shared by the ingress (requests), ingestd (events) and query (parameters). */
#ifndef DAPI_VALIDATE_H
#define DAPI_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#define DAPI_ID_MAX              128
#define DAPI_LANG_MAX            35
#define DAPI_IDEMPOTENCY_KEY_MAX 128

/* The rules as clients read them in error messages, after the field's name. */
#define DAPI_ID_RULE              "must be 1-128 characters of [A-Za-z0-9._:~@+-]"
#define DAPI_LANG_RULE            "must be a language tag such as EN, de or pt-BR"
#define DAPI_IDEMPOTENCY_KEY_RULE "must be 1-128 printable characters"

/* Why an input was refused: an error code for the JSON error body, the offending field or
 * parameter (or NULL) and a message for the client. Never logged: it may quote input. */
struct dapi_input_error {
	const char *code;
	const char *field;
	char message[160];
};

/* Fills err and returns false, so that parsers can `return dapi_input_fail(...)`. */
bool dapi_input_fail(struct dapi_input_error *err, const char *code, const char *field,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* customerId and dialogId: 1..128 characters of [A-Za-z0-9._:~@+-]. */
bool dapi_valid_id(const char *s, size_t len);

/* A language tag: 2-3 letters, then "-" subtags of 1-8 letters or digits, at most 35
 * characters. On success writes the upper-cased tag (NUL-terminated) to out. */
bool dapi_language_normalize(const char *s, size_t len, char out[DAPI_LANG_MAX + 1]);

/* Idempotency-Key: 1..128 printable ASCII characters. */
bool dapi_valid_idempotency_key(const char *s);

#endif
