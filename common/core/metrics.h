/* The one metrics registry of a process, rendered as Prometheus text by GET /metrics.
 * A family (name, help, type) holds series, one per label set; series are created on first
 * use and live as long as the process, so callers may keep the pointer. Updates are
 * lock-free atomics; creating a series and rendering take the registry lock. */
#ifndef DAPI_METRICS_H
#define DAPI_METRICS_H

#include <stddef.h>

enum dapi_metric_type { DAPI_COUNTER, DAPI_GAUGE, DAPI_HISTOGRAM };

struct dapi_family;
struct dapi_series;

/* Registers a family (idempotent by name). Histograms take bucket upper bounds in
 * ascending order (seconds for durations); others pass NULL, 0. */
struct dapi_family *dapi_metrics_family(const char *name, const char *help,
                                        enum dapi_metric_type type, const double *bounds,
                                        size_t nbounds);

/* The series with these labels, in Prometheus syntax without braces
 * (`route="/data",status="200"`, or "" for none). NULL only when out of memory. */
struct dapi_series *dapi_metrics_series(struct dapi_family *f, const char *labels);

/* The one series of a family without labels (a counter or a gauge): family + series. */
struct dapi_series *dapi_metrics_one(const char *name, const char *help,
                                     enum dapi_metric_type type);

void dapi_series_add(struct dapi_series *s, double v);     /* counter, gauge */
void dapi_series_set(struct dapi_series *s, double v);     /* gauge */
void dapi_series_observe(struct dapi_series *s, double v); /* histogram */

/* Shorthand: family lookup + series + add/observe, for labels known only at run time. */
void dapi_metrics_inc(struct dapi_family *f, const char *labels, double v);
void dapi_metrics_observe(struct dapi_family *f, const char *labels, double v);

/* The whole registry as Prometheus text exposition format; malloc'd, caller frees. */
char *dapi_metrics_render(size_t *len);

/* Latency buckets in seconds, 1 ms .. 10 s. */
extern const double dapi_latency_buckets[];
extern const size_t dapi_latency_nbuckets;

#endif
