/*
 * score.c - the scorecard: the scope (period, profile and unit names)
 * that score and report share, the scorecard query and its ranking, and
 * its terminal table, CSV and JSON.  The HTML page is page.c.
 */
#include "score.h"
#include "buf.h"
#include "civil.h"
#include "config.h"
#include "log.h"
#include "pgload.h"
#include "term.h"
#include "util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TABLE_WIDTH 100 /* issue 6: score tables fit 100 columns */

int score_parse_period(const char *period, char kind[8], char start[11])
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

const char *score_period(const struct score_request *req, char year[16])
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

/* The columns s takes once shown. */
static int shown_width(const char *s)
{
	struct buf b;
	int w = text_width(term_shown(&b, s));
	buf_release(&b);
	return w;
}

/* Print s left-aligned in width columns, cut with '…' when too long. */
static void print_cell(FILE *out, const char *raw, int width)
{
	struct buf b;
	const char *s = term_shown(&b, raw);
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
	const char *s = term_shown(&b, raw);
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

/* ---- the scorecard query, shared with the page (page.c) ---- */

#define SCORE_SQL(totals, scores)                                              \
	"SELECT t.unit_code, coalesce(u.unit_name, ''), t.profile,"            \
	" s.criterion, s.label, s.metric, coalesce(s.value::text, ''),"        \
	" s.target::text, CASE s.met WHEN true THEN 'yes'"                     \
	" WHEN false THEN 'no' ELSE 'n/a' END,"                                \
	" coalesce(s.points::text, ''), s.max_points::text, t.points::text,"   \
	" t.max_points::text, coalesce(t.score_pct::text, ''),"                \
	" t.criteria_met, t.criteria_applicable"                               \
	" FROM " totals " t"                                                   \
	" JOIN " scores " s"                                                   \
	" USING (unit_code, period_kind, period_start, profile)"               \
	" LEFT JOIN mart.unit u USING (unit_code)"                             \
	" WHERE t.period_kind = $1 AND t.period_start = $2::date"              \
	" AND ($3::text IS NULL OR t.profile = $3)"                            \
	" AND ($4::text IS NULL OR t.unit_code = $4)"                          \
	" ORDER BY t.profile, t.score_pct DESC NULLS LAST, t.unit_code,"       \
	" s.criterion"

const char score_sql[] =
    SCORE_SQL("mart.compliance_total", "mart.compliance_score");

/* by current unit: scored as asked (sql/code/scores.sql) */
const char score_current_sql[] =
    SCORE_SQL("dw.compliance_total_current($1, $2::date)",
	      "dw.compliance_score_current($1, $2::date)");

const char *score_cell(PGresult *res, int row, enum score_col c)
{
	return PQgetvalue(res, row, (int)c);
}

int score_profile_end(PGresult *res, int r)
{
	int n = PQntuples(res);
	const char *profile = score_cell(res, r, C_PROFILE);
	while (r < n && !strcmp(score_cell(res, r, C_PROFILE), profile))
		r++;
	return r;
}

struct score_unit *score_split_units(PGresult *res, int first, int end,
				     int *count)
{
	struct score_unit *units =
	    xcalloc((size_t)(end - first), sizeof(*units));
	int n = 0;
	for (int r = first; r < end; r++) {
		if (n && !strcmp(score_cell(res, r, C_UNIT),
				 score_cell(res, units[n - 1].first, C_UNIT))) {
			units[n - 1].end = r + 1;
			continue;
		}
		const char *pct = score_cell(res, r, C_T_PCT);
		units[n] = (struct score_unit){r, r + 1, 0};
		if (*pct)
			units[n].rank =
			    n && !strcmp(pct,
					 score_cell(res, units[n - 1].first,
						    C_T_PCT))
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
	return text_width(score_cell(res, r, C_T_POINTS)) + 1 +
	       text_width(score_cell(res, r, C_T_MAX));
}

static int points_width(PGresult *res, int r)
{
	const char *p = score_cell(res, r, C_POINTS);
	return (*p ? text_width(p) : 1) + 1 +
	       text_width(score_cell(res, r, C_MAX));
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
		const char *v = score_cell(res, r, C_VALUE);
		w->code =
		    max_int(w->code, shown_width(score_cell(res, r, C_UNIT)));
		w->points = max_int(w->points, total_points_width(res, r));
		w->met = max_int(w->met,
				 text_width(score_cell(res, r, C_T_MET)) + 1 +
				     text_width(score_cell(res, r, C_T_APPL)));
		w->crit = max_int(w->crit,
				  shown_width(score_cell(res, r, C_CRITERION)));
		w->metric = max_int(w->metric,
				    shown_width(score_cell(res, r, C_METRIC)));
		w->value = max_int(w->value, *v ? text_width(v) : 1);
		w->target = max_int(w->target,
				    text_width(score_cell(res, r, C_TARGET)));
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

static void print_ranking(PGresult *res, const struct score_unit *units, int n,
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
			 *score_cell(res, r, C_T_PCT) ? "%s%%" : "-",
			 score_cell(res, r, C_T_PCT));
		snprintf(points, sizeof(points), "%s/%s",
			 score_cell(res, r, C_T_POINTS),
			 score_cell(res, r, C_T_MAX));
		snprintf(met, sizeof(met), "%s/%s", score_cell(res, r, C_T_MET),
			 score_cell(res, r, C_T_APPL));
		fprintf(out, "%4s  ", rank);
		print_cell(out, score_cell(res, r, C_UNIT), w->code);
		fputs("  ", out);
		print_cell(out,
			   *score_cell(res, r, C_NAME)
			       ? score_cell(res, r, C_NAME)
			       : "-",
			   w->name);
		fprintf(out, "  %7s  %*s  %*s\n", pct, w->points, points,
			w->met, met);
	}
}

static void print_unit_heading(PGresult *res, const struct score_unit *unit,
			       FILE *out)
{
	int r = unit->first;
	char lead[64], pct[32];
	snprintf(lead, sizeof(lead), unit->rank ? "%d. " : "-. ", unit->rank);
	snprintf(pct, sizeof(pct),
		 *score_cell(res, r, C_T_PCT) ? "  %s%%" : "  -",
		 score_cell(res, r, C_T_PCT));
	struct buf b;
	const char *code = term_shown(&b, score_cell(res, r, C_UNIT));
	const char *name = score_cell(res, r, C_NAME);
	int room = TABLE_WIDTH - text_width(lead) - text_width(code) - 2 -
		   text_width(pct);
	fprintf(out, "\n%s%s  ", lead, code);
	print_cell(out, *name ? name : "-", max_int(room, 10));
	fprintf(out, "%s\n", pct);
	buf_release(&b);
}

static void print_criteria(PGresult *res, const struct score_unit *unit,
			   const struct widths *w, FILE *out)
{
	fputs("  ", out);
	print_cell(out, "crit", w->crit);
	fputs("  ", out);
	print_cell(out, "metric", w->metric);
	fprintf(out, "  %*s  %*s  met  %*s  label\n", w->value, "value",
		w->target, "target", w->crit_points, "points");
	for (int r = unit->first; r < unit->end; r++) {
		const char *v = score_cell(res, r, C_VALUE),
			   *p = score_cell(res, r, C_POINTS);
		char points[64];
		snprintf(points, sizeof(points), "%s/%s", *p ? p : "-",
			 score_cell(res, r, C_MAX));
		fputs("  ", out);
		print_cell(out, score_cell(res, r, C_CRITERION), w->crit);
		fputs("  ", out);
		print_cell(out, score_cell(res, r, C_METRIC), w->metric);
		fprintf(out, "  %*s  %*s  ", w->value, *v ? v : "-", w->target,
			score_cell(res, r, C_TARGET));
		print_cell(out, score_cell(res, r, C_MET), 3);
		fprintf(out, "  %*s  ", w->crit_points, points);
		print_label(out, score_cell(res, r, C_LABEL), w->label);
		fputc('\n', out);
	}
}

static const char *const qd766_notes[] = {
    "QĐ 766 (100 điểm): dữ liệu một cửa cho tiến độ 20, trực tuyến toàn trình "
    "12,"
    " thanh toán 10;",
    "  không cho công khai, minh bạch 18, số hóa hồ sơ 22, mức độ hài lòng 18"
    " (58 điểm).",
    "Decision 766 (100 points): one-stop data feeds progress 20, end-to-end "
    "online 12,"
    " payment 10;",
    "  not transparency 18, digitisation 22, satisfaction 18 (58 points): other"
    " systems hold them.",
    NULL,
};

const char *const *score_profile_notes(const char *profile)
{
	return strcmp(profile, "qd766") == 0 ? qd766_notes : NULL;
}

static void print_notes(const char *profile, FILE *out)
{
	const char *const *note = score_profile_notes(profile);
	if (!note)
		return;
	fputc('\n', out);
	for (; *note; note++)
		fprintf(out, "%s\n", *note);
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
		end = score_profile_end(res, first);
		int n;
		struct score_unit *units =
		    score_split_units(res, first, end, &n);
		struct widths w;
		measure(res, first, end, &w);
		struct buf profile;
		fprintf(out, "%sProfile %s · period %s · %d unit%s\n\n",
			first ? "\n\n" : "",
			term_shown(&profile, score_cell(res, first, C_PROFILE)),
			period, n, n == 1 ? "" : "s");
		buf_release(&profile);
		print_ranking(res, units, n, &w, out);
		for (int i = 0; i < n; i++) {
			print_unit_heading(res, &units[i], out);
			print_criteria(res, &units[i], &w, out);
		}
		print_notes(score_cell(res, first, C_PROFILE), out);
		free(units);
	}
}

/* ---- score --format csv and json ---- */

/*
 * The columns that hold text.  The others are PostgreSQL numbers and
 * flags: a negative value (-3.50) must stay a number in a spreadsheet,
 * and a number cannot carry a formula, so only text gets the "'" of
 * term_csv_cell.
 */
static bool csv_is_text(enum score_col c)
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
				term_csv_put(out, kind, true, false);
				term_csv_put(out, start, true, false);
			}
			const char *v = PQgetvalue(res, r, c);
			if (c == C_MET)
				v = met_flag(v, "t", "f", "");
			term_csv_put(out, v, csv_is_text((enum score_col)c),
				 c == C_T_APPL);
		}
	}
}

static void json_string(FILE *out, const char *s)
{
	struct buf b;
	buf_init(&b, term_escaped_cap(s));
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
	json_string(out, score_cell(res, r, C_UNIT));
	fprintf(out, ", \"unit_name\": ");
	json_string(out, score_cell(res, r, C_NAME));
	fprintf(out,
		", \"period_kind\": \"%s\", \"period_start\": \"%s\", "
		"\"profile\": ",
		kind, start);
	json_string(out, score_cell(res, r, C_PROFILE));
	fprintf(out, ", \"points\": %s, \"max_points\": %s, \"score_pct\": ",
		score_cell(res, r, C_T_POINTS), score_cell(res, r, C_T_MAX));
	json_number(out, score_cell(res, r, C_T_PCT));
	fprintf(out,
		", \"criteria_met\": %s, \"criteria_applicable\": %s, "
		"\"criteria\": [",
		score_cell(res, r, C_T_MET), score_cell(res, r, C_T_APPL));
}

static void json_criterion(PGresult *res, int r, FILE *out)
{
	fprintf(out, "\n  {\"criterion\": ");
	json_string(out, score_cell(res, r, C_CRITERION));
	fprintf(out, ", \"label\": ");
	json_string(out, score_cell(res, r, C_LABEL));
	fprintf(out, ", \"metric\": ");
	json_string(out, score_cell(res, r, C_METRIC));
	fprintf(out, ", \"value\": ");
	json_number(out, score_cell(res, r, C_VALUE));
	fprintf(out, ", \"target\": %s, \"met\": %s, \"points\": ",
		score_cell(res, r, C_TARGET),
		met_flag(score_cell(res, r, C_MET), "true", "false", "null"));
	json_number(out, score_cell(res, r, C_POINTS));
	fprintf(out, ", \"max_points\": %s}", score_cell(res, r, C_MAX));
}

static void print_json(PGresult *res, FILE *out, const char *kind,
		       const char *start)
{
	int n = PQntuples(res);
	fputc('[', out);
	for (int r = 0; r < n; r++) {
		bool first = r == 0 ||
			     strcmp(score_cell(res, r, C_UNIT),
				    score_cell(res, r - 1, C_UNIT)) ||
			     strcmp(score_cell(res, r, C_PROFILE),
				    score_cell(res, r - 1, C_PROFILE));
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

int score_utf8_session(PGconn *conn, struct buf *err)
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

/* by current unit, a code that ended names its current unit */
static const char ended_unit_sql[] =
    "SELECT current_code, to_char(ended_on, 'YYYY-MM-DD') FROM mart.unit"
    " WHERE unit_code = $1 AND current_code <> unit_code";

/* 1 when name ended (logged, naming its current unit), 0 when not. */
static int check_current(PGconn *conn, const char *name, struct buf *err)
{
	const char *params[] = {name};
	PGresult *res = pg_query(conn, ended_unit_sql, 1, params, err);
	if (!res)
		return -1;
	int ended = PQntuples(res) > 0;
	if (ended) {
		struct buf b, c;
		log_error(NULL, NULL,
			  "unit '%s' ended on %s; by current unit it is '%s'",
			  term_shown(&b, name), PQgetvalue(res, 0, 1),
			  term_shown(&c, PQgetvalue(res, 0, 0)));
		buf_release(&b);
		buf_release(&c);
	}
	PQclear(res);
	return ended;
}

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

int score_check_names(PGconn *conn, const struct score_request *req)
{
	struct buf err;
	buf_init(&err, ERR_CAP);
	int profile = 0, unit = 0;
	if (score_utf8_session(conn, &err) < 0 ||
	    (req->profile &&
	     (profile = check_name(conn, known_profiles_sql, "profile",
				   req->profile, &err)) < 0) ||
	    (req->unit && (unit = check_name(conn, known_units_sql, "unit",
					     req->unit, &err)) < 0) ||
	    (req->unit && !unit && req->current_units &&
	     (unit = check_current(conn, req->unit, &err)) < 0)) {
		log_error(NULL, NULL, "%s", buf_str(&err));
		buf_release(&err);
		return -1;
	}
	buf_release(&err);
	return profile + unit;
}

int score_print(PGconn *conn, const struct score_request *req, FILE *out)
{
	char kind[8], start[11], year[16];
	const char *period = score_period(req, year);
	if (score_parse_period(period, kind, start) < 0)
		return error("bad period '%s'", period);
	const char *params[] = {kind, start, req->profile, req->unit};
	struct buf err;
	buf_init(&err, ERR_CAP);
	PGresult *res = NULL;
	const char *sql = req->current_units ? score_current_sql : score_sql;
	if (score_utf8_session(conn, &err) == 0)
		res = pg_query(conn, sql, 4, params, &err);
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
