/*
 * json.h - a small, strict reader of one JSON object (RFC 8259): the
 * answer of an OAuth2 token endpoint (RFC 6749 §5.1 and §5.2), nothing
 * more general.
 *
 * json_object_read() takes the whole text and gives the object's members:
 * strings decoded to UTF-8 (escapes, \u with surrogate pairs), numbers
 * and the literals as their text, nested objects and arrays checked and
 * skipped (only their type is kept).  It refuses what a lenient reader
 * would have to guess at: a name given twice, anything but whitespace
 * after the object, a text over JSON_MAX_BYTES, nesting past
 * JSON_MAX_DEPTH, more than JSON_MAX_MEMBERS members, invalid UTF-8, a
 * raw control character, a lone surrogate or \u0000 in a string.
 *
 * Messages name a byte offset, never a value: the values are secrets.
 */
#ifndef ONESTOP_JSON_H
#define ONESTOP_JSON_H

#include "buf.h"

#include <stddef.h>

#define JSON_MAX_BYTES (64 * 1024)
#define JSON_MAX_DEPTH 16
#define JSON_MAX_MEMBERS 64

enum json_type {
	JSON_STRING,
	JSON_NUMBER,
	JSON_TRUE,
	JSON_FALSE,
	JSON_NULL,
	JSON_OBJECT,
	JSON_ARRAY,
};

struct json_member {
	char *name;	     /* decoded, NUL-terminated */
	enum json_type type;
	char *value;	     /* JSON_STRING: decoded; JSON_NUMBER: its text;
				otherwise NULL */
	size_t value_len;    /* a decoded string may hold no NUL, but says so */
};

struct json_object {
	struct json_member *members;
	size_t n;
};

/*
 * Read text[0..len) as one object.  Returns 0, or -1 with one line in err
 * (appended).  obj is usable (perhaps empty) either way; release it.
 */
int json_object_read(struct json_object *obj, const char *text, size_t len,
		     struct buf *err);

/* The member of that name, or NULL. */
const struct json_member *json_get(const struct json_object *obj,
				   const char *name);

/* Wipe every value (a token is one) and free them. */
void json_object_release(struct json_object *obj);

/* "a string", "a number", ... for messages. */
const char *json_type_name(enum json_type type);

#endif
