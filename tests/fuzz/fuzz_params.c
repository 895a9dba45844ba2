/* libFuzzer target: GET /data parameters (input read as "k=v&k=v") and the cursor codec,
 * including encoding ids of any length (as a stored _id may be). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *save = NULL;
	struct query_params p;
	struct dapi_input_error err;
	int64_t ms, ms2, total, total2;
	char id[DAPI_ID_MAX + 1], id2[DAPI_ID_MAX + 1], cur[QUERY_CURSOR_MAX];

	memcpy(s, data, size);
	s[size] = '\0';
	/* the input as a dialog id of any length (a stored _id is not trusted): encoded only
	 * when it is a valid id, and then it decodes back */
	int64_t any_ms = size >= 8
	                         ? (int64_t)(((uint64_t)data[0] << 56) | ((uint64_t)data[1] << 48) |
	                                     ((uint64_t)data[2] << 40) | ((uint64_t)data[7]))
	                         : (int64_t)size;
	bool valid = dapi_valid_id(s, strlen(s));
	int64_t any_total = size & 2 ? (int64_t)size * 1000003 : -1;
	if (query_cursor_encode(any_ms, s, any_total, cur) != valid)
		abort();
	if (valid && (!query_cursor_decode(cur, &ms, id, &total) || ms != any_ms ||
	              strcmp(id, s) != 0 || total != any_total))
		abort();
	if (query_cursor_decode(s, &ms, id, &total)) {
		query_cursor_encode(ms, id, total, cur);
		if (strcmp(cur, s) != 0 || !query_cursor_decode(cur, &ms2, id2, &total2) ||
		    ms2 != ms || strcmp(id, id2) != 0 || total2 != total)
			abort(); /* tokens are canonical */
	}
	query_params_init(&p, size & 1);
	bool ok = true;
	for (char *kv = strtok_r(s, "&", &save); kv && ok; kv = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(kv, '=');
		if (eq)
			*eq = '\0';
		ok = query_params_add(&p, kv, eq ? eq + 1 : NULL, &err);
	}
	if (ok && (p.limit < 1 || p.limit > QUERY_LIMIT_MAX || p.offset < 0 ||
	           p.offset > QUERY_OFFSET_MAX))
		abort();
	free(s);
	return 0;
}
