/*
 * main.c - the onestop-etl command: options, subcommands, exit codes.
 * This is the only file that decides how the process ends.
 */
#include "audit.h"
#include "calendar.h"
#include "config.h"
#include "exports.h"
#include "form06.h"
#include "http.h"
#include "lineage.h"
#include "log.h"
#include "page.h"
#include "pgload.h"
#include "pipeline.h"
#include "profiles.h"
#include "score.h"
#include "term.h"
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
#define EXIT_OUTPUT 5 /* an output file cannot be written */

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
	fprintf(stderr, "\nTry 'onestop-etl %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
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
	int version = 0, code;
	if (conn && check_version) {
		if (pg_schema_version(conn, &version, &err) < 0) {
			pg_close(conn);
			conn = NULL;
		} else if (version != pg_schema_target()) {
			buf_addf(&err, "the warehouse is at schema version %d, this program needs %d: run 'onestop-etl migrate'",
				 version, pg_schema_target());
			pg_close(conn);
			conn = NULL;
		} else if ((code = pg_code_current(conn, &err)) <= 0) {
			if (code == 0)
				buf_adds(&err, "the warehouse's SQL code (sql/code) is not this program's: run 'onestop-etl migrate'");
			pg_close(conn);
			conn = NULL;
		}
	}
	if (!conn)
		log_error(NULL, NULL, "%s", buf_str(&err));
	buf_release(&err);
	return conn;
}

/*
 * A reader (status, score, report): connected like the others, with
 * statement_timeout so that a BI command stuck behind a lock or a
 * runaway query ends (exit 3) instead of hanging a terminal or a cron.
 */
static PGconn *connect_reader(struct globals *g)
{
	PGconn *conn = connect_warehouse(g, true);
	struct buf err;
	buf_init(&err, ERR_CAP);
	if (conn && pg_set_timeout(conn, "statement_timeout", g->cfg.statement_timeout, &err) < 0) {
		log_error(NULL, NULL, "%s", buf_str(&err));
		pg_close(conn);
		conn = NULL;
	}
	buf_release(&err);
	return conn;
}

/* Why a writer gave up on the lock, and who holds it. */
static void log_lock_holder(PGconn *conn, const char *why)
{
	struct buf holder, err;
	buf_init(&holder, ERR_CAP);
	buf_init(&err, ERR_CAP);
	if (pg_lock_holder(conn, &holder, &err) < 0)
		log_error(NULL, NULL, "%s (who: %s)", why, buf_str(&err));
	else
		log_error(NULL, NULL, "%s: held by %s", why, buf_str(&holder));
	buf_release(&holder);
	buf_release(&err);
}

/*
 * Take the writers' lock: at once with --no-wait or lock_wait = 0, else
 * waiting at most lock_wait seconds, so that stuck runs do not pile up
 * behind each other night after night.  0, or an exit code.
 */
static int take_lock(PGconn *conn, long lock_wait, bool no_wait)
{
	struct buf err;
	buf_init(&err, ERR_CAP);
	int rc = pg_lock_writers(conn, 0, &err);
	bool waited = false;
	if (rc == 1 && !no_wait && lock_wait > 0) {
		log_info(NULL, NULL, "another run holds the lock; waiting for it (lock_wait: at most %ld s)",
			 lock_wait);
		rc = pg_lock_writers(conn, lock_wait, &err);
		waited = true;
	}
	char why[128];
	if (rc == 1) {
		if (waited)
			snprintf(why, sizeof(why), "another run still holds the lock after %ld s (lock_wait)",
				 lock_wait);
		else
			snprintf(why, sizeof(why), "another run holds the lock (%s)",
				 no_wait ? "--no-wait" : "lock_wait = 0");
		log_lock_holder(conn, why);
	} else if (rc < 0) {
		log_error(NULL, NULL, "%s", buf_str(&err));
	}
	buf_release(&err);
	return rc == 0 ? 0 : rc == 1 ? EXIT_LOCKED : EXIT_WAREHOUSE;
}

static int start_batch(PGconn *conn, struct app *app, struct globals *g)
{
	struct buf err, val;
	buf_init(&err, ERR_CAP);
	buf_init(&val, 128);
	int rc = -1;
	app->cfg = &g->cfg;
	app->conninfo = g->cfg.dsn;
	app->lock_pid = PQbackendPID(conn);
	app->batch_sources = 0;
	pthread_mutex_init(&app->commit_lock, NULL);
	if (audit_mark_interrupted(conn, &err) < 0 ||
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
	if (!g->cfg_loaded && load_config(g) < 0)
		return EXIT_USAGE;
	*conn = connect_warehouse(g, true);
	if (!*conn)
		return EXIT_WAREHOUSE;
	int rc = take_lock(*conn, g->cfg.lock_wait, no_wait);
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
	if (rc == 0)
		return 0;
	/* the calendar and profiles files are configuration; else the warehouse */
	struct buf probe;
	buf_init(&probe, ERR_CAP);
	rc = pg_exec(*conn, "SELECT 1", 0, NULL, &probe) < 0 ? EXIT_WAREHOUSE : EXIT_USAGE;
	buf_release(&probe);
	return rc;
}

/*
 * rules.md: outside the years the calendar file covers, working days are
 * Monday to Friday "with a warning".  The marts' span says which years
 * the warehouse's dossiers reach.
 */
static void warn_calendar_coverage(PGconn *conn)
{
	struct buf err, out;
	buf_init(&err, ERR_CAP);
	buf_init(&out, 256);
	if (pg_query_value(conn,
			   "SELECT concat_ws(' ', extract(year FROM span_from)::int,"
			   " extract(year FROM span_to)::int, covers_from, covers_to)"
			   " FROM dw.state WHERE span_from IS NOT NULL AND"
			   " (covers_from IS NULL OR extract(year FROM span_from) < covers_from"
			   "  OR extract(year FROM span_to) > covers_to)",
			   0, NULL, &out, &err) == 0) {
		int from = 0, to = 0, cf = 0, ct = 0;
		int n = sscanf(buf_str(&out), "%d %d %d %d", &from, &to, &cf, &ct);
		if (n == 4)
			log_warn(NULL, NULL, "dossiers reach %d-%d but the calendar covers %d-%d: "
				 "outside those years every Monday to Friday counts as a working day",
				 from, to, cf, ct);
		else if (n >= 2)
			log_warn(NULL, NULL, "dossiers reach %d-%d but the calendar names no "
				 "years it covers: its dates apply, every other day counts "
				 "Monday to Friday", from, to);
	}
	buf_release(&err);
	buf_release(&out);
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

/* A source without url takes files only: no run fetches from it. */
static bool source_wanted(const struct source_queue *q, const struct source_cfg *src)
{
	if (!src->url)
		return false;
	if (q->nnames == 0)
		return true;
	for (size_t j = 0; j < q->nnames; j++)
		if (!strcmp(q->names[j], src->name))
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
		if (!source_wanted(q, src))
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
	app->batch_sources = 0;
	for (size_t i = 0; i < g->cfg.nsources; i++)
		app->batch_sources += source_wanted(&q, &g->cfg.sources[i]);
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
	if (rc == 0 && since[0] && until[0] && strcmp(since, until) >= 0)
		rc = usage_error("run", "--since %s is not before --until %s (the window is [since, until))",
				 since, until);
	if (rc == 0 && load_config(g) < 0)
		rc = EXIT_USAGE;
	for (size_t i = 0; rc == 0 && i < nnames; i++) {
		const struct source_cfg *src = config_find_source(&g->cfg, names[i]);
		if (!src)
			rc = usage_error("run", "no source '%s' in '%s'", names[i], g->cfg.path);
		else if (!src->url)
			rc = usage_error("run", "source '%s' has no url: it takes files only"
					 " ('onestop-etl load-file --source %s FILE...')",
					 names[i], names[i]);
	}
	for (size_t i = 0; rc == 0 && nnames == 0 && i < g->cfg.nsources; i++)
		if (!g->cfg.sources[i].url)
			log_info(g->cfg.sources[i].name, NULL,
				 "skipped: no url, the source takes files only (load-file)");
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
	if (rc == 0) {
		rc = run_sources(&app, g, names, nnames, &req);
		warn_calendar_coverage(conn);
	}
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
	char status[16];
	char file[1024];
};

/*
 * A failed run is made good by a later success of its source that loaded
 * at least what it was to load: a full run; for a nightly run, a nightly
 * run (the watermark had not moved); for a backfill, the same window; for
 * a file, the same file.  The id of the first such run, or NULL.
 */
#define MADE_GOOD_BY                                                        \
	"(SELECT min(s.run_id) FROM etl.run s WHERE s.source = r.source"     \
	" AND s.status = 'succeeded' AND s.run_id > r.run_id"               \
	" AND (s.mode = 'full' AND r.mode <> 'file'"                        \
	"  OR s.mode = 'nightly' AND r.mode = 'nightly'"                    \
	"  OR s.mode = 'backfill' AND r.mode = 'backfill'"                  \
	"   AND s.window_from IS NOT DISTINCT FROM r.window_from"           \
	"   AND s.window_to IS NOT DISTINCT FROM r.window_to"               \
	"  OR s.mode = 'file' AND r.mode = 'file' AND s.file_name = r.file_name))"

/* One run by id, or every failed run that no later success made good. */
static int load_failed_runs(PGconn *conn, const char *run_id, struct failed_run **out,
			    size_t *n, struct buf *err)
{
	const char *params[] = { run_id };
	PGresult *res = pg_query(conn,
		"SELECT run_id, source, command, mode,"
		" coalesce(to_char(window_from AT TIME ZONE 'Asia/Ho_Chi_Minh', 'YYYYMMDDHH24MISS'), ''),"
		" coalesce(to_char(window_to AT TIME ZONE 'Asia/Ho_Chi_Minh', 'YYYYMMDDHH24MISS'), ''),"
		" status, coalesce(file_name, '') FROM etl.run r"
		" WHERE CASE WHEN $1::bigint IS NOT NULL THEN run_id = $1::bigint"
		"  ELSE status = 'failed' AND source IS NOT NULL AND " MADE_GOOD_BY " IS NULL END"
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
		snprintf(f->status, sizeof(f->status), "%s", PQgetvalue(res, row, 6));
		snprintf(f->file, sizeof(f->file), "%s", PQgetvalue(res, row, 7));
	}
	PQclear(res);
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
	const struct source_cfg *src = config_find_source(&g->cfg, f->source);
	if (!src) {
		log_error(f->source, NULL, "run %lld: source '%s' is no longer configured",
			  f->run_id, f->source);
		return EXIT_SOURCE_FAILED;
	}
	if (!src->url) {
		log_error(f->source, NULL, "run %lld: source '%s' has no url any more: it takes"
			  " files only", f->run_id, f->source);
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

/* rerun --run ID: only a failed run that did not load a file. */
static int check_rerun_request(const char *run_id, const struct failed_run *runs, size_t n)
{
	if (n == 0)
		return usage_error("rerun", "no run %s", run_id);
	if (strcmp(runs[0].status, "failed"))
		return usage_error("rerun", "run %s did not fail (%s): nothing to rerun", run_id,
				   runs[0].status);
	if (mode_from_name(runs[0].mode) == MODE_FILE)
		return usage_error("rerun", "run %s was a load-file of '%s': a file cannot be rerun;"
				   " load it again with 'onestop-etl load-file'",
				   run_id, runs[0].file);
	return 0;
}

static int rerun_runs(struct app *app, struct globals *g, const struct failed_run *runs,
		      size_t n)
{
	int rc = 0;
	size_t done = 0;
	for (size_t i = 0; i < n; i++) {
		if (mode_from_name(runs[i].mode) == MODE_FILE) {
			log_warn(runs[i].source, NULL, "run %lld (load-file of '%s') cannot be rerun:"
				 " load the file again with 'onestop-etl load-file'",
				 runs[i].run_id, runs[i].file);
			continue;
		}
		if (already_rerun(runs, i))
			continue;
		done++;
		if (rerun_one(app, g, &runs[i]))
			rc = EXIT_SOURCE_FAILED;
	}
	if (n == 0)
		log_info(NULL, NULL, "nothing to rerun: every failed run has been made good since");
	else if (done == 0)
		log_info(NULL, NULL, "nothing to rerun but the files above");
	return rc;
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
	if (optind < argc)
		return usage_error("rerun", "unexpected argument '%s'", argv[optind]);
	if (run_id && (!*run_id || strspn(run_id, "0123456789") != strlen(run_id) ||
		       strlen(run_id) > 18))
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
		rc = EXIT_WAREHOUSE;
	}
	if (rc == 0 && run_id)
		rc = check_rerun_request(run_id, runs, n);
	if (rc == 0) {
		app.batch_sources = n;
		rc = rerun_runs(&app, g, runs, n);
	}
	buf_release(&err);
	free(runs);
	pg_close(conn);
	return rc;
}

static int load_files(struct globals *g, const char *source, bool no_wait,
		      const struct export_list *files)
{
	if (load_config(g) < 0)
		return EXIT_USAGE;
	const struct source_cfg *src = config_find_source(&g->cfg, source);
	if (!src)
		return usage_error("load-file", "no source '%s' in '%s'", source, g->cfg.path);
	struct app app;
	PGconn *conn = NULL;
	int rc = writer_begin(g, no_wait, false, &app, &conn);
	if (rc == 0) {
		char *names = export_list_names(files);
		struct run_request req = {
			.command = "load-file", .mode = MODE_FILE,
			.files = files->files, .nfiles = files->n, .file = names,
		};
		long long run_id;
		app.batch_sources = 1;
		if (pipeline_run_source(&app, src, (int)(src - g->cfg.sources), &req, &run_id) < 0)
			rc = EXIT_SOURCE_FAILED;
		free(names);
		warn_calendar_coverage(conn);
	}
	pg_close(conn);
	return rc;
}

/*
 * Every file of the invocation in one run of its source: one transaction,
 * one merge, one derivation, whatever the number of files.  Names are
 * checked (exit 2) before anything is read.
 */
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
	if (!source || optind >= argc)
		return usage_error("load-file", "needs --source NAME and at least one FILE or DIR");
	int e = entity ? entity_from_name(entity) : -1;
	if (entity && e < 0)
		return usage_error("load-file", "unknown entity '%s' (donvi, thutuc, hoso, bosung, quatrinh)",
				   entity);
	struct export_list files;
	struct buf errs;
	buf_init(&errs, 1 << 20);
	int bad = export_list_collect(&files, argv + optind, (size_t)(argc - optind), e, &errs);
	int rc = 0;
	if (bad) {
		fprintf(stderr, "%s", buf_str(&errs));
		rc = usage_error("load-file", "%d file%s cannot be loaded; nothing was read", bad,
				 bad == 1 ? "" : "s");
	}
	buf_release(&errs);
	if (rc == 0)
		rc = load_files(g, source, no_wait, &files);
	export_list_release(&files);
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
	if (rc == 0)
		warn_calendar_coverage(conn);
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
	int rc = take_lock(conn, g->cfg.lock_wait, false);
	struct buf err;
	buf_init(&err, ERR_CAP);
	if (rc == 0 && (pg_migrate(conn, &err) < 0 || audit_mark_interrupted(conn, &err) < 0)) {
		log_error(NULL, NULL, "%s", buf_str(&err));
		rc = EXIT_WAREHOUSE;
	}
	if (rc == 0)
		log_info(NULL, NULL, "warehouse at schema version %d", pg_schema_target());
	buf_release(&err);
	pg_close(conn);
	return rc;
}

/*
 * The calendar, profiles and lineage are read by the code the run uses, so
 * a file that passes here cannot stop the next run.
 */
static int check_rules_files(const struct config *cfg)
{
	struct buf err;
	buf_init(&err, 1 << 20);
	struct calendar *cal = calendar_load(cfg->calendar, &err);
	struct profiles *prof = profiles_load(cfg->profiles, &err);
	struct lineage *lin = lineage_load(cfg->lineage, &err);
	char *coverage = calendar_coverage_warning(cal, cfg->calendar);
	if (coverage)
		fprintf(stderr, "warning: %s\n", coverage);
	free(coverage);
	int n = 0;
	for (const char *c = buf_str(&err); *c; c++)
		n += *c == '\n';
	if (n)
		fprintf(stderr, "%s%d error%s in the rules files\n",
			buf_str(&err), n, n == 1 ? "" : "s");
	bool ok = !n && cal && prof && lin;
	calendar_free(cal);
	profiles_free(prof);
	lineage_free(lin);
	buf_release(&err);
	return ok ? 0 : -1;
}

static int cmd_check_config(struct globals *g, int argc, char **argv)
{
	if (argc > 1)
		return usage_error("check-config", "unexpected argument '%s'", argv[1]);
	if (load_config(g) < 0)
		return EXIT_USAGE;
	if (check_rules_files(&g->cfg) < 0)
		return EXIT_USAGE;
	printf("%s: ok, %zu source%s\n", g->cfg.path, g->cfg.nsources,
	       g->cfg.nsources == 1 ? "" : "s");
	return 0;
}

/* ------------------------------------------------------------- status */

#define STATUS_WIDTH 100 /* columns: status fits a terminal */

/*
 * Columns a UTF-8 string takes on a terminal: one per character, none for
 * a combining mark (U+0300..U+036F: decomposed Vietnamese diacritics).
 */
static size_t utf8_char_width(const unsigned char *p, size_t *len)
{
	*len = 1;
	if (*p < 0x80)
		return 1;
	while ((p[*len] & 0xc0) == 0x80)
		(*len)++;
	if (*len == 2 && (p[0] == 0xcc || (p[0] == 0xcd && p[1] < 0xb0)))
		return 0;
	return 1;
}

/* The columns s takes once shown. */
static size_t text_width(const char *raw)
{
	struct buf b;
	size_t w = 0, len;
	for (const unsigned char *p = (const unsigned char *)term_shown(&b, raw); *p; p += len)
		w += utf8_char_width(p, &len);
	buf_release(&b);
	return w;
}

/*
 * Append s, shown, to b in at most `width` columns, and "…" where it had
 * to be cut.  Returns the columns used.
 */
static size_t fit_text(struct buf *b, const char *raw, size_t width)
{
	struct buf clean;
	const char *s = term_shown(&clean, raw);
	size_t total = text_width(s), used = 0, len;
	bool cut = total > width;
	size_t room = cut ? (width ? width - 1 : 0) : width;
	for (const unsigned char *p = (const unsigned char *)s; *p; p += len) {
		size_t w = utf8_char_width(p, &len);
		if (used + w > room)
			break;
		buf_add(b, p, len);
		used += w;
	}
	buf_release(&clean);
	if (cut && width) {
		buf_adds(b, "…");
		used++;
	}
	return used;
}

struct status_column {
	const char *title;
	bool right;   /* numbers */
	bool shrink;  /* cut this one first when the table is too wide */
};

/*
 * Print a query result as a table of STATUS_WIDTH columns at most: the
 * shrinkable columns give up their width first, down to 6.
 */
static void print_table(PGresult *res, const struct status_column *cols, const char *indent)
{
	int nf = PQnfields(res), nt = PQntuples(res);
	size_t *width = xcalloc((size_t)nf, sizeof(size_t));
	size_t total = strlen(indent);
	for (int f = 0; f < nf; f++) {
		width[f] = text_width(cols[f].title);
		for (int t = 0; t < nt; t++) {
			size_t w = text_width(PQgetvalue(res, t, f));
			if (w > width[f])
				width[f] = w;
		}
		total += width[f] + (f ? 2 : 0);
	}
	for (int f = 0; f < nf && total > STATUS_WIDTH; f++) {
		if (!cols[f].shrink || width[f] <= 6)
			continue;
		size_t give = width[f] - 6 < total - STATUS_WIDTH ? width[f] - 6 : total - STATUS_WIDTH;
		width[f] -= give;
		total -= give;
	}
	struct buf line;
	buf_init(&line, 1 << 16);
	for (int t = -1; t < nt; t++) {
		buf_reset(&line);
		buf_adds(&line, indent);
		for (int f = 0; f < nf; f++) {
			const char *v = t < 0 ? cols[f].title : PQgetvalue(res, t, f);
			size_t w = text_width(v) < width[f] ? text_width(v) : width[f];
			if (f)
				buf_adds(&line, "  ");
			if (cols[f].right)
				for (size_t i = w; i < width[f]; i++)
					buf_addc(&line, ' ');
			size_t used = fit_text(&line, v, width[f]);
			if (!cols[f].right && f + 1 < nf)
				for (size_t i = used; i < width[f]; i++)
					buf_addc(&line, ' ');
		}
		printf("%s\n", buf_str(&line));
	}
	buf_release(&line);
	free(width);
}

/* One line of at most STATUS_WIDTH columns: prefix, then text cut to fit. */
static void print_fitted(const char *prefix, const char *text)
{
	struct buf line;
	buf_init(&line, 1 << 16);
	buf_adds(&line, prefix);
	size_t used = text_width(prefix);
	fit_text(&line, text, used < STATUS_WIDTH ? STATUS_WIDTH - used : 0);
	printf("%s\n", buf_str(&line));
	buf_release(&line);
}

static const char STATUS_RUNS[] =
	"SELECT run_id, coalesce(source, '-'),"
	" CASE WHEN command = 'rerun' THEN 'rerun ' || coalesce(rerun_of::text, '')"
	"  WHEN command = 'load-file' THEN 'file' ELSE coalesce(mode, command) END,"
	" status, to_char(started_at, 'YYYY-MM-DD HH24:MITZH'),"
	" CASE WHEN finished_at IS NULL THEN ''"
	"  ELSE (SELECT CASE WHEN s < 60 THEN s || 's' WHEN s < 3600 THEN s / 60 || 'm'"
	"   || lpad((s % 60)::text, 2, '0') || 's' ELSE s / 3600 || 'h'"
	"   || lpad((s / 60 % 60)::text, 2, '0') || 'm' END"
	"   FROM (SELECT round(extract(epoch FROM finished_at - started_at))::bigint AS s) d) END,"
	" rows_read, rows_loaded, rows_rejected"
	" FROM etl.run ORDER BY run_id DESC LIMIT $1::bigint";

static const struct status_column status_run_columns[] = {
	{ "run", true, false }, { "source", false, true }, { "what", false, true },
	{ "status", false, false }, { "started", false, false }, { "took", true, false },
	{ "read", true, false }, { "loaded", true, false }, { "rejected", true, false },
};

/*
 * The failed runs among the last N, and the running rows whose process
 * is gone: what went wrong and what to do about it.
 */
static const char STATUS_PROBLEMS[] =
	"SELECT r.run_id, coalesce(r.source, '-'), r.status,"
	" coalesce(r.error, ''), coalesce(r.mode, ''), coalesce(r.file_name, ''),"
	" coalesce(to_char(r.window_from, 'YYYY-MM-DD HH24:MI:SSTZH'), '…') || ' .. '"
	"  || coalesce(to_char(r.window_to, 'YYYY-MM-DD HH24:MI:SSTZH'), '…'),"
	" coalesce(" MADE_GOOD_BY "::text, ''),"
	" r.status = 'running' AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = r.pid)"
	" FROM (SELECT * FROM etl.run ORDER BY run_id DESC LIMIT $1::bigint) r"
	" WHERE r.status = 'failed' OR r.status = 'running' ORDER BY r.run_id DESC";

/*
 * Print text word-wrapped after `indent`, in at most `max_lines` lines of
 * STATUS_WIDTH columns; the last one cut with "…" if need be.
 */
static void print_wrapped(const char *indent, const char *raw, int max_lines)
{
	size_t room = STATUS_WIDTH - strlen(indent);
	struct buf text;
	const char *p = term_shown(&text, raw);
	for (int n = 0; n < max_lines && *p; n++) {
		while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
			p++;
		size_t len = strlen(p);
		if (n + 1 < max_lines) {
			/* the longest prefix that fits, ended at a space if there is one */
			size_t fit = 0, w = 0, space = 0, clen;
			while (fit < len && w + utf8_char_width((const unsigned char *)p + fit, &clen) <= room) {
				w += utf8_char_width((const unsigned char *)p + fit, &clen);
				fit += clen;
				if (fit < len && (p[fit] == ' ' || p[fit] == '\n'))
					space = fit;
			}
			if (fit < len && space > room / 2)
				fit = space;
			len = fit;
		}
		char *piece = xstrndup(p, len);
		print_fitted(indent, piece);
		free(piece);
		p += len;
	}
	buf_release(&text);
}

static void print_problem(PGresult *res, int t)
{
	const char *id = PQgetvalue(res, t, 0), *source = PQgetvalue(res, t, 1);
	const char *mode = PQgetvalue(res, t, 4), *file = PQgetvalue(res, t, 5);
	const char *made_good = PQgetvalue(res, t, 7);
	struct buf line;
	buf_init(&line, 1 << 16);
	if (!strcmp(PQgetvalue(res, t, 2), "running")) {
		if (!strcmp(PQgetvalue(res, t, 8), "t")) {
			buf_addf(&line, "run %s (%s) is marked running but its process is gone:"
				 " the next writer marks it failed (interrupted)", id, source);
			print_wrapped("  ", buf_str(&line), 2);
		}
		buf_release(&line);
		return;
	}
	buf_addf(&line, "run %s: %s, %s", id, source, mode);
	if (!strcmp(mode, "backfill"))
		buf_addf(&line, " %s", PQgetvalue(res, t, 6));
	else if (!strcmp(mode, "file"))
		buf_addf(&line, " '%s'", file);
	/* the files of one load-file, to load again: a few lines of them */
	print_wrapped("  ", buf_str(&line), !strcmp(mode, "file") ? 4 : 1);
	print_wrapped("      ", PQgetvalue(res, t, 3), 3);
	buf_reset(&line);
	if (!strcmp(mode, "file"))
		buf_adds(&line, "-> a file run cannot be rerun: load the files again with 'onestop-etl load-file'");
	else if (*made_good)
		buf_addf(&line, "-> made good by run %s", made_good);
	else
		buf_addf(&line, "-> not loaded since: onestop-etl rerun --run %s (or rerun --failed)", id);
	print_wrapped("      ", buf_str(&line), 1);
	buf_release(&line);
}

static const char STATUS_ENTITIES[] =
	"SELECT r.source, r.run_id, e.entity, e.rows_read, e.rows_loaded, e.rows_rejected,"
	" e.rows_superseded"
	" FROM (SELECT DISTINCT ON (source) source, run_id FROM etl.run"
	"  WHERE status = 'succeeded' AND source IS NOT NULL ORDER BY source, run_id DESC) r"
	" JOIN etl.run_entity e USING (run_id)"
	" ORDER BY r.source, array_position(ARRAY['donvi', 'thutuc', 'hoso', 'bosung', 'quatrinh'],"
	"  e.entity::text)";

static const struct status_column status_entity_columns[] = {
	{ "source", false, true }, { "run", true, false }, { "entity", false, false },
	{ "read", true, false }, { "loaded", true, false }, { "rejected", true, false },
	{ "superseded", true, false },
};

static const char STATUS_MARKS[] =
	"SELECT source, entity, to_char(updated_until, 'YYYY-MM-DD HH24:MI:SSTZH')"
	" FROM etl.watermark ORDER BY source,"
	" array_position(ARRAY['donvi', 'thutuc', 'hoso', 'bosung', 'quatrinh'], entity::text)";

static const struct status_column status_mark_columns[] = {
	{ "source", false, true }, { "entity", false, false }, { "watermark", false, false },
};

static const struct status_column status_orphan_columns[] = {
	{ "entity", false, false }, { "rows", true, false }, { "dossiers", true, false },
};

static const struct status_column status_after_end_columns[] = {
	{ "unit", false, true }, { "ended on", false, false },
	{ "current unit", false, true }, { "dossiers", true, false },
};

static void print_status(PGresult *runs, PGresult *problems, PGresult *entities,
			 PGresult *marks, PGresult *orphans, PGresult *after_end)
{
	if (PQntuples(runs) == 0) {
		printf("No runs yet.\n");
	} else {
		printf("Runs, latest first\n");
		print_table(runs, status_run_columns, "  ");
	}
	bool header = false;
	for (int t = 0; t < PQntuples(problems); t++) {
		if (!header && (strcmp(PQgetvalue(problems, t, 2), "running") ||
				!strcmp(PQgetvalue(problems, t, 8), "t"))) {
			printf("\nFailures\n");
			header = true;
		}
		print_problem(problems, t);
	}
	if (PQntuples(entities)) {
		printf("\nLast successful run of each source, by entity"
		       " (read = loaded + rejected + superseded)\n");
		print_table(entities, status_entity_columns, "  ");
	}
	if (PQntuples(orphans)) {
		printf("\nWaiting for a dossier not loaded yet (orphans): rows, and the dossiers"
		       " they wait for\n");
		print_table(orphans, status_orphan_columns, "  ");
	}
	if (PQntuples(after_end)) {
		printf("\nRecorded under a unit code on or after the day it ended (the source"
		       " still uses it)\n");
		print_table(after_end, status_after_end_columns, "  ");
	}
	if (PQntuples(marks)) {
		printf("\nWatermarks: the latest CapNhatLuc loaded (the source's clock, local time)\n");
		print_table(marks, status_mark_columns, "  ");
	} else {
		printf("\nNo watermark yet: the next run asks each source for everything.\n");
	}
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
		if (c != 'l' || !*optarg || strspn(optarg, "0123456789") != strlen(optarg) ||
		    strlen(optarg) > 9 || strspn(optarg, "0") == strlen(optarg))
			return usage_error("status", "--last takes a whole number of runs, 1 or more");
		last = optarg;
	}
	if (optind < argc)
		return usage_error("status", "unexpected argument '%s'", argv[optind]);
	if (load_config(g) < 0)
		return EXIT_USAGE;
	PGconn *conn = connect_reader(g);
	if (!conn)
		return EXIT_WAREHOUSE;
	struct buf err;
	buf_init(&err, ERR_CAP);
	const char *params[] = { last };
	PGresult *runs = pg_query(conn, STATUS_RUNS, 1, params, &err);
	PGresult *problems = runs ? pg_query(conn, STATUS_PROBLEMS, 1, params, &err) : NULL;
	PGresult *entities = problems ? pg_query(conn, STATUS_ENTITIES, 0, NULL, &err) : NULL;
	PGresult *marks = entities ? pg_query(conn, STATUS_MARKS, 0, NULL, &err) : NULL;
	PGresult *orphans = marks ? audit_orphans(conn, NULL, &err) : NULL;
	PGresult *after_end = orphans ? audit_after_end(conn, NULL, &err) : NULL;
	int rc = 0;
	if (!after_end) {
		log_error(NULL, NULL, "%s", buf_str(&err));
		rc = EXIT_WAREHOUSE;
	} else {
		print_status(runs, problems, entities, marks, orphans, after_end);
	}
	PQclear(runs);
	PQclear(problems);
	PQclear(entities);
	PQclear(marks);
	PQclear(orphans);
	PQclear(after_end);
	buf_release(&err);
	pg_close(conn);
	return rc;
}

/* --units recorded|current (rules.md, "Units across reorganisations") */
static int parse_units(const char *cmd, const char *value, bool *current)
{
	if (strcmp(value, "recorded") && strcmp(value, "current")) {
		usage_error(cmd, "--units: '%s' is not recorded or current", value);
		return -1;
	}
	*current = !strcmp(value, "current");
	return 0;
}

/* --profile, --period and --unit: what score and report both narrow by. */
static bool scope_option(int c, struct score_request *req)
{
	if (c == 'p')
		req->profile = optarg;
	else if (c == 'P')
		req->period = optarg;
	else if (c == 'u')
		req->unit = optarg;
	else
		return false;
	return true;
}

/*
 * A profile or unit the warehouse does not know is a mistake, not a
 * period without data: exit 2, before anything is printed or written.
 */
static int check_scope_names(PGconn *conn, const struct score_request *req)
{
	if (!req->profile && !req->unit)
		return 0;
	int unknown = score_check_names(conn, req);
	return unknown < 0 ? EXIT_WAREHOUSE : unknown ? EXIT_USAGE : 0;
}

static int cmd_score(struct globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "profile", required_argument, NULL, 'p' },
		{ "period", required_argument, NULL, 'P' },
		{ "unit", required_argument, NULL, 'u' },
		{ "units", required_argument, NULL, 'U' },
		{ "format", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	struct score_request req = { .format = "table" };
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'f') {
			req.format = optarg;
		} else if (c == 'U') {
			if (parse_units("score", optarg, &req.current_units) < 0)
				return EXIT_USAGE;
		} else if (!scope_option(c, &req)) {
			return usage_error("score", "bad option");
		}
	}
	if (strcmp(req.format, "table") && strcmp(req.format, "csv") && strcmp(req.format, "json"))
		return usage_error("score", "--format: '%s' is not table, csv or json", req.format);
	if (req.period && score_parse_period(req.period, NULL, NULL) < 0)
		return usage_error("score", "--period: '%s' is not 2021, 2021-Q1 or 2021-03", req.period);
	if (load_config(g) < 0)
		return EXIT_USAGE;
	PGconn *conn = connect_reader(g);
	if (!conn)
		return EXIT_WAREHOUSE;
	int rc = check_scope_names(conn, &req);
	if (rc == 0 && score_print(conn, &req, stdout) < 0)
		rc = EXIT_WAREHOUSE;
	pg_close(conn);
	return rc;
}

static int cmd_report(struct globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "profile", required_argument, NULL, 'p' },
		{ "period", required_argument, NULL, 'P' },
		{ "unit", required_argument, NULL, 'u' },
		{ "units", required_argument, NULL, 'U' },
		{ "out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct score_request req = { .format = "html" };
	const char *out = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'o') {
			out = optarg;
		} else if (c == 'U') {
			if (parse_units("report", optarg, &req.current_units) < 0)
				return EXIT_USAGE;
		} else if (!scope_option(c, &req)) {
			return usage_error("report", "bad option");
		}
	}
	if (!req.period || !out)
		return usage_error("report", "needs --period P and --out FILE.html");
	if (optind < argc)
		return usage_error("report", "unexpected argument '%s'", argv[optind]);
	if (score_parse_period(req.period, NULL, NULL) < 0)
		return usage_error("report", "--period: '%s' is not 2021, 2021-Q1 or 2021-03", req.period);
	if (load_config(g) < 0)
		return EXIT_USAGE;
	PGconn *conn = connect_reader(g);
	if (!conn)
		return EXIT_WAREHOUSE;
	int rc = check_scope_names(conn, &req);
	if (rc == 0) {
		rc = page_write(conn, &req, out);
		rc = rc == PAGE_CANNOT_WRITE ? EXIT_OUTPUT : rc < 0 ? EXIT_WAREHOUSE : 0;
	}
	if (rc == 0)
		log_info(NULL, NULL, "wrote '%s'", out);
	pg_close(conn);
	return rc;
}

static int cmd_form06(struct globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "period", required_argument, NULL, 'P' },
		{ "calendar", no_argument, NULL, 'c' },
		{ "from", required_argument, NULL, 'F' },
		{ "to", required_argument, NULL, 'T' },
		{ "unit", required_argument, NULL, 'u' },
		{ "subtree", no_argument, NULL, 's' },
		{ "units", required_argument, NULL, 'U' },
		{ "format", required_argument, NULL, 'f' },
		{ "out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct form06_request req = { .format = "table" };
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'P')
			req.period = optarg;
		else if (c == 'c')
			req.calendar = true;
		else if (c == 'F')
			req.from = optarg;
		else if (c == 'T')
			req.to = optarg;
		else if (c == 'u')
			req.unit = optarg;
		else if (c == 's')
			req.subtree = true;
		else if (c == 'U') {
			if (parse_units("form06", optarg, &req.current_units) < 0)
				return EXIT_USAGE;
		} else if (c == 'f')
			req.format = optarg;
		else if (c == 'o')
			req.out = optarg;
		else
			return usage_error("form06", "bad option");
	}
	if (optind < argc)
		return usage_error("form06", "unexpected argument '%s'", argv[optind]);
	struct form06_period period;
	struct buf err;
	buf_init(&err, ERR_CAP);
	int rc = 0;
	if (form06_parse(&req, &period, &err) < 0)
		rc = usage_error("form06", "%s", buf_str(&err));
	else if (load_config(g) < 0)
		rc = EXIT_USAGE;
	buf_release(&err);
	if (rc)
		return rc;
	req.reporting_body = g->cfg.reporting_body;
	req.recipient = g->cfg.recipient;
	PGconn *conn = connect_reader(g);
	if (!conn)
		return EXIT_WAREHOUSE;
	struct form06_report rep;
	int read = form06_read(conn, &req, &period, &rep);
	rc = read < 0 ? EXIT_WAREHOUSE : read > 0 ? EXIT_USAGE : 0;
	pg_close(conn);
	buf_init(&err, ERR_CAP);
	if (rc == 0 && form06_output(&rep, &req, &err) < 0) {
		log_error(NULL, NULL, "%s", buf_str(&err));
		rc = EXIT_OUTPUT;
	} else if (rc == 0 && req.out) {
		log_info(NULL, NULL, "wrote '%s'", req.out);
	}
	buf_release(&err);
	form06_release(&rep);
	return rc;
}

static const struct command commands[] = {
	{ "run", cmd_run, "run [--source NAME]... [--since T] [--until T] [--full] [--no-wait]",
	  "Extract every entity changed since each source's watermark (minus lookback),\n"
	  "load it and re-derive the marts. --since/--until load a window (a backfill),\n"
	  "--full everything. Timestamps: yyyyMMddHHmmss, ISO 8601 (2021-06-01T08:00:00,\n"
	  "a zone allowed) or a date alone (20210601, 2021-06-01: 00:00), local time\n"
	  "(Asia/Ho_Chi_Minh) unless a zone is given.\n" },
	{ "rerun", cmd_rerun, "rerun (--run ID | --failed) [--no-wait]",
	  "Run again what a failed run was to load: same source, same window (a nightly\n"
	  "run asks again from the current watermark). --failed reruns every failed run\n"
	  "that no later success made good (for a nightly run: a later nightly or full\n"
	  "run; for a backfill: the same window again, or a full run); with none, it\n"
	  "says so and exits 0. A failed load-file cannot be rerun: load the file again.\n" },
	{ "load-file", cmd_load_file, "load-file --source NAME [--entity ENTITY] [--no-wait] FILE|DIR...",
	  "Load CSV or CSV.gz exports through the same validation and load path, all\n"
	  "of them in one run (one transaction, one derivation), in the order donvi,\n"
	  "thutuc, hoso, bosung, quatrinh whatever the order given; files of one entity\n"
	  "in the order given (on equal CapNhatLuc the later file's row wins). Without\n"
	  "--entity a file's entity is its name up to the first '-', '_' or '.'\n"
	  "(hoso-2021.csv.gz); a directory stands for its *.csv and *.csv.gz files, in\n"
	  "byte order of name. ENTITY is donvi, thutuc, hoso, bosung or quatrinh.\n" },
	{ "rescore", cmd_rescore, "rescore [--no-wait]",
	  "Re-derive outcomes, indicators and scores from stored rows (after a calendar\n"
	  "or profile change).\n" },
	{ "status", cmd_status, "status [--last N]",
	  "Recent runs (default 20) with their counts; failures with their reasons and\n"
	  "what to do; the last successful run of each source by entity; log steps and\n"
	  "supplements waiting for a dossier not loaded yet (orphans); each source's\n"
	  "watermarks. Fits 100 columns.\n" },
	{ "score", cmd_score,
	  "score [--profile P] [--period P] [--unit CODE] [--units recorded|current]\n"
	  "                  [--format table|csv|json]",
	  "Print the compliance scorecard. --period is 2021, 2021-Q1 or 2021-03\n"
	  "(default: the current year); --profile defaults to every profile.\n"
	  "--units current scores every current unit (the unit lineage) from its own\n"
	  "and its predecessors' counts summed; --unit then names a current unit.\n" },
	{ "report", cmd_report,
	  "report --period P [--profile P] [--unit CODE] [--units recorded|current]\n"
	  "                   --out FILE.html",
	  "Write the scorecard as one self-contained HTML page. --units current shows\n"
	  "every current unit (the unit lineage) with its predecessors' counts summed,\n"
	  "its monthly trend including their months before the cut-over; --unit then\n"
	  "names a current unit.\n" },
	{ "form06", cmd_form06,
	  "form06 (--period P [--calendar] | --from DATE --to DATE) [--unit CODE [--subtree]]\n"
	  "                   [--units recorded|current] [--format table|csv|xlsx] [--out FILE]",
	  "The periodic report on dossier processing (Biểu số 06/VPCP/KSTT). --period is\n"
	  "a report period of Decree 09/2019, the 15th to the 14th: 2021-03, 2021-Q1,\n"
	  "2021-H1, 2021; with --calendar the calendar period of that name. --from and\n"
	  "--to (yyyy-mm-dd, both included) take any days. Without --unit every unit,\n"
	  "grouped by level; --subtree sums the unit and its descendants. xlsx is the\n"
	  "official workbook and needs --out. --units current counts every unit under\n"
	  "its current unit (the unit lineage); --unit then names a current unit.\n" },
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
		     "version, 4 another run holds the lock (--no-wait, or lock_wait passed),\n"
		     "5 an output file (report or form06 --out) cannot be written.\n");
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
