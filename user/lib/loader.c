// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Loading, pinning and attaching the datapath.
 *
 * Maps are pinned by name under the pin root and XDP links under
 * PIN_ROOT/links/IFNAME, so the datapath outlives xlbd (even kill -9) and
 * the next xlbd adopts it: libbpf reuses the pinned maps, and the pinned
 * link is pointed at the new program with bpf_link_update, an atomic
 * program replace without a gap in traffic.
 *
 * The links themselves are xdp.c's, shared with xlb-backend.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/if_link.h>
#include <linux/magic.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xdp.h"
#include "xlb.skel.h"
#include "xlb_internal.h"


/* ---- paths and bpffs -------------------------------------------------- */

/* The pin root without trailing slashes, so joined paths are canonical. */
static int pin_root_copy(char buf[PATH_MAX], const char *root)
{
	size_t n;

	if (!root || !*root)
		root = XLB_PIN_ROOT_DEFAULT;
	n = strlen(root);
	if (n >= PATH_MAX)
		return xlb_fail(ENAMETOOLONG, "pin root %s is too long", root);
	memcpy(buf, root, n + 1);
	while (n > 1 && buf[n - 1] == '/')
		buf[--n] = '\0';
	return 0;
}

static int pin_root_prepare(const char *root)
{
	int err = xlb_pin_root_check(root);

	return err ? err : xlb_mkdir_p(root, 0700);
}

/* ---- the layout stamp ------------------------------------------------- */

static int meta_verify(const char *root, const struct xlb_meta *m)
{
	/* All zero: the previous xlbd stopped between loading and stamping.
	 * libbpf still checks every pinned map's type and sizes on reuse. */
	if (!m->magic && !m->layout_version)
		return 0;
	if (m->magic != XLB_LAYOUT_MAGIC)
		return xlb_fail(EPROTO, "pinned maps under %s were not made by xlb (magic 0x%08x): "
				"remove them with 'xlbd --detach' (drops established flows) or "
				"use another pin root",
				root, m->magic);
	if (m->layout_version != XLB_LAYOUT_VERSION)
		return xlb_fail(EPROTO, "pinned maps under %s have layout v%u, this xlb expects "
				"v%u: run 'xlbd --detach' to remove them (drops established "
				"flows), then start again",
				root, m->layout_version, XLB_LAYOUT_VERSION);
	return 0;
}

static int meta_read(int fd, const char *path, struct xlb_meta *m)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), key = 0;
	int err;

	/* Check the shape first: a foreign value size would overrun m. */
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	if (err)
		return xlb_fail(-err, "reading %s failed: %s", path, strerror(-err));
	if (info.type != BPF_MAP_TYPE_ARRAY || info.key_size != sizeof(key) ||
	    info.value_size != sizeof(*m))
		return xlb_fail(EPROTO, "%s is not an xlb layout stamp: run 'xlbd --detach' to "
				"remove the pins (drops established flows), then start again",
				path);
	err = bpf_map_lookup_elem(fd, &key, m);
	if (err)
		return xlb_fail(-err, "reading %s failed: %s", path, strerror(-err));
	return 0;
}

/* Refuse pins of another layout before libbpf meets them. */
static int meta_check(const char *root)
{
	char path[PATH_MAX];
	struct xlb_meta m;
	int fd, err;

	err = xlb_path_join(path, root, XLB_MAP_META);
	if (err)
		return err;
	fd = bpf_obj_get(path);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return xlb_fail(errno, "opening %s failed: %s", path, strerror(errno));
	err = meta_read(fd, path, &m);
	close(fd);
	return err ? err : meta_verify(root, &m);
}

/* ---- flow table sizes ------------------------------------------------- */

/* No dot: bpffs refuses names with one (EPERM), keeping them for its own
 * files such as maps.debug. */
#define RESIZE_SUFFIX "_resizing"

/* A pinned map's max_entries, or 0 when it is not pinned. */
static int pinned_entries(const char *root, const char *name, uint32_t *n)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd, err;

	*n = 0;
	err = xlb_path_join(path, root, name);
	if (err)
		return err;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return errno == ENOENT ? 0 : xlb_fail(errno, "opening %s failed: %s", path,
						      strerror(errno));
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	close(fd);
	if (err)
		return xlb_fail(-err, "reading %s failed: %s", path, strerror(-err));
	*n = info.max_entries;
	return 0;
}

/* Move a pinned table aside so the load makes one of the new size; the
 * flows are copied over after the load (flows_copy_resized). */
static int pin_set_aside(const char *root, const char *name)
{
	char from[PATH_MAX], to[PATH_MAX];
	int err = xlb_path_join(from, root, name);

	if (!err)
		err = xlb_path_join(to, root, name);
	if (err)
		return err;
	strncat(to, RESIZE_SUFFIX, PATH_MAX - strlen(to) - 1);
	if (rename(from, to))
		return xlb_fail(errno, "moving %s aside to resize it failed: %s", from,
				strerror(errno));
	return 0;
}

/* A map's size: asked for (non-zero *size), else the pinned map's, else
 * def. *pinned: the pinned map's size, 0 when there is none. */
static int size_pick(const struct xlb *x, const char *name, uint32_t *size, uint32_t def,
		     uint32_t *pinned)
{
	int err = x->no_pin ? 0 : pinned_entries(x->pin_root, name, pinned);

	if (err)
		return err;
	if (!*size)
		*size = *pinned ? *pinned : def;
	return 0;
}

/* One table's size: asked for, pinned, or the default. A pinned table of
 * another size is only replaced when resize_flows allows it. */
static uint32_t pow2_above(uint32_t n)
{
	uint32_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

static int flow_size_resolve(struct xlb *x, const char *name, uint32_t *size, uint32_t def,
			     const char *option, bool pow2)
{
	uint32_t pinned = 0;
	int err = size_pick(x, name, size, def, &pinned);

	if (err)
		return err;
	if (*size < XLB_FLOWS_MIN)
		return xlb_fail(EINVAL, "%s %u is too small: at least %u entries", option, *size,
				XLB_FLOWS_MIN);
	if (pow2 && *size & (*size - 1)) {
		if (*size > 1u << 31)
			return xlb_fail(EINVAL, "%s %u is too large: at most %u entries", option,
					*size, 1u << 31);
		*size = pow2_above(*size);
		xlb_info("%s rounded up to %u, a power of two (the table is an array of sets)",
			 option, *size);
	}
	if (!pinned || pinned == *size)
		return 0;
	if (!x->resize_flows)
		return xlb_fail(EEXIST, "the pinned table %s under %s holds up to %u flows, and "
				"%s %u asks for another size: a new table would drop every "
				"established connection unless they are copied; restart with "
				"--resize-flows to copy them into the new table, or without %s "
				"to keep %u",
				name, x->pin_root, pinned, option, *size, option, pinned);
	return pin_set_aside(x->pin_root, name);
}

/* The marks follow the confirmed table's size. Pinned marks of another
 * size are dropped (they hold nothing but hints); new ones beside a pinned
 * table start blind: marks_start. */
static int marks_resolve(struct xlb *x)
{
	uint32_t flows_pinned = 0, marks_pinned = 0;
	char path[PATH_MAX];
	int err;

	x->mark_cells = xlb_flow_marks_cells(x->flow_entries);
	if (x->no_pin)
		return 0;
	err = pinned_entries(x->pin_root, XLB_MAP_FLOWS, &flows_pinned);
	if (!err)
		err = pinned_entries(x->pin_root, XLB_MAP_FLOW_MARKS, &marks_pinned);
	if (!err)
		err = xlb_path_join(path, x->pin_root, XLB_MAP_FLOW_MARKS);
	if (err)
		return err;
	if (marks_pinned && marks_pinned != x->mark_cells / XLB_FLOW_MARKS_PER_WORD) {
		if (unlink(path))
			return xlb_fail(errno, "removing %s (sized for another table) failed: %s",
					path, strerror(errno));
		marks_pinned = 0;
	}
	x->marks_blind = flows_pinned && !marks_pinned;
	return 0;
}

static int flow_sizes_resolve(struct xlb *x)
{
	int err = flow_size_resolve(x, XLB_MAP_FLOWS, &x->flow_entries, XLB_FLOWS_DEFAULT,
				    "--flow-entries", false);

	if (!err)
		err = flow_size_resolve(x, XLB_MAP_FLOWS_NEW, &x->new_flow_entries,
					XLB_FLOWS_NEW_DEFAULT, "--new-flow-entries", true);
	return err ? err : marks_resolve(x);
}

/*
 * After load. Marks made beside an empty table start at the first
 * generation. New marks beside a pinned table know none of its flows, and
 * the datapath still attached confirms more into the old marks until the
 * new program takes over: they stay off (generation 0, every SYN looks up)
 * until xlbd's sweep has walked the table once after the takeover
 * (xlb_flows_sweep turns them on). Adopted marks go on as they were.
 */
static int marks_start(struct xlb *x)
{
	__u32 gen;
	int err = xlb_mark_gen_get(x, &gen);

	if (err)
		return err;
	if (x->marks_blind)
		return gen ? xlb_mark_gen_set(x, 0) : 0;
	return gen ? 0 : xlb_mark_gen_set(x, 1);
}

/* ---- VIP and backend limits ---------------------------------------------- */

/* How many VIPs or backend slots: asked for, pinned, or the default. The
 * maps they size are not copied into new ones (their ids are in every
 * flow, the counters' layout follows them), so another size than the
 * pinned one is refused. */
static int limit_resolve(struct xlb *x, const char *map, uint32_t *n, uint32_t def,
			 uint32_t max, const char *option)
{
	uint32_t pinned = 0;
	int err = size_pick(x, map, n, def, &pinned);

	if (err)
		return err;
	if (*n < 1 || *n > max)
		return xlb_fail(EINVAL, "%s %u is out of range: 1 to %u", option, *n, max);
	if (pinned && pinned != *n)
		return xlb_fail(EEXIST, "the datapath pinned under %s was made for %s %u, and %s "
				"%u asks for another size: its maps cannot be resized in place; "
				"restart without %s to keep %u, or run 'xlbd --detach' first "
				"(drops established flows) and start with %s %u",
				x->pin_root, option, pinned, option, *n, option, pinned, option,
				*n);
	return 0;
}

static int nexthop_cache_check(uint32_t n)
{
	if (!n || n > XLB_CLIENT_NH_MAX || (n & (n - 1)))
		return xlb_fail(EINVAL, "--nexthop-cache %u: must be a power of two from 1 to %u",
				n, XLB_CLIENT_NH_MAX);
	return 0;
}

static int limits_resolve(struct xlb *x)
{
	int err = limit_resolve(x, XLB_MAP_VIPS, &x->max_vips, XLB_VIPS_DEFAULT, XLB_MAX_VIPS,
				"--max-vips");

	if (!err)
		err = limit_resolve(x, XLB_MAP_BACKENDS, &x->max_backends, XLB_BACKENDS_DEFAULT,
				    XLB_MAX_BACKENDS, "--max-backends");
	if (!err)
		err = nexthop_cache_check(x->nexthop_cache);
	x->stats_entries = XLB_STATS_ENTRIES(x->stats_cpus, x->max_vips);
	return err;
}

struct map_size {
	struct bpf_map *map;
	uint32_t entries;
};

/* Every map whose size follows an option, before load. */
static int limits_apply(struct xlb *x)
{
	struct xlb_bpf *s = x->skel;
	const struct map_size sizes[] = {
		{ s->maps.xlb_flows, x->flow_entries },
		{ s->maps.xlb_flows_new, x->new_flow_entries },
		{ s->maps.xlb_flow_marks, x->mark_cells / XLB_FLOW_MARKS_PER_WORD },
		{ s->maps.xlb_vips, x->max_vips },
		{ s->maps.xlb_vip_addrs, x->max_vips },
		{ s->maps.xlb_vip_state, x->max_vips },
		{ s->maps.xlb_tables, XLB_TABLE_SLOTS(x->max_vips) },
		{ s->maps.xlb_backends, x->max_backends },
		{ s->maps.xlb_nat_ends, x->max_backends },
		{ s->maps.xlb_client_nh, x->nexthop_cache },
		{ s->maps.xlb_stats, x->stats_entries },
		{ s->maps.xlb_reasons, XLB_REASON_ENTRIES((uint32_t)x->stats_cpus) },
	};
	size_t i;
	int err;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		err = bpf_map__set_max_entries(sizes[i].map, sizes[i].entries);
		if (err)
			return xlb_fail(-err, "sizing %s to %u entries failed: %s",
					bpf_map__name(sizes[i].map), sizes[i].entries,
					strerror(-err));
	}
	s->rodata->client_nh_mask = x->nexthop_cache - 1;
	s->rodata->flow_marks_mask = x->mark_cells / XLB_FLOW_MARKS_PER_WORD - 1;
	return 0;
}

static uint32_t ids_in_use(const struct xlb_ids *ids)
{
	uint32_t i, n = 0;

	for (i = 0; i < (ids->size + 63) / 64; i++)
		n += (uint32_t)__builtin_popcountll(ids->bits[i]);
	return n;
}

static uint64_t memlock_of(const int *fds, size_t n)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < n; i++)
		sum += xlb_map_memlock(fds[i]);
	return sum;
}

void xlb_limits_get(const struct xlb *x, struct xlb_limits *l)
{
	const int vip_fds[] = { x->fd.vips, x->fd.vip_addrs, x->fd.vip_state, x->fd.tables };
	const int be_fds[] = { x->fd.backends, x->fd.nat_ends };
	const int nh_fd = bpf_map__fd(x->skel->maps.xlb_client_nh);

	memset(l, 0, sizeof(*l));
	l->vips = ids_in_use(&x->vip_ids);
	l->max_vips = x->max_vips;
	l->vip_bytes = memlock_of(vip_fds, sizeof(vip_fds) / sizeof(vip_fds[0]));
	l->backends = ids_in_use(&x->be_ids);
	l->max_backends = x->max_backends;
	l->backend_bytes = memlock_of(be_fds, sizeof(be_fds) / sizeof(be_fds[0]));
	l->nexthop_cache = x->nexthop_cache;
	l->nexthop_bytes = memlock_of(&nh_fd, 1);
	l->stats_bytes = memlock_of(&x->fd.stats, 1) + memlock_of(&x->fd.reasons, 1);
}

struct flow_copy {
	const struct xlb *x;
	int to;
	uint32_t to_entries; /* the unconfirmed table's slots */
	uint64_t copied, lost;
};

static void copy_confirmed(void *ctx, const struct xlb_flow_key *k, const struct xlb_flow *f)
{
	struct flow_copy *c = ctx;

	int err = xlb_flow_confirmed_put(c->x, k, f);

	if (!err)
		c->copied++;
	else if (err != -EEXIST)
		c->lost++;
}

static void copy_pending(void *ctx, const struct xlb_flow_key *k, const struct xlb_flow *f)
{
	struct flow_copy *c = ctx;

	if (f->flags & (XLB_FLOW_F_CONFIRMED | XLB_FLOW_F_CLOSING))
		return;
	if (!xlb_pending_put_fd(c->to, c->to_entries, k, f))
		c->copied++;
	else
		c->lost++;
}

/* After a load with resize_flows: the set-aside table's flows go into the
 * new one, then its pin goes. A table that is too small keeps what fits
 * and says how many did not. */
static int flows_copy_resized(struct xlb *x, const char *name, int to)
{
	bool pending = !strcmp(name, XLB_MAP_FLOWS_NEW);
	struct flow_copy c = { .x = x, .to = to, .to_entries = x->new_flow_entries };
	char path[PATH_MAX];
	int fd, err;

	err = xlb_path_join(path, x->pin_root, name);
	if (err)
		return err;
	strncat(path, RESIZE_SUFFIX, PATH_MAX - strlen(path) - 1);
	if (access(path, F_OK))
		return 0; /* nothing was set aside */
	fd = bpf_obj_get(path);
	if (fd < 0)
		return xlb_fail(errno, "opening %s failed: %s", path, strerror(errno));
	err = pending ? xlb_pending_walk_fd(fd, copy_pending, &c)
		      : xlb_flows_walk_fd(fd, copy_confirmed, &c);
	close(fd);
	if (err)
		return xlb_fail(-err, "copying the flows of %s failed: %s; the old table is "
				"still pinned there and the next start tries again",
				path, strerror(-err));
	unlink(path);
	if (c.lost)
		xlb_warn("resized %s: %lu flows copied, %lu did not fit the new size and will "
			 "be scheduled again by their next packet",
			 name, (unsigned long)c.copied, (unsigned long)c.lost);
	else
		xlb_info("resized %s: all %lu flows copied", name, (unsigned long)c.copied);
	return 0;
}

static int flows_finish_resize(struct xlb *x)
{
	int err;

	if (x->no_pin)
		return 0;
	err = flows_copy_resized(x, XLB_MAP_FLOWS, x->fd.flows);
	if (!err)
		err = flows_copy_resized(x, XLB_MAP_FLOWS_NEW, x->fd.flows_new);
	return err;
}

static int meta_stamp(const struct xlb *x)
{
	struct xlb_meta m = {
		.magic = XLB_LAYOUT_MAGIC,
		.layout_version = XLB_LAYOUT_VERSION,
		.flow_entries = x->flow_entries,
		.new_flow_entries = x->new_flow_entries,
	};
	__u32 key = 0;
	int err;

	err = bpf_map_update_elem(x->fd.meta, &key, &m, BPF_ANY);
	if (err)
		return xlb_fail(-err, "writing %s failed: %s", XLB_MAP_META, strerror(-err));
	return 0;
}

/* ---- the object ------------------------------------------------------- */

static int skel_open(struct xlb *x)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = x->no_pin ? NULL : x->pin_root);
	struct bpf_map *m;
	int err;

	x->skel = xlb_bpf__open_opts(&oo);
	if (!x->skel)
		return xlb_fail(errno, "opening the embedded BPF object failed: %s",
				strerror(errno));
	if (x->no_pin) {
		bpf_object__for_each_map(m, x->skel->obj) {
			err = bpf_map__set_pin_path(m, NULL);
			if (err)
				return xlb_fail(-err, "unpinning map %s failed: %s",
						bpf_map__name(m), strerror(-err));
		}
	}
	x->skel->rodata->udp_idle_ns = x->udp_idle_ns;
	x->skel->rodata->flows_new_set_mask = x->new_flow_entries / XLB_FLOWS_NEW_WAYS - 1;
	x->skel->rodata->icmp_rate = x->icmp_rate;
	x->skel->rodata->icmp_burst = x->icmp_burst;
	return limits_apply(x);
}

static void map_fds_get(struct xlb *x)
{
	const struct xlb_bpf *s = x->skel;

	x->fd.addr_filter = bpf_map__fd(s->maps.xlb_addr_filter);
	x->fd.backend_epochs = bpf_map__fd(s->maps.xlb_backend_epochs);
	x->fd.vips = bpf_map__fd(s->maps.xlb_vips);
	x->fd.vip_addrs = bpf_map__fd(s->maps.xlb_vip_addrs);
	x->fd.backends = bpf_map__fd(s->maps.xlb_backends);
	x->fd.flows = bpf_map__fd(s->maps.xlb_flows);
	x->fd.flows_new = bpf_map__fd(s->maps.xlb_flows_new);
	x->fd.marks = bpf_map__fd(s->maps.xlb_flow_marks);
	x->fd.nat_ends = bpf_map__fd(s->maps.xlb_nat_ends);
	x->fd.tables = bpf_map__fd(s->maps.xlb_tables);
	x->fd.vip_state = bpf_map__fd(s->maps.xlb_vip_state);
	x->fd.stats = bpf_map__fd(s->maps.xlb_stats);
	x->fd.reasons = bpf_map__fd(s->maps.xlb_reasons);
	x->fd.meta = bpf_map__fd(s->maps.xlb_meta);
}

static int skel_load(struct xlb *x)
{
	int err = xlb_bpf__load(x->skel);

	if (err && x->no_pin)
		return xlb_fail(-err, "loading the XDP program and its maps failed: %s (libbpf's "
				"messages above say more)",
				strerror(-err));
	if (err)
		return xlb_fail(-err, "loading the XDP program and its maps failed: %s (libbpf's "
				"messages above say more); if the pins under %s come from another "
				"xlb build, run 'xlbd --detach' (drops established flows)",
				strerror(-err), x->pin_root);
	map_fds_get(x);
	err = xlb_stats_map(x);
	return err ? err : xlb_marks_map(x);
}

#define CPU_POSSIBLE "/sys/devices/system/cpu/possible"

/* The highest possible CPU id + 1 (ids may have holes, e.g. "0,2-5"): the
 * datapath indexes its counters by bpf_get_smp_processor_id(). */
static int cpu_ids(void)
{
	char buf[256], *last;
	FILE *f = fopen(CPU_POSSIBLE, "r");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	last = buf + strcspn(buf, "\n");
	*last = 0;
	while (last > buf && last[-1] != '-' && last[-1] != ',')
		last--;
	return *last ? atoi(last) + 1 : -1;
}

static void icmp_limit_take(struct xlb *x, const struct xlb_open_opts *opts)
{
	uint32_t rate = opts && opts->icmp_rate ? opts->icmp_rate : XLB_ICMP_RATE_DEFAULT;

	x->icmp_rate = rate == XLB_ICMP_UNLIMITED ? 0 : rate;
	x->icmp_burst = opts && opts->icmp_burst ? opts->icmp_burst : XLB_ICMP_BURST_DEFAULT;
}

static int handle_new(const struct xlb_open_opts *opts, struct xlb **out)
{
	struct xlb *x;

	x = calloc(1, sizeof(*x));
	if (!x)
		return xlb_fail(ENOMEM, "out of memory");
	*out = x;
	x->no_pin = opts && opts->no_pin;
	x->flow_entries = opts ? opts->flow_entries : 0;
	x->new_flow_entries = opts ? opts->new_flow_entries : 0;
	x->resize_flows = opts && opts->resize_flows;
	x->max_vips = opts ? opts->max_vips : 0;
	x->max_backends = opts ? opts->max_backends : 0;
	x->nexthop_cache = opts && opts->nexthop_cache ? opts->nexthop_cache
						       : XLB_CLIENT_NH_DEFAULT;
	x->tcp_idle_s = opts && opts->tcp_idle_s ? opts->tcp_idle_s : XLB_TCP_IDLE_DEFAULT_S;
	x->udp_idle_ns = opts && opts->udp_idle_ns ? opts->udp_idle_ns : XLB_UDP_IDLE_DEFAULT_NS;
	icmp_limit_take(x, opts);
	x->stats_cpus = cpu_ids();
	if (x->stats_cpus <= 0)
		return xlb_fail(EIO, "reading %s failed: cannot size the counters", CPU_POSSIBLE);
	return pin_root_copy(x->pin_root, opts ? opts->pin_root : NULL);
}

int xlb_open(struct xlb **out, const struct xlb_open_opts *opts)
{
	struct xlb *x = NULL;
	int err;

	*out = NULL;
	err = handle_new(opts, &x);
	if (!err && !x->no_pin)
		err = pin_root_prepare(x->pin_root);
	if (!err && !x->no_pin)
		err = meta_check(x->pin_root);
	if (!err)
		err = flow_sizes_resolve(x);
	if (!err)
		err = limits_resolve(x);
	if (!err)
		err = xlb_model_init(x);
	if (!err)
		err = skel_open(x);
	if (!err)
		err = skel_load(x);
	if (!err)
		err = marks_start(x);
	if (!err)
		err = flows_finish_resize(x);
	if (!err)
		err = meta_stamp(x);
	/* Fresh maps hold nothing, so adopting them is harmless; pinned ones
	 * may come from a previous xlbd even without a stamp. */
	if (!err && !x->no_pin)
		err = xlb_model_adopt(x);
	if (err) {
		xlb_close(x);
		return err;
	}
	*out = x;
	return 0;
}

static void links_close(struct xlb *x)
{
	size_t i;

	for (i = 0; i < x->n_links; i++)
		close(x->links[i].fd);
	free(x->links);
	x->links = NULL;
	x->n_links = 0;
}

void xlb_close(struct xlb *x)
{
	if (!x)
		return;
	links_close(x);
	xlb_stats_unmap(x);
	xlb_marks_unmap(x);
	xlb_bpf__destroy(x->skel);
	xlb_model_free(x);
	free(x);
}

int xlb_prog_fd(const struct xlb *x)
{
	return bpf_program__fd(x->skel->progs.xlb_lb);
}

int xlb_map_fd(const struct xlb *x, const char *name)
{
	struct bpf_map *m = NULL;

	if (name && !strncmp(name, "xlb_", 4))
		m = bpf_object__find_map_by_name(x->skel->obj, name);
	if (!m)
		return xlb_fail(ENOENT, "no map named '%s' (the maps are the XLB_MAP_* names)",
				name ? name : "(null)");
	return bpf_map__fd(m);
}

/* ---- attach and detach ------------------------------------------------ */

static struct xlb_link *link_find(const struct xlb *x, const char *ifname)
{
	size_t i;

	for (i = 0; i < x->n_links; i++)
		if (!strcmp(x->links[i].ifname, ifname))
			return &x->links[i];
	return NULL;
}

/* no_pin: the handle holds the link, so the attachment ends with it. */
static int attach_private(struct xlb *x, const char *ifname, unsigned int ifindex,
			  enum xlb_xdp_mode mode)
{
	struct xlb_link *l = link_find(x, ifname);
	int fd, err;

	if (l) {
		err = bpf_link_update(l->fd, xlb_prog_fd(x), NULL);
		if (err)
			return xlb_fail(-err, "updating the XDP link of %s failed: %s", ifname,
					strerror(-err));
		return 0;
	}
	l = realloc(x->links, (x->n_links + 1) * sizeof(*l));
	if (!l)
		return xlb_fail(ENOMEM, "out of memory attaching to %s", ifname);
	x->links = l;
	fd = xlb_link_create(xlb_prog_fd(x), ifname, ifindex, mode);
	if (fd < 0)
		return fd;
	l = &x->links[x->n_links++];
	snprintf(l->ifname, sizeof(l->ifname), "%s", ifname);
	l->fd = fd;
	return 0;
}

/*
 * Point the pinned link at our program: the restart path, without a gap. A
 * stale link (interface recreated, or another XDP mode asked for) is
 * replaced instead, which does leave a short gap.
 */
static int attach_pinned(struct xlb *x, const char *ifname, unsigned int ifindex,
			 enum xlb_xdp_mode mode)
{
	struct xlb_pinned_link l;
	int err = xlb_link_open(x->pin_root, ifname, ifindex, mode, &l);

	if (err)
		return err;
	if (l.current) {
		err = bpf_link_update(l.fd, xlb_prog_fd(x), NULL);
		if (err != -ENOLINK) {
			xlb_link_close(&l);
			if (err)
				return xlb_fail(-err, "updating the XDP link of %s failed: %s",
						ifname, strerror(-err));
			return 0;
		}
	}
	err = xlb_link_drop(x->pin_root, ifname, &l);
	if (!err)
		err = xlb_link_create_pinned(xlb_prog_fd(x), x->pin_root, ifname, ifindex, mode);
	return err;
}

int xlb_attach(struct xlb *x, const char *ifname, enum xlb_xdp_mode mode)
{
	unsigned int ifindex;
	int err;

	if (mode != XLB_XDP_NATIVE && mode != XLB_XDP_GENERIC)
		return xlb_fail(EINVAL, "XDP mode %d is neither native nor generic", mode);
	err = xlb_ifindex(ifname, &ifindex);
	if (err)
		return err;
	if (x->no_pin)
		return attach_private(x, ifname, ifindex, mode);
	return attach_pinned(x, ifname, ifindex, mode);
}

static int detach_private(struct xlb *x, const char *ifname)
{
	struct xlb_link *l = link_find(x, ifname);

	if (!l)
		return xlb_fail(ENOENT, "xlb is not attached to %s", ifname);
	bpf_link_detach(l->fd);
	close(l->fd);
	*l = x->links[--x->n_links];
	return 0;
}

/* The interface may be gone already: only the pin is needed. */
int xlb_detach(struct xlb *x, const char *ifname)
{
	struct xlb_pinned_link l;
	char path[PATH_MAX];
	int err;

	if (!ifname || !*ifname || strchr(ifname, '/'))
		return xlb_fail(EINVAL, "'%s' is not an interface name", ifname ? ifname : "");
	if (x->no_pin)
		return detach_private(x, ifname);
	err = xlb_link_open(x->pin_root, ifname, 0, XLB_XDP_NATIVE, &l);
	if (!err && l.fd < 0 && !xlb_link_path(path, x->pin_root, ifname))
		return xlb_fail(ENOENT, "xlb is not attached to %s (no link pinned at %s)", ifname,
				path);
	return err ? err : xlb_link_drop(x->pin_root, ifname, &l);
}

/* ---- removing everything ---------------------------------------------- */

/* Call fn on every entry of dir but . and .. ; a missing dir has none. */
static int dir_each(const char *dir, int (*fn)(const char *path, const struct dirent *de))
{
	char path[PATH_MAX];
	struct dirent *de;
	int err = 0, e;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : xlb_fail(errno, "opening %s failed: %s", dir,
						      strerror(errno));
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		e = xlb_path_join(path, dir, de->d_name);
		if (!e)
			e = fn(path, de);
		if (e && !err)
			err = e;
	}
	closedir(d);
	return err;
}

static int pin_map_remove(const char *path, const struct dirent *de)
{
	if (de->d_type == DT_DIR)
		return 0;
	if (unlink(path) && errno != ENOENT)
		return xlb_fail(errno, "removing %s failed: %s", path, strerror(errno));
	return 0;
}

static int dir_remove(const char *dir)
{
	if (rmdir(dir) && errno != ENOENT)
		return xlb_fail(errno, "removing %s failed: %s (something else is pinned there)",
				dir, strerror(errno));
	return 0;
}

int xlb_destroy_pins(const char *pin_root)
{
	char root[PATH_MAX];
	int err;

	err = pin_root_copy(root, pin_root);
	if (err)
		return err;
	if (access(root, F_OK))
		return errno == ENOENT ? 0 : xlb_fail(errno, "%s: %s", root, strerror(errno));
	/* Never unlink files outside bpffs, whatever path we are given. */
	if (!xlb_on_bpffs(root))
		return xlb_fail(EINVAL, "refusing to remove %s: it is not on a BPF filesystem",
				root);
	err = xlb_links_remove(root, NULL, NULL);
	if (!err)
		err = dir_each(root, pin_map_remove);
	if (!err)
		err = dir_remove(root);
	return err;
}
