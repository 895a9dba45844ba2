/* Helpers for integration tests that run against the real stack started by
 * deploy/stack.sh (CTest fixture). Nothing here stands in for Kafka or MongoDB. */
#ifndef DAPI_HARNESS_H
#define DAPI_HARNESS_H

#include <bson/bson.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct stack {
	char ingress[128];
	char query[128];
	char ingestd_admin[128];
	char brokers[128];
	char topic[128];
	char mongodb_uri[256];
	char state_dir[512];
	char build_dir[512];
	char writer_token[128];
	char reader_token[128];
	char privacy_token[128];
	char master_key_file[600]; /* the stack's master keys (sealing) */
};

/* Reads $DAPI_STACK_ENV (the stack.env that `stack.sh up` wrote) and puts the stack's
 * database (as KEYS_MONGODB_URI) and DATAAPI_MASTER_KEY_FILE into the environment, so that
 * the programs a test starts seal and open as the stack's do. Aborts the test on error. */
void stack_load(struct stack *s);
/* stack_load, then waits until the ingress is ready: the group setup of every test. */
void stack_ready(struct stack *s);

/* main() of a test program: ignores SIGPIPE, applies DAPI_TEST_FILTER (a cmocka pattern,
 * "r4*": one test), initialises libcurl and mongo-c-driver, runs the group, cleans up. */
struct CMUnitTest;
int harness_run_group(const char *name, const struct CMUnitTest *tests, size_t n,
                      int (*setup)(void **), int (*teardown)(void **));
#define harness_run_tests(tests, setup, teardown) \
	harness_run_group(#tests, tests, sizeof(tests) / sizeof((tests)[0]), setup, teardown)

/* A TCP port free on 127.0.0.1 right now. */
int free_port(void);

/* Starts <build>/<rel_path> with args (NULL-terminated), its output appended to
 * <state>/logs/<log_name>.log. */
int spawn_program(const struct stack *s, const char *rel_path, const char *log_name,
                  char *const args[]);
/* Waits for pid; its exit status, 128+signal, or -1 when it did not exit in time (then it
 * is killed). */
int wait_exit(int pid, int timeout_ms);

/* Runs `stack.sh <cmd> <target> --state-dir ...`; returns its exit status. */
int stack_ctl(const struct stack *s, const char *cmd, const char *target);
/* The pid in the stack's pidfile of a program ("ingestd", "kafka-2"), or -1. */
long stack_pid(const struct stack *s, const char *name);

/* A prefix unique to this process, so tests never depend on an empty store. */
const char *run_id(void);

struct http_res {
	long status;
	char *body;
	size_t len;
	char *headers;
	double seconds;
};

/* One request. headers: NULL-terminated "Name: value" strings, may be NULL. body may be
 * NULL. Unless headers carry an Authorization header (an empty "Authorization:" sends
 * none), the stack's writer token goes to the ingress and its reader token to the query
 * service. Returns 0, or -1 when no HTTP answer came (connection refused, timeout). */
int http_do(const char *method, const char *url, const char *body, size_t body_len,
            const char *const *headers, struct http_res *res);
void http_res_free(struct http_res *res);
/* The body as JSON (NULL when it is not). */
json_t *http_json(const struct http_res *res);
/* Convenience: POST a JSON body with Content-Type: application/json; returns the status. */
long http_post_json(const char *url, const char *body, const char *idempotency_key,
                    struct http_res *res);
/* POSTs body to the stack's ingress at path until it is accepted (202; retried every
 * 200 ms, 50 times), or fails the test. */
void ingress_post_accepted(const struct stack *s, const char *path, const char *body);
/* GET; returns the status (0 when there was no answer). res may be NULL. */
long http_get(const char *url, struct http_res *res);
/* Polls GET url until it answers `status` or timeout_ms passes; returns the last status. */
long http_wait_status(const char *url, long status, int timeout_ms);

/* Produces one record to topic with the project's partitioner and waits for the ack. */
int kafka_produce(const struct stack *s, const char *topic, const char *key, const void *value,
                  size_t len);
/* Waits until the ingestd group has committed every record of the topic. */
bool kafka_wait_drained(const struct stack *s, int timeout_ms);
/* The same for any topic and group. */
bool kafka_wait_group_drained(const struct stack *s, const char *topic, const char *group,
                              int timeout_ms);
/* Looks for a record with this key on the DLQ topic; fills the dlq.reason header. */
bool kafka_find_dlq(const struct stack *s, const char *key, char *reason, size_t reason_size,
                    int timeout_ms);

/* Creates topic (partitions, replication 1) on the stack's broker, if it does not exist. */
void kafka_create_topic(const struct stack *s, const char *topic, int partitions);

/* The value of one series ("name{labels}") on base's /metrics; NAN when it is not there. */
double metric_value(const char *base, const char *series);

/* Drops a database of the stack's server (fails the test if the server refuses). */
void mongo_drop_db(const struct stack *s, const char *db);

/* The stored document with that _id (caller destroys), or NULL. */
bson_t *mongo_find(const struct stack *s, const char *id);
/* The same in any database and collection of the stack's server. */
bson_t *mongo_find_in(const struct stack *s, const char *db, const char *collection,
                      const char *id);

void sleep_ms(int ms);

/* Now as RFC 3339 UTC with milliseconds ("2026-12-07T10:00:00.123Z"), for hand-made
 * events: a fixed date would age past the pending TTL and change what a consent does. */
const char *time_now_text(char out[32]);

#endif
