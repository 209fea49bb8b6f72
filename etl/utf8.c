#include "utf8.h"

/* The range a multi-byte lead byte allows for its first continuation byte. */
static bool second_byte_ok(unsigned char lead, unsigned char next)
{
	switch (lead) {
	case 0xe0:
		return next >= 0xa0 && next <= 0xbf; /* else overlong */
	case 0xed:
		return next >= 0x80 && next <= 0x9f; /* else a surrogate */
	case 0xf0:
		return next >= 0x90 && next <= 0xbf; /* else overlong */
	case 0xf4:
		return next >= 0x80 && next <= 0x8f; /* else above U+10FFFF */
	default:
		return next >= 0x80 && next <= 0xbf;
	}
}

static size_t sequence_len(unsigned char lead)
{
	if (lead >= 0xc2 && lead <= 0xdf)
		return 2;
	if (lead >= 0xe0 && lead <= 0xef)
		return 3;
	if (lead >= 0xf0 && lead <= 0xf4)
		return 4;
	return 0; /* a continuation byte, C0/C1 (overlong) or F5..FF */
}

size_t utf8_char_len(const unsigned char *s, size_t len)
{
	if (s[0] < 0x80)
		return s[0] ? 1 : 0;
	size_t n = sequence_len(s[0]);
	if (n == 0 || n > len || !second_byte_ok(s[0], s[1]))
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

bool utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		/* most of the data is ASCII: take it a byte at a time */
		if (p[i] >= 0x01 && p[i] < 0x80) {
			i++;
			continue;
		}
		size_t n = utf8_char_len(p + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}
