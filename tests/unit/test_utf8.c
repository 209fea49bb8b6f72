#include "utf8.h"
#include "util.h"
#include "testhelp.h"

#include <stdlib.h>

/*
 * Whether s[0..len) is valid, read from a copy of exactly len bytes, so
 * that AddressSanitizer sees a read past the end.
 */
static bool valid(const char *s, size_t len)
{
	char *copy = malloc(len ? len : 1);
	bool ok;

	memcpy(copy, s, len);
	ok = utf8_valid(copy, len);
	free(copy);
	return ok;
}

static bool valid_str(const char *s)
{
	return valid(s, strlen(s));
}

/* Table 3-7's edges, one character at a time. */
static void test_rules(void)
{
	CHECK(valid_str(""));
	CHECK(valid_str("a"));
	CHECK(valid("\0", 1) == false);
	CHECK(valid_str("\x7f"));
	CHECK(valid_str("\xc2\x80"));
	CHECK(valid_str("\xdf\xbf"));
	CHECK(!valid_str("\xc0\xaf")); /* overlong */
	CHECK(!valid_str("\xc1\xbf"));
	CHECK(!valid_str("\x80"));
	CHECK(!valid_str("\xbf"));
	CHECK(!valid_str("\xc3"));
	CHECK(!valid_str("\xc3\xc3"));
	CHECK(valid_str("\xe0\xa0\x80"));
	CHECK(!valid_str("\xe0\x9f\xbf")); /* overlong */
	CHECK(valid_str("\xed\x9f\xbf"));
	CHECK(!valid_str("\xed\xa0\x80")); /* surrogates */
	CHECK(!valid_str("\xed\xbf\xbf"));
	CHECK(valid_str("\xee\x80\x80"));
	CHECK(valid_str("\xef\xbf\xbf"));
	CHECK(!valid_str("\xe1\x80"));
	CHECK(!valid_str("\xe1\x80\x7f"));
	CHECK(valid_str("\xf0\x90\x80\x80"));
	CHECK(!valid_str("\xf0\x8f\xbf\xbf")); /* overlong */
	CHECK(valid_str("\xf4\x8f\xbf\xbf"));
	CHECK(!valid_str("\xf4\x90\x80\x80")); /* above U+10FFFF */
	CHECK(!valid_str("\xf5\x80\x80\x80"));
	CHECK(!valid_str("\xff"));
	CHECK(!valid_str("\xf1\x80\x80"));
	CHECK(!valid_str("\xf1\x80\x80\xc0"));
	CHECK_INT(utf8_char_len((const unsigned char *)"\xe1\xba\xa5", 3), 3);
	CHECK_INT(utf8_char_len((const unsigned char *)"\xe1\xba\xa5", 2), 0);
	CHECK_INT(utf8_char_len((const unsigned char *)"\xc6\xb0x", 3), 2);
	CHECK_INT(utf8_char_len((const unsigned char *)"x", 1), 1);
	CHECK_INT(utf8_char_len((const unsigned char *)"", 1), 0);
}

/*
 * utf8_valid reads eight bytes at a time: put a character, NUL or a bad
 * byte at every place of runs of ASCII around those eight bytes.
 */
static void test_every_position(void)
{
	static const char *const good[] = {"\xc3\xa1", "\xe1\xba\xa5",
					   "\xf0\x9f\x98\x80"};
	/* "" stands for NUL */
	static const char *const bad[] = {
	    "",
	    "\x80",
	    "\xc0",
	    "\xff",
	    "\xed\xa0\x80",
	    "\xe1\xba",
	    "\xf4\x90\x80\x80",
	};
	char s[64];
	int wrong = 0;

	for (size_t len = 1; len <= 24; len++) {
		for (size_t at = 0; at < len; at++) {
			/* a bad byte or NUL ("" + its NUL) in an ASCII run */
			for (size_t b = 0; b < ARRAY_SIZE(bad); b++) {
				size_t n = strlen(bad[b]) ? strlen(bad[b]) : 1;
				if (at + n > len)
					continue;
				memset(s, 'a', len);
				memcpy(s + at, bad[b], n);
				wrong += valid(s, len);
			}
			/* a valid character, also across the eighth byte */
			for (size_t g = 0; g < ARRAY_SIZE(good); g++) {
				size_t n = strlen(good[g]);
				if (at + n > len)
					continue;
				memset(s, 'a', len);
				memcpy(s + at, good[g], n);
				wrong += !valid(s, len);
				/* cut short by the end of the field */
				wrong += valid(s, at + n - 1);
			}
		}
	}
	CHECK_INT(wrong, 0);
}

/* A bad byte after valid characters, in the bytes read a second time. */
static void test_tail(void)
{
	CHECK(valid_str("Nguy\xe1\xbb\x85n V\xc4\x83n A"));
	CHECK(!valid_str("Nguy\xe1\xbb\x85n V\xc4\x83n \x80"));
	CHECK(!valid("Nguy\xe1\xbb\x85n V\xc4\x83n\0A", 15));
	CHECK(valid_str("0123456\xe1\xbb\x85"));
	CHECK(!valid_str("0123456\xe1\xbb"));
	CHECK(valid_str("\xe1\xbb\x85"
			"0123456"));
	CHECK(!valid("\xe1\xbb\x85"
		     "012345\0",
		     10));
	CHECK(!valid("\xe1\xbb\x85\0"
		     "0123456",
		     11));
	CHECK(!valid("\0\x01"
		     "234567",
		     8));
	CHECK(!valid("0123456789abcde\0", 16));
	CHECK(!valid("0123456789abcdef\0", 17));
}

int main(void)
{
	test_rules();
	test_every_position();
	test_tail();
	TEST_REPORT();
}
