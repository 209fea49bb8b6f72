#include "term.h"
#include "utf8.h"

#include <stdio.h>
#include <string.h>

/*
 * The character at s (len bytes left, len > 0): its code point and byte
 * length, or -1 and length 1 for a byte that starts no valid character.
 */
static long next_char(const unsigned char *s, size_t len, size_t *clen)
{
	*clen = utf8_char_len(s, len);
	if (*clen == 0) {
		*clen = 1;
		return -1;
	}
	if (*clen == 1)
		return s[0];
	long cp = s[0] & (0x7f >> *clen);
	for (size_t i = 1; i < *clen; i++)
		cp = cp << 6 | (s[i] & 0x3f);
	return cp;
}

static bool is_control(long cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

/* TAB, LF, VT, FF, CR: they lay text out and mean nothing else. */
static bool is_layout(long cp)
{
	return cp >= '\t' && cp <= '\r';
}

/* Append one piece; false once the cap is reached. */
static bool put(struct buf *out, const void *p, size_t len)
{
	return buf_add(out, p, len) == 0;
}

/* A character shown, not obeyed: "\u009b" for a code point, "\x1b" for a byte. */
static bool put_escape(struct buf *out, bool code_point, unsigned value)
{
	char esc[8];
	int n = code_point ? snprintf(esc, sizeof(esc), "\\u%04x", value)
			   : snprintf(esc, sizeof(esc), "\\x%02x", value);
	return put(out, esc, (size_t)n);
}

void term_clean(struct buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t left = strlen(s), clen;
	bool room = true;
	for (; left && room; p += clen, left -= clen) {
		long cp = next_char(p, left, &clen);
		if (cp < 0)
			room = put_escape(out, false, *p);
		else if (is_layout(cp))
			room = put(out, " ", 1);
		else if (cp < 0x20 || cp == 0x7f)
			room = put_escape(out, false, (unsigned)cp);
		else if (is_control(cp))
			room = put_escape(out, true, (unsigned)cp);
		else
			room = put(out, p, clen);
	}
}

size_t term_escaped_cap(const char *s)
{
	return 8 * strlen(s) + 16;
}

const char *term_shown(struct buf *b, const char *s)
{
	buf_init(b, term_escaped_cap(s));
	term_clean(b, s);
	return buf_str(b);
}

void term_json_string(struct buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t left = strlen(s), clen;
	bool room = put(out, "\"", 1);
	for (; left && room; p += clen, left -= clen) {
		long cp = next_char(p, left, &clen);
		if (cp < 0)
			room = put(out, "\xef\xbf\xbd", 3); /* U+FFFD */
		else if (cp == '"' || cp == '\\')
			room = put(out, "\\", 1) && put(out, p, 1);
		else if (is_control(cp))
			room = put_escape(out, true, (unsigned)cp);
		else
			room = put(out, p, clen);
	}
	if (room)
		put(out, "\"", 1);
}

/*
 * Spreadsheets run a cell that starts with one of these as a formula;
 * TAB and CR because some strip them first (OWASP, "CSV injection").
 */
static bool formula_lead(const char *s)
{
	return *s && strchr("=+-@\t\r", *s);
}

void term_csv_cell(struct buf *out, const char *s, bool is_text)
{
	struct buf clean;
	buf_init(&clean, out->cap);
	if (is_text && formula_lead(s))
		buf_addc(&clean, '\'');
	term_clean(&clean, s);
	const char *c = buf_str(&clean);
	if (strpbrk(c, ",\"")) {
		bool room = put(out, "\"", 1);
		for (; *c && room; c++)
			room = (*c != '"' || put(out, "\"", 1)) && put(out, c, 1);
		if (room)
			put(out, "\"", 1);
	} else {
		put(out, c, clean.len);
	}
	buf_release(&clean);
}

void term_csv_put(FILE *out, const char *s, bool is_text, bool last)
{
	struct buf b;
	buf_init(&b, term_escaped_cap(s));
	term_csv_cell(&b, s, is_text);
	fputs(buf_str(&b), out);
	fputc(last ? '\n' : ',', out);
	buf_release(&b);
}
