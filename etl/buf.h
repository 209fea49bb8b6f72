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
#include <string.h>

struct buf {
	char *data; /* NUL-terminated; NULL until the first append */
	size_t len;
	size_t alloc;
	size_t cap; /* largest len allowed */
};

void buf_init(struct buf *b, size_t cap);
void buf_release(struct buf *b);
void buf_reset(struct buf *b);

/*
 * The append that has to allocate first, or to refuse: what buf_add and
 * buf_addc fall back to.  Call them, not this.
 */
int buf_add_grow(struct buf *b, const void *data, size_t len);

/*
 * Each returns 0, or -1 (buffer unchanged) when the cap would be passed.
 *
 * buf_add and buf_addc run once per field of every row, so the append that
 * fits the memory already there is inline; alloc never passes cap + 1, so
 * whatever fits it is under the cap too.
 */
static inline int buf_add(struct buf *b, const void *data, size_t len)
{
	if (len >= b->alloc - b->len) /* alloc is 0 before the first append */
		return buf_add_grow(b, data, len);
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

static inline int buf_addc(struct buf *b, char c)
{
	if (b->alloc - b->len < 2)
		return buf_add_grow(b, &c, 1);
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
	return 0;
}

int buf_adds(struct buf *b, const char *s);
int buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The contents as a C string ("" when empty); valid until the next change. */
const char *buf_str(const struct buf *b);

/* The cap of a buffer that holds an error message: a line or a few. */
#define ERR_CAP 4096

#endif
