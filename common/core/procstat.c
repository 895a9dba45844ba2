#include "procstat.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "metrics.h"

/* utime, stime, starttime (clock ticks), vsize (bytes), rss (pages): fields 14, 15, 22, 23
 * and 24 of /proc/self/stat, counted from the first field after the command's ')'. */
static bool read_stat(struct dapi_procstat *ps)
{
	char buf[1024];
	unsigned long long utime, stime, start, vsize;
	long long rss;
	FILE *f = fopen("/proc/self/stat", "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if (!p || sscanf(p + 2,
	                 "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d "
	                 "%*d %*d %llu %llu %lld",
	                 &utime, &stime, &start, &vsize, &rss) != 5)
		return false;
	double tick = (double)sysconf(_SC_CLK_TCK);
	ps->cpu_seconds = (double)(utime + stime) / tick;
	ps->start_time = (double)start / tick; /* since boot, until read_boot_time */
	ps->vsize_bytes = (double)vsize;
	ps->rss_bytes = (double)rss * (double)sysconf(_SC_PAGESIZE);
	return true;
}

static bool read_boot_time(double *btime)
{
	char line[256];
	unsigned long long t;
	bool found = false;
	FILE *f = fopen("/proc/stat", "r");
	while (f && !found && fgets(line, sizeof(line), f))
		found = sscanf(line, "btime %llu", &t) == 1;
	if (f)
		fclose(f);
	*btime = found ? (double)t : 0;
	return found;
}

static double count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	double n = 0;
	if (!d)
		return 0;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}

bool dapi_procstat_read(struct dapi_procstat *ps)
{
	struct dapi_procstat r;
	struct rlimit rl;
	double btime;
	if (!read_stat(&r) || !read_boot_time(&btime))
		return false;
	r.start_time += btime;
	r.open_fds = count_fds();
	r.max_fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (double)rl.rlim_cur : 0;
	*ps = r;
	return true;
}

static void set(const char *name, const char *help, enum dapi_metric_type type, double v)
{
	dapi_series_set(dapi_metrics_one(name, help, type), v);
}

void dapi_procstat_update_metrics(void)
{
	struct dapi_procstat ps;
	if (!dapi_procstat_read(&ps))
		return;
	set("process_cpu_seconds_total", "User and system CPU time spent, in seconds", DAPI_COUNTER,
	    ps.cpu_seconds);
	set("process_resident_memory_bytes", "Resident memory size in bytes", DAPI_GAUGE,
	    ps.rss_bytes);
	set("process_virtual_memory_bytes", "Virtual memory size in bytes", DAPI_GAUGE,
	    ps.vsize_bytes);
	set("process_start_time_seconds", "Start time of the process since the epoch, in seconds",
	    DAPI_GAUGE, ps.start_time);
	set("process_open_fds", "Open file descriptors", DAPI_GAUGE, ps.open_fds);
	set("process_max_fds", "Limit of open file descriptors", DAPI_GAUGE, ps.max_fds);
}
