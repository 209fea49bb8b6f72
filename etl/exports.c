#include "exports.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int export_entity_of(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	char *prefix = xstrndup(base, strcspn(base, "-_."));
	int e = entity_from_name(prefix);
	free(prefix);
	return e;
}

static void list_add(struct export_list *list, char *path, int entity)
{
	list->files = xrealloc(list->files, (list->n + 1) * sizeof(*list->files));
	list->files[list->n].path = path;
	list->files[list->n].entity = (enum entity)entity;
	list->n++;
}

/* "*.csv" and "*.csv.gz" as the shell matches them: not hidden files */
static bool is_export_name(const char *name)
{
	size_t len = strlen(name);
	return name[0] != '.' && ((len > 4 && !strcmp(name + len - 4, ".csv")) ||
				  (len > 7 && !strcmp(name + len - 7, ".csv.gz")));
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A directory's export files, in byte order of name: how many, or -1. */
static int dir_files(const char *dir, char ***out, struct buf *errs)
{
	DIR *d = opendir(dir);
	if (!d) {
		buf_addf(errs, "cannot read directory '%s': %s\n", dir, strerror(errno));
		return -1;
	}
	char **names = NULL;
	size_t n = 0;
	size_t dlen = strlen(dir);
	const char *sep = dlen && dir[dlen - 1] == '/' ? "" : "/";
	for (struct dirent *de; (de = readdir(d)) != NULL;) {
		if (!is_export_name(de->d_name))
			continue;
		char *path = xasprintf("%s%s%s", dir, sep, de->d_name);
		struct stat st;
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
			free(path);
			continue;
		}
		names = xrealloc(names, (n + 1) * sizeof(*names));
		names[n++] = path;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), by_name);
	*out = names;
	return (int)n;
}

static int add_file(struct export_list *list, const char *path, int entity,
		    struct buf *errs)
{
	int e = entity >= 0 ? entity : export_entity_of(path);
	if (e < 0) {
		buf_addf(errs, "'%s': the name does not start with an entity (donvi, thutuc, hoso,"
			 " bosung, quatrinh, then '-', '_' or '.'): rename it or give --entity\n",
			 path);
		return 1;
	}
	if (access(path, R_OK) < 0) {
		buf_addf(errs, "cannot read '%s': %s\n", path, strerror(errno));
		return 1;
	}
	list_add(list, xstrdup(path), e);
	return 0;
}

static int add_dir(struct export_list *list, const char *dir, int entity,
		   struct buf *errs)
{
	char **names = NULL;
	int n = dir_files(dir, &names, errs);
	int bad = n < 0;
	if (n == 0) {
		buf_addf(errs, "directory '%s' holds no *.csv or *.csv.gz file\n", dir);
		bad = 1;
	}
	for (int i = 0; i < n; i++) {
		bad += add_file(list, names[i], entity, errs);
		free(names[i]);
	}
	free(names);
	return bad;
}

/* Load order: by entity, then as given (the sort is made stable by index). */
struct ranked {
	struct export_file file;
	size_t given;
};

static int by_load_order(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;
	if (x->file.entity != y->file.entity)
		return x->file.entity < y->file.entity ? -1 : 1;
	return x->given < y->given ? -1 : x->given > y->given;
}

static void sort_load_order(struct export_list *list)
{
	struct ranked *r = xcalloc(list->n + 1, sizeof(*r));
	for (size_t i = 0; i < list->n; i++)
		r[i] = (struct ranked){ list->files[i], i };
	qsort(r, list->n, sizeof(*r), by_load_order);
	for (size_t i = 0; i < list->n; i++)
		list->files[i] = r[i].file;
	free(r);
}

int export_list_collect(struct export_list *list, char *const *paths,
			size_t npaths, int entity, struct buf *errs)
{
	int bad = 0;
	list->files = NULL;
	list->n = 0;
	for (size_t i = 0; i < npaths; i++) {
		struct stat st;
		if (stat(paths[i], &st) < 0) {
			buf_addf(errs, "cannot read '%s': %s\n", paths[i], strerror(errno));
			bad++;
		} else if (S_ISDIR(st.st_mode)) {
			bad += add_dir(list, paths[i], entity, errs);
		} else {
			bad += add_file(list, paths[i], entity, errs);
		}
	}
	sort_load_order(list);
	return bad;
}

void export_list_release(struct export_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		free(list->files[i].path);
	free(list->files);
	list->files = NULL;
	list->n = 0;
}

char *export_list_names(const struct export_list *list)
{
	struct buf names;
	buf_init(&names, SIZE_MAX / 2);
	for (size_t i = 0; i < list->n; i++)
		buf_addf(&names, "%s%s", i ? ", " : "", list->files[i].path);
	char *s = xstrdup(buf_str(&names));
	buf_release(&names);
	return s;
}
