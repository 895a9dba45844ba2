#include "auth.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TOKEN_MAX 4096

struct token {
	unsigned char hash[SHA256_DIGEST_LENGTH];
	int roles;
};

struct dapi_auth {
	struct token *tokens;
	size_t n;
	EVP_MD *sha256; /* fetched once; NULL: SHA256() */
};

struct dapi_auth *dapi_auth_new(void)
{
	struct dapi_auth *a = calloc(1, sizeof(struct dapi_auth));
	if (a)
		a->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	return a;
}

/* OpenSSL 3's one-shot SHA256() looks the algorithm up on every call: most of what hashing a
 * token cost on each request. */
static void hash_token(const struct dapi_auth *a, const char *tok, size_t len,
                       unsigned char out[SHA256_DIGEST_LENGTH])
{
	if (!a->sha256 || !EVP_Digest(tok, len, out, NULL, a->sha256, NULL))
		SHA256((const unsigned char *)tok, len, out);
}

void dapi_auth_destroy(struct dapi_auth *a)
{
	if (!a)
		return;
	OPENSSL_cleanse(a->tokens, a->n * sizeof(*a->tokens));
	free(a->tokens);
	EVP_MD_free(a->sha256);
	free(a);
}

size_t dapi_auth_count(const struct dapi_auth *a)
{
	return a ? a->n : 0;
}

int dapi_role_parse(const char *s, size_t len)
{
	int roles = 0;
	while (len > 0) {
		size_t part = 0;
		while (part < len && s[part] != ',')
			part++;
		if (part == 6 && !strncmp(s, "writer", 6))
			roles |= DAPI_ROLE_WRITER;
		else if (part == 6 && !strncmp(s, "reader", 6))
			roles |= DAPI_ROLE_READER;
		else if (part == 7 && !strncmp(s, "privacy", 7))
			roles |= DAPI_ROLE_PRIVACY;
		else
			return 0;
		s += part;
		len -= part;
		if (len > 0) {
			s++;
			len--;
			if (len == 0)
				return 0; /* trailing comma */
		}
	}
	return roles;
}

static int add(struct dapi_auth *a, const unsigned char hash[SHA256_DIGEST_LENGTH], int roles)
{
	struct token *grown = realloc(a->tokens, (a->n + 1) * sizeof(*grown));
	if (!grown)
		return -1;
	a->tokens = grown;
	memcpy(a->tokens[a->n].hash, hash, SHA256_DIGEST_LENGTH);
	a->tokens[a->n].roles = roles;
	a->n++;
	return 0;
}

static bool parse_hex_hash(const char *s, size_t len, unsigned char out[SHA256_DIGEST_LENGTH])
{
	if (len != 2 * SHA256_DIGEST_LENGTH)
		return false;
	for (size_t i = 0; i < SHA256_DIGEST_LENGTH; i++) {
		unsigned v = 0;
		for (int k = 0; k < 2; k++) {
			char c = (char)tolower((unsigned char)s[2 * i + k]);
			if (c >= '0' && c <= '9')
				v = v * 16 + (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v = v * 16 + (unsigned)(c - 'a' + 10);
			else
				return false;
		}
		out[i] = (unsigned char)v;
	}
	return true;
}

int dapi_auth_load_file(struct dapi_auth *a, const char *path, char *errstr, size_t errstr_size)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	int lineno = 0, rc = 0;

	if (!f) {
		snprintf(errstr, errstr_size, "cannot read tokens file %s", path);
		return -1;
	}
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		unsigned char hash[SHA256_DIGEST_LENGTH];
		char *p = line, *role, *hex;
		size_t rlen, hlen;
		int roles;

		lineno++;
		line[strcspn(line, "#\r\n")] = '\0';
		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			continue;
		role = p;
		rlen = strcspn(p, " \t");
		hex = role + rlen;
		while (isspace((unsigned char)*hex))
			hex++;
		hlen = strcspn(hex, " \t");
		roles = dapi_role_parse(role, rlen);
		if (!roles || !parse_hex_hash(hex, hlen, hash)) {
			snprintf(errstr, errstr_size,
			         "%s:%d: expected \"<writer|reader|privacy>[,...] <sha256 hex>\"",
			         path, lineno);
			rc = -1;
		} else if (add(a, hash, roles) < 0) {
			snprintf(errstr, errstr_size, "out of memory");
			rc = -1;
		}
	}
	fclose(f);
	return rc;
}

int dapi_auth_load_spec(struct dapi_auth *a, const char *spec, char *errstr, size_t errstr_size)
{
	const char *p = spec;
	while (*p) {
		size_t len = strcspn(p, ";");
		const char *colon = memchr(p, ':', len);
		unsigned char hash[SHA256_DIGEST_LENGTH];
		int roles = colon ? dapi_role_parse(p, (size_t)(colon - p)) : 0;

		if (len == 0) {
			p++;
			continue;
		}
		if (!roles || (size_t)(colon - p) + 1 >= len) {
			snprintf(errstr, errstr_size,
			         "tokens: each entry is role:token or role:sha256:<hex>");
			return -1;
		}
		const char *tok = colon + 1;
		size_t tlen = len - (size_t)(tok - p);
		if (tlen > 7 && !strncmp(tok, "sha256:", 7)) {
			if (!parse_hex_hash(tok + 7, tlen - 7, hash)) {
				snprintf(errstr, errstr_size, "tokens: bad sha256 hash");
				return -1;
			}
		} else {
			hash_token(a, tok, tlen, hash);
		}
		if (add(a, hash, roles) < 0) {
			snprintf(errstr, errstr_size, "out of memory");
			return -1;
		}
		p += len;
		if (*p == ';')
			p++;
	}
	return 0;
}

enum dapi_auth_result dapi_auth_check(const struct dapi_auth *a, const char *authorization,
                                      enum dapi_role role)
{
	unsigned char hash[SHA256_DIGEST_LENGTH];
	const char *tok;
	size_t len;
	int roles = 0, known = 0;

	if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
		return DAPI_AUTH_MISSING;
	tok = authorization + 7;
	while (*tok == ' ')
		tok++;
	len = strlen(tok);
	while (len > 0 && tok[len - 1] == ' ')
		len--;
	if (len == 0)
		return DAPI_AUTH_MISSING;
	if (len > TOKEN_MAX)
		return DAPI_AUTH_UNKNOWN;
	hash_token(a, tok, len, hash);
	/* Every entry is compared, whatever matched before: the time taken does not depend on
	 * which token (if any) matched. */
	for (size_t i = 0; i < a->n; i++) {
		int match = CRYPTO_memcmp(hash, a->tokens[i].hash, sizeof(hash)) == 0;
		known |= match;
		roles |= match ? a->tokens[i].roles : 0;
	}
	OPENSSL_cleanse(hash, sizeof(hash));
	if (!known)
		return DAPI_AUTH_UNKNOWN;
	return (roles & (int)role) ? DAPI_AUTH_OK : DAPI_AUTH_FORBIDDEN;
}
