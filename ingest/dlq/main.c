/* dataapi-dlq: inspect the dead-letter topic and send records back through the pipeline
 * once their cause is fixed. Reads the DLQ from its start to its current end; prints one
 * JSON line per record (metadata only, never the value); with --redrive, produces each
 * matching record back to the topic with its key, value and original headers (the dlq.*
 * ones dropped), and waits until Kafka has them all. Re-driving twice is harmless:
 * ingestd applies an event once by its eventId.
 *
 * A record older than --tombstone-ttl is never re-driven: its dialog may have been revoked
 * since, and the tombstone that makes ingestd drop the dialog's later events lives only
 * that long, so re-driving a message and a consent would bring an erased dialog back. */
#include <stdio.h>

#include "flags.h"
#include "reader.h"
#include "triage.h"

int main(int argc, char **argv)
{
	struct dlq_opts o;
	struct dlq_triage t = { .o = &o };
	struct dlq_reader *reader = NULL;
	rd_kafka_message_t *m;
	char errstr[512] = "";
	int rc;

	if ((rc = dlq_configure(&o, argc, argv)))
		return rc == 1 ? 0 : rc;
	struct dapi_producer_config pcfg = { .brokers = o.kafka.brokers,
		                             .props = &o.kafka.props,
		                             .delivery_timeout_ms = 30000,
		                             .queue_max = 100000,
		                             .client_id = "dataapi-dlq",
		                             .on_delivery = dapi_dlq_on_delivery };
	rc = 1;
	if (o.redrive && !(t.producer = dapi_producer_new(&pcfg, errstr, sizeof(errstr))))
		goto out;
	if (!(reader = dlq_reader_open(&o.kafka, o.dlq_topic, errstr, sizeof(errstr))))
		goto out;
	while ((m = dlq_reader_next(reader))) {
		dlq_triage_record(&t, m);
		rd_kafka_message_destroy(m);
	}
	rc = dlq_triage_finish(&t);
out:
	if (*errstr)
		fprintf(stderr, "dataapi-dlq: %s\n", errstr);
	dlq_reader_close(reader);
	dapi_producer_destroy(t.producer, 10000);
	return rc;
}
