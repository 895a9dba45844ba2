/* A TCP relay on 127.0.0.1 for fault tests: forwards every connection to a target, and can
 * hold what clients send (the bytes wait in the relay's socket buffers, as on a link that
 * stalls) until released. Replies from the target are always forwarded. */
#ifndef DAPI_RELAY_H
#define DAPI_RELAY_H

#include <stdbool.h>

struct relay;

/* Listens on a free 127.0.0.1 port and forwards to host:port. NULL on failure. */
struct relay *relay_start(const char *host, int port);
/* The same on 127.0.0.1:listen_port (0: a free one). */
struct relay *relay_start_at(const char *host, int port, int listen_port);
int relay_port(const struct relay *r);
/* hold true: client bytes are no longer read (nor sent on); false: they flow again. */
void relay_hold(struct relay *r, bool hold);
/* Whether some client sent bytes that are being held right now. */
bool relay_holding_bytes(struct relay *r);
/* Closes every connection and the listener. NULL is a no-op. */
void relay_stop(struct relay *r);

#endif
