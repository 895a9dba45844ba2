/* Reliability suite: a stream of acknowledged operations while a fault is injected, then the
 * store is compared with the model. Real Kafka, real database, real programs (the stack
 * fixture); every fault is bounded in time and the programs are restored afterwards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <mongoc/mongoc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "relay.h"
#include "scenario.h"
#include "workload.h"

#define INGESTD_TEST_ARGS "-X auto.commit.interval.ms=200"

static struct stack S;

static int setup(void **state)
{
	char url[256];
	stack_load(&S);
	setenv("DAPI_INGESTD_ARGS", INGESTD_TEST_ARGS, 1);
	setenv("DAPI_INGRESS_ARGS", "--produce-timeout 3s", 1);
	snprintf(url, sizeof(url), "%s/readyz", S.ingress);
	assert_int_equal(http_wait_status(url, 200, 30000), 200);
	return 0;
}

/* Makes sure every program of the stack runs again after a scenario. */
static void restore_all(void)
{
	stack_ctl(&S, "start", "kafka");
	stack_ctl(&S, "start", "db");
	stack_ctl(&S, "start", "ingestd");
	stack_ctl(&S, "start", "ingress");
}

static int restore(void **state)
{
	restore_all();
	return 0;
}

static long rss_kb(long pid)
{
	char path[64], line[256];
	long kb = -1;
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	FILE *f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			kb = atol(line + 6);
	if (f)
		fclose(f);
	return kb;
}

/* ---- R1: kill -9 ingestd repeatedly ------------------------------------------------ */

/* A kill every fifth of the operations: four kills, whatever the machine's speed. */
static void kill_ingestd_repeatedly(struct fault *f)
{
	for (int k = 1; k <= 4 && wait_for_progress(f->w, f->w->nops * k / 5); k++) {
		stack_ctl(&S, "kill", "ingestd");
		f->count++;
		sleep_ms(300);
		stack_ctl(&S, "start", "ingestd");
	}
}

static void r1_ingestd_killed_repeatedly(void **state)
{
	struct fault f = { .run = kill_ingestd_repeatedly };
	f.restore = restore_all;
	scenario_run(&S, "r1", 500, 20000, &f);
	assert_int_equal(f.count, 4);
}

/* ---- R2: kill -9 the ingress under load -------------------------------------------- */

static void kill_ingress_repeatedly(struct fault *f)
{
	for (int k = 1; k <= 3 && wait_for_progress(f->w, f->w->nops * k / 4); k++) {
		stack_ctl(&S, "kill", "ingress");
		f->count++;
		sleep_ms(500);
		stack_ctl(&S, "start", "ingress");
	}
}

static void r2_ingress_killed_under_load(void **state)
{
	struct fault f = { .run = kill_ingress_repeatedly };
	f.restore = restore_all;
	scenario_run(&S, "r2", 200, 4000, &f);
	assert_int_equal(f.count, 3);
}

/* ---- R3: the broker stops and comes back -------------------------------------------- */

static void restart_broker(struct fault *f)
{
	if (!wait_for_progress(f->w, f->w->nops / 4))
		return;
	stack_ctl(&S, "stop", "kafka");
	f->count++;
	sleep_ms(6000);
	stack_ctl(&S, "start", "kafka");
}

static void r3_broker_restarted_mid_stream(void **state)
{
	struct fault f = { .run = restart_broker };
	f.restore = restore_all;
	scenario_run(&S, "r3", 200, 4000, &f);
	assert_int_equal(f.count, 1);
}

/* ---- R4: the database is down for 20 s ---------------------------------------------- */

struct outage {         /* R4 */
	long max_rss;   /* ingestd's peak RSS during the outage, KiB */
	long rss_start; /* at the start of the outage */
	int query_503;  /* query answers seen as 503 while the database was down */
	int query_200_after;
};

static void stop_database(struct fault *f)
{
	struct outage *o = f->data;
	char url[256];
	if (!wait_for_progress(f->w, f->w->nops / 4))
		return;
	long pid = stack_pid(&S, "ingestd");
	o->rss_start = rss_kb(pid);
	stack_ctl(&S, "stop", "db");
	f->count++;
	snprintf(url, sizeof(url), "%s/data?limit=1", S.query);
	for (int i = 0; i < 20; i++) {
		long rss = rss_kb(pid);
		if (rss > o->max_rss)
			o->max_rss = rss;
		if (i % 5 == 2)
			o->query_503 += http_get(url, NULL) == 503;
		sleep_ms(1000);
	}
	stack_ctl(&S, "start", "db");
	o->query_200_after = http_wait_status(url, 200, 60000) == 200;
}

static void r4_database_down_for_20s(void **state)
{
	struct outage o = { 0 };
	struct fault f = { .run = stop_database, .data = &o };
	f.restore = restore_all;
	scenario_run(&S, "r4", 200, 6000, &f);
	assert_int_equal(f.count, 1);
	assert_true(o.query_503 >= 1);
	assert_true(o.query_200_after);
	print_message("r4: ingestd RSS %ld KiB at the outage's start, %ld KiB at most during it\n",
	              o.rss_start, o.max_rss);
	assert_true(o.max_rss > 0 && o.max_rss < o.rss_start + 64 * 1024);
}

/* ---- R5: two ingestd in one group, one killed and restarted -------------------------- */

static pid_t spawn_ingestd(void)
{
	char path[1024], log[700];
	snprintf(path, sizeof(path), "%s/ingest/dataapi-ingestd", S.build_dir);
	snprintf(log, sizeof(log), "%s/logs/ingestd-second.log", S.state_dir);
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(path, path, "--kafka-brokers", S.brokers, "--topic", S.topic, "--mongodb-uri",
		      S.mongodb_uri, "--admin-port", "0", "-X", "auto.commit.interval.ms=200",
		      (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* The second member joins, is killed at each quarter of the operations and joins again an
 * eighth later: three kills and four joins, whatever the machine's speed. */
static void rebalance_second_member(struct fault *f)
{
	int status, n = f->w->nops;
	pid_t second = spawn_ingestd();
	for (int k = 1; k <= 3 && wait_for_progress(f->w, n * k / 4); k++) {
		kill(second, SIGKILL);
		waitpid(second, &status, 0);
		second = -1;
		f->count++;
		if (!wait_for_progress(f->w, n * k / 4 + n / 8))
			break;
		second = spawn_ingestd();
	}
	if (second > 0 && kill(second, SIGTERM) == 0)
		waitpid(second, &status, 0);
}

static void r5_rebalance_between_two_members(void **state)
{
	struct fault f = { .run = rebalance_second_member };
	f.restore = restore_all;
	scenario_run(&S, "r5", 200, 6000, &f);
	assert_int_equal(f.count, 3);
}

/* ---- R6: poison written straight to the topic ---------------------------------------- */

static void r6_poison_never_blocks_and_never_lands(void **state)
{
	char key[128], ev[512], reason[64];
	size_t big = 1000 * 1000; /* "1 MB": the most a record may carry under Kafka's defaults */
	char *huge = malloc(big + 512);
	struct {
		const char *name, *reason;
	} cases[] = {
		{ "json", "invalid_json" },    { "version", "unsupported_version" },
		{ "fields", "missing_field" }, { "huge", "text_too_large" },
		{ "dollar", "invalid_field" }, { "utf8", "invalid_json" },
	};
	for (int i = 0; i < 6; i++) {
		snprintf(key, sizeof(key), "%s-r6-%s", run_id(), cases[i].name);
		const char *value = ev;
		switch (i) {
		case 0:
			snprintf(ev, sizeof(ev), "{\"v\":1,");
			break;
		case 1:
			snprintf(ev, sizeof(ev),
			         "{\"v\":3,\"type\":\"message\",\"eventId\":\"e\",\"dialogId\":\"%"
			         "s\"}",
			         key);
			break;
		case 2:
			snprintf(ev, sizeof(ev),
			         "{\"v\":1,\"type\":\"consent\",\"eventId\":\"e\",\"dialogId\":\"%"
			         "s\"}",
			         key);
			break;
		case 3: {
			int off = snprintf(
			        huge, 512,
			        "{\"v\":1,\"type\":\"message\",\"eventId\":\"e\",\"dialogId\":\"%"
			        "s\",\"customerId\":\"c\",\"language\":\"EN\",\"receivedAt\":"
			        "\"2026-11-22T10:00:00Z\",\"text\":\"",
			        key);
			memset(huge + off, 'x', big);
			strcpy(huge + off + big, "\"}");
			value = huge;
			break;
		}
		case 4:
			snprintf(ev, sizeof(ev),
			         "{\"v\":1,\"type\":\"consent\",\"eventId\":\"e\",\"dialogId\":\"$"
			         "set.x\",\"granted\":false,\"receivedAt\":\"2026-11-22T10:00:"
			         "00Z\"}");
			break;
		case 5:
			snprintf(ev, sizeof(ev),
			         "{\"v\":1,\"type\":\"message\",\"eventId\":\"e\",\"dialogId\":\"%"
			         "s\",\"customerId\":\"c\",\"text\":\"\xc0\xaf\",\"language\":"
			         "\"EN\",\"receivedAt\":\"2026-11-22T10:00:00Z\"}",
			         key);
			break;
		}
		assert_int_equal(kafka_produce(&S, S.topic, key, value, strlen(value)), 0);
		/* right behind it, on the same partition, a valid message with dots in its ids */
		snprintf(ev, sizeof(ev),
		         "{\"v\":1,\"type\":\"message\",\"eventId\":\"ok\",\"dialogId\":\"%s\","
		         "\"customerId\":\"c.with.dots\",\"text\":\"after\",\"language\":\"EN\","
		         "\"receivedAt\":\"2026-11-22T10:00:00Z\"}",
		         key);
		assert_int_equal(kafka_produce(&S, S.topic, key, ev, strlen(ev)), 0);
	}
	free(huge);
	assert_true(kafka_wait_drained(&S, 60000));
	for (int i = 0; i < 6; i++) {
		snprintf(key, sizeof(key), "%s-r6-%s", run_id(), cases[i].name);
		assert_true(kafka_find_dlq(&S, key, reason, sizeof(reason), 30000));
		assert_string_equal(reason, cases[i].reason);
		bson_t *doc = mongo_find(&S, key); /* the valid one behind it was applied ... */
		assert_non_null(doc);
		bson_iter_t it;
		assert_true(bson_iter_init_find(&it, doc, "customerId"));
		assert_string_equal(bson_iter_utf8(&it, NULL), "c.with.dots");
		assert_true(doc->len < 4096); /* ... and nothing of the poison */
		bson_destroy(doc);
	}
	assert_null(mongo_find(&S, "$set.x"));
}

/* ---- R8: a stale member's write lands after another member revoked ------------------ */

#define R8_DIALOGS 30

/* A member of the group with its own database URI and a short session, so that a paused
 * member is evicted in seconds. */
static pid_t spawn_member(const char *uri, const char *name, const char *fetch_wait_ms)
{
	char fetch_wait[64];
	snprintf(fetch_wait, sizeof(fetch_wait), "fetch.wait.max.ms=%s", fetch_wait_ms);
	char *args[] = { "--kafka-brokers",
		         S.brokers,
		         "--topic",
		         S.topic,
		         "--mongodb-uri",
		         (char *)uri,
		         "--admin-port",
		         "0",
		         "-X",
		         "auto.commit.interval.ms=200",
		         "-X",
		         "session.timeout.ms=6000",
		         "-X",
		         "heartbeat.interval.ms=500",
		         "-X",
		         "max.poll.interval.ms=10000",
		         "-X",
		         "fetch.min.bytes=1000000",
		         "-X",
		         fetch_wait,
		         NULL };
	return spawn_program(&S, "ingest/dataapi-ingestd", name, args);
}

/* How many of the scenario's dialogs satisfy pred. */
static int r8_count(bool (*pred)(const bson_t *doc))
{
	char id[128];
	int n = 0;
	for (int i = 0; i < R8_DIALOGS; i++) {
		snprintf(id, sizeof(id), "%s-r8-%d", run_id(), i);
		bson_t *doc = mongo_find(&S, id);
		n += doc && pred(doc);
		bson_destroy(doc);
	}
	return n;
}

static int message_count(const bson_t *doc)
{
	bson_iter_t it, arr;
	int n = 0;
	if (bson_iter_init_find(&it, doc, "messages") && BSON_ITER_HOLDS_ARRAY(&it) &&
	    bson_iter_recurse(&it, &arr))
		while (bson_iter_next(&arr))
			n++;
	return n;
}

static bool consented_once(const bson_t *doc)
{
	bson_iter_t it;
	return bson_iter_init_find(&it, doc, "consent") && bson_iter_as_bool(&it) &&
	       message_count(doc) == 1;
}

static bool two_messages(const bson_t *doc)
{
	return message_count(doc) == 2;
}

static bool is_tombstone(const bson_t *doc)
{
	bson_iter_t it;
	return bson_iter_init_find(&it, doc, "revoked") && bson_iter_as_bool(&it);
}

/* A tombstone and nothing else: _id, revoked, revokedAt, appliedThrough. */
static bool pure_tombstone(const bson_t *doc)
{
	bson_iter_t it;
	if (!is_tombstone(doc) || !bson_iter_init(&it, doc))
		return false;
	while (bson_iter_next(&it)) {
		const char *k = bson_iter_key(&it);
		if (strcmp(k, "_id") && strcmp(k, "revoked") && strcmp(k, "revokedAt") &&
		    strcmp(k, "appliedThrough"))
			return false;
	}
	return true;
}

static int r8_wait(bool (*pred)(const bson_t *doc), int timeout_ms)
{
	int n = 0;
	for (int waited = 0; waited < timeout_ms; waited += 250) {
		if ((n = r8_count(pred)) == R8_DIALOGS)
			break;
		sleep_ms(250);
	}
	return n;
}

/* Member A reaches the database through a relay. Its dialogs are consented; then the relay
 * holds what A sends while a second message arrives for each, so A's write of those
 * messages (from its cache, no read first) waits on the link, and A is paused (SIGSTOP)
 * past its session timeout. Member B takes the partitions, appends the same messages and
 * applies a revocation of every dialog. Then the held write is let through and A resumed:
 * the late write must match nothing. Every dialog must stay a bare tombstone, and no read
 * path may show it. */
static void r8_stale_member_write_after_revocation(void **state)
{
	char host[64] = "127.0.0.1", uri[512], path[512], body[256], url[512];
	int port = 0;
	struct relay *relay;
	pid_t a, b;

	assert_int_equal(sscanf(S.mongodb_uri, "mongodb://%63[^:/]:%d", host, &port), 2);
	relay = relay_start(host, port);
	assert_non_null(relay);
	snprintf(uri, sizeof(uri), "mongodb://127.0.0.1:%d/?directConnection=true",
	         relay_port(relay));
	stack_ctl(&S, "stop", "ingestd"); /* two members of the scenario's own instead */
	a = spawn_member(uri, "ingestd-r8-a", "3000");

	for (int i = 0; i < R8_DIALOGS; i++) {
		snprintf(path, sizeof(path), "/data/c%d/%s-r8-%d", i, run_id(), i);
		ingress_post_accepted(&S, path, "{\"text\":\"first words\",\"language\":\"EN\"}");
		snprintf(path, sizeof(path), "/consents/%s-r8-%d", run_id(), i);
		ingress_post_accepted(&S, path, "true");
	}
	assert_int_equal(r8_wait(consented_once, 60000), R8_DIALOGS);

	relay_hold(relay, true);
	for (int i = 0; i < R8_DIALOGS; i++) {
		snprintf(path, sizeof(path), "/data/c%d/%s-r8-%d", i, run_id(), i);
		snprintf(body, sizeof(body), "{\"text\":\"late words %d\",\"language\":\"DE\"}", i);
		ingress_post_accepted(&S, path, body);
	}
	bool held = false;
	for (int waited = 0; waited < 10000 && !held; waited += 50) {
		held = relay_holding_bytes(relay);
		sleep_ms(50);
	}
	assert_true(held); /* A's write is on the link */
	sleep_ms(500);
	kill(a, SIGSTOP);

	b = spawn_member(S.mongodb_uri, "ingestd-r8-b", "50");
	int appended = r8_wait(two_messages, 90000);
	for (int i = 0; i < R8_DIALOGS; i++) {
		snprintf(path, sizeof(path), "/consents/%s-r8-%d", run_id(), i);
		ingress_post_accepted(&S, path, "false");
	}
	int revoked = r8_wait(is_tombstone, 90000);

	relay_hold(relay, false); /* the held write reaches the database now */
	kill(a, SIGCONT);
	sleep_ms(5000);

	int bare = r8_count(pure_tombstone), readable = 0;
	for (int i = 0; i < R8_DIALOGS; i++) {
		snprintf(url, sizeof(url), "%s/data/c%d/%s-r8-%d", S.query, i, run_id(), i);
		readable += http_get(url, NULL) != 404;
	}
	struct http_res res;
	snprintf(url, sizeof(url), "%s/data/export", S.query);
	long export_status = http_get(url, &res);
	snprintf(path, sizeof(path), "%s-r8-", run_id());
	bool exported = res.body && strstr(res.body, path);
	http_res_free(&res);
	print_message("r8: %d dialogs; B appended %d, revoked %d; after A's late write: %d bare "
	              "tombstones, %d readable one by one, export lists some: %s\n",
	              R8_DIALOGS, appended, revoked, bare, readable, exported ? "yes" : "no");

	kill(a, SIGTERM);
	kill(b, SIGTERM);
	wait_exit(a, 20000);
	wait_exit(b, 20000);
	relay_stop(relay);
	assert_int_equal(appended, R8_DIALOGS);
	assert_int_equal(revoked, R8_DIALOGS);
	assert_int_equal(bare, R8_DIALOGS);
	assert_int_equal(readable, 0);
	assert_int_equal(export_status, 200);
	assert_false(exported);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(r6_poison_never_blocks_and_never_lands, restore),
		cmocka_unit_test_teardown(r1_ingestd_killed_repeatedly, restore),
		cmocka_unit_test_teardown(r2_ingress_killed_under_load, restore),
		cmocka_unit_test_teardown(r3_broker_restarted_mid_stream, restore),
		cmocka_unit_test_teardown(r4_database_down_for_20s, restore),
		cmocka_unit_test_teardown(r5_rebalance_between_two_members, restore),
		cmocka_unit_test_teardown(r8_stale_member_write_after_revocation, restore),
	};
	return harness_run_tests(tests, setup, NULL);
}
