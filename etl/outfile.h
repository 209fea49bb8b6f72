/*
 * outfile.h - a file written whole or not at all: the report's page and
 * form 06's table or CSV are written to a temporary beside the target and
 * renamed over it once flushed and synced, so that a reader (a browser, a
 * clerk's spreadsheet, the web server publishing it) never sees half of
 * one, and a failure leaves the old file as it was.
 */
#ifndef ONESTOP_OUTFILE_H
#define ONESTOP_OUTFILE_H

#include <stdbool.h>
#include <stdio.h>

#include "buf.h"

/* The temporary for path (its name in *tmp, to free), with the mode a
 * new file gets; NULL with the reason in err. */
FILE *outfile_open(const char *path, char **tmp, struct buf *err);

/* Closes f; if ok, and everything was written, renames tmp over path.
 * Returns 0, or -1 with the reason in err (unless ok was false); the
 * temporary is removed whenever path was not replaced. */
int outfile_close(FILE *f, const char *tmp, const char *path, bool ok,
		  struct buf *err);

#endif
