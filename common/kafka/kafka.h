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

/* Sets one property; returns -1 with errstr on failure. */
int dapi_kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *errstr,
                        size_t errstr_size);

#endif
