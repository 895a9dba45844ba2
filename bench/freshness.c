/* B4: how long after its consent is acknowledged a dialog can be read. Each of <threads>
 * probes, at <rate>/<threads> per second, posts a message and the consent of a new dialog
 * to the ingress, then polls GET /data/{customerId}/{dialogId} on the query service every
 * 10 ms until it answers 200. Prints one JSON line: "probes", "rate", "errors" and
 * "p50_ms", "p99_ms", "max_ms" of (visible - consent's 202).
 * Usage: dapi-bench-freshness <ingress-url> <query-url> <writer-token> <reader-token>
 *        <rate> <seconds> <threads> */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "workload.h"

struct probe_cfg {
	const char *ingress, *query, *writer, *reader;
	double interval_s; /* per thread */
	double until;
	int thread;
	double *lat;
	int n, cap, errors;
};

static size_t discard(char *p, size_t s, size_t n, void *u)
{
	(void)p, (void)u;
	return s * n;
}

static long request(CURL *c, const char *url, const char *token, const char *body)
{
	char auth[256];
	long status = 0;
	struct curl_slist *h = NULL;
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	h = curl_slist_append(h, auth);
	if (body)
		h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	return status;
}

static void *probe(void *arg)
{
	struct probe_cfg *p = arg;
	CURL *c = curl_easy_init();
	char url[512], dialog[64];
	double next = bench_now_s();
	for (int k = 0; bench_now_s() < p->until; k++) {
		snprintf(dialog, sizeof(dialog), "fresh-%ld-%d-%d", (long)time(NULL), p->thread, k);
		snprintf(url, sizeof(url), "%s/data/bench/%s", p->ingress, dialog);
		if (request(c, url, p->writer, "{\"text\":\"probe\",\"language\":\"EN\"}") != 202) {
			p->errors++;
			goto wait;
		}
		snprintf(url, sizeof(url), "%s/consents/%s", p->ingress, dialog);
		if (request(c, url, p->writer, "true") != 202) {
			p->errors++;
			goto wait;
		}
		double acked = bench_now_s();
		snprintf(url, sizeof(url), "%s/data/bench/%s", p->query, dialog);
		while (request(c, url, p->reader, NULL) != 200 && bench_now_s() - acked < 60) {
			struct timespec ms10 = { 0, 10 * 1000 * 1000 };
			nanosleep(&ms10, NULL);
		}
		if (p->n < p->cap)
			p->lat[p->n++] = bench_now_s() - acked;
	wait:
		next += p->interval_s;
		double sleep_s = next - bench_now_s();
		if (sleep_s > 0) {
			struct timespec ts = { (time_t)sleep_s,
				               (long)((sleep_s - (double)(time_t)sleep_s) * 1e9) };
			nanosleep(&ts, NULL);
		}
	}
	curl_easy_cleanup(c);
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	if (argc != 8) {
		fprintf(stderr,
		        "usage: %s <ingress-url> <query-url> <writer-token> <reader-token> <rate> "
		        "<seconds> <threads>\n",
		        argv[0]);
		return 2;
	}
	double rate = atof(argv[5]), secs = atof(argv[6]);
	int threads = atoi(argv[7]), total = 0, errors = 0;
	struct probe_cfg cfg[64];
	pthread_t th[64];
	if (threads < 1 || threads > 64 || rate <= 0) {
		fprintf(stderr, "bench-freshness: 1..64 threads and a positive rate\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	double until = bench_now_s() + secs;
	int cap = (int)(rate * secs / threads) + 16;
	double *all = malloc(sizeof(double) * (size_t)cap * (size_t)threads);
	for (int t = 0; t < threads; t++) {
		cfg[t] = (struct probe_cfg){ argv[1],
			                     argv[2],
			                     argv[3],
			                     argv[4],
			                     threads / rate,
			                     until,
			                     t,
			                     all + (size_t)t * (size_t)cap,
			                     0,
			                     cap,
			                     0 };
		pthread_create(&th[t], NULL, probe, &cfg[t]);
	}
	double *lat = malloc(sizeof(double) * (size_t)cap * (size_t)threads);
	for (int t = 0; t < threads; t++) {
		pthread_join(th[t], NULL);
		memcpy(lat + total, cfg[t].lat, sizeof(double) * (size_t)cfg[t].n);
		total += cfg[t].n;
		errors += cfg[t].errors;
	}
	if (total == 0) {
		printf("{\"probes\":0,\"errors\":%d}\n", errors);
		return 1;
	}
	qsort(lat, (size_t)total, sizeof(double), cmp);
	printf("{\"probes\":%d,\"rate\":%.2f,\"errors\":%d,\"p50_ms\":%.1f,\"p99_ms\":%.1f,"
	       "\"max_ms\":%.1f}\n",
	       total, rate, errors, lat[total / 2] * 1000, lat[(total * 99) / 100] * 1000,
	       lat[total - 1] * 1000);
	free(all);
	free(lat);
	curl_global_cleanup();
	return 0;
}
