/* What a read matches, twice: as a MongoDB filter (query_filter_build) and as the same
 * test on a document in memory (query_filter_matches), side by side so that they stay in
 * step; and the order every read returns. */
#include "filter.h"

#include <string.h>

#include "doc.h"
#include "render.h"

/* {consent: true (or, for a person's data, {$in: [true, false]}), not a tombstone,
 * languages?, customerId?, and after the cursor position when asked}. A tombstone never carries
 * consent as ingestd writes it; the exclusion is explicit all the same, so that no write gone wrong
 * (a stale writer, a restore, a hand edit) can make erased data readable. The server checks it at
 * the fetch every page does anyway; it costs no index key. */
void query_filter_build(const struct query_params *p, bool with_cursor, bson_t *filter)
{
	bson_t absent;

	if (p->pending_too)
		BCON_APPEND(filter, DAPI_DOC_CONSENT, "{", "$in", "[", BCON_BOOL(true),
		            BCON_BOOL(false), "]", "}");
	else
		BSON_APPEND_BOOL(filter, DAPI_DOC_CONSENT, true);
	BSON_APPEND_DOCUMENT_BEGIN(filter, DAPI_DOC_REVOKED, &absent);
	BSON_APPEND_BOOL(&absent, "$exists", false);
	bson_append_document_end(filter, &absent);
	if (p->language[0])
		BSON_APPEND_UTF8(filter, DAPI_DOC_LANGUAGES, p->language);
	if (p->customer_id[0])
		BSON_APPEND_UTF8(filter, DAPI_DOC_CUSTOMER_ID, p->customer_id);
	if (with_cursor && p->has_cursor) {
		bson_t or, a, b, lt, gt;
		BSON_APPEND_ARRAY_BEGIN(filter, "$or", & or);
		BSON_APPEND_DOCUMENT_BEGIN(& or, "0", &a);
		BSON_APPEND_DOCUMENT_BEGIN(&a, DAPI_DOC_LAST_MESSAGE_AT, &lt);
		BSON_APPEND_DATE_TIME(&lt, "$lt", p->after_ms);
		bson_append_document_end(&a, &lt);
		bson_append_document_end(& or, &a);
		BSON_APPEND_DOCUMENT_BEGIN(& or, "1", &b);
		BSON_APPEND_DATE_TIME(&b, DAPI_DOC_LAST_MESSAGE_AT, p->after_ms);
		BSON_APPEND_DOCUMENT_BEGIN(&b, "_id", &gt);
		BSON_APPEND_UTF8(&gt, "$gt", p->after_id);
		bson_append_document_end(&b, &gt);
		bson_append_document_end(& or, &b);
		bson_append_array_end(filter, & or);
	}
}

void query_filter_find_opts(int64_t limit, int64_t skip, int64_t max_time_ms, bson_t *opts)
{
	bson_t sort;
	BSON_APPEND_DOCUMENT_BEGIN(opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, DAPI_DOC_LAST_MESSAGE_AT, -1);
	BSON_APPEND_INT32(&sort, "_id", 1);
	bson_append_document_end(opts, &sort);
	if (limit > 0)
		BSON_APPEND_INT64(opts, "limit", limit);
	if (skip > 0)
		BSON_APPEND_INT64(opts, "skip", skip);
	BSON_APPEND_INT64(opts, "maxTimeMS", max_time_ms);
}

/* A dialog read by _id that is consented and not a tombstone: checked here rather than in
 * the filter, so that the lookup is an _id equality, which every server answers from an
 * index (stock FerretDB's SQLite backend answers nothing else from one). */
bool query_filter_consented(const bson_t *doc)
{
	bson_iter_t it;
	return !bson_iter_init_find(&it, doc, DAPI_DOC_REVOKED) &&
	       bson_iter_init_find(&it, doc, DAPI_DOC_CONSENT) && BSON_ITER_HOLDS_BOOL(&it) &&
	       bson_iter_bool(&it);
}

bool query_filter_of_customer(const bson_t *doc, const char *customer_id)
{
	bson_iter_t it;
	return bson_iter_init_find(&it, doc, DAPI_DOC_CUSTOMER_ID) && BSON_ITER_HOLDS_UTF8(&it) &&
	       !strcmp(bson_iter_utf8(&it, NULL), customer_id);
}

static bool in_language(const bson_t *doc, const char *language)
{
	bson_iter_t it, lang;
	if (!bson_iter_init_find(&it, doc, DAPI_DOC_LANGUAGES) || !BSON_ITER_HOLDS_ARRAY(&it) ||
	    !bson_iter_recurse(&it, &lang))
		return false;
	while (bson_iter_next(&lang))
		if (BSON_ITER_HOLDS_UTF8(&lang) && !strcmp(bson_iter_utf8(&lang, NULL), language))
			return true;
	return false;
}

/* Whether a dialog read by _id still matches page p's filter: erased or changed since the
 * page's scan, it is left out. */
bool query_filter_matches(const bson_t *doc, const struct query_params *p)
{
	bson_iter_t it;
	bool stored = p->pending_too ? !bson_iter_init_find(&it, doc, DAPI_DOC_REVOKED) &&
	                                       bson_iter_init_find(&it, doc, DAPI_DOC_CONSENT) &&
	                                       BSON_ITER_HOLDS_BOOL(&it)
	                             : query_filter_consented(doc);
	return query_render_servable(doc) && stored &&
	       (!p->customer_id[0] || query_filter_of_customer(doc, p->customer_id)) &&
	       (!p->language[0] || in_language(doc, p->language));
}
