#include "metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double dapi_latency_buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
	                                0.25,  0.5,    1,     2.5,  5,     10 };
const size_t dapi_latency_nbuckets = sizeof(dapi_latency_buckets) / sizeof(double);

/* Series are only ever appended, fully built before they are linked, and never freed, so
 * a lookup walks the list without the lock (acquire loads pair with the release store
 * that links a new series); only creating one takes the lock. Every request updates a few
 * series, and a registry-wide lock there made HTTP threads wait for each other. */
struct dapi_series {
	_Atomic(struct dapi_series *) next;
	struct dapi_family *family;
	char *labels;
	atomic_uint_fast64_t value; /* a double's bits: counter, gauge; histogram: sum */
	atomic_uint_fast64_t count;
	atomic_uint_fast64_t *buckets; /* histogram: per bucket, not cumulative */
};

struct dapi_family {
	struct dapi_family *next;
	char *name, *help;
	enum dapi_metric_type type;
	double *bounds;
	size_t nbounds;
	_Atomic(struct dapi_series *) series;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct dapi_family *families, **families_tail = &families;

struct dapi_family *dapi_metrics_family(const char *name, const char *help,
                                        enum dapi_metric_type type, const double *bounds,
                                        size_t nbounds)
{
	struct dapi_family *f;

	pthread_mutex_lock(&lock);
	for (f = families; f; f = f->next)
		if (!strcmp(f->name, name))
			goto out;
	f = calloc(1, sizeof(*f));
	if (!f)
		goto out;
	f->name = strdup(name);
	f->help = strdup(help);
	f->type = type;
	if (nbounds) {
		f->bounds = malloc(nbounds * sizeof(double));
		if (f->bounds)
			memcpy(f->bounds, bounds, nbounds * sizeof(double));
		f->nbounds = f->bounds ? nbounds : 0;
	}
	*families_tail = f;
	families_tail = &f->next;
out:
	pthread_mutex_unlock(&lock);
	return f;
}

/* The series with these labels, or NULL; *tail is left at the list's end on a miss. */
static struct dapi_series *series_find(struct dapi_family *f, const char *labels,
                                       _Atomic(struct dapi_series *) **tail)
{
	_Atomic(struct dapi_series *) *link = &f->series;
	struct dapi_series *s;

	for (; (s = atomic_load_explicit(link, memory_order_acquire)); link = &s->next)
		if (!strcmp(s->labels, labels))
			return s;
	*tail = link;
	return NULL;
}

struct dapi_series *dapi_metrics_series(struct dapi_family *f, const char *labels)
{
	_Atomic(struct dapi_series *) *tail;
	struct dapi_series *s;

	if (!f)
		return NULL;
	s = series_find(f, labels, &tail);
	if (s)
		return s;
	pthread_mutex_lock(&lock);
	s = series_find(f, labels, &tail); /* another thread may have added it meanwhile */
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (s) {
			s->family = f;
			s->labels = strdup(labels);
			if (f->type == DAPI_HISTOGRAM)
				s->buckets = calloc(f->nbounds + 1, sizeof(*s->buckets));
			atomic_store_explicit(tail, s, memory_order_release);
		}
	}
	pthread_mutex_unlock(&lock);
	return s;
}

struct dapi_series *dapi_metrics_one(const char *name, const char *help, enum dapi_metric_type type)
{
	return dapi_metrics_series(dapi_metrics_family(name, help, type, NULL, 0), "");
}

static uint64_t bits_of(double d)
{
	uint64_t u;
	memcpy(&u, &d, sizeof(u));
	return u;
}

static double double_of(uint64_t u)
{
	double d;
	memcpy(&d, &u, sizeof(d));
	return d;
}

/* Lock-free add on a double kept as its bit pattern (no libatomic needed). */
static void add_double(atomic_uint_fast64_t *p, double v)
{
	uint_fast64_t old = atomic_load(p);
	while (!atomic_compare_exchange_weak(p, &old, bits_of(double_of(old) + v)))
		;
}

void dapi_series_add(struct dapi_series *s, double v)
{
	if (s)
		add_double(&s->value, v);
}

void dapi_series_set(struct dapi_series *s, double v)
{
	if (s)
		atomic_store(&s->value, bits_of(v));
}

void dapi_series_observe(struct dapi_series *s, double v)
{
	size_t i = 0;
	if (!s || !s->buckets)
		return;
	while (i < s->family->nbounds && v > s->family->bounds[i])
		i++;
	atomic_fetch_add(&s->buckets[i], 1);
	atomic_fetch_add(&s->count, 1);
	add_double(&s->value, v);
}

void dapi_metrics_inc(struct dapi_family *f, const char *labels, double v)
{
	dapi_series_add(dapi_metrics_series(f, labels), v);
}

void dapi_metrics_observe(struct dapi_family *f, const char *labels, double v)
{
	dapi_series_observe(dapi_metrics_series(f, labels), v);
}

/* ---- rendering -------------------------------------------------------------------- */

struct out {
	char *p;
	size_t len, cap;
	int failed;
};

static void outf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;
	if (o->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->failed = 1;
			return;
		}
		if ((size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		char *grown = realloc(o->p, o->cap * 2 + (size_t)n);
		if (!grown) {
			o->failed = 1;
			return;
		}
		o->p = grown;
		o->cap = o->cap * 2 + (size_t)n;
	}
}

/* `name{labels,extra}` with the braces only when there is something inside. */
static void series_name(struct out *o, const char *name, const char *suffix, const char *labels,
                        const char *extra)
{
	bool l = labels && *labels, e = extra && *extra;
	outf(o, "%s%s", name, suffix);
	if (l || e)
		outf(o, "{%s%s%s}", l ? labels : "", l && e ? "," : "", e ? extra : "");
}

char *dapi_metrics_render(size_t *len)
{
	static const char *const types[] = { "counter", "gauge", "histogram" };
	struct out o = { malloc(4096), 0, 4096, 0 };

	if (!o.p)
		return NULL;
	o.p[0] = '\0';
	pthread_mutex_lock(&lock);
	for (struct dapi_family *f = families; f; f = f->next) {
		outf(&o, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, types[f->type]);
		for (struct dapi_series *s = f->series; s; s = s->next) {
			if (f->type != DAPI_HISTOGRAM) {
				series_name(&o, f->name, "", s->labels, NULL);
				outf(&o, " %.17g\n", double_of(atomic_load(&s->value)));
				continue;
			}
			uint64_t cum = 0;
			char le[64];
			for (size_t i = 0; i <= f->nbounds; i++) {
				cum += atomic_load(&s->buckets[i]);
				if (i < f->nbounds)
					snprintf(le, sizeof(le), "le=\"%g\"", f->bounds[i]);
				else
					snprintf(le, sizeof(le), "le=\"+Inf\"");
				series_name(&o, f->name, "_bucket", s->labels, le);
				outf(&o, " %llu\n", (unsigned long long)cum);
			}
			series_name(&o, f->name, "_sum", s->labels, NULL);
			outf(&o, " %.17g\n", double_of(atomic_load(&s->value)));
			series_name(&o, f->name, "_count", s->labels, NULL);
			outf(&o, " %llu\n", (unsigned long long)atomic_load(&s->count));
		}
	}
	pthread_mutex_unlock(&lock);
	if (o.failed) {
		free(o.p);
		return NULL;
	}
	*len = o.len;
	return o.p;
}
