/*
 * test_csvstream.c - bytes of a page in, records out, whatever the chunking.
 */
#include "buf.h"
#include "csvstream.h"
#include "testhelp.h"

#include <stdlib.h>
#include <string.h>

/*
 * Records are written down as "N:f1|f2|...\n" with every byte outside
 * printable ASCII as \xNN, so whole runs compare as one string.
 */
struct capture {
	struct buf out;
	long calls;
	int stop_at; /* return 7 from this record on, -1 never */
};

static void dump_field(struct buf *out, const struct field *f)
{
	for (size_t i = 0; i < f->len; i++) {
		unsigned char c = (unsigned char)f->ptr[i];
		if (c < 0x20 || c >= 0x7f || c == '\\' || c == '|')
			buf_addf(out, "\\x%02x", c);
		else
			buf_addc(out, (char)c);
	}
}

static int capture_record(void *ctx, long record_no, const struct field *fields,
			  size_t nfields)
{
	struct capture *cap = ctx;

	buf_addf(&cap->out, "%ld:", record_no);
	for (size_t i = 0; i < nfields; i++) {
		if (i)
			buf_addc(&cap->out, '|');
		dump_field(&cap->out, &fields[i]);
		/* promised: a NUL after every field */
		if (fields[i].ptr[fields[i].len] != '\0')
			buf_adds(&cap->out, "<no NUL>");
	}
	buf_addc(&cap->out, '\n');
	cap->calls++;
	return cap->stop_at >= 0 && record_no >= cap->stop_at ? 7 : 0;
}

/* Parse in chunks of `chunk` bytes (0 = whole); "" + error on failure. */
static char *parse_chunked(const char *in, size_t len, size_t chunk,
			   size_t cap_bytes, size_t field_cap, char **err)
{
	struct capture cap = {.calls = 0, .stop_at = -1};
	struct csvstream *cs;
	int ret = 0;
	char *result;

	buf_init(&cap.out, 1 << 24);
	cs = csvstream_new(cap_bytes, field_cap, capture_record, &cap);
	if (!chunk)
		chunk = len ? len : 1;
	for (size_t off = 0; off < len && !ret; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;
		ret = csvstream_feed(cs, in + off, n);
	}
	if (!ret)
		ret = csvstream_finish(cs);
	if (err)
		*err = ret ? strdup(csvstream_error(cs)) : NULL;
	result = strdup(ret ? "" : buf_str(&cap.out));
	buf_release(&cap.out);
	csvstream_free(cs);
	return result;
}

/* Every chunking (0 = whole) must give `want`, with that field cap. */
static void check_chunkings(const char *in, size_t len, const size_t *chunks,
			    size_t nchunks, size_t field_cap, const char *want)
{
	for (size_t i = 0; i < nchunks; i++) {
		char *err = NULL;
		char *got =
		    parse_chunked(in, len, chunks[i], 1 << 20, field_cap, &err);
		if (strcmp(got, want) != 0)
			fprintf(stderr, "chunk %zu: err '%s'\n", chunks[i],
				err ? err : "");
		CHECK_STR(got, want);
		free(got);
		free(err);
	}
}

/* Whole, byte by byte and in small chunks must all give `want`. */
static void check_parse(const char *in, size_t len, const char *want)
{
	static const size_t chunks[] = {0, 1, 2, 3, 7};

	check_chunkings(in, len, chunks, sizeof(chunks) / sizeof(chunks[0]), 0,
			want);
}

#define PARSE(lit, want) check_parse(lit, sizeof(lit) - 1, want)

static void check_error(const char *in, size_t len, size_t cap_bytes,
			const char *want_err)
{
	static const size_t chunks[] = {0, 1, 5};

	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		char *err = NULL;
		char *got = parse_chunked(in, len, chunks[i], cap_bytes, 0, &err);
		CHECK_STR(got, "");
		CHECK_STR(err, want_err);
		free(got);
		free(err);
	}
}

#define PARSE_ERR(lit, cap, want) check_error(lit, sizeof(lit) - 1, cap, want)

static void test_basics(void)
{
	PARSE("a,b\r\n1,2\r\n", "0:a|b\n1:1|2\n");
	PARSE("a,b\n1,2\n", "0:a|b\n1:1|2\n");
	PARSE("a,b\n1,2", "0:a|b\n1:1|2\n"); /* no final line end */
	PARSE("a,b\r\n1,2\r", "0:a|b\n1:1|2\n");
	PARSE("", "");
	PARSE("h\n", "0:h\n");
	PARSE("a,b\r\n\r\n\n1,2\n\n\r\n3,4\n\n", "0:a|b\n1:1|2\n2:3|4\n");
	PARSE("\n\na\n", "0:a\n");
}

static void test_bom(void)
{
	PARSE("\xEF\xBB\xBF"
	      "a,b\n1,2\n",
	      "0:a|b\n1:1|2\n");
	PARSE("\xEF\xBB\xBF", "");
	PARSE("\xEF\xBB\xBF\r\n", "");
	/* only at the page start; elsewhere it is data */
	PARSE("a\n\xEF\xBB\xBF\n", "0:a\n1:\\xef\\xbb\\xbf\n");
	PARSE("\xEF\xBB"
	      "x,y\n",
	      "0:\\xef\\xbbx|y\n");
	PARSE("\xEF", "0:\\xef\n");
	PARSE("\xEF\xBB", "0:\\xef\\xbb\n");
	PARSE("\xEF\xBB\xBF\xEF\xBB\xBF"
	      "a\n",
	      "0:\\xef\\xbb\\xbfa\n");
}

static void test_quotes(void)
{
	PARSE("\"a,b\",\"say \"\"hi\"\"\"\n", "0:a,b|say \"hi\"\n");
	PARSE("\"line1\r\nline2\",\"x\ny\",\"cr\ronly\"\r\nz,w\r\n",
	      "0:line1\\x0d\\x0aline2|x\\x0ay|cr\\x0donly\n1:z|w\n");
	PARSE("\"\"\"\"\n", "0:\"\n");
	/* spaces after a closing quote are not text after it */
	PARSE("\"a\"  ,\"b\" \n", "0:a|b\n");
	/* blank lines inside quotes are data, not skipped */
	PARSE("\"a\n\nb\"\n", "0:a\\x0a\\x0ab\n");
}

/*
 * Malformed CSV fails the page, naming line and byte: read leniently, the
 * rows after it would be glued into one field (issue 14, defect 1).
 */
static void test_strict(void)
{
	/* text after a closing quote: the writer forgot to double its quotes */
	PARSE_ERR("h,x\n1,2\n\"Du dieu kien\" chuyen lanh dao,3\n4,5\n", 1 << 20,
		  "line 3, byte 24: 'c' after a closing quote (a quote not "
		  "doubled?)");
	/* a quote inside an unquoted field */
	PARSE_ERR("h,x\nab\"c,d\n", 1 << 20,
		  "line 2, byte 7: quote inside an unquoted field");
	/* a quote after a closing quote and a space */
	PARSE_ERR("h\n\"a\" \"b\"\n", 1 << 20,
		  "line 2, byte 7: '\"' after a closing quote (a quote not "
		  "doubled?)");
	/* lines inside a quoted field count, and a BOM counts as bytes */
	PARSE_ERR("\xEF\xBB\xBFh\n\"a\nb\"x\n", 1 << 20,
		  "line 3, byte 11: 'x' after a closing quote (a quote not "
		  "doubled?)");
	PARSE_ERR("h\n\"a\"\xc3\xa1\n", 1 << 20,
		  "line 2, byte 6: byte \\xc3 after a closing quote (a quote "
		  "not doubled?)");
}

static void test_empty_fields(void)
{
	PARSE("a,,\"\",b\n", "0:a|||b\n");
	PARSE(",\n", "0:|\n");
	PARSE("\"\"\n", "0:\n");
	PARSE("a,\n,b\n", "0:a|\n1:|b\n");
	PARSE("a,b,\r\n", "0:a|b|\n");
}

static void test_bytes_pass_through(void)
{
	PARSE("a\0b,\xff\xfe,\xC3\n", "0:a\\x00b|\\xff\\xfe|\\xc3\n");
	PARSE("\"q\0\",x\n", "0:q\\x00|x\n");
	/* spaces around values go, tabs stay, quoted spaces stay */
	PARSE(" a , b\t,\" c \"\n", "0:a|b\\x09| c \n");
}

static void test_unterminated_quote(void)
{
	PARSE_ERR("a,b\n1,\"open\n2,3\n", 1 << 20,
		  "record 1 never closes its quote (the page ends at line 4)");
	PARSE_ERR("\"", 1 << 20,
		  "record 0 never closes its quote (the page ends at line 1)");
	PARSE_ERR("h\n\"abc\"\"", 1 << 20,
		  "record 1 never closes its quote (the page ends at line 2)");
	/* a closing quote as the very last byte is fine */
	PARSE("h\n\"abc\"", "0:h\n1:abc\n");
	PARSE("h\n\"abc\"\"\"", "0:h\n1:abc\"\n");
}

static void test_cap(void)
{
	/* exactly at the cap passes: 10 bytes + one delimiter = 11 */
	PARSE_ERR("h\n0123456789a\n", 10, "record 1: over 10 bytes");
	PARSE_ERR("h\n\"0123456789a\"\n", 10, "record 1: over 10 bytes");
	{
		char *err = NULL;
		char *got =
		    parse_chunked("h\n012345678\n", 12, 1, 10, 0, &err);
		CHECK_STR(got, "0:h\n1:012345678\n");
		CHECK(err == NULL);
		free(got);
		free(err);
	}
	PARSE_ERR("h\n1,2,3,4,5,6\n", 10, "record 1: over 10 bytes");
}

/* A field past the field cap is cut, the same way however it was fed. */
static void check_field_cut(const char *in, size_t len, const char *want)
{
	static const size_t chunks[] = {0, 1, 3, 4096, 20000};

	check_chunkings(in, len, chunks, sizeof(chunks) / sizeof(chunks[0]), 8,
			want);
}

static void test_field_cut(void)
{
	struct buf page;

	/* at the cap: whole; one past: the first cap + 1 bytes */
	check_field_cut("h\n12345678,x\n", 13, "0:h\n1:12345678|x\n");
	check_field_cut("h\n123456789AB,x\n", 16, "0:h\n1:123456789|x\n");
	/* never inside a character: á is c3 a1 */
	check_field_cut("h\n12345678\xc3\xa1xx,x\n", 17,
			"0:h\n1:12345678\\xc3\\xa1|x\n");
	/* trailing spaces are trimmed, not content, however many */
	buf_init(&page, 1 << 22);
	buf_adds(&page, "h,x\nab");
	for (int i = 0; i < 100000; i++)
		buf_addc(&page, ' ');
	buf_adds(&page, ",1\n\"q");
	for (int i = 0; i < 100000; i++)
		buf_addc(&page, 'z');
	buf_adds(&page, "\"   ,2\nc");
	for (int i = 0; i < 50000; i++)
		buf_addc(&page, ' ');
	buf_adds(&page, "d,3\n");
	check_field_cut(page.data, page.len,
			"0:h|x\n1:ab|1\n2:qzzzzzzzz|2\n3:c        |3\n");
	buf_release(&page);
}

/*
 * A runaway quote, or a 1 MB value in an extra column, costs a field's cap
 * of memory, not the page's size (issue 14, defect 4).
 */
static void test_cap_streaming(void)
{
	const size_t chunk = 64 * 1024;
	char *block = malloc(chunk);
	struct capture cap = {.calls = 0, .stop_at = -1};
	struct csvstream *cs;
	size_t most = 0;
	int ret = 0;

	memset(block, 'x', chunk);
	buf_init(&cap.out, 1 << 20);
	cs = csvstream_new(1 << 20, 4000, capture_record, &cap);
	CHECK_INT(csvstream_feed(cs, "h\n\"", 3), 0);
	for (int i = 0; i < 512 && !ret; i++) { /* 32 MiB */
		ret = csvstream_feed(cs, block, chunk);
		if (csvstream_held(cs) > most)
			most = csvstream_held(cs);
	}
	CHECK_INT(ret, 0);
	CHECK(most < 64 * 1024);
	CHECK_INT(csvstream_finish(cs), -1);
	CHECK_STR(csvstream_error(cs),
		  "record 1 never closes its quote (the page ends at line 2)");
	CHECK_INT(csvstream_error_record(cs), 1);
	CHECK_INT(csvstream_feed(cs, "a", 1), -1);
	CHECK_INT(csvstream_finish(cs), -1);

	/* a reset makes it usable again, for a retry of the page */
	csvstream_reset(cs);
	buf_reset(&cap.out);
	cap.calls = 0;
	CHECK_STR(csvstream_error(cs), "");
	CHECK_INT(csvstream_error_record(cs), -1);
	CHECK_INT(csvstream_feed(cs, "\xEF\xBB\xBFk\nv\n", 7), 0);
	CHECK_INT(csvstream_finish(cs), 0);
	CHECK_STR(buf_str(&cap.out), "0:k\n1:v\n");
	CHECK_INT(cap.calls, 2);

	/* an endless page: past 64 MiB, a quote that never closes */
	csvstream_reset(cs);
	CHECK_INT(csvstream_feed(cs, "h\n\"", 3), 0);
	ret = 0;
	for (int i = 0; i < 2048 && !ret; i++)
		ret = csvstream_feed(cs, block, chunk);
	CHECK_INT(ret, -1);
	CHECK_STR(csvstream_error(cs), "line 2: a field runs over 64 MiB (a "
				       "quote that never closes?)");

	/* the closing quote comes: a too-long field, and the page goes on */
	csvstream_reset(cs);
	buf_reset(&cap.out);
	cap.calls = 0;
	CHECK_INT(csvstream_feed(cs, "h,i\n\"", 5), 0);
	for (int i = 0; i < 32; i++)
		CHECK_INT(csvstream_feed(cs, block, chunk), 0);
	CHECK_INT(csvstream_feed(cs, "\",1\n2,3\n", 8), 0);
	CHECK_INT(csvstream_finish(cs), 0);
	CHECK_INT(cap.calls, 3);
	CHECK(csvstream_held(cs) < 64 * 1024);

	csvstream_free(cs);
	buf_release(&cap.out);
	free(block);
}

static void test_callback_abort(void)
{
	struct capture cap = {.calls = 0, .stop_at = 1};
	struct csvstream *cs;

	buf_init(&cap.out, 1 << 20);
	cs = csvstream_new(1 << 20, 0, capture_record, &cap);
	CHECK_INT(csvstream_feed(cs, "h\n1\n2\n3\n", 8), 7);
	CHECK_INT(cap.calls, 2);
	CHECK_INT(csvstream_feed(cs, "4\n", 2), -1);
	CHECK_INT(csvstream_finish(cs), -1);
	CHECK_INT(cap.calls, 2);

	/* an abort from the record that finish flushes */
	csvstream_reset(cs);
	cap.calls = 0;
	CHECK_INT(csvstream_feed(cs, "h\n1", 3), 0);
	CHECK_INT(csvstream_finish(cs), 7);
	CHECK_INT(cap.calls, 2);

	csvstream_free(cs);
	buf_release(&cap.out);
	csvstream_free(NULL);
}

/* A larger, messier page: every chunking gives the same records. */
static void test_chunking_equivalence(void)
{
	struct buf page;
	char *whole, *err = NULL;

	buf_init(&page, 1 << 20);
	buf_adds(&page, "\xEF\xBB\xBFMaHoSo,TenTTHC,Ghi chu\r\n");
	for (int i = 0; i < 200; i++) {
		buf_addf(&page,
			 "HS%04d,\"Th\xE1\xBB\xA7 t\xE1\xBB\xA5"
			 "c \"\"%d\"\", l\xC3\xA0m\",",
			 i, i);
		if (i % 3 == 0)
			buf_adds(&page, "\"multi\r\nline\"");
		else if (i % 3 == 1)
			buf_add(&page, "nul\0byte\xff", 9);
		buf_adds(&page, i % 2 ? "\r\n" : "\n");
		if (i % 17 == 0)
			buf_adds(&page, "\r\n\n");
	}
	whole = parse_chunked(page.data, page.len, 0, 1 << 20, 0, &err);
	CHECK(err == NULL);
	CHECK(strncmp(whole, "0:MaHoSo|TenTTHC|Ghi chu\n1:HS0000|Th\\xe1",
		      38) == 0);
	CHECK(strstr(whole, "\n200:HS0199|") != NULL);
	for (size_t chunk = 1; chunk <= 13; chunk++) {
		char *got =
		    parse_chunked(page.data, page.len, chunk, 1 << 20, 0, NULL);
		CHECK_STR(got, whole);
		free(got);
	}
	free(whole);
	free(err);
	buf_release(&page);
}

/* Everything a run yields, records and error, as one string. */
static char *run_all(const char *in, size_t len, size_t chunk, size_t cap_bytes)
{
	struct capture cap = {.calls = 0, .stop_at = -1};
	struct csvstream *cs = csvstream_new(cap_bytes, 0, capture_record, &cap);
	int ret = 0;
	char *result;

	buf_init(&cap.out, 1 << 20);
	for (size_t off = 0; off < len && !ret; off += chunk)
		ret = csvstream_feed(cs, in + off,
				     len - off < chunk ? len - off : chunk);
	if (!ret)
		ret = csvstream_finish(cs);
	buf_addf(&cap.out, "=%d %s", ret, csvstream_error(cs));
	result = strdup(buf_str(&cap.out));
	buf_release(&cap.out);
	csvstream_free(cs);
	return result;
}

/* Random pages from a nasty alphabet, small caps: chunking never matters. */
static void test_random_chunking(void)
{
	static const char alphabet[] = {'a', ',',    '"',    '\r',   '\n',
					' ', '\xEF', '\xBB', '\xBF', '\0'};
	unsigned int seed = 12345;
	int mismatches = 0;

	for (int iter = 0; iter < 3000; iter++) {
		char in[48];
		size_t len = (size_t)rand_r(&seed) % sizeof(in);
		size_t cap_bytes = 4 + (size_t)rand_r(&seed) % 24;
		char *whole;

		for (size_t i = 0; i < len; i++)
			in[i] =
			    alphabet[(size_t)rand_r(&seed) % sizeof(alphabet)];
		whole = run_all(in, len, len ? len : 1, cap_bytes);
		for (size_t chunk = 1; chunk <= 5; chunk++) {
			char *got = run_all(in, len, chunk, cap_bytes);
			if (strcmp(got, whole) != 0 && mismatches++ < 3)
				fprintf(stderr, "chunk %zu: '%s' vs '%s'\n",
					chunk, got, whole);
			free(got);
		}
		free(whole);
	}
	CHECK_INT(mismatches, 0);
}

int main(void)
{
	test_basics();
	test_bom();
	test_quotes();
	test_strict();
	test_empty_fields();
	test_bytes_pass_through();
	test_unterminated_quote();
	test_cap();
	test_field_cut();
	test_cap_streaming();
	test_callback_abort();
	test_chunking_equivalence();
	test_random_chunking();
	TEST_REPORT();
}
