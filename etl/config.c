#include "config.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef DATADIR
#define DATADIR "/usr/share/onestop-etl"
#endif
#define SYSTEM_CONFIG "/etc/onestop-etl/onestop-etl.conf"
#define MAX_LINE 8192

/*
 * SEC_SKIP: the keys under a section header already reported as wrong;
 * one error for the header says it all, so they are not reported again.
 */
enum section {
	SEC_NONE,
	SEC_SKIP,
	SEC_WAREHOUSE,
	SEC_RULES,
	SEC_EXTRACT,
	SEC_REPORT,
	SEC_SOURCE
};
enum key_type { K_STRING, K_PATH, K_LONG, K_INT, K_DOUBLE, K_TIME, K_LIST };

/*
 * Every key the file may hold: its section, type, range and where it
 * lands.  The offset is into struct config, or into struct source_cfg for
 * SEC_SOURCE keys.
 */
struct key_def {
	enum section section;
	const char *name;
	enum key_type type;
	size_t offset;
	double min, max;
};

#define CFG(field) offsetof(struct config, field)
#define SRC(field) offsetof(struct source_cfg, field)

static const struct key_def keys[] = {
	{ SEC_WAREHOUSE, "dsn", K_STRING, CFG(dsn), 0, 0 },
	{ SEC_WAREHOUSE, "lock_wait", K_LONG, CFG(lock_wait), 0, 7 * 86400 },
	{ SEC_WAREHOUSE, "statement_timeout", K_LONG, CFG(statement_timeout), 0, 86400 },
	{ SEC_RULES, "calendar", K_PATH, CFG(calendar), 0, 0 },
	{ SEC_RULES, "profiles", K_PATH, CFG(profiles), 0, 0 },
	{ SEC_RULES, "lineage", K_PATH, CFG(lineage), 0, 0 },
	{ SEC_RULES, "office_close", K_TIME, CFG(office_close), 0, 0 },
	{ SEC_EXTRACT, "lookback", K_LONG, CFG(lookback), 0, 366 * 86400 },
	{ SEC_EXTRACT, "max_reject_pct", K_DOUBLE, CFG(max_reject_pct), 0, 100 },
	{ SEC_EXTRACT, "min_rejects", K_LONG, CFG(min_rejects), 0, LONG_MAX },
	{ SEC_EXTRACT, "parallel", K_INT, CFG(parallel), 1, 64 },
	{ SEC_EXTRACT, "personal_columns", K_LIST, CFG(personal_columns), 0, 0 },
	/* [report]: the heading of form 06 (reports.md) */
	{ SEC_REPORT, "reporting_body", K_STRING, CFG(reporting_body), 0, 0 },
	{ SEC_REPORT, "recipient", K_STRING, CFG(recipient), 0, 0 },
	{ SEC_SOURCE, "url", K_STRING, SRC(url), 0, 0 },
	{ SEC_SOURCE, "token_file", K_PATH, SRC(token_file), 0, 0 },
	{ SEC_SOURCE, "token_env", K_STRING, SRC(token_env), 0, 0 },
	{ SEC_SOURCE, "page_size", K_LONG, SRC(page_size), 1, 1000000 },
	{ SEC_SOURCE, "timeout", K_LONG, SRC(timeout), 1, 86400 },
	{ SEC_SOURCE, "retries", K_INT, SRC(retries), 0, 100 },
	{ SEC_SOURCE, "retry_delay", K_DOUBLE, SRC(retry_delay), 0, 3600 },
	{ SEC_SOURCE, "deadline", K_LONG, SRC(deadline), 0, 7 * 86400 },
	{ SEC_SOURCE, "ca_file", K_PATH, SRC(ca_file), 0, 0 },
	{ SEC_SOURCE, "token_url", K_STRING, SRC(token_url), 0, 0 },
	{ SEC_SOURCE, "client_id", K_STRING, SRC(client_id), 0, 0 },
	{ SEC_SOURCE, "client_secret_file", K_PATH, SRC(client_secret_file), 0, 0 },
	{ SEC_SOURCE, "client_secret_env", K_STRING, SRC(client_secret_env), 0, 0 },
	{ SEC_SOURCE, "scope", K_STRING, SRC(scope), 0, 0 },
	{ SEC_SOURCE, "client_auth", K_STRING, SRC(client_auth), 0, 0 },
};

/* By enum auth_key: the keys whose lines a source keeps. */
static const char *const auth_keys[AUTH_KEY_COUNT] = {
	[AUTH_TOKEN_FILE] = "token_file",
	[AUTH_TOKEN_ENV] = "token_env",
	[AUTH_TOKEN_URL] = "token_url",
	[AUTH_CLIENT_ID] = "client_id",
	[AUTH_SECRET_FILE] = "client_secret_file",
	[AUTH_SECRET_ENV] = "client_secret_env",
	[AUTH_SCOPE] = "scope",
	[AUTH_CLIENT_AUTH] = "client_auth",
};

/* The sections by name; [source NAME] takes a name after the word. */
static const char *const section_names[] = {
	[SEC_WAREHOUSE] = "warehouse",
	[SEC_RULES] = "rules",
	[SEC_EXTRACT] = "extract",
	[SEC_REPORT] = "report",
	[SEC_SOURCE] = "source",
};

struct parser {
	const char *path;
	char *dir; /* relative paths in the file are relative to it */
	int line;
	enum section section;
	struct source_cfg *source;
	struct buf *errs;
	int nerrs;
};

static void perr(struct parser *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void perr(struct parser *p, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	buf_addf(p->errs, "%s:%d: %s\n", p->path, p->line, msg);
	p->nerrs++;
}

const char *config_default_path(const char *explicit_path)
{
	if (explicit_path)
		return explicit_path;
	const char *env = getenv("ONESTOP_ETL_CONFIG");
	return env && *env ? env : SYSTEM_CONFIG;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/*
 * A comment starts with ';' or '#' at the start of the line or after
 * whitespace, so "password=a;b" keeps its semicolon.
 */
static void strip_comment(char *s)
{
	for (char *c = s; *c; c++) {
		if ((*c == ';' || *c == '#') &&
		    (c == s || isspace((unsigned char)c[-1]))) {
			*c = '\0';
			return;
		}
	}
}

/*
 * Damerau's optimal string alignment distance, ASCII case ignored:
 * "extrakt" is 1 from "extract", "lookbakc" 1 from "lookback" (two
 * letters swapped), "Page_Size" 0 from "page_size".
 */
int config_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > CONFIG_NAME_MAX || lb > CONFIG_NAME_MAX)
		return INT_MAX;
	int d[3][CONFIG_NAME_MAX + 1]; /* rows i - 2, i - 1 and i, by i % 3 */
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		int *cur = d[i % 3], *prev = d[(i - 1) % 3];
		int ca = tolower((unsigned char)a[i - 1]);
		cur[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int cb = tolower((unsigned char)b[j - 1]);
			int v = prev[j - 1] + (ca != cb);
			if (prev[j] + 1 < v)
				v = prev[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (i > 1 && j > 1 &&
			    ca == tolower((unsigned char)b[j - 2]) &&
			    tolower((unsigned char)a[i - 2]) == cb &&
			    d[(i - 2) % 3][j - 2] + 1 < v)
				v = d[(i - 2) % 3][j - 2] + 1;
			cur[j] = v;
		}
	}
	return d[la % 3][lb];
}

const char *config_nearest(const char *word, const char *const *names,
			   size_t n)
{
	/* two edits turn any short word into another: a guess, not a typo */
	int limit = strlen(word) <= 3 ? 1 : 2;
	const char *best = NULL;
	for (size_t i = 0; i < n; i++) {
		if (!names[i])
			continue;
		int d = config_edit_distance(word, names[i]);
		if (d <= limit) {
			best = names[i];
			limit = d - 1;
		}
	}
	return best;
}

static void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->calendar = xstrdup(DATADIR "/calendar-vn.csv");
	cfg->profiles = xstrdup(DATADIR "/profiles.csv");
	cfg->office_close = 17 * 60;
	cfg->lock_wait = 6 * 3600;
	cfg->statement_timeout = 60;
	cfg->lookback = 3600;
	cfg->max_reject_pct = 5;
	cfg->min_rejects = 10;
	cfg->parallel = 4;
	cfg->personal_columns = xcalloc(1, sizeof(char *));
}

static void source_defaults(struct source_cfg *s, const char *name, int line)
{
	memset(s, 0, sizeof(*s));
	s->name = xstrdup(name);
	s->page_size = 5000;
	s->timeout = 60;
	s->retries = 5;
	s->retry_delay = 1.0;
	s->deadline = 4 * 3600;
	s->line = line;
}

static bool valid_source_name(const char *name)
{
	if (!*name || strlen(name) > 63)
		return false;
	for (const char *c = name; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("-_.", *c))
			return false;
	return true;
}

/* The section a header's first word names, or SEC_NONE. */
static enum section section_of(const char *word)
{
	for (size_t i = 0; i < ARRAY_SIZE(section_names); i++)
		if (section_names[i] && !strcmp(section_names[i], word))
			return (enum section)i;
	return SEC_NONE;
}

static void start_source(struct parser *p, struct config *cfg,
			 const char *name)
{
	if (!*name) {
		perr(p, "section '[source]' needs a name: '[source NAME]'");
		return;
	}
	if (!valid_source_name(name)) {
		perr(p, "bad source name '%s' (letters, digits, '-', '_', '.')", name);
		return;
	}
	if (config_find_source(cfg, name)) {
		perr(p, "source '%s' is defined twice", name);
		return;
	}
	cfg->sources = xrealloc(cfg->sources, (cfg->nsources + 1) * sizeof(*cfg->sources));
	p->source = &cfg->sources[cfg->nsources++];
	source_defaults(p->source, name, p->line);
	p->section = SEC_SOURCE;
}

static void unknown_section(struct parser *p, const char *head,
			    const char *word, const char *name)
{
	const char *near = config_nearest(word, section_names,
					  ARRAY_SIZE(section_names));
	if (!near)
		perr(p, "unknown section '[%s]'", head);
	else if (!strcmp(near, section_names[SEC_SOURCE]))
		perr(p, "unknown section '[%s]'; did you mean '[source %s]'?",
		     head, *name ? name : "NAME");
	else
		perr(p, "unknown section '[%s]'; did you mean '[%s]'?", head,
		     near);
}

/*
 * After a wrong header its keys are skipped (SEC_SKIP): they are most
 * likely right, and one "outside a section" each would bury the one line
 * to fix.
 */
static void start_section(struct parser *p, struct config *cfg, char *head)
{
	p->source = NULL;
	p->section = SEC_SKIP;
	char *name = head + strcspn(head, " \t");
	char *word = xstrndup(head, (size_t)(name - head));
	name = trim(name);
	enum section sec = section_of(word);
	if (sec == SEC_SOURCE)
		start_source(p, cfg, name);
	else if (sec != SEC_NONE && !*name)
		p->section = sec;
	else
		unknown_section(p, head, word, name);
	free(word);
}

static char *resolve_path(const struct parser *p, const char *value)
{
	if (value[0] == '/' || !p->dir)
		return xstrdup(value);
	return xasprintf("%s/%s", p->dir, value);
}

static char **parse_list(const char *value)
{
	size_t n = 0;
	char **list = xcalloc(1, sizeof(char *));
	char *copy = xstrdup(value);
	for (char *tok = strtok(copy, ", \t"); tok; tok = strtok(NULL, ", \t")) {
		list = xrealloc(list, (n + 2) * sizeof(char *));
		list[n++] = xstrdup(tok);
		list[n] = NULL;
	}
	free(copy);
	return list;
}

static void free_list(char **list)
{
	for (char **s = list; s && *s; s++)
		free(*s);
	free(list);
}

/*
 * strtod takes "nan", "inf" and "1e300": nan passes every comparison and
 * would switch a guard off, and a cast to long of a value out of its range
 * is undefined, so the value is finite and in range before any cast.
 * LONG_MAX rounds up to 2^63 as a double, which no long holds: hence the
 * strict bound for whole numbers.
 */
static int parse_number(struct parser *p, const struct key_def *k,
			const char *value, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(value, &end);
	bool integral = k->type != K_DOUBLE;
	if (end == value || *end) {
		perr(p, "%s: '%s' is not %s", k->name, value,
		     integral ? "a whole number" : "a number");
		return -1;
	}
	if (!isfinite(v) && errno != ERANGE) {
		perr(p, "%s: '%s' is not a finite number", k->name, value);
		return -1;
	}
	if (errno == ERANGE || v < k->min || v > k->max ||
	    (integral && (v >= (double)LONG_MAX || v < (double)LONG_MIN))) {
		perr(p, "%s: '%s' is out of range (%.15g to %.15g)", k->name,
		     value, k->min, k->max);
		return -1;
	}
	if (integral && v != (double)(long)v) {
		perr(p, "%s: '%s' is not a whole number", k->name, value);
		return -1;
	}
	*out = v;
	return 0;
}

static void set_value(struct parser *p, void *base, const struct key_def *k,
		      const char *value)
{
	void *field = (char *)base + k->offset;
	double num;
	int hh, mm;
	char tail;

	switch (k->type) {
	case K_STRING:
	case K_PATH:
		free(*(char **)field);
		*(char **)field = *value == '\0' ? NULL
				  : k->type == K_PATH ? resolve_path(p, value)
						      : xstrdup(value);
		break;
	case K_LIST:
		free_list(*(char ***)field);
		*(char ***)field = parse_list(value);
		break;
	case K_TIME:
		if (sscanf(value, "%d:%d%c", &hh, &mm, &tail) != 2 || hh < 0 ||
		    hh > 23 || mm < 0 || mm > 59) {
			perr(p, "%s: '%s' is not a time HH:MM", k->name, value);
			break;
		}
		*(int *)field = hh * 60 + mm;
		break;
	case K_LONG:
	case K_INT:
	case K_DOUBLE:
		if (parse_number(p, k, value, &num) < 0)
			break;
		if (k->type == K_LONG)
			*(long *)field = (long)num;
		else if (k->type == K_INT)
			*(int *)field = (int)num;
		else
			*(double *)field = num;
		break;
	}
}

static const struct key_def *find_key(enum section section, const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (keys[i].section == section && !strcmp(keys[i].name, name))
			return &keys[i];
	return NULL;
}

/*
 * The likely mistakes: a key put in the wrong section, or a typo of one
 * of this section's keys.
 */
static void unknown_key(struct parser *p, const char *key)
{
	char where[96];
	if (p->section == SEC_SOURCE)
		snprintf(where, sizeof(where), "[source %s]", p->source->name);
	else
		snprintf(where, sizeof(where), "[%s]", section_names[p->section]);
	const char *names[ARRAY_SIZE(keys)];
	size_t n = 0;
	const struct key_def *elsewhere = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (keys[i].section == p->section)
			names[n++] = keys[i].name;
		else if (!strcmp(keys[i].name, key))
			elsewhere = &keys[i];
	}
	const char *near = config_nearest(key, names, n);
	if (elsewhere)
		perr(p, "unknown key '%s' in %s; it belongs in '[%s%s]'", key,
		     where, section_names[elsewhere->section],
		     elsewhere->section == SEC_SOURCE ? " NAME" : "");
	else if (near)
		perr(p, "unknown key '%s' in %s; did you mean '%s'?", key, where,
		     near);
	else
		perr(p, "unknown key '%s' in %s", key, where);
}

static void parse_assignment(struct parser *p, struct config *cfg, char *line)
{
	char *eq = strchr(line, '=');
	if (!eq) {
		perr(p, "expected 'key = value', got '%s'", line);
		return;
	}
	*eq = '\0';
	char *key = trim(line), *value = trim(eq + 1);
	if (p->section == SEC_SKIP)
		return;
	if (p->section == SEC_NONE) {
		perr(p, "key '%s' outside a section", key);
		return;
	}
	const struct key_def *k = find_key(p->section, key);
	if (!k) {
		unknown_key(p, key);
		return;
	}
	void *base = p->section == SEC_SOURCE ? (void *)p->source : (void *)cfg;
	set_value(p, base, k, value);
	for (int i = 0; p->section == SEC_SOURCE && i < AUTH_KEY_COUNT; i++)
		if (!strcmp(auth_keys[i], key))
			p->source->auth_line[i] = *value ? p->line : 0;
}

static void parse_line(struct parser *p, struct config *cfg, char *raw)
{
	strip_comment(raw);
	char *line = trim(raw);
	if (!*line)
		return;
	if (*line == '[') {
		char *close = strchr(line, ']');
		if (!close || close[1]) {
			perr(p, "bad section header '%s'", line);
			p->section = SEC_SKIP;
			p->source = NULL;
			return;
		}
		*close = '\0';
		start_section(p, cfg, trim(line + 1));
		return;
	}
	parse_assignment(p, cfg, line);
}

/* s quoted for a shell, so that the fix we print can be pasted as it is */
static void add_shell_word(struct buf *b, const char *s)
{
	buf_addc(b, '\'');
	for (; *s; s++)
		if (*s == '\'')
			buf_adds(b, "'\\''");
		else
			buf_addc(b, *s);
	buf_addc(b, '\'');
}

/*
 * A file that group or others can write is refused: whoever can change it
 * can point the job at another warehouse or leak its token.  One they can
 * read is a warning (interfaces.md): the job's group may be trusted, but
 * nothing needs more than mode 600, so the warning says so.
 */
static int check_file_mode(const char *path, const char *what, struct buf *errs,
			   struct buf *warns, const char *where)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		buf_addf(errs, "%s: cannot read %s '%s': %s\n", where, what, path,
			 strerror(errno));
		return 1;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		buf_addf(errs, "%s: %s '%s' is writable by group or others; run: chmod 600 ",
			 where, what, path);
		add_shell_word(errs, path);
		buf_addc(errs, '\n');
		return 1;
	}
	if (st.st_mode & (S_IRGRP | S_IROTH)) {
		buf_addf(warns, "warning: %s: %s '%s' is readable by group or others; run: chmod 600 ",
			 where, what, path);
		add_shell_word(warns, path);
		buf_addc(warns, '\n');
	}
	return 0;
}

static char *read_secret_file(const char *path, const char *what,
			      struct buf *errs, const char *where)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		buf_addf(errs, "%s: cannot read %s '%s': %s\n", where, what, path,
			 strerror(errno));
		return NULL;
	}
	char line[4096];
	char *tok = NULL;
	if (fgets(line, sizeof(line), f))
		tok = xstrdup(trim(line));
	explicit_bzero(line, sizeof(line));
	fclose(f);
	if (!tok || !*tok) {
		buf_addf(errs, "%s: %s '%s' is empty\n", where, what, path);
		free(tok);
		return NULL;
	}
	return tok;
}

/*
 * The host of an http:// URL is this machine: localhost, 127.x.y.z or
 * [::1], with no user@ in front that would make the rest a user name.
 */
static bool http_host_is_loopback(const char *url)
{
	if (strncmp(url, "http://", 7))
		return false;
	const char *host = url + 7;
	size_t len = strcspn(host, "/?#");
	if (memchr(host, '@', len))
		return false;
	size_t hlen = host[0] == '[' ? strcspn(host, "]") + 1 : strcspn(host, ":/?#");
	if (hlen > len || (host[hlen] && !strchr(":/?#", host[hlen])))
		return false;
	if ((hlen == 9 && !strncasecmp(host, "localhost", 9)) ||
	    (hlen == 5 && !strncmp(host, "[::1]", 5)))
		return true;
	if (hlen < 7 || strncmp(host, "127.", 4))
		return false;
	int dots = 0;
	for (size_t i = 0; i < hlen; i++) {
		if (host[i] == '.')
			dots++;
		else if (!isdigit((unsigned char)host[i]))
			return false;
	}
	return dots == 3;
}

/* A token sent in clear text to this machine itself leaks to nobody. */
static bool is_loopback_url(const char *url)
{
	static const char *const hosts[] = { "http://127.", "http://localhost", "http://[::1]" };
	for (size_t i = 0; i < ARRAY_SIZE(hosts); i++)
		if (!strncmp(url, hosts[i], strlen(hosts[i])))
			return true;
	return false;
}

/* One error about an authentication key, at that key's line. */
__attribute__((format(printf, 5, 6))) static int
auth_error(const char *path, const struct source_cfg *s, enum auth_key k,
	   struct buf *errs, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	buf_addf(errs, "%s:%d: source '%s': %s\n", path,
		 s->auth_line[k] ? s->auth_line[k] : s->line, s->name, msg);
	return 1;
}

/* Of two keys both set, the one set last: where the mistake shows. */
static enum auth_key later(const struct source_cfg *s, enum auth_key a, enum auth_key b)
{
	return s->auth_line[a] > s->auth_line[b] ? a : b;
}

/* The OAuth2 keys' own rules: each missing or mixed key, at its line. */
static int check_oauth_keys(const char *path, const struct source_cfg *s,
			    struct buf *errs)
{
	const int *at = s->auth_line;
	int n = 0;
	if (!at[AUTH_TOKEN_URL]) {
		for (int k = AUTH_CLIENT_ID; k < AUTH_KEY_COUNT; k++)
			if (at[k])
				n += auth_error(path, s, k, errs,
						"'%s' needs token_url (OAuth2 client credentials)",
						auth_keys[k]);
	} else {
		if (!at[AUTH_CLIENT_ID])
			n += auth_error(path, s, AUTH_TOKEN_URL, errs, "token_url needs client_id");
		if (!at[AUTH_SECRET_FILE] && !at[AUTH_SECRET_ENV])
			n += auth_error(path, s, AUTH_TOKEN_URL, errs,
					"token_url needs client_secret_file or client_secret_env");
		if (!http_host_is_loopback(s->token_url) && strncmp(s->token_url, "https://", 8))
			n += auth_error(path, s, AUTH_TOKEN_URL, errs,
					"token_url '%s' is not https:// (http:// only to this machine:"
					" localhost, 127.0.0.1, [::1])", s->token_url);
	}
	if (at[AUTH_SECRET_FILE] && at[AUTH_SECRET_ENV])
		n += auth_error(path, s, later(s, AUTH_SECRET_FILE, AUTH_SECRET_ENV), errs,
				"has both client_secret_file and client_secret_env");
	if (s->client_auth && strcmp(s->client_auth, "basic") && strcmp(s->client_auth, "body"))
		n += auth_error(path, s, AUTH_CLIENT_AUTH, errs,
				"client_auth '%s' is not 'basic' or 'body'", s->client_auth);
	return n;
}

/*
 * A source has a token (token_file or token_env) or OAuth2 client
 * credentials (token_url, client_id, client_secret_file or _env), never
 * both: every key that does not fit is reported at its own line.
 */
static int check_auth_keys(const char *path, const struct source_cfg *s,
			   struct buf *errs)
{
	const int *at = s->auth_line;
	int n = 0;
	if (at[AUTH_TOKEN_FILE] && at[AUTH_TOKEN_ENV])
		n += auth_error(path, s, later(s, AUTH_TOKEN_FILE, AUTH_TOKEN_ENV), errs,
				"has both token_file and token_env");
	enum auth_key token_key = at[AUTH_TOKEN_FILE] ? AUTH_TOKEN_FILE : AUTH_TOKEN_ENV;
	if (!at[token_key])
		return n + check_oauth_keys(path, s, errs);
	for (int k = AUTH_TOKEN_URL; k < AUTH_KEY_COUNT; k++)
		if (at[k])
			n += auth_error(path, s, k, errs,
					"'%s' cannot go with '%s' (line %d): a source has a token"
					" or OAuth2 client credentials, not both",
					auth_keys[k], auth_keys[token_key], at[token_key]);
	return n;
}

/* A secret from a file (mode checked as a token file's is) or a variable. */
static char *read_secret(const char *file, const char *env, const char *what,
			 const struct source_cfg *s, struct buf *errs,
			 struct buf *warns, const char *where)
{
	if (file) {
		if (check_file_mode(file, what, errs, warns, where))
			return NULL;
		return read_secret_file(file, what, errs, where);
	}
	const char *v = getenv(env);
	if (!v || !*v) {
		buf_addf(errs, "%s: source '%s': environment variable '%s' is not set\n",
			 where, s->name, env);
		return NULL;
	}
	return xstrdup(v);
}

static int check_source(const char *path, struct source_cfg *s, struct buf *errs,
			struct buf *warns)
{
	int n = 0;
	char where[512];
	snprintf(where, sizeof(where), "%s:%d", path, s->line);
	/* without url, a source takes files only (load-file) */
	if (s->url && strncmp(s->url, "http://", 7) && strncmp(s->url, "https://", 8)) {
		buf_addf(errs, "%s: source '%s': url '%s' is not http:// or https://\n",
			 where, s->name, s->url);
		n++;
	}
	int bad_keys = check_auth_keys(path, s, errs);
	if (bad_keys)
		return n + bad_keys;
	if (s->token_file || s->token_env) {
		s->token = read_secret(s->token_file, s->token_env, "token file", s, errs,
				       warns, where);
		if (!s->token)
			return n + 1;
	} else if (s->token_url) {
		s->client_secret = read_secret(s->client_secret_file, s->client_secret_env,
					       "client secret file", s, errs, warns, where);
		if (!s->client_secret)
			return n + 1;
	}
	if ((s->token || s->client_secret) && s->url && !strncmp(s->url, "http://", 7) &&
	    !is_loopback_url(s->url))
		buf_addf(warns, "warning: %s: source '%s' sends its token over plain http:// to '%s'\n",
			 where, s->name, s->url);
	if (s->ca_file && access(s->ca_file, R_OK) < 0) {
		buf_addf(errs, "%s: source '%s': cannot read ca_file '%s'\n", where,
			 s->name, s->ca_file);
		n++;
	}
	return n;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return NULL;
	return xstrndup(path, (size_t)(slash - path) + (slash == path));
}

int config_load(const char *path, struct config *cfg, struct buf *errs,
		struct buf *warns)
{
	struct parser p = { .path = path, .errs = errs };
	config_defaults(cfg);
	cfg->path = xstrdup(path);

	if (check_file_mode(path, "configuration file", errs, warns, path))
		return 1;
	FILE *f = fopen(path, "r");
	if (!f) {
		buf_addf(errs, "%s: cannot open: %s\n", path, strerror(errno));
		return 1;
	}
	p.dir = dir_of(path);
	char line[MAX_LINE];
	while (fgets(line, sizeof(line), f)) {
		p.line++;
		if (!strchr(line, '\n') && !feof(f)) {
			perr(&p, "line longer than %d bytes", MAX_LINE - 2);
			int c;
			while ((c = fgetc(f)) != EOF && c != '\n')
				;
			continue;
		}
		parse_line(&p, cfg, line);
	}
	fclose(f);
	free(p.dir);

	int n = p.nerrs;
	if (cfg->nsources == 0) {
		buf_addf(errs, "%s: no [source NAME] section\n", path);
		n++;
	}
	for (size_t i = 0; i < cfg->nsources; i++)
		n += check_source(path, &cfg->sources[i], errs, warns);
	return n;
}

/* A secret does not outlive its use. */
static void free_secret(char *secret)
{
	if (secret) {
		explicit_bzero(secret, strlen(secret));
		free(secret);
	}
}

static void source_release(struct source_cfg *s)
{
	free(s->name);
	free(s->url);
	free(s->token_file);
	free(s->token_env);
	free_secret(s->token);
	free_secret(s->client_secret);
	free(s->token_url);
	free(s->client_id);
	free(s->client_secret_file);
	free(s->client_secret_env);
	free(s->scope);
	free(s->client_auth);
	free(s->ca_file);
}

void config_release(struct config *cfg)
{
	for (size_t i = 0; i < cfg->nsources; i++)
		source_release(&cfg->sources[i]);
	free(cfg->sources);
	free(cfg->path);
	free(cfg->dsn);
	free(cfg->calendar);
	free(cfg->profiles);
	free(cfg->lineage);
	free_list(cfg->personal_columns);
	free(cfg->reporting_body);
	free(cfg->recipient);
	memset(cfg, 0, sizeof(*cfg));
}

struct source_cfg *config_find_source(struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nsources; i++)
		if (!strcmp(cfg->sources[i].name, name))
			return &cfg->sources[i];
	return NULL;
}
