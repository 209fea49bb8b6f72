/*
 * page.c - the report as one self-contained HTML page: the sections and
 * their queries, the SVG charts and the temporary file renamed into place.
 * The scope and the scorecard rows come from score.c; the stylesheet is
 * etl/page.css, compiled in (css_embed.h).
 */
#include "page.h"
#include "buf.h"
#include "civil.h"
#include "css_embed.h"
#include "log.h"
#include "outfile.h"
#include "pgload.h"
#include "term.h"
#include "util.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>


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
	const char *s = term_shown(&b, raw);
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

/*
 * A query of the page as recorded (mart.unit_kpi ...) and by current unit
 * (--units current: mart.unit_kpi_current ...), from one text.
 */
static const char *by_units(const struct html *h, const char *recorded,
			    const char *current)
{
	return h->req->current_units ? current : recorded;
}

#define HEAD_SQL(kpi)                                                          \
	"SELECT (SELECT to_char(max(derived_at), 'DD/MM/YYYY HH24:MI')"        \
	"         FROM mart.freshness),"                                       \
	" (SELECT to_char(max(watermark), 'DD/MM/YYYY HH24:MI')"               \
	"   FROM mart.freshness),"                                             \
	" (SELECT count(*) FROM " kpi                                          \
	"   WHERE period_kind = $1 AND period_start = $2::date"                \
	"   AND ($3::text IS NULL OR unit_code = $3)),"                        \
	" (SELECT string_agg(DISTINCT profile, ', ' ORDER BY profile)"         \
	"   FROM mart.compliance_total"                                        \
	"   WHERE period_kind = $1 AND period_start = $2::date"                \
	"   AND ($4::text IS NULL OR profile = $4)),"                          \
	" (SELECT unit_name FROM mart.unit WHERE unit_code = $3)"

static const char head_sql[] = HEAD_SQL("mart.unit_kpi");
static const char head_current_sql[] = HEAD_SQL("mart.unit_kpi_current");

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
	if (h->req->current_units)
		fputs(" · theo đơn vị hiện nay, cộng cả các đơn vị tiền thân"
		      " <i>/ by current unit, its predecessors' figures"
		      " included</i>",
		      out);
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
	PGresult *res = html_query(
	    h, by_units(h, head_sql, head_current_sql), 4, params);
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

enum trend_col {
	T_MONTH,
	T_UNITS,
	T_RESOLVED,
	T_ONTIME,
	T_LEGAL,
	T_MASKED,
	T_PROGRESS
};

/*
 * Province-level rates from the counts summed over the units in scope
 * (never an average of rates), rounded as rules.md rounds every rate.
 */
#define TREND_SQL(kpi)                                                         \
	"WITH p (label, kind, start, ord) AS ("                                \
	"  SELECT to_char(m, 'YYYY-MM'), 'month', m::date, 0"                  \
	"  FROM generate_series($2::date,"                                     \
	"       $2::date + $3::interval - interval '1 day',"                   \
	"       interval '1 month') AS m"                                      \
	"  UNION ALL SELECT 'all', $1::text, $2::date, 1)"                     \
	" SELECT p.label, count(k.unit_code), coalesce(sum(k.resolved), 0),"   \
	" round(100.0 * sum(k.resolved_early + k.resolved_on_time)"            \
	"       / nullif(sum(k.resolved), 0), 2),"                             \
	" round(100.0 * sum(k.resolved - k.resolved_late_legal"                \
	"                   - k.resolved_unknown_legal)"                       \
	"       / nullif(sum(k.resolved - k.resolved_unknown_legal), 0), 2),"  \
	" coalesce(sum(k.masked_late), 0),"                                    \
	" round(100.0 * sum(k.progress_in_time)"                               \
	"       / nullif(sum(k.progress_total), 0), 2)"                        \
	" FROM p LEFT JOIN " kpi " k"                                          \
	" ON k.period_kind = p.kind AND k.period_start = p.start"              \
	" AND ($4::text IS NULL OR k.unit_code = $4)"                          \
	" GROUP BY p.label, p.ord, p.start ORDER BY p.ord, p.start"

static const char trend_sql[] = TREND_SQL("mart.unit_kpi");
/* a current unit's months before its cut-over are its predecessors' */
static const char trend_current_sql[] = TREND_SQL("mart.unit_kpi_current");

static int load_trend(struct html *h)
{
	const char *span = !strcmp(h->kind, "year")	 ? "1 year"
			   : !strcmp(h->kind, "quarter") ? "3 months"
							 : "1 month";
	const char *params[] = {h->kind, h->start, span, h->req->unit};
	h->trend = html_query(h, by_units(h, trend_sql, trend_current_sql), 4,
				  params);
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
		for (int c = T_ONTIME; c <= T_PROGRESS; c++)
			if (c != T_MASKED && *PQgetvalue(res, i, c) &&
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
		/* declared and progress above their points, legal below: legal
		 * is the lowest when they differ */
		double label_y = col == T_LEGAL ? y + 18 : y - 9;
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
	rate_line(out, res, months, T_PROGRESS, floor_pct, "progress",
		  "progress_rate");
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
	trend_row(out, res, columns, T_PROGRESS, "progress_rate",
		  "Tiến độ giải quyết (%)",
		  "progress (Decision 766), in time at the end");
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
		"days (legal); beside them Decision 766's progress (Tiến độ "
		"giải quyết): dossiers received in the month, in time as they "
		"stood at its end, resolved or pending;"
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
	swatch(out, "progress", true, "Tiến độ giải quyết",
	       "progress (Decision 766): received in the month, in time at its "
	       "end");
	swatch(out, "masked", false, "Trễ hạn bị che", "masked late");
	fputs("</div>\n", out);
	trend_chart(out, h->trend, h->months);
	trend_table(out, h->trend, h->months, strcmp(h->kind, "month") != 0);
	fputs("</section>\n", out);
}

/* ---- the scorecard: per profile, units ranked, criteria as bars ---- */

enum crit_col { K_PROFILE, K_CRITERION, K_LABEL, K_METRIC, K_TARGET, K_MAX };

#define CRITERIA_SQL(scores)                                                   \
	"SELECT DISTINCT ON (profile, criterion) profile, criterion, label,"   \
	" metric, target::text, max_points::text"                              \
	" FROM " scores                                                        \
	" WHERE period_kind = $1 AND period_start = $2::date"                  \
	" AND ($3::text IS NULL OR profile = $3)"                              \
	" AND ($4::text IS NULL OR unit_code = $4)"                            \
	" ORDER BY profile, criterion, unit_code"

static const char criteria_sql[] = CRITERIA_SQL("mart.compliance_score");
static const char criteria_current_sql[] =
    CRITERIA_SQL("dw.compliance_score_current($1, $2::date)");

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
static int find_criterion(PGresult *res, const struct score_unit *unit,
			  const char *criterion)
{
	for (int r = unit->first; r < unit->end; r++)
		if (!strcmp(score_cell(res, r, C_CRITERION), criterion))
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
	const char *met = score_cell(res, r, C_MET);
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
	fig(out, "value", &k, score_cell(res, r, C_VALUE));
	fputs(*score_cell(res, r, C_VALUE) ? "%</div>" : "</div>", out);
	html_bar(out, score_cell(res, r, C_VALUE), score_cell(res, r, C_TARGET),
		 cls);
	fputs("<div class=\"pts\">", out);
	fig(out, "points", &k, score_cell(res, r, C_POINTS));
	fputs("/", out);
	fig(out, "max_points", &k, score_cell(res, r, C_MAX));
	fputs(!strcmp(cls, "na") ? " điểm · không áp dụng <i>n/a</i></div></td>"
				 : " điểm</div></td>",
	      out);
}

static void total_cell(FILE *out, PGresult *res, int r, const struct fig_key *k)
{
	fputs("<td class=\"total\"><div class=\"tv\">", out);
	fig(out, "score_pct", k, score_cell(res, r, C_T_PCT));
	fputs(*score_cell(res, r, C_T_PCT) ? "%</div>" : "</div>", out);
	html_bar(out, score_cell(res, r, C_T_PCT), NULL, "score");
	fputs("<div class=\"pts\">", out);
	fig(out, "total_points", k, score_cell(res, r, C_T_POINTS));
	fputs("/", out);
	fig(out, "total_max_points", k, score_cell(res, r, C_T_MAX));
	fputs(" điểm · ", out);
	fig(out, "criteria_met", k, score_cell(res, r, C_T_MET));
	fputs("/", out);
	fig(out, "criteria_applicable", k, score_cell(res, r, C_T_APPL));
	fputs(" đạt <i>met</i></div></td>", out);
}

static void unit_row(FILE *out, PGresult *res, const struct score_unit *unit,
		     PGresult *crit, int cfirst, int cend)
{
	int r = unit->first;
	struct fig_key k = {.profile = score_cell(res, r, C_PROFILE),
			    .unit = score_cell(res, r, C_UNIT)};
	char rank[16];
	snprintf(rank, sizeof(rank), unit->rank ? "%d" : "", unit->rank);
	fputs("<tr><td class=\"rank\">", out);
	fig(out, "rank", &k, rank);
	fputs("</td><td class=\"unit\"><div class=\"uname\">", out);
	html_text(out, *score_cell(res, r, C_NAME) ? score_cell(res, r, C_NAME)
						   : "—");
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
	const char *profile = score_cell(res, first, C_PROFILE);
	int cfirst = 0, cend, ncrit = PQntuples(crit);
	while (cfirst < ncrit &&
	       strcmp(PQgetvalue(crit, cfirst, K_PROFILE), profile))
		cfirst++;
	for (cend = cfirst;
	     cend < ncrit &&
	     !strcmp(PQgetvalue(crit, cend, K_PROFILE), profile);)
		cend++;
	int n;
	struct score_unit *units = score_split_units(res, first, end, &n);
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
	const char *const *note = score_profile_notes(profile);
	if (note) {
		fputs("<p class=\"note\">", out);
		for (; *note; note++) {
			html_text(out, *note);
			fputs(note[1] ? "<br>" : "", out);
		}
		fputs("</p>\n", out);
	}
	free(units);
}

static int section_scores(struct html *h)
{
	FILE *out = h->out;
	const char *params[] = {h->kind, h->start, h->req->profile,
				h->req->unit};
	PGresult *res = html_query(
	    h, by_units(h, score_sql, score_current_sql), 4, params);
	PGresult *crit =
	    res ? html_query(h, by_units(h, criteria_sql, criteria_current_sql),
			     4, params)
		: NULL;
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
		end = score_profile_end(res, first);
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
#define LEVEL_SQL(kpi)                                                         \
	"SELECT coalesce(k.unit_code, ''), coalesce(max(k.unit_name), ''),"    \
	" sum(k.procedures_total), sum(k.procedures_level2plus),"              \
	" sum(k.procedures_level3plus), sum(k.procedures_level4),"             \
	" CASE WHEN grouping(k.unit_code) = 0 THEN max(k.pct_level2plus)"      \
	"  ELSE round(100.0 * sum(k.procedures_level2plus)"                    \
	"             / nullif(sum(k.procedures_total), 0), 2) END,"           \
	" CASE WHEN grouping(k.unit_code) = 0 THEN max(k.pct_level3plus)"      \
	"  ELSE round(100.0 * sum(k.procedures_level3plus)"                    \
	"             / nullif(sum(k.procedures_total), 0), 2) END,"           \
	" CASE WHEN grouping(k.unit_code) = 0 THEN max(k.pct_level4)"          \
	"  ELSE round(100.0 * sum(k.procedures_level4)"                        \
	"             / nullif(sum(k.procedures_total), 0), 2) END"            \
	" FROM " kpi " k"                                                      \
	" WHERE k.period_kind = $1 AND k.period_start = $2::date"              \
	" AND ($3::text IS NULL OR k.unit_code = $3)"                          \
	" GROUP BY GROUPING SETS ((), (k.unit_code)) HAVING count(*) > 0"      \
	" ORDER BY grouping(k.unit_code) DESC, k.unit_code"

static const char level_sql[] = LEVEL_SQL("mart.unit_kpi");
static const char level_current_sql[] = LEVEL_SQL("mart.unit_kpi_current");

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
	PGresult *res = html_query(h, by_units(h, level_sql, level_current_sql),
				   3, params);
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

#define DELAY_SQL(delays)                                                      \
	"SELECT d.unit_code, coalesce(u.unit_name, ''), d.department, d.steps," \
	" d.steps_late, coalesce(d.late_rate::text, '')"                       \
	" FROM " delays " d LEFT JOIN mart.unit u USING (unit_code)"           \
	" WHERE d.period_kind = $1 AND d.period_start = $2::date"              \
	" AND d.steps_late > 0 AND ($3::text IS NULL OR d.unit_code = $3)"     \
	" ORDER BY d.steps_late DESC, d.late_rate DESC, d.unit_code,"          \
	" d.department LIMIT 10"

static const char delay_sql[] = DELAY_SQL("mart.step_delay");
/*
 * By current unit, a department's steps are summed over the unit and its
 * predecessors, and the late rate is recomputed from the sums as
 * etl._build_step_delay computes it (kpi.sql).
 */
static const char delay_current_sql[] = DELAY_SQL(
    "(SELECT coalesce(c.current_code, s.unit_code) AS unit_code,"
    " s.department, s.period_kind, s.period_start,"
    " sum(s.steps)::bigint AS steps, sum(s.steps_late)::bigint AS steps_late,"
    " dw.pct(sum(s.steps_late)::bigint, sum(s.steps)::bigint) AS late_rate"
    " FROM mart.step_delay s LEFT JOIN mart.unit c USING (unit_code)"
    " GROUP BY 1, 2, 3, 4)");

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
	PGresult *res = html_query(h, by_units(h, delay_sql, delay_current_sql),
				   3, params);
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

int page_write(PGconn *conn, const struct score_request *req, const char *path)
{
	char year[16];
	struct html h = {
	    .conn = conn, .req = req, .period = score_period(req, year)};
	if (score_parse_period(h.period, h.kind, h.start) < 0)
		return error("bad period '%s'", h.period);
	buf_init(&h.err, ERR_CAP);
	/* one snapshot: a run that commits meanwhile cannot make the sections
	 * disagree */
	if (score_utf8_session(conn, &h.err) < 0 ||
	    pg_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0,
		    NULL, &h.err) < 0) {
		log_error(NULL, NULL, "%s", buf_str(&h.err));
		buf_release(&h.err);
		return -1;
	}
	/* written whole or not at all (outfile.h) */
	char *tmp = NULL;
	int rc = PAGE_CANNOT_WRITE;
	struct buf werr;
	buf_init(&werr, ERR_CAP);
	h.out = outfile_open(path, &tmp, &werr);
	if (h.out) {
		rc = write_page(&h);
		if (outfile_close(h.out, tmp, path, rc == 0, &werr) < 0 && rc == 0)
			rc = PAGE_CANNOT_WRITE;
	}
	if (werr.len)
		error("%s", buf_str(&werr));
	buf_release(&werr);
	PQclear(h.trend);
	pg_exec(conn, "COMMIT", 0, NULL, &h.err);
	buf_release(&h.err);
	free(tmp);
	return rc;
}
