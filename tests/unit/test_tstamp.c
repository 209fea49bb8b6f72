#include "buf.h"
#include "civil.h"
#include "tstamp.h"
#include "testhelp.h"
#include "utc_text.h"

#include <stdint.h>

/* Parse s and give back its local compact form, or "invalid". */
static const char *local(const char *s)
{
	static char out[15];
	int64_t us;

	if (tstamp_parse(s, strlen(s), &us) < 0)
		return "invalid";
	tstamp_format_local_compact(us, out);
	return out;
}

/* Parse s and give back its staging (UTC) form, or "invalid". */
static const char *utc(const char *s)
{
	static struct buf b = {0};
	int64_t us;

	buf_release(&b);
	buf_init(&b, 100);
	if (tstamp_parse(s, strlen(s), &us) < 0)
		return "invalid";
	utc_text(us, &b);
	return buf_str(&b);
}

static void test_forms(void)
{
	CHECK_STR(local("20240503100500"), "20240503100500");
	CHECK_STR(local("20240503"), "20240503000000");
	CHECK_STR(local("2024-05-03"), "20240503000000");
	CHECK_STR(local("2024-05-03T10:05:00"), "20240503100500");
	CHECK_STR(local("2024-05-03 10:05:00"), "20240503100500");
	CHECK_STR(local("  2024-05-03 10:05:00\t\r\n"), "20240503100500");
	CHECK_STR(utc("20240503100500"), "2024-05-03 03:05:00+00");
	CHECK_STR(utc("20240503"), "2024-05-02 17:00:00+00");
}

static void test_zones(void)
{
	CHECK_STR(local("2024-05-03T10:05:00Z"), "20240503170500");
	CHECK_STR(utc("2024-05-03T10:05:00Z"), "2024-05-03 10:05:00+00");
	CHECK_STR(utc("2024-05-03T10:05:00+07:00"), "2024-05-03 03:05:00+00");
	CHECK_STR(utc("2024-05-03T10:05:00+0700"), "2024-05-03 03:05:00+00");
	CHECK_STR(utc("2024-05-03T10:05:00-05:30"), "2024-05-03 15:35:00+00");
	CHECK_STR(utc("2024-05-03T10:05:00-00:00"), "2024-05-03 10:05:00+00");
	CHECK_STR(utc("2024-05-03T10:05:00.5+09:00"),
		  "2024-05-03 01:05:00.500000+00");
	/* the year is checked as written, not after moving to UTC */
	CHECK_STR(utc("2000-01-01T00:00:00"), "1999-12-31 17:00:00+00");
	CHECK_STR(utc("2099-12-31T23:59:59-10:00"), "2100-01-01 09:59:59+00");
	CHECK_STR(utc("2024-05-03T10:05:00+15:00"), "invalid");
	CHECK_STR(utc("2024-05-03T10:05:00+07:60"), "invalid");
	CHECK_STR(utc("2024-05-03T10:05:00+07"), "invalid");
	CHECK_STR(utc("2024-05-03T10:05:00+7:00"), "invalid");
	CHECK_STR(utc("2024-05-03T10:05:00 +07:00"), "invalid");
	CHECK_STR(utc("2024-05-03T10:05:00z"), "invalid");
	CHECK_STR(utc("20240503100500Z"), "invalid");
	CHECK_STR(utc("2024-05-03Z"), "invalid");
}

static void test_fractions(void)
{
	CHECK_STR(utc("2024-05-03T10:05:00.1"),
		  "2024-05-03 03:05:00.100000+00");
	CHECK_STR(utc("2024-05-03T10:05:00.123456789Z"),
		  "2024-05-03 10:05:00.123456+00");
	CHECK_STR(utc("2024-05-03T10:05:00.000000999Z"),
		  "2024-05-03 10:05:00+00");
	CHECK_STR(utc("2024-05-03T10:05:00.000001Z"),
		  "2024-05-03 10:05:00.000001+00");
	CHECK_STR(utc("2024-05-03T10:05:00.0123456789Z"), "invalid");
	CHECK_STR(utc("2024-05-03T10:05:00."), "invalid");
	CHECK_STR(utc("2024-05-03T10:05:00.Z"), "invalid");
	CHECK_STR(utc("2024-05-03T10:05:00,5"), "invalid");
}

static void test_real_dates(void)
{
	CHECK_STR(local("20240229"), "20240229000000");
	CHECK_STR(local("2000-02-29"), "20000229000000");
	CHECK_STR(local("20230229"), "invalid");
	CHECK_STR(local("2023-02-29"), "invalid");
	CHECK_STR(local("2024-04-31"), "invalid");
	CHECK_STR(local("2024-13-01"), "invalid");
	CHECK_STR(local("2024-00-01"), "invalid");
	CHECK_STR(local("2024-01-00"), "invalid");
	CHECK_STR(local("20240101240000"), "invalid");
	CHECK_STR(local("20240101236000"), "invalid");
	CHECK_STR(local("20240101235960"), "invalid");
	CHECK_STR(local("20240101235959"), "20240101235959");
	CHECK_STR(local("19991231235959"), "invalid");
	CHECK_STR(local("1999-12-31"), "invalid");
	CHECK_STR(local("2100-01-01"), "invalid");
	CHECK_STR(local("21000101000000"), "invalid");
	CHECK_STR(local("20000101"), "20000101000000");
	CHECK_STR(local("2099-12-31 23:59:59"), "20991231235959");
}

static void test_garbage(void)
{
	CHECK_STR(local(""), "invalid");
	CHECK_STR(local("   "), "invalid");
	CHECK_STR(local("abc"), "invalid");
	CHECK_STR(local("2024"), "invalid");
	CHECK_STR(local("202405031005"), "invalid");
	CHECK_STR(local("2024050310050"), "invalid");
	CHECK_STR(local("202405031005001"), "invalid");
	CHECK_STR(local("20240503x"), "invalid");
	CHECK_STR(local("2024-05-03T10:05:00abc"), "invalid");
	CHECK_STR(local("2024-05-03T10:05"), "invalid");
	CHECK_STR(local("2024-05-03T"), "invalid");
	CHECK_STR(local("2024-5-3"), "invalid");
	CHECK_STR(local("2024/05/03"), "invalid");
	CHECK_STR(local("2024-05-03  10:05:00"), "invalid");
	CHECK_STR(local("-2024-05-03"), "invalid");
	CHECK_STR(local("+20240503"), "invalid");
	CHECK_STR(local("2024-05-03T1a:05:00"), "invalid");
	/* the length is what counts, not a NUL */
	int64_t us;
	CHECK_INT(tstamp_parse("20240503\0"
			       "000000",
			       14, &us),
		  -1);
	CHECK_INT(tstamp_parse("20240503100500junk", 14, &us), 0);
}

static void test_days(void)
{
	int64_t us;

	/* 06:59 local on May 3rd is still May 2nd in UTC */
	CHECK_INT(tstamp_parse("2024-05-03T06:59:00", 19, &us), 0);
	CHECK_INT(tstamp_local_day(us), days_from_civil(2024, 5, 3));
	CHECK_INT(tstamp_parse("2024-05-03T23:59:59.999999", 26, &us), 0);
	CHECK_INT(tstamp_local_day(us), days_from_civil(2024, 5, 3));
	CHECK_INT(tstamp_parse("2024-05-03T17:00:00Z", 20, &us), 0);
	CHECK_INT(tstamp_local_day(us), days_from_civil(2024, 5, 4));
	CHECK_INT(tstamp_local_day(0), 0);
	CHECK_INT(tstamp_local_day(-1), 0);
	CHECK_INT(tstamp_local_day(-7LL * 3600 * 1000000 - 1), -1);

	char out[15];
	tstamp_format_local_compact(0, out);
	CHECK_STR(out, "19700101070000");
	tstamp_format_local_compact(-1, out);
	CHECK_STR(out, "19700101065959");
}

/* The log's stamp: local time and its offset, whatever TZ says. */
static void test_local_iso(void)
{
	char out[TSTAMP_LOCAL_ISO_SIZE];
	int64_t us;

	CHECK_INT(tstamp_parse("2026-12-05T21:12:08.123456Z", 27, &us), 0);
	tstamp_format_local_iso(us, out);
	CHECK_STR(out, "2026-12-06T04:12:08.123+07:00");
	tstamp_format_local_iso(-1, out);
	CHECK_STR(out, "1970-01-01T06:59:59.999+07:00");
	CHECK_INT(strlen(out), TSTAMP_LOCAL_ISO_SIZE - 1);
}

int main(void)
{
	test_forms();
	test_zones();
	test_fractions();
	test_real_dates();
	test_garbage();
	test_days();
	test_local_iso();
	utc("20240101"); /* leaves nothing behind for ASan */
	TEST_REPORT();
}
