/*
 * csvstream.c - libcsv's push parser, bounded and page-aware.
 *
 * libcsv grows its field buffer without limit and its callbacks cannot stop
 * it, so the bound is kept from outside: each call to csv_parse() gets at
 * most as many bytes as the current record may still grow by.  One input
 * byte adds at most one byte to what is buffered (libcsv's field plus the
 * fields of the record kept here), so after every slice the record is at
 * most one byte over the cap, and that is caught before the next slice.
 */
#include "csvstream.h"

#include "buf.h"
#include "util.h"

#include <csv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static const char utf8_bom[3] = {'\xEF', '\xBB', '\xBF'};

struct span {
	size_t off;
	size_t len;
};

struct csvstream {
	struct csv_parser parser;
	size_t max_record_bytes;
	csvstream_record_fn fn;
	void *ctx;

	struct buf record;  /* fields of the current record, each + NUL */
	struct span *spans; /* where each field of the record lies */
	size_t nspans, spans_alloc;
	struct field *fields; /* handed to fn, rebuilt per record */
	size_t fields_alloc;

	long record_no;	 /* records delivered since the reset */
	size_t bom_seen; /* bytes of a BOM matched at the page start */
	int bom_done;	 /* past the place a BOM could be */
	int status;	 /* 0, fn's non-zero value, or -1 */
	long err_record;
	char err[128];
};

/* libcsv trims spaces around fields; tabs are data (record.c decides). */
static int is_space(unsigned char c)
{
	return c == ' ';
}

static void parser_init(struct csvstream *cs)
{
	if (csv_init(&cs->parser, 0) != 0) {
		/* only fails for an out-of-range option, which is a bug */
		abort();
	}
	csv_set_space_func(&cs->parser, is_space);
	/* libcsv grows in steps of blk_size: keep long fields off O(n^2) */
	csv_set_blk_size(&cs->parser, 16 * 1024);
}

struct csvstream *csvstream_new(size_t max_record_bytes, csvstream_record_fn fn,
				void *ctx)
{
	struct csvstream *cs = xcalloc(1, sizeof(*cs));

	cs->max_record_bytes = max_record_bytes ? max_record_bytes : 1;
	cs->fn = fn;
	cs->ctx = ctx;
	buf_init(&cs->record, cs->max_record_bytes);
	parser_init(cs);
	cs->err_record = -1;
	return cs;
}

void csvstream_free(struct csvstream *cs)
{
	if (!cs)
		return;
	csv_free(&cs->parser);
	buf_release(&cs->record);
	free(cs->spans);
	free(cs->fields);
	free(cs);
}

void csvstream_reset(struct csvstream *cs)
{
	csv_free(&cs->parser);
	parser_init(cs);
	buf_reset(&cs->record);
	cs->nspans = 0;
	cs->record_no = 0;
	cs->bom_seen = 0;
	cs->bom_done = 0;
	cs->status = 0;
	cs->err_record = -1;
	cs->err[0] = '\0';
}

__attribute__((format(printf, 2, 3))) static void fail(struct csvstream *cs,
						       const char *fmt, ...)
{
	va_list ap;
	int n;

	cs->status = -1;
	cs->err_record = cs->record_no;
	n = snprintf(cs->err, sizeof(cs->err), "record %ld: ", cs->record_no);
	if (n < 0 || (size_t)n >= sizeof(cs->err))
		return;
	va_start(ap, fmt);
	vsnprintf(cs->err + n, sizeof(cs->err) - (size_t)n, fmt, ap);
	va_end(ap);
}

/* open_quote: the field is still inside its quotes (a runaway, maybe) */
static void fail_too_big(struct csvstream *cs, size_t field_len, int open_quote)
{
	fail(cs, "%s over %zu bytes%s",
	     field_len > cs->max_record_bytes ? "field" : "record",
	     cs->max_record_bytes,
	     open_quote ? " (a quote that never closes?)" : "");
}

static void on_field(void *data, size_t len, void *arg)
{
	struct csvstream *cs = arg;
	struct span *sp;

	if (cs->status)
		return;
	/* the NUL after each field stands for its delimiter in the count */
	if (len >= cs->max_record_bytes - cs->record.len ||
	    buf_add(&cs->record, data, len) < 0 ||
	    buf_addc(&cs->record, '\0') < 0) {
		fail_too_big(cs, len, 0);
		return;
	}
	if (cs->nspans == cs->spans_alloc) {
		cs->spans_alloc = cs->spans_alloc ? 2 * cs->spans_alloc : 32;
		cs->spans =
		    xrealloc(cs->spans, cs->spans_alloc * sizeof(*cs->spans));
	}
	sp = &cs->spans[cs->nspans++];
	sp->off = cs->record.len - len - 1;
	sp->len = len;
}

static void on_record(int term, void *arg)
{
	struct csvstream *cs = arg;
	size_t i;
	int ret;

	(void)term;
	if (cs->status)
		return;
	if (cs->fields_alloc < cs->nspans) {
		cs->fields_alloc = cs->spans_alloc;
		cs->fields = xrealloc(cs->fields,
				      cs->fields_alloc * sizeof(*cs->fields));
	}
	for (i = 0; i < cs->nspans; i++) {
		cs->fields[i].ptr = cs->record.data + cs->spans[i].off;
		cs->fields[i].len = cs->spans[i].len;
	}
	ret = cs->fn(cs->ctx, cs->record_no, cs->fields, cs->nspans);
	cs->record_no++;
	buf_reset(&cs->record);
	cs->nspans = 0;
	if (ret)
		cs->status = ret;
}

/* What the current record holds, in libcsv and here. */
static size_t pending_bytes(const struct csvstream *cs)
{
	return cs->record.len + cs->parser.entry_pos;
}

static int parse(struct csvstream *cs, const char *data, size_t len)
{
	while (len > 0 && !cs->status) {
		size_t used = pending_bytes(cs);
		size_t room = used < cs->max_record_bytes
				  ? cs->max_record_bytes - used + 1
				  : 1;
		size_t n = len < room ? len : room;

		if (csv_parse(&cs->parser, data, n, on_field, on_record, cs) !=
		    n) {
			if (!cs->status)
				fail(cs, "%s",
				     csv_strerror(csv_error(&cs->parser)));
			break;
		}
		if (!cs->status && pending_bytes(cs) > cs->max_record_bytes)
			fail_too_big(cs, cs->parser.entry_pos,
				     cs->parser.quoted);
		data += n;
		len -= n;
	}
	return cs->status;
}

/* The page began with part of a BOM and then something else. */
static int bom_mismatch(struct csvstream *cs)
{
	size_t held = cs->bom_seen;

	cs->bom_done = 1;
	return parse(cs, utf8_bom, held);
}

int csvstream_feed(struct csvstream *cs, const char *data, size_t len)
{
	if (cs->status)
		return -1;
	while (!cs->bom_done && len > 0) {
		if (*data != utf8_bom[cs->bom_seen]) {
			if (bom_mismatch(cs))
				return cs->status;
			break;
		}
		data++;
		len--;
		if (++cs->bom_seen == sizeof(utf8_bom))
			cs->bom_done = 1;
	}
	return parse(cs, data, len);
}

int csvstream_finish(struct csvstream *cs)
{
	int opts;

	if (cs->status)
		return -1;
	if (!cs->bom_done && bom_mismatch(cs))
		return cs->status;
	/*
	 * Outside strict mode csv_fini() would hand on an unclosed quoted
	 * field as if it were complete; strict for this one call, it says so.
	 * The rest of the page is parsed liberally.
	 */
	opts = csv_get_opts(&cs->parser);
	csv_set_opts(&cs->parser,
		     (unsigned char)(opts | CSV_STRICT | CSV_STRICT_FINI));
	if (csv_fini(&cs->parser, on_field, on_record, cs) != 0 && !cs->status)
		fail(cs, "quoted field never closes");
	csv_set_opts(&cs->parser, (unsigned char)opts);
	return cs->status;
}

const char *csvstream_error(const struct csvstream *cs)
{
	return cs->err;
}

long csvstream_error_record(const struct csvstream *cs)
{
	return cs->err_record;
}

long csvstream_records(const struct csvstream *cs)
{
	return cs->record_no;
}
