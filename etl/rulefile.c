/*
 * rulefile.c - lines, fields and errors of the rules files (rulefile.h).
 */
#include "rulefile.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "civil.h"

void rulefile_error(struct rulefile *rf, unsigned long line, const char *fmt,
		    ...)
{
	char msg[512];
	va_list ap;

	rf->errors++;
	if (!rf->err)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* past the buffer's cap the first errors are the ones worth keeping */
	if (line)
		buf_addf(rf->err, "%s:%lu: %s\n", rf->path, line, msg);
	else
		buf_addf(rf->err, "%s: %s\n", rf->path, msg);
}

int rulefile_read(struct rulefile *rf, rulefile_line_fn fn, void *ctx)
{
	char *text = NULL;
	size_t text_alloc = 0;
	unsigned long line = 0;
	FILE *f = fopen(rf->path, "r");

	if (!f) {
		rulefile_error(rf, 0, "cannot open: %s", strerror(errno));
		return -1;
	}
	while (getline(&text, &text_alloc, f) != -1) {
		char *s = text;
		size_t len = strlen(s);

		line++;
		while (len && (s[len - 1] == '\n' || s[len - 1] == '\r'))
			s[--len] = '\0';
		if (line == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
			s += 3;
		if (*s)
			fn(ctx, line, s);
	}
	if (ferror(f))
		rulefile_error(rf, line, "read error: %s", strerror(errno));
	free(text);
	fclose(f);
	return 0;
}

int rulefile_split(char *s, char **fields, int max)
{
	int n = 0;

	for (;;) {
		char *start = s, *end;
		char sep;

		if (*s == '"') {
			end = start;
			for (s++;; s++) {
				if (*s == '\0')
					return -1;
				if (*s == '"' && s[1] == '"')
					s++;
				else if (*s == '"')
					break;
				*end++ = *s;
			}
			s++;
			if (*s != ',' && *s != '\0')
				return -1;
		} else {
			s += strcspn(s, ",");
			end = s;
		}
		sep = *s;
		*end = '\0';
		if (n < max)
			fields[n] = start;
		n++;
		if (sep == '\0')
			return n;
		s++;
	}
}

char *rulefile_trim(char *s)
{
	char *end;

	s += strspn(s, " \t");
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return s;
}

bool rulefile_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

int rulefile_digits_value(const char *s, size_t n)
{
	int v = 0;

	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

bool rulefile_date(const char *s, long *day)
{
	int year, month, mday;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-' ||
	    !rulefile_digits(s, 4) || !rulefile_digits(s + 5, 2) ||
	    !rulefile_digits(s + 8, 2))
		return false;
	year = rulefile_digits_value(s, 4);
	month = rulefile_digits_value(s + 5, 2);
	mday = rulefile_digits_value(s + 8, 2);
	if (month < 1 || month > 12 || mday < 1 ||
	    mday > days_in_month(year, month))
		return false;
	*day = days_from_civil(year, month, mday);
	return true;
}
