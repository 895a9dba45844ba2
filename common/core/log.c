#include "log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "timefmt.h"

int dapi_log_min_level = DAPI_LOG_INFO;
static char log_component[32] = "dataapi";

const char *const dapi_log_level_names[] = { "debug", "info", "warn", "error", NULL };

void dapi_log_init(const char *component, int min_level)
{
	snprintf(log_component, sizeof(log_component), "%s", component);
	dapi_log_min_level = min_level;
}

void dapi_log_emit(int level, const char *event, const char *fmt, ...)
{
	char ts[DAPI_TIME_BUFSZ];
	json_t *line, *extra = NULL;
	char *text;

	if (level < DAPI_LOG_DEBUG || level > DAPI_LOG_ERROR)
		level = DAPI_LOG_ERROR;
	dapi_time_format_ms(dapi_time_now_ms(), ts);
	line = json_pack("{s:s, s:s, s:s, s:s}", "time", ts, "level", dapi_log_level_names[level],
	                 "component", log_component, "event", event);
	if (!line)
		return;
	if (fmt) {
		va_list ap;
		json_error_t jerr;
		va_start(ap, fmt);
		extra = json_vpack_ex(&jerr, 0, fmt, ap);
		va_end(ap);
		if (extra)
			json_object_update(line, extra);
		else
			json_object_set_new(line, "log_error", json_string(jerr.text));
		json_decref(extra);
	}
	text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(line);
	if (!text)
		return;
	/* One fputs under the stream lock keeps lines from threads whole. */
	flockfile(stderr);
	fputs(text, stderr);
	fputc('\n', stderr);
	funlockfile(stderr);
	free(text);
}
