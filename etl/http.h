/*
 * http.h - every page of one entity from one source, as bytes to a sink.
 *
 * http_fetch_entity() walks the pages of {url}/{entity} by X-Next-Cursor,
 * retries what source-api.md calls transient (resets, short bodies, gzip
 * that ends early, stalls, 408/429/5xx) with doubling waits, gunzips the
 * body itself (Content-Encoding or the 1f 8b magic) and hands on the
 * decompressed bytes in chunks of at most 64 KiB.  It never holds a page:
 * memory is a few buffers whatever the page size.  It knows nothing of CSV.
 *
 * One call uses one curl handle (connections are reused across pages) and
 * no global state, so threads may fetch different sources at once after
 * http_global_init().  The token is sent, never logged nor put in a message.
 */
#ifndef ONESTOP_HTTP_H
#define ONESTOP_HTTP_H

#include "buf.h"

#include <stddef.h>
#include <time.h>

/*
 * Where a bearer token comes from when it can change during a fetch (an
 * OAuth2 client, oauth.h).  token() returns the token to send, or NULL
 * with one line in err (appended) when none can be had; with renew = 1
 * the last one was refused (HTTP 401) and a new one is wanted.  The
 * string stays the provider's, valid until its next call.
 */
struct http_auth {
	void *ctx;
	const char *(*token)(void *ctx, int renew, struct buf *err);
	/* other secrets of the provider's to keep out of messages, or NULL */
	const char *(*secret)(void *ctx);
};

/* Borrowed by http_fetch_entity(), never kept. */
struct http_source {
	const char *name;    /* for logs and messages */
	const char *url;     /* base URL; a trailing slash is fine */
	const char *token;   /* NULL or "": no Authorization header */
	/*
	 * NULL, or the token's provider instead of token: asked before every
	 * attempt, and once more for a page that gets HTTP 401 (a second 401
	 * for that page fails the fetch).
	 */
	const struct http_auth *auth;
	const char *ca_file; /* NULL or "": the system's CA store */
	long page_size;	     /* limit=; <= 0 leaves it to the server */
	long timeout;	     /* seconds without a byte = stall; connect cap */
	int retries;	     /* extra attempts per page for transient faults */
	double retry_delay;  /* first backoff wait, seconds (doubles, <= 60) */
	/*
	 * CLOCK_MONOTONIC seconds after which the fetch gives up, even in the
	 * middle of a transfer or instead of a retry; 0 = none.
	 */
	double deadline;
	const char *user_agent; /* NULL: "onestop-etl" */
};

/* Window bounds are yyyyMMddHHmmss local time, or NULL for no bound. */
struct http_query {
	const char *entity;
	const char *updated_since; /* inclusive */
	const char *updated_until; /* exclusive */
};

enum sink_status {
	SINK_OK = 0,
	SINK_RETRY = 1, /* the page is malformed: fetch it once more */
	SINK_FATAL = 2, /* stop the entity */
};

/*
 * The consumer of the pages.  For every attempt at a page, begin() is called
 * first and end() exactly once last; data() only in between, and only for
 * a 200 response.
 */
struct page_sink {
	void *ctx;
	/*
	 * A new attempt at page page_no (0-based); attempt counts from 0 for
	 * each page.  Return SINK_OK, or SINK_FATAL to stop.
	 */
	int (*begin)(void *ctx, long page_no, int attempt);
	/*
	 * Decompressed body bytes of the current attempt.  Return SINK_OK;
	 * SINK_RETRY to give up this attempt as malformed (e.g. a field over
	 * the cap) and fetch the page once more; SINK_FATAL to stop.
	 */
	int (*data)(void *ctx, const char *bytes, size_t len);
	/*
	 * ok = 1: the body arrived complete (and its gzip ended properly).
	 * Return SINK_OK to accept the page, SINK_RETRY if it is malformed,
	 * SINK_FATAL to stop.  ok = 0: the attempt failed or was given up;
	 * discard everything taken from it; the return value is ignored.
	 */
	int (*end)(void *ctx, int ok);
};

struct http_result {
	long long total_count; /* X-Total-Count of the first page, or -1 */
	time_t source_clock;   /* Date of the first page's response, or 0 */
	long pages;	       /* pages accepted */
	long attempts;	       /* requests made, failed ones included */
	long retries;	       /* attempts beyond the first of each page */
	long long bytes_wire;  /* body bytes received, as sent (all attempts) */
	long long bytes_body;  /* decompressed bytes of accepted pages */
};

/*
 * Fetch every page of q->entity, following X-Next-Cursor until a page
 * comes without one.  Returns 0, or -1 with one line in err (appended),
 * e.g. "source 'x': GET https://h/api/hoso: HTTP 401: the server refused
 * the token".  res is filled either way.  A SINK_FATAL from the sink gives
 * -1 with "stopped by the consumer" in err: the consumer knows why.
 */
int http_fetch_entity(const struct http_source *src, const struct http_query *q,
		      const struct page_sink *sink, struct http_result *res,
		      struct buf *err);

/*
 * One POST of form (application/x-www-form-urlencoded) to url, for a token
 * endpoint; authorization is a whole header line ("Authorization: Basic
 * ...") or NULL.  What a page would retry (connect errors, timeouts, 408,
 * 429, 5xx) is retried with src's retries, backoff and deadline; src->url
 * and src->page_size are not used, and a transfer takes at most
 * src->timeout seconds.  Returns 0 with the final status and the first
 * body->cap bytes of its body, or -1 with one line in err (appended) when
 * no answer came.  Neither form nor authorization ever reaches a message.
 */
int http_post_form(const struct http_source *src, const char *url,
		   const char *form, const char *authorization, long *status,
		   struct buf *body, struct buf *err);

/* url as messages show it: no user:password@, no query, no fragment. */
char *http_shown_url(const char *url);

/* Once per process, before any thread fetches / after all have finished. */
int http_global_init(void);
void http_global_cleanup(void);

#endif
