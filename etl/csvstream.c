/*
 * csvstream.c - libcsv's push parser, strict, bounded and page-aware.
 *
 * libcsv grows its field buffer without limit and its callbacks cannot stop
 * it, so the bounds are kept from outside: csv_parse() gets the page in
 * slices, and between two slices a field grown past max_field is cut back
 * in libcsv's own buffer (clamp_field).  One input byte adds at most one
 * byte to what is buffered, so a slice bounds how far anything can grow;
 * the record, made of cut fields, is bounded where fields are added to it.
 * The slices also let the module count lines, for the error messages.
 */
#include "csvstream.h"

#include "buf.h"
#include "util.h"

#include <csv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char utf8_bom[3] = {'\xEF', '\xBB', '\xBF'};

/* Bytes handed to csv_parse() at once: what a field may grow by unchecked. */
#define SLICE (16 * 1024)

/*
 * A field this long is not data but a quote that never closes on a page
 * that never ends: past it the page fails, instead of being read until a
 * deadline.  Far above any value an export holds (a scanned attachment in
 * base64 is a few MB), so a long field is a too_long reject, not this.
 */
#define RUNAWAY_FIELD ((size_t)64 * 1024 * 1024)

/*
 * libcsv's state after the closing quote of a quoted field (libcsv.c's
 * FIELD_MIGHT_HAVE_ENDED, not exported): its buffer then ends with that
 * quote and the spaces after it, which it drops when the field ends.
 */
#define LIBCSV_AFTER_QUOTE 3

struct span {
	size_t off;
	size_t len;
};

struct csvstream {
	struct csv_parser parser;
	size_t max_record_bytes;
	size_t max_field_bytes;
	csvstream_record_fn fn;
	void *ctx;

	struct buf record;  /* fields of the current record, each + NUL */
	struct span *spans; /* where each field of the record lies */
	size_t nspans, spans_alloc;
	struct field *fields; /* handed to fn, rebuilt per record */
	size_t fields_alloc;

	size_t cut_len;	 /* where clamp_field cut the current field, or 0 */
	size_t dropped;	 /* bytes of the current field clamp_field let go */
	long record_no;	 /* records delivered since the reset */
	long line;	 /* the line being read, from 1 */
	long long fed;	 /* bytes of the page before the current slice */
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
	if (csv_init(&cs->parser, CSV_STRICT | CSV_STRICT_FINI) != 0) {
		/* only fails for an out-of-range option, which is a bug */
		abort();
	}
	csv_set_space_func(&cs->parser, is_space);
	/* libcsv grows in steps of blk_size: keep long fields off O(n^2) */
	csv_set_blk_size(&cs->parser, 16 * 1024);
}

struct csvstream *csvstream_new(size_t max_record_bytes, size_t max_field_bytes,
				csvstream_record_fn fn, void *ctx)
{
	struct csvstream *cs = xcalloc(1, sizeof(*cs));

	cs->max_record_bytes = max_record_bytes ? max_record_bytes : 1;
	cs->max_field_bytes =
	    max_field_bytes && max_field_bytes < cs->max_record_bytes
		? max_field_bytes
		: cs->max_record_bytes;
	cs->fn = fn;
	cs->ctx = ctx;
	buf_init(&cs->record, cs->max_record_bytes);
	parser_init(cs);
	cs->err_record = -1;
	cs->line = 1;
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
	cs->cut_len = 0;
	cs->dropped = 0;
	cs->record_no = 0;
	cs->line = 1;
	cs->fed = 0;
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

	cs->status = -1;
	cs->err_record = cs->record_no;
	va_start(ap, fmt);
	vsnprintf(cs->err, sizeof(cs->err), fmt, ap);
	va_end(ap);
}

/*
 * Where to cut a field's first bytes: at least min of them, and at the
 * start of a UTF-8 character, so that a cut never makes bad_utf8 of a field
 * that was only too long (a character has at most 3 continuation bytes).
 */
static size_t cut_point(const unsigned char *s, size_t len, size_t min)
{
	size_t n = min;

	while (n < len && n < min + 3 && (s[n] & 0xC0) == 0x80)
		n++;
	return n;
}

static void on_field(void *data, size_t len, void *arg)
{
	struct csvstream *cs = arg;
	struct span *sp;

	if (cs->status)
		return;
	/* cut here too, as clamp_field did, so that where the page's chunks
	   fell never shows */
	if (cs->cut_len)
		len = cs->cut_len;
	else if (len > cs->max_field_bytes)
		len = cut_point(data, len, cs->max_field_bytes + 1);
	cs->cut_len = 0;
	cs->dropped = 0;
	/* the NUL after each field stands for its delimiter in the count */
	if (len >= cs->max_record_bytes - cs->record.len ||
	    buf_add(&cs->record, data, len) < 0 ||
	    buf_addc(&cs->record, '\0') < 0) {
		fail(cs, "record %ld: over %zu bytes", cs->record_no,
		     cs->max_record_bytes);
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

/*
 * Keep the field libcsv is reading near max_field: its first bytes, past
 * the limit so the consumer still sees it too long, and the tail libcsv
 * may yet drop (the closing quote, then the spaces after it or after an
 * unquoted value).  Spaces past the limit go too: dropped or content, the
 * field's fate is the same with max_field + 1 of them.
 */
static void clamp_field(struct csvstream *cs)
{
	struct csv_parser *p = &cs->parser;
	size_t quote = p->pstate == LIBCSV_AFTER_QUOTE;
	size_t head = p->entry_pos - p->spaces - quote;
	size_t spaces = p->spaces;
	size_t keep_head = head, keep_spaces = spaces;

	/*
	 * Past the lookahead cut_point needs, the cut is the one on_field
	 * would make of the whole field.  Once made it stays: the bytes after
	 * it are no longer the field's.
	 */
	if (cs->cut_len)
		keep_head = cs->cut_len;
	else if (head > cs->max_field_bytes + 4)
		keep_head = cs->cut_len = cut_point(p->entry_buf, head,
						    cs->max_field_bytes + 1);
	if (spaces > cs->max_field_bytes + 1)
		keep_spaces = cs->max_field_bytes + 1;
	if (keep_head == head && keep_spaces == spaces)
		return;
	memmove(p->entry_buf + keep_head, p->entry_buf + head,
		quote + keep_spaces);
	cs->dropped += p->entry_pos - (keep_head + quote + keep_spaces);
	p->entry_pos = keep_head + quote + keep_spaces;
	p->spaces = keep_spaces;
}

static long count_lines(const char *data, size_t len)
{
	long n = 0;
	const char *end = data + len;

	while ((data = memchr(data, '\n', (size_t)(end - data))) != NULL) {
		n++;
		data++;
	}
	return n;
}

/* libcsv refused the byte at data[at]: say which rule it broke, and where. */
static void fail_strict(struct csvstream *cs, const char *data, size_t at)
{
	unsigned char c = (unsigned char)data[at];
	char shown[16];
	const char *what;

	if (c >= 0x20 && c < 0x7f)
		snprintf(shown, sizeof(shown), "'%c'", c);
	else
		snprintf(shown, sizeof(shown), "byte \\x%02x", c);
	if (c == '"' && !cs->parser.quoted)
		what = "quote inside an unquoted field";
	else
		what = "after a closing quote";
	cs->line += count_lines(data, at);
	if (c == '"' && !cs->parser.quoted)
		fail(cs, "line %ld, byte %lld: %s", cs->line,
		     cs->fed + (long long)at + 1, what);
	else
		fail(cs, "line %ld, byte %lld: %s %s (a quote not doubled?)",
		     cs->line, cs->fed + (long long)at + 1, shown, what);
}

static int parse(struct csvstream *cs, const char *data, size_t len)
{
	while (len > 0 && !cs->status) {
		size_t n = len < SLICE ? len : SLICE;
		size_t done;

		done = csv_parse(&cs->parser, data, n, on_field, on_record, cs);
		if (done != n) {
			if (cs->status)
				break;
			if (csv_error(&cs->parser) == CSV_EPARSE)
				fail_strict(cs, data, done);
			else
				fail(cs, "line %ld: %s", cs->line,
				     csv_strerror(csv_error(&cs->parser)));
			break;
		}
		cs->line += count_lines(data, n);
		cs->fed += (long long)n;
		if (cs->parser.entry_pos > cs->max_field_bytes)
			clamp_field(cs);
		if (cs->dropped > RUNAWAY_FIELD)
			fail(cs, "line %ld: a field runs over %zu MiB (%s)",
			     cs->line, RUNAWAY_FIELD >> 20,
			     cs->parser.quoted ? "a quote that never closes?"
					       : "no line end?");
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
	cs->fed -= (long long)held; /* counted when they were matched */
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
		cs->fed++;
		if (++cs->bom_seen == sizeof(utf8_bom))
			cs->bom_done = 1;
	}
	return parse(cs, data, len);
}

int csvstream_finish(struct csvstream *cs)
{
	if (cs->status)
		return -1;
	if (!cs->bom_done && bom_mismatch(cs))
		return cs->status;
	if (csv_fini(&cs->parser, on_field, on_record, cs) != 0 && !cs->status)
		fail(cs, "record %ld never closes its quote (the page ends at "
			 "line %ld)",
		     cs->record_no, cs->line);
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

size_t csvstream_held(const struct csvstream *cs)
{
	return cs->record.len + cs->parser.entry_size;
}
