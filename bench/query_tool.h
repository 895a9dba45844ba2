/* The start the query-side bench tools share: argv[1..4] are <uri> <db> <collection>
 * '<query string>' (the query string of a GET /data page or export). */
#ifndef DAPI_BENCH_QUERY_TOOL_H
#define DAPI_BENCH_QUERY_TOOL_H

#include <mongoc/mongoc.h>
#include <stdbool.h>

#include "dialogs.h"
#include "params.h"

/* Parses argv[4] into p (paging: a page's parameters, else an export's) and opens a pool
 * on argv[1] for q (database argv[2], collection argv[3], long deadlines). Returns 0, or
 * the exit status after a message on stderr (2: bad arguments, 1: no pool). argc must be
 * nargs; usage names the arguments after those four. */
int bench_query_start(int argc, char **argv, int nargs, const char *usage, bool paging,
                      struct query_params *p, struct query_dialogs *q);

/* Closes what bench_query_start opened. */
void bench_query_stop(struct query_dialogs *q);

#endif
