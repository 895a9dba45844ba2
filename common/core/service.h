/* What every program does the same way: signals, sleeps that a stop cuts short, and the
 * log-level option. */
#ifndef DAPI_SERVICE_H
#define DAPI_SERVICE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "log.h"

/* Set by SIGTERM/SIGINT; loops poll it at 100 ms or less. */
extern volatile sig_atomic_t dapi_stop_requested;

/* Installs the stop handlers and ignores SIGPIPE. */
void dapi_signals_install(void);

/* Sleeps ms milliseconds. */
void dapi_sleep_ms(int64_t ms);

/* Sleeps up to ms, returning early once a stop was requested. */
void dapi_sleep_unless_stopped(int64_t ms);

/* A fault-injection point for the reliability tests: when the environment variable
 * DAPI_FAILPOINT names this point, the process kills itself with SIGKILL there (what a
 * kill -9 at that instant would do). Points: "after_tombstone_write" (ingestd, between a
 * batch's write and the deletion of its erased dialogs' keys). */
void dapi_failpoint(const char *name);

/* The end of option loading, the same in every program. rc is dapi_config_load's, or -1
 * when a check of the program's own failed (errstr says why). Prints a refusal on stderr
 * as "dataapi-<component>: <errstr>", else sets up logging at log_level and, for tests,
 * moves the clock forward by DAPI_TEST_CLOCK_AHEAD (a duration) when set. Returns 0 to run,
 * 1 after --help (exit 0) or 2 after a refusal (exit 2): what each program's
 * <program>_configure returns. */
int dapi_service_configured(const char *component, int rc, const char *errstr, int log_level);

/* clang-format off */
#define DAPI_OPT_LOG_LEVEL(var)                                                            \
	{"log-level", 0, "LOG_LEVEL", DAPI_OPT_ENUM, &(var), "info", 0, 0,                 \
	 "Lowest level logged", dapi_log_level_names}

/* clang-format on */

#endif
