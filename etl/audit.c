#include "audit.h"
#include "log.h"
#include "pgload.h"
#include "utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


bool audit_first_load(PGconn *audit, const char *source)
{
	struct buf none, ignored;
	const char *params[] = { source };
	bool first;

	buf_init(&none, 16);
	buf_init(&ignored, ERR_CAP);
	first = pg_query_value(audit, "SELECT NOT EXISTS (SELECT 1 FROM etl.watermark"
			       " WHERE source = $1)", 1, params, &none, &ignored) == 0 &&
		strcmp(buf_str(&none), "t") == 0;
	buf_release(&none);
	buf_release(&ignored);
	return first;
}

long long audit_begin(PGconn *audit, const struct audit_run *run,
		      struct buf *err)
{
	char batch[32], rerun_of[32];
	snprintf(batch, sizeof(batch), "%lld", run->batch_id);
	snprintf(rerun_of, sizeof(rerun_of), "%lld", run->rerun_of);
	const char *params[] = {
		run->source, run->command, run->mode, run->since,
		run->until, batch, run->rerun_of ? rerun_of : NULL, run->file,
	};
	struct buf id;
	buf_init(&id, 64);
	long long run_id = -1;
	if (pg_query_value(audit,
			   "INSERT INTO etl.run (source, command, mode, started_at, status,"
			   " window_from, window_to, batch_id, rerun_of, file_name, pid,"
			   " rows_read, rows_loaded, rows_rejected)"
			   " VALUES ($1, $2, $3, clock_timestamp(), 'running',"
			   " to_timestamp($4, 'YYYYMMDDHH24MISS')::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh',"
			   " to_timestamp($5, 'YYYYMMDDHH24MISS')::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh',"
			   " $6, $7, $8, pg_backend_pid(), 0, 0, 0) RETURNING run_id",
			   8, params, &id, err) == 0)
		run_id = atoll(buf_str(&id));
	buf_release(&id);
	return run_id;
}

/* A run's id and counts as parameter text. */
struct count_text {
	char id[32], read[32], loaded[32], rejected[32], superseded[32];
};

static void count_text(struct count_text *t, long long run_id,
		       const struct audit_counts *c)
{
	snprintf(t->id, sizeof(t->id), "%lld", run_id);
	snprintf(t->read, sizeof(t->read), "%lld", c->read);
	snprintf(t->loaded, sizeof(t->loaded), "%lld", c->loaded);
	snprintf(t->rejected, sizeof(t->rejected), "%lld", c->rejected);
	snprintf(t->superseded, sizeof(t->superseded), "%lld", c->superseded);
}

int audit_entity(PGconn *conn, long long run_id, const char *entity,
		 const struct audit_counts *c, struct buf *err)
{
	struct count_text t;
	count_text(&t, run_id, c);
	const char *params[] = { t.id, entity, t.read, t.loaded, t.rejected,
				 t.superseded };
	return pg_exec(conn,
		       "INSERT INTO etl.run_entity (run_id, entity, rows_read,"
		       " rows_loaded, rows_rejected, rows_superseded)"
		       " VALUES ($1, $2, $3, $4, $5, $6)",
		       6, params, err);
}

int audit_succeed(PGconn *conn, long long run_id,
		  const struct audit_counts *total, struct buf *err)
{
	struct count_text t;
	count_text(&t, run_id, total);
	const char *params[] = { t.id, t.read, t.loaded, t.rejected };
	return pg_exec(conn,
		       "UPDATE etl.run SET status = 'succeeded', finished_at = clock_timestamp(),"
		       " rows_read = $2, rows_loaded = $3, rows_rejected = $4, error = NULL"
		       " WHERE run_id = $1",
		       4, params, err);
}

void audit_fail(PGconn *audit, long long run_id,
		const struct audit_counts *total, const char *message)
{
	struct count_text t;
	count_text(&t, run_id, total);
	/* a message PostgreSQL refuses would lose the failure and its reason */
	struct buf clean;
	buf_init(&clean, 4 * ERR_CAP);
	const char *params[] = { t.id, utf8_clean(&clean, message), t.read,
				 t.rejected };
	/*
	 * Only a run still running: when the COMMIT reached the server and its
	 * reply was lost, the run committed its rows and watermarks, and its
	 * row must go on saying so.
	 */
	static const char sql[] =
		"UPDATE etl.run SET status = 'failed', finished_at = clock_timestamp(),"
		" error = $2, rows_read = $3, rows_loaded = 0, rows_rejected = $4"
		" WHERE run_id = $1 AND status = 'running'";
	struct buf err;
	buf_init(&err, ERR_CAP);
	int rc = pg_exec(audit, sql, 4, params, &err);
	if (rc < 0) {
		/*
		 * The warehouse may have restarted under the run (libpq does not
		 * always mark the connection bad): say why on a new session.
		 */
		PQreset(audit);
		if (PQstatus(audit) == CONNECTION_OK)
			rc = pg_exec(audit, sql, 4, params, &err);
	}
	if (rc < 0)
		log_error(NULL, NULL, "cannot record the failure of run %lld: %s",
			  run_id, buf_str(&err));
	buf_release(&err);
	buf_release(&clean);
}

/*
 * The run's row is set to succeeded in the same transaction as its rows,
 * so it says whether a COMMIT whose reply was lost committed; the audit
 * session did not see the run's connection drop.
 */
bool audit_commit_went_through(PGconn *audit, long long run_id,
			       const struct buf *why)
{
	char id[32];
	struct buf status, ignored;
	bool done;

	snprintf(id, sizeof(id), "%lld", run_id);
	const char *params[] = { id };
	buf_init(&status, 32);
	buf_init(&ignored, ERR_CAP);
	done = pg_query_value(audit, "SELECT status FROM etl.run WHERE run_id = $1",
			      1, params, &status, &ignored) == 0 &&
	       strcmp(buf_str(&status), "succeeded") == 0;
	if (done)
		log_warn(NULL, NULL, "run %lld committed, though the reply to its"
			 " COMMIT was lost (%s)", run_id, buf_str(why));
	buf_release(&status);
	buf_release(&ignored);
	return done;
}

/* So that status and rerun --failed see the dead process's run. */
int audit_mark_interrupted(PGconn *conn, struct buf *err)
{
	PGresult *res = pg_query(conn,
		"UPDATE etl.run SET status = 'failed', error = 'interrupted',"
		" finished_at = clock_timestamp() WHERE status = 'running' RETURNING run_id",
		0, NULL, err);
	if (!res)
		return -1;
	for (int i = 0; i < PQntuples(res); i++)
		log_warn(NULL, NULL, "run %s was left running by a process that died: marked failed (interrupted)",
			 PQgetvalue(res, i, 0));
	PQclear(res);
	return 0;
}

PGresult *audit_orphans(PGconn *conn, const char *source, struct buf *err)
{
	const char *params[] = { source };
	/* the orphans' home is one partition of each table: pruned at plan time */
	return pg_query(conn,
		"SELECT entity, rows, dossiers FROM ("
		" SELECT 1 AS o, 'bosung' AS entity, count(*) AS rows,"
		"  count(DISTINCT ma_ho_so) AS dossiers"
		"  FROM dw.supplement WHERE home_month = dw.orphan_month()"
		"  AND ($1::text IS NULL OR source = $1)"
		" UNION ALL"
		" SELECT 2, 'quatrinh', count(*), count(DISTINCT ma_ho_so)"
		"  FROM dw.log_step WHERE home_month = dw.orphan_month()"
		"  AND ($1::text IS NULL OR source = $1)) o"
		" WHERE rows > 0 ORDER BY o",
		1, params, err);
}

PGresult *audit_after_end(PGconn *conn, const char *source, struct buf *err)
{
	const char *params[] = { source };
	return pg_query(conn,
		"SELECT unit_code, ended_on, current_code, dossiers"
		" FROM dw.recorded_after_end($1)",
		1, params, err);
}
