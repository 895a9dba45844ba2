/* Unit tests: token files, token specs and the 401/403 decision. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"

/* A well-formed SHA-256 hex string that no test token hashes to. */
#define W_HASH "4eb9e29dc8ef5bd2e1d2f1f52cf11d0d4f5e89bbd6cc3c3c3ba2bbedb4e9e5bb"

static char *write_file(const char *text)
{
	static char path[] = "/tmp/dapi-tokens-XXXXXX";
	strcpy(path, "/tmp/dapi-tokens-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void roles_parse(void **state)
{
	assert_int_equal(dapi_role_parse("writer", 6), DAPI_ROLE_WRITER);
	assert_int_equal(dapi_role_parse("reader", 6), DAPI_ROLE_READER);
	assert_int_equal(dapi_role_parse("writer,reader", 13), DAPI_ROLE_WRITER | DAPI_ROLE_READER);
	assert_int_equal(dapi_role_parse("admin", 5), 0);
	assert_int_equal(dapi_role_parse("writer,", 7), 0);
	assert_int_equal(dapi_role_parse("", 0), 0);
}

static void spec_tokens_decide_401_and_403(void **state)
{
	char err[256];
	struct dapi_auth *a = dapi_auth_new();
	assert_int_equal(dapi_auth_load_spec(a,
	                                     "writer:w-secret;reader:r-secret;writer,reader:both",
	                                     err, sizeof(err)),
	                 0);
	assert_int_equal(dapi_auth_count(a), 3);
	assert_int_equal(dapi_auth_check(a, "Bearer w-secret", DAPI_ROLE_WRITER), DAPI_AUTH_OK);
	assert_int_equal(dapi_auth_check(a, "bearer   w-secret ", DAPI_ROLE_WRITER), DAPI_AUTH_OK);
	assert_int_equal(dapi_auth_check(a, "Bearer w-secret", DAPI_ROLE_READER),
	                 DAPI_AUTH_FORBIDDEN);
	assert_int_equal(dapi_auth_check(a, "Bearer r-secret", DAPI_ROLE_READER), DAPI_AUTH_OK);
	assert_int_equal(dapi_auth_check(a, "Bearer r-secret", DAPI_ROLE_WRITER),
	                 DAPI_AUTH_FORBIDDEN);
	assert_int_equal(dapi_auth_check(a, "Bearer both", DAPI_ROLE_READER), DAPI_AUTH_OK);
	assert_int_equal(dapi_auth_check(a, "Bearer both", DAPI_ROLE_WRITER), DAPI_AUTH_OK);
	assert_int_equal(dapi_auth_check(a, "Bearer w-secreT", DAPI_ROLE_WRITER),
	                 DAPI_AUTH_UNKNOWN);
	assert_int_equal(dapi_auth_check(a, "Bearer w-secre", DAPI_ROLE_WRITER), DAPI_AUTH_UNKNOWN);
	assert_int_equal(dapi_auth_check(a, NULL, DAPI_ROLE_WRITER), DAPI_AUTH_MISSING);
	assert_int_equal(dapi_auth_check(a, "", DAPI_ROLE_WRITER), DAPI_AUTH_MISSING);
	assert_int_equal(dapi_auth_check(a, "Bearer ", DAPI_ROLE_WRITER), DAPI_AUTH_MISSING);
	assert_int_equal(dapi_auth_check(a, "Basic dzpzZWNyZXQ=", DAPI_ROLE_WRITER),
	                 DAPI_AUTH_MISSING);
	assert_int_equal(dapi_auth_check(a, "w-secret", DAPI_ROLE_WRITER), DAPI_AUTH_MISSING);
	dapi_auth_destroy(a);
}

static void files_hold_hashes(void **state)
{
	char err[256];
	/* hash of "w-secret", computed here rather than trusted from a constant */
	FILE *p = popen("printf %s w-secret | sha256sum | cut -d' ' -f1", "r");
	char hash[80] = "", text[256];
	assert_non_null(fgets(hash, sizeof(hash), p));
	pclose(p);
	hash[strcspn(hash, "\n")] = '\0';
	snprintf(text, sizeof(text), "# tokens\n\nwriter %s  ci job\n", hash);
	struct dapi_auth *a = dapi_auth_new();
	assert_int_equal(dapi_auth_load_file(a, write_file(text), err, sizeof(err)), 0);
	assert_int_equal(dapi_auth_count(a), 1);
	assert_int_equal(dapi_auth_check(a, "Bearer w-secret", DAPI_ROLE_WRITER), DAPI_AUTH_OK);
	/* the file's hash text is not itself a token */
	snprintf(text, sizeof(text), "Bearer %s", hash);
	assert_int_equal(dapi_auth_check(a, text, DAPI_ROLE_WRITER), DAPI_AUTH_UNKNOWN);
	dapi_auth_destroy(a);
}

static void bad_files_and_specs_are_refused(void **state)
{
	char err[256];
	struct dapi_auth *a = dapi_auth_new();
	assert_int_equal(
	        dapi_auth_load_file(a, write_file("writer not-a-hash\n"), err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":1:"));
	assert_int_equal(dapi_auth_load_file(a, write_file("admin " W_HASH "\n"), err, sizeof(err)),
	                 -1);
	assert_int_equal(dapi_auth_load_file(a, "/nonexistent/tokens", err, sizeof(err)), -1);
	assert_int_equal(dapi_auth_load_spec(a, "writer", err, sizeof(err)), -1);
	assert_int_equal(dapi_auth_load_spec(a, "writer:", err, sizeof(err)), -1);
	assert_int_equal(dapi_auth_load_spec(a, "root:x", err, sizeof(err)), -1);
	assert_int_equal(dapi_auth_load_spec(a, "reader:sha256:zz", err, sizeof(err)), -1);
	assert_int_equal(dapi_auth_count(a), 0);
	assert_int_equal(dapi_auth_load_spec(a, "reader:sha256:" W_HASH, err, sizeof(err)), 0);
	assert_int_equal(dapi_auth_count(a), 1);
	dapi_auth_destroy(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(roles_parse),
		cmocka_unit_test(spec_tokens_decide_401_and_403),
		cmocka_unit_test(files_hold_hashes),
		cmocka_unit_test(bad_files_and_specs_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
