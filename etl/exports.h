/*
 * exports.h - the files one load-file invocation reads (interfaces.md,
 * "load-file"): each argument a file or a directory of them, each file's
 * entity from --entity or from its name, and the order they load in.
 *
 * Only names are looked at here, never contents: a misnamed or missing
 * file is refused before anything is read or the warehouse is touched.
 */
#ifndef ONESTOP_EXPORTS_H
#define ONESTOP_EXPORTS_H

#include <stddef.h>

#include "buf.h"
#include "record.h"

struct export_file {
	char *path;
	enum entity entity;
};

/* The files of one invocation, in load order; owns its paths. */
struct export_list {
	struct export_file *files;
	size_t n;
};

/*
 * The entity a file's name stands for: its base name up to the first '-',
 * '_' or '.' ("hoso-2021.csv.gz" is hoso); -1 when that is no entity.
 */
int export_entity_of(const char *path);

/*
 * Expand paths into list: a file stands for itself, a directory for its
 * regular *.csv and *.csv.gz files (not its subdirectories) in byte order
 * of name.  entity is the entity of every file, or -1 to take each from
 * its name.  The list is sorted into load order: by entity (donvi,
 * thutuc, hoso, bosung, quatrinh), then as given.  Every problem goes to
 * errs, one line each; returns their number (0: list is ready).  Call
 * export_list_release() in every case.
 */
int export_list_collect(struct export_list *list, char *const *paths,
			size_t npaths, int entity, struct buf *errs);
void export_list_release(struct export_list *list);

/* "a.csv, b.csv": the list's paths, for etl.run.file_name. */
char *export_list_names(const struct export_list *list);

#endif
