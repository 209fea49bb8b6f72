/*
 * buf.h - a growable byte buffer with a size cap (after curl's dynbuf).
 *
 * The cap is what keeps a runaway quoted field or an endless error body
 * from eating the machine: an append that would pass it fails and leaves
 * the buffer as it was.  The contents are always NUL-terminated, so
 * buf.data can be used as a C string when it holds text.
 *
 * buf_init / buf_release / buf_reset mean the same as everywhere in the
 * tree: init sets up an empty buffer, release frees its memory (the struct
 * itself belongs to the caller), reset empties it but keeps the memory.
 */
#ifndef ONESTOP_BUF_H
#define ONESTOP_BUF_H

#include <stddef.h>

struct buf {
	char *data; /* NUL-terminated; NULL until the first append */
	size_t len;
	size_t alloc;
	size_t cap; /* largest len allowed */
};

void buf_init(struct buf *b, size_t cap);
void buf_release(struct buf *b);
void buf_reset(struct buf *b);

/* Each returns 0, or -1 (buffer unchanged) when the cap would be passed. */
int buf_add(struct buf *b, const void *data, size_t len);
int buf_addc(struct buf *b, char c);
int buf_adds(struct buf *b, const char *s);
int buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The contents as a C string ("" when empty); valid until the next change. */
const char *buf_str(const struct buf *b);

#endif
