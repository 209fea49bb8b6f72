/*
 * The configuration reader: defaults, every error at once with its line,
 * comments that keep a ';' inside a value, and refused file modes.
 */
#include "config.h"
#include "testhelp.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/onestop-config-XXXXXX";

static const char *write_file(const char *name, const char *text, mode_t mode)
{
	static char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
	return path;
}

static int load(const char *path, struct config *cfg, struct buf *errs, struct buf *warns)
{
	buf_init(errs, 1 << 16);
	buf_init(warns, 1 << 16);
	return config_load(path, cfg, errs, warns);
}

static void test_good_file(void)
{
	struct config cfg;
	struct buf errs, warns;
	write_file("tok", "s3cret\n", 0600);
	const char *path = write_file("good.conf",
		"# a comment\n"
		"[warehouse]\n"
		"dsn = host=/tmp password=a;b  ; the ';' after a space starts a comment\n"
		"[rules]\n"
		"calendar = cal.csv\n"
		"office_close = 16:30\n"
		"[extract]\n"
		"lookback = 7200\n"
		"personal_columns = HoTenNguoiNop, CCCD\n"
		"[report]\n"
		"reporting_body = Sở Giáo dục và Đào tạo ; the form's heading\n"
		"recipient =\n"
		"[source a-1]\n"
		"url = http://127.0.0.1:9/api\n"
		"token_file = tok\n"
		"retries = 2\n",
		0600);
	CHECK_INT(load(path, &cfg, &errs, &warns), 0);
	CHECK_STR(buf_str(&errs), "");
	CHECK_STR(cfg.dsn, "host=/tmp password=a;b");
	CHECK_INT(cfg.office_close, 16 * 60 + 30);
	CHECK_INT(cfg.lookback, 7200);
	CHECK_INT(cfg.parallel, 4);
	CHECK_STR(cfg.personal_columns[0], "HoTenNguoiNop");
	CHECK_STR(cfg.personal_columns[1], "CCCD");
	CHECK(cfg.personal_columns[2] == NULL);
	CHECK_STR(cfg.reporting_body, "Sở Giáo dục và Đào tạo");
	CHECK(cfg.recipient == NULL); /* empty: unset */
	CHECK_INT((long long)cfg.nsources, 1);
	CHECK_STR(cfg.sources[0].token, "s3cret");
	CHECK_INT(cfg.sources[0].retries, 2);
	CHECK_INT(cfg.sources[0].page_size, 5000);
	/* relative paths are taken from the configuration file's folder */
	CHECK(strstr(cfg.calendar, dir) == cfg.calendar);
	config_release(&cfg);
	buf_release(&errs);
	buf_release(&warns);
}

static void test_three_mistakes(void)
{
	struct config cfg;
	struct buf errs, warns;
	const char *path = write_file("bad.conf",
		"[warehouse]\n"
		"dsn = dbname=x\n"
		"colour = blue\n"                 /* line 3: unknown key */
		"[extract]\n"
		"parallel = many\n"               /* line 5: not a number */
		"[nonsense]\n"                    /* line 6: unknown section */
		"[source s]\n"
		"url = http://127.0.0.1:9\n",
		0600);
	CHECK_INT(load(path, &cfg, &errs, &warns), 3);
	CHECK(strstr(buf_str(&errs), "bad.conf:3: unknown key 'colour'") != NULL);
	CHECK(strstr(buf_str(&errs), "bad.conf:5: parallel: 'many' is not a whole number") != NULL);
	CHECK(strstr(buf_str(&errs), "bad.conf:6: unknown section '[nonsense]'") != NULL);
	config_release(&cfg);
	buf_release(&errs);
	buf_release(&warns);
}

static void test_source_problems(void)
{
	struct config cfg;
	struct buf errs, warns;
	const char *path = write_file("src.conf",
		"[source a]\n"
		"token_file = tok\n"
		"token_env = TOKEN\n"
		"[source b]\n"
		"url = ftp://x\n",
		0600);
	/* a source without url takes files only: not an error */
	CHECK_INT(load(path, &cfg, &errs, &warns), 2);
	CHECK(strstr(buf_str(&errs), "has no url") == NULL);
	CHECK(strstr(buf_str(&errs), "both token_file and token_env") != NULL);
	CHECK(strstr(buf_str(&errs), "is not http:// or https://") != NULL);
	config_release(&cfg);
	buf_release(&errs);
	buf_release(&warns);
}

static void check_errors(const struct buf *errs, const char *path,
			 const char *want);

static void test_file_modes(void)
{
	struct config cfg;
	struct buf errs, warns;
	const char *path = write_file("open.conf", "[source a]\nurl = http://x\n", 0666);
	chmod(path, 0666);
	CHECK_INT(load(path, &cfg, &errs, &warns), 1);
	CHECK(strstr(buf_str(&errs), "writable by group or others") != NULL);
	config_release(&cfg);
	buf_release(&errs);
	buf_release(&warns);

	write_file("tok-plain", "t\n", 0600);
	path = write_file("plain.conf", "[source a]\nurl = http://motcua.example.vn\ntoken_file = tok-plain\n"
				       "[source b]\nurl = http://127.0.0.1:8080\ntoken_file = tok-plain\n", 0600);
	CHECK_INT(load(path, &cfg, &errs, &warns), 0);
	CHECK(strstr(buf_str(&warns), "warning: ") == buf_str(&warns));
	CHECK(strstr(buf_str(&warns), "source 'a' sends its token over plain http://") != NULL);
	CHECK(strstr(buf_str(&warns), "source 'b'") == NULL);
	config_release(&cfg);
	buf_release(&errs);
	buf_release(&warns);

	/* a warning says it is one, and the fix, quoted for a shell */
	path = write_file("it's readable.conf", "[source a]\nurl = http://x\n", 0640);
	CHECK_INT(load(path, &cfg, &errs, &warns), 0);
	check_errors(&warns, dir,
		  "warning: PATH/it's readable.conf: configuration file "
		  "'PATH/it's readable.conf' is readable by group or others; "
		  "run: chmod 600 'PATH/it'\\''s readable.conf'\n");
	config_release(&cfg);
	buf_release(&errs);
	buf_release(&warns);

	write_file("tok-open", "x\n", 0622);
	path = write_file("tokopen.conf", "[source a]\nurl = http://x\ntoken_file = tok-open\n", 0600);
	CHECK_INT(load(path, &cfg, &errs, &warns), 1);
	CHECK(strstr(buf_str(&errs), "token file") != NULL);
	config_release(&cfg);
	buf_release(&errs);
	buf_release(&warns);
}

/* errs is exactly want, with each "PATH" standing for path */
static void check_errors(const struct buf *errs, const char *path,
			 const char *want)
{
	struct buf expect;
	buf_init(&expect, 1 << 16);
	for (const char *p = want; *p; p++) {
		if (!strncmp(p, "PATH", 4)) {
			buf_adds(&expect, path);
			p += 3;
		} else {
			buf_addc(&expect, *p);
		}
	}
	CHECK_STR(buf_str(errs), buf_str(&expect));
	buf_release(&expect);
}

/*
 * nan passes every comparison (it switched the reject guard off), and a
 * cast to long of 1e300 is undefined: every such value is refused, with
 * its line and the value quoted, before any cast.
 */
static void test_hostile_numbers(void)
{
	struct config cfg;
	struct buf errs, warns;
	const char *path = write_file("numbers.conf",
		"[extract]\n"
		"max_reject_pct = nan\n"          /* line 2 */
		"max_reject_pct = inf\n"          /* line 3 */
		"max_reject_pct = -nan\n"         /* line 4 */
		"lookback = 1e300\n"              /* line 5 */
		"min_rejects = 9223372036854775807\n" /* line 6: 2^63 as a double */
		"min_rejects = 1e400\n"           /* line 7 */
		"parallel = -infinity\n"          /* line 8 */
		"parallel = 2.5\n"                /* line 9 */
		"parallel = 100\n"                /* line 10 */
		"min_rejects = 9223372036854774784\n" /* line 11: the largest below */
		"max_reject_pct = 2.5\n"          /* line 12 */
		"[source s]\n"
		"url = http://127.0.0.1:9\n"
		"retry_delay = NAN\n",            /* line 15 */
		0600);
	CHECK_INT(load(path, &cfg, &errs, &warns), 10);
	check_errors(&errs, path,
		  "PATH:2: max_reject_pct: 'nan' is not a finite number\n"
		  "PATH:3: max_reject_pct: 'inf' is not a finite number\n"
		  "PATH:4: max_reject_pct: '-nan' is not a finite number\n"
		  "PATH:5: lookback: '1e300' is out of range (0 to 31622400)\n"
		  "PATH:6: min_rejects: '9223372036854775807' is out of range "
		  "(0 to 9.22337203685478e+18)\n"
		  "PATH:7: min_rejects: '1e400' is out of range "
		  "(0 to 9.22337203685478e+18)\n"
		  "PATH:8: parallel: '-infinity' is not a finite number\n"
		  "PATH:9: parallel: '2.5' is not a whole number\n"
		  "PATH:10: parallel: '100' is out of range (1 to 64)\n"
		  "PATH:15: retry_delay: 'NAN' is not a finite number\n");
	CHECK_INT(cfg.min_rejects, 9223372036854774784L);
	CHECK(cfg.max_reject_pct == 2.5);
	CHECK_INT(cfg.lookback, 3600);
	config_release(&cfg);
	buf_release(&errs);
	buf_release(&warns);
}

/*
 * A mistyped name gets the name it probably meant; a word too far from
 * every name gets none, rather than a wild guess.
 */
static void test_edit_distance(void)
{
	CHECK_INT(config_edit_distance("extract", "extract"), 0);
	CHECK_INT(config_edit_distance("extrakt", "extract"), 1);
	CHECK_INT(config_edit_distance("page_sise", "page_size"), 1);
	CHECK_INT(config_edit_distance("lookbakc", "lookback"), 1); /* swapped */
	CHECK_INT(config_edit_distance("Page_Size", "page_size"), 0);
	CHECK_INT(config_edit_distance("retry", "retries"), 3);
	CHECK_INT(config_edit_distance("", "url"), 3);
	CHECK_INT(config_edit_distance("ab", "ba"), 1);
	CHECK_INT(config_edit_distance("ca", "abc"), 3); /* no edit after a swap */

	static const char *const names[] = { "warehouse", NULL, "rules",
					     "extract", "source" };
	CHECK_STR(config_nearest("extrakt", names, 5), "extract");
	CHECK_STR(config_nearest("rule", names, 5), "rules");
	CHECK_STR(config_nearest("WAREHOUSE", names, 5), "warehouse");
	CHECK(config_nearest("report", names, 5) == NULL);
	CHECK(config_nearest("rls", names, 5) == NULL); /* 2 edits: a guess */
	static const char *const keys[] = { "timeout", "retries", "url" };
	CHECK_STR(config_nearest("timeuot", keys, 3), "timeout");
	CHECK_STR(config_nearest("uri", keys, 3), "url");
	CHECK(config_nearest("ab", keys, 3) == NULL);
	/* the nearest wins over an earlier name that is also close */
	static const char *const close[] = { "page_sizes", "page_size" };
	CHECK_STR(config_nearest("page_size", close, 2), "page_size");
}

/*
 * A wrong header is one error, with the section it probably meant; the
 * keys under it are not reported again as if they were outside any.
 */
static void test_wrong_section_and_key_names(void)
{
	struct config cfg;
	struct buf errs, warns;
	const char *path = write_file("names.conf",
		"[extrakt]\n"                     /* line 1 */
		"lookback = 3600\n"
		"parallel = 4\n"
		"[warehouse]\n"
		"dsn = dbname=x\n"
		"lookback = 60\n"                 /* line 6: another section's key */
		"[sourse a]\n"                    /* line 7 */
		"url = http://127.0.0.1:9\n"
		"[source b]\n"
		"url = http://127.0.0.1:9\n"
		"page_sise = 100\n"               /* line 11 */
		"colour = blue\n"                 /* line 12: near nothing */
		"[printer]\n"                     /* line 13: near nothing */
		"recipient = x\n"
		"[source]\n"                      /* line 15 */
		"url = http://127.0.0.1:9\n"
		"[rules\n"                        /* line 17 */
		"calendar = x\n",
		0600);
	CHECK_INT(load(path, &cfg, &errs, &warns), 8);
	check_errors(&errs, path,
		  "PATH:1: unknown section '[extrakt]'; did you mean '[extract]'?\n"
		  "PATH:6: unknown key 'lookback' in [warehouse]; it belongs in '[extract]'\n"
		  "PATH:7: unknown section '[sourse a]'; did you mean '[source a]'?\n"
		  "PATH:11: unknown key 'page_sise' in [source b]; did you mean 'page_size'?\n"
		  "PATH:12: unknown key 'colour' in [source b]\n"
		  "PATH:13: unknown section '[printer]'\n"
		  "PATH:15: section '[source]' needs a name: '[source NAME]'\n"
		  "PATH:17: bad section header '[rules'\n");
	CHECK_INT(cfg.lookback, 3600); /* untouched by the skipped and the misplaced */
	CHECK_INT(cfg.parallel, 4);
	config_release(&cfg);
	buf_release(&errs);
	buf_release(&warns);
}

/*
 * OAuth2 client credentials (issue 19): a good source, then every mixed or
 * missing key at its own line, all in one pass.
 */
static void test_oauth_keys(void)
{
	struct config cfg;
	struct buf errs, warns;
	write_file("client.secret", "cs-s3cret\n", 0600);
	const char *path = write_file("oauth.conf",
		"[source lgsp]\n"
		"url = https://lgsp.example.vn/motcua/1.0\n"
		"token_url = https://lgsp.example.vn/oauth2/token\n"
		"client_id = onestop-etl\n"
		"client_secret_file = client.secret\n"
		"scope = export\n"
		"client_auth = body\n"
		"[source local]\n"
		"url = http://127.0.0.1:9/api\n"
		"token_url = http://localhost:9/token\n"
		"client_id = x\n"
		"client_secret_env = ONESTOP_TEST_CLIENT_SECRET\n",
		0600);
	setenv("ONESTOP_TEST_CLIENT_SECRET", "from-env", 1);
	CHECK_INT(load(path, &cfg, &errs, &warns), 0);
	CHECK_STR(buf_str(&errs), "");
	CHECK_STR(cfg.sources[0].client_secret, "cs-s3cret");
	CHECK_STR(cfg.sources[0].client_auth, "body");
	CHECK_STR(cfg.sources[0].scope, "export");
	CHECK(cfg.sources[0].token == NULL);
	CHECK_STR(cfg.sources[1].client_secret, "from-env");
	config_release(&cfg);
	buf_release(&errs);
	buf_release(&warns);
	unsetenv("ONESTOP_TEST_CLIENT_SECRET");

	path = write_file("mixed.conf",
		"[source a]\n"                                  /* 1 */
		"url = https://x/api\n"
		"token_file = client.secret\n"                  /* 3 */
		"client_id = id\n"                              /* 4: mixed */
		"client_secret_env = S\n"                       /* 5: mixed */
		"[source b]\n"                                  /* 6 */
		"url = https://x/api\n"
		"client_id = id\n"                              /* 8: no token_url */
		"client_secret_file = client.secret\n"          /* 9: no token_url */
		"[source c]\n"                                  /* 10 */
		"url = https://x/api\n"
		"token_url = http://lgsp.example.vn/token\n"    /* 12: http, no id, no secret */
		"client_auth = digest\n"                        /* 13 */
		"[source d]\n"                                  /* 14 */
		"url = https://x/api\n"
		"token_url = http://localhost.example.vn/token\n" /* 16: not this machine */
		"client_id = id\n"
		"client_secret_file = client.secret\n"
		"client_secret_env = S\n"                       /* 19: both */
		"[source e]\n"                                  /* 20 */
		"url = https://x/api\n"
		"token_url = http://127.0.0.1@evil.example/token\n" /* 22 */
		"client_id = id\n"
		"client_secret_file = missing.secret\n"
		"token_env = T\n"                               /* 25 */
		"token_file = client.secret\n",                 /* 26: both */
		0600);
	CHECK_INT(load(path, &cfg, &errs, &warns), 14);
	check_errors(&errs, path,
		"PATH:4: source 'a': 'client_id' cannot go with 'token_file' (line 3): a source has a token or OAuth2 client credentials, not both\n"
		"PATH:5: source 'a': 'client_secret_env' cannot go with 'token_file' (line 3): a source has a token or OAuth2 client credentials, not both\n"
		"PATH:8: source 'b': 'client_id' needs token_url (OAuth2 client credentials)\n"
		"PATH:9: source 'b': 'client_secret_file' needs token_url (OAuth2 client credentials)\n"
		"PATH:12: source 'c': token_url needs client_id\n"
		"PATH:12: source 'c': token_url needs client_secret_file or client_secret_env\n"
		"PATH:12: source 'c': token_url 'http://lgsp.example.vn/token' is not https:// (http:// only to this machine: localhost, 127.0.0.1, [::1])\n"
		"PATH:13: source 'c': client_auth 'digest' is not 'basic' or 'body'\n"
		"PATH:16: source 'd': token_url 'http://localhost.example.vn/token' is not https:// (http:// only to this machine: localhost, 127.0.0.1, [::1])\n"
		"PATH:19: source 'd': has both client_secret_file and client_secret_env\n"
		"PATH:26: source 'e': has both token_file and token_env\n"
		"PATH:22: source 'e': 'token_url' cannot go with 'token_file' (line 26): a source has a token or OAuth2 client credentials, not both\n"
		"PATH:23: source 'e': 'client_id' cannot go with 'token_file' (line 26): a source has a token or OAuth2 client credentials, not both\n"
		"PATH:24: source 'e': 'client_secret_file' cannot go with 'token_file' (line 26): a source has a token or OAuth2 client credentials, not both\n");
	config_release(&cfg);
	buf_release(&errs);
	buf_release(&warns);

	/* the secret file follows the token file's rules */
	static const char open_conf[] =
		"[source a]\nurl = https://x\ntoken_url = https://x/token\nclient_id = i\n"
		"client_secret_file = open.secret\n";
	write_file("open.secret", "x\n", 0622);
	path = write_file("open-secret.conf", open_conf, 0600);
	CHECK_INT(load(path, &cfg, &errs, &warns), 1);
	CHECK(strstr(buf_str(&errs), "client secret file") != NULL);
	CHECK(strstr(buf_str(&errs), "writable by group or others") != NULL);
	config_release(&cfg);
	buf_release(&errs);
	buf_release(&warns);
	write_file("open.secret", "x\n", 0640);
	path = write_file("open-secret.conf", open_conf, 0600);
	CHECK_INT(load(path, &cfg, &errs, &warns), 0);
	CHECK_STR(buf_str(&errs), "");
	CHECK(strstr(buf_str(&warns), "client secret file") != NULL);
	CHECK(strstr(buf_str(&warns), "readable by group or others") != NULL);
	config_release(&cfg);
	buf_release(&errs);
	buf_release(&warns);
}

int main(void)
{
	umask(0);
	if (!mkdtemp(dir))
		return 1;
	test_good_file();
	test_three_mistakes();
	test_source_problems();
	test_oauth_keys();
	test_file_modes();
	test_hostile_numbers();
	test_edit_distance();
	test_wrong_section_and_key_names();
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	TEST_REPORT();
}
