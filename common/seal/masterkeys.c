#include "masterkeys.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool valid_key_id(const char *s, size_t len)
{
	if (len == 0 || len > DAPI_MASTER_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-",
		            s[i]))
			return false;
	return true;
}

/* One "<id> <hex>" line into k; false when malformed. */
static bool parse_line(char *line, struct dapi_master_key *k)
{
	char *save = NULL, *id = strtok_r(line, " \t", &save), *hex = strtok_r(NULL, " \t", &save);
	char *rest = strtok_r(NULL, " \t", &save);
	if (!id || !hex || rest || !valid_key_id(id, strlen(id)) || strlen(hex) != 64)
		return false;
	for (int i = 0; i < DAPI_AEAD_KEY; i++) {
		int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		k->key[i] = (uint8_t)(hi << 4 | lo);
	}
	snprintf(k->id, sizeof(k->id), "%s", id);
	OPENSSL_cleanse(hex, 64);
	return true;
}

static int find(const struct dapi_master_keys *mk, const char *id)
{
	for (int i = 0; i < mk->n; i++)
		if (!strcmp(mk->keys[i].id, id))
			return i;
	return -1;
}

/* Reads every line of f into mk. */
static int read_lines(FILE *f, struct dapi_master_keys *mk, char *errstr, size_t errstr_size)
{
	char line[256];
	for (int no = 1; fgets(line, sizeof(line), f); no++) {
		line[strcspn(line, "\r\n#")] = '\0';
		if (strspn(line, " \t") == strlen(line))
			continue;
		struct dapi_master_key k;
		if (mk->n == DAPI_MASTER_MAX || !parse_line(line, &k) || find(mk, k.id) >= 0) {
			snprintf(errstr, errstr_size,
			         "master key file line %d: expected \"<id> <64 hex digits>\" with "
			         "an "
			         "id of 1-%d characters of [A-Za-z0-9._-], once (at most %d keys)",
			         no, DAPI_MASTER_ID_MAX, DAPI_MASTER_MAX);
			OPENSSL_cleanse(line, sizeof(line));
			OPENSSL_cleanse(&k, sizeof(k));
			return -1;
		}
		mk->keys[mk->n++] = k;
		OPENSSL_cleanse(&k, sizeof(k));
		OPENSSL_cleanse(line, sizeof(line));
	}
	return 0;
}

int dapi_master_keys_load(const char *path, struct dapi_master_keys *mk, char *errstr,
                          size_t errstr_size)
{
	FILE *f = fopen(path, "r");
	memset(mk, 0, sizeof(*mk));
	if (!f) {
		snprintf(errstr, errstr_size, "cannot read the master key file %s", path);
		return -1;
	}
	int rc = read_lines(f, mk, errstr, errstr_size);
	fclose(f);
	if (rc == 0 && mk->n == 0) {
		snprintf(errstr, errstr_size, "the master key file %s lists no key", path);
		rc = -1;
	}
	if (rc < 0)
		dapi_master_keys_clear(mk);
	return rc;
}

void dapi_master_keys_clear(struct dapi_master_keys *mk)
{
	OPENSSL_cleanse(mk, sizeof(*mk));
}

/* "dataapi/dek\n<master id>\n<dialog id>" */
static size_t wrap_aad(const char *id, const char *dialog_id, char *aad, size_t size)
{
	int n = snprintf(aad, size, "dataapi/dek\n%s\n%s", id, dialog_id);
	return n < 0 || (size_t)n >= size ? 0 : (size_t)n;
}

bool dapi_dek_wrap(const struct dapi_master_keys *mk, const char *dialog_id,
                   const uint8_t dek[DAPI_AEAD_KEY], uint8_t out[DAPI_DEK_WRAPPED], const char **id)
{
	const struct dapi_master_key *k = &mk->keys[mk->n - 1];
	char aad[256];
	size_t n = wrap_aad(k->id, dialog_id, aad, sizeof(aad));
	*id = k->id;
	return n > 0 && dapi_aead_seal(k->key, aad, n, dek, DAPI_AEAD_KEY, out);
}

enum dapi_unwrap dapi_dek_unwrap(const struct dapi_master_keys *mk, const char *id,
                                 const char *dialog_id, const uint8_t *wrapped, size_t len,
                                 uint8_t dek[DAPI_AEAD_KEY])
{
	int i = find(mk, id);
	char aad[256];
	size_t n;
	if (i < 0)
		return DAPI_UNWRAP_UNKNOWN_MASTER;
	n = wrap_aad(id, dialog_id, aad, sizeof(aad));
	if (n == 0 || len != DAPI_DEK_WRAPPED ||
	    !dapi_aead_open(mk->keys[i].key, aad, n, wrapped, len, dek))
		return DAPI_UNWRAP_INVALID;
	return DAPI_UNWRAP_OK;
}

bool dapi_master_tag(const struct dapi_master_keys *mk, int index, const char *purpose,
                     const char *value, uint8_t out[DAPI_TAG_LEN])
{
	char label[64];
	uint8_t sub[DAPI_TAG_LEN];
	unsigned int len = 0;
	if (index < 0 || index >= mk->n)
		return false;
	int n = snprintf(label, sizeof(label), "dataapi %s tag v1", purpose);
	bool ok = n > 0 && (size_t)n < sizeof(label) &&
	          HMAC(EVP_sha256(), mk->keys[index].key, DAPI_AEAD_KEY, (const uint8_t *)label,
	               (size_t)n, sub, &len) &&
	          len == DAPI_TAG_LEN &&
	          HMAC(EVP_sha256(), sub, sizeof(sub), (const uint8_t *)value, strlen(value), out,
	               &len) &&
	          len == DAPI_TAG_LEN;
	OPENSSL_cleanse(sub, sizeof(sub));
	return ok;
}
