/*
 * config.h - the INI configuration (interfaces.md, "Configuration").
 *
 * config_load() reads the whole file and reports every problem it finds,
 * each with file:line, before it gives up (tmux's cfg.c does the same):
 * an operator fixing a file should not have to run the command five times.
 * Secrets are read here (token_file / token_env, client_secret_file /
 * client_secret_env) and live only in source_cfg.token and
 * source_cfg.client_secret; nothing prints those fields.
 */
#ifndef ONESTOP_CONFIG_H
#define ONESTOP_CONFIG_H

#include <stddef.h>

#include "buf.h"

/* The keys that say how a source authenticates, for their lines. */
enum auth_key {
	AUTH_TOKEN_FILE,
	AUTH_TOKEN_ENV,
	AUTH_TOKEN_URL,
	AUTH_CLIENT_ID,
	AUTH_SECRET_FILE,
	AUTH_SECRET_ENV,
	AUTH_SCOPE,
	AUTH_CLIENT_AUTH,
	AUTH_KEY_COUNT
};

struct source_cfg {
	char *name;
	char *url;
	char *token_file;
	char *token_env;
	char *token; /* the secret itself, or NULL */
	/*
	 * OAuth2 client credentials (oauth.h), instead of a token: token_url
	 * set means the source uses them, and client_id and the secret are
	 * there too (config_load checks).
	 */
	char *token_url;
	char *client_id;
	char *client_secret_file;
	char *client_secret_env;
	char *client_secret; /* the secret itself, or NULL */
	char *scope;
	char *client_auth; /* "basic" (NULL too) or "body" */
	int auth_line[AUTH_KEY_COUNT]; /* where each was set; 0: not set */
	char *ca_file;
	long page_size;
	long timeout;
	int retries;
	double retry_delay;
	long deadline; /* seconds for the whole source run; 0 = none */
	int line;      /* where its section starts */
};

struct config {
	char *path;
	char *dsn; /* NULL: libpq takes the PG* environment */
	long lock_wait;		/* seconds a writer waits for the lock; 0: none */
	long statement_timeout; /* seconds a reader's query may take; 0: no limit */
	char *calendar;
	char *profiles;
	char *lineage; /* NULL: no unit ended (rules.md, "Units across ...") */
	int office_close; /* minutes after midnight */
	long lookback;
	double max_reject_pct;
	long min_rejects;
	int parallel;
	char **personal_columns; /* NULL-terminated, never NULL itself */
	/* [report]: form 06's "Đơn vị báo cáo" (province-wide) and "Đơn vị
	 * nhận báo cáo"; NULL or "" when not set */
	char *reporting_body;
	char *recipient;
	struct source_cfg *sources;
	size_t nsources;
};

/*
 * The path to read: explicit, else $ONESTOP_ETL_CONFIG, else the system
 * file.
 */
const char *config_default_path(const char *explicit_path);

/*
 * Load and check the file.  Every problem goes to errs as one line
 * ("file:line: message\n"); warnings (a file others can read, a token
 * sent over plain http) go to warns, each line starting "warning: " and
 * saying the fix where there is one.  Returns the number of errors:
 * 0 means cfg is ready to use.  Call config_release() in every case.
 */
int config_load(const char *path, struct config *cfg, struct buf *errs,
		struct buf *warns);
void config_release(struct config *cfg);

/*
 * Suggestions for a mistyped name ("did you mean ...?"), for the
 * configuration and for the names score and report are given.
 *
 * config_edit_distance: the number of letters inserted, deleted, changed
 * or swapped with a neighbour that turn a into b, ASCII case ignored;
 * INT_MAX when either is longer than CONFIG_NAME_MAX bytes.
 * config_nearest: the first of the n names (NULL entries skipped) nearest
 * to word, if close enough to be a typo of it (at most 2 edits, 1 for a
 * word of up to 3 letters); else NULL.
 */
#define CONFIG_NAME_MAX 64
int config_edit_distance(const char *a, const char *b);
const char *config_nearest(const char *word, const char *const *names,
			   size_t n);

/* The source named name, or NULL. */
struct source_cfg *config_find_source(struct config *cfg, const char *name);

#endif
