/* Unit tests: the options a client pool gets when its URI leaves them out, and that a URI's
 * own always win. No server is contacted (a client's URI is read, nothing is sent). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mongo.h"

/* Pops a client of a new pool for uri and reads one int32 option of its URI. */
static int32_t pool_option(const char *uri, int64_t longest_reply_ms, const char *option)
{
	char errstr[256];
	mongoc_client_pool_t *pool =
	        dapi_mongo_pool_new(uri, "test", longest_reply_ms, 0, errstr, sizeof(errstr));
	assert_non_null(pool);
	mongoc_client_t *client = mongoc_client_pool_pop(pool);
	int32_t v = mongoc_uri_get_option_as_int32(mongoc_client_get_uri(client), option, -1);
	mongoc_client_pool_push(pool, client);
	mongoc_client_pool_destroy(pool);
	return v;
}

static void socket_timeout_outlasts_the_longest_reply(void **state)
{
	(void)state;
	const char *uri = "mongodb://127.0.0.1:1/";
	assert_int_equal(pool_option(uri, 0, MONGOC_URI_SOCKETTIMEOUTMS), 30000);
	assert_int_equal(pool_option(uri, 5000, MONGOC_URI_SOCKETTIMEOUTMS), 30000);
	/* --query-timeout 4m: the server's maxTimeMS expires first, then the socket's. */
	assert_int_equal(pool_option(uri, 240000, MONGOC_URI_SOCKETTIMEOUTMS), 245000);
	assert_int_equal(pool_option(uri, INT64_MAX / 2, MONGOC_URI_SOCKETTIMEOUTMS), INT32_MAX);
	assert_int_equal(pool_option(uri, 0, MONGOC_URI_SERVERSELECTIONTIMEOUTMS), 3000);
}

static void uri_options_win(void **state)
{
	(void)state;
	const char *uri = "mongodb://127.0.0.1:1/?socketTimeoutMS=1234&serverSelectionTimeoutMS=99";
	assert_int_equal(pool_option(uri, 240000, MONGOC_URI_SOCKETTIMEOUTMS), 1234);
	assert_int_equal(pool_option(uri, 0, MONGOC_URI_SERVERSELECTIONTIMEOUTMS), 99);
}

/* The query service's pool gives up waiting for a free client: a prompt 503, never a hang. */
static void a_busy_pool_says_so_after_the_wait(void **state)
{
	(void)state;
	char errstr[256];
	mongoc_client_pool_t *pool = dapi_mongo_pool_new("mongodb://127.0.0.1:1/?maxPoolSize=1",
	                                                 "test", 0, 200, errstr, sizeof(errstr));
	assert_non_null(pool);
	mongoc_client_t *held = mongoc_client_pool_pop(pool);
	assert_non_null(held);
	assert_int_equal(mongoc_uri_get_option_as_int32(mongoc_client_get_uri(held),
	                                                MONGOC_URI_WAITQUEUETIMEOUTMS, -1),
	                 200);
	int64_t t0 = bson_get_monotonic_time();
	assert_null(mongoc_client_pool_pop(pool)); /* the only client is held */
	int64_t waited_ms = (bson_get_monotonic_time() - t0) / 1000;
	assert_true(waited_ms >= 150 && waited_ms < 2000);
	mongoc_client_pool_push(pool, held);
	mongoc_client_pool_destroy(pool);
	/* without a wait, the option is left out (pop waits as long as it takes) */
	assert_int_equal(pool_option("mongodb://127.0.0.1:1/", 0, MONGOC_URI_WAITQUEUETIMEOUTMS),
	                 -1);
}

/* The probe bounds every wait by its own timeout, whatever the server does. */
static void probe_answers_within_its_timeout(void **state)
{
	(void)state;
	char errstr[256];
	bson_error_t err;
	struct dapi_mongo_probe *p =
	        dapi_mongo_probe_new("mongodb://127.0.0.1:1/", "test", 300, errstr, sizeof(errstr));
	assert_non_null(p);
	int64_t t0 = bson_get_monotonic_time();
	assert_false(dapi_mongo_probe_ping(p, &err)); /* nothing listens on port 1 */
	assert_true((bson_get_monotonic_time() - t0) / 1000 < 2000);
	dapi_mongo_probe_destroy(p);
	dapi_mongo_probe_destroy(NULL);
	assert_null(dapi_mongo_probe_new("http://nope", "test", 300, errstr, sizeof(errstr)));
}

static void bad_uri_is_an_error(void **state)
{
	(void)state;
	char errstr[256] = "";
	assert_null(dapi_mongo_pool_new("http://nope", "test", 0, 0, errstr, sizeof(errstr)));
	assert_string_not_equal(errstr, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(socket_timeout_outlasts_the_longest_reply),
		cmocka_unit_test(uri_options_win),
		cmocka_unit_test(a_busy_pool_says_so_after_the_wait),
		cmocka_unit_test(probe_answers_within_its_timeout),
		cmocka_unit_test(bad_uri_is_an_error),
	};
	dapi_mongo_init();
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	mongoc_cleanup();
	return failed;
}
