// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Pinned XDP links (see xdp.h). A plain bpf_link rather than libxdp:
 * libxdp's multi-program dispatcher fails to load on the target kernel
 * (EPERM in its compatibility check) and libxdp then falls back to a
 * netlink attachment, which has no object to pin and so cannot be adopted.
 */
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xdp.h"

int xlb_path_join(char buf[PATH_MAX], const char *dir, const char *name)
{
	int n = snprintf(buf, PATH_MAX, "%s/%s", dir, name);

	if (n < 0 || n >= PATH_MAX)
		return xlb_fail(ENAMETOOLONG, "path %s/%s is too long", dir, name);
	return 0;
}

int xlb_link_path(char buf[PATH_MAX], const char *root, const char *ifname)
{
	char dir[PATH_MAX];
	int err = xlb_path_join(dir, root, XLB_LINKS_DIR);

	return err ? err : xlb_path_join(buf, dir, ifname);
}

int xlb_ifindex(const char *ifname, unsigned int *ifindex)
{
	if (!ifname || !*ifname || strlen(ifname) >= IF_NAMESIZE || strchr(ifname, '/'))
		return xlb_fail(EINVAL, "'%s' is not an interface name", ifname ? ifname : "");
	*ifindex = if_nametoindex(ifname);
	if (!*ifindex)
		return xlb_fail(ENODEV, "interface %s does not exist in this network namespace "
				"(see 'ip link')", ifname);
	return 0;
}

const char *xlb_xdp_mode_name(enum xlb_xdp_mode mode)
{
	return mode == XLB_XDP_GENERIC ? "generic" : "native";
}

int xlb_xdp_attached(unsigned int ifindex, __u32 *prog_id, enum xlb_xdp_mode *mode)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	int err = bpf_xdp_query((int)ifindex, 0, &q);

	if (err)
		return xlb_fail(-err, "querying the XDP program of interface #%u failed: %s",
				ifindex, strerror(-err));
	*prog_id = q.drv_prog_id ? q.drv_prog_id : q.skb_prog_id ? q.skb_prog_id : q.hw_prog_id;
	*mode = q.drv_prog_id ? XLB_XDP_NATIVE : XLB_XDP_GENERIC;
	return 0;
}

int xlb_link_open(const char *root, const char *ifname, unsigned int ifindex,
		  enum xlb_xdp_mode mode, struct xlb_pinned_link *l)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info), attached;
	enum xlb_xdp_mode amode;
	char path[PATH_MAX];
	int err;

	memset(l, 0, sizeof(*l));
	l->fd = -1;
	err = xlb_link_path(path, root, ifname);
	if (err)
		return err;
	l->fd = bpf_obj_get(path);
	if (l->fd < 0 && errno == ENOENT)
		return 0;
	if (l->fd < 0)
		return xlb_fail(errno, "opening %s failed: %s", path, strerror(errno));
	if (bpf_obj_get_info_by_fd(l->fd, &info, &len) || info.type != BPF_LINK_TYPE_XDP)
		return 0; /* not an XDP link, or defunct: not current */
	l->prog_id = info.prog_id;
	l->ifindex = info.xdp.ifindex;
	if (!ifindex || xlb_xdp_attached(ifindex, &attached, &amode))
		return 0;
	l->current = l->ifindex == ifindex && attached == l->prog_id && amode == mode;
	return 0;
}

void xlb_link_close(struct xlb_pinned_link *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}

static int pin_unlink(const char *path)
{
	if (unlink(path) && errno != ENOENT)
		return xlb_fail(errno, "removing %s failed: %s", path, strerror(errno));
	return 0;
}

int xlb_link_drop(const char *root, const char *ifname, struct xlb_pinned_link *l)
{
	char path[PATH_MAX];
	int err;

	if (l->fd >= 0)
		bpf_link_detach(l->fd);
	xlb_link_close(l);
	err = xlb_link_path(path, root, ifname);
	return err ? err : pin_unlink(path);
}

int xlb_link_create(int prog_fd, const char *ifname, unsigned int ifindex,
		    enum xlb_xdp_mode mode)
{
	LIBBPF_OPTS(bpf_link_create_opts, lo,
		    .flags = mode == XLB_XDP_GENERIC ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE);
	int fd = bpf_link_create(prog_fd, (int)ifindex, BPF_XDP, &lo);

	if (fd >= 0)
		return fd;
	if (fd == -EOPNOTSUPP && mode == XLB_XDP_NATIVE)
		return xlb_fail(EOPNOTSUPP, "the driver of %s does not support native XDP: use "
				"--xdp-mode generic", ifname);
	if (fd == -EBUSY || fd == -EEXIST)
		return xlb_fail(-fd, "%s already has an XDP program that xlb did not attach: "
				"remove it ('ip link set dev %s xdp off') and try again",
				ifname, ifname);
	return xlb_fail(-fd, "attaching XDP (%s mode) to %s failed: %s",
			xlb_xdp_mode_name(mode), ifname, strerror(-fd));
}

int xlb_link_create_pinned(int prog_fd, const char *root, const char *ifname,
			   unsigned int ifindex, enum xlb_xdp_mode mode)
{
	char dir[PATH_MAX], path[PATH_MAX];
	int fd, err;

	err = xlb_path_join(dir, root, XLB_LINKS_DIR);
	if (!err)
		err = xlb_path_join(path, dir, ifname);
	if (!err)
		err = xlb_mkdir_p(dir, 0700);
	if (err)
		return err;
	fd = xlb_link_create(prog_fd, ifname, ifindex, mode);
	if (fd < 0)
		return fd;
	err = bpf_obj_pin(fd, path);
	/* Once pinned the link lives on its own; unpinned, closing detaches. */
	close(fd);
	if (err)
		return xlb_fail(-err, "pinning the XDP link of %s at %s failed: %s", ifname, path,
				strerror(-err));
	return 0;
}

int xlb_links_remove(const char *root, void (*done)(const char *ifname, void *arg), void *arg)
{
	struct xlb_pinned_link l = { .fd = -1 };
	char dir[PATH_MAX];
	struct dirent *de;
	int err, e;
	DIR *d;

	err = xlb_path_join(dir, root, XLB_LINKS_DIR);
	if (err)
		return err;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : xlb_fail(errno, "opening %s failed: %s", dir,
						      strerror(errno));
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		/* Whatever it is, its pin goes: a link is detached first. */
		xlb_link_open(root, de->d_name, 0, XLB_XDP_NATIVE, &l);
		e = xlb_link_drop(root, de->d_name, &l);
		if (!e && done)
			done(de->d_name, arg);
		if (e && !err)
			err = e;
	}
	closedir(d);
	if (!err && rmdir(dir) && errno != ENOENT)
		err = xlb_fail(errno, "removing %s failed: %s (something else is pinned there)",
			       dir, strerror(errno));
	return err;
}
