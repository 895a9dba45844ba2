/* What happens to one dead-letter record: skipped (no match), listed, re-driven, kept back
 * as too old, or failed; printed as one JSON line of metadata (never the value). */
#ifndef DLQ_TRIAGE_H
#define DLQ_TRIAGE_H

#include "dlq.h"
#include "flags.h"
#include "producer.h"

struct dlq_triage {
	const struct dlq_opts *o;
	struct dapi_producer *producer; /* with --redrive, else NULL */
	struct dapi_dlq_batch batch;    /* re-driven records waiting for Kafka */
	int listed, sent, failed, old;
};

/* Decides and does what happens to m, counts it, and prints its line on stdout. */
void dlq_triage_record(struct dlq_triage *t, const rd_kafka_message_t *m);

/* Waits until Kafka has every re-driven record, prints the summary on stderr and returns
 * the exit code: 0, or 1 when a record could not be sent back. */
int dlq_triage_finish(struct dlq_triage *t);

#endif
