/*
 * score.h - the scorecard of mart.compliance_total and
 * mart.compliance_score: the scope both score and report narrow by (a
 * period, a profile, a unit, and the check that the names exist), and
 * the scorecard printed as a terminal table, CSV or JSON (score).  The
 * HTML page (page.h) draws the same rows: score_sql and the ranking are
 * here, once.  Read-only: everything comes from the mart schema.
 */
#ifndef ONESTOP_SCORE_H
#define ONESTOP_SCORE_H

#include "buf.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>

struct score_request {
	const char *profile; /* NULL: every profile */
	const char *period; /* 2021, 2021-Q1, 2021-03; NULL: the current year */
	const char *unit;   /* NULL: every unit */
	const char *format; /* table, csv, json */
	bool current_units; /* --units current: mart.unit_kpi_current, scored */
};

/*
 * Parse a period: kind ("year", "quarter", "month") and its first day
 * (yyyy-mm-dd) into the given arrays (either may be NULL).  0 or -1.
 */
int score_parse_period(const char *period, char kind[8], char start[11]);

/* req->period, or the current year in Asia/Ho_Chi_Minh written into year. */
const char *score_period(const struct score_request *req, char year[16]);

/* Text results in UTF-8, whatever the client's locale asked for. */
int score_utf8_session(PGconn *conn, struct buf *err);

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
int score_check_names(PGconn *conn, const struct score_request *req);

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
int score_print(PGconn *conn, const struct score_request *req, FILE *out);

/*
 * The scorecard query, for the page: $1 period kind, $2 period start,
 * $3 profile and $4 unit (NULL: all); one row per unit and criterion,
 * the columns of enum score_col, ordered by profile, then score (best
 * first), unit and criterion.
 */
extern const char score_sql[];
/* The same rows by current unit (score --units current). */
extern const char score_current_sql[];

enum score_col {
	C_UNIT,
	C_NAME,
	C_PROFILE,
	C_CRITERION,
	C_LABEL,
	C_METRIC,
	C_VALUE,
	C_TARGET,
	C_MET,
	C_POINTS,
	C_MAX,
	C_T_POINTS,
	C_T_MAX,
	C_T_PCT,
	C_T_MET,
	C_T_APPL
};

/* One unit's rows [first, end) of a profile, and its rank (0: no score). */
struct score_unit {
	int first, end;
	int rank;
};

/* A row's column as text ("" for NULL). */
const char *score_cell(PGresult *res, int row, enum score_col c);

/*
 * What a profile's score cannot hold, to show under it: for qd766, the
 * groups of Decision 766's 100 points that one-stop data does not feed
 * (reports.md).  A NULL-terminated list of lines, each in Vietnamese then
 * English, at most 100 columns; NULL for the other profiles.  Static.
 */
const char *const *score_profile_notes(const char *profile);

/* The first row after r of another profile. */
int score_profile_end(PGresult *res, int r);

/*
 * The units of the profile rows [first, end), in score order, ranked:
 * equal scores share a rank and the next rank skips (1, 2, 2, 4).  The
 * caller frees the array of *count units.
 */
struct score_unit *score_split_units(PGresult *res, int first, int end,
				     int *count);

#endif
