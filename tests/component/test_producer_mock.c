/* The ingress's produce path on librdkafka's mock cluster (beside, not instead of, the real
 * broker of the integration tests): the real routes and producer, HTTP over loopback, and
 * injected Kafka faults. Each delivery outcome must map to 202 or 503, and retries inside
 * the idempotent producer must not duplicate a record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ingress.h"
#include "log.h"
#include "service.h"
#include "timefmt.h"

#define TOPIC       "mock.events"
#define API_PRODUCE 0 /* the Kafka protocol's ApiKey of Produce */

static rd_kafka_t *mock_rk;
static rd_kafka_mock_cluster_t *mcluster;
static struct ingress *in;
static pthread_t runner;
static char base[64];

/* The ingress's own main loop (expiring overdue requests), until teardown stops it. */
static void *run_loop(void *arg)
{
	ingress_run(in, 2000);
	return NULL;
}

static int setup(void **state)
{
	char err[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	dapi_log_init("test", DAPI_LOG_ERROR);
	mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	assert_non_null(mock_rk);
	mcluster = rd_kafka_mock_cluster_new(mock_rk, 1);
	assert_non_null(mcluster);
	assert_int_equal(rd_kafka_mock_topic_create(mcluster, TOPIC, 1, 1), 0);

	static struct dapi_props props = { { "retry.backoff.ms=50" }, 1 };
	struct ingress_config cfg = { .brokers = rd_kafka_mock_cluster_bootstraps(mcluster),
		                      .props = &props,
		                      .topic = TOPIC,
		                      .produce_timeout_ms = 1500,
		                      .queue_max = 1000,
		                      .max_text = 16384,
		                      .retry_after_s = 1 };
	in = ingress_new(&cfg, err, sizeof(err));
	assert_non_null(in);
	struct dapi_http_config hcfg = { .bind_addr = "127.0.0.1",
		                         .port = 0,
		                         .threads = 2,
		                         .conn_timeout_s = 10,
		                         .conn_limit = 64,
		                         .body_max = 65536 };
	int port = ingress_listen(in, &hcfg, err, sizeof(err));
	assert_true(port > 0);
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
	pthread_create(&runner, NULL, run_loop, NULL);
	return 0;
}

static int teardown(void **state)
{
	dapi_stop_requested = 1;
	pthread_join(runner, NULL);
	ingress_destroy(in);
	rd_kafka_mock_cluster_destroy(mcluster);
	rd_kafka_destroy(mock_rk);
	return 0;
}

static long post(const char *dialog, double *secs)
{
	CURL *c = curl_easy_init();
	char url[256];
	long status = 0;
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	snprintf(url, sizeof(url), "%s/data/c1/%s", base, dialog);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{\"text\":\"mock\",\"language\":\"EN\"}");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fwrite);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, stderr);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (secs)
		curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, secs);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	fputc('\n', stderr);
	return status;
}

/* How many records with this key the mock topic holds. */
static int records_with_key(const char *key)
{
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(mcluster),
	                  err, sizeof(err));
	rd_kafka_conf_set(conf, "group.id", "mock-reader", err, sizeof(err));
	rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof(err));
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(parts, TOPIC, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_assign(rk, parts);
	rd_kafka_topic_partition_list_destroy(parts);
	int n = 0;
	for (int i = 0; i < 100; i++) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (!m)
			continue;
		bool eof = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
		if (!m->err && m->key_len == strlen(key) && !memcmp(m->key, key, m->key_len))
			n++;
		rd_kafka_message_destroy(m);
		if (eof)
			break;
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return n;
}

static void a_healthy_cluster_gives_202(void **state)
{
	assert_int_equal(post("ok-1", NULL), 202);
	assert_int_equal(records_with_key("ok-1"), 1);
}

static void retriable_errors_are_retried_without_duplicates(void **state)
{
	rd_kafka_mock_push_request_errors(mcluster, API_PRODUCE, 3,
	                                  RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
	                                  RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
	                                  RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
	assert_int_equal(post("retry-1", NULL), 202);
	assert_int_equal(records_with_key("retry-1"), 1);
}

static void a_permanent_error_is_503(void **state)
{
	rd_kafka_mock_push_request_errors(mcluster, API_PRODUCE, 1,
	                                  RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
	assert_int_equal(post("denied-1", NULL), 503);
	assert_int_equal(records_with_key("denied-1"), 0);
}

static void broker_down_is_503_within_the_deadline_then_recovers(void **state)
{
	double secs = 0;
	rd_kafka_mock_broker_set_down(mcluster, 1);
	assert_int_equal(post("down-1", &secs), 503);
	assert_true(secs < 4.0); /* produce timeout 1.5 s */
	rd_kafka_mock_broker_set_up(mcluster, 1);
	long st = 0;
	for (int i = 0; i < 40 && st != 202; i++)
		st = post("up-1", NULL);
	assert_int_equal(st, 202);
	assert_int_equal(records_with_key("up-1"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_healthy_cluster_gives_202),
		cmocka_unit_test(retriable_errors_are_retried_without_duplicates),
		cmocka_unit_test(a_permanent_error_is_503),
		cmocka_unit_test(broker_down_is_503_within_the_deadline_then_recovers),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests(tests, setup, teardown);
	curl_global_cleanup();
	return rc;
}
