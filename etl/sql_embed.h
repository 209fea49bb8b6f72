/*
 * sql_embed.h - the SQL of sql/, compiled into the program
 * (build/sql_embed.c is generated from the sql/ files by the Makefile):
 * the migrations of sql/migrations (state, applied once each, in order)
 * and the code modules of sql/code (functions and views, applied again by
 * migrate whenever one of them changed, in the order of sql_code[]).
 */
#ifndef ONESTOP_SQL_EMBED_H
#define ONESTOP_SQL_EMBED_H

#include <stddef.h>

struct sql_file {
	int version; /* a migration's leading number; 0 for a code module */
	const char *name;
	const char *hash; /* the file's cksum, "CRC-SIZE" */
	const char *text;
};

extern const struct sql_file sql_files[];
extern const size_t sql_file_count;
extern const struct sql_file sql_code[];
extern const size_t sql_code_count;

#endif
