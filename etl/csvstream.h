/*
 * csvstream.h - the bytes of one CSV page in, one callback per record out
 * (a thin, bounded wrapper around libcsv's push parser).
 *
 * The consumer feeds a page's decompressed body in chunks of any size; a
 * chunk may end anywhere, also inside a UTF-8 sequence, a CRLF or a quoted
 * field.  What the module does with the bytes:
 *
 *   - a UTF-8 byte-order mark at the start of the page is skipped;
 *   - records end in CRLF, LF or CR; blank lines are skipped and do not count;
 *   - fields are RFC 4180, read strictly: a quoted field may hold commas,
 *     CR, LF and doubled quotes; a quote inside an unquoted field, anything
 *     but spaces, a comma or a line end after a closing quote, and a quoted
 *     field still open at the end of the page make the page malformed.  A
 *     lenient reader would glue the following rows into one field, and
 *     rows would vanish without a reject (source-api.md);
 *   - spaces around a field are dropped (source-api.md trims values anyway);
 *     tabs, NUL and invalid UTF-8 pass through unchanged for record.c to judge;
 *   - an empty field and a quoted empty field ("") are both len 0: whether
 *     that means NULL is the record module's business.
 *
 * Memory is bounded, and a long field is not an error: a field longer than
 * max_field_bytes is handed on still longer than that, so the consumer sees
 * that it is too long, but cut (between UTF-8 characters) after at most
 * max_field_bytes + 16 KiB: the rest of it is never buffered.  A record whose
 * fields so kept (plus one byte per delimiter) pass max_record_bytes -- a
 * record of thousands of fields -- fails the page, and so does a field
 * that runs over 64 MiB (a quote that never closes on an endless page).
 *
 * An error names where it was found: the line (from 1, counting every LF of
 * the page, also those inside quotes) and the byte of the page (from 1, a
 * byte-order mark included), e.g. "line 7, byte 412: 'c' after a closing
 * quote".
 *
 * Records are numbered within the page from 0 (the header); blank lines are
 * not records.  A page that is fed again (a retry) starts with
 * csvstream_reset().
 */
#ifndef ONESTOP_CSVSTREAM_H
#define ONESTOP_CSVSTREAM_H

#include "field.h"

#include <stddef.h>

struct csvstream;

/*
 * Called once per record.  fields[i].ptr points into the module's buffer
 * and is valid only during the call; each field is followed by a NUL byte
 * (not counted in len), though a field may itself hold NUL.  A non-zero
 * return stops the feed: csvstream_feed() or csvstream_finish() returns
 * that value, and the stream must be reset before it is fed again.
 */
typedef int (*csvstream_record_fn)(void *ctx, long record_no,
				   const struct field *fields, size_t nfields);

/*
 * max_record_bytes: the largest record kept, e.g. 1 MiB; max_field_bytes:
 * where a field is cut, e.g. 4000 (0: max_record_bytes).
 */
struct csvstream *csvstream_new(size_t max_record_bytes, size_t max_field_bytes,
				csvstream_record_fn fn, void *ctx);
void csvstream_free(struct csvstream *cs);

/* Forget everything fed so far: the start of a new page, or of a retry. */
void csvstream_reset(struct csvstream *cs);

/*
 * Parse len more bytes of the page.  Returns 0; the callback's non-zero
 * value; or -1 when the page is malformed (CSV that is not RFC 4180, or a
 * record over the cap), with the reason in csvstream_error().  After a non-zero return every further
 * feed or finish returns -1 until csvstream_reset().
 */
int csvstream_feed(struct csvstream *cs, const char *data, size_t len);

/*
 * The end of the page: deliver the last record if it had no line end.
 * Returns 0, the callback's non-zero value, or -1 when a quoted field
 * never closed (the page is malformed).
 */
int csvstream_finish(struct csvstream *cs);

/*
 * Why the last -1 happened, e.g. "line 12, byte 3051: quote inside an
 * unquoted field"; "" when there was none.  The string lives until the
 * next reset.
 */
const char *csvstream_error(const struct csvstream *cs);

/* The record the last error was found in (0 = header), -1 if none. */
long csvstream_error_record(const struct csvstream *cs);

/* Bytes held for the record being read (what the bounds above bound). */
size_t csvstream_held(const struct csvstream *cs);

#endif
