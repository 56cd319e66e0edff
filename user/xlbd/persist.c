// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "persist.h"

#define HEADER                                                                 \
	"# xlb running configuration, rewritten by xlbd after every change.\n" \
	"# xlbd applies this file at start and then ignores -c; remove it\n"   \
	"# (with xlbd stopped) to start again from the -c file.\n"

int persist_read(const char *path, char **text, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t size = 0;
	FILE *mem;
	char chunk[65536];
	size_t n;
	int rc = 0;

	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return rc;
	}
	mem = open_memstream(&buf, &size);
	if (!mem) {
		fclose(f);
		snprintf(err, errlen, "cannot read %s: out of memory", path);
		return -ENOMEM;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, n, mem);
	if (ferror(f)) {
		rc = -EIO;
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
	}
	fclose(f);
	if (fclose(mem) && !rc) {
		rc = -ENOMEM;
		snprintf(err, errlen, "cannot read %s: out of memory", path);
	}
	if (rc) {
		free(buf);
		return rc;
	}
	*text = buf;
	*len = size;
	return 0;
}

int persist_mkdir_parent(const char *path, unsigned int mode)
{
	char dir[PATH_MAX];
	char *slash;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

static int put_line(const char *line, void *arg)
{
	return fprintf(arg, "%s\n", line) < 0 ? -EIO : 0;
}

/* The file's text, in memory: compared with what is on disk first. */
static int render(const struct xlb_cfg *cfg, char **text, size_t *len)
{
	FILE *f = open_memstream(text, len);
	int rc;

	if (!f)
		return -ENOMEM;
	rc = fputs(HEADER, f) < 0 ? -EIO : 0;
	if (!rc)
		rc = xlb_cfg_statements(cfg, put_line, f);
	if (fclose(f) && !rc)
		rc = -ENOMEM;
	if (rc)
		free(*text);
	return rc;
}

/* A restart with an unchanged configuration, or a change that changes
 * nothing, writes nothing: no fsync, and no failure on a read-only disk. */
static bool unchanged(const char *path, const char *text, size_t len)
{
	char err[256], *old = NULL;
	size_t old_len = 0;
	bool same;

	if (persist_read(path, &old, &old_len, err, sizeof(err)))
		return false;
	same = old_len == len && !memcmp(old, text, len);
	free(old);
	return same;
}

static int write_all(int fd, const char *text, size_t len)
{
	while (len) {
		ssize_t n = write(fd, text, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		text += n;
		len -= n;
	}
	return 0;
}

static int write_file(int fd, const char *text, size_t len)
{
	int rc = write_all(fd, text, len);

	if (!rc && fsync(fd))
		rc = -errno;
	if (close(fd) && !rc)
		rc = -errno;
	return rc;
}

/* The rename is only durable once the directory entry is on disk too. */
static void sync_dir(const char *path)
{
	char dir[PATH_MAX];
	char *slash;
	int fd;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

static int replace(const char *path, const char *text, size_t len, char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	int fd, rc;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "state file path too long: %s", path);
		return -ENAMETOOLONG;
	}
	rc = persist_mkdir_parent(path, 0755);
	if (rc) {
		snprintf(err, errlen, "cannot create the directory of %s: %s", path,
			 strerror(-rc));
		return rc;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		return rc;
	}
	rc = write_file(fd, text, len);
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc) {
		unlink(tmp);
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(-rc));
		return rc;
	}
	sync_dir(path);
	return 0;
}

int persist_write(const char *path, const struct xlb_cfg *cfg, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int rc = render(cfg, &text, &len);

	if (rc) {
		snprintf(err, errlen, "cannot write %s: out of memory", path);
		return rc;
	}
	rc = unchanged(path, text, len) ? 0 : replace(path, text, len, err, errlen);
	free(text);
	return rc;
}
