/* HTTP server glue over libmicrohttpd: a static routing table (404, 405 + Allow), request
 * bodies accumulated up to a cap (413 without buffering the rest), the Content-Type rule
 * (415), JSON reply helpers, and suspend/resume for handlers that wait on something. */
#ifndef DAPI_HTTP_H
#define DAPI_HTTP_H

#include <jansson.h>
#include <microhttpd.h>

#include "auth.h"
#include <stdbool.h>
#include <stddef.h>

struct dapi_http_req;
struct dapi_http_server;

/* Called once the whole request is in (and again after each resume). Must either queue a
 * reply with one of the dapi_http_reply* helpers or suspend the request, and return what
 * that helper returned (MHD_YES after a suspend). */
typedef enum MHD_Result (*dapi_http_handler)(struct dapi_http_req *r, void *app);

enum dapi_http_route_flags {
	DAPI_ROUTE_BODY = 1, /* takes a JSON body: Content-Type and size rules apply */
	/* With BODY: takes NDJSON (POST /batch): application/x-ndjson is accepted too, the
	 * cap is bulk_body_max, and the bytes count against the server's bulk_budget. */
	DAPI_ROUTE_BULK = 2,
};

struct dapi_http_route {
	const char *method;
	const char *path; /* segments; "*" matches exactly one segment and is captured */
	dapi_http_handler handler;
	int flags;
	enum dapi_role role; /* what the Bearer token must grant; PUBLIC for none */
};

#define DAPI_HTTP_MAX_PARAMS 4

struct dapi_http_config {
	const char *bind_addr; /* IPv4 address to listen on */
	int port;
	/* 1 = one internal epoll thread; more = a thread pool of that many; 0 = a thread for
	 * each connection, for handlers that block (the query service's database calls): a
	 * slow request then holds only its own connection, never /healthz's. No suspend. */
	int threads;
	int conn_timeout_s;   /* idle connection timeout */
	int conn_limit;       /* concurrent connections */
	int per_ip_limit;     /* concurrent connections per client address, 0 = none */
	size_t body_max;      /* bytes; larger bodies get 413 */
	size_t bulk_body_max; /* the same for DAPI_ROUTE_BULK routes */
	/* Bytes of bulk bodies held at once by the whole server; a body that would go over
	 * is read and dropped, and answered 503 (0: bulk_body_max, one at a time). */
	size_t bulk_budget;
	void (*state_free)(void *state); /* frees dapi_http_state(), may be NULL */
	const struct dapi_auth *auth;    /* NULL: every route is public (--no-auth) */
};

/* The route for (method, path) among routes, or NULL. On a match, params receive the
 * "*" segments (malloc'd; the caller frees them); on a miss, allow lists the methods the
 * path does have (empty: 404), truncated to allow_size. A trailing slash is ignored. */
const struct dapi_http_route *dapi_http_route_find(const struct dapi_http_route *routes,
                                                   size_t nroutes, const char *method,
                                                   const char *path, char **params, char *allow,
                                                   size_t allow_size);

/* Whether a Content-Type is JSON: "application/json" in any case, optionally with
 * parameters; a missing one (NULL) is accepted. With ndjson, "application/x-ndjson" is
 * too. */
bool dapi_http_content_type_ok(const char *ct, bool ndjson);

/* Starts listening. Returns NULL with errstr on failure. routes must outlive the server. */
struct dapi_http_server *dapi_http_server_new(const struct dapi_http_config *cfg,
                                              const struct dapi_http_route *routes, size_t nroutes,
                                              void *app, char *errstr, size_t errstr_size);
/* Stops accepting new connections. Requests already under way are served; a new request
 * on a kept-alive connection gets 503 (shutting_down) and Connection: close. */
void dapi_http_server_quiesce(struct dapi_http_server *s);
/* Stops the server. No request may be suspended any more. NULL is a no-op. */
void dapi_http_server_destroy(struct dapi_http_server *s);
/* The port actually bound (useful with port 0). */
int dapi_http_server_port(const struct dapi_http_server *s);

/* Request accessors. Strings live as long as the request. */
const char *dapi_http_method(const struct dapi_http_req *r);
const char *dapi_http_path(const struct dapi_http_req *r);
const char *dapi_http_param(const struct dapi_http_req *r, int i);
const char *dapi_http_body(const struct dapi_http_req *r, size_t *len);
const char *dapi_http_header(const struct dapi_http_req *r, const char *name);
/* Handler-owned slot, freed by cfg->state_free when the request completes. */
void **dapi_http_state(struct dapi_http_req *r);

/* Calls fn for each query-string argument in order; stops early when fn returns false.
 * value is NULL for "?key" without "=". */
void dapi_http_each_query(struct dapi_http_req *r,
                          bool (*fn)(void *cls, const char *key, const char *value), void *cls);

/* Suspends the request until dapi_http_resume; the handler runs again then. */
void dapi_http_suspend(struct dapi_http_req *r);
/* Thread-safe: may be called from any thread, once per suspend. */
void dapi_http_resume(struct dapi_http_req *r);

/* Replies. json bodies are stolen (decref'd) whatever the outcome. */
enum MHD_Result dapi_http_reply_json(struct dapi_http_req *r, unsigned status, json_t *body);
/* The same for JSON already written (malloc'd text of len bytes, freed whatever the outcome;
 * NULL, as out of memory, closes the connection). */
enum MHD_Result dapi_http_reply_json_text(struct dapi_http_req *r, unsigned status, char *text,
                                          size_t len);
/* The same with Retry-After: retry_after_s seconds (none when 0). */
enum MHD_Result dapi_http_reply_json_text_retry(struct dapi_http_req *r, unsigned status,
                                                char *text, size_t len, int retry_after_s);
enum MHD_Result dapi_http_reply_error(struct dapi_http_req *r, unsigned status, const char *code,
                                      const char *message, const char *field);
/* An error reply with Retry-After: retry_after_s seconds. */
enum MHD_Result dapi_http_reply_error_retry(struct dapi_http_req *r, unsigned status,
                                            const char *code, const char *message,
                                            int retry_after_s);
/* 503 with Retry-After. */
enum MHD_Result dapi_http_reply_unavailable(struct dapi_http_req *r, const char *message,
                                            int retry_after_s);
/* Queues a prepared response (adds the common headers) and destroys it. */
enum MHD_Result dapi_http_reply(struct dapi_http_req *r, unsigned status,
                                struct MHD_Response *resp);

/* GET /healthz: the process is alive. */
enum MHD_Result dapi_http_handle_healthz(struct dapi_http_req *r, void *app);

/* GET /metrics: the process's metrics registry in Prometheus text format. */
enum MHD_Result dapi_http_handle_metrics(struct dapi_http_req *r, void *app);

/* 200 with len bytes of data that live as long as the process (a document compiled in),
 * as content_type. */
enum MHD_Result dapi_http_reply_static(struct dapi_http_req *r, const char *content_type,
                                       const char *data, size_t len);

#endif
