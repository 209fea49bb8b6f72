/*
 * pgcopy.h - a reader of PostgreSQL's binary COPY tuples for the tests
 * (test_record.c, tests/fuzz), written from the format's documentation
 * (sql-copy.html, "Binary Format") rather than from record.c, so that the
 * two can disagree.
 */
#ifndef ONESTOP_PGCOPY_H
#define ONESTOP_PGCOPY_H

#include "buf.h"
#include "record.h"
#include "utc_text.h"

#include <stdint.h>
#include <string.h>

/*
 * The staging tables' column types as etl.create_staging (sql/code/merge.sql)
 * declares them, one letter per column of entity_staging_columns():
 * l bigint, t text, s smallint, i int, b boolean, z timestamptz.
 */
static const char *const pgcopy_types[ENTITY_COUNT] = {
    [ENTITY_DONVI] = "lttttz",		[ENTITY_THUTUC] = "ltttttsibbz",
    [ENTITY_HOSO] = "ltttsszzzzzbz",	[ENTITY_BOSUNG] = "ltizzzztz",
    [ENTITY_QUATRINH] = "ltiszttttzzz",
};

/* Binary timestamptz counts from here, in microseconds since 1970. */
#define PGCOPY_EPOCH_US INT64_C(946684800000000)

/* A big-endian integer of size bytes, sign-extended. */
static int64_t pgcopy_int(const unsigned char *p, size_t size)
{
	uint64_t v = 0, sign = (uint64_t)1 << (size * 8 - 1);
	uint64_t ones = sign - 1 + sign; /* size bytes of them */

	for (size_t i = 0; i < size; i++)
		v = v << 8 | p[i];
	if (!(v & sign))
		return (int64_t)v;
	/* v - 2^(8 size), computed where nothing overflows */
	return -(int64_t)(~v & ones) - 1;
}

static int pgcopy_number(const unsigned char *v, size_t len, size_t size,
			 struct buf *text)
{
	return len == size
		   ? buf_addf(text, "%lld", (long long)pgcopy_int(v, len))
		   : -1;
}

/* One non-NULL field of the given type as text: 0, or -1 if malformed. */
static int pgcopy_field(char type, const unsigned char *v, size_t len,
			struct buf *text)
{
	switch (type) {
	case 't':
		if (memchr(v, '\0', len))
			return -1;
		return buf_add(text, v, len);
	case 'b':
		if (len != 1 || v[0] > 1)
			return -1;
		return buf_adds(text, v[0] ? "t" : "f");
	case 's':
		return pgcopy_number(v, len, 2, text);
	case 'i':
		return pgcopy_number(v, len, 4, text);
	case 'l':
		return pgcopy_number(v, len, 8, text);
	case 'z':
		if (len != 8)
			return -1;
		return utc_text(pgcopy_int(v, 8) + PGCOPY_EPOCH_US, text);
	}
	return -1;
}

/*
 * Read one tuple of the given column types from data[0..len).  Returns its
 * size in bytes, or 0 when data does not start with one.  text gets its
 * fields tab-separated, with a newline at the end: NULL as \N, integers in
 * decimal, booleans t / f, timestamps as utc_text() writes them,
 * text as it is (unescaped: a tab in a value reads as a separator).
 */
static size_t pgcopy_tuple(const char *types, const char *data, size_t len,
			   struct buf *text)
{
	const unsigned char *s = (const unsigned char *)data;
	size_t ncols = strlen(types), at = 2;

	if (len < 2 || pgcopy_int(s, 2) != (int64_t)ncols)
		return 0;
	for (size_t c = 0; c < ncols; c++) {
		if (len - at < 4)
			return 0;
		int64_t flen = pgcopy_int(s + at, 4);
		at += 4;
		if (c && buf_addc(text, '\t') < 0)
			return 0;
		if (flen == -1) {
			if (buf_adds(text, "\\N") < 0)
				return 0;
			continue;
		}
		if (flen < 0 || (size_t)flen > len - at ||
		    pgcopy_field(types[c], s + at, (size_t)flen, text) < 0)
			return 0;
		at += (size_t)flen;
	}
	return buf_addc(text, '\n') < 0 ? 0 : at;
}

#endif
