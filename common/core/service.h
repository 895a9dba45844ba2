/* What every program does the same way: signals, sleeps that a stop cuts short, and the
 * log-level option. */
#ifndef DAPI_SERVICE_H
#define DAPI_SERVICE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"

/* Set by SIGTERM/SIGINT; loops poll it at 100 ms or less. */
extern volatile sig_atomic_t dapi_stop_requested;

/* Installs the stop handlers and ignores SIGPIPE. */
void dapi_signals_install(void);

/* Sleeps ms milliseconds. */
void dapi_sleep_ms(int64_t ms);

/* Sleeps up to ms, returning early once a stop was requested. */
void dapi_sleep_unless_stopped(int64_t ms);

/* Sets up JSON logging; returns -1 with errstr when level is not a known level. */
int dapi_service_log_init(const char *component, const char *level, char *errstr,
                          size_t errstr_size);

/* clang-format off */
#define DAPI_OPT_LOG_LEVEL(var)                                                            \
	{"log-level", 0, "LOG_LEVEL", DAPI_OPT_STRING, &(var), "info", 0, 0,               \
	 "Lowest level logged: debug, info, warn, error"}

/* clang-format on */

#endif
