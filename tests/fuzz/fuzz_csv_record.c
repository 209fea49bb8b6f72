/*
 * fuzz_csv_record.c - libFuzzer target over the CSV-to-record path: the
 * bytes of one page through csvstream into record_map_new() and
 * record_convert(), as pipeline.c drives them.
 *
 * Input: byte 0 chooses the entity (byte % 5) and two options (byte / 5:
 * bit 0 adds personal_columns, bit 1 makes the record cap small, so that
 * short inputs reach it); byte 1 the chunk size of the second pass; the
 * rest is the page.
 *
 * Besides what the sanitizers catch, every page is read twice, once in one
 * piece and once in small chunks through a reset stream (a retry), and the
 * two readings must agree to the byte; and everything that would go to
 * PostgreSQL must be what binary COPY and the reject store expect: whole
 * tuples of the staging table's types (read back by tests/unit/pgcopy.h),
 * a positive row number, text of valid UTF-8 without NUL.
 *
 * tests/unit/test_fuzz_corpus.c includes this file and runs every file of
 * tests/fuzz/corpus/ through LLVMFuzzerTestOneInput() under ASan/UBSan.
 */
#include "buf.h"
#include "csvstream.h"
#include "record.h"

#include "../unit/pgcopy.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_ASSERT(cond)                                                      \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: invariant broken: %s\n",       \
				__FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

#define FUZZ_RECORD_CAP (1024 * 1024) /* as pipeline.c's MAX_RECORD */
#define FUZZ_SMALL_CAP 600
#define FUZZ_OUT_CAP (8 * 1024) /* small: the flush path runs too */
#define FUZZ_LOG_CAP (64 * 1024 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const personal_extra[] = {"NguoiXuLy", "GhiChuNoiBo",
					     "TenLinhVuc", NULL};

/* One reading of the page; log is what the two readings compare. */
struct pass {
	enum entity entity;
	const char *const *extra;
	struct record_map *map;
	struct buf out; /* COPY tuples, flushed into log when full */
	struct buf raw;
	struct buf err;
	struct buf log;
	struct buf text; /* a tuple read back */
	size_t nheader;
	long long row_number;
	long records; /* delivered by the stream, the header included */
	const char *types; /* the staging table's, for pgcopy_tuple */
};

/*
 * UTF-8 as PostgreSQL takes it, decoded here a second, independent way
 * (not utf8.c's tables): no NUL, no overlong form, no surrogate, nothing
 * above U+10FFFF.
 */
static int text_ok(const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;

	for (size_t i = 0; i < len;) {
		unsigned long cp;
		size_t n;

		if (s[i] == 0)
			return 0;
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		n = s[i] >= 0xf0 ? 4 : s[i] >= 0xe0 ? 3 : s[i] >= 0xc0 ? 2 : 0;
		if (n == 0 || i + n > len || s[i] >= 0xf8)
			return 0;
		cp = s[i] & (0x7f >> n);
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < (n == 2   ? 0x80UL
			  : n == 3 ? 0x800UL
				   : 0x10000UL) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return 0;
		i += n;
	}
	return 1;
}

/* Whole tuples of the staging types, with valid text and row numbers. */
static void check_tuples(struct pass *p, const struct buf *out)
{
	const char *s = out->data;
	size_t left = out->len;

	while (left > 0) {
		buf_reset(&p->text);
		size_t n = pgcopy_tuple(p->types, s, left, &p->text);
		FUZZ_ASSERT(n > 0);
		FUZZ_ASSERT(text_ok(p->text.data, p->text.len));
		FUZZ_ASSERT(p->text.data[0] >= '1' && p->text.data[0] <= '9');
		left -= n;
		s += n;
	}
}

static void flush_out(struct pass *p)
{
	check_tuples(p, &p->out);
	FUZZ_ASSERT(buf_add(&p->log, p->out.data, p->out.len) == 0);
	buf_reset(&p->out);
}

static int convert(struct pass *p, const struct field *f, size_t n,
		   struct reject *rej)
{
	int rc =
	    record_convert(p->map, f, n, p->row_number, &p->out, rej, &p->raw);
	struct buf big;

	if (rc != -1)
		return rc;
	/* out is full: flush it, as pipeline.c does, and convert again */
	FUZZ_ASSERT(p->raw.len == 0);
	flush_out(p);
	rc = record_convert(p->map, f, n, p->row_number, &p->out, rej, &p->raw);
	if (rc != -1)
		return rc;
	/* a tuple longer than the whole of out: it must fit a larger one */
	buf_init(&big, 1024 * 1024);
	rc = record_convert(p->map, f, n, p->row_number, &big, rej, &p->raw);
	FUZZ_ASSERT(rc == 0);
	check_tuples(p, &big);
	FUZZ_ASSERT(buf_add(&p->log, big.data, big.len) == 0);
	buf_release(&big);
	return 0;
}

/* A row whose fields do not line up with the header shows none of them. */
static int all_masked(const struct buf *raw, size_t nfields)
{
	size_t want = nfields ? 4 * nfields - 1 : 0;

	if (raw->len != want)
		return 0;
	for (size_t i = 0; i < raw->len; i++)
		if (raw->data[i] != (i % 4 == 3 ? ',' : '*'))
			return 0;
	return 1;
}

static void check_reject(struct pass *p, const struct reject *rej, size_t n)
{
	FUZZ_ASSERT(rej->reason > REJECT_NONE &&
		    rej->reason <= REJECT_BAD_ORDER);
	FUZZ_ASSERT(*reject_code(rej->reason) != '\0');
	FUZZ_ASSERT(rej->reason != REJECT_FIELD_COUNT || rej->column == NULL);
	/* the raw row goes to a text column: bad bytes were escaped */
	FUZZ_ASSERT(text_ok(p->raw.data ? p->raw.data : "", p->raw.len));
	/* ... and so is the column name, a header's as it may be */
	FUZZ_ASSERT(!rej->column || text_ok(rej->column, strlen(rej->column)));
	FUZZ_ASSERT(n == p->nheader || all_masked(&p->raw, n));
	buf_addf(&p->log, "reject %lld %s %s ", p->row_number,
		 reject_code(rej->reason), rej->column ? rej->column : "-");
	FUZZ_ASSERT(buf_add(&p->log, p->raw.data, p->raw.len) == 0);
	buf_addc(&p->log, '\n');
}

static int on_header(struct pass *p, const struct field *f, size_t n)
{
	buf_reset(&p->err);
	p->nheader = n;
	p->map = record_map_new(p->entity, f, n, p->extra, &p->err);
	if (p->map)
		return 0;
	FUZZ_ASSERT(p->err.len > 0);
	buf_addf(&p->log, "header refused: %s\n", buf_str(&p->err));
	return 1; /* the entity fails, as in pipeline.c */
}

static int on_record(void *ctx, long record_no, const struct field *f, size_t n)
{
	struct pass *p = ctx;
	struct reject rej;

	p->records = record_no + 1;
	for (size_t i = 0; i < n; i++)
		FUZZ_ASSERT(f[i].ptr[f[i].len] == '\0');
	if (record_no == 0)
		return on_header(p, f, n);
	FUZZ_ASSERT(p->map != NULL);
	p->row_number++;
	buf_reset(&p->raw);
	if (convert(p, f, n, &rej) == 1)
		check_reject(p, &rej, n);
	else
		FUZZ_ASSERT(p->raw.len == 0);
	return 0;
}

static void pass_init(struct pass *p, enum entity e, const char *const *extra)
{
	memset(p, 0, sizeof(*p));
	p->entity = e;
	p->extra = extra;
	p->types = pgcopy_types[e];
	buf_init(&p->out, FUZZ_OUT_CAP);
	buf_init(&p->raw, 1024 * 1024);
	buf_init(&p->err, 4096);
	buf_init(&p->log, FUZZ_LOG_CAP);
	buf_init(&p->text, 1024 * 1024);
}

static void pass_release(struct pass *p)
{
	record_map_free(p->map);
	buf_release(&p->out);
	buf_release(&p->raw);
	buf_release(&p->err);
	buf_release(&p->log);
	buf_release(&p->text);
}

/* The end of a reading: the stream's verdict goes into the log too. */
static void pass_end(struct pass *p, struct csvstream *cs, int rc)
{
	if (rc == 0)
		rc = csvstream_finish(cs);
	flush_out(p);
	buf_addf(&p->log, "end %d records %ld: %s\n", rc, p->records,
		 rc == -1 ? csvstream_error(cs) : "");
	if (rc == -1)
		FUZZ_ASSERT(*csvstream_error(cs) != '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pass whole, chunked;
	struct csvstream *cs;
	const char *page;
	size_t len, chunk;
	enum entity e;
	unsigned options;
	int rc;

	if (size < 2)
		return 0;
	e = (enum entity)(data[0] % ENTITY_COUNT);
	options = data[0] / ENTITY_COUNT;
	chunk = 1 + data[1] % 61;
	page = (const char *)data + 2;
	len = size - 2;

	pass_init(&whole, e, options & 1 ? personal_extra : NULL);
	pass_init(&chunked, e, whole.extra);
	cs = csvstream_new(options & 2 ? FUZZ_SMALL_CAP : FUZZ_RECORD_CAP,
			   RECORD_MAX_FIELD, on_record, &whole);
	pass_end(&whole, cs, csvstream_feed(cs, page, len));

	/* a retry: the same stream, reset, fed in chunks */
	csvstream_free(cs);
	cs = csvstream_new(options & 2 ? FUZZ_SMALL_CAP : FUZZ_RECORD_CAP,
			   RECORD_MAX_FIELD, on_record, &chunked);
	csvstream_feed(cs, "x,\"never closed", 15);
	csvstream_reset(cs);
	rc = 0;
	for (size_t off = 0; off < len && rc == 0; off += chunk)
		rc = csvstream_feed(cs, page + off,
				    len - off < chunk ? len - off : chunk);
	pass_end(&chunked, cs, rc);
	csvstream_free(cs);

	FUZZ_ASSERT(whole.log.len == chunked.log.len);
	FUZZ_ASSERT(memcmp(whole.log.data ? whole.log.data : "",
			   chunked.log.data ? chunked.log.data : "",
			   whole.log.len) == 0);
	pass_release(&whole);
	pass_release(&chunked);
	return 0;
}
