// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The backend's decap program (bpf/decap.bpf.c): loaded from the embedded
 * skeleton, its maps pinned by name under the pin root and its XDP
 * attachment held by a bpf_link pinned at PIN_ROOT/links/DEV. A pinned link
 * outlives this command, the way an ip-link attachment would, but unlike
 * one it can be found again, checked and replaced atomically
 * (bpf_link_update) when a newer xlb-backend runs setup.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/if_link.h>
#include <linux/magic.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "backend.h"
#include "decap.skel.h"
#include "xdp.h"
#define PROG_NAME "xlb_decap"

static const char *const map_names[] = {
	XLB_MAP_DECAP_VIPS,
	XLB_MAP_DECAP_CONFIG,
	XLB_MAP_DECAP_STATS,
};

#define N_MAPS (sizeof(map_names) / sizeof(map_names[0]))

/* ---- paths and bpffs ------------------------------------------------- */

/* The pin root's length is checked once (state_paths), so these fit. */
static void pin_path(char buf[PATH_MAX], const char *root, const char *name)
{
	if (snprintf(buf, PATH_MAX, "%s/%s", root, name) >= PATH_MAX)
		buf[0] = '\0';
}

/* Checks only (and mounts bpffs where every BPF tool expects it; libxlb
 * reports that through the notice sink). */
static int pin_root_check(const char *root)
{
	return xlb_pin_root_check(root);
}

static int pin_root_create(const char *root)
{
	char links[PATH_MAX];

	pin_path(links, root, XLB_LINKS_DIR);
	return xlb_mkdir_p(links, 0700);
}

/* After a failed setup: directories this run created go again (rmdir
 * leaves any that hold something). */
static void pin_root_tidy(const char *root, bool keep_root)
{
	char links[PATH_MAX];

	pin_path(links, root, XLB_LINKS_DIR);
	rmdir(links);
	if (!keep_root)
		rmdir(root);
}

bool decap_bpffs_visible(const char *root)
{
	return !xlb_under_default_bpffs(root) || xlb_on_bpffs(XLB_BPFFS);
}

/* ---- what is attached ------------------------------------------------- */

static int ifindex_of(const char *dev)
{
	unsigned int i;
	int err = xlb_ifindex(dev, &i);

	return err ? err : (int)i;
}

static void prog_describe(__u32 id, char *buf, size_t len)
{
	struct bpf_prog_info info = {};
	__u32 ilen = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);

	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &ilen))
		snprintf(buf, len, "id %u", id);
	else
		snprintf(buf, len, "id %u, '%s'", id, info.name);
	if (fd >= 0)
		close(fd);
}

int decap_precheck(const struct be_opts *o, const struct be_state *want)
{
	struct xlb_pinned_link l;
	enum xlb_xdp_mode amode;
	__u32 attached;
	char desc[64];
	int ifindex, err;

	ifindex = ifindex_of(want->dev);
	if (ifindex < 0)
		return ifindex;
	err = pin_root_check(o->pin_root);
	if (!err)
		err = xlb_xdp_attached(ifindex, &attached, &amode);
	if (err || !attached)
		return err;
	err = xlb_link_open(o->pin_root, want->dev, ifindex, amode, &l);
	if (err)
		return err;
	xlb_link_close(&l);
	if (l.prog_id == attached && l.ifindex == (__u32)ifindex)
		return 0;
	prog_describe(attached, desc, sizeof(desc));
	return xlb_fail(EBUSY, "%s already runs an XDP program (%s) that xlb-backend did not "
			"attach under %s: remove it ('ip link set dev %s xdp off') or, if "
			"another xlb-backend pin root owns it, use that --pin-root",
			want->dev, desc, o->pin_root, want->dev);
}

/* ---- the maps ---------------------------------------------------------- */

static void vip_key(const struct be_vip *v, struct xlb_addr *k)
{
	memset(k, 0, sizeof(*k));
	if (v->family == XLB_FAMILY_V4)
		k->v4 = v->addr.v4;
	else
		*k = v->addr;
}

/* An IPv4 key has zeros after the first word: that is all that tells the
 * families apart in this map. */
static void key_vip(const struct xlb_addr *k, struct be_vip *v)
{
	memset(v, 0, sizeof(*v));
	v->addr = *k;
	v->family = !k->v6[1] && !k->v6[2] && !k->v6[3] ? XLB_FAMILY_V4 : XLB_FAMILY_V6;
}

static bool wanted(const struct be_state *want, const struct xlb_addr *k)
{
	struct xlb_addr w;
	size_t i;

	for (i = 0; i < want->n_vips; i++) {
		vip_key(&want->vips[i], &w);
		if (!memcmp(&w, k, sizeof(w)))
			return true;
	}
	return false;
}

/* All keys of the VIP map (at most BE_MAX_VIPS). */
static void vips_read(int fd, struct xlb_addr *keys, size_t *n)
{
	struct xlb_addr k, next;
	void *prev = NULL;

	*n = 0;
	while (*n < BE_MAX_VIPS && !bpf_map_get_next_key(fd, prev, &next)) {
		keys[(*n)++] = next;
		k = next;
		prev = &k;
	}
}

/* Remove every entry that is not wanted. */
static int vips_prune(int fd, const struct be_state *want, bool report)
{
	struct xlb_addr keys[BE_MAX_VIPS];
	struct be_vip v;
	char a[64];
	size_t n, i;
	int err;

	vips_read(fd, keys, &n);
	for (i = 0; i < n; i++) {
		if (wanted(want, &keys[i]))
			continue;
		err = bpf_map_delete_elem(fd, &keys[i]);
		key_vip(&keys[i], &v);
		if (err && err != -ENOENT)
			return xlb_fail(-err, "removing VIP %s from %s failed: %s",
					be_vip_str(&v, a, sizeof(a)), XLB_MAP_DECAP_VIPS,
					strerror(-err));
		if (report)
			rep_fixed("decap map had VIP %s that this host does not serve; removed",
				  be_vip_str(&v, a, sizeof(a)));
	}
	return 0;
}

static int vips_fill(int fd, const struct be_state *want, const struct be_state *old)
{
	struct xlb_addr k;
	__u8 one = 1, val;
	char a[64];
	size_t i;
	int err;

	for (i = 0; i < want->n_vips; i++) {
		const struct be_vip *v = &want->vips[i];

		be_vip_str(v, a, sizeof(a));
		vip_key(v, &k);
		if (!bpf_map_lookup_elem(fd, &k, &val)) {
			rep_ok("decap program serves VIP %s (already in place)", a);
			continue;
		}
		err = bpf_map_update_elem(fd, &k, &one, BPF_ANY);
		if (err)
			return xlb_fail(-err, "adding VIP %s to %s failed: %s (at most %d VIPs)", a,
					XLB_MAP_DECAP_VIPS, strerror(-err), BE_MAX_VIPS);
		if (old->exists && old->mode == BE_MODE_TUNNEL && state_vip_find(old, v))
			rep_fixed("VIP %s was missing from the decap map; added", a);
		else
			rep_done("decap program serves VIP %s", a);
	}
	return 0;
}

static int cfg_read(int fd, struct xlb_decap_config *c)
{
	__u32 key = 0;
	int err = bpf_map_lookup_elem(fd, &key, c);

	if (err)
		return xlb_fail(-err, "reading %s failed: %s", XLB_MAP_DECAP_CONFIG, strerror(-err));
	return 0;
}

static int cfg_apply(int fd, const struct be_state *want)
{
	struct xlb_decap_config c = {}, cur;
	__u32 key = 0;
	int err;

	c.gue_port = htons(want->gue_port);
	err = cfg_read(fd, &cur);
	if (err)
		return err;
	if (cur.gue_port == c.gue_port) {
		rep_ok("decap program takes GUE on UDP port %u%s (already in place)",
		       want->gue_port, want->gue_port ? "" : " (0: GUE off)");
		return 0;
	}
	err = bpf_map_update_elem(fd, &key, &c, BPF_ANY);
	if (err)
		return xlb_fail(-err, "writing %s failed: %s", XLB_MAP_DECAP_CONFIG, strerror(-err));
	if (want->gue_port)
		rep_done("decap program takes GUE on UDP port %u (was %u)", want->gue_port,
			 ntohs(cur.gue_port));
	else
		rep_done("decap program takes no GUE (gue-port 0; was %u)", ntohs(cur.gue_port));
	return 0;
}

/* ---- loading and attaching -------------------------------------------- */

/* What the maps held before, so a failed setup can put them back. */
struct maps_backup {
	bool pinned; /* the maps existed before this run */
	struct xlb_addr keys[BE_MAX_VIPS];
	size_t n;
	struct xlb_decap_config cfg;
};

static int skel_load(const char *root, struct decap_bpf **out)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = root);
	struct decap_bpf *s;
	int err;

	*out = NULL;
	s = decap_bpf__open_opts(&oo);
	if (!s)
		return xlb_fail(errno, "opening the embedded decap program failed: %s",
				strerror(errno));
	err = decap_bpf__load(s);
	if (err) {
		decap_bpf__destroy(s);
		return xlb_fail(-err, "loading the decap program failed: %s (libbpf's messages "
				"above say more); if maps pinned under %s come from another "
				"xlb-backend version, run 'xlb-backend remove --pin-root %s' first",
				strerror(-err), root, root);
	}
	*out = s;
	return 0;
}

/* Before loading: do the maps exist yet (libbpf pins them as it loads)? */
static void backup_begin(const char *root, struct maps_backup *b)
{
	char path[PATH_MAX];

	memset(b, 0, sizeof(*b));
	pin_path(path, root, XLB_MAP_DECAP_VIPS);
	b->pinned = !access(path, F_OK);
}

/* After loading: what the adopted maps hold. */
static void backup_read(struct maps_backup *b, const struct decap_bpf *s)
{
	if (!b->pinned)
		return;
	vips_read(bpf_map__fd(s->maps.xlb_decap_vips), b->keys, &b->n);
	cfg_read(bpf_map__fd(s->maps.xlb_decap_cfg), &b->cfg);
}

static void unpin_maps(const char *root)
{
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < N_MAPS; i++) {
		pin_path(path, root, map_names[i]);
		unlink(path);
	}
}

/* Put the maps back as they were before this run (best effort: this runs
 * only after something else already failed). */
static void backup_restore(const char *root, const struct maps_backup *b, const struct decap_bpf *s)
{
	int vfd = bpf_map__fd(s->maps.xlb_decap_vips);
	struct xlb_addr keys[BE_MAX_VIPS];
	__u8 one = 1;
	__u32 key = 0;
	size_t n, i;

	if (!b->pinned) {
		unpin_maps(root);
		return;
	}
	vips_read(vfd, keys, &n);
	for (i = 0; i < n; i++)
		bpf_map_delete_elem(vfd, &keys[i]);
	for (i = 0; i < b->n; i++)
		bpf_map_update_elem(vfd, &b->keys[i], &one, BPF_ANY);
	bpf_map_update_elem(bpf_map__fd(s->maps.xlb_decap_cfg), &key, &b->cfg, BPF_ANY);
}

static int prog_tag(int fd, __u8 tag[BPF_TAG_SIZE])
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	memcpy(tag, info.tag, BPF_TAG_SIZE);
	return 0;
}

/* Whether the program behind a link is the one we just loaded (same code). */
static bool same_prog(__u32 id, int our_fd)
{
	__u8 a[BPF_TAG_SIZE], b[BPF_TAG_SIZE];
	int fd = bpf_prog_get_fd_by_id(id);
	bool same;

	if (fd < 0)
		return false;
	same = !prog_tag(fd, a) && !prog_tag(our_fd, b) && !memcmp(a, b, sizeof(a));
	close(fd);
	return same;
}

static bool had_tunnel(const struct be_state *old)
{
	return old->exists && old->mode == BE_MODE_TUNNEL;
}

static int attach(const struct be_opts *o, const struct be_state *want, const struct be_state *old,
		  int prog_fd)
{
	const char *mode = xlb_xdp_mode_name(want->xdp_mode);
	struct xlb_pinned_link l;
	int ifindex = ifindex_of(want->dev), err;

	if (ifindex < 0)
		return ifindex;
	err = xlb_link_open(o->pin_root, want->dev, ifindex, want->xdp_mode, &l);
	if (err)
		return err;
	if (l.current && same_prog(l.prog_id, prog_fd)) {
		rep_ok("decap program attached to %s (%s XDP, prog id %u) (already in place)",
		       want->dev, mode, l.prog_id);
		xlb_link_close(&l);
		return 0;
	}
	if (l.current) {
		err = bpf_link_update(l.fd, prog_fd, NULL);
		xlb_link_close(&l);
		if (err)
			return xlb_fail(-err, "replacing the decap program on %s failed: %s",
					want->dev, strerror(-err));
		rep_done("replaced the decap program on %s with this version's (was prog id %u)",
			 want->dev, l.prog_id);
		return 0;
	}
	err = xlb_link_drop(o->pin_root, want->dev, &l);
	if (!err)
		err = xlb_link_create_pinned(prog_fd, o->pin_root, want->dev, ifindex,
					     want->xdp_mode);
	if (err)
		return err;
	if (l.prog_id && l.ifindex == (__u32)ifindex)
		rep_done("switched the decap program on %s to %s XDP", want->dev, mode);
	else if (l.prog_id)
		rep_fixed("the pinned XDP link of %s drove an interface that is gone; attached "
			  "anew (%s XDP)", want->dev, mode);
	else if (had_tunnel(old) && !strcmp(old->dev, want->dev))
		rep_fixed("decap program was not attached to %s; attached (%s XDP)", want->dev, mode);
	else
		rep_done("attached the decap program to %s (%s XDP)", want->dev, mode);
	return 0;
}

int decap_apply(const struct be_opts *o, const struct be_state *want, const struct be_state *old)
{
	bool root_existed = !access(o->pin_root, F_OK);
	struct maps_backup backup;
	struct decap_bpf *s = NULL;
	int err;

	err = pin_root_create(o->pin_root);
	if (err)
		return err;
	backup_begin(o->pin_root, &backup);
	err = skel_load(o->pin_root, &s);
	if (err) {
		if (!backup.pinned)
			unpin_maps(o->pin_root);
		pin_root_tidy(o->pin_root, root_existed);
		return err;
	}
	backup_read(&backup, s);
	err = vips_prune(bpf_map__fd(s->maps.xlb_decap_vips), want, true);
	if (!err)
		err = vips_fill(bpf_map__fd(s->maps.xlb_decap_vips), want, old);
	if (!err)
		err = cfg_apply(bpf_map__fd(s->maps.xlb_decap_cfg), want);
	if (!err)
		err = attach(o, want, old, bpf_program__fd(s->progs.xlb_decap));
	if (err)
		backup_restore(o->pin_root, &backup, s);
	decap_bpf__destroy(s);
	if (err)
		pin_root_tidy(o->pin_root, root_existed);
	return err;
}

/* ---- removing ---------------------------------------------------------- */

bool decap_pinned(const char *root)
{
	char path[PATH_MAX];
	struct dirent *de;
	bool any = false;
	size_t i;
	DIR *d;

	for (i = 0; i < N_MAPS && !any; i++) {
		pin_path(path, root, map_names[i]);
		any = !access(path, F_OK);
	}
	pin_path(path, root, XLB_LINKS_DIR);
	d = opendir(path);
	while (d && !any && (de = readdir(d)))
		any = de->d_name[0] != '.';
	if (d)
		closedir(d);
	return any;
}

static void link_removed(const char *dev, void *found)
{
	rep_done("detached the decap program from %s", dev);
	*(bool *)found = true;
}

int decap_remove(const char *root, bool *found)
{
	char path[PATH_MAX];
	size_t i;
	int err;

	*found = false;
	if (access(root, F_OK))
		return 0;
	if (!xlb_on_bpffs(root))
		return xlb_fail(EINVAL, "refusing to remove %s: it is not on a BPF filesystem", root);
	err = xlb_links_remove(root, link_removed, found);
	for (i = 0; i < N_MAPS && !err; i++) {
		pin_path(path, root, map_names[i]);
		if (!unlink(path))
			*found = true;
		else if (errno != ENOENT)
			err = xlb_fail(errno, "removing %s failed: %s", path, strerror(errno));
	}
	if (!err && rmdir(root) && errno != ENOENT)
		err = xlb_fail(errno, "removing %s failed: %s (something else is pinned there: "
			       "remove it or use another --pin-root)", root, strerror(errno));
	if (!err && *found)
		rep_done("removed the decap program's pins under %s", root);
	return err;
}

static int vips_map_open(const char *root)
{
	char path[PATH_MAX];
	int fd;

	pin_path(path, root, XLB_MAP_DECAP_VIPS);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return xlb_fail(errno, "opening %s failed: %s", path, strerror(errno));
	return fd;
}

int decap_forget_vips(const char *root, const struct be_vip *vips, size_t n)
{
	struct xlb_addr k;
	char a[64];
	size_t i;
	int fd = vips_map_open(root), err = 0;

	if (fd < 0)
		return fd;
	for (i = 0; i < n && !err; i++) {
		vip_key(&vips[i], &k);
		err = bpf_map_delete_elem(fd, &k);
		if (err == -ENOENT)
			err = 0;
		else if (err)
			err = xlb_fail(-err, "removing VIP %s from the decap map failed: %s",
				       be_vip_str(&vips[i], a, sizeof(a)), strerror(-err));
		else
			rep_done("decap program no longer serves VIP %s",
				 be_vip_str(&vips[i], a, sizeof(a)));
	}
	close(fd);
	return err;
}

/* ---- status ------------------------------------------------------------ */

static void status_link(const struct be_opts *o, const struct be_state *want)
{
	const char *mode = xlb_xdp_mode_name(want->xdp_mode);
	enum xlb_xdp_mode amode;
	struct xlb_pinned_link l;
	__u32 attached = 0;
	char desc[64];
	int ifindex = if_nametoindex(want->dev);

	if (!ifindex) {
		rep_problem("interface %s does not exist; fix: create it, then run setup again",
			    want->dev);
		return;
	}
	if (xlb_link_open(o->pin_root, want->dev, ifindex, want->xdp_mode, &l)) {
		rep_problem("%s; fix: run 'xlb-backend remove' then setup", xlb_errmsg());
		return;
	}
	if (l.current)
		rep_ok("decap program attached to %s (%s XDP, prog id %u)", want->dev, mode,
		       l.prog_id);
	else if (!xlb_xdp_attached(ifindex, &attached, &amode) && attached) {
		prog_describe(attached, desc, sizeof(desc));
		rep_problem("%s runs another XDP program (%s), not xlb-backend's decap program; "
			    "fix: remove it ('ip link set dev %s xdp off'), then run setup",
			    want->dev, desc, want->dev);
	} else {
		rep_problem("decap program is not attached to %s; fix: run setup again (the "
			    "tunnel's packets are not decapsulated)", want->dev);
	}
	xlb_link_close(&l);
}

static void status_vips(int fd, const struct be_state *want)
{
	struct xlb_addr keys[BE_MAX_VIPS], k;
	struct be_vip v;
	__u8 val;
	char a[64];
	size_t n, i;

	for (i = 0; i < want->n_vips; i++) {
		vip_key(&want->vips[i], &k);
		be_vip_str(&want->vips[i], a, sizeof(a));
		if (bpf_map_lookup_elem(fd, &k, &val))
			rep_problem("VIP %s is missing from the decap map (its tunnel packets pass "
				    "undecapsulated); fix: run setup again", a);
		else
			rep_ok("decap program serves VIP %s", a);
	}
	vips_read(fd, keys, &n);
	for (i = 0; i < n; i++) {
		if (wanted(want, &keys[i]))
			continue;
		key_vip(&keys[i], &v);
		rep_problem("decap map serves VIP %s, which is not configured here; fix: run setup "
			    "again (removes it)", be_vip_str(&v, a, sizeof(a)));
	}
}

static void status_cfg(int fd, const struct be_state *want)
{
	struct xlb_decap_config c;

	if (cfg_read(fd, &c)) {
		rep_problem("%s", xlb_errmsg());
		return;
	}
	if (ntohs(c.gue_port) == want->gue_port)
		rep_ok("decap program takes GUE on UDP port %u%s", want->gue_port,
		       want->gue_port ? "" : " (0: GUE off)");
	else
		rep_problem("decap program takes GUE on UDP port %u, expected %u; fix: run setup "
			    "again", ntohs(c.gue_port), want->gue_port);
}

static void status_counters(const char *root)
{
	static const char *const names[] = XLB_DECAP_REASON_NAMES;
	char path[PATH_MAX], line[256];
	int ncpus = libbpf_num_possible_cpus(), fd, used = 0;
	__u64 *vals;
	__u32 r;

	pin_path(path, root, XLB_MAP_DECAP_STATS);
	fd = bpf_obj_get(path);
	if (fd < 0 || ncpus <= 0)
		return;
	vals = calloc(ncpus, sizeof(*vals));
	for (r = 0; vals && r < XLB_DECAP_MAX; r++) {
		__u64 sum = 0;
		int c;

		if (bpf_map_lookup_elem(fd, &r, vals))
			continue;
		for (c = 0; c < ncpus; c++)
			sum += vals[c];
		used += snprintf(line + used, sizeof(line) - used, "%s%s=%llu", r ? " " : "",
				 names[r], (unsigned long long)sum);
	}
	free(vals);
	close(fd);
	if (used)
		rep_note("decap counters: %s", line);
}

static int map_open(const char *root, const char *name)
{
	char path[PATH_MAX];

	pin_path(path, root, name);
	return bpf_obj_get(path);
}

void decap_status(const struct be_opts *o, const struct be_state *want)
{
	int vfd = map_open(o->pin_root, XLB_MAP_DECAP_VIPS);
	int cfd = map_open(o->pin_root, XLB_MAP_DECAP_CONFIG);

	status_link(o, want);
	if (vfd < 0 || cfd < 0)
		rep_problem("the decap program's maps are not pinned under %s; fix: run setup again",
			    o->pin_root);
	if (vfd >= 0)
		status_vips(vfd, want);
	if (cfd >= 0)
		status_cfg(cfd, want);
	status_counters(o->pin_root);
	if (vfd >= 0)
		close(vfd);
	if (cfd >= 0)
		close(cfd);
}
