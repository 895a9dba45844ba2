#include "idset.h"

#include <stdlib.h>
#include <string.h>

uint64_t dapi_fnv1a(const char *s)
{
	uint64_t h = 14695981039346656037ULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h;
}

size_t dapi_distinct(const char *const *ids, size_t n, const char **out, size_t *index)
{
	size_t size = 16, count = 0;
	while (size < 2 * n)
		size *= 2;
	/* positions in out (SIZE_MAX: empty); small batches (a single POST) on the stack */
	size_t small[64], *table = size <= 64 ? small : malloc(size * sizeof(*table));
	if (!table)
		return SIZE_MAX;
	memset(table, 0xff, size * sizeof(*table));
	for (size_t i = 0; i < n; i++) {
		size_t at = SIZE_MAX;
		if (ids[i]) {
			size_t s = (size_t)dapi_fnv1a(ids[i]) & (size - 1);
			while (table[s] != SIZE_MAX && strcmp(out[table[s]], ids[i]) != 0)
				s = (s + 1) & (size - 1);
			if (table[s] == SIZE_MAX) {
				out[count] = ids[i];
				table[s] = count++;
			}
			at = table[s];
		}
		if (index)
			index[i] = at;
	}
	if (table != small)
		free(table);
	return count;
}
