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
 *   - fields are RFC 4180: a quoted field may hold commas, CR, LF and doubled
 *     quotes; a quote inside an unquoted field is taken literally (liberal,
 *     as libcsv is outside strict mode);
 *   - spaces around a field are dropped (source-api.md trims values anyway);
 *     tabs, NUL and invalid UTF-8 pass through unchanged for record.c to judge;
 *   - an empty field and a quoted empty field ("") are both len 0: whether
 *     that means NULL is the record module's business.
 *
 * Memory is bounded: a record whose fields (plus one byte per delimiter)
 * pass max_record_bytes fails the page at that point, whatever libcsv would
 * have buffered, so an unterminated quote cannot eat the machine.
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

/* max_record_bytes: the largest record (and so field) accepted, e.g. 1 MiB */
struct csvstream *csvstream_new(size_t max_record_bytes, csvstream_record_fn fn,
				void *ctx);
void csvstream_free(struct csvstream *cs);

/* Forget everything fed so far: the start of a new page, or of a retry. */
void csvstream_reset(struct csvstream *cs);

/*
 * Parse len more bytes of the page.  Returns 0; the callback's non-zero
 * value; or -1 when the page is malformed (a record over the cap), with
 * the reason in csvstream_error().  After a non-zero return every further
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
 * Why the last -1 happened, e.g. "record 12: quoted field never closes";
 * "" when there was none.  The string lives until the next reset.
 */
const char *csvstream_error(const struct csvstream *cs);

/* The record the last error was found in (0 = header), -1 if none. */
long csvstream_error_record(const struct csvstream *cs);

/* Records delivered since the last reset. */
long csvstream_records(const struct csvstream *cs);

#endif
