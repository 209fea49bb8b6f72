/*
 * field.h - one CSV field as the csv module hands it on: raw bytes, not
 * NUL-terminated, which may hold invalid UTF-8 or NUL (record checks them).
 * The bytes belong to the csv module and live until its next record.
 */
#ifndef ONESTOP_FIELD_H
#define ONESTOP_FIELD_H

#include <stddef.h>

struct field {
	const char *ptr;
	size_t len;
};

#endif
