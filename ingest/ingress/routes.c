/* POST /data/{customerId}/{dialogId} and POST /consents/{dialogId}: validate, publish,
 * suspend until the delivery report, answer 202 or 503. */
#include <assert.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "ids.h"
#include "jsonw.h"
#include "ingress_internal.h"
#include "log.h"
#include "metrics.h"
#include "request.h"
#include "timefmt.h"

/* A request that has been published and waits for (or has) its answer. Two owners hold a
 * reference: the HTTP request (until it completes) and librdkafka (until the delivery
 * report, which may come after a deadline already answered the request). */
struct publish {
	struct inflight_entry entry; /* in in->waiting while the request lives */
	struct dapi_http_req *r;
	struct ingress *in;
	atomic_int refs;
	atomic_bool answered; /* the first of report and deadline wins */
	rd_kafka_resp_err_t err;
	enum dapi_event_type type;
	char event_id[DAPI_UUID_BUFSZ];
	char dialog_id[DAPI_ID_MAX + 1];
};

static void publish_unref(struct publish *pub)
{
	int before = atomic_fetch_sub(&pub->refs, 1);
	assert(before > 0);
	if (before == 1)
		free(pub);
}

/* Completes the request once: records err and resumes the suspended connection. */
static void answer(struct publish *pub, rd_kafka_resp_err_t err)
{
	if (atomic_exchange(&pub->answered, true))
		return;
	pub->err = err;
	dapi_http_resume(pub->r);
}

void ingress_state_free(void *state)
{
	struct publish *pub = state;
	struct ingress *in = pub->in;
	inflight_remove(&in->waiting, &pub->entry);
	atomic_fetch_sub(&in->inflight_count, 1);
	publish_unref(pub);
}

void ingress_on_delivery(void *opaque, rd_kafka_resp_err_t err)
{
	struct publish *pub = opaque;
	answer(pub, err);
	publish_unref(pub);
}

static void answer_overdue(struct inflight_entry *e)
{
	answer((struct publish *)e, RD_KAFKA_RESP_ERR__MSG_TIMED_OUT); /* entry is first */
}

void ingress_expire(struct ingress *in, int64_t now)
{
	inflight_expire(&in->waiting, now, answer_overdue);
}

static enum MHD_Result reply_invalid(struct dapi_http_req *r, const struct dapi_input_error *e)
{
	return dapi_http_reply_error(r, MHD_HTTP_BAD_REQUEST, e->code, e->message, e->field);
}

/* Answers once the delivery report is in. */
static enum MHD_Result finish(struct dapi_http_req *r, struct publish *pub)
{
	int64_t ms = dapi_time_mono_ms() - pub->entry.started_ms;
	struct dapi_jsonw w;
	char labels[64], *body;
	size_t len;

	snprintf(labels, sizeof(labels), "type=\"%s\",result=\"%s\"",
	         dapi_event_type_name(pub->type), pub->err ? "error" : "ok");
	dapi_metrics_inc(pub->in->m_published, labels, 1);
	dapi_metrics_observe(pub->in->m_produce, pub->err ? "result=\"error\"" : "result=\"ok\"",
	                     (double)ms / 1000.0);
	if (pub->err) {
		DAPI_WARN("publish_failed", "{s:s, s:s, s:s, s:I}", "dialogId", pub->dialog_id,
		          "eventId", pub->event_id, "error", rd_kafka_err2name(pub->err), "ms",
		          (json_int_t)ms);
		return dapi_http_reply_unavailable(r, "the event could not be stored; retry",
		                                   pub->in->retry_after_s);
	}
	DAPI_DEBUG("published", "{s:s, s:s, s:s, s:I}", "type", dapi_event_type_name(pub->type),
	           "dialogId", pub->dialog_id, "eventId", pub->event_id, "ms", (json_int_t)ms);
	dapi_jsonw_begin(&w, 128);
	dapi_jsonw_str(&w, "eventId", pub->event_id, strlen(pub->event_id));
	dapi_jsonw_str(&w, "dialogId", pub->dialog_id, strlen(pub->dialog_id));
	dapi_jsonw_str(&w, "status", "accepted", strlen("accepted"));
	body = dapi_jsonw_finish(&w, &len);
	return dapi_http_reply_json_text(r, MHD_HTTP_ACCEPTED, body, len);
}

/* Encodes ev, suspends the request and hands the event to the producer. The request is
 * answered from finish() when the handler runs again after the resume. */
static enum MHD_Result publish(struct dapi_http_req *r, struct ingress *in,
                               const struct dapi_event *ev)
{
	struct publish *pub = calloc(1, sizeof(*pub));
	rd_kafka_headers_t *hdrs;
	rd_kafka_resp_err_t err;
	size_t len;
	char *value;

	if (!pub)
		return dapi_http_reply_unavailable(r, "out of memory", in->retry_after_s);
	pub->r = r;
	pub->in = in;
	pub->type = ev->type;
	atomic_init(&pub->refs, 1);
	snprintf(pub->event_id, sizeof(pub->event_id), "%s", ev->event_id);
	snprintf(pub->dialog_id, sizeof(pub->dialog_id), "%s", ev->dialog_id);
	atomic_fetch_add(&in->inflight_count, 1);
	*dapi_http_state(r) = pub; /* the request's reference, dropped by ingress_state_free */

	value = dapi_event_encode(ev, &len);
	if (!value)
		return dapi_http_reply_unavailable(r, "out of memory", in->retry_after_s);
	hdrs = rd_kafka_headers_new(1);
	rd_kafka_header_add(hdrs, "type", -1, dapi_event_type_name(ev->type), -1);

	/* Suspend before producing: the report may arrive before producev returns. */
	dapi_http_suspend(r);
	inflight_add(&in->waiting, &pub->entry);
	atomic_fetch_add(&pub->refs, 1); /* librdkafka's, dropped by the delivery report */
	err = dapi_producer_send(in->producer, in->topic, ev->dialog_id, strlen(ev->dialog_id),
	                         value, len, hdrs, pub);
	if (err) {
		answer(pub, err);
		publish_unref(pub); /* no report will come */
	}
	return MHD_YES;
}

/* Path ids and the optional Idempotency-Key; fills ev's event id. */
static bool check_ids(struct dapi_http_req *r, const char *customer_id, const char *dialog_id,
                      struct dapi_event *ev, char event_id[DAPI_UUID_BUFSZ], enum MHD_Result *ret)
{
	const char *key = dapi_http_header(r, "Idempotency-Key");

	if (customer_id && !dapi_valid_id(customer_id, strlen(customer_id))) {
		*ret = dapi_http_reply_error(r, MHD_HTTP_BAD_REQUEST, "invalid_path",
		                             "customerId " DAPI_ID_RULE, "customerId");
		return false;
	}
	if (!dapi_valid_id(dialog_id, strlen(dialog_id))) {
		*ret = dapi_http_reply_error(r, MHD_HTTP_BAD_REQUEST, "invalid_path",
		                             "dialogId " DAPI_ID_RULE, "dialogId");
		return false;
	}
	if (key && !dapi_valid_idempotency_key(key)) {
		*ret = dapi_http_reply_error(r, MHD_HTTP_BAD_REQUEST, "invalid_header",
		                             "Idempotency-Key " DAPI_IDEMPOTENCY_KEY_RULE,
		                             "Idempotency-Key");
		return false;
	}
	if (key)
		dapi_uuid_from_key(dialog_id, key, event_id);
	else
		dapi_uuid_v4(event_id);
	ev->event_id = event_id;
	ev->dialog_id = dialog_id;
	ev->customer_id = customer_id;
	ev->received_at = dapi_time_now_ms();
	return true;
}

static enum MHD_Result handle_message(struct dapi_http_req *r, void *app)
{
	struct ingress *in = app;
	struct publish *pub = *dapi_http_state(r);
	struct dapi_event ev = { .type = DAPI_EVENT_MESSAGE };
	struct dapi_message_req req;
	struct dapi_input_error err;
	char event_id[DAPI_UUID_BUFSZ];
	enum MHD_Result ret;
	const char *body;
	size_t len;

	if (pub)
		return finish(r, pub);
	if (!check_ids(r, dapi_http_param(r, 0), dapi_http_param(r, 1), &ev, event_id, &ret))
		return ret;
	body = dapi_http_body(r, &len);
	if (!dapi_message_req_parse(body, len, in->max_text, &req, &err))
		return reply_invalid(r, &err);
	ev.text = req.text;
	ev.text_len = req.text_len;
	memcpy(ev.language, req.language, sizeof(ev.language));
	ret = publish(r, in, &ev);
	dapi_message_req_clear(&req);
	return ret;
}

static enum MHD_Result handle_consent(struct dapi_http_req *r, void *app)
{
	struct ingress *in = app;
	struct publish *pub = *dapi_http_state(r);
	struct dapi_event ev = { .type = DAPI_EVENT_CONSENT };
	struct dapi_input_error err;
	char event_id[DAPI_UUID_BUFSZ];
	enum MHD_Result ret;
	const char *body;
	size_t len;

	if (pub)
		return finish(r, pub);
	if (!check_ids(r, NULL, dapi_http_param(r, 0), &ev, event_id, &ret))
		return ret;
	body = dapi_http_body(r, &len);
	if (!dapi_consent_req_parse(body, len, &ev.granted, &err))
		return reply_invalid(r, &err);
	return publish(r, in, &ev);
}

/* Ready when the producer works and the topic's metadata comes back within a second. */
static enum MHD_Result handle_readyz(struct dapi_http_req *r, void *app)
{
	struct ingress *in = app;

	if (dapi_producer_failed(in->producer))
		return dapi_http_reply_unavailable(r, "kafka producer failed", in->retry_after_s);
	if (dapi_producer_topic_check(in->producer, in->topic, 1000))
		return dapi_http_reply_unavailable(r, "kafka is not reachable", in->retry_after_s);
	return dapi_http_reply_json(r, MHD_HTTP_OK, json_pack("{s:s}", "status", "ready"));
}

/* clang-format off */
const struct dapi_http_route ingress_routes[] = {
	{"POST", "/data/*/*",   handle_message,           DAPI_ROUTE_BODY, DAPI_ROLE_WRITER},
	{"POST", "/consents/*", handle_consent,           DAPI_ROUTE_BODY, DAPI_ROLE_WRITER},
	{"GET",  "/healthz",    dapi_http_handle_healthz, 0,               DAPI_ROLE_PUBLIC},
	{"GET",  "/readyz",     handle_readyz,            0,               DAPI_ROLE_PUBLIC},
	{"GET",  "/metrics",    dapi_http_handle_metrics, 0,               DAPI_ROLE_PUBLIC},
};
/* clang-format on */
const size_t ingress_nroutes = sizeof(ingress_routes) / sizeof(ingress_routes[0]);
