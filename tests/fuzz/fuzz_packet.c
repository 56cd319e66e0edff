// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The packet fuzzer: frames built like the packet tests' (tests/lib/pkt.c),
 * mutated (truncations, bit flips, length fields, header chains, trailers,
 * VLAN tags, checksums fixed up or not) and run through BPF_PROG_TEST_RUN
 * on the real program, maps programmed through libxlb, in a private network
 * namespace like tests/prog's. Every run is checked against
 * docs/datapath.md:
 *
 *   - the verdict is PASS, DROP, TX or REDIRECT (never ABORTED), and the
 *     one it must be for the reason counter that moved;
 *   - exactly one pass/drop/send reason counter moves, by one; the
 *     informational ones by at most one;
 *   - a passed frame leaves untouched (except pass_no_neigh in nat, which
 *     passes the rewritten frame); a frame whose destination is not a VIP
 *     address and whose source is not a backend is passed untouched;
 *   - a TX/REDIRECT frame has consistent lengths (IP length = the frame
 *     after L2, UDP length = the IP payload, a tunnel's outer length = inner
 *     + header) and, when the input's checksums were right, right IP and
 *     L4 checksums (outer and inner), recomputed from scratch.
 *
 *   fuzz-packet                       replay tests/fuzz/corpus/packet/ (make test)
 *   fuzz-packet replay DIR            the same for another directory
 *   fuzz-packet fuzz -time S -seed N [-save DIR] [-crashes DIR] [-strict 1]  (make fuzz)
 *
 * A corpus file is one byte of ingress interface (0: client side, 1:
 * backend side) followed by the frame. The fuzzer has no coverage feedback
 * (the program runs in the kernel); it saves the first input of each new
 * outcome (verdict and counters moved) it sees.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "libxlb.h"
#include "pkt.h"
#include "sysutil.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define NAME "fuzz/packet"
#define CORPUS "tests/fuzz/corpus/packet"
#define GUE_PORT 6080
#define MAX_SEEDS 128
#define MAX_OUTCOMES 1024

/* ---- topology (a private network namespace) ------------------------------- */

static const char *const dev_name[2] = { "fz0", "fz1" };
static const char *const dev_v4[2] = { "198.18.0.1/24", "198.18.2.1/24" };
static const char *const dev_v6[2] = { "fd00::1/64", "fd00:2::1/64" };
static int dev_ifindex[2];

struct host {
	const char *v4, *v6, *mac;
	int dev;
};

/* Neighbours are permanent; 198.18.2.14 has none (pass_no_neigh). */
static const struct host hosts[] = {
	{ "198.18.0.2", "fd00::2", "02:c1:00:00:00:02", 0 }, /* client */
	{ "198.18.0.21", "fd00::21", "02:be:00:00:00:21", 0 }, /* backend, XDP_TX */
	{ "198.18.2.11", "fd00:2::11", "02:be:00:00:00:11", 1 },
	{ "198.18.2.12", "fd00:2::12", "02:be:00:00:00:12", 1 },
};

static const uint8_t client_mac[6] = { 0x02, 0xc1, 0, 0, 0, 0x02 };
static const uint8_t fz0_mac[6] = { 0x02, 0, 0, 0, 0xf0, 0x01 };

struct fvip {
	const char *addr;
	uint16_t port;
	uint8_t proto;
	enum xlb_mode mode;
	enum xlb_encap encap;
	const char *be[2]; /* backend addresses */
	uint16_t be_port;
};

static const struct fvip fvips[] = {
	{ "198.19.0.10", 80, IPPROTO_TCP, XLB_MODE_NAT, 0, { "198.18.2.11", "198.18.2.12" }, 8080 },
	{ "198.19.0.10", 53, IPPROTO_UDP, XLB_MODE_NAT, 0, { "198.18.2.11" }, 5353 },
	{ "fd00:ff::10", 80, IPPROTO_TCP, XLB_MODE_NAT, 0, { "fd00:2::11", "fd00:2::12" }, 8080 },
	{ "fd00:ff::10", 53, IPPROTO_UDP, XLB_MODE_NAT, 0, { "fd00:2::12" }, 5353 },
	{ "198.19.0.11", 80, IPPROTO_TCP, XLB_MODE_DSR, 0, { "198.18.2.11" }, 80 },
	{ "fd00:ff::11", 80, IPPROTO_TCP, XLB_MODE_DSR, 0, { "fd00:2::11" }, 80 },
	{ "198.19.0.12", 80, IPPROTO_TCP, XLB_MODE_TUNNEL, XLB_ENCAP_IPIP, { "198.18.2.12" }, 80 },
	{ "fd00:ff::12", 53, IPPROTO_UDP, XLB_MODE_TUNNEL, XLB_ENCAP_GUE, { "fd00:2::12" }, 53 },
	{ "198.19.0.12", 53, IPPROTO_UDP, XLB_MODE_TUNNEL, XLB_ENCAP_GUE, { "fd00:2::11" }, 53 },
	{ "198.19.0.13", 80, IPPROTO_TCP, XLB_MODE_NAT, 0, { "198.18.0.21" }, 8080 },
	{ "198.19.0.14", 80, IPPROTO_TCP, XLB_MODE_NAT, 0, { "198.18.2.14" }, 8080 },
	{ "198.19.0.15", 80, IPPROTO_TCP, XLB_MODE_NAT, 0, { NULL }, 80 },
};

static struct xlb *X;

static int sysctl_on(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs("1", f) < 0)
		return -1;
	return fclose(f) ? -1 : 0;
}

static int setup_netns(void)
{
	size_t i;
	int d;

	if (unshare(CLONE_NEWNET)) {
		perror("unshare(CLONE_NEWNET)");
		return -1;
	}
	if (sysctl_on("/proc/sys/net/ipv4/ip_forward") ||
	    sysctl_on("/proc/sys/net/ipv6/conf/all/forwarding") || test_sh("ip link set lo up"))
		return -1;
	for (d = 0; d < 2; d++) {
		if (test_sh("ip link add %s address 02:00:00:00:f%d:01 type veth peer name %sp",
		       dev_name[d], d, dev_name[d]) ||
		    test_sh("ip link set %s up && ip link set %sp up", dev_name[d], dev_name[d]) ||
		    test_sh("ip addr add %s dev %s && ip -6 addr add %s dev %s nodad", dev_v4[d],
		       dev_name[d], dev_v6[d], dev_name[d]))
			return -1;
		dev_ifindex[d] = (int)if_nametoindex(dev_name[d]);
	}
	for (i = 0; i < ARRAY_SIZE(hosts); i++)
		if (test_sh("ip neigh add %s lladdr %s nud permanent dev %s", hosts[i].v4,
		       hosts[i].mac, dev_name[hosts[i].dev]) ||
		    test_sh("ip -6 neigh add %s lladdr %s nud permanent dev %s", hosts[i].v6,
		       hosts[i].mac, dev_name[hosts[i].dev]))
			return -1;
	/* Below the client side's 1500: tunnel mode's "too big" rule. */
	return test_sh("ip link set %s mtu 1400", dev_name[1]);
}

static int family_of(const char *a)
{
	return strchr(a, ':') ? 6 : 4;
}

static void addr_parse(uint8_t out[16], const char *a)
{
	memset(out, 0, 16);
	inet_pton(family_of(a) == 4 ? AF_INET : AF_INET6, a, out);
}

static void key_of(struct xlb_vip_key *k, const struct fvip *v)
{
	memset(k, 0, sizeof(*k));
	addr_parse(k->addr.bytes, v->addr);
	k->port = htons(v->port);
	k->proto = v->proto;
	k->family = family_of(v->addr) == 4 ? XLB_FAMILY_V4 : XLB_FAMILY_V6;
}

static int setup_vips(void)
{
	size_t i, b;

	for (i = 0; i < ARRAY_SIZE(fvips); i++) {
		const struct fvip *v = &fvips[i];
		struct xlb_vip_spec spec = { .sched = XLB_SCHED_MAGLEV, .mode = v->mode,
					     .ring_size = 251, .encap = v->encap,
					     .gue_port = GUE_PORT };
		int err;

		key_of(&spec.key, v);
		err = xlb_vip_add(X, &spec);
		for (b = 0; !err && b < ARRAY_SIZE(v->be) && v->be[b]; b++) {
			struct xlb_endpoint ep = { 0 };

			addr_parse(ep.addr.bytes, v->be[b]);
			ep.port = htons(v->be_port);
			ep.family = family_of(v->be[b]) == 4 ? XLB_FAMILY_V4 : XLB_FAMILY_V6;
			err = xlb_backend_add(X, &spec.key, &ep, 1);
		}
		if (err) {
			fprintf(stderr, "VIP %s:%u: %s (%s)\n", v->addr, v->port, strerror(-err),
				xlb_errmsg());
			return -1;
		}
	}
	return 0;
}

/* ---- inputs ------------------------------------------------------------------ */

struct input {
	uint8_t dev;
	uint8_t data[PKT_MAX];
	size_t len;
};

static struct input seeds[MAX_SEEDS];
static size_t n_seeds;

static void add_seed(const struct pkt_spec *s, int dev)
{
	struct pkt p;

	if (n_seeds == MAX_SEEDS || pkt_build(&p, s))
		return;
	seeds[n_seeds].dev = (uint8_t)dev;
	memcpy(seeds[n_seeds].data, p.data, p.len);
	seeds[n_seeds].len = p.len;
	n_seeds++;
}

static const uint8_t payload[] = "fuzzing xlb, one frame at a time";

static void spec_to(struct pkt_spec *s, const char *src, uint16_t sport, const char *dst,
		    uint16_t dport, uint8_t proto)
{
	uint8_t a[16], b[16];

	addr_parse(a, src);
	addr_parse(b, dst);
	pkt_spec_l4(s, family_of(dst), proto, a, sport, b, dport);
	memcpy(s->eth_dst, fz0_mac, 6);
	memcpy(s->eth_src, client_mac, 6);
	s->tcp_flags = PKT_TCP_SYN;
	s->payload = payload;
	s->payload_len = sizeof(payload) - 1;
}

/* Variants of one client packet: the header chains the parser walks. */
static void seed_variants(const struct fvip *v)
{
	const char *client = family_of(v->addr) == 4 ? "198.18.0.2" : "fd00::2";
	struct pkt_spec s;

	spec_to(&s, client, 40000, v->addr, v->port, v->proto);
	add_seed(&s, 0);
	s.tcp_flags = PKT_TCP_ACK | PKT_TCP_PSH;
	s.vlan_proto = PKT_ETH_P_8021Q;
	s.vlan_tci = 7;
	add_seed(&s, 0);
	s.vlan_proto = 0;
	s.ttl = 1;
	add_seed(&s, 0);
	s.ttl = 64;
	if (s.family == 4) {
		s.ip_opts_len = 8;
		memcpy(s.ip_opts, "\x94\x04\x00\x00\x01\x01\x01\x00", 8); /* router alert */
		add_seed(&s, 0);
		s.ip_opts_len = 0;
		s.frag_off = PKT_IP_MF;
		add_seed(&s, 0);
	} else {
		s.n_ext = 2;
		s.ext[0] = (struct pkt_ext){ .type = PKT_NH_HOP, .len = 8 };
		s.ext[1] = (struct pkt_ext){ .type = PKT_NH_DSTOPTS, .len = 16 };
		add_seed(&s, 0);
		s.n_ext = 1;
		s.ext[0] = (struct pkt_ext){ .type = PKT_NH_FRAGMENT, .frag = 1 };
		add_seed(&s, 0);
	}
}

/* A NAT reply from the first backend, and ICMP to the VIP address. */
static void seed_reply_icmp(const struct fvip *v)
{
	const char *client = family_of(v->addr) == 4 ? "198.18.0.2" : "fd00::2";
	struct pkt_spec s;
	struct pkt q;

	if (v->be[0] && v->mode == XLB_MODE_NAT) {
		spec_to(&s, v->be[0], v->be_port, client, 40000, v->proto);
		s.tcp_flags = PKT_TCP_SYN | PKT_TCP_ACK;
		add_seed(&s, 1);
	}
	spec_to(&s, client, 0, v->addr, 0, family_of(v->addr) == 4 ? PKT_NH_ICMP : PKT_NH_ICMPV6);
	s.icmp_type = s.family == 4 ? 8 : 128;
	s.icmp_id = 0x1234;
	s.icmp_seq = 1;
	add_seed(&s, 0);
	/* An error quoting what the VIP sent to the client (a too-big). */
	spec_to(&s, v->addr, v->port, client, 40000, v->proto);
	s.payload_len = 0;
	if (pkt_build(&q, &s))
		return;
	spec_to(&s, client, 0, v->addr, 0, s.family == 4 ? PKT_NH_ICMP : PKT_NH_ICMPV6);
	s.icmp_type = s.family == 4 ? 3 : 2;
	s.icmp_code = s.family == 4 ? 4 : 0;
	s.icmp_seq = 1280;
	s.payload = q.data + q.l3_off;
	s.payload_len = q.len - q.l3_off;
	add_seed(&s, 0);
}

static void make_seeds(void)
{
	static const uint8_t arp[28] = { 0, 1, 8, 0, 6, 4, 0, 1 };
	struct pkt_spec s;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fvips); i++) {
		seed_variants(&fvips[i]);
		seed_reply_icmp(&fvips[i]);
	}
	spec_to(&s, "198.18.0.2", 40000, "198.18.2.99", 80, IPPROTO_TCP);
	add_seed(&s, 0);
	spec_to(&s, "fd00::2", 40000, "fd00:2::99", 53, IPPROTO_UDP);
	add_seed(&s, 0);
	memset(&s, 0, sizeof(s));
	s.ethertype = PKT_ETH_P_ARP;
	s.payload = arp;
	s.payload_len = sizeof(arp);
	add_seed(&s, 0);
}

/* ---- running and checking -------------------------------------------------- */

static const char *const reason_names[] = XLB_REASON_NAMES;

struct run {
	uint32_t action;
	uint8_t out[PKT_MAX + 256];
	uint32_t out_len;
	uint64_t before[XLB_R_MAX], after[XLB_R_MAX];
};

/*
 * Frames a router would not forward, sent anyway: an Ethernet trailer
 * carried along ("IP length = the frame after L2" broken) or a UDP length
 * that disagrees with the IP payload. The datapath trims and refuses these
 * (docs/datapath.md), so they fail; -strict 0 (or XLB_FUZZ_STRICT=0) only
 * counts them, for bisecting an old build.
 */
static bool strict_trailer;
static unsigned long long trailers_sent, udp_len_sent;

static const char *verdict;    /* the first broken invariant of a run */
static char verdict_buf[512];

static bool broken(const char *fmt, ...)
{
	va_list ap;

	if (verdict)
		return false;
	va_start(ap, fmt);
	vsnprintf(verdict_buf, sizeof(verdict_buf), fmt, ap);
	va_end(ap);
	verdict = verdict_buf;
	return false;
}

static int run_one(const struct input *in, struct run *r)
{
	struct xdp_md ctx = { .data_end = (__u32)in->len,
			      .ingress_ifindex = (__u32)dev_ifindex[in->dev & 1] };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in->data, .data_size_in = (__u32)in->len,
		    .data_out = r->out, .data_size_out = sizeof(r->out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx));

	if (xlb_reason_counters(X, r->before))
		return broken("reading the reason counters: %s", xlb_errmsg()), -1;
	if (bpf_prog_test_run_opts(xlb_prog_fd(X), &o))
		return broken("test run: %s", strerror(errno)), -1;
	if (xlb_reason_counters(X, r->after))
		return broken("reading the reason counters: %s", xlb_errmsg()), -1;
	r->action = o.retval;
	r->out_len = o.data_size_out;
	return 0;
}

/* The verdict a reason stands for (docs/datapath.md). */
static uint32_t action_of(int reason)
{
	switch (reason) {
	case XLB_R_TX:
	case XLB_R_TX_ICMP_TOO_BIG:
	case XLB_R_TX_ICMP_ECHO:
	case XLB_R_TX_ICMP_TIME_EXCEEDED:
		return XDP_TX;
	case XLB_R_REDIRECT:
		return XDP_REDIRECT;
	default:
		return strncmp(reason_names[reason], "drop_", 5) ? XDP_PASS : XDP_DROP;
	}
}

/* The one pass/drop/send reason that moved, or -1 (invariant broken). */
static int check_counters(const struct run *r)
{
	int i, reason = -1;

	for (i = 0; i < XLB_R_MAX; i++) {
		uint64_t d = r->after[i] - r->before[i];

		if (!d)
			continue;
		if (d > 1)
			return broken("%s moved by %llu", reason_names[i], (unsigned long long)d), -1;
		if (xlb_reason_is_info(i))
			continue;
		if (reason >= 0)
			return broken("two reasons moved: %s and %s", reason_names[reason],
				      reason_names[i]), -1;
		reason = i;
	}
	if (reason < 0)
		broken("no reason counter moved");
	return reason;
}

/* Where the L3 header starts (one 802.1Q tag), and its ethertype. */
static size_t l3_of(const uint8_t *b, size_t len, uint16_t *type)
{
	size_t off = 12;

	*type = 0;
	if (len < 14)
		return 0;
	*type = pkt_get16(b + off);
	if (*type == PKT_ETH_P_8021Q) {
		if (len < 18)
			return *type = 0, 0;
		off += 4;
		*type = pkt_get16(b + off);
	}
	return off + 2;
}

static bool addr_in(const uint8_t *a, int family, bool vips)
{
	uint8_t x[16];
	size_t i, b, n = family == 4 ? 4 : 16;

	for (i = 0; i < ARRAY_SIZE(fvips); i++) {
		if (family_of(fvips[i].addr) != family && vips)
			continue;
		for (b = 0; b < (vips ? 1 : ARRAY_SIZE(fvips[i].be)); b++) {
			const char *s = vips ? fvips[i].addr : fvips[i].be[b];

			if (!s || family_of(s) != family)
				continue;
			addr_parse(x, s);
			if (!memcmp(x, a, n))
				return true;
		}
	}
	return false;
}

/* True if xlb may touch the frame: its destination is a VIP address, or
 * it may be a NAT reply (its source is a backend). */
static bool may_concern_xlb(const struct input *in)
{
	uint16_t type;
	size_t l3 = l3_of(in->data, in->len, &type);
	const uint8_t *ip = in->data + l3;

	if (type == PKT_ETH_P_IP && in->len >= l3 + 20)
		return addr_in(ip + 16, 4, true) || addr_in(ip + 12, 4, false);
	if (type == PKT_ETH_P_IPV6 && in->len >= l3 + 40)
		return addr_in(ip + 24, 6, true) || addr_in(ip + 8, 6, false);
	return false;
}

/* A checksum field as a receiver judges it: 0x0000 and 0xffff are the same
 * one's complement number, except that UDP gives 0 its own meaning. */
static bool csum_ok(uint16_t have, uint16_t want, bool udp)
{
	if (udp && have == 0)
		return false;
	return have == want || (have == 0 && want == 0xffff) || (have == 0xffff && want == 0);
}

static bool is_ext(uint8_t nh)
{
	return nh == PKT_NH_HOP || nh == PKT_NH_ROUTING || nh == PKT_NH_DSTOPTS ||
	       nh == PKT_NH_AH;
}

/* Where the L4 header of an IP packet starts (after IPv6 extension
 * headers), 0 for a fragment or a chain that runs past len. */
static size_t l4_start(const uint8_t *ip, size_t len, uint8_t *proto)
{
	size_t off;
	int i;

	if ((ip[0] >> 4) == 4) {
		*proto = ip[9];
		return pkt_get16(ip + 6) & 0x3fff ? 0 : (ip[0] & 0x0f) * 4u;
	}
	*proto = ip[6];
	for (off = 40, i = 0; i < PKT_MAX_EXT && is_ext(*proto); i++) {
		uint8_t type = *proto;

		if (off + 2 > len)
			return 0;
		*proto = ip[off];
		off += type == PKT_NH_AH ? (ip[off + 1] + 2u) * 4u : (ip[off + 1] + 1u) * 8u;
	}
	return *proto == PKT_NH_FRAGMENT || off > len ? 0 : off;
}

/* The IPv4 header and TCP/UDP/ICMP checksums of one IP packet of len
 * bytes (its IP length), recomputed from scratch. */
static bool csums_right(const char *what, const uint8_t *ip, size_t len)
{
	int v4 = (ip[0] >> 4) == 4;
	const uint8_t *src = ip + (v4 ? 12 : 8), *dst = ip + (v4 ? 16 : 24), *seg;
	size_t off, seglen;
	uint16_t want;
	uint8_t proto;
	int coff;

	if (v4 && !csum_ok(pkt_get16(ip + 10), pkt_ipv4_csum(ip, (ip[0] & 0x0f) * 4u), false))
		return broken("%s: IPv4 header checksum %04x, should be %04x", what,
			      pkt_get16(ip + 10), pkt_ipv4_csum(ip, (ip[0] & 0x0f) * 4u));
	off = l4_start(ip, len, &proto);
	coff = proto == IPPROTO_TCP ? 16 : proto == IPPROTO_UDP ? 6 :
	       (proto == 1 && v4) || (proto == 58 && !v4) ? 2 : -1;
	if (!off || coff < 0 || off + coff + 2 > len)
		return true;
	seg = ip + off;
	seglen = len - off;
	if (proto == IPPROTO_UDP && v4 && pkt_get16(seg + 6) == 0)
		return true; /* IPv4 UDP without a checksum */
	want = proto == 1 ? pkt_csum_fold(pkt_csum_add(pkt_csum_add(0, seg, 2), seg + 4,
						       seglen - 4)) :
			    pkt_l4_csum(v4 ? 4 : 6, src, dst, proto, seg, seglen);
	if (!csum_ok(pkt_get16(seg + coff), want, proto == IPPROTO_UDP))
		return broken("%s: L4 (proto %u) checksum %04x, should be %04x", what, proto,
			      pkt_get16(seg + coff), want);
	return true;
}

/* The input's IP packet, if it has one whose length fits the frame. */
static const uint8_t *input_ip(const struct input *in, size_t *len)
{
	uint16_t type;
	size_t l3 = l3_of(in->data, in->len, &type), n = in->len - l3;
	const uint8_t *ip = in->data + l3;

	if (type == PKT_ETH_P_IP && n >= 20 && (ip[0] >> 4) == 4 && (ip[0] & 0x0f) >= 5)
		*len = pkt_get16(ip + 2);
	else if (type == PKT_ETH_P_IPV6 && n >= 40 && (ip[0] >> 4) == 6)
		*len = 40 + (size_t)pkt_get16(ip + 4);
	else
		return NULL;
	return *len <= n && *len >= (ip[0] >> 4 == 4 ? (ip[0] & 0x0f) * 4u : 40) ? ip : NULL;
}

/* Were the input's checksums right? (Only then must the output's be.) */
static bool input_csums_right(const struct input *in)
{
	const char *before = verdict;
	const uint8_t *ip;
	size_t len;
	bool ok;

	ip = input_ip(in, &len);
	ok = ip && csums_right("input", ip, len);
	if (!before)
		verdict = NULL;
	return ok;
}

/* An inner packet of a tunnel: its own lengths and checksums. */
static bool check_inner(const uint8_t *ip, size_t len, bool csums)
{
	size_t want;

	if (len < 1)
		return broken("tunnel: empty inner packet");
	if ((ip[0] >> 4) == 4)
		want = len >= 20 ? pkt_get16(ip + 2) : 0;
	else
		want = len >= 40 ? 40 + (size_t)pkt_get16(ip + 4) : 0;
	if (want > len || (want < len && strict_trailer))
		return broken("tunnel: inner IP length %zu, %zu bytes carried", want, len);
	trailers_sent += want < len;
	return !csums || csums_right("tunnel inner packet", ip, want);
}

/* Outer header of a tunnel: IP-in-IP, or UDP to the GUE port; returns the
 * inner packet's offset from ip, 0 if this is no tunnel. */
static size_t tunnel_inner(const uint8_t *ip, size_t hl, uint8_t proto, size_t l3len)
{
	if (proto == 4 || proto == 41)
		return hl;
	if (proto == IPPROTO_UDP && l3len >= hl + 8 && pkt_get16(ip + hl + 2) == GUE_PORT)
		return hl + 8;
	return 0;
}

/* A frame xlb sends: lengths consistent, checksums right (if they were). */
static bool check_sent(const struct run *r, bool csums)
{
	uint16_t type;
	size_t l3 = l3_of(r->out, r->out_len, &type), l3len, hl, iplen, inner;
	const uint8_t *ip = r->out + l3;
	uint8_t proto;

	if (type != PKT_ETH_P_IP && type != PKT_ETH_P_IPV6)
		return broken("sent frame with ethertype %04x", type);
	l3len = r->out_len - l3;
	if (type == PKT_ETH_P_IP) {
		if (l3len < 20 || (ip[0] & 0x0f) < 5)
			return broken("sent IPv4 header truncated or IHL < 5");
		hl = (ip[0] & 0x0f) * 4u;
		iplen = pkt_get16(ip + 2);
		proto = ip[9];
	} else {
		if (l3len < 40)
			return broken("sent IPv6 header truncated");
		hl = 40;
		iplen = 40 + (size_t)pkt_get16(ip + 4);
		proto = ip[6];
	}
	if (iplen > l3len || hl > iplen || (iplen < l3len && strict_trailer))
		return broken("sent IP length %zu, header %zu, %zu bytes after L2", iplen, hl,
			      l3len);
	if (iplen < l3len) {
		trailers_sent++;
		l3len = iplen;
	}
	if (proto == IPPROTO_UDP && l3len >= hl + 8 && pkt_get16(ip + hl + 4) != l3len - hl) {
		if (strict_trailer)
			return broken("sent UDP length %u, IP payload %zu",
				      pkt_get16(ip + hl + 4), l3len - hl);
		udp_len_sent++;
		return true;
	}
	inner = tunnel_inner(ip, hl, proto, l3len);
	if (inner) {
		/* GUE's zero UDP checksum (RFC 6935) is checked by hand. */
		if (type == PKT_ETH_P_IP && pkt_ipv4_csum(ip, hl) != pkt_get16(ip + 10))
			return broken("tunnel: outer IPv4 header checksum");
		return check_inner(ip + inner, l3len - inner, csums);
	}
	return !csums || csums_right("sent frame", ip, l3len);
}

/* The invariants of one run; sets verdict when one is broken. */
static int check_run(const struct input *in, const struct run *r)
{
	int reason = check_counters(r);
	bool same = r->out_len == in->len && !memcmp(r->out, in->data, in->len);

	if (reason < 0)
		return -1;
	if (r->action > XDP_REDIRECT || r->action == XDP_ABORTED)
		return broken("verdict %u", r->action), -1;
	if (r->action != action_of(reason))
		return broken("verdict %u for reason %s", r->action, reason_names[reason]), -1;
	if (r->action == XDP_PASS && reason != XLB_R_PASS_NO_NEIGH && !same)
		return broken("%s passed a changed frame", reason_names[reason]), -1;
	if (!may_concern_xlb(in) && (r->action != XDP_PASS || !same))
		return broken("frame for no VIP: %s, %s", reason_names[reason],
			      same ? "untouched" : "changed"), -1;
	if (r->action == XDP_TX || r->action == XDP_REDIRECT) {
		if (!check_sent(r, input_csums_right(in)))
			return -1;
	}
	return reason;
}

/* ---- replay ---------------------------------------------------------------- */

static int read_input(const char *path, struct input *in)
{
	uint8_t buf[PKT_MAX + 1];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (n < 15 || n > PKT_MAX + 1)
		return -EINVAL;
	in->dev = buf[0] & 1;
	in->len = n - 1;
	memcpy(in->data, buf + 1, in->len);
	return 0;
}

static int is_file(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

static int replay(const char *dir)
{
	struct dirent **names;
	static struct run r;
	struct input in;
	char path[4096];
	int n, i, bad = 0;

	n = scandir(dir, &names, is_file, alphasort);
	if (n <= 0) {
		printf("FAIL %s-corpus: no corpus in %s: run from the repository root\n", NAME, dir);
		return 1;
	}
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		free(names[i]);
		verdict = NULL;
		if (read_input(path, &in)) {
			printf("FAIL %s-corpus: %s is not an input (1 byte interface + >= 14 bytes frame)\n",
			       NAME, path);
			bad++;
			continue;
		}
		if (run_one(&in, &r) == 0)
			check_run(&in, &r);
		if (verdict) {
			printf("FAIL %s-corpus: %s: %s\n", NAME, path, verdict);
			bad++;
		}
	}
	free(names);
	if (!bad)
		printf("PASS %s-corpus (%d inputs; sent despite issue 11 section 1: %llu with a "
		       "trailer, %llu with a wrong UDP length)\n", NAME, n, trailers_sent, udp_len_sent);
	return bad ? 1 : 0;
}

/* ---- mutation -------------------------------------------------------------- */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return n ? (uint32_t)(rng_state % n) : 0;
}

/* Offsets of the IP and L4 headers of a frame (0 where there is none). */
struct layout {
	size_t l3, l4;
	uint16_t type;
	uint8_t proto;
};

static void layout_of(const struct input *in, struct layout *l)
{
	const uint8_t *ip;

	memset(l, 0, sizeof(*l));
	l->l3 = l3_of(in->data, in->len, &l->type);
	ip = in->data + l->l3;
	if (l->type == PKT_ETH_P_IP && in->len >= l->l3 + 20) {
		l->proto = ip[9];
		l->l4 = l->l3 + (ip[0] & 0x0f) * 4u;
	} else if (l->type == PKT_ETH_P_IPV6 && in->len >= l->l3 + 40) {
		l->proto = ip[6];
		l->l4 = l->l3 + 40;
	}
	if (l->l4 > in->len)
		l->l4 = 0;
}

static const uint16_t boundaries[] = { 0, 1, 7, 8, 19, 20, 39, 40, 41, 60, 64, 0xffff };

static uint16_t interesting16(size_t len)
{
	switch (rnd(4)) {
	case 0:
		return boundaries[rnd(ARRAY_SIZE(boundaries))];
	case 1:
		return (uint16_t)(len + rnd(9) - 4);
	default:
		return (uint16_t)rnd(0x10000);
	}
}

/* A length field of the IP or L4 header set to a boundary or near value. */
static void mutate_length(struct input *in, const struct layout *l)
{
	uint8_t *b = in->data;

	if (!l->l4)
		return;
	switch (rnd(4)) {
	case 0: /* IPv4 total length, IPv6 payload length */
		pkt_put16(b + l->l3 + (l->type == PKT_ETH_P_IP ? 2 : 4),
			  interesting16(in->len - l->l3));
		break;
	case 1: /* IPv4 IHL */
		if (l->type == PKT_ETH_P_IP)
			b[l->l3] = (uint8_t)(0x40 | rnd(16));
		break;
	case 2: /* UDP length */
		if (l->proto == IPPROTO_UDP && l->l4 + 6 <= in->len)
			pkt_put16(b + l->l4 + 4, interesting16(in->len - l->l4));
		break;
	default: /* TCP data offset */
		if (l->proto == IPPROTO_TCP && l->l4 + 13 <= in->len)
			b[l->l4 + 12] = (uint8_t)(rnd(16) << 4);
		break;
	}
}

static const uint16_t ethertypes[] = { PKT_ETH_P_IP, PKT_ETH_P_IPV6, PKT_ETH_P_8021Q,
				       PKT_ETH_P_8021AD, PKT_ETH_P_ARP };
static const uint8_t next_headers[] = { 0, 1, 4, 6, 17, 41, 43, 44, 50, 51, 58, 59, 60 };

/* The chain of headers: ethertype, protocol / next header, a VLAN tag in
 * or out, ports. */
static void mutate_chain(struct input *in, const struct layout *l)
{
	uint8_t *b = in->data;

	switch (rnd(4)) {
	case 0:
		pkt_put16(b + l->l3 - 2, ethertypes[rnd(ARRAY_SIZE(ethertypes))]);
		break;
	case 1:
		if (l->l4)
			b[l->l3 + (l->type == PKT_ETH_P_IP ? 9 : 6)] =
				next_headers[rnd(ARRAY_SIZE(next_headers))];
		break;
	case 2: /* insert a tag after the MACs */
		if (in->len + 4 <= PKT_MAX) {
			memmove(b + 16, b + 12, in->len - 12);
			pkt_put16(b + 12, rnd(2) ? PKT_ETH_P_8021Q : PKT_ETH_P_8021AD);
			pkt_put16(b + 14, (uint16_t)rnd(4096));
			in->len += 4;
		}
		break;
	default: /* IPv4 flags and fragment offset */
		if (l->l4 && l->type == PKT_ETH_P_IP)
			pkt_put16(b + l->l3 + 6, (uint16_t)(rnd(2) ? rnd(0x10000) : PKT_IP_MF));
		break;
	}
}

static void fix_checksums(struct input *in)
{
	struct layout l;
	uint8_t *ip, *seg;
	size_t hl, seglen;
	int coff;

	layout_of(in, &l);
	if (!l.l4)
		return;
	ip = in->data + l.l3;
	hl = l.l4 - l.l3;
	if (l.type == PKT_ETH_P_IP && hl >= 20) {
		pkt_put16(ip + 10, 0);
		pkt_put16(ip + 10, pkt_ipv4_csum(ip, hl));
	}
	coff = l.proto == IPPROTO_TCP ? 16 : l.proto == IPPROTO_UDP ? 6 :
	       l.proto == 1 || l.proto == 58 ? 2 : -1;
	seg = in->data + l.l4;
	seglen = in->len - l.l4;
	if (coff < 0 || seglen < (size_t)coff + 2)
		return;
	pkt_put16(seg + coff, 0);
	pkt_put16(seg + coff, l.proto == 1 ? pkt_csum_fold(pkt_csum_add(0, seg, seglen)) :
		  pkt_l4_csum(l.type == PKT_ETH_P_IP ? 4 : 6, ip + (l.type == PKT_ETH_P_IP ? 12 : 8),
			      ip + (l.type == PKT_ETH_P_IP ? 16 : 24), l.proto, seg, seglen));
}

static void mutate(struct input *in)
{
	int n = 1 + (int)rnd(4), i;
	struct layout l;

	for (i = 0; i < n; i++) {
		layout_of(in, &l);
		switch (rnd(6)) {
		case 0: /* truncate, often at a header boundary */
			if (l.l4 && rnd(2))
				in->len = l.l4 + rnd(24);
			else
				in->len = 14 + rnd((uint32_t)in->len - 13);
			if (in->len < 14)
				in->len = 14;
			break;
		case 1:
			in->data[rnd((uint32_t)in->len)] ^= (uint8_t)(1u << rnd(8));
			break;
		case 2:
			if (in->len > 14)
				in->data[14 + rnd((uint32_t)in->len - 14)] = (uint8_t)rnd(256);
			break;
		case 3:
			mutate_length(in, &l);
			break;
		case 4:
			mutate_chain(in, &l);
			break;
		default: { /* an Ethernet trailer: padding or more */
			size_t add = 1 + rnd(64);

			if (in->len + add <= PKT_MAX) {
				memset(in->data + in->len, rnd(2) ? 0 : 0xa5, add);
				in->len += add;
			}
			break;
		}
		}
	}
	if (in->len > PKT_MAX)
		in->len = PKT_MAX;
	if (rnd(2))
		fix_checksums(in);
	if (rnd(8) == 0)
		in->dev ^= 1;
}

/* An outcome: the verdict, the reason and the informational counters. */
static uint32_t outcome_of(const struct run *r, int reason)
{
	uint32_t o = r->action << 8 | (uint32_t)reason, i;

	for (i = 0; i < XLB_R_MAX; i++)
		if (xlb_reason_is_info((int)i) && r->after[i] != r->before[i])
			o |= 1u << (16 + i % 16);
	return o;
}

static int save_input(const char *dir, const char *name, const struct input *in)
{
	char path[4096];
	FILE *f;

	if (mkdir(dir, 0755) && errno != EEXIST) {
		fprintf(stderr, "cannot create %s: %s\n", dir, strerror(errno));
		return -errno;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f) {
		fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
		return -errno;
	}
	fputc(in->dev, f);
	fwrite(in->data, 1, in->len, f);
	fclose(f);
	return 0;
}

/* A name for a new input: its prefix and the generator's state. */
static const char *input_name(const char *prefix)
{
	static char name[64];

	snprintf(name, sizeof(name), "%s-%08x", prefix, (uint32_t)(rng_state ^ (rng_state >> 32)));
	return name;
}

/* The seeds themselves go into a saved corpus too: every header chain
 * they start from is then replayed by make test. */
static void save_seeds(const char *dir)
{
	char name[32];
	size_t i;

	for (i = 0; i < n_seeds; i++) {
		snprintf(name, sizeof(name), "seed-%03zu", i);
		save_input(dir, name, &seeds[i]);
	}
}

struct fuzz_opts {
	unsigned int time_s;
	uint64_t seed;
	const char *save, *crashes;
};

static int fuzz(const struct fuzz_opts *o)
{
	static uint32_t outcomes[MAX_OUTCOMES];
	static struct run r;
	size_t n_outcomes = 0, k;
	uint64_t runs = 0;
	struct input in;
	time_t start = time(NULL);
	double secs;

	rng_state = o->seed ? o->seed : 1;
	if (o->save)
		save_seeds(o->save);
	while (time(NULL) - start < (time_t)o->time_s) {
		uint32_t out;
		int reason;

		in = seeds[rnd((uint32_t)n_seeds)];
		mutate(&in);
		verdict = NULL;
		reason = run_one(&in, &r) ? -1 : check_run(&in, &r);
		runs++;
		if (verdict) {
			fprintf(stderr, "broken after %llu runs (seed %llu): %s\n",
				(unsigned long long)runs, (unsigned long long)o->seed, verdict);
			if (o->crashes)
				save_input(o->crashes, input_name("packet"), &in);
			return 1;
		}
		out = outcome_of(&r, reason);
		for (k = 0; k < n_outcomes && outcomes[k] != out; k++)
			;
		if (k == n_outcomes && n_outcomes < MAX_OUTCOMES) {
			outcomes[n_outcomes++] = out;
			if (o->save)
				save_input(o->save, input_name("outcome"), &in);
		}
	}
	secs = (double)(time(NULL) - start);
	printf("fuzz packet: ok, %llu executions in %.0fs, %.0f exec/s, %zu outcomes, "
	       "seed %llu; sent despite issue 11 section 1: %llu with a trailer, "
	       "%llu with a wrong UDP length\n",
	       (unsigned long long)runs, secs, secs > 0 ? runs / secs : 0.0, n_outcomes,
	       (unsigned long long)o->seed, trailers_sent, udp_len_sent);
	return 0;
}

static int parse_fuzz_opts(int argc, char **argv, struct fuzz_opts *o)
{
	int i;

	for (i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "-time"))
			o->time_s = (unsigned int)strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "-seed"))
			o->seed = strtoull(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "-save"))
			o->save = argv[i + 1];
		else if (!strcmp(argv[i], "-crashes"))
			o->crashes = argv[i + 1];
		else if (!strcmp(argv[i], "-strict") && !strcmp(argv[i + 1], "1"))
			strict_trailer = true;
		else
			break;
	}
	if (i != argc || !o->time_s) {
		fprintf(stderr, "usage: %s fuzz -time SECONDS [-seed N] [-save DIR] [-crashes DIR] [-strict 1]\n",
			argv[0]);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct xlb_open_opts oo = { .no_pin = true, .flow_entries = 4096 };
	struct fuzz_opts fo = { .seed = 1 };
	bool fuzzing = argc > 1 && !strcmp(argv[1], "fuzz");
	int err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	strict_trailer = !(getenv("XLB_FUZZ_STRICT") && !strcmp(getenv("XLB_FUZZ_STRICT"), "0"));
	if (fuzzing && parse_fuzz_opts(argc, argv, &fo))
		return 2;
	if (geteuid()) {
		printf("FAIL %s: needs root (netns, BPF)\n", NAME);
		return 1;
	}
	if (setup_netns()) {
		printf("FAIL %s: network namespace (see stderr)\n", NAME);
		return 1;
	}
	err = xlb_open(&X, &oo);
	if (err || setup_vips()) {
		printf("FAIL %s: loading the datapath: %s (%s)\n", NAME, strerror(-err),
		       xlb_errmsg());
		return 1;
	}
	make_seeds();
	if (fuzzing)
		err = fuzz(&fo);
	else
		err = replay(argc > 2 ? argv[2] : CORPUS);
	xlb_close(X);
	return err;
}
