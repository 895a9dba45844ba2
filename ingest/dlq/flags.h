/* dataapi-dlq's options: the table of flags and environment variables, and what it fills. */
#ifndef DLQ_FLAGS_H
#define DLQ_FLAGS_H

#include <stdbool.h>
#include <stdint.h>

#include "kafka.h"

struct dlq_opts {
	struct dapi_kafka_opts kafka;
	char dlq_topic[300]; /* --dlq-topic, or <topic>.dlq */
	const char *reason, *key;
	bool redrive;
	int64_t tombstone_ttl_ms;
	int log_level;
};

/* Fills o from the environment and argv and sets up logging. Returns 0 to run, 1 after
 * --help (exit 0) or 2 after a refusal printed on stderr (exit 2). */
int dlq_configure(struct dlq_opts *o, int argc, char **argv);

#endif
