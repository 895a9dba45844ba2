/* POST /data/{customerId}/{dialogId} and POST /consents/{dialogId}: validate into one
 * line, published as a batch of that line (batch.c: the one publishing mechanism), answered
 * 202 or 503; readiness; the routing table. */
#include <string.h>

#include "ingress_internal.h"
#include "request.h"

static enum MHD_Result reply_invalid(struct dapi_http_req *r, const struct dapi_input_error *e)
{
	return dapi_http_reply_error(r, MHD_HTTP_BAD_REQUEST, e->code, e->message, e->field);
}

/* The path's ids and the optional Idempotency-Key, checked and copied into line (its root
 * owns them: the line may outlive the request, a key fetch or a report coming after a
 * deadline answered it). */
static bool check_ids(struct dapi_http_req *r, const struct ingress *in, const char *customer_id,
                      const char *dialog_id, struct ingress_batch_line *line, enum MHD_Result *ret)
{
	const char *key = dapi_http_header(r, "Idempotency-Key");
	json_t *root;

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
	root = json_pack("{s:s, s:s?, s:s?}", "dialogId", dialog_id, "customerId", customer_id,
	                 "idempotencyKey", key);
	if (!root) {
		*ret = dapi_http_reply_unavailable(r, "out of memory", in->retry_after_s);
		return false;
	}
	line->root = root;
	line->dialog_id = json_string_value(json_object_get(root, "dialogId"));
	line->customer_id = json_string_value(json_object_get(root, "customerId"));
	line->idempotency_key = json_string_value(json_object_get(root, "idempotencyKey"));
	return true;
}

static enum MHD_Result handle_message(struct dapi_http_req *r, void *app)
{
	struct ingress *in = app;
	struct ingress_batch_line line = { .type = DAPI_EVENT_MESSAGE };
	struct ingress_message_req req;
	struct dapi_input_error err;
	enum MHD_Result ret;
	const char *body;
	size_t len;

	if (*dapi_http_state(r))
		return ingress_batch_continue(r);
	if (!check_ids(r, in, dapi_http_param(r, 0), dapi_http_param(r, 1), &line, &ret))
		return ret;
	body = dapi_http_body(r, &len);
	if (!ingress_message_req_parse(body, len, in->max_text, &req, &err)) {
		ingress_batch_line_clear(&line);
		return reply_invalid(r, &err);
	}
	/* the body's root (which owns the text) goes with the line */
	json_object_set_new(line.root, "body", req.root);
	line.text = req.text;
	line.text_len = req.text_len;
	memcpy(line.language, req.language, sizeof(line.language));
	return ingress_publish_one(r, in, &line);
}

static enum MHD_Result handle_consent(struct dapi_http_req *r, void *app)
{
	struct ingress *in = app;
	struct ingress_batch_line line = { .type = DAPI_EVENT_CONSENT };
	struct dapi_input_error err;
	enum MHD_Result ret;
	const char *body;
	size_t len;

	if (*dapi_http_state(r))
		return ingress_batch_continue(r);
	if (!check_ids(r, in, NULL, dapi_http_param(r, 0), &line, &ret))
		return ret;
	body = dapi_http_body(r, &len);
	if (!ingress_consent_req_parse(body, len, &line.granted, &err)) {
		ingress_batch_line_clear(&line);
		return reply_invalid(r, &err);
	}
	return ingress_publish_one(r, in, &line);
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
	{"POST", "/privacy/erasures", ingress_handle_erasure, DAPI_ROUTE_BODY,   DAPI_ROLE_PRIVACY},
	{"GET",  "/healthz",      dapi_http_handle_healthz, 0,               DAPI_ROLE_PUBLIC},
	{"GET",  "/readyz",       handle_readyz,            0,               DAPI_ROLE_PUBLIC},
	{"GET",  "/metrics",      dapi_http_handle_metrics, 0,               DAPI_ROLE_PUBLIC},
	{"GET",  "/openapi.yaml", handle_openapi,           0,               DAPI_ROLE_PUBLIC},
};
/* clang-format on */
const size_t ingress_nroutes = sizeof(ingress_routes) / sizeof(ingress_routes[0]);
