/*
 * rulefile.h - what the rules files (the calendar, the profiles) share: a
 * small CSV read one line at a time, so that every error names its line,
 * and every error of a file is reported before its load fails (as
 * config.c does for the configuration).
 *
 * A line is one record.  Fields are RFC 4180 ("" is a quote inside a
 * quoted field, which may hold commas but not a line end).  A UTF-8
 * byte-order mark before the first line (spreadsheets write one), the
 * line end (LF or CRLF) and empty lines are dropped; whether a line
 * starting with '#' is a comment is the reader's business.
 */
#ifndef ONESTOP_RULEFILE_H
#define ONESTOP_RULEFILE_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

struct rulefile {
	const char *path;
	struct buf *err; /* where errors go, one a line; may be NULL */
	int errors;	 /* how many were reported */
};

/* Called for each non-empty line, its end stripped; text may be changed. */
typedef void (*rulefile_line_fn)(void *ctx, unsigned long line, char *text);

/*
 * Read rf->path line by line.  Returns 0, or -1 when the file cannot be
 * opened (reported as "path: cannot open: reason").
 */
int rulefile_read(struct rulefile *rf, rulefile_line_fn fn, void *ctx);

/*
 * Count an error and append "path:line: message\n" to rf->err
 * ("path: message\n" for line 0, the file as a whole).
 */
void rulefile_error(struct rulefile *rf, unsigned long line, const char *fmt,
		    ...) __attribute__((format(printf, 3, 4)));

/*
 * Split line in place into at most max fields.  Returns the number of
 * fields found (which may exceed max; only max are stored), or -1 when the
 * quoting is broken.
 */
int rulefile_split(char *line, char **fields, int max);

/* s without its leading and trailing blanks (space, TAB); s is changed. */
char *rulefile_trim(char *s);

/* Whether the n bytes at s are all ASCII digits; their value if so. */
bool rulefile_digits(const char *s, size_t n);
int rulefile_digits_value(const char *s, size_t n);

/*
 * A date strictly yyyy-MM-dd that exists, as a day number (civil.h);
 * false for anything else.
 */
bool rulefile_date(const char *s, long *day);

#endif
