/*
 * utf8.h - strict UTF-8 checks (Unicode table 3-7): no overlong forms, no
 * surrogates, nothing above U+10FFFF.  NUL counts as invalid too, because a
 * PostgreSQL text value cannot hold it and the contract rejects it.
 */
#ifndef ONESTOP_UTF8_H
#define ONESTOP_UTF8_H

#include "buf.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * The length (1..4) of the character that starts s[0..len), or 0 when the
 * bytes there are not a valid, complete character or are NUL.  len > 0.
 */
size_t utf8_char_len(const unsigned char *s, size_t len);

/* Whether all of s[0..len) is valid UTF-8 without NUL. */
bool utf8_valid(const char *s, size_t len);

/*
 * Append s[0..len) to b with every byte that is not part of a valid
 * character, and NUL, written \xNN in lower-case hex (a backslash already
 * there is left as it is); with quotes_doubled, '"' is written twice, as
 * inside a quoted CSV field.  What comes out is valid UTF-8 without NUL:
 * text PostgreSQL stores and a terminal shows.  0, or -1 at b's cap (b
 * may then hold a part).
 */
int utf8_escape(struct buf *b, const char *s, size_t len, bool quotes_doubled);

/* utf8_escape of a NUL-terminated string, into b (reset first). */
const char *utf8_clean(struct buf *b, const char *s);

#endif
