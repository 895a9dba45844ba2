/* The sweeps' clock against a real broker: records with known timestamps, a group's
 * offsets committed at known places, and what ingestd_frontier_get makes of them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "frontier.h"
#include "harness.h"

#define T0    1000000000000LL /* 2001-09-09, seconds exactly */
#define SLACK 10000           /* frontier.c: an event is received up to 10 s before its record */

static struct stack S;

static int setup(void **state)
{
	stack_load(&S);
	return 0;
}

static rd_kafka_t *client(rd_kafka_type_t type, const char *group)
{
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "bootstrap.servers", S.brokers, err, sizeof(err));
	if (group)
		rd_kafka_conf_set(conf, "group.id", group, err, sizeof(err));
	rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof(err));
	assert_non_null(rk);
	return rk;
}

/* Three records a partition, timestamped T0, T0 + 60 s and T0 + 120 s. */
static void produce(const char *topic, int partitions)
{
	rd_kafka_t *rk = client(RD_KAFKA_PRODUCER, NULL);
	for (int p = 0; p < partitions; p++)
		for (int i = 0; i < 3; i++)
			assert_int_equal(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
			                                   RD_KAFKA_V_PARTITION(p),
			                                   RD_KAFKA_V_VALUE("x", 1),
			                                   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			                                   RD_KAFKA_V_TIMESTAMP(T0 + i * 60000),
			                                   RD_KAFKA_V_END),
			                 0);
	assert_int_equal(rd_kafka_flush(rk, 30000), 0);
	rd_kafka_destroy(rk);
}

/* Commits offsets[p] for each partition of topic, as the group. */
static void commit(const char *topic, const char *group, const int64_t *offsets, int partitions)
{
	rd_kafka_t *rk = client(RD_KAFKA_CONSUMER, group);
	rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(partitions);
	for (int p = 0; p < partitions; p++)
		rd_kafka_topic_partition_list_add(parts, topic, p)->offset = offsets[p];
	assert_int_equal(rd_kafka_commit(rk, parts, 0), 0);
	rd_kafka_topic_partition_list_destroy(parts);
	rd_kafka_destroy(rk);
}

static int64_t frontier(const char *topic, const char *group, int64_t now)
{
	char errstr[512];
	int64_t t = -1;
	struct dapi_props none = { 0 };
	struct ingestd_frontier *f =
	        ingestd_frontier_new(S.brokers, &none, topic, group, errstr, sizeof(errstr));
	assert_non_null(f);
	if (!ingestd_frontier_get(f, now, &t, errstr, sizeof(errstr)))
		fail_msg("frontier: %s", errstr);
	ingestd_frontier_destroy(f);
	return t;
}

static void follows_the_committed_offsets(void **state)
{
	char topic[200], group[200];
	int64_t now = (int64_t)time(NULL) * 1000;
	snprintf(topic, sizeof(topic), "frontier.%s", run_id());
	kafka_create_topic(&S, topic, 3);
	produce(topic, 3);

	/* nothing committed: only what is older than the first record */
	snprintf(group, sizeof(group), "%s-none", run_id());
	assert_int_equal(frontier(topic, group, now), T0 - SLACK);

	/* each partition past its first record: up to the second */
	snprintf(group, sizeof(group), "%s-one", run_id());
	commit(topic, group, (int64_t[]){ 1, 1, 1 }, 3);
	assert_int_equal(frontier(topic, group, now), T0 + 60000 - SLACK);

	/* the partition furthest behind decides */
	snprintf(group, sizeof(group), "%s-mixed", run_id());
	commit(topic, group, (int64_t[]){ 3, 2, 3 }, 3);
	assert_int_equal(frontier(topic, group, now), T0 + 120000 - SLACK);

	/* everything applied: the clock, less the records still in flight and the slack */
	snprintf(group, sizeof(group), "%s-all", run_id());
	commit(topic, group, (int64_t[]){ 3, 3, 3 }, 3);
	int64_t t = frontier(topic, group, now);
	assert_true(t <= now - 2 * SLACK && t > now - 2 * SLACK - 1000);

	/* a clock that reads only 30 s past the first records: no further than it allows */
	snprintf(group, sizeof(group), "%s-one", run_id());
	assert_int_equal(frontier(topic, group, T0 + 30000), T0 + 30000 - 2 * SLACK);
}

static void an_unknown_topic_is_an_error(void **state)
{
	char errstr[512], topic[200];
	int64_t t;
	struct dapi_props none = { 0 };
	snprintf(topic, sizeof(topic), "frontier.%s.absent", run_id());
	struct ingestd_frontier *f =
	        ingestd_frontier_new(S.brokers, &none, topic, "g", errstr, sizeof(errstr));
	assert_non_null(f);
	assert_false(
	        ingestd_frontier_get(f, (int64_t)time(NULL) * 1000, &t, errstr, sizeof(errstr)));
	assert_non_null(strstr(errstr, topic));
	ingestd_frontier_destroy(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(follows_the_committed_offsets),
		cmocka_unit_test(an_unknown_topic_is_an_error),
	};
	return harness_run_tests(tests, setup, NULL);
}
