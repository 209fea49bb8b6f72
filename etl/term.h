/*
 * term.h - warehouse text made safe to print: on a terminal, in a log
 * line, in JSON and in CSV.
 *
 * Unit names, labels and messages come from thirty sources and from
 * people's files.  Printed raw, "ESC ] 0 ; ... BEL" retitles the
 * operator's terminal, "ESC [ 2 J" clears it, a newline forges a log
 * line, and "=HYPERLINK(...)" runs in the spreadsheet that opens the CSV.
 * Every path that writes such text to stdout, stderr or a report goes
 * through one of these functions.
 *
 * A control character here is C0 (U+0000..U+001F), DEL (U+007F) or C1
 * (U+0080..U+009F: some terminals obey them as 8-bit CSI and OSC).
 * Valid UTF-8 (Vietnamese included, precomposed or not) passes unchanged.
 *
 * Each function appends to out and stops, keeping what fits, when out's
 * cap is reached.
 */
#ifndef ONESTOP_TERM_H
#define ONESTOP_TERM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "buf.h"

/*
 * Text for a terminal or a log line: TAB, LF, VT, FF and CR become one
 * space (they only lay text out, and a line must stay one line); any
 * other control character is shown, not obeyed: "\x1b" for C0 and DEL,
 * "\u009b" for C1; a byte that is not UTF-8 is shown as "\xff".  The
 * result holds only printable characters and is unchanged when cleaned
 * again.
 */
void term_clean(struct buf *out, const char *s);

/*
 * Room for s escaped by any function here (at most 4 bytes a byte, 8
 * with CSV's doubled quotes): a buffer this size never cuts a value, so
 * JSON never loses its closing quote.
 */
size_t term_escaped_cap(const char *s);

/*
 * s cleaned as term_clean does, in b (initialised here with room for all
 * of it); the caller releases b.
 */
const char *term_shown(struct buf *b, const char *s);

/*
 * A JSON string, quotes included: '"' and '\' escaped, every control
 * character as \u00XX (its meaning kept, never raw), a byte that is not
 * UTF-8 as U+FFFD, so the document is valid UTF-8 JSON.
 */
void term_json_string(struct buf *out, const char *s);

/*
 * One CSV cell (RFC 4180): cleaned as term_clean does, then quoted when
 * it holds a comma or a quote (quotes doubled).  A text cell
 * (is_text) that starts with '=', '+', '-', '@', TAB or CR is prefixed
 * with "'" so that a spreadsheet takes it as text, not as a formula
 * (OWASP, "CSV injection"); a numeric cell never is, so that -3.5 stays
 * a number.
 */
void term_csv_cell(struct buf *out, const char *s, bool is_text);

/* The same cell written to out, then ',' or, for the last of a row, '\n'. */
void term_csv_put(FILE *out, const char *s, bool is_text, bool last);

#endif
