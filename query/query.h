/* The query service: read-only HTTP API over the dialogs collection. */
#ifndef DAPI_QUERY_H
#define DAPI_QUERY_H

#include "dialogs.h"
#include "http.h"

struct query {
	struct dapi_dialogs dialogs;
	int retry_after_s;
};

extern const struct dapi_http_route query_routes[];
extern const size_t query_nroutes;

#endif
