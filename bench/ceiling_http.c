/* B1's ceiling: the least a libmicrohttpd server can do for POST /data. Same threading mode
 * and connection memory as dataapi-ingress (internal polling thread, epoll, a pool of
 * --threads, 16 KiB a connection), reads and discards the body, answers a fixed 202 with a
 * small JSON body. No validation, no Kafka.
 * Usage: dapi-ceiling-http <port> [threads]. Stops on SIGINT/SIGTERM. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static const char answer[] = "{\"status\":\"accepted\"}";

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
	static int seen;
	struct MHD_Response *res;
	enum MHD_Result rc;
	(void)cls, (void)url, (void)method, (void)version, (void)upload_data;

	if (*req_cls == NULL) { /* headers only: ask for the body */
		*req_cls = &seen;
		return MHD_YES;
	}
	if (*upload_data_size > 0) { /* a chunk of body: discard it */
		*upload_data_size = 0;
		return MHD_YES;
	}
	res = MHD_create_response_from_buffer(sizeof(answer) - 1, (void *)answer,
	                                      MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(res, "Content-Type", "application/json");
	rc = MHD_queue_response(conn, 202, res);
	MHD_destroy_response(res);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s <port> [threads]\n", argv[0]);
		return 2;
	}
	int port = atoi(argv[1]), threads = argc > 2 ? atoi(argv[2]) : 2;
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
	struct MHD_Daemon *d = MHD_start_daemon(
	        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, (uint16_t)port, NULL, NULL,
	        on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
	        MHD_OPTION_CONNECTION_LIMIT, 1024u, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
	        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(threads > 1 ? threads : 0),
	        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16 * 1024, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "cannot listen on 127.0.0.1:%d\n", port);
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	while (!stop)
		pause();
	MHD_stop_daemon(d);
	return 0;
}
