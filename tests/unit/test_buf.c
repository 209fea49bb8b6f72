#include "buf.h"
#include "testhelp.h"

/* Appends that land exactly on the cap, one byte past it, and in between. */
static void test_cap(void)
{
	struct buf b;

	buf_init(&b, 10);
	CHECK_INT(buf_add(&b, "0123456789x", 11), -1);
	CHECK(b.data == NULL);
	CHECK_STR(buf_str(&b), "");
	CHECK_INT(buf_add(&b, "0123", 4), 0);
	CHECK_INT(buf_add(&b, "456789x", 7), -1); /* all or nothing */
	CHECK_STR(buf_str(&b), "0123");
	CHECK_INT(buf_add(&b, "45678", 5), 0);
	CHECK_INT(buf_addc(&b, '9'), 0); /* len == cap is allowed */
	CHECK_INT(buf_addc(&b, 'x'), -1);
	CHECK_INT(buf_add(&b, "", 0), 0);
	CHECK_INT(buf_adds(&b, "x"), -1);
	CHECK_INT(buf_addf(&b, "%d", 1), -1);
	CHECK_STR(buf_str(&b), "0123456789");
	CHECK_INT(b.len, 10);
	CHECK(b.alloc <= 11);
	buf_reset(&b);
	CHECK_STR(buf_str(&b), "");
	CHECK_INT(buf_addf(&b, "%s-%d", "ab", 12345), 0);
	CHECK_INT(buf_addf(&b, "%d", 1234), -1);
	CHECK_STR(buf_str(&b), "ab-12345");
	buf_release(&b);

	buf_init(&b, 0);
	CHECK_INT(buf_add(&b, "", 0), 0);
	CHECK_STR(buf_str(&b), "");
	CHECK_INT(buf_addc(&b, 'a'), -1);
	buf_release(&b);
}

/*
 * Byte by byte past every power-of-two allocation: the inline path and the
 * one that grows must agree on contents, length and the NUL after them.
 */
static void test_growth(void)
{
	struct buf b;
	char want[1000];
	int bad = 0;

	buf_init(&b, sizeof(want));
	for (size_t i = 0; i < sizeof(want); i++) {
		want[i] = (char)('a' + i % 26);
		int rc =
		    i % 3 ? buf_addc(&b, want[i]) : buf_add(&b, &want[i], 1);
		if (rc != 0 || b.len != i + 1 || b.data[b.len] != '\0' ||
		    memcmp(b.data, want, i + 1) != 0)
			bad++;
	}
	CHECK_INT(bad, 0);
	CHECK_INT(buf_addc(&b, 'x'), -1);
	CHECK_INT(b.len, sizeof(want));
	buf_release(&b);

	/* appends that each fill what is left, then one byte more */
	buf_init(&b, 300);
	CHECK_INT(buf_add(&b, want, 63), 0); /* 64 bytes with the NUL */
	CHECK_INT(buf_add(&b, want, 1), 0);  /* must grow */
	CHECK_INT(b.len, 64);
	CHECK_INT(b.data[64], '\0');
	CHECK_INT(buf_add(&b, want, 236), 0);
	CHECK_INT(buf_add(&b, want, 1), -1);
	CHECK_INT(b.len, 300);
	CHECK(memcmp(b.data + 64, want, 236) == 0);
	buf_release(&b);
}

int main(void)
{
	test_cap();
	test_growth();
	TEST_REPORT();
}
