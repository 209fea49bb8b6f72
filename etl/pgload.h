/*
 * pgload.h - everything the pipeline says to PostgreSQL goes through here:
 * connections, statements with parameters, COPY, the writers' advisory
 * lock and schema migrations.  The run audit (etl.run) is audit.h's, on
 * top of these.
 *
 * No statement is ever built by pasting data into SQL text: values travel
 * as parameters or inside COPY.  Functions return 0 or -1; on -1 the
 * message (one line, no secrets: libpq's own text) is in err.
 */
#ifndef ONESTOP_PGLOAD_H
#define ONESTOP_PGLOAD_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "buf.h"

/*
 * Connect; a conninfo of NULL or "" takes libpq's PG* environment.  The
 * session's application_name is "onestop-etl" unless conninfo or
 * PGAPPNAME names another, so that pg_stat_activity (and the message of a
 * writer that gave up on the lock) tells this program's sessions apart.
 */
PGconn *pg_connect(const char *conninfo, struct buf *err);
void pg_close(PGconn *conn);

/* A statement without result rows; params may be NULL when nparams is 0. */
int pg_exec(PGconn *conn, const char *sql, int nparams,
	    const char *const *params, struct buf *err);
/* A statement with result rows; NULL on error.  PQclear() the result. */
PGresult *pg_query(PGconn *conn, const char *sql, int nparams,
		   const char *const *params, struct buf *err);
/* A query that returns one value, copied into out (NULL → "" and 1). */
int pg_query_value(PGconn *conn, const char *sql, int nparams,
		   const char *const *params, struct buf *out, struct buf *err);

/*
 * COPY ... FROM STDIN.  pg_copy_put() sends what it is given (callers
 * batch rows into large chunks); pg_copy_end() with abort_msg != NULL
 * aborts the COPY, which fails the statement (and the transaction or
 * savepoint around it).
 */
int pg_copy_begin(PGconn *conn, const char *sql, struct buf *err);
int pg_copy_put(PGconn *conn, const char *data, size_t len, struct buf *err);
int pg_copy_end(PGconn *conn, const char *abort_msg, struct buf *err);

/*
 * The writers' lock (interfaces.md: run, rerun, load-file, rescore and
 * migrate never work at once).  Session-level, so it dies with the
 * connection.  wait_seconds 0 only tries; otherwise the wait is bounded
 * by it (the session's lock_timeout, in the queue of waiters, first come
 * first served).  Returns 0 when held, 1 when busy (or still busy when
 * the wait ran out), -1 on error.
 */
int pg_lock_writers(PGconn *conn, long wait_seconds, struct buf *err);

/*
 * Who holds the writers' lock, for a message: "pid 123 (application
 * 'onestop-etl', user 'etl', connected 2 h 05 min ago, idle)", or a
 * sentence saying it is free now.  0 or -1.
 */
int pg_lock_holder(PGconn *conn, struct buf *out, struct buf *err);

/*
 * Set one of the session's bounds, statement_timeout or lock_timeout, in
 * seconds; 0 is no limit (PostgreSQL's own meaning of 0).
 */
int pg_set_timeout(PGconn *conn, const char *name, long seconds, struct buf *err);

/*
 * Whether the backend `pid` (the session that took the writers' lock)
 * still holds it: a commit made on another session checks this first, so
 * that a run whose lock died with a warehouse restart never commits
 * beside the next writer.  1 held, 0 not, -1 on error.
 */
int pg_lock_held_by(PGconn *conn, int pid, struct buf *err);

/*
 * Migrations are the numbered files of sql/migrations (state), the code
 * modules the files of sql/code (functions and views), both embedded in
 * the binary at build time so the program and its schema cannot drift
 * apart.  pg_migrate applies, in one transaction, the migrations the
 * warehouse lacks, then every code module again if any of them differs
 * from what the warehouse last applied (etl.code_module); a warehouse at
 * schema version 1 to 8 is refused (release 9 migrates it first).
 * pg_code_current: 1 when the warehouse's code modules are the program's,
 * 0 when not, -1 on error (it needs schema version 10 or later).
 */
int pg_schema_version(PGconn *conn, int *version, struct buf *err);
int pg_schema_target(void);
int pg_code_current(PGconn *conn, struct buf *err);
int pg_migrate(PGconn *conn, struct buf *err);

#endif
