/*
 * utf8.h - strict UTF-8 checks (Unicode table 3-7): no overlong forms, no
 * surrogates, nothing above U+10FFFF.  NUL counts as invalid too, because a
 * PostgreSQL text value cannot hold it and the contract rejects it.
 */
#ifndef ONESTOP_UTF8_H
#define ONESTOP_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The length (1..4) of the character that starts s[0..len), or 0 when the
 * bytes there are not a valid, complete character or are NUL.  len > 0.
 */
size_t utf8_char_len(const unsigned char *s, size_t len);

/* Whether all of s[0..len) is valid UTF-8 without NUL. */
bool utf8_valid(const char *s, size_t len);

#endif
