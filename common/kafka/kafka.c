#include "kafka.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

static void on_kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	/* syslog levels: 0-3 error, 4 warning, 5-6 info, 7 debug */
	int lvl = level <= 3   ? DAPI_LOG_ERROR
	          : level == 4 ? DAPI_LOG_WARN
	          : level <= 6 ? DAPI_LOG_INFO
	                       : DAPI_LOG_DEBUG;
	DAPI_LOG(lvl, "kafka", "{s:s, s:s, s:s}", "client", rd_kafka_name(rk), "facility", fac,
	         "detail", buf);
}

int dapi_kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *errstr,
                        size_t errstr_size)
{
	char kerr[256];
	if (rd_kafka_conf_set(conf, name, value, kerr, sizeof(kerr)) != RD_KAFKA_CONF_OK) {
		snprintf(errstr, errstr_size, "kafka property %s: %s", name, kerr);
		return -1;
	}
	return 0;
}

rd_kafka_conf_t *dapi_kafka_conf_new(const char *brokers, const char *const *defaults,
                                     const struct dapi_props *props, char *errstr,
                                     size_t errstr_size)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();

	rd_kafka_conf_set_log_cb(conf, on_kafka_log);
	if (dapi_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, errstr_size) < 0)
		goto fail;
	for (int i = 0; defaults && defaults[i]; i += 2)
		if (dapi_kafka_conf_set(conf, defaults[i], defaults[i + 1], errstr, errstr_size) <
		    0)
			goto fail;
	for (int i = 0; props && i < props->n; i++) {
		char name[256];
		const char *eq = strchr(props->items[i], '=');
		snprintf(name, sizeof(name), "%.*s", (int)(eq - props->items[i]), props->items[i]);
		if (dapi_kafka_conf_set(conf, name, eq + 1, errstr, errstr_size) < 0)
			goto fail;
	}
	return conf;
fail:
	rd_kafka_conf_destroy(conf);
	return NULL;
}

int dapi_kafka_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms, char *errstr,
                               size_t errstr_size)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
	int n = -1;
	rd_kafka_topic_destroy(rkt);
	if (!err && md->topic_cnt == 1 && !md->topics[0].err)
		n = md->topics[0].partition_cnt;
	else
		snprintf(errstr, errstr_size, "no metadata for topic %s: %s", topic,
		         rd_kafka_err2str(err                  ? err
		                          : md->topic_cnt == 1 ? md->topics[0].err
		                                               : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
	if (md)
		rd_kafka_metadata_destroy(md);
	return n;
}
