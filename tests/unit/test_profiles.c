/*
 * test_profiles.c - the profiles reader: the shipped file, every error of
 * a hostile file reported at once with its line, and the metric list kept
 * the same as the warehouse's dw.metric_names().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "profiles.h"
#include "testhelp.h"
#include "util.h"

#define SHIPPED "config/profiles.csv"
#define RULES_SQL "sql/code/rules.sql"

/* Load text; expect errors want ("P" at a line's start is the path). */
static struct profiles *load_expect(const char *text, const char *want)
{
	struct buf err, expect;
	char *path = th_write_temp(text);
	struct profiles *prof;

	buf_init(&err, 1 << 16);
	buf_init(&expect, 1 << 16);
	prof = profiles_load(path, &err);
	th_expand_path(&expect, want, path);
	CHECK_STR(buf_str(&err), buf_str(&expect));
	CHECK((prof == NULL) == (*want != '\0'));
	unlink(path);
	free(path);
	buf_release(&err);
	buf_release(&expect);
	return prof;
}

static void test_good_file(void)
{
	struct profiles *prof = load_expect(
	    "\xEF\xBB\xBF# a comment\n"
	    "note,profile,criterion,label,metric,target,max_points,extra\n"
	    "\"a, b\",p1,1,Đúng hạn,ontime_rate,100,20,x\r\n"
	    "\n"
	    ", p1 ,1.1, Trực tuyến ,online_rate, 12.5 ,0,\n"
	    ",p2,1,x,pct_level4,0,25,\n",
	    "");
	const struct criterion *cr;

	if (!prof)
		return;
	CHECK_INT(profiles_count(prof), 3);
	cr = profiles_criterion(prof, 0);
	CHECK_STR(cr->profile, "p1");
	CHECK_STR(cr->criterion, "1");
	CHECK_STR(cr->label, "Đúng hạn");
	CHECK_STR(cr->metric, "ontime_rate");
	CHECK_STR(cr->target, "100");
	CHECK_STR(cr->max_points, "20");
	CHECK_STR(cr->note, "a, b");
	CHECK_INT(cr->line, 3);
	cr = profiles_criterion(prof, 1);
	CHECK_STR(cr->profile, "p1");
	CHECK_STR(cr->label, "Trực tuyến");
	CHECK_STR(cr->target, "12.5");
	CHECK_STR(cr->note, "");
	CHECK_INT(cr->line, 5);
	profiles_free(prof);
	profiles_free(NULL);
	CHECK_INT(profiles_count(NULL), 0);
}

static void test_hostile_file(void)
{
	load_expect(
	    "profile,criterion,label,metric,target,max_points,note\n"
	    "p,1,x,ontime,abc,25,\n"
	    "p,2,x,ontime_rate,nan,inf,\n"
	    "p,3,x,ontime_rate,1e300,-1,\n"
	    "p,4,x,ontime_rate,.5,5.,\n"
	    ",,,,,,\n"
	    "p,5,x,ontime_rate,100\n"
	    "p,6,\"open,ontime_rate,100,5,\n"
	    "p,7,x,ontime_rate,100,5,\n"
	    "p,7,y,online_rate,50,5,again\n"
	    "p,8,x,ontime_rate,0x10,+5,\n",
	    "P:2: unknown metric 'ontime' (metric is one of online_rate, "
	    "ontime_rate, ontime_rate_legal, on_software_rate, "
	    "paid_online_rate, pct_level2plus, pct_level3plus, pct_level4, "
	    "progress_rate, online_full_rate)\n"
	    "P:2: target: 'abc' is not a number >= 0 (digits, and a '.' and "
	    "digits for a fraction)\n"
	    "P:3: target: 'nan' is not a number >= 0 (digits, and a '.' and "
	    "digits for a fraction)\n"
	    "P:3: max_points: 'inf' is not a number >= 0 (digits, and a '.' "
	    "and digits for a fraction)\n"
	    "P:4: target: '1e300' is not a number >= 0 (digits, and a '.' "
	    "and digits for a fraction)\n"
	    "P:4: max_points: '-1' is not a number >= 0 (digits, and a '.' "
	    "and digits for a fraction)\n"
	    "P:5: target: '.5' is not a number >= 0 (digits, and a '.' and "
	    "digits for a fraction)\n"
	    "P:5: max_points: '5.' is not a number >= 0 (digits, and a '.' "
	    "and digits for a fraction)\n"
	    "P:6: profile is empty\n"
	    "P:6: criterion is empty\n"
	    "P:6: label is empty\n"
	    "P:6: metric is empty\n"
	    "P:6: target is empty\n"
	    "P:6: max_points is empty\n"
	    "P:7: expected 7 fields (as the header), found 5\n"
	    "P:8: unterminated or misplaced quote\n"
	    "P:11: target: '0x10' is not a number >= 0 (digits, and a '.' "
	    "and digits for a fraction)\n"
	    "P:11: max_points: '+5' is not a number >= 0 (digits, and a '.' "
	    "and digits for a fraction)\n"
	    "P:10: criterion '7' of profile 'p' is given twice (first on "
	    "line 9)\n");
}

static void test_bad_headers(void)
{
	struct buf err;

	load_expect("profile,criterion,label,metric,target,note,label\n"
		    "p,1,x,ontime_rate,100,,x\n",
		    "P:1: column 'label' is named twice\n"
		    "P:1: missing column 'max_points'\n");
	load_expect("", "P: no header naming the columns profile,criterion,"
			"label,metric,target,max_points,note\n");
	/* a header alone: no criteria, which the warehouse accepts too */
	profiles_free(load_expect(
	    "profile,criterion,label,metric,target,max_points,note\n", ""));

	buf_init(&err, 4096);
	CHECK(profiles_load("/nonexistent/profiles.csv", &err) == NULL);
	CHECK_STR(buf_str(&err), "/nonexistent/profiles.csv: cannot open: No "
				 "such file or directory\n");
	buf_release(&err);
}

static void test_shipped(void)
{
	struct buf err;
	struct profiles *prof;

	buf_init(&err, 1 << 16);
	prof = profiles_load(SHIPPED, &err);
	CHECK(prof != NULL);
	CHECK_STR(buf_str(&err), "");
	/* kh49-2021: 4 criteria; qd766: 3 (reports.md, Decision 766) */
	CHECK(profiles_count(prof) == 7);
	profiles_free(prof);
	buf_release(&err);
}

/*
 * The warehouse checks the metric again (dw.metric_names() in
 * sql/code/rules.sql): the array there must list exactly these names, in
 * this order.  tests/integration/test_rules_input.py asks the migrated
 * warehouse too.
 */
static void test_metric_names_match_sql(void)
{
	FILE *f = fopen(RULES_SQL, "r");
	struct buf sql, want;
	char chunk[4096];
	size_t n;
	const char *array, *end;

	CHECK(f != NULL);
	if (!f)
		return;
	buf_init(&sql, 1 << 22);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&sql, chunk, n);
	fclose(f);
	buf_init(&want, 4096);
	for (size_t i = 0; profiles_metric_name(i); i++)
		buf_addf(&want, "%s'%s'", i ? "," : "",
			 profiles_metric_name(i));
	array = strstr(buf_str(&sql), "dw.metric_names()");
	array = array ? strstr(array, "ARRAY[") : NULL;
	end = array ? strchr(array, ']') : NULL;
	CHECK(end != NULL);
	if (end) {
		struct buf got;

		buf_init(&got, 4096);
		for (const char *p = array + 6; p < end; p++)
			if (*p != ' ' && *p != '\n')
				buf_addc(&got, *p);
		CHECK_STR(buf_str(&got), buf_str(&want));
		buf_release(&got);
	}
	buf_release(&sql);
	buf_release(&want);
}

int main(void)
{
	test_good_file();
	test_hostile_file();
	test_bad_headers();
	test_shipped();
	test_metric_names_match_sql();
	TEST_REPORT();
}
