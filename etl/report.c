#include "report.h"
#include "buf.h"
#include "log.h"
#include "pgload.h"
#include "util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ERR_CAP 4096

int report_parse_period(const char *period, char kind[8], char start[11])
{
	int y, n;
	char tail;
	const char *k;
	int month;
	if (sscanf(period, "%4d-Q%1d%c", &y, &n, &tail) == 2 && n >= 1 && n <= 4) {
		k = "quarter";
		month = (n - 1) * 3 + 1;
	} else if (strlen(period) == 7 && sscanf(period, "%4d-%2d%c", &y, &n, &tail) == 2 &&
		   n >= 1 && n <= 12) {
		k = "month";
		month = n;
	} else if (strlen(period) == 4 && sscanf(period, "%4d%c", &y, &tail) == 1) {
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
	time_t now = time(NULL) + 7 * 3600;
	struct tm tm;
	gmtime_r(&now, &tm);
	snprintf(out, 16, "%04d", tm.tm_year + 1900);
}

/* Display width of UTF-8 text: one column per code point. */
static int text_width(const char *s)
{
	int w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

/* Print s in a column of width columns, cut with '…' when too long. */
static void print_cell(FILE *out, const char *s, int width)
{
	int w = 0;
	const char *p = s;
	if (text_width(s) > width) {
		while (*p) {
			int len = 1;
			while ((p[len] & 0xc0) == 0x80)
				len++;
			if (w + 1 >= width)
				break;
			fwrite(p, 1, (size_t)len, out);
			p += len;
			w++;
		}
		fputs("…", out);
		w++;
	} else {
		fputs(s, out);
		w = text_width(s);
	}
	for (; w < width; w++)
		fputc(' ', out);
}

enum col {
	C_UNIT, C_NAME, C_PROFILE, C_CRITERION, C_LABEL, C_METRIC, C_VALUE,
	C_TARGET, C_MET, C_POINTS, C_MAX, C_T_POINTS, C_T_MAX, C_T_PCT,
	C_T_MET, C_T_APPL
};

static const char score_sql[] =
	"SELECT t.unit_code, coalesce(u.unit_name, ''), t.profile, s.criterion,"
	" s.label, s.metric, coalesce(s.value::text, ''), s.target::text,"
	" coalesce(CASE WHEN s.met THEN 'yes' ELSE 'no' END, 'n/a'),"
	" coalesce(s.points::text, ''), s.max_points::text, t.points::text,"
	" t.max_points::text, coalesce(t.score_pct::text, ''),"
	" t.criteria_met, t.criteria_applicable"
	" FROM mart.compliance_total t"
	" JOIN mart.compliance_score s USING (unit_code, period_kind, period_start, profile)"
	" LEFT JOIN mart.unit u USING (unit_code)"
	" WHERE t.period_kind = $1 AND t.period_start = $2::date"
	" AND ($3::text IS NULL OR t.profile = $3) AND ($4::text IS NULL OR t.unit_code = $4)"
	" ORDER BY t.profile, t.score_pct DESC NULLS LAST, t.unit_code, s.criterion";

static void print_table(PGresult *res, FILE *out, const char *period)
{
	const char *profile = "", *unit = "";
	for (int r = 0; r < PQntuples(res); r++) {
		const char *p = PQgetvalue(res, r, C_PROFILE), *u = PQgetvalue(res, r, C_UNIT);
		if (strcmp(p, profile)) {
			fprintf(out, "%sProfile %s, period %s\n", r ? "\n" : "", p, period);
			profile = p;
			unit = "";
		}
		if (strcmp(u, unit)) {
			const char *pct = PQgetvalue(res, r, C_T_PCT);
			fprintf(out, "\n");
			print_cell(out, u, 16);
			print_cell(out, PQgetvalue(res, r, C_NAME), 46);
			fprintf(out, " score %6s%%  %s/%s met\n", *pct ? pct : "-",
				PQgetvalue(res, r, C_T_MET), PQgetvalue(res, r, C_T_APPL));
			fprintf(out, "  %-9s %-36s %8s %7s %-4s %13s\n", "criterion",
				"label", "value", "target", "met", "points");
			unit = u;
		}
		fprintf(out, "  ");
		print_cell(out, PQgetvalue(res, r, C_CRITERION), 10);
		print_cell(out, PQgetvalue(res, r, C_LABEL), 36);
		const char *v = PQgetvalue(res, r, C_VALUE), *pts = PQgetvalue(res, r, C_POINTS);
		fprintf(out, " %8s %7s %-4s %6s/%-6s\n", *v ? v : "-",
			PQgetvalue(res, r, C_TARGET), PQgetvalue(res, r, C_MET),
			*pts ? pts : "-", PQgetvalue(res, r, C_MAX));
	}
	if (PQntuples(res) == 0)
		fprintf(out, "no scores for period %s (has the warehouse data for it?)\n", period);
}

static void csv_cell(FILE *out, const char *s, bool last)
{
	if (strpbrk(s, ",\"\r\n")) {
		fputc('"', out);
		for (; *s; s++) {
			if (*s == '"')
				fputc('"', out);
			fputc(*s, out);
		}
		fputc('"', out);
	} else {
		fputs(s, out);
	}
	fputc(last ? '\n' : ',', out);
}

static void print_csv(PGresult *res, FILE *out, const char *kind, const char *start)
{
	fprintf(out, "unit_code,unit_name,period_kind,period_start,profile,criterion,label,"
		     "metric,value,target,met,points,max_points,total_points,total_max_points,"
		     "score_pct\n");
	for (int r = 0; r < PQntuples(res); r++) {
		for (int c = C_UNIT; c <= C_T_PCT; c++) {
			if (c == C_PROFILE) {
				csv_cell(out, kind, false);
				csv_cell(out, start, false);
			}
			const char *v = PQgetvalue(res, r, c);
			if (c == C_MET)
				v = !strcmp(v, "yes") ? "t" : !strcmp(v, "no") ? "f" : "";
			csv_cell(out, v, c == C_T_PCT);
		}
	}
}

static void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(out, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(out, "\\u%04x", ch);
		else
			fputc(ch, out);
	}
	fputc('"', out);
}

static void json_number(FILE *out, const char *s)
{
	fputs(*s ? s : "null", out);
}

static void print_json(PGresult *res, FILE *out, const char *kind, const char *start)
{
	fprintf(out, "[");
	for (int r = 0; r < PQntuples(res); r++) {
		bool first = r == 0 || strcmp(PQgetvalue(res, r, C_UNIT), PQgetvalue(res, r - 1, C_UNIT)) ||
			     strcmp(PQgetvalue(res, r, C_PROFILE), PQgetvalue(res, r - 1, C_PROFILE));
		if (first) {
			fprintf(out, "%s\n {\"unit_code\": ", r ? "]},": "");
			json_string(out, PQgetvalue(res, r, C_UNIT));
			fprintf(out, ", \"unit_name\": ");
			json_string(out, PQgetvalue(res, r, C_NAME));
			fprintf(out, ", \"period_kind\": \"%s\", \"period_start\": \"%s\", \"profile\": ",
				kind, start);
			json_string(out, PQgetvalue(res, r, C_PROFILE));
			fprintf(out, ", \"points\": %s, \"max_points\": %s, \"score_pct\": ",
				PQgetvalue(res, r, C_T_POINTS), PQgetvalue(res, r, C_T_MAX));
			json_number(out, PQgetvalue(res, r, C_T_PCT));
			fprintf(out, ", \"criteria_met\": %s, \"criteria_applicable\": %s, \"criteria\": [",
				PQgetvalue(res, r, C_T_MET), PQgetvalue(res, r, C_T_APPL));
		} else {
			fprintf(out, ",");
		}
		fprintf(out, "\n  {\"criterion\": ");
		json_string(out, PQgetvalue(res, r, C_CRITERION));
		fprintf(out, ", \"label\": ");
		json_string(out, PQgetvalue(res, r, C_LABEL));
		fprintf(out, ", \"metric\": ");
		json_string(out, PQgetvalue(res, r, C_METRIC));
		fprintf(out, ", \"value\": ");
		json_number(out, PQgetvalue(res, r, C_VALUE));
		fprintf(out, ", \"target\": %s, \"met\": %s, \"points\": ",
			PQgetvalue(res, r, C_TARGET),
			!strcmp(PQgetvalue(res, r, C_MET), "yes") ? "true"
			: !strcmp(PQgetvalue(res, r, C_MET), "no") ? "false" : "null");
		json_number(out, PQgetvalue(res, r, C_POINTS));
		fprintf(out, ", \"max_points\": %s}", PQgetvalue(res, r, C_MAX));
	}
	fprintf(out, "%s]\n", PQntuples(res) ? "]}\n" : "");
}

int report_score(PGconn *conn, const struct score_request *req, FILE *out)
{
	char kind[8], start[11], year[16];
	const char *period = req->period;
	if (!period) {
		current_year(year);
		period = year;
	}
	if (report_parse_period(period, kind, start) < 0)
		return error("bad period '%s'", period);
	const char *params[] = { kind, start, req->profile, req->unit };
	struct buf err;
	buf_init(&err, ERR_CAP);
	PGresult *res = pg_query(conn, score_sql, 4, params, &err);
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
