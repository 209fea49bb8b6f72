/*
 * profiles.h - the scoring profiles file (rules.md, "Compliance scores"):
 * the one reader that both the run (which copies the criteria into the
 * warehouse) and check-config use, so that a file check-config accepts is
 * one the run accepts.
 *
 * The file is a CSV (rulefile.h) whose header names the columns
 * profile,criterion,label,metric,target,max_points,note in any order
 * (other columns are ignored; lines starting with '#' are comments):
 *
 *	profile,criterion,label,metric,target,max_points,note
 *	qd766,2.1,Tỷ lệ hồ sơ giải quyết đúng hạn,ontime_rate,100,20,
 *
 * These are errors, all reported at once with file:line: a missing or
 * repeated column, a line whose number of fields is not the header's, an
 * empty value (only note may be empty), a metric that is not a rate of
 * mart.unit_kpi (profiles_metric_name), a target or max_points that is
 * not a plain decimal number >= 0 ("25", "12.5": no sign, exponent, nan
 * or inf), and a (profile, criterion) given twice.  Blanks around a value
 * are dropped.
 */
#ifndef ONESTOP_PROFILES_H
#define ONESTOP_PROFILES_H

#include <stddef.h>

struct buf;
struct profiles;

/* One line of the file.  Strings live until profiles_free; note may be "". */
struct criterion {
	const char *profile, *criterion, *label, *metric;
	const char *target, *max_points; /* as written: exact for numeric */
	const char *note;
	unsigned long line;
};

/*
 * Load the profiles at path.  On any error, append one line per error to
 * err (which may be NULL) and return NULL.  The caller frees the result
 * with profiles_free.
 */
struct profiles *profiles_load(const char *path, struct buf *err);
void profiles_free(struct profiles *p);

/* The criteria in file order. */
size_t profiles_count(const struct profiles *p);
const struct criterion *profiles_criterion(const struct profiles *p, size_t i);

/*
 * The i-th metric a criterion may name, NULL past the last.  The list is
 * dw.metric_names() of sql/code/rules.sql, which checks the loaded rows
 * again; a test keeps the two the same.
 */
const char *profiles_metric_name(size_t i);

#endif
