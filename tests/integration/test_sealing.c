/* Integration: sealed events (crypto-shredding) on the real broker and database. Message
 * text never reaches the broker's log in clear (and does with --no-seal, so the search can
 * fail); a revocation deletes the dialog's data key; a replay from earliest into an empty
 * database rebuilds the consented dialogs exactly and counts the erased one's events as
 * shredded; a tampered sealed record goes to the DLQ. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <mongoc/mongoc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static struct stack S;

static int setup(void **state)
{
	stack_ready(&S);
	return 0;
}

/* Whether any file under the broker's log directory holds marker (grep -r over every byte). */
static bool broker_log_holds(const char *marker)
{
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "grep -rqaF -e '%s' '%s/kafka/data'", marker, S.state_dir);
	return system(cmd) == 0;
}

/* POST /data with the stack's writer token (explicitly: base may be another ingress). */
static void post_message(const char *base, const char *customer, const char *dialog,
                         const char *text)
{
	char url[512], body[512], auth[256];
	struct http_res r;
	snprintf(url, sizeof(url), "%s/data/%s/%s", base, customer, dialog);
	snprintf(body, sizeof(body), "{\"text\":\"%s\",\"language\":\"EN\"}", text);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", S.writer_token);
	http_do("POST", url, body, strlen(body),
	        (const char *[]){ "Content-Type: application/json", auth, NULL }, &r);
	assert_int_equal(r.status, 202);
	http_res_free(&r);
}

static void consent(const char *dialog, const char *granted)
{
	char url[512];
	snprintf(url, sizeof(url), "%s/consents/%s", S.ingress, dialog);
	assert_int_equal(http_post_json(url, granted, NULL, NULL), 202);
}

static bson_t *key_of(const char *dialog)
{
	return mongo_find_in(&S, "dataapi_keys", "dialog_keys", dialog);
}

/* An ingress of the test's own on a free port (extra: one more argument or NULL). */
static pid_t spawn_ingress(const char *log_name, const char *extra, char base[128])
{
	char port[16], tokens[600], url[256];
	snprintf(port, sizeof(port), "%d", free_port());
	snprintf(tokens, sizeof(tokens), "%s/tokens", S.state_dir);
	snprintf(base, 128, "http://127.0.0.1:%s", port);
	pid_t pid =
	        spawn_program(&S, "ingest/dataapi-ingress", log_name,
	                      (char *[]){ "--port", port, "--kafka-brokers", S.brokers, "--topic",
	                                  S.topic, "--tokens-file", tokens, (char *)extra, NULL });
	snprintf(url, sizeof(url), "%s/readyz", base);
	assert_int_equal(http_wait_status(url, 200, 30000), 200);
	return pid;
}

static void message_text_never_reaches_the_broker_in_clear(void **state)
{
	char sealed[128], clear[128], d[128], base[128];
	snprintf(sealed, sizeof(sealed), "sealmark-%s-x7", run_id());
	snprintf(clear, sizeof(clear), "clearmark-%s-x7", run_id());
	snprintf(d, sizeof(d), "%s-seal", run_id());

	for (int i = 0; i < 5; i++)
		post_message(S.ingress, "cust-seal", d, sealed);
	consent(d, "true");
	assert_true(kafka_wait_drained(&S, 30000));
	/* applied: the store holds the text, the topic does not */
	bson_t *doc = mongo_find(&S, d);
	assert_non_null(doc);
	char *json = bson_as_relaxed_extended_json(doc, NULL);
	assert_non_null(strstr(json, sealed));
	bson_free(json);
	bson_destroy(doc);
	assert_false(broker_log_holds(sealed));
	assert_false(broker_log_holds("cust-seal"));
	bson_t *key = key_of(d);
	assert_non_null(key);
	bson_destroy(key);

	/* The same search finds text published without sealing. */
	pid_t pid = spawn_ingress("unsealed-ingress", "--no-seal", base);
	snprintf(d, sizeof(d), "%s-clear", run_id());
	post_message(base, "cust-clear", d, clear);
	assert_true(broker_log_holds(clear));
	kill(pid, SIGTERM);
	assert_int_equal(wait_exit(pid, 20000), 0);
	assert_true(kafka_wait_drained(&S, 30000));
}

/* The stored document as canonical JSON (object member order does not matter). */
static json_t *as_json(const bson_t *doc)
{
	char *text = bson_as_canonical_extended_json(doc, NULL);
	json_t *j = json_loads(text, 0, NULL);
	bson_free(text);
	assert_non_null(j);
	return j;
}

/* A metric of an admin server, or -1. */
static double admin_metric(const char *base, const char *series)
{
	char url[256];
	struct http_res r;
	double v = -1;
	snprintf(url, sizeof(url), "%s/metrics", base);
	if (http_get(url, &r) == 200 && r.body) {
		size_t n = strlen(series);
		for (const char *p = r.body; (p = strstr(p, series)); p += n)
			if ((p == r.body || p[-1] == '\n') && p[n] == ' ')
				v = strtod(p + n + 1, NULL);
	}
	http_res_free(&r);
	return v;
}

static void erasure_deletes_the_key_and_a_replay_shreds_the_dialog(void **state)
{
	char kept[128], erased[128], db[128], port[16], group[160], admin[128];
	snprintf(kept, sizeof(kept), "%s-kept", run_id());
	snprintf(erased, sizeof(erased), "%s-erased", run_id());

	post_message(S.ingress, "cust-e", erased, "to be erased");
	post_message(S.ingress, "cust-e", erased, "erased too");
	consent(erased, "true");
	post_message(S.ingress, "cust-k", kept, "to be kept");
	post_message(S.ingress, "cust-k", kept, "kept too");
	consent(kept, "true");
	assert_true(kafka_wait_drained(&S, 30000));
	bson_t *key = key_of(erased);
	assert_non_null(key);
	bson_destroy(key);

	consent(erased, "false");
	assert_true(kafka_wait_drained(&S, 30000));
	/* the key goes with the batch that wrote the tombstone, before its offsets commit */
	key = key_of(erased);
	assert_null(key);
	key = key_of(kept);
	assert_non_null(key);
	bson_destroy(key);

	/* Replay the whole topic into an empty database, as a group of its own. */
	snprintf(db, sizeof(db), "replay_%ld", (long)getpid());
	snprintf(port, sizeof(port), "%d", free_port());
	snprintf(group, sizeof(group), "%s-replay", run_id());
	snprintf(admin, sizeof(admin), "http://127.0.0.1:%s", port);
	pid_t pid = spawn_program(&S, "ingest/dataapi-ingestd", "replay-ingestd",
	                          (char *[]){ "--kafka-brokers", S.brokers, "--topic", S.topic,
	                                      "--mongodb-uri", S.mongodb_uri, "--database", db,
	                                      "--group", group, "--replay-from", "earliest",
	                                      "--admin-port", port, NULL });
	bson_t *orig = mongo_find(&S, kept), *copy = NULL;
	assert_non_null(orig);
	json_t *want = as_json(orig);
	bool same = false;
	for (int i = 0; i < 240 && !same; i++) {
		sleep_ms(250);
		if (copy)
			bson_destroy(copy);
		copy = mongo_find_in(&S, db, "dialogs", kept);
		if (copy) {
			json_t *got = as_json(copy);
			same = json_equal(want, got);
			json_decref(got);
		}
	}
	assert_true(same); /* rebuilt exactly */
	/* the erased dialog: its messages could not be opened; only a tombstone came back */
	bson_t *gone = mongo_find_in(&S, db, "dialogs", erased);
	if (gone) {
		char *text = bson_as_relaxed_extended_json(gone, NULL);
		assert_null(strstr(text, "to be erased"));
		assert_null(strstr(text, "erased too"));
		assert_null(strstr(text, "cust-e"));
		assert_non_null(strstr(text, "\"revoked\" : true"));
		bson_free(text);
		bson_destroy(gone);
	}
	assert_true(admin_metric(admin, "dataapi_events_shredded_total") >= 2);
	kill(pid, SIGTERM);
	assert_int_equal(wait_exit(pid, 30000), 0);
	json_decref(want);
	bson_destroy(orig);
	bson_destroy(copy);
	mongoc_client_t *client = mongoc_client_new(S.mongodb_uri);
	mongoc_database_t *rdb = mongoc_client_get_database(client, db);
	mongoc_database_drop(rdb, NULL);
	mongoc_database_destroy(rdb);
	mongoc_client_destroy(client);
}

/* A sealed record whose box was altered is dead-lettered as seal_invalid, never applied. */
static void a_tampered_sealed_record_goes_to_the_dlq(void **state)
{
	char d[128], ev[1024], reason[64];
	snprintf(d, sizeof(d), "%s-tamper", run_id());
	post_message(S.ingress, "cust-t", d, "genuine"); /* the dialog has a key */
	snprintf(ev, sizeof(ev),
	         "{\"v\":2,\"type\":\"message\",\"eventId\":\"%s-forged\",\"dialogId\":\"%s\","
	         "\"receivedAt\":\"2026-11-30T10:00:00Z\",\"sealed\":"
	         "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
	         d, d);
	assert_int_equal(kafka_produce(&S, S.topic, d, ev, strlen(ev)), 0);
	assert_true(kafka_find_dlq(&S, d, reason, sizeof(reason), 30000));
	assert_string_equal(reason, "seal_invalid");
	assert_true(kafka_wait_drained(&S, 30000));
	bson_t *doc = mongo_find(&S, d);
	assert_non_null(doc);
	char *text = bson_as_relaxed_extended_json(doc, NULL);
	assert_non_null(strstr(text, "genuine"));
	assert_null(strstr(text, "forged"));
	bson_free(text);
	bson_destroy(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(message_text_never_reaches_the_broker_in_clear),
		cmocka_unit_test(erasure_deletes_the_key_and_a_replay_shreds_the_dialog),
		cmocka_unit_test(a_tampered_sealed_record_goes_to_the_dlq),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests(tests, setup, NULL);
	curl_global_cleanup();
	return rc;
}
