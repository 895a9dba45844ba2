/* Reads a topic once from the start of every partition to its end as it was when read:
 * no group, nothing committed. */
#ifndef DLQ_READER_H
#define DLQ_READER_H

#include <librdkafka/rdkafka.h>

#include "kafka.h"

struct dlq_reader;

/* Returns NULL with errstr (no such topic, no broker within 10 s). */
struct dlq_reader *dlq_reader_open(const struct dapi_kafka_opts *kafka, const char *topic,
                                   char *errstr, size_t errstr_size);

/* The next record (the caller destroys it), or NULL once every partition reached its end.
 * Consumer errors are printed on stderr and skipped. */
rd_kafka_message_t *dlq_reader_next(struct dlq_reader *r);

/* NULL is a no-op. */
void dlq_reader_close(struct dlq_reader *r);

#endif
