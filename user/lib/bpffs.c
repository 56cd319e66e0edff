// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The BPF filesystem under a pin root, shared by xlbd (through xlb_open) and
 * xlb-backend: mount it where every BPF tool expects it, refuse a pin root
 * on another filesystem, create the directories.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <unistd.h>
#include <linux/magic.h>

#include "libxlb.h"

bool xlb_on_bpffs(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == BPF_FS_MAGIC;
}

/* Containers and tests may name another file as the host's mount namespace
 * (the one whose mounts outlive every process). */
static const char *host_mntns_path(void)
{
	const char *p = getenv("XLB_HOST_MNTNS");

	return p && *p ? p : "/proc/1/ns/mnt";
}

enum ns_relation { NS_SAME, NS_DIFFERENT, NS_UNKNOWN };

static enum ns_relation mntns_relation(const char *other)
{
	struct stat self, them;

	if (stat("/proc/self/ns/mnt", &self) || stat(other, &them))
		return NS_UNKNOWN;
	return self.st_ino == them.st_ino && self.st_dev == them.st_dev ? NS_SAME : NS_DIFFERENT;
}

/* `ip netns exec` unshares the mount namespace and then execs the command,
 * so its caller (our parent) is still in the old one. */
static enum ns_relation parent_mntns_relation(void)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)getppid());
	return mntns_relation(path);
}

static int refuse_private_ns(const char *who)
{
	return xlb_fail(EPERM, "%s is not mounted and this process runs in a private mount "
			"namespace (%s is in another one; ip netns exec?): a bpffs mounted here "
			"would vanish on exit and detach the program; enter only the network "
			"namespace ('nsenter --net=/run/netns/NAME ...') or mount bpffs in the "
			"host's namespace first ('mount -t bpf bpf %s')",
			XLB_BPFFS, who, XLB_BPFFS);
}

/* Minimal systems never mount bpffs (systemd does it at boot; others don't),
 * so mount it as systemd would. Refuse only on positive evidence that the
 * mount would die with this process: a private mount namespace, which
 * `ip netns exec` makes. A namespace that cannot be read proves nothing:
 * mount, and warn about the one risk that remains. */
int xlb_bpffs_mount_default(void)
{
	enum ns_relation host, parent;

	if (xlb_on_bpffs(XLB_BPFFS))
		return 0;
	host = mntns_relation(host_mntns_path());
	parent = parent_mntns_relation();
	if (host == NS_DIFFERENT)
		return refuse_private_ns(host_mntns_path());
	if (parent == NS_DIFFERENT)
		return refuse_private_ns("the process that started this one");
	if (mount("bpf", XLB_BPFFS, "bpf", 0, "mode=0700"))
		return xlb_fail(errno, "mounting bpffs on %s failed: %s; mount it with "
				"'mount -t bpf bpf %s'",
				XLB_BPFFS, strerror(errno), XLB_BPFFS);
	if (host == NS_UNKNOWN)
		xlb_warn("mounted bpffs on %s; cannot tell whether this is the host's mount "
			 "namespace (%s is unreadable): if it is a private one, the pins and "
			 "the attached program vanish when its last process exits",
			 XLB_BPFFS, host_mntns_path());
	else
		xlb_info("mounted bpffs on %s", XLB_BPFFS);
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

int xlb_mkdir_p(const char *path, unsigned int mode)
{
	char buf[PATH_MAX];
	size_t i, n;

	n = snprintf(buf, sizeof(buf), "%s", path);
	if (n >= sizeof(buf))
		return xlb_fail(ENAMETOOLONG, "path %s is too long", path);
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, mode) && errno != EEXIST)
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
