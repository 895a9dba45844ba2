/* ingestd's memory of the dialogs it wrote, as stored, so that a later batch touching them
 * need not read them back (on FerretDB a read costs about what the write does).
 *
 * An entry is only as good as the assumption that nothing else wrote the dialog since. The
 * consumer therefore clears the cache on every rebalance and after any batch whose write
 * did not fully succeed (a conflict means someone else wrote); the sweeper's deletions
 * clear it (ingestd_cache_invalidate, callable from any thread); an entry older than max_age
 * is not used, which bounds how long a change made by hand can be overlooked. */
#ifndef INGESTD_DIALOG_CACHE_H
#define INGESTD_DIALOG_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apply.h"

struct ingestd_cache;

/* capacity: most dialogs remembered, and 20 message ids a dialog on average (when either
 * is reached it starts over); 0 disables (NULL, which every function accepts). */
struct ingestd_cache *ingestd_cache_new(size_t capacity, int64_t max_age_ms);
void ingestd_cache_destroy(struct ingestd_cache *c);

/* Gives d (its id set) the remembered state as if loaded; false when there is none, it is
 * too old, or memory ran out (d is then as ingestd_dialog_init left it). */
bool ingestd_cache_get(struct ingestd_cache *c, struct ingestd_dialog *d, int64_t now_ms);

/* Remembers d as stored after a successful write of the batch that applied to it; written
 * false forgets it (its write was refused). */
void ingestd_cache_put(struct ingestd_cache *c, const struct ingestd_dialog *d, bool written,
                       int64_t now_ms);

/* Forgets everything now (consumer thread), or before the next get (any thread). */
void ingestd_cache_clear(struct ingestd_cache *c);
void ingestd_cache_invalidate(struct ingestd_cache *c);

size_t ingestd_cache_size(const struct ingestd_cache *c);

#endif
