#include "record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "timefmt.h"

/* A NUL-terminated copy of len bytes that are not NUL-terminated themselves (keys, header
 * values): strndup would look for a terminator past the end. */
static char *dup_bytes(const void *p, size_t len)
{
	char *s = malloc(len + 1);
	if (s) {
		if (len)
			memcpy(s, p, len);
		s[len] = '\0';
	}
	return s;
}

char *dlq_record_header(const rd_kafka_message_t *m, const char *name)
{
	rd_kafka_headers_t *h;
	const void *v;
	size_t len;
	if (rd_kafka_message_headers(m, &h) || rd_kafka_header_get_last(h, name, &v, &len))
		return dup_bytes("", 0);
	return dup_bytes(v, v ? len : 0);
}

char *dlq_record_key(const rd_kafka_message_t *m)
{
	return dup_bytes(m->key, m->key ? m->key_len : 0);
}

/* When the record's event was first received, as early as anything tells: the event's own
 * receivedAt, the source record's timestamp (dlq.source.timestamp), the DLQ record's. */
static int64_t first_seen_ms(const rd_kafka_message_t *m)
{
	int64_t t = rd_kafka_message_timestamp(m, NULL);
	char *src = dlq_record_header(m, "dlq.source.timestamp"), errstr[128];
	struct dapi_event ev = { 0 };
	long long v;

	if (src && sscanf(src, "%lld", &v) == 1 && v > 0 && (t <= 0 || v < t))
		t = v;
	free(src);
	if (!dapi_event_decode(m->payload, m->len, SIZE_MAX, &ev, errstr, sizeof(errstr)) &&
	    ev.received_at > 0 && (t <= 0 || ev.received_at < t))
		t = ev.received_at;
	dapi_event_clear(&ev);
	return t;
}

bool dlq_record_too_old(const rd_kafka_message_t *m, int64_t tombstone_ttl_ms)
{
	int64_t margin = tombstone_ttl_ms / 2 < 3600000 ? tombstone_ttl_ms / 2 : 3600000;
	int64_t seen = first_seen_ms(m);
	return seen <= 0 || dapi_time_now_ms() - seen > tombstone_ttl_ms - margin;
}

rd_kafka_headers_t *dlq_record_original_headers(const rd_kafka_message_t *m)
{
	rd_kafka_headers_t *h, *out = rd_kafka_headers_new(4);
	const char *name;
	const void *v;
	size_t len;
	if (rd_kafka_message_headers(m, &h))
		return out;
	for (size_t i = 0; !rd_kafka_header_get_all(h, i, &name, &v, &len); i++)
		if (strncmp(name, "dlq.", 4) != 0)
			rd_kafka_header_add(out, name, -1, v, (ssize_t)len);
	return out;
}
