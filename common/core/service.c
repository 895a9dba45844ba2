#include "service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "timefmt.h"

volatile sig_atomic_t dapi_stop_requested = 0;

static void on_stop_signal(int sig)
{
	(void)sig;
	dapi_stop_requested = 1;
}

void dapi_signals_install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

void dapi_sleep_ms(int64_t ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) != 0)
		;
}

void dapi_sleep_unless_stopped(int64_t ms)
{
	int64_t end = dapi_time_mono_ms() + ms;
	while (!dapi_stop_requested) {
		int64_t left = end - dapi_time_mono_ms();
		if (left <= 0)
			return;
		dapi_sleep_ms(left > 100 ? 100 : left);
	}
}

int dapi_service_configured(const char *component, int rc, const char *errstr, int log_level)
{
	if (rc == 1)
		return 1;
	if (rc < 0) {
		fprintf(stderr, "dataapi-%s: %s\n", component, errstr);
		return 2;
	}
	dapi_log_init(component, log_level);
	const char *ahead = getenv("DAPI_TEST_CLOCK_AHEAD");
	int64_t ahead_ms = 0;
	if (ahead && dapi_duration_parse(ahead, &ahead_ms)) {
		dapi_time_run_ahead(ahead_ms);
		DAPI_WARN("test_clock_ahead", "{s:s, s:f}", "detail",
		          "DAPI_TEST_CLOCK_AHEAD moves this program's clock forward: tests only",
		          "aheadSeconds", (double)ahead_ms / 1000);
	}
	return 0;
}

void dapi_failpoint(const char *name)
{
	const char *armed = getenv("DAPI_FAILPOINT");
	if (armed && !strcmp(armed, name)) {
		fprintf(stderr, "dataapi: failpoint %s: SIGKILL\n", name);
		raise(SIGKILL);
	}
}
