#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timefmt.h"

static int set_value(const struct dapi_opt *o, const char *val, const char *origin, char *errstr,
                     size_t errstr_size)
{
	switch (o->type) {
	case DAPI_OPT_STRING:
		*(const char **)o->ptr = val;
		return 0;
	case DAPI_OPT_BOOL:
		if (!strcmp(val, "true") || !strcmp(val, "1") || !strcmp(val, "yes")) {
			*(bool *)o->ptr = true;
			return 0;
		}
		if (!strcmp(val, "false") || !strcmp(val, "0") || !strcmp(val, "no")) {
			*(bool *)o->ptr = false;
			return 0;
		}
		snprintf(errstr, errstr_size, "%s: --%s expects true or false, got \"%s\"", origin,
		         o->name, val);
		return -1;
	case DAPI_OPT_INT:
	case DAPI_OPT_DURATION: {
		int64_t v;
		bool ok;
		if (o->type == DAPI_OPT_DURATION) {
			ok = dapi_duration_parse(val, &v);
		} else {
			char *end;
			errno = 0;
			v = strtoll(val, &end, 10);
			ok = !errno && end != val && *end == '\0';
		}
		if (!ok) {
			snprintf(errstr, errstr_size, "%s: --%s expects %s, got \"%s\"", origin,
			         o->name,
			         o->type == DAPI_OPT_DURATION ? "a duration (500ms, 10s, 72h)"
			                                      : "a whole number",
			         val);
			return -1;
		}
		if (v < o->min || v > o->max) {
			snprintf(errstr, errstr_size,
			         "%s: --%s must be between %lld and %lld%s, got \"%s\"", origin,
			         o->name, (long long)o->min, (long long)o->max,
			         o->type == DAPI_OPT_DURATION ? " ms" : "", val);
			return -1;
		}
		*(int64_t *)o->ptr = v;
		return 0;
	}
	case DAPI_OPT_PROPS: {
		struct dapi_props *p = o->ptr;
		const char *eq = strchr(val, '=');
		if (!eq || eq == val) {
			snprintf(errstr, errstr_size, "%s: --%s expects key=value, got \"%s\"",
			         origin, o->name, val);
			return -1;
		}
		if (p->n >= DAPI_PROPS_MAX) {
			snprintf(errstr, errstr_size, "%s: more than %d --%s values", origin,
			         DAPI_PROPS_MAX, o->name);
			return -1;
		}
		p->items[p->n++] = val;
		return 0;
	}
	}
	return -1;
}

/* A props variable holds several "key=value" items separated by ';'. The copy lives as
 * long as the process, since the table keeps pointers into it. */
static int set_props_env(const struct dapi_opt *o, const char *val, char *errstr,
                         size_t errstr_size)
{
	char *copy = strdup(val), *save = NULL;
	if (!copy) {
		snprintf(errstr, errstr_size, "out of memory");
		return -1;
	}
	for (char *tok = strtok_r(copy, ";", &save); tok; tok = strtok_r(NULL, ";", &save))
		if (set_value(o, tok, o->env, errstr, errstr_size) < 0)
			return -1;
	return 0;
}

static void print_help(const struct dapi_opt *opts, size_t n, const char *prog, const char *summary)
{
	printf("Usage: %s [options]\n\n%s\n\nOptions (flags override environment variables):\n",
	       prog, summary);
	for (size_t i = 0; i < n; i++) {
		const struct dapi_opt *o = &opts[i];
		char flag[80];
		if (o->short_name)
			snprintf(flag, sizeof(flag), "-%c, --%s", o->short_name, o->name);
		else
			snprintf(flag, sizeof(flag), "    --%s", o->name);
		printf("  %-30s %s\n", flag, o->help);
		printf("  %-30s env %s", "", o->env ? o->env : "-");
		if (o->def)
			printf(", default %s", o->def);
		if (o->type == DAPI_OPT_INT)
			printf(", range %lld..%lld", (long long)o->min, (long long)o->max);
		printf("\n");
	}
	printf("  %-30s %s\n", "-h, --help", "Print this help and exit.");
}

static const struct dapi_opt *find_long(const struct dapi_opt *opts, size_t n, const char *name,
                                        size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(opts[i].name) == len && !strncmp(opts[i].name, name, len))
			return &opts[i];
	return NULL;
}

int dapi_config_load(const struct dapi_opt *opts, size_t n, int argc, char **argv,
                     const char *summary, char *errstr, size_t errstr_size)
{
	for (size_t i = 0; i < n; i++) {
		const struct dapi_opt *o = &opts[i];
		if (o->type == DAPI_OPT_PROPS)
			((struct dapi_props *)o->ptr)->n = 0;
		if (o->def && o->type != DAPI_OPT_PROPS &&
		    set_value(o, o->def, "default", errstr, errstr_size) < 0)
			return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const struct dapi_opt *o = &opts[i];
		const char *v = o->env ? getenv(o->env) : NULL;
		if (!v || !*v)
			continue;
		if (o->type == DAPI_OPT_PROPS ? set_props_env(o, v, errstr, errstr_size) < 0
		                              : set_value(o, v, o->env, errstr, errstr_size) < 0)
			return -1;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		const struct dapi_opt *o = NULL;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			print_help(opts, n, argv[0], summary);
			return 1;
		}
		if (!strncmp(a, "--", 2)) {
			const char *eq = strchr(a + 2, '=');
			o = find_long(opts, n, a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2));
			if (eq)
				val = eq + 1;
		} else if (a[0] == '-' && a[1] && !a[2]) {
			for (size_t k = 0; k < n && !o; k++)
				if (opts[k].short_name == a[1])
					o = &opts[k];
		}
		if (!o) {
			snprintf(errstr, errstr_size, "unknown argument \"%s\" (see --help)", a);
			return -1;
		}
		if (!val) {
			if (o->type == DAPI_OPT_BOOL) {
				val = "true";
			} else if (i + 1 < argc) {
				val = argv[++i];
			} else {
				snprintf(errstr, errstr_size, "--%s needs a value", o->name);
				return -1;
			}
		}
		if (set_value(o, val, "command line", errstr, errstr_size) < 0)
			return -1;
	}
	return 0;
}
