/*
 * testhelp.h - the whole unit-test framework (after redis' testhelp.h).
 *
 * Each tests/unit/test_*.c is its own program: it calls the CHECK macros
 * and ends main() with TEST_REPORT(), whose line "N passed, N failed" the
 * runner (tests/run.py) adds up.
 */
#ifndef ONESTOP_TESTHELP_H
#define ONESTOP_TESTHELP_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"

static int th_passed, th_failed;

/*
 * want with each "P" that starts a line replaced by path: an expected
 * error list whose lines begin with a temporary file's name.
 */
static inline void th_expand_path(struct buf *out, const char *want,
				  const char *path)
{
	for (const char *p = want; *p; p++)
		if (*p == 'P' && (p == want || p[-1] == '\n'))
			buf_adds(out, path);
		else
			buf_addc(out, *p);
}

/* Write text to a fresh temporary file; the caller unlinks and frees. */
static inline char *th_write_temp(const char *text)
{
	char *path = strdup("/tmp/onestop_test_XXXXXX");
	int fd = path ? mkstemp(path) : -1;
	FILE *f = fd < 0 ? NULL : fdopen(fd, "w");

	if (!f) {
		perror("a temporary file");
		exit(2);
	}
	fputs(text, f);
	fclose(f);
	return path;
}

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (cond) {                                                    \
			th_passed++;                                           \
		} else {                                                       \
			th_failed++;                                           \
			fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__,          \
				__LINE__, #cond);                              \
		}                                                              \
	} while (0)

#define CHECK_INT(got, want)                                                   \
	do {                                                                   \
		long long g_ = (long long)(got), w_ = (long long)(want);       \
		if (g_ == w_) {                                                \
			th_passed++;                                           \
		} else {                                                       \
			th_failed++;                                           \
			fprintf(stderr, "FAIL %s:%d: %s = %lld, want %lld\n",  \
				__FILE__, __LINE__, #got, g_, w_);             \
		}                                                              \
	} while (0)

#define CHECK_STR(got, want)                                                   \
	do {                                                                   \
		const char *g_ = (got), *w_ = (want);                          \
		if (g_ && w_ && strcmp(g_, w_) == 0) {                         \
			th_passed++;                                           \
		} else {                                                       \
			th_failed++;                                           \
			fprintf(stderr, "FAIL %s:%d: %s = '%s', want '%s'\n",  \
				__FILE__, __LINE__, #got, g_ ? g_ : "(null)",  \
				w_ ? w_ : "(null)");                           \
		}                                                              \
	} while (0)

#define TEST_REPORT()                                                          \
	do {                                                                   \
		printf("%d passed, %d failed\n", th_passed, th_failed);        \
		return th_failed ? 1 : 0;                                      \
	} while (0)

#endif
