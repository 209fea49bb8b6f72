/*
 * audit.h - the run audit: one etl.run row per source run, one
 * etl.run_entity row per entity it read.  Every statement that writes
 * those rows, and the reads that decide what to write, live here.
 *
 * Who owns what: the pipeline decides when a run begins, succeeds or
 * fails, and counts the rows; this module owns the SQL and the rules of
 * the record (a row says 'running' until its run ends, a failure never
 * overwrites a success).  It speaks to PostgreSQL through pgload and knows
 * nothing of HTTP or CSV.
 *
 * Two sessions take part.  The autocommit audit session records the start
 * and the failure, which must survive a run that is rolled back; the run's
 * own transaction records the success, so that the counts commit with the
 * rows or not at all.
 */
#ifndef ONESTOP_AUDIT_H
#define ONESTOP_AUDIT_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "buf.h"

/* What etl.run records of a run when it begins. */
struct audit_run {
	const char *source;
	const char *command; /* "run", "rerun", "load-file" */
	const char *mode;    /* as status shows it: "nightly", "full", ... */
	const char *since;   /* yyyyMMddHHmmss local, or NULL */
	const char *until;   /* yyyyMMddHHmmss local, or NULL */
	long long batch_id;
	long long rerun_of;  /* 0, or the failed run this one repeats */
	const char *file;    /* the export loaded, or NULL */
};

/* Rows of one entity, or of the whole run. */
struct audit_counts {
	long long read, loaded, rejected, superseded;
};

/*
 * Whether the source has no watermark yet: its nightly run asks for
 * everything, and is recorded as a full load.  false when the warehouse
 * cannot say (the run is then recorded as asked).
 */
bool audit_first_load(PGconn *audit, const char *source);

/* Insert the run's row as 'running'; its run_id, or -1 (err says why). */
long long audit_begin(PGconn *audit, const struct audit_run *run,
		      struct buf *err);

/*
 * In the run's transaction, before its COMMIT: one row per entity read,
 * then the run's row set to succeeded with the totals (superseded is kept
 * per entity only).
 */
int audit_entity(PGconn *conn, long long run_id, const char *entity,
		 const struct audit_counts *c, struct buf *err);
int audit_succeed(PGconn *conn, long long run_id,
		  const struct audit_counts *total, struct buf *err);

/*
 * On the audit session (idle, not in a transaction): the run failed with
 * message, which is stored cleaned to valid UTF-8.  rows_loaded is 0
 * whatever total says: a failed run committed nothing.  Only a row still
 * 'running' changes.  Nothing to return: a failure to record the failure
 * is logged.
 */
void audit_fail(PGconn *audit, long long run_id,
		const struct audit_counts *total, const char *message);

/*
 * After a COMMIT that failed with why: whether it went through anyway (the
 * reply was lost), as the run's row says when read on the audit session.
 */
bool audit_commit_went_through(PGconn *audit, long long run_id,
			       const struct buf *why);

/*
 * Log steps and supplements waiting for a dossier not loaded yet
 * (orphans: stored under the home dw.orphan_month() until their dossier
 * comes), those whose current version came from source (NULL: every
 * source): a result of (entity, rows, dossiers) for each of bosung and
 * quatrinh that has any, in load order; NULL when the query failed (err
 * says why).  The caller PQclear()s it.
 */
PGresult *audit_orphans(PGconn *conn, const char *source, struct buf *err);

/*
 * Dossiers recorded under a unit code on or after the day the lineage
 * says it ended (rules.md, "Units across reorganisations"), of source
 * (NULL: every source): a result of (unit code, ended on, current unit,
 * dossiers) per code that has any; NULL when the query failed (err says
 * why).  The caller PQclear()s it.
 */
PGresult *audit_after_end(PGconn *conn, const char *source, struct buf *err);

/*
 * Holding the writers' lock, any 'running' row belongs to a process that
 * died: mark it failed ('interrupted'), with a warning per run.
 */
int audit_mark_interrupted(PGconn *conn, struct buf *err);

#endif
