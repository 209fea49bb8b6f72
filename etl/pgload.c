#include "pgload.h"
#include "log.h"
#include "sql_embed.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* The advisory lock's key: "onestop" in two 32-bit halves. */
#define LOCK_KEY1 0x6f6e6573
#define LOCK_KEY2 0x746f70

/* One line of libpq's message, without its trailing newline. */
static int pg_error(struct buf *err, const char *what, const char *msg)
{
	buf_reset(err);
	buf_addf(err, "%s: ", what);
	size_t len = strcspn(msg, "\n");
	buf_add(err, msg, len);
	return -1;
}

/* The server's warnings (e.g. "terminating connection") as log lines. */
static void log_notice(void *arg, const char *message)
{
	(void)arg;
	log_warn(NULL, NULL, "warehouse: %.*s", (int)strcspn(message, "\n"), message);
}

PGconn *pg_connect(const char *conninfo, struct buf *err)
{
	/* a fallback: an application_name in conninfo or PGAPPNAME wins */
	const char *const keys[] = { "dbname", "fallback_application_name", NULL };
	const char *const values[] = { conninfo ? conninfo : "", "onestop-etl", NULL };
	PGconn *conn = PQconnectdbParams(keys, values, 1);
	if (!conn) {
		pg_error(err, "cannot connect to the warehouse", "out of memory");
		return NULL;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		pg_error(err, "cannot connect to the warehouse", PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	PQsetNoticeProcessor(conn, log_notice, NULL);
	/*
	 * Quiet NOTICEs (CREATE ... IF NOT EXISTS) and a fixed zone for any
	 * text timestamps we read back: rules never depend on it, but
	 * messages and watermarks then read the same on every host.
	 */
	/*
	 * temp_buffers can only be set before the session's first temporary
	 * table: staging lives in temp tables, and the 8 MB default makes a
	 * night's merge churn them through disk.
	 */
	PGresult *res = PQexec(conn, "SET client_min_messages = warning; "
				     "SET TIME ZONE 'Asia/Ho_Chi_Minh'; "
				     "SET temp_buffers = '256MB'");
	PQclear(res);
	return conn;
}

void pg_close(PGconn *conn)
{
	if (conn)
		PQfinish(conn);
}

static PGresult *run(PGconn *conn, const char *sql, int nparams,
		     const char *const *params)
{
	if (nparams == 0)
		return PQexec(conn, sql);
	return PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
}

int pg_exec(PGconn *conn, const char *sql, int nparams,
	    const char *const *params, struct buf *err)
{
	PGresult *res = run(conn, sql, nparams, params);
	ExecStatusType st = PQresultStatus(res);
	int rc = 0;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		rc = pg_error(err, "warehouse", PQresultErrorMessage(res));
	PQclear(res);
	return rc;
}

PGresult *pg_query(PGconn *conn, const char *sql, int nparams,
		   const char *const *params, struct buf *err)
{
	PGresult *res = run(conn, sql, nparams, params);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		pg_error(err, "warehouse", PQresultErrorMessage(res));
		PQclear(res);
		return NULL;
	}
	return res;
}

int pg_query_value(PGconn *conn, const char *sql, int nparams,
		   const char *const *params, struct buf *out, struct buf *err)
{
	PGresult *res = pg_query(conn, sql, nparams, params, err);
	if (!res)
		return -1;
	buf_reset(out);
	int isnull = PQntuples(res) == 0 || PQgetisnull(res, 0, 0);
	if (!isnull)
		buf_adds(out, PQgetvalue(res, 0, 0));
	PQclear(res);
	return isnull;
}

int pg_copy_begin(PGconn *conn, const char *sql, struct buf *err)
{
	PGresult *res = PQexec(conn, sql);
	int rc = 0;
	if (PQresultStatus(res) != PGRES_COPY_IN)
		rc = pg_error(err, "warehouse", PQresultErrorMessage(res));
	PQclear(res);
	return rc;
}

int pg_copy_put(PGconn *conn, const char *data, size_t len, struct buf *err)
{
	if (len == 0)
		return 0;
	if (PQputCopyData(conn, data, (int)len) != 1)
		return pg_error(err, "warehouse", PQerrorMessage(conn));
	return 0;
}

int pg_copy_end(PGconn *conn, const char *abort_msg, struct buf *err)
{
	int rc = 0;
	if (PQputCopyEnd(conn, abort_msg) != 1)
		rc = pg_error(err, "warehouse", PQerrorMessage(conn));
	PGresult *res;
	while ((res = PQgetResult(conn)) != NULL) {
		if (!abort_msg && rc == 0 &&
		    PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = pg_error(err, "warehouse", PQresultErrorMessage(res));
		PQclear(res);
	}
	return rc;
}

static void lock_keys(char k1[16], char k2[16])
{
	snprintf(k1, 16, "%d", LOCK_KEY1);
	snprintf(k2, 16, "%d", LOCK_KEY2);
}

static int try_lock_writers(PGconn *conn, struct buf *err)
{
	char k1[16], k2[16];
	lock_keys(k1, k2);
	const char *params[] = { k1, k2 };
	PGresult *res = pg_query(conn, "SELECT pg_try_advisory_lock($1::int, $2::int)",
				 2, params, err);
	if (!res)
		return -1;
	int got = !strcmp(PQgetvalue(res, 0, 0), "t");
	PQclear(res);
	return got ? 0 : 1;
}

/*
 * pg_advisory_lock under lock_timeout rather than a loop of tries: the
 * waiters keep their place in PostgreSQL's queue, and the server ends
 * the wait (SQLSTATE 55P03, lock_not_available).
 */
int pg_lock_writers(PGconn *conn, long wait_seconds, struct buf *err)
{
	if (wait_seconds <= 0)
		return try_lock_writers(conn, err);
	if (pg_set_timeout(conn, "lock_timeout", wait_seconds, err) < 0)
		return -1;
	char k1[16], k2[16];
	lock_keys(k1, k2);
	const char *params[] = { k1, k2 };
	PGresult *res = run(conn, "SELECT pg_advisory_lock($1::int, $2::int)", 2, params);
	int rc = 0;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		rc = state && !strcmp(state, "55P03")
			     ? 1 : pg_error(err, "warehouse", PQresultErrorMessage(res));
	}
	PQclear(res);
	if (rc >= 0 && pg_exec(conn, "RESET lock_timeout", 0, NULL, err) < 0)
		rc = -1;
	return rc;
}

int pg_set_timeout(PGconn *conn, const char *name, long seconds, struct buf *err)
{
	char value[32];
	snprintf(value, sizeof(value), "%lds", seconds);
	const char *params[] = { name, value };
	return pg_exec(conn, "SELECT set_config($1, $2, false)", 2, params, err);
}

/* "5 s", "3 min 20 s", "2 h 05 min": how long a session has been there. */
static void add_duration(struct buf *out, long long s)
{
	if (s < 60)
		buf_addf(out, "%lld s", s);
	else if (s < 3600)
		buf_addf(out, "%lld min %02lld s", s / 60, s % 60);
	else
		buf_addf(out, "%lld h %02lld min", s / 3600, s / 60 % 60);
}

/*
 * A session-level advisory lock does not record when it was granted:
 * the holder's connection time is the bound on how long it has held it
 * (a writer takes the lock right after it connects).
 */
static const char LOCK_HOLDER[] =
	"SELECT l.pid, coalesce(a.application_name, ''), coalesce(a.usename::text, ''),"
	" coalesce(extract(epoch FROM now() - a.backend_start)::bigint::text, ''),"
	" coalesce(a.state, '')"
	" FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid"
	" WHERE l.locktype = 'advisory' AND l.granted"
	" AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
	" AND l.classid = $1::int::oid AND l.objid = $2::int::oid AND l.objsubid = 2";

int pg_lock_holder(PGconn *conn, struct buf *out, struct buf *err)
{
	char k1[16], k2[16];
	lock_keys(k1, k2);
	const char *params[] = { k1, k2 };
	PGresult *res = pg_query(conn, LOCK_HOLDER, 2, params, err);
	if (!res)
		return -1;
	buf_reset(out);
	if (PQntuples(res) == 0) {
		buf_adds(out, "no session holds it now (its holder just finished)");
		PQclear(res);
		return 0;
	}
	const char *age = PQgetvalue(res, 0, 3), *state = PQgetvalue(res, 0, 4);
	buf_addf(out, "pid %s (application '%s', user '%s'", PQgetvalue(res, 0, 0),
		 PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
	if (*age) {
		buf_adds(out, ", connected ");
		add_duration(out, atoll(age));
		buf_adds(out, " ago");
	}
	if (*state)
		buf_addf(out, ", %s", state);
	buf_adds(out, ")");
	PQclear(res);
	return 0;
}

int pg_lock_held_by(PGconn *conn, int pid, struct buf *err)
{
	char k1[16], k2[16], p[16];
	snprintf(k1, sizeof(k1), "%d", LOCK_KEY1);
	snprintf(k2, sizeof(k2), "%d", LOCK_KEY2);
	snprintf(p, sizeof(p), "%d", pid);
	const char *params[] = { k1, k2, p };
	PGresult *res = pg_query(conn,
		"SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'"
		" AND classid = $1::int::oid AND objid = $2::int::oid AND objsubid = 2"
		" AND pid = $3::int AND granted)",
		3, params, err);
	if (!res)
		return -1;
	int held = !strcmp(PQgetvalue(res, 0, 0), "t");
	PQclear(res);
	return held;
}

int pg_schema_target(void)
{
	return sql_files[sql_file_count - 1].version;
}

int pg_schema_version(PGconn *conn, int *version, struct buf *err)
{
	struct buf out;
	buf_init(&out, 64);
	*version = 0;
	/* two statements: the second would not even parse without the table */
	int rc = pg_query_value(conn, "SELECT to_regclass('etl.schema_migration')",
				0, NULL, &out, err);
	if (rc == 0)
		rc = pg_query_value(conn,
				    "SELECT coalesce(max(version), 0) FROM etl.schema_migration",
				    0, NULL, &out, err);
	if (rc == 0)
		*version = atoi(buf_str(&out));
	buf_release(&out);
	return rc < 0 ? -1 : 0;
}

/*
 * sql/migrations 001-003 are the schema of release 9 (whose migrations
 * were 001-009) squashed: a warehouse at 9 skips them, one at 1 to 8 must
 * first be migrated by release 9.
 */
#define SQUASHED_VERSION 9

/*
 * Before the code modules are applied again, every function and view of
 * the code's schemas goes (an extension's excepted), so that nothing a
 * module no longer defines stays behind; the views in one statement, as
 * one may be built on another.  A view or function of someone else's that
 * depends on them makes this fail, and the migrate with it: the error
 * names it.
 */
static const char DROP_CODE[] =
	"DO $$\n"
	"DECLARE\n"
	"    views text;\n"
	"    routines text;\n"
	"BEGIN\n"
	"    SELECT string_agg(c.oid::regclass::text, ', ') INTO views\n"
	"    FROM pg_class c\n"
	"    WHERE c.relnamespace::regnamespace::text IN ('etl', 'dw', 'mart')\n"
	"      AND c.relkind IN ('v', 'm')\n"
	"      AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass\n"
	"                      AND d.objid = c.oid AND d.deptype = 'e');\n"
	"    IF views IS NOT NULL THEN\n"
	"        EXECUTE 'DROP VIEW ' || views;\n"
	"    END IF;\n"
	"    SELECT string_agg(p.oid::regprocedure::text, ', ') INTO routines\n"
	"    FROM pg_proc p\n"
	"    WHERE p.pronamespace::regnamespace::text IN ('etl', 'dw', 'mart')\n"
	"      AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass\n"
	"                      AND d.objid = p.oid AND d.deptype = 'e');\n"
	"    IF routines IS NOT NULL THEN\n"
	"        EXECUTE 'DROP ROUTINE ' || routines;\n"
	"    END IF;\n"
	"END\n"
	"$$";

static int apply_migration(PGconn *conn, const struct sql_file *f, struct buf *err)
{
	char version[16];
	snprintf(version, sizeof(version), "%d", f->version);
	const char *params[] = { version, f->name };
	if (pg_exec(conn, f->text, 0, NULL, err) < 0 ||
	    pg_exec(conn, "INSERT INTO etl.schema_migration (version, name) VALUES ($1, $2)",
		    2, params, err) < 0) {
		buf_addf(err, " (in %s)", f->name);
		return -1;
	}
	log_info(NULL, NULL, "applied migration %s", f->name);
	return 0;
}

/*
 * Only the names and hashes go to the server, not the code: a command
 * checks them every time it connects.
 */
int pg_code_current(PGconn *conn, struct buf *err)
{
	struct buf out;
	buf_init(&out, 64);
	int rc = pg_query_value(conn, "SELECT count(*) FROM etl.code_module", 0, NULL, &out,
				err);
	int current = rc == 0 && (size_t)atol(buf_str(&out)) == sql_code_count;
	for (size_t i = 0; rc == 0 && current && i < sql_code_count; i++) {
		const char *params[] = { sql_code[i].name, sql_code[i].hash };
		rc = pg_query_value(conn,
				    "SELECT EXISTS (SELECT FROM etl.code_module"
				    " WHERE name = $1 AND hash = $2)",
				    2, params, &out, err);
		current = rc == 0 && !strcmp(buf_str(&out), "t");
	}
	buf_release(&out);
	return rc < 0 ? -1 : current;
}

/*
 * The code modules, all of them again: functions and views are dropped
 * and created from the current definitions, and the hashes recorded.
 * check_function_bodies stays on: a module's SQL functions are checked as
 * they are created.
 */
static int apply_code(PGconn *conn, struct buf *err)
{
	if (pg_exec(conn, DROP_CODE, 0, NULL, err) < 0 ||
	    pg_exec(conn, "DELETE FROM etl.code_module", 0, NULL, err) < 0)
		return -1;
	for (size_t i = 0; i < sql_code_count; i++) {
		const char *params[] = { sql_code[i].name, sql_code[i].hash };
		if (pg_exec(conn, sql_code[i].text, 0, NULL, err) < 0 ||
		    pg_exec(conn, "INSERT INTO etl.code_module (name, hash) VALUES ($1, $2)",
			    2, params, err) < 0) {
			buf_addf(err, " (in sql/code/%s)", sql_code[i].name);
			return -1;
		}
	}
	log_info(NULL, NULL, "applied the %zu code modules", sql_code_count);
	return 0;
}

/* The migrations the warehouse lacks, then the code if it changed. */
static int migrate_in_transaction(PGconn *conn, int current, struct buf *err)
{
	if (pg_exec(conn, "SET LOCAL check_function_bodies = on", 0, NULL, err) < 0)
		return -1;
	for (size_t i = 0; i < sql_file_count; i++) {
		if (sql_files[i].version <= current)
			continue;
		if (apply_migration(conn, &sql_files[i], err) < 0)
			return -1;
	}
	int code = pg_code_current(conn, err);
	if (code < 0 || (!code && apply_code(conn, err) < 0))
		return -1;
	/* data moves that need the code: sql/code/admin.sql says which */
	return pg_exec(conn, "SELECT etl.after_migrate()", 0, NULL, err);
}

/*
 * A migrate that changes a warehouse holding data says so before it
 * starts.  It is the one writer that readers of mart wait for: applying the
 * code drops and creates the mart views, a migration may rewrite a table,
 * and etl.after_migrate may derive everything again, all in one transaction
 * (README, "Upgrading a warehouse that holds data").
 */
static int announce(PGconn *conn, int current, struct buf *err)
{
	if (current == 0)
		return 0; /* a new warehouse: nothing to read yet */
	int pending = 0;
	for (size_t i = 0; i < sql_file_count; i++)
		pending += sql_files[i].version > current;
	/* etl.code_module came with 010 */
	int code = current >= 10 ? pg_code_current(conn, err) : 0;
	if (code < 0)
		return -1;
	if (!pending && code)
		return 0;
	struct buf out;
	buf_init(&out, 16);
	int rc = pg_query_value(conn, "SELECT EXISTS (SELECT FROM dw.dossier_key)", 0, NULL,
				&out, err);
	if (rc == 0 && !strcmp(buf_str(&out), "t")) {
		char what[64] = "";
		if (pending)
			snprintf(what, sizeof(what), "%d migration%s%s", pending,
				 pending == 1 ? "" : "s", code ? "" : " and ");
		log_warn(NULL, NULL,
			 "migrate: %s%s to apply to a warehouse that holds data; "
			 "readers of mart wait until it commits, which may take as long as a rescore",
			 what, code ? "" : "the SQL code");
	}
	buf_release(&out);
	return rc;
}

int pg_migrate(PGconn *conn, struct buf *err)
{
	if (pg_exec(conn,
		    "CREATE SCHEMA IF NOT EXISTS etl; "
		    "CREATE TABLE IF NOT EXISTS etl.schema_migration ("
		    " version int PRIMARY KEY, name text NOT NULL,"
		    " applied_at timestamptz NOT NULL DEFAULT now())",
		    0, NULL, err) < 0)
		return -1;
	int current;
	if (pg_schema_version(conn, &current, err) < 0)
		return -1;
	if (current > pg_schema_target()) {
		buf_reset(err);
		buf_addf(err, "the warehouse is at schema version %d, newer than this program's %d",
			 current, pg_schema_target());
		return -1;
	}
	if (current > 0 && current < SQUASHED_VERSION) {
		buf_reset(err);
		buf_addf(err, "the warehouse is at schema version %d: migrate it to version %d with release %d's onestop-etl first",
			 current, SQUASHED_VERSION, SQUASHED_VERSION);
		return -1;
	}
	if (announce(conn, current, err) < 0 || pg_exec(conn, "BEGIN", 0, NULL, err) < 0)
		return -1;
	if (migrate_in_transaction(conn, current, err) < 0 ||
	    pg_exec(conn, "COMMIT", 0, NULL, err) < 0) {
		struct buf ignored;
		buf_init(&ignored, 256);
		pg_exec(conn, "ROLLBACK", 0, NULL, &ignored);
		buf_release(&ignored);
		return -1;
	}
	return 0;
}
