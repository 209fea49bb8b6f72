/*
 * form06.c - form 06: the period asked for, the rows of mart.form06 (a
 * report period) or mart.form06_range (any days), laid out as the
 * official form, and printed as a table or CSV.  The workbook is
 * form06_xlsx.c.
 */
#include "form06.h"
#include "log.h"
#include "outfile.h"
#include "pgload.h"
#include "score.h"
#include "term.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define TABLE_WIDTH 100

const char *const form06_count_names[FORM06_NCOLS] = {
    "received_total",	     "received_online",	       "received_offline",
    "carried_over",	     "resolved_total",	       "resolved_early",
    "resolved_on_time",	     "resolved_late",	       "pending_total",
    "pending_in_time",	     "pending_overdue",	       "of_which_withdrawn",
    "resolved_late_legal",   "resolved_unknown_legal", "masked_late",
    "pending_overdue_legal",
};

/* ---- the period ---- */

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30,
				   31, 31, 30, 31, 30, 31};
	return m == 2 && leap(y) ? 29 : days[m - 1];
}

static void iso_date(char out[11], int y, int m, int d)
{
	char s[40];
	snprintf(s, sizeof(s), "%04d-%02d-%02d", y, m, d);
	memcpy(out, s, 10);
	out[10] = '\0';
}

/* "15/12/2020": the form's own way, months and days without a zero */
static void vn_date(char *out, size_t len, const char *iso)
{
	int y, m, d;
	if (sscanf(iso, "%d-%d-%d", &y, &m, &d) == 3)
		snprintf(out, len, "%d/%d/%d", d, m, y);
	else
		snprintf(out, len, "%s", iso);
}

static bool valid_date(const char *s)
{
	int y, m, d;
	char tail;
	return strlen(s) == 10 &&
	       sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) == 3 &&
	       y >= 1900 && y <= 2999 && m >= 1 && m <= 12 && d >= 1 &&
	       d <= month_days(y, m);
}

/*
 * A label: its kind ('M' month, 'Q' quarter, 'H' half, 'Y' year), year
 * and number (month, quarter, half; 0 for a year).  0 or -1.
 */
static int parse_label(const char *label, char *kind, int *year, int *n)
{
	char tail;
	size_t len = strlen(label);
	if (len == 7 && sscanf(label, "%4d-Q%1d%c", year, n, &tail) == 2 &&
	    *n >= 1 && *n <= 4)
		*kind = 'Q';
	else if (len == 7 && sscanf(label, "%4d-H%1d%c", year, n, &tail) == 2 &&
		 *n >= 1 && *n <= 2)
		*kind = 'H';
	else if (len == 7 && label[4] == '-' &&
		 sscanf(label, "%4d-%2d%c", year, n, &tail) == 2 && *n >= 1 &&
		 *n <= 12)
		*kind = 'M';
	else if (len == 4 && sscanf(label, "%4d%c", year, &tail) == 1)
		*kind = 'Y', *n = 0;
	else
		return -1;
	return *year >= 2000 && *year <= 2099 ? 0 : -1;
}

/* The first and last month of a labelled period, as month numbers. */
static void label_months(char kind, int n, int *first, int *last)
{
	int len = kind == 'M' ? 1 : kind == 'Q' ? 3 : kind == 'H' ? 6 : 12;
	int start = kind == 'M' ? n : (n > 0 ? n - 1 : 0) * len + 1;
	*first = start;
	*last = start + len - 1;
}

/* "Quý I/2021", "Tháng 3/2021", "6 tháng đầu năm 2021", "Năm 2021" */
static void period_name(char *out, size_t len, char kind, int year, int n)
{
	static const char *const roman[] = {"I", "II", "III", "IV"};
	if (kind == 'M')
		snprintf(out, len, "Tháng %d/%d", n, year);
	else if (kind == 'Q')
		snprintf(out, len, "Quý %s/%d", roman[n - 1], year);
	else if (kind == 'H')
		snprintf(out, len, "6 tháng %s năm %d", n == 1 ? "đầu" : "cuối",
			 year);
	else
		snprintf(out, len, "Năm %d", year);
}

static void period_of_label(const struct form06_request *req,
			    struct form06_period *p, char kind, int year, int n)
{
	int fm, lm;
	label_months(kind, n, &fm, &lm);
	if (req->calendar) {
		iso_date(p->first, year, fm, 1);
		iso_date(p->last, year, lm, month_days(year, lm));
	} else {
		/* Decree 09/2019: from the 15th of the month before to the 14th
		 */
		iso_date(p->first, fm == 1 ? year - 1 : year,
			 fm == 1 ? 12 : fm - 1, 15);
		iso_date(p->last, year, lm, 14);
		static const char *const kinds = "MQHY";
		static const char *const names[] = {
		    "report_month", "report_quarter", "report_half",
		    "report_year"};
		p->report = true;
		snprintf(p->kind, sizeof(p->kind), "%s",
			 names[strchr(kinds, kind) - kinds]);
		snprintf(p->label, sizeof(p->label), "%s", req->period);
	}
	char name[48], a[16], b[16];
	period_name(name, sizeof(name), kind, year, n);
	vn_date(a, sizeof(a), p->first);
	vn_date(b, sizeof(b), p->last);
	snprintf(p->title, sizeof(p->title), "%s (từ ngày %s đến ngày %s)",
		 name, a, b);
}

int form06_parse(const struct form06_request *req, struct form06_period *p,
		 struct buf *err)
{
	memset(p, 0, sizeof(*p));
	const char *f = req->format;
	if (strcmp(f, "table") && strcmp(f, "csv") && strcmp(f, "xlsx"))
		return buf_addf(err, "--format: '%s' is not table, csv or xlsx",
				f),
		       -1;
	if (!strcmp(f, "xlsx") && !req->out)
		return buf_addf(err, "--format xlsx needs --out FILE.xlsx"), -1;
	if (req->subtree && !req->unit)
		return buf_addf(err, "--subtree needs --unit CODE"), -1;
	if (!req->period == !(req->from || req->to))
		return buf_addf(err, "needs --period P or --from DATE --to "
				     "DATE (one of them)"),
		       -1;
	if (req->period) {
		char kind;
		int year, n;
		if (parse_label(req->period, &kind, &year, &n) < 0)
			return buf_addf(err,
					"--period: '%s' is not 2021, 2021-H1, "
					"2021-Q1 or 2021-03",
					req->period),
			       -1;
		period_of_label(req, p, kind, year, n);
		return 0;
	}
	if (req->calendar)
		return buf_addf(err, "--calendar goes with --period"), -1;
	if (!req->from || !req->to)
		return buf_addf(err, "--from and --to go together"), -1;
	if (!valid_date(req->from) || !valid_date(req->to))
		return buf_addf(err,
				"--from/--to: '%s' is not a date yyyy-mm-dd",
				valid_date(req->from) ? req->to : req->from),
		       -1;
	if (strcmp(req->from, req->to) > 0)
		return buf_addf(err, "--from %s is after --to %s", req->from,
				req->to),
		       -1;
	snprintf(p->first, sizeof(p->first), "%s", req->from);
	snprintf(p->last, sizeof(p->last), "%s", req->to);
	char a[16], b[16];
	vn_date(a, sizeof(a), p->first);
	vn_date(b, sizeof(b), p->last);
	snprintf(p->title, sizeof(p->title), "Từ ngày %s đến ngày %s", a, b);
	return 0;
}

/* ---- the rows ---- */

#define COUNTS                                                                 \
	"received_total, received_online, received_offline, carried_over,"     \
	" resolved_total, resolved_early, resolved_on_time, resolved_late,"    \
	" pending_total, pending_in_time, pending_overdue, "                   \
	"of_which_withdrawn,"                                                  \
	" resolved_late_legal, resolved_unknown_legal, masked_late, "          \
	"pending_overdue_legal"

/* The columns of a data row: these, then the counts. */
enum {
	R_LEVEL_RANK,
	R_UNIT,
	R_UNIT_NAME,
	R_LEVEL,
	R_FIELD,
	R_FIELD_NAME,
	R_COUNTS
};

/*
 * $1 $2: the period's kind and label, or its first and last day; $3 the
 * unit (NULL: all, each under its own code), $4 whether its descendants
 * count under it, $5 whether by current unit (rules.md, "Units across
 * reorganisations": each row counts under the end of its unit's lineage
 * chain, and the tree is that of the current units, a unit whose parent
 * ended hanging under the parent's current unit).  Sorted by level, unit,
 * field.
 */
#define ROWS_SQL(source)                                                       \
	"WITH RECURSIVE units (unit_code, parent_code) AS ("                   \
	" SELECT u.unit_code, CASE WHEN $5::boolean"                           \
	" THEN coalesce(p.current_code, u.parent_code) ELSE u.parent_code END" \
	" FROM mart.unit u"                                                    \
	" LEFT JOIN mart.unit p ON p.unit_code = u.parent_code"                \
	" WHERE NOT $5::boolean OR u.current_code = u.unit_code"               \
	"), tree (unit_code, shown) AS ("                                      \
	" SELECT unit_code, unit_code FROM units WHERE unit_code = $3"         \
	" UNION SELECT u.unit_code, t.shown FROM units u"                      \
	" JOIN tree t ON u.parent_code = t.unit_code WHERE $4::boolean"        \
	"), src AS ("                                                          \
	" SELECT CASE WHEN $5::boolean THEN coalesce(c.current_code,"          \
	" s.unit_code) ELSE s.unit_code END AS unit_code, s.field_code,"       \
	" s.field_name, " COUNTS " FROM " source " s"                          \
	" LEFT JOIN mart.unit c ON $5::boolean AND c.unit_code = s.unit_code"  \
	"), r AS ("                                                            \
	" SELECT coalesce(t.shown, f.unit_code) AS unit_code, f.field_code,"   \
	" f.field_name, " COUNTS " FROM src f"                                 \
	" LEFT JOIN tree t ON t.unit_code = f.unit_code"                       \
	" WHERE $3::text IS NULL OR t.unit_code IS NOT NULL)"                  \
	" SELECT CASE u.level WHEN 'TINH' THEN 1 WHEN 'HUYEN' THEN 2"          \
	" WHEN 'XA' THEN 3 ELSE 4 END, r.unit_code, coalesce(u.unit_name, "    \
	"r.unit_code),"                                                        \
	" coalesce(u.level, ''), r.field_code, r.field_name,"                  \
	" sum(received_total), sum(received_online), sum(received_offline),"   \
	" sum(carried_over), sum(resolved_total), sum(resolved_early),"        \
	" sum(resolved_on_time), sum(resolved_late), sum(pending_total),"      \
	" sum(pending_in_time), sum(pending_overdue), "                        \
	"sum(of_which_withdrawn),"                                             \
	" sum(resolved_late_legal), sum(resolved_unknown_legal), "             \
	"sum(masked_late),"                                                    \
	" sum(pending_overdue_legal)"                                          \
	" FROM r LEFT JOIN mart.unit u ON u.unit_code = r.unit_code"           \
	" GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 5"

static const char rows_of_period_sql[] = ROWS_SQL(
    "(SELECT * FROM mart.form06 WHERE period_kind = $1 AND period_label = $2)");
static const char rows_of_range_sql[] =
    ROWS_SQL("mart.form06_range($1::date, $2::date)");

static const char heading_sql[] =
    "SELECT (SELECT unit_name FROM mart.unit WHERE unit_code = $1),"
    " (SELECT CASE WHEN count(*) = 1 THEN max(unit_name) END FROM mart.unit"
    "  WHERE parent_code IS NULL AND unit_name IS NOT NULL),"
    " coalesce(to_char(coalesce((SELECT max(derived_at) FROM mart.freshness),"
    "  (SELECT derived_at FROM dw.state)) AT TIME ZONE 'Asia/Ho_Chi_Minh',"
    "  'DD/MM/YYYY HH24:MI'), ''),"
    " to_char(now() AT TIME ZONE 'Asia/Ho_Chi_Minh', 'DD/MM/YYYY HH24:MI'),"
    " EXISTS (SELECT FROM mart.unit WHERE unit_code = $1),"
    " (SELECT current_code FROM mart.unit"
    "  WHERE unit_code = $1 AND current_code <> unit_code),"
    " (SELECT to_char(ended_on, 'YYYY-MM-DD') FROM mart.unit"
    "  WHERE unit_code = $1)";

static PGresult *query(PGconn *conn, const char *sql, int n,
		       const char *const *params)
{
	PGresult *res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		struct buf b;
		log_error(NULL, NULL, "form06: %s",
			  term_shown(&b, PQresultErrorMessage(res)));
		buf_release(&b);
		PQclear(res);
		return NULL;
	}
	return res;
}

static bool is_set(const char *s)
{
	return s && *s;
}

/* The heading: who reports, as of when.  1 when the unit is unknown. */
static int read_heading(PGconn *conn, const struct form06_request *req,
			struct form06_report *rep)
{
	const char *params[] = {req->unit};
	PGresult *res = query(conn, heading_sql, 1, params);
	if (!res)
		return -1;
	int rc = 0;
	if (req->unit && strcmp(PQgetvalue(res, 0, 4), "t")) {
		struct buf b;
		log_error(NULL, NULL,
			  "form06: no unit '%s' in the warehouse (mart.unit)",
			  term_shown(&b, req->unit));
		buf_release(&b);
		rc = 1;
	} else if (req->unit && req->current_units && !PQgetisnull(res, 0, 5)) {
		struct buf b, c;
		log_error(
		    NULL, NULL,
		    "form06: unit '%s' ended on %s; by current unit it is "
		    "'%s'",
		    term_shown(&b, req->unit), PQgetvalue(res, 0, 6),
		    term_shown(&c, PQgetvalue(res, 0, 5)));
		buf_release(&b);
		buf_release(&c);
		rc = 1;
	}
	const char *body =
	    req->unit
		? (PQgetisnull(res, 0, 0) ? req->unit : PQgetvalue(res, 0, 0))
	    : is_set(req->reporting_body) ? req->reporting_body
					  : PQgetvalue(res, 0, 1);
	if (!req->unit && !is_set(req->reporting_body) &&
	    PQgetisnull(res, 0, 1))
		log_warn(
		    NULL, NULL,
		    "form06: not exactly one unit without a parent: \"Đơn vị "
		    "báo cáo\" left empty; set [report] reporting_body");
	rep->reporting_body = xstrdup(body);
	rep->recipient = xstrdup(is_set(req->recipient) ? req->recipient : "");
	rep->freshness = xstrdup(PQgetvalue(res, 0, 2));
	rep->produced = xstrdup(PQgetvalue(res, 0, 3));
	PQclear(res);
	return rc;
}

/* ---- the layout ---- */

static const char *level_name(const char *level)
{
	if (!strcmp(level, "TINH"))
		return "Cấp tỉnh";
	if (!strcmp(level, "HUYEN"))
		return "Cấp huyện";
	if (!strcmp(level, "XA"))
		return "Cấp xã";
	return "Đơn vị chưa rõ cấp";
}

static struct form06_line *add_line(struct form06_report *rep,
				    enum form06_line_kind kind,
				    const char *name, const char *code)
{
	rep->lines =
	    xrealloc(rep->lines, (rep->nlines + 1) * sizeof(*rep->lines));
	struct form06_line *l = &rep->lines[rep->nlines++];
	memset(l, 0, sizeof(*l));
	l->kind = kind;
	l->name = xstrdup(name);
	l->code = code ? xstrdup(code) : NULL;
	return l;
}

static void add_counts(long *to, const long *from)
{
	for (int i = 0; i < FORM06_NCOLS; i++)
		to[i] += from[i];
}

/*
 * Levels (province-wide only), each unit with the sums of its fields, the
 * fields, and the total.  Indexes, not pointers: add_line moves lines.
 */
static void lay_out(struct form06_report *rep, PGresult *res, bool by_level)
{
	static const char *const roman[] = {"I", "II", "III", "IV", "V"};
	long total[FORM06_NCOLS] = {0};
	size_t level = 0, unit = 0;
	int nlevels = 0, nunits = 0, nfields = 0;
	for (int r = 0; r < PQntuples(res); r++) {
		long v[FORM06_NCOLS];
		for (int i = 0; i < FORM06_NCOLS; i++)
			v[i] = atol(PQgetvalue(res, r, R_COUNTS + i));
		bool new_level =
		    r == 0 || strcmp(PQgetvalue(res, r, R_LEVEL_RANK),
				     PQgetvalue(res, r - 1, R_LEVEL_RANK));
		bool new_unit =
		    r == 0 || strcmp(PQgetvalue(res, r, R_UNIT),
				     PQgetvalue(res, r - 1, R_UNIT));
		if (by_level && new_level) {
			level = rep->nlines;
			add_line(rep, F06_LEVEL,
				 level_name(PQgetvalue(res, r, R_LEVEL)), NULL);
			snprintf(rep->lines[level].number,
				 sizeof(rep->lines[level].number), "%s",
				 roman[nlevels++ % 5]);
			nunits = 0;
		}
		if (new_unit) {
			unit = rep->nlines;
			add_line(rep, F06_UNIT, PQgetvalue(res, r, R_UNIT_NAME),
				 PQgetvalue(res, r, R_UNIT));
			snprintf(rep->lines[unit].number,
				 sizeof(rep->lines[unit].number), "%d",
				 ++nunits);
			nfields = 0;
		}
		struct form06_line *f =
		    add_line(rep, F06_FIELD, PQgetvalue(res, r, R_FIELD_NAME),
			     PQgetvalue(res, r, R_FIELD));
		snprintf(f->number, sizeof(f->number), "%d.%d", nunits,
			 ++nfields);
		memcpy(f->v, v, sizeof(v));
		add_counts(rep->lines[unit].v, v);
		if (by_level)
			add_counts(rep->lines[level].v, v);
		add_counts(total, v);
	}
	struct form06_line *t = add_line(rep, F06_TOTAL, "Tổng cộng", NULL);
	memcpy(t->v, total, sizeof(total));
}

int form06_read(PGconn *conn, const struct form06_request *req,
		const struct form06_period *p, struct form06_report *rep)
{
	memset(rep, 0, sizeof(*rep));
	rep->period = *p;
	struct buf err;
	buf_init(&err, ERR_CAP);
	int rc = score_utf8_session(conn, &err);
	if (rc < 0)
		log_error(NULL, NULL, "%s", buf_str(&err));
	buf_release(&err);
	if (rc == 0)
		rc = read_heading(conn, req, rep);
	if (rc != 0)
		return rc;
	const char *params[] = {p->report ? p->kind : p->first,
				p->report ? p->label : p->last, req->unit,
				req->subtree ? "true" : "false",
				req->current_units ? "true" : "false"};
	rep->rows =
	    query(conn, p->report ? rows_of_period_sql : rows_of_range_sql, 5,
		  params);
	if (!rep->rows)
		return -1;
	lay_out(rep, rep->rows, !req->unit);
	return 0;
}

void form06_release(struct form06_report *rep)
{
	for (size_t i = 0; i < rep->nlines; i++) {
		free(rep->lines[i].name);
		free(rep->lines[i].code);
	}
	free(rep->lines);
	free(rep->reporting_body);
	free(rep->recipient);
	free(rep->freshness);
	free(rep->produced);
	PQclear(rep->rows);
	memset(rep, 0, sizeof(*rep));
}

/* ---- the table and the CSV ---- */

/* Columns of s once cleaned: one per code point (Vietnamese is NFC). */
static int text_width(const char *s)
{
	int w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

/* s cleaned, cut with '…' to at most width columns, padded to it. */
static void print_text(FILE *out, const char *raw, int width)
{
	struct buf b;
	const char *s = term_shown(&b, raw);
	int w = 0;
	const char *p = s;
	for (; *p && w < width; w++) {
		const char *next = p + 1;
		while ((*next & 0xc0) == 0x80)
			next++;
		if (w == width - 1 && *next) {
			fputs("…", out);
			w++;
			break;
		}
		fwrite(p, 1, (size_t)(next - p), out);
		p = next;
	}
	for (; w < width; w++)
		fputc(' ', out);
	buf_release(&b);
}

/* The official columns (3)..(13) of the table: the first 11 counts. */
#define TABLE_COUNTS 11

void form06_print_table(const struct form06_report *rep, FILE *out)
{
	int width[TABLE_COUNTS];
	int numbers = 0;
	for (int c = 0; c < TABLE_COUNTS; c++) {
		width[c] = 5; /* "(10)" and a space */
		for (size_t i = 0; i < rep->nlines; i++) {
			char s[24];
			int n =
			    snprintf(s, sizeof(s), "%ld", rep->lines[i].v[c]);
			if (n + 1 > width[c])
				width[c] = n + 1;
		}
		numbers += width[c];
	}
	int name_width = TABLE_WIDTH - 6 - numbers;
	if (name_width < 12)
		name_width = 12;
	fprintf(out, "Biểu số 06/VPCP/KSTT  %s\n", rep->period.title);
	int body = text_width(rep->reporting_body);
	fputs("Đơn vị báo cáo: ", out);
	print_text(out, rep->reporting_body,
		   body > TABLE_WIDTH - 16 ? TABLE_WIDTH - 16 : body);
	fprintf(out, "\nSố liệu tính đến: %s\n\n", rep->freshness);
	fprintf(out, "%-6s", "STT");
	print_text(out, "Tên", name_width);
	for (int c = 0; c < TABLE_COUNTS; c++) {
		char h[16];
		snprintf(h, sizeof(h), "(%d)", c + 3);
		fprintf(out, "%*s", width[c], h);
	}
	fputc('\n', out);
	for (size_t i = 0; i < rep->nlines; i++) {
		const struct form06_line *l = &rep->lines[i];
		fprintf(out, "%-6.6s", l->number);
		const char *indent = l->kind == F06_FIELD ? "  " : "";
		char *name = xasprintf("%s%s", indent, l->name);
		print_text(out, name, name_width);
		free(name);
		for (int c = 0; c < TABLE_COUNTS; c++)
			fprintf(out, "%*ld", width[c], l->v[c]);
		fputc('\n', out);
	}
	long withdrawn = rep->nlines ? rep->lines[rep->nlines - 1].v[11] : 0;
	fprintf(
	    out,
	    "\n(3) nhận = (4) trực tuyến + (5) trực tiếp, bưu chính + (6) từ "
	    "kỳ trước;\n"
	    "(7) đã giải quyết = (8) trước hạn + (9) đúng hạn + (10) quá hạn;\n"
	    "(11) đang giải quyết = (12) trong hạn + (13) quá hạn.\n"
	    "(*) Cột (9) gồm cả %ld hồ sơ xin rút.\n",
	    withdrawn);
}

void form06_print_csv(const struct form06_report *rep, FILE *out)
{
	static const char *const head[] = {
	    "unit_code",    "unit_name",  "level",
	    "field_code",   "field_name", "period_kind",
	    "period_label", "first_day",  "last_day"};
	for (size_t i = 0; i < ARRAY_SIZE(head); i++)
		fprintf(out, "%s,", head[i]);
	for (int c = 0; c < FORM06_NCOLS; c++)
		fprintf(out, "%s%c", form06_count_names[c],
			c + 1 < FORM06_NCOLS ? ',' : '\n');
	const struct form06_period *p = &rep->period;
	for (int r = 0; r < PQntuples(rep->rows); r++) {
		const char *text[] = {PQgetvalue(rep->rows, r, R_UNIT),
				      PQgetvalue(rep->rows, r, R_UNIT_NAME),
				      PQgetvalue(rep->rows, r, R_LEVEL),
				      PQgetvalue(rep->rows, r, R_FIELD),
				      PQgetvalue(rep->rows, r, R_FIELD_NAME),
				      p->kind,
				      p->label,
				      p->first,
				      p->last};
		for (size_t i = 0; i < ARRAY_SIZE(text); i++)
			term_csv_put(out, text[i], true, false);
		for (int c = 0; c < FORM06_NCOLS; c++)
			term_csv_put(out,
				     PQgetvalue(rep->rows, r, R_COUNTS + c),
				     false, c + 1 == FORM06_NCOLS);
	}
}

int form06_output(const struct form06_report *rep,
		  const struct form06_request *req, struct buf *err)
{
	bool csv = !strcmp(req->format, "csv");
	if (!strcmp(req->format, "xlsx"))
		return form06_write_xlsx(rep, req->out, err);
	if (!req->out) {
		csv ? form06_print_csv(rep, stdout)
		    : form06_print_table(rep, stdout);
		return fflush(stdout) == 0
			   ? 0
			   : (buf_addf(err, "cannot write to stdout"), -1);
	}
	/* written whole or not at all (outfile.h) */
	char *tmp = NULL;
	FILE *out = outfile_open(req->out, &tmp, err);
	int rc = -1;
	if (out) {
		csv ? form06_print_csv(rep, out) : form06_print_table(rep, out);
		rc = outfile_close(out, tmp, req->out, true, err);
	}
	free(tmp);
	return rc;
}
