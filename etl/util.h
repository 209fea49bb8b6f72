/*
 * util.h - allocation wrappers that never return NULL (after tmux/OpenBSD
 * xmalloc.c): running out of memory is not an error the pipeline can
 * report row by row, so it dies with a message instead.  And the one
 * clock that deadlines, stalls and progress are measured on.
 */
#ifndef ONESTOP_UTIL_H
#define ONESTOP_UTIL_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a fresh allocation */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Seconds on CLOCK_MONOTONIC: a deadline or a stall measured on it does
 * not jump when the wall clock is set.  Only differences mean anything.
 */
double monotonic_seconds(void);

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
