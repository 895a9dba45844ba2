/* --replay-from: before joining, move the consumer group's offsets back. */
#ifndef INGESTD_REPLAY_H
#define INGESTD_REPLAY_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

/* Commits, for the whole group, the offset each partition of topic starts from: its start
 * ("earliest") or its first record at or after an RFC 3339 time (its end when there is
 * none). The broker accepts this only while the group has no active member, like
 * kafka-consumer-groups.sh --reset-offsets. Returns 0, or -1 with errstr. */
int ingestd_replay_move_offsets(rd_kafka_t *rk, const char *topic, const char *from, char *errstr,
                                size_t errstr_size);

#endif
