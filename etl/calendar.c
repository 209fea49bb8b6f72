/*
 * calendar.c - the calendar file and working-day arithmetic (calendar.h).
 *
 * The entries are kept twice: in file order, for calendar_entry, and as an
 * index sorted by day, which serves both the duplicate check at load time
 * and every lookup afterwards (bsearch; a file holds ~15 lines a year).
 */
#include "calendar.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "civil.h"
#include "rulefile.h"
#include "util.h"

#define CAL_HEADER "date,kind,note"
#define CAL_FIELDS 3
/*
 * the span of dw.calendar (sql/migrations/002_warehouse.sql,
 * sql/code/rules.sql)
 */
#define FIRST_YEAR 2000
#define LAST_YEAR 2100

struct cal_entry {
	long day;
	bool workday;
	unsigned long line;
	char *note;
};

struct cal_index {
	long day;
	size_t entry; /* into calendar.entries */
};

struct calendar {
	struct cal_entry *entries; /* file order */
	size_t nr, alloc;
	struct cal_index *index; /* sorted by day, then file order */
	bool has_covers;
	int from_year, to_year;
};

/* The state of one calendar_load: where errors go and how many there were. */
struct cal_loader {
	struct rulefile rf;
	struct calendar *cal;
	bool seen_header;
	unsigned long covers_line;
};

static bool is_weekend(long day)
{
	int wd = weekday_from_days(day);

	return wd == 0 || wd == 6;
}

/* "covers: YYYY-YYYY" after the '#' and any blanks; other comments pass. */
static void parse_comment(struct cal_loader *ld, unsigned long line,
			  const char *text)
{
	const char *p = text + strspn(text, " \t");
	struct calendar *cal = ld->cal;

	if (strncmp(p, "covers:", 7) != 0)
		return;
	p += 7;
	p += strspn(p, " \t");
	if (!rulefile_digits(p, 4) || p[4] != '-' ||
	    !rulefile_digits(p + 5, 4) || p[9 + strspn(p + 9, " \t")] != '\0') {
		rulefile_error(
		    &ld->rf, line,
		    "bad covers line '%s', expected '# covers: YYYY-YYYY'",
		    text);
		return;
	}
	if (ld->covers_line) {
		rulefile_error(&ld->rf, line,
			       "second covers line (the first is on line %lu)",
			       ld->covers_line);
		return;
	}
	ld->covers_line = line;
	cal->from_year = rulefile_digits_value(p, 4);
	cal->to_year = rulefile_digits_value(p + 5, 4);
	cal->has_covers = true;
	if (cal->from_year > cal->to_year)
		rulefile_error(&ld->rf, line,
			       "covers '%.9s' ends before it starts", p);
}

static void add_entry(struct calendar *cal, long day, bool workday,
		      unsigned long line, const char *note)
{
	struct cal_entry *e;

	if (cal->nr == cal->alloc) {
		cal->alloc = cal->alloc ? 2 * cal->alloc : 64;
		cal->entries =
		    xrealloc(cal->entries, cal->alloc * sizeof(*cal->entries));
	}
	e = &cal->entries[cal->nr++];
	e->day = day;
	e->workday = workday;
	e->line = line;
	e->note = xstrdup(note);
}

static void parse_entry(struct cal_loader *ld, unsigned long line, char *text)
{
	char *field[CAL_FIELDS];
	int n = rulefile_split(text, field, CAL_FIELDS);
	bool workday;
	long day;

	if (n < 0) {
		rulefile_error(&ld->rf, line,
			       "unterminated or misplaced quote");
		return;
	}
	if (n != CAL_FIELDS) {
		rulefile_error(&ld->rf, line,
			       "expected 3 fields (date,kind,note), found %d",
			       n);
		return;
	}
	if (!rulefile_date(field[0], &day)) {
		rulefile_error(&ld->rf, line,
			       "bad date '%s', expected yyyy-MM-dd", field[0]);
		return;
	}
	if (day < days_from_civil(FIRST_YEAR, 1, 1) ||
	    day > days_from_civil(LAST_YEAR, 12, 31)) {
		rulefile_error(&ld->rf, line,
			       "date '%s' is outside the warehouse's calendar "
			       "(%d to %d)",
			       field[0], FIRST_YEAR, LAST_YEAR);
		return;
	}
	if (strcmp(field[1], "holiday") == 0) {
		workday = false;
	} else if (strcmp(field[1], "workday") == 0) {
		workday = true;
	} else {
		rulefile_error(
		    &ld->rf, line,
		    "unknown kind '%s', expected 'holiday' or 'workday'",
		    field[1]);
		return;
	}
	if (workday && !is_weekend(day)) {
		rulefile_error(&ld->rf, line,
			       "workday '%s' is not a Saturday or Sunday",
			       field[0]);
		return;
	}
	add_entry(ld->cal, day, workday, line, field[2]);
}

static void parse_line(void *ctx, unsigned long line, char *text)
{
	struct cal_loader *ld = ctx;

	if (text[0] == '#') {
		parse_comment(ld, line, text + 1);
		return;
	}
	if (!ld->seen_header) {
		ld->seen_header = true;
		if (strcmp(text, CAL_HEADER) != 0)
			rulefile_error(&ld->rf, line,
				       "expected the header '" CAL_HEADER
				       "', found '%s'",
				       text);
		return;
	}
	parse_entry(ld, line, text);
}

static int cmp_index(const void *a, const void *b)
{
	const struct cal_index *x = a, *y = b;

	if (x->day != y->day)
		return x->day < y->day ? -1 : 1;
	return x->entry < y->entry ? -1 : x->entry > y->entry;
}

/* Sort the index by day and report every date given more than once. */
static void build_index(struct cal_loader *ld)
{
	struct calendar *cal = ld->cal;

	if (!cal->nr)
		return;
	cal->index = xcalloc(cal->nr, sizeof(*cal->index));
	for (size_t i = 0; i < cal->nr; i++) {
		cal->index[i].day = cal->entries[i].day;
		cal->index[i].entry = i;
	}
	qsort(cal->index, cal->nr, sizeof(*cal->index), cmp_index);
	for (size_t i = 1; i < cal->nr; i++) {
		const struct cal_entry *first, *dup;
		int y, m, d;

		if (cal->index[i].day != cal->index[i - 1].day)
			continue;
		first = &cal->entries[cal->index[i - 1].entry];
		dup = &cal->entries[cal->index[i].entry];
		civil_from_days(dup->day, &y, &m, &d);
		rulefile_error(
		    &ld->rf, dup->line,
		    "duplicate date '%04d-%02d-%02d' (first on line %lu)", y, m,
		    d, first->line);
	}
}

struct calendar *calendar_load(const char *path, struct buf *err)
{
	struct cal_loader ld = {.rf = {.path = path, .err = err}};

	ld.cal = xcalloc(1, sizeof(*ld.cal));
	if (rulefile_read(&ld.rf, parse_line, &ld) < 0) {
		calendar_free(ld.cal);
		return NULL;
	}
	if (!ld.seen_header)
		rulefile_error(&ld.rf, 0, "no header '" CAL_HEADER "'");
	build_index(&ld);
	if (ld.rf.errors) {
		calendar_free(ld.cal);
		return NULL;
	}
	return ld.cal;
}

void calendar_free(struct calendar *cal)
{
	if (!cal)
		return;
	for (size_t i = 0; i < cal->nr; i++)
		free(cal->entries[i].note);
	free(cal->entries);
	free(cal->index);
	free(cal);
}

int calendar_covers(const struct calendar *cal, int *from_year, int *to_year)
{
	if (!cal || !cal->has_covers)
		return -1;
	*from_year = cal->from_year;
	*to_year = cal->to_year;
	return 0;
}

char *calendar_coverage_warning(const struct calendar *cal, const char *path)
{
	if (!cal || cal->has_covers)
		return NULL;
	return xasprintf("calendar '%s' has no '# covers:' line: its %zu "
			 "dates apply, and every other day counts Monday to "
			 "Friday; add the line naming the years it is complete "
			 "for",
			 path, cal->nr);
}

static int cmp_day_key(const void *key, const void *elem)
{
	long day = *(const long *)key;
	const struct cal_index *x = elem;

	return day < x->day ? -1 : day > x->day;
}

bool calendar_is_workday(const struct calendar *cal, long day)
{
	const struct cal_index *hit = NULL;

	if (cal && cal->nr)
		hit = bsearch(&day, cal->index, cal->nr, sizeof(*cal->index),
			      cmp_day_key);
	if (hit)
		return cal->entries[hit->entry].workday;
	return !is_weekend(day);
}

size_t calendar_entry_count(const struct calendar *cal)
{
	return cal ? cal->nr : 0;
}

void calendar_entry(const struct calendar *cal, size_t i, long *day,
		    const char **kind, const char **note)
{
	const struct cal_entry *e = &cal->entries[i];

	*day = e->day;
	*kind = e->workday ? "workday" : "holiday";
	*note = e->note;
}
