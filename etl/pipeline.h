/*
 * pipeline.h - one source run, end to end: extract each entity (over HTTP
 * or from a file), stream its rows through csvstream and record into
 * staging with COPY, then merge, derive, move the watermarks and close the
 * run's audit row (audit.h), all in one transaction per source run.
 *
 * Data flows one way: http → csvstream → record → pgload.  This module is
 * the only one that knows all four; it tells audit when a run begins,
 * succeeds or fails.
 */
#ifndef ONESTOP_PIPELINE_H
#define ONESTOP_PIPELINE_H

#include <pthread.h>
#include <stdbool.h>

#include "config.h"
#include "exports.h"
#include "pgload.h"
#include "record.h"

/* What one command invocation shares among its source runs. */
struct app {
	struct config *cfg;
	const char *conninfo;
	long long batch_id; /* one per invocation: the cross-source tie rule */
	char as_of[64];     /* the invocation's start, as PostgreSQL text */
	/*
	 * Sources extract in parallel but commit one at a time: merges of
	 * overlapping keys would otherwise wait on each other's row locks,
	 * and the marts are derived from what the previous commit left.
	 */
	pthread_mutex_t commit_lock;
	int lock_pid; /* the backend holding the writers' lock; 0: not checked */
	/*
	 * How many source runs this batch may commit (0: not known).  With one,
	 * the merge need not rewrite a row equal to its stored version: no
	 * later source of the batch can tie with it.
	 */
	size_t batch_sources;
};

enum run_mode { MODE_NIGHTLY, MODE_BACKFILL, MODE_FULL, MODE_FILE };

struct run_request {
	const char *command;  /* "run", "rerun", "load-file" */
	enum run_mode mode;
	const char *since;    /* yyyyMMddHHmmss local, or NULL */
	const char *until;    /* yyyyMMddHHmmss local, or NULL */
	long long rerun_of;   /* 0, or the failed run this one repeats */
	/* MODE_FILE: the exports, in load order (exports.h), all in one run */
	const struct export_file *files;
	size_t nfiles;
	const char *file;     /* MODE_FILE: their names, for etl.run */
};

const char *run_mode_name(enum run_mode mode);

/*
 * Run one source (rank = its place in the configuration, 0 first).
 * Returns 0 when the source's run committed, -1 when it failed; either way
 * its etl.run row says so.  *run_id receives the run's id when one was
 * created.
 */
int pipeline_run_source(struct app *app, const struct source_cfg *src,
			int rank, const struct run_request *req,
			long long *run_id);

/*
 * Load the calendar and profiles files into the warehouse; when either (or
 * office_close) changed since the last time, re-derive everything.  With
 * force, re-derive everything regardless (the rescore command).
 */
int pipeline_apply_rules(struct app *app, PGconn *conn, bool force,
			 struct buf *err);

#endif
