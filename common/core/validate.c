#include "validate.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

bool dapi_input_fail(struct dapi_input_error *err, const char *code, const char *field,
                     const char *fmt, ...)
{
	va_list ap;
	err->code = code;
	err->field = field;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return false;
}

bool dapi_valid_id(const char *s, size_t len)
{
	if (len == 0 || len > DAPI_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && !strchr("._:~@+-", c))
			return false;
		if (c == '\0')
			return false;
	}
	return true;
}

bool dapi_language_normalize(const char *s, size_t len, char out[DAPI_LANG_MAX + 1])
{
	size_t i = 0, sub;

	if (len < 2 || len > DAPI_LANG_MAX)
		return false;
	while (i < len && isalpha((unsigned char)s[i]) && s[i] != '\0')
		i++;
	if (i < 2 || i > 3)
		return false;
	while (i < len) {
		if (s[i] != '-')
			return false;
		i++;
		sub = 0;
		while (i < len && isalnum((unsigned char)s[i])) {
			i++;
			sub++;
		}
		if (sub < 1 || sub > 8)
			return false;
	}
	for (i = 0; i < len; i++)
		out[i] = (char)toupper((unsigned char)s[i]);
	out[len] = '\0';
	return true;
}

bool dapi_valid_idempotency_key(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > DAPI_IDEMPOTENCY_KEY_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}
