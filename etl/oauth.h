/*
 * oauth.h - a bearer token by the OAuth2 client-credentials grant (RFC
 * 6749 §4.4), for a source behind a gateway (LGSP) that hands out
 * short-lived tokens.
 *
 * One client per source run: the token lives here, in memory only, from
 * its first use to oauth_release(), which wipes it.  It is reused while
 * valid and renewed OAUTH_RENEW_MARGIN seconds before expires_in ends
 * (half-way through a token that lives less than twice that), and when
 * http.c says a page was refused (HTTP 401).  The token endpoint is
 * retried as a page is (http_post_form); a 400 or 401 from it means a
 * wrong client or secret and fails at once, naming the error of RFC 6749
 * §5.2.  Neither the secret nor a token ever reaches a message.
 */
#ifndef ONESTOP_OAUTH_H
#define ONESTOP_OAUTH_H

#include "buf.h"
#include "http.h"

#include <stdbool.h>

#define OAUTH_RENEW_MARGIN 60 /* seconds */

/* Borrowed for the client's life. */
struct oauth_params {
	const char *token_url;
	const char *client_id;
	const char *client_secret;
	const char *scope;	/* NULL or "": none asked for */
	bool auth_in_body;	/* client_auth = body; else HTTP Basic */
};

struct oauth_client {
	struct oauth_params params;
	struct http_source http; /* name, CA, timeouts, retries, deadline */
	struct http_auth auth;	 /* what http_source.auth points to */
	char *token;
	double renew_at;	 /* CLOCK_MONOTONIC; 0: only when refused */
	long tokens;		 /* obtained so far */
};

/*
 * http: the source's settings; its url, token and auth are not used.
 * Requests no token yet: the first comes with the first page.
 */
void oauth_init(struct oauth_client *c, const struct oauth_params *p,
		const struct http_source *http);
void oauth_release(struct oauth_client *c);

/*
 * The token to send (http_auth's contract): a new one when there is none,
 * when it is due for renewal, or with renew.  NULL with one line in err.
 */
const char *oauth_token(struct oauth_client *c, int renew, struct buf *err);

/*
 * Read a token endpoint's answer (exposed for the unit tests): on status
 * 200 the token, its type (Bearer only) and expires_in (-1 when absent)
 * into *token / *expires_in; otherwise the error of RFC 6749 §5.2 as a
 * message.  Returns 0, or -1 with one line in err.
 */
int oauth_read_answer(long status, const char *body, size_t len, char **token,
		      long *expires_in, struct buf *err);

/* application/x-www-form-urlencoded (RFC 6749 Appendix B) of s into b. */
void oauth_form_encode(struct buf *b, const char *s);

#endif
