/* GET /data parameters and the keyset cursor. Pure: no I/O. */
#ifndef QUERY_PARAMS_H
#define QUERY_PARAMS_H

#include <stdbool.h>
#include <stdint.h>

#include "validate.h"

#define QUERY_LIMIT_DEFAULT 100
#define QUERY_LIMIT_MAX     1000
#define QUERY_OFFSET_MAX    100000000
#define QUERY_CURSOR_MAX    400

struct query_params {
	bool paging; /* limit/offset/cursor allowed (not for export) */
	char language[DAPI_LANG_MAX + 1];
	char customer_id[DAPI_ID_MAX + 1];
	int64_t limit;
	int64_t offset;
	bool has_limit, has_offset, has_cursor;
	/* the position after which the page starts (has_cursor) */
	int64_t after_ms;
	char after_id[DAPI_ID_MAX + 1];
	int64_t after_total; /* the first page's total the cursor carries; -1: none */
	/* pending dialogs too (a person's data, GET /privacy/customers/{id}/data): never a
	 * query-string parameter, only set by that route */
	bool pending_too;
};

void query_params_init(struct query_params *p, bool paging);

/* Takes one query-string argument (value NULL for "?key" alone). Unknown names, repeated
 * names, empty and out-of-range values are refused. */
bool query_params_add(struct query_params *p, const char *key, const char *value,
                      struct dapi_input_error *err);

/* A whole raw query string ("limit=100&language=DE"), taken as by _add. No
 * percent-decoding: for tools and tests (the service gets its arguments decoded from
 * libmicrohttpd). */
bool query_params_parse(struct query_params *p, const char *qs, struct dapi_input_error *err);

/* The cursor is base64url("t<total>:<lastMessageAt ms>:<dialogId>"): the position after
 * which the next page starts, and the total of the page that started the walk, so that
 * no cursor page counts again. Without a total (total < 0) it is
 * base64url("<lastMessageAt ms>:<dialogId>"), which cursors issued before totals were
 * carried are; decoding one gives *total -1. out holds QUERY_CURSOR_MAX. False (out empty)
 * when dialog_id is not a valid id: such a position cannot be resumed from, since
 * query_cursor_decode would refuse it. Decoding accepts only what encoding would issue. */
bool query_cursor_encode(int64_t ms, const char *dialog_id, int64_t total,
                         char out[QUERY_CURSOR_MAX]);
bool query_cursor_decode(const char *token, int64_t *ms, char id[DAPI_ID_MAX + 1], int64_t *total);

#endif
