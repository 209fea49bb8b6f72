/*
 * The strict JSON reader (json.c) and what oauth.c makes of a token
 * endpoint's answer, on hostile inputs: nesting, escapes, \u sequences,
 * huge numbers, duplicate names, trailing garbage, the size cap.
 */
#include "json.h"
#include "oauth.h"
#include "testhelp.h"

#include <stdlib.h>

/* 0 or -1; the message in err (reset first) */
static int read_text(const char *text, size_t len, struct json_object *obj,
		     struct buf *err)
{
	buf_reset(err);
	return json_object_read(obj, text, len, err);
}

static int refused(const char *text, const char *why)
{
	struct json_object obj;
	struct buf err;
	buf_init(&err, ERR_CAP);
	int rc = read_text(text, strlen(text), &obj, &err);
	int ok = rc < 0 && strstr(buf_str(&err), why) != NULL;
	if (!ok)
		fprintf(stderr, "  for %.60s: rc %d, '%s' (want '%s')\n", text, rc,
			buf_str(&err), why);
	json_object_release(&obj);
	buf_release(&err);
	return ok;
}

static void test_a_token_answer(void)
{
	const char *text = "\xEF\xBB\xBF { \"access_token\" : \"eyJ.a-b_c\",\r\n"
			   "\"token_type\":\"Bearer\", \"expires_in\":3600,"
			   " \"scope\":\"am_application_scope default\","
			   " \"nested\": {\"a\": [1, 2.5e-3, -0, true, false, null, {}]},"
			   " \"list\": [] }\n";
	struct json_object obj;
	struct buf err;
	buf_init(&err, ERR_CAP);
	CHECK_INT(read_text(text, strlen(text), &obj, &err), 0);
	CHECK_STR(buf_str(&err), "");
	CHECK_INT((long long)obj.n, 6);
	CHECK_STR(json_get(&obj, "access_token")->value, "eyJ.a-b_c");
	CHECK_STR(json_get(&obj, "expires_in")->value, "3600");
	CHECK_INT(json_get(&obj, "expires_in")->type, JSON_NUMBER);
	CHECK_INT(json_get(&obj, "nested")->type, JSON_OBJECT);
	CHECK(json_get(&obj, "nested")->value == NULL);
	CHECK_INT(json_get(&obj, "list")->type, JSON_ARRAY);
	CHECK(json_get(&obj, "missing") == NULL);
	json_object_release(&obj);
	CHECK_INT(read_text("{}", 2, &obj, &err), 0);
	CHECK_INT((long long)obj.n, 0);
	json_object_release(&obj);
	buf_release(&err);
}

static void test_escapes(void)
{
	const char *text = "{\"s\":\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t"
			   "\\u0041\\u00e9\\u1EA1\\ud83d\\ude00\"}";
	struct json_object obj;
	struct buf err;
	buf_init(&err, ERR_CAP);
	CHECK_INT(read_text(text, strlen(text), &obj, &err), 0);
	CHECK_STR(json_get(&obj, "s")->value,
		  "a\"b\\c/d\b\f\n\r\tA\xC3\xA9\xE1\xBA\xA1\xF0\x9F\x98\x80");
	json_object_release(&obj);
	/* a name written with escapes is the same name */
	text = "{\"\\u0061ccess_token\":\"x\"}";
	CHECK_INT(read_text(text, strlen(text), &obj, &err), 0);
	CHECK(json_get(&obj, "access_token") != NULL);
	json_object_release(&obj);
	buf_release(&err);

	CHECK(refused("{\"s\":\"\\ud83d\"}", "high surrogate without a low"));
	CHECK(refused("{\"s\":\"\\ud83d\\u0041\"}", "high surrogate without a low"));
	CHECK(refused("{\"s\":\"\\ude00\"}", "low surrogate without a high"));
	CHECK(refused("{\"s\":\"\\u12\"}", "four hex digits"));
	CHECK(refused("{\"s\":\"\\u12G4\"}", "four hex digits"));
	CHECK(refused("{\"s\":\"a\\u0000b\"}", "\\u0000"));
	CHECK(refused("{\"s\":\"\\x41\"}", "unknown escape"));
	CHECK(refused("{\"s\":\"\\'\"}", "unknown escape"));
	CHECK(refused("{\"s\":\"tab\there\"}", "control character"));
	CHECK(refused("{\"s\":\"line\nbreak\"}", "control character"));
	CHECK(refused("{\"s\":\"\xC3\x28\"}", "invalid UTF-8"));
	CHECK(refused("{\"s\":\"\xED\xA0\x80\"}", "invalid UTF-8")); /* a raw surrogate */
	CHECK(refused("{\"s\":\"\xC0\xAF\"}", "invalid UTF-8"));     /* overlong */
	CHECK(refused("{\"s\":\"open", "ends inside a string"));
	CHECK(refused("{\"s\":\"open\\", "ends inside a string"));
}

static void test_numbers_and_literals(void)
{
	struct json_object obj;
	struct buf err;
	buf_init(&err, ERR_CAP);
	const char *huge = "{\"n\":123456789012345678901234567890123456789e999999}";
	CHECK_INT(read_text(huge, strlen(huge), &obj, &err), 0);
	CHECK_STR(json_get(&obj, "n")->value, "123456789012345678901234567890123456789e999999");
	json_object_release(&obj);
	buf_release(&err);
	CHECK(refused("{\"n\":01}", "leading zero"));
	CHECK(refused("{\"n\":+1}", "a value expected"));
	CHECK(refused("{\"n\":1.}", "digit expected after '.'"));
	CHECK(refused("{\"n\":.5}", "a value expected"));
	CHECK(refused("{\"n\":1e}", "exponent"));
	CHECK(refused("{\"n\":-}", "a value expected"));
	CHECK(refused("{\"n\":NaN}", "a value expected"));
	CHECK(refused("{\"n\":Infinity}", "a value expected"));
	CHECK(refused("{\"n\":0x10}", "'}' expected"));
	CHECK(refused("{\"n\":tru}", "a value expected"));
	CHECK(refused("{\"n\":True}", "a value expected"));
	CHECK(refused("{\"n\":nul}", "a value expected"));
}

static void test_structure(void)
{
	CHECK(refused("", "the text ends where '{' should be"));
	CHECK(refused("   ", "the text ends where '{' should be"));
	CHECK(refused("[]", "'{' expected"));
	CHECK(refused("\"access_token\"", "'{' expected"));
	CHECK(refused("{\"a\":1}{\"a\":2}", "text after the object"));
	CHECK(refused("{\"a\":1} x", "text after the object"));
	CHECK(refused("{\"a\":1,}", "'\"' expected"));
	CHECK(refused("{,}", "'\"' expected"));
	CHECK(refused("{\"a\" 1}", "':' expected"));
	CHECK(refused("{a:1}", "'\"' expected"));
	CHECK(refused("{'a':1}", "'\"' expected"));
	CHECK(refused("{\"a\":1", "the text ends where '}' should be"));
	CHECK(refused("{\"a\":[1,2}", "']' expected"));
	CHECK(refused("{\"a\":[1,]}", "a value expected"));
	CHECK(refused("{\"a\":{\"b\"}}", "':' expected"));
	/* the same name twice: which one the server meant is a guess */
	CHECK(refused("{\"access_token\":\"a\",\"access_token\":\"b\"}",
		      "the name 'access_token' comes twice"));
	CHECK(refused("{\"t\":1,\"\\u0074\":2}", "comes twice"));
	CHECK(refused("{\"x\\ny\":1,\"x\\ny\":2}", "the name '(not shown)' comes twice"));
	/* a NUL after the object is not the end of the text */
	struct json_object obj;
	struct buf err;
	buf_init(&err, ERR_CAP);
	CHECK_INT(read_text("{\"a\":1}\0", 8, &obj, &err), -1);
	CHECK(strstr(buf_str(&err), "text after the object") != NULL);
	json_object_release(&obj);
	/* nested keys may repeat the top level's: only the top level counts */
	const char *text = "{\"a\":{\"a\":1,\"b\":{\"a\":2}},\"b\":3}";
	CHECK_INT(read_text(text, strlen(text), &obj, &err), 0);
	json_object_release(&obj);
	buf_release(&err);
}

static void test_caps(void)
{
	struct json_object obj;
	struct buf err, text;
	buf_init(&err, ERR_CAP);
	buf_init(&text, 4 * JSON_MAX_BYTES);

	/* nesting: the limit passes, one more is refused, a million too */
	for (int depth = JSON_MAX_DEPTH; depth <= JSON_MAX_DEPTH + 1; depth++) {
		buf_reset(&text);
		buf_adds(&text, "{\"a\":");
		for (int i = 0; i < depth; i++)
			buf_adds(&text, i % 2 ? "{\"k\":" : "[");
		buf_adds(&text, "1");
		for (int i = depth - 1; i >= 0; i--)
			buf_adds(&text, i % 2 ? "}" : "]");
		buf_adds(&text, "}");
		int rc = read_text(text.data, text.len, &obj, &err);
		CHECK_INT(rc, depth == JSON_MAX_DEPTH ? 0 : -1);
		if (rc < 0)
			CHECK(strstr(buf_str(&err), "nested deeper than") != NULL);
		json_object_release(&obj);
	}
	buf_reset(&text);
	buf_adds(&text, "{\"a\":");
	for (int i = 0; i < 30000; i++)
		buf_addc(&text, '[');
	CHECK_INT(read_text(text.data, text.len, &obj, &err), -1);
	CHECK(strstr(buf_str(&err), "nested deeper than") != NULL);
	json_object_release(&obj);

	/* members */
	buf_reset(&text);
	buf_addc(&text, '{');
	for (int i = 0; i <= JSON_MAX_MEMBERS; i++)
		buf_addf(&text, "%s\"m%d\":%d", i ? "," : "", i, i);
	buf_addc(&text, '}');
	CHECK_INT(read_text(text.data, text.len, &obj, &err), -1);
	CHECK(strstr(buf_str(&err), "more than 64 members") != NULL);
	json_object_release(&obj);

	/* size: a long token passes, a text over the cap does not */
	buf_reset(&text);
	buf_adds(&text, "{\"access_token\":\"");
	while (text.len < JSON_MAX_BYTES - 2)
		buf_addc(&text, 'x');
	buf_adds(&text, "\"}");
	CHECK_INT(read_text(text.data, text.len, &obj, &err), 0);
	json_object_release(&obj);
	buf_addc(&text, ' ');
	CHECK_INT(read_text(text.data, text.len, &obj, &err), -1);
	CHECK(strstr(buf_str(&err), "over 65536 bytes") != NULL);
	json_object_release(&obj);
	buf_release(&text);
	buf_release(&err);
}

/* oauth_read_answer on status s and body b: 0 / -1, token, expires_in */
static int answer(long s, const char *b, char **token, long *expires_in,
		  struct buf *err)
{
	buf_reset(err);
	free(*token);
	*token = NULL;
	return oauth_read_answer(s, b, strlen(b), token, expires_in, err);
}

static void test_token_answers(void)
{
	struct buf err;
	char *tok = NULL;
	long exp;
	buf_init(&err, ERR_CAP);

	CHECK_INT(answer(200, "{\"access_token\":\"abc\",\"token_type\":\"BeArEr\","
			      "\"expires_in\":3600}", &tok, &exp, &err), 0);
	CHECK_STR(tok, "abc");
	CHECK_INT(exp, 3600);
	/* expires_in: absent, as digits, huge, 0, negative, fraction, a word */
	CHECK_INT(answer(200, "{\"access_token\":\"abc\",\"token_type\":\"bearer\"}",
			 &tok, &exp, &err), 0);
	CHECK_INT(exp, -1);
	CHECK_INT(answer(200, "{\"access_token\":\"a\",\"token_type\":\"Bearer\","
			      "\"expires_in\":\"300\"}", &tok, &exp, &err), 0);
	CHECK_INT(exp, 300);
	CHECK_INT(answer(200, "{\"access_token\":\"a\",\"token_type\":\"Bearer\","
			      "\"expires_in\":99999999999999999999999999999}",
			 &tok, &exp, &err), 0);
	CHECK_INT(exp, 366L * 86400);
	CHECK_INT(answer(200, "{\"access_token\":\"a\",\"token_type\":\"Bearer\","
			      "\"expires_in\":0}", &tok, &exp, &err), -1);
	CHECK(strstr(buf_str(&err), "expires_in is 0") != NULL);
	CHECK_INT(answer(200, "{\"access_token\":\"a\",\"token_type\":\"Bearer\","
			      "\"expires_in\":-5}", &tok, &exp, &err), -1);
	CHECK(strstr(buf_str(&err), "not a whole number of seconds") != NULL);
	CHECK_INT(answer(200, "{\"access_token\":\"a\",\"token_type\":\"Bearer\","
			      "\"expires_in\":1.5e3}", &tok, &exp, &err), -1);
	CHECK_INT(answer(200, "{\"access_token\":\"a\",\"token_type\":\"Bearer\","
			      "\"expires_in\":[3600]}", &tok, &exp, &err), -1);
	CHECK(strstr(buf_str(&err), "expires_in is an array") != NULL);
	CHECK(tok == NULL);
	/* the token itself */
	CHECK_INT(answer(200, "{\"token_type\":\"Bearer\"}", &tok, &exp, &err), -1);
	CHECK(strstr(buf_str(&err), "no access_token") != NULL);
	CHECK_INT(answer(200, "{\"access_token\":\"\",\"token_type\":\"Bearer\"}", &tok,
			 &exp, &err), -1);
	CHECK_INT(answer(200, "{\"access_token\":42,\"token_type\":\"Bearer\"}", &tok,
			 &exp, &err), -1);
	CHECK_INT(answer(200, "{\"access_token\":\"a\\r\\nX-Evil: 1\",\"token_type\":"
			      "\"Bearer\"}", &tok, &exp, &err), -1);
	CHECK(strstr(buf_str(&err), "control character") != NULL);
	CHECK(strstr(buf_str(&err), "X-Evil") == NULL);
	CHECK_INT(answer(200, "{\"access_token\":\"a b\",\"token_type\":\"Bearer\"}", &tok,
			 &exp, &err), -1);
	CHECK_INT(answer(200, "{\"access_token\":\"s3cr3t-tok\",\"token_type\":\"mac\"}",
			 &tok, &exp, &err), -1);
	CHECK_STR(buf_str(&err), "token_type 'mac' is not Bearer");
	CHECK_INT(answer(200, "{\"access_token\":\"s3cr3t-tok\"}", &tok, &exp, &err), -1);
	CHECK(strstr(buf_str(&err), "no token_type") != NULL);
	/* not JSON: the message names a byte, never the text */
	CHECK_INT(answer(200, "access_token=s3cr3t-tok&token_type=bearer", &tok, &exp,
			 &err), -1);
	CHECK(strstr(buf_str(&err), "not one JSON object") != NULL);
	CHECK(strstr(buf_str(&err), "s3cr3t") == NULL);
	CHECK_INT(answer(200, "{\"access_token\":\"s3cr3t-tok\",\"token_type\":\"Bearer\"} x",
			 &tok, &exp, &err), -1);
	CHECK(strstr(buf_str(&err), "s3cr3t") == NULL);

	/* refusals: RFC 6749 §5.2, or a plain body */
	CHECK_INT(answer(401, "{\"error\":\"invalid_client\",\"error_description\":"
			      "\"Client Authentication failed.\"}", &tok, &exp, &err), -1);
	CHECK_STR(buf_str(&err), "HTTP 401: invalid_client: the client_id or the client "
				 "secret is wrong (the server says: Client Authentication failed.)");
	CHECK_INT(answer(400, "{\"error\":\"invalid_scope\"}", &tok, &exp, &err), -1);
	CHECK_STR(buf_str(&err), "HTTP 400: invalid_scope: the scope asked for was refused");
	CHECK_INT(answer(401, "Unauthorized", &tok, &exp, &err), -1);
	CHECK_STR(buf_str(&err), "HTTP 401: the client_id or the client secret is wrong");
	CHECK_INT(answer(400, "{\"error\":\"x\\u001b[31mred\"}", &tok, &exp, &err), -1);
	CHECK(strchr(buf_str(&err), 0x1b) == NULL);
	CHECK_INT(answer(404, "<html>not here</html>", &tok, &exp, &err), -1);
	CHECK_STR(buf_str(&err), "HTTP 404 from the token endpoint");
	free(tok);
	buf_release(&err);
}

static void test_form_encoding(void)
{
	struct buf b;
	buf_init(&b, 1024);
	/* RFC 6749 Appendix B: what Basic's halves are before Base64 */
	oauth_form_encode(&b, "a b+c:d%e/é*-._~");
	CHECK_STR(buf_str(&b), "a+b%2Bc%3Ad%25e%2F%C3%A9*-._%7E");
	buf_release(&b);
}

int main(void)
{
	test_a_token_answer();
	test_escapes();
	test_numbers_and_literals();
	test_structure();
	test_caps();
	test_token_answers();
	test_form_encoding();
	TEST_REPORT();
}
