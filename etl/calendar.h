/*
 * calendar.h - working days: Monday to Friday, except as the calendar file
 * says (rules.md, "Working days").  Pure functions over a loaded file.
 *
 * The file is a CSV with the header "date,kind,note":
 *
 *	# covers: 2019-2026
 *	date,kind,note
 *	2024-04-29,holiday,Hoán đổi dịp 30/4
 *	2024-05-04,workday,"Làm bù, thứ Bảy"
 *
 * date is yyyy-MM-dd; kind is "holiday" (a day off) or "workday" (a
 * Saturday or Sunday worked); note is free text, quoted if it holds a
 * comma.  Lines starting with '#' and empty lines are comments; a comment
 * "# covers: YYYY-YYYY" names the years the file is complete for.
 *
 * These are errors, all reported at once: a missing or wrong header, a
 * wrong number of fields, a bad date or one outside 2000-2100 (the span
 * of the warehouse's calendar), an unknown kind, a date given twice, a
 * workday on Monday to Friday (such a line changes nothing, so it is
 * almost always a mistyped date), and a malformed or repeated "covers"
 * line.  A holiday on a Saturday or Sunday is not an error: the law's
 * holidays fall there some years, and the day is off either way.
 *
 * An entry applies whatever its year; outside the covered years the days
 * the file does not name are Monday to Friday, and it is the caller's job
 * to warn that the calendar does not cover them (see calendar_covers).
 *
 * Days are day numbers: days since 1970-01-01 (civil.h).
 */
#ifndef ONESTOP_CALENDAR_H
#define ONESTOP_CALENDAR_H

#include <stdbool.h>
#include <stddef.h>

struct buf;
struct calendar;

/*
 * Load the calendar at path.  On any error, append one line per error,
 * "path:line: message\n" ("path: message\n" for the file as a whole), to
 * err (which may be NULL) and return NULL.
 * The caller owns the result and frees it with calendar_free.
 */
struct calendar *calendar_load(const char *path, struct buf *err);
void calendar_free(struct calendar *cal);

/*
 * The years named by the "# covers:" line: 0 and *from_year, *to_year set,
 * or -1 when the file has no such line.
 */
int calendar_covers(const struct calendar *cal, int *from_year, int *to_year);

/*
 * Without a "# covers:" line no year is known to be complete, yet the
 * file's dates apply: the warning that says so, naming path, as a string
 * the caller frees; NULL when the file has the line.
 */
char *calendar_coverage_warning(const struct calendar *cal, const char *path);

/* A NULL cal is the plain week: Monday to Friday. */
bool calendar_is_workday(const struct calendar *cal, long day);

/*
 * Working-day arithmetic (workday_add) is the warehouse's, on the calendar
 * this file is loaded into: dw.workday_add in sql/code/calendar.sql.
 */

/*
 * The explicit entries in file order (for loading into PostgreSQL).  kind
 * is "holiday" or "workday"; kind and note stay valid until calendar_free.
 */
size_t calendar_entry_count(const struct calendar *cal);
void calendar_entry(const struct calendar *cal, size_t i, long *day,
		    const char **kind, const char **note);

#endif
