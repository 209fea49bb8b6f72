/*
 * utc_text.h - a timestamp (microseconds since 1970) as UTC text,
 * "YYYY-MM-DD HH:MM:SS[.ffffff]+00" with the fraction left out when zero:
 * how pgcopy.h shows a binary timestamptz read back, and how test_tstamp.c
 * shows what tstamp_parse() made of its input.  Only tests read timestamps
 * back, so the program itself has no such function.
 */
#ifndef ONESTOP_UTC_TEXT_H
#define ONESTOP_UTC_TEXT_H

#include "buf.h"
#include "civil.h"

#include <stdint.h>
#include <stdio.h>

/* 0, or -1 when text's cap would be passed. */
static int utc_text(int64_t epoch_us, struct buf *text)
{
	const int64_t us_per_day = INT64_C(86400000000);
	int64_t days = epoch_us / us_per_day, us = epoch_us % us_per_day;
	char out[48];
	int y, m, d;

	if (us < 0) {
		us += us_per_day;
		days--;
	}
	long sec = (long)(us / 1000000), frac = (long)(us % 1000000);
	civil_from_days((long)days, &y, &m, &d);
	int n = snprintf(out, sizeof(out), "%04d-%02d-%02d %02ld:%02ld:%02ld", y,
			 m, d, sec / 3600, sec / 60 % 60, sec % 60);
	if (frac)
		n += snprintf(out + n, sizeof(out) - (size_t)n, ".%06ld", frac);
	snprintf(out + n, sizeof(out) - (size_t)n, "+00");
	return buf_adds(text, out);
}

#endif
