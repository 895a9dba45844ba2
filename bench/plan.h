/* B3's plan column: an explain reply ({explain: <find>, verbosity: "queryPlanner"}) in one
 * line, for MongoDB and FerretDB:
 *   "index: LIMIT < FETCH < IXSCAN consent_recent"   an index, no collection scan, no
 *                                                    in-memory SORT stage (MongoDB)
 *   "scan: ..." / "sort in memory: ..."              a COLLSCAN / a SORT stage (MongoDB)
 *   "scan: FerretDB filter pushdown no, sort pushdown no, limit pushdown no"
 *                                                    ("pushed down: ..." when the filter
 *                                                    and the sort both are)
 * The plan tree is read through inputStage / inputStages and, for the slot-based engine,
 * winningPlan.queryPlan. */
#ifndef DAPI_BENCH_PLAN_H
#define DAPI_BENCH_PLAN_H

#include <bson/bson.h>

void bench_plan_describe(const bson_t *reply, char *out, size_t n);

#endif
