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

#define MAGIC "# xlb-state "
#define END_MARK "# xlb-state end "
/* What xlbd wrote before the state file had a version: the first line. */
#define LEGACY_FIRST "# xlb running configuration, rewritten by xlbd after every change.\n"

#define HEADER                                                                 \
	MAGIC PERSIST_FORMAT_STR "\n"                                          \
	"# xlb running configuration, rewritten by xlbd after every change.\n" \
	"# xlbd applies this file at start and then ignores -c; remove it\n"   \
	"# (with xlbd stopped) to start again from the -c file. The last\n"    \
	"# line counts the statements: a file without it is refused.\n"

#define STR2(x) #x
#define STR(x) STR2(x)
#define PERSIST_FORMAT_STR STR(PERSIST_FORMAT)

/* ---- reading ---------------------------------------------------------------- */

static int read_fd(FILE *f, const char *path, char **text, size_t *len, char *err,
		   size_t errlen)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *mem = open_memstream(&buf, &size);
	char chunk[65536];
	size_t n;
	int rc = 0;

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

int persist_read(const char *path, char **text, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	int rc;

	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return rc;
	}
	return read_fd(f, path, text, len, err, errlen);
}

/* The state file itself is never a link, a FIFO or a device: whoever made
 * it one did not do so through xlbd. */
static int read_state(const char *path, char **text, size_t *len, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	FILE *f;
	int rc;

	if (fd < 0) {
		rc = -errno;
		if (errno == ELOOP)
			snprintf(err, errlen, "state file %s is a symbolic link: xlbd does not "
				 "follow links there (replace it with the file itself)", path);
		else
			snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(err, errlen, "state file %s is not a regular file (remove it)", path);
		return -EINVAL;
	}
	f = fdopen(fd, "re");
	if (!f) {
		close(fd);
		snprintf(err, errlen, "cannot read %s: out of memory", path);
		return -ENOMEM;
	}
	return read_fd(f, path, text, len, err, errlen);
}

/* ---- the format ------------------------------------------------------------- */

static bool starts(const char *text, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && !memcmp(text, prefix, n);
}

/* The last line, without its newline; text ends with '\n'. */
static const char *last_line(const char *text, size_t len, size_t *line_len)
{
	const char *p = text + len - 1;

	while (p > text && p[-1] != '\n')
		p--;
	*line_len = text + len - 1 - p;
	return p;
}

static int damaged(char *err, size_t errlen, const char *path, const char *why)
{
	snprintf(err, errlen, "state file %s %s", path, why);
	return -EBADMSG;
}

/* A whole number with nothing after it. */
static bool parse_count(const char *s, size_t len, unsigned long *out)
{
	char buf[32], *end;

	if (!len || len >= sizeof(buf) || s[0] < '0' || s[0] > '9')
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	*out = strtoul(buf, &end, 10);
	return !errno && !*end;
}

static int parse_versioned(const char *path, const char *text, size_t len,
			   struct persist_body *b, char *err, size_t errlen)
{
	const char *first_end = memchr(text, '\n', len), *last;
	size_t mark = strlen(END_MARK), first_len = strlen(MAGIC PERSIST_FORMAT_STR), ll;

	if (!first_end)
		return damaged(err, errlen, path, "ends in its first line: it was cut short");
	if ((size_t)(first_end - text) != first_len ||
	    memcmp(text, MAGIC PERSIST_FORMAT_STR, first_len))
		return damaged(err, errlen, path, "has a format this xlbd does not read "
			       "(written by a newer xlbd?)");
	if (text[len - 1] != '\n')
		return damaged(err, errlen, path, "ends in the middle of a line: it was cut short");
	last = last_line(text, len, &ll);
	if (last == text || ll <= mark || memcmp(last, END_MARK, mark) ||
	    !parse_count(last + mark, ll - mark, &b->n_stmts))
		return damaged(err, errlen, path, "has no end line ('" END_MARK "N'): it was "
			       "cut short");
	b->text = first_end + 1;
	b->len = last - b->text;
	b->legacy = false;
	return 0;
}

int persist_parse(const char *path, const char *text, size_t len, struct persist_body *b,
		  char *err, size_t errlen)
{
	memset(b, 0, sizeof(*b));
	if (!len)
		return damaged(err, errlen, path, "is empty (0 bytes)");
	if (memchr(text, '\0', len))
		return damaged(err, errlen, path, "holds a NUL byte: it is not a text file xlbd "
			       "wrote");
	if (starts(text, len, MAGIC))
		return parse_versioned(path, text, len, b, err, errlen);
	/* Written by an xlbd from before the header: whole only if it ends
	 * with a newline, as that writer's files always did. */
	if (starts(text, len, LEGACY_FIRST)) {
		if (text[len - 1] != '\n')
			return damaged(err, errlen, path, "(old format) ends in the middle of a "
				       "line: it was cut short");
		b->text = text;
		b->len = len;
		b->legacy = true;
		return 0;
	}
	return damaged(err, errlen, path, "does not start with '" MAGIC PERSIST_FORMAT_STR
		       "': it was not written by xlbd");
}

/* The statements of a framed file onto cfg, all of them or none. */
static int exec_body(const char *path, struct persist_body *b, struct xlb_cfg *cfg, char *err,
		     size_t errlen)
{
	char why[256];
	struct xlb_cfg work;
	unsigned int n = 0;
	int rc;

	xlb_cfg_init(&work);
	if (xlb_cfg_copy(&work, cfg)) {
		snprintf(err, errlen, "cannot read %s: out of memory", path);
		return -ENOMEM;
	}
	rc = xlb_cfg_exec_text(&work, b->text, b->len, path, &n);
	if (rc)
		snprintf(err, errlen, "%s", xlb_errmsg());
	if (!rc && !b->legacy && n != b->n_stmts) {
		snprintf(why, sizeof(why), "holds %u statements where its end line says %lu: "
			 "lines are missing", n, b->n_stmts);
		rc = damaged(err, errlen, path, why);
	}
	if (rc) {
		xlb_cfg_free(&work);
		return rc;
	}
	xlb_cfg_free(cfg);
	*cfg = work;
	b->n_stmts = n;
	return 0;
}

int persist_load(const char *path, struct xlb_cfg *cfg, struct persist_body *b, char *err,
		 size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	rc = persist_prepare_dir(path, "state file", err, errlen);
	if (!rc)
		rc = read_state(path, &text, &len, err, errlen);
	if (!rc)
		rc = persist_parse(path, text, len, b, err, errlen);
	if (!rc)
		rc = exec_body(path, b, cfg, err, errlen);
	b->text = NULL;
	free(text);
	return rc;
}

int persist_set_aside(const char *path, char *aside, size_t aside_len)
{
	if (snprintf(aside, aside_len, "%s.bad", path) >= (int)aside_len)
		return -ENAMETOOLONG;
	return rename(path, aside) ? -errno : 0;
}

/* ---- directories ------------------------------------------------------------- */

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
	return xlb_mkdir_p(dir, mode);
}

static bool trusted_owner(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

/*
 * One directory on the way to the file (or the symbolic link met there):
 * owned by root or by xlbd's own user, and writable by nobody else. An
 * ancestor may be writable by others if it is sticky (like /tmp): there
 * they cannot rename or remove an entry root owns, so the root-owned
 * directory below stays what it is. The directory holding the file gets no
 * such pass: whoever can create entries there can plant a symbolic link
 * or a lock under xlbd's feet.
 */
static int dir_ok(const char *dir, bool last, const char *what, const char *file, char *err,
		  size_t errlen)
{
	struct stat st;

	if (lstat(dir, &st)) {
		snprintf(err, errlen, "%s %s: cannot check %s: %s", what, file, dir,
			 strerror(errno));
		return -errno;
	}
	if (!trusted_owner(st.st_uid)) {
		snprintf(err, errlen, "refusing %s %s: %s is owned by uid %u, so that user could "
			 "replace what xlbd keeps there (make it root's: chown root %s, or use "
			 "a root-only directory such as /run/xlb or /var/lib/xlb)", what, file,
			 dir, (unsigned int)st.st_uid, dir);
		return -EPERM;
	}
	if (S_ISLNK(st.st_mode))
		return 0;
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s %s: %s is not a directory", what, file, dir);
		return -ENOTDIR;
	}
	if ((st.st_mode & 022) && (last || !(st.st_mode & S_ISVTX))) {
		snprintf(err, errlen, "refusing %s %s: directory %s is writable by group or "
			 "others (mode %04o), so they could plant files or symbolic links there "
			 "(chmod go-w %s, or use a root-only directory such as /run/xlb or "
			 "/var/lib/xlb)", what, file, dir, (unsigned int)(st.st_mode & 07777), dir);
		return -EPERM;
	}
	return 0;
}

/* Every directory from / down to dir (absolute), dir itself last. */
static int chain_ok(const char *dir, const char *what, const char *file, char *err,
		    size_t errlen)
{
	char buf[PATH_MAX];
	int rc;

	snprintf(buf, sizeof(buf), "%s", dir);
	rc = dir_ok("/", !buf[1], what, file, err, errlen);
	for (char *p = buf + 1; !rc && *p; p++) {
		if (*p != '/' || p[1] == '\0')
			continue;
		*p = '\0';
		rc = dir_ok(buf, false, what, file, err, errlen);
		*p = '/';
	}
	if (!rc && buf[1])
		rc = dir_ok(buf, true, what, file, err, errlen);
	return rc;
}

/* The directory of path, absolute. */
static int dir_of(const char *path, char *dir, size_t len)
{
	char cwd[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int n;

	if (slash == path)
		n = snprintf(dir, len, "/");
	else if (slash && path[0] == '/')
		n = snprintf(dir, len, "%.*s", (int)(slash - path), path);
	else if (!getcwd(cwd, sizeof(cwd)))
		return -errno;
	else if (slash)
		n = snprintf(dir, len, "%s/%.*s", strcmp(cwd, "/") ? cwd : "", (int)(slash - path),
			     path);
	else
		n = snprintf(dir, len, "%s", cwd);
	return n >= (int)len ? -ENAMETOOLONG : 0;
}

int persist_check_dir(const char *path, const char *what, char *err, size_t errlen)
{
	char dir[PATH_MAX], real[PATH_MAX];
	int rc = dir_of(path, dir, sizeof(dir));

	if (rc) {
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(-rc));
		return rc;
	}
	/* The path as given (a link on the way must be root's), then where it
	 * leads. */
	rc = chain_ok(dir, what, path, err, errlen);
	if (rc)
		return rc;
	if (!realpath(dir, real)) {
		snprintf(err, errlen, "%s %s: cannot resolve %s: %s", what, path, dir,
			 strerror(errno));
		return -errno;
	}
	return strcmp(real, dir) ? chain_ok(real, what, path, err, errlen) : 0;
}

int persist_prepare_dir(const char *path, const char *what, char *err, size_t errlen)
{
	int rc = persist_mkdir_parent(path, 0755);

	if (rc) {
		snprintf(err, errlen, "cannot create the directory of %s %s: %s", what, path,
			 strerror(-rc));
		return rc;
	}
	return persist_check_dir(path, what, err, errlen);
}

/* ---- writing ---------------------------------------------------------------- */

/* Statements go out one by one and are counted for the end line. */
struct render_ctx {
	FILE *f;
	unsigned long n;
};

static int put_line(const char *line, void *arg)
{
	struct render_ctx *r = arg;

	r->n++;
	return fprintf(r->f, "%s\n", line) < 0 ? -EIO : 0;
}

/* The file's text, in memory: compared with what is on disk first. */
static int render(const struct xlb_cfg *cfg, char **text, size_t *len)
{
	struct render_ctx r = { .f = open_memstream(text, len) };
	int rc;

	if (!r.f)
		return -ENOMEM;
	rc = fputs(HEADER, r.f) < 0 ? -EIO : 0;
	if (!rc)
		rc = xlb_cfg_statements(cfg, put_line, &r);
	if (!rc && fprintf(r.f, END_MARK "%lu\n", r.n) < 0)
		rc = -EIO;
	if (fclose(r.f) && !rc)
		rc = -ENOMEM;
	if (rc)
		free(*text);
	return rc;
}

/* A restart with an unchanged configuration, or a change that changes
 * nothing, writes nothing: no fsync, and no failure on a read-only disk. */
static bool unchanged(const char *path, const char *text, size_t len)
{
	char err[512], *old = NULL;
	size_t old_len = 0;
	bool same;

	if (read_state(path, &old, &old_len, err, sizeof(err)))
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
	int fd;

	if (dir_of(path, dir, sizeof(dir)))
		return;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* A new file of our own: never through a link, never one someone else made.
 * A leftover from a crash between create and rename is xlbd's own (the
 * directory was checked: only root writes there), so it goes first. */
static int create_new(const char *path)
{
	int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	int fd = open(path, flags, 0600);

	if (fd < 0 && errno == EEXIST && !unlink(path))
		fd = open(path, flags, 0600);
	return fd < 0 ? -errno : fd;
}

static int replace(const char *path, const char *text, size_t len, char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	int fd, rc;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "state file path too long: %s", path);
		return -ENAMETOOLONG;
	}
	rc = persist_prepare_dir(path, "state file", err, errlen);
	if (rc)
		return rc;
	fd = create_new(tmp);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(-fd));
		return fd;
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
