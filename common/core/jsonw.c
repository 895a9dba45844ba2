#include "jsonw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Makes room for n more bytes; false (and w->failed) when out of memory. */
static bool reserve(struct dapi_jsonw *w, size_t n)
{
	size_t cap = w->cap;
	char *buf;

	if (w->failed)
		return false;
	if (w->len + n <= w->cap)
		return true;
	while (cap < w->len + n)
		cap = cap ? cap * 2 : 64;
	buf = realloc(w->buf, cap);
	if (!buf) {
		free(w->buf);
		w->buf = NULL;
		w->failed = true;
		return false;
	}
	w->buf = buf;
	w->cap = cap;
	return true;
}

static void put(struct dapi_jsonw *w, const char *s, size_t n)
{
	if (reserve(w, n)) {
		memcpy(w->buf + w->len, s, n);
		w->len += n;
	}
}

/* `,"key":` (no comma after an opening bracket); only the comma for k NULL (an element of
 * an array). */
static void key(struct dapi_jsonw *w, const char *k)
{
	size_t n = k ? strlen(k) : 0;
	if (!reserve(w, n + 4))
		return;
	if (w->buf[w->len - 1] != '{' && w->buf[w->len - 1] != '[')
		w->buf[w->len++] = ',';
	if (!k)
		return;
	w->buf[w->len++] = '"';
	memcpy(w->buf + w->len, k, n);
	w->len += n;
	w->buf[w->len++] = '"';
	w->buf[w->len++] = ':';
}

void dapi_jsonw_begin(struct dapi_jsonw *w, size_t hint)
{
	*w = (struct dapi_jsonw){ 0 };
	if (reserve(w, hint > 0 ? hint : 64))
		w->buf[w->len++] = '{';
}

/* The escape of byte c (a quote, a backslash or a control character): the two-character
 * form where JSON has one, else \u00XX. */
static void escape(struct dapi_jsonw *w, unsigned char c)
{
	static const char hex[] = "0123456789ABCDEF";
	static const char named[0x60] = { ['"'] = '"',  ['\\'] = '\\', ['\b'] = 'b', ['\f'] = 'f',
		                          ['\n'] = 'n', ['\r'] = 'r',  ['\t'] = 't' };
	char e[6] = { '\\', named[c], '0', '0', hex[c >> 4], hex[c & 15] };

	if (e[1]) {
		put(w, e, 2);
	} else {
		e[1] = 'u';
		put(w, e, 6);
	}
}

void dapi_jsonw_str(struct dapi_jsonw *w, const char *k, const char *s, size_t len)
{
	size_t run = 0;

	key(w, k);
	put(w, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		put(w, s + run, i - run); /* the plain bytes before this one, in one copy */
		escape(w, c);
		run = i + 1;
	}
	put(w, s + run, len - run);
	put(w, "\"", 1);
}

void dapi_jsonw_int(struct dapi_jsonw *w, const char *k, long long v)
{
	char num[24], *p = num + sizeof(num);
	/* digits from the end, by hand: snprintf was a tenth of an event's encoding */
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	key(w, k);
	put(w, p, (size_t)(num + sizeof(num) - p));
}

void dapi_jsonw_bool(struct dapi_jsonw *w, const char *k, bool v)
{
	key(w, k);
	if (v)
		put(w, "true", 4);
	else
		put(w, "false", 5);
}

void dapi_jsonw_open(struct dapi_jsonw *w, const char *k, char bracket)
{
	key(w, k);
	put(w, &bracket, 1);
}

void dapi_jsonw_close(struct dapi_jsonw *w, char bracket)
{
	put(w, &bracket, 1);
}

char *dapi_jsonw_finish(struct dapi_jsonw *w, size_t *len)
{
	put(w, "}", 2); /* the brace and the terminating NUL */
	if (w->failed)
		return NULL;
	*len = w->len - 1;
	return w->buf;
}
