/*
 * civil.h - proleptic Gregorian date arithmetic on day numbers (days since
 * 1970-01-01), after Howard Hinnant's civil_from_days.  Pure, no time zones:
 * the pipeline's dates are local dates in Asia/Ho_Chi_Minh (UTC+07:00, no
 * daylight saving), so a fixed offset is all the zone arithmetic it needs.
 */
#ifndef ONESTOP_CIVIL_H
#define ONESTOP_CIVIL_H

#include <stdbool.h>

/* Asia/Ho_Chi_Minh, in seconds east of UTC. */
#define LOCAL_UTC_OFFSET (7 * 3600)

long days_from_civil(int year, int month, int day);
void civil_from_days(long days, int *year, int *month, int *day);
/* 0 = Sunday ... 6 = Saturday */
int weekday_from_days(long days);
bool is_leap_year(int year);
/* 28..31; 0 for a month outside 1..12 */
int days_in_month(int year, int month);

#endif
