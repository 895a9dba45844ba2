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
	long first_ms, acked_ms; /* first attempt, acknowledgement (monotonic ms) */
};

struct workload {
	const struct stack *s;
	char prefix[64];
	int ndialogs, nops, nworkers;
	struct wl_op *ops;
	long deadline_ms; /* give up retrying after this long */
	int pause_ms;     /* each worker rests this long after an operation (0: none) */
	int gate;         /* operations from this index wait for gate_open (0: no gate) */
	atomic_bool gate_open;
	atomic_bool stop; /* workers take no new operation (those not sent stay out of the model) */
	atomic_int acked, attempts, unavailable, refused_connection, other_status;
	atomic_long longest_request_ms;
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

/* What clients saw: the longest time between two acknowledgements of the whole workload
 * (every client waiting: the unavailability window), the longest an operation took from its
 * first attempt to its acknowledgement, the longest single request, and how many
 * operations took more than a second. */
struct wl_timing {
	long longest_gap_ms, longest_op_ms, longest_request_ms;
	int ops_over_1s, sent;
};
void wl_timing(const struct workload *w, struct wl_timing *t);

/* Compares the store with the model (after the topic is drained). */
void wl_verify(struct workload *w, struct wl_report *r);
void wl_free(struct workload *w);

#endif
