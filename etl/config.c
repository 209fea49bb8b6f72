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
#include <sys/stat.h>
#include <unistd.h>

#ifndef DATADIR
#define DATADIR "/usr/share/onestop-etl"
#endif
#define SYSTEM_CONFIG "/etc/onestop-etl/onestop-etl.conf"
#define MAX_LINE 8192

enum section { SEC_NONE, SEC_WAREHOUSE, SEC_RULES, SEC_EXTRACT, SEC_SOURCE };
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
	{ SEC_RULES, "office_close", K_TIME, CFG(office_close), 0, 0 },
	{ SEC_EXTRACT, "lookback", K_LONG, CFG(lookback), 0, 366 * 86400 },
	{ SEC_EXTRACT, "max_reject_pct", K_DOUBLE, CFG(max_reject_pct), 0, 100 },
	{ SEC_EXTRACT, "min_rejects", K_LONG, CFG(min_rejects), 0, LONG_MAX },
	{ SEC_EXTRACT, "parallel", K_INT, CFG(parallel), 1, 64 },
	{ SEC_EXTRACT, "personal_columns", K_LIST, CFG(personal_columns), 0, 0 },
	{ SEC_SOURCE, "url", K_STRING, SRC(url), 0, 0 },
	{ SEC_SOURCE, "token_file", K_PATH, SRC(token_file), 0, 0 },
	{ SEC_SOURCE, "token_env", K_STRING, SRC(token_env), 0, 0 },
	{ SEC_SOURCE, "page_size", K_LONG, SRC(page_size), 1, 1000000 },
	{ SEC_SOURCE, "timeout", K_LONG, SRC(timeout), 1, 86400 },
	{ SEC_SOURCE, "retries", K_INT, SRC(retries), 0, 100 },
	{ SEC_SOURCE, "retry_delay", K_DOUBLE, SRC(retry_delay), 0, 3600 },
	{ SEC_SOURCE, "deadline", K_LONG, SRC(deadline), 0, 7 * 86400 },
	{ SEC_SOURCE, "ca_file", K_PATH, SRC(ca_file), 0, 0 },
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

static void start_section(struct parser *p, struct config *cfg, char *head)
{
	p->source = NULL;
	p->section = SEC_NONE;
	if (!strcmp(head, "warehouse"))
		p->section = SEC_WAREHOUSE;
	else if (!strcmp(head, "rules"))
		p->section = SEC_RULES;
	else if (!strcmp(head, "extract"))
		p->section = SEC_EXTRACT;
	else if (!strncmp(head, "source", 6) && isspace((unsigned char)head[6])) {
		char *name = trim(head + 6);
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
	} else {
		perr(p, "unknown section '[%s]'", head);
	}
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

static void parse_assignment(struct parser *p, struct config *cfg, char *line)
{
	char *eq = strchr(line, '=');
	if (!eq) {
		perr(p, "expected 'key = value', got '%s'", line);
		return;
	}
	*eq = '\0';
	char *key = trim(line), *value = trim(eq + 1);
	if (p->section == SEC_NONE) {
		if (!p->source)
			perr(p, "key '%s' outside a section", key);
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (keys[i].section != p->section || strcmp(keys[i].name, key))
			continue;
		void *base = p->section == SEC_SOURCE ? (void *)p->source : (void *)cfg;
		set_value(p, base, &keys[i], value);
		return;
	}
	perr(p, "unknown key '%s'", key);
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
			p->section = SEC_NONE;
			p->source = NULL;
			return;
		}
		*close = '\0';
		start_section(p, cfg, trim(line + 1));
		return;
	}
	parse_assignment(p, cfg, line);
}

/*
 * A file that group or others can write is refused: whoever can change it
 * can point the job at another warehouse or leak its token.
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
		buf_addf(errs, "%s: %s '%s' is writable by group or others; run 'chmod go-w %s'\n",
			 where, what, path, path);
		return 1;
	}
	if (st.st_mode & (S_IRGRP | S_IROTH))
		buf_addf(warns, "%s: %s '%s' is readable by group or others\n",
			 where, what, path);
	return 0;
}

static char *read_token_file(const char *path, struct buf *errs, const char *where)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		buf_addf(errs, "%s: cannot read token file '%s': %s\n", where, path,
			 strerror(errno));
		return NULL;
	}
	char line[4096];
	char *tok = NULL;
	if (fgets(line, sizeof(line), f))
		tok = xstrdup(trim(line));
	fclose(f);
	if (!tok || !*tok) {
		buf_addf(errs, "%s: token file '%s' is empty\n", where, path);
		free(tok);
		return NULL;
	}
	return tok;
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

static int check_source(const char *path, struct source_cfg *s, struct buf *errs,
			struct buf *warns)
{
	int n = 0;
	char where[512];
	snprintf(where, sizeof(where), "%s:%d", path, s->line);
	if (!s->url) {
		buf_addf(errs, "%s: source '%s' has no url\n", where, s->name);
		n++;
	} else if (strncmp(s->url, "http://", 7) && strncmp(s->url, "https://", 8)) {
		buf_addf(errs, "%s: source '%s': url '%s' is not http:// or https://\n",
			 where, s->name, s->url);
		n++;
	}
	if (s->token_file && s->token_env) {
		buf_addf(errs, "%s: source '%s' has both token_file and token_env\n",
			 where, s->name);
		return n + 1;
	}
	if (s->token_file) {
		if (check_file_mode(s->token_file, "token file", errs, warns, where))
			return n + 1;
		s->token = read_token_file(s->token_file, errs, where);
		n += !s->token;
	} else if (s->token_env) {
		const char *v = getenv(s->token_env);
		if (!v || !*v) {
			buf_addf(errs, "%s: source '%s': environment variable '%s' is not set\n",
				 where, s->name, s->token_env);
			return n + 1;
		}
		s->token = xstrdup(v);
	}
	if (s->token && s->url && !strncmp(s->url, "http://", 7) && !is_loopback_url(s->url))
		buf_addf(warns, "%s: source '%s' sends its token over plain http:// to '%s'\n",
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

static void source_release(struct source_cfg *s)
{
	free(s->name);
	free(s->url);
	free(s->token_file);
	free(s->token_env);
	if (s->token) {
		/* the secret does not outlive its use */
		memset(s->token, 0, strlen(s->token));
		free(s->token);
	}
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
	free_list(cfg->personal_columns);
	memset(cfg, 0, sizeof(*cfg));
}

struct source_cfg *config_find_source(struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nsources; i++)
		if (!strcmp(cfg->sources[i].name, name))
			return &cfg->sources[i];
	return NULL;
}
