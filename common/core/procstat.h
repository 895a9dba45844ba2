/* The process's own resource use, as the standard Prometheus process metrics
 * (process_resident_memory_bytes, process_cpu_seconds_total, ...), read from /proc when
 * GET /metrics renders the registry. */
#ifndef DAPI_PROCSTAT_H
#define DAPI_PROCSTAT_H

#include <stdbool.h>

struct dapi_procstat {
	double cpu_seconds; /* user + system */
	double rss_bytes;
	double vsize_bytes;
	double start_time; /* seconds since the epoch */
	double open_fds, max_fds;
};

/* Reads /proc/self; false (and *ps untouched) where /proc is not there. */
bool dapi_procstat_read(struct dapi_procstat *ps);

/* Sets the process_* series of the metrics registry from dapi_procstat_read(). */
void dapi_procstat_update_metrics(void);

#endif
