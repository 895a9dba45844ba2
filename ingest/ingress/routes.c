/* POST /data/{customerId}/{dialogId} and POST /consents/{dialogId}: validate, publish,
 * suspend until the delivery report, answer 202 or 503. */
#include <assert.h>
#include <stddef.h>
#include <openssl/crypto.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "ids.h"
#include "jsonw.h"
#include "ingress_internal.h"
#include "keycache.h"
#include "keyfetch.h"
#include "seal.h"
#include "log.h"
#include "metrics.h"
#include "request.h"
#include "timefmt.h"

/* A request that has been published and waits for (or has) its answer. Two owners hold a
 * reference: the HTTP request (until it completes) and librdkafka (until the delivery
 * report, which may come after a deadline already answered the request). */
struct publish {
	struct waiter w; /* first; its entry is in in->waiting while the request waits */
	struct delivery d;
	struct dapi_http_req *r;
	struct ingress *in;
	atomic_int refs;
	atomic_bool answered; /* the first of report and deadline wins */
	rd_kafka_resp_err_t err;
	enum dapi_event_type type;
	char event_id[INGRESS_UUID_BUFSZ];
	char dialog_id[DAPI_ID_MAX + 1];
	/* A message waits first for its dialog's key (KEY, when it is not cached), then for
	 * Kafka's delivery report (PUBLISHED). */
	enum { PHASE_KEY = 1, PHASE_PUBLISHED } phase;
	enum dapi_key_status key_status;
	uint8_t dek[DAPI_AEAD_KEY];
};

static void publish_unref(struct publish *pub)
{
	int before = atomic_fetch_sub(&pub->refs, 1);
	assert(before > 0);
	if (before == 1) {
		OPENSSL_cleanse(pub->dek, sizeof(pub->dek));
		free(pub);
	}
}

/* Completes the request once: records err and resumes the suspended connection. */
static void answer(struct publish *pub, rd_kafka_resp_err_t err)
{
	if (atomic_exchange(&pub->answered, true))
		return;
	pub->err = err;
	dapi_http_resume(pub->r);
}

static void publish_release(struct waiter *w)
{
	struct publish *pub = (struct publish *)w;
	struct ingress *in = pub->in;
	ingress_inflight_remove(&in->waiting, &pub->w.entry);
	atomic_fetch_sub(&in->inflight_count, 1);
	publish_unref(pub);
}

static void publish_delivered(struct delivery *d, rd_kafka_resp_err_t err)
{
	struct publish *pub = (struct publish *)((char *)d - offsetof(struct publish, d));
	answer(pub, err);
	publish_unref(pub);
}

static void publish_overdue(struct waiter *w)
{
	answer((struct publish *)w, RD_KAFKA_RESP_ERR__MSG_TIMED_OUT);
}

static enum MHD_Result reply_invalid(struct dapi_http_req *r, const struct dapi_input_error *e)
{
	return dapi_http_reply_error(r, MHD_HTTP_BAD_REQUEST, e->code, e->message, e->field);
}

/* Answers once the delivery report is in. */
static enum MHD_Result finish(struct dapi_http_req *r, struct publish *pub)
{
	int64_t ms = dapi_time_mono_ms() - pub->w.entry.started_ms;
	struct dapi_jsonw w;
	static const char *const labels[2][2] = {
		{ "type=\"consent\",result=\"ok\"", "type=\"consent\",result=\"error\"" },
		{ "type=\"message\",result=\"ok\"", "type=\"message\",result=\"error\"" },
	};
	char *body;
	size_t len;

	dapi_metrics_inc(pub->in->m_published,
	                 labels[pub->type == DAPI_EVENT_MESSAGE][pub->err != 0], 1);
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

/* The request's publishing state: the one it has (after a key wait), or a new one that
 * the request owns (dropped by ingress_state_free). NULL when out of memory. */
static struct publish *request_state(struct dapi_http_req *r, struct ingress *in,
                                     const struct dapi_event *ev)
{
	struct publish *pub = *dapi_http_state(r);
	if (pub)
		return pub;
	if (!(pub = calloc(1, sizeof(*pub))))
		return NULL;
	pub->w.overdue = publish_overdue;
	pub->w.release = publish_release;
	pub->d.done = publish_delivered;
	pub->r = r;
	pub->in = in;
	pub->type = ev->type;
	atomic_init(&pub->refs, 1);
	/* both validated: they fit (strnlen keeps a copy bounded all the same) */
	memcpy(pub->event_id, ev->event_id, strnlen(ev->event_id, sizeof(pub->event_id) - 1));
	memcpy(pub->dialog_id, ev->dialog_id, strnlen(ev->dialog_id, sizeof(pub->dialog_id) - 1));
	atomic_fetch_add(&in->inflight_count, 1);
	*dapi_http_state(r) = pub;
	return pub;
}

/* Encodes ev, suspends the request and hands the event to the producer. The request is
 * answered from finish() when the handler runs again after the resume. */
static enum MHD_Result publish(struct dapi_http_req *r, struct ingress *in,
                               const struct dapi_event *ev)
{
	struct publish *pub = request_state(r, in, ev);
	rd_kafka_resp_err_t err;
	size_t len;
	char *value;

	if (!pub || !(value = dapi_event_encode(ev, &len)))
		return dapi_http_reply_unavailable(r, "out of memory", in->retry_after_s);
	pub->phase = PHASE_PUBLISHED;

	/* Suspend before producing: the report may arrive before producev returns. */
	dapi_http_suspend(r);
	ingress_inflight_add(&in->waiting, &pub->w.entry);
	atomic_fetch_add(&pub->refs, 1); /* librdkafka's, dropped by the delivery report */
	err = ingress_produce(in, ev->type, ev->dialog_id, value, len, &pub->d);
	if (err) {
		answer(pub, err);
		publish_unref(pub); /* no report will come */
	}
	return MHD_YES;
}

/* A key fetch's outcome (on a fetch thread): resumes the request unless its deadline
 * answered it first. */
static void key_fetched(void *arg, enum dapi_key_status st, const uint8_t *dek)
{
	struct publish *pub = arg;
	/* Cached even when the request's deadline answered it already: its retry, and every
	 * other request of the dialog, find the key then. */
	if (st == DAPI_KEY_OK)
		ingress_keycache_put(pub->in->keycache, pub->dialog_id, dek, dapi_time_mono_ms());
	if (!atomic_exchange(&pub->answered, true)) {
		pub->key_status = st;
		if (st == DAPI_KEY_OK)
			memcpy(pub->dek, dek, DAPI_AEAD_KEY);
		dapi_http_resume(pub->r);
	}
	publish_unref(pub);
}

/* Suspends the request until its dialog's key is fetched (or created); the handler runs
 * again then. The deadline is the produce timeout's, counted from now. */
static enum MHD_Result await_key(struct dapi_http_req *r, struct ingress *in,
                                 const struct dapi_event *ev)
{
	struct publish *pub = request_state(r, in, ev);
	if (!pub)
		return dapi_http_reply_unavailable(r, "out of memory", in->retry_after_s);
	pub->phase = PHASE_KEY;
	pub->key_status = DAPI_KEY_UNAVAILABLE;
	dapi_http_suspend(r);
	ingress_inflight_add(&in->waiting, &pub->w.entry);
	atomic_fetch_add(&pub->refs, 1); /* the fetch's */
	if (!ingress_keyfetch_submit(in->keyfetch, pub->dialog_id, key_fetched, pub)) {
		answer(pub, RD_KAFKA_RESP_ERR__QUEUE_FULL);
		publish_unref(pub);
	}
	return MHD_YES;
}

/* After a key wait: the request is unlisted and ready for its publishing phase; false (and
 * a 503 in *ret) when no key came. */
static bool key_ready(struct dapi_http_req *r, struct publish *pub, enum MHD_Result *ret)
{
	ingress_inflight_remove(&pub->in->waiting, &pub->w.entry);
	if (pub->err || pub->key_status != DAPI_KEY_OK) {
		*ret = dapi_http_reply_unavailable(r, "the key store is not available; retry",
		                                   pub->in->retry_after_s);
		return false;
	}
	atomic_store(&pub->answered, false);
	return true;
}

/* Seals ev's personal fields with the dialog's key (cached, or fetched: pub) and publishes;
 * suspends for the key first when it is neither. */
static enum MHD_Result seal_and_publish(struct dapi_http_req *r, struct ingress *in,
                                        struct publish *pub, struct dapi_event *ev)
{
	uint8_t dek[DAPI_AEAD_KEY];
	enum MHD_Result ret;
	char *sealed;

	if (pub)
		memcpy(dek, pub->dek, sizeof(dek));
	else if (!ingress_keycache_get(in->keycache, ev->dialog_id, dapi_time_mono_ms(), dek))
		return await_key(r, in, ev);
	if (!dapi_seal_event(ev, dek, &sealed))
		ret = dapi_http_reply_unavailable(r, "the event could not be sealed; retry",
		                                  in->retry_after_s);
	else
		ret = publish(r, in, ev);
	free(sealed);
	OPENSSL_cleanse(dek, sizeof(dek));
	return ret;
}

/* Path ids and the optional Idempotency-Key; fills ev's event id. */
static bool check_ids(struct dapi_http_req *r, const char *customer_id, const char *dialog_id,
                      struct dapi_event *ev, char event_id[INGRESS_UUID_BUFSZ],
                      enum MHD_Result *ret)
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
		ingress_uuid_from_key(dialog_id, key, event_id);
	else
		ingress_uuid_v4(event_id);
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
	struct ingress_message_req req;
	struct dapi_input_error err;
	char event_id[INGRESS_UUID_BUFSZ];
	enum MHD_Result ret;
	const char *body;
	size_t len;

	if (pub && pub->phase == PHASE_PUBLISHED)
		return finish(r, pub);
	if (pub && !key_ready(r, pub, &ret))
		return ret;
	if (!check_ids(r, dapi_http_param(r, 0), dapi_http_param(r, 1), &ev, event_id, &ret))
		return ret;
	if (pub) /* the id the request had before its key wait */
		ev.event_id = pub->event_id;
	body = dapi_http_body(r, &len);
	if (!ingress_message_req_parse(body, len, in->max_text, &req, &err))
		return reply_invalid(r, &err);
	ev.text = req.text;
	ev.text_len = req.text_len;
	memcpy(ev.language, req.language, sizeof(ev.language));
	ret = in->keycache ? seal_and_publish(r, in, pub, &ev) : publish(r, in, &ev);
	ingress_message_req_clear(&req);
	return ret;
}

static enum MHD_Result handle_consent(struct dapi_http_req *r, void *app)
{
	struct ingress *in = app;
	struct publish *pub = *dapi_http_state(r);
	struct dapi_event ev = { .type = DAPI_EVENT_CONSENT };
	struct dapi_input_error err;
	char event_id[INGRESS_UUID_BUFSZ];
	enum MHD_Result ret;
	const char *body;
	size_t len;

	if (pub)
		return finish(r, pub);
	if (!check_ids(r, NULL, dapi_http_param(r, 0), &ev, event_id, &ret))
		return ret;
	body = dapi_http_body(r, &len);
	if (!ingress_consent_req_parse(body, len, &ev.granted, &err))
		return reply_invalid(r, &err);
	if (!ev.granted)
		ingress_keycache_forget(in->keycache, ev.dialog_id);
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

/* docs/openapi-ingress.yaml, compiled in (dapi_embed). */
extern const char ingress_openapi[];
extern const size_t ingress_openapi_len;

/* GET /openapi.yaml: what this service serves, as OpenAPI. */
static enum MHD_Result handle_openapi(struct dapi_http_req *r, void *app)
{
	return dapi_http_reply_static(r, "application/yaml", ingress_openapi, ingress_openapi_len);
}

/* clang-format off */
const struct dapi_http_route ingress_routes[] = {
	{"POST", "/data/*/*",     handle_message,           DAPI_ROUTE_BODY, DAPI_ROLE_WRITER},
	{"POST", "/consents/*",   handle_consent,           DAPI_ROUTE_BODY, DAPI_ROLE_WRITER},
	{"POST", "/batch",        ingress_handle_batch,     DAPI_ROUTE_BODY | DAPI_ROUTE_BULK,
	                                                                     DAPI_ROLE_WRITER},
	{"GET",  "/healthz",      dapi_http_handle_healthz, 0,               DAPI_ROLE_PUBLIC},
	{"GET",  "/readyz",       handle_readyz,            0,               DAPI_ROLE_PUBLIC},
	{"GET",  "/metrics",      dapi_http_handle_metrics, 0,               DAPI_ROLE_PUBLIC},
	{"GET",  "/openapi.yaml", handle_openapi,           0,               DAPI_ROLE_PUBLIC},
};
/* clang-format on */
const size_t ingress_nroutes = sizeof(ingress_routes) / sizeof(ingress_routes[0]);
