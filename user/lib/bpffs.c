// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The BPF filesystem under a pin root, shared by xlbd (through xlb_open) and
 * xlb-backend: mount it where every BPF tool expects it, refuse a pin root
 * on another filesystem, create the directories.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <linux/magic.h>

#include "libxlb.h"

bool xlb_on_bpffs(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == BPF_FS_MAGIC;
}

static bool same_mount_ns_as_init(void)
{
	struct stat self, init;

	return !stat("/proc/self/ns/mnt", &self) && !stat("/proc/1/ns/mnt", &init) &&
	       self.st_ino == init.st_ino && self.st_dev == init.st_dev;
}

/* Minimal systems never mount bpffs. In a private mount namespace (which
 * `ip netns exec` makes) a bpffs we mount dies with the process, and the
 * pinned links with it: the datapath would vanish on exit, so refuse. */
int xlb_bpffs_mount_default(void)
{
	if (xlb_on_bpffs(XLB_BPFFS))
		return 0;
	if (!same_mount_ns_as_init())
		return xlb_fail(EPERM, "%s is not mounted in this mount namespace (ip netns exec?); "
				"pins made here would vanish on exit and detach the program: enter "
				"only the network namespace ('nsenter --net=/run/netns/NAME ...')",
				XLB_BPFFS);
	if (mount("bpf", XLB_BPFFS, "bpf", 0, "mode=0700"))
		return xlb_fail(errno, "mounting bpffs on %s failed: %s; mount it with "
				"'mount -t bpf bpf %s'",
				XLB_BPFFS, strerror(errno), XLB_BPFFS);
	return 0;
}

/* The deepest existing directory on the way to the pin root must be bpffs.
 * Checked before creating anything, so a mistyped pin root cannot leave
 * directories on another filesystem. */
int xlb_bpffs_check(const char *root)
{
	char dir[PATH_MAX];
	struct stat st;
	char *slash;

	snprintf(dir, sizeof(dir), "%s", root);
	while (stat(dir, &st)) {
		slash = strrchr(dir, '/');
		if (!slash || slash == dir) {
			snprintf(dir, sizeof(dir), "%s", slash ? "/" : ".");
			break;
		}
		*slash = '\0';
	}
	if (!xlb_on_bpffs(dir))
		return xlb_fail(EINVAL, "pin root %s is not on a BPF filesystem (%s is not bpffs): "
				"use a directory under %s or mount one with 'mount -t bpf bpf DIR'",
				root, dir, XLB_BPFFS);
	return 0;
}

int xlb_mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	size_t i, n;

	n = snprintf(buf, sizeof(buf), "%s", path);
	for (i = 1; i <= n && i < sizeof(buf); i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0700) && errno != EEXIST)
			return xlb_fail(errno, "creating %s failed: %s", buf, strerror(errno));
		if (i < n)
			buf[i] = '/';
	}
	return 0;
}

bool xlb_under_default_bpffs(const char *root)
{
	return !strncmp(root, XLB_BPFFS "/", strlen(XLB_BPFFS) + 1);
}

int xlb_pin_root_check(const char *root)
{
	int err = 0;

	if (xlb_under_default_bpffs(root))
		err = xlb_bpffs_mount_default();
	return err ? err : xlb_bpffs_check(root);
}
