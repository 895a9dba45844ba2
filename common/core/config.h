/* Configuration: one table per program. Each row names a flag, its environment variable,
 * type, bounds, default and help text. Values are filled in layers: defaults, then the
 * environment, then the command line; --help prints the table. */
#ifndef DAPI_CONFIG_H
#define DAPI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum dapi_opt_type {
	DAPI_OPT_STRING,   /* ptr: const char ** */
	DAPI_OPT_INT,      /* ptr: int64_t *, bounded by min..max */
	DAPI_OPT_DURATION, /* ptr: int64_t * milliseconds ("10s", "72h"), bounded */
	DAPI_OPT_BOOL,     /* ptr: bool *; "--flag" alone means true */
	DAPI_OPT_PROPS,    /* ptr: struct dapi_props *; repeatable "key=value" */
	DAPI_OPT_ENUM,     /* ptr: int *, the index of the value in choices */
};

#define DAPI_PROPS_MAX 64

/* Pass-through "key=value" properties (librdkafka settings). */
struct dapi_props {
	const char *items[DAPI_PROPS_MAX];
	int n;
};

struct dapi_opt {
	const char *name; /* flag, without the leading "--" */
	char short_name;  /* single-letter alias ("-X"), or 0 */
	const char *env;  /* environment variable, or NULL */
	enum dapi_opt_type type;
	void *ptr;
	const char *def; /* default as text, or NULL */
	int64_t min, max;
	const char *help;
	const char *const *choices; /* DAPI_OPT_ENUM: the accepted values, NULL-terminated */
};

/* Loads defaults, environment and argv into the table's targets.
 * Returns 0 when the program should run, 1 when --help was printed (exit 0), and -1 on a
 * bad value or unknown flag, with the reason in errstr. */
int dapi_config_load(const struct dapi_opt *opts, size_t n, int argc, char **argv,
                     const char *summary, char *errstr, size_t errstr_size);

#endif
