/* The OpenAPI documents against the routing tables compiled into the programs, so they
 * cannot drift apart: docs/openapi.yaml (the whole API) documents every route under its
 * service and every operation it documents exists there; docs/openapi-ingress.yaml and
 * docs/openapi-query.yaml (what each service serves at GET /openapi.yaml) hold exactly that
 * service's routes. Reads the files' regular layout: paths at two spaces, methods at four,
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

struct doc {
	struct op ops[64];
	int nops;
};

static struct doc whole, ingress_doc, query_doc;

static void read_doc(const char *file, struct doc *d)
{
	char line[512], path[128] = "";
	struct op *ops = d->ops;
	int nops = 0;
	FILE *f = fopen(file, "r");
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
	d->nops = nops;
}

static int load(void **state)
{
	read_doc(DAPI_OPENAPI_DIR "/openapi.yaml", &whole);
	read_doc(DAPI_OPENAPI_DIR "/openapi-ingress.yaml", &ingress_doc);
	read_doc(DAPI_OPENAPI_DIR "/openapi-query.yaml", &query_doc);
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

static const struct op *documented(const struct doc *d, const struct dapi_http_route *rt)
{
	for (int i = 0; i < d->nops; i++)
		if (!strcmp(d->ops[i].method, rt->method) && same_path(rt->path, d->ops[i].path))
			return &d->ops[i];
	return NULL;
}

/* Whether an operation of x-service `declared` is served by `service`. */
static bool serves(const char *declared, const char *service)
{
	return !strcmp(declared, service) || !strcmp(declared, "all") ||
	       (!strcmp(declared, "api") && strcmp(service, "all") != 0);
}

static void check_table(const struct doc *d, const char *file, const struct dapi_http_route *routes,
                        size_t n, const char *service)
{
	for (size_t i = 0; i < n; i++) {
		const struct op *op = documented(d, &routes[i]);
		if (!op)
			fail_msg("%s %s of %s is not in %s", routes[i].method, routes[i].path,
			         service, file);
		if (!serves(op->service, service))
			fail_msg("%s %s: x-service is %s, served by %s", op->method, op->path,
			         op->service, service);
	}
}

static void every_route_is_documented(void **state)
{
	check_table(&whole, "docs/openapi.yaml", ingress_routes, ingress_nroutes, "ingress");
	check_table(&whole, "docs/openapi.yaml", query_routes, query_nroutes, "query");
	check_table(&whole, "docs/openapi.yaml", ingestd_admin_routes, ingestd_admin_nroutes,
	            "all");
	check_table(&ingress_doc, "docs/openapi-ingress.yaml", ingress_routes, ingress_nroutes,
	            "ingress");
	check_table(&query_doc, "docs/openapi-query.yaml", query_routes, query_nroutes, "query");
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
	for (int i = 0; i < whole.nops; i++) {
		const struct op *op = &whole.ops[i];
		bool in_ingress = in_table(op, ingress_routes, ingress_nroutes);
		bool in_query = in_table(op, query_routes, query_nroutes);
		bool in_admin = in_table(op, ingestd_admin_routes, ingestd_admin_nroutes);
		if (!strcmp(op->service, "ingress"))
			assert_true(in_ingress);
		else if (!strcmp(op->service, "query"))
			assert_true(in_query);
		else if (!strcmp(op->service, "api"))
			assert_true(in_ingress && in_query);
		else if (!strcmp(op->service, "all"))
			assert_true(in_ingress && in_query && in_admin);
		else
			fail_msg("%s %s has no x-service", op->method, op->path);
	}
}

/* A service's own document holds nothing it does not serve (the fuzzer would otherwise
 * expect another service's methods in Allow). */
static void check_own(const struct doc *d, const char *file, const struct dapi_http_route *routes,
                      size_t n)
{
	for (int i = 0; i < d->nops; i++)
		if (!in_table(&d->ops[i], routes, n))
			fail_msg("%s documents %s %s, which it does not serve", file,
			         d->ops[i].method, d->ops[i].path);
}

static void each_service_document_is_its_own(void **state)
{
	check_own(&ingress_doc, "docs/openapi-ingress.yaml", ingress_routes, ingress_nroutes);
	check_own(&query_doc, "docs/openapi-query.yaml", query_routes, query_nroutes);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_route_is_documented),
		cmocka_unit_test(every_documented_operation_exists),
		cmocka_unit_test(each_service_document_is_its_own),
	};
	return cmocka_run_group_tests(tests, load, NULL);
}
