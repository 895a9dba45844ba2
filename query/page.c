#include "page.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"
#include "render.h"

static const char head[] = "{\"items\":[";
#define ITEMS_START (sizeof(head) - 2) /* where the array's '[' is */

/* Appends len bytes of text to the page's reply, keeping it NUL-terminated. */
static bool page_put(struct query_page *page, size_t *cap, const char *text, size_t len)
{
	if (page->len + len + 1 > *cap) {
		size_t ncap = *cap * 2 > page->len + len + 1 ? *cap * 2 : page->len + len + 1;
		char *grown = realloc(page->body, ncap);
		if (!grown)
			return false;
		page->body = grown;
		*cap = ncap;
	}
	memcpy(page->body + page->len, text, len);
	page->len += len;
	page->body[page->len] = '\0';
	return true;
}

bool query_page_begin(struct query_page *page, size_t *cap)
{
	return page_put(page, cap, head, sizeof(head) - 1);
}

enum query_page_item query_page_item(struct query_page *page, size_t *cap, size_t bytes_max,
                                     const bson_t *doc, const struct query_position *last)
{
	size_t len;
	char *text = query_render_dialog_text(doc, &len);
	bool ok;

	if (!text)
		return QUERY_ITEM_OOM;
	/* the array with it: a comma, the item, the closing bracket */
	if (page->count > 0 && page->len - ITEMS_START + 1 + len + 1 > bytes_max) {
		free(text);
		page->cut = page->has_next = true;
		page->next_pos = *last;
		return QUERY_ITEM_CUT;
	}
	ok = (page->count == 0 || page_put(page, cap, ",", 1)) && page_put(page, cap, text, len);
	free(text);
	if (!ok)
		return QUERY_ITEM_OOM;
	page->count++;
	return QUERY_ITEM_ADDED;
}

bool query_page_finish(struct query_page *page, size_t *cap, const struct query_params *p)
{
	char tail[QUERY_CURSOR_MAX + 128];
	if (page->has_next) {
		bool ok = query_cursor_encode(page->next_pos.ms, page->next_pos.id, page->total,
		                              page->next);
		assert(ok); /* a servable document's id is valid */
		(void)ok;
	}
	int n = snprintf(tail, sizeof(tail),
	                 "],\"total\":%lld,\"limit\":%lld,\"offset\":%lld,\"nextCursor\":%s%s%s}",
	                 (long long)page->total, (long long)p->limit, (long long)p->offset,
	                 page->has_next ? "\"" : "", page->has_next ? page->next : "null",
	                 page->has_next ? "\"" : "");
	assert(n > 0 && (size_t)n < sizeof(tail)); /* a cursor, three 20-digit numbers */
	return page_put(page, cap, tail, (size_t)n);
}

void query_page_position(const bson_t *doc, struct query_position *pos)
{
	bson_iter_t it;
	pos->ms = 0;
	pos->id[0] = '\0';
	if (bson_iter_init_find(&it, doc, DAPI_DOC_LAST_MESSAGE_AT) &&
	    BSON_ITER_HOLDS_DATE_TIME(&it))
		pos->ms = bson_iter_date_time(&it);
	if (bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_UTF8(&it))
		snprintf(pos->id, sizeof(pos->id), "%s", bson_iter_utf8(&it, NULL));
}
