/* Strings by hash: FNV-1a, and the distinct ids of a batch (dialogs of a batch of
 * requests, records or key fetches), found in one pass through an open-addressing table. */
#ifndef DAPI_IDSET_H
#define DAPI_IDSET_H

#include <stddef.h>
#include <stdint.h>

/* 64-bit FNV-1a of the NUL-terminated s. */
uint64_t dapi_fnv1a(const char *s);

/* The distinct strings among ids[0..n), in the order first seen, into out (room for n);
 * NULL entries are skipped. index (may be NULL) receives, for each ids[i], its position in
 * out (SIZE_MAX for a NULL entry). Returns how many, or SIZE_MAX when out of memory. */
size_t dapi_distinct(const char *const *ids, size_t n, const char **out, size_t *index);

#endif
