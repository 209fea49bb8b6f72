/*
 * page.h - the report: one self-contained HTML page with charts, drawn
 * from the mart schema for the scope of a score_request (score.h).
 */
#ifndef ONESTOP_PAGE_H
#define ONESTOP_PAGE_H

#include "score.h"

#include <libpq-fe.h>

/*
 * Write the report of req->period (and req->profile, req->unit when set)
 * as one self-contained HTML page (inline CSS, from etl/page.css, and
 * SVG: no script, nothing fetched) to path: the scorecard with units ranked,
 * the month-by-month on-time trend (declared and legal, masked late), the
 * online level of the catalogue and the departments with the most late steps.
 * Every figure comes from the mart schema, read in one snapshot, and carries
 * data-metric (and data-profile, data-unit, data-criterion, data-month,
 * data-department as they apply) so that it can be checked.
 *
 * The page is streamed into a temporary file next to path and renamed
 * over it at the end: a failed report leaves no partial file.  -1 (with a
 * logged error) when a query fails, PAGE_CANNOT_WRITE when the file
 * cannot be written (a matter of the path, not of the warehouse).
 * req->format is ignored.
 */
#define PAGE_CANNOT_WRITE (-2)
int page_write(PGconn *conn, const struct score_request *req, const char *path);

#endif
