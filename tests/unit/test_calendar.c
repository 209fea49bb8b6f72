/*
 * test_calendar.c - working days: the worked examples of rules.md, the
 * parser's error reports, and a sanity check of the shipped calendar.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "calendar.h"
#include "civil.h"
#include "testhelp.h"
#include "util.h"

#define SHIPPED "config/calendar-vn.csv"

static long D(int y, int m, int d)
{
	return days_from_civil(y, m, d);
}

static struct calendar *load_text(const char *text, struct buf *err,
				  char **path_out)
{
	char *path = th_write_temp(text);
	struct calendar *cal = calendar_load(path, err);

	if (path_out) {
		*path_out = path;
	} else {
		unlink(path);
		free(path);
	}
	return cal;
}

static const char cal_2024[] = "# covers: 2024-2024\n"
			       "date,kind,note\n"
			       "2024-02-08,holiday,Tết\n"
			       "2024-02-09,holiday,Tết\n"
			       "2024-02-12,holiday,Tết\n"
			       "2024-02-13,holiday,Tết\n"
			       "2024-02-14,holiday,Tết\n"
			       "2024-04-29,holiday,\"Hoán đổi, làm bù 4/5\"\n"
			       "2024-04-30,holiday,Ngày Chiến thắng\r\n"
			       "2024-05-01,holiday,Quốc tế Lao động\n"
			       "\n"
			       "# a comment\n"
			       "2024-05-04,workday,Làm bù\n"
			       "2024-09-02,holiday,\n"
			       "2024-09-03,holiday,\"say \"\"hi\"\"\"\n";

static void test_worked_examples(const struct calendar *cal)
{
	/* rules.md example 1: Saturday 4 May worked, 29 April to 1 May off */
	CHECK(calendar_is_workday(cal, D(2024, 5, 4)));
	CHECK(!calendar_is_workday(cal, D(2024, 4, 29)));
	CHECK(!calendar_is_workday(cal, D(2024, 5, 1)));
	CHECK(!calendar_is_workday(cal, D(2024, 5, 5)));
}

static void test_small_calendar(void)
{
	struct buf err;
	struct calendar *cal;
	const char *kind, *note;
	long day;
	int from, to;

	buf_init(&err, 4096);
	cal = load_text(cal_2024, &err, NULL);
	CHECK(cal != NULL);
	CHECK_STR(buf_str(&err), "");
	if (!cal) {
		fprintf(stderr, "%s", buf_str(&err));
		buf_release(&err);
		return;
	}
	test_worked_examples(cal);

	/* a plain weekend */
	CHECK(!calendar_is_workday(cal, D(2024, 3, 9)));
	CHECK(!calendar_is_workday(cal, D(2024, 3, 10)));

	/* outside the covered years: Monday to Friday */
	CHECK(calendar_is_workday(cal, D(2030, 1, 1)));
	CHECK(!calendar_is_workday(cal, D(2030, 1, 5)));

	CHECK_INT(calendar_covers(cal, &from, &to), 0);
	CHECK_INT(from, 2024);
	CHECK_INT(to, 2024);

	/* entries in file order, notes unquoted */
	CHECK_INT(calendar_entry_count(cal), 11);
	calendar_entry(cal, 5, &day, &kind, &note);
	CHECK_INT(day, D(2024, 4, 29));
	CHECK_STR(kind, "holiday");
	CHECK_STR(note, "Hoán đổi, làm bù 4/5");
	calendar_entry(cal, 6, &day, &kind, &note);
	CHECK_STR(note, "Ngày Chiến thắng");
	calendar_entry(cal, 8, &day, &kind, &note);
	CHECK_INT(day, D(2024, 5, 4));
	CHECK_STR(kind, "workday");
	calendar_entry(cal, 9, &day, &kind, &note);
	CHECK_STR(note, "");
	calendar_entry(cal, 10, &day, &kind, &note);
	CHECK_STR(note, "say \"hi\"");

	calendar_free(cal);
	buf_release(&err);
}

static void test_null_and_plain(void)
{
	struct calendar *cal;
	struct buf err;
	int from = 0, to = 0;

	CHECK(calendar_is_workday(NULL, D(2024, 4, 29)));
	CHECK_INT(calendar_entry_count(NULL), 0);
	calendar_free(NULL);

	/* a header and nothing else: a valid, empty calendar without covers */
	buf_init(&err, 4096);
	cal = load_text("\xEF\xBB\xBF"
			"date,kind,note\n",
			&err, NULL);
	CHECK(cal != NULL);
	CHECK_INT(calendar_covers(cal, &from, &to), -1);
	CHECK_INT(calendar_entry_count(cal), 0);
	CHECK(calendar_is_workday(cal, D(2024, 5, 3)));
	calendar_free(cal);
	buf_release(&err);
}

/*
 * rules.md allows a holiday on a weekend (30 April 2022 was a Saturday):
 * the day was off anyway, so it changes no count, and it stops no load.
 */
static void test_weekend_holiday(void)
{
	struct buf err;
	struct calendar *cal;

	buf_init(&err, 4096);
	cal = load_text("# covers: 2022-2022\n"
			"date,kind,note\n"
			"2022-04-30,holiday,Ngày Chiến thắng (thứ Bảy)\n"
			"2022-05-01,holiday,Quốc tế Lao động (Chủ nhật)\n"
			"2022-05-02,holiday,Nghỉ bù\n"
			"2022-05-03,holiday,Nghỉ bù\n",
			&err, NULL);
	CHECK(cal != NULL);
	CHECK_STR(buf_str(&err), "");
	if (cal) {
		CHECK_INT(calendar_entry_count(cal), 4);
		CHECK(!calendar_is_workday(cal, D(2022, 4, 30)));
		CHECK(!calendar_is_workday(cal, D(2022, 5, 1)));
	}
	calendar_free(cal);
	buf_release(&err);
}

/* The warning without a covers line says the file's dates still apply. */
static void test_coverage_warning(void)
{
	struct buf err;
	struct calendar *cal;
	char *warning;

	buf_init(&err, 4096);
	cal = load_text("date,kind,note\n"
			"2024-04-29,holiday,x\n"
			"2024-05-04,workday,y\n",
			&err, NULL);
	CHECK(cal != NULL);
	warning = calendar_coverage_warning(cal, "cal.csv");
	CHECK_STR(warning, "calendar 'cal.csv' has no '# covers:' line: its 2 "
			   "dates apply, and every other day counts Monday to "
			   "Friday; add the line naming the years it is "
			   "complete for");
	CHECK(!calendar_is_workday(cal, D(2024, 4, 29)));
	CHECK(calendar_is_workday(cal, D(2024, 5, 4)));
	free(warning);
	calendar_free(cal);

	cal = load_text(cal_2024, &err, NULL);
	CHECK(calendar_coverage_warning(cal, "cal.csv") == NULL);
	calendar_free(cal);
	CHECK(calendar_coverage_warning(NULL, "cal.csv") == NULL);
	buf_release(&err);
}

/* Expect the load to fail with exactly want (with "P" standing for the path).
 */
static void check_errors(const char *text, const char *want)
{
	struct buf err, expect;
	struct calendar *cal;
	char *path;

	buf_init(&err, 1 << 16);
	buf_init(&expect, 1 << 16);
	cal = load_text(text, &err, &path);
	CHECK(cal == NULL);
	th_expand_path(&expect, want, path);
	CHECK_STR(buf_str(&err), buf_str(&expect));
	calendar_free(cal);
	unlink(path);
	free(path);
	buf_release(&err);
	buf_release(&expect);
}

static void test_errors(void)
{
	struct buf err;

	check_errors(
	    "# covers: 2024-2024\n"
	    "date,kind,note\n"
	    "2024-13-01,holiday,x\n"
	    "2024-02-30,holiday,x\n"
	    "24-05-06,holiday,x\n"
	    "2024-05-06,vacation,x\n"
	    "2024-05-07,holiday\n"
	    "2024-05-08,holiday,a,b\n"
	    "2024-05-09,holiday,\"open\n"
	    "2024-05-10,holiday,ok\n"
	    "1999-12-31,holiday,before\n"
	    "2024-05-13,workday,Monday\n"
	    "2024-05-10,holiday,again\n"
	    "2101-01-03,holiday,after\n",
	    "P:3: bad date '2024-13-01', expected yyyy-MM-dd\n"
	    "P:4: bad date '2024-02-30', expected yyyy-MM-dd\n"
	    "P:5: bad date '24-05-06', expected yyyy-MM-dd\n"
	    "P:6: unknown kind 'vacation', expected 'holiday' or 'workday'\n"
	    "P:7: expected 3 fields (date,kind,note), found 2\n"
	    "P:8: expected 3 fields (date,kind,note), found 4\n"
	    "P:9: unterminated or misplaced quote\n"
	    "P:11: date '1999-12-31' is outside the warehouse's calendar "
	    "(2000 to 2100)\n"
	    "P:12: workday '2024-05-13' is not a Saturday or Sunday\n"
	    "P:14: date '2101-01-03' is outside the warehouse's calendar "
	    "(2000 to 2100)\n"
	    "P:13: duplicate date '2024-05-10' (first on line 10)\n");

	check_errors("# covers: 2019-2026 \n"
		     "#covers: 2020-2021\n"
		     "# covers: 19-26\n"
		     "date,kind,note\n",
		     "P:2: second covers line (the first is on line 1)\n"
		     "P:3: bad covers line ' covers: 19-26', expected '# "
		     "covers: YYYY-YYYY'\n");
	check_errors("# covers: 2026-2019\ndate,kind,note\n",
		     "P:1: covers '2026-2019' ends before it starts\n");
	check_errors("date;kind;note\n2024-05-06,holiday,x\n",
		     "P:1: expected the header 'date,kind,note', found "
		     "'date;kind;note'\n");
	check_errors("", "P: no header 'date,kind,note'\n");
	check_errors("# only a comment\n", "P: no header 'date,kind,note'\n");

	buf_init(&err, 4096);
	CHECK(calendar_load("/nonexistent/calendar.csv", &err) == NULL);
	CHECK_STR(buf_str(&err), "/nonexistent/calendar.csv: cannot open: No "
				 "such file or directory\n");
	CHECK(calendar_load("/nonexistent/calendar.csv", NULL) == NULL);
	buf_release(&err);
}

/* Weekday holiday lines and make-up workdays per year of the shipped file. */
static void check_shipped_entries(const struct calendar *cal, int from, int to)
{
	int holidays[10000] = {0};
	size_t n = calendar_entry_count(cal);

	for (size_t i = 0; i < n; i++) {
		const char *kind, *note;
		long day;
		int y, m, d, wd;

		calendar_entry(cal, i, &day, &kind, &note);
		civil_from_days(day, &y, &m, &d);
		wd = weekday_from_days(day);
		if (strcmp(kind, "holiday") == 0) {
			CHECK(wd >= 1 && wd <= 5);
			CHECK(!calendar_is_workday(cal, day));
			holidays[y]++;
		} else {
			CHECK_STR(kind, "workday");
			CHECK(wd == 0 || wd == 6);
			CHECK(calendar_is_workday(cal, day));
		}
		CHECK(note && *note);
	}
	for (int y = from; y <= to; y++) {
		if (holidays[y] < 10 || holidays[y] > 20)
			fprintf(stderr, "year %d: %d weekday holidays\n", y,
				holidays[y]);
		CHECK(holidays[y] >= 10 && holidays[y] <= 20);
	}
}

/*
 * Công văn 8726/VPCP-KGVX: Tết Ất Tỵ's five days off were Monday 27 to
 * Friday 31 January with no swap (Saturday 15 February was not worked);
 * the year's one make-up Saturday was 26 April, for Friday 2 May.
 */
static void check_shipped_2025(const struct calendar *cal)
{
	int workdays = 0;

	for (long day = D(2025, 1, 27); day <= D(2025, 1, 31); day++)
		CHECK(!calendar_is_workday(cal, day));
	CHECK(!calendar_is_workday(cal, D(2025, 2, 15)));
	CHECK(calendar_is_workday(cal, D(2025, 4, 26)));
	CHECK(!calendar_is_workday(cal, D(2025, 5, 2)));
	for (long day = D(2025, 1, 1); day <= D(2025, 12, 31); day++)
		workdays += calendar_is_workday(cal, day) &&
			    weekday_from_days(day) % 6 == 0;
	CHECK_INT(workdays, 1);
}

static void test_shipped(void)
{
	/* the lunar new year's day (mùng 1 Tết) of each covered year */
	static const int tet[][3] = {
	    {2019, 2, 5},  {2020, 1, 25}, {2021, 2, 12}, {2022, 2, 1},
	    {2023, 1, 22}, {2024, 2, 10}, {2025, 1, 29}, {2026, 2, 17},
	};
	struct buf err;
	struct calendar *cal;
	int from = 0, to = 0;

	buf_init(&err, 1 << 16);
	cal = calendar_load(SHIPPED, &err);
	CHECK(cal != NULL);
	CHECK_STR(buf_str(&err), "");
	if (!cal) {
		fprintf(stderr, "%s", buf_str(&err));
		buf_release(&err);
		return;
	}
	CHECK_INT(calendar_covers(cal, &from, &to), 0);
	CHECK_INT(from, 2019);
	CHECK(to >= 2026);
	check_shipped_entries(cal, 2019, 2026);
	for (size_t i = 0; i < ARRAY_SIZE(tet); i++) {
		long day = D(tet[i][0], tet[i][1], tet[i][2]);

		CHECK(!calendar_is_workday(cal, day));
	}
	test_worked_examples(cal);
	check_shipped_2025(cal);
	calendar_free(cal);
	buf_release(&err);
}

int main(void)
{
	test_small_calendar();
	test_null_and_plain();
	test_errors();
	test_weekend_holiday();
	test_coverage_warning();
	test_shipped();
	TEST_REPORT();
}
