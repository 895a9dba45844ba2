/* dataapi-ingestd's options: the table of flags and environment variables, and what it
 * fills. */
#ifndef INGESTD_FLAGS_H
#define INGESTD_FLAGS_H

#include <stdbool.h>
#include <stdint.h>

#include "kafka.h"
#include "mongo.h"
#include "sealing.h"

struct ingestd_opts {
	struct dapi_kafka_opts kafka;
	struct dapi_mongo_opts mongo;
	struct dapi_sealing_opts sealing;
	char dlq_topic[300]; /* --dlq-topic, or <topic>.dlq */
	const char *group, *replay_from, *admin_bind;
	int64_t batch_max, max_text, backoff_max_ms, cache_dialogs, cache_max_age_ms;
	int64_t pending_ttl_ms, tombstone_ttl_ms, sweep_every_ms, admin_port;
	int64_t retention_ms; /* 0: consented dialogs are kept until revoked */
	int load_by;          /* enum ingestd_load_by */
	int indexes;          /* enum ingestd_indexes */
	int log_level;
	bool take_key_sweep;
};

/* Fills o from the environment and argv and sets up logging. Returns 0 to run, 1 after
 * --help (exit 0) or 2 after a refusal printed on stderr (exit 2). */
int ingestd_configure(struct ingestd_opts *o, int argc, char **argv);

#endif
