/*
 * lineage.h - the unit lineage file (rules.md, "Units across
 * reorganisations"): who carried on each unit code that ended.  The one
 * reader that both the run (which copies the rows into the warehouse) and
 * check-config use.
 *
 * The file is a CSV (rulefile.h) with the header
 * "from_code,to_code,effective,basis"; lines starting with '#' are
 * comments, blanks around a field are dropped:
 *
 *	from_code,to_code,effective,basis
 *	000.05.32.H53,000.01.32.H53,2025-07-01,Nghị quyết …/NQ-UBTVQH15
 *
 * from_code is not used from effective (yyyy-MM-dd, the first day
 * without it); to_code took over its pending dossiers (one code, for a
 * unit split among several); basis is free text and may be empty.
 *
 * These are errors, all reported at once with file:line: a missing or
 * wrong header, a wrong number of fields, an empty code or one holding a
 * control character or invalid UTF-8, a bad date, from_code = to_code, a
 * from_code given twice (the later line, naming the first), and a cycle
 * (a -> b -> a: on its first line, naming each of its lines).  Codes the
 * warehouse has not seen are allowed.
 */
#ifndef ONESTOP_LINEAGE_H
#define ONESTOP_LINEAGE_H

#include <stddef.h>

struct buf;
struct lineage;

/* One line of the file.  Strings live until lineage_free; basis may be "". */
struct lineage_row {
	const char *from_code, *to_code, *basis;
	long effective; /* day number (civil.h) */
	unsigned long line;
};

/*
 * Load the lineage at path; a NULL path (the key not set) is an empty
 * lineage.  On any error, append one line per error to err (which may be
 * NULL) and return NULL.  The caller frees the result with lineage_free.
 */
struct lineage *lineage_load(const char *path, struct buf *err);
void lineage_free(struct lineage *lin);

/* The rows in file order. */
size_t lineage_count(const struct lineage *lin);
const struct lineage_row *lineage_row(const struct lineage *lin, size_t i);

/*
 * The current unit of code: the end of its chain of rows, whatever their
 * dates; code itself when it has no row.  Valid until lineage_free (or as
 * long as code, when that is the answer).
 */
const char *lineage_current(const struct lineage *lin, const char *code);

#endif
