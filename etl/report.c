#include "report.h"
#include "buf.h"
#include "civil.h"
#include "config.h"
#include "css_embed.h"
#include "log.h"
#include "pgload.h"
#include "term.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ERR_CAP 4096
#define TABLE_WIDTH 100 /* issue 6: score tables fit 100 columns */

int report_parse_period(const char *period, char kind[8], char start[11])
{
	int y, n;
	char tail;
	const char *k;
	int month;
	if (sscanf(period, "%4d-Q%1d%c", &y, &n, &tail) == 2 && n >= 1 &&
	    n <= 4) {
		k = "quarter";
		month = (n - 1) * 3 + 1;
	} else if (strlen(period) == 7 &&
		   sscanf(period, "%4d-%2d%c", &y, &n, &tail) == 2 && n >= 1 &&
		   n <= 12) {
		k = "month";
		month = n;
	} else if (strlen(period) == 4 &&
		   sscanf(period, "%4d%c", &y, &tail) == 1) {
		k = "year";
		month = 1;
	} else {
		return -1;
	}
	if (y < 2000 || y > 2099)
		return -1;
	if (kind)
		snprintf(kind, 8, "%s", k);
	if (start)
		snprintf(start, 11, "%04d-%02d-01", y, month);
	return 0;
}

/* The current year in Asia/Ho_Chi_Minh, whatever the host's zone. */
static void current_year(char out[16])
{
	time_t now = time(NULL) + LOCAL_UTC_OFFSET;
	struct tm tm;
	gmtime_r(&now, &tm);
	snprintf(out, 16, "%04d", tm.tm_year + 1900);
}

/* The period asked for, or the current year. */
static const char *request_period(const struct score_request *req,
				  char year[16])
{
	if (req->period)
		return req->period;
	current_year(year);
	return year;
}

/* ---- text in columns: one column per code point ---- */

/* Bytes of the UTF-8 character that starts at s. */
static size_t char_len(const char *s)
{
	size_t len = 1;
	while ((s[len] & 0xc0) == 0x80)
		len++;
	return len;
}

static int text_width(const char *s)
{
	int w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

/* Bytes of the first n characters of s (all of s when it is shorter). */
static size_t prefix_bytes(const char *s, int n)
{
	const char *p = s;
	for (; *p && n > 0; n--)
		p += char_len(p);
	return (size_t)(p - s);
}

/*
 * Room for s escaped (term.h: at most 4 bytes a byte, 8 with CSV's
 * doubled quotes): a value is never cut, so JSON never loses its quote.
 */
static size_t escaped_cap(const char *s)
{
	return 8 * strlen(s) + 16;
}

/*
 * Warehouse text as a terminal may show it (term.h), in b; the caller
 * releases b.
 */
static const char *shown(struct buf *b, const char *s)
{
	buf_init(b, escaped_cap(s));
	term_clean(b, s);
	return buf_str(b);
}

/* The columns s takes once shown. */
static int shown_width(const char *s)
{
	struct buf b;
	int w = text_width(shown(&b, s));
	buf_release(&b);
	return w;
}

/* Print s left-aligned in width columns, cut with '…' when too long. */
static void print_cell(FILE *out, const char *raw, int width)
{
	struct buf b;
	const char *s = shown(&b, raw);
	int w = text_width(s);
	if (w > width) {
		fwrite(s, 1, prefix_bytes(s, width - 1), out);
		fputs("…", out);
		w = width;
	} else {
		fputs(s, out);
	}
	for (; w < width; w++)
		fputc(' ', out);
	buf_release(&b);
}

/* Bytes of the longest run of whole words of s within max characters. */
static size_t word_prefix(const char *s, int max)
{
	size_t cut = 0;
	const char *p = s;
	for (int i = 0; *p && i < max; i++) {
		p += char_len(p);
		if (*p == ' ')
			cut = (size_t)(p - s);
	}
	return cut ? cut : (size_t)(p - s);
}

/* Where the longest run of whole words ending s within max characters starts.
 */
static const char *word_suffix(const char *s, int width, int max)
{
	const char *start = s + prefix_bytes(s, width - max);
	if (start > s && start[-1] == ' ')
		return start;
	const char *space = strchr(start, ' ');
	return space && space[1] ? space + 1 : start;
}

/*
 * Print a label in at most width columns, as the last column of a line.
 * Labels of one profile share their start ("Tỷ lệ TTHC cung cấp dịch vụ
 * công trực tuyến ...") and differ at the end, so a long one keeps its
 * first words and, with twice the room, its last ones around " … ".
 */
static void print_label(FILE *out, const char *raw, int width)
{
	struct buf b;
	const char *s = shown(&b, raw);
	int w = text_width(s);
	if (w <= width) {
		fputs(s, out);
	} else if (width < 12) {
		fwrite(s, 1, prefix_bytes(s, width - 1), out);
		fputs("…", out);
	} else {
		int head = (width - 3) / 3, tail = width - 3 - head;
		fwrite(s, 1, word_prefix(s, head), out);
		fputs(" … ", out);
		fputs(word_suffix(s, w, tail), out);
	}
	buf_release(&b);
}

/* ---- the scorecard query, shared by score and report ---- */

enum col {
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

static const char score_sql[] =
    "SELECT t.unit_code, coalesce(u.unit_name, ''), t.profile, s.criterion,"
    " s.label, s.metric, coalesce(s.value::text, ''), s.target::text,"
    " CASE s.met WHEN true THEN 'yes' WHEN false THEN 'no' ELSE 'n/a' END,"
    " coalesce(s.points::text, ''), s.max_points::text, t.points::text,"
    " t.max_points::text, coalesce(t.score_pct::text, ''),"
    " t.criteria_met, t.criteria_applicable"
    " FROM mart.compliance_total t"
    " JOIN mart.compliance_score s"
    " USING (unit_code, period_kind, period_start, profile)"
    " LEFT JOIN mart.unit u USING (unit_code)"
    " WHERE t.period_kind = $1 AND t.period_start = $2::date"
    " AND ($3::text IS NULL OR t.profile = $3)"
    " AND ($4::text IS NULL OR t.unit_code = $4)"
    " ORDER BY t.profile, t.score_pct DESC NULLS LAST, t.unit_code,"
    " s.criterion";

/* One unit's rows [first, end) of a profile, and its rank (0: no score). */
struct unit_rows {
	int first, end;
	int rank;
};

static const char *cell(PGresult *res, int row, enum col c)
{
	return PQgetvalue(res, row, (int)c);
}

/* The first row after r of another profile. */
static int profile_end(PGresult *res, int r)
{
	int n = PQntuples(res);
	const char *profile = cell(res, r, C_PROFILE);
	while (r < n && !strcmp(cell(res, r, C_PROFILE), profile))
		r++;
	return r;
}

/*
 * The units of the profile rows [first, end), in score order, ranked:
 * equal scores share a rank and the next rank skips (1, 2, 2, 4).
 */
static struct unit_rows *split_units(PGresult *res, int first, int end,
				     int *count)
{
	struct unit_rows *units =
	    xcalloc((size_t)(end - first), sizeof(*units));
	int n = 0;
	for (int r = first; r < end; r++) {
		if (n && !strcmp(cell(res, r, C_UNIT),
				 cell(res, units[n - 1].first, C_UNIT))) {
			units[n - 1].end = r + 1;
			continue;
		}
		const char *pct = cell(res, r, C_T_PCT);
		units[n] = (struct unit_rows){r, r + 1, 0};
		if (*pct)
			units[n].rank =
			    n && !strcmp(pct,
					 cell(res, units[n - 1].first, C_T_PCT))
				? units[n - 1].rank
				: n + 1;
		n++;
	}
	*count = n;
	return units;
}

/* ---- score --format table ---- */

struct widths {
	int code, name, points, met;			     /* the ranking */
	int crit, metric, value, target, crit_points, label; /* the criteria */
};

static int max_int(int a, int b)
{
	return a > b ? a : b;
}

static int total_points_width(PGresult *res, int r)
{
	return text_width(cell(res, r, C_T_POINTS)) + 1 +
	       text_width(cell(res, r, C_T_MAX));
}

static int points_width(PGresult *res, int r)
{
	const char *p = cell(res, r, C_POINTS);
	return (*p ? text_width(p) : 1) + 1 + text_width(cell(res, r, C_MAX));
}

static void measure(PGresult *res, int first, int end, struct widths *w)
{
	*w = (struct widths){.code = 4,
			     .points = 6,
			     .met = 3,
			     .crit = 4,
			     .metric = 6,
			     .value = 5,
			     .target = 6,
			     .crit_points = 6};
	for (int r = first; r < end; r++) {
		const char *v = cell(res, r, C_VALUE);
		w->code = max_int(w->code, shown_width(cell(res, r, C_UNIT)));
		w->points = max_int(w->points, total_points_width(res, r));
		w->met =
		    max_int(w->met, text_width(cell(res, r, C_T_MET)) + 1 +
					text_width(cell(res, r, C_T_APPL)));
		w->crit =
		    max_int(w->crit, shown_width(cell(res, r, C_CRITERION)));
		w->metric =
		    max_int(w->metric, shown_width(cell(res, r, C_METRIC)));
		w->value = max_int(w->value, *v ? text_width(v) : 1);
		w->target =
		    max_int(w->target, text_width(cell(res, r, C_TARGET)));
		w->crit_points = max_int(w->crit_points, points_width(res, r));
	}
	/* A code or metric is cut before it pushes a line past the width. */
	if (w->code > 24)
		w->code = 24;
	if (w->crit > 10)
		w->crit = 10;
	if (w->metric > 24)
		w->metric = 24;
	w->name = max_int(10, TABLE_WIDTH - (4 + 2 + w->code + 2 + 2 + 7 + 2 +
					     w->points + 2 + w->met));
	w->label = max_int(10, TABLE_WIDTH - (2 + w->crit + 2 + w->metric + 2 +
					      w->value + 2 + w->target + 2 + 3 +
					      2 + w->crit_points + 2));
}

static void print_ranking(PGresult *res, const struct unit_rows *units, int n,
			  const struct widths *w, FILE *out)
{
	fprintf(out, "%4s  ", "rank");
	print_cell(out, "unit", w->code);
	fputs("  ", out);
	print_cell(out, "name", w->name);
	fprintf(out, "  %7s  %*s  %*s\n", "score", w->points, "points", w->met,
		"met");
	for (int i = 0; i < n; i++) {
		int r = units[i].first;
		char rank[16], pct[32], points[64], met[32];
		snprintf(rank, sizeof(rank), units[i].rank ? "%d" : "-",
			 units[i].rank);
		snprintf(pct, sizeof(pct),
			 *cell(res, r, C_T_PCT) ? "%s%%" : "-",
			 cell(res, r, C_T_PCT));
		snprintf(points, sizeof(points), "%s/%s",
			 cell(res, r, C_T_POINTS), cell(res, r, C_T_MAX));
		snprintf(met, sizeof(met), "%s/%s", cell(res, r, C_T_MET),
			 cell(res, r, C_T_APPL));
		fprintf(out, "%4s  ", rank);
		print_cell(out, cell(res, r, C_UNIT), w->code);
		fputs("  ", out);
		print_cell(out,
			   *cell(res, r, C_NAME) ? cell(res, r, C_NAME) : "-",
			   w->name);
		fprintf(out, "  %7s  %*s  %*s\n", pct, w->points, points,
			w->met, met);
	}
}

static void print_unit_heading(PGresult *res, const struct unit_rows *unit,
			       FILE *out)
{
	int r = unit->first;
	char lead[64], pct[32];
	snprintf(lead, sizeof(lead), unit->rank ? "%d. " : "-. ", unit->rank);
	snprintf(pct, sizeof(pct), *cell(res, r, C_T_PCT) ? "  %s%%" : "  -",
		 cell(res, r, C_T_PCT));
	struct buf b;
	const char *code = shown(&b, cell(res, r, C_UNIT));
	const char *name = cell(res, r, C_NAME);
	int room = TABLE_WIDTH - text_width(lead) - text_width(code) - 2 -
		   text_width(pct);
	fprintf(out, "\n%s%s  ", lead, code);
	print_cell(out, *name ? name : "-", max_int(room, 10));
	fprintf(out, "%s\n", pct);
	buf_release(&b);
}

static void print_criteria(PGresult *res, const struct unit_rows *unit,
			   const struct widths *w, FILE *out)
{
	fputs("  ", out);
	print_cell(out, "crit", w->crit);
	fputs("  ", out);
	print_cell(out, "metric", w->metric);
	fprintf(out, "  %*s  %*s  met  %*s  label\n", w->value, "value",
		w->target, "target", w->crit_points, "points");
	for (int r = unit->first; r < unit->end; r++) {
		const char *v = cell(res, r, C_VALUE),
			   *p = cell(res, r, C_POINTS);
		char points[64];
		snprintf(points, sizeof(points), "%s/%s", *p ? p : "-",
			 cell(res, r, C_MAX));
		fputs("  ", out);
		print_cell(out, cell(res, r, C_CRITERION), w->crit);
		fputs("  ", out);
		print_cell(out, cell(res, r, C_METRIC), w->metric);
		fprintf(out, "  %*s  %*s  ", w->value, *v ? v : "-", w->target,
			cell(res, r, C_TARGET));
		print_cell(out, cell(res, r, C_MET), 3);
		fprintf(out, "  %*s  ", w->crit_points, points);
		print_label(out, cell(res, r, C_LABEL), w->label);
		fputc('\n', out);
	}
}

static void print_table(PGresult *res, FILE *out, const char *period)
{
	int total = PQntuples(res);
	if (total == 0) {
		fprintf(out,
			"no scores for period %s (has the warehouse data for "
			"it?)\n",
			period);
		return;
	}
	for (int first = 0, end; first < total; first = end) {
		end = profile_end(res, first);
		int n;
		struct unit_rows *units = split_units(res, first, end, &n);
		struct widths w;
		measure(res, first, end, &w);
		struct buf profile;
		fprintf(out, "%sProfile %s · period %s · %d unit%s\n\n",
			first ? "\n\n" : "",
			shown(&profile, cell(res, first, C_PROFILE)), period, n,
			n == 1 ? "" : "s");
		buf_release(&profile);
		print_ranking(res, units, n, &w, out);
		for (int i = 0; i < n; i++) {
			print_unit_heading(res, &units[i], out);
			print_criteria(res, &units[i], &w, out);
		}
		free(units);
	}
}

/* ---- score --format csv and json ---- */

static void csv_cell(FILE *out, const char *s, bool is_text, bool last)
{
	struct buf b;
	buf_init(&b, escaped_cap(s));
	term_csv_cell(&b, s, is_text);
	fputs(buf_str(&b), out);
	fputc(last ? '\n' : ',', out);
	buf_release(&b);
}

/*
 * The columns that hold text.  The others are PostgreSQL numbers and
 * flags: a negative value (-3.50) must stay a number in a spreadsheet,
 * and a number cannot carry a formula, so only text gets the "'" of
 * term_csv_cell.
 */
static bool csv_is_text(enum col c)
{
	return c <= C_METRIC;
}

static const char *met_flag(const char *met, const char *yes, const char *no,
			    const char *na)
{
	return !strcmp(met, "yes") ? yes : !strcmp(met, "no") ? no : na;
}

static void print_csv(PGresult *res, FILE *out, const char *kind,
		      const char *start)
{
	fprintf(out, "unit_code,unit_name,period_kind,period_start,profile,"
		     "criterion,label,"
		     "metric,value,target,met,points,max_points,total_points,"
		     "total_max_points,"
		     "score_pct,criteria_met,criteria_applicable\n");
	for (int r = 0; r < PQntuples(res); r++) {
		for (int c = C_UNIT; c <= C_T_APPL; c++) {
			if (c == C_PROFILE) {
				csv_cell(out, kind, true, false);
				csv_cell(out, start, true, false);
			}
			const char *v = PQgetvalue(res, r, c);
			if (c == C_MET)
				v = met_flag(v, "t", "f", "");
			csv_cell(out, v, csv_is_text((enum col)c), c == C_T_APPL);
		}
	}
}

static void json_string(FILE *out, const char *s)
{
	struct buf b;
	buf_init(&b, escaped_cap(s));
	term_json_string(&b, s);
	fputs(buf_str(&b), out);
	buf_release(&b);
}

static void json_number(FILE *out, const char *s)
{
	fputs(*s ? s : "null", out);
}

static void json_unit(PGresult *res, int r, FILE *out, const char *kind,
		      const char *start)
{
	fprintf(out, "\n {\"unit_code\": ");
	json_string(out, cell(res, r, C_UNIT));
	fprintf(out, ", \"unit_name\": ");
	json_string(out, cell(res, r, C_NAME));
	fprintf(out,
		", \"period_kind\": \"%s\", \"period_start\": \"%s\", "
		"\"profile\": ",
		kind, start);
	json_string(out, cell(res, r, C_PROFILE));
	fprintf(out, ", \"points\": %s, \"max_points\": %s, \"score_pct\": ",
		cell(res, r, C_T_POINTS), cell(res, r, C_T_MAX));
	json_number(out, cell(res, r, C_T_PCT));
	fprintf(out,
		", \"criteria_met\": %s, \"criteria_applicable\": %s, "
		"\"criteria\": [",
		cell(res, r, C_T_MET), cell(res, r, C_T_APPL));
}

static void json_criterion(PGresult *res, int r, FILE *out)
{
	fprintf(out, "\n  {\"criterion\": ");
	json_string(out, cell(res, r, C_CRITERION));
	fprintf(out, ", \"label\": ");
	json_string(out, cell(res, r, C_LABEL));
	fprintf(out, ", \"metric\": ");
	json_string(out, cell(res, r, C_METRIC));
	fprintf(out, ", \"value\": ");
	json_number(out, cell(res, r, C_VALUE));
	fprintf(out, ", \"target\": %s, \"met\": %s, \"points\": ",
		cell(res, r, C_TARGET),
		met_flag(cell(res, r, C_MET), "true", "false", "null"));
	json_number(out, cell(res, r, C_POINTS));
	fprintf(out, ", \"max_points\": %s}", cell(res, r, C_MAX));
}

static void print_json(PGresult *res, FILE *out, const char *kind,
		       const char *start)
{
	int n = PQntuples(res);
	fputc('[', out);
	for (int r = 0; r < n; r++) {
		bool first =
		    r == 0 ||
		    strcmp(cell(res, r, C_UNIT), cell(res, r - 1, C_UNIT)) ||
		    strcmp(cell(res, r, C_PROFILE),
			   cell(res, r - 1, C_PROFILE));
		if (first && r)
			fputs("]},", out);
		if (first)
			json_unit(res, r, out, kind, start);
		else
			fputc(',', out);
		json_criterion(res, r, out);
	}
	fputs(n ? "]}\n]\n" : "]\n", out);
}

/* Text results in UTF-8, whatever the client's locale asked for. */
static int utf8_session(PGconn *conn, struct buf *err)
{
	return pg_exec(conn, "SET client_encoding = 'UTF8'", 0, NULL, err);
}

/* ---- the names --profile and --unit may take ---- */

#define KNOWN_LISTED 10 /* names an error lists; more is a wall of text */

static const char known_profiles_sql[] =
    "SELECT profile FROM dw.profile_criterion"
    " UNION SELECT profile FROM mart.compliance_total ORDER BY 1";

static const char known_units_sql[] =
    "SELECT unit_code FROM dw.unit"
    " UNION SELECT unit_code FROM mart.unit ORDER BY 1";

/*
 * The known name a mistyped one probably meant: one within a typo or two,
 * else the first that it starts ("kh49" for "kh49-2021"); else NULL.
 */
static const char *meant_name(const char *name, const char *const *known,
			      size_t n)
{
	const char *near = config_nearest(name, known, n);
	for (size_t i = 0; !near && *name && i < n; i++)
		if (!strncmp(known[i], name, strlen(name)))
			near = known[i];
	return near;
}

static void log_unknown(PGresult *res, const char *what, const char *name)
{
	size_t n = (size_t)PQntuples(res);
	const char **known = xcalloc(n, sizeof(*known));
	for (size_t i = 0; i < n; i++)
		known[i] = PQgetvalue(res, (int)i, 0);
	struct buf msg;
	buf_init(&msg, ERR_CAP);
	buf_addf(&msg, "unknown %s '%s'", what, name);
	const char *meant = meant_name(name, known, n);
	if (meant)
		buf_addf(&msg, "; did you mean '%s'?", meant);
	buf_adds(&msg, meant ? " known: " : "; known: ");
	for (size_t i = 0; i < n && i < KNOWN_LISTED; i++)
		buf_addf(&msg, "%s%s", i ? ", " : "", known[i]);
	if (n > KNOWN_LISTED)
		buf_addf(&msg, " and %zu more", n - KNOWN_LISTED);
	log_error(NULL, NULL, "%s", buf_str(&msg));
	buf_release(&msg);
	free(known);
}

/* 1 when name is not among the names sql returns (and they are some). */
static int check_name(PGconn *conn, const char *sql, const char *what,
		      const char *name, struct buf *err)
{
	PGresult *res = pg_query(conn, sql, 0, NULL, err);
	if (!res)
		return -1;
	int n = PQntuples(res), found = n == 0;
	for (int i = 0; i < n && !found; i++)
		found = !strcmp(PQgetvalue(res, i, 0), name);
	if (!found)
		log_unknown(res, what, name);
	PQclear(res);
	return !found;
}

int report_check_names(PGconn *conn, const struct score_request *req)
{
	struct buf err;
	buf_init(&err, ERR_CAP);
	int profile = 0, unit = 0;
	if (utf8_session(conn, &err) < 0 ||
	    (req->profile && (profile = check_name(conn, known_profiles_sql,
						   "profile", req->profile,
						   &err)) < 0) ||
	    (req->unit && (unit = check_name(conn, known_units_sql, "unit",
					     req->unit, &err)) < 0)) {
		log_error(NULL, NULL, "%s", buf_str(&err));
		buf_release(&err);
		return -1;
	}
	buf_release(&err);
	return profile + unit;
}

int report_score(PGconn *conn, const struct score_request *req, FILE *out)
{
	char kind[8], start[11], year[16];
	const char *period = request_period(req, year);
	if (report_parse_period(period, kind, start) < 0)
		return error("bad period '%s'", period);
	const char *params[] = {kind, start, req->profile, req->unit};
	struct buf err;
	buf_init(&err, ERR_CAP);
	PGresult *res = NULL;
	if (utf8_session(conn, &err) == 0)
		res = pg_query(conn, score_sql, 4, params, &err);
	if (!res) {
		log_error(NULL, NULL, "%s", buf_str(&err));
		buf_release(&err);
		return -1;
	}
	if (!strcmp(req->format, "csv"))
		print_csv(res, out, kind, start);
	else if (!strcmp(req->format, "json"))
		print_json(res, out, kind, start);
	else
		print_table(res, out, period);
	PQclear(res);
	buf_release(&err);
	return 0;
}

/* ---- report: one self-contained HTML page ---- */

struct html {
	FILE *out;
	PGconn *conn;
	const struct score_request *req;
	const char *period;
	char kind[8], start[11];
	PGresult *trend; /* the months of the period, then the whole period */
	int months;
	struct buf err;
};

/* What a figure on the page is, as data-* attributes (NULL: not set). */
struct fig_key {
	const char *profile, *unit, *criterion, *month, *department;
};

/*
 * Text as HTML: control characters shown as term_clean shows them (HTML
 * forbids them, and a page opened with cat must not drive the terminal),
 * then escaped.
 */
static void html_text(FILE *out, const char *raw)
{
	struct buf b;
	const char *s = shown(&b, raw);
	for (; *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		case '\'':
			fputs("&#39;", out);
			break;
		default:
			fputc(*s, out);
		}
	}
	buf_release(&b);
}

/* U+202F, a narrow no-break space: groups digits the same in Vietnamese and
 * English. */
#define DIGIT_GROUP "\xe2\x80\xaf"

/*
 * A number as PostgreSQL prints it, written the Vietnamese way (decimal
 * comma) with digits grouped by threes; NULL ("") is a dash.
 */
static void html_number(FILE *out, const char *s)
{
	if (!*s) {
		fputs("—", out);
		return;
	}
	if (*s == '-')
		fputc(*s++, out);
	size_t digits = strspn(s, "0123456789");
	for (size_t i = 0; i < digits; i++) {
		if (i && digits > 3 && (digits - i) % 3 == 0)
			fputs(DIGIT_GROUP, out);
		fputc(s[i], out);
	}
	s += digits;
	if (*s == '.') {
		fputc(',', out);
		s++;
	}
	html_text(out, s);
}

static void data_attr(FILE *out, const char *name, const char *value)
{
	if (!value)
		return;
	fprintf(out, " data-%s=\"", name);
	html_text(out, value);
	fputc('"', out);
}

/* <tag attrs data-metric=... data-...>value</tag>: a figure from the warehouse.
 */
static void fig_tag(FILE *out, const char *tag, const char *attrs,
		    const char *metric, const struct fig_key *k,
		    const char *value)
{
	fprintf(out, "<%s%s", tag, attrs);
	data_attr(out, "metric", metric);
	data_attr(out, "profile", k->profile);
	data_attr(out, "unit", k->unit);
	data_attr(out, "criterion", k->criterion);
	data_attr(out, "month", k->month);
	data_attr(out, "department", k->department);
	fputc('>', out);
	html_number(out, value);
	fprintf(out, "</%s>", tag);
}

static void fig(FILE *out, const char *metric, const struct fig_key *k,
		const char *value)
{
	fig_tag(out, "span", " class=\"fig\"", metric, k, value);
}

/* A percentage as a fraction of 0..100, for drawing. */
static double pct_of(const char *value)
{
	double v = *value ? strtod(value, NULL) : 0;
	return v < 0 ? 0 : v > 100 ? 100 : v;
}

static bool reaches(const char *value, const char *target)
{
	return *value && strtod(value, NULL) >= strtod(target, NULL);
}

#define BAR_W 150

/* A horizontal bar of a percentage on a 0-100 scale, the target marked by a
 * tick. */
static void html_bar(FILE *out, const char *value, const char *target,
		     const char *cls)
{
	fprintf(out,
		"<svg class=\"bar\" viewBox=\"0 0 %d 14\" width=\"%d\" "
		"height=\"14\""
		" aria-hidden=\"true\"><rect class=\"track\" x=\"1\" y=\"3\" "
		"width=\"%d\""
		" height=\"8\"/>",
		BAR_W + 2, BAR_W + 2, BAR_W);
	if (*value)
		fprintf(out,
			"<rect class=\"%s\" x=\"1\" y=\"3\" width=\"%.1f\" "
			"height=\"8\"/>",
			cls, pct_of(value) * BAR_W / 100);
	if (target && *target)
		fprintf(out, "<path class=\"target\" d=\"M%.1f 0V14\"/>",
			1 + pct_of(target) * BAR_W / 100);
	fputs("</svg>", out);
}

static PGresult *html_query(struct html *h, const char *sql, int n,
			    const char *const *params)
{
	PGresult *res = pg_query(h->conn, sql, n, params, &h->err);
	if (!res)
		log_error(NULL, NULL, "%s", buf_str(&h->err));
	return res;
}

/* A section's heading: Vietnamese, and English beneath. */
static void heading(FILE *out, const char *id, const char *vi, const char *en)
{
	fprintf(out,
		"<section id=\"%s\">\n<h2>%s</h2>\n<p class=\"en\">%s</p>\n",
		id, vi, en);
}

static void no_data(FILE *out)
{
	fputs("<p class=\"none\">Không có số liệu cho kỳ này. <span "
	      "class=\"en\">No data for this"
	      " period.</span></p>\n",
	      out);
}

/* "Năm 2021" and "Year 2021", first and last day: the period in words. */
static void period_words(const char *kind, const char *start, struct buf *vi,
			 struct buf *en)
{
	static const char *quarters[] = {"I", "II", "III", "IV"};
	int y = 0, m = 0;
	sscanf(start, "%d-%d", &y, &m);
	int last = !strcmp(kind, "year")      ? 12
		   : !strcmp(kind, "quarter") ? m + 2
					      : m;
	if (!strcmp(kind, "year")) {
		buf_addf(vi, "Năm %d", y);
		buf_addf(en, "Year %d", y);
	} else if (!strcmp(kind, "quarter")) {
		buf_addf(vi, "Quý %s năm %d", quarters[(m - 1) / 3 % 4], y);
		buf_addf(en, "%d Q%d", y, (m - 1) / 3 + 1);
	} else {
		buf_addf(vi, "Tháng %d năm %d", m, y);
		buf_addf(en, "%d-%02d", y, m);
	}
	buf_addf(vi, " (01/%02d/%d – %02d/%02d/%d)", m, y,
		 days_in_month(y, last), last, y);
}

static const char head_sql[] =
    "SELECT (SELECT to_char(max(derived_at), 'DD/MM/YYYY HH24:MI')"
    "         FROM mart.freshness),"
    " (SELECT to_char(max(watermark), 'DD/MM/YYYY HH24:MI')"
    "   FROM mart.freshness),"
    " (SELECT count(*) FROM mart.unit_kpi"
    "   WHERE period_kind = $1 AND period_start = $2::date"
    "   AND ($3::text IS NULL OR unit_code = $3)),"
    " (SELECT string_agg(DISTINCT profile, ', ' ORDER BY profile)"
    "   FROM mart.compliance_total"
    "   WHERE period_kind = $1 AND period_start = $2::date"
    "   AND ($4::text IS NULL OR profile = $4)),"
    " (SELECT unit_name FROM mart.unit WHERE unit_code = $3)";

static void meta_row(FILE *out, const char *vi, const char *en)
{
	fprintf(out, "<dt>%s <i>/ %s</i></dt><dd>", vi, en);
}

static void page_meta(struct html *h, PGresult *res)
{
	FILE *out = h->out;
	struct fig_key none = {0};
	struct buf vi, en;
	buf_init(&vi, 256);
	buf_init(&en, 256);
	period_words(h->kind, h->start, &vi, &en);
	fputs("<dl class=\"meta\">", out);
	meta_row(out, "Kỳ báo cáo", "Period");
	fprintf(out, "%s <i>/ %s</i></dd>", buf_str(&vi), buf_str(&en));
	meta_row(out, "Đơn vị", "Units");
	if (h->req->unit) {
		fputs("<code>", out);
		html_text(out, h->req->unit);
		fputs("</code> ", out);
		html_text(out, PQgetvalue(res, 0, 4));
	} else {
		fputs("tất cả <i>/ all</i>: ", out);
		fig(out, "units", &none, PQgetvalue(res, 0, 2));
	}
	fputs("</dd>", out);
	meta_row(out, "Bộ tiêu chí", "Scoring profiles");
	html_text(out, *PQgetvalue(res, 0, 3) ? PQgetvalue(res, 0, 3) : "—");
	fputs("</dd>", out);
	meta_row(out, "Chỉ số tính lúc", "Indicators derived at");
	fig(out, "derived_at", &none, PQgetvalue(res, 0, 0));
	fputs("</dd>", out);
	meta_row(out, "Dữ liệu nguồn đến", "Source data up to");
	fig(out, "watermark", &none, PQgetvalue(res, 0, 1));
	fputs("</dd></dl>\n", out);
	buf_release(&vi);
	buf_release(&en);
}

static int page_start(struct html *h)
{
	const char *params[] = {h->kind, h->start, h->req->unit,
				h->req->profile};
	PGresult *res = html_query(h, head_sql, 4, params);
	if (!res)
		return -1;
	FILE *out = h->out;
	fputs("<!DOCTYPE html>\n<html lang=\"vi\">\n<head>\n<meta "
	      "charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, "
	      "initial-scale=1\">\n<title>",
	      out);
	fputs("Báo cáo giải quyết thủ tục hành chính – ", out);
	html_text(out, h->period);
	fprintf(out, "</title>\n<style>%s</style>\n</head>\n<body>\n<header>\n",
		page_css);
	fputs("<h1>Báo cáo kết quả giải quyết thủ tục hành chính</h1>\n<p "
	      "class=\"en\">One-stop"
	      " administrative procedures: compliance report</p>\n",
	      out);
	page_meta(h, res);
	PQclear(res);
	return 0;
}

/* ---- the on-time trend ---- */

enum trend_col { T_MONTH, T_UNITS, T_RESOLVED, T_ONTIME, T_LEGAL, T_MASKED };

/*
 * Province-level rates from the counts summed over the units in scope
 * (never an average of rates), rounded as rules.md rounds every rate.
 */
static const char trend_sql[] =
    "WITH p (label, kind, start, ord) AS ("
    "  SELECT to_char(m, 'YYYY-MM'), 'month', m::date, 0"
    "  FROM generate_series($2::date,"
    "       $2::date + $3::interval - interval '1 day',"
    "       interval '1 month') AS m"
    "  UNION ALL SELECT 'all', $1::text, $2::date, 1)"
    " SELECT p.label, count(k.unit_code), coalesce(sum(k.resolved), 0),"
    " round(100.0 * sum(k.resolved_early + k.resolved_on_time)"
    "       / nullif(sum(k.resolved), 0), 2),"
    " round(100.0 * sum(k.resolved - k.resolved_late_legal"
    "                   - k.resolved_unknown_legal)"
    "       / nullif(sum(k.resolved - k.resolved_unknown_legal), 0), 2),"
    " coalesce(sum(k.masked_late), 0)"
    " FROM p LEFT JOIN mart.unit_kpi k"
    " ON k.period_kind = p.kind AND k.period_start = p.start"
    " AND ($4::text IS NULL OR k.unit_code = $4)"
    " GROUP BY p.label, p.ord, p.start ORDER BY p.ord, p.start";

static int load_trend(struct html *h)
{
	const char *span = !strcmp(h->kind, "year")	 ? "1 year"
			   : !strcmp(h->kind, "quarter") ? "3 months"
							 : "1 month";
	const char *params[] = {h->kind, h->start, span, h->req->unit};
	h->trend = html_query(h, trend_sql, 4, params);
	if (!h->trend)
		return -1;
	h->months = PQntuples(h->trend) - 1;
	return 0;
}

static void tile(FILE *out, const char *cls, const char *vi, const char *en,
		 const char *metric, const char *value, const char *suffix)
{
	struct fig_key all = {.month = "all"};
	fprintf(out, "<div class=\"tile%s\"><div class=\"v\">", cls);
	fig(out, metric, &all, value);
	fprintf(
	    out,
	    "%s</div><div class=\"k\">%s</div><p class=\"en\">%s</p></div>\n",
	    *value ? suffix : "", vi, en);
}

/* The whole period at a glance, from the trend's last row. */
static void page_tiles(struct html *h)
{
	int r = h->months;
	const char *masked = PQgetvalue(h->trend, r, T_MASKED);
	fputs("<div class=\"tiles\">\n", h->out);
	tile(h->out, "", "Hồ sơ đã giải quyết", "Dossiers resolved", "resolved",
	     PQgetvalue(h->trend, r, T_RESOLVED), "");
	tile(h->out, "", "Đúng hạn theo ngày hẹn trả",
	     "On time against the appointment (declared)", "ontime_rate",
	     PQgetvalue(h->trend, r, T_ONTIME), "%");
	tile(h->out, "", "Đúng hạn theo thời hạn luật định",
	     "On time against the legal due date", "ontime_rate_legal",
	     PQgetvalue(h->trend, r, T_LEGAL), "%");
	tile(h->out, strcmp(masked, "0") ? " alert" : "",
	     "Trễ hạn bị che (hẹn lại quá hạn luật)",
	     "Masked late: on time by the appointment, late by law",
	     "masked_late", masked, "");
	fputs("</div>\n</header>\n", h->out);
}

#define CH_W 1200
#define CH_L 56
#define CH_R 20
#define CH_TOP 26
#define CH_RATE 230
#define CH_GAP 46
#define CH_MASK 84
#define CH_AXIS 28

static double chart_x(int i, int months)
{
	return CH_L + (CH_W - CH_L - CH_R) * (i + 0.5) / months;
}

static double chart_y(const char *rate, int floor_pct)
{
	return CH_TOP + (100 - pct_of(rate)) * CH_RATE / (100 - floor_pct);
}

/* The rate axis starts at a multiple of 10 at least 5 points below the lowest
 * rate. */
static int rate_floor(PGresult *res, int months)
{
	double low = 100;
	for (int i = 0; i < months; i++)
		for (int c = T_ONTIME; c <= T_LEGAL; c++)
			if (*PQgetvalue(res, i, c) &&
			    strtod(PQgetvalue(res, i, c), NULL) < low)
				low = strtod(PQgetvalue(res, i, c), NULL);
	int f = (int)floor((low - 5) / 10) * 10;
	return f < 0 ? 0 : f > 90 ? 90 : f;
}

static void rate_grid(FILE *out, int floor_pct)
{
	int tick = 100 - floor_pct > 50 ? 20 : 10;
	for (int g = floor_pct; g <= 100; g += tick) {
		char pct[16];
		snprintf(pct, sizeof(pct), "%d", g);
		double y = chart_y(pct, floor_pct);
		fprintf(out,
			"<path class=\"grid\" d=\"M%d %.1fH%d\"/><text "
			"x=\"%d\" y=\"%.1f\""
			" text-anchor=\"end\">%d%%</text>\n",
			CH_L, y, CH_W - CH_R, CH_L - 8, y + 4, g);
	}
	fprintf(out,
		"<text x=\"%d\" y=\"14\">Tỷ lệ đúng hạn (%%) <tspan "
		"font-style=\"italic\">"
		"/ on-time rate</tspan></text>\n",
		CH_L);
}

/* The band between the declared and the legal rate: what masked lateness hides.
 */
static void rate_gap(FILE *out, PGresult *res, int months, int floor_pct)
{
	for (int i = 0; i < months;) {
		int j = i;
		while (j < months && *PQgetvalue(res, j, T_ONTIME) &&
		       *PQgetvalue(res, j, T_LEGAL))
			j++;
		if (j - i >= 2) {
			fputs("<path class=\"gap\" d=\"", out);
			for (int k = i; k < j; k++)
				fprintf(out, "%c%.1f %.1f", k == i ? 'M' : 'L',
					chart_x(k, months),
					chart_y(PQgetvalue(res, k, T_ONTIME),
						floor_pct));
			for (int k = j - 1; k >= i; k--)
				fprintf(out, "L%.1f %.1f", chart_x(k, months),
					chart_y(PQgetvalue(res, k, T_LEGAL),
						floor_pct));
			fputs("Z\"/>\n", out);
		}
		i = j > i ? j : i + 1;
	}
}

static void rate_line(FILE *out, PGresult *res, int months, int col,
		      int floor_pct, const char *cls, const char *metric)
{
	bool pen = false;
	fprintf(out, "<path class=\"%s\" d=\"", cls);
	for (int i = 0; i < months; i++) {
		const char *v = PQgetvalue(res, i, col);
		if (*v)
			fprintf(out, "%c%.1f %.1f", pen ? 'L' : 'M',
				chart_x(i, months), chart_y(v, floor_pct));
		pen = *v;
	}
	fputs("\"/>\n", out);
	for (int i = 0; i < months; i++) {
		const char *v = PQgetvalue(res, i, col);
		if (!*v)
			continue;
		double x = chart_x(i, months), y = chart_y(v, floor_pct);
		/* declared above its point, legal below: legal is the lower one
		 * when they differ */
		double label_y = col == T_ONTIME ? y - 9 : y + 18;
		char attrs[96];
		snprintf(attrs, sizeof(attrs),
			 " class=\"v%s\" x=\"%.1f\" y=\"%.1f\" "
			 "text-anchor=\"middle\"",
			 cls, x, label_y);
		fprintf(
		    out,
		    "<circle class=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\"/>",
		    cls, x, y);
		struct fig_key k = {.month = PQgetvalue(res, i, T_MONTH)};
		fig_tag(out, "text", attrs, metric, &k, v);
		fputc('\n', out);
	}
}

static void masked_bars(FILE *out, PGresult *res, int months)
{
	double base = CH_TOP + CH_RATE + CH_GAP + CH_MASK, most = 0;
	double bar = fmin((CH_W - CH_L - CH_R) / (double)months * 0.5, 56);
	for (int i = 0; i < months; i++)
		if (strtod(PQgetvalue(res, i, T_MASKED), NULL) > most)
			most = strtod(PQgetvalue(res, i, T_MASKED), NULL);
	fprintf(out,
		"<text x=\"%d\" y=\"%d\">Trễ hạn bị che (hồ sơ) <tspan "
		"font-style=\"italic\">"
		"/ masked late (dossiers)</tspan></text>\n",
		CH_L, CH_TOP + CH_RATE + CH_GAP - 4);
	fprintf(out, "<path class=\"axis\" d=\"M%d %.1fH%d\"/>\n", CH_L, base,
		CH_W - CH_R);
	for (int i = 0; i < months; i++) {
		const char *n = PQgetvalue(res, i, T_MASKED);
		double x = chart_x(i, months);
		double height =
		    most > 0 ? strtod(n, NULL) / most * (CH_MASK - 22) : 0;
		char attrs[96];
		fprintf(out,
			"<rect class=\"masked\" x=\"%.1f\" y=\"%.1f\" "
			"width=\"%.1f\" height=\"%.1f\"/>",
			x - bar / 2, base - height, bar, height);
		snprintf(attrs, sizeof(attrs),
			 " class=\"vmasked\" x=\"%.1f\" y=\"%.1f\" "
			 "text-anchor=\"middle\"",
			 x, base - height - 5);
		struct fig_key k = {.month = PQgetvalue(res, i, T_MONTH)};
		fig_tag(out, "text", attrs, "masked_late", &k, n);
		const char *month = PQgetvalue(res, i, T_MONTH);
		fprintf(out,
			"<text x=\"%.1f\" y=\"%.1f\" "
			"text-anchor=\"middle\">%.2s/%.4s</text>\n",
			x, base + 18, month + 5, month);
	}
}

static void trend_chart(FILE *out, PGresult *res, int months)
{
	int floor_pct = rate_floor(res, months);
	fprintf(out,
		"<svg class=\"chart\" viewBox=\"0 0 %d %d\" role=\"img\" "
		"aria-label=\"on-time"
		" rate by month\">\n",
		CH_W, CH_TOP + CH_RATE + CH_GAP + CH_MASK + CH_AXIS);
	rate_grid(out, floor_pct);
	rate_gap(out, res, months, floor_pct);
	rate_line(out, res, months, T_ONTIME, floor_pct, "decl", "ontime_rate");
	rate_line(out, res, months, T_LEGAL, floor_pct, "legal",
		  "ontime_rate_legal");
	masked_bars(out, res, months);
	fputs("</svg>\n", out);
}

static void swatch(FILE *out, const char *cls, bool line, const char *vi,
		   const char *en)
{
	if (line)
		fprintf(out,
			"<span><svg width=\"26\" height=\"10\"><path "
			"class=\"%s\" d=\"M1 5H25\""
			" style=\"stroke-width:3\"/></svg>",
			cls);
	else
		fprintf(out,
			"<span><svg width=\"14\" height=\"12\"><rect "
			"class=\"%s\" width=\"14\""
			" height=\"12\"/></svg>",
			cls);
	fprintf(out, "%s <i>/ %s</i></span>", vi, en);
}

static void trend_row(FILE *out, PGresult *res, int columns, int col,
		      const char *metric, const char *vi, const char *en)
{
	fprintf(out, "<tr><th>%s<br><i>%s</i></th>", vi, en);
	for (int i = 0; i < columns; i++) {
		const char *v = PQgetvalue(res, i, col);
		bool hot = col == T_MASKED && strcmp(v, "0");
		fprintf(out, "<td%s>", hot ? " class=\"hot\"" : "");
		struct fig_key k = {.month = PQgetvalue(res, i, T_MONTH)};
		fig(out, metric, &k, v);
		fputs("</td>", out);
	}
	fputs("</tr>\n", out);
}

static void trend_table(FILE *out, PGresult *res, int months, bool whole)
{
	int columns = months + whole;
	fputs("<table class=\"trend\"><thead><tr><th>Tháng <i>/ month</i></th>",
	      out);
	for (int i = 0; i < months; i++) {
		const char *m = PQgetvalue(res, i, T_MONTH);
		fprintf(out, "<th>%.2s/%.4s</th>", m + 5, m);
	}
	if (whole)
		fputs("<th>Cả kỳ<br><i>period</i></th>", out);
	fputs("</tr></thead><tbody>\n", out);
	trend_row(out, res, columns, T_RESOLVED, "resolved",
		  "Hồ sơ đã giải quyết", "resolved");
	trend_row(out, res, columns, T_ONTIME, "ontime_rate",
		  "Đúng hạn theo ngày hẹn (%)", "on time, declared");
	trend_row(out, res, columns, T_LEGAL, "ontime_rate_legal",
		  "Đúng hạn theo luật định (%)", "on time, legal");
	trend_row(out, res, columns, T_MASKED, "masked_late", "Trễ hạn bị che",
		  "masked late");
	fputs("</tbody></table>\n", out);
}

static void section_trend(struct html *h)
{
	FILE *out = h->out;
	heading(out, "trend", "2. Xu hướng giải quyết đúng hạn theo tháng",
		"On-time processing by month, against the appointment the "
		"software shows"
		" (declared) and against the legal due date counted in working "
		"days (legal);"
		" all units in scope, rates computed from the summed counts");
	bool any = false;
	for (int i = 0; i < h->months; i++)
		any |= strcmp(PQgetvalue(h->trend, i, T_UNITS), "0") != 0;
	if (!any) {
		no_data(out);
		fputs("</section>\n", out);
		return;
	}
	fputs("<div class=\"legend\">", out);
	swatch(out, "decl", true, "Đúng hạn theo ngày hẹn trả",
	       "on time against the appointment");
	swatch(out, "legal", true, "Đúng hạn theo thời hạn luật định",
	       "on time against the legal due date");
	swatch(out, "masked", false, "Trễ hạn bị che", "masked late");
	fputs("</div>\n", out);
	trend_chart(out, h->trend, h->months);
	trend_table(out, h->trend, h->months, strcmp(h->kind, "month") != 0);
	fputs("</section>\n", out);
}

/* ---- the scorecard: per profile, units ranked, criteria as bars ---- */

enum crit_col { K_PROFILE, K_CRITERION, K_LABEL, K_METRIC, K_TARGET, K_MAX };

static const char criteria_sql[] =
    "SELECT DISTINCT ON (profile, criterion) profile, criterion, label,"
    " metric, target::text, max_points::text"
    " FROM mart.compliance_score"
    " WHERE period_kind = $1 AND period_start = $2::date"
    " AND ($3::text IS NULL OR profile = $3)"
    " AND ($4::text IS NULL OR unit_code = $4)"
    " ORDER BY profile, criterion, unit_code";

static void criterion_header(FILE *out, PGresult *crit, int c)
{
	struct fig_key k = {.profile = PQgetvalue(crit, c, K_PROFILE),
			    .criterion = PQgetvalue(crit, c, K_CRITERION)};
	fputs("<th class=\"crit\"><div class=\"sub\">Tiêu chí <i>/ "
	      "criterion</i> ",
	      out);
	html_text(out, k.criterion);
	fputs("</div><div class=\"lbl\">", out);
	html_text(out, PQgetvalue(crit, c, K_LABEL));
	fputs("</div><div class=\"sub\"><code>", out);
	html_text(out, PQgetvalue(crit, c, K_METRIC));
	fputs("</code> · chỉ tiêu <i>target</i> ≥ ", out);
	fig(out, "target", &k, PQgetvalue(crit, c, K_TARGET));
	fputs("% · tối đa <i>max</i> ", out);
	fig(out, "max_points", &k, PQgetvalue(crit, c, K_MAX));
	fputs(" điểm</div></th>", out);
}

/* The unit's row for a criterion, or -1. */
static int find_criterion(PGresult *res, const struct unit_rows *unit,
			  const char *criterion)
{
	for (int r = unit->first; r < unit->end; r++)
		if (!strcmp(cell(res, r, C_CRITERION), criterion))
			return r;
	return -1;
}

static void criterion_cell(FILE *out, PGresult *res, int r,
			   const struct fig_key *unit_key,
			   const char *criterion)
{
	struct fig_key k = *unit_key;
	k.criterion = criterion;
	if (r < 0) {
		fputs("<td class=\"c na\">—</td>", out);
		return;
	}
	const char *met = cell(res, r, C_MET);
	const char *cls = !strcmp(met, "yes")  ? "met"
			  : !strcmp(met, "no") ? "miss"
					       : "na";
	fprintf(out,
		"<td class=\"c %s\"><div class=\"cv\"><span "
		"class=\"mark\">%s</span> ",
		cls,
		!strcmp(cls, "met")    ? "✓"
		: !strcmp(cls, "miss") ? "✗"
				       : "");
	fig(out, "value", &k, cell(res, r, C_VALUE));
	fputs(*cell(res, r, C_VALUE) ? "%</div>" : "</div>", out);
	html_bar(out, cell(res, r, C_VALUE), cell(res, r, C_TARGET), cls);
	fputs("<div class=\"pts\">", out);
	fig(out, "points", &k, cell(res, r, C_POINTS));
	fputs("/", out);
	fig(out, "max_points", &k, cell(res, r, C_MAX));
	fputs(!strcmp(cls, "na") ? " điểm · không áp dụng <i>n/a</i></div></td>"
				 : " điểm</div></td>",
	      out);
}

static void total_cell(FILE *out, PGresult *res, int r, const struct fig_key *k)
{
	fputs("<td class=\"total\"><div class=\"tv\">", out);
	fig(out, "score_pct", k, cell(res, r, C_T_PCT));
	fputs(*cell(res, r, C_T_PCT) ? "%</div>" : "</div>", out);
	html_bar(out, cell(res, r, C_T_PCT), NULL, "score");
	fputs("<div class=\"pts\">", out);
	fig(out, "total_points", k, cell(res, r, C_T_POINTS));
	fputs("/", out);
	fig(out, "total_max_points", k, cell(res, r, C_T_MAX));
	fputs(" điểm · ", out);
	fig(out, "criteria_met", k, cell(res, r, C_T_MET));
	fputs("/", out);
	fig(out, "criteria_applicable", k, cell(res, r, C_T_APPL));
	fputs(" đạt <i>met</i></div></td>", out);
}

static void unit_row(FILE *out, PGresult *res, const struct unit_rows *unit,
		     PGresult *crit, int cfirst, int cend)
{
	int r = unit->first;
	struct fig_key k = {.profile = cell(res, r, C_PROFILE),
			    .unit = cell(res, r, C_UNIT)};
	char rank[16];
	snprintf(rank, sizeof(rank), unit->rank ? "%d" : "", unit->rank);
	fputs("<tr><td class=\"rank\">", out);
	fig(out, "rank", &k, rank);
	fputs("</td><td class=\"unit\"><div class=\"uname\">", out);
	html_text(out, *cell(res, r, C_NAME) ? cell(res, r, C_NAME) : "—");
	fputs("</div><code>", out);
	html_text(out, k.unit);
	fputs("</code></td>", out);
	total_cell(out, res, r, &k);
	for (int c = cfirst; c < cend; c++) {
		const char *criterion = PQgetvalue(crit, c, K_CRITERION);
		criterion_cell(out, res, find_criterion(res, unit, criterion),
			       &k, criterion);
	}
	fputs("</tr>\n", out);
}

static void score_profile(FILE *out, PGresult *res, int first, int end,
			  PGresult *crit)
{
	const char *profile = cell(res, first, C_PROFILE);
	int cfirst = 0, cend, ncrit = PQntuples(crit);
	while (cfirst < ncrit &&
	       strcmp(PQgetvalue(crit, cfirst, K_PROFILE), profile))
		cfirst++;
	for (cend = cfirst;
	     cend < ncrit &&
	     !strcmp(PQgetvalue(crit, cend, K_PROFILE), profile);)
		cend++;
	int n;
	struct unit_rows *units = split_units(res, first, end, &n);
	fputs("<h3>Bộ tiêu chí <i>/ profile</i> <code>", out);
	html_text(out, profile);
	fputs("</code></h3>\n<table class=\"score\"><thead><tr><th "
	      "class=\"rank\">Hạng<br><i>rank</i>"
	      "</th><th>Đơn vị<br><i>unit</i></th><th>Tổng điểm<br><i>total "
	      "score</i></th>",
	      out);
	for (int c = cfirst; c < cend; c++)
		criterion_header(out, crit, c);
	fputs("</tr></thead><tbody>\n", out);
	for (int i = 0; i < n; i++)
		unit_row(out, res, &units[i], crit, cfirst, cend);
	fputs("</tbody></table>\n", out);
	free(units);
}

static int section_scores(struct html *h)
{
	FILE *out = h->out;
	const char *params[] = {h->kind, h->start, h->req->profile,
				h->req->unit};
	PGresult *res = html_query(h, score_sql, 4, params);
	PGresult *crit = res ? html_query(h, criteria_sql, 4, params) : NULL;
	if (!crit) {
		PQclear(res);
		return -1;
	}
	heading(out, "scores", "1. Bảng điểm tuân thủ theo đơn vị",
		"Compliance scorecard: units ranked by score; each criterion's "
		"value against its"
		" target, and the points it earns (Decision 766/QĐ-TTg "
		"conversion)");
	fputs("<div class=\"legend\">", out);
	swatch(out, "met", false, "✓ đạt chỉ tiêu", "target met");
	swatch(out, "miss", false, "✗ chưa đạt", "not met");
	fputs("<span><svg width=\"10\" height=\"14\"><path class=\"target\" "
	      "d=\"M5 0V14\"/></svg>"
	      "chỉ tiêu <i>/ target</i></span><span>— không áp dụng (không có "
	      "số liệu) <i>/ not"
	      " applicable: no data</i></span></div>\n",
	      out);
	if (PQntuples(res) == 0)
		no_data(out);
	for (int first = 0, end; first < PQntuples(res); first = end) {
		end = profile_end(res, first);
		score_profile(out, res, first, end, crit);
	}
	fputs("</section>\n", out);
	PQclear(crit);
	PQclear(res);
	return 0;
}

/* ---- online level of the catalogue ---- */

enum level_col {
	L_UNIT,
	L_NAME,
	L_TOTAL,
	L_COUNT2,
	L_COUNT3,
	L_COUNT4,
	L_PCT2,
	L_PCT3,
	L_PCT4
};

/*
 * Per unit as stored; the first row (unit_code '') sums the units in
 * scope and computes its shares from the sums.
 */
static const char level_sql[] =
    "SELECT coalesce(k.unit_code, ''), coalesce(max(k.unit_name), ''),"
    " sum(k.procedures_total), sum(k.procedures_level2plus),"
    " sum(k.procedures_level3plus), sum(k.procedures_level4),"
    " CASE WHEN grouping(k.unit_code) = 0 THEN max(k.pct_level2plus)"
    "  ELSE round(100.0 * sum(k.procedures_level2plus)"
    "             / nullif(sum(k.procedures_total), 0), 2) END,"
    " CASE WHEN grouping(k.unit_code) = 0 THEN max(k.pct_level3plus)"
    "  ELSE round(100.0 * sum(k.procedures_level3plus)"
    "             / nullif(sum(k.procedures_total), 0), 2) END,"
    " CASE WHEN grouping(k.unit_code) = 0 THEN max(k.pct_level4)"
    "  ELSE round(100.0 * sum(k.procedures_level4)"
    "             / nullif(sum(k.procedures_total), 0), 2) END"
    " FROM mart.unit_kpi k"
    " WHERE k.period_kind = $1 AND k.period_start = $2::date"
    " AND ($3::text IS NULL OR k.unit_code = $3)"
    " GROUP BY GROUPING SETS ((), (k.unit_code)) HAVING count(*) > 0"
    " ORDER BY grouping(k.unit_code) DESC, k.unit_code";

/* The plan's targets: Kế hoạch 49's profile first, else any profile scoring the
 * share. */
static const char level_target_sql[] =
    "SELECT DISTINCT ON (metric) metric, target::text, profile"
    " FROM mart.compliance_score"
    " WHERE period_kind = $1 AND period_start = $2::date"
    " AND metric IN ('pct_level2plus', 'pct_level3plus', 'pct_level4')"
    " ORDER BY metric, profile <> 'kh49-2021', profile";

static const char *const level_metrics[] = {"pct_level2plus", "pct_level3plus",
					    "pct_level4"};
static const char *const level_counts[] = {
    "procedures_level2plus", "procedures_level3plus", "procedures_level4"};

/* The target of a metric and the profile it comes from ("" when none). */
static const char *level_target(PGresult *targets, const char *metric,
				const char **profile)
{
	for (int r = 0; r < PQntuples(targets); r++)
		if (!strcmp(PQgetvalue(targets, r, 0), metric)) {
			*profile = PQgetvalue(targets, r, 2);
			return PQgetvalue(targets, r, 1);
		}
	*profile = "";
	return "";
}

static void level_header(FILE *out, PGresult *targets, int i, const char *vi,
			 const char *en)
{
	const char *profile,
	    *target = level_target(targets, level_metrics[i], &profile);
	fprintf(out, "<th>%s<br><i>%s</i>", vi, en);
	if (*target) {
		struct fig_key k = {.profile = profile,
				    .criterion = level_metrics[i]};
		fputs("<br>chỉ tiêu <i>target</i> ≥ ", out);
		fig(out, "level_target", &k, target);
		fputs("% (<code>", out);
		html_text(out, profile);
		fputs("</code>)", out);
	}
	fputs("</th>", out);
}

static void level_row(FILE *out, PGresult *res, int r, PGresult *targets)
{
	const char *code = PQgetvalue(res, r, L_UNIT);
	struct fig_key k = {.unit = *code ? code : "all"};
	fputs("<tr><td>", out);
	if (*code) {
		fputs("<div class=\"uname\">", out);
		html_text(out, *PQgetvalue(res, r, L_NAME)
				   ? PQgetvalue(res, r, L_NAME)
				   : "—");
		fputs("</div><code>", out);
		html_text(out, code);
		fputs("</code>", out);
	} else {
		fputs("<div class=\"uname\">Tất cả đơn vị</div><i>all units in "
		      "scope</i>",
		      out);
	}
	fputs("</td><td class=\"num\">", out);
	fig(out, "procedures_total", &k, PQgetvalue(res, r, L_TOTAL));
	fputs("</td>", out);
	for (int i = 0; i < 3; i++) {
		const char *profile,
		    *target = level_target(targets, level_metrics[i], &profile);
		const char *pct = PQgetvalue(res, r, L_PCT2 + i);
		const char *cls = !*target		 ? "score"
				  : reaches(pct, target) ? "met"
							 : "miss";
		fprintf(out, "<td class=\"c %s\"><div class=\"cv\">", cls);
		fig(out, level_metrics[i], &k, pct);
		fputs(*pct ? "%</div>" : "</div>", out);
		html_bar(out, pct, target, cls);
		fputs("<div class=\"pts\">", out);
		fig(out, level_counts[i], &k, PQgetvalue(res, r, L_COUNT2 + i));
		fputs(" TTHC <i>procedures</i></div></td>", out);
	}
	fputs("</tr>\n", out);
}

static int section_levels(struct html *h)
{
	FILE *out = h->out;
	const char *params[] = {h->kind, h->start, h->req->unit};
	PGresult *res = html_query(h, level_sql, 3, params);
	PGresult *targets =
	    res ? html_query(h, level_target_sql, 2, params) : NULL;
	if (!targets) {
		PQclear(res);
		return -1;
	}
	heading(out, "levels",
		"3. Mức độ dịch vụ công trực tuyến của danh mục TTHC",
		"Online level of the procedure catalogue in force at the end "
		"of the period: shares"
		" at level 2 or more, 3 or more, and 4, against the plan's "
		"targets");
	if (PQntuples(res) == 0)
		no_data(out);
	else {
		fputs("<table class=\"levels\"><thead><tr><th>Đơn "
		      "vị<br><i>unit</i></th><th class=\"num\">"
		      "Số TTHC<br><i>procedures</i></th>",
		      out);
		level_header(out, targets, 0, "Mức độ 2 trở lên",
			     "level 2 or more");
		level_header(out, targets, 1, "Mức độ 3 trở lên",
			     "level 3 or more");
		level_header(out, targets, 2, "Mức độ 4 (toàn trình)",
			     "level 4, end to end");
		fputs("</tr></thead><tbody>\n", out);
		/* with --unit, the sum of the units in scope is that unit's row
		 * again */
		for (int r = h->req->unit ? 1 : 0; r < PQntuples(res); r++)
			level_row(out, res, r, targets);
		fputs("</tbody></table>\n", out);
	}
	fputs("</section>\n", out);
	PQclear(targets);
	PQclear(res);
	return 0;
}

/* ---- the departments with the most late steps ---- */

enum delay_col { D_UNIT, D_NAME, D_DEPARTMENT, D_STEPS, D_LATE, D_RATE };

static const char delay_sql[] =
    "SELECT d.unit_code, coalesce(u.unit_name, ''), d.department, d.steps,"
    " d.steps_late, coalesce(d.late_rate::text, '')"
    " FROM mart.step_delay d LEFT JOIN mart.unit u USING (unit_code)"
    " WHERE d.period_kind = $1 AND d.period_start = $2::date"
    " AND d.steps_late > 0 AND ($3::text IS NULL OR d.unit_code = $3)"
    " ORDER BY d.steps_late DESC, d.late_rate DESC, d.unit_code,"
    " d.department LIMIT 10";

static void delay_row(FILE *out, PGresult *res, int r, double most)
{
	struct fig_key k = {.unit = PQgetvalue(res, r, D_UNIT),
			    .department = PQgetvalue(res, r, D_DEPARTMENT)};
	double late = strtod(PQgetvalue(res, r, D_LATE), NULL);
	fprintf(out, "<tr><td class=\"num\">%d</td><td><div class=\"uname\">",
		r + 1);
	html_text(out, k.department);
	fputs("</div></td><td><div>", out);
	html_text(out, *PQgetvalue(res, r, D_NAME) ? PQgetvalue(res, r, D_NAME)
						   : "—");
	fputs("</div><code>", out);
	html_text(out, k.unit);
	fputs("</code></td><td class=\"c\"><div class=\"cv\">", out);
	fig(out, "steps_late", &k, PQgetvalue(res, r, D_LATE));
	fprintf(out,
		"</div><svg class=\"bar\" viewBox=\"0 0 %d 14\" width=\"%d\" "
		"height=\"14\""
		" aria-hidden=\"true\"><rect class=\"late\" x=\"1\" y=\"3\" "
		"width=\"%.1f\""
		" height=\"8\"/></svg></td><td class=\"num\">",
		BAR_W + 2, BAR_W + 2, most > 0 ? late / most * BAR_W : 0);
	fig(out, "steps", &k, PQgetvalue(res, r, D_STEPS));
	fputs("</td><td class=\"num\">", out);
	fig(out, "late_rate", &k, PQgetvalue(res, r, D_RATE));
	fputs("%</td></tr>\n", out);
}

static int section_delays(struct html *h)
{
	FILE *out = h->out;
	const char *params[] = {h->kind, h->start, h->req->unit};
	PGresult *res = html_query(h, delay_sql, 3, params);
	if (!res)
		return -1;
	heading(out, "delays",
		"4. Các phòng ban có nhiều bước xử lý trễ hạn nhất",
		"Departments with the most late processing steps (a step done "
		"after its own deadline),"
		" top 10 in the period");
	if (PQntuples(res) == 0)
		no_data(out);
	else {
		fputs("<table class=\"delays\"><thead><tr><th "
		      "class=\"num\">#</th><th>Phòng ban<br>"
		      "<i>department</i></th><th>Đơn "
		      "vị<br><i>unit</i></th><th>Bước trễ hạn<br>"
		      "<i>late steps</i></th><th class=\"num\">Số bước có "
		      "hạn<br><i>steps with a"
		      " deadline</i></th><th class=\"num\">Tỷ lệ "
		      "trễ<br><i>late rate</i></th></tr>"
		      "</thead><tbody>\n",
		      out);
		double most = strtod(PQgetvalue(res, 0, D_LATE), NULL);
		for (int r = 0; r < PQntuples(res); r++)
			delay_row(out, res, r, most);
		fputs("</tbody></table>\n", out);
	}
	fputs("</section>\n", out);
	PQclear(res);
	return 0;
}

static void page_end(FILE *out)
{
	fputs("<footer>\n<p>Nguồn: kho dữ liệu onestop-etl, lược đồ "
	      "<code>mart</code>; mọi số liệu"
	      " trên trang lấy từ kho. <i>Source: the onestop-etl warehouse, "
	      "schema mart; every"
	      " figure on this page comes from it.</i></p>\n"
	      "<p>Đúng hạn theo ngày hẹn: so với ngày hẹn trả phần mềm đang "
	      "ghi. Đúng hạn theo luật"
	      " định: so với thời hạn giải quyết tính bằng ngày làm việc từ "
	      "ngày tiếp nhận, cộng"
	      " thời gian bổ sung hồ sơ. Trễ hạn bị che: đúng hạn theo ngày "
	      "hẹn nhưng trễ theo luật"
	      " định. <i>Declared: against the appointment the software shows; "
	      "legal: against the"
	      " legal due date in working days; masked late: on time by the "
	      "appointment, late by"
	      " law.</i></p>\n</footer>\n</body>\n</html>\n",
	      out);
}

static int write_page(struct html *h)
{
	if (page_start(h) < 0 || load_trend(h) < 0)
		return -1;
	page_tiles(h);
	if (section_scores(h) < 0)
		return -1;
	section_trend(h);
	if (section_levels(h) < 0 || section_delays(h) < 0)
		return -1;
	page_end(h->out);
	return 0;
}

/* ---- the file: a temporary next to the target, renamed over it at the end
 * ---- */

static FILE *open_temp(const char *path, char **tmp)
{
	*tmp = xasprintf("%s.tmp-XXXXXX", path);
	int fd = mkstemp(*tmp);
	if (fd < 0) {
		error("cannot write '%s': %s", path, strerror(errno));
		return NULL;
	}
	/* mkstemp makes it 0600; a report is as readable as any new file */
	mode_t mask = umask(0);
	umask(mask);
	FILE *f = fdopen(fd, "w");
	if (fchmod(fd, 0666 & ~mask) < 0 || !f) {
		error("cannot write '%s': %s", *tmp, strerror(errno));
		if (f)
			fclose(f);
		else
			close(fd);
		unlink(*tmp);
		return NULL;
	}
	return f;
}

static int close_temp(FILE *f, const char *tmp, const char *path, int rc)
{
	if (rc == 0 && (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) < 0)) {
		error("cannot write '%s': %s", tmp, strerror(errno));
		rc = REPORT_CANNOT_WRITE;
	}
	if (fclose(f) != 0 && rc == 0) {
		error("cannot write '%s': %s", tmp, strerror(errno));
		rc = REPORT_CANNOT_WRITE;
	}
	if (rc == 0 && rename(tmp, path) < 0) {
		error("cannot rename '%s' to '%s': %s", tmp, path,
		      strerror(errno));
		rc = REPORT_CANNOT_WRITE;
	}
	if (rc < 0)
		unlink(tmp);
	return rc;
}

int report_html(PGconn *conn, const struct score_request *req, const char *path)
{
	char year[16];
	struct html h = {
	    .conn = conn, .req = req, .period = request_period(req, year)};
	if (report_parse_period(h.period, h.kind, h.start) < 0)
		return error("bad period '%s'", h.period);
	buf_init(&h.err, ERR_CAP);
	/* one snapshot: a run that commits meanwhile cannot make the sections
	 * disagree */
	if (utf8_session(conn, &h.err) < 0 ||
	    pg_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0,
		    NULL, &h.err) < 0) {
		log_error(NULL, NULL, "%s", buf_str(&h.err));
		buf_release(&h.err);
		return -1;
	}
	char *tmp = NULL;
	int rc = REPORT_CANNOT_WRITE;
	h.out = open_temp(path, &tmp);
	if (h.out) {
		rc = write_page(&h);
		rc = close_temp(h.out, tmp, path, rc);
	}
	PQclear(h.trend);
	pg_exec(conn, "COMMIT", 0, NULL, &h.err);
	buf_release(&h.err);
	free(tmp);
	return rc;
}
