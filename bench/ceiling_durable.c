/* B1's durable ceiling: the least a server can do to answer POST /data only once the body is
 * in Kafka. libmicrohttpd in the ingress's mode (internal polling thread, epoll, a pool of
 * [threads], suspend/resume, 16 KiB a connection) and the ingress's own producer
 * (common/kafka: idempotent, acks=all, linger.ms=1, murmur2_random on the path's last
 * segment, so records land on the partitions the ingress would pick). Each request is
 * suspended, a fixed record is produced, and the delivery report resumes it: 202, or 503
 * when Kafka refused. No validation, authentication, metrics, sealing or logging.
 * Usage: dapi-ceiling-durable <port> <brokers> <topic> [threads]. Stops on SIGINT/SIGTERM. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "producer.h"

static volatile sig_atomic_t stop;
static struct dapi_producer *producer;
static const char *topic;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct req {
	struct MHD_Connection *conn;
	atomic_int state; /* 0 reading, 1 produced, 2 delivered, 3 failed */
};

static const char accepted[] = "{\"status\":\"accepted\"}";
static const char refused[] = "{\"error\":\"unavailable\"}";
static const char record[] = "{\"v\":1,\"type\":\"message\",\"eventId\":\"00000000-0000-4000-8000-"
                             "000000000000\",\"dialogId\":\"d\",\"customerId\":\"c\",\"text\":"
                             "\"hello, where is my parcel?\",\"language\":\"EN\","
                             "\"receivedAt\":\"2026-01-01T00:00:00.000Z\"}";

static void on_delivery(void *opaque, rd_kafka_resp_err_t err, bool maybe_stored)
{
	struct req *r = opaque;
	atomic_store(&r->state, err ? 3 : 2);
	MHD_resume_connection(r->conn);
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *body)
{
	struct MHD_Response *res =
	        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(res, "Content-Type", "application/json");
	enum MHD_Result rc = MHD_queue_response(conn, status, res);
	MHD_destroy_response(res);
	return rc;
}

static enum MHD_Result produce(struct MHD_Connection *conn, struct req *r, const char *url)
{
	const char *key = strrchr(url, '/');
	char *value = malloc(sizeof(record) - 1);
	if (!value)
		return reply(conn, 503, refused);
	memcpy(value, record, sizeof(record) - 1);
	key = key ? key + 1 : url;
	atomic_store(&r->state, 1);
	MHD_suspend_connection(conn); /* before producing: the report may come first */
	if (dapi_producer_send(producer, topic, key, strlen(key), value, sizeof(record) - 1, NULL,
	                       r)) {
		atomic_store(&r->state, 3);
		MHD_resume_connection(conn);
	}
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
	struct req *r = *req_cls;
	(void)cls, (void)method, (void)version, (void)upload_data;

	if (!r) { /* headers only: ask for the body */
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		r->conn = conn;
		*req_cls = r;
		return MHD_YES;
	}
	if (*upload_data_size > 0) { /* a chunk of body: discard it */
		*upload_data_size = 0;
		return MHD_YES;
	}
	switch (atomic_load(&r->state)) {
	case 0:
		return produce(conn, r, url);
	case 2:
		return reply(conn, 202, accepted);
	case 3:
		return reply(conn, 503, refused);
	default: /* resumed before the report: cannot happen, suspend again */
		MHD_suspend_connection(conn);
		return MHD_YES;
	}
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
	(void)cls, (void)conn, (void)toe;
	free(*req_cls);
	*req_cls = NULL;
}

static struct MHD_Daemon *listen_on(int port, int threads)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
	return MHD_start_daemon(
	        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME,
	        (uint16_t)port, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR,
	        (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
	        MHD_OPTION_CONNECTION_LIMIT, 1024u, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
	        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(threads > 1 ? threads : 0),
	        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16 * 1024, MHD_OPTION_END);
}

int main(int argc, char **argv)
{
	char errstr[512];
	if (argc < 4) {
		fprintf(stderr, "usage: %s <port> <brokers> <topic> [threads]\n", argv[0]);
		return 2;
	}
	topic = argv[3];
	struct dapi_producer_config cfg = { .brokers = argv[2],
		                            .delivery_timeout_ms =
		                                    5000, /* the ingress's --produce-timeout */
		                            .queue_max = 100000,
		                            .client_id = "dapi-ceiling-durable",
		                            .on_delivery = on_delivery };
	producer = dapi_producer_new(&cfg, errstr, sizeof(errstr));
	if (!producer) {
		fprintf(stderr, "producer: %s\n", errstr);
		return 1;
	}
	struct MHD_Daemon *d = listen_on(atoi(argv[1]), argc > 4 ? atoi(argv[4]) : 2);
	if (!d) {
		fprintf(stderr, "cannot listen on 127.0.0.1:%s\n", argv[1]);
		dapi_producer_destroy(producer, 0);
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	while (!stop)
		pause();
	MHD_stop_daemon(d);
	dapi_producer_destroy(producer, 5000);
	return 0;
}
