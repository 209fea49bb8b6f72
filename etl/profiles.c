/*
 * profiles.c - the scoring profiles file (profiles.h).
 *
 * Every check the warehouse makes when the rows arrive (sql/code/rules.sql,
 * etl._check_rule_staging) is made here first, line by line, so that
 * check-config can find what would stop the next run, and the run can say
 * where in the file the problem is.
 */
#include "profiles.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "rulefile.h"
#include "util.h"

#define MAX_FIELDS 64

enum column {
	C_PROFILE,
	C_CRITERION,
	C_LABEL,
	C_METRIC,
	C_TARGET,
	C_MAX_POINTS,
	C_NOTE,
	NCOLUMNS
};

static const char *const column_names[NCOLUMNS] = {
    "profile", "criterion", "label", "metric", "target", "max_points", "note",
};

/* dw.metric_names(): the rates of mart.unit_kpi */
static const char *const metric_names[] = {
    "online_rate",	"ontime_rate",	    "ontime_rate_legal",
    "on_software_rate", "paid_online_rate", "pct_level2plus",
    "pct_level3plus",	"pct_level4",	    "progress_rate",
    "online_full_rate",
};

struct profiles {
	struct criterion *items; /* file order */
	size_t nr, alloc;
};

struct prof_loader {
	struct rulefile rf;
	struct profiles *prof;
	bool seen_header, header_ok;
	int nfields;
	int col[NCOLUMNS]; /* the header's field of each column */
};

const char *profiles_metric_name(size_t i)
{
	return i < ARRAY_SIZE(metric_names) ? metric_names[i] : NULL;
}

static bool known_metric(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(metric_names); i++)
		if (strcmp(name, metric_names[i]) == 0)
			return true;
	return false;
}

/*
 * The warehouse stores targets as numeric, which also takes "NaN",
 * "Infinity" and exponents; a percentage needs none of them, and "nan"
 * would pass a ">= 0" check there (NaN sorts above every number).
 */
static bool is_plain_decimal(const char *s)
{
	size_t int_digits = strspn(s, "0123456789");

	if (!int_digits)
		return false;
	s += int_digits;
	if (*s == '.') {
		size_t frac_digits = strspn(s + 1, "0123456789");

		if (!frac_digits)
			return false;
		s += 1 + frac_digits;
	}
	return *s == '\0';
}

static void parse_header(struct prof_loader *ld, unsigned long line,
			 char **field, int n)
{
	ld->seen_header = true;
	ld->nfields = n;
	for (int c = 0; c < NCOLUMNS; c++)
		ld->col[c] = -1;
	for (int i = 0; i < n; i++) {
		const char *name = rulefile_trim(field[i]);

		for (int c = 0; c < NCOLUMNS; c++) {
			if (strcmp(name, column_names[c]) != 0)
				continue;
			if (ld->col[c] >= 0)
				rulefile_error(&ld->rf, line,
					       "column '%s' is named twice",
					       name);
			ld->col[c] = i;
		}
	}
	ld->header_ok = ld->rf.errors == 0;
	for (int c = 0; c < NCOLUMNS; c++) {
		if (ld->col[c] >= 0)
			continue;
		rulefile_error(&ld->rf, line, "missing column '%s'",
			       column_names[c]);
		ld->header_ok = false;
	}
}

/* The checks of one criterion's values; true when all pass. */
static bool check_values(struct prof_loader *ld, unsigned long line,
			 char **value)
{
	bool ok = true;

	for (int c = 0; c < NCOLUMNS; c++) {
		if (c == C_NOTE || *value[c])
			continue;
		rulefile_error(&ld->rf, line, "%s is empty", column_names[c]);
		ok = false;
	}
	if (*value[C_METRIC] && !known_metric(value[C_METRIC])) {
		struct buf names;

		buf_init(&names, 1024);
		for (size_t i = 0; i < ARRAY_SIZE(metric_names); i++)
			buf_addf(&names, "%s%s", i ? ", " : "",
				 metric_names[i]);
		rulefile_error(&ld->rf, line,
			       "unknown metric '%s' (metric is one of %s)",
			       value[C_METRIC], buf_str(&names));
		buf_release(&names);
		ok = false;
	}
	for (int c = C_TARGET; c <= C_MAX_POINTS; c++) {
		if (!*value[c] || is_plain_decimal(value[c]))
			continue;
		rulefile_error(&ld->rf, line,
			       "%s: '%s' is not a number >= 0 (digits, and "
			       "a '.' and digits for a fraction)",
			       column_names[c], value[c]);
		ok = false;
	}
	return ok;
}

static void add_criterion(struct profiles *prof, unsigned long line,
			  char **value)
{
	struct criterion *cr;

	if (prof->nr == prof->alloc) {
		prof->alloc = prof->alloc ? 2 * prof->alloc : 16;
		prof->items =
		    xrealloc(prof->items, prof->alloc * sizeof(*prof->items));
	}
	cr = &prof->items[prof->nr++];
	cr->profile = xstrdup(value[C_PROFILE]);
	cr->criterion = xstrdup(value[C_CRITERION]);
	cr->label = xstrdup(value[C_LABEL]);
	cr->metric = xstrdup(value[C_METRIC]);
	cr->target = xstrdup(value[C_TARGET]);
	cr->max_points = xstrdup(value[C_MAX_POINTS]);
	cr->note = xstrdup(value[C_NOTE]);
	cr->line = line;
}

static void parse_row(struct prof_loader *ld, unsigned long line, char **field,
		      int n)
{
	char *value[NCOLUMNS];

	if (!ld->header_ok)
		return; /* its columns cannot be told apart */
	if (n != ld->nfields) {
		rulefile_error(&ld->rf, line,
			       "expected %d fields (as the header), found %d",
			       ld->nfields, n);
		return;
	}
	for (int c = 0; c < NCOLUMNS; c++)
		value[c] = rulefile_trim(field[ld->col[c]]);
	if (check_values(ld, line, value))
		add_criterion(ld->prof, line, value);
}

static void parse_line(void *ctx, unsigned long line, char *text)
{
	struct prof_loader *ld = ctx;
	char *field[MAX_FIELDS];
	int n;

	if (text[0] == '#')
		return;
	n = rulefile_split(text, field, MAX_FIELDS);
	if (n < 0) {
		rulefile_error(&ld->rf, line,
			       "unterminated or misplaced quote");
		return;
	}
	if (n > MAX_FIELDS) {
		rulefile_error(&ld->rf, line, "more than %d fields",
			       MAX_FIELDS);
		return;
	}
	if (!ld->seen_header)
		parse_header(ld, line, field, n);
	else
		parse_row(ld, line, field, n);
}

static int cmp_key(const void *a, const void *b)
{
	const struct criterion *x = *(const struct criterion *const *)a;
	const struct criterion *y = *(const struct criterion *const *)b;
	int c = strcmp(x->profile, y->profile);

	if (!c)
		c = strcmp(x->criterion, y->criterion);
	if (!c)
		c = x->line < y->line ? -1 : x->line > y->line;
	return c;
}

/* The warehouse keys criteria by (profile, criterion). */
static void check_duplicates(struct prof_loader *ld)
{
	struct profiles *prof = ld->prof;
	const struct criterion **sorted;

	if (prof->nr < 2)
		return;
	sorted = xcalloc(prof->nr, sizeof(*sorted));
	for (size_t i = 0; i < prof->nr; i++)
		sorted[i] = &prof->items[i];
	qsort(sorted, prof->nr, sizeof(*sorted), cmp_key);
	for (size_t i = 1, first = 0; i < prof->nr; i++) {
		if (strcmp(sorted[i]->profile, sorted[first]->profile) ||
		    strcmp(sorted[i]->criterion, sorted[first]->criterion)) {
			first = i;
			continue;
		}
		rulefile_error(&ld->rf, sorted[i]->line,
			       "criterion '%s' of profile '%s' is given twice "
			       "(first on line %lu)",
			       sorted[i]->criterion, sorted[i]->profile,
			       sorted[first]->line);
	}
	free(sorted);
}

struct profiles *profiles_load(const char *path, struct buf *err)
{
	struct prof_loader ld = {.rf = {.path = path, .err = err}};

	ld.prof = xcalloc(1, sizeof(*ld.prof));
	if (rulefile_read(&ld.rf, parse_line, &ld) < 0) {
		profiles_free(ld.prof);
		return NULL;
	}
	if (!ld.seen_header)
		rulefile_error(&ld.rf, 0, "no header naming the columns %s",
			       "profile,criterion,label,metric,target,"
			       "max_points,note");
	check_duplicates(&ld);
	if (ld.rf.errors) {
		profiles_free(ld.prof);
		return NULL;
	}
	return ld.prof;
}

void profiles_free(struct profiles *prof)
{
	if (!prof)
		return;
	for (size_t i = 0; i < prof->nr; i++) {
		struct criterion *cr = &prof->items[i];

		free((char *)cr->profile);
		free((char *)cr->criterion);
		free((char *)cr->label);
		free((char *)cr->metric);
		free((char *)cr->target);
		free((char *)cr->max_points);
		free((char *)cr->note);
	}
	free(prof->items);
	free(prof);
}

size_t profiles_count(const struct profiles *prof)
{
	return prof ? prof->nr : 0;
}

const struct criterion *profiles_criterion(const struct profiles *prof,
					   size_t i)
{
	return &prof->items[i];
}
