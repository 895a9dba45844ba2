/* Reads an explain reply into one line (plan.h). */
#include "plan.h"

#include <stdio.h>
#include <string.h>

struct plan {
	char stages[512];
	bool collscan, sort, ixscan;
};

static void add_stage(struct plan *pl, const char *stage, const char *index)
{
	size_t used = strlen(pl->stages);
	snprintf(pl->stages + used, sizeof(pl->stages) - used, "%s%s%s%s", used ? " < " : "", stage,
	         index ? " " : "", index ? index : "");
	pl->collscan |= !strcmp(stage, "COLLSCAN");
	pl->sort |= !strcmp(stage, "SORT");
	pl->ixscan |= !strcmp(stage, "IXSCAN");
}

/* Pre-order over a plan tree; node iterates over one node's fields. Classic stages nest
 * through inputStage / inputStages; the slot-based engine's winningPlan wraps them in
 * queryPlan. */
static void walk(const bson_iter_t *node, struct plan *pl)
{
	bson_iter_t it = *node, child, elem;
	const char *stage = NULL, *index = NULL;

	while (bson_iter_next(&it)) {
		if (!strcmp(bson_iter_key(&it), "stage") && BSON_ITER_HOLDS_UTF8(&it))
			stage = bson_iter_utf8(&it, NULL);
		else if (!strcmp(bson_iter_key(&it), "indexName") && BSON_ITER_HOLDS_UTF8(&it))
			index = bson_iter_utf8(&it, NULL);
	}
	if (stage)
		add_stage(pl, stage, index);
	it = *node;
	while (bson_iter_next(&it)) {
		const char *key = bson_iter_key(&it);
		if ((!strcmp(key, "inputStage") || !strcmp(key, "queryPlan")) &&
		    BSON_ITER_HOLDS_DOCUMENT(&it) && bson_iter_recurse(&it, &child)) {
			walk(&child, pl);
		} else if (!strcmp(key, "inputStages") && BSON_ITER_HOLDS_ARRAY(&it) &&
		           bson_iter_recurse(&it, &child)) {
			while (bson_iter_next(&child))
				if (BSON_ITER_HOLDS_DOCUMENT(&child) &&
				    bson_iter_recurse(&child, &elem))
					walk(&elem, pl);
		}
	}
}

static bool flag(const bson_t *reply, const char *key)
{
	bson_iter_t it;
	return bson_iter_init_find(&it, reply, key) && BSON_ITER_HOLDS_BOOL(&it) &&
	       bson_iter_bool(&it);
}

void bench_plan_describe(const bson_t *reply, char *out, size_t n)
{
	struct plan pl = { .stages = "" };
	bson_iter_t it, win, plan;

	if (bson_iter_init_find(&it, reply, "filterPushdown")) {
		bool filter = flag(reply, "filterPushdown"), sort = flag(reply, "sortPushdown");
		snprintf(out, n,
		         "%s: FerretDB filter pushdown %s, sort pushdown %s, limit pushdown %s",
		         filter && sort ? "pushed down" : "scan", filter ? "yes" : "no",
		         sort ? "yes" : "no", flag(reply, "limitPushdown") ? "yes" : "no");
		return;
	}
	if (bson_iter_init(&it, reply) &&
	    bson_iter_find_descendant(&it, "queryPlanner.winningPlan", &win) &&
	    BSON_ITER_HOLDS_DOCUMENT(&win) && bson_iter_recurse(&win, &plan))
		walk(&plan, &pl);
	if (!pl.stages[0]) {
		snprintf(out, n, "unknown: no plan in the explain reply");
		return;
	}
	snprintf(out, n, "%s: %s",
	         pl.collscan ? "scan"
	         : pl.sort   ? "sort in memory"
	         : pl.ixscan ? "index"
	                     : "other",
	         pl.stages);
}
