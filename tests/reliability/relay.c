#include "relay.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_PAIRS 64

struct relay {
	int listen_fd, port;
	struct sockaddr_in target;
	int client[MAX_PAIRS], server[MAX_PAIRS];
	int npairs;
	atomic_bool hold, stop, held_bytes;
	pthread_t thread;
};

static void close_pair(struct relay *r, int i)
{
	close(r->client[i]);
	close(r->server[i]);
	r->client[i] = r->client[--r->npairs];
	r->server[i] = r->server[r->npairs];
}

static void accept_one(struct relay *r)
{
	int c = accept(r->listen_fd, NULL, NULL), s;
	if (c < 0)
		return;
	s = socket(AF_INET, SOCK_STREAM, 0);
	if (r->npairs == MAX_PAIRS || s < 0 ||
	    connect(s, (struct sockaddr *)&r->target, sizeof(r->target)) != 0) {
		close(c);
		if (s >= 0)
			close(s);
		return;
	}
	r->client[r->npairs] = c;
	r->server[r->npairs++] = s;
}

/* Copies what is readable on from to to; false when either side is done. */
static bool pump(int from, int to)
{
	char buf[65536];
	ssize_t n = read(from, buf, sizeof(buf));
	if (n <= 0)
		return false;
	for (ssize_t off = 0; off < n;) {
		ssize_t w = write(to, buf + off, (size_t)(n - off));
		if (w <= 0)
			return false;
		off += w;
	}
	return true;
}

static void *relay_main(void *arg)
{
	struct relay *r = arg;
	struct pollfd fds[1 + 2 * MAX_PAIRS];

	while (!atomic_load(&r->stop)) {
		bool hold = atomic_load(&r->hold), held = false;
		int n = r->npairs;
		fds[0] = (struct pollfd){ .fd = r->listen_fd, .events = POLLIN };
		for (int i = 0; i < n; i++) {
			/* while holding, client bytes stay where they are */
			fds[1 + 2 * i] =
			        (struct pollfd){ .fd = hold ? -1 : r->client[i], .events = POLLIN };
			fds[2 + 2 * i] = (struct pollfd){ .fd = r->server[i], .events = POLLIN };
			if (hold) {
				int pending = 0;
				held |= ioctl(r->client[i], FIONREAD, &pending) == 0 && pending > 0;
			}
		}
		atomic_store(&r->held_bytes, held);
		if (poll(fds, (nfds_t)(1 + 2 * n), 20) <= 0)
			continue;
		for (int i = n - 1; i >= 0; i--) {
			bool ok = true;
			if (fds[1 + 2 * i].revents)
				ok = pump(r->client[i], r->server[i]);
			if (ok && fds[2 + 2 * i].revents)
				ok = pump(r->server[i], r->client[i]);
			if (!ok)
				close_pair(r, i);
		}
		if (fds[0].revents & POLLIN)
			accept_one(r);
	}
	return NULL;
}

struct relay *relay_start(const char *host, int port)
{
	return relay_start_at(host, port, 0);
}

struct relay *relay_start_at(const char *host, int port, int listen_port)
{
	struct relay *r = calloc(1, sizeof(*r));
	struct sockaddr_in addr = { .sin_family = AF_INET,
		                    .sin_port = htons((uint16_t)listen_port) };
	int one = 1;
	socklen_t len = sizeof(addr);

	if (!r)
		return NULL;
	r->target.sin_family = AF_INET;
	r->target.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, host, &r->target.sin_addr);
	inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
	r->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (r->listen_fd >= 0)
		setsockopt(r->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (r->listen_fd < 0 || bind(r->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
	    listen(r->listen_fd, 16) != 0 ||
	    getsockname(r->listen_fd, (struct sockaddr *)&addr, &len) != 0 ||
	    pthread_create(&r->thread, NULL, relay_main, r) != 0) {
		if (r->listen_fd >= 0)
			close(r->listen_fd);
		free(r);
		return NULL;
	}
	r->port = ntohs(addr.sin_port);
	return r;
}

int relay_port(const struct relay *r)
{
	return r->port;
}

void relay_hold(struct relay *r, bool hold)
{
	atomic_store(&r->hold, hold);
}

bool relay_holding_bytes(struct relay *r)
{
	return atomic_load(&r->held_bytes);
}

void relay_stop(struct relay *r)
{
	if (!r)
		return;
	atomic_store(&r->stop, true);
	pthread_join(r->thread, NULL);
	while (r->npairs > 0)
		close_pair(r, 0);
	close(r->listen_fd);
	free(r);
}
