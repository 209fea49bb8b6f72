/*
 * report.h - what the warehouse shows people: the scorecard as a terminal
 * table, CSV or JSON (score), read from mart.compliance_* only.
 */
#ifndef ONESTOP_REPORT_H
#define ONESTOP_REPORT_H

#include <libpq-fe.h>
#include <stdio.h>

struct score_request {
	const char *profile; /* NULL: every profile */
	const char *period;  /* 2021, 2021-Q1, 2021-03; NULL: the current year */
	const char *unit;    /* NULL: every unit */
	const char *format;  /* table, csv, json */
};

/*
 * Parse a period: kind ("year", "quarter", "month") and its first day
 * (yyyy-mm-dd) into the given arrays (either may be NULL).  0 or -1.
 */
int report_parse_period(const char *period, char kind[8], char start[11]);

/* Print the scorecard; -1 (with a logged error) when the query fails. */
int report_score(PGconn *conn, const struct score_request *req, FILE *out);

#endif
