/*
 * log.h - one line per event on stderr: "time level source entity message".
 *
 * source and entity may be NULL (printed as "-").  Debug lines cost one
 * integer comparison when -v was not given.  Messages are lower-case and
 * quote their subject ('%s'), as git's are; they never carry a secret.
 *
 * The functions are thread-safe: each line is written with one call.
 */
#ifndef ONESTOP_LOG_H
#define ONESTOP_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

extern enum log_level log_threshold;

void log_set_level(enum log_level level);
void log_msg(enum log_level level, const char *source, const char *entity,
	     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define log_error(src, ent, ...) log_msg(LOG_ERROR, src, ent, __VA_ARGS__)
#define log_warn(src, ent, ...) log_msg(LOG_WARN, src, ent, __VA_ARGS__)
#define log_info(src, ent, ...)                                                \
	do {                                                                   \
		if (log_threshold >= LOG_INFO)                                 \
			log_msg(LOG_INFO, src, ent, __VA_ARGS__);              \
	} while (0)
#define log_debug(src, ent, ...)                                               \
	do {                                                                   \
		if (log_threshold >= LOG_DEBUG)                                \
			log_msg(LOG_DEBUG, src, ent, __VA_ARGS__);             \
	} while (0)

/*
 * A progress line ("source entity rows MB/s") rewritten in place, only
 * when stderr is a terminal and -q was not given; the next log line or
 * log_progress_done() clears it.  Cheap to call often: it redraws at most
 * a few times a second.
 */
void log_progress(const char *source, const char *entity, long long rows,
		  long long bytes, double seconds);
void log_progress_done(void);

/*
 * Report an error and return -1, so that "return error(...)" reads as one
 * statement (git's idiom).
 */
int error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
