#include "utf8.h"

#include <stdint.h>
#include <string.h>

/*
 * Table 3-7 as a chain of tests, in the order a Vietnamese text needs
 * them: two- and three-byte characters go by after a few compares.  A
 * byte past len is never read.
 */
static inline size_t char_len(const unsigned char *s, size_t len)
{
	unsigned char lead = s[0];

	if (lead < 0x80)
		return lead ? 1 : 0;
	/* a continuation byte or C0/C1 (overlong) cannot lead */
	if (lead < 0xc2 || len < 2 || (s[1] & 0xc0) != 0x80)
		return 0;
	if (lead < 0xe0)
		return 2;
	if (len < 3 || (s[2] & 0xc0) != 0x80)
		return 0;
	if (lead < 0xf0) {
		if (lead == 0xe0 && s[1] < 0xa0) /* overlong */
			return 0;
		if (lead == 0xed && s[1] > 0x9f) /* a surrogate */
			return 0;
		return 3;
	}
	if (lead > 0xf4 || len < 4 || (s[3] & 0xc0) != 0x80)
		return 0;
	if (lead == 0xf0 && s[1] < 0x90) /* overlong */
		return 0;
	if (lead == 0xf4 && s[1] > 0x8f) /* above U+10FFFF */
		return 0;
	return 4;
}

size_t utf8_char_len(const unsigned char *s, size_t len)
{
	return char_len(s, len);
}

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/*
 * The 8 bytes at s with the high bit of each byte set that is not ASCII,
 * is NUL, or follows a NUL (Hacker's Delight 6-1: a zero byte borrows from
 * the next); so the lowest bit set is the first byte that is not plain
 * ASCII.  Bytes in memory order from the lowest: little-endian only.
 */
static inline uint64_t not_ascii8(const unsigned char *s)
{
	uint64_t w;

	memcpy(&w, s, sizeof(w));
	return (w | ((w - ONES) & ~w)) & HIGHS;
}

/* The plain ASCII bytes (not NUL) at the start of s[0..len). */
static size_t ascii_run(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len && s[i] - 1u < 0x7f)
		i++;
	return i;
}

/*
 * Most bytes are ASCII, and fields are short: eight bytes are checked at a
 * time, and a field's last ones by reading its last eight bytes again
 * (those before i are already known to be valid, so none is NUL and the
 * borrow cannot mark a byte from i on).  Then one character at the first
 * byte that is not ASCII.
 */
bool utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		if (len >= 8) {
			size_t at = len - i >= 8 ? i : len - 8;
			uint64_t mask = not_ascii8(p + at) >> (8 * (i - at));
			if (!mask) {
				i = at + 8;
				continue;
			}
			i += (size_t)__builtin_ctzll(mask) / 8;
		} else
#endif
		{
			i += ascii_run(p + i, len - i);
			if (i == len)
				break;
		}
		size_t n = char_len(p + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

int utf8_escape(struct buf *b, const char *s, size_t len, bool quotes_doubled)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	int rc = 0;

	for (size_t i = 0; i < len && !rc;) {
		size_t n = char_len(u + i, len - i);
		if (n == 0) {
			char esc[4] = {'\\', 'x', hex[u[i] >> 4], hex[u[i] & 15]};
			rc = buf_add(b, esc, sizeof(esc));
			n = 1;
		} else if (u[i] == '"' && quotes_doubled) {
			rc = buf_add(b, "\"\"", 2);
		} else {
			rc = buf_add(b, u + i, n);
		}
		i += n;
	}
	return rc;
}

const char *utf8_clean(struct buf *b, const char *s)
{
	buf_reset(b);
	utf8_escape(b, s, strlen(s), false);
	return buf_str(b);
}
