/*
 * record.h - the five entities' rules: one CSV record in, one binary COPY
 * tuple for the staging table out, or a reject with its reason and column.
 *
 * The entities differ only by a table of columns (record.c); every row of
 * every entity goes through the same checks, in the contract's order:
 * bad_utf8, field_count, too_long, then each contract column in the order
 * of source-api.md's column lists (a column's conditional requirement on
 * the dossier status is checked when that column is reached), then
 * bad_order.
 *
 * A struct record_map belongs to one thread: it holds the scratch space
 * that record_convert reuses, so converting a row allocates nothing.
 */
#ifndef ONESTOP_RECORD_H
#define ONESTOP_RECORD_H

#include "buf.h"
#include "field.h"

#include <stddef.h>

/* In the contract's load order. */
enum entity {
	ENTITY_DONVI,
	ENTITY_THUTUC,
	ENTITY_HOSO,
	ENTITY_BOSUNG,
	ENTITY_QUATRINH,
	ENTITY_COUNT
};

/* "donvi", "thutuc", "hoso", "bosung", "quatrinh": also the URL path. */
const char *entity_name(enum entity e);
/* The entity of that exact name, or -1. */
int entity_from_name(const char *name);
/* "stg_donvi", ... */
const char *entity_staging_table(enum entity e);
/* "row_number, unit_code, ...": the column list for COPY, in tuple order. */
const char *entity_staging_columns(enum entity e);

enum reject_reason {
	REJECT_NONE,
	REJECT_FIELD_COUNT,
	REJECT_MISSING_FIELD,
	REJECT_BAD_TIMESTAMP,
	REJECT_BAD_CODE,
	REJECT_BAD_NUMBER,
	REJECT_BAD_UTF8,
	REJECT_TOO_LONG,
	REJECT_BAD_ORDER
};

/* The contract's reason code ("field_count", ...); "" for REJECT_NONE. */
const char *reject_code(enum reject_reason r);

/* Fields longer than this many bytes are too_long. */
#define RECORD_MAX_FIELD 4000

struct record_map;

/*
 * Map an entity's contract columns to a page's header record.  Header
 * names are trimmed, matched case-insensitively, in any order; a leading
 * UTF-8 byte-order mark is skipped.  Unknown columns are carried along
 * (they count for field_count and too_long) and otherwise ignored; a
 * missing optional column reads as empty in every row.
 *
 * Personal columns: the built-in applicant columns (ChuHoSo,
 * SoGiayToChuHoSo, SoDienThoai, Email, DiaChi, NgaySinh) plus
 * personal_extra (a NULL-terminated list, may be NULL), case-insensitive.
 * Their values are never read, only masked in reject raw rows; an optional
 * contract column named there is treated as absent from the header.
 *
 * Returns NULL after appending one message to err (without a newline):
 * "missing required column 'NgayHenTra'" (all missing ones are named),
 * "duplicate column 'X'" for a contract column the header holds twice, or
 * "required column 'X' cannot be personal".
 */
struct record_map *record_map_new(enum entity e, const struct field *header,
				  size_t nfields,
				  const char *const *personal_extra,
				  struct buf *err);
void record_map_free(struct record_map *m);

struct reject {
	enum reject_reason reason;
	/*
	 * The column at fault: the contract's spelling for contract columns,
	 * the header's (trimmed) for others (too_long, bad_utf8: the first
	 * field that fails); for bad_order the later column
	 * ("NgayKetThucXuLy").  NULL for field_count, which is about the
	 * whole row, and for bad_utf8 in a field beyond the header.  Points
	 * into the map.
	 */
	const char *column;
};

/*
 * Convert one data record.
 *
 * 0: one tuple of PostgreSQL's binary COPY format was appended to out, for
 * COPY stg_x (entity_staging_columns) FROM STDIN (FORMAT binary): int16
 * field count, then per field int32 length (-1 = NULL) and the value, all
 * integers in network byte order.  row_number is a bigint; text is its
 * UTF-8 bytes, trimmed of spaces, tabs, CR and LF, unescaped (the row
 * checks guarantee valid UTF-8 without NUL); a word its canonical
 * spelling; timestamps timestamptz (int64 microseconds since 2000-01-01
 * 00:00:00 UTC); codes smallint, numbers int, flags boolean (one byte 0 or
 * 1).  An empty value is NULL, except that an empty optional flag or MucDo
 * takes the contract's default.  The stream around the tuples is
 * copy_binary_header's and copy_binary_trailer's.
 *
 * 1: the row is rejected: *rej says why, out is unchanged, and the raw row
 * was appended to raw as one CSV line (RFC 4180 quoting, no newline) with
 * personal fields, and every field beyond the header's count, written
 * "***", and invalid UTF-8 bytes and NUL written \xNN in lower-case hex
 * (a backslash already in the data is left as it is).  Should raw reach
 * its cap, the line is cut there.
 *
 * -1: the tuple did not fit under out's cap; out is unchanged.  Flush out
 * and call again (a tuple is at most a few tens of kilobytes).
 */
int record_convert(struct record_map *m, const struct field *fields,
		   size_t nfields, long long row_number, struct buf *out,
		   struct reject *rej, struct buf *raw);

/*
 * Append the start of a binary COPY stream (signature, flags 0, no header
 * extension) or its end (the int16 -1 trailer).  0, or -1 when b's cap was
 * reached (b unchanged).
 */
int copy_binary_header(struct buf *b);
int copy_binary_trailer(struct buf *b);

/*
 * Append s[0..len) escaped for COPY text format (backslash, tab, LF and CR
 * as \\ \t \n \r), for the reject store and the rules' tables; staging
 * rows are binary.  0, or -1 when b's cap was reached (b may then hold a
 * part of the value).
 */
int copy_escape(struct buf *b, const char *s, size_t len);

#endif
