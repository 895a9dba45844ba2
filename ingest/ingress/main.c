/* dataapi-ingress: wiring. Options, then the ingress and its HTTP server, then the main
 * loop until SIGTERM and the drain; one ladder tears down after a failure or a stop. */
#include <stdio.h>

#include "flags.h"
#include "ingress.h"
#include "log.h"
#include "mongo.h"
#include "sealing.h"
#include "service.h"

int main(int argc, char **argv)
{
	struct ingress_opts o;
	struct dapi_auth *auth = NULL;
	struct dapi_sealing *sealing = NULL;
	struct dapi_erasures *erasures = NULL;
	struct ingress *in = NULL;
	struct dapi_http_config hcfg = { 0 };
	char errstr[512] = "";
	int rc, port;

	if ((rc = ingress_configure(&o, argc, argv)))
		return rc == 1 ? 0 : rc;
	if (dapi_service_auth_load(&o.auth, &auth, errstr, sizeof(errstr)) < 0) {
		fprintf(stderr, "dataapi-ingress: %s\n", errstr);
		return 2;
	}
	dapi_signals_install();
	dapi_mongo_init();
	rc = 1;
	if (!(sealing = dapi_sealing_open(&o.sealing, NULL, "dataapi-ingress-keys", errstr,
	                                  sizeof(errstr))))
		goto out;
	if (sealing->keys &&
	    !(erasures = dapi_erasures_new(sealing->pool, o.sealing.db, &sealing->mk))) {
		snprintf(errstr, sizeof(errstr), "out of memory");
		goto out;
	}
	struct ingress_config cfg = {
		.brokers = o.kafka.brokers,
		.props = &o.kafka.props,
		.topic = o.kafka.topic,
		.produce_timeout_ms = o.produce_timeout_ms,
		.queue_max = o.queue_max,
		.max_text = (size_t)o.max_text,
		.max_batch_lines = (size_t)o.max_batch_lines,
		.retry_after_s = (int)o.retry_after_s,
		.keys = sealing ? sealing->keys : NULL,
		.erasures = erasures,
	};
	if (!(in = ingress_new(&cfg, errstr, sizeof(errstr))))
		goto out;
	dapi_service_http_config(&o.http, &hcfg);
	hcfg.auth = auth;
	hcfg.body_max = (size_t)o.max_body;
	hcfg.bulk_body_max = (size_t)o.max_batch_body;
	hcfg.bulk_budget = (size_t)o.batch_budget;
	if ((port = ingress_listen(in, &hcfg, errstr, sizeof(errstr))) < 0)
		goto out;
	DAPI_INFO("started", "{s:s, s:i, s:s, s:s}", "bind", o.http.bind, "port", port, "brokers",
	          o.kafka.brokers, "topic", o.kafka.topic);
	rc = ingress_run(in, o.drain_ms);
	*errstr = '\0';
out:
	if (*errstr)
		DAPI_ERROR("start_failed", "{s:s}", "detail", errstr);
	ingress_destroy(in);
	dapi_erasures_destroy(erasures);
	dapi_sealing_close(sealing);
	mongoc_cleanup();
	dapi_auth_destroy(auth);
	DAPI_INFO("stopped", "{s:i}", "exit", rc);
	return rc;
}
