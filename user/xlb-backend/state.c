// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The state file: what setup changed, with the values it replaced. It lives
 * in /run (bpffs holds only BPF objects), named after the pin root, so
 * backends in several network namespaces of one machine, each with its own
 * pin root, keep separate records. The namespace's inode is recorded too: a
 * pin root reused from another namespace is refused instead of half-undone.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "backend.h"

#define STATE_VERSION 1

static int run_dir_make(void)
{
	if (mkdir(BE_RUN_DIR, 0755) && errno != EEXIST)
		return xlb_fail(errno, "creating %s failed: %s", BE_RUN_DIR, strerror(errno));
	return 0;
}

/* "/sys/fs/bpf/xlb-backend" -> "sys-fs-bpf-xlb-backend" */
static void pin_root_name(const char *root, char *out, size_t len)
{
	size_t i = 0;

	while (*root == '/')
		root++;
	for (; *root && i + 1 < len; root++) {
		if (*root == '/' && (!root[1] || root[1] == '/'))
			continue;
		out[i++] = *root == '/' ? '-' : *root;
	}
	out[i] = '\0';
}

int state_paths(struct be_opts *o)
{
	char name[PATH_MAX / 2];
	size_t n = strlen(o->pin_root);

	while (n > 1 && o->pin_root[n - 1] == '/')
		o->pin_root[--n] = '\0';
	if (o->pin_root[0] != '/')
		return xlb_fail(EINVAL, "pin root '%s' is not an absolute path: use one under "
				"/sys/fs/bpf", o->pin_root);
	if (n > 200)
		return xlb_fail(ENAMETOOLONG, "pin root '%s' is too long (at most 200 characters)",
				o->pin_root);
	pin_root_name(o->pin_root, name, sizeof(name));
	if (!name[0])
		return xlb_fail(EINVAL, "pin root '%s' names no directory", o->pin_root);
	snprintf(o->state_path, sizeof(o->state_path), "%s/%s.state", BE_RUN_DIR, name);
	snprintf(o->lock_path, sizeof(o->lock_path), "%s/%s.lock", BE_RUN_DIR, name);
	return 0;
}

int netns_inode(unsigned long long *ino)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st))
		return xlb_fail(errno, "reading /proc/self/ns/net failed: %s", strerror(errno));
	*ino = st.st_ino;
	return 0;
}

int state_lock(const char *path)
{
	int fd, err = run_dir_make();

	if (err)
		return err;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return xlb_fail(errno, "opening %s failed: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		err = errno;
		close(fd);
		if (err == EWOULDBLOCK)
			return xlb_fail(EBUSY, "another xlb-backend is working on this pin root (%s "
					"is locked): wait for it to finish", path);
		return xlb_fail(err, "locking %s failed: %s", path, strerror(err));
	}
	return fd; /* held until exit */
}

const struct be_vip *state_vip_find(const struct be_state *st, const struct be_vip *v)
{
	size_t i;

	for (i = 0; i < st->n_vips; i++)
		if (st->vips[i].family == v->family &&
		    !memcmp(&st->vips[i].addr, &v->addr, sizeof(v->addr)))
			return &st->vips[i];
	return NULL;
}

const struct be_sysctl *state_sysctl_find(const struct be_state *st, const char *path)
{
	size_t i;

	for (i = 0; i < st->n_sysctls; i++)
		if (!strcmp(st->sysctls[i].path, path))
			return &st->sysctls[i];
	return NULL;
}

static int parse_mode(const char *s, enum be_mode *m)
{
	if (!strcmp(s, "dsr"))
		*m = BE_MODE_DSR;
	else if (!strcmp(s, "tunnel"))
		*m = BE_MODE_TUNNEL;
	else
		return -1;
	return 0;
}

static int parse_vip_line(const char *line, struct be_state *st)
{
	char addr[64], how[16];
	struct be_vip *v;

	if (st->n_vips >= BE_MAX_VIPS || sscanf(line, "vip %63s %15s", addr, how) != 2)
		return -1;
	v = &st->vips[st->n_vips];
	if (xlb_addr_parse(addr, &v->addr, &v->family))
		return -1;
	v->added = !strcmp(how, "added");
	st->n_vips++;
	return 0;
}

static int parse_sysctl_line(const char *line, struct be_state *st)
{
	struct be_sysctl *s;

	if (st->n_sysctls >= BE_MAX_SYSCTLS)
		return -1;
	s = &st->sysctls[st->n_sysctls];
	if (sscanf(line, "sysctl %95s %15s %15s", s->path, s->orig, s->set) != 3)
		return -1;
	st->n_sysctls++;
	return 0;
}

static int parse_line(const char *line, struct be_state *st)
{
	char word[32];
	unsigned int u;

	if (line[0] == '#' || line[0] == '\n' || !line[0])
		return 0;
	if (sscanf(line, "version %u", &u) == 1)
		return u == STATE_VERSION ? 0 : -1;
	if (sscanf(line, "netns %llu", &st->netns) == 1)
		return 0;
	if (sscanf(line, "dev %15s", st->dev) == 1)
		return 0;
	if (sscanf(line, "mode %31s", word) == 1)
		return parse_mode(word, &st->mode);
	if (sscanf(line, "xdp-mode %31s", word) == 1) {
		st->xdp_mode = strcmp(word, "generic") ? XLB_XDP_NATIVE : XLB_XDP_GENERIC;
		return 0;
	}
	if (sscanf(line, "gue-port %u", &u) == 1 && u <= 65535) {
		st->gue_port = u;
		return 0;
	}
	if (!strncmp(line, "vip ", 4))
		return parse_vip_line(line, st);
	if (!strncmp(line, "sysctl ", 7))
		return parse_sysctl_line(line, st);
	return -1;
}

int state_load(const char *path, struct be_state *st)
{
	char line[256];
	unsigned int lineno = 0;
	FILE *f;

	memset(st, 0, sizeof(*st));
	f = fopen(path, "re");
	if (!f && errno == ENOENT)
		return 0;
	if (!f)
		return xlb_fail(errno, "reading %s failed: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (parse_line(line, st)) {
			fclose(f);
			return xlb_fail(EINVAL, "%s:%u: not an xlb-backend state line: %s"
					"remove the file if it is stale (its changes are then not "
					"undone)", path, lineno, line);
		}
	}
	fclose(f);
	st->exists = true;
	return 0;
}

static void state_write(FILE *f, const struct be_state *st)
{
	char a[64];
	size_t i;

	fprintf(f, "# xlb-backend: what 'xlb-backend setup' changed here, and the values it\n"
		   "# replaced, so that 'xlb-backend remove' undoes exactly that. Do not edit.\n");
	fprintf(f, "version %u\nnetns %llu\ndev %s\nmode %s\nxdp-mode %s\ngue-port %u\n",
		STATE_VERSION, st->netns, st->dev, be_mode_name(st->mode),
		st->xdp_mode == XLB_XDP_GENERIC ? "generic" : "native", st->gue_port);
	for (i = 0; i < st->n_vips; i++)
		fprintf(f, "vip %s %s\n", be_vip_str(&st->vips[i], a, sizeof(a)),
			st->vips[i].added ? "added" : "present");
	for (i = 0; i < st->n_sysctls; i++)
		fprintf(f, "sysctl %s %s %s\n", st->sysctls[i].path, st->sysctls[i].orig,
			st->sysctls[i].set);
}

int state_save(const char *path, const struct be_state *st)
{
	char tmp[PATH_MAX + 8];
	FILE *f;
	int err = run_dir_make();

	if (err)
		return err;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f)
		return xlb_fail(errno, "writing %s failed: %s", tmp, strerror(errno));
	state_write(f, st);
	if (fflush(f) || fsync(fileno(f))) {
		err = errno;
		fclose(f);
		unlink(tmp);
		return xlb_fail(err, "writing %s failed: %s", tmp, strerror(err));
	}
	fclose(f);
	if (rename(tmp, path)) {
		err = errno;
		unlink(tmp);
		return xlb_fail(err, "renaming %s to %s failed: %s", tmp, path, strerror(err));
	}
	return 0;
}

int state_unlink(const char *path)
{
	if (unlink(path) && errno != ENOENT)
		return xlb_fail(errno, "removing %s failed: %s", path, strerror(errno));
	return 0;
}

/* A state file written from another network namespace describes another
 * host as far as we can tell: refuse to act on it. */
int state_check_netns(const struct be_opts *o, const struct be_state *old)
{
	unsigned long long ino;
	int err = netns_inode(&ino);

	if (err || !old->exists || old->netns == ino)
		return err;
	return xlb_fail(EBUSY, "pin root %s is used by xlb-backend in another network namespace "
			"(state %s records netns %llu, this is %llu): give each backend "
			"namespace its own --pin-root", o->pin_root, o->state_path, old->netns, ino);
}
