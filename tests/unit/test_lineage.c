/*
 * test_lineage.c - the lineage reader: the shipped file, chains followed
 * whatever their dates, and every error of a hostile file (a duplicate, a
 * cycle, a bad date, bad codes) reported at once with its lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "civil.h"
#include "lineage.h"
#include "testhelp.h"

#define SHIPPED "config/unit-lineage.csv"
#define HEADER "from_code,to_code,effective,basis\n"

/* Load text; expect errors want ("P" at a line's start is the path). */
static struct lineage *load_expect(const char *text, const char *want)
{
	struct buf err, expect;
	char *path = th_write_temp(text);
	struct lineage *lin;

	buf_init(&err, 1 << 16);
	buf_init(&expect, 1 << 16);
	lin = lineage_load(path, &err);
	th_expand_path(&expect, want, path);
	CHECK_STR(buf_str(&err), buf_str(&expect));
	CHECK((lin == NULL) == (*want != '\0'));
	unlink(path);
	free(path);
	buf_release(&err);
	buf_release(&expect);
	return lin;
}

static void test_shipped_file(void)
{
	struct buf err;
	struct lineage *lin;

	buf_init(&err, 1 << 16);
	lin = lineage_load(SHIPPED, &err);
	CHECK_STR(buf_str(&err), "");
	CHECK(lin != NULL);
	/* shipped as a header and a commented example: no rows */
	CHECK_INT(lineage_count(lin), 0);
	lineage_free(lin);
	buf_release(&err);
}

static void test_no_file_is_empty(void)
{
	struct lineage *lin = lineage_load(NULL, NULL);

	CHECK(lin != NULL);
	CHECK_INT(lineage_count(lin), 0);
	CHECK_STR(lineage_current(lin, "X"), "X");
	lineage_free(lin);
	lineage_free(NULL);
	CHECK_INT(lineage_count(NULL), 0);
}

/* a merger, a chain whose later link is dated earlier, a dissolution */
static void test_chains(void)
{
	struct lineage *lin =
	    load_expect("\xEF\xBB\xBF# Sóc Trăng, 2025\n"
			" from_code , to_code,effective,basis\r\n"
			"\n"
			"A, B ,2025-07-01,\"NQ 1668, 2025\"\n"
			"B,C,2020-01-01,\n"
			"# a comment between rows\n"
			"X,B,2025-07-01,NQ 1668\n"
			"D,P,2025-07-01,giải thể\n",
			"");
	const struct lineage_row *row;

	if (!lin)
		return;
	CHECK_INT(lineage_count(lin), 4);
	row = lineage_row(lin, 0);
	CHECK_STR(row->from_code, "A");
	CHECK_STR(row->to_code, "B");
	CHECK_STR(row->basis, "NQ 1668, 2025");
	CHECK_INT(row->effective, days_from_civil(2025, 7, 1));
	CHECK_INT(row->line, 4);
	CHECK_STR(lineage_row(lin, 1)->basis, "");
	CHECK_INT(lineage_row(lin, 2)->line, 7);
	CHECK_STR(lineage_current(lin, "A"), "C");
	CHECK_STR(lineage_current(lin, "B"), "C");
	CHECK_STR(lineage_current(lin, "X"), "C");
	CHECK_STR(lineage_current(lin, "C"), "C");
	CHECK_STR(lineage_current(lin, "D"), "P");
	CHECK_STR(lineage_current(lin, "unseen"), "unseen");
	lineage_free(lin);
}

static void test_hostile_file(void)
{
	load_expect(
	    HEADER "A,B,2025-07-01,\n"	   /* 2 */
		   "A,C,2025-07-01,\n"	   /* 3: duplicate of 2 */
		   "E,E,2025-07-01,\n"	   /* 4 */
		   "F,G,2025-02-30,\n"	   /* 5 */
		   "F2,G,1/7/2025,\n"	   /* 6 */
		   ",G,2025-07-01,\n"	   /* 7 */
		   "H,\x01,2025-07-01,\n"  /* 8 */
		   "I,J,2025-07-01\n"	   /* 9 */
		   "K,\"L,2025-07-01,\n"   /* 10 */
		   "C1,C2,2025-07-01,\n"   /* 11: C1 -> C2 -> C3 -> C1 */
		   "C3,C1,2025-07-01,\n"   /* 12 */
		   "C2,C3,2025-07-01,\n"   /* 13 */
		   "B,A,2025-07-01,\n"	   /* 14: A -> B -> A */
		   "M,\xC3,2025-07-01,\n", /* 15 */
	    "P:4: 'E' is its own to_code (a unit renamed gets a new "
	    "code; one that did not needs no row)\n"
	    "P:5: bad effective date '2025-02-30', expected "
	    "yyyy-MM-dd\n"
	    "P:6: bad effective date '1/7/2025', expected yyyy-MM-dd\n"
	    "P:7: from_code is empty\n"
	    "P:8: to_code holds a control character\n"
	    "P:9: expected 4 fields (from_code,to_code,effective,basis), "
	    "found 3\n"
	    "P:10: unterminated or misplaced quote\n"
	    "P:15: to_code is not UTF-8\n"
	    "P:3: from_code 'A' is given twice (first on line 2): a "
	    "code has one successor\n"
	    "P:2: a cycle: 'A' -> 'B' -> 'A' (lines 2, 14)\n"
	    "P:11: a cycle: 'C1' -> 'C2' -> 'C3' -> 'C1' (lines 11, "
	    "12, 13)\n");
}

static void test_header(void)
{
	load_expect("from,to,effective,basis\nA,B,2025-07-01,\n",
		    "P:1: expected the header "
		    "'from_code,to_code,effective,basis', found "
		    "'from,to,effective,basis'\n");
	load_expect("# only a comment\n",
		    "P: no header 'from_code,to_code,effective,basis'\n");
}

int main(void)
{
	test_shipped_file();
	test_no_file_is_empty();
	test_chains();
	test_hostile_file();
	test_header();
	TEST_REPORT();
}
