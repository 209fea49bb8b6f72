/*
 * test_http.c - http_fetch_entity() against tests/unit/http_fixture.py,
 * a Python stdlib server started here and stopped at the end.  Each case
 * names a fixture scenario and a fresh tag, so "fail first, then work"
 * holds per case.
 */
#include "buf.h"
#include "http.h"
#include "log.h"
#include "testhelp.h"
#include "util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t fixture_pid;
static int fixture_port;
static int tls_port; /* 0 when openssl could not make a certificate */
static char fixture_dir[] = "/tmp/test_http.XXXXXX";
static int tag_counter;

static void stop_fixture(void)
{
	char path[128];

	if (fixture_pid > 0) {
		kill(fixture_pid, SIGTERM);
		waitpid(fixture_pid, NULL, 0);
		fixture_pid = 0;
	}
	for (const char *const *f =
		 (const char *const[]){"port", "cert.pem", "key.pem", NULL};
	     *f; f++) {
		snprintf(path, sizeof(path), "%s/%s", fixture_dir, *f);
		unlink(path);
	}
	rmdir(fixture_dir);
}

static const char *fixture_script(void)
{
	static char path[512];
	const char *env = getenv("HTTP_FIXTURE");
	const char *slash = strrchr(__FILE__, '/');

	if (env)
		return env;
	snprintf(path, sizeof(path), "%.*shttp_fixture.py",
		 slash ? (int)(slash - __FILE__ + 1) : 0, __FILE__);
	return path;
}

/* A self-signed certificate for 127.0.0.1, for the TLS cases. */
static int make_certificate(char *cert, char *key, size_t size)
{
	char cmd[1024];

	snprintf(cert, size, "%s/cert.pem", fixture_dir);
	snprintf(key, size, "%s/key.pem", fixture_dir);
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt "
		 "ec_paramgen_curve:prime256v1 -nodes -days 2 "
		 "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
		 "-keyout %s -out %s >/dev/null 2>&1",
		 key, cert);
	return system(cmd) == 0 ? 0 : -1;
}

static int start_fixture(void)
{
	char path[128], cert[128], key[128];
	const char *script = fixture_script();
	int have_cert;

	if (!mkdtemp(fixture_dir))
		return -1;
	atexit(stop_fixture);
	have_cert = make_certificate(cert, key, sizeof(cert)) == 0;
	snprintf(path, sizeof(path), "%s/port", fixture_dir);
	fixture_pid = fork();
	if (fixture_pid < 0)
		return -1;
	if (fixture_pid == 0) {
		/* gone with us, even if we crash; stdout is for the report */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (!freopen("/dev/null", "w", stdout))
			_exit(127);
		execlp("python3", "python3", script, path,
		       have_cert ? cert : (char *)NULL, key, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		FILE *fp = fopen(path, "r");
		if (fp) {
			int ok =
			    fscanf(fp, "%d %d", &fixture_port, &tls_port) >= 1;
			fclose(fp);
			if (ok)
				return 0;
		}
		if (waitpid(fixture_pid, NULL, WNOHANG) == fixture_pid) {
			fixture_pid = 0;
			return -1;
		}
		usleep(20000);
	}
	return -1;
}

/* ---- a sink that checks the protocol and keeps accepted pages ---------- */

struct tsink {
	struct buf attempt;  /* bytes of the current attempt */
	struct buf accepted; /* bytes of every accepted page */
	int begins, ends_ok, ends_failed;
	int open;	     /* between begin and end */
	int protocol_errors; /* data or end outside begin/end, nested begin */
	int end_retries;     /* answer SINK_RETRY to this many end(1) */
	int data_retries;    /* answer SINK_RETRY from this many data() */
	int end_fatal;	     /* answer SINK_FATAL to end(1) */
	size_t max_chunk;
	long last_page;
	int last_attempt;
};

static int ts_begin(void *ctx, long page_no, int attempt)
{
	struct tsink *ts = ctx;

	if (ts->open)
		ts->protocol_errors++;
	ts->open = 1;
	ts->begins++;
	ts->last_page = page_no;
	ts->last_attempt = attempt;
	buf_reset(&ts->attempt);
	return SINK_OK;
}

static int ts_data(void *ctx, const char *bytes, size_t len)
{
	struct tsink *ts = ctx;

	if (!ts->open || len == 0)
		ts->protocol_errors++;
	if (len > ts->max_chunk)
		ts->max_chunk = len;
	buf_add(&ts->attempt, bytes, len);
	if (ts->data_retries > 0) {
		ts->data_retries--;
		return SINK_RETRY;
	}
	return SINK_OK;
}

static int ts_end(void *ctx, int ok)
{
	struct tsink *ts = ctx;

	if (!ts->open)
		ts->protocol_errors++;
	ts->open = 0;
	if (!ok) {
		ts->ends_failed++;
		return SINK_OK;
	}
	ts->ends_ok++;
	if (ts->end_fatal)
		return SINK_FATAL;
	if (ts->end_retries > 0) {
		ts->end_retries--;
		return SINK_RETRY;
	}
	buf_add(&ts->accepted, ts->attempt.data, ts->attempt.len);
	return SINK_OK;
}

struct run {
	struct tsink ts;
	struct http_result res;
	struct buf err;
	int rc;
	double seconds;
};

static struct http_source source(const char *scenario, char *url_out,
				 size_t url_size)
{
	struct http_source src = {
	    .name = "fixture",
	    .url = url_out,
	    .token = NULL,
	    .page_size = 0,
	    .timeout = 5,
	    .retries = 2,
	    .retry_delay = 0.01,
	    .user_agent = "onestop-etl/test",
	};

	snprintf(url_out, url_size, "http://127.0.0.1:%d/%s/t%d", fixture_port,
		 scenario, ++tag_counter);
	return src;
}

static void run_init(struct run *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->ts.attempt, 1 << 24);
	buf_init(&r->ts.accepted, 1 << 24);
	buf_init(&r->err, 4096);
}

static void run_release(struct run *r)
{
	buf_release(&r->ts.attempt);
	buf_release(&r->ts.accepted);
	buf_release(&r->err);
}

static void fetch(struct run *r, const struct http_source *src,
		  const struct http_query *q)
{
	struct page_sink sink = {&r->ts, ts_begin, ts_data, ts_end};
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	r->rc = http_fetch_entity(src, q, &sink, &r->res, &r->err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	r->seconds = (double)(t1.tv_sec - t0.tv_sec) +
		     (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	/* whatever happened, every begin got its end */
	CHECK_INT(r->ts.protocol_errors, 0);
	CHECK_INT(r->ts.open, 0);
	CHECK_INT(r->ts.begins, r->ts.ends_ok + r->ts.ends_failed);
	CHECK_INT(r->res.attempts, r->ts.begins);
	if (r->rc && getenv("TEST_HTTP_VERBOSE"))
		fprintf(stderr, "  -> %s\n", buf_str(&r->err));
	if (r->rc)
		CHECK(r->err.len > 0 && !strchr(buf_str(&r->err), '\n'));
	else
		CHECK_INT(r->err.len, 0);
}

/* Run a scenario; the statements after it may change src_, q_ or r first. */
#define RUN(r, scenario, ...)                                                  \
	do {                                                                   \
		char url_[256];                                                \
		struct http_source src_ =                                      \
		    source(scenario, url_, sizeof(url_));                      \
		struct http_query q_ = {.entity = "hoso"};                     \
		__VA_ARGS__;                                                   \
		fetch(r, &src_, &q_);                                          \
	} while (0)

static const char plain_hoso[] = "id,val\r\n1,hoso\r\n";

static void check_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fprintf(stderr, "  '%s' lacks '%s'\n", hay, needle);
	CHECK(strstr(hay, needle) != NULL);
}

/* ---- cases ------------------------------------------------------------- */

static void test_plain(void)
{
	struct run r;

	run_init(&r);
	RUN(&r, "plain", (void)0);
	CHECK_INT(r.rc, 0);
	CHECK_STR(buf_str(&r.ts.accepted), plain_hoso);
	CHECK_INT(r.res.pages, 1);
	CHECK_INT(r.res.attempts, 1);
	CHECK_INT(r.res.retries, 0);
	CHECK_INT(r.res.total_count, -1);
	CHECK_INT(r.res.bytes_body, sizeof(plain_hoso) - 1);
	CHECK_INT(r.res.bytes_wire, sizeof(plain_hoso) - 1);
	run_release(&r);

	run_init(&r);
	RUN(&r, "empty", (void)0);
	CHECK_INT(r.rc, 0);
	CHECK_INT(r.ts.accepted.len, 0);
	CHECK_INT(r.ts.ends_ok, 1);
	run_release(&r);

	/* one byte that could start the gzip magic, and does not */
	run_init(&r);
	RUN(&r, "onebyte", (void)0);
	CHECK_INT(r.rc, 0);
	CHECK_STR(buf_str(&r.ts.accepted), "\x1f");
	run_release(&r);
}

static void test_request_headers(void)
{
	struct run r;

	run_init(&r);
	RUN(&r, "echo", src_.token = "tok-123"; src_.page_size = 2;
	    q_.updated_since = "20240101000000";
	    q_.updated_until = "20240102000000");
	CHECK_INT(r.rc, 0);
	check_contains(buf_str(&r.ts.accepted), "auth=Bearer tok-123\n");
	check_contains(buf_str(&r.ts.accepted), "ua=onestop-etl/test\n");
	check_contains(buf_str(&r.ts.accepted), "ae=gzip\n");
	check_contains(buf_str(&r.ts.accepted), "/hoso\n");
	check_contains(buf_str(&r.ts.accepted),
		       "query=limit=2&updated_since=20240101000000"
		       "&updated_until=20240102000000\n");
	run_release(&r);

	/* no token, no header; a trailing slash on the base URL is fine */
	run_init(&r);
	RUN(&r, "echo", strcat(url_, "/"); q_.entity = "donvi");
	CHECK_INT(r.rc, 0);
	check_contains(buf_str(&r.ts.accepted), "auth=<none>\n");
	check_contains(buf_str(&r.ts.accepted), "/donvi\nquery");
	check_contains(buf_str(&r.ts.accepted), "query=\n");
	run_release(&r);
}

static void test_paging(void)
{
	struct run r;

	run_init(&r);
	RUN(&r, "pages", src_.page_size = 2);
	CHECK_INT(r.rc, 0);
	/* the fixture only knows the cursor if it came back URL-encoded */
	CHECK_STR(buf_str(&r.ts.accepted),
		  "page0 limit=2\n"
		  "page1 limit=2&cursor=c%201%2F%26x%3D%2B%25\n"
		  "page2\n");
	CHECK_INT(r.res.pages, 3);
	CHECK_INT(r.res.attempts, 3);
	CHECK_INT(r.res.total_count, 42); /* the first page's, not the last */
	CHECK_INT(r.ts.last_page, 2);
	run_release(&r);

	run_init(&r);
	RUN(&r, "samecursor", (void)0);
	CHECK_INT(r.rc, -1);
	check_contains(buf_str(&r.err), "same cursor twice (page 2)");
	CHECK_INT(r.res.pages, 2);
	run_release(&r);
}

static void test_gzip(void)
{
	static const char *const scenarios[] = {"gzipce", "gzipmagic"};
	struct run r;

	for (size_t i = 0; i < ARRAY_SIZE(scenarios); i++) {
		run_init(&r);
		RUN(&r, scenarios[i], (void)0);
		CHECK_INT(r.rc, 0);
		CHECK_STR(buf_str(&r.ts.accepted), plain_hoso);
		CHECK(r.res.bytes_wire > 18);
		CHECK_INT(r.res.bytes_body, sizeof(plain_hoso) - 1);
		run_release(&r);
	}

	run_init(&r);
	RUN(&r, "multigz", (void)0);
	CHECK_INT(r.rc, 0);
	CHECK_STR(buf_str(&r.ts.accepted), "a,b\n1,2\n");
	run_release(&r);

	/* says gzip, is not: the attempt fails (then the retries do) */
	run_init(&r);
	RUN(&r, "notgzip", src_.retries = 0);
	CHECK_INT(r.rc, -1);
	check_contains(buf_str(&r.err), "corrupt gzip body");
	run_release(&r);

	run_init(&r);
	RUN(&r, "brotli", src_.retries = 3);
	CHECK_INT(r.rc, -1);
	CHECK_INT(r.res.attempts, 1);
	check_contains(buf_str(&r.err), "unsupported Content-Encoding 'br'");
	run_release(&r);
}

static void build_big(struct buf *want)
{
	char line[64];

	memset(line, 'x', 50);
	line[50] = '\0';
	for (int i = 0; i < 40000; i++)
		buf_addf(want, "%d,%s\n", i, line);
}

static void test_big_streamed(void)
{
	struct buf want;
	struct run r;

	buf_init(&want, 1 << 24);
	build_big(&want);
	run_init(&r);
	RUN(&r, "big", (void)0);
	CHECK_INT(r.rc, 0);
	CHECK_INT(r.ts.accepted.len, want.len);
	CHECK(r.ts.accepted.len == want.len &&
	      !memcmp(r.ts.accepted.data, want.data, want.len));
	CHECK(r.ts.max_chunk <= 64 * 1024);
	CHECK_INT(r.res.bytes_body, want.len);
	CHECK(r.res.bytes_wire < r.res.bytes_body / 10);
	run_release(&r);
	buf_release(&want);
}

/* The first attempt fails in the given way; the second is accepted. */
static void check_recovers(const char *scenario, const char *want_body,
			   long timeout, double max_seconds)
{
	struct run r;

	run_init(&r);
	RUN(&r, scenario, src_.timeout = timeout);
	if (r.rc)
		fprintf(stderr, "  %s: %s\n", scenario, buf_str(&r.err));
	CHECK_INT(r.rc, 0);
	CHECK_STR(buf_str(&r.ts.accepted), want_body);
	CHECK_INT(r.res.pages, 1);
	CHECK_INT(r.res.attempts, 2);
	CHECK_INT(r.res.retries, 1);
	CHECK_INT(r.ts.ends_failed, 1);
	CHECK_INT(r.ts.ends_ok, 1);
	CHECK_INT(r.ts.last_attempt, 1);
	CHECK(r.seconds < max_seconds);
	run_release(&r);
}

static void test_transient_recovery(void)
{
	struct buf big;

	check_recovers("503", plain_hoso, 5, 2);
	check_recovers("429", plain_hoso, 5, 3);
	check_recovers("reset", plain_hoso, 5, 2);
	check_recovers("short", plain_hoso, 5, 2);
	/* the fixture stalls for 5 s; a 1 s timeout must not wait for it */
	check_recovers("stall", plain_hoso, 1, 3.5);
	check_recovers("stallhead", plain_hoso, 1, 3.5);
	buf_init(&big, 1 << 24);
	build_big(&big);
	check_recovers("truncgz", buf_str(&big), 5, 3);
	buf_release(&big);
}

static void test_auth(void)
{
	struct run r;

	run_init(&r);
	RUN(&r, "401", src_.token = "SECRET-TOKEN-123"; src_.retries = 5);
	CHECK_INT(r.rc, -1);
	CHECK_INT(r.res.attempts, 1);
	CHECK_INT(r.ts.ends_failed, 1);
	check_contains(buf_str(&r.err),
		       "HTTP 401: the server refused the token");
	check_contains(buf_str(&r.err),
		       "source 'fixture': GET http://127.0.0.1:");
	CHECK(strstr(buf_str(&r.err), "SECRET") == NULL);
	run_release(&r);

	/* a server that echoes the token back: it stays out of the message */
	run_init(&r);
	RUN(&r, "400echo", src_.token = "SECRET-TOKEN-123");
	CHECK_INT(r.rc, -1);
	check_contains(buf_str(&r.err), "HTTP 400: bad token Bearer ****");
	CHECK(strstr(buf_str(&r.err), "SECRET") == NULL);
	run_release(&r);

	run_init(&r);
	RUN(&r, "403", src_.retries = 5);
	CHECK_INT(r.rc, -1);
	CHECK_INT(r.res.attempts, 1);
	check_contains(buf_str(&r.err), "HTTP 403: no token configured");
	run_release(&r);
}

static void test_client_errors(void)
{
	char want[256];
	struct run r;

	run_init(&r);
	RUN(&r, "400", src_.retries = 5);
	CHECK_INT(r.rc, -1);
	CHECK_INT(r.res.attempts, 1);
	snprintf(want, sizeof(want),
		 "source 'fixture': GET http://127.0.0.1:%d/400/t%d/hoso: "
		 "HTTP 400: bad parameter: updated_since 'x\xE1\xBB\xB3z'",
		 fixture_port, tag_counter);
	CHECK_STR(buf_str(&r.err), want);
	run_release(&r);

	/* credentials in the URL stay out of messages */
	run_init(&r);
	RUN(&r, "404",
	    snprintf(url_, sizeof(url_),
		     "http://user:pw@127.0.0.1:%d/404/t%d/?k=v", fixture_port,
		     ++tag_counter));
	CHECK_INT(r.rc, -1);
	snprintf(want, sizeof(want),
		 "source 'fixture': GET http://127.0.0.1:%d/404/t%d/hoso: "
		 "HTTP 404: unknown entity",
		 fixture_port, tag_counter);
	CHECK_STR(buf_str(&r.err), want);
	run_release(&r);

	/* a query string in the base URL is kept, before ours */
	run_init(&r);
	RUN(&r, "echo", strcat(url_, "/?k=v"); src_.page_size = 9);
	CHECK_INT(r.rc, 0);
	check_contains(buf_str(&r.ts.accepted), "/hoso\nquery=k=v&limit=9\n");
	run_release(&r);

	run_init(&r);
	RUN(&r, "302", (void)0);
	CHECK_INT(r.rc, -1);
	CHECK_INT(r.res.attempts, 1);
	check_contains(buf_str(&r.err), "HTTP 302");
	run_release(&r);
}

static void test_retries_exhausted(void)
{
	struct run r;

	run_init(&r);
	RUN(&r, "always503", src_.retries = 2);
	CHECK_INT(r.rc, -1);
	CHECK_INT(r.res.attempts, 3);
	CHECK_INT(r.res.retries, 2);
	CHECK_INT(r.res.pages, 0);
	CHECK_INT(r.ts.ends_failed, 3);
	CHECK_INT(r.ts.ends_ok, 0);
	check_contains(buf_str(&r.err),
		       "HTTP 503: busy really (page 1, gave up after 3 "
		       "attempts)");
	run_release(&r);

	/* waits double: 0.2 s, then 0.4 s, each with up to half off */
	run_init(&r);
	RUN(&r, "always503", src_.retries = 2; src_.retry_delay = 0.2);
	CHECK_INT(r.res.attempts, 3);
	CHECK(r.seconds >= 0.3 && r.seconds < 1.5);
	run_release(&r);

	/* Retry-After: 1 is honoured, whatever retry_delay says */
	run_init(&r);
	RUN(&r, "429", (void)0);
	CHECK_INT(r.rc, 0);
	CHECK(r.seconds >= 0.95);
	run_release(&r);

	/* an endless error body is cut short, in memory and in the message */
	run_init(&r);
	RUN(&r, "big500", src_.retries = 0);
	CHECK_INT(r.rc, -1);
	CHECK_INT(r.res.attempts, 1);
	check_contains(buf_str(&r.err), "HTTP 500: <html>EEE");
	CHECK(r.err.len < 400);
	run_release(&r);
}

static void test_connection_refused(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int port;
	struct run r;

	/* a port that was free a moment ago, and is closed now */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	getsockname(fd, (struct sockaddr *)&sa, &len);
	port = ntohs(sa.sin_port);
	close(fd);

	run_init(&r);
	RUN(&r, "x", src_.retries = 1;
	    snprintf(url_, sizeof(url_), "http://127.0.0.1:%d/api", port));
	CHECK_INT(r.rc, -1);
	CHECK_INT(r.res.attempts, 2);
	CHECK_INT(r.ts.ends_failed, 2);
	check_contains(buf_str(&r.err), "gave up after 2 attempts");
	run_release(&r);
}

static void test_malformed_pages(void)
{
	struct run r;

	run_init(&r);
	RUN(&r, "plain", r.ts.end_retries = 1; src_.retries = 0);
	CHECK_INT(r.rc, 0);
	CHECK_STR(buf_str(&r.ts.accepted), plain_hoso);
	CHECK_INT(r.res.attempts, 2);
	CHECK_INT(r.ts.ends_ok, 2);
	run_release(&r);

	run_init(&r);
	RUN(&r, "plain", r.ts.end_retries = 2);
	CHECK_INT(r.rc, -1);
	CHECK_INT(r.res.attempts, 2);
	{
		char want[128];
		snprintf(want, sizeof(want),
			 "GET http://127.0.0.1:%d/plain/t%d/hoso: page 1 "
			 "malformed twice",
			 fixture_port, tag_counter);
		check_contains(buf_str(&r.err), want);
	}
	run_release(&r);

	/* the consumer gives up mid-body: end(0), then a fresh attempt */
	run_init(&r);
	RUN(&r, "big", r.ts.data_retries = 1);
	CHECK_INT(r.rc, 0);
	CHECK_INT(r.res.attempts, 2);
	CHECK_INT(r.ts.ends_failed, 1);
	CHECK_INT(r.ts.ends_ok, 1);
	{
		struct buf want;
		buf_init(&want, 1 << 24);
		build_big(&want);
		CHECK_INT(r.ts.accepted.len, want.len);
		buf_release(&want);
	}
	run_release(&r);

	run_init(&r);
	RUN(&r, "plain", r.ts.end_fatal = 1);
	CHECK_INT(r.rc, -1);
	CHECK_INT(r.res.attempts, 1);
	check_contains(buf_str(&r.err), "stopped by the consumer");
	run_release(&r);
}

static double now_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_deadline(void)
{
	struct run r;

	/* a transfer that stalls is cut at the deadline, not at timeout */
	run_init(&r);
	RUN(&r, "stall", src_.timeout = 30;
	    src_.deadline = now_monotonic() + 1);
	CHECK_INT(r.rc, -1);
	CHECK_INT(r.res.attempts, 1);
	CHECK(r.seconds >= 0.9 && r.seconds < 3);
	check_contains(buf_str(&r.err), "the source's deadline passed");
	run_release(&r);

	/* no retry is started that cannot end before the deadline */
	run_init(&r);
	RUN(&r, "always503", src_.retries = 5; src_.retry_delay = 4;
	    src_.deadline = now_monotonic() + 1);
	CHECK_INT(r.rc, -1);
	CHECK_INT(r.res.attempts, 1);
	CHECK(r.seconds < 1);
	check_contains(buf_str(&r.err),
		       "deadline passes before the next retry");
	run_release(&r);

	/* past already: one quick attempt at most, and the reason */
	run_init(&r);
	RUN(&r, "stall", src_.deadline = now_monotonic() - 5);
	CHECK_INT(r.rc, -1);
	CHECK(r.seconds < 2.5);
	check_contains(buf_str(&r.err), "deadline");
	run_release(&r);

	/* a deadline far off changes nothing */
	run_init(&r);
	RUN(&r, "pages", src_.deadline = now_monotonic() + 3600);
	CHECK_INT(r.rc, 0);
	run_release(&r);
}

static void test_tls(void)
{
	char ca[128];
	struct run r;

	if (!tls_port) {
		fprintf(stderr, "test_http: no openssl, TLS cases skipped\n");
		return;
	}
	snprintf(ca, sizeof(ca), "%s/cert.pem", fixture_dir);

	run_init(&r);
	RUN(&r, "plain", src_.ca_file = ca;
	    snprintf(url_, sizeof(url_), "https://127.0.0.1:%d/plain/t%d",
		     tls_port, ++tag_counter));
	if (r.rc)
		fprintf(stderr, "  tls: %s\n", buf_str(&r.err));
	CHECK_INT(r.rc, 0);
	CHECK_STR(buf_str(&r.ts.accepted), plain_hoso);
	run_release(&r);

	/* an unknown CA is refused, at once: a retry would not help */
	run_init(&r);
	RUN(&r, "plain", src_.retries = 3;
	    snprintf(url_, sizeof(url_), "https://127.0.0.1:%d/plain/t%d",
		     tls_port, ++tag_counter));
	CHECK_INT(r.rc, -1);
	CHECK_INT(r.res.attempts, 1);
	check_contains(buf_str(&r.err), "certificate");
	run_release(&r);

	/* the right CA, the wrong name */
	run_init(&r);
	RUN(&r, "plain", src_.ca_file = ca; src_.retries = 0;
	    snprintf(url_, sizeof(url_), "https://localhost:%d/plain/t%d",
		     tls_port, ++tag_counter));
	CHECK_INT(r.rc, -1);
	run_release(&r);
}

/* Sources are fetched by threads at once: no shared state in http.c. */
struct thread_run {
	pthread_t thread;
	char url[256];
	struct tsink ts;
	struct http_result res;
	struct buf err;
	int rc;
};

static void *thread_fetch(void *arg)
{
	struct thread_run *t = arg;
	struct http_source src = {.name = "thread",
				  .url = t->url,
				  .timeout = 5,
				  .retries = 2,
				  .retry_delay = 0.01};
	struct http_query q = {.entity = "quatrinh"};
	struct page_sink sink = {&t->ts, ts_begin, ts_data, ts_end};

	t->rc = http_fetch_entity(&src, &q, &sink, &t->res, &t->err);
	return NULL;
}

static void test_threads(void)
{
	static const char *const scenarios[] = {"big", "reset", "truncgz",
						"pages"};
	struct thread_run t[8];
	struct buf want;

	buf_init(&want, 1 << 24);
	build_big(&want);
	memset(t, 0, sizeof(t));
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		snprintf(t[i].url, sizeof(t[i].url),
			 "http://127.0.0.1:%d/%s/t%d", fixture_port,
			 scenarios[i % ARRAY_SIZE(scenarios)], ++tag_counter);
		buf_init(&t[i].ts.attempt, 1 << 24);
		buf_init(&t[i].ts.accepted, 1 << 24);
		buf_init(&t[i].err, 4096);
		CHECK_INT(
		    pthread_create(&t[i].thread, NULL, thread_fetch, &t[i]), 0);
	}
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		const char *scenario = scenarios[i % ARRAY_SIZE(scenarios)];
		pthread_join(t[i].thread, NULL);
		CHECK_INT(t[i].rc, 0);
		CHECK_INT(t[i].ts.protocol_errors, 0);
		if (!strcmp(scenario, "big") || !strcmp(scenario, "truncgz"))
			CHECK_INT(t[i].ts.accepted.len, want.len);
		else if (!strcmp(scenario, "reset"))
			CHECK_STR(buf_str(&t[i].ts.accepted),
				  "id,val\r\n1,quatrinh\r\n");
		else
			CHECK_INT(t[i].res.pages, 3);
		buf_release(&t[i].ts.attempt);
		buf_release(&t[i].ts.accepted);
		buf_release(&t[i].err);
	}
	buf_release(&want);
}

int main(void)
{
	/* retries warn, and the tests make them on purpose */
	log_set_level(getenv("TEST_HTTP_VERBOSE") ? LOG_DEBUG : LOG_ERROR);
	signal(SIGPIPE, SIG_IGN);
	if (http_global_init() < 0 || start_fixture() < 0) {
		fprintf(stderr, "cannot start %s\n", fixture_script());
		CHECK(0);
		TEST_REPORT();
	}
	test_plain();
	test_request_headers();
	test_paging();
	test_gzip();
	test_big_streamed();
	test_transient_recovery();
	test_auth();
	test_client_errors();
	test_retries_exhausted();
	test_connection_refused();
	test_malformed_pages();
	test_deadline();
	test_tls();
	test_threads();
	http_global_cleanup();
	TEST_REPORT();
}
