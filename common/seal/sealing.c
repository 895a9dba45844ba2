#include "sealing.h"

#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "mongo.h"

int dapi_sealing_check(const struct dapi_sealing_opts *o, char *errstr, size_t errstr_size)
{
	if (o->no_seal || *o->master_key_file)
		return 0;
	snprintf(errstr, errstr_size,
	         "no master key: set --master-key-file (DATAAPI_MASTER_KEY_FILE), or --no-seal to "
	         "run without sealing");
	return -1;
}

struct dapi_sealing *dapi_sealing_open(const struct dapi_sealing_opts *o, const char *default_uri,
                                       const char *appname, char *errstr, size_t errstr_size)
{
	struct dapi_sealing *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(errstr, errstr_size, "out of memory");
		return NULL;
	}
	if (o->no_seal) {
		DAPI_WARN("sealing_off", "{s:s}", "detail",
		          "--no-seal: messages go to Kafka in clear and erasure does not reach it");
		return s;
	}
	if (dapi_sealing_check(o, errstr, errstr_size) < 0 ||
	    dapi_master_keys_load(o->master_key_file, &s->mk, errstr, errstr_size) < 0)
		goto fail;
	const char *env = getenv("MONGODB_URI");
	const char *uri = *o->uri       ? o->uri
	                  : default_uri ? default_uri
	                  : env && *env ? env
	                                : "mongodb://127.0.0.1:27017";
	s->pool = dapi_mongo_pool_new(uri, appname, 0, 0, errstr, errstr_size);
	if (!s->pool)
		goto fail;
	struct dapi_keystore_config cfg = { s->pool, o->db, o->collection, &s->mk, false };
	if (!(s->keys = dapi_keystore_new(&cfg))) {
		snprintf(errstr, errstr_size, "out of memory");
		goto fail;
	}
	DAPI_INFO("sealing_on", "{s:s, s:i}", "wrappingKey", s->mk.keys[s->mk.n - 1].id,
	          "masterKeys", s->mk.n);
	return s;
fail:
	dapi_sealing_close(s);
	return NULL;
}

void dapi_sealing_close(struct dapi_sealing *s)
{
	if (!s)
		return;
	dapi_keystore_destroy(s->keys);
	if (s->pool)
		mongoc_client_pool_destroy(s->pool);
	dapi_master_keys_clear(&s->mk);
	free(s);
}
