/* A reproducible stream of messages, consents and revocations over many dialogs, sent
 * through the ingress the way a careful client would (each operation with its own
 * Idempotency-Key, retried until it is acknowledged), and "the model": the store that
 * SPEC.md's table gives for the acknowledged operations. Written independently of
 * ingest/ingestd/apply.c so that the two check each other. */
#ifndef DAPI_WORKLOAD_H
#define DAPI_WORKLOAD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "harness.h"

enum wl_kind { WL_MESSAGE, WL_CONSENT, WL_REVOKE };

struct wl_op {
	int dialog;
	enum wl_kind kind;
	bool acked;
};

struct workload {
	const struct stack *s;
	char prefix[64];
	int ndialogs, nops, nworkers;
	struct wl_op *ops;
	long deadline_ms; /* give up retrying after this long */
	atomic_int acked, attempts, unavailable, refused_connection, other_status;
	atomic_bool done;
};

/* Generates nops operations over ndialogs dialogs from seed. */
void wl_init(struct workload *w, const struct stack *s, const char *prefix, int ndialogs, int nops,
             unsigned seed);
/* Sends everything with nworkers threads; returns when every operation is acknowledged or
 * the deadline passed. Sets w->done at the end. */
void wl_run(struct workload *w, int nworkers);

struct wl_report {
	int dialogs_checked;
	int lost;            /* acknowledged messages missing from the store */
	int duplicated;      /* messages stored more than once */
	int unexpected;      /* stored messages the model does not have */
	int revoked_present; /* revoked dialogs that still hold data */
	int wrong_state;     /* consent / presence differs */
	int order;           /* messages out of order */
};

/* Compares the store with the model (after the topic is drained). */
void wl_verify(struct workload *w, struct wl_report *r);
void wl_free(struct workload *w);

#endif
