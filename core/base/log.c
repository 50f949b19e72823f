#include "core/base/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

static atomic_int min_level = LVL_INFO;

void log_set_level(enum log_level min)
{
	atomic_store(&min_level, (int)min);
}

enum log_level log_get_level(void)
{
	return (enum log_level)atomic_load(&min_level);
}

void log_msg(enum log_level lvl, const char *mod, const char *id, const char *fmt, ...)
{
	static const char *const names[] = {"debug", "info", "warn", "error"};
	char line[2048];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n;

	if ((int)lvl < atomic_load(&min_level))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line),
	             "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s%s%s%s: ", tm.tm_year + 1900,
	             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	             ts.tv_nsec / 1000000, names[lvl], mod, id ? " [" : "", id ? id : "",
	             id ? "]" : "");
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* One fputs per line: stdio locks the stream, so lines never interleave. */
	fprintf(stderr, "%s\n", line);
}
