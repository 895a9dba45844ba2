/* docs/openapi.yaml against the routing tables compiled into the programs: every route is
 * documented under its service, and every documented operation exists, so they cannot
 * drift apart. Reads the file's regular layout: paths at two spaces, methods at four,
 * "x-service:" at six. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin.h"
#include "ingress.h"
#include "query.h"

struct op {
	char path[128], method[8], service[16];
};

static struct op ops[64];
static int nops;

static int load(void **state)
{
	char line[512], path[128] = "";
	FILE *f = fopen(DAPI_OPENAPI, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "components:", 11))
			break;
		if (!strncmp(line, "  /", 3)) {
			sscanf(line + 2, "%127[^:]", path);
		} else if (path[0] && !strncmp(line, "    ", 4) &&
		           islower((unsigned char)line[4]) &&
		           (!strncmp(line + 4, "get:", 4) || !strncmp(line + 4, "post:", 5))) {
			assert_true(nops < 64);
			snprintf(ops[nops].path, sizeof(ops[nops].path), "%s", path);
			sscanf(line + 4, "%7[a-z]", ops[nops].method);
			for (char *m = ops[nops].method; *m; m++)
				*m = (char)toupper((unsigned char)*m);
			nops++;
		} else if (nops && !strncmp(line, "      x-service: ", 17)) {
			sscanf(line + 17, "%15s", ops[nops - 1].service);
		}
	}
	fclose(f);
	assert_true(nops > 5);
	return 0;
}

/* A route's "*" segment matches a "{name}" segment of the document. */
static bool same_path(const char *route, const char *doc)
{
	while (*route && *doc) {
		if (*route == '*' && *doc == '{') {
			route++;
			doc = strchr(doc, '}');
			if (!doc)
				return false;
			doc++;
		} else if (*route++ != *doc++) {
			return false;
		}
	}
	return !*route && !*doc;
}

static const struct op *documented(const struct dapi_http_route *rt)
{
	for (int i = 0; i < nops; i++)
		if (!strcmp(ops[i].method, rt->method) && same_path(rt->path, ops[i].path))
			return &ops[i];
	return NULL;
}

static void check_table(const struct dapi_http_route *routes, size_t n, const char *service)
{
	for (size_t i = 0; i < n; i++) {
		const struct op *op = documented(&routes[i]);
		if (!op)
			fail_msg("%s %s of %s is not in docs/openapi.yaml", routes[i].method,
			         routes[i].path, service);
		if (strcmp(op->service, service) != 0 && strcmp(op->service, "all") != 0)
			fail_msg("%s %s: x-service is %s, served by %s", op->method, op->path,
			         op->service, service);
	}
}

static void every_route_is_documented(void **state)
{
	check_table(ingress_routes, ingress_nroutes, "ingress");
	check_table(query_routes, query_nroutes, "query");
	check_table(ingestd_admin_routes, ingestd_admin_nroutes, "all");
}

static bool in_table(const struct op *op, const struct dapi_http_route *routes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(op->method, routes[i].method) && same_path(routes[i].path, op->path))
			return true;
	return false;
}

static void every_documented_operation_exists(void **state)
{
	for (int i = 0; i < nops; i++) {
		const struct op *op = &ops[i];
		bool in_ingress = in_table(op, ingress_routes, ingress_nroutes);
		bool in_query = in_table(op, query_routes, query_nroutes);
		bool in_admin = in_table(op, ingestd_admin_routes, ingestd_admin_nroutes);
		if (!strcmp(op->service, "ingress"))
			assert_true(in_ingress);
		else if (!strcmp(op->service, "query"))
			assert_true(in_query);
		else if (!strcmp(op->service, "all"))
			assert_true(in_ingress && in_query && in_admin);
		else
			fail_msg("%s %s has no x-service", op->method, op->path);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_route_is_documented),
		cmocka_unit_test(every_documented_operation_exists),
	};
	return cmocka_run_group_tests(tests, load, NULL);
}
