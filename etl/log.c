#include "log.h"
#include "term.h"
#include "tstamp.h"
#include "util.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum log_level log_threshold = LOG_INFO;

/* The terminal's progress line: one at a time, shared by source threads. */
static pthread_mutex_t progress_lock = PTHREAD_MUTEX_INITIALIZER;
static bool progress_shown;
static double progress_drawn_at;
static int stderr_tty = -1;

/* Erase the progress line; called with progress_lock held. */
static void progress_clear(void)
{
	if (progress_shown) {
		fputs("\r\033[K", stderr);
		progress_shown = false;
	}
}

void log_progress(const char *source, const char *entity, long long rows,
		  long long bytes, double seconds)
{
	if (stderr_tty < 0)
		stderr_tty = isatty(STDERR_FILENO);
	if (!stderr_tty || log_threshold < LOG_INFO)
		return;
	pthread_mutex_lock(&progress_lock);
	double now = monotonic_seconds();
	if (now - progress_drawn_at >= 0.25) {
		double mbs = seconds > 0 ? (double)bytes / 1e6 / seconds : 0;
		fprintf(stderr, "\r\033[K%s %s: %lld rows, %.1f MB, %.1f MB/s",
			source ? source : "-", entity ? entity : "-", rows,
			(double)bytes / 1e6, mbs);
		fflush(stderr);
		progress_shown = true;
		progress_drawn_at = now;
	}
	pthread_mutex_unlock(&progress_lock);
}

void log_progress_done(void)
{
	pthread_mutex_lock(&progress_lock);
	progress_clear();
	pthread_mutex_unlock(&progress_lock);
}

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void log_set_level(enum log_level level)
{
	log_threshold = level;
}

/*
 * Messages quote values from sources and the warehouse: shown through
 * term_clean, a newline in one cannot forge a log line nor an escape
 * sequence drive the terminal.  A line stops at LINE_CAP bytes.
 */
#define LINE_CAP 4096

static void log_vmsg(enum log_level level, const char *source,
		     const char *entity, const char *fmt, va_list ap)
{
	char msg[LINE_CAP];
	char stamp[TSTAMP_LOCAL_ISO_SIZE];
	struct timeval tv;
	struct buf line;

	/* the warehouse's zone, with its offset: not the host's TZ */
	gettimeofday(&tv, NULL);
	tstamp_format_local_iso((int64_t)tv.tv_sec * 1000000 + tv.tv_usec,
				stamp);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	buf_init(&line, LINE_CAP);
	buf_addf(&line, "%s %s ", stamp, level_names[level]);
	term_clean(&line, source ? source : "-");
	buf_addc(&line, ' ');
	term_clean(&line, entity ? entity : "-");
	buf_addc(&line, ' ');
	term_clean(&line, msg);
	char out[LINE_CAP + 1];
	memcpy(out, buf_str(&line), line.len);
	out[line.len] = '\n';
	/* one write per line, so threads never interleave within a line */
	pthread_mutex_lock(&progress_lock);
	progress_clear();
	fwrite(out, 1, line.len + 1, stderr);
	pthread_mutex_unlock(&progress_lock);
	buf_release(&line);
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
