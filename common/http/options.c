#include "options.h"

#include <stdio.h>

#include "log.h"

void dapi_service_http_config(const struct dapi_service_opts *o, struct dapi_http_config *cfg)
{
	cfg->bind_addr = o->bind;
	cfg->port = (int)o->port;
	cfg->threads = (int)o->threads;
	cfg->conn_timeout_s = (int)o->conn_timeout_s;
	cfg->conn_limit = (int)o->conn_limit;
	cfg->per_ip_limit = (int)o->per_ip_limit;
}

int dapi_service_auth_load(const struct dapi_auth_opts *o, struct dapi_auth **auth, char *errstr,
                           size_t errstr_size)
{
	bool any = *o->tokens_file || *o->tokens;

	*auth = NULL;
	if (o->no_auth) {
		if (any) {
			snprintf(errstr, errstr_size,
			         "--no-auth contradicts the configured tokens");
			return -1;
		}
		DAPI_WARN("auth_disabled", "{s:s}", "detail", "started with --no-auth");
		return 0;
	}
	if (!any) {
		snprintf(errstr, errstr_size,
		         "no tokens configured: set --tokens-file / AUTH_TOKENS_FILE or "
		         "AUTH_TOKENS, "
		         "or start with --no-auth");
		return -1;
	}
	*auth = dapi_auth_new();
	if (!*auth ||
	    (*o->tokens_file &&
	     dapi_auth_load_file(*auth, o->tokens_file, errstr, errstr_size) < 0) ||
	    (*o->tokens && dapi_auth_load_spec(*auth, o->tokens, errstr, errstr_size) < 0)) {
		dapi_auth_destroy(*auth);
		*auth = NULL;
		return -1;
	}
	if (dapi_auth_count(*auth) == 0) {
		snprintf(errstr, errstr_size, "the tokens file holds no token");
		dapi_auth_destroy(*auth);
		*auth = NULL;
		return -1;
	}
	DAPI_INFO("auth_enabled", "{s:i}", "tokens", (int)dapi_auth_count(*auth));
	return 0;
}
