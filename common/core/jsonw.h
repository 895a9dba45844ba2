/* A JSON object writer for the per-request path: appends straight into one growable buffer,
 * where building a jansson object and dumping it cost more than the rest of a request.
 * Writes objects of strings, integers, booleans, and nested objects and arrays. Keys are written as
 * given (pass literals that need no escaping); string values must be valid UTF-8 (not checked) and
 * are escaped as jansson's json_dumps() escapes them, so the bytes are the same. */
#ifndef DAPI_JSONW_H
#define DAPI_JSONW_H

#include <stdbool.h>
#include <stddef.h>

struct dapi_jsonw {
	char *buf;
	size_t len, cap;
	bool failed; /* out of memory: later calls do nothing and finish returns NULL */
};

/* Starts an object ("{") in a buffer of `hint` bytes, grown as needed. */
void dapi_jsonw_begin(struct dapi_jsonw *w, size_t hint);
void dapi_jsonw_str(struct dapi_jsonw *w, const char *key, const char *s, size_t len);
void dapi_jsonw_int(struct dapi_jsonw *w, const char *key, long long v);
void dapi_jsonw_bool(struct dapi_jsonw *w, const char *key, bool v);
/* Opens a nested object ('{') or array ('[') as member k, or, for k NULL, as the next
 * element of the array being written (an object: arrays hold objects or arrays here);
 * dapi_jsonw_close('}' or ']') closes it. */
void dapi_jsonw_open(struct dapi_jsonw *w, const char *k, char bracket);
void dapi_jsonw_close(struct dapi_jsonw *w, char bracket);
/* Closes the object and returns the malloc'd, NUL-terminated text (caller frees) with its
 * length in *len, or NULL when out of memory. */
char *dapi_jsonw_finish(struct dapi_jsonw *w, size_t *len);

#endif
