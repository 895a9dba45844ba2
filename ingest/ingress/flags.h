/* dataapi-ingress's options: the table of flags and environment variables, and what it
 * fills. */
#ifndef INGRESS_FLAGS_H
#define INGRESS_FLAGS_H

#include <stdint.h>

#include "kafka.h"
#include "options.h" /* common/http */
#include "sealing.h"

struct ingress_opts {
	struct dapi_service_opts http;
	struct dapi_auth_opts auth;
	struct dapi_kafka_opts kafka;
	struct dapi_sealing_opts sealing;
	int64_t max_body, max_text, produce_timeout_ms, queue_max, retry_after_s, drain_ms;
	int64_t max_batch_body, max_batch_lines, batch_budget;
	int log_level;
};

/* Fills o from the environment and argv and sets up logging. Returns 0 to run, 1 after
 * --help (exit 0) or 2 after a refusal printed on stderr (exit 2). */
int ingress_configure(struct ingress_opts *o, int argc, char **argv);

#endif
