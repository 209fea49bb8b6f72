/*
 * form06.h - the periodic report on dossier processing (Biểu số
 * 06/VPCP/KSTT, reports.md "Form 06"): which period or range, which units,
 * the rows read from mart.form06 or mart.form06_range and laid out as the
 * province-wide form (levels, units with their fields, subtotals, the
 * total), printed as a terminal table or CSV.  The workbook is
 * form06_xlsx.c, from the same layout.  Read-only.
 */
#ifndef ONESTOP_FORM06_H
#define ONESTOP_FORM06_H

#include "buf.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>

struct form06_request {
	const char *period;    /* 2021-03, 2021-Q1, 2021-H1, 2021; or NULL */
	bool calendar;	       /* period names a calendar period */
	const char *from, *to; /* yyyy-mm-dd, with period NULL */
	const char *unit;      /* NULL: province-wide */
	bool subtree;	       /* the unit and its descendants, summed */
	bool current_units;    /* --units current: by current unit */
	const char *format;    /* table, csv, xlsx */
	const char *out;       /* NULL: stdout (table and csv) */
	const char *reporting_body; /* [report]; NULL or "" when unset */
	const char *recipient;
};

/* The days asked for, and how to name them. */
struct form06_period {
	bool report;	/* a report period: read from mart.form06 */
	char kind[16];	/* report_month ... report_year; "" for a range */
	char label[16]; /* 2021-Q1; "" for a range */
	char first[11]; /* yyyy-mm-dd */
	char last[11];
	char title[128]; /* "Quý I/2021 (từ ngày 15/12/2020 đến ngày 14/3/2021)"
			  */
};

/*
 * Check req and work out its days: 0, or -1 with the usage error (without
 * the command name) in err.
 */
int form06_parse(const struct form06_request *req, struct form06_period *p,
		 struct buf *err);

#define FORM06_NCOLS                                                           \
	16 /* the counts: official columns (3)..(13), then ours                \
	    */

/* The counts in order: mart.form06's names, and the official numbers. */
extern const char *const form06_count_names[FORM06_NCOLS];

enum form06_line_kind {
	F06_LEVEL, /* a level's heading, with its units' sums */
	F06_UNIT,  /* a unit, with the sums of its fields */
	F06_FIELD, /* a field of the unit above */
	F06_TOTAL  /* Tổng cộng */
};

struct form06_line {
	enum form06_line_kind kind;
	char number[32]; /* STT: I, 1, 1.2; "" for the total */
	char *name;
	char *code; /* unit or field code; NULL for levels and the total */
	long v[FORM06_NCOLS];
};

/* The report as laid out: heading facts and its lines. */
struct form06_report {
	struct form06_period period;
	char *reporting_body;
	char *recipient;
	char *freshness; /* "dd/mm/yyyy HH:MM", local; "" when unknown */
	char *produced;	 /* now, the same way */
	struct form06_line *lines;
	size_t nlines;
	PGresult *rows; /* the data rows, for csv */
};

/*
 * Read and lay out the report.  0; 1 when req->unit is unknown (logged);
 * -1 when a query fails (logged).
 */
int form06_read(PGconn *conn, const struct form06_request *req,
		const struct form06_period *p, struct form06_report *rep);
void form06_release(struct form06_report *rep);

/* The table (fits 100 columns) or the CSV of the data rows, to out. */
void form06_print_table(const struct form06_report *rep, FILE *out);
void form06_print_csv(const struct form06_report *rep, FILE *out);

/*
 * The report in req->format to req->out (a temporary file beside it,
 * renamed) or stdout: 0, or -1 with the reason in err.
 */
int form06_output(const struct form06_report *rep,
		  const struct form06_request *req, struct buf *err);

/*
 * The workbook (form06_xlsx.c), written to a temporary file beside path
 * and renamed: 0, or -1 with the reason in err.
 */
int form06_write_xlsx(const struct form06_report *rep, const char *path,
		      struct buf *err);

#endif
