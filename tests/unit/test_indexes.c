/* Unit tests: every GET /data page shape has an index among those ingestd creates, by the
 * equality-sort-range rule (the index's keys are the filter's equalities, then the page's
 * sort, so the server reads the page in order and stops at the limit), and the bench's
 * reading of explain replies (bench/plan.c) says index, scan or sort as it should.
 * The shapes come from the query service's own find command, the indexes from ingestd's
 * own specs: a new filter or a changed index that no longer fit fails here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "dialogs.h"
#include "params.h"
#include "plan.h"
#include "store.h"

#define MAX_FIELDS 8

struct fields {
	const char *name[MAX_FIELDS];
	int dir[MAX_FIELDS];
	int n;
};

static bool has(const struct fields *f, const char *name)
{
	for (int i = 0; i < f->n; i++)
		if (!strcmp(f->name[i], name))
			return true;
	return false;
}

static void add(struct fields *f, const char *name, int dir)
{
	if (has(f, name))
		return;
	assert_true(f->n < MAX_FIELDS);
	f->name[f->n] = name;
	f->dir[f->n++] = dir;
}

static void sub_doc(bson_iter_t *it, bson_t *out)
{
	const uint8_t *data = NULL;
	uint32_t len = 0;
	if (BSON_ITER_HOLDS_ARRAY(it))
		bson_iter_array(it, &len, &data);
	else
		bson_iter_document(it, &len, &data);
	assert_non_null(data);
	assert_true(bson_init_static(out, data, len));
}

/* The filter's equality fields and range fields (operators, and the cursor's $or). */
static void read_filter(const bson_t *filter, struct fields *eq, struct fields *range)
{
	bson_iter_t it, branch, field;
	assert_true(bson_iter_init(&it, filter));
	while (bson_iter_next(&it)) {
		const char *key = bson_iter_key(&it);
		if (!strcmp(key, "revoked"))
			continue; /* the tombstone exclusion: checked at the fetch, needs no key */
		if (!strcmp(key, "$or")) {
			bson_t arr, doc;
			sub_doc(&it, &arr);
			assert_true(bson_iter_init(&branch, &arr));
			while (bson_iter_next(&branch)) {
				sub_doc(&branch, &doc);
				assert_true(bson_iter_init(&field, &doc));
				while (bson_iter_next(&field))
					add(range, bson_iter_key(&field), 0);
			}
		} else if (BSON_ITER_HOLDS_DOCUMENT(&it)) {
			add(range, key, 0);
		} else {
			add(eq, key, 0);
		}
	}
}

static void read_keys(const bson_t *doc, struct fields *f)
{
	bson_iter_t it;
	assert_true(bson_iter_init(&it, doc));
	while (bson_iter_next(&it))
		add(f, bson_iter_key(&it), (int)bson_iter_as_int64(&it));
}

/* Whether the index keys serve (eq, sort, range): its leading keys are equalities of the
 * filter, the rest is the sort (read forwards or backwards), every range field is a sort
 * field, and every equality is in the index, except that a shape narrowed to one customer
 * may leave its language to the fetch (a customer's own dialogs are few). */
static bool serves(const struct fields *keys, const struct fields *eq, const struct fields *sort,
                   const struct fields *range)
{
	struct fields used = { 0 };
	int i = 0, sign = 0;

	while (i < keys->n && has(eq, keys->name[i]))
		add(&used, keys->name[i++], 0);
	if (keys->n - i != sort->n)
		return false;
	for (int j = 0; j < sort->n; j++, i++) {
		int s = keys->dir[i] == sort->dir[j] ? 1 : keys->dir[i] == -sort->dir[j] ? -1 : 0;
		if (strcmp(keys->name[i], sort->name[j]) || !s || (sign && s != sign))
			return false;
		sign = s;
	}
	for (int j = 0; j < range->n; j++)
		if (!has(sort, range->name[j]))
			return false;
	for (int j = 0; j < eq->n; j++)
		if (!has(&used, eq->name[j]) &&
		    !(!strcmp(eq->name[j], "languages") && has(&used, "customerId")))
			return false;
	return true;
}

/* The name of the first index serving the page of query string qs, or NULL. */
static const char *index_for(const char *qs, char name[64])
{
	struct query_dialogs q = { NULL, "dataapi", "dialogs", 5000, 60000, 8 << 20 };
	struct query_params p;
	struct dapi_input_error ierr;
	bson_t cmd = BSON_INITIALIZER, filter, sort;
	bson_iter_t it;
	struct fields eq = { 0 }, range = { 0 }, order = { 0 };
	const char *found = NULL;

	query_params_init(&p, true);
	assert_true(query_params_parse(&p, qs, &ierr));
	query_dialogs_find_command(&q, &p, &cmd);
	assert_true(bson_iter_init_find(&it, &cmd, "filter"));
	sub_doc(&it, &filter);
	assert_true(bson_has_field(&filter, "revoked")); /* every page excludes tombstones */
	read_filter(&filter, &eq, &range);
	assert_true(bson_iter_init_find(&it, &cmd, "sort"));
	sub_doc(&it, &sort);
	read_keys(&sort, &order);

	bson_t *spec;
	for (size_t i = 0; !found && (spec = ingestd_store_index_spec(i)); i++) {
		bson_t key;
		struct fields keys = { 0 };
		assert_true(bson_iter_init_find(&it, spec, "key"));
		sub_doc(&it, &key);
		read_keys(&key, &keys);
		if (serves(&keys, &eq, &order, &range)) {
			assert_true(bson_iter_init_find(&it, spec, "name"));
			snprintf(name, 64, "%s", bson_iter_utf8(&it, NULL));
			found = name;
		}
		bson_destroy(spec);
	}
	bson_destroy(&cmd);
	return found;
}

static void every_page_shape_has_its_index(void **state)
{
	(void)state;
	char cursor[QUERY_CURSOR_MAX], qs[512], name[64];
	query_cursor_encode(1795389232000, "d-42", 10, cursor);
	const struct {
		const char *params, *index;
	} shapes[] = {
		{ "limit=100", "consent_recent" },
		{ "limit=100&offset=100000", "consent_recent" },
		{ "limit=100&cursor=", "consent_recent" },
		{ "limit=100&language=DE", "consent_language_recent" },
		{ "limit=100&language=DE&cursor=", "consent_language_recent" },
		{ "limit=100&customerId=c7", "consent_customer_recent" },
		{ "limit=100&customerId=c7&cursor=", "consent_customer_recent" },
		{ "limit=100&customerId=c7&language=DE", "consent_customer_recent" },
	};
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		size_t len = strlen(shapes[i].params);
		snprintf(qs, sizeof(qs), "%s%s", shapes[i].params,
		         len && shapes[i].params[len - 1] == '=' ? cursor : "");
		const char *got = index_for(qs, name);
		if (!got || strcmp(got, shapes[i].index))
			fail_msg("GET /data?%s: served by %s, expected %s", shapes[i].params,
			         got ? got : "no index", shapes[i].index);
	}
}

/* The rule itself refuses what no index can serve in order. */
static void the_rule_refuses_a_wrong_order(void **state)
{
	(void)state;
	struct fields keys = { { "consent", "lastMessageAt", "_id" }, { 1, -1, 1 }, 3 };
	struct fields eq = { { "consent" }, { 0 }, 1 };
	struct fields sort = { { "lastMessageAt", "_id" }, { -1, 1 }, 2 };
	struct fields none = { 0 };
	assert_true(serves(&keys, &eq, &sort, &none));
	struct fields backwards = { { "lastMessageAt", "_id" }, { 1, -1 }, 2 };
	assert_true(serves(&keys, &eq, &backwards, &none));
	struct fields mixed = { { "lastMessageAt", "_id" }, { -1, -1 }, 2 };
	assert_false(serves(&keys, &eq, &mixed, &none));
	struct fields eq2 = { { "consent", "languages" }, { 0, 0 }, 2 };
	assert_false(serves(&keys, &eq2, &sort, &none)); /* languages left to a scan */
	struct fields range = { { "createdAt" }, { 0 }, 1 };
	assert_false(serves(&keys, &eq, &sort, &range));
}

static const char *describe(const char *json, char *out, size_t n)
{
	bson_error_t err;
	bson_t *reply = bson_new_from_json((const uint8_t *)json, -1, &err);
	assert_non_null(reply);
	bench_plan_describe(reply, out, n);
	bson_destroy(reply);
	return out;
}

static void explain_replies_are_read(void **state)
{
	(void)state;
	char out[640];
	/* MongoDB, classic engine */
	assert_string_equal(
	        describe("{\"queryPlanner\":{\"winningPlan\":{\"stage\":\"LIMIT\",\"inputStage\":"
	                 "{\"stage\":\"FETCH\",\"inputStage\":{\"stage\":\"IXSCAN\","
	                 "\"indexName\":\"consent_recent\"}}}},\"ok\":1}",
	                 out, sizeof(out)),
	        "index: LIMIT < FETCH < IXSCAN consent_recent");
	/* MongoDB 7, slot-based engine: the tree under queryPlan; an in-memory sort */
	assert_string_equal(
	        describe("{\"queryPlanner\":{\"winningPlan\":{\"queryPlan\":{\"stage\":\"SORT\","
	                 "\"inputStage\":{\"stage\":\"FETCH\",\"inputStage\":{\"stage\":"
	                 "\"IXSCAN\",\"indexName\":\"consent_recent\"}}},\"slotBasedPlan\":"
	                 "{\"stages\":\"...\"}}},\"ok\":1}",
	                 out, sizeof(out)),
	        "sort in memory: SORT < FETCH < IXSCAN consent_recent");
	/* the cursor's $or as two index scans merged in order */
	assert_string_equal(
	        describe("{\"queryPlanner\":{\"winningPlan\":{\"stage\":\"LIMIT\",\"inputStage\":"
	                 "{\"stage\":\"FETCH\",\"inputStage\":{\"stage\":\"SORT_MERGE\","
	                 "\"inputStages\":[{\"stage\":\"IXSCAN\",\"indexName\":\"a\"},"
	                 "{\"stage\":\"IXSCAN\",\"indexName\":\"b\"}]}}}}}",
	                 out, sizeof(out)),
	        "index: LIMIT < FETCH < SORT_MERGE < IXSCAN a < IXSCAN b");
	assert_string_equal(
	        describe("{\"queryPlanner\":{\"winningPlan\":{\"stage\":\"COLLSCAN\"}}}", out,
	                 sizeof(out)),
	        "scan: COLLSCAN");
	/* FerretDB */
	assert_string_equal(
	        describe("{\"queryPlanner\":{\"Plan\":[]},\"filterPushdown\":false,"
	                 "\"sortPushdown\":false,\"limitPushdown\":false,\"ok\":1}",
	                 out, sizeof(out)),
	        "scan: FerretDB filter pushdown no, sort pushdown no, limit pushdown no");
	assert_string_equal(describe("{\"ok\":1}", out, sizeof(out)),
	                    "unknown: no plan in the explain reply");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_page_shape_has_its_index),
		cmocka_unit_test(the_rule_refuses_a_wrong_order),
		cmocka_unit_test(explain_replies_are_read),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
