/*
 * lineage.c - the unit lineage file (lineage.h).
 *
 * The rows are kept in file order, for lineage_row, and as an index sorted
 * by from_code, which serves the duplicate check, the cycle check and
 * lineage_current.  A code has at most one row, so the rows form chains
 * that either end at a code without a row or loop: a loop is found by
 * walking each chain once, marking the codes on the walk.
 */
#include "lineage.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "rulefile.h"
#include "utf8.h"
#include "util.h"

#define LIN_FIELDS 4
static const char *const column_names[LIN_FIELDS] = {"from_code", "to_code",
						     "effective", "basis"};

struct lineage {
	struct lineage_row *rows; /* file order */
	size_t nr, alloc;
	const struct lineage_row **index; /* by from_code, then line */
	size_t nindex;			  /* one per from_code once checked */
};

struct lin_loader {
	struct rulefile rf;
	struct lineage *lin;
	bool seen_header;
};

static void parse_header(struct lin_loader *ld, unsigned long line,
			 const char *text, char **field, int n)
{
	bool ok = n == LIN_FIELDS;

	for (int i = 0; ok && i < LIN_FIELDS; i++)
		ok = strcmp(rulefile_trim(field[i]), column_names[i]) == 0;
	ld->seen_header = true;
	if (!ok)
		rulefile_error(
		    &ld->rf, line,
		    "expected the header "
		    "'from_code,to_code,effective,basis', found '%s'",
		    text);
}

/* A code is text without control characters; the source's codes are. */
static bool check_code(struct lin_loader *ld, unsigned long line, int column,
		       const char *code)
{
	if (!*code) {
		rulefile_error(&ld->rf, line, "%s is empty",
			       column_names[column]);
		return false;
	}
	for (const unsigned char *p = (const unsigned char *)code; *p; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			rulefile_error(&ld->rf, line,
				       "%s holds a control character",
				       column_names[column]);
			return false;
		}
	}
	if (!utf8_valid(code, strlen(code))) {
		rulefile_error(&ld->rf, line, "%s is not UTF-8",
			       column_names[column]);
		return false;
	}
	return true;
}

static void add_row(struct lineage *lin, unsigned long line, char **value,
		    long effective)
{
	struct lineage_row *row;

	if (lin->nr == lin->alloc) {
		lin->alloc = lin->alloc ? 2 * lin->alloc : 64;
		lin->rows =
		    xrealloc(lin->rows, lin->alloc * sizeof(*lin->rows));
	}
	row = &lin->rows[lin->nr++];
	row->from_code = xstrdup(value[0]);
	row->to_code = xstrdup(value[1]);
	row->effective = effective;
	row->basis = xstrdup(value[3]);
	row->line = line;
}

static void parse_row(struct lin_loader *ld, unsigned long line, char **field,
		      int n)
{
	char *value[LIN_FIELDS];
	bool ok;
	long effective = 0;

	if (n != LIN_FIELDS) {
		rulefile_error(&ld->rf, line,
			       "expected 4 fields "
			       "(from_code,to_code,effective,basis), found %d",
			       n);
		return;
	}
	for (int i = 0; i < LIN_FIELDS; i++)
		value[i] = rulefile_trim(field[i]);
	ok = check_code(ld, line, 0, value[0]);
	ok = check_code(ld, line, 1, value[1]) && ok;
	if (!rulefile_date(value[2], &effective)) {
		rulefile_error(&ld->rf, line,
			       "bad effective date '%s', expected yyyy-MM-dd",
			       value[2]);
		ok = false;
	}
	if (ok && strcmp(value[0], value[1]) == 0) {
		rulefile_error(&ld->rf, line,
			       "'%s' is its own to_code (a unit renamed gets a "
			       "new code; one that did not needs no row)",
			       value[0]);
		ok = false;
	}
	if (ok)
		add_row(ld->lin, line, value, effective);
}

static void parse_line(void *ctx, unsigned long line, char *text)
{
	struct lin_loader *ld = ctx;
	char *field[LIN_FIELDS];
	char *copy;
	int n;

	if (text[0] == '#')
		return;
	copy = xstrdup(text);
	n = rulefile_split(text, field, LIN_FIELDS);
	if (n < 0)
		rulefile_error(&ld->rf, line,
			       "unterminated or misplaced quote");
	else if (!ld->seen_header)
		parse_header(ld, line, copy, field, n);
	else
		parse_row(ld, line, field, n);
	free(copy);
}

static int cmp_from(const void *a, const void *b)
{
	const struct lineage_row *x = *(const struct lineage_row *const *)a;
	const struct lineage_row *y = *(const struct lineage_row *const *)b;
	int c = strcmp(x->from_code, y->from_code);

	if (!c)
		c = x->line < y->line ? -1 : x->line > y->line;
	return c;
}

/*
 * Sort the index by from_code, report every from_code given twice, and
 * keep the first row of each: the chains the cycle check walks.
 */
static void build_index(struct lin_loader *ld)
{
	struct lineage *lin = ld->lin;
	size_t kept = 0;

	if (!lin->nr)
		return;
	lin->index = xcalloc(lin->nr, sizeof(*lin->index));
	for (size_t i = 0; i < lin->nr; i++)
		lin->index[i] = &lin->rows[i];
	qsort(lin->index, lin->nr, sizeof(*lin->index), cmp_from);
	for (size_t i = 0; i < lin->nr; i++) {
		const struct lineage_row *row = lin->index[i];

		if (kept &&
		    !strcmp(row->from_code, lin->index[kept - 1]->from_code)) {
			rulefile_error(
			    &ld->rf, row->line,
			    "from_code '%s' is given twice (first on "
			    "line %lu): a code has one successor",
			    row->from_code, lin->index[kept - 1]->line);
			continue;
		}
		lin->index[kept++] = row;
	}
	lin->nindex = kept;
}

/* The index entry whose from_code is code, or -1. */
static long find_row(const struct lineage *lin, const char *code)
{
	size_t lo = 0, hi = lin->nindex;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(code, lin->index[mid]->from_code);

		if (!c)
			return (long)mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

static int cmp_line(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a;
	unsigned long y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

/* The cycle that is path[first..n-1]: one error naming its lines. */
static void report_cycle(struct lin_loader *ld, const long *path, size_t first,
			 size_t n)
{
	const struct lineage *lin = ld->lin;
	unsigned long *lines = xcalloc(n - first, sizeof(*lines));
	size_t start = first;
	struct buf text;

	/* begin the loop at the line the error is reported on, its first */
	for (size_t i = first; i < n; i++) {
		lines[i - first] = lin->index[path[i]]->line;
		if (lines[i - first] < lin->index[path[start]]->line)
			start = i;
	}
	qsort(lines, n - first, sizeof(*lines), cmp_line);
	buf_init(&text, 1 << 16);
	for (size_t k = 0; k < n - first; k++) {
		size_t i = first + (start - first + k) % (n - first);

		buf_addf(&text, "'%s' -> ", lin->index[path[i]]->from_code);
	}
	buf_addf(&text, "'%s' (lines", lin->index[path[start]]->from_code);
	for (size_t k = 0; k < n - first; k++)
		buf_addf(&text, "%s %lu", k ? "," : "", lines[k]);
	buf_adds(&text, ")");
	rulefile_error(&ld->rf, lines[0], "a cycle: %s", buf_str(&text));
	buf_release(&text);
	free(lines);
}

/*
 * Walk each chain from each code not yet seen; a walk that meets a code
 * of its own path has found a cycle, one that meets an earlier walk's
 * code has not (that walk already followed the rest).
 */
static void check_cycles(struct lin_loader *ld)
{
	const struct lineage *lin = ld->lin;
	enum { UNSEEN, ON_PATH, DONE } * state;
	long *path;

	if (!lin->nindex)
		return;
	state = xcalloc(lin->nindex, sizeof(*state));
	path = xcalloc(lin->nindex, sizeof(*path));
	for (size_t start = 0; start < lin->nindex; start++) {
		size_t n = 0;
		long at = (long)start;

		while (at >= 0 && state[at] == UNSEEN) {
			state[at] = ON_PATH;
			path[n++] = at;
			at = find_row(lin, lin->index[at]->to_code);
		}
		if (at >= 0 && state[at] == ON_PATH) {
			size_t first = n;

			while (path[first - 1] != at)
				first--;
			report_cycle(ld, path, first - 1, n);
		}
		for (size_t i = 0; i < n; i++)
			state[path[i]] = DONE;
	}
	free(path);
	free(state);
}

struct lineage *lineage_load(const char *path, struct buf *err)
{
	struct lin_loader ld = {.rf = {.path = path, .err = err}};

	ld.lin = xcalloc(1, sizeof(*ld.lin));
	if (!path)
		return ld.lin;
	if (rulefile_read(&ld.rf, parse_line, &ld) < 0) {
		lineage_free(ld.lin);
		return NULL;
	}
	if (!ld.seen_header)
		rulefile_error(&ld.rf, 0,
			       "no header "
			       "'from_code,to_code,effective,basis'");
	build_index(&ld);
	check_cycles(&ld);
	if (ld.rf.errors) {
		lineage_free(ld.lin);
		return NULL;
	}
	return ld.lin;
}

void lineage_free(struct lineage *lin)
{
	if (!lin)
		return;
	for (size_t i = 0; i < lin->nr; i++) {
		free((char *)lin->rows[i].from_code);
		free((char *)lin->rows[i].to_code);
		free((char *)lin->rows[i].basis);
	}
	free(lin->rows);
	free(lin->index);
	free(lin);
}

size_t lineage_count(const struct lineage *lin)
{
	return lin ? lin->nr : 0;
}

const struct lineage_row *lineage_row(const struct lineage *lin, size_t i)
{
	return &lin->rows[i];
}

const char *lineage_current(const struct lineage *lin, const char *code)
{
	/* a loaded lineage has no cycle; the bound is a second guard */
	for (size_t steps = 0; lin && steps <= lin->nindex; steps++) {
		long at = find_row(lin, code);

		if (at < 0)
			break;
		code = lin->index[at]->to_code;
	}
	return code;
}
