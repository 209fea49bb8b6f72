#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

enum log_level log_threshold = LOG_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void log_set_level(enum log_level level)
{
	log_threshold = level;
}

static void log_vmsg(enum log_level level, const char *source,
		     const char *entity, const char *fmt, va_list ap)
{
	char line[4096];
	char stamp[32];
	struct timeval tv;
	struct tm tm;

	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	int n = snprintf(line, sizeof(line), "%s.%03d %s %s %s ", stamp,
			 (int)(tv.tv_usec / 1000), level_names[level],
			 source ? source : "-", entity ? entity : "-");
	if (n < 0)
		return;
	if ((size_t)n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	size_t len = strnlen(line, sizeof(line) - 2);
	line[len++] = '\n';
	/* one write per line, so threads never interleave within a line */
	fwrite(line, 1, len, stderr);
}

void log_msg(enum log_level level, const char *source, const char *entity,
	     const char *fmt, ...)
{
	if (level > log_threshold)
		return;
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, source, entity, fmt, ap);
	va_end(ap);
}

int error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(LOG_ERROR, NULL, NULL, fmt, ap);
	va_end(ap);
	return -1;
}
