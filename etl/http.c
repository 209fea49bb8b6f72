/*
 * http.c - pages over HTTP: cursor, retries, gzip, all streaming.
 *
 * One fetch walks the pages; one attempt is one GET.  An attempt ends in
 * one of the outcomes below, and only fetch_page() decides what to do
 * next, so the retry policy lives in one place.
 *
 * We gunzip ourselves instead of CURLOPT_ACCEPT_ENCODING: some servers send
 * gzip without saying so (application/gzip, no Content-Encoding), and a
 * gzip stream that stops early must fail the attempt, which curl's decoder
 * lets pass when the connection ends cleanly.
 */
#include "http.h"

#include "log.h"
#include "utf8.h"
#include "util.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <zlib.h>

#define CHUNK_BYTES (64 * 1024)
#define ERROR_BODY_SHOWN 200	     /* bytes of an error body in a message */
#define ERROR_BODY_DRAIN (64 * 1024) /* read this much of it, then hang up */
#define CURSOR_MAX 8192
#define URL_MAX (64 * 1024)
#define REASON_MAX 512
#define RETRY_AFTER_MAX 300.0
#define BACKOFF_MAX 60.0
#define DEFAULT_TIMEOUT 60L

enum outcome {
	ATTEMPT_OK,	   /* the sink accepted the page */
	ATTEMPT_TRANSIENT, /* retry after a wait, while the budget lasts */
	ATTEMPT_MALFORMED, /* the sink refused the page: fetch it once more */
	ATTEMPT_FATAL,	   /* no retry can help */
	ATTEMPT_STOPPED,   /* the sink said SINK_FATAL */
	ATTEMPT_REFUSED,   /* HTTP 401 with a token provider: renew, once */
};

struct fetch {
	const struct http_source *src;
	const struct http_query *q;
	const struct page_sink *sink;
	struct http_result *res;
	CURL *curl;
	struct curl_slist *headers;
	char *entity_url; /* {url}/{entity}, what requests go to */
	char *base_query; /* a query string in the configured url, or "" */
	char *
	    shown_url; /* the same without credentials or query, for messages */
	long timeout;  /* seconds without a byte that make a stall */
	char *sent_token;   /* the provider's token the headers carry */
	unsigned char *out; /* inflate output, CHUNK_BYTES */
	uint64_t rng;	    /* backoff jitter */
	char curl_err[CURL_ERROR_SIZE];
};

/* What one response said and how far its body got. */
struct attempt {
	struct fetch *f;
	long status;
	int encoding_gzip;     /* Content-Encoding: gzip, x-gzip or deflate */
	char bad_encoding[32]; /* a Content-Encoding we did not ask for */
	struct buf cursor;     /* X-Next-Cursor */
	int has_cursor;
	int cursor_too_long;
	long long total_count;
	time_t date;	    /* the Date header: the server's clock; 0 if none */
	double retry_after; /* seconds, -1 when absent */
	struct buf error_body;
	size_t error_body_read;

	/* body decoding */
	int decided; /* plain or gzip is known */
	int gzip;
	int have_first;
	unsigned char first; /* the first body byte, until the second shows */
	z_stream z;
	int z_ready;
	int z_end; /* the last gzip member ended */
	char decode_err[96];
	int sink_verdict; /* non-SINK_OK from data() */
	long long body_bytes;

	/* stall detection */
	double last_byte; /* monotonic seconds */
	curl_off_t last_dlnow;
	int stalled;
	int past_deadline;
};

int http_global_init(void)
{
	CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);

	if (rc != CURLE_OK)
		return error("cannot initialise libcurl: %s",
			     curl_easy_strerror(rc));
	return 0;
}

void http_global_cleanup(void)
{
	curl_global_cleanup();
}

/* ---- messages ---------------------------------------------------------- */

/* Never let the token into a message, even if a server echoes it back. */
static void redact(struct buf *b, const char *token)
{
	size_t tlen = token ? strlen(token) : 0;
	char *hit;

	if (tlen < 4 || !b->data)
		return;
	while ((hit = memmem(b->data, b->len, token, tlen)) != NULL)
		memset(hit, '*', tlen);
}

/* Every secret this fetch knows of, out of b. */
static void redact_fetch(const struct fetch *f, struct buf *b)
{
	const struct http_auth *auth = f->src->auth;

	redact(b, f->src->token);
	redact(b, f->sent_token);
	if (auth && auth->secret)
		redact(b, auth->secret(auth->ctx));
}

/* Printable one-line excerpt of a server's error body. */
static void add_excerpt(struct buf *b, const struct buf *body)
{
	size_t n = body->len < ERROR_BODY_SHOWN ? body->len : ERROR_BODY_SHOWN;
	size_t start = b->len;

	/* do not cut a UTF-8 sequence in two */
	while (n < body->len && n > 0 &&
	       ((unsigned char)body->data[n] & 0xC0) == 0x80)
		n--;
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)body->data[i];
		size_t len = 1;
		int rc = 0;

		if (c <= 0x20 || c == 0x7f) {
			/* one line: control bytes become spaces, runs of them one */
			if (b->len > start && b->data[b->len - 1] != ' ')
				rc = buf_addc(b, ' ');
		} else {
			/*
			 * Bytes that are not UTF-8 (a windows-1258 page) as \xNN,
			 * so that the message can still be stored and logged.
			 */
			len = utf8_char_len((const unsigned char *)body->data + i, n - i);
			if (!len)
				len = 1;
			rc = utf8_escape(b, body->data + i, len, false);
		}
		if (rc < 0)
			return;
		i += len;
	}
	while (b->len > start && b->data[b->len - 1] == ' ')
		b->data[--b->len] = '\0';
	if (n < body->len)
		buf_adds(b, "...");
}

/* "https://user:pw@h/api/?k=v" -> "https://h/api" */
char *http_shown_url(const char *base)
{
	const char *scheme_end = strstr(base, "://");
	const char *host = scheme_end ? scheme_end + 3 : base;
	size_t host_len = strcspn(host, "/?#");
	const char *at = memchr(host, '@', host_len);
	size_t path_len;
	const char *rest;

	if (at)
		host = at + 1;
	rest = host;
	path_len = strcspn(rest, "?#");
	while (path_len > 0 && rest[path_len - 1] == '/')
		path_len--;
	return xasprintf("%.*s%.*s",
			 (int)(scheme_end ? scheme_end + 3 - base : 0), base,
			 (int)path_len, rest);
}

static char *url_for_messages(const char *base, const char *entity)
{
	char *shown = http_shown_url(base);
	char *url = xasprintf("%s/%s", shown, entity);

	free(shown);
	return url;
}

/* "https://h/api/?k=v#f" -> "https://h/api/" + entity and "k=v" */
static void url_for_requests(const char *base, const char *entity, char **url,
			     char **query)
{
	size_t n = strcspn(base, "?#");
	const char *q = base[n] == '?' ? base + n + 1 : "";

	*query = xstrndup(q, strcspn(q, "#"));
	while (n > 0 && base[n - 1] == '/')
		n--;
	*url = xasprintf("%.*s/%s", (int)n, base, entity);
}

static int deadline_passed(const struct http_source *src, double now)
{
	return src->deadline > 0 && now >= src->deadline;
}

/*
 * curl's low-speed check averages over several seconds, so a burst of
 * bytes followed by silence goes unnoticed for a while; this notices a
 * silence of `timeout` seconds within about a second of it.
 */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	struct attempt *a = arg;
	double now = monotonic_seconds();

	(void)dltotal;
	(void)ultotal;
	(void)ulnow;
	if (dlnow != a->last_dlnow) {
		a->last_dlnow = dlnow;
		a->last_byte = now;
	}
	if (now - a->last_byte >= (double)a->f->timeout) {
		a->stalled = 1;
		return 1;
	}
	if (deadline_passed(a->f->src, now)) {
		a->past_deadline = 1;
		return 1;
	}
	return 0;
}

/* ---- response headers -------------------------------------------------- */

static void reset_headers(struct attempt *a)
{
	a->status = 0;
	a->encoding_gzip = 0;
	a->bad_encoding[0] = '\0';
	buf_reset(&a->cursor);
	a->has_cursor = 0;
	a->cursor_too_long = 0;
	a->total_count = -1;
	a->date = 0;
	a->retry_after = -1;
}

static double parse_retry_after(const char *v)
{
	char *end;
	double secs;

	if (*v >= '0' && *v <= '9') {
		errno = 0;
		secs = (double)strtoul(v, &end, 10);
		if (errno || *end)
			return -1;
	} else {
		time_t when = curl_getdate(v, NULL);
		if (when < 0)
			return -1;
		secs = difftime(when, time(NULL));
	}
	if (secs < 0)
		secs = 0;
	return secs > RETRY_AFTER_MAX ? RETRY_AFTER_MAX : secs;
}

static long long parse_count(const char *v)
{
	char *end;
	long long n;

	if (*v < '0' || *v > '9')
		return -1;
	errno = 0;
	n = strtoll(v, &end, 10);
	return errno || *end ? -1 : n;
}

static void take_header(struct attempt *a, const char *name, const char *v)
{
	if (!strcasecmp(name, "X-Next-Cursor")) {
		buf_reset(&a->cursor);
		a->has_cursor = *v != '\0';
		if (buf_adds(&a->cursor, v) < 0)
			a->cursor_too_long = 1;
	} else if (!strcasecmp(name, "X-Total-Count")) {
		a->total_count = parse_count(v);
	} else if (!strcasecmp(name, "Date")) {
		time_t when = curl_getdate(v, NULL);
		a->date = when > 0 ? when : 0;
	} else if (!strcasecmp(name, "Retry-After")) {
		a->retry_after = parse_retry_after(v);
	} else if (!strcasecmp(name, "Content-Encoding")) {
		if (!strcasecmp(v, "gzip") || !strcasecmp(v, "x-gzip") ||
		    !strcasecmp(v, "deflate"))
			a->encoding_gzip = 1;
		else if (*v && strcasecmp(v, "identity"))
			snprintf(a->bad_encoding, sizeof(a->bad_encoding), "%s",
				 v);
	}
}

static size_t on_header(char *line, size_t size, size_t nitems, void *arg)
{
	struct attempt *a = arg;
	size_t len = size * nitems;
	char name[64], *value;
	const char *colon;
	size_t name_len;

	a->last_byte = monotonic_seconds();
	if (len >= 5 && !memcmp(line, "HTTP/", 5)) {
		/* a new response (after a 1xx, say): forget the last one's */
		const char *sp = memchr(line, ' ', len);
		reset_headers(a);
		if (sp && (size_t)(sp - line) + 4 <= len)
			a->status = strtol(sp + 1, NULL, 10);
		return len;
	}
	colon = memchr(line, ':', len);
	if (!colon)
		return len;
	name_len = (size_t)(colon - line);
	if (name_len >= sizeof(name))
		return len;
	memcpy(name, line, name_len);
	name[name_len] = '\0';
	value = xstrndup(colon + 1, len - name_len - 1);
	{
		char *v = value + strspn(value, " \t");
		size_t vlen = strlen(v);
		while (vlen > 0 && strchr(" \t\r\n", v[vlen - 1]))
			v[--vlen] = '\0';
		take_header(a, name, v);
	}
	free(value);
	return len;
}

/* ---- response body ----------------------------------------------------- */

static int to_sink(struct attempt *a, const void *bytes, size_t len)
{
	const struct page_sink *sink = a->f->sink;
	const char *p = bytes;

	while (len > 0) {
		size_t n = len < CHUNK_BYTES ? len : CHUNK_BYTES;
		int verdict = sink->data(sink->ctx, p, n);
		if (verdict != SINK_OK) {
			a->sink_verdict =
			    verdict == SINK_RETRY ? SINK_RETRY : SINK_FATAL;
			return -1;
		}
		a->body_bytes += (long long)n;
		p += n;
		len -= n;
	}
	return 0;
}

static int gunzip(struct attempt *a, const unsigned char *in, size_t len)
{
	z_stream *z = &a->z;
	unsigned char *out = a->f->out;

	z->next_in = (unsigned char *)in;
	z->avail_in = (uInt)len;
	do {
		int ret;
		size_t produced;

		if (a->z_end) {
			if (z->avail_in == 0)
				break;
			/* gzip members may follow one another (RFC 1952) */
			inflateReset(z);
			a->z_end = 0;
		}
		z->next_out = out;
		z->avail_out = CHUNK_BYTES;
		ret = inflate(z, Z_NO_FLUSH);
		if (ret == Z_STREAM_END) {
			a->z_end = 1;
		} else if (ret != Z_OK && ret != Z_BUF_ERROR) {
			snprintf(a->decode_err, sizeof(a->decode_err),
				 "corrupt gzip body: %s",
				 z->msg ? z->msg : "inflate failed");
			return -1;
		}
		produced = CHUNK_BYTES - z->avail_out;
		if (to_sink(a, out, produced) < 0)
			return -1;
		if (ret == Z_BUF_ERROR && produced == 0)
			break;
	} while (z->avail_in > 0 || z->avail_out == 0);
	return 0;
}

static int decode(struct attempt *a, const unsigned char *bytes, size_t len)
{
	if (len == 0)
		return 0;
	return a->gzip ? gunzip(a, bytes, len) : to_sink(a, bytes, len);
}

/* Plain or gzip: Content-Encoding says so, or the magic 1f 8b does. */
static int decide(struct attempt *a, int second_byte)
{
	a->decided = 1;
	a->gzip = a->encoding_gzip || (a->first == 0x1f && second_byte == 0x8b);
	if (a->gzip) {
		memset(&a->z, 0, sizeof(a->z));
		/* 15 + 32: a zlib or gzip header, found out from the data */
		if (inflateInit2(&a->z, 15 + 32) != Z_OK) {
			snprintf(a->decode_err, sizeof(a->decode_err),
				 "cannot start gunzip");
			return -1;
		}
		a->z_ready = 1;
	}
	return decode(a, &a->first, 1);
}

static int body(struct attempt *a, const unsigned char *p, size_t len)
{
	if (!a->decided && len > 0) {
		if (!a->have_first) {
			a->first = *p++;
			a->have_first = 1;
			len--;
		}
		if (len == 0)
			return 0;
		if (decide(a, *p) < 0)
			return -1;
	}
	return decode(a, p, len);
}

/* The last bytes arrived: a held first byte goes on, gzip must be over. */
static int body_end(struct attempt *a)
{
	if (!a->decided && a->have_first && decide(a, -1) < 0)
		return -1;
	if (a->gzip && !a->z_end) {
		snprintf(a->decode_err, sizeof(a->decode_err),
			 "gzip stream ends early");
		return -1;
	}
	return 0;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct attempt *a = arg;
	size_t len = size * nmemb;

	if (a->status != 200) {
		/* keep the start for the message; hang up on an endless one */
		buf_add(&a->error_body, p,
			len < a->error_body.cap - a->error_body.len
			    ? len
			    : a->error_body.cap - a->error_body.len);
		a->error_body_read += len;
		return a->error_body_read > ERROR_BODY_DRAIN ? 0 : len;
	}
	if (a->bad_encoding[0] || a->cursor_too_long)
		return 0;
	if (body(a, (const unsigned char *)p, len) < 0)
		return 0;
	/* a slow consumer is not a stalled server */
	a->last_byte = monotonic_seconds();
	return len;
}

/* ---- one attempt ------------------------------------------------------- */

static void attempt_init(struct attempt *a, struct fetch *f)
{
	memset(a, 0, sizeof(*a));
	a->f = f;
	buf_init(&a->cursor, CURSOR_MAX);
	buf_init(&a->error_body, ERROR_BODY_SHOWN + 8);
	reset_headers(a);
}

static void attempt_release(struct attempt *a)
{
	if (a->z_ready)
		inflateEnd(&a->z);
	buf_release(&a->cursor);
	buf_release(&a->error_body);
}

static int is_transient_status(long status)
{
	static const long codes[] = {408, 429, 500, 502, 503, 504};

	for (size_t i = 0; i < ARRAY_SIZE(codes); i++)
		if (status == codes[i])
			return 1;
	return 0;
}

static int is_transient_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_PARTIAL_FILE:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_BAD_CONTENT_ENCODING:
		return 1;
	default:
		return 0;
	}
}

static enum outcome status_outcome(struct attempt *a, struct buf *reason)
{
	const char *token = a->f->src->token;

	buf_addf(reason, "HTTP %ld", a->status);
	if (a->status == 401 && a->f->src->auth) {
		buf_adds(reason, ": the server refused the token");
		return ATTEMPT_REFUSED;
	}
	if (a->status == 401 || a->status == 403) {
		buf_adds(reason, token && *token
				     ? ": the server refused the token"
				     : ": no token configured and the server "
				       "wants one");
		return ATTEMPT_FATAL;
	}
	if (a->error_body.len) {
		buf_adds(reason, ": ");
		add_excerpt(reason, &a->error_body);
	}
	return is_transient_status(a->status) ? ATTEMPT_TRANSIENT
					      : ATTEMPT_FATAL;
}

/* What the finished transfer amounts to, before the sink has its say. */
static enum outcome transfer_outcome(struct attempt *a, CURLcode rc,
				     struct buf *reason)
{
	struct fetch *f = a->f;

	if (a->sink_verdict == SINK_FATAL)
		return ATTEMPT_STOPPED;
	if (a->sink_verdict == SINK_RETRY) {
		buf_adds(reason, "the page is malformed");
		return ATTEMPT_MALFORMED;
	}
	if (a->past_deadline ||
	    (rc != CURLE_OK && deadline_passed(f->src, monotonic_seconds()))) {
		buf_adds(reason, "the source's deadline passed");
		return ATTEMPT_FATAL;
	}
	if (a->status != 0 && a->status != 200)
		return status_outcome(a, reason);
	if (a->bad_encoding[0]) {
		buf_addf(reason, "unsupported Content-Encoding '%s'",
			 a->bad_encoding);
		return ATTEMPT_FATAL;
	}
	if (a->cursor_too_long) {
		buf_addf(reason, "X-Next-Cursor over %d bytes", CURSOR_MAX);
		return ATTEMPT_FATAL;
	}
	if (a->stalled) {
		buf_addf(reason, "no data for %ld s (stalled)", f->timeout);
		return ATTEMPT_TRANSIENT;
	}
	if (rc != CURLE_OK && !a->decode_err[0]) {
		buf_adds(reason,
			 f->curl_err[0] ? f->curl_err : curl_easy_strerror(rc));
		return is_transient_curl(rc) ? ATTEMPT_TRANSIENT
					     : ATTEMPT_FATAL;
	}
	if (a->decode_err[0] || body_end(a) < 0) {
		buf_adds(reason, a->decode_err);
		return ATTEMPT_TRANSIENT;
	}
	return ATTEMPT_OK;
}

static char *request_url(struct fetch *f, const char *cursor)
{
	const struct http_query *q = f->q;
	struct buf url;
	char sep = '?';
	const char *names[] = {"updated_since", "updated_until", "cursor"};
	const char *values[] = {q->updated_since, q->updated_until, cursor};

	buf_init(&url, URL_MAX);
	buf_adds(&url, f->entity_url);
	if (*f->base_query) {
		buf_addf(&url, "?%s", f->base_query);
		sep = '&';
	}
	if (f->src->page_size > 0) {
		buf_addf(&url, "%climit=%ld", sep, f->src->page_size);
		sep = '&';
	}
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		char *esc;
		if (!values[i])
			continue;
		esc = curl_easy_escape(f->curl, values[i], 0);
		buf_addf(&url, "%c%s=%s", sep, names[i], esc ? esc : "");
		curl_free(esc);
		sep = '&';
	}
	return url.data;
}

/*
 * One GET of page page_no.  On ATTEMPT_OK the cursor of the next page is
 * left in next (has_next says whether there is one).
 */
static enum outcome run_attempt(struct fetch *f, long page_no, int attempt_no,
				const char *cursor, struct buf *next,
				int *has_next, struct attempt *a,
				struct buf *reason)
{
	const struct page_sink *sink = f->sink;
	enum outcome out;
	curl_off_t wire = 0;
	char *url = NULL;
	CURLcode rc;

	if (sink->begin(sink->ctx, page_no, attempt_no) != SINK_OK) {
		out = ATTEMPT_STOPPED;
		goto failed;
	}
	url = request_url(f, cursor);
	f->curl_err[0] = '\0';
	curl_easy_setopt(f->curl, CURLOPT_URL, url);
	curl_easy_setopt(f->curl, CURLOPT_HEADERDATA, a);
	curl_easy_setopt(f->curl, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(f->curl, CURLOPT_XFERINFODATA, a);
	a->last_byte = monotonic_seconds();
	/* a backstop for the deadline check in on_progress */
	if (f->src->deadline > 0) {
		double left = f->src->deadline - a->last_byte;
		curl_easy_setopt(f->curl, CURLOPT_TIMEOUT_MS,
				 left > 0 ? (long)(left * 1000.0) + 1000 : 1L);
	}
	rc = curl_easy_perform(f->curl);
	if (curl_easy_getinfo(f->curl, CURLINFO_SIZE_DOWNLOAD_T, &wire) ==
	    CURLE_OK)
		f->res->bytes_wire += (long long)wire;
	out = transfer_outcome(a, rc, reason);
	if (out != ATTEMPT_OK)
		goto failed;
	switch (sink->end(sink->ctx, 1)) {
	case SINK_OK:
		break;
	case SINK_RETRY:
		buf_adds(reason, "the page is malformed");
		out = ATTEMPT_MALFORMED;
		goto out;
	default:
		out = ATTEMPT_STOPPED;
		goto out;
	}
	buf_reset(next);
	buf_add(next, a->cursor.data, a->cursor.len);
	*has_next = a->has_cursor;
	if (page_no == 0) {
		f->res->total_count = a->total_count;
		f->res->source_clock = a->date;
	}
	f->res->bytes_body += a->body_bytes;
	goto out;
failed:
	sink->end(sink->ctx, 0);
out:
	free(url);
	return out;
}

/* ---- pages and retries -------------------------------------------------- */

static double jitter(struct fetch *f)
{
	/* xorshift64: enough to keep sources from retrying in step */
	f->rng ^= f->rng << 13;
	f->rng ^= f->rng >> 7;
	f->rng ^= f->rng << 17;
	return 0.5 + 0.5 * (double)(f->rng >> 11) / (double)(1ULL << 53);
}

static double backoff(struct fetch *f, int failures, double retry_after)
{
	double wait = f->src->retry_delay > 0 ? f->src->retry_delay : 0;

	if (retry_after >= 0)
		return retry_after;
	for (int i = 0; i < failures && wait < BACKOFF_MAX; i++)
		wait *= 2;
	if (wait > BACKOFF_MAX)
		wait = BACKOFF_MAX;
	return wait * jitter(f);
}

static void sleep_seconds(double secs)
{
	struct timespec ts;

	if (secs <= 0)
		return;
	ts.tv_sec = (time_t)secs;
	ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

__attribute__((format(printf, 4, 5))) static int fail(struct fetch *f,
						      struct buf *err,
						      const struct buf *reason,
						      const char *fmt, ...)
{
	struct buf msg;
	va_list ap;
	char tail[160];

	va_start(ap, fmt);
	vsnprintf(tail, sizeof(tail), fmt, ap);
	va_end(ap);
	buf_init(&msg, 2048);
	buf_addf(&msg, "source '%s': GET %s: %s%s", f->src->name, f->shown_url,
		 buf_str(reason), tail);
	redact_fetch(f, &msg);
	if (buf_add(err, msg.data, msg.len) < 0 && err->cap > err->len)
		buf_add(err, msg.data, err->cap - err->len); /* cut, not lost */
	buf_release(&msg);
	return -1;
}

static int use_token(struct fetch *f, int renew, struct buf *err);

static int fetch_page(struct fetch *f, long page_no, const char *cursor,
		      struct buf *next, int *has_next, struct buf *err)
{
	int attempt_no = 0, failures = 0, malformed = 0, ret = -1;
	int renew = 0, renewed = 0;
	struct buf reason;

	buf_init(&reason, REASON_MAX);
	for (;; attempt_no++) {
		struct attempt a;
		enum outcome out;
		double wait;

		if (f->src->auth && use_token(f, renew, err) < 0)
			break;
		renew = 0;
		buf_reset(&reason);
		attempt_init(&a, f);
		out = run_attempt(f, page_no, attempt_no, cursor, next,
				  has_next, &a, &reason);
		wait = backoff(f, failures, a.retry_after);
		attempt_release(&a);
		f->res->attempts++;
		if (attempt_no > 0)
			f->res->retries++;

		if (out == ATTEMPT_OK) {
			ret = 0;
			break;
		}
		/* messages count pages from 1, as people do */
		if (out == ATTEMPT_STOPPED) {
			buf_adds(&reason, "stopped by the consumer");
			fail(f, err, &reason, " (page %ld)", page_no + 1);
			break;
		}
		/*
		 * A token may be revoked or expire early: one new token per
		 * page, and a page refused with it too fails the source (a
		 * wrong scope or a gateway that refuses this client would
		 * otherwise make a token request of every attempt).
		 */
		if (out == ATTEMPT_REFUSED && renewed) {
			fail(f, err, &reason,
			     " (page %ld), again with a token just renewed",
			     page_no + 1);
			break;
		}
		if (out == ATTEMPT_REFUSED) {
			renew = renewed = 1;
			log_warn(f->src->name, f->q->entity,
				 "page %ld: %s; renewing the token once",
				 page_no + 1, buf_str(&reason));
			continue;
		}
		if (out == ATTEMPT_FATAL) {
			if (page_no > 0)
				fail(f, err, &reason, " (page %ld)",
				     page_no + 1);
			else
				fail(f, err, &reason, "%s", "");
			break;
		}
		if (out == ATTEMPT_MALFORMED) {
			if (malformed++) {
				buf_reset(&reason);
				fail(f, err, &reason,
				     "page %ld malformed twice", page_no + 1);
				break;
			}
			log_warn(f->src->name, f->q->entity,
				 "page %ld malformed; fetching it again",
				 page_no + 1);
			continue;
		}
		if (failures >= f->src->retries) {
			fail(f, err, &reason,
			     " (page %ld, gave up after %d attempt%s)",
			     page_no + 1, attempt_no + 1,
			     attempt_no ? "s" : "");
			break;
		}
		if (deadline_passed(f->src, monotonic_seconds() + wait)) {
			fail(f, err, &reason,
			     " (page %ld; the source's deadline passes before "
			     "the next retry)",
			     page_no + 1);
			break;
		}
		failures++;
		redact_fetch(f, &reason);
		log_warn(f->src->name, f->q->entity,
			 "page %ld: %s; retry %d of %d in %.1f s", page_no + 1,
			 buf_str(&reason), failures, f->src->retries, wait);
		sleep_seconds(wait);
	}
	buf_release(&reason);
	return ret;
}

static struct curl_slist *request_headers(const char *token)
{
	struct curl_slist *h = curl_slist_append(NULL, "Accept-Encoding: gzip");

	if (h && token && *token) {
		char *auth = xasprintf("Authorization: Bearer %s", token);
		struct curl_slist *more = curl_slist_append(h, auth);
		explicit_bzero(auth, strlen(auth));
		free(auth);
		if (!more) {
			curl_slist_free_all(h);
			return NULL;
		}
		h = more;
	}
	return h;
}

/* The slist holds a copy of the token: wipe it before it is freed. */
static void free_headers(struct curl_slist *headers)
{
	for (struct curl_slist *h = headers; h; h = h->next)
		explicit_bzero(h->data, strlen(h->data));
	curl_slist_free_all(headers);
}

static void free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* The provider's token into the headers, when it is not there already. */
static int use_token(struct fetch *f, int renew, struct buf *err)
{
	const struct http_auth *auth = f->src->auth;
	const char *token = auth->token(auth->ctx, renew, err);
	struct curl_slist *h;

	if (!token)
		return -1;
	if (f->sent_token && !strcmp(f->sent_token, token))
		return 0;
	h = request_headers(token);
	if (!h) {
		buf_addf(err, "source '%s': cannot build the request headers",
			 f->src->name);
		return -1;
	}
	free_headers(f->headers);
	f->headers = h;
	curl_easy_setopt(f->curl, CURLOPT_HTTPHEADER, h);
	free_secret(f->sent_token);
	f->sent_token = xstrdup(token);
	return 0;
}

static void seed_rng(struct fetch *f)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	f->rng = ((uint64_t)now.tv_nsec << 20) ^ (uint64_t)now.tv_sec ^
		 (uint64_t)(uintptr_t)f;
	if (!f->rng)
		f->rng = 1;
}

/* What every request makes of the source: TLS always verified, no redirects. */
static void common_options(struct fetch *f, long timeout)
{
	const struct http_source *src = f->src;

	curl_easy_setopt(f->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(f->curl, CURLOPT_HTTPHEADER, f->headers);
	curl_easy_setopt(f->curl, CURLOPT_USERAGENT,
			 src->user_agent ? src->user_agent : "onestop-etl");
	curl_easy_setopt(f->curl, CURLOPT_ERRORBUFFER, f->curl_err);
	curl_easy_setopt(f->curl, CURLOPT_CONNECTTIMEOUT, timeout);
	curl_easy_setopt(f->curl, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(f->curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(f->curl, CURLOPT_SSL_VERIFYHOST, 2L);
	if (src->ca_file && *src->ca_file)
		curl_easy_setopt(f->curl, CURLOPT_CAINFO, src->ca_file);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(f->curl, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(f->curl, CURLOPT_PROTOCOLS,
			 (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
}

static int fetch_setup(struct fetch *f, struct buf *err)
{
	const struct http_source *src = f->src;
	long timeout = src->timeout > 0 ? src->timeout : DEFAULT_TIMEOUT;
	struct buf reason;

	f->timeout = timeout;
	f->curl = curl_easy_init();
	/* a provider's token goes in before each attempt (use_token) */
	f->headers = request_headers(src->auth ? NULL : src->token);
	if (!f->curl || !f->headers) {
		buf_init(&reason, 64);
		buf_adds(&reason, "cannot start a curl handle");
		fail(f, err, &reason, "%s", "");
		buf_release(&reason);
		return -1;
	}
	f->out = xmalloc(CHUNK_BYTES);
	seed_rng(f);

	common_options(f, timeout);
	curl_easy_setopt(f->curl, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(f->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(f->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(f->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(f->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	/* a backstop for the check in on_progress */
	curl_easy_setopt(f->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(f->curl, CURLOPT_LOW_SPEED_TIME, timeout);
	return 0;
}

static void fetch_release(struct fetch *f)
{
	free_headers(f->headers);
	free_secret(f->sent_token);
	if (f->curl)
		curl_easy_cleanup(f->curl);
	free(f->entity_url);
	free(f->base_query);
	free(f->shown_url);
	free(f->out);
}

int http_fetch_entity(const struct http_source *src, const struct http_query *q,
		      const struct page_sink *sink, struct http_result *res,
		      struct buf *err)
{
	struct fetch f = {.src = src, .q = q, .sink = sink, .res = res};
	struct buf cursor, next;
	int has_next = 0, ret = -1;

	memset(res, 0, sizeof(*res));
	res->total_count = -1;
	buf_init(&cursor, CURSOR_MAX);
	buf_init(&next, CURSOR_MAX);
	url_for_requests(src->url, q->entity, &f.entity_url, &f.base_query);
	f.shown_url = url_for_messages(src->url, q->entity);
	if (fetch_setup(&f, err) < 0)
		goto out;

	for (long page_no = 0;; page_no++) {
		if (fetch_page(&f, page_no, page_no ? buf_str(&cursor) : NULL,
			       &next, &has_next, err) < 0)
			goto out;
		res->pages++;
		if (!has_next)
			break;
		if (page_no > 0 && next.len == cursor.len &&
		    !memcmp(next.data, cursor.data, cursor.len)) {
			struct buf reason;
			buf_init(&reason, 64);
			buf_adds(&reason,
				 "the server sent the same cursor twice");
			fail(&f, err, &reason, " (page %ld)", page_no + 1);
			buf_release(&reason);
			goto out;
		}
		buf_reset(&cursor);
		buf_add(&cursor, next.data, next.len);
	}
	ret = 0;
out:
	fetch_release(&f);
	buf_release(&cursor);
	buf_release(&next);
	return ret;
}

/* ---- a token request ----------------------------------------------------- */

/* The answer of a POST: its start kept, an endless one hung up on. */
struct post_body {
	struct buf *body;
	int too_long;
};

static size_t on_post_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct post_body *pb = arg;
	size_t len = size * nmemb;

	if (buf_add(pb->body, p, len) < 0) {
		pb->too_long = 1;
		return 0;
	}
	return len;
}

/* One POST; 1 when it is worth another try, 0 when answered, -1 when not. */
static int post_once(struct fetch *f, long timeout, long *status,
		     struct buf *body, struct buf *reason)
{
	struct post_body pb = {.body = body};
	long limit_ms = timeout * 1000;
	CURLcode rc;

	buf_reset(body);
	f->curl_err[0] = '\0';
	if (f->src->deadline > 0) {
		double left = f->src->deadline - monotonic_seconds();
		long left_ms = left > 0 ? (long)(left * 1000.0) + 1 : 1L;
		if (left_ms < limit_ms)
			limit_ms = left_ms;
	}
	/* a token answer is small: a whole transfer slower than this stalled */
	curl_easy_setopt(f->curl, CURLOPT_TIMEOUT_MS, limit_ms);
	curl_easy_setopt(f->curl, CURLOPT_WRITEDATA, &pb);
	rc = curl_easy_perform(f->curl);
	*status = 0;
	curl_easy_getinfo(f->curl, CURLINFO_RESPONSE_CODE, status);
	if (pb.too_long) {
		buf_addf(reason, "an answer over %zu bytes", body->cap);
		return -1;
	}
	if (rc != CURLE_OK) {
		buf_adds(reason,
			 f->curl_err[0] ? f->curl_err : curl_easy_strerror(rc));
		if (deadline_passed(f->src, monotonic_seconds()))
			return -1;
		return is_transient_curl(rc) ? 1 : -1;
	}
	if (is_transient_status(*status)) {
		buf_addf(reason, "HTTP %ld", *status);
		return 1;
	}
	return 0;
}

int http_post_form(const struct http_source *src, const char *url,
		   const char *form, const char *authorization, long *status,
		   struct buf *body, struct buf *err)
{
	struct fetch f = {.src = src};
	long timeout = src->timeout > 0 ? src->timeout : DEFAULT_TIMEOUT;
	char *shown = http_shown_url(url);
	struct buf reason;
	int failures = 0, ret = -1;

	buf_init(&reason, REASON_MAX);
	f.curl = curl_easy_init();
	f.headers = curl_slist_append(NULL, "Accept: application/json");
	if (f.headers && authorization) {
		struct curl_slist *more = curl_slist_append(f.headers, authorization);
		if (!more) {
			free_headers(f.headers);
			f.headers = NULL;
		} else {
			f.headers = more;
		}
	}
	if (!f.curl || !f.headers) {
		buf_addf(err, "source '%s': POST %s: cannot start a curl handle",
			 src->name, shown);
		goto out;
	}
	seed_rng(&f);
	common_options(&f, timeout);
	curl_easy_setopt(f.curl, CURLOPT_URL, url);
	curl_easy_setopt(f.curl, CURLOPT_POSTFIELDS, form);
	curl_easy_setopt(f.curl, CURLOPT_POSTFIELDSIZE, (long)strlen(form));
	curl_easy_setopt(f.curl, CURLOPT_WRITEFUNCTION, on_post_body);
	for (;;) {
		int verdict;
		double wait;

		buf_reset(&reason);
		verdict = post_once(&f, timeout, status, body, &reason);
		if (verdict == 0) {
			ret = 0;
			break;
		}
		redact_fetch(&f, &reason);
		if (verdict < 0) {
			buf_addf(err, "source '%s': POST %s: %s", src->name,
				 shown, buf_str(&reason));
			break;
		}
		if (failures >= src->retries) {
			buf_addf(err,
				 "source '%s': POST %s: %s (gave up after %d "
				 "attempt%s)",
				 src->name, shown, buf_str(&reason), failures + 1,
				 failures ? "s" : "");
			break;
		}
		wait = backoff(&f, failures, -1);
		if (deadline_passed(src, monotonic_seconds() + wait)) {
			buf_addf(err,
				 "source '%s': POST %s: %s (the source's deadline "
				 "passes before the next retry)",
				 src->name, shown, buf_str(&reason));
			break;
		}
		failures++;
		log_warn(src->name, NULL,
			 "token endpoint %s: %s; retry %d of %d in %.1f s",
			 shown, buf_str(&reason), failures, src->retries, wait);
		sleep_seconds(wait);
	}
out:
	free_headers(f.headers);
	if (f.curl)
		curl_easy_cleanup(f.curl);
	free(shown);
	buf_release(&reason);
	return ret;
}
