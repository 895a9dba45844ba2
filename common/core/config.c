#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timefmt.h"

static int set_bool(const struct dapi_opt *o, const char *val, const char *origin, char *errstr,
                    size_t errstr_size)
{
	static const char *const yes[] = { "true", "1", "yes" }, *const no[] = { "false", "0",
		                                                                 "no" };
	for (int i = 0; i < 3; i++) {
		if (!strcmp(val, yes[i]) || !strcmp(val, no[i])) {
			*(bool *)o->ptr = !strcmp(val, yes[i]);
			return 0;
		}
	}
	snprintf(errstr, errstr_size, "%s: --%s expects true or false, got \"%s\"", origin, o->name,
	         val);
	return -1;
}

static int set_number(const struct dapi_opt *o, const char *val, const char *origin, char *errstr,
                      size_t errstr_size)
{
	bool duration = o->type == DAPI_OPT_DURATION;
	int64_t v;
	char *end;
	bool ok;

	if (duration) {
		ok = dapi_duration_parse(val, &v);
	} else {
		errno = 0;
		v = strtoll(val, &end, 10);
		ok = !errno && end != val && *end == '\0';
	}
	if (!ok) {
		snprintf(errstr, errstr_size, "%s: --%s expects %s, got \"%s\"", origin, o->name,
		         duration ? "a duration (500ms, 10s, 72h)" : "a whole number", val);
		return -1;
	}
	if (v < o->min || v > o->max) {
		snprintf(errstr, errstr_size,
		         "%s: --%s must be between %lld and %lld%s, got \"%s\"", origin, o->name,
		         (long long)o->min, (long long)o->max, duration ? " ms" : "", val);
		return -1;
	}
	*(int64_t *)o->ptr = v;
	return 0;
}

static int set_prop(const struct dapi_opt *o, const char *val, const char *origin, char *errstr,
                    size_t errstr_size)
{
	struct dapi_props *p = o->ptr;
	const char *eq = strchr(val, '=');
	if (!eq || eq == val) {
		snprintf(errstr, errstr_size, "%s: --%s expects key=value, got \"%s\"", origin,
		         o->name, val);
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

/* "a, b or c" */
static void list_choices(const char *const *choices, char *buf, size_t size)
{
	size_t used = 0;
	buf[0] = '\0';
	for (int i = 0; choices[i] && used < size; i++)
		used += (size_t)snprintf(buf + used, size - used, "%s%s",
		                         i == 0           ? ""
		                         : choices[i + 1] ? ", "
		                                          : " or ",
		                         choices[i]);
}

static int set_enum(const struct dapi_opt *o, const char *val, const char *origin, char *errstr,
                    size_t errstr_size)
{
	char names[160];
	for (int i = 0; o->choices[i]; i++) {
		if (!strcmp(val, o->choices[i])) {
			*(int *)o->ptr = i;
			return 0;
		}
	}
	list_choices(o->choices, names, sizeof(names));
	snprintf(errstr, errstr_size, "%s: --%s must be %s, got \"%s\"", origin, o->name, names,
	         val);
	return -1;
}

static int set_value(const struct dapi_opt *o, const char *val, const char *origin, char *errstr,
                     size_t errstr_size)
{
	switch (o->type) {
	case DAPI_OPT_STRING:
		*(const char **)o->ptr = val;
		return 0;
	case DAPI_OPT_BOOL:
		return set_bool(o, val, origin, errstr, errstr_size);
	case DAPI_OPT_INT:
	case DAPI_OPT_DURATION:
		return set_number(o, val, origin, errstr, errstr_size);
	case DAPI_OPT_PROPS:
		return set_prop(o, val, origin, errstr, errstr_size);
	case DAPI_OPT_ENUM:
		return set_enum(o, val, origin, errstr, errstr_size);
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
		if (o->type == DAPI_OPT_ENUM) {
			char names[160];
			list_choices(o->choices, names, sizeof(names));
			printf(", one of %s", names);
		}
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

/* Defaults, then the environment. */
static int load_defaults_and_env(const struct dapi_opt *opts, size_t n, char *errstr,
                                 size_t errstr_size)
{
	for (size_t i = 0; i < n; i++) {
		const struct dapi_opt *o = &opts[i];
		if (o->type == DAPI_OPT_PROPS)
			((struct dapi_props *)o->ptr)->n = 0;
		else if (o->def && set_value(o, o->def, "default", errstr, errstr_size) < 0)
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
	return 0;
}

/* The row of argument a ("--name", "--name=value" or "-x"); *val is the inline value. */
static const struct dapi_opt *find_arg(const struct dapi_opt *opts, size_t n, const char *a,
                                       const char **val)
{
	*val = NULL;
	if (!strncmp(a, "--", 2)) {
		const char *eq = strchr(a + 2, '=');
		if (eq)
			*val = eq + 1;
		return find_long(opts, n, a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2));
	}
	if (a[0] == '-' && a[1] && !a[2])
		for (size_t k = 0; k < n; k++)
			if (opts[k].short_name == a[1])
				return &opts[k];
	return NULL;
}

int dapi_config_load(const struct dapi_opt *opts, size_t n, int argc, char **argv,
                     const char *summary, char *errstr, size_t errstr_size)
{
	if (load_defaults_and_env(opts, n, errstr, errstr_size) < 0)
		return -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val;
		const struct dapi_opt *o;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			print_help(opts, n, argv[0], summary);
			return 1;
		}
		if (!(o = find_arg(opts, n, a, &val))) {
			snprintf(errstr, errstr_size, "unknown argument \"%s\" (see --help)", a);
			return -1;
		}
		if (!val && o->type == DAPI_OPT_BOOL)
			val = "true";
		else if (!val && i + 1 < argc)
			val = argv[++i];
		if (!val) {
			snprintf(errstr, errstr_size, "--%s needs a value", o->name);
			return -1;
		}
		if (set_value(o, val, "command line", errstr, errstr_size) < 0)
			return -1;
	}
	return 0;
}
