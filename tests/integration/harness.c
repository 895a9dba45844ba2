#include "harness.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <mongoc/mongoc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* ---- stack ------------------------------------------------------------------------ */

static const struct stack *default_stack; /* for default Authorization headers */

static void copy_value(char *dst, size_t size, const char *line, const char *key)
{
	size_t klen = strlen(key);
	if (!strncmp(line, key, klen) && line[klen] == '=')
		snprintf(dst, size, "%.*s", (int)strcspn(line + klen + 1, "\n"), line + klen + 1);
}

void stack_load(struct stack *s)
{
	const char *path = getenv("DAPI_STACK_ENV");
	char line[1024];
	FILE *f;

	memset(s, 0, sizeof(*s));
	if (!path || !(f = fopen(path, "r")))
		fail_msg("DAPI_STACK_ENV does not name a readable stack.env (%s)",
		         path ? path : "unset");
	while (fgets(line, sizeof(line), f)) {
		copy_value(s->ingress, sizeof(s->ingress), line, "INGRESS_URL");
		copy_value(s->query, sizeof(s->query), line, "QUERY_URL");
		copy_value(s->ingestd_admin, sizeof(s->ingestd_admin), line, "INGESTD_ADMIN_URL");
		copy_value(s->brokers, sizeof(s->brokers), line, "KAFKA_BROKERS");
		copy_value(s->topic, sizeof(s->topic), line, "KAFKA_TOPIC");
		copy_value(s->mongodb_uri, sizeof(s->mongodb_uri), line, "MONGODB_URI");
		copy_value(s->state_dir, sizeof(s->state_dir), line, "STATE_DIR");
		copy_value(s->build_dir, sizeof(s->build_dir), line, "BUILD_DIR");
		copy_value(s->writer_token, sizeof(s->writer_token), line, "WRITER_TOKEN");
		copy_value(s->reader_token, sizeof(s->reader_token), line, "READER_TOKEN");
		copy_value(s->privacy_token, sizeof(s->privacy_token), line, "PRIVACY_TOKEN");
		copy_value(s->master_key_file, sizeof(s->master_key_file), line,
		           "DATAAPI_MASTER_KEY_FILE");
	}
	fclose(f);
	/* Not MONGODB_URI: stack.sh takes that for a database of the caller's own. */
	setenv("KEYS_MONGODB_URI", s->mongodb_uri, 1);
	if (s->master_key_file[0])
		setenv("DATAAPI_MASTER_KEY_FILE", s->master_key_file, 1);
	assert_true(s->ingress[0] && s->query[0] && s->brokers[0] && s->mongodb_uri[0]);
	default_stack = s;
}

void stack_ready(struct stack *s)
{
	char url[256];
	stack_load(s);
	snprintf(url, sizeof(url), "%s/readyz", s->ingress);
	assert_int_equal(http_wait_status(url, 200, 30000), 200);
}

int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	getsockname(fd, (struct sockaddr *)&a, &len);
	close(fd);
	return ntohs(a.sin_port);
}

int spawn_program(const struct stack *s, const char *rel_path, const char *log_name,
                  char *const args[])
{
	char path[1024], log[1024];
	char *argv[32];
	int n = 0;
	snprintf(path, sizeof(path), "%s/%s", s->build_dir, rel_path);
	snprintf(log, sizeof(log), "%s/logs/%s.log", s->state_dir, log_name);
	argv[n++] = path;
	for (int i = 0; args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* ends with the test, even one that failed before stopping it */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(path, argv);
		_exit(127);
	}
	return pid;
}

int wait_exit(int pid, int timeout_ms)
{
	int status;
	for (int waited = 0; waited < timeout_ms; waited += 50) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		sleep_ms(50);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

int stack_ctl(const struct stack *s, const char *cmd, const char *target)
{
	const char *script = getenv("DAPI_STACK_SCRIPT");
	char buf[2048];
	assert_non_null(script);
	snprintf(buf, sizeof(buf), "'%s' %s %s --state-dir '%s' >&2", script, cmd, target,
	         s->state_dir);
	return system(buf);
}

long stack_pid(const struct stack *s, const char *name)
{
	char path[700];
	long pid = -1;
	snprintf(path, sizeof(path), "%s/pids/%s.pid", s->state_dir, name);
	FILE *f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &pid) != 1)
			pid = -1;
		fclose(f);
	}
	return pid;
}

const char *run_id(void)
{
	static char id[64];
	if (!id[0]) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf(id, sizeof(id), "t%ld-%ld", (long)getpid(),
		         (long)(ts.tv_nsec / 1000 % 100000));
	}
	return id;
}

/* ---- HTTP ------------------------------------------------------------------------- */

struct buf {
	char *p;
	size_t n;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct buf *b = userdata;
	size_t add = size * nmemb;
	char *grown = realloc(b->p, b->n + add + 1);
	if (!grown)
		return 0;
	b->p = grown;
	memcpy(b->p + b->n, ptr, add);
	b->n += add;
	b->p[b->n] = '\0';
	return add;
}

int http_do(const char *method, const char *url, const char *body, size_t body_len,
            const char *const *headers, struct http_res *res)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hl = NULL;
	struct buf b = { 0 }, h = { 0 };
	CURLcode rc;

	bool has_auth = false;
	char auth[200];

	memset(res, 0, sizeof(*res));
	for (int i = 0; headers && headers[i]; i++) {
		hl = curl_slist_append(hl, headers[i]);
		has_auth |= !strncasecmp(headers[i], "Authorization:", 14);
	}
	if (!has_auth && default_stack) {
		const struct stack *s = default_stack;
		const char *tok = !strncmp(url, s->ingress, strlen(s->ingress)) ? s->writer_token
		                  : !strncmp(url, s->query, strlen(s->query))   ? s->reader_token
		                                                                : NULL;
		if (tok && *tok) {
			snprintf(auth, sizeof(auth), "Authorization: Bearer %s", tok);
			hl = curl_slist_append(hl, auth);
		}
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body_len);
	}
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK)
		fprintf(stderr, "harness: %s %s: %s\n", method, url, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res->status);
	curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &res->seconds);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	res->body = b.p ? b.p : strdup("");
	res->len = b.n;
	res->headers = h.p ? h.p : strdup("");
	return rc == CURLE_OK ? 0 : -1;
}

void http_res_free(struct http_res *res)
{
	free(res->body);
	free(res->headers);
	memset(res, 0, sizeof(*res));
}

json_t *http_json(const struct http_res *res)
{
	return json_loadb(res->body, res->len, 0, NULL);
}

long http_post_json(const char *url, const char *body, const char *idempotency_key,
                    struct http_res *res)
{
	char key[200];
	const char *headers[] = { "Content-Type: application/json", NULL, NULL };
	struct http_res local;
	long status;
	if (idempotency_key) {
		snprintf(key, sizeof(key), "Idempotency-Key: %s", idempotency_key);
		headers[1] = key;
	}
	http_do("POST", url, body, strlen(body), headers, res ? res : &local);
	status = (res ? res : &local)->status;
	if (!res)
		http_res_free(&local);
	return status;
}

void ingress_post_accepted(const struct stack *s, const char *path, const char *body)
{
	char url[1024];
	snprintf(url, sizeof(url), "%s%s", s->ingress, path);
	for (int tries = 0; tries < 50; tries++) {
		if (http_post_json(url, body, NULL, NULL) == 202)
			return;
		sleep_ms(200);
	}
	fail_msg("POST %s was never accepted", path);
}

long http_get(const char *url, struct http_res *res)
{
	struct http_res local;
	long status;
	http_do("GET", url, NULL, 0, NULL, res ? res : &local);
	status = (res ? res : &local)->status;
	if (!res)
		http_res_free(&local);
	return status;
}

long http_wait_status(const char *url, long status, int timeout_ms)
{
	long end = now_ms() + timeout_ms, got;
	while ((got = http_get(url, NULL)) != status && now_ms() < end)
		sleep_ms(100);
	return got;
}

/* ---- Kafka ------------------------------------------------------------------------ */

static rd_kafka_t *kafka_client(const struct stack *s, rd_kafka_type_t type, const char *group)
{
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "bootstrap.servers", s->brokers, err, sizeof(err));
	rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
	if (type == RD_KAFKA_PRODUCER) {
		rd_kafka_conf_set(conf, "partitioner", "murmur2_random", err, sizeof(err));
		rd_kafka_conf_set(conf, "acks", "all", err, sizeof(err));
		rd_kafka_conf_set(conf, "message.max.bytes", "2000000", err, sizeof(err));
	} else {
		rd_kafka_conf_set(conf, "group.id", group, err, sizeof(err));
		rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err));
	}
	rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof(err));
	assert_non_null(rk);
	return rk;
}

int kafka_produce(const struct stack *s, const char *topic, const char *key, const void *value,
                  size_t len)
{
	rd_kafka_t *rk = kafka_client(s, RD_KAFKA_PRODUCER, NULL);
	rd_kafka_resp_err_t err = rd_kafka_producev(
	        rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
	        RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
	        RD_KAFKA_V_END);
	if (!err && rd_kafka_flush(rk, 15000) != RD_KAFKA_RESP_ERR_NO_ERROR)
		err = RD_KAFKA_RESP_ERR__TIMED_OUT;
	rd_kafka_destroy(rk);
	return err ? -1 : 0;
}

static int partition_count(rd_kafka_t *rk, const char *topic)
{
	const struct rd_kafka_metadata *md;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	int n = -1;
	if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
		if (md->topic_cnt == 1 && !md->topics[0].err)
			n = md->topics[0].partition_cnt;
		rd_kafka_metadata_destroy(md);
	}
	rd_kafka_topic_destroy(rkt);
	return n;
}

bool kafka_wait_drained(const struct stack *s, int timeout_ms)
{
	return kafka_wait_group_drained(s, s->topic, "dataapi-ingestd", timeout_ms);
}

bool kafka_wait_group_drained(const struct stack *s, const char *topic, const char *group,
                              int timeout_ms)
{
	rd_kafka_t *rk = kafka_client(s, RD_KAFKA_CONSUMER, group);
	long end = now_ms() + timeout_ms;
	int n = partition_count(rk, topic);
	bool drained = false;

	assert_true(n > 0);
	while (!drained && now_ms() < end) {
		rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(n);
		for (int p = 0; p < n; p++)
			rd_kafka_topic_partition_list_add(parts, topic, p);
		drained = rd_kafka_committed(rk, parts, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR;
		for (int p = 0; drained && p < n; p++) {
			int64_t lo, hi, committed = parts->elems[p].offset;
			if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 5000))
				drained = false;
			else if (hi > 0 && committed < hi)
				drained = false;
		}
		rd_kafka_topic_partition_list_destroy(parts);
		if (!drained)
			sleep_ms(200);
	}
	rd_kafka_destroy(rk);
	return drained;
}

bool kafka_find_dlq(const struct stack *s, const char *key, char *reason, size_t reason_size,
                    int timeout_ms)
{
	char dlq[300];
	rd_kafka_t *rk = kafka_client(s, RD_KAFKA_CONSUMER, "dataapi-test-dlq-reader");
	long end = now_ms() + timeout_ms;
	bool found = false;
	int n;

	snprintf(dlq, sizeof(dlq), "%s.dlq", s->topic);
	n = partition_count(rk, dlq);
	assert_true(n > 0);
	while (!found && now_ms() < end) {
		rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(n);
		for (int p = 0; p < n; p++)
			rd_kafka_topic_partition_list_add(parts, dlq, p)->offset =
			        RD_KAFKA_OFFSET_BEGINNING;
		rd_kafka_assign(rk, parts);
		rd_kafka_topic_partition_list_destroy(parts);
		for (long stop = now_ms() + 2000; !found && now_ms() < stop;) {
			rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
			if (!m)
				continue;
			if (!m->err && m->key && m->key_len == strlen(key) &&
			    !memcmp(m->key, key, m->key_len)) {
				rd_kafka_headers_t *h;
				const void *v;
				size_t vlen;
				found = true;
				if (!rd_kafka_message_headers(m, &h) &&
				    !rd_kafka_header_get_last(h, "dlq.reason", &v, &vlen))
					snprintf(reason, reason_size, "%.*s", (int)vlen,
					         (const char *)v);
			}
			rd_kafka_message_destroy(m);
		}
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return found;
}

/* ---- MongoDB ---------------------------------------------------------------------- */

bson_t *mongo_find(const struct stack *s, const char *id)
{
	return mongo_find_in(s, "dataapi", "dialogs", id);
}

bson_t *mongo_find_in(const struct stack *s, const char *db, const char *collection, const char *id)
{
	bson_error_t err;
	mongoc_client_t *client = mongoc_client_new(s->mongodb_uri);
	mongoc_collection_t *coll;
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_t *filter = BCON_NEW("_id", BCON_UTF8(id)), *out = NULL;

	assert_non_null(client);
	coll = mongoc_client_get_collection(client, db, collection);
	cur = mongoc_collection_find_with_opts(coll, filter, NULL, NULL);
	if (mongoc_cursor_next(cur, &doc))
		out = bson_copy(doc);
	else if (mongoc_cursor_error(cur, &err))
		fail_msg("MongoDB: %s", err.message);
	mongoc_cursor_destroy(cur);
	mongoc_collection_destroy(coll);
	mongoc_client_destroy(client);
	bson_destroy(filter);
	return out;
}

const char *time_now_text(char out[32])
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%03ldZ", ts.tv_nsec / 1000000);
	return out;
}

void kafka_create_topic(const struct stack *s, const char *topic, int partitions)
{
	char cmd[2048];
	const char *script = getenv("DAPI_STACK_SCRIPT");
	assert_non_null(script);
	snprintf(cmd, sizeof(cmd),
	         "\"%s\" topics --state-dir \"%s\" -- --create --if-not-exists --topic %s "
	         "--partitions %d --replication-factor 1 >/dev/null",
	         script, s->state_dir, topic, partitions);
	assert_int_equal(system(cmd), 0);
}

double metric_value(const char *base, const char *series)
{
	char url[256];
	struct http_res r;
	double v = NAN;
	size_t n = strlen(series);
	snprintf(url, sizeof(url), "%s/metrics", base);
	if (http_get(url, &r) != 200)
		return NAN;
	for (const char *p = r.body; p && (p = strstr(p, series)); p += n)
		if ((p == r.body || p[-1] == '\n') && p[n] == ' ') {
			v = strtod(p + n + 1, NULL);
			break;
		}
	http_res_free(&r);
	return v;
}

void mongo_drop_db(const struct stack *s, const char *name)
{
	bson_error_t err;
	mongoc_client_t *client = mongoc_client_new(s->mongodb_uri);
	mongoc_database_t *db = mongoc_client_get_database(client, name);
	bool ok = mongoc_database_drop(db, &err);
	mongoc_database_destroy(db);
	mongoc_client_destroy(client);
	if (!ok && !strstr(err.message, "ns not found"))
		fail_msg("dropping %s: %s", name, err.message);
}

int harness_run_group(const char *name, const struct CMUnitTest *tests, size_t n,
                      int (*setup)(void **), int (*teardown)(void **))
{
	signal(SIGPIPE, SIG_IGN);
	if (getenv("DAPI_TEST_FILTER"))
		cmocka_set_test_filter(getenv("DAPI_TEST_FILTER"));
	curl_global_init(CURL_GLOBAL_DEFAULT);
	mongoc_init();
	int rc = _cmocka_run_group_tests(name, tests, n, setup, teardown);
	mongoc_cleanup();
	curl_global_cleanup();
	return rc;
}
