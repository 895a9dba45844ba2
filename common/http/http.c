#include "http.h"

#include <arpa/inet.h>
#include <stdatomic.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "procstat.h"
#include "timefmt.h"

struct dapi_http_server {
	struct MHD_Daemon *daemon;
	atomic_bool draining;    /* quiesced: new requests get 503 and Connection: close */
	atomic_size_t bulk_held; /* bytes of bulk bodies held, against cfg.bulk_budget */
	const struct dapi_http_route *routes;
	size_t nroutes;
	void *app;
	struct dapi_http_config cfg;
};

struct dapi_http_req {
	struct dapi_http_server *server;
	struct MHD_Connection *conn;
	const char *method;
	const char *path;
	const struct dapi_http_route *route;
	char *params[DAPI_HTTP_MAX_PARAMS];
	char *body;
	size_t body_len;
	bool too_large;
	bool too_busy;    /* a bulk body over the server's budget: 503 */
	size_t bulk_held; /* this request's share of server->bulk_held */
	void *state;
	enum {
		REFUSE_NONE,
		REFUSE_NOT_FOUND,
		REFUSE_METHOD,
		REFUSE_UNAUTHORIZED,
		REFUSE_FORBIDDEN,
		REFUSE_DRAINING,
		REFUSE_MEDIA_TYPE,
	} refusal;        /* decided from the headers, answered after the body */
	char allow[64];   /* for REFUSE_METHOD */
	size_t discarded; /* body bytes read but not kept */
	unsigned status;  /* what was queued, for metrics */
	int64_t started_ms;
};

static struct dapi_family *m_requests, *m_duration;
static struct dapi_series *m_in_flight;

/* ---- routing ---------------------------------------------------------------------- */

/* The segment "/name" at *at (before end): its name; *at moves past it. */
static bool next_segment(const char **at, const char *end, const char **name, size_t *len)
{
	if (*at >= end || **at != '/')
		return false;
	*name = *at + 1;
	const char *slash = memchr(*name, '/', (size_t)(end - *name));
	*len = (size_t)((slash ? slash : end) - *name);
	*at = *name + *len;
	return true;
}

/* One path segment against one pattern segment; a "*" captures it into params[*np] (when
 * params is not NULL). */
static bool segment_matches(const char *pseg, size_t plen, const char *useg, size_t ulen,
                            char **params, int *np)
{
	if (plen != 1 || *pseg != '*')
		return plen == ulen && memcmp(pseg, useg, ulen) == 0;
	if (ulen == 0 || *np >= DAPI_HTTP_MAX_PARAMS)
		return false;
	if (params)
		params[*np] = strndup(useg, ulen);
	(*np)++;
	return true;
}

/* Matches path against a pattern segment by segment; captures "*" segments into params
 * when params is not NULL. A single trailing slash on the path is ignored. */
static bool path_matches(const char *pattern, const char *path, char **params)
{
	const char *p = pattern, *pend = pattern + strlen(pattern);
	const char *u = path, *uend = path + strlen(path);
	const char *pseg, *useg;
	size_t plen, ulen;
	int np = 0;
	bool ok = true;

	if (uend - path > 1 && uend[-1] == '/')
		uend--;
	while (ok && p < pend && u < uend)
		ok = next_segment(&p, pend, &pseg, &plen) && next_segment(&u, uend, &useg, &ulen) &&
		     segment_matches(pseg, plen, useg, ulen, params, &np);
	if (ok && p == pend && u == uend)
		return true;
	for (int i = 0; params && i < np; i++) {
		free(params[i]);
		params[i] = NULL;
	}
	return false;
}

const struct dapi_http_route *dapi_http_route_find(const struct dapi_http_route *routes,
                                                   size_t nroutes, const char *method,
                                                   const char *path, char **params, char *allow,
                                                   size_t allow_size)
{
	allow[0] = '\0';
	for (size_t i = 0; i < nroutes; i++) {
		const struct dapi_http_route *rt = &routes[i];
		if (!path_matches(rt->path, path, NULL))
			continue;
		if (!strcmp(rt->method, method)) {
			path_matches(rt->path, path, params);
			return rt;
		}
		if (!strstr(allow, rt->method)) {
			size_t used = strlen(allow);
			snprintf(allow + used, allow_size - used, "%s%s", used ? ", " : "",
			         rt->method);
		}
	}
	return NULL;
}

/* ---- replies ---------------------------------------------------------------------- */

enum MHD_Result dapi_http_reply(struct dapi_http_req *r, unsigned status, struct MHD_Response *resp)
{
	enum MHD_Result ret;
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	r->status = status;
	ret = MHD_queue_response(r->conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* A JSON response that takes over text (malloc'd, len bytes); NULL when text is NULL. */
static struct MHD_Response *json_text_response(char *text, size_t len)
{
	struct MHD_Response *resp;
	if (!text)
		return NULL;
	resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return NULL;
	}
	MHD_add_response_header(resp, "Content-Type", "application/json");
	return resp;
}

static struct MHD_Response *json_response(json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(body);
	return json_text_response(text, text ? strlen(text) : 0);
}

enum MHD_Result dapi_http_reply_json(struct dapi_http_req *r, unsigned status, json_t *body)
{
	return dapi_http_reply(r, status, json_response(body));
}

enum MHD_Result dapi_http_reply_json_text(struct dapi_http_req *r, unsigned status, char *text,
                                          size_t len)
{
	return dapi_http_reply_json_text_retry(r, status, text, len, 0);
}

/* Adds Retry-After: secs to resp (when there is one). */
static struct MHD_Response *with_retry_after(struct MHD_Response *resp, int secs)
{
	char text[16];
	if (resp) {
		snprintf(text, sizeof(text), "%d", secs);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, text);
	}
	return resp;
}

enum MHD_Result dapi_http_reply_json_text_retry(struct dapi_http_req *r, unsigned status,
                                                char *text, size_t len, int retry_after_s)
{
	struct MHD_Response *resp = json_text_response(text, len);
	return dapi_http_reply(r, status,
	                       retry_after_s > 0 ? with_retry_after(resp, retry_after_s) : resp);
}

static json_t *error_body(const char *code, const char *message, const char *field)
{
	json_t *err = json_pack("{s:s, s:s}", "code", code, "message", message);
	if (err && field)
		json_object_set_new(err, "field", json_string(field));
	return json_pack("{s:o}", "error", err);
}

enum MHD_Result dapi_http_reply_error(struct dapi_http_req *r, unsigned status, const char *code,
                                      const char *message, const char *field)
{
	return dapi_http_reply(r, status, json_response(error_body(code, message, field)));
}

enum MHD_Result dapi_http_reply_error_retry(struct dapi_http_req *r, unsigned status,
                                            const char *code, const char *message,
                                            int retry_after_s)
{
	return dapi_http_reply(
	        r, status,
	        with_retry_after(json_response(error_body(code, message, NULL)), retry_after_s));
}

enum MHD_Result dapi_http_reply_unavailable(struct dapi_http_req *r, const char *message,
                                            int retry_after_s)
{
	return dapi_http_reply_error_retry(r, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", message,
	                                   retry_after_s);
}

static enum MHD_Result reply_405(struct dapi_http_req *r, const char *allow)
{
	struct MHD_Response *resp = json_response(
	        error_body("method_not_allowed", "method not allowed on this path", NULL));
	if (resp)
		MHD_add_response_header(resp, "Allow", allow);
	return dapi_http_reply(r, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
}

static enum MHD_Result reply_401(struct dapi_http_req *r)
{
	struct MHD_Response *resp = json_response(error_body(
	        "unauthorized", "a valid Authorization: Bearer <token> header is required", NULL));
	if (resp)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	return dapi_http_reply(r, MHD_HTTP_UNAUTHORIZED, resp);
}

enum MHD_Result dapi_http_handle_healthz(struct dapi_http_req *r, void *app)
{
	return dapi_http_reply_json(r, MHD_HTTP_OK, json_pack("{s:s}", "status", "ok"));
}

enum MHD_Result dapi_http_handle_metrics(struct dapi_http_req *r, void *app)
{
	size_t len;
	dapi_procstat_update_metrics();
	char *text = dapi_metrics_render(&len);
	struct MHD_Response *resp;
	if (!text)
		return dapi_http_reply_unavailable(r, "out of memory", 1);
	resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	return dapi_http_reply(r, MHD_HTTP_OK, resp);
}

enum MHD_Result dapi_http_reply_static(struct dapi_http_req *r, const char *content_type,
                                       const char *data, size_t len)
{
	struct MHD_Response *resp =
	        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", content_type);
	return dapi_http_reply(r, MHD_HTTP_OK, resp);
}

/* Records one finished request. Methods outside the usual set are folded into "other" so
 * clients cannot grow the label set. */
static void count_request(const struct dapi_http_req *r)
{
	static const char *const known[] = { "GET",  "POST",  "PUT",    "DELETE",
		                             "HEAD", "PATCH", "OPTIONS" };
	const char *method = "other";
	char labels[160];

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(r->method, known[i]))
			method = known[i];
	snprintf(labels, sizeof(labels), "route=\"%s\",method=\"%s\",status=\"%u\"",
	         r->route ? r->route->path : "unmatched", method, r->status);
	dapi_metrics_inc(m_requests, labels, 1);
	snprintf(labels, sizeof(labels), "route=\"%s\"", r->route ? r->route->path : "unmatched");
	dapi_metrics_observe(m_duration, labels,
	                     (double)(dapi_time_mono_ms() - r->started_ms) / 1000.0);
}

/* ---- accessors -------------------------------------------------------------------- */

const char *dapi_http_method(const struct dapi_http_req *r)
{
	return r->method;
}
const char *dapi_http_path(const struct dapi_http_req *r)
{
	return r->path;
}
void **dapi_http_state(struct dapi_http_req *r)
{
	return &r->state;
}

const char *dapi_http_param(const struct dapi_http_req *r, int i)
{
	return i >= 0 && i < DAPI_HTTP_MAX_PARAMS ? r->params[i] : NULL;
}

const char *dapi_http_body(const struct dapi_http_req *r, size_t *len)
{
	*len = r->body_len;
	return r->body ? r->body : "";
}

const char *dapi_http_header(const struct dapi_http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

struct query_iter {
	bool (*fn)(void *cls, const char *key, const char *value);
	void *cls;
};

static enum MHD_Result query_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
	struct query_iter *it = cls;
	return it->fn(it->cls, key, value) ? MHD_YES : MHD_NO;
}

void dapi_http_each_query(struct dapi_http_req *r,
                          bool (*fn)(void *cls, const char *key, const char *value), void *cls)
{
	struct query_iter it = { fn, cls };
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, query_cb, &it);
}

void dapi_http_suspend(struct dapi_http_req *r)
{
	MHD_suspend_connection(r->conn);
}
void dapi_http_resume(struct dapi_http_req *r)
{
	MHD_resume_connection(r->conn);
}

/* ---- request life cycle ----------------------------------------------------------- */

/* Whether ct's media type is type (in any case, parameters allowed). */
static bool media_type_is(const char *ct, const char *type)
{
	size_t n = strlen(type);
	while (*ct == ' ')
		ct++;
	if (strncasecmp(ct, type, n) != 0)
		return false;
	ct += n;
	while (*ct == ' ')
		ct++;
	return *ct == '\0' || *ct == ';';
}

bool dapi_http_content_type_ok(const char *ct, bool ndjson)
{
	return !ct || media_type_is(ct, "application/json") ||
	       (ndjson && media_type_is(ct, "application/x-ndjson"));
}

/* Judges what the headers alone decide: the route (404, 405), the token (401, 403) and the
 * Content-Type (415). The answer waits until the body has been read (and discarded): a
 * client still sending its body when the server answers and closes may see a reset
 * instead of the answer. */
static void judge_headers(struct dapi_http_req *r)
{
	/* A request that arrives on a kept-alive connection after the drain began is not
	 * started: the process is about to exit. */
	if (atomic_load(&r->server->draining)) {
		r->refusal = REFUSE_DRAINING;
		return;
	}
	r->route = dapi_http_route_find(r->server->routes, r->server->nroutes, r->method, r->path,
	                                r->params, r->allow, sizeof(r->allow));
	if (!r->route) {
		r->refusal = r->allow[0] ? REFUSE_METHOD : REFUSE_NOT_FOUND;
		return;
	}
	if (r->route->role != DAPI_ROLE_PUBLIC && r->server->cfg.auth) {
		switch (dapi_auth_check(r->server->cfg.auth,
		                        dapi_http_header(r, MHD_HTTP_HEADER_AUTHORIZATION),
		                        r->route->role)) {
		case DAPI_AUTH_OK:
			break;
		case DAPI_AUTH_FORBIDDEN:
			r->refusal = REFUSE_FORBIDDEN;
			return;
		default:
			r->refusal = REFUSE_UNAUTHORIZED;
			return;
		}
	}
	if ((r->route->flags & DAPI_ROUTE_BODY) &&
	    !dapi_http_content_type_ok(dapi_http_header(r, MHD_HTTP_HEADER_CONTENT_TYPE),
	                               r->route->flags & DAPI_ROUTE_BULK))
		r->refusal = REFUSE_MEDIA_TYPE;
}

/* 503 and the connection closed after it, so the client's next request goes elsewhere. */
static enum MHD_Result reply_draining(struct dapi_http_req *r)
{
	struct MHD_Response *resp = json_response(json_pack(
	        "{s:{s:s, s:s}}", "error", "code", "shutting_down", "message",
	        "the service is shutting down; retry (another instance, or this one restarted)"));
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	return dapi_http_reply(r, MHD_HTTP_SERVICE_UNAVAILABLE, resp);
}

static enum MHD_Result reply_refusal(struct dapi_http_req *r)
{
	switch (r->refusal) {
	case REFUSE_NOT_FOUND:
		return dapi_http_reply_error(r, MHD_HTTP_NOT_FOUND, "not_found", "no such route",
		                             NULL);
	case REFUSE_METHOD:
		return reply_405(r, r->allow);
	case REFUSE_UNAUTHORIZED:
		return reply_401(r);
	case REFUSE_FORBIDDEN:
		return dapi_http_reply_error(r, MHD_HTTP_FORBIDDEN, "forbidden",
		                             "the token lacks the role this route needs", NULL);
	case REFUSE_DRAINING:
		return reply_draining(r);
	default:
		return dapi_http_reply_error(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
		                             "unsupported_media_type",
		                             r->route->flags & DAPI_ROUTE_BULK
		                                     ? "Content-Type must be application/x-ndjson "
		                                       "(or application/json)"
		                                     : "Content-Type must be application/json",
		                             NULL);
	}
}

/* The largest body the request's route takes. */
static size_t body_cap(const struct dapi_http_req *r)
{
	return r->route->flags & DAPI_ROUTE_BULK ? r->server->cfg.bulk_body_max
	                                         : r->server->cfg.body_max;
}

/* A declared length over the cap is answered at once: reading it would take as long as
 * the client wants. */
static bool declared_too_large(struct dapi_http_req *r)
{
	const char *len = dapi_http_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
	return len && strtoull(len, NULL, 10) > body_cap(r);
}

/* Drops what the request holds of its body. */
static void drop_body(struct dapi_http_req *r)
{
	atomic_fetch_sub(&r->server->bulk_held, r->bulk_held);
	r->bulk_held = 0;
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
}

/* Takes size more bytes of a bulk body from the server's budget; false when they do not
 * fit. */
static bool hold_bulk(struct dapi_http_req *r, size_t size)
{
	struct dapi_http_server *s = r->server;
	size_t budget = s->cfg.bulk_budget ? s->cfg.bulk_budget : s->cfg.bulk_body_max;
	if (atomic_fetch_add(&s->bulk_held, size) + size > budget) {
		atomic_fetch_sub(&s->bulk_held, size);
		return false;
	}
	r->bulk_held += size;
	return true;
}

static void append_body(struct dapi_http_req *r, const char *data, size_t size)
{
	char *grown;

	if (r->refusal || r->too_large || r->too_busy || !(r->route->flags & DAPI_ROUTE_BODY))
		return; /* discarded, never buffered (a refused request may have no route) */
	if (size > body_cap(r) - r->body_len) {
		r->too_large = true;
		drop_body(r);
		return;
	}
	if ((r->route->flags & DAPI_ROUTE_BULK) && !hold_bulk(r, size)) {
		r->too_busy = true;
		drop_body(r);
		return;
	}
	grown = realloc(r->body, r->body_len + size + 1);
	if (!grown) {
		r->too_large = true;
		return;
	}
	r->body = grown;
	memcpy(r->body + r->body_len, data, size);
	r->body_len += size;
	r->body[r->body_len] = '\0';
}

/* A piece of the body: kept, or counted and dropped when the request will be refused
 * (then a client sending far more than the cap is cut off). */
static enum MHD_Result take_upload(struct dapi_http_req *r, const char *data, size_t *size)
{
	if (r->refusal || r->too_large || r->too_busy || !r->route ||
	    !(r->route->flags & DAPI_ROUTE_BODY)) {
		r->discarded += *size;
		if (r->discarded > (r->route ? body_cap(r) : r->server->cfg.body_max) + 65536)
			return MHD_NO; /* not worth reading any further: close */
	}
	append_body(r, data, *size);
	*size = 0;
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
	struct dapi_http_server *s = cls;
	struct dapi_http_req *r = *req_cls;

	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		r->server = s;
		r->conn = conn;
		r->method = method;
		r->path = url;
		r->started_ms = dapi_time_mono_ms();
		*req_cls = r;
		dapi_series_add(m_in_flight, 1);
		judge_headers(r);
		if (!r->refusal && (r->route->flags & DAPI_ROUTE_BODY) && declared_too_large(r))
			return dapi_http_reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE,
			                             "body_too_large",
			                             "request body is over the size limit", NULL);
		return MHD_YES;
	}
	if (*upload_data_size)
		return take_upload(r, upload_data, upload_data_size);
	if (r->refusal)
		return reply_refusal(r);
	if (r->too_large)
		return dapi_http_reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "body_too_large",
		                             "request body is over the size limit", NULL);
	if (r->too_busy)
		return dapi_http_reply_unavailable(
		        r, "too many bulk requests are being read at once; retry", 1);
	return r->route->handler(r, s->app);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct dapi_http_server *s = cls;
	struct dapi_http_req *r = *req_cls;

	if (!r)
		return;
	count_request(r);
	dapi_series_add(m_in_flight, -1);
	if (r->state && s->cfg.state_free)
		s->cfg.state_free(r->state);
	for (int i = 0; i < DAPI_HTTP_MAX_PARAMS; i++)
		free(r->params[i]);
	drop_body(r);
	free(r);
	*req_cls = NULL;
}

static void on_mhd_error(void *cls, const char *fmt, va_list ap)
{
	char msg[256];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	DAPI_WARN("http_server_error", "{s:s}", "detail", msg);
}

/* Each connection's buffer for request headers and reads (MHD's default is 32 KiB). MHD clears
 * it for every request on a kept-alive connection, 48 KiB of writes a request at 32 KiB;
 * bodies are copied out as they arrive, so only the headers need to fit. */
#define DAPI_HTTP_CONN_MEMORY (16 * 1024)

struct dapi_http_server *dapi_http_server_new(const struct dapi_http_config *cfg,
                                              const struct dapi_http_route *routes, size_t nroutes,
                                              void *app, char *errstr, size_t errstr_size)
{
	struct dapi_http_server *s = calloc(1, sizeof(*s));
	struct sockaddr_in addr = { 0 };
	unsigned flags = cfg->threads > 0
	                         ? MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	                                   MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG
	                         : MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
	                                   MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
	/* A pool only for more than one thread (a pool of 0 draws a warning from MHD). */
	struct MHD_OptionItem pool[] = {
		{ cfg->threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END,
		  (intptr_t)cfg->threads, NULL },
		{ MHD_OPTION_END, 0, NULL },
	};

	if (!s) {
		snprintf(errstr, errstr_size, "out of memory");
		return NULL;
	}
	m_requests = dapi_metrics_family("dataapi_http_requests_total",
	                                 "HTTP requests answered, by route, method and status",
	                                 DAPI_COUNTER, NULL, 0);
	m_duration =
	        dapi_metrics_family("dataapi_http_request_duration_seconds",
	                            "Time from the request's headers to its completion",
	                            DAPI_HISTOGRAM, dapi_latency_buckets, dapi_latency_nbuckets);
	m_in_flight = dapi_metrics_one(
	        "dataapi_http_requests_in_flight",
	        "Requests received and not yet completed (this one included)", DAPI_GAUGE);
	s->routes = routes;
	s->nroutes = nroutes;
	s->app = app;
	s->cfg = *cfg;
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)cfg->port);
	if (inet_pton(AF_INET, cfg->bind_addr, &addr.sin_addr) != 1) {
		snprintf(errstr, errstr_size, "bind address \"%s\" is not an IPv4 address",
		         cfg->bind_addr);
		free(s);
		return NULL;
	}
	s->daemon = MHD_start_daemon(
	        flags, (uint16_t)cfg->port, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER,
	        on_mhd_error, NULL, /* must come first */
	        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED,
	        on_completed, s, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->conn_timeout_s,
	        MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->conn_limit,
	        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->per_ip_limit,
	        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)DAPI_HTTP_CONN_MEMORY, MHD_OPTION_ARRAY,
	        pool, MHD_OPTION_END);
	if (!s->daemon) {
		snprintf(errstr, errstr_size, "cannot listen on %s:%d", cfg->bind_addr, cfg->port);
		free(s);
		return NULL;
	}
	return s;
}

int dapi_http_server_port(const struct dapi_http_server *s)
{
	const union MHD_DaemonInfo *info =
	        MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	return info ? info->port : -1;
}

void dapi_http_server_quiesce(struct dapi_http_server *s)
{
	MHD_socket fd;
	if (!s)
		return;
	atomic_store(&s->draining, true);
	fd = MHD_quiesce_daemon(s->daemon);
	if (fd != MHD_INVALID_SOCKET)
		close(fd); /* quiesce hands the listening socket back to us */
}

void dapi_http_server_destroy(struct dapi_http_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->daemon);
	free(s);
}
