/* GET /data, GET /data/{customerId}/{dialogId}, GET /data/export, and the privacy role's
 * GET /privacy/customers/{customerId}/data (the export's stream, pending dialogs too) and
 * GET /privacy/erasures/{erasureId}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "mongo.h"
#include "query.h"
#include "timefmt.h"

struct param_walk {
	struct query_params *p;
	struct dapi_input_error err;
	bool ok;
};

static bool add_param(void *cls, const char *key, const char *value)
{
	struct param_walk *w = cls;
	w->ok = query_params_add(w->p, key, value, &w->err);
	return w->ok;
}

/* Reads the query string into p; replies 400 and returns false when it is refused. */
static bool read_params(struct dapi_http_req *r, struct query_params *p, bool paging,
                        enum MHD_Result *ret)
{
	struct param_walk w = { .p = p, .ok = true };

	query_params_init(p, paging);
	dapi_http_each_query(r, add_param, &w);
	if (!w.ok)
		*ret = dapi_http_reply_error(r, MHD_HTTP_BAD_REQUEST, w.err.code, w.err.message,
		                             w.err.field);
	return w.ok;
}

/* Refuses any query-string argument: the route takes none. */
static bool no_params(struct dapi_http_req *r, enum MHD_Result *ret)
{
	struct query_params p;
	struct param_walk w = { .p = &p, .ok = true };
	query_params_init(&p, false);
	dapi_http_each_query(r, add_param, &w);
	if (!w.ok || p.language[0] || p.customer_id[0])
		*ret = dapi_http_reply_error(r, MHD_HTTP_BAD_REQUEST, "unknown_parameter",
		                             "this route takes no parameters", NULL);
	return w.ok && !p.language[0] && !p.customer_id[0];
}

/* 503 for a database error. Logged by route, never by path: a path carries a customerId. */
static enum MHD_Result unavailable(struct dapi_http_req *r, struct query *q, const char *route,
                                   const bson_error_t *err)
{
	bool busy = err->domain == QUERY_DIALOGS_BUSY;
	DAPI_WARN(busy ? "store_busy" : "store_unavailable", "{s:s, s:s, s:i}", "route", route,
	          "detail", err->message, "code", (int)err->code);
	return dapi_http_reply_unavailable(r,
	                                   busy ? "every database connection is busy; retry"
	                                        : "the database is not available; retry",
	                                   q->retry_after_s);
}

static enum MHD_Result handle_list(struct dapi_http_req *r, void *app)
{
	struct query *q = app;
	struct query_params p;
	struct query_page page;
	enum MHD_Result ret;
	bson_error_t err;

	if (!read_params(r, &p, true, &ret))
		return ret;
	if (!query_dialogs_page(&q->dialogs, &p, &page, &err))
		return unavailable(r, q, "/data", &err);
	dapi_series_observe(q->m_page_items, (double)page.count);
	return dapi_http_reply_json_text(r, MHD_HTTP_OK, page.body, page.len);
}

static enum MHD_Result handle_one(struct dapi_http_req *r, void *app)
{
	struct query *q = app;
	const char *customer = dapi_http_param(r, 0), *dialog = dapi_http_param(r, 1);
	enum MHD_Result ret;
	bson_error_t err;
	json_t *item;
	int found;

	if (!dapi_valid_id(customer, strlen(customer)))
		return dapi_http_reply_error(r, MHD_HTTP_BAD_REQUEST, "invalid_path",
		                             "customerId " DAPI_ID_RULE, "customerId");
	if (!dapi_valid_id(dialog, strlen(dialog)))
		return dapi_http_reply_error(r, MHD_HTTP_BAD_REQUEST, "invalid_path",
		                             "dialogId " DAPI_ID_RULE, "dialogId");
	/* No parameters belong here; refuse them like everywhere else. */
	if (!no_params(r, &ret))
		return ret;
	found = query_dialogs_get(&q->dialogs, customer, dialog, &item, &err);
	if (found < 0)
		return unavailable(r, q, "/data/*/*", &err);
	if (found == 0)
		return dapi_http_reply_error(r, MHD_HTTP_NOT_FOUND, "not_found",
		                             "no consented dialog with that id for that customer",
		                             NULL);
	return dapi_http_reply_json(r, MHD_HTTP_OK, item);
}

/* ---- export: NDJSON streamed with chunked encoding ----------------------------------- */

/* An export holds a pooled client for as long as it runs, so exports are few
 * (--max-exports), each has a deadline (--export-timeout, also the cursor's maxTimeMS) and
 * must keep moving: a client that takes less than --export-min-rate bytes a second over a
 * window of --conn-timeout is cut off. A client that takes nothing at all is not called
 * back here; libmicrohttpd closes it after --conn-timeout without progress. Either way the
 * database client returns to the pool at once. */
struct export_stream {
	struct query *q;
	struct query_export *ex;
	char *line;
	size_t len, sent;
	bool done;
	int64_t deadline, window_start; /* monotonic ms */
	uint64_t window_pos;            /* stream position at window_start */
	bool person;                    /* a person's data: its end is logged */
	int64_t dialogs;
};

static int64_t now_ms(void)
{
	return bson_get_monotonic_time() / 1000;
}

/* Whether the export may go on; logs why not. */
static bool export_on_time(struct export_stream *s, uint64_t pos)
{
	int64_t now = now_ms();
	if (now > s->deadline) {
		DAPI_WARN("export_cut", "{s:s, s:I}", "reason", "deadline", "bytes",
		          (json_int_t)pos);
		return false;
	}
	if (now - s->window_start >= s->q->export_window_ms) {
		uint64_t least = (uint64_t)(s->q->export_min_rate * (now - s->window_start) / 1000);
		if (pos - s->window_pos < least) {
			DAPI_WARN("export_cut", "{s:s, s:I}", "reason", "too_slow", "bytes",
			          (json_int_t)pos);
			return false;
		}
		s->window_start = now;
		s->window_pos = pos;
	}
	return true;
}

static ssize_t export_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct export_stream *s = cls;
	size_t n = 0;

	if (!export_on_time(s, pos))
		return MHD_CONTENT_READER_END_WITH_ERROR;
	while (n < max) {
		if (s->sent == s->len) {
			bool failed;
			free(s->line);
			s->line = NULL;
			s->len = s->sent = 0;
			if (s->done)
				break;
			s->line = query_export_next(s->ex, &s->len, &failed);
			if (s->line) {
				dapi_series_add(s->q->m_export_items, 1);
				s->dialogs++;
			}
			if (!s->line) {
				s->done = true;
				if (failed) {
					DAPI_WARN("export_cut", "{s:s}", "reason", "cursor_error");
					return MHD_CONTENT_READER_END_WITH_ERROR;
				}
				break;
			}
		}
		size_t take = s->len - s->sent < max - n ? s->len - s->sent : max - n;
		memcpy(buf + n, s->line + s->sent, take);
		s->sent += take;
		n += take;
		if (n > 0 && s->sent == s->len)
			break; /* hand over whole lines promptly */
	}
	if (n == 0 && s->done)
		return MHD_CONTENT_READER_END_OF_STREAM;
	return (ssize_t)n;
}

static void export_free(void *cls)
{
	struct export_stream *s = cls;
	if (s->person) /* each use, without a personal value */
		DAPI_INFO("privacy_access", "{s:s, s:I, s:b}", "route", "/privacy/customers/*/data",
		          "dialogs", (json_int_t)s->dialogs, "complete", s->done);
	query_export_close(s->ex); /* the client goes back to the pool */
	dapi_series_add(s->q->m_exports, -1);
	atomic_fetch_sub(&s->q->exports, 1);
	free(s->line);
	free(s);
}

/* Streams what p matches as NDJSON (an export, or a person's data), within the bounds of
 * exports. */
static enum MHD_Result stream(struct dapi_http_req *r, struct query *q,
                              const struct query_params *p, const char *route)
{
	struct export_stream *s;
	struct MHD_Response *resp;
	bson_error_t err;

	if (atomic_fetch_add(&q->exports, 1) >= q->exports_max) {
		atomic_fetch_sub(&q->exports, 1);
		DAPI_WARN("export_refused", "{s:s, s:i}", "reason", "too_many", "running",
		          q->exports_max);
		return dapi_http_reply_unavailable(r, "too many exports are running; retry",
		                                   q->retry_after_s);
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		atomic_fetch_sub(&q->exports, 1);
		return dapi_http_reply_unavailable(r, "out of memory", q->retry_after_s);
	}
	s->q = q;
	s->person = p->pending_too;
	s->window_start = now_ms();
	s->deadline = s->window_start + q->export_deadline_ms;
	s->ex = query_export_open(&q->dialogs, p, &err);
	if (!s->ex) {
		free(s);
		atomic_fetch_sub(&q->exports, 1);
		return unavailable(r, q, route, &err);
	}
	dapi_series_add(q->m_exports, 1); /* export_free takes it off */
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, export_read, s,
	                                         export_free);
	if (!resp) {
		export_free(s);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "application/x-ndjson");
	return dapi_http_reply(r, MHD_HTTP_OK, resp);
}

static enum MHD_Result handle_export(struct dapi_http_req *r, void *app)
{
	struct query_params p;
	enum MHD_Result ret;

	if (!read_params(r, &p, false, &ret))
		return ret;
	return stream(r, app, &p, "/data/export");
}

/* Every dialog stored for the customer, consented or pending (GDPR access and portability):
 * the only read of unconsented data. */
static enum MHD_Result handle_person_data(struct dapi_http_req *r, void *app)
{
	const char *customer = dapi_http_param(r, 0);
	struct query_params p;
	enum MHD_Result ret;

	if (!dapi_valid_id(customer, strlen(customer)))
		return dapi_http_reply_error(r, MHD_HTTP_BAD_REQUEST, "invalid_path",
		                             "customerId " DAPI_ID_RULE, "customerId");
	if (!no_params(r, &ret))
		return ret;
	query_params_init(&p, false);
	snprintf(p.customer_id, sizeof(p.customer_id), "%s", customer);
	p.pending_too = true;
	return stream(r, app, &p, "/privacy/customers/*/data");
}

/* An erasure request's receipt: no personal data, kept after the data is gone. */
static enum MHD_Result handle_erasure(struct dapi_http_req *r, void *app)
{
	struct query *q = app;
	const char *id = dapi_http_param(r, 0);
	struct dapi_erasure e;
	enum MHD_Result ret;
	bson_error_t err;
	bool found = false;
	char requested[DAPI_TIME_BUFSZ], completed[DAPI_TIME_BUFSZ];

	if (strlen(id) != DAPI_ERASURE_ID_LEN || strspn(id, "0123456789abcdef") != strlen(id))
		return dapi_http_reply_error(r, MHD_HTTP_BAD_REQUEST, "invalid_path",
		                             "erasureId must be 32 lower-case hex digits",
		                             "erasureId");
	if (!no_params(r, &ret))
		return ret;
	if (!dapi_erasures_get(q->erasures, id, &e, &found, &err))
		return unavailable(r, q, "/privacy/erasures/*", &err);
	if (!found)
		return dapi_http_reply_error(r, MHD_HTTP_NOT_FOUND, "not_found",
		                             "no erasure request with that id", NULL);
	dapi_time_format_ms(e.requested_at, requested);
	dapi_time_format_ms(e.completed_at, completed);
	return dapi_http_reply_json(
	        r, MHD_HTTP_OK,
	        json_pack("{s:s, s:s, s:s, s:s?, s:I, s:I}", "erasureId", e.id, "status",
	                  dapi_erasure_status_name(e.status), "requestedAt", requested,
	                  "completedAt", e.completed_at ? completed : NULL, "dialogs",
	                  (json_int_t)e.dialogs, "keysDeleted", (json_int_t)e.keys_deleted));
}

void query_metrics_init(struct query *q)
{
	static const double sizes[] = { 0, 1, 5, 10, 25, 50, 100, 250, 500, 1000 };
	q->m_page_items = dapi_metrics_series(
	        dapi_metrics_family("dataapi_query_page_dialogs", "Dialogs on each GET /data page",
	                            DAPI_HISTOGRAM, sizes, sizeof(sizes) / sizeof(sizes[0])),
	        "");
	q->m_export_items = dapi_metrics_one("dataapi_export_dialogs_total",
	                                     "Dialogs streamed by GET /data/export", DAPI_COUNTER);
	q->m_exports = dapi_metrics_one("dataapi_exports_running",
	                                "GET /data/export streams open now", DAPI_GAUGE);
}

/* A client of its own with a 1 s bound on every wait: ready or not, within a second. */
static enum MHD_Result handle_readyz(struct dapi_http_req *r, void *app)
{
	struct query *q = app;
	bson_error_t err;
	if (!dapi_mongo_probe_ping(q->probe, &err))
		return unavailable(r, q, "/readyz", &err);
	return dapi_http_reply_json(r, MHD_HTTP_OK, json_pack("{s:s}", "status", "ready"));
}

/* docs/openapi-query.yaml, compiled in (dapi_embed). */
extern const char query_openapi[];
extern const size_t query_openapi_len;

/* GET /openapi.yaml: what this service serves, as OpenAPI. */
static enum MHD_Result handle_openapi(struct dapi_http_req *r, void *app)
{
	return dapi_http_reply_static(r, "application/yaml", query_openapi, query_openapi_len);
}

/* clang-format off */
const struct dapi_http_route query_routes[] = {
	{"GET", "/data",         handle_list,              0, DAPI_ROLE_READER},
	{"GET", "/data/export",  handle_export,            0, DAPI_ROLE_READER},
	{"GET", "/data/*/*",     handle_one,               0, DAPI_ROLE_READER},
	{"GET", "/privacy/customers/*/data", handle_person_data, 0, DAPI_ROLE_PRIVACY},
	{"GET", "/privacy/erasures/*", handle_erasure,     0, DAPI_ROLE_PRIVACY},
	{"GET", "/healthz",      dapi_http_handle_healthz, 0, DAPI_ROLE_PUBLIC},
	{"GET", "/readyz",       handle_readyz,            0, DAPI_ROLE_PUBLIC},
	{"GET", "/metrics",      dapi_http_handle_metrics, 0, DAPI_ROLE_PUBLIC},
	{"GET", "/openapi.yaml", handle_openapi,           0, DAPI_ROLE_PUBLIC},
};
/* clang-format on */
const size_t query_nroutes = sizeof(query_routes) / sizeof(query_routes[0]);
