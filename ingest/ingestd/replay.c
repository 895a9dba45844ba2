#include "replay.h"

#include <stdio.h>
#include <string.h>

#include "kafka.h"
#include "log.h"
#include "timefmt.h"

/* The topic's partitions, each with its low watermark (earliest) or the time at (the
 * offsets_for_times form: the time in the offset field). NULL with errstr. */
static rd_kafka_topic_partition_list_t *start_positions(rd_kafka_t *rk, const char *topic,
                                                        bool earliest, int64_t at, char *errstr,
                                                        size_t errstr_size)
{
	rd_kafka_resp_err_t err;
	int n = dapi_kafka_partition_count(rk, topic, 10000, errstr, errstr_size);
	if (n < 0)
		return NULL;
	rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(n);
	for (int p = 0; p < n; p++) {
		int64_t lo, hi;
		err = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000);
		if (err) {
			snprintf(errstr, errstr_size, "replay: partition %d: %s", p,
			         rd_kafka_err2str(err));
			rd_kafka_topic_partition_list_destroy(parts);
			return NULL;
		}
		rd_kafka_topic_partition_list_add(parts, topic, p)->offset = earliest ? lo : at;
	}
	return parts;
}

/* Turns the times in parts into offsets: the first record at or after each time, or the
 * partition's end when there is none. */
static bool times_to_offsets(rd_kafka_t *rk, const char *topic,
                             rd_kafka_topic_partition_list_t *parts, char *errstr,
                             size_t errstr_size)
{
	rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk, parts, 10000);
	if (err) {
		snprintf(errstr, errstr_size, "replay: offsets for time: %s",
		         rd_kafka_err2str(err));
		return false;
	}
	for (int p = 0; p < parts->cnt; p++) {
		int64_t lo, hi;
		if (parts->elems[p].offset >= 0)
			continue;
		rd_kafka_query_watermark_offsets(rk, topic, parts->elems[p].partition, &lo, &hi,
		                                 10000);
		parts->elems[p].offset = hi;
	}
	return true;
}

int ingestd_replay_move_offsets(rd_kafka_t *rk, const char *topic, const char *from, char *errstr,
                                size_t errstr_size)
{
	bool earliest = !strcmp(from, "earliest");
	int64_t at = 0;
	rd_kafka_topic_partition_list_t *parts;
	rd_kafka_resp_err_t err;

	if (!earliest && !dapi_time_parse(from, &at)) {
		snprintf(errstr, errstr_size, "--replay-from takes earliest or an RFC 3339 time");
		return -1;
	}
	parts = start_positions(rk, topic, earliest, at, errstr, errstr_size);
	if (!parts)
		return -1;
	if (!earliest && !times_to_offsets(rk, topic, parts, errstr, errstr_size)) {
		rd_kafka_topic_partition_list_destroy(parts);
		return -1;
	}
	err = rd_kafka_commit(rk, parts, 0);
	for (int p = 0; !err && p < parts->cnt; p++)
		err = parts->elems[p].err;
	int n = parts->cnt;
	rd_kafka_topic_partition_list_destroy(parts);
	if (err) {
		snprintf(errstr, errstr_size,
		         "replay: cannot move the group's offsets (%s); stop every other member "
		         "of the group first",
		         rd_kafka_err2str(err));
		return -1;
	}
	DAPI_INFO("replay_offsets_moved", "{s:s, s:s, s:i}", "topic", topic, "from", from,
	          "partitions", n);
	return 0;
}
