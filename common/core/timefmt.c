#include "timefmt.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t clock_ahead_ms; /* set once at start, before any thread */

void dapi_time_run_ahead(int64_t ms)
{
	clock_ahead_ms = ms;
}

int64_t dapi_time_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + clock_ahead_ms;
}

int64_t dapi_time_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes v as n decimal digits, zero-padded. */
static char *put_digits(char *p, int v, int n)
{
	for (int i = n - 1; i >= 0; i--, v /= 10)
		p[i] = (char)('0' + v % 10);
	return p + n;
}

void dapi_time_format_ms(int64_t ms, char buf[DAPI_TIME_BUFSZ])
{
	int64_t msec = ms % 1000;
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	char *p = buf;

	if (msec < 0) { /* floor division for times before 1970 */
		msec += 1000;
		secs -= 1;
	}
	gmtime_r(&secs, &tm);
	if (tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999) {
		snprintf(buf, DAPI_TIME_BUFSZ, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		         tm.tm_sec, (int)msec);
		return;
	}
	/* By hand for the usual years (snprintf: ~3,000 instructions, on every request). */
	p = put_digits(p, tm.tm_year + 1900, 4);
	*p++ = '-';
	p = put_digits(p, tm.tm_mon + 1, 2);
	*p++ = '-';
	p = put_digits(p, tm.tm_mday, 2);
	*p++ = 'T';
	p = put_digits(p, tm.tm_hour, 2);
	*p++ = ':';
	p = put_digits(p, tm.tm_min, 2);
	*p++ = ':';
	p = put_digits(p, tm.tm_sec, 2);
	*p++ = '.';
	p = put_digits(p, (int)msec, 3);
	*p++ = 'Z';
	*p = '\0';
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Reads s against pattern, where each 'n' is one digit and any other character must match
 * itself ('T' also matches 't'); each run of digits is stored in the next of out[]. Returns
 * the characters read, or 0 when s does not match. */
static size_t scan(const char *s, const char *pattern, int *out)
{
	size_t i = 0;
	for (; pattern[i]; i++) {
		if (pattern[i] == 'n') {
			if (!isdigit((unsigned char)s[i]))
				return 0;
			*out = (i == 0 || pattern[i - 1] != 'n' ? 0 : *out) * 10 + (s[i] - '0');
			if (pattern[i + 1] != 'n')
				out++;
		} else if (s[i] != pattern[i] && !(pattern[i] == 'T' && s[i] == 't')) {
			return 0;
		}
	}
	return i;
}

static bool valid_civil(int y, int mo, int d, int h, int mi, int sec)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
		return false;
	return !(mo == 2 && d == 29 && !leap) && h <= 23 && mi <= 59 && sec <= 60;
}

/* ".123456" at *s: milliseconds (digits past the third are dropped); none is 0. */
static bool scan_fraction(const char **s, int *frac)
{
	int n = 0;
	*frac = 0;
	if (**s != '.')
		return true;
	for ((*s)++; isdigit((unsigned char)**s); (*s)++, n++)
		if (n < 3)
			*frac = *frac * 10 + (**s - '0');
	for (int i = n; i < 3; i++)
		*frac *= 10;
	return n > 0;
}

/* "Z" or "+hh:mm" / "-hh:mm" at *s, as minutes east of UTC. */
static bool scan_offset(const char **s, int *minutes)
{
	int hm[2];
	char sign = **s;

	if (sign == 'Z' || sign == 'z') {
		*minutes = 0;
		(*s)++;
		return true;
	}
	if ((sign != '+' && sign != '-') || !scan(*s + 1, "nn:nn", hm) || hm[0] > 23 || hm[1] > 59)
		return false;
	*minutes = (hm[0] * 60 + hm[1]) * (sign == '+' ? 1 : -1);
	*s += 6;
	return true;
}

bool dapi_time_parse(const char *s, int64_t *ms)
{
	int f[6], frac, off; /* year, month, day, hour, minute, second */

	if (!scan(s, "nnnn-nn-nnTnn:nn:nn", f) || !valid_civil(f[0], f[1], f[2], f[3], f[4], f[5]))
		return false;
	s += 19;
	if (!scan_fraction(&s, &frac) || !scan_offset(&s, &off) || *s)
		return false;
	if (f[5] == 60)
		f[5] = 59; /* a leap second folds onto the second before it */
	*ms = ((days_from_civil(f[0], f[1], f[2]) * 86400 + f[3] * 3600 + f[4] * 60 + f[5]) -
	       off * 60) *
	              1000 +
	      frac;
	return true;
}

bool dapi_duration_parse(const char *s, int64_t *ms)
{
	static const struct {
		const char *unit;
		int64_t mult;
	} units[] = { { "", 1 },      { "ms", 1 },      { "s", 1000 },
		      { "m", 60000 }, { "h", 3600000 }, { "d", 86400000 } };
	char *end;
	long long v;

	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno)
		return false;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) == 0) {
			if (v > INT64_MAX / units[i].mult)
				return false;
			*ms = v * units[i].mult;
			return true;
		}
	}
	return false;
}
