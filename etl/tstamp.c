#include "tstamp.h"
#include "civil.h"

#include <stdbool.h>

#define US_PER_SEC 1000000LL
#define SEC_PER_DAY 86400LL

/* A cursor over the trimmed input; every reader fails once it is done. */
struct scan {
	const char *p, *end;
};

static bool at(const struct scan *sc, char c)
{
	return sc->p < sc->end && *sc->p == c;
}

static bool take(struct scan *sc, char c)
{
	if (!at(sc, c))
		return false;
	sc->p++;
	return true;
}

/* Exactly n digits into *val; inline, so that n is a constant. */
static inline bool digits(struct scan *sc, int n, int *val)
{
	int v = 0;

	if (sc->end - sc->p < n)
		return false;
	for (int i = 0; i < n; i++) {
		char c = sc->p[i];
		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	sc->p += n;
	*val = v;
	return true;
}

static size_t digit_run(const char *p, const char *end)
{
	size_t n = 0;

	while (p + n < end && p[n] >= '0' && p[n] <= '9')
		n++;
	return n;
}

struct fields {
	int year, month, day, hour, min, sec;
	int usec;
	int offset_sec; /* east of UTC */
};

/* 1 to 9 digits after the point, cut (not rounded) to microseconds. */
static bool fraction(struct scan *sc, int *usec)
{
	size_t n = digit_run(sc->p, sc->end);
	int v = 0;

	if (n < 1 || n > 9)
		return false;
	for (size_t i = 0; i < 6; i++)
		v = v * 10 + (i < n ? sc->p[i] - '0' : 0);
	sc->p += n;
	*usec = v;
	return true;
}

static bool zone(struct scan *sc, int *offset_sec)
{
	int hh, mm, sign;

	if (take(sc, 'Z')) {
		*offset_sec = 0;
		return true;
	}
	if (!at(sc, '+') && !at(sc, '-')) {
		*offset_sec = LOCAL_UTC_OFFSET;
		return true;
	}
	sign = *sc->p++ == '-' ? -1 : 1;
	if (!digits(sc, 2, &hh))
		return false;
	take(sc, ':');
	if (!digits(sc, 2, &mm) || hh > 14 || mm > 59)
		return false;
	*offset_sec = sign * (hh * 3600 + mm * 60);
	return true;
}

/* yyyy-MM-dd, then nothing or [T ]HH:mm:ss[.f][zone] */
static bool parse_iso(struct scan *sc, struct fields *f)
{
	if (!digits(sc, 4, &f->year) || !take(sc, '-') ||
	    !digits(sc, 2, &f->month) || !take(sc, '-') ||
	    !digits(sc, 2, &f->day))
		return false;
	if (sc->p == sc->end)
		return true;
	if (!take(sc, 'T') && !take(sc, ' '))
		return false;
	if (!digits(sc, 2, &f->hour) || !take(sc, ':') ||
	    !digits(sc, 2, &f->min) || !take(sc, ':') ||
	    !digits(sc, 2, &f->sec))
		return false;
	if (take(sc, '.') && !fraction(sc, &f->usec))
		return false;
	return zone(sc, &f->offset_sec);
}

/* yyyyMMdd or yyyyMMddHHmmss: local time, nothing after */
static bool parse_compact(struct scan *sc, struct fields *f)
{
	ptrdiff_t n = sc->end - sc->p;

	if (n != 8 && n != 14)
		return false;
	if (!digits(sc, 4, &f->year) || !digits(sc, 2, &f->month) ||
	    !digits(sc, 2, &f->day))
		return false;
	return n == 8 || (digits(sc, 2, &f->hour) && digits(sc, 2, &f->min) &&
			  digits(sc, 2, &f->sec));
}

static bool fields_valid(const struct fields *f)
{
	return f->year >= 2000 && f->year <= 2099 && f->month >= 1 &&
	       f->month <= 12 && f->day >= 1 &&
	       f->day <= days_in_month(f->year, f->month) && f->hour <= 23 &&
	       f->min <= 59 && f->sec <= 59;
}

static bool is_trim(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int tstamp_parse(const char *s, size_t len, int64_t *epoch_us)
{
	struct scan sc = {s, s + len};
	struct fields f = {.offset_sec = LOCAL_UTC_OFFSET};
	bool ok;

	while (sc.p < sc.end && is_trim(*sc.p))
		sc.p++;
	while (sc.end > sc.p && is_trim(sc.end[-1]))
		sc.end--;
	if (sc.end - sc.p > 4 && sc.p[4] == '-')
		ok = parse_iso(&sc, &f);
	else
		ok = parse_compact(&sc, &f);
	if (!ok || sc.p != sc.end || !fields_valid(&f))
		return -1;
	int64_t secs = days_from_civil(f.year, f.month, f.day) * SEC_PER_DAY +
		       f.hour * 3600 + f.min * 60 + f.sec - f.offset_sec;
	*epoch_us = secs * US_PER_SEC + f.usec;
	return 0;
}

/* Floor division, so that instants before 1970 still split correctly. */
static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static char *put_digits(char *p, long v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + width;
}

/* "YYYY-MM-DD?HH:MM:SS" for the given seconds; returns the end. */
static char *put_datetime(char *p, int64_t secs, char sep)
{
	int64_t days = floor_div(secs, SEC_PER_DAY);
	long sod = (long)(secs - days * SEC_PER_DAY);
	int y, m, d;

	civil_from_days((long)days, &y, &m, &d);
	p = put_digits(p, y, 4);
	*p++ = '-';
	p = put_digits(p, m, 2);
	*p++ = '-';
	p = put_digits(p, d, 2);
	*p++ = sep;
	p = put_digits(p, sod / 3600, 2);
	*p++ = ':';
	p = put_digits(p, sod / 60 % 60, 2);
	*p++ = ':';
	return put_digits(p, sod % 60, 2);
}

long tstamp_local_day(int64_t epoch_us)
{
	int64_t secs = floor_div(epoch_us, US_PER_SEC) + LOCAL_UTC_OFFSET;
	return (long)floor_div(secs, SEC_PER_DAY);
}

void tstamp_format_local_compact(int64_t epoch_us, char out[15])
{
	char text[32];
	int64_t secs = floor_div(epoch_us, US_PER_SEC) + LOCAL_UTC_OFFSET;
	char *p = put_datetime(text, secs, 'T');
	char *o = out;

	for (char *q = text; q < p; q++)
		if (*q >= '0' && *q <= '9')
			*o++ = *q;
	*o = '\0';
}

void tstamp_format_local_iso(int64_t epoch_us, char out[TSTAMP_LOCAL_ISO_SIZE])
{
	int64_t secs = floor_div(epoch_us, US_PER_SEC);
	long msec = (long)(epoch_us - secs * US_PER_SEC) / 1000;
	long offset_min = LOCAL_UTC_OFFSET / 60;
	char *p = put_datetime(out, secs + LOCAL_UTC_OFFSET, 'T');

	*p++ = '.';
	p = put_digits(p, msec, 3);
	*p++ = offset_min < 0 ? '-' : '+';
	offset_min = offset_min < 0 ? -offset_min : offset_min;
	p = put_digits(p, offset_min / 60, 2);
	*p++ = ':';
	p = put_digits(p, offset_min % 60, 2);
	*p = '\0';
}
