#include "dialog_cache.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "idset.h"

/* A dialog with more messages than this is read back each time: its ids would make the
 * entry large, and such dialogs are rare. */
#define MAX_IDS 1000

struct entry {
	struct entry *next;
	char *id;
	int64_t stamp;
	enum ingestd_dialog_state state;
	struct ingestd_dialog_doc doc;
	size_t bytes, n_ids, n_languages;
	char **ids;
	char (*languages)[DAPI_LANG_MAX + 1];
};

struct ingestd_cache {
	struct entry **buckets;
	size_t n_buckets, size, capacity, ids, max_ids;
	int64_t max_age_ms;
	atomic_bool invalid;
};

static void entry_free(struct entry *e)
{
	for (size_t i = 0; i < e->n_ids; i++)
		free(e->ids[i]);
	free(e->ids);
	free(e->languages);
	free(e->id);
	free(e);
}

struct ingestd_cache *ingestd_cache_new(size_t capacity, int64_t max_age_ms)
{
	struct ingestd_cache *c;
	if (capacity == 0)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->n_buckets = 64;
	while (c->n_buckets < capacity)
		c->n_buckets *= 2;
	c->buckets = calloc(c->n_buckets, sizeof(*c->buckets));
	if (!c->buckets) {
		free(c);
		return NULL;
	}
	c->capacity = capacity;
	c->max_ids = capacity * 20; /* with ~64 bytes an id: at most ~1.3 KB a dialog on average */
	c->max_age_ms = max_age_ms;
	return c;
}

void ingestd_cache_clear(struct ingestd_cache *c)
{
	if (!c)
		return;
	for (size_t b = 0; b < c->n_buckets; b++) {
		while (c->buckets[b]) {
			struct entry *e = c->buckets[b];
			c->buckets[b] = e->next;
			entry_free(e);
		}
	}
	c->size = 0;
	c->ids = 0;
}

void ingestd_cache_invalidate(struct ingestd_cache *c)
{
	if (c)
		atomic_store(&c->invalid, true);
}

void ingestd_cache_destroy(struct ingestd_cache *c)
{
	if (!c)
		return;
	ingestd_cache_clear(c);
	free(c->buckets);
	free(c);
}

size_t ingestd_cache_size(const struct ingestd_cache *c)
{
	return c ? c->size : 0;
}

static struct entry **slot(struct ingestd_cache *c, const char *id)
{
	struct entry **s = &c->buckets[dapi_fnv1a(id) & (c->n_buckets - 1)];
	while (*s && strcmp((*s)->id, id) != 0)
		s = &(*s)->next;
	return s;
}

bool ingestd_cache_get(struct ingestd_cache *c, struct ingestd_dialog *d, int64_t now_ms)
{
	const char *id = d->id;
	struct entry *e;

	ingestd_dialog_clear(d);
	ingestd_dialog_init(d, id);
	if (!c)
		return false;
	if (atomic_exchange(&c->invalid, false))
		ingestd_cache_clear(c);
	e = *slot(c, id);
	if (!e || now_ms - e->stamp > c->max_age_ms)
		return false;
	d->state = d->loaded_state = e->state;
	d->doc = e->doc;
	d->loaded_applied = e->doc.applied;
	d->loaded_bytes = e->bytes;
	for (size_t i = 0; i < e->n_languages; i++)
		if (ingestd_dialog_add_language(d, e->languages[i]) < 0)
			goto oom;
	for (size_t i = 0; i < e->n_ids; i++)
		if (ingestd_dialog_add_loaded_id(d, e->ids[i]) < 0)
			goto oom;
	return true;
oom:
	ingestd_dialog_clear(d);
	ingestd_dialog_init(d, id);
	return false;
}

/* The entry for d as written; NULL when out of memory. */
static struct entry *entry_new(const struct ingestd_dialog *d, int64_t now_ms)
{
	struct entry *e = calloc(1, sizeof(*e));
	size_t n_ids = d->state == INGESTD_DIALOG_TOMBSTONE ? 0 : d->loaded_count + d->n_added;
	if (!e || !(e->id = strdup(d->id)))
		goto fail;
	e->stamp = now_ms;
	e->state = d->state;
	e->doc = d->doc;
	/* what the stored document weighs, near enough for the size check before a write */
	e->bytes =
	        d->state == INGESTD_DIALOG_TOMBSTONE ? 128 : (d->fresh ? 0 : d->loaded_bytes) + 256;
	if (n_ids && !(e->ids = calloc(n_ids, sizeof(*e->ids))))
		goto fail;
	for (size_t i = 0; i < n_ids; i++) {
		const char *id = i < d->loaded_count ? d->loaded_ids[i]
		                                     : d->added[i - d->loaded_count]->event_id;
		if (i >= d->loaded_count)
			e->bytes += d->added[i - d->loaded_count]->text_len + 160;
		if (!(e->ids[e->n_ids] = strdup(id)))
			goto fail;
		e->n_ids++;
	}
	if (d->n_languages) {
		if (!(e->languages = malloc(d->n_languages * sizeof(*e->languages))))
			goto fail;
		memcpy(e->languages, d->languages, d->n_languages * sizeof(*e->languages));
		e->n_languages = d->n_languages;
	}
	return e;
fail:
	if (e)
		entry_free(e);
	return NULL;
}

void ingestd_cache_put(struct ingestd_cache *c, const struct ingestd_dialog *d, bool written,
                       int64_t now_ms)
{
	struct entry **s, *e;
	if (!c)
		return;
	s = slot(c, d->id);
	if (*s) { /* forget what was there */
		e = *s;
		*s = e->next;
		c->ids -= e->n_ids;
		entry_free(e);
		c->size--;
	}
	if (!written || d->state == INGESTD_DIALOG_ABSENT || d->loaded_count + d->n_added > MAX_IDS)
		return;
	if (c->size >= c->capacity || c->ids + d->loaded_count + d->n_added > c->max_ids) {
		ingestd_cache_clear(c);
		s = slot(c, d->id);
	}
	e = entry_new(d, now_ms);
	if (!e)
		return;
	e->next = *s; /* the rest of the chain, if the old entry was not its last */
	*s = e;
	c->size++;
	c->ids += e->n_ids;
}
