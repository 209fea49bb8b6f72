/*
 * outfile.c - a file written whole or not at all (outfile.h).
 */
#include "outfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

FILE *outfile_open(const char *path, char **tmp, struct buf *err)
{
	*tmp = xasprintf("%s.tmp-XXXXXX", path);
	int fd = mkstemp(*tmp);
	if (fd < 0) {
		buf_addf(err, "cannot write '%s': %s", path, strerror(errno));
		return NULL;
	}
	/* mkstemp makes it 0600; an output is as readable as any new file */
	mode_t mask = umask(0);
	umask(mask);
	FILE *f = fdopen(fd, "w");
	if (fchmod(fd, 0666 & ~mask) < 0 || !f) {
		buf_addf(err, "cannot write '%s': %s", *tmp, strerror(errno));
		if (f)
			fclose(f);
		else
			close(fd);
		unlink(*tmp);
		return NULL;
	}
	return f;
}

int outfile_close(FILE *f, const char *tmp, const char *path, bool ok,
		  struct buf *err)
{
	int rc = ok ? 0 : -1;
	if (rc == 0 && (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) < 0)) {
		buf_addf(err, "cannot write '%s': %s", tmp, strerror(errno));
		rc = -1;
	}
	if (fclose(f) != 0 && rc == 0) {
		buf_addf(err, "cannot write '%s': %s", tmp, strerror(errno));
		rc = -1;
	}
	if (rc == 0 && rename(tmp, path) < 0) {
		buf_addf(err, "cannot rename '%s' to '%s': %s", tmp, path,
			 strerror(errno));
		rc = -1;
	}
	if (rc < 0)
		unlink(tmp);
	return rc;
}
