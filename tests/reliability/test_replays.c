/* Replays and rebuilds never lose a consented dialog or bring back an erased one
 * (docs/reliability.md, "Replays"). Each scenario runs a live system of its own beside the
 * stack: a topic, a dialog store, a key store and a group of its own, the stack's broker,
 * database and binaries. Time that a scenario needs to pass (days) is simulated: the
 * sweeper's clock runs ahead (DAPI_TEST_CLOCK_AHEAD) and keys' usedAt is set back, as an
 * operator would meet them days after the fact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <mongoc/mongoc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define WAIT_MS 120000

static struct stack S;

/* One live system: its names, its ingress and its ingestd. */
struct mini {
	char topic[160], group[160], db[160], keys[160];
	char ingress[128], admin[128];
	pid_t ingress_pid, ingestd_pid;
};

static int setup(void **state)
{
	stack_load(&S);
	return 0;
}

static void mini_init(struct mini *m, const char *name)
{
	char dlq[200];
	memset(m, 0, sizeof(*m));
	snprintf(m->topic, sizeof(m->topic), "replays.%s.%s", run_id(), name);
	snprintf(m->group, sizeof(m->group), "replays-%s-%s", run_id(), name);
	snprintf(m->db, sizeof(m->db), "replays_%ld_%s", (long)getpid(), name);
	snprintf(m->keys, sizeof(m->keys), "replays_keys_%ld_%s", (long)getpid(), name);
	snprintf(dlq, sizeof(dlq), "%s.dlq", m->topic);
	kafka_create_topic(&S, m->topic, 3);
	kafka_create_topic(&S, dlq, 3);
}

/* An ingestd on m's topic and key store, with its group, database and extra arguments
 * (NULL-terminated, at most 8); its admin URL into admin. */
static pid_t spawn_ingestd(const struct mini *m, const char *log, const char *group, const char *db,
                           const char *const *extra, char admin[128])
{
	char port[16], *args[32];
	int n = 0;
	snprintf(port, sizeof(port), "%d", free_port());
	snprintf(admin, 128, "http://127.0.0.1:%s", port);
	const char *base[] = { "--kafka-brokers",
		               S.brokers,
		               "--topic",
		               m->topic,
		               "--mongodb-uri",
		               S.mongodb_uri,
		               "--database",
		               db,
		               "--keys-database",
		               m->keys,
		               "--group",
		               group,
		               "--admin-port",
		               port,
		               "--sweep-interval",
		               "1s",
		               "-X",
		               "auto.commit.interval.ms=200" };
	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
		args[n++] = (char *)base[i];
	for (int i = 0; extra && extra[i]; i++)
		args[n++] = (char *)extra[i];
	args[n] = NULL;
	pid_t pid = spawn_program(&S, "ingest/dataapi-ingestd", log, args);
	char url[256];
	snprintf(url, sizeof(url), "%s/healthz", admin);
	assert_int_equal(http_wait_status(url, 200, 60000), 200);
	return pid;
}

/* An ingress on m's topic and key store, its clock `ahead` of the machine's (NULL: not);
 * its URL into url. */
static pid_t spawn_ingress(const struct mini *m, const char *ahead, char url[128])
{
	char port[16], tokens[600], ready[256];
	snprintf(port, sizeof(port), "%d", free_port());
	snprintf(tokens, sizeof(tokens), "%s/tokens", S.state_dir);
	snprintf(url, 128, "http://127.0.0.1:%s", port);
	if (ahead)
		setenv("DAPI_TEST_CLOCK_AHEAD", ahead, 1);
	pid_t pid = spawn_program(&S, "ingest/dataapi-ingress", "replays-ingress",
	                          (char *[]){ "--port", port, "--kafka-brokers", S.brokers,
	                                      "--topic", (char *)m->topic, "--keys-database",
	                                      (char *)m->keys, "--tokens-file", tokens, NULL });
	unsetenv("DAPI_TEST_CLOCK_AHEAD");
	snprintf(ready, sizeof(ready), "%s/readyz", url);
	assert_int_equal(http_wait_status(ready, 200, 30000), 200);
	return pid;
}

static void start_ingress(struct mini *m)
{
	m->ingress_pid = spawn_ingress(m, NULL, m->ingress);
}

static void stop(pid_t pid)
{
	kill(pid, SIGTERM);
	assert_int_equal(wait_exit(pid, 60000), 0);
}

static void post(const struct mini *m, const char *path, const char *body)
{
	char url[512], auth[200];
	snprintf(url, sizeof(url), "%s%s", m->ingress, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", S.writer_token);
	const char *headers[] = { auth, "Content-Type: application/json", NULL };
	for (int attempt = 0; attempt < 50; attempt++) {
		struct http_res res;
		int rc = http_do("POST", url, body, strlen(body), headers, &res);
		long status = rc == 0 ? res.status : 0;
		if (rc == 0)
			http_res_free(&res);
		if (status == 202)
			return;
		sleep_ms(200);
	}
	fail_msg("POST %s was never accepted", path);
}

static void message(const struct mini *m, const char *customer, const char *dialog,
                    const char *text)
{
	char path[300], body[600];
	snprintf(path, sizeof(path), "/data/%s/%s", customer, dialog);
	snprintf(body, sizeof(body), "{\"text\":\"%s\",\"language\":\"EN\"}", text);
	post(m, path, body);
}

static void consent(const struct mini *m, const char *dialog, bool granted)
{
	char path[300];
	snprintf(path, sizeof(path), "/consents/%s", dialog);
	post(m, path, granted ? "true" : "false");
}

static mongoc_collection_t *coll_of(mongoc_client_t **client, const char *db, const char *name)
{
	*client = mongoc_client_new(S.mongodb_uri);
	assert_non_null(*client);
	return mongoc_client_get_collection(*client, db, name);
}

static int64_t count_in(const char *db, const char *name, const bson_t *filter)
{
	mongoc_client_t *client;
	mongoc_collection_t *c = coll_of(&client, db, name);
	bson_error_t err;
	int64_t n = mongoc_collection_count_documents(c, filter, NULL, NULL, NULL, &err);
	assert_true(n >= 0);
	mongoc_collection_destroy(c);
	mongoc_client_destroy(client);
	return n;
}

static int64_t keys_of(const struct mini *m)
{
	bson_t all = BSON_INITIALIZER;
	int64_t n = count_in(m->keys, "dialog_keys", &all);
	bson_destroy(&all);
	return n;
}

static bool has_key(const struct mini *m, const char *dialog)
{
	bson_t *doc = mongo_find_in(&S, m->keys, "dialog_keys", dialog);
	if (doc)
		bson_destroy(doc);
	return doc != NULL;
}

/* The createdAt of dialog's key (0 when it has none). */
static int64_t key_created(const struct mini *m, const char *dialog)
{
	bson_t *doc = mongo_find_in(&S, m->keys, "dialog_keys", dialog);
	bson_iter_t it;
	int64_t at =
	        doc && bson_iter_init_find(&it, doc, "createdAt") && BSON_ITER_HOLDS_DATE_TIME(&it)
	                ? bson_iter_date_time(&it)
	                : 0;
	if (doc)
		bson_destroy(doc);
	return at;
}

/* The stored document as JSON (NULL when there is none). */
static json_t *doc_json(const char *db, const char *id)
{
	bson_t *doc = mongo_find_in(&S, db, "dialogs", id);
	if (!doc)
		return NULL;
	char *text = bson_as_relaxed_extended_json(doc, NULL);
	json_t *j = json_loads(text, 0, NULL);
	bson_free(text);
	bson_destroy(doc);
	return j;
}

/* Sets every key's usedAt days back: nobody sealed with them since. */
static void keys_quiet_for(const struct mini *m, int days)
{
	mongoc_client_t *client;
	mongoc_collection_t *c = coll_of(&client, m->keys, "dialog_keys");
	int64_t then = (int64_t)(time(NULL) - days * 86400LL) * 1000;
	bson_t all = BSON_INITIALIZER;
	bson_t *update = BCON_NEW("$set", "{", "usedAt", BCON_DATE_TIME(then), "}");
	assert_true(mongoc_collection_update_many(c, &all, update, NULL, NULL, NULL));
	bson_destroy(update);
	bson_destroy(&all);
	mongoc_collection_destroy(c);
	mongoc_client_destroy(client);
}

/* Waits until ingestd at admin has completed n more sweeper passes than `since`. */
static void wait_sweeps(const char *admin, double since, int n)
{
	for (int i = 0; i < 600; i++) {
		if (metric_value(admin, "dataapi_sweeper_runs_total{result=\"ok\"}") >= since + n)
			return;
		sleep_ms(100);
	}
	fail_msg("the sweeper did not complete %d passes", n);
}

static double sweeps(const char *admin)
{
	return metric_value(admin, "dataapi_sweeper_runs_total{result=\"ok\"}");
}

static double metric_or_zero(const char *admin, const char *series)
{
	double v = metric_value(admin, series);
	return isnan(v) ? 0 : v;
}

/* Replays m's topic from earliest into an empty database as a group of its own (extra:
 * its flags, --replay-from included) and checks that dialog id comes out as want. Returns
 * how many events the replay counted shredded (their key gone). */
static double scratch_rebuilds(const struct mini *m, const char *const *extra, const char *id,
                               const json_t *want)
{
	char db[200], group[200], admin[128];
	snprintf(db, sizeof(db), "%s_scratch", m->db);
	snprintf(group, sizeof(group), "%s-scratch", m->group);
	pid_t pid = spawn_ingestd(m, "replays-scratch", group, db, extra, admin);
	assert_true(kafka_wait_group_drained(&S, m->topic, group, WAIT_MS));
	json_t *got = doc_json(db, id);
	assert_true(got && json_equal(got, want));
	json_decref(got);
	double shredded = metric_or_zero(admin, "dataapi_events_shredded_total");
	stop(pid);
	mongo_drop_db(&S, db);
	return shredded;
}

/* Stops m's programs and drops its databases. */
static void mini_down(struct mini *m)
{
	stop(m->ingestd_pid);
	stop(m->ingress_pid);
	mongo_drop_db(&S, m->db);
	mongo_drop_db(&S, m->keys);
}

#define DIALOGS   150
#define CONSENTED 109

static void dialog_id(char *out, size_t size, int i)
{
	snprintf(out, size, "d%03d", i);
}

/* 150 dialogs of two messages each, the first 109 consented, through the live system. */
static void fill(struct mini *m)
{
	for (int i = 0; i < DIALOGS; i++) {
		char d[32], customer[32];
		dialog_id(d, sizeof(d), i);
		snprintf(customer, sizeof(customer), "c%02d", i % 40);
		message(m, customer, d, "first words");
		message(m, customer, d, "second words");
		if (i < CONSENTED)
			consent(m, d, true);
	}
	assert_true(kafka_wait_group_drained(&S, m->topic, m->group, WAIT_MS));
}

/* Every consented dialog of db is the document the live store holds (want[i]); the
 * pending ones are gone; returns how many consented matched. */
static int same_consented(const char *db, json_t **want)
{
	int same = 0;
	for (int i = 0; i < DIALOGS; i++) {
		char d[32];
		dialog_id(d, sizeof(d), i);
		json_t *got = doc_json(db, d);
		if (i < CONSENTED && got && json_equal(got, want[i]))
			same++;
		if (i >= CONSENTED)
			assert_null(got);
		json_decref(got);
	}
	return same;
}

/* docs/operations.md, "Rebuild the store", step by step, four days after the data was
 * written (past the 72 h pending TTL) with every key quiet since: the consented dialogs
 * come back exactly and keep their keys; the pending ones are erased, keys included, as the
 * live system would have done by then. Then a replay into a scratch database beside it,
 * as its own group with a pending TTL of 5 s: not one live key goes, and every consented
 * dialog is rebuilt there too. Both replays go two records a batch, so that sweeps run
 * while they are under way (a sweep judged by the clock would erase dialogs whose consent
 * is still ahead). */
static void a_rebuild_and_a_scratch_replay_of_old_data_keep_every_consented_dialog(void **state)
{
	struct mini m;
	json_t *want[DIALOGS] = { 0 };
	mini_init(&m, "rebuild");
	start_ingress(&m);
	m.ingestd_pid = spawn_ingestd(&m, "replays-ingestd", m.group, m.db, NULL, m.admin);
	fill(&m);
	for (int i = 0; i < CONSENTED; i++) {
		char d[32];
		dialog_id(d, sizeof(d), i);
		assert_non_null(want[i] = doc_json(m.db, d));
	}
	assert_int_equal(keys_of(&m), DIALOGS);

	/* 1. stop every ingestd of the group (four days pass: no key used since); drop the
	 * database; replay from earliest */
	stop(m.ingestd_pid);
	keys_quiet_for(&m, 4);
	mongo_drop_db(&S, m.db);
	setenv("DAPI_TEST_CLOCK_AHEAD", "96h", 1);
	m.ingestd_pid = spawn_ingestd(
	        &m, "replays-rebuild", m.group, m.db,
	        (const char *[]){ "--replay-from", "earliest", "--batch-size", "2", NULL },
	        m.admin);
	unsetenv("DAPI_TEST_CLOCK_AHEAD");
	assert_true(kafka_wait_group_drained(&S, m.topic, m.group, WAIT_MS));
	wait_sweeps(m.admin, sweeps(m.admin), 2);
	int rebuilt = same_consented(m.db, want);
	int64_t keys = keys_of(&m);
	printf("rebuild: %d dialogs (%d consented); consented rebuilt exactly %d; keys %d -> "
	       "%lld\n",
	       DIALOGS, CONSENTED, rebuilt, DIALOGS, (long long)keys);
	assert_int_equal(rebuilt, CONSENTED);
	assert_int_equal(keys, CONSENTED);
	/* the pending dialogs' keys, never consented and quiet for four days, were deleted by
	 * this ingestd's sweeper (their messages then shredded, as a live system's would be);
	 * the consented ones, kept whatever the rebuilding store showed meanwhile */
	assert_true(metric_value(m.admin, "dataapi_data_keys_deleted_total{by=\"sweep\"}") ==
	            DIALOGS - CONSENTED);
	for (int i = 0; i < DIALOGS; i++) {
		char d[32];
		dialog_id(d, sizeof(d), i);
		assert_int_equal(has_key(&m, d), i < CONSENTED);
	}

	/* 2. a scratch replay beside the live system: its own group and database */
	char scratch_db[200], scratch_group[200], scratch_admin[128];
	snprintf(scratch_db, sizeof(scratch_db), "%s_scratch", m.db);
	snprintf(scratch_group, sizeof(scratch_group), "%s-scratch", m.group);
	setenv("DAPI_TEST_CLOCK_AHEAD", "96h", 1);
	pid_t scratch =
	        spawn_ingestd(&m, "replays-scratch", scratch_group, scratch_db,
	                      (const char *[]){ "--replay-from", "earliest", "--pending-ttl", "5s",
	                                        "--batch-size", "2", NULL },
	                      scratch_admin);
	unsetenv("DAPI_TEST_CLOCK_AHEAD");
	assert_true(kafka_wait_group_drained(&S, m.topic, scratch_group, WAIT_MS));
	wait_sweeps(scratch_admin, sweeps(scratch_admin), 2);
	/* it never held the key sweep: the live group claimed it first */
	assert_true(metric_value(scratch_admin, "dataapi_sweeper_keys_owner") == -1);
	int scratch_same = same_consented(scratch_db, want);
	keys = keys_of(&m);
	printf("scratch replay: consented rebuilt exactly %d of %d; live keys %d -> %lld\n",
	       scratch_same, CONSENTED, CONSENTED, (long long)keys);
	assert_int_equal(keys, CONSENTED);
	assert_int_equal(scratch_same, CONSENTED);
	assert_int_equal(same_consented(m.db, want), CONSENTED); /* the live store untouched */
	stop(scratch);

	for (int i = 0; i < CONSENTED; i++)
		json_decref(want[i]);
	mongo_drop_db(&S, scratch_db);
	mini_down(&m);
}

/* n one-message dialogs "f0000".. through POST /batch, 1,000 lines a request. */
#define FILLERS 2000
static void post_fillers(const struct mini *m, int n)
{
	char url[512], auth[200];
	snprintf(url, sizeof(url), "%s/batch", m->ingress);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", S.writer_token);
	const char *headers[] = { auth, "Content-Type: application/x-ndjson", NULL };
	char *body = malloc(1000 * 100);
	for (int sent = 0; sent < n;) {
		size_t len = 0;
		for (int l = 0; l < 1000 && sent < n; l++, sent++)
			len += (size_t)snprintf(body + len, 100,
			                        "{\"customerId\":\"c9\",\"dialogId\":\"f%04d\","
			                        "\"text\":\"filler\",\"language\":\"EN\"}\n",
			                        sent);
		struct http_res res;
		assert_int_equal(http_do("POST", url, body, len, headers, &res), 0);
		assert_int_equal(res.status, 200);
		assert_non_null(strstr(res.body, "\"failed\":0"));
		assert_non_null(strstr(res.body, "\"rejected\":0"));
		http_res_free(&res);
	}
	free(body);
}

/* A replay as a group of its own into a scratch database, nothing edited, only its
 * sweeper's clock four days ahead: every dialog is replayed, one record a batch, with a
 * sweep every 100 ms and 2,000 records between the messages and their consents; the ones
 * never consented wait in the scratch store while the replay runs (its frontier is the
 * records' time) and are erased once it has caught up, exactly those; the keys all stay
 * (the live group holds the key sweep, and its own clock says nothing has expired). */
static void a_replay_erases_what_expired_only_once_caught_up(void **state)
{
	struct mini m;
	json_t *want[30] = { 0 };
	char db[200], group[200], admin[128];
	mini_init(&m, "caughtup");
	start_ingress(&m);
	m.ingestd_pid = spawn_ingestd(&m, "replays-ingestd", m.group, m.db, NULL, m.admin);
	for (int i = 0; i < 30; i++) {
		char d[32];
		dialog_id(d, sizeof(d), i);
		message(&m, "c1", d, "words");
	}
	/* between the messages and their consents, records that take the replay seconds */
	post_fillers(&m, FILLERS);
	for (int i = 0; i < 20; i++) {
		char d[32];
		dialog_id(d, sizeof(d), i);
		consent(&m, d, true);
	}
	assert_true(kafka_wait_group_drained(&S, m.topic, m.group, WAIT_MS));
	for (int i = 0; i < 20; i++) {
		char d[32];
		dialog_id(d, sizeof(d), i);
		assert_non_null(want[i] = doc_json(m.db, d));
	}
	snprintf(db, sizeof(db), "%s_scratch", m.db);
	snprintf(group, sizeof(group), "%s-scratch", m.group);
	setenv("DAPI_TEST_CLOCK_AHEAD", "96h", 1);
	pid_t pid = spawn_ingestd(&m, "replays-caughtup", group, db,
	                          (const char *[]){ "--replay-from", "earliest", "--batch-size",
	                                            "1", "--sweep-interval", "100ms", NULL },
	                          admin);
	unsetenv("DAPI_TEST_CLOCK_AHEAD");
	assert_true(kafka_wait_group_drained(&S, m.topic, group, WAIT_MS));
	wait_sweeps(admin, sweeps(admin), 2);
	int same = 0;
	for (int i = 0; i < 30; i++) {
		char d[32];
		dialog_id(d, sizeof(d), i);
		json_t *got = doc_json(db, d);
		same += i < 20 && got && json_equal(got, want[i]);
		assert_true(i < 20 || !got);
		json_decref(got);
		json_decref(i < 20 ? want[i] : NULL);
	}
	double erased = metric_value(admin, "dataapi_sweeper_deleted_total{kind=\"pending\"}");
	printf("caught up: %d of 20 consented rebuilt exactly; %.0f pending erased after the "
	       "replay (10 + %d fillers); keys %d -> %lld\n",
	       same, erased, FILLERS, 30 + FILLERS, (long long)keys_of(&m));
	assert_int_equal(same, 20);
	assert_true(erased == 10 + FILLERS);
	assert_int_equal(keys_of(&m), 30 + FILLERS);
	stop(pid);
	mongo_drop_db(&S, db);
	mini_down(&m);
}

/* A dialogId used again after its tombstone expired (a tombstone TTL of 3 s): the live
 * store holds the consented second incarnation; a replay over the live store and one into
 * an empty database both leave it, and its key, as they were. */
static void a_dialog_id_used_again_after_its_tombstone_survives_replays(void **state)
{
	struct mini m;
	const char *ttl[] = { "--tombstone-ttl", "3s", NULL };
	const char *replay[] = { "--tombstone-ttl", "3s", "--replay-from", "earliest", NULL };
	mini_init(&m, "reuse");
	start_ingress(&m);
	m.ingestd_pid = spawn_ingestd(&m, "replays-ingestd", m.group, m.db, ttl, m.admin);

	message(&m, "c1", "again", "the first incarnation");
	consent(&m, "again", true);
	consent(&m, "again", false);
	assert_true(kafka_wait_group_drained(&S, m.topic, m.group, WAIT_MS));
	assert_false(has_key(&m, "again"));
	sleep_ms(4000); /* past the tombstone's TTL */
	message(&m, "c2", "again", "the second incarnation");
	consent(&m, "again", true);
	assert_true(kafka_wait_group_drained(&S, m.topic, m.group, WAIT_MS));
	json_t *want = doc_json(m.db, "again");
	assert_non_null(want);
	char *text = json_dumps(want, 0);
	assert_non_null(strstr(text, "the second incarnation"));
	assert_null(strstr(text, "the first incarnation"));
	assert_true(json_is_true(json_object_get(want, "consent")));
	free(text);
	assert_true(has_key(&m, "again"));

	/* over the live store */
	stop(m.ingestd_pid);
	m.ingestd_pid = spawn_ingestd(&m, "replays-over", m.group, m.db, replay, m.admin);
	assert_true(kafka_wait_group_drained(&S, m.topic, m.group, WAIT_MS));
	json_t *got = doc_json(m.db, "again");
	assert_true(got && json_equal(got, want));
	json_decref(got);
	assert_true(has_key(&m, "again"));

	/* into an empty database */
	scratch_rebuilds(&m, replay, "again", want);
	assert_true(has_key(&m, "again"));
	printf("reuse: second incarnation kept over the live store and in an empty one; key "
	       "kept\n");
	json_decref(want);
	mini_down(&m);
}

/* A revocation the store refuses (the document's appliedThrough edited by hand) goes to
 * the DLQ and the dialog stays as it was: so does its key. Then a pending dialog that
 * expired (a pending TTL of 3 s) and was written to again: live and in a rebuild, only the
 * new message is there. */
static void a_refused_revocation_keeps_its_key_and_an_expired_dialog_stays_erased(void **state)
{
	struct mini m;
	const char *ttl[] = { "--pending-ttl", "3s", NULL };
	const char *replay[] = { "--pending-ttl", "3s", "--replay-from", "earliest", NULL };
	mini_init(&m, "refused");
	start_ingress(&m);
	m.ingestd_pid = spawn_ingestd(&m, "replays-ingestd", m.group, m.db, ttl, m.admin);

	message(&m, "c1", "edited", "kept words");
	consent(&m, "edited", true);
	assert_true(kafka_wait_group_drained(&S, m.topic, m.group, WAIT_MS));
	mongoc_client_t *client;
	mongoc_collection_t *c = coll_of(&client, m.db, "dialogs");
	bson_t *filter = BCON_NEW("_id", BCON_UTF8("edited"));
	bson_t *update = BCON_NEW("$set", "{", "appliedThrough", BCON_UTF8("by hand"), "}");
	assert_true(mongoc_collection_update_one(c, filter, update, NULL, NULL, NULL));
	bson_destroy(update);
	bson_destroy(filter);
	mongoc_collection_destroy(c);
	mongoc_client_destroy(client);
	/* ingestd may hold the document as it wrote it: a restart forgets that */
	stop(m.ingestd_pid);
	m.ingestd_pid = spawn_ingestd(&m, "replays-ingestd", m.group, m.db, ttl, m.admin);
	double dlq_before = metric_value(m.admin, "dataapi_dlq_total{reason=\"store_untrusted\"}");
	consent(&m, "edited", false);
	assert_true(kafka_wait_group_drained(&S, m.topic, m.group, WAIT_MS));
	assert_true(metric_value(m.admin, "dataapi_dlq_total{reason=\"store_untrusted\"}") >
	            (isnan(dlq_before) ? 0 : dlq_before));
	json_t *doc = doc_json(m.db, "edited");
	assert_non_null(doc);
	assert_true(json_is_true(json_object_get(doc, "consent")));
	json_decref(doc);
	assert_true(has_key(&m, "edited"));

	message(&m, "c1", "lapsed", "words erased by the pending TTL");
	assert_true(kafka_wait_group_drained(&S, m.topic, m.group, WAIT_MS));
	sleep_ms(4000);
	message(&m, "c1", "lapsed", "words of a new start");
	consent(&m, "lapsed", true);
	assert_true(kafka_wait_group_drained(&S, m.topic, m.group, WAIT_MS));
	json_t *want = doc_json(m.db, "lapsed");
	assert_non_null(want);
	char *text = json_dumps(want, 0);
	assert_null(strstr(text, "erased by the pending TTL"));
	assert_non_null(strstr(text, "words of a new start"));
	free(text);
	scratch_rebuilds(&m, replay, "lapsed", want);
	json_decref(want);
	mini_down(&m);
}

/* The stored text of db's dialog (a JSON dump the caller frees; NULL when absent). */
static char *dialog_text(const char *db, const char *id)
{
	json_t *doc = doc_json(db, id);
	char *text = doc ? json_dumps(doc, 0) : NULL;
	json_decref(doc);
	return text;
}

/* A pending dialog that lapsed (a pending TTL of 3 s) and is written to again by an
 * ingress whose clock is 15 minutes on: more than the TTL, the key cache's 10 minutes and
 * the minute of skew after its key was last used, so the key is replaced, and the erased
 * message's copy in the topic no longer opens (a replay counts it shredded). Written to
 * again 5 minutes on instead, the key may still serve a message sealed with it minutes ago
 * and is kept. */
static void a_lapsed_dialog_gets_a_new_key(void **state)
{
	struct mini m, later;
	char url[128];
	const char *ttl[] = { "--pending-ttl", "3s", NULL };
	const char *replay[] = { "--pending-ttl", "3s", "--replay-from", "earliest", NULL };
	mini_init(&m, "lapse");
	/* the owner publishes its pending TTL before the ingress first reads it */
	m.ingestd_pid = spawn_ingestd(&m, "replays-ingestd", m.group, m.db, ttl, m.admin);
	for (int i = 0; i < 300 && metric_value(m.admin, "dataapi_sweeper_keys_owner") != 1; i++)
		sleep_ms(100);
	assert_true(metric_value(m.admin, "dataapi_sweeper_keys_owner") == 1);
	start_ingress(&m);
	message(&m, "c1", "lapse", "words erased by the pending TTL");
	message(&m, "c1", "kept", "words sealed minutes ago");
	assert_true(kafka_wait_group_drained(&S, m.topic, m.group, WAIT_MS));
	int64_t first = key_created(&m, "lapse"), kept = key_created(&m, "kept");
	assert_true(first > 0 && kept > 0);

	later = m;
	pid_t pid = spawn_ingress(&m, "15m", url);
	snprintf(later.ingress, sizeof(later.ingress), "%s", url);
	message(&later, "c1", "lapse", "words of a new start");
	consent(&later, "lapse", true);
	stop(pid);
	pid = spawn_ingress(&m, "5m", url);
	snprintf(later.ingress, sizeof(later.ingress), "%s", url);
	message(&later, "c1", "kept", "words five minutes on");
	consent(&later, "kept", true);
	double replaced = metric_value(url, "dataapi_keys_replaced_total");
	stop(pid);
	assert_true(kafka_wait_group_drained(&S, m.topic, m.group, WAIT_MS));

	int64_t second = key_created(&m, "lapse");
	printf("lapse: key createdAt %+lld ms after the lapse; kept key %+lld ms; %.0f replaced "
	       "by the 5-minute ingress\n",
	       (long long)(second - first), (long long)(key_created(&m, "kept") - kept), replaced);
	assert_true(second >= first + 15 * 60 * 1000 - 60 * 1000);
	assert_int_equal(key_created(&m, "kept"), kept);
	assert_true(replaced == 0);
	char *text = dialog_text(m.db, "lapse");
	assert_non_null(text);
	assert_null(strstr(text, "erased by the pending TTL"));
	assert_non_null(strstr(text, "words of a new start"));
	free(text);

	json_t *want = doc_json(m.db, "lapse");
	double shredded = scratch_rebuilds(&m, replay, "lapse", want);
	printf("lapse: rebuilt the same; %.0f event(s) shredded in the replay\n", shredded);
	assert_true(shredded == 1); /* the erased message, no longer readable anywhere */
	json_decref(want);
	want = doc_json(m.db, "kept");
	assert_non_null(want);
	scratch_rebuilds(&m, replay, "kept", want);
	json_decref(want);
	mini_down(&m);
}

/* 1,100 messages of 16,000 bytes and a consent, consumed in batches that put the last
 * messages and the consent together: the messages past the document's bound are
 * dead-lettered one by one, the consent applies. */
static void an_oversized_message_fails_alone(void **state)
{
	struct mini m;
	char url[512], auth[200];
	mini_init(&m, "large");
	start_ingress(&m);
	snprintf(url, sizeof(url), "%s/batch", m.ingress);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", S.writer_token);
	const char *headers[] = { auth, "Content-Type: application/x-ndjson", NULL };
	size_t text_len = 16000, line_cap = text_len + 200, lines = 60;
	char *body = malloc(lines * line_cap), *text = malloc(text_len + 1);
	memset(text, 'w', text_len);
	text[text_len] = '\0';
	for (int sent = 0; sent < 1100;) {
		size_t len = 0;
		for (size_t l = 0; l < lines && sent < 1100; l++, sent++)
			len += (size_t)snprintf(
			        body + len, line_cap,
			        "{\"customerId\":\"c1\",\"dialogId\":\"big\",\"text\":"
			        "\"%s\",\"language\":\"EN\"}\n",
			        text);
		struct http_res res;
		assert_int_equal(http_do("POST", url, body, len, headers, &res), 0);
		assert_int_equal(res.status, 200);
		assert_null(strstr(res.body, "\"failed\":1"));
		http_res_free(&res);
	}
	consent(&m, "big", true);
	free(body);
	free(text);
	m.ingestd_pid = spawn_ingestd(&m, "replays-ingestd", m.group, m.db, NULL, m.admin);
	assert_true(kafka_wait_group_drained(&S, m.topic, m.group, 300000));
	json_t *doc = doc_json(m.db, "big");
	assert_non_null(doc);
	size_t stored = json_array_size(json_object_get(doc, "messages"));
	double dead = metric_value(m.admin, "dataapi_dlq_total{reason=\"dialog_too_large\"}");
	printf("oversized: %zu messages stored, %.0f dead-lettered alone, consent %s\n", stored,
	       dead, json_is_true(json_object_get(doc, "consent")) ? "applied" : "lost");
	assert_true(json_is_true(json_object_get(doc, "consent")));
	assert_true(stored > 900 && stored < 1100);
	assert_true(dead == (double)(1100 - stored));
	json_decref(doc);
	mini_down(&m);
}

/* --retention 1h, the sweeper's clock two hours ahead (its frontier with it): the consented
 * dialogs and their keys are erased, a pending one and its key stay (the pending TTL is not
 * the retention); the same ingestd on the machine's clock erased nothing. */
static void retention_erases_consented_dialogs_and_their_keys(void **state)
{
	struct mini m;
	const char *retain[] = { "--retention", "1h", NULL };
	mini_init(&m, "retention");
	start_ingress(&m);
	m.ingestd_pid = spawn_ingestd(&m, "replays-ingestd", m.group, m.db, retain, m.admin);
	message(&m, "c1", "old1", "words kept for an hour");
	consent(&m, "old1", true);
	message(&m, "c1", "old2", "more words kept for an hour");
	consent(&m, "old2", true);
	message(&m, "c1", "waiting", "words of a pending dialog");
	assert_true(kafka_wait_group_drained(&S, m.topic, m.group, WAIT_MS));
	for (int i = 0;
	     i < 30 && metric_or_zero(m.admin, "dataapi_sweeper_runs_total{result=\"ok\"}") < 3;
	     i++)
		sleep_ms(200);
	json_t *kept = doc_json(m.db, "old1"); /* within the retention: kept */
	assert_non_null(kept);
	json_decref(kept);
	assert_true(has_key(&m, "old1"));
	stop(m.ingestd_pid);

	setenv("DAPI_TEST_CLOCK_AHEAD", "2h", 1);
	m.ingestd_pid = spawn_ingestd(&m, "replays-retention", m.group, m.db, retain, m.admin);
	unsetenv("DAPI_TEST_CLOCK_AHEAD");
	const char *series = "dataapi_data_keys_deleted_total{by=\"retention\"}";
	for (int i = 0; i < 300 && metric_or_zero(m.admin, series) < 2; i++)
		sleep_ms(100);
	double keys = metric_or_zero(m.admin, series);
	double dialogs =
	        metric_or_zero(m.admin, "dataapi_sweeper_deleted_total{kind=\"retention\"}");
	printf("retention: %.0f dialogs and %.0f keys erased two hours on\n", dialogs, keys);
	assert_true(keys == 2 && dialogs == 2);
	assert_null(doc_json(m.db, "old1"));
	assert_null(doc_json(m.db, "old2"));
	assert_false(has_key(&m, "old1") || has_key(&m, "old2"));
	json_t *pending = doc_json(m.db, "waiting");
	assert_non_null(pending);
	json_decref(pending);
	assert_true(has_key(&m, "waiting"));
	mini_down(&m);
}

/* POST /privacy/erasures on m's ingress: the erasureId into id. */
static void request_erasure(const struct mini *m, const char *customer, char id[64])
{
	char url[256], auth[200], body[200];
	snprintf(url, sizeof(url), "%s/privacy/erasures", m->ingress);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", S.privacy_token);
	snprintf(body, sizeof(body), "{\"customerId\":\"%s\"}", customer);
	const char *headers[] = { auth, "Content-Type: application/json", NULL };
	struct http_res res;
	assert_int_equal(http_do("POST", url, body, strlen(body), headers, &res), 0);
	assert_int_equal(res.status, 202);
	json_t *j = http_json(&res);
	snprintf(id, 64, "%s", json_string_value(json_object_get(j, "erasureId")));
	json_decref(j);
	http_res_free(&res);
}

/* The erasure request's status in m's key store. */
static const char *erasure_status(const struct mini *m, const char *id, char out[32])
{
	bson_t *doc = mongo_find_in(&S, m->keys, "privacy_erasures", id);
	bson_iter_t it;
	snprintf(out, 32, "%s",
	         doc && bson_iter_init_find(&it, doc, "status") && BSON_ITER_HOLDS_UTF8(&it)
	                 ? bson_iter_utf8(&it, NULL)
	                 : "");
	bson_destroy(doc);
	return out;
}

/* A person's erasure requested while the store is rebuilt from earliest into an empty
 * database: it completes once the replay has reached its revocations, the rebuilt store
 * holds the person's dialogs as tombstones and the other customer's as before, and a
 * second rebuild, after the erasure, brings none of the person's data back. */
static void an_erasure_during_a_rebuild_stays_erased(void **state)
{
	struct mini m;
	char id[64], status[32], d[32];
	mini_init(&m, "erasure");
	start_ingress(&m);
	m.ingestd_pid = spawn_ingestd(&m, "replays-ingestd", m.group, m.db, NULL, m.admin);
	for (int i = 0; i < 20; i++) {
		snprintf(d, sizeof(d), "p%02d", i);
		message(&m, i < 10 ? "person" : "other", d, "words of a dialog");
		if (i % 2 == 0) /* the odd ones stay pending */
			consent(&m, d, true);
	}
	assert_true(kafka_wait_group_drained(&S, m.topic, m.group, WAIT_MS));
	json_t *kept = doc_json(m.db, "p10");
	assert_non_null(kept);
	stop(m.ingestd_pid);
	mongo_drop_db(&S, m.db);
	request_erasure(&m, "person", id);
	m.ingestd_pid = spawn_ingestd(
	        &m, "replays-rebuild", m.group, m.db,
	        (const char *[]){ "--replay-from", "earliest", "--batch-size", "2", NULL },
	        m.admin);
	for (int i = 0; i < 1200 && strcmp(erasure_status(&m, id, status), "completed"); i++)
		sleep_ms(100);
	assert_string_equal(erasure_status(&m, id, status), "completed");
	assert_true(kafka_wait_group_drained(&S, m.topic, m.group, WAIT_MS));
	for (int i = 0; i < 20; i++) {
		snprintf(d, sizeof(d), "p%02d", i);
		json_t *doc = doc_json(m.db, d);
		assert_non_null(doc);
		if (i < 10 ? !json_is_true(json_object_get(doc, "revoked"))
		           : json_object_get(doc, "revoked") != NULL) {
			char *text = json_dumps(doc, 0);
			fail_msg("%s after the erasure: %s", d, text);
		}
		assert_true(i < 10 ? json_is_true(json_object_get(doc, "revoked"))
		                   : json_object_get(doc, "revoked") == NULL);
		assert_true(i < 10 ? !has_key(&m, d) : has_key(&m, d));
		json_decref(doc);
	}
	json_t *got = doc_json(m.db, "p10");
	assert_true(json_equal(got, kept));
	json_decref(got);
	/* a second rebuild, after the erasure: the person stays erased, the other kept */
	stop(m.ingestd_pid);
	mongo_drop_db(&S, m.db);
	m.ingestd_pid =
	        spawn_ingestd(&m, "replays-rebuild", m.group, m.db,
	                      (const char *[]){ "--replay-from", "earliest", NULL }, m.admin);
	assert_true(kafka_wait_group_drained(&S, m.topic, m.group, WAIT_MS));
	double shredded = metric_or_zero(m.admin, "dataapi_events_shredded_total");
	printf("erasure during a rebuild: completed; the second rebuild shredded %.0f events\n",
	       shredded);
	assert_true(shredded == 10); /* the person's ten messages, unreadable */
	for (int i = 0; i < 10; i++) {
		snprintf(d, sizeof(d), "p%02d", i);
		json_t *doc = doc_json(m.db, d);
		assert_true(doc && json_is_true(json_object_get(doc, "revoked")));
		json_decref(doc);
	}
	got = doc_json(m.db, "p10");
	assert_true(json_equal(got, kept));
	json_decref(got);
	json_decref(kept);
	mini_down(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		        a_rebuild_and_a_scratch_replay_of_old_data_keep_every_consented_dialog),
		cmocka_unit_test(a_replay_erases_what_expired_only_once_caught_up),
		cmocka_unit_test(a_dialog_id_used_again_after_its_tombstone_survives_replays),
		cmocka_unit_test(
		        a_refused_revocation_keeps_its_key_and_an_expired_dialog_stays_erased),
		cmocka_unit_test(a_lapsed_dialog_gets_a_new_key),
		cmocka_unit_test(an_oversized_message_fails_alone),
		cmocka_unit_test(retention_erases_consented_dialogs_and_their_keys),
		cmocka_unit_test(an_erasure_during_a_rebuild_stays_erased),
	};
	return harness_run_tests(tests, setup, NULL);
}
