/* The options every HTTP service takes (listening, connection limits, authentication) as
 * config table rows, and what they build. */
#ifndef DAPI_HTTP_OPTIONS_H
#define DAPI_HTTP_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "auth.h"
#include "config.h"
#include "http.h"

/* clang-format off */
struct dapi_service_opts {
	const char *bind;
	int64_t port, threads, conn_timeout_s, conn_limit, per_ip_limit;
};

/* Table rows for the options of an HTTP service. The per-address limit is on by default
 * so that one client (say, slowloris connections that never show a token) cannot take
 * every slot; behind a proxy every request comes from the proxy's address: raise it
 * there (docker-compose.yml, deploy/k8s). */
#define DAPI_OPT_HTTP(o, default_port)                                                     \
	{"bind", 0, "BIND_ADDR", DAPI_OPT_STRING, &(o).bind, "127.0.0.1", 0, 0,            \
	 "IPv4 address to listen on (0.0.0.0 for all)"},                                   \
	{"port", 0, "PORT", DAPI_OPT_INT, &(o).port, default_port, 0, 65535, "HTTP port"}, \
	{"conn-timeout", 0, "CONN_TIMEOUT", DAPI_OPT_INT, &(o).conn_timeout_s, "30", 1,    \
	 3600, "Seconds before an idle or stalled connection is closed"},                  \
	{"max-connections", 0, "MAX_CONNECTIONS", DAPI_OPT_INT, &(o).conn_limit, "1024",   \
	 1, 100000, "Concurrent connections"},                                             \
	{"max-connections-per-ip", 0, "MAX_CONNECTIONS_PER_IP", DAPI_OPT_INT,              \
	 &(o).per_ip_limit, "64", 0, 100000,                                               \
	 "Concurrent connections per client address (0: no limit)"}

/* The HTTP thread pool, for services whose handlers never block (the ingress). A service
 * without it gets a thread per connection (threads 0). */
#define DAPI_OPT_HTTP_THREADS(o)                                                           \
	{"http-threads", 0, "HTTP_THREADS", DAPI_OPT_INT, &(o).threads, "2", 1, 64,        \
	 "HTTP worker threads"}

struct dapi_auth_opts {
	const char *tokens_file, *tokens;
	bool no_auth;
};

/* Table rows for authentication. --no-auth has no environment variable: turning
 * authentication off takes an explicit flag. */
#define DAPI_OPT_AUTH(o)                                                                   \
	{"tokens-file", 0, "AUTH_TOKENS_FILE", DAPI_OPT_STRING, &(o).tokens_file, "", 0, 0, \
	 "File of \"<role>[,<role>] <sha256 hex of token>\" lines (roles: writer, reader)"},  \
	{"tokens", 0, "AUTH_TOKENS", DAPI_OPT_STRING, &(o).tokens, "", 0, 0,               \
	 "Tokens as role:token or role:sha256:<hex>, ';'-separated (prefer the env or file)"}, \
	{"no-auth", 0, NULL, DAPI_OPT_BOOL, &(o).no_auth, "false", 0, 0,                   \
	 "Serve without authentication (only when no token is configured)"}
/* clang-format on */

/* Builds the token set. Returns 0 with *auth (NULL under --no-auth), or -1 with errstr:
 * a bad file or entry, tokens together with --no-auth, or no tokens without --no-auth. */
int dapi_service_auth_load(const struct dapi_auth_opts *o, struct dapi_auth **auth, char *errstr,
                           size_t errstr_size);

/* Copies the service options into an HTTP server configuration. */
void dapi_service_http_config(const struct dapi_service_opts *o, struct dapi_http_config *cfg);

#endif
