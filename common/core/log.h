/* JSON log lines on stderr: one object per line with time, level, component, event and
 * whatever fields the caller packs. Message text and tokens must never be passed here. */
#ifndef DAPI_LOG_H
#define DAPI_LOG_H

enum dapi_log_level { DAPI_LOG_DEBUG = 0, DAPI_LOG_INFO, DAPI_LOG_WARN, DAPI_LOG_ERROR };

extern int dapi_log_min_level;

/* Sets the component name (copied) and the lowest level that is written. */
void dapi_log_init(const char *component, int min_level);

/* "debug", "info", "warn", "error", then NULL: the names of the levels, in order. */
extern const char *const dapi_log_level_names[];

/* Writes one line. `fmt` is a jansson json_pack() format of an object ("{s:s, s:i}") whose
 * members are added to the line, or NULL for none. Prefer the DAPI_LOG macro. */
void dapi_log_emit(int level, const char *event, const char *fmt, ...);

/* Checks the level before any argument is formatted. */
#define DAPI_LOG(level, event, ...)                                   \
	do {                                                          \
		if ((level) >= dapi_log_min_level)                    \
			dapi_log_emit((level), (event), __VA_ARGS__); \
	} while (0)

#define DAPI_DEBUG(event, ...) DAPI_LOG(DAPI_LOG_DEBUG, event, __VA_ARGS__)
#define DAPI_INFO(event, ...)  DAPI_LOG(DAPI_LOG_INFO, event, __VA_ARGS__)
#define DAPI_WARN(event, ...)  DAPI_LOG(DAPI_LOG_WARN, event, __VA_ARGS__)
#define DAPI_ERROR(event, ...) DAPI_LOG(DAPI_LOG_ERROR, event, __VA_ARGS__)

#endif
