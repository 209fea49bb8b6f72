/*
 * tstamp.h - the source contract's timestamps, as microseconds since
 * 1970-01-01 00:00:00 UTC.
 *
 * Accepted forms (after trimming spaces, tabs, CR and LF):
 *   yyyyMMddHHmmss                      the portal's form
 *   yyyyMMdd, yyyy-MM-dd                a date alone, = 00:00:00
 *   yyyy-MM-ddTHH:mm:ss[.f]             T or one space between date and time;
 *                                       f is 1 to 9 digits, cut to microseconds
 *     followed by nothing, Z, ±HH:MM or ±HHMM (offset at most 14:59)
 * Without a zone the time is local to Asia/Ho_Chi_Minh (UTC+07:00, no
 * daylight saving), whatever the host's zone: nothing here calls mktime or
 * localtime.  The date and time must exist (leap years count); the year as
 * written must be 2000..2099.  Second 60 is refused: the sources' clocks do
 * not emit leap seconds, and PostgreSQL would silently move it into the
 * next minute.
 */
#ifndef ONESTOP_TSTAMP_H
#define ONESTOP_TSTAMP_H

#include <stddef.h>
#include <stdint.h>

/* 0 and *epoch_us set, or -1 (and *epoch_us untouched) for anything else. */
int tstamp_parse(const char *s, size_t len, int64_t *epoch_us);

/* The local (UTC+07:00) date as days since 1970-01-01. */
long tstamp_local_day(int64_t epoch_us);

/* yyyyMMddHHmmss in local time, NUL-terminated (the updated_since form). */
void tstamp_format_local_compact(int64_t epoch_us, char out[15]);

/*
 * "YYYY-MM-DDTHH:MM:SS.mmm+07:00": local time with milliseconds and its
 * offset, NUL-terminated; what an operator reads in the log, the same
 * whatever the host's TZ (the nightly wrapper writes the same zone).
 */
#define TSTAMP_LOCAL_ISO_SIZE 30
void tstamp_format_local_iso(int64_t epoch_us, char out[TSTAMP_LOCAL_ISO_SIZE]);

#endif
