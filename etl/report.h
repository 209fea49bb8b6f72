/*
 * report.h - what the warehouse shows people: the scorecard as a terminal
 * table, CSV or JSON (score), and as one self-contained HTML page with
 * charts (report).  Read-only: everything comes from the mart schema.
 */
#ifndef ONESTOP_REPORT_H
#define ONESTOP_REPORT_H

#include <libpq-fe.h>
#include <stdio.h>

struct score_request {
	const char *profile; /* NULL: every profile */
	const char *period; /* 2021, 2021-Q1, 2021-03; NULL: the current year */
	const char *unit;   /* NULL: every unit */
	const char *format; /* table, csv, json */
};

/*
 * Parse a period: kind ("year", "quarter", "month") and its first day
 * (yyyy-mm-dd) into the given arrays (either may be NULL).  0 or -1.
 */
int report_parse_period(const char *period, char kind[8], char start[11]);

/*
 * Whether req->profile and req->unit (when set) name a profile and a unit
 * the warehouse knows: a profile of dw.profile_criterion or of the
 * scores, a unit of dw.unit or mart.unit.  A mistyped name would
 * otherwise read as a period without data.  Logs one error per unknown
 * name, listing the known ones (at most 10, and how many more) and the
 * one probably meant; returns how many are unknown, or -1 (logged) when
 * a query fails.  A warehouse that knows no profile (or no unit) yet has
 * nothing to compare with: the name passes, and score says "no scores".
 */
int report_check_names(PGconn *conn, const struct score_request *req);

/*
 * Print the scorecard; -1 (with a logged error) when the query fails.
 *
 * table: per profile, the units ranked by score (competition ranking:
 * equal scores share a rank), then each unit's criteria; every line fits
 * 100 columns, counting one column per code point (Vietnamese text is
 * precomposed NFC), the label last and cut in the middle at a word so
 * that both its start and its distinguishing end stay visible.
 * csv and json: every field of mart.compliance_total and
 * mart.compliance_score, uncut.
 */
int report_score(PGconn *conn, const struct score_request *req, FILE *out);

/*
 * Write the report of req->period (and req->profile, req->unit when set)
 * as one self-contained HTML page (inline CSS and SVG: no script, nothing
 * fetched) to path: the scorecard with units ranked, the month-by-month
 * on-time trend (declared and legal, masked late), the online level of
 * the catalogue and the departments with the most late steps.  Every
 * figure comes from the mart schema, read in one snapshot, and carries
 * data-metric (and data-profile, data-unit, data-criterion, data-month,
 * data-department as they apply) so that it can be checked.
 *
 * The page is streamed into a temporary file next to path and renamed
 * over it at the end: a failed report leaves no partial file.  -1 (with a
 * logged error) when a query fails, REPORT_CANNOT_WRITE when the file
 * cannot be written (a matter of the path, not of the warehouse).
 * req->format is ignored.
 */
#define REPORT_CANNOT_WRITE (-2)
int report_html(PGconn *conn, const struct score_request *req,
		const char *path);

#endif
