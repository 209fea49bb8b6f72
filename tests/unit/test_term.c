/*
 * test_term.c - the one sanitiser of printed warehouse text: no control
 * character reaches a terminal raw, Vietnamese passes unchanged, JSON
 * stays JSON and a CSV cell is never a formula.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "term.h"
#include "testhelp.h"

/* A unit name from issue 14: retitle the terminal, then clear it. */
#define HOSTILE "A\x1b]0;pwned\x07 B\x1b[2J C"
/* U+009B, CSI as one 8-bit character */
#define C1_CSI "\xc2\x9b"
#define VIET "Ủy ban nhân dân xã Phú Tân — “ngoặc kép”"
/* "Phú" with a combining acute (U+0301) */
#define VIET_NFD "Phu\xcc\x81"

enum { CAP = 1 << 16 };

static const char *clean(struct buf *b, const char *s)
{
	buf_reset(b);
	term_clean(b, s);
	return buf_str(b);
}

static const char *json(struct buf *b, const char *s)
{
	buf_reset(b);
	term_json_string(b, s);
	return buf_str(b);
}

static const char *csv(struct buf *b, const char *s, bool is_text)
{
	buf_reset(b);
	term_csv_cell(b, s, is_text);
	return buf_str(b);
}

/* Whether s holds a C0, DEL or C1 control, raw. */
static bool has_raw_control(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f || (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
			return true;
	return false;
}

static void test_clean(struct buf *b)
{
	CHECK_STR(clean(b, HOSTILE), "A\\x1b]0;pwned\\x07 B\\x1b[2J C");
	CHECK_STR(clean(b, "x" C1_CSI "2J"), "x\\u009b2J");
	CHECK_STR(clean(b, "del\x7f"), "del\\x7f");
	CHECK_STR(clean(b, "one\ntwo\r\nthree\tfour"), "one two  three four");
	CHECK_STR(clean(b, VIET), VIET);
	CHECK_STR(clean(b, VIET_NFD), VIET_NFD);
	CHECK_STR(clean(b, ""), "");
	/* not UTF-8: a lone continuation byte, a cut sequence, an overlong ESC */
	CHECK_STR(clean(b, "a\x80z"), "a\\x80z");
	CHECK_STR(clean(b, "a\xe1\xbaz"), "a\\xe1\\xbaz");
	CHECK_STR(clean(b, "a\xc0\x9b"), "a\\xc0\\x9b");
	CHECK(!has_raw_control(clean(b, HOSTILE C1_CSI "\x01\x1f\x7f")));
	/* cleaning twice changes nothing */
	char *once = strdup(clean(b, HOSTILE C1_CSI "\xff" VIET));
	CHECK_STR(clean(b, once), once);
	free(once);
}

static void test_clean_cap(void)
{
	struct buf small;
	buf_init(&small, 6);
	term_clean(&small, "ab\x1b" "cdef");
	/* "ab\x1b" is 6 bytes: nothing past the cap, no half escape */
	CHECK_STR(buf_str(&small), "ab\\x1b");
	buf_reset(&small);
	term_clean(&small, "abcd\x1b");
	CHECK_STR(buf_str(&small), "abcd");
	buf_release(&small);
}

static void test_json(struct buf *b)
{
	CHECK_STR(json(b, HOSTILE), "\"A\\u001b]0;pwned\\u0007 B\\u001b[2J C\"");
	CHECK_STR(json(b, "q\"b\\s/"), "\"q\\\"b\\\\s/\"");
	CHECK_STR(json(b, "n\nt\t" C1_CSI "\x7f"), "\"n\\u000at\\u0009\\u009b\\u007f\"");
	CHECK_STR(json(b, VIET), "\"" VIET "\"");
	CHECK_STR(json(b, "bad\xff"), "\"bad\xef\xbf\xbd\"");
	CHECK_STR(json(b, ""), "\"\"");
}

static void test_csv(struct buf *b)
{
	CHECK_STR(csv(b, "plain", true), "plain");
	CHECK_STR(csv(b, VIET, true), VIET);
	CHECK_STR(csv(b, "a,b", true), "\"a,b\"");
	CHECK_STR(csv(b, "say \"hi\"", true), "\"say \"\"hi\"\"\"");
	CHECK_STR(csv(b, "line\r\nbreak", true), "line  break");
	CHECK_STR(csv(b, HOSTILE, true), "A\\x1b]0;pwned\\x07 B\\x1b[2J C");
	/* formulas: text cells become text */
	CHECK_STR(csv(b, "=1+2", true), "'=1+2");
	CHECK_STR(csv(b, "+84 912", true), "'+84 912");
	CHECK_STR(csv(b, "-2+3", true), "'-2+3");
	CHECK_STR(csv(b, "@SUM(A1)", true), "'@SUM(A1)");
	CHECK_STR(csv(b, "\t=1", true), "' =1");
	CHECK_STR(csv(b, "\r=1", true), "' =1");
	CHECK_STR(csv(b, "=HYPERLINK(\"http://x\",\"y\")", true),
		  "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"");
	CHECK_STR(csv(b, "a=1", true), "a=1");
	/* numbers stay numbers */
	CHECK_STR(csv(b, "-3.50", false), "-3.50");
	CHECK_STR(csv(b, "+1", false), "+1");
	CHECK_STR(csv(b, "", true), "");
}

int main(void)
{
	struct buf b;
	buf_init(&b, CAP);
	test_clean(&b);
	test_clean_cap();
	test_json(&b);
	test_csv(&b);
	buf_release(&b);
	TEST_REPORT();
}
