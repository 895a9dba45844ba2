/* Integration: the query service's bounds under slow clients and a busy database. Exports
 * read by clients that stall or trickle, several pages at once, a pool with no free client:
 * each is answered promptly (200 or 503 + Retry-After), probes and single-dialog reads keep
 * answering in well under 100 ms, a stalled export gives its database client back, and a
 * page's size is bounded (nextCursor continues it). Runs query services of its own, with
 * tight limits, against the stack's database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "harness.h"

#define BULK_DIALOGS   24
#define BULK_MESSAGES  32
#define TEXT_BYTES     15000
#define PAGE_BYTES     1000000
#define CONN_TIMEOUT_S 4
#define MIN_RATE       "4000000" /* bytes a second an export's reader must take */

static struct stack S;
static char bulk_customer[128], small_customer[128], small_dialog[128];

struct service {
	pid_t pid;
	int port;
	char base[128];
};

static struct service wide, narrow; /* a pool of 100 clients; a pool of 2 */

static int consented_messages(const char *id)
{
	bson_t *doc = mongo_find(&S, id);
	bson_iter_t it, arr;
	int n = 0;
	if (doc && bson_iter_init_find(&it, doc, "consent") && bson_iter_as_bool(&it) &&
	    bson_iter_init_find(&it, doc, "messages") && BSON_ITER_HOLDS_ARRAY(&it) &&
	    bson_iter_recurse(&it, &arr))
		while (bson_iter_next(&arr))
			n++;
	bson_destroy(doc);
	return n;
}

/* BULK_DIALOGS dialogs of about 480 KB each (about 11.5 MB in all: more than the socket
 * buffers of a client that stops reading hold), and one small dialog. */
static void seed(void)
{
	char path[512], id[160];
	char *body = malloc(TEXT_BYTES + 64);
	assert_non_null(body);
	snprintf(bulk_customer, sizeof(bulk_customer), "%s-bulk", run_id());
	snprintf(small_customer, sizeof(small_customer), "%s-small", run_id());
	snprintf(small_dialog, sizeof(small_dialog), "%s-small-d", run_id());
	for (int d = 0; d < BULK_DIALOGS; d++) {
		snprintf(id, sizeof(id), "%s-bulk-%02d", run_id(), d);
		snprintf(path, sizeof(path), "/data/%s/%s", bulk_customer, id);
		for (int m = 0; m < BULK_MESSAGES; m++) {
			int off = snprintf(body, 64, "{\"language\":\"EN\",\"text\":\"%d:", m);
			memset(body + off, 'a' + d % 26, TEXT_BYTES);
			strcpy(body + off + TEXT_BYTES, "\"}");
			ingress_post_accepted(&S, path, body);
		}
		snprintf(path, sizeof(path), "/consents/%s", id);
		ingress_post_accepted(&S, path, "true");
	}
	free(body);
	snprintf(path, sizeof(path), "/data/%s/%s", small_customer, small_dialog);
	ingress_post_accepted(&S, path, "{\"text\":\"small\",\"language\":\"EN\"}");
	snprintf(path, sizeof(path), "/consents/%s", small_dialog);
	ingress_post_accepted(&S, path, "true");
	for (int waited = 0; waited < 120000; waited += 500) {
		int done = consented_messages(small_dialog) == 1;
		for (int d = 0; d < BULK_DIALOGS && done; d++) {
			snprintf(id, sizeof(id), "%s-bulk-%02d", run_id(), d);
			done = consented_messages(id) == BULK_MESSAGES;
		}
		if (done)
			return;
		sleep_ms(500);
	}
	fail_msg("the seeded dialogs were not all stored in time");
}

static void start_query(struct service *svc, const char *pool_opts, const char *name)
{
	char tokens[600], uri[600], portstr[16], timeout[16], page[16];
	svc->port = free_port();
	snprintf(svc->base, sizeof(svc->base), "http://127.0.0.1:%d", svc->port);
	snprintf(portstr, sizeof(portstr), "%d", svc->port);
	snprintf(timeout, sizeof(timeout), "%d", CONN_TIMEOUT_S);
	snprintf(page, sizeof(page), "%d", PAGE_BYTES);
	snprintf(tokens, sizeof(tokens), "%s/tokens", S.state_dir);
	snprintf(uri, sizeof(uri), "%s%s%s", S.mongodb_uri, strchr(S.mongodb_uri, '?') ? "&" : "?",
	         pool_opts);
	svc->pid = spawn_program(
	        &S, "query/dataapi-query", name,
	        (char *[]){ "--port", portstr, "--mongodb-uri", uri, "--tokens-file", tokens,
	                    "--conn-timeout", timeout, "--max-exports", "2", "--pool-wait", "300ms",
	                    "--max-page-bytes", page, "--export-min-rate", MIN_RATE, NULL });
	char url[256];
	snprintf(url, sizeof(url), "%s/healthz", svc->base);
	assert_int_equal(http_wait_status(url, 200, 30000), 200);
}

static int setup(void **state)
{
	stack_load(&S);
	seed();
	start_query(&wide, "maxPoolSize=100", "bounds-query-wide");
	start_query(&narrow, "maxPoolSize=2", "bounds-query-narrow");
	return 0;
}

static int teardown(void **state)
{
	kill(wide.pid, SIGTERM);
	kill(narrow.pid, SIGTERM);
	assert_int_equal(wait_exit(wide.pid, 30000), 0);
	assert_int_equal(wait_exit(narrow.pid, 30000), 0);
	return 0;
}

/* A GET with the reader token; returns the status, fills res (caller frees) if given. */
static long get(const struct service *svc, const char *path_and_query, struct http_res *res)
{
	char url[700], auth[200];
	struct http_res local;
	snprintf(url, sizeof(url), "%s%s", svc->base, path_and_query);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", S.reader_token);
	const char *headers[] = { auth, NULL };
	http_do("GET", url, NULL, 0, headers, res ? res : &local);
	long status = (res ? res : &local)->status;
	if (!res)
		http_res_free(&local);
	return status;
}

static double timed_get(const struct service *svc, const char *path, long *status)
{
	struct http_res res;
	*status = get(svc, path, &res);
	double s = res.seconds;
	http_res_free(&res);
	return s;
}

/* An export read by a client with a tiny receive window that reads its status line and then
 * takes rate bytes a second (0: nothing more). Returns the socket, or -1; *status is the
 * HTTP status it saw. */
struct slow_reader {
	int fd, rate;
	long status;
	pthread_t thread;
	volatile int stop;
	long taken;
};

static void *trickle(void *arg)
{
	struct slow_reader *r = arg;
	static char buf[65536];
	while (!r->stop && r->rate > 0) {
		size_t want =
		        (size_t)r->rate / 10 < sizeof(buf) ? (size_t)r->rate / 10 : sizeof(buf);
		ssize_t n = recv(r->fd, buf, want, 0);
		if (n <= 0)
			break;
		r->taken += n;
		sleep_ms(100);
	}
	return NULL;
}

static void slow_reader_start(struct slow_reader *r, const struct service *svc, const char *query,
                              int rate)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
		                 .sin_port = htons((uint16_t)svc->port),
		                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int small = 4096; /* a stalled reader's window: the server's buffers fill at once */
	struct timeval tv = { 10, 0 };
	char req[1024], head[64] = "";
	memset(r, 0, sizeof(*r));
	r->rate = rate;
	r->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (rate == 0)
		setsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	setsockopt(r->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(r->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	int len = snprintf(
	        req, sizeof(req),
	        "GET /data/export?%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n",
	        query, S.reader_token);
	assert_int_equal(send(r->fd, req, (size_t)len, 0), len);
	ssize_t n = recv(r->fd, head, 12, MSG_WAITALL);
	r->status = n == 12 ? atol(head + 9) : 0;
	pthread_create(&r->thread, NULL, trickle, r);
}

static void slow_reader_stop(struct slow_reader *r)
{
	r->stop = 1;
	shutdown(r->fd, SHUT_RDWR);
	pthread_join(r->thread, NULL);
	close(r->fd);
}

/* Whether the log of a program this test started has that text. */
static bool log_has(const char *name, const char *text)
{
	char path[700], line[4096];
	bool found = false;
	snprintf(path, sizeof(path), "%s/logs/%s.log", S.state_dir, name);
	FILE *f = fopen(path, "r");
	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, text) != NULL;
	if (f)
		fclose(f);
	return found;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct pager {
	const struct service *svc;
	long status;
	double seconds;
	pthread_t thread;
};

static void *page_all(void *arg)
{
	struct pager *p = arg;
	struct http_res res;
	p->status = get(p->svc, "/data?limit=1000&offset=50", &res);
	p->seconds = res.seconds;
	http_res_free(&res);
	return NULL;
}

/* Stalled export readers (two served, twenty-one refused at once), four slow pages at once:
 * the probes and a single-dialog read do not wait for them (the pages take seconds; the
 * probes stay under 100 ms, a single dialog's median read under half a second: it shares
 * the two cores and the database with the four scans, but never queues behind them); then
 * the stalled exports let go. */
static void slow_readers_hold_nothing_for_long(void **state)
{
	char q[256], one[400];
	struct slow_reader stalled[2];
	struct pager pages[4];
	long status;

	snprintf(q, sizeof(q), "customerId=%s", bulk_customer);
	for (int i = 0; i < 2; i++) {
		slow_reader_start(&stalled[i], &wide, q, 0);
		assert_int_equal(stalled[i].status, 200);
	}
	/* twenty more stalling readers are refused at once, and hold nothing */
	for (int i = 0; i < 20; i++) {
		struct slow_reader more;
		slow_reader_start(&more, &wide, q, 0);
		assert_int_equal(more.status, 503);
		slow_reader_stop(&more);
	}
	struct http_res res;
	snprintf(one, sizeof(one), "/data/export?customerId=%s", small_customer);
	assert_int_equal(get(&wide, one, &res), 503);
	assert_non_null(strstr(res.headers, "Retry-After:"));
	assert_true(res.seconds < 1.0);
	http_res_free(&res);

	for (int i = 0; i < 4; i++) {
		pages[i].svc = &wide;
		pthread_create(&pages[i].thread, NULL, page_all, &pages[i]);
	}
	/* While they run: the probes and a single-dialog read, ten rounds. */
	const char *probes[] = { "/healthz", "/metrics", "/readyz", one };
	double worst[4] = { 0 }, all_one[10];
	snprintf(one, sizeof(one), "/data/%s/%s", small_customer, small_dialog);
	for (int round = 0; round < 10; round++) {
		for (int i = 0; i < 4; i++) {
			double s = timed_get(&wide, probes[i], &status);
			assert_int_equal(status, 200);
			worst[i] = s > worst[i] ? s : worst[i];
			if (i == 3)
				all_one[round] = s;
		}
		sleep_ms(50);
	}
	double worst_page = 0;
	int pages_ok = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(pages[i].thread, NULL);
		assert_true(pages[i].status == 200 || pages[i].status == 503);
		pages_ok += pages[i].status == 200;
		worst_page = pages[i].seconds > worst_page ? pages[i].seconds : worst_page;
	}
	qsort(all_one, 10, sizeof(double), cmp_double);
	print_message("bounds: 2 stalled exports, 4 pages at once (%d answered 200, slowest %.0f "
	              "ms); worst of 10: healthz %.1f ms, metrics %.1f ms, readyz %.1f ms; single "
	              "dialog median %.1f ms, worst %.1f ms\n",
	              pages_ok, worst_page * 1000, worst[0] * 1000, worst[1] * 1000,
	              worst[2] * 1000, all_one[5] * 1000, worst[3] * 1000);
	assert_true(worst[0] < 0.1 && worst[1] < 0.1); /* no database behind these */
	assert_true(worst[2] < 1.2);                   /* the probe's own 1 s bound */
	assert_true(all_one[5] < 0.5);

	/* The stalled readers take nothing: after --conn-timeout without progress their
	 * exports end and give their slots and database clients back. */
	char exp[300];
	snprintf(exp, sizeof(exp), "/data/export?customerId=%s", small_customer);
	int waited_ms = 0;
	for (; waited_ms < (CONN_TIMEOUT_S + 10) * 1000; waited_ms += 250) {
		struct http_res r3;
		long st = get(&wide, exp, &r3);
		bool complete = st == 200 && r3.body && strstr(r3.body, small_dialog);
		http_res_free(&r3);
		if (complete)
			break;
		sleep_ms(250);
	}
	print_message("bounds: an export was accepted again %d ms after the probes\n", waited_ms);
	assert_true(waited_ms < (CONN_TIMEOUT_S + 10) * 1000);
	for (int i = 0; i < 2; i++)
		slow_reader_stop(&stalled[i]);

	/* A client that reads steadily but too slowly (at most 640 KB/s against a minimum of
	 * 4 MB/s) is cut off by the minimum-progress rule, although it never goes idle. */
	for (int i = 0; i < 2; i++) {
		slow_reader_start(&stalled[i], &wide, q, 1000000);
		assert_int_equal(stalled[i].status, 200);
	}
	snprintf(one, sizeof(one), "/data/export?customerId=%s", small_customer);
	assert_int_equal(get(&wide, one, NULL), 503); /* both slots taken */
	waited_ms = 0;
	for (; waited_ms < (3 * CONN_TIMEOUT_S + 10) * 1000; waited_ms += 250) {
		if (get(&wide, one, NULL) == 200)
			break;
		sleep_ms(250);
	}
	print_message("bounds: slow readers (%ld and %ld bytes taken) cut off; an export "
	              "was accepted again after %d ms\n",
	              stalled[0].taken, stalled[1].taken, waited_ms);
	assert_true(waited_ms < (3 * CONN_TIMEOUT_S + 10) * 1000);
	assert_true(log_has("bounds-query-wide", "\"reason\":\"too_slow\""));
	for (int i = 0; i < 2; i++)
		slow_reader_stop(&stalled[i]);
}

/* A pool with no free client: 503 + Retry-After after the pool's wait, never a hang; the
 * probes do not depend on the pool. */
static void an_exhausted_pool_is_a_prompt_503(void **state)
{
	char q[256], path[400];
	struct slow_reader holders[2];
	struct http_res res;

	snprintf(q, sizeof(q), "customerId=%s", bulk_customer);
	for (int i = 0; i < 2; i++) { /* both of the pool's clients, held by stalled exports */
		slow_reader_start(&holders[i], &narrow, q, 0);
		assert_int_equal(holders[i].status, 200);
	}
	snprintf(path, sizeof(path), "/data/%s/%s", small_customer, small_dialog);
	const char *busy[] = { "/data?limit=1", path };
	for (int i = 0; i < 2; i++) {
		assert_int_equal(get(&narrow, busy[i], &res), 503);
		print_message("bounds: %s with the pool exhausted: 503 in %.0f ms\n",
		              i ? "a single dialog" : "a page", res.seconds * 1000);
		assert_non_null(strstr(res.headers, "Retry-After:"));
		assert_non_null(strstr(res.body, "busy"));
		assert_true(res.seconds < 1.5);
		http_res_free(&res);
	}
	/* the 503s were logged by route: the customerId in the path is nowhere in the log */
	assert_true(log_has("bounds-query-narrow", "\"event\":\"store_busy\""));
	assert_false(log_has("bounds-query-narrow", small_customer));
	assert_false(log_has("bounds-query-narrow", bulk_customer));
	long status;
	assert_true(timed_get(&narrow, "/healthz", &status) < 0.1);
	assert_int_equal(status, 200);
	assert_true(timed_get(&narrow, "/readyz", &status) < 1.5); /* its own client */
	assert_int_equal(status, 200);
	for (int i = 0; i < 2; i++)
		slow_reader_stop(&holders[i]);
}

/* A page whose dialogs exceed --max-page-bytes ends early; nextCursor continues it, and
 * following the cursors gives every dialog once, in order. */
static void page_size_is_bounded(void **state)
{
	char path[600], cursor[256] = "", seen[BULK_DIALOGS][160];
	int n = 0, pages = 0;
	for (;;) {
		struct http_res res;
		snprintf(path, sizeof(path), "/data?customerId=%s&limit=1000%s%s", bulk_customer,
		         cursor[0] ? "&cursor=" : "", cursor);
		assert_int_equal(get(&wide, path, &res), 200);
		json_t *body = http_json(&res);
		assert_non_null(body);
		json_t *items = json_object_get(body, "items"),
		       *next = json_object_get(body, "nextCursor");
		size_t count = json_array_size(items);
		assert_true(count >= 1);
		/* the bound: what the items take, unless one dialog alone is larger */
		char *text = json_dumps(items, JSON_COMPACT);
		assert_true(count == 1 || strlen(text) <= PAGE_BYTES);
		free(text);
		assert_true(json_integer_value(json_object_get(body, "total")) == BULK_DIALOGS);
		for (size_t i = 0; i < count; i++) {
			const char *id = json_string_value(
			        json_object_get(json_array_get(items, i), "dialogId"));
			assert_true(n < BULK_DIALOGS);
			snprintf(seen[n++], sizeof(seen[0]), "%s", id);
		}
		pages++;
		bool more = json_is_string(next);
		if (more)
			snprintf(cursor, sizeof(cursor), "%s", json_string_value(next));
		json_decref(body);
		http_res_free(&res);
		if (!more)
			break;
		assert_true(pages < 100);
	}
	print_message("bounds: %d dialogs of ~480 KB in %d pages of at most %d bytes\n", n, pages,
	              PAGE_BYTES);
	assert_int_equal(n, BULK_DIALOGS);
	assert_true(pages > 1);
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			assert_string_not_equal(seen[i], seen[j]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(page_size_is_bounded),
		cmocka_unit_test(an_exhausted_pool_is_a_prompt_503),
		cmocka_unit_test(slow_readers_hold_nothing_for_long),
	};
	signal(SIGPIPE, SIG_IGN);
	return harness_run_tests(tests, setup, teardown);
}
