#include "pipeline.h"
#include "audit.h"
#include "calendar.h"
#include "civil.h"
#include "csvstream.h"
#include "http.h"
#include "lineage.h"
#include "log.h"
#include "oauth.h"
#include "profiles.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

/*
 * Rows go to COPY in chunks this big.  Small on purpose: PQputCopyData
 * blocks until the socket takes the whole chunk, so a chunk much larger
 * than the socket's buffer (about 200 KB) makes this process wait while
 * PostgreSQL digests it, and the two take turns instead of working at the
 * same time (256 KB chunks: 23.8 s to extract 5.6M log rows; 32 KB: 14.0 s).
 */
#define COPY_CHUNK (32 * 1024)
#define MAX_RECORD (1024 * 1024)   /* a record past this is a runaway quote */
#define USER_AGENT "onestop-etl/" ONESTOP_VERSION

#ifndef ONESTOP_VERSION
#define ONESTOP_VERSION "0.1.0"
#endif

/* Counts of one entity in one source run (etl.run_entity). */
struct entity_counts {
	long long read, loaded, rejected, superseded;
	long long total_announced; /* X-Total-Count, -1 when absent */
	char watermark[48];        /* latest CapNhatLuc staged, "" when none */
	time_t source_clock;       /* the source's clock at the first page */
	bool present;
};

/*
 * The state of one entity's extract while pages stream through it.  Page
 * counters are added to the totals only when the page is accepted, so a
 * page fetched again counts its rows, rejects and row numbers once.
 */
struct extract {
	const struct app *app;
	const struct source_cfg *src;
	enum entity entity;
	long long run_id;
	PGconn *conn;  /* the source run's transaction: staging */
	PGconn *audit; /* autocommit: rejects survive a failed run */
	const struct http_auth *auth; /* the source's OAuth2 client, or NULL */
	struct csvstream *csv;
	struct record_map *map;
	struct buf copy; /* rows waiting for the next COPY chunk */
	struct buf raw;  /* one rejected row, masked */
	struct buf rej;  /* reject lines waiting for their COPY chunk */
	long long row_base;   /* rows numbered before this page */
	/*
	 * MODE_FILE: the file being read, and the rows of this entity's files
	 * before it.  Staging numbers rows across the files in the order given,
	 * so that a later file's row wins a tie (the merge's larger
	 * row_number); a reject is numbered within its file.
	 */
	const char *file;
	long long file_base;
	long long page_read, page_rejected;
	long long read, rejected;
	long page_no;    /* the page being read, from 0 */
	bool copy_open, rej_open;
	bool page_bad;   /* malformed page: fetch it again */
	bool fatal;      /* stop the source run */
	double deadline; /* CLOCK_MONOTONIC seconds; 0 = none */
	double started;  /* CLOCK_MONOTONIC seconds, for the progress line */
	long long bytes; /* body bytes of accepted pages, for the progress line */
	long long page_bytes;
	struct buf page_err; /* why this attempt's page is malformed */
	struct buf err;      /* why the entity failed */
};

static const char *const mode_names[] = { "nightly", "backfill", "full", "file" };

const char *run_mode_name(enum run_mode mode)
{
	return mode_names[mode];
}

/* ---------------------------------------------------------------- rejects */

static int reject_flush(struct extract *x)
{
	if (!x->rej.len)
		return 0;
	if (!x->rej_open) {
		if (pg_exec(x->audit, "BEGIN", 0, NULL, &x->err) < 0 ||
		    pg_copy_begin(x->audit,
				  "COPY etl.reject (run_id, source, entity, file, row_number,"
				  " reason, column_name, raw) FROM STDIN",
				  &x->err) < 0)
			return -1;
		x->rej_open = true;
	}
	int rc = pg_copy_put(x->audit, x->rej.data, x->rej.len, &x->err);
	buf_reset(&x->rej);
	return rc;
}

/* End the page's reject COPY: commit it with the page, or drop it. */
static int reject_finish(struct extract *x, bool keep)
{
	if (keep && reject_flush(x) < 0)
		keep = false;
	buf_reset(&x->rej);
	if (!x->rej_open)
		return keep ? 0 : -1;
	x->rej_open = false;
	if (!keep) {
		struct buf ignored;
		buf_init(&ignored, ERR_CAP);
		pg_copy_end(x->audit, "page discarded", &ignored);
		pg_exec(x->audit, "ROLLBACK", 0, NULL, &ignored);
		buf_release(&ignored);
		return -1;
	}
	if (pg_copy_end(x->audit, NULL, &x->err) < 0 ||
	    pg_exec(x->audit, "COMMIT", 0, NULL, &x->err) < 0)
		return -1;
	return 0;
}

static void reject_add(struct extract *x, long long row_number,
		       const struct reject *r)
{
	struct buf *b = &x->rej;
	buf_addf(b, "%lld\t", x->run_id);
	copy_escape(b, x->src->name, strlen(x->src->name));
	buf_addf(b, "\t%s\t", entity_name(x->entity));
	if (x->file)
		copy_escape(b, x->file, strlen(x->file));
	else
		buf_adds(b, "\\N");
	buf_addc(b, '\t');
	buf_addf(b, "%lld\t%s\t", row_number - x->file_base, reject_code(r->reason));
	if (r->column)
		copy_escape(b, r->column, strlen(r->column));
	else
		buf_adds(b, "\\N");
	buf_addc(b, '\t');
	copy_escape(b, x->raw.data ? x->raw.data : "", x->raw.len);
	buf_addc(b, '\n');
	if (b->len >= COPY_CHUNK && reject_flush(x) < 0)
		x->fatal = true;
}

/* ------------------------------------------------------------ the records */

static int on_header(struct extract *x, const struct field *fields, size_t n)
{
	record_map_free(x->map);
	struct buf msg;
	buf_init(&msg, ERR_CAP);
	x->map = record_map_new(x->entity, fields, n,
				(const char *const *)x->app->cfg->personal_columns,
				&msg);
	if (!x->map) {
		buf_reset(&x->err);
		buf_addf(&x->err, "%s: %s", entity_name(x->entity), buf_str(&msg));
		x->fatal = true;
	}
	buf_release(&msg);
	return x->map ? 0 : -1;
}

/* Send the staged rows held so far to the page's COPY. */
static int copy_flush(struct extract *x)
{
	if (pg_copy_put(x->conn, x->copy.data, x->copy.len, &x->err) < 0) {
		x->fatal = true;
		return -1;
	}
	buf_reset(&x->copy);
	return 0;
}

static int on_record(void *ctx, long record_no, const struct field *fields,
		     size_t n)
{
	struct extract *x = ctx;
	if (record_no == 0)
		return on_header(x, fields, n);

	long long row_number = x->row_base + ++x->page_read;
	struct reject r;
	buf_reset(&x->raw);
	int rc = record_convert(x->map, fields, n, row_number, &x->copy, &r, &x->raw);
	if (rc < 0) {
		/* the buffer's cap: send what it holds and convert again, so
		   that no row is ever dropped without a word */
		if (copy_flush(x) < 0)
			return -1;
		buf_reset(&x->raw);
		rc = record_convert(x->map, fields, n, row_number, &x->copy, &r, &x->raw);
		if (rc < 0) {
			buf_reset(&x->err);
			buf_addf(&x->err, "%s: row %lld does not fit in the COPY buffer",
				 entity_name(x->entity), row_number);
			x->fatal = true;
			return -1;
		}
	}
	if (rc == 1) {
		x->page_rejected++;
		reject_add(x, row_number, &r);
	}
	if (x->copy.len >= COPY_CHUNK && copy_flush(x) < 0)
		return -1;
	return x->fatal ? -1 : 0;
}

/* --------------------------------------------------------- page lifecycle */

static int page_begin(void *ctx, long page_no, int attempt)
{
	struct extract *x = ctx;
	char sql[512];

	if (attempt > 0)
		log_info(x->src->name, entity_name(x->entity),
			 "fetching page %ld again (attempt %d)", page_no + 1,
			 attempt + 1);
	csvstream_reset(x->csv);
	record_map_free(x->map);
	x->map = NULL;
	x->page_no = page_no;
	x->page_read = x->page_rejected = 0;
	x->page_bytes = 0;
	x->page_bad = false;
	buf_reset(&x->page_err);
	buf_reset(&x->copy);
	buf_reset(&x->rej);
	/* binary: the server need not parse what record.c has just parsed */
	snprintf(sql, sizeof(sql), "COPY %s (%s) FROM STDIN (FORMAT binary)",
		 entity_staging_table(x->entity),
		 entity_staging_columns(x->entity));
	/* the header goes at once: x->copy then only ever holds whole rows */
	copy_binary_header(&x->copy);
	if (pg_copy_begin(x->conn, sql, &x->err) < 0 || copy_flush(x) < 0) {
		x->fatal = true;
		return SINK_FATAL;
	}
	x->copy_open = true;
	return SINK_OK;
}

/* The CSV of this attempt cannot be read: say where, fetch it again. */
static void page_malformed(struct extract *x)
{
	x->page_bad = true;
	buf_reset(&x->page_err);
	buf_adds(&x->page_err, csvstream_error(x->csv));
	log_warn(x->src->name, entity_name(x->entity), "page %ld malformed: %s",
		 x->page_no + 1, buf_str(&x->page_err));
}

/*
 * A malformed page stops its transfer at once: the rest of an endless
 * runaway quote is not worth reading.
 */
static int page_data(void *ctx, const char *bytes, size_t len)
{
	struct extract *x = ctx;
	x->page_bytes += (long long)len;
	if (!x->fatal && !x->page_bad && csvstream_feed(x->csv, bytes, len) != 0 &&
	    !x->fatal)
		page_malformed(x);
	return x->fatal ? SINK_FATAL : x->page_bad ? SINK_RETRY : SINK_OK;
}

/*
 * Throw the page away: its staged rows and its rejects.  Not by a
 * SAVEPOINT: past 64 subtransactions in one transaction, every other
 * session's snapshot falls back to pg_subtrans for the rest of a long load.
 * The page's COPY is ended cleanly instead (only whole rows were sent), and
 * its rows are deleted by their numbers, which the next attempt reuses.
 */
static void page_discard(struct extract *x)
{
	char sql[128], base[32];
	snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE row_number > $1",
		 entity_staging_table(x->entity));
	snprintf(base, sizeof(base), "%lld", x->row_base);
	const char *params[] = { base };
	buf_reset(&x->copy);
	if (x->copy_open &&
	    (copy_binary_trailer(&x->copy) < 0 ||
	     pg_copy_put(x->conn, x->copy.data, x->copy.len, &x->err) < 0 ||
	     pg_copy_end(x->conn, NULL, &x->err) < 0))
		x->fatal = true;
	x->copy_open = false;
	buf_reset(&x->copy);
	if (!x->fatal && pg_exec(x->conn, sql, 1, params, &x->err) < 0)
		x->fatal = true;
	reject_finish(x, false);
}

static int page_accept(struct extract *x)
{
	copy_binary_trailer(&x->copy);
	if (pg_copy_put(x->conn, x->copy.data, x->copy.len, &x->err) < 0 ||
	    pg_copy_end(x->conn, NULL, &x->err) < 0) {
		x->copy_open = false;
		return -1;
	}
	x->copy_open = false;
	buf_reset(&x->copy);
	/* a reject that cannot be stored must not vanish: stop the run */
	if (reject_finish(x, true) < 0)
		return -1;
	x->row_base += x->page_read;
	x->read += x->page_read;
	x->rejected += x->page_rejected;
	x->bytes += x->page_bytes;
	log_progress(x->src->name, entity_name(x->entity), x->read, x->bytes,
		     monotonic_seconds() - x->started);
	return 0;
}

static int page_end(void *ctx, int ok)
{
	struct extract *x = ctx;
	if (!ok) {
		page_discard(x);
		return SINK_OK;
	}
	if (!x->fatal && !x->page_bad && csvstream_finish(x->csv) != 0 && !x->fatal)
		page_malformed(x);
	if (x->fatal || x->page_bad) {
		page_discard(x);
		return x->fatal ? SINK_FATAL : SINK_RETRY;
	}
	if (page_accept(x) < 0) {
		x->fatal = true;
		page_discard(x);
		return SINK_FATAL;
	}
	return SINK_OK;
}

static void extract_init(struct extract *x, const struct app *app,
			 const struct source_cfg *src, enum entity e,
			 long long run_id, PGconn *conn, PGconn *audit,
			 double deadline)
{
	memset(x, 0, sizeof(*x));
	x->app = app;
	x->src = src;
	x->entity = e;
	x->run_id = run_id;
	x->conn = conn;
	x->audit = audit;
	x->deadline = deadline;
	x->started = monotonic_seconds();
	x->csv = csvstream_new(MAX_RECORD, RECORD_MAX_FIELD, on_record, x);
	buf_init(&x->copy, SIZE_MAX / 2);
	buf_init(&x->raw, SIZE_MAX / 2);
	buf_init(&x->rej, SIZE_MAX / 2);
	buf_init(&x->page_err, ERR_CAP);
	buf_init(&x->err, ERR_CAP);
}

static void extract_release(struct extract *x)
{
	csvstream_free(x->csv);
	record_map_free(x->map);
	buf_release(&x->copy);
	buf_release(&x->raw);
	buf_release(&x->rej);
	buf_release(&x->page_err);
	buf_release(&x->err);
}

/* ------------------------------------------------------------ the sources */

/*
 * A file export is one page: read it through zlib, which passes a plain
 * file through unchanged and decompresses a .csv.gz.
 */
static int fetch_file(const char *path, const struct page_sink *sink,
		      const struct buf *page_err, struct buf *err)
{
	gzFile gz = gzopen(path, "rb");
	if (!gz) {
		buf_addf(err, "cannot open '%s': %s", path, strerror(errno));
		return -1;
	}
	char chunk[64 * 1024];
	int n = 0, verdict = SINK_OK;
	if (sink->begin(sink->ctx, 0, 0) != SINK_OK) {
		gzclose(gz);
		return -1;
	}
	while (verdict == SINK_OK && (n = gzread(gz, chunk, sizeof(chunk))) > 0)
		verdict = sink->data(sink->ctx, chunk, (size_t)n);
	if (verdict == SINK_OK && (n < 0 || !gzeof(gz))) {
		int zerr;
		buf_addf(err, "cannot read '%s': %s", path, gzerror(gz, &zerr));
		sink->end(sink->ctx, 0);
		verdict = SINK_FATAL;
	} else if (verdict == SINK_OK) {
		verdict = sink->end(sink->ctx, 1);
	} else {
		sink->end(sink->ctx, 0);
	}
	if (verdict == SINK_RETRY)
		buf_addf(err, "'%s' is malformed: %s", path, buf_str(page_err));
	gzclose(gz);
	return verdict == SINK_OK ? 0 : -1;
}

static void window_param(PGconn *conn, const struct app *app,
			 const struct source_cfg *src, enum entity e,
			 char out[15])
{
	struct buf val, err;
	buf_init(&val, 64);
	buf_init(&err, ERR_CAP);
	char lookback[32];
	snprintf(lookback, sizeof(lookback), "%ld", app->cfg->lookback);
	const char *params[] = { src->name, entity_name(e), lookback };
	out[0] = '\0';
	if (pg_query_value(conn,
			   "SELECT to_char((updated_until - make_interval(secs => $3::int))"
			   " AT TIME ZONE 'Asia/Ho_Chi_Minh', 'YYYYMMDDHH24MISS')"
			   " FROM etl.watermark WHERE source = $1 AND entity = $2",
			   3, params, &val, &err) == 0)
		snprintf(out, 15, "%s", buf_str(&val));
	buf_release(&val);
	buf_release(&err);
}

/*
 * The entity's files, in the order given, into one staging table: one
 * extract, so that its counts and the reject guard cover all of them.
 */
static int extract_files(struct extract *x, const struct run_request *req,
			 const struct page_sink *sink, struct buf *why)
{
	for (size_t i = 0; i < req->nfiles; i++) {
		const struct export_file *f = &req->files[i];
		if (f->entity != x->entity)
			continue;
		long long read = x->read, rejected = x->rejected;
		x->file = f->path;
		x->file_base = x->row_base;
		if (fetch_file(f->path, sink, &x->page_err, why) < 0)
			return -1;
		log_info(x->src->name, entity_name(x->entity), "'%s': %lld rows read, %lld rejected",
			 f->path, x->read - read, x->rejected - rejected);
	}
	return 0;
}

static int extract_entity(struct extract *x, const struct run_request *req,
			  struct entity_counts *counts)
{
	const struct page_sink sink = { x, page_begin, page_data, page_end };
	char since[15] = "";
	int rc;

	struct buf why; /* what the fetch says went wrong */
	buf_init(&why, ERR_CAP);
	counts->total_announced = -1;
	if (req->mode == MODE_FILE) {
		rc = extract_files(x, req, &sink, &why);
	} else {
		if (req->mode == MODE_NIGHTLY)
			window_param(x->conn, x->app, x->src, x->entity, since);
		struct http_source hs = {
			.name = x->src->name, .url = x->src->url,
			.token = x->src->token, .auth = x->auth,
			.ca_file = x->src->ca_file,
			.page_size = x->src->page_size, .timeout = x->src->timeout,
			.retries = x->src->retries, .retry_delay = x->src->retry_delay,
			.deadline = x->deadline, .user_agent = USER_AGENT,
		};
		struct http_query q = {
			.entity = entity_name(x->entity),
			.updated_since = req->mode == MODE_NIGHTLY
						 ? (since[0] ? since : NULL)
						 : req->since,
			.updated_until = req->until,
		};
		struct http_result res;
		memset(&res, 0, sizeof(res));
		time_t asked = time(NULL);
		rc = http_fetch_entity(&hs, &q, &sink, &res, &why);
		counts->source_clock = res.source_clock ? res.source_clock : asked;
		/* "page 3 malformed twice" says what; the CSV detail says where */
		if (rc < 0 && x->page_err.len)
			buf_addf(&why, ": %s", buf_str(&x->page_err));
		if (rc < 0 && x->deadline > 0 && monotonic_seconds() >= x->deadline)
			buf_addf(&why, "; deadline = %ld s", x->src->deadline);
		counts->total_announced = res.total_count;
	}
	/* a fatal consumer already said why; the fetch only says it stopped */
	if (rc < 0 && !x->fatal) {
		buf_reset(&x->err);
		buf_adds(&x->err, buf_str(&why));
	}
	buf_release(&why);
	counts->present = true;
	counts->read = x->read;
	counts->rejected = x->rejected;
	if (rc < 0 || x->fatal)
		return -1;
	return 0;
}

/* The guards of source-api.md: too many rejects, fewer rows than announced. */
static int check_guards(const struct app *app, const struct extract *x,
			const struct entity_counts *c, struct buf *err)
{
	const char *ename = entity_name(x->entity);
	if (c->rejected >= app->cfg->min_rejects && c->read > 0 &&
	    (double)c->rejected * 100.0 > app->cfg->max_reject_pct * (double)c->read) {
		buf_addf(err, "%s: %lld of %lld rows rejected (over %g%%): the export's format may have changed",
			 ename, c->rejected, c->read, app->cfg->max_reject_pct);
		return -1;
	}
	if (c->total_announced >= 0 && c->read < c->total_announced) {
		buf_addf(err, "%s: the server announced %lld rows (X-Total-Count) but sent %lld",
			 ename, c->total_announced, c->read);
		return -1;
	}
	if (c->total_announced >= 0 && c->read > c->total_announced)
		log_info(x->src->name, ename,
			 "%lld rows read, %lld announced: rows changed while paging",
			 c->read, c->total_announced);
	return 0;
}

/* ----------------------------------------------------------- the audit row */

/* What the run is, as status shows it: see audit_first_load(). */
static enum run_mode run_mode_of(PGconn *audit, const struct source_cfg *src,
				 const struct run_request *req)
{
	if (req->mode == MODE_NIGHTLY && audit_first_load(audit, src->name))
		return MODE_FULL;
	return req->mode;
}

static long long begin_run(PGconn *audit, const struct app *app,
			   const struct source_cfg *src,
			   const struct run_request *req, enum run_mode mode,
			   struct buf *err)
{
	const struct audit_run run = {
		.source = src->name, .command = req->command,
		.mode = run_mode_name(mode), .since = req->since,
		.until = req->until, .batch_id = app->batch_id,
		.rerun_of = req->rerun_of, .file = req->file,
	};
	return audit_begin(audit, &run, err);
}

/* The run's totals over the entities it read. */
static struct audit_counts run_totals(const struct entity_counts *counts)
{
	struct audit_counts t = { 0, 0, 0, 0 };
	for (int e = 0; e < ENTITY_COUNT; e++) {
		if (!counts[e].present)
			continue;
		t.read += counts[e].read;
		t.loaded += counts[e].loaded;
		t.rejected += counts[e].rejected;
		t.superseded += counts[e].superseded;
	}
	return t;
}

/* ------------------------------------------------------------- the commit */

static int merge(PGconn *conn, const struct app *app, const struct source_cfg *src,
		 int rank, long long run_id, struct entity_counts *counts,
		 struct buf *err)
{
	char id[32], r[16], batch[32];
	snprintf(id, sizeof(id), "%lld", run_id);
	snprintf(r, sizeof(r), "%d", rank);
	snprintf(batch, sizeof(batch), "%lld", app->batch_id);
	const char *sole = app->batch_sources == 1 ? "true" : "false";
	const char *params[] = { id, src->name, r, batch, sole };
	PGresult *res = pg_query(conn,
		"SELECT entity, rows_loaded, rows_superseded,"
		" to_char(watermark, 'YYYY-MM-DD HH24:MI:SS.USOF')"
		" FROM etl.merge_staging($1, $2, $3, $4, $5)",
		5, params, err);
	if (!res)
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		int e = entity_from_name(PQgetvalue(res, i, 0));
		if (e < 0)
			continue;
		counts[e].loaded = atoll(PQgetvalue(res, i, 1));
		counts[e].superseded = atoll(PQgetvalue(res, i, 2));
		snprintf(counts[e].watermark, sizeof(counts[e].watermark), "%s",
			 PQgetvalue(res, i, 3));
	}
	PQclear(res);
	return 0;
}

/*
 * How far past the source's clock a watermark may go (interfaces.md), as
 * the messages say it; the rule itself is the warehouse's, in
 * sql/code/admin.sql (etl.watermark_cap, etl.advance_watermark).
 */
#define CLOCK_SLACK "5 minutes"

/*
 * Rows stamped after the source's clock are loaded, but counted and
 * warned about: the watermark stops at the clock, so that one wrong clock
 * does not make every later night ask for nothing.  The staging scan runs
 * only when the merge's watermark is past the cap (a one-time filter).
 */
static int warn_future_rows(PGconn *conn, const struct source_cfg *src,
			    enum entity e, const char *watermark,
			    const char *clock, struct buf *err)
{
	char sql[384];
	struct buf n;
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM %s"
		 " WHERE $1::timestamptz > etl.watermark_cap(to_timestamp($2::bigint))"
		 " AND updated_at > etl.watermark_cap(to_timestamp($2::bigint))",
		 entity_staging_table(e));
	const char *params[] = { watermark, clock };
	buf_init(&n, 32);
	int rc = pg_query_value(conn, sql, 2, params, &n, err);
	if (rc == 0 && strcmp(buf_str(&n), "0") != 0) {
		time_t t = (time_t)atoll(clock);
		struct tm tm;
		char when[32];
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
		log_warn(src->name, entity_name(e),
			 "%s rows of %s are stamped after the source's clock (%s):"
			 " loaded, but the watermark stops at the clock + " CLOCK_SLACK,
			 buf_str(&n), entity_name(e), when);
	}
	buf_release(&n);
	return rc;
}

/*
 * A watermark already past the source's clock (stored by a version without
 * the cap) asks for nothing, so no row ever comes to correct it: the rule
 * brings it back to the clock when nothing was staged, and this says so.
 */
static int pull_back_watermark(PGconn *conn, const struct source_cfg *src,
			       enum entity e, const char *clock, struct buf *err)
{
	const char *params[] = { src->name, entity_name(e), clock };
	struct buf was;
	buf_init(&was, 64);
	int rc = pg_query_value(conn,
		"SELECT coalesce(to_char(etl.advance_watermark($1, $2, NULL, to_timestamp($3::bigint))"
		"  AT TIME ZONE 'Asia/Ho_Chi_Minh', 'YYYY-MM-DD HH24:MI:SS'), '')",
		3, params, &was, err);
	if (rc == 0 && buf_str(&was)[0])
		log_warn(src->name, entity_name(e),
			 "the watermark was %s, after the source's clock: brought back to"
			 " the clock + " CLOCK_SLACK, buf_str(&was));
	buf_release(&was);
	return rc;
}

/*
 * After a source's merge, each entity's watermark follows the watermark
 * rule, etl.advance_watermark (sql/code/admin.sql): forward only, to the
 * latest CapNhatLuc staged, never past the source's clock + CLOCK_SLACK,
 * and a backfill window moves only a watermark already inside it.  A file
 * moves none.
 */
static int advance_watermarks(PGconn *conn, const struct source_cfg *src,
			      const struct run_request *req,
			      const struct entity_counts *counts, struct buf *err)
{
	if (req->mode == MODE_FILE)
		return 0;
	for (int e = 0; e < ENTITY_COUNT; e++) {
		char clock[32];
		snprintf(clock, sizeof(clock), "%lld", (long long)counts[e].source_clock);
		if (!counts[e].watermark[0]) {
			/* nothing staged: the merge named no watermark */
			if (counts[e].present && counts[e].source_clock > 0 &&
			    pull_back_watermark(conn, src, (enum entity)e, clock, err) < 0)
				return -1;
			continue;
		}
		const char *params[] = {
			src->name, req->mode == MODE_BACKFILL ? req->since : NULL,
			entity_name((enum entity)e), counts[e].watermark, clock,
		};
		if (warn_future_rows(conn, src, (enum entity)e, counts[e].watermark,
				     clock, err) < 0 ||
		    pg_exec(conn,
			    "SELECT etl.advance_watermark($1, $3, $4::timestamptz,"
			    " to_timestamp($5::bigint), to_timestamp($2, 'YYYYMMDDHH24MISS')::timestamp"
			    "  AT TIME ZONE 'Asia/Ho_Chi_Minh')",
			    5, params, err) < 0)
			return -1;
	}
	return 0;
}

static int record_counts(PGconn *conn, long long run_id,
			 const struct entity_counts *counts, struct buf *err)
{
	for (int e = 0; e < ENTITY_COUNT; e++) {
		const struct entity_counts *c = &counts[e];
		const struct audit_counts one = { c->read, c->loaded, c->rejected,
						  c->superseded };
		if (c->present &&
		    audit_entity(conn, run_id, entity_name(e), &one, err) < 0)
			return -1;
	}
	const struct audit_counts total = run_totals(counts);
	return audit_succeed(conn, run_id, &total, err);
}

/* Commit only while this invocation still holds the writers' lock. */
static int check_lock(PGconn *conn, const struct app *app, struct buf *err)
{
	if (app->lock_pid <= 0)
		return 0;
	int held = pg_lock_held_by(conn, app->lock_pid, err);
	if (held == 0) {
		buf_reset(err);
		buf_adds(err, "lost the writers' lock (did the warehouse restart?): not committing");
	}
	return held == 1 ? 0 : -1;
}

static int commit_source(PGconn *conn, const struct app *app,
			 const struct source_cfg *src, int rank,
			 const struct run_request *req, long long run_id,
			 struct entity_counts *counts, struct buf *err)
{
	const char *as_of[] = { app->as_of };
	if (merge(conn, app, src, rank, run_id, counts, err) < 0 ||
	    advance_watermarks(conn, src, req, counts, err) < 0 ||
	    pg_exec(conn, "SELECT etl.derive($1::timestamptz)", 1, as_of, err) < 0 ||
	    record_counts(conn, run_id, counts, err) < 0 ||
	    check_lock(conn, app, err) < 0 ||
	    pg_exec(conn, "COMMIT", 0, NULL, err) < 0)
		return -1;
	return 0;
}

static void log_counts(const struct source_cfg *src, const struct entity_counts *counts)
{
	for (int e = 0; e < ENTITY_COUNT; e++) {
		const struct entity_counts *c = &counts[e];
		if (c->present)
			log_info(src->name, entity_name(e),
				 "read %lld, loaded %lld, rejected %lld, superseded %lld",
				 c->read, c->loaded, c->rejected, c->superseded);
	}
}

static bool has_files(const struct run_request *req, enum entity e)
{
	for (size_t i = 0; i < req->nfiles; i++)
		if (req->files[i].entity == e)
			return true;
	return false;
}

/*
 * Rows that wait for their dossier are loaded, not lost (source-api.md),
 * but an operator who loaded the log before the dossiers should hear of
 * them.  After the commit: all the source's orphans, not only this run's.
 */
static void log_orphans(PGconn *conn, const struct source_cfg *src)
{
	struct buf err;
	buf_init(&err, ERR_CAP);
	PGresult *res = audit_orphans(conn, src->name, &err);
	if (!res)
		log_debug(src->name, NULL, "cannot count orphans: %s", buf_str(&err));
	for (int i = 0; res && i < PQntuples(res); i++) {
		const char *entity = PQgetvalue(res, i, 0);
		log_info(src->name, entity, "%s %s wait for %s dossiers not loaded yet (orphans)",
			 PQgetvalue(res, i, 1), !strcmp(entity, "bosung") ? "supplements" : "log steps",
			 PQgetvalue(res, i, 2));
	}
	PQclear(res);
	buf_release(&err);
}

/*
 * A source that still records dossiers under a unit code that ended is
 * loaded as sent (rules.md, "Units across reorganisations"), but its
 * operator should hear of it: per code, after the commit, the source's
 * dossiers recorded under it on or after the day it ended.
 */
static void log_after_end(PGconn *conn, const struct source_cfg *src)
{
	struct buf err;
	buf_init(&err, ERR_CAP);
	PGresult *res = audit_after_end(conn, src->name, &err);
	if (!res)
		log_debug(src->name, NULL, "cannot count dossiers of ended units: %s",
			  buf_str(&err));
	for (int i = 0; res && i < PQntuples(res); i++)
		log_warn(src->name, "hoso",
			 "%s dossiers recorded under unit '%s' on or after %s, when it had ended"
			 " (its current unit is '%s')",
			 PQgetvalue(res, i, 3), PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
			 PQgetvalue(res, i, 2));
	PQclear(res);
	buf_release(&err);
}

static int extract_all(const struct app *app, const struct source_cfg *src,
		       const struct run_request *req, long long run_id,
		       PGconn *conn, PGconn *audit, struct entity_counts *counts,
		       struct buf *err)
{
	/* the source's deadline bounds an endless page or endless paging */
	double deadline = src->deadline > 0 && req->mode != MODE_FILE
				  ? monotonic_seconds() + (double)src->deadline
				  : 0;
	/* one token for all the entities of the run, renewed as it expires */
	struct oauth_client oauth = { 0 };
	bool use_oauth = src->token_url && req->mode != MODE_FILE;
	if (use_oauth) {
		const struct oauth_params params = {
			.token_url = src->token_url, .client_id = src->client_id,
			.client_secret = src->client_secret, .scope = src->scope,
			.auth_in_body = src->client_auth && !strcmp(src->client_auth, "body"),
		};
		const struct http_source hs = {
			.name = src->name, .ca_file = src->ca_file,
			.timeout = src->timeout, .retries = src->retries,
			.retry_delay = src->retry_delay, .deadline = deadline,
			.user_agent = USER_AGENT,
		};
		oauth_init(&oauth, &params, &hs);
	}
	int rc = 0;
	for (int e = 0; e < ENTITY_COUNT && rc == 0; e++) {
		if (req->mode == MODE_FILE && !has_files(req, (enum entity)e))
			continue;
		if (deadline > 0 && monotonic_seconds() >= deadline) {
			buf_addf(err, "%s: the source's deadline (%ld s) passed",
				 entity_name(e), src->deadline);
			rc = -1;
			break;
		}
		struct extract x;
		extract_init(&x, app, src, (enum entity)e, run_id, conn, audit,
			     deadline);
		x.auth = use_oauth ? &oauth.auth : NULL;
		rc = extract_entity(&x, req, &counts[e]);
		if (rc < 0)
			buf_adds(err, buf_str(&x.err));
		else
			rc = check_guards(app, &x, &counts[e], err);
		if (rc == 0)
			log_debug(src->name, entity_name(e), "%lld rows read",
				  counts[e].read);
		log_progress_done();
		extract_release(&x);
	}
	if (use_oauth)
		oauth_release(&oauth);
	return rc;
}

int pipeline_run_source(struct app *app, const struct source_cfg *src,
			int rank, const struct run_request *req,
			long long *run_id)
{
	struct entity_counts counts[ENTITY_COUNT];
	struct buf err;
	PGconn *conn = NULL, *audit = NULL;
	int rc = -1;

	memset(counts, 0, sizeof(counts));
	buf_init(&err, ERR_CAP);
	*run_id = -1;
	audit = pg_connect(app->conninfo, &err);
	conn = audit ? pg_connect(app->conninfo, &err) : NULL;
	if (!conn)
		goto out;
	enum run_mode mode = run_mode_of(audit, src, req);
	*run_id = begin_run(audit, app, src, req, mode, &err);
	if (*run_id < 0)
		goto out;
	if (req->rerun_of)
		log_info(src->name, NULL, "run %lld started (rerun of run %lld)",
			 *run_id, req->rerun_of);
	else
		log_info(src->name, NULL, "run %lld started (%s)", *run_id,
			 run_mode_name(mode));
	if (pg_exec(conn, "BEGIN", 0, NULL, &err) < 0 ||
	    pg_exec(conn, "SELECT etl.create_staging()", 0, NULL, &err) < 0 ||
	    extract_all(app, src, req, *run_id, conn, audit, counts, &err) < 0)
		goto out;
	pthread_mutex_lock(&app->commit_lock);
	int committed = commit_source(conn, app, src, rank, req, *run_id, counts, &err);
	pthread_mutex_unlock(&app->commit_lock);
	if (committed < 0 && !audit_commit_went_through(audit, *run_id, &err))
		goto out;
	log_counts(src, counts);
	log_orphans(conn, src);
	log_after_end(conn, src);
	rc = 0;
out:
	if (rc < 0) {
		log_error(src->name, NULL, "%s", buf_str(&err));
		if (conn) {
			struct buf ignored;
			buf_init(&ignored, ERR_CAP);
			pg_exec(conn, "ROLLBACK", 0, NULL, &ignored);
			buf_release(&ignored);
		}
		if (audit && *run_id > 0) {
			/* a reject COPY that failed may have left it in a transaction */
			if (PQtransactionStatus(audit) != PQTRANS_IDLE) {
				struct buf ignored;
				buf_init(&ignored, ERR_CAP);
				pg_exec(audit, "ROLLBACK", 0, NULL, &ignored);
				buf_release(&ignored);
			}
			const struct audit_counts total = run_totals(counts);
			audit_fail(audit, *run_id, &total, buf_str(&err));
		}
	}
	pg_close(conn);
	pg_close(audit);
	buf_release(&err);
	return rc;
}

/* -------------------------------------------------------------- the rules */

static int copy_calendar(PGconn *conn, const struct calendar *cal, struct buf *err)
{
	struct buf rows;
	buf_init(&rows, SIZE_MAX / 2);
	for (size_t i = 0; i < calendar_entry_count(cal); i++) {
		long day;
		const char *kind, *note;
		int y, m, d;
		calendar_entry(cal, i, &day, &kind, &note);
		civil_from_days(day, &y, &m, &d);
		buf_addf(&rows, "%04d-%02d-%02d\t%s\t", y, m, d, kind);
		if (note && *note)
			copy_escape(&rows, note, strlen(note));
		else
			buf_adds(&rows, "\\N");
		buf_addc(&rows, '\n');
	}
	int rc = 0;
	if (pg_copy_begin(conn, "COPY stg_calendar (day, kind, note) FROM STDIN", err) < 0 ||
	    pg_copy_put(conn, rows.data, rows.len, err) < 0 ||
	    pg_copy_end(conn, NULL, err) < 0)
		rc = -1;
	buf_release(&rows);
	return rc;
}

/* COPY text of one value; an empty note is NULL, as before the move */
static void copy_value(struct buf *rows, const char *s, char sep)
{
	if (*s)
		copy_escape(rows, s, strlen(s));
	else
		buf_adds(rows, "\\N");
	buf_addc(rows, sep);
}

static int copy_profiles(PGconn *conn, const struct profiles *prof, struct buf *err)
{
	struct buf rows;
	buf_init(&rows, SIZE_MAX / 2);
	for (size_t i = 0; i < profiles_count(prof); i++) {
		const struct criterion *cr = profiles_criterion(prof, i);
		copy_value(&rows, cr->profile, '\t');
		copy_value(&rows, cr->criterion, '\t');
		copy_value(&rows, cr->label, '\t');
		copy_value(&rows, cr->metric, '\t');
		copy_value(&rows, cr->target, '\t');
		copy_value(&rows, cr->max_points, '\t');
		copy_value(&rows, cr->note, '\n');
	}
	int rc = 0;
	if (pg_copy_begin(conn, "COPY stg_profile (profile, criterion, label, metric,"
			  " target, max_points, note) FROM STDIN", err) < 0 ||
	    pg_copy_put(conn, rows.data, rows.len, err) < 0 ||
	    pg_copy_end(conn, NULL, err) < 0)
		rc = -1;
	buf_release(&rows);
	return rc;
}

static int copy_lineage(PGconn *conn, const struct lineage *lin, struct buf *err)
{
	struct buf rows;
	buf_init(&rows, SIZE_MAX / 2);
	for (size_t i = 0; i < lineage_count(lin); i++) {
		const struct lineage_row *row = lineage_row(lin, i);
		int y, m, d;
		civil_from_days(row->effective, &y, &m, &d);
		copy_value(&rows, row->from_code, '\t');
		copy_value(&rows, row->to_code, '\t');
		buf_addf(&rows, "%04d-%02d-%02d\t", y, m, d);
		copy_value(&rows, row->basis, '\t');
		buf_addf(&rows, "%lu\n", row->line);
	}
	int rc = 0;
	if (pg_exec(conn, "SELECT etl.create_lineage_staging()", 0, NULL, err) < 0 ||
	    pg_copy_begin(conn, "COPY stg_lineage (from_code, to_code, effective, basis, line)"
			  " FROM STDIN", err) < 0 ||
	    pg_copy_put(conn, rows.data, rows.len, err) < 0 ||
	    pg_copy_end(conn, NULL, err) < 0)
		rc = -1;
	buf_release(&rows);
	return rc;
}

/*
 * The lineage's own hash: a change of it re-derives what depends on the
 * lineage (etl.apply_lineage), not all history.
 */
static int apply_lineage(PGconn *conn, const struct lineage *lin, struct buf *err)
{
	struct buf changed;
	buf_init(&changed, 16);
	int rc = -1;
	if (copy_lineage(conn, lin, err) < 0 ||
	    pg_query_value(conn, "SELECT etl.apply_lineage()", 0, NULL, &changed, err) < 0)
		goto out;
	if (!strcmp(buf_str(&changed), "t"))
		log_info(NULL, NULL, "unit lineage changed: %zu row%s applied",
			 lineage_count(lin), lineage_count(lin) == 1 ? "" : "s");
	rc = 0;
out:
	buf_release(&changed);
	return rc;
}

int pipeline_apply_rules(struct app *app, PGconn *conn, bool force, struct buf *err)
{
	const struct config *cfg = app->cfg;
	/* every file's errors at once, before the warehouse sees any */
	struct calendar *cal = calendar_load(cfg->calendar, err);
	struct profiles *prof = profiles_load(cfg->profiles, err);
	struct lineage *lin = lineage_load(cfg->lineage, err);
	if (!cal || !prof || !lin) {
		calendar_free(cal);
		profiles_free(prof);
		lineage_free(lin);
		return -1;
	}
	int from = 0, to = 0;
	char *coverage = calendar_coverage_warning(cal, cfg->calendar);
	if (coverage)
		log_warn(NULL, NULL, "%s", coverage);
	free(coverage);
	char close[16], cf[16], ct[16];
	snprintf(close, sizeof(close), "%02d:%02d", cfg->office_close / 60,
		 cfg->office_close % 60);
	/* no covers line: NULL years, not a span "0-0" to warn about later */
	bool covers = calendar_covers(cal, &from, &to) == 0;
	snprintf(cf, sizeof(cf), "%d", from);
	snprintf(ct, sizeof(ct), "%d", to);
	const char *params[] = { close, covers ? cf : NULL, covers ? ct : NULL };
	const char *as_of[] = { app->as_of };
	struct buf changed, fresh;
	buf_init(&changed, 16);
	buf_init(&fresh, 16);
	int rc = -1;
	/*
	 * A warehouse that never had rules has never been derived either: its
	 * rules are recorded, not changed, and there is no history to derive
	 * again (the run's own derivation comes next).
	 */
	if (pg_exec(conn, "BEGIN", 0, NULL, err) < 0 ||
	    pg_query_value(conn, "SELECT rules_applied_at IS NULL AND derived_at IS NULL"
			   " FROM dw.state", 0, NULL, &fresh, err) < 0 ||
	    pg_exec(conn, "SELECT etl.create_rule_staging()", 0, NULL, err) < 0 ||
	    copy_calendar(conn, cal, err) < 0 || copy_profiles(conn, prof, err) < 0 ||
	    pg_query_value(conn, "SELECT etl.apply_rules($1::time, $2::int, $3::int)",
			   3, params, &changed, err) < 0 ||
	    apply_lineage(conn, lin, err) < 0)
		goto out;
	if (!force && !strcmp(buf_str(&fresh), "t")) {
		log_debug(NULL, NULL, "a new warehouse: calendar, profiles and office_close recorded");
	} else if (force || !strcmp(buf_str(&changed), "t")) {
		log_info(NULL, NULL, "%s: re-deriving all history",
			 force ? "rescore" : "calendar, profiles or office_close changed");
		if (pg_exec(conn, "SELECT etl.rescore($1::timestamptz)", 1, as_of, err) < 0)
			goto out;
	}
	rc = pg_exec(conn, "COMMIT", 0, NULL, err);
out:
	if (rc < 0) {
		struct buf ignored;
		buf_init(&ignored, ERR_CAP);
		pg_exec(conn, "ROLLBACK", 0, NULL, &ignored);
		buf_release(&ignored);
	}
	buf_release(&changed);
	buf_release(&fresh);
	calendar_free(cal);
	profiles_free(prof);
	lineage_free(lin);
	return rc;
}
