/* Integration: limits of an HTTP service. A stalled client is cut off after the connection
 * timeout, the per-address connection limit holds, oversized headers and bodies get 4xx,
 * and ordinary requests are served throughout. Uses its own ingress with tight limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static struct stack S;
static pid_t ingress_pid;
static int port;
static char base[128];

/* Starts an ingress with tight limits on port p: at most 6 connections per address, bodies
 * up to 1 KiB, batches of 3 lines and 4 KiB with 2 KiB of them held at once, idle
 * connections cut after conn_timeout seconds. */
static pid_t spawn_limited_ingress(int p, const char *conn_timeout, const char *log_name)
{
	char tokens[600], portstr[16], url[256];
	snprintf(portstr, sizeof(portstr), "%d", p);
	snprintf(tokens, sizeof(tokens), "%s/tokens", S.state_dir);
	pid_t pid = spawn_program(&S, "ingest/dataapi-ingress", log_name,
	                          (char *[]){ "--port",
	                                      portstr,
	                                      "--kafka-brokers",
	                                      S.brokers,
	                                      "--topic",
	                                      S.topic,
	                                      "--tokens-file",
	                                      tokens,
	                                      "--conn-timeout",
	                                      (char *)conn_timeout,
	                                      "--max-connections-per-ip",
	                                      "6",
	                                      "--max-body",
	                                      "1024",
	                                      "--max-batch-body",
	                                      "4096",
	                                      "--batch-budget",
	                                      "2048",
	                                      "--max-batch-lines",
	                                      "3",
	                                      NULL });
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/healthz", p);
	assert_int_equal(http_wait_status(url, 200, 30000), 200);
	return pid;
}

static int setup(void **state)
{
	stack_load(&S);
	port = free_port();
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
	ingress_pid = spawn_limited_ingress(port, "2", "limits-ingress");
	return 0;
}

static int teardown(void **state)
{
	kill(ingress_pid, SIGTERM);
	assert_int_equal(wait_exit(ingress_pid, 30000), 0);
	return 0;
}

static int connect_port(int p)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
		                 .sin_port = htons((uint16_t)p),
		                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { 10, 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static int connect_raw(void)
{
	return connect_port(port);
}

/* True while the server has neither closed nor reset fd (nothing to read yet). */
static bool still_open(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK);
	return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* Sends GET /healthz on fd (keep-alive) and reads the whole small answer: true on a 200. */
static bool healthz_on(int fd)
{
	const char *req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
	char buf[1024];
	size_t got = 0;
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0)
		return false;
	while (got < sizeof(buf) - 1) {
		ssize_t n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
		buf[got] = '\0';
		char *end = strstr(buf, "\r\n\r\n");
		char *len = strstr(buf, "Content-Length: ");
		if (end && len && got >= (size_t)(end + 4 - buf) + strtoul(len + 16, NULL, 10))
			break;
	}
	return got >= 12 && strncmp(buf, "HTTP/1.1 200", 12) == 0;
}

/* A connection to port p that the server has admitted and served once, so that it counts
 * against the per-address limit. Retries while a connection the client already closed is
 * still counted by the server (it learns of the close a little later). */
static int admitted_connection(int p)
{
	for (int tries = 0; tries < 50; tries++) {
		int fd = connect_port(p);
		if (healthz_on(fd))
			return fd;
		close(fd);
		sleep_ms(100);
	}
	fail_msg("no connection to port %d was admitted within 5 s", p);
	return -1;
}

/* Reads until the server closes (or 10 s pass); returns bytes read, -1 on timeout. */
static long read_until_closed(int fd, char *buf, size_t size)
{
	size_t got = 0;
	for (;;) {
		ssize_t n = recv(fd, buf + got, size - got - 1, 0);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			break;
		if (n < 0)
			return -1;
		got += (size_t)n;
		if (got >= size - 1)
			break;
	}
	buf[got] = '\0';
	return (long)got;
}

static long healthz(void)
{
	char url[256];
	snprintf(url, sizeof(url), "%s/healthz", base);
	return http_get(url, NULL);
}

static void a_stalled_client_is_cut_off(void **state)
{
	char buf[4096];
	int fd = connect_raw();
	const char *partial = "POST /data/c1/d1 HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n";
	assert_int_equal(send(fd, partial, strlen(partial), 0), (ssize_t)strlen(partial));
	assert_int_equal(healthz(), 200); /* served meanwhile */
	struct timeval t0, t1;
	gettimeofday(&t0, NULL);
	assert_true(read_until_closed(fd, buf, sizeof(buf)) >= 0);
	gettimeofday(&t1, NULL);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_usec - t0.tv_usec) / 1e6;
	assert_true(secs < 6.0); /* --conn-timeout 2 */
	close(fd);
}

static void the_per_address_limit_holds(void **state)
{
	/* Its own ingress with a long idle timeout: the six held connections must not be cut
	 * while the seventh is tried, however slow the machine is. */
	int p = free_port();
	pid_t pid = spawn_limited_ingress(p, "60", "limits-perip-ingress");
	int fds[6];
	char buf[256], url[256];
	for (int i = 0; i < 6; i++)
		fds[i] = admitted_connection(p);
	/* the 7th connection is closed without being served */
	int extra = connect_port(p);
	const char *req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
	send(extra, req, strlen(req), MSG_NOSIGNAL);
	long n = read_until_closed(extra, buf, sizeof(buf));
	assert_true(n <= 0 || strncmp(buf, "HTTP/1.1 200", 12) != 0);
	close(extra);
	for (int i = 0; i < 6; i++) {
		if (!still_open(fds[i]))
			fail_msg("held connection %d was closed by the server", i);
		close(fds[i]);
	}
	/* once they are gone, the address is served again */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/healthz", p);
	assert_int_equal(http_wait_status(url, 200, 5000), 200);
	kill(pid, SIGTERM);
	assert_int_equal(wait_exit(pid, 30000), 0);
}

static void oversized_headers_and_bodies_get_4xx(void **state)
{
	size_t big = 100 * 1024;
	char *req = malloc(big + 256), buf[4096];
	int off = snprintf(req, 256, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(req + off, 'a', big);
	strcpy(req + off + big, "\r\n\r\n");
	int fd = connect_raw();
	send(fd, req, strlen(req), MSG_NOSIGNAL);
	long n = read_until_closed(fd, buf, sizeof(buf));
	if (n > 0) /* answered: a client error, not a success nor a 5xx */
		assert_true(strncmp(buf, "HTTP/1.1 4", 10) == 0);
	close(fd);
	free(req);

	char url[256], auth[200], body[1600];
	struct http_res r;
	snprintf(url, sizeof(url), "%s/data/c1/d1", base);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", S.writer_token);
	memset(body, 'x', sizeof(body) - 1);
	body[sizeof(body) - 1] = '\0';
	assert_int_equal(http_do("POST", url, body, strlen(body),
	                         (const char *[]){ "Content-Type: application/json", auth, NULL },
	                         &r),
	                 0);
	assert_int_equal(r.status, 413); /* --max-body 1024 */
	http_res_free(&r);
	assert_int_equal(healthz(), 200);
}

/* POSTs body to the limited ingress's /batch; returns the status. */
static long post_batch_to(const char *url, const char *body, size_t len, struct http_res *r)
{
	char auth[200];
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", S.writer_token);
	assert_int_equal(
	        http_do("POST", url, body, len,
	                (const char *[]){ "Content-Type: application/x-ndjson", auth, NULL }, r),
	        0);
	return r->status;
}

/* Lines over --max-batch-lines and bytes over --max-batch-body are 413; a body within
 * that but over what the ingress holds of batches at once (--batch-budget) is 503 with
 * Retry-After; the budget is given back, so a batch within it is served after those. */
static void batch_limits_hold(void **state)
{
	const char *line = "{\"dialogId\":\"lim\",\"consent\":true}\n";
	char url[256], body[6000] = "";
	struct http_res r;

	snprintf(url, sizeof(url), "%s/batch", base);
	for (int i = 0; i < 4; i++)
		strcat(body, line);
	assert_int_equal(post_batch_to(url, body, strlen(body), &r), 413);
	assert_non_null(strstr(r.body, "\"too_many_lines\""));
	http_res_free(&r);

	memset(body, ' ', 3000);
	strcpy(body + 3000, line);
	assert_int_equal(post_batch_to(url, body, strlen(body), &r), 503);
	assert_non_null(strstr(r.headers, "Retry-After: "));
	http_res_free(&r);
	memset(body, ' ', 5000);
	strcpy(body + 5000, line);
	assert_int_equal(post_batch_to(url, body, strlen(body), &r), 413);
	assert_non_null(strstr(r.body, "\"body_too_large\""));
	http_res_free(&r);

	for (int i = 0; i < 3; i++) {
		snprintf(body, sizeof(body), "%s%s", line, line);
		assert_int_equal(post_batch_to(url, body, strlen(body), &r), 200);
		assert_non_null(strstr(r.body, "\"accepted\":2"));
		http_res_free(&r);
	}
}

static void deep_json_nesting_is_a_quick_400(void **state)
{
	size_t depth = 30000;
	char *body = malloc(depth * 2 + 64), url[256];
	memset(body, '[', depth);
	memset(body + depth, ']', depth);
	body[2 * depth] = '\0';
	struct http_res r;
	snprintf(url, sizeof(url), "%s/data/c1/deep", S.ingress);
	assert_int_equal(http_do("POST", url, body, strlen(body),
	                         (const char *[]){ "Content-Type: application/json", NULL }, &r),
	                 0);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "\"invalid_json\""));
	assert_true(r.seconds < 2.0);
	http_res_free(&r);
	free(body);
}

/* Connects to the stack's query service from source address src (127.0.0.x: every one of
 * them is this machine, and the service sees each as another client). */
static int connect_to(const char *base_url, const char *src)
{
	int p = atoi(strrchr(base_url, ':') + 1);
	struct sockaddr_in a = { .sin_family = AF_INET,
		                 .sin_port = htons((uint16_t)p),
		                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in from = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	inet_pton(AF_INET, src, &from.sin_addr);
	assert_int_equal(bind(fd, (struct sockaddr *)&from, sizeof(from)), 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Whether the server closed fd within ms (reads nothing else). */
static bool closed_by_server(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;
	return poll(&p, 1, ms) == 1 && recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

/* 300 idle connections and 50 slowloris clients from other addresses: ordinary requests
 * are served throughout. */
static void idle_and_trickling_clients_do_not_hold_the_service(void **state)
{
	enum { IDLE = 300, SLOW = 50 };
	int idle[IDLE], slow[SLOW];
	char url[256], src[32];
	const char *req = "GET /data HTTP/1.1\r\nHost: x\r\nX-Slow: ";
	for (int i = 0; i < IDLE; i++) { /* 60 from each of 127.0.0.2-6 */
		snprintf(src, sizeof(src), "127.0.0.%d", 2 + i / 60);
		idle[i] = connect_to(S.query, src);
	}
	for (int i = 0; i < SLOW; i++)
		slow[i] = connect_to(S.query, "127.0.0.7");
	snprintf(url, sizeof(url), "%s/data?limit=1", S.query);
	/* slowloris: a byte per connection every 100 ms, while ordinary requests come in */
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < SLOW; i++)
			send(slow[i], req + (round % strlen(req)), 1, MSG_NOSIGNAL);
		struct http_res r;
		assert_int_equal(http_do("GET", url, NULL, 0, NULL, &r), 0);
		assert_int_equal(r.status, 200);
		assert_true(r.seconds < 2.0);
		http_res_free(&r);
		sleep_ms(100);
	}
	for (int i = 0; i < IDLE; i++)
		close(idle[i]);
	for (int i = 0; i < SLOW; i++)
		close(slow[i]);
}

/* The per-address limit is on by default (64): one address cannot take every slot. */
static void one_address_gets_64_connections_by_default(void **state)
{
	enum { TRY = 70, LIMIT = 64 };
	int fd[TRY], refused = 0;
	for (int i = 0; i < TRY; i++)
		fd[i] = connect_to(S.query, "127.0.0.8");
	for (int i = 0; i < TRY; i++)
		refused += closed_by_server(fd[i], i < LIMIT ? 50 : 1000);
	for (int i = 0; i < TRY; i++)
		close(fd[i]);
	print_message("limits: %d connections from one address, %d closed at once\n", TRY, refused);
	assert_int_equal(refused, TRY - LIMIT);
	char url[256];
	snprintf(url, sizeof(url), "%s/healthz", S.query); /* other addresses are served */
	assert_int_equal(http_get(url, NULL), 200);
}

struct slow_post {
	char url[256];
	long status;
	char code[32]; /* the 503's error code */
};

static void *post_one(void *arg)
{
	struct slow_post *p = arg;
	char auth[200];
	const char *body = "{\"text\":\"q\",\"language\":\"EN\"}";
	struct http_res r;
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", S.writer_token);
	http_do("POST", p->url, body, strlen(body),
	        (const char *[]){ "Content-Type: application/json", auth, NULL }, &r);
	p->status = r.status;
	snprintf(p->code, sizeof(p->code), "%s",
	         r.body && strstr(r.body, "\"outcome_unknown\"") ? "outcome_unknown"
	         : r.body && strstr(r.body, "\"unavailable\"")   ? "unavailable"
	                                                         : "");
	http_res_free(&r);
	return NULL;
}

static void a_full_producer_queue_is_503_at_once(void **state)
{
	/* An ingress whose broker address has no listener, with room for one event. */
	char tokens[600], portstr[16], brokers[64], url[256];
	int qport = free_port(), dead = free_port();
	snprintf(portstr, sizeof(portstr), "%d", qport);
	snprintf(brokers, sizeof(brokers), "127.0.0.1:%d", dead);
	snprintf(tokens, sizeof(tokens), "%s/tokens", S.state_dir);
	pid_t pid = spawn_program(&S, "ingest/dataapi-ingress", "limits-queue-ingress",
	                          (char *[]){ "--port", portstr, "--kafka-brokers", brokers,
	                                      "--tokens-file", tokens, "--producer-queue", "1",
	                                      "--produce-timeout", "4s", NULL });
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/healthz", qport);
	assert_int_equal(http_wait_status(url, 200, 30000), 200);

	struct slow_post first;
	pthread_t th;
	snprintf(first.url, sizeof(first.url), "http://127.0.0.1:%d/data/q/q1", qport);
	pthread_create(&th, NULL, post_one, &first);
	sleep_ms(500);
	struct slow_post second;
	snprintf(second.url, sizeof(second.url), "http://127.0.0.1:%d/data/q/q2", qport);
	struct timeval t0, t1;
	gettimeofday(&t0, NULL);
	post_one(&second);
	gettimeofday(&t1, NULL);
	assert_int_equal(second.status, 503);            /* the queue holds one event: full */
	assert_string_equal(second.code, "unavailable"); /* certainly not stored */
	assert_true((t1.tv_sec - t0.tv_sec) < 2);
	pthread_join(th, NULL);
	assert_int_equal(first.status, 503);                /* and it never reached a broker */
	assert_string_equal(first.code, "outcome_unknown"); /* handed over: it may have been */

	/* A batch there: every line failed (queue full, or no acknowledgement in time), so
	 * the whole is 503, with each line's result. */
	struct http_res r;
	const char *batch = "{\"dialogId\":\"q3\",\"consent\":true}\n"
	                    "{\"dialogId\":\"q4\",\"consent\":true}\n";
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/batch", qport);
	assert_int_equal(post_batch_to(url, batch, strlen(batch), &r), 503);
	assert_non_null(strstr(r.headers, "Retry-After: "));
	json_t *a = http_json(&r);
	assert_int_equal(json_integer_value(json_object_get(a, "failed")), 2);
	assert_int_equal(json_integer_value(json_object_get(a, "accepted")), 0);
	for (size_t i = 0; i < 2; i++)
		assert_string_equal(
		        json_string_value(json_object_get(
		                json_array_get(json_object_get(a, "results"), i), "status")),
		        "failed");
	json_decref(a);
	http_res_free(&r);
	kill(pid, SIGTERM);
	assert_true(wait_exit(pid, 30000) >= 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_stalled_client_is_cut_off),
		cmocka_unit_test(the_per_address_limit_holds),
		cmocka_unit_test(oversized_headers_and_bodies_get_4xx),
		cmocka_unit_test(batch_limits_hold),
		cmocka_unit_test(a_full_producer_queue_is_503_at_once),
		cmocka_unit_test(deep_json_nesting_is_a_quick_400),
		cmocka_unit_test(idle_and_trickling_clients_do_not_hold_the_service),
		cmocka_unit_test(one_address_gets_64_connections_by_default),
	};
	return harness_run_tests(tests, setup, teardown);
}
