/* Wall-clock helpers. Times are milliseconds since the Unix epoch, UTC. */
#ifndef DAPI_TIMEFMT_H
#define DAPI_TIMEFMT_H

#include <stdbool.h>
#include <stdint.h>

#define DAPI_TIME_BUFSZ 64

int64_t dapi_time_now_ms(void);

/* Moves dapi_time_now_ms forward by ms from now on (tests that simulate time passing: the
 * DAPI_TEST_CLOCK_AHEAD variable, read by dapi_service_configured). Call before any thread
 * starts. */
void dapi_time_run_ahead(int64_t ms);

/* Monotonic milliseconds, for timeouts and latencies. */
int64_t dapi_time_mono_ms(void);

/* Writes "2026-11-22T10:00:00.123Z" into buf (DAPI_TIME_BUFSZ bytes). */
void dapi_time_format_ms(int64_t ms, char buf[DAPI_TIME_BUFSZ]);

/* Parses RFC 3339 ("2026-11-22T10:00:00Z", optional fraction, "Z" or "+hh:mm").
 * Fractions beyond milliseconds are truncated. Returns false on anything else. */
bool dapi_time_parse(const char *s, int64_t *ms);

/* Parses a duration: a whole number with unit ms, s, m, h or d ("72h", "500ms").
 * A bare number is milliseconds. Returns false on anything else or overflow. */
bool dapi_duration_parse(const char *s, int64_t *ms);

#endif
