#include "producer.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "kafka.h"
#include "log.h"

struct dapi_producer {
	rd_kafka_t *rk;
	dapi_delivery_fn on_delivery;
	pthread_t poller;
	atomic_bool stop;
	atomic_bool failed;
};

static void on_dr(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
	struct dapi_producer *p = opaque;
	if (p->on_delivery)
		p->on_delivery(rkm->_private, rkm->err,
		               rkm->err && rd_kafka_message_status(rkm) ==
		                                   RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct dapi_producer *p = opaque;
	char fatal[256];

	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
		atomic_store(&p->failed, true);
		DAPI_ERROR("kafka_fatal", "{s:s}", "detail", fatal);
		return;
	}
	DAPI_WARN("kafka_error", "{s:s, s:s}", "error", rd_kafka_err2name(err), "detail", reason);
}

static void *poll_loop(void *arg)
{
	struct dapi_producer *p = arg;
	while (!atomic_load(&p->stop))
		rd_kafka_poll(p->rk, 100);
	return NULL;
}

struct dapi_producer *dapi_producer_new(const struct dapi_producer_config *cfg, char *errstr,
                                        size_t errstr_size)
{
	char timeout[32], queue[32];
	struct dapi_producer *p = calloc(1, sizeof(*p));
	rd_kafka_conf_t *conf;

	if (!p) {
		snprintf(errstr, errstr_size, "out of memory");
		return NULL;
	}
	snprintf(timeout, sizeof(timeout), "%lld", (long long)cfg->delivery_timeout_ms);
	snprintf(queue, sizeof(queue), "%lld", (long long)cfg->queue_max);
	/* clang-format off */
	const char *const defaults[] = {
		"client.id",                    cfg->client_id,
		"enable.idempotence",           "true",
		"acks",                         "all",
		"partitioner",                  "murmur2_random",
		"message.timeout.ms",           timeout,
		"queue.buffering.max.messages", queue,
		"linger.ms",                    "1",  /* each request waits for it: 5 ms cost half the throughput */
		"socket.keepalive.enable",      "true",
		NULL,
	};
	/* clang-format on */
	conf = dapi_kafka_conf_new(cfg->brokers, defaults, cfg->props, errstr, errstr_size);
	if (!conf)
		goto fail;
	p->on_delivery = cfg->on_delivery;
	rd_kafka_conf_set_dr_msg_cb(conf, on_dr);
	rd_kafka_conf_set_error_cb(conf, on_error);
	rd_kafka_conf_set_opaque(conf, p);
	p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errstr_size);
	if (!p->rk) {
		rd_kafka_conf_destroy(conf);
		goto fail;
	}
	conf = NULL; /* now owned by rk */
	if (pthread_create(&p->poller, NULL, poll_loop, p) != 0) {
		snprintf(errstr, errstr_size, "cannot start the delivery report thread");
		rd_kafka_destroy(p->rk);
		goto fail;
	}
	return p;
fail:
	free(p);
	return NULL;
}

rd_kafka_resp_err_t dapi_producer_send(struct dapi_producer *p, const char *topic, const char *key,
                                       size_t key_len, void *value, size_t value_len,
                                       rd_kafka_headers_t *hdrs, void *opaque)
{
	rd_kafka_resp_err_t err;

	if (atomic_load(&p->failed)) {
		free(value);
		if (hdrs)
			rd_kafka_headers_destroy(hdrs);
		return RD_KAFKA_RESP_ERR__FATAL;
	}
	err = rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key_len),
	                        RD_KAFKA_V_VALUE(value, value_len),
	                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_HEADERS(hdrs),
	                        RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
	if (err) {
		/* On failure librdkafka took neither the value nor the headers. */
		free(value);
		if (hdrs)
			rd_kafka_headers_destroy(hdrs);
	}
	return err;
}

int dapi_producer_flush(struct dapi_producer *p, int timeout_ms)
{
	rd_kafka_flush(p->rk, timeout_ms);
	return rd_kafka_outq_len(p->rk);
}

bool dapi_producer_failed(const struct dapi_producer *p)
{
	return atomic_load(&p->failed);
}

rd_kafka_t *dapi_producer_handle(struct dapi_producer *p)
{
	return p->rk;
}

rd_kafka_resp_err_t dapi_producer_topic_check(struct dapi_producer *p, const char *topic,
                                              int timeout_ms)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(p->rk, topic, NULL);
	rd_kafka_resp_err_t err = rd_kafka_metadata(p->rk, 0, rkt, &md, timeout_ms);
	rd_kafka_topic_destroy(rkt);
	if (!err && md->topic_cnt == 1 && md->topics[0].err)
		err = md->topics[0].err;
	if (md)
		rd_kafka_metadata_destroy(md);
	return err;
}

void dapi_producer_destroy(struct dapi_producer *p, int timeout_ms)
{
	if (!p)
		return;
	atomic_store(&p->stop, true);
	pthread_join(p->poller, NULL);
	rd_kafka_flush(p->rk, timeout_ms);
	/* What could not be delivered in time still gets its report (_PURGE_*), so owners
	 * of the opaque pointers can release them. */
	rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_flush(p->rk, 1000);
	rd_kafka_destroy(p->rk);
	free(p);
}
