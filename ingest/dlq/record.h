/* What a dead-letter record says: its headers, its key, its age, the headers it had before
 * the DLQ. */
#ifndef DLQ_RECORD_H
#define DLQ_RECORD_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>

/* The last header called name as a NUL-terminated string ("" when absent); NULL when out
 * of memory. The caller frees. */
char *dlq_record_header(const rd_kafka_message_t *m, const char *name);

/* The key as a NUL-terminated string; the caller frees. */
char *dlq_record_key(const rd_kafka_message_t *m);

/* Whether re-driving the record could outlive its dialog's tombstone: older than the TTL
 * less a margin for the clocks of ingress hosts (an hour, at most half the TTL). A record
 * of unknown age counts as old. */
bool dlq_record_too_old(const rd_kafka_message_t *m, int64_t tombstone_ttl_ms);

/* The record's headers without the dlq.* ones that explain its stay in the DLQ. */
rd_kafka_headers_t *dlq_record_original_headers(const rd_kafka_message_t *m);

#endif
