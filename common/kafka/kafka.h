/* librdkafka configuration shared by every Kafka client of the project. */
#ifndef DAPI_KAFKA_H
#define DAPI_KAFKA_H

#include <librdkafka/rdkafka.h>

#include "config.h"

/* Builds a configuration: bootstrap.servers and our log callback, then the program's own
 * settings (`defaults`: name, value, name, value, ..., NULL), then each pass-through
 * property in order, so operators can add or override anything (SASL/TLS, tuning).
 * Returns NULL with errstr naming the bad property. */
rd_kafka_conf_t *dapi_kafka_conf_new(const char *brokers, const char *const *defaults,
                                     const struct dapi_props *props, char *errstr,
                                     size_t errstr_size);

/* The Kafka options every Kafka program takes, filled by DAPI_OPT_KAFKA's rows. */
struct dapi_kafka_opts {
	const char *brokers, *topic;
	struct dapi_props props;
};

/* clang-format off */
#define DAPI_OPT_KAFKA(o, topic_help)                                                      \
	{"kafka-brokers", 0, "KAFKA_BROKERS", DAPI_OPT_STRING, &(o).brokers, "127.0.0.1:9092", \
	 0, 0, "Kafka bootstrap servers"},                                                 \
	{"topic", 0, "KAFKA_TOPIC", DAPI_OPT_STRING, &(o).topic, "dataapi.events", 0, 0,   \
	 topic_help},                                                                      \
	{"kafka-property", 'X', "KAFKA_PROPERTIES", DAPI_OPT_PROPS, &(o).props, NULL, 0, 0, \
	 "librdkafka property key=value, repeatable (env: ';'-separated)"}
/* clang-format on */

/* Sets one property; returns -1 with errstr on failure. */
int dapi_kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *errstr,
                        size_t errstr_size);

/* The partitions of topic, from the cluster's metadata (waits up to timeout_ms); -1 with
 * errstr when the metadata does not come back or names no such topic. */
int dapi_kafka_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms, char *errstr,
                               size_t errstr_size);

#endif
