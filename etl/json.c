/*
 * json.c - one JSON object, read strictly (see json.h).
 *
 * A recursive-descent reader over the whole text: the text is small
 * (JSON_MAX_BYTES), so nothing streams.  Only the top level's members are
 * kept; a nested value is read with the same rules and thrown away, its
 * depth bounded so that "[[[[...]]]]" cannot exhaust the stack.
 */
#include "json.h"

#include "utf8.h"
#include "util.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct reader {
	const unsigned char *start, *p, *end;
	struct buf *err;
	bool failed;
};

__attribute__((format(printf, 2, 3))) static int fail(struct reader *r,
						      const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	if (r->failed)
		return -1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	buf_addf(r->err, "JSON byte %zu: %s", (size_t)(r->p - r->start), msg);
	r->failed = true;
	return -1;
}

static void skip_space(struct reader *r)
{
	while (r->p < r->end &&
	       (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static int expect(struct reader *r, char c)
{
	skip_space(r);
	if (r->p >= r->end)
		return fail(r, "the text ends where '%c' should be", c);
	if (*r->p != (unsigned char)c)
		return fail(r, "'%c' expected", c);
	r->p++;
	return 0;
}

static int hex4(struct reader *r, unsigned *out)
{
	unsigned v = 0;

	if (r->end - r->p < 4)
		return fail(r, "\\u needs four hex digits");
	for (int i = 0; i < 4; i++) {
		unsigned char c = r->p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return fail(r, "\\u needs four hex digits");
	}
	r->p += 4;
	*out = v;
	return 0;
}

static void put_utf8(struct buf *b, unsigned cp)
{
	char s[4];
	size_t n;

	if (cp < 0x80) {
		s[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		s[0] = (char)(0xC0 | (cp >> 6));
		s[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		s[0] = (char)(0xE0 | (cp >> 12));
		s[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		s[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		s[0] = (char)(0xF0 | (cp >> 18));
		s[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		s[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		s[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	buf_add(b, s, n);
}

/* After "\u": one code point, a surrogate pair taken as one. */
static int unicode_escape(struct reader *r, struct buf *out)
{
	unsigned hi, lo;

	if (hex4(r, &hi) < 0)
		return -1;
	if (hi >= 0xDC00 && hi <= 0xDFFF)
		return fail(r, "a low surrogate without a high one");
	if (hi >= 0xD800 && hi <= 0xDBFF) {
		if (r->end - r->p < 2 || r->p[0] != '\\' || r->p[1] != 'u')
			return fail(r, "a high surrogate without a low one");
		r->p += 2;
		if (hex4(r, &lo) < 0)
			return -1;
		if (lo < 0xDC00 || lo > 0xDFFF)
			return fail(r, "a high surrogate without a low one");
		hi = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
	}
	if (hi == 0)
		return fail(r, "\\u0000 in a string");
	put_utf8(out, hi);
	return 0;
}

static int escape(struct reader *r, struct buf *out)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *hit;

	if (r->p >= r->end)
		return fail(r, "the text ends inside a string");
	if (*r->p == 'u') {
		r->p++;
		return unicode_escape(r, out);
	}
	hit = *r->p ? strchr(from, *r->p) : NULL;
	if (!hit)
		return fail(r, "unknown escape '\\%c'",
			    *r->p >= 0x20 && *r->p < 0x7f ? *r->p : '?');
	buf_addc(out, to[hit - from]);
	r->p++;
	return 0;
}

/* A string, decoded into out (NULL: checked only). */
static int string(struct reader *r, struct buf *out)
{
	struct buf scratch;
	int rc = -1;

	buf_init(&scratch, JSON_MAX_BYTES);
	if (!out)
		out = &scratch;
	if (expect(r, '"') < 0)
		goto done;
	for (;;) {
		size_t n;

		if (r->p >= r->end) {
			fail(r, "the text ends inside a string");
			goto done;
		}
		if (*r->p == '"') {
			r->p++;
			break;
		}
		if (*r->p == '\\') {
			r->p++;
			if (escape(r, out) < 0)
				goto done;
			continue;
		}
		if (*r->p < 0x20) {
			fail(r, "a control character in a string");
			goto done;
		}
		n = utf8_char_len(r->p, (size_t)(r->end - r->p));
		if (!n) {
			fail(r, "invalid UTF-8 in a string");
			goto done;
		}
		buf_add(out, r->p, n);
		r->p += n;
	}
	rc = 0;
done:
	if (scratch.data)
		explicit_bzero(scratch.data, scratch.len);
	buf_release(&scratch);
	return rc;
}

static bool is_digit(const struct reader *r)
{
	return r->p < r->end && *r->p >= '0' && *r->p <= '9';
}

/* The grammar of RFC 8259 §6; the value stays text, whatever its size. */
static int number(struct reader *r)
{
	if (r->p < r->end && *r->p == '-')
		r->p++;
	if (!is_digit(r))
		return fail(r, "a value expected");
	if (*r->p == '0') {
		r->p++;
		if (is_digit(r))
			return fail(r, "a number with a leading zero");
	}
	while (is_digit(r))
		r->p++;
	if (r->p < r->end && *r->p == '.') {
		r->p++;
		if (!is_digit(r))
			return fail(r, "a digit expected after '.'");
		while (is_digit(r))
			r->p++;
	}
	if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
		r->p++;
		if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
			r->p++;
		if (!is_digit(r))
			return fail(r, "a digit expected in the exponent");
		while (is_digit(r))
			r->p++;
	}
	return 0;
}

static int literal(struct reader *r, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n))
		return fail(r, "a value expected");
	r->p += n;
	return 0;
}

static int value(struct reader *r, int depth, enum json_type *type,
		 struct buf *text);

/* A nested object or array: read by the same rules, kept nowhere. */
static int container(struct reader *r, int depth, char open)
{
	char close = open == '{' ? '}' : ']';
	enum json_type ignored;

	if (depth > JSON_MAX_DEPTH)
		return fail(r, "nested deeper than %d", JSON_MAX_DEPTH);
	r->p++;
	skip_space(r);
	if (r->p < r->end && *r->p == (unsigned char)close) {
		r->p++;
		return 0;
	}
	for (;;) {
		if (open == '{' && (string(r, NULL) < 0 || expect(r, ':') < 0))
			return -1;
		if (value(r, depth + 1, &ignored, NULL) < 0)
			return -1;
		skip_space(r);
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			continue;
		}
		return expect(r, close);
	}
}

/* One value; a string's decoded text or a number's text into text. */
static int value(struct reader *r, int depth, enum json_type *type,
		 struct buf *text)
{
	const unsigned char *from;

	skip_space(r);
	if (r->p >= r->end)
		return fail(r, "the text ends where a value should be");
	switch (*r->p) {
	case '"':
		*type = JSON_STRING;
		return string(r, text);
	case '{':
		*type = JSON_OBJECT;
		return container(r, depth, '{');
	case '[':
		*type = JSON_ARRAY;
		return container(r, depth, '[');
	case 't':
		*type = JSON_TRUE;
		return literal(r, "true");
	case 'f':
		*type = JSON_FALSE;
		return literal(r, "false");
	case 'n':
		*type = JSON_NULL;
		return literal(r, "null");
	default:
		*type = JSON_NUMBER;
		from = r->p;
		if (number(r) < 0)
			return -1;
		if (text)
			buf_add(text, from, (size_t)(r->p - from));
		return 0;
	}
}

const struct json_member *json_get(const struct json_object *obj,
				   const char *name)
{
	for (size_t i = 0; i < obj->n; i++)
		if (!strcmp(obj->members[i].name, name))
			return &obj->members[i];
	return NULL;
}

static int member(struct reader *r, struct json_object *obj)
{
	struct json_member *m;
	struct buf name, text;
	enum json_type type;
	int rc = -1;

	buf_init(&name, JSON_MAX_BYTES);
	buf_init(&text, JSON_MAX_BYTES);
	if (string(r, &name) < 0 || expect(r, ':') < 0 ||
	    value(r, 1, &type, &text) < 0)
		goto out;
	/* a name of its own could hide a NUL: "a\u0000b" is refused above */
	if (json_get(obj, buf_str(&name))) {
		bool plain = name.len <= 40;
		for (size_t i = 0; plain && i < name.len; i++)
			plain = name.data[i] > 0x20 && name.data[i] < 0x7f;
		fail(r, "the name '%s' comes twice",
		     plain ? buf_str(&name) : "(not shown)");
		goto out;
	}
	if (obj->n >= JSON_MAX_MEMBERS) {
		fail(r, "more than %d members", JSON_MAX_MEMBERS);
		goto out;
	}
	obj->members = xrealloc(obj->members,
				(obj->n + 1) * sizeof(*obj->members));
	m = &obj->members[obj->n++];
	m->name = xstrdup(buf_str(&name));
	m->type = type;
	m->value = NULL;
	m->value_len = 0;
	if (type == JSON_STRING || type == JSON_NUMBER) {
		m->value = xstrndup(buf_str(&text), text.len);
		m->value_len = text.len;
	}
	rc = 0;
out:
	if (text.data)
		explicit_bzero(text.data, text.len);
	buf_release(&name);
	buf_release(&text);
	return rc;
}

int json_object_read(struct json_object *obj, const char *text, size_t len,
		     struct buf *err)
{
	struct reader r = {.start = (const unsigned char *)text,
			   .p = (const unsigned char *)text,
			   .end = (const unsigned char *)text + len,
			   .err = err};

	obj->members = NULL;
	obj->n = 0;
	if (len > JSON_MAX_BYTES) {
		buf_addf(err, "JSON text over %d bytes", JSON_MAX_BYTES);
		return -1;
	}
	/* a byte-order mark is not JSON, but harmless: RFC 8259 §8.1 */
	if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3))
		r.p += 3;
	if (expect(&r, '{') < 0)
		return -1;
	skip_space(&r);
	if (r.p < r.end && *r.p == '}') {
		r.p++;
	} else {
		for (;;) {
			if (member(&r, obj) < 0)
				return -1;
			skip_space(&r);
			if (r.p < r.end && *r.p == ',') {
				r.p++;
				continue;
			}
			if (expect(&r, '}') < 0)
				return -1;
			break;
		}
	}
	skip_space(&r);
	if (r.p != r.end)
		return fail(&r, "text after the object");
	return 0;
}

void json_object_release(struct json_object *obj)
{
	for (size_t i = 0; i < obj->n; i++) {
		struct json_member *m = &obj->members[i];
		if (m->value) {
			explicit_bzero(m->value, m->value_len);
			free(m->value);
		}
		free(m->name);
	}
	free(obj->members);
	obj->members = NULL;
	obj->n = 0;
}

const char *json_type_name(enum json_type type)
{
	static const char *const names[] = {
		[JSON_STRING] = "a string", [JSON_NUMBER] = "a number",
		[JSON_TRUE] = "true",	    [JSON_FALSE] = "false",
		[JSON_NULL] = "null",	    [JSON_OBJECT] = "an object",
		[JSON_ARRAY] = "an array",
	};
	return names[type];
}
