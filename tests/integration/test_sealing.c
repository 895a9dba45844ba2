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
#include "relay.h"

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
	assert_true(metric_value(admin, "dataapi_events_shredded_total") >= 2);
	kill(pid, SIGTERM);
	assert_int_equal(wait_exit(pid, 30000), 0);
	json_decref(want);
	bson_destroy(orig);
	bson_destroy(copy);
	mongo_drop_db(&S, db);
}

/* A sealed record whose box was altered is dead-lettered as seal_invalid, never applied. */
static void a_tampered_sealed_record_goes_to_the_dlq(void **state)
{
	char d[128], ev[1024], reason[64], now[32];
	snprintf(d, sizeof(d), "%s-tamper", run_id());
	post_message(S.ingress, "cust-t", d, "genuine"); /* the dialog has a key */
	/* received after the key was made: had it been received long before, the key would be
	 * a later incarnation's and the event merely shredded (its own key gone) */
	snprintf(ev, sizeof(ev),
	         "{\"v\":2,\"type\":\"message\",\"eventId\":\"%s-forged\",\"dialogId\":\"%s\","
	         "\"receivedAt\":\"%s\",\"sealed\":"
	         "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
	         d, d, time_now_text(now));
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

/* kill -9 of ingestd after it wrote a tombstone and before it deleted the dialog's key
 * (a failpoint): the batch's offsets were not stored, so the restarted ingestd consumes the
 * revocation again and deletes the key then. */
static void a_crash_between_tombstone_and_key_is_repaired(void **state)
{
	char d[128], port[16];
	snprintf(d, sizeof(d), "%s-crash", run_id());
	snprintf(port, sizeof(port), "%d", free_port());
	post_message(S.ingress, "cust-c", d, "crash text");
	consent(d, "true");
	assert_true(kafka_wait_drained(&S, 30000));

	assert_int_equal(stack_ctl(&S, "stop", "ingestd"), 0);
	setenv("DAPI_FAILPOINT", "after_tombstone_write", 1);
	pid_t pid = spawn_program(&S, "ingest/dataapi-ingestd", "failpoint-ingestd",
	                          (char *[]){ "--kafka-brokers", S.brokers, "--topic", S.topic,
	                                      "--mongodb-uri", S.mongodb_uri, "--admin-port", port,
	                                      NULL });
	unsetenv("DAPI_FAILPOINT");
	consent(d, "false");
	assert_int_equal(wait_exit(pid, 60000), 128 + SIGKILL);
	bson_t *doc = mongo_find(&S, d), *key = key_of(d);
	assert_non_null(doc);
	char *text = bson_as_relaxed_extended_json(doc, NULL);
	assert_non_null(strstr(text, "\"revoked\" : true")); /* the tombstone is written */
	bson_free(text);
	bson_destroy(doc);
	assert_non_null(key); /* and the key is still there */
	bson_destroy(key);

	assert_int_equal(stack_ctl(&S, "start", "ingestd"), 0);
	assert_true(kafka_wait_drained(&S, 60000));
	assert_null(key_of(d));
}

/* The key store behind a relay that stalls: dialogs whose key the ingress holds keep
 * flowing, a new dialog gets 503 with Retry-After, and gets its key once the link is back. */
static void the_key_store_away_stops_new_dialogs_only(void **state)
{
	char host[64] = "", base[128], known[128], fresh[128], uri[256], url[512], auth[256];
	int db_port = 0;
	assert_int_equal(sscanf(S.mongodb_uri, "mongodb://%63[^:]:%d", host, &db_port), 2);
	struct relay *relay = relay_start(host, db_port);
	assert_non_null(relay);
	snprintf(uri, sizeof(uri), "mongodb://127.0.0.1:%d/?serverSelectionTimeoutMS=2000",
	         relay_port(relay));
	char keys_uri[300];
	snprintf(keys_uri, sizeof(keys_uri), "--keys-uri=%s", uri);
	pid_t pid = spawn_ingress("keys-relay-ingress", keys_uri, base);
	snprintf(known, sizeof(known), "%s-known", run_id());
	snprintf(fresh, sizeof(fresh), "%s-fresh", run_id());
	post_message(base, "cust-r", known, "before the outage");

	relay_hold(relay, true);
	sleep_ms(200); /* the relay's loop sees the hold within 20 ms */
	post_message(base, "cust-r", known, "during the outage"); /* its key is cached */
	struct http_res r;
	const char *body = "{\"text\":\"new dialog\",\"language\":\"EN\"}";
	snprintf(url, sizeof(url), "%s/data/cust-r/%s", base, fresh);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", S.writer_token);
	http_do("POST", url, body, strlen(body),
	        (const char *[]){ "Content-Type: application/json", auth, NULL }, &r);
	assert_int_equal(r.status, 503);
	assert_non_null(r.headers);
	assert_non_null(strstr(r.headers, "Retry-After"));
	assert_non_null(strstr(r.body, "key store"));
	assert_true(relay_holding_bytes(relay)); /* its fetch is the one held */
	http_res_free(&r);

	relay_hold(relay, false);
	long status = 0;
	for (int i = 0; i < 60 && status != 202; i++) {
		if (i)
			sleep_ms(500);
		http_do("POST", url, body, strlen(body),
		        (const char *[]){ "Content-Type: application/json", auth, NULL }, &r);
		status = r.status;
		http_res_free(&r);
	}
	assert_int_equal(status, 202);
	kill(pid, SIGTERM);
	assert_int_equal(wait_exit(pid, 30000), 0);
	relay_stop(relay);
	assert_true(kafka_wait_drained(&S, 30000));
	bson_t *doc = mongo_find(&S, known);
	assert_non_null(doc);
	char *text = bson_as_relaxed_extended_json(doc, NULL);
	assert_non_null(strstr(text, "during the outage"));
	bson_free(text);
	bson_destroy(doc);
}

/* The master key of a key document. */
static void master_of(const char *dialog, char *out, size_t size)
{
	bson_t *key = key_of(dialog);
	bson_iter_t it;
	assert_non_null(key);
	assert_true(bson_iter_init_find(&it, key, "master") && BSON_ITER_HOLDS_UTF8(&it));
	snprintf(out, size, "%s", bson_iter_utf8(&it, NULL));
	bson_destroy(key);
}

/* Rotation mid-stream, in the documented order: ingestd gets the new key first, then an
 * ingress wraps new dialogs' keys with it; dialogs old and new keep flowing. */
static void a_master_key_rotation_loses_nothing(void **state)
{
	char rotated[700], cmd[2600], base[128], arg[760], old_d[128], new_d[128], m[64];
	snprintf(rotated, sizeof(rotated), "%s/master-keys.rotated", S.state_dir);
	snprintf(cmd, sizeof(cmd),
	         "umask 077; cp '%s' '%s' && printf 'rot-2 %%s\\n' \"$(python3 -c 'import secrets; "
	         "print(secrets.token_hex(32))')\" >> '%s'",
	         S.master_key_file, rotated, rotated);
	assert_int_equal(system(cmd), 0);
	snprintf(old_d, sizeof(old_d), "%s-rot-old", run_id());
	snprintf(new_d, sizeof(new_d), "%s-rot-new", run_id());
	post_message(S.ingress, "cust-o", old_d, "before rotation");
	assert_true(kafka_wait_drained(&S, 30000));

	/* 1. ingestd learns the new key (the last --master-key-file wins) */
	assert_int_equal(stack_ctl(&S, "stop", "ingestd"), 0);
	snprintf(arg, sizeof(arg), "--master-key-file %s", rotated);
	setenv("DAPI_INGESTD_ARGS", arg, 1);
	assert_int_equal(stack_ctl(&S, "start", "ingestd"), 0);
	unsetenv("DAPI_INGESTD_ARGS");
	/* 2. an ingress wraps with it */
	snprintf(arg, sizeof(arg), "--master-key-file=%s", rotated);
	pid_t pid = spawn_ingress("rotated-ingress", arg, base);
	post_message(base, "cust-n", new_d, "after rotation");
	post_message(base, "cust-o", old_d, "old dialog, new ingress");
	post_message(S.ingress, "cust-o", old_d, "old dialog, old ingress");
	assert_true(kafka_wait_drained(&S, 30000));
	master_of(old_d, m, sizeof(m));
	assert_string_equal(m, "local-1");
	master_of(new_d, m, sizeof(m));
	assert_string_equal(m, "rot-2");
	bson_t *doc = mongo_find(&S, old_d), *fresh = mongo_find(&S, new_d);
	assert_non_null(doc);
	assert_non_null(fresh);
	char *a = bson_as_relaxed_extended_json(doc, NULL),
	     *b = bson_as_relaxed_extended_json(fresh, NULL);
	assert_non_null(strstr(a, "before rotation"));
	assert_non_null(strstr(a, "old dialog, new ingress"));
	assert_non_null(strstr(a, "old dialog, old ingress"));
	assert_non_null(strstr(b, "after rotation"));
	bson_free(a);
	bson_free(b);
	bson_destroy(doc);
	bson_destroy(fresh);
	kill(pid, SIGTERM);
	assert_int_equal(wait_exit(pid, 30000), 0);
	/* back to the stack's own ingestd arguments */
	assert_int_equal(stack_ctl(&S, "stop", "ingestd"), 0);
	assert_int_equal(stack_ctl(&S, "start", "ingestd"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(message_text_never_reaches_the_broker_in_clear),
		cmocka_unit_test(erasure_deletes_the_key_and_a_replay_shreds_the_dialog),
		cmocka_unit_test(a_tampered_sealed_record_goes_to_the_dlq),
		cmocka_unit_test(a_crash_between_tombstone_and_key_is_repaired),
		cmocka_unit_test(the_key_store_away_stops_new_dialogs_only),
		cmocka_unit_test(a_master_key_rotation_loses_nothing),
	};
	return harness_run_tests(tests, setup, NULL);
}
