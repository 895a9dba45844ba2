/* B3's plan column: what the server plans for one GET /data page, from its explain of the
 * very find command the query service sends (query_dialogs_find_command), in one line
 * (plan.h says how to read it), printed as one JSON line: {"plan": "<line>"}.
 * Usage: dapi-bench-explain <uri> <db> <collection> '<query string>'
 *        (the query string of the page, e.g. 'limit=100&language=DE') */
#include <jansson.h>
#include <mongoc/mongoc.h>
#include <stdio.h>

#include "plan.h"
#include "query_tool.h"

int main(int argc, char **argv)
{
	struct query_params p;
	struct query_dialogs q;
	bson_error_t err;
	bson_t reply;
	int rc = bench_query_start(argc, argv, 5, "", true, &p, &q);

	if (rc)
		return rc;
	if (query_dialogs_explain(&q, &p, &reply, &err)) {
		char line[640];
		bench_plan_describe(&reply, line, sizeof(line));
		json_t *out = json_pack("{s:s}", "plan", line);
		json_dumpf(out, stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(out);
	} else {
		fprintf(stderr, "explain: %s\n", err.message);
		rc = 1;
	}
	bson_destroy(&reply);
	bench_query_stop(&q);
	return rc;
}
