/*
 * sql_embed.h - the migrations of sql/, compiled into the program
 * (build/sql_embed.c is generated from the sql/ files by the Makefile).
 */
#ifndef ONESTOP_SQL_EMBED_H
#define ONESTOP_SQL_EMBED_H

#include <stddef.h>

struct sql_file {
	int version; /* the file name's leading number */
	const char *name;
	const char *text;
};

extern const struct sql_file sql_files[];
extern const size_t sql_file_count;

#endif
