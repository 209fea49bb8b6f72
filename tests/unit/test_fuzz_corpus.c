/*
 * test_fuzz_corpus.c - the fuzz target's seed corpus as a regression test:
 * every file of tests/fuzz/corpus/ (relative to the repository root, the
 * working directory of tests/run.py) goes through the same function that
 * libFuzzer drives, here under ASan/UBSan without libFuzzer.  An input
 * that once broke an invariant is added to the corpus and stays there.
 */
#include "testhelp.h"

#include "../fuzz/fuzz_csv_record.c"

#include <dirent.h>
#include <errno.h>

#define CORPUS_DIR "tests/fuzz/corpus"

static int read_file(const char *path, struct buf *b)
{
	FILE *f = fopen(path, "rb");
	char chunk[8192];
	size_t n;
	int rc = 0;

	if (!f)
		return -1;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_add(b, chunk, n) < 0)
			rc = -1;
	if (ferror(f))
		rc = -1;
	fclose(f);
	return rc;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
	DIR *dir = opendir(CORPUS_DIR);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;

	if (!dir) {
		fprintf(stderr, "cannot open '%s': %s\n", CORPUS_DIR,
			strerror(errno));
		CHECK(dir != NULL);
		TEST_REPORT();
	}
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		names[n++] = strdup(de->d_name);
	}
	closedir(dir);
	qsort(names, n, sizeof(*names), by_name);
	/* a corpus that went missing must not pass as "nothing failed" */
	CHECK(n >= 40);
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		struct buf input;

		snprintf(path, sizeof(path), "%s/%s", CORPUS_DIR, names[i]);
		buf_init(&input, 16 * 1024 * 1024);
		CHECK(read_file(path, &input) == 0);
		/* an invariant that breaks aborts, naming itself */
		CHECK_INT(LLVMFuzzerTestOneInput((const uint8_t *)input.data,
						 input.len),
			  0);
		buf_release(&input);
		free(names[i]);
	}
	free(names);
	TEST_REPORT();
}
