/*
 * main.c - the onestop-etl command: options, subcommands, exit codes.
 * This is the only file that decides how the process ends.
 */
#include "calendar.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "pgload.h"
#include "pipeline.h"
#include "report.h"
#include "tstamp.h"
#include "util.h"

#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXIT_SOURCE_FAILED 1
#define EXIT_USAGE 2
#define EXIT_WAREHOUSE 3
#define EXIT_LOCKED 4
#define ERR_CAP 4096

#ifndef ONESTOP_VERSION
#define ONESTOP_VERSION "0.1.0"
#endif

struct globals {
	const char *config_path;
	struct config cfg;
	bool cfg_loaded;
};

struct command {
	const char *name;
	int (*fn)(struct globals *g, int argc, char **argv);
	const char *usage;
	const char *help;
};

static const struct command *find_command(const char *name);

static int usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "onestop-etl%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'onestop-etl %s--help'.\n", cmd ? cmd : "");
	return EXIT_USAGE;
}

/* ------------------------------------------------------ shared plumbing */

static int load_config(struct globals *g)
{
	struct buf errs, warns;
	buf_init(&errs, 1 << 20);
	buf_init(&warns, 1 << 20);
	const char *path = config_default_path(g->config_path);
	int n = config_load(path, &g->cfg, &errs, &warns);
	g->cfg_loaded = true;
	if (warns.len)
		fprintf(stderr, "%s", buf_str(&warns));
	if (n)
		fprintf(stderr, "%s%d error%s in '%s'\n", buf_str(&errs), n,
			n == 1 ? "" : "s", path);
	buf_release(&errs);
	buf_release(&warns);
	return n ? -1 : 0;
}

/*
 * Connect for a command that needs the warehouse at this program's schema
 * version; exit code 3 otherwise.
 */
static PGconn *connect_warehouse(struct globals *g, bool check_version)
{
	struct buf err;
	buf_init(&err, ERR_CAP);
	PGconn *conn = pg_connect(g->cfg.dsn, &err);
	int version = 0;
	if (conn && check_version) {
		if (pg_schema_version(conn, &version, &err) < 0) {
			pg_close(conn);
			conn = NULL;
		} else if (version != pg_schema_target()) {
			buf_addf(&err, "the warehouse is at schema version %d, this program needs %d: run 'onestop-etl migrate'",
				 version, pg_schema_target());
			pg_close(conn);
			conn = NULL;
		}
	}
	if (!conn)
		log_error(NULL, NULL, "%s", buf_str(&err));
	buf_release(&err);
	return conn;
}

/* Take the writers' lock; 0, or an exit code. */
static int take_lock(PGconn *conn, bool no_wait)
{
	struct buf err;
	buf_init(&err, ERR_CAP);
	int rc = pg_lock_writers(conn, false, &err);
	if (rc == 1 && !no_wait) {
		log_info(NULL, NULL, "another run holds the lock; waiting for it");
		rc = pg_lock_writers(conn, true, &err);
	}
	if (rc == 1)
		log_error(NULL, NULL, "another run holds the lock (--no-wait)");
	else if (rc < 0)
		log_error(NULL, NULL, "%s", buf_str(&err));
	buf_release(&err);
	return rc == 0 ? 0 : rc == 1 ? EXIT_LOCKED : EXIT_WAREHOUSE;
}

/*
 * Holding the lock, any 'running' row belongs to a process that died:
 * say so, so that status and rerun --failed see it.
 */
static int start_batch(PGconn *conn, struct app *app, struct globals *g)
{
	struct buf err, val;
	buf_init(&err, ERR_CAP);
	buf_init(&val, 128);
	int rc = -1;
	app->cfg = &g->cfg;
	app->conninfo = g->cfg.dsn;
	pthread_mutex_init(&app->commit_lock, NULL);
	if (pg_exec(conn, "UPDATE etl.run SET status = 'failed', error = 'interrupted',"
			  " finished_at = clock_timestamp() WHERE status = 'running'",
		    0, NULL, &err) < 0 ||
	    pg_query_value(conn, "SELECT nextval('etl.batch_seq')", 0, NULL, &val, &err) < 0)
		goto out;
	app->batch_id = atoll(buf_str(&val));
	if (pg_query_value(conn, "SELECT now()::text", 0, NULL, &val, &err) < 0)
		goto out;
	snprintf(app->as_of, sizeof(app->as_of), "%s", buf_str(&val));
	rc = 0;
out:
	if (rc < 0)
		log_error(NULL, NULL, "%s", buf_str(&err));
	buf_release(&err);
	buf_release(&val);
	return rc;
}

/*
 * The common frame of the writing commands: configuration, warehouse,
 * lock, stale rows, rules.  Returns 0 with *conn holding the lock, or an
 * exit code.
 */
static int writer_begin(struct globals *g, bool no_wait, bool force_rescore,
			struct app *app, PGconn **conn)
{
	if (load_config(g) < 0)
		return EXIT_USAGE;
	*conn = connect_warehouse(g, true);
	if (!*conn)
		return EXIT_WAREHOUSE;
	int rc = take_lock(*conn, no_wait);
	if (rc)
		return rc;
	if (start_batch(*conn, app, g) < 0)
		return EXIT_WAREHOUSE;
	struct buf err;
	buf_init(&err, ERR_CAP);
	rc = pipeline_apply_rules(app, *conn, force_rescore, &err);
	if (rc < 0)
		log_error(NULL, NULL, "%s", buf_str(&err));
	buf_release(&err);
	return rc < 0 ? EXIT_SOURCE_FAILED : 0;
}

/* A --since/--until value in any form of the source contract. */
static int parse_window(const char *cmd, const char *opt, const char *value,
			char out[15])
{
	int64_t us;
	if (tstamp_parse(value, strlen(value), &us) < 0)
		return usage_error(cmd, "%s: '%s' is not a timestamp (yyyyMMddHHmmss or ISO 8601)",
				   opt, value);
	tstamp_format_local_compact(us, out);
	return 0;
}

/* The sources of one run, shared by its worker threads. */
struct source_queue {
	struct app *app;
	struct globals *g;
	const char *const *names;
	size_t nnames;
	const struct run_request *req;
	pthread_mutex_t lock;
	size_t next;
	int failed;
};

static bool source_wanted(const struct source_queue *q, const char *name)
{
	if (q->nnames == 0)
		return true;
	for (size_t j = 0; j < q->nnames; j++)
		if (!strcmp(q->names[j], name))
			return true;
	return false;
}

static void *source_worker(void *arg)
{
	struct source_queue *q = arg;
	for (;;) {
		pthread_mutex_lock(&q->lock);
		size_t i = q->next++;
		pthread_mutex_unlock(&q->lock);
		if (i >= q->g->cfg.nsources)
			return NULL;
		const struct source_cfg *src = &q->g->cfg.sources[i];
		if (!source_wanted(q, src->name))
			continue;
		long long run_id;
		if (pipeline_run_source(q->app, src, (int)i, q->req, &run_id) < 0) {
			pthread_mutex_lock(&q->lock);
			q->failed++;
			pthread_mutex_unlock(&q->lock);
		}
	}
}

/*
 * Run the wanted sources, `parallel` at a time.  Sources are independent:
 * one failing does not stop the others.
 */
static int run_sources(struct app *app, struct globals *g,
		       const char *const *names, size_t nnames,
		       const struct run_request *req)
{
	struct source_queue q = {
		.app = app, .g = g, .names = names, .nnames = nnames, .req = req,
	};
	pthread_mutex_init(&q.lock, NULL);
	size_t nthreads = (size_t)g->cfg.parallel;
	if (nthreads > g->cfg.nsources)
		nthreads = g->cfg.nsources;
	pthread_t *threads = xcalloc(nthreads, sizeof(*threads));
	size_t started = 0;
	for (; started < nthreads; started++)
		if (pthread_create(&threads[started], NULL, source_worker, &q) != 0)
			break;
	if (started == 0)
		source_worker(&q);
	for (size_t i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	pthread_mutex_destroy(&q.lock);
	return q.failed ? EXIT_SOURCE_FAILED : 0;
}

/* ------------------------------------------------------------- commands */

static int wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return 1;
	return 0;
}

static int cmd_run(struct globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "source", required_argument, NULL, 's' },
		{ "since", required_argument, NULL, 'S' },
		{ "until", required_argument, NULL, 'U' },
		{ "full", no_argument, NULL, 'f' },
		{ "no-wait", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char **names = xcalloc((size_t)argc, sizeof(char *));
	size_t nnames = 0;
	char since[15] = "", until[15] = "";
	bool full = false, no_wait = false;
	int c, rc = 0;
	while (rc == 0 && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 's')
			names[nnames++] = optarg;
		else if (c == 'S')
			rc = parse_window("run", "--since", optarg, since);
		else if (c == 'U')
			rc = parse_window("run", "--until", optarg, until);
		else if (c == 'f')
			full = true;
		else if (c == 'n')
			no_wait = true;
		else
			rc = usage_error("run", "bad option");
	}
	if (rc == 0 && optind < argc)
		rc = usage_error("run", "unexpected argument '%s'", argv[optind]);
	if (rc == 0 && full && (since[0] || until[0]))
		rc = usage_error("run", "--full takes no --since or --until");
	if (rc) {
		free(names);
		return rc;
	}
	struct run_request req = {
		.command = "run",
		.mode = full ? MODE_FULL : (since[0] || until[0]) ? MODE_BACKFILL : MODE_NIGHTLY,
		.since = since[0] ? since : NULL,
		.until = until[0] ? until : NULL,
	};
	struct app app;
	PGconn *conn = NULL;
	rc = writer_begin(g, no_wait, false, &app, &conn);
	for (size_t i = 0; rc == 0 && i < nnames; i++)
		if (!config_find_source(&g->cfg, names[i]))
			rc = usage_error("run", "no source '%s' in '%s'", names[i], g->cfg.path);
	if (rc == 0)
		rc = run_sources(&app, g, names, nnames, &req);
	pg_close(conn);
	free(names);
	return rc;
}

struct failed_run {
	long long run_id;
	char source[128];
	char command[32];
	char mode[32];
	char since[16], until[16];
};

static int load_failed_runs(PGconn *conn, const char *run_id, struct failed_run **out,
			    size_t *n, struct buf *err)
{
	const char *params[] = { run_id };
	/* one failed run by id, or every failed run since its source's last success */
	PGresult *res = pg_query(conn,
		"SELECT run_id, source, command, mode,"
		" coalesce(to_char(window_from AT TIME ZONE 'Asia/Ho_Chi_Minh', 'YYYYMMDDHH24MISS'), ''),"
		" coalesce(to_char(window_to AT TIME ZONE 'Asia/Ho_Chi_Minh', 'YYYYMMDDHH24MISS'), ''),"
		" status FROM etl.run r"
		" WHERE CASE WHEN $1::bigint IS NOT NULL THEN run_id = $1::bigint"
		"  ELSE status = 'failed' AND run_id > coalesce((SELECT max(run_id) FROM etl.run s"
		"   WHERE s.source = r.source AND s.status = 'succeeded'"
		"   AND s.mode IN ('nightly', 'full')), 0) END"
		" ORDER BY run_id",
		1, params, err);
	if (!res)
		return -1;
	*n = (size_t)PQntuples(res);
	*out = xcalloc(*n + 1, sizeof(**out));
	for (size_t i = 0; i < *n; i++) {
		struct failed_run *f = &(*out)[i];
		int row = (int)i;
		f->run_id = atoll(PQgetvalue(res, row, 0));
		snprintf(f->source, sizeof(f->source), "%s", PQgetvalue(res, row, 1));
		snprintf(f->command, sizeof(f->command), "%s", PQgetvalue(res, row, 2));
		snprintf(f->mode, sizeof(f->mode), "%s", PQgetvalue(res, row, 3));
		snprintf(f->since, sizeof(f->since), "%s", PQgetvalue(res, row, 4));
		snprintf(f->until, sizeof(f->until), "%s", PQgetvalue(res, row, 5));
		if (run_id && strcmp(PQgetvalue(res, row, 6), "failed")) {
			buf_addf(err, "run %s did not fail (%s): nothing to rerun", run_id,
				 PQgetvalue(res, row, 6));
			PQclear(res);
			return -1;
		}
	}
	PQclear(res);
	if (run_id && *n == 0) {
		buf_addf(err, "no run %s", run_id);
		return -1;
	}
	return 0;
}

static enum run_mode mode_from_name(const char *name)
{
	for (int m = MODE_NIGHTLY; m <= MODE_FILE; m++)
		if (!strcmp(run_mode_name((enum run_mode)m), name))
			return (enum run_mode)m;
	return MODE_NIGHTLY;
}

/* Two nightly failures of a source need one nightly rerun. */
static bool already_rerun(const struct failed_run *runs, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (!strcmp(runs[j].source, runs[i].source) &&
		    !strcmp(runs[j].mode, runs[i].mode) &&
		    !strcmp(runs[j].since, runs[i].since) &&
		    !strcmp(runs[j].until, runs[i].until))
			return true;
	return false;
}

static int rerun_one(struct app *app, struct globals *g, const struct failed_run *f)
{
	enum run_mode mode = mode_from_name(f->mode);
	if (mode == MODE_FILE) {
		log_error(f->source, NULL, "run %lld was a load-file: load the file again with 'onestop-etl load-file'",
			  f->run_id);
		return EXIT_SOURCE_FAILED;
	}
	const struct source_cfg *src = config_find_source(&g->cfg, f->source);
	if (!src) {
		log_error(f->source, NULL, "run %lld: source '%s' is no longer configured",
			  f->run_id, f->source);
		return EXIT_SOURCE_FAILED;
	}
	struct run_request req = {
		.command = "rerun",
		.mode = mode,
		.since = mode == MODE_BACKFILL && f->since[0] ? f->since : NULL,
		.until = mode == MODE_BACKFILL && f->until[0] ? f->until : NULL,
		.rerun_of = f->run_id,
	};
	long long run_id;
	return pipeline_run_source(app, src, (int)(src - g->cfg.sources), &req, &run_id) < 0
		       ? EXIT_SOURCE_FAILED : 0;
}

static int cmd_rerun(struct globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "run", required_argument, NULL, 'r' },
		{ "failed", no_argument, NULL, 'f' },
		{ "no-wait", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *run_id = NULL;
	bool failed = false, no_wait = false;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'r')
			run_id = optarg;
		else if (c == 'f')
			failed = true;
		else if (c == 'n')
			no_wait = true;
		else
			return usage_error("rerun", "bad option");
	}
	if (!!run_id == failed)
		return usage_error("rerun", "give exactly one of --run ID and --failed");
	if (run_id && strspn(run_id, "0123456789") != strlen(run_id))
		return usage_error("rerun", "--run: '%s' is not a run id", run_id);
	struct app app;
	PGconn *conn = NULL;
	int rc = writer_begin(g, no_wait, false, &app, &conn);
	struct failed_run *runs = NULL;
	size_t n = 0;
	struct buf err;
	buf_init(&err, ERR_CAP);
	if (rc == 0 && load_failed_runs(conn, run_id, &runs, &n, &err) < 0) {
		log_error(NULL, NULL, "%s", buf_str(&err));
		rc = EXIT_USAGE;
	}
	if (rc == 0 && n == 0)
		log_info(NULL, NULL, "no failed run to rerun");
	for (size_t i = 0; rc != EXIT_USAGE && i < n; i++)
		if (!already_rerun(runs, i) && rerun_one(&app, g, &runs[i]))
			rc = EXIT_SOURCE_FAILED;
	buf_release(&err);
	free(runs);
	pg_close(conn);
	return rc;
}

static int cmd_load_file(struct globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "source", required_argument, NULL, 's' },
		{ "entity", required_argument, NULL, 'e' },
		{ "no-wait", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *source = NULL, *entity = NULL;
	bool no_wait = false;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 's')
			source = optarg;
		else if (c == 'e')
			entity = optarg;
		else if (c == 'n')
			no_wait = true;
		else
			return usage_error("load-file", "bad option");
	}
	if (!source || !entity || optind != argc - 1)
		return usage_error("load-file", "needs --source NAME --entity ENTITY FILE");
	int e = entity_from_name(entity);
	if (e < 0)
		return usage_error("load-file", "unknown entity '%s' (donvi, thutuc, hoso, bosung, quatrinh)",
				   entity);
	if (access(argv[optind], R_OK) < 0)
		return usage_error("load-file", "cannot read '%s'", argv[optind]);
	struct app app;
	PGconn *conn = NULL;
	int rc = writer_begin(g, no_wait, false, &app, &conn);
	const struct source_cfg *src = rc ? NULL : config_find_source(&g->cfg, source);
	if (rc == 0 && !src)
		rc = usage_error("load-file", "no source '%s' in '%s'", source, g->cfg.path);
	if (rc == 0) {
		struct run_request req = {
			.command = "load-file", .mode = MODE_FILE,
			.file = argv[optind], .entity = (enum entity)e,
		};
		long long run_id;
		if (pipeline_run_source(&app, src, (int)(src - g->cfg.sources), &req, &run_id) < 0)
			rc = EXIT_SOURCE_FAILED;
	}
	pg_close(conn);
	return rc;
}

static int cmd_rescore(struct globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "no-wait", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	bool no_wait = false;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'n')
			return usage_error("rescore", "bad option");
		no_wait = true;
	}
	if (optind < argc)
		return usage_error("rescore", "unexpected argument '%s'", argv[optind]);
	struct app app;
	PGconn *conn = NULL;
	int rc = writer_begin(g, no_wait, true, &app, &conn);
	if (rc == 0)
		log_info(NULL, NULL, "rescore done");
	pg_close(conn);
	return rc;
}

static int cmd_migrate(struct globals *g, int argc, char **argv)
{
	if (argc > 1)
		return usage_error("migrate", "unexpected argument '%s'", argv[1]);
	if (load_config(g) < 0)
		return EXIT_USAGE;
	PGconn *conn = connect_warehouse(g, false);
	if (!conn)
		return EXIT_WAREHOUSE;
	int rc = take_lock(conn, false);
	struct buf err;
	buf_init(&err, ERR_CAP);
	if (rc == 0 && pg_migrate(conn, &err) < 0) {
		log_error(NULL, NULL, "%s", buf_str(&err));
		rc = EXIT_WAREHOUSE;
	}
	if (rc == 0)
		log_info(NULL, NULL, "warehouse at schema version %d", pg_schema_target());
	buf_release(&err);
	pg_close(conn);
	return rc;
}

static int cmd_check_config(struct globals *g, int argc, char **argv)
{
	if (argc > 1)
		return usage_error("check-config", "unexpected argument '%s'", argv[1]);
	if (load_config(g) < 0)
		return EXIT_USAGE;
	struct buf err;
	buf_init(&err, ERR_CAP);
	int rc = 0;
	struct calendar *cal = calendar_load(g->cfg.calendar, &err);
	if (!cal) {
		fprintf(stderr, "%s\n", buf_str(&err));
		rc = EXIT_USAGE;
	}
	calendar_free(cal);
	if (access(g->cfg.profiles, R_OK) < 0) {
		fprintf(stderr, "%s: cannot read profiles '%s'\n", g->cfg.path, g->cfg.profiles);
		rc = EXIT_USAGE;
	}
	buf_release(&err);
	if (rc == 0)
		printf("%s: ok, %zu source%s\n", g->cfg.path, g->cfg.nsources,
		       g->cfg.nsources == 1 ? "" : "s");
	return rc;
}

static int print_result_table(PGresult *res)
{
	int nf = PQnfields(res), nt = PQntuples(res);
	int *width = xcalloc((size_t)nf, sizeof(int));
	for (int f = 0; f < nf; f++) {
		width[f] = (int)strlen(PQfname(res, f));
		for (int t = 0; t < nt; t++) {
			int w = (int)strlen(PQgetvalue(res, t, f));
			if (w > width[f])
				width[f] = w;
		}
	}
	for (int f = 0; f < nf; f++)
		printf("%-*s%s", width[f], PQfname(res, f), f + 1 < nf ? "  " : "\n");
	for (int t = 0; t < nt; t++)
		for (int f = 0; f < nf; f++)
			printf("%-*s%s", width[f], PQgetvalue(res, t, f), f + 1 < nf ? "  " : "\n");
	free(width);
	return 0;
}

static int cmd_status(struct globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "last", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	const char *last = "20";
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'l' || strspn(optarg, "0123456789") != strlen(optarg) || !*optarg)
			return usage_error("status", "--last takes a whole number");
		last = optarg;
	}
	if (load_config(g) < 0)
		return EXIT_USAGE;
	PGconn *conn = connect_warehouse(g, true);
	if (!conn)
		return EXIT_WAREHOUSE;
	struct buf err;
	buf_init(&err, ERR_CAP);
	const char *params[] = { last };
	PGresult *runs = pg_query(conn,
		"SELECT run_id AS run, source, command, mode, status,"
		" to_char(started_at, 'YYYY-MM-DD HH24:MI') AS started,"
		" coalesce(extract(epoch FROM finished_at - started_at)::int || 's', '') AS took,"
		" rows_read AS read, rows_loaded AS loaded, rows_rejected AS rejected,"
		" left(coalesce(error, ''), 60) AS error"
		" FROM etl.run ORDER BY run_id DESC LIMIT $1::int",
		1, params, &err);
	PGresult *marks = runs ? pg_query(conn,
		"SELECT source, entity, to_char(updated_until, 'YYYY-MM-DD HH24:MI:SS') AS watermark"
		" FROM etl.watermark ORDER BY source, entity", 0, NULL, &err) : NULL;
	int rc = 0;
	if (!marks) {
		log_error(NULL, NULL, "%s", buf_str(&err));
		rc = EXIT_WAREHOUSE;
	} else {
		printf("Runs (latest first)\n");
		print_result_table(runs);
		printf("\nWatermarks (the source's CapNhatLuc, local time)\n");
		print_result_table(marks);
	}
	PQclear(runs);
	PQclear(marks);
	buf_release(&err);
	pg_close(conn);
	return rc;
}

static int cmd_score(struct globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "profile", required_argument, NULL, 'p' },
		{ "period", required_argument, NULL, 'P' },
		{ "unit", required_argument, NULL, 'u' },
		{ "format", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	struct score_request req = { .format = "table" };
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'p')
			req.profile = optarg;
		else if (c == 'P')
			req.period = optarg;
		else if (c == 'u')
			req.unit = optarg;
		else if (c == 'f')
			req.format = optarg;
		else
			return usage_error("score", "bad option");
	}
	if (strcmp(req.format, "table") && strcmp(req.format, "csv") && strcmp(req.format, "json"))
		return usage_error("score", "--format: '%s' is not table, csv or json", req.format);
	if (req.period && report_parse_period(req.period, NULL, NULL) < 0)
		return usage_error("score", "--period: '%s' is not 2021, 2021-Q1 or 2021-03", req.period);
	if (load_config(g) < 0)
		return EXIT_USAGE;
	PGconn *conn = connect_warehouse(g, true);
	if (!conn)
		return EXIT_WAREHOUSE;
	int rc = report_score(conn, &req, stdout) < 0 ? EXIT_WAREHOUSE : 0;
	pg_close(conn);
	return rc;
}

static int cmd_report(struct globals *g, int argc, char **argv)
{
	(void)g;
	(void)argc;
	(void)argv;
	return usage_error("report", "the HTML report is not built yet; use 'onestop-etl score'");
}

static const struct command commands[] = {
	{ "run", cmd_run, "run [--source NAME]... [--since T] [--until T] [--full] [--no-wait]",
	  "Extract every entity changed since each source's watermark (minus lookback),\n"
	  "load it and re-derive the marts. --since/--until load a window (a backfill),\n"
	  "--full everything. Timestamps: yyyyMMddHHmmss or ISO 8601, local time.\n" },
	{ "rerun", cmd_rerun, "rerun (--run ID | --failed) [--no-wait]",
	  "Run again what a failed run was to load (same source, same window), or every\n"
	  "failed run since the last success of its source.\n" },
	{ "load-file", cmd_load_file, "load-file --source NAME --entity ENTITY [--no-wait] FILE",
	  "Load a CSV or CSV.gz export through the same validation and load path.\n"
	  "ENTITY is donvi, thutuc, hoso, bosung or quatrinh.\n" },
	{ "rescore", cmd_rescore, "rescore [--no-wait]",
	  "Re-derive outcomes, indicators and scores from stored rows (after a calendar\n"
	  "or profile change).\n" },
	{ "status", cmd_status, "status [--last N]",
	  "Recent runs with their counts and errors, and each source's watermark.\n" },
	{ "score", cmd_score, "score [--profile P] [--period P] [--unit CODE] [--format table|csv|json]",
	  "Print the compliance scorecard. --period is 2021, 2021-Q1 or 2021-03\n"
	  "(default: the current year); --profile defaults to every profile.\n" },
	{ "report", cmd_report, "report --period P [--profile P] [--unit CODE] --out FILE.html",
	  "Write the scorecard as one self-contained HTML page.\n" },
	{ "migrate", cmd_migrate, "migrate",
	  "Create or upgrade the warehouse schema; safe to run every time.\n" },
	{ "check-config", cmd_check_config, "check-config",
	  "Read the configuration and report every problem at once.\n" },
};

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static void print_usage(FILE *out)
{
	fprintf(out, "usage: onestop-etl [-c FILE] [-q | -v] COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(out, "  onestop-etl %s\n", commands[i].usage);
	fprintf(out, "\nThe configuration is -c FILE, else $ONESTOP_ETL_CONFIG, else\n"
		     "/etc/onestop-etl/onestop-etl.conf. Exit codes: 0 success, 1 a source failed,\n"
		     "2 usage or configuration error, 3 warehouse unreachable or wrong schema\n"
		     "version, 4 another run holds the lock (--no-wait).\n");
}

int main(int argc, char **argv)
{
	struct globals g = { 0 };
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-c") && i + 1 < argc)
			g.config_path = argv[++i];
		else if (!strcmp(a, "-q"))
			log_set_level(LOG_ERROR);
		else if (!strcmp(a, "-v"))
			log_set_level(LOG_DEBUG);
		else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			print_usage(stdout);
			return 0;
		} else if (!strcmp(a, "--version")) {
			printf("onestop-etl %s\n", ONESTOP_VERSION);
			return 0;
		} else
			return usage_error(NULL, "unknown option '%s'", a);
	}
	if (i >= argc) {
		print_usage(stderr);
		return EXIT_USAGE;
	}
	const struct command *cmd = find_command(argv[i]);
	if (!cmd)
		return usage_error(NULL, "unknown command '%s'", argv[i]);
	if (wants_help(argc - i, argv + i)) {
		printf("usage: onestop-etl %s\n\n%s", cmd->usage, cmd->help);
		return 0;
	}
	http_global_init();
	optind = 1;
	int rc = cmd->fn(&g, argc - i, argv + i);
	if (g.cfg_loaded)
		config_release(&g.cfg);
	http_global_cleanup();
	return rc;
}
