/*
 * The files of one load-file invocation: an entity from each name, a
 * directory's export files, load order, and every problem at once.
 */
#include "exports.h"
#include "testhelp.h"

#include <sys/stat.h>

static char dir[] = "/tmp/onestop-exports-XXXXXX";

static char *path_of(const char *name)
{
	static char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static void touch(const char *name)
{
	FILE *f = fopen(path_of(name), "w");
	fputs("x\n", f);
	fclose(f);
}

static void test_entity_of_name(void)
{
	CHECK_INT(export_entity_of("hoso-2021.csv.gz"), ENTITY_HOSO);
	CHECK_INT(export_entity_of("/x/y-z/quatrinh_2.csv"), ENTITY_QUATRINH);
	CHECK_INT(export_entity_of("donvi.csv"), ENTITY_DONVI);
	CHECK_INT(export_entity_of("thutuc"), ENTITY_THUTUC);
	CHECK_INT(export_entity_of("hosox.csv"), -1);
	CHECK_INT(export_entity_of("HOSO.csv"), -1);
	CHECK_INT(export_entity_of("/hoso/export.csv"), -1);
	CHECK_INT(export_entity_of(""), -1);
}

/* Reverse order given: loaded donvi first; one entity's files as given. */
static void test_load_order(void)
{
	const char *names[] = { "quatrinh.csv", "hoso-b.csv", "bosung.csv", "hoso-a.csv",
				"thutuc.csv", "donvi.csv" };
	char *paths[6];
	for (int i = 0; i < 6; i++) {
		touch(names[i]);
		paths[i] = strdup(path_of(names[i]));
	}
	struct export_list list;
	struct buf errs;
	buf_init(&errs, 1 << 16);
	CHECK_INT(export_list_collect(&list, paths, 6, -1, &errs), 0);
	CHECK_INT(list.n, 6);
	const char *want[] = { "donvi.csv", "thutuc.csv", "hoso-b.csv", "hoso-a.csv",
			       "bosung.csv", "quatrinh.csv" };
	for (size_t i = 0; i < list.n && i < 6; i++)
		CHECK_STR(strrchr(list.files[i].path, '/') + 1, want[i]);
	char *joined = export_list_names(&list);
	CHECK(strstr(joined, "donvi.csv, ") != NULL);
	free(joined);
	export_list_release(&list);
	for (int i = 0; i < 6; i++)
		free(paths[i]);
	buf_release(&errs);
}

/*
 * A directory: its *.csv and *.csv.gz files in byte order, not its
 * subdirectories, hidden files nor other names; with --entity, any name.
 */
static void test_directory(void)
{
	char sub[600];
	snprintf(sub, sizeof(sub), "%s/d", dir);
	mkdir(sub, 0700);
	touch("d/hoso_2.csv.gz");
	touch("d/hoso-10.csv");
	touch("d/README.txt");
	touch("d/hoso.csv.bak");
	touch("d/._hoso.csv");
	mkdir(path_of("d/quatrinh.csv"), 0700);
	char *args[] = { sub };
	struct export_list list;
	struct buf errs;
	buf_init(&errs, 1 << 16);
	CHECK_INT(export_list_collect(&list, args, 1, -1, &errs), 0);
	CHECK_INT(list.n, 2);
	if (list.n == 2) {
		CHECK_STR(strrchr(list.files[0].path, '/') + 1, "hoso-10.csv");
		CHECK_STR(strrchr(list.files[1].path, '/') + 1, "hoso_2.csv.gz");
	}
	export_list_release(&list);
	CHECK_INT(export_list_collect(&list, args, 1, ENTITY_BOSUNG, &errs), 0);
	CHECK_INT(list.n, 2);
	CHECK_INT(list.n ? (long long)list.files[0].entity : -1, ENTITY_BOSUNG);
	export_list_release(&list);
	buf_release(&errs);
}

/* Every bad name at once, none read: no entity, missing, empty directory. */
static void test_problems(void)
{
	char empty[600];
	snprintf(empty, sizeof(empty), "%s/empty", dir);
	mkdir(empty, 0700);
	touch("dossiers.csv");
	touch("donvi-ok.csv");
	char *args[4];
	args[0] = strdup(path_of("dossiers.csv"));
	args[1] = strdup(path_of("missing-hoso.csv"));
	args[2] = empty;
	args[3] = strdup(path_of("donvi-ok.csv"));
	struct export_list list;
	struct buf errs;
	buf_init(&errs, 1 << 16);
	CHECK_INT(export_list_collect(&list, args, 4, -1, &errs), 3);
	CHECK(strstr(buf_str(&errs), "dossiers.csv': the name does not start with an entity") != NULL);
	CHECK(strstr(buf_str(&errs), "cannot read '") != NULL);
	CHECK(strstr(buf_str(&errs), "holds no *.csv or *.csv.gz file") != NULL);
	export_list_release(&list);
	free(args[0]);
	free(args[1]);
	free(args[3]);
	buf_release(&errs);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	test_entity_of_name();
	test_load_order();
	test_directory();
	test_problems();
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	TEST_REPORT();
}
