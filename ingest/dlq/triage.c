#include "triage.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

/* Sends m back to the events topic with its key, value and original headers. */
static const char *redrive(struct dlq_triage *t, const rd_kafka_message_t *m)
{
	if (dlq_record_too_old(m, t->o->tombstone_ttl_ms)) {
		t->old++;
		return "too_old";
	}
	void *value = malloc(m->len ? m->len : 1);
	if (value && m->len)
		memcpy(value, m->payload, m->len);
	if (!value || dapi_dlq_produce(t->producer, t->o->kafka.topic, m, value, m->len,
	                               dlq_record_original_headers(m), &t->batch) != 0) {
		t->failed++;
		return "failed";
	}
	t->sent++;
	return "redriven";
}

static void print_line(const rd_kafka_message_t *m, const char *key, const char *why,
                       const char *detail, const char *action)
{
	json_t *line = json_pack("{s:i, s:I, s:s, s:s, s:s, s:s}", "partition", m->partition,
	                         "offset", (json_int_t)m->offset, "key", key, "reason", why,
	                         "detail", detail, "action", action);
	char *text = line ? json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	if (text)
		puts(text);
	free(text);
	json_decref(line);
}

void dlq_triage_record(struct dlq_triage *t, const rd_kafka_message_t *m)
{
	char *why = dlq_record_header(m, "dlq.reason"),
	     *detail = dlq_record_header(m, "dlq.detail");
	char *key = dlq_record_key(m);
	const char *action = "failed";

	if (why && detail && key) {
		bool match = (!*t->o->reason || !strcmp(t->o->reason, why)) &&
		             (!*t->o->key || !strcmp(t->o->key, key));
		action = !match ? "skipped" : t->producer ? redrive(t, m) : "listed";
		t->listed += match;
		print_line(m, key, why, detail, action);
	} else {
		t->failed++;
	}
	free(why);
	free(detail);
	free(key);
}

int dlq_triage_finish(struct dlq_triage *t)
{
	while (t->producer && atomic_load(&t->batch.pending) > 0)
		dapi_producer_flush(t->producer, 100);
	int lost = atomic_load(&t->batch.failed);
	fprintf(stderr,
	        "dataapi-dlq: %d matching record(s), %d sent back, %d failed, %d older than the "
	        "tombstone TTL not sent back\n",
	        t->listed, t->sent - lost, t->failed + lost, t->old);
	return t->failed + lost ? 1 : 0;
}
