/*
 * oauth.c - the client-credentials grant: one POST, one JSON object.
 *
 * Every buffer that held the secret or a token is wiped before it is
 * freed: the form, the Basic header, the answer, the parsed object.
 */
#include "oauth.h"

#include "json.h"
#include "log.h"
#include "util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ANSWER_MAX JSON_MAX_BYTES
#define EXPIRES_MAX (366L * 86400) /* a longer life is taken as a year */
#define SHOWN_MAX 120		   /* bytes of a server's word in a message */

/*
 * Room for n bytes at once: a buffer that grows leaves a copy of the
 * secret in the memory realloc gives back, where wipe() cannot reach it.
 */
static void reserve(struct buf *b, size_t n)
{
	char *zeros = xcalloc(1, n);

	buf_add(b, zeros, n);
	buf_reset(b);
	free(zeros);
}

static void wipe(struct buf *b)
{
	if (b->data)
		explicit_bzero(b->data, b->alloc);
	buf_release(b);
}

void oauth_form_encode(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("*-._", *p)) {
			buf_addc(b, (char)*p);
		} else if (*p == ' ') {
			buf_addc(b, '+');
		} else {
			buf_addc(b, '%');
			buf_addc(b, hex[*p >> 4]);
			buf_addc(b, hex[*p & 15]);
		}
	}
}

static void base64(struct buf *out, const unsigned char *in, size_t len)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16;
		size_t n = len - i < 3 ? len - i : 3;
		if (n > 1)
			v |= (unsigned)in[i + 1] << 8;
		if (n > 2)
			v |= in[i + 2];
		buf_addc(out, abc[(v >> 18) & 63]);
		buf_addc(out, abc[(v >> 12) & 63]);
		buf_addc(out, n > 1 ? abc[(v >> 6) & 63] : '=');
		buf_addc(out, n > 2 ? abc[v & 63] : '=');
	}
}

/* A server's word, as printable ASCII of bounded length. */
static void add_shown(struct buf *b, const char *s, size_t len)
{
	size_t n = len < SHOWN_MAX ? len : SHOWN_MAX;

	for (size_t i = 0; i < n; i++)
		buf_addc(b, s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?');
	if (n < len)
		buf_adds(b, "...");
}

static const char *error_meaning(const char *code, long status)
{
	static const char *const meanings[][2] = {
	    {"invalid_client", "the client_id or the client secret is wrong"},
	    {"invalid_grant", "the grant was refused"},
	    {"unauthorized_client",
	     "this client may not use the client-credentials grant"},
	    {"unsupported_grant_type",
	     "the endpoint does not offer the client-credentials grant"},
	    {"invalid_scope", "the scope asked for was refused"},
	    {"invalid_request",
	     "the request was refused (does the gateway want client_auth = "
	     "body, or basic?)"},
	};

	for (size_t i = 0; code && i < ARRAY_SIZE(meanings); i++)
		if (!strcmp(code, meanings[i][0]))
			return meanings[i][1];
	return status == 401 ? "the client_id or the client secret is wrong"
			     : "the token request was refused";
}

/* RFC 6749 §5.2: error and error_description, if the body has them. */
static void refused(long status, const char *body, size_t len,
		    struct buf *err)
{
	struct json_object obj;
	struct buf ignored;
	const struct json_member *code = NULL, *desc = NULL;

	buf_init(&ignored, ERR_CAP);
	if (json_object_read(&obj, body, len, &ignored) == 0) {
		code = json_get(&obj, "error");
		desc = json_get(&obj, "error_description");
		if (code && code->type != JSON_STRING)
			code = NULL;
		if (desc && desc->type != JSON_STRING)
			desc = NULL;
	}
	buf_addf(err, "HTTP %ld: ", status);
	if (code) {
		add_shown(err, code->value, code->value_len);
		buf_adds(err, ": ");
	}
	buf_adds(err, error_meaning(code ? code->value : NULL, status));
	if (desc) {
		buf_adds(err, " (the server says: ");
		add_shown(err, desc->value, desc->value_len);
		buf_addc(err, ')');
	}
	json_object_release(&obj);
	buf_release(&ignored);
}

/* expires_in: a whole number of seconds, as a number or as digits. */
static int read_expires_in(const struct json_member *m, long *expires_in,
			   struct buf *err)
{
	const char *v = m->value;
	size_t n = v ? strspn(v, "0123456789") : 0;

	if ((m->type != JSON_NUMBER && m->type != JSON_STRING) || !n ||
	    v[n]) {
		buf_addf(err, "expires_in is %s, not a whole number of seconds",
			 m->type == JSON_NUMBER ? "a number with a sign, "
						  "fraction or exponent"
						: json_type_name(m->type));
		return -1;
	}
	while (n > 1 && *v == '0') { /* "0000000000000000000001" is 1 */
		v++;
		n--;
	}
	*expires_in = n > 9 ? EXPIRES_MAX : strtol(v, NULL, 10);
	if (*expires_in > EXPIRES_MAX)
		*expires_in = EXPIRES_MAX;
	if (*expires_in == 0) {
		buf_adds(err, "expires_in is 0: the token would expire at once");
		return -1;
	}
	return 0;
}

static int granted(const char *body, size_t len, char **token,
		   long *expires_in, struct buf *err)
{
	struct json_object obj;
	const struct json_member *tok, *type, *exp;
	int rc = -1;

	if (json_object_read(&obj, body, len, err) < 0) {
		buf_adds(err, " (the answer is not one JSON object)");
		goto out;
	}
	tok = json_get(&obj, "access_token");
	type = json_get(&obj, "token_type");
	exp = json_get(&obj, "expires_in");
	if (!tok || tok->type != JSON_STRING || !tok->value_len) {
		buf_adds(err, "the answer has no access_token string");
		goto out;
	}
	/* it goes into a header line: no byte a header could not carry */
	for (size_t i = 0; i < tok->value_len; i++)
		if ((unsigned char)tok->value[i] <= 0x20 || tok->value[i] == 0x7f) {
			buf_adds(err, "the access_token holds a space or a "
				      "control character");
			goto out;
		}
	if (!type || type->type != JSON_STRING) {
		buf_adds(err, "the answer has no token_type string");
		goto out;
	}
	if (strcasecmp(type->value, "bearer")) {
		buf_adds(err, "token_type '");
		add_shown(err, type->value, type->value_len);
		buf_adds(err, "' is not Bearer");
		goto out;
	}
	*expires_in = -1;
	if (exp && exp->type != JSON_NULL &&
	    read_expires_in(exp, expires_in, err) < 0)
		goto out;
	*token = xstrndup(tok->value, tok->value_len);
	rc = 0;
out:
	json_object_release(&obj);
	return rc;
}

int oauth_read_answer(long status, const char *body, size_t len, char **token,
		      long *expires_in, struct buf *err)
{
	*token = NULL;
	*expires_in = -1;
	if (status == 200)
		return granted(body, len, token, expires_in, err);
	if (status == 400 || status == 401)
		refused(status, body, len, err);
	else
		buf_addf(err, "HTTP %ld from the token endpoint", status);
	return -1;
}

/* The form, and the Basic header line when the client's pair goes there. */
static void build_request(const struct oauth_params *p, struct buf *form,
			  struct buf *header)
{
	buf_adds(form, "grant_type=client_credentials");
	if (p->scope && *p->scope) {
		buf_adds(form, "&scope=");
		oauth_form_encode(form, p->scope);
	}
	if (p->auth_in_body) {
		buf_adds(form, "&client_id=");
		oauth_form_encode(form, p->client_id);
		buf_adds(form, "&client_secret=");
		oauth_form_encode(form, p->client_secret);
		return;
	}
	/* RFC 6749 §2.3.1: each of the pair form-encoded, then Base64 */
	struct buf pair;
	buf_init(&pair, SIZE_MAX / 2);
	reserve(&pair, form->alloc);
	oauth_form_encode(&pair, p->client_id);
	buf_addc(&pair, ':');
	oauth_form_encode(&pair, p->client_secret);
	buf_adds(header, "Authorization: Basic ");
	base64(header, (const unsigned char *)pair.data, pair.len);
	wipe(&pair);
}

static int request_token(struct oauth_client *c, struct buf *err)
{
	struct buf form, header, answer, why;
	char *token = NULL, *shown;
	long status = 0, expires_in = -1;
	double asked = monotonic_seconds();
	int rc = -1;

	buf_init(&form, SIZE_MAX / 2);
	buf_init(&header, SIZE_MAX / 2);
	buf_init(&answer, ANSWER_MAX);
	buf_init(&why, ERR_CAP);
	/* three bytes for each of the pair's (%XX), Base64's third more */
	size_t room = 4 * (strlen(c->params.client_id) +
			   strlen(c->params.client_secret) +
			   (c->params.scope ? strlen(c->params.scope) : 0)) +
		      256;
	reserve(&form, room);
	reserve(&header, room);
	reserve(&answer, 4096);
	build_request(&c->params, &form, &header);
	if (http_post_form(&c->http, c->params.token_url, buf_str(&form),
			   header.len ? buf_str(&header) : NULL, &status,
			   &answer, err) < 0)
		goto out;
	if (oauth_read_answer(status, answer.data ? answer.data : "",
			      answer.len, &token, &expires_in, &why) < 0) {
		shown = http_shown_url(c->params.token_url);
		buf_addf(err, "source '%s': token endpoint %s: %s",
			 c->http.name, shown, buf_str(&why));
		free(shown);
		goto out;
	}
	if (c->token) {
		explicit_bzero(c->token, strlen(c->token));
		free(c->token);
	}
	c->token = token;
	c->tokens++;
	c->renew_at = 0;
	if (expires_in > 0)
		c->renew_at = asked + (double)expires_in -
			      (expires_in >= 2 * OAUTH_RENEW_MARGIN
				   ? OAUTH_RENEW_MARGIN
				   : (double)expires_in / 2);
	if (expires_in > 0)
		log_info(c->http.name, NULL, "%s (expires in %ld s)",
			 c->tokens == 1 ? "token obtained" : "token renewed",
			 expires_in);
	else
		log_info(c->http.name, NULL, "%s (no expires_in: used until refused)",
			 c->tokens == 1 ? "token obtained" : "token renewed");
	rc = 0;
out:
	wipe(&form);
	wipe(&header);
	wipe(&answer);
	buf_release(&why);
	return rc;
}

const char *oauth_token(struct oauth_client *c, int renew, struct buf *err)
{
	struct buf mine;
	int rc;

	if (c->token && !renew &&
	    (c->renew_at <= 0 || monotonic_seconds() < c->renew_at))
		return c->token;
	if (c->token && !renew)
		log_debug(c->http.name, NULL, "the token is due for renewal");
	/* a server that echoes the secret must not put it in a message */
	buf_init(&mine, ERR_CAP);
	rc = request_token(c, &mine);
	if (rc < 0) {
		size_t n = strlen(c->params.client_secret);
		char *hit;
		while (n >= 4 && mine.data &&
		       (hit = memmem(mine.data, mine.len,
				     c->params.client_secret, n)) != NULL)
			memset(hit, '*', n);
		buf_adds(err, buf_str(&mine));
	}
	buf_release(&mine);
	return rc < 0 ? NULL : c->token;
}

static const char *provide(void *ctx, int renew, struct buf *err)
{
	return oauth_token(ctx, renew, err);
}

static const char *secret(void *ctx)
{
	return ((struct oauth_client *)ctx)->params.client_secret;
}

void oauth_init(struct oauth_client *c, const struct oauth_params *p,
		const struct http_source *http)
{
	memset(c, 0, sizeof(*c));
	c->params = *p;
	c->http = *http;
	c->http.url = NULL;
	c->http.token = NULL;
	c->http.auth = NULL;
	c->auth.ctx = c;
	c->auth.token = provide;
	c->auth.secret = secret;
}

void oauth_release(struct oauth_client *c)
{
	if (c->token) {
		explicit_bzero(c->token, strlen(c->token));
		free(c->token);
	}
	memset(c, 0, sizeof(*c));
}
