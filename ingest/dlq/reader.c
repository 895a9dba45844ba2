#include "reader.h"

#include <stdio.h>
#include <stdlib.h>

struct dlq_reader {
	rd_kafka_t *rk;
	int partitions, ended;
};

/* Assigns every partition of topic from its start. */
static bool assign_all(struct dlq_reader *r, const char *topic, char *errstr, size_t errstr_size)
{
	rd_kafka_resp_err_t err;
	if ((r->partitions = dapi_kafka_partition_count(r->rk, topic, 10000, errstr, errstr_size)) <
	    0)
		return false;
	rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(r->partitions);
	for (int p = 0; p < r->partitions; p++)
		rd_kafka_topic_partition_list_add(parts, topic, p)->offset =
		        RD_KAFKA_OFFSET_BEGINNING;
	err = rd_kafka_assign(r->rk, parts);
	rd_kafka_topic_partition_list_destroy(parts);
	if (err)
		snprintf(errstr, errstr_size, "assigning %s: %s", topic, rd_kafka_err2str(err));
	return !err;
}

struct dlq_reader *dlq_reader_open(const struct dapi_kafka_opts *kafka, const char *topic,
                                   char *errstr, size_t errstr_size)
{
	const char *const defaults[] = { "group.id", "dataapi-dlq-tool",     "enable.auto.commit",
		                         "false",    "enable.partition.eof", "true",
		                         NULL };
	struct dlq_reader *r = calloc(1, sizeof(*r));
	rd_kafka_conf_t *conf =
	        dapi_kafka_conf_new(kafka->brokers, defaults, &kafka->props, errstr, errstr_size);

	if (r && conf && (r->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errstr_size)))
		conf = NULL; /* now owned by rk */
	if (conf)
		rd_kafka_conf_destroy(conf);
	if (!r)
		snprintf(errstr, errstr_size, "out of memory");
	if (!r || !r->rk || !assign_all(r, topic, errstr, errstr_size)) {
		dlq_reader_close(r);
		return NULL;
	}
	return r;
}

rd_kafka_message_t *dlq_reader_next(struct dlq_reader *r)
{
	while (r->ended < r->partitions) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, 1000);
		if (m && !m->err)
			return m;
		if (m && m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
			r->ended++;
		else if (m)
			fprintf(stderr, "dataapi-dlq: %s\n", rd_kafka_message_errstr(m));
		if (m)
			rd_kafka_message_destroy(m);
	}
	return NULL;
}

void dlq_reader_close(struct dlq_reader *r)
{
	if (!r)
		return;
	if (r->rk) {
		rd_kafka_consumer_close(r->rk);
		rd_kafka_destroy(r->rk);
	}
	free(r);
}
