/* How far the consumer group has applied the topic, in the topic's own time: the sweeps'
 * clock. A pending dialog is past its TTL, and a key unused long enough, only when the
 * group has applied everything that could have consented it; judged by wall-clock time, a
 * replay, a lagging member or an empty database would erase what later records keep. */
#ifndef INGESTD_FRONTIER_H
#define INGESTD_FRONTIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct ingestd_frontier;

/* A Kafka handle for the group's committed offsets (it never joins the group). NULL with
 * errstr. */
struct ingestd_frontier *ingestd_frontier_new(const char *brokers, const struct dapi_props *props,
                                              const char *topic, const char *group, char *errstr,
                                              size_t errstr_size);
void ingestd_frontier_destroy(struct ingestd_frontier *f);

/* A time T such that every event received (receivedAt) before T has been applied: the
 * latest record time R, to the second and at most now_ms less 10 s (records still on their
 * way to the broker), such that every record of the topic timestamped before R lies before
 * the group's committed offset of its partition, less 10 s (an event is received before
 * its record is timestamped). Assumes the ingress's --produce-timeout is at most 10 s.
 * False when Kafka did not answer (errstr). */
bool ingestd_frontier_get(struct ingestd_frontier *f, int64_t now_ms, int64_t *t_ms, char *errstr,
                          size_t errstr_size);

#endif
