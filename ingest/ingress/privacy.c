/* POST /privacy/erasures: a person's erasure request, recorded in the key store's database
 * (common/seal/erasures.h) and answered 202 once the store acknowledged it; ingestd runs
 * it. The write is made on the HTTP thread: one request at a time (another is answered 503
 * at once), each bounded by the pool's server selection and socket timeouts, so a slow key
 * store holds at most one of the server's threads. */
#include <string.h>

#include <openssl/crypto.h>

#include "ingress_internal.h"
#include "log.h"

static enum MHD_Result reply_request(struct dapi_http_req *r, enum dapi_erasure_request res,
                                     const struct dapi_erasure *e)
{
	if (res == DAPI_ERASURE_CONFLICT)
		return dapi_http_reply_error(r, MHD_HTTP_CONFLICT, "request_id_reused",
		                             "requestId names another customer's erasure request",
		                             "requestId");
	DAPI_INFO("erasure_requested", "{s:s, s:s, s:b}", "erasureId", e->id, "status",
	          dapi_erasure_status_name(e->status), "new", res == DAPI_ERASURE_CREATED);
	return dapi_http_reply_json(r, MHD_HTTP_ACCEPTED,
	                            json_pack("{s:s, s:s}", "erasureId", e->id, "status",
	                                      dapi_erasure_status_name(e->status)));
}

/* The request, recorded; the indexes it relies on made first, once. */
static enum dapi_erasure_request record(struct ingress *in, const char *customer_id,
                                        const char *request_id, struct dapi_erasure *e,
                                        bson_error_t *err)
{
	if (!atomic_load(&in->erasure_indexes)) {
		if (!dapi_erasures_indexes(in->erasures, err))
			return DAPI_ERASURE_FAILED;
		atomic_store(&in->erasure_indexes, true);
	}
	return dapi_erasures_request(in->erasures, customer_id, *request_id ? request_id : NULL, e,
	                             err);
}

enum MHD_Result ingress_handle_erasure(struct dapi_http_req *r, void *app)
{
	struct ingress *in = app;
	char customer_id[DAPI_ID_MAX + 1], request_id[DAPI_ID_MAX + 1];
	struct dapi_input_error ierr;
	struct dapi_erasure e;
	bson_error_t err;
	size_t len;
	const char *body = dapi_http_body(r, &len);

	if (!in->erasures)
		return dapi_http_reply_error(r, MHD_HTTP_NOT_IMPLEMENTED,
		                             "privacy_requires_sealing",
		                             "this ingress runs with --no-seal: a person's dialogs "
		                             "are found through their data keys",
		                             NULL);
	if (!ingress_erasure_req_parse(body, len, customer_id, request_id, &ierr))
		return dapi_http_reply_error(r, MHD_HTTP_BAD_REQUEST, ierr.code, ierr.message,
		                             ierr.field);
	if (atomic_exchange(&in->erasure_busy, true)) {
		OPENSSL_cleanse(customer_id, sizeof(customer_id));
		return dapi_http_reply_unavailable(r, "another erasure request is being recorded",
		                                   1);
	}
	enum dapi_erasure_request res = record(in, customer_id, request_id, &e, &err);
	atomic_store(&in->erasure_busy, false);
	OPENSSL_cleanse(customer_id, sizeof(customer_id));
	if (res == DAPI_ERASURE_FAILED) {
		DAPI_WARN("key_store_unavailable", "{s:s}", "detail", err.message);
		return dapi_http_reply_unavailable(r, "the key store did not record the request",
		                                   in->retry_after_s);
	}
	return reply_request(r, res, &e);
}
