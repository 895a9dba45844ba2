/* B2's ceiling: the same events as dapi-bench-fill writes to the topic, applied straight to
 * the same server with the raw mongo-c-driver: one blind upsert per event ($push the
 * message, $set the rest; no read, no dedup, no Kafka), in unordered bulks of <chunk>
 * operations, into a collection of its own. Prints one JSON line: {"events", "seconds",
 * "rate" (events a second), "bulk"}.
 * Usage: dapi-bench-ceiling-ingest <uri> <db> <collection> <prefix> <dialogs> <events>
 *        <text-bytes> <chunk> */
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "workload.h"

static void add_upsert(mongoc_bulk_operation_t *bulk, const struct bench_workload *w, long i,
                       char *text)
{
	char did[32], cid[32], eid[48];
	int64_t now = (int64_t)time(NULL) * 1000;
	bson_t *filter, *update, *opts = BCON_NEW("upsert", BCON_BOOL(true));
	bench_dialog_id(w, i, did);
	filter = BCON_NEW("_id", BCON_UTF8(did));
	if (i < w->events) {
		bench_customer_id(w, i, cid);
		bench_event_id(w, i, eid);
		bench_text(w, i, text);
		update = BCON_NEW("$setOnInsert", "{", "customerId", BCON_UTF8(cid), "createdAt",
		                  BCON_DATE_TIME(now), "consent", BCON_BOOL(false), "}", "$set",
		                  "{", "lastMessageAt", BCON_DATE_TIME(now), "}", "$addToSet", "{",
		                  "languages", BCON_UTF8(bench_language(i)), "}", "$push", "{",
		                  "messages", "{", "eventId", BCON_UTF8(eid), "text",
		                  BCON_UTF8(text), "language", BCON_UTF8(bench_language(i)),
		                  "receivedAt", BCON_DATE_TIME(now), "}", "}");
	} else {
		update = BCON_NEW("$set", "{", "consent", BCON_BOOL(true), "consentedAt",
		                  BCON_DATE_TIME(now), "}");
	}
	mongoc_bulk_operation_update_one_with_opts(bulk, filter, update, opts, NULL);
	bson_destroy(filter);
	bson_destroy(update);
	bson_destroy(opts);
}

int main(int argc, char **argv)
{
	if (argc != 9) {
		fprintf(stderr,
		        "usage: %s <uri> <db> <collection> <prefix> <dialogs> <events> "
		        "<text-bytes> "
		        "<chunk>\n",
		        argv[0]);
		return 2;
	}
	struct bench_workload w = { .prefix = argv[4],
		                    .dialogs = atol(argv[5]),
		                    .events = atol(argv[6]),
		                    .text_bytes = (size_t)atol(argv[7]) };
	long chunk = atol(argv[8]), total = w.events + w.dialogs;
	char *text = malloc(w.text_bytes + 1);
	bson_error_t err;

	mongoc_init();
	mongoc_client_t *client = mongoc_client_new(argv[1]);
	mongoc_collection_t *coll =
	        client ? mongoc_client_get_collection(client, argv[2], argv[3]) : NULL;
	if (!coll || !text) {
		fprintf(stderr, "bench-ceiling-ingest: bad URI or out of memory\n");
		return 1;
	}
	mongoc_collection_drop(coll, NULL);
	double t0 = bench_now_s();
	for (long i = 0; i < total; i += chunk) {
		bson_t *opts = BCON_NEW("ordered", BCON_BOOL(false)), reply;
		mongoc_bulk_operation_t *bulk =
		        mongoc_collection_create_bulk_operation_with_opts(coll, opts);
		for (long k = i; k < i + chunk && k < total; k++)
			add_upsert(bulk, &w, k, text);
		if (!mongoc_bulk_operation_execute(bulk, &reply, &err)) {
			fprintf(stderr, "bench-ceiling-ingest: %s\n", err.message);
			return 1;
		}
		bson_destroy(&reply);
		mongoc_bulk_operation_destroy(bulk);
		bson_destroy(opts);
	}
	double secs = bench_now_s() - t0;
	printf("{\"events\":%ld,\"seconds\":%.3f,\"rate\":%.1f,\"bulk\":%ld}\n", total, secs,
	       (double)total / secs, chunk);
	mongoc_collection_drop(coll, NULL);
	mongoc_collection_destroy(coll);
	mongoc_client_destroy(client);
	mongoc_cleanup();
	free(text);
	return 0;
}
