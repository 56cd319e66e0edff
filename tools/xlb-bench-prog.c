// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * xlb-bench-prog: the per-packet cost of the XDP program (benchmark part 1).
 *
 * Method (so figures compare with other XDP balancers measured this way):
 * bpf_prog_test_run_opts() with repeat = 1 per call (with repeat > 1 the
 * kernel re-runs the packet the program already rewrote, which measures
 * nothing useful), --calls calls per run, ns/packet from the kernel's
 * `duration`, --runs runs, min/median/max. Every case is run once per run,
 * in turn, so slow drifts of the machine hit all cases alike; the empty
 * (XDP_PASS) and trivial (swap MACs, XDP_TX) programs run in the same loop
 * and every figure is also given as a ratio to them. The process is pinned
 * to one CPU.
 *
 * It isolates itself in a private network namespace (unshare) with two veth
 * pairs, addresses, permanent neighbours for every backend and forwarding
 * on, so bpf_fib_lookup() succeeds as it would on a gateway. Nothing of the
 * machine's own network is touched; the namespace vanishes with the process.
 *
 * Flows. The "established" cases rotate over K flows each, created by
 * sending each flow's first packet through xlb itself (so the table holds
 * what the datapath writes, whatever its layout), visited in a scattered
 * order; the rest of the table is filled up to --flows entries. Before each
 * timed run every flow of the case is visited once (untimed), so cached next
 * hops are fresh: the timed run measures the steady state of busy flows.
 * New flows (SYN) run against a second private copy of xlb whose table holds
 * the same number of entries, so their inserts cannot evict the established
 * flows of the first. Every xlb case is checked by xlb's own reason counters
 * (and the XDP action) before and after the timed runs: a figure whose
 * packets did not take the intended path is flagged, not silently reported.
 *
 * "warm": where repeating a packet within one call stays meaningful (the
 * reference programs, dsr, pass), the same cases are also timed with
 * --warm repetitions per call. Every repeat = 1 call starts with what the
 * system call evicted (on a VM with page-table isolation and no PCID, the
 * whole TLB); the warm figure is the program with caches and TLB warm, as
 * in a NAPI batch. The difference is what the packet's memory costs.
 */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>

#include "libxlb.h"
#include "bench.skel.h"
#include "sysutil.h"
#include "xbench.h"

#define MAX_RUNS 25
#define MAX_CASES 48
#define MAX_CONFIGS (MAX_LIST * MAX_LIST)
#define MAX_LIST 8
#define FRAME_MIN 64 /* frame bytes handed to the program (no FCS) */
#define VALIDATE_CALLS 20000
#define VALIDATE_MIN 0.99 /* share of packets that must take the intended path */
#define PORT_BITS 14 /* flow i: source port from the low bits, address from the rest */
#define PORT_BASE 1024
#define HOT_FLOWS 100 /* busy flows of the "hot" variant */

/* ---- options -------------------------------------------------------------- */

struct opts {
	unsigned long calls;
	int runs;
	int cpu;
	unsigned long backends[MAX_LIST];
	int n_backends;
	unsigned long flows[MAX_LIST];
	int n_flows;
	const char *tsv;
	const char *only; /* comma-separated case names, NULL = all */
	unsigned int warm_repeat; /* repetitions per call of the warm figures, 0: none */
	bool verbose;
};

static struct opts opt;
static const struct opts opt_default = {
	.calls = 1000000,
	.runs = 5,
	.warm_repeat = 100,
	.cpu = -1,
	.backends = { 3, 1000 },
	.n_backends = 2,
	.flows = { 1000, 1000000 },
	.n_flows = 2,
};

/* Progress on stderr with the time since start (-v). */
static void vlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void vlog(const char *fmt, ...)
{
	static double t0;
	va_list ap;

	if (!opt.verbose)
		return;
	if (!t0)
		t0 = xb_now();
	fprintf(stderr, "[%7.1fs] ", xb_now() - t0);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

/* ---- the namespace ------------------------------------------------------------ */

/* Client side: xbench packets arrive on IN_DEV. Backend side: OUT_DEV, one
 * /22 (v4) and /64 (v6) holding up to 1000 backends, each with its own MAC. */
#define IN_DEV "xb-in"
#define IN_PEER "xb-in-p"
#define OUT_DEV "xb-out"
#define OUT_PEER "xb-out-p"
#define MAX_BACKENDS_PER_VIP 1000

static const uint8_t in_mac[ETH_ALEN] = { 0x02, 0xb0, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t in_peer_mac[ETH_ALEN] = { 0x02, 0xb0, 0x00, 0x00, 0x00, 0x02 };
static const uint8_t out_mac[ETH_ALEN] = { 0x02, 0xb0, 0x00, 0x00, 0x01, 0x01 };
static const uint8_t out_peer_mac[ETH_ALEN] = { 0x02, 0xb0, 0x00, 0x00, 0x01, 0x02 };
static int in_ifindex, out_ifindex;

/* Backend i (0-based): 198.18.4.2 + i and fd00:4::2 + i, MAC 02:b1:00:00:hi:lo. */
static void backend_addr(int family, unsigned int i, struct xlb_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (family == XLB_FAMILY_V4) {
		a->v4 = htonl((198u << 24 | 18u << 16 | 4u << 8 | 2u) + i);
	} else {
		inet_pton(AF_INET6, "fd00:4::", a->bytes);
		a->v6[3] = htonl(2 + i);
	}
}

/* One `ip -batch` for all neighbours: a thousand fork/execs would take
 * longer than the benchmark itself. */
static int neighbours_add(unsigned int n)
{
	char a4[INET6_ADDRSTRLEN], a6[INET6_ADDRSTRLEN];
	struct xlb_addr a;
	unsigned int i;
	FILE *f;

	f = popen("ip -batch -", "w");
	if (!f)
		return -errno;
	for (i = 0; i < n; i++) {
		backend_addr(XLB_FAMILY_V4, i, &a);
		inet_ntop(AF_INET, a.bytes, a4, sizeof(a4));
		backend_addr(XLB_FAMILY_V6, i, &a);
		inet_ntop(AF_INET6, a.bytes, a6, sizeof(a6));
		fprintf(f, "neigh add %s lladdr 02:b1:00:00:%02x:%02x nud permanent dev %s\n", a4,
			i >> 8, i & 0xff, OUT_DEV);
		fprintf(f, "neigh add %s lladdr 02:b1:00:00:%02x:%02x nud permanent dev %s\n", a6,
			i >> 8, i & 0xff, OUT_DEV);
	}
	return pclose(f) ? -EIO : 0;
}

/* A private network namespace: everything below vanishes with us. */
static int netns_setup(void)
{
	const struct test_veth in = { .dev = IN_DEV, .peer = IN_PEER, .mac = in_mac,
				      .peer_mac = in_peer_mac, .v4 = "198.18.0.1", .v6 = "fd00::1" };
	const struct test_veth out = { .dev = OUT_DEV, .peer = OUT_PEER, .mac = out_mac,
				       .peer_mac = out_peer_mac };

	if (test_netns_private() || test_veth_add(&in) < 0 || test_veth_add(&out) < 0)
		return -1;
	if (test_sh("ip addr add 198.18.4.1/22 dev %s && ip -6 addr add fd00:4::1/64 dev %s nodad",
		    OUT_DEV, OUT_DEV) ||
	    /* Client addresses of the generated flows live behind the peer. */
	    test_sh("ip route add 198.18.64.0/18 via 198.18.0.2 && "
		    "ip route add 198.18.128.0/17 via 198.18.0.2 && "
		    "ip -6 route add fd00:64::/32 via fd00::2") ||
	    test_sh("ip neigh add 198.18.0.2 lladdr 02:b0:00:00:00:02 nud permanent dev %s && "
		    "ip -6 neigh add fd00::2 lladdr 02:b0:00:00:00:02 nud permanent dev %s",
		    IN_DEV, IN_DEV))
		return -1;
	in_ifindex = (int)if_nametoindex(IN_DEV);
	out_ifindex = (int)if_nametoindex(OUT_DEV);
	if (!in_ifindex || !out_ifindex)
		return -1;
	return neighbours_add(MAX_BACKENDS_PER_VIP) ? -1 : 0;
}

/* ---- packets ------------------------------------------------------------------ */

/* A TCP or UDP frame from the client's veth to xlb, padded to FRAME_MIN. */
static void frame_build(struct xb_pkt *p, uint8_t family, uint8_t proto, const struct xlb_addr *src,
			uint16_t sport, const struct xlb_addr *dst, uint16_t dport, uint8_t tcp_flags)
{
	struct xb_pkt_spec s = {
		.family = family,
		.proto = proto,
		.src = *src,
		.dst = *dst,
		.sport = sport,
		.dport = dport,
		.tcp_flags = tcp_flags,
		.size = FRAME_MIN,
	};

	memcpy(s.dmac, in_mac, ETH_ALEN);
	memcpy(s.smac, in_peer_mac, ETH_ALEN);
	xb_pkt_build(p, &s);
}

/* ---- flows ---------------------------------------------------------------------- */

/* Client address ranges, one per use, so the sets never share a tuple. */
enum flow_set {
	SET_ESTABLISHED = 0, /* 198.18.64.0/18, fd00:64:0::/48 */
	SET_NEW = 1, /* 198.18.128.0/18, fd00:64:1::/48 */
	SET_FILL = 2, /* 198.18.192.0/18, fd00:64:2::/48 */
};

static void flow_source(uint8_t family, enum flow_set set, uint64_t i, struct xlb_addr *a,
			uint16_t *port)
{
	uint32_t host = (uint32_t)(i >> PORT_BITS);

	memset(a, 0, sizeof(*a));
	*port = (uint16_t)(PORT_BASE + (i & ((1u << PORT_BITS) - 1)));
	if (family == XLB_FAMILY_V4) {
		/* a /18 holds 2^14 hosts: 2^28 tuples per set, plenty. */
		a->v4 = htonl((198u << 24 | 18u << 16 | (64u + 64u * set) << 8) + (host & 0x3fff));
	} else {
		a->v6[0] = htonl(0xfd000064);
		a->v6[1] = htonl((uint32_t)set << 16);
		a->v6[3] = htonl(host + 1);
	}
}

/* Visit K flows in a scattered order: consecutive flows were created one
 * after the other and may sit next to each other in memory, which a
 * sequential walk would turn into prefetcher-friendly streaming. */
static uint64_t scatter(uint64_t i, uint64_t k)
{
	/* 1000003 is prime and so coprime to any K that is not a multiple of it. */
	return k % 1000003 ? (i * 1000003) % k : i % k;
}

/* ---- cases -------------------------------------------------------------------- */

enum rotation {
	ROT_FIXED, /* the same packet every call */
	ROT_ESTABLISHED, /* K established flows in scattered order */
	ROT_NEW, /* a never-seen 5-tuple every call */
};

struct config;

struct bench_case {
	const char *name;
	const struct config *cf; /* NULL for the reference programs */
	const char *what;
	int prog_fd;
	struct xlb *x; /* NULL for the reference programs */
	struct xb_pkt pkt;
	enum rotation rot;
	uint64_t k; /* ROT_ESTABLISHED: flows in the rotation */
	uint64_t next; /* ROT_NEW: next tuple index, never reused */
	int expect_action;
	int expect_reason; /* -1: reference program */
	double ns[MAX_RUNS];
	/* Repeating the packet within one call leaves the case meaningful
	 * (nothing the next repetition looks up was rewritten). */
	bool repeat_safe;
	double warm[MAX_RUNS]; /* ns with repeat = warm_repeat; 0: not run */
	char check[96]; /* outcome of the path checks */
};

static struct bench_case cases[MAX_CASES];
static int n_cases;

static bool case_selected(const char *name)
{
	size_t n = strlen(name);
	const char *s;

	if (!opt.only)
		return true;
	for (s = opt.only; (s = strstr(s, name)); s += n)
		if ((s == opt.only || s[-1] == ',') && (s[n] == ',' || !s[n]))
			return true;
	return false;
}

static void case_source(struct bench_case *c, uint64_t call)
{
	struct xlb_addr a;
	uint16_t port;

	if (c->rot == ROT_FIXED)
		return;
	if (c->rot == ROT_ESTABLISHED)
		flow_source(c->pkt.family, SET_ESTABLISHED, scatter(call, c->k), &a, &port);
	else
		flow_source(c->pkt.family, SET_NEW, c->next++, &a, &port);
	xb_pkt_set_source(&c->pkt, &a, port);
}

/* One call. Returns the kernel's duration in ns (per repetition), or -1. */
static long run_once(struct bench_case *c, uint32_t *action, unsigned int repeat)
{
	struct xdp_md md = {
		.data_end = c->pkt.len,
		.ingress_ifindex = (__u32)in_ifindex,
	};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = c->pkt.data, .data_size_in = c->pkt.len,
		    .ctx_in = &md, .ctx_size_in = sizeof(md), .repeat = repeat);

	if (bpf_prog_test_run_opts(c->prog_fd, &o))
		return -1;
	if (action)
		*action = o.retval;
	return o.duration;
}

/* Mean ns/packet over calls, or a negative number if a call failed. */
static double run_timed(struct bench_case *c, unsigned long calls, unsigned int repeat)
{
	unsigned long i;
	uint64_t total = 0;
	long d;

	for (i = 0; i < calls; i++) {
		case_source(c, i);
		d = run_once(c, NULL, repeat);
		if (d < 0)
			return -errno;
		total += (uint64_t)d;
	}
	return (double)total / (double)calls;
}

/* Untimed: one visit of every established flow, so the timed run finds
 * their cached next hops fresh (they expire after about a second). */
static void warm(struct bench_case *c)
{
	uint64_t i;

	if (c->rot != ROT_ESTABLISHED)
		return;
	for (i = 0; i < c->k; i++) {
		case_source(c, i);
		run_once(c, NULL, 1);
	}
}

static int reasons_read(struct xlb *x, uint64_t r[XLB_R_MAX])
{
	return xlb_reason_counters(x, r);
}

/* Run calls packets and check how many took the intended path: the expected
 * XDP action and the expected reason counter, and no new flow where an
 * established one was meant. Writes the verdict into c->check. */
static void validate(struct bench_case *c, const char *when)
{
	uint64_t before[XLB_R_MAX], after[XLB_R_MAX], good, created;
	unsigned long i, calls = VALIDATE_CALLS, right_action = 0;
	char buf[48];
	uint32_t act;

	if (!c->x)
		return;
	warm(c);
	if (reasons_read(c->x, before))
		return;
	for (i = 0; i < calls; i++) {
		case_source(c, i);
		if (run_once(c, &act, 1) >= 0 && (int)act == c->expect_action)
			right_action++;
	}
	if (reasons_read(c->x, after))
		return;
	good = after[c->expect_reason] - before[c->expect_reason];
	created = after[XLB_R_NEW_FLOW] - before[XLB_R_NEW_FLOW] + after[XLB_R_RESCHEDULED] -
		  before[XLB_R_RESCHEDULED];
	if (c->rot != ROT_ESTABLISHED)
		created = 0;
	if (good >= VALIDATE_MIN * calls && right_action >= VALIDATE_MIN * calls && !created)
		snprintf(buf, sizeof(buf), "%s ok", when);
	else
		snprintf(buf, sizeof(buf), "%s BAD(%s %.1f%%,act %.1f%%,new %lu)", when,
			 xlb_reason_name(c->expect_reason), 100.0 * good / calls,
			 100.0 * right_action / calls, (unsigned long)created);
	if (c->check[0])
		strncat(c->check, "; ", sizeof(c->check) - strlen(c->check) - 1);
	strncat(c->check, buf, sizeof(c->check) - strlen(c->check) - 1);
}

/* ---- xlb configuration --------------------------------------------------------------- */

struct vip_def {
	const char *name;
	uint8_t family;
	uint8_t proto;
	const char *addr;
	uint16_t port;
	enum xlb_mode mode;
};

static const struct vip_def vip_defs[] = {
	{ "tcp4-nat", XLB_FAMILY_V4, IPPROTO_TCP, "198.19.0.10", 80, XLB_MODE_NAT },
	{ "tcp4-dsr", XLB_FAMILY_V4, IPPROTO_TCP, "198.19.0.11", 80, XLB_MODE_DSR },
	{ "tcp4-tunnel", XLB_FAMILY_V4, IPPROTO_TCP, "198.19.0.12", 80, XLB_MODE_TUNNEL },
	{ "udp4-nat", XLB_FAMILY_V4, IPPROTO_UDP, "198.19.0.10", 53, XLB_MODE_NAT },
	{ "tcp6-nat", XLB_FAMILY_V6, IPPROTO_TCP, "fd00:ff::10", 80, XLB_MODE_NAT },
};

#define NOT_A_VIP "198.19.0.99"

static const struct vip_def *vip_def_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(vip_defs) / sizeof(vip_defs[0]); i++)
		if (!strcmp(vip_defs[i].name, name))
			return &vip_defs[i];
	return NULL;
}

static void vip_key_of(const struct vip_def *v, struct xlb_vip_key *key)
{
	struct xlb_addr a;
	__u8 fam;

	xlb_addr_parse(v->addr, &a, &fam);
	xlb_vip_key_make(key, v->proto, v->family, &a, v->port);
}

/* Backends go in while the VIP's ring is small, then the ring grows to its
 * default size: one Maglev build of 65537 entries instead of one per backend
 * (the table is the same either way; part 4 times adding them one by one). */
#define SETUP_RING 1009

static int vip_setup(struct xlb *x, const struct vip_def *v, unsigned int n_backends)
{
	struct xlb_vip_spec spec = { .sched = XLB_SCHED_MAGLEV, .mode = v->mode,
				     .ring_size = SETUP_RING };
	struct xlb_endpoint ep;
	unsigned int i;
	int err;

	vip_key_of(v, &spec.key);
	err = xlb_vip_add(x, &spec);
	for (i = 0; !err && i < n_backends; i++) {
		memset(&ep, 0, sizeof(ep));
		backend_addr(v->family, i, &ep.addr);
		ep.family = v->family;
		err = xlb_backend_add(x, &spec.key, &ep, 1);
	}
	spec.ring_size = XLB_RING_DEFAULT;
	return err ? err : xlb_vip_set(x, &spec);
}

/* The unconfirmed table of a configuration: xlbd's default for big tables,
 * an eighth of the confirmed one for small (at least the minimum). */
static uint32_t new_flow_entries(uint64_t flows)
{
	uint64_t n = flows / 8;

	if (n > XLB_FLOWS_NEW_DEFAULT)
		n = XLB_FLOWS_NEW_DEFAULT;
	return n < XLB_FLOWS_MIN ? XLB_FLOWS_MIN : (uint32_t)n;
}

static int xlb_load(struct xlb **x, const char *const *vips, unsigned int n_backends,
		    uint64_t flows)
{
	struct xlb_open_opts o = {
		.no_pin = true,
		.flow_entries = (uint32_t)(flows < XLB_FLOWS_MIN ? XLB_FLOWS_MIN : flows),
		.new_flow_entries = new_flow_entries(flows),
		/* Established UDP flows must not expire between two visits of
		 * the benchmark; the check costs the same whatever the value. */
		.udp_idle_ns = 3600ull * 1000000000ull,
	};
	int err;

	err = xlb_open(x, &o);
	for (; !err && *vips; vips++)
		err = vip_setup(*x, vip_def_find(*vips), n_backends);
	if (err)
		fprintf(stderr, "xlb-bench-prog: %s\n", xlb_errmsg());
	return err;
}

/* ---- filling the flow table ------------------------------------------------------------- */

/* Entries the table holds now (batched walk: fast even for a million). */
static long table_count(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), n, batch = 0;
	void *keys, *vals;
	long total = 0;
	bool first = true;
	int err;

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	keys = malloc(4096ul * info.key_size);
	vals = malloc(4096ul * info.value_size);
	if (!keys || !vals) {
		free(keys);
		free(vals);
		return -ENOMEM;
	}
	do {
		n = 4096;
		err = bpf_map_lookup_batch(fd, first ? NULL : &batch, &batch, keys, vals, &n, NULL);
		first = false;
		total += n;
	} while (!err);
	free(keys);
	free(vals);
	return errno == ENOENT ? total : -errno;
}

/* Fill every slot of the unconfirmed table with a pending flow no packet
 * will ever hit, so a new flow's insert evicts one. */
static int pending_fill(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), i;
	struct xlb_flow_slot s = {};
	int err = 0;

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	for (i = 0; !err && i < info.max_entries; i++) {
		flow_source(XLB_FAMILY_V4, SET_FILL, i, &s.key.src, &s.key.sport);
		s.key.family = XLB_FAMILY_V4;
		s.key.proto = IPPROTO_TCP;
		s.flags = XLB_FLOW_F_SYN;
		err = bpf_map_update_elem(fd, &i, &s, BPF_ANY) ? -errno : 0;
	}
	return err;
}

/* Fill the table with n entries no packet will ever hit. Their values are
 * zero: only their number matters (table size, cache misses, and the marks
 * they set, which make some fresh SYNs look the table up). */
static int table_fill(struct xlb *x, uint64_t n)
{
	int fd = xlb_map_fd(x, XLB_MAP_FLOWS);
	const uint32_t chunk = 4096;
	struct xlb_flow_key *keys;
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), cnt;
	uint64_t i, done = 0;
	void *vals;
	int err = 0;

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	keys = calloc(chunk, sizeof(*keys));
	vals = calloc(chunk, info.value_size);
	if (!keys || !vals) {
		free(keys);
		free(vals);
		return -ENOMEM;
	}
	while (!err && done < n) {
		cnt = (__u32)(n - done < chunk ? n - done : chunk);
		for (i = 0; i < cnt; i++) {
			struct xlb_flow_key *k = &keys[i];

			memset(k, 0, sizeof(*k));
			flow_source(XLB_FAMILY_V4, SET_FILL, done + i, &k->src, &k->sport);
			k->sport = htons(k->sport);
			inet_pton(AF_INET, "198.19.1.1", &k->dst.v4);
			k->dport = htons(80);
			k->proto = IPPROTO_TCP;
			k->family = XLB_FAMILY_V4;
		}
		for (i = 0; i < cnt; i++)
			xlb_flow_mark(x, &keys[i]);
		err = bpf_map_update_batch(fd, keys, vals, &cnt, NULL) ? -errno : 0;
		done += cnt;
	}
	free(keys);
	free(vals);
	return err;
}

/* The flow key of the case's packet as it stands (client -> VIP). */
static void case_flow_key(const struct bench_case *c, struct xlb_flow_key *k)
{
	const uint8_t *l3 = c->pkt.data + c->pkt.l3, *l4 = c->pkt.data + c->pkt.l4;
	size_t alen = c->pkt.family == XLB_FAMILY_V4 ? 4 : 16;
	size_t off = c->pkt.family == XLB_FAMILY_V4 ? 12 : 8; /* source address */

	memset(k, 0, sizeof(*k));
	memcpy(k->src.bytes, l3 + off, alen);
	memcpy(k->dst.bytes, l3 + off + alen, alen);
	memcpy(&k->sport, l4, 2);
	memcpy(&k->dport, l4 + 2, 2);
	k->proto = c->pkt.proto;
	k->family = c->pkt.family;
}

/* The confirmation the datapath makes when a handshake completes, for the
 * flow the SYN just left in the unconfirmed table: the same entry, copied
 * into the confirmed table. */
static int flow_confirm(const struct bench_case *c)
{
	struct xlb_flow_key k;
	struct xlb_flow f;
	int err;

	case_flow_key(c, &k);
	if (xlb_flow_pending_get(c->x, &k, &f))
		return -ENOENT;
	f.flags &= XLB_FLOW_F_SYN;
	err = xlb_flow_confirmed_put(c->x, &k, &f);
	return err == -EEXIST ? 0 : err;
}

/* Create the K flows of an established case through xlb itself. */
static int flows_create(struct bench_case *c)
{
	uint8_t flags_at = c->pkt.l4 + 13;
	uint8_t saved = c->pkt.data[flags_at];
	uint64_t i;
	uint32_t act;

	/* The first packet of a TCP flow is a SYN; the timed ones are ACKs. */
	if (c->pkt.proto == IPPROTO_TCP)
		c->pkt.data[flags_at] = 0x02;
	for (i = 0; i < c->k; i++) {
		case_source(c, i);
		if (run_once(c, &act, 1) < 0 || (int)act != c->expect_action ||
		    flow_confirm(c)) {
			fprintf(stderr, "xlb-bench-prog: %s: creating flow %lu gave action %u "
				"or left no unconfirmed entry\n",
				c->name, (unsigned long)i, act);
			c->pkt.data[flags_at] = saved;
			return -1;
		}
	}
	c->pkt.data[flags_at] = saved;
	return 0;
}

/* ---- the run ------------------------------------------------------------------------------ */

/* One xlb setup of the matrix: backends per VIP x flow table entries. */
struct config {
	unsigned int backends;
	uint64_t flows;
	uint64_t made; /* table entries written by xlb for the established flows */
	long entries; /* table entries after filling */
	struct xlb *est; /* established flows, pass */
	struct xlb *syn; /* new flows: their inserts stay away from the above */
};

static struct config configs[MAX_CONFIGS];
static int n_configs;
static struct bench_bpf *ref;

static struct bench_case *case_add(const char *name, const char *what, int fd,
				   const struct config *cf, struct xlb *x)
{
	struct bench_case *c;

	if (!case_selected(name) || n_cases == MAX_CASES)
		return NULL;
	c = &cases[n_cases++];
	memset(c, 0, sizeof(*c));
	c->name = name;
	c->what = what;
	c->prog_fd = fd;
	c->cf = cf;
	c->x = x;
	c->expect_reason = -1;
	return c;
}

static void vip_packet(struct xb_pkt *p, const struct vip_def *v, uint8_t tcp_flags)
{
	struct xlb_addr src, dst;
	uint16_t sport;
	__u8 fam;

	flow_source(v->family, SET_ESTABLISHED, 0, &src, &sport);
	xlb_addr_parse(v->addr, &dst, &fam);
	frame_build(p, v->family, v->proto, &src, sport, &dst, v->port, tcp_flags);
}

static void ref_case(const char *name, const char *what, const struct bpf_program *prog)
{
	struct bench_case *c = case_add(name, what, bpf_program__fd(prog), NULL, NULL);

	if (!c)
		return;
	vip_packet(&c->pkt, vip_def_find("tcp4-nat"), 0x10);
	c->repeat_safe = true;
}

static void ref_cases(void)
{
	ref_case("empty", "XDP_PASS, nothing else (floor)", ref->progs.xdp_empty);
	ref_case("swap_tx", "swap MACs, XDP_TX (trivial floor)", ref->progs.xdp_swap_tx);
	ref_case("bare_fwd", "set MACs, redirect (forwarding ceiling)", ref->progs.xdp_bare_fwd);
}

static int ref_load(void)
{
	ref = bench_bpf__open();
	if (!ref)
		return -errno;
	ref->rodata->fwd_ifindex = (__u32)out_ifindex;
	memcpy((void *)ref->rodata->fwd_dmac, out_peer_mac, ETH_ALEN);
	memcpy((void *)ref->rodata->fwd_smac, out_mac, ETH_ALEN);
	return bench_bpf__load(ref);
}

/* k = 0: the case gets its own flows_per_case() flows; otherwise it rotates
 * over the first k flows of the case of the same VIP listed before it. */
static void established_case(const struct config *cf, const char *name, const char *what,
			     const char *vip, uint64_t k)
{
	const struct vip_def *v = vip_def_find(vip);
	struct bench_case *c = case_add(name, what, xlb_prog_fd(cf->est), cf, cf->est);

	if (!c)
		return;
	vip_packet(&c->pkt, v, 0x10);
	c->rot = ROT_ESTABLISHED;
	c->k = k;
	c->expect_action = XDP_REDIRECT;
	c->expect_reason = XLB_R_REDIRECT;
	c->repeat_safe = v->mode == XLB_MODE_DSR;
}

/* A fresh tuple each packet, against the second copy whose tables are
 * full, so every insert evicts. */
static void syn_case(const struct config *cf, const char *name, const char *what,
		     const char *vip)
{
	const struct vip_def *v = vip_def_find(vip);
	struct bench_case *c = case_add(name, what, xlb_prog_fd(cf->syn), cf, cf->syn);

	if (!c)
		return;
	vip_packet(&c->pkt, v, 0x02);
	c->rot = ROT_NEW;
	c->expect_action = XDP_REDIRECT;
	c->expect_reason = XLB_R_NEW_FLOW;
}

static void pass_case(const struct config *cf, const char *name, const char *what,
		      enum rotation rot)
{
	struct bench_case *c = case_add(name, what, xlb_prog_fd(cf->est), cf, cf->est);
	struct xlb_addr dst, src;
	uint16_t sport;
	__u8 fam;

	if (!c)
		return;
	flow_source(XLB_FAMILY_V4, SET_NEW, 0, &src, &sport);
	xlb_addr_parse(NOT_A_VIP, &dst, &fam);
	frame_build(&c->pkt, XLB_FAMILY_V4, IPPROTO_TCP, &src, sport, &dst, 80, 0x10);
	c->rot = rot;
	c->expect_action = XDP_PASS;
	c->expect_reason = XLB_R_PASS_NOT_VIP;
	c->repeat_safe = true;
}

/* The established flows (created through xlb) plus fillers make cf->flows
 * entries; each established case gets a tenth of them. */
static uint64_t flows_per_case(const struct config *cf)
{
	uint64_t k = cf->flows / 10;

	return k ? k : 1;
}

/* The xlb cases as rows. `when` says which configurations get a case: the
 * first backend count gets every case; the others (where only the backend
 * count differs) the cases it could change, to bound the time. */
enum case_kind { K_ESTABLISHED, K_SYN, K_PASS };
enum case_when {
	W_ALWAYS,
	W_FULL, /* the first configuration of a table size */
	W_FIRST, /* the very first configuration */
	W_BIG, /* a table whose busy set exceeds HOT_FLOWS */
};

struct case_row {
	const char *name, *what;
	enum case_kind kind;
	const char *vip; /* a vip_defs name; pass cases: NULL */
	uint64_t k; /* established: rotate over the first k flows (0: own flows) */
	enum rotation rot; /* pass cases */
	enum case_when when;
};

static const struct case_row case_rows[] = {
	{ "v4_tcp_est_nat", "IPv4 TCP established, nat", K_ESTABLISHED, "tcp4-nat", 0, 0, W_ALWAYS },
	/* A big table with a small busy set: table size alone, without the
	 * cache misses of a big working set. */
	{ "v4_tcp_est_nat_hot", "IPv4 TCP established, nat, 100 busy flows", K_ESTABLISHED,
	  "tcp4-nat", HOT_FLOWS, 0, W_BIG },
	{ "v4_tcp_est_dsr", "IPv4 TCP established, dsr", K_ESTABLISHED, "tcp4-dsr", 0, 0, W_ALWAYS },
	{ "v4_tcp_est_tunnel", "IPv4 TCP established, tunnel (ipip)", K_ESTABLISHED, "tcp4-tunnel",
	  0, 0, W_FULL },
	{ "v4_udp_est_nat", "IPv4 UDP established, nat", K_ESTABLISHED, "udp4-nat", 0, 0, W_FULL },
	{ "v6_tcp_est_nat", "IPv6 TCP established, nat", K_ESTABLISHED, "tcp6-nat", 0, 0, W_FULL },
	{ "v4_tcp_syn_nat", "IPv4 TCP SYN, new flow (schedule + insert), nat", K_SYN, "tcp4-nat", 0,
	  0, W_ALWAYS },
	{ "v4_tcp_syn_dsr", "IPv4 TCP SYN, new flow, dsr", K_SYN, "tcp4-dsr", 0, 0, W_FULL },
	{ "v4_tcp_syn_tunnel", "IPv4 TCP SYN, new flow, tunnel (ipip)", K_SYN, "tcp4-tunnel", 0, 0,
	  W_FULL },
	{ "v4_pass_not_vip", "IPv4 TCP to no VIP, a new 5-tuple each packet", K_PASS, NULL, 0,
	  ROT_NEW, W_ALWAYS },
	/* The same with one tuple, always cached: the instructions alone. */
	{ "v4_pass_hot", "IPv4 TCP to no VIP, one 5-tuple (cache-hot)", K_PASS, NULL, 0, ROT_FIXED,
	  W_FIRST },
};

static bool case_wanted(const struct config *cf, const struct case_row *r, bool first, bool full)
{
	switch (r->when) {
	case W_FULL:
		return full;
	case W_FIRST:
		return first;
	case W_BIG:
		return flows_per_case(cf) > HOT_FLOWS;
	default:
		return true;
	}
}

static void xlb_cases(const struct config *cf, bool first, bool full)
{
	const struct case_row *r;
	size_t i;

	for (i = 0; i < sizeof(case_rows) / sizeof(case_rows[0]); i++) {
		r = &case_rows[i];
		if (!case_wanted(cf, r, first, full))
			continue;
		if (r->kind == K_ESTABLISHED)
			established_case(cf, r->name, r->what, r->vip, r->k);
		else if (r->kind == K_SYN)
			syn_case(cf, r->name, r->what, r->vip);
		else
			pass_case(cf, r->name, r->what, r->rot);
	}
}

/* As Katran's harness does: fillers first, then the busy flows through
 * the datapath, so the table holds exactly cf->flows entries. */
static int populate(struct config *cf)
{
	uint64_t busy = 0;
	int i;

	for (i = 0; i < n_cases; i++)
		if (cases[i].cf == cf && cases[i].rot == ROT_ESTABLISHED && !cases[i].k)
			busy += flows_per_case(cf);
	vlog("filling the tables\n");
	if (busy < cf->flows && table_fill(cf->est, cf->flows - busy))
		return -1;
	for (i = 0; i < n_cases; i++) {
		struct bench_case *c = &cases[i];

		if (c->cf != cf || c->rot != ROT_ESTABLISHED || c->k)
			continue;
		c->k = flows_per_case(cf);
		vlog("creating %lu flows for %s\n", (unsigned long)c->k, c->name);
		if (flows_create(c))
			return -1;
		cf->made += c->k;
	}
	/* New flows meet full tables: the confirmed one they miss in, and
	 * the unconfirmed one their inserts churn. */
	if (table_fill(cf->syn, cf->flows) ||
	    pending_fill(xlb_map_fd(cf->syn, XLB_MAP_FLOWS_NEW)))
		return -1;
	cf->entries = table_count(xlb_map_fd(cf->est, XLB_MAP_FLOWS));
	vlog("table holds %ld entries\n", cf->entries);
	return 0;
}

static int config_load(struct config *cf, bool first, bool full)
{
	static const char *const est_vips[] = { "tcp4-nat", "tcp4-dsr", "tcp4-tunnel", "udp4-nat",
						"tcp6-nat", NULL };
	static const char *const syn_vips[] = { "tcp4-nat", "tcp4-dsr", "tcp4-tunnel", NULL };

	if (xlb_load(&cf->est, est_vips, cf->backends, cf->flows) ||
	    xlb_load(&cf->syn, syn_vips, cf->backends, cf->flows))
		return -1;
	xlb_cases(cf, first, full);
	return populate(cf);
}

static void configs_unload(void)
{
	int i;

	for (i = 0; i < n_configs; i++) {
		xlb_close(configs[i].est);
		xlb_close(configs[i].syn);
	}
	bench_bpf__destroy(ref);
}

static int configs_load(void)
{
	int b, f;

	if (ref_load()) {
		fprintf(stderr, "xlb-bench-prog: loading bench.bpf.o failed\n");
		return -1;
	}
	ref_cases();
	for (b = 0; b < opt.n_backends; b++) {
		for (f = 0; f < opt.n_flows; f++) {
			struct config *cf = &configs[n_configs++];

			cf->backends = (unsigned int)opt.backends[b];
			cf->flows = opt.flows[f];
			vlog("loading: %u backends, %lu flows\n", cf->backends,
			     (unsigned long)cf->flows);
			if (config_load(cf, n_configs == 1, b == 0))
				return -1;
		}
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct stats {
	double min, median, max;
};

static struct stats stats_of(const double *runs)
{
	double v[MAX_RUNS];
	struct stats s;
	int n = opt.runs;

	memcpy(v, runs, sizeof(double) * n);
	qsort(v, n, sizeof(double), cmp_double);
	s.min = v[0];
	s.max = v[n - 1];
	s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	return s;
}

static struct stats case_stats(const struct bench_case *c)
{
	return stats_of(c->ns);
}

/* Median of the warm figures, 0 if the case has none. */
static double warm_median(const struct bench_case *c)
{
	return c->repeat_safe && opt.warm_repeat ? stats_of(c->warm).median : 0;
}

static double ref_median(const char *name)
{
	int i;

	for (i = 0; i < n_cases; i++)
		if (!cases[i].cf && !strcmp(cases[i].name, name))
			return case_stats(&cases[i]).median;
	return 0;
}

static void report_case(const struct bench_case *c, double empty, double swap, FILE *tsv)
{
	struct stats s = case_stats(c);
	const char *check = c->x ? c->check : "-";
	double w = warm_median(c);
	char warm[16] = "-";

	if (w > 0)
		snprintf(warm, sizeof(warm), "%.1f", w);
	printf("  %-18s %8.1f %8.1f %8.1f %8.1f %8.2f %8.2f %8s  %s\n", c->name, s.min, s.median,
	       s.max, s.median - empty, empty ? s.median / empty : 0, swap ? s.median / swap : 0,
	       warm, check);
	if (tsv)
		fprintf(tsv, "%u\t%lu\t%s\t%.1f\t%.1f\t%.1f\t%.1f\t%.3f\t%.3f\t%s\t%s\t%s\n",
			c->cf ? c->cf->backends : 0, c->cf ? (unsigned long)c->cf->flows : 0,
			c->name, s.min, s.median, s.max, s.median - empty,
			empty ? s.median / empty : 0, swap ? s.median / swap : 0, warm, check,
			c->what);
}

static void report_header(const char *title)
{
	printf("\n%s\n  %-18s %8s %8s %8s %8s %8s %8s %8s  %s\n", title, "case", "min", "median",
	       "max", "net", "x empty", "x swaptx", "warm", "path check");
}

/* ns per packet; "net" is the median less the empty program's (the cost of
 * the test run itself: mostly the two clock reads around the program);
 * "warm" the median with the packet repeated warm_repeat times per call. */
static void report(FILE *tsv)
{
	double empty = ref_median("empty"), swap = ref_median("swap_tx");
	char title[160];
	int i, j;

	report_header("== reference programs (ns per packet) ==");
	for (i = 0; i < n_cases; i++)
		if (!cases[i].cf)
			report_case(&cases[i], empty, swap, tsv);
	for (j = 0; j < n_configs; j++) {
		const struct config *cf = &configs[j];

		snprintf(title, sizeof(title),
			 "== xlb: %u backends per VIP, flow table with %ld entries "
			 "(%lu flows per established case) ==",
			 cf->backends, cf->entries, (unsigned long)flows_per_case(cf));
		report_header(title);
		for (i = 0; i < n_cases; i++)
			if (cases[i].cf == cf)
				report_case(&cases[i], empty, swap, tsv);
	}
	fflush(stdout);
}

/* One timed run of every case, in turn. */
static int measure_run(int r)
{
	struct bench_case *c;
	int i;

	for (i = 0; i < n_cases; i++) {
		c = &cases[i];
		warm(c);
		c->ns[r] = run_timed(c, opt.calls, 1);
		if (c->ns[r] < 0) {
			fprintf(stderr, "xlb-bench-prog: %s: test run failed: %s\n", c->name,
				strerror((int)-c->ns[r]));
			return -1;
		}
	}
	return 0;
}

/* The same packets repeated within each call: what the program costs with
 * caches and TLB warm, as in a NAPI batch. With repeat = 1 every call starts
 * cold: the syscall in between evicts what the program touched. */
static void measure_warm(int r)
{
	unsigned long calls = opt.calls / 50 ? opt.calls / 50 : 1;
	struct bench_case *c;
	int i;

	for (i = 0; i < n_cases; i++) {
		c = &cases[i];
		if (!c->repeat_safe)
			continue;
		warm(c);
		c->warm[r] = run_timed(c, calls, opt.warm_repeat);
	}
}

static int measure(void)
{
	int r, i;

	vlog("checking paths\n");
	for (i = 0; i < n_cases; i++)
		validate(&cases[i], "before");
	vlog("measuring\n");
	for (r = 0; r < opt.runs; r++) {
		if (measure_run(r))
			return -1;
		if (opt.warm_repeat)
			measure_warm(r);
		vlog("run %d/%d done\n", r + 1, opt.runs);
	}
	for (i = 0; i < n_cases; i++)
		validate(&cases[i], "after");
	return 0;
}

static void prog_size(int fd, const char *name)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		printf("%s: %u BPF instructions, %u bytes JITed\n", name, info.xlated_prog_len / 8,
		       info.jited_prog_len);
}

/* ---- main ------------------------------------------------------------------------------------ */

static int pin_cpu(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		cpu = (int)sysconf(_SC_NPROCESSORS_ONLN) - 1;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		perror("xlb-bench-prog: sched_setaffinity");
		return -1;
	}
	printf("pinned to CPU %d; %lu calls per run, %d runs, repeat = 1\n", cpu, opt.calls,
	       opt.runs);
	return 0;
}

static int parse_list(const char *s, unsigned long *out, int *n)
{
	char *end;

	*n = 0;
	while (*s && *n < MAX_LIST) {
		out[(*n)++] = strtoul(s, &end, 10);
		if (end == s || (*end && *end != ','))
			return -1;
		s = *end ? end + 1 : end;
	}
	return *n ? 0 : -1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xlb-bench-prog [options]\n"
		"  -n, --calls N      test-run calls per case and run (default 1000000)\n"
		"  -r, --runs N       runs (default 5, at most %d)\n"
		"  -c, --cpu N        CPU to pin to (default: the last one)\n"
		"  -b, --backends L   backends per VIP, comma-separated (default 3,1000; max %d)\n"
		"  -f, --flows L      flow table entries, comma-separated (default 1000,1000000)\n"
		"  -o, --tsv FILE     also write the results as TSV\n"
		"  -C, --cases L      run only these cases (comma-separated names)\n"
		"  -v, --verbose      progress on stderr\n"
		"  -w, --warm N       also time the cases a repetition leaves meaningful with\n"
		"                     repeat = N (default 100; 0: don't): caches and TLB warm\n"
		"Must run as root; works in a private network namespace of its own.\n",
		MAX_RUNS, MAX_BACKENDS_PER_VIP);
}

static int parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "calls", required_argument, NULL, 'n' },   { "runs", required_argument, NULL, 'r' },
		{ "cpu", required_argument, NULL, 'c' },     { "backends", required_argument, NULL, 'b' },
		{ "flows", required_argument, NULL, 'f' },   { "tsv", required_argument, NULL, 'o' },
		{ "cases", required_argument, NULL, 'C' },   { "verbose", no_argument, NULL, 'v' },
		{ "warm", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },          {}
	};
	int ch, i;

	while ((ch = getopt_long(argc, argv, "n:r:c:b:f:o:C:w:vh", lo, NULL)) != -1) {
		switch (ch) {
		case 'n':
			opt.calls = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			opt.runs = atoi(optarg);
			break;
		case 'c':
			opt.cpu = atoi(optarg);
			break;
		case 'b':
			if (parse_list(optarg, opt.backends, &opt.n_backends))
				return -1;
			break;
		case 'f':
			if (parse_list(optarg, opt.flows, &opt.n_flows))
				return -1;
			break;
		case 'o':
			opt.tsv = optarg;
			break;
		case 'C':
			opt.only = optarg;
			break;
		case 'v':
			opt.verbose = true;
			break;
		case 'w':
			opt.warm_repeat = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	if (optind != argc || !opt.calls || opt.runs < 1 || opt.runs > MAX_RUNS)
		return -1;
	for (i = 0; i < opt.n_backends; i++)
		if (!opt.backends[i] || opt.backends[i] > MAX_BACKENDS_PER_VIP)
			return -1;
	return 0;
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

int main(int argc, char **argv)
{
	FILE *tsv = NULL;
	int err;

	opt = opt_default;
	if (parse_args(argc, argv)) {
		usage(stderr);
		return 2;
	}
	libbpf_set_print(libbpf_quiet);
	if (netns_setup() || pin_cpu(opt.cpu))
		return 1;
	if (opt.tsv) {
		tsv = fopen(opt.tsv, "w");
		if (!tsv) {
			perror(opt.tsv);
			return 1;
		}
		fprintf(tsv, "backends\tflows\tcase\tmin_ns\tmedian_ns\tmax_ns\tnet_ns\tx_empty\t"
			     "x_swap_tx\twarm_ns\tcheck\tdescription\n");
	}
	err = configs_load();
	if (!err) {
		prog_size(xlb_prog_fd(configs[0].est), "xlb_lb");
		err = measure();
	}
	if (!err)
		report(tsv);
	configs_unload();
	if (tsv && fclose(tsv))
		err = -1;
	return err ? 1 : 0;
}
