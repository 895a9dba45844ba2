/* Bearer-token authorisation. Tokens are kept only as SHA-256 hashes with their roles;
 * a presented token is hashed and compared against every entry in constant time. */
#ifndef DAPI_AUTH_H
#define DAPI_AUTH_H

#include <stdbool.h>
#include <stddef.h>

enum dapi_role {
	DAPI_ROLE_PUBLIC = 0, /* no token needed (health, readiness, metrics) */
	DAPI_ROLE_WRITER = 1,
	DAPI_ROLE_READER = 2,
	DAPI_ROLE_PRIVACY = 4, /* a person's erasure, its status, a person's data */
};

enum dapi_auth_result {
	DAPI_AUTH_OK,
	DAPI_AUTH_MISSING,   /* 401: no Bearer token */
	DAPI_AUTH_UNKNOWN,   /* 401: a token we do not know */
	DAPI_AUTH_FORBIDDEN, /* 403: known token without the role */
};

struct dapi_auth;

struct dapi_auth *dapi_auth_new(void);
void dapi_auth_destroy(struct dapi_auth *a);

/* Loads a tokens file: one token a line, "<role>[,<role>] <sha256 hex of the token>",
 * '#' starts a comment. Returns -1 with errstr naming the line. */
int dapi_auth_load_file(struct dapi_auth *a, const char *path, char *errstr, size_t errstr_size);

/* Loads "role:token;role:sha256:<hex>;..." (plaintext is hashed at once and not kept). */
int dapi_auth_load_spec(struct dapi_auth *a, const char *spec, char *errstr, size_t errstr_size);

size_t dapi_auth_count(const struct dapi_auth *a);

/* Checks an Authorization header value (may be NULL) for the role. */
enum dapi_auth_result dapi_auth_check(const struct dapi_auth *a, const char *authorization,
                                      enum dapi_role role);

/* Parses a comma-separated list of "writer", "reader" and "privacy"; 0 when unknown. */
int dapi_role_parse(const char *s, size_t len);

#endif
