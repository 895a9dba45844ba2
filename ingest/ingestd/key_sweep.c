#include "key_sweep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool ingestd_key_sweep_tombstones(struct ingestd_store *st, struct dapi_keystore *ks,
                                  int64_t tombstone_ttl, int64_t *deleted, bson_error_t *err)
{
	struct ingestd_id_page *page = malloc(sizeof(*page));
	const char *ids[INGESTD_ID_PAGE];
	int64_t before[INGESTD_ID_PAGE];
	char after[DAPI_ID_MAX + 1] = "";
	bool ok = page != NULL;

	*deleted = 0;
	while (ok && (ok = ingestd_store_tombstone_ids(st, after, page, err)) && page->n > 0) {
		int64_t n = 0;
		for (size_t i = 0; i < page->n; i++) {
			ids[i] = page->ids[i];
			before[i] = page->at[i] + tombstone_ttl;
		}
		ok = dapi_keystore_delete_revoked(ks, ids, before, page->n, &n, err);
		*deleted += n;
		strcpy(after, page->ids[page->n - 1]);
	}
	free(page);
	return ok;
}

bool ingestd_key_sweep_unused(struct dapi_keystore *ks, int64_t used_before, int64_t *deleted,
                              bson_error_t *err)
{
	struct ingestd_id_page *page = malloc(sizeof(*page));
	const char *ids[INGESTD_ID_PAGE];
	char after[DAPI_ID_MAX + 1] = "";
	bool ok = page != NULL;

	*deleted = 0;
	while (ok &&
	       (ok = dapi_keystore_unused_ids(ks, used_before, after, &page->ids[0][0],
	                                      INGESTD_ID_PAGE, &page->n, err)) &&
	       page->n > 0) {
		int64_t n = 0;
		for (size_t i = 0; i < page->n; i++)
			ids[i] = page->ids[i];
		/* consented and usedAt checked again: a key marked or handed out meanwhile stays */
		ok = dapi_keystore_delete_unconsented(ks, ids, page->n, used_before, &n, err);
		*deleted += n;
		strcpy(after, page->ids[page->n - 1]);
	}
	free(page);
	return ok;
}

struct dapi_series *ingestd_keys_deleted_series(const char *by)
{
	char labels[64];
	snprintf(labels, sizeof(labels), "by=\"%s\"", by);
	return dapi_metrics_series(dapi_metrics_family("dataapi_data_keys_deleted_total",
	                                               "Data keys deleted, by what erased their "
	                                               "dialog",
	                                               DAPI_COUNTER, NULL, 0),
	                           labels);
}
