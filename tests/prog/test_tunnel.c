// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Packet tests for tunnel mode, ICMP and fragments (docs/datapath.md,
 * sections 3-5) on the real xlb program, and for the backend's decap
 * program (bpf/decap.bpf.c), through BPF_PROG_TEST_RUN.
 *
 * Every forwarded or generated frame is compared byte for byte with one
 * built from scratch (tests/lib/pkt.c, pkt_tunnel.c: lengths, flow hash
 * fields and every checksum computed independently), and the program's
 * output is also checked on its own (pkt_verify_deep: outer, inner and
 * quoted checksums). Each case also checks the reason counter that moved.
 *
 * The binary isolates itself in a private network namespace, so that
 * bpf_fib_lookup() sees this fixed topology:
 *
 *   client 198.18.0.2 fd00::2 --+               +-- router 198.18.2.254 fd00:2::fe
 *   c-router 198.18.0.254 fd00::fe -- tc0 [xlb] tb0 -- be 198.18.2.11 fd00:2::11 (dsr, nat)
 *     |           198.18.0.1 fd00::1   198.18.2.1 fd00:2::1   |
 *     +- 198.18.6.0/24 fd00:6::/64                             +- 198.18.3.0/24 fd00:3::/64
 *        (egress == ingress: XDP_TX)                           +- 198.18.4.0/24 fd00:4::/64
 *                                                              |  mtu lock 1400
 *   198.18.7.0/24, fd00:7::/64 via 198.18.2.253, fd00:2::fd     +- fd00:5::/64 mtu lock 1300
 *   (no neighbour entry: pass_no_neigh); 198.19.255.7: no route
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "decap.skel.h"
#include "libxlb.h"
#include "pkt.h"
#include "pkt_tunnel.h"
#include "pktcase.h"
#include "sysutil.h"
#include "testlib.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- topology ------------------------------------------------------------ */

enum { DEV_C, DEV_B, NDEV };

static const char *const dev_name[NDEV] = { "tc0", "tb0" };
static const char *const peer_name[NDEV] = { "tc0p", "tb0p" };
static int dev_ifindex[NDEV];

enum { H_CLIENT, H_CROUTER, H_ROUTER, H_BE, NHOST };

struct host {
	const char *name;
	uint8_t mac[6];
	const char *v4, *v6;
	int dev;
};

/* All of them have permanent neighbour entries. */
static const struct host hosts[NHOST] = {
	[H_CLIENT] = { "client", { 0x02, 0xc1, 0, 0, 0, 0x02 }, "198.18.0.2", "fd00::2", DEV_C },
	[H_CROUTER] = { "c-router", { 0x02, 0xc1, 0, 0, 0, 0xfe }, "198.18.0.254", "fd00::fe",
			DEV_C },
	[H_ROUTER] = { "router", { 0x02, 0xee, 0, 0, 0, 0xfe }, "198.18.2.254", "fd00:2::fe",
		       DEV_B },
	[H_BE] = { "be", { 0x02, 0xbe, 0, 0, 0, 0x11 }, "198.18.2.11", "fd00:2::11", DEV_B },
};

/* A route's MTU counts for forwarding, and so for bpf_fib_lookup(), only
 * when it is locked (or with net.ipv4.ip_forward_use_pmtu for IPv4):
 * unlocked, the egress device's MTU wins. */
static const char *const routes[] = {
	"ip route add 198.18.3.0/24 via 198.18.2.254",
	"ip -6 route add fd00:3::/64 via fd00:2::fe",
	"ip route add 198.18.4.0/24 via 198.18.2.254 mtu lock 1400",
	"ip -6 route add fd00:4::/64 via fd00:2::fe mtu lock 1400",
	"ip -6 route add fd00:5::/64 via fd00:2::fe mtu lock 1300",
	"ip route add 198.18.6.0/24 via 198.18.0.254",
	"ip -6 route add fd00:6::/64 via fd00::fe",
	"ip route add 198.18.7.0/24 via 198.18.2.253",
	"ip -6 route add fd00:7::/64 via fd00:2::fd",
};

static int alen(int family)
{
	return family == 4 ? 4 : 16;
}

static void parse_addr(uint8_t out[16], int family, const char *s)
{
	memset(out, 0, 16);
	if (inet_pton(family == 4 ? AF_INET : AF_INET6, s, out) != 1) {
		fprintf(stderr, "bad address %s\n", s);
		exit(2);
	}
}

static int family_of(const char *s)
{
	return strchr(s, ':') ? 6 : 4;
}

static void host_addr(uint8_t out[16], int h, int family)
{
	parse_addr(out, family, family == 4 ? hosts[h].v4 : hosts[h].v6);
}

static void dev_addr(uint8_t out[16], int d, int family)
{
	parse_addr(out, family, family == 4 ? test_link_v4[d] : test_link_v6[d]);
}

/* ---- VIPs ------------------------------------------------------------------ */

#define TCP IPPROTO_TCP
#define UDP IPPROTO_UDP
#define TUN XLB_MODE_TUNNEL
#define IPIP XLB_ENCAP_IPIP
#define GUE XLB_ENCAP_GUE
#define GUE_PORT2 7777 /* a VIP's own GUE port, next to the default 6080 */
#define RING 251

struct tvip {
	const char *addr;
	uint16_t port;
	uint8_t proto;
	enum xlb_mode mode;
	enum xlb_encap encap;
	uint16_t gue_port; /* as configured: 0 = XLB_GUE_PORT_DEFAULT */
	const char *be; /* backend address, NULL: none */
	uint16_t be_port;
	int nh; /* host that is the next hop towards the backend */
	uint16_t route_mtu; /* MTU of the route to the backend; 0: the link's */
	/* filled in at setup */
	int family, be_family;
	uint8_t a[16], b[16];
	struct xlb_vip_key key;
};

enum {
	T4, T6, T46, T64, G4, G6, G46, G64, TU4, TU6, TX4, TX6,
	M4, M6, MG4, MG6, M46, M64, MCLAMP, NN4, NN6, UR4,
	DSR4, DSR6, NAT4, NAT6, EMPTY4, EMPTY6, NVIP
};

#define V(a, p, pr, m, e, g, b, bp, nh, mtu)                                    \
	{ a, p, pr, m, e, g, b, bp, nh, mtu }

static struct tvip vips[NVIP] = {
	[T4] = V("198.19.1.1", 80, TCP, TUN, IPIP, 0, "198.18.3.11", 80, H_ROUTER, 0),
	[T6] = V("fd00:ff:1::1", 80, TCP, TUN, IPIP, 0, "fd00:3::11", 80, H_ROUTER, 0),
	[T46] = V("198.19.1.2", 80, TCP, TUN, IPIP, 0, "fd00:3::12", 80, H_ROUTER, 0),
	[T64] = V("fd00:ff:1::2", 80, TCP, TUN, IPIP, 0, "198.18.3.12", 80, H_ROUTER, 0),
	[G4] = V("198.19.1.3", 80, TCP, TUN, GUE, 0, "198.18.3.13", 80, H_ROUTER, 0),
	[G6] = V("fd00:ff:1::3", 80, TCP, TUN, GUE, GUE_PORT2, "fd00:3::13", 80, H_ROUTER, 0),
	[G46] = V("198.19.1.4", 80, TCP, TUN, GUE, GUE_PORT2, "fd00:3::14", 80, H_ROUTER, 0),
	[G64] = V("fd00:ff:1::4", 80, TCP, TUN, GUE, 0, "198.18.3.14", 80, H_ROUTER, 0),
	[TU4] = V("198.19.1.5", 53, UDP, TUN, IPIP, 0, "198.18.3.15", 53, H_ROUTER, 0),
	[TU6] = V("fd00:ff:1::5", 53, UDP, TUN, GUE, GUE_PORT2, "fd00:3::15", 53, H_ROUTER, 0),
	[TX4] = V("198.19.1.6", 80, TCP, TUN, IPIP, 0, "198.18.6.11", 80, H_CROUTER, 0),
	[TX6] = V("fd00:ff:1::6", 80, TCP, TUN, GUE, 0, "fd00:6::11", 80, H_CROUTER, 0),
	[M4] = V("198.19.1.7", 80, TCP, TUN, IPIP, 0, "198.18.4.11", 80, H_ROUTER, 1400),
	[M6] = V("fd00:ff:1::7", 80, TCP, TUN, IPIP, 0, "fd00:4::11", 80, H_ROUTER, 1400),
	[MG4] = V("198.19.1.8", 80, TCP, TUN, GUE, 0, "198.18.4.12", 80, H_ROUTER, 1400),
	[MG6] = V("fd00:ff:1::8", 80, TCP, TUN, GUE, 0, "fd00:4::12", 80, H_ROUTER, 1400),
	[M46] = V("198.19.1.9", 80, TCP, TUN, IPIP, 0, "fd00:4::13", 80, H_ROUTER, 1400),
	[M64] = V("fd00:ff:1::9", 80, TCP, TUN, IPIP, 0, "198.18.4.13", 80, H_ROUTER, 1400),
	[MCLAMP] = V("fd00:ff:1::a", 80, TCP, TUN, GUE, 0, "fd00:5::11", 80, H_ROUTER, 1300),
	[NN4] = V("198.19.1.11", 80, TCP, TUN, IPIP, 0, "198.18.7.11", 80, H_ROUTER, 0),
	[NN6] = V("fd00:ff:1::b", 80, TCP, TUN, GUE, 0, "fd00:7::11", 80, H_ROUTER, 0),
	[UR4] = V("198.19.1.12", 80, TCP, TUN, IPIP, 0, "198.19.255.7", 80, H_ROUTER, 0),
	[DSR4] = V("198.19.1.20", 80, TCP, XLB_MODE_DSR, IPIP, 0, "198.18.2.11", 80, H_BE, 0),
	[DSR6] = V("fd00:ff:1::20", 80, TCP, XLB_MODE_DSR, IPIP, 0, "fd00:2::11", 80, H_BE, 0),
	[NAT4] = V("198.19.1.21", 80, TCP, XLB_MODE_NAT, IPIP, 0, "198.18.2.11", 8080, H_BE, 0),
	[NAT6] = V("fd00:ff:1::21", 80, TCP, XLB_MODE_NAT, IPIP, 0, "fd00:2::11", 8080, H_BE, 0),
	[EMPTY4] = V("198.19.1.30", 80, TCP, TUN, IPIP, 0, NULL, 0, H_ROUTER, 0),
	[EMPTY6] = V("fd00:ff:1::30", 80, TCP, TUN, IPIP, 0, NULL, 0, H_ROUTER, 0),
};

static uint16_t gue_port_of(const struct tvip *v)
{
	if (v->mode != TUN || v->encap != GUE)
		return 0;
	return v->gue_port ? v->gue_port : XLB_GUE_PORT_DEFAULT;
}

/* Bytes the encapsulation adds in front of the inner IP header. */
static uint32_t overhead(const struct tvip *v)
{
	return (v->be_family == 4 ? 20 : 40) + (gue_port_of(v) ? 8 : 0);
}

/* The MTU a too-big answer must carry (docs: path MTU - encapsulation
 * overhead, at least 1280 for IPv6). */
static uint32_t too_big_mtu(const struct tvip *v)
{
	uint32_t mtu = v->route_mtu - overhead(v);

	return v->family == 6 && mtu < 1280 ? 1280 : mtu;
}

static struct xlb *X;

/* ---- reporting ------------------------------------------------------------- */

static const char *const reason_names[] = XLB_REASON_NAMES;
_Static_assert(ARRAY_SIZE(reason_names) == XLB_R_MAX, "reason names");

/* ---- running the xlb program ------------------------------------------------- */

struct run {
	int err;
	uint32_t action;
	uint8_t out[PKT_MAX];
	uint32_t out_len;
	uint64_t before[XLB_R_MAX], after[XLB_R_MAX];
};

static int test_run(int prog_fd, struct run *r, const uint8_t *data, size_t len, int dev)
{
	struct xdp_md ctx = { .data_end = (__u32)len, .ingress_ifindex = (__u32)dev_ifindex[dev] };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = data, .data_size_in = (__u32)len,
		    .data_out = r->out, .data_size_out = sizeof(r->out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx));
	int err = bpf_prog_test_run_opts(prog_fd, &o) ? -errno : 0;

	r->action = o.retval;
	r->out_len = o.data_size_out;
	return err;
}

static void xlb_run(struct run *r, const struct pkt *p, int dev)
{
	int e1, e2;

	memset(r->before, 0, sizeof(r->before));
	memset(r->after, 0, sizeof(r->after));
	e1 = xlb_reason_counters(X, r->before);
	r->err = test_run(xlb_prog_fd(X), r, p->data, p->len, dev);
	e2 = xlb_reason_counters(X, r->after);
	if (!r->err)
		r->err = e1 ? e1 : e2;
}

static int64_t delta(const struct run *r, int i)
{
	return (int64_t)(r->after[i] - r->before[i]);
}

static const char *moved(const struct run *r, char *buf, size_t n)
{
	size_t used = 0;
	int i;

	buf[0] = 0;
	for (i = 0; i < XLB_R_MAX && used < n; i++)
		if (delta(r, i))
			used += snprintf(buf + used, n - used, "%s%s %+lld", used ? ", " : "",
					 reason_names[i], (long long)delta(r, i));
	if (!used)
		snprintf(buf, n, "none");
	return buf;
}

static void dump_io(const char *what, const uint8_t *in, size_t ilen, const struct run *r)
{
	fprintf(tc.dumpf, "%s\n", what);
	pkt_hexdiff(tc.dumpf, "", "input", in, ilen, "output", r->out, r->out_len);
}

static bool check_action(const char *what, const struct run *r, uint32_t want)
{
	char buf[256];

	if (r->err)
		return tc_fail("%stest run failed: %s", what, strerror(-r->err));
	if (r->action != want)
		return tc_fail("%saction %s, expected %s; counters moved: %s", what,
			       action_name(r->action), action_name(want), moved(r, buf, sizeof(buf)));
	return true;
}

/* Exactly one verdict reason moved, by one: want. Informational ones are
 * checked separately (check_info). */
static bool check_reason(const char *what, const struct run *r, enum xlb_reason want)
{
	char buf[256];
	int i;

	for (i = 0; i < XLB_R_MAX; i++) {
		if (xlb_reason_is_info(i) && i != (int)want)
			continue;
		if (delta(r, i) != (i == (int)want))
			return tc_fail("%sreason %s expected +1; counters moved: %s", what,
				       reason_names[want], moved(r, buf, sizeof(buf)));
	}
	return true;
}

static bool check_info(const char *what, const struct run *r, enum xlb_reason info, int64_t want)
{
	char buf[256];

	if (delta(r, info) != want)
		return tc_fail("%s%s moved %+lld, expected %+lld (moved: %s)", what,
			       reason_names[info], (long long)delta(r, info), (long long)want,
			       moved(r, buf, sizeof(buf)));
	return true;
}

/* The output equals exp byte for byte, and its checksums hold up when
 * recomputed from the output alone. */
static bool check_out(const char *what, const struct run *r, const struct pkt *exp, uint16_t gue)
{
	char sum[640], why[160];

	if (r->out_len != exp->len || memcmp(r->out, exp->data, exp->len)) {
		pkt_diff_summary(sum, sizeof(sum), exp->data, exp->len, r->out, r->out_len);
		if (!pkt_verify_deep(r->out, r->out_len, gue, why, sizeof(why)))
			tc_fail("%soutput differs (%s) [its own checksums: %s]", what, sum, why);
		else
			tc_fail("%soutput differs (%s)", what, sum);
		fprintf(tc.dumpf, "%soutput\n", what);
		pkt_hexdiff(tc.dumpf, "", "expected", exp->data, exp->len, "actual", r->out,
			    r->out_len);
		return false;
	}
	if (!pkt_verify_deep(r->out, r->out_len, gue, why, sizeof(why)))
		return tc_fail("%soutput matches the expected frame, but its checksums do not "
			       "verify: %s", what, why);
	return true;
}

/* Passed or dropped: the action, the reason and (passed) the frame untouched. */
static bool expect_verdict(const char *what, const struct pkt *p, int dev, uint32_t action,
			   enum xlb_reason reason)
{
	static struct run r;

	xlb_run(&r, p, dev);
	if (!check_action(what, &r, action) || !check_reason(what, &r, reason)) {
		dump_io(what, p->data, p->len, &r);
		return false;
	}
	return action == XDP_DROP || check_out(what, &r, p, 0);
}

/* ---- building packets -------------------------------------------------------- */

static void build(struct pkt *p, const struct pkt_spec *s)
{
	if (pkt_build(p, s)) {
		fprintf(stderr, "packet does not fit\n");
		exit(2);
	}
}

static uint16_t next_sport(void)
{
	static uint16_t port = 30000;

	return port++;
}

static void set_macs(struct pkt_spec *s, const uint8_t *dst, const uint8_t *src)
{
	memcpy(s->eth_dst, dst, 6);
	memcpy(s->eth_src, src, 6);
}

static const uint8_t data13[] = "hello, xlb!!";
static const uint8_t dns17[] = { 0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
				 0x00, 0x00, 0x00, 0x01, 'x',  0x00, 0x00, 0x01 };
static uint8_t bulk[PKT_MAX];

#define TOS_IN 0x28 /* AF11: a TOS the outer header must copy */

/* A packet from the client to VIP v, with a TOS / traffic class set. */
static void client_spec(struct pkt_spec *s, const struct tvip *v, uint16_t sport, uint8_t flags)
{
	uint8_t src[16];

	host_addr(src, H_CLIENT, v->family);
	pkt_spec_l4(s, v->family, v->proto, src, sport, v->a, v->port);
	set_macs(s, test_link_mac[DEV_C], hosts[H_CLIENT].mac);
	s->tos = TOS_IN;
	s->tcp_flags = flags;
	if (flags & PKT_TCP_ACK)
		s->ack_seq = 0x0a0b0c0d;
	if (v->proto == UDP) {
		s->payload = dns17;
		s->payload_len = sizeof(dns17);
	}
}

/* TCP payload so that the IP packet is l3_len bytes long. */
static void size_to(struct pkt_spec *s, size_t l3_len)
{
	size_t hdrs = (s->family == 4 ? 20 + s->ip_opts_len : 40) + 20 + s->tcp_opts_len;

	s->payload = bulk;
	s->payload_len = l3_len - hdrs;
}

static void flow_key(struct xlb_flow_key *k, const struct pkt_spec *s)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->src.bytes, s->src, alen(s->family));
	memcpy(k->dst.bytes, s->dst, alen(s->family));
	if (s->proto == TCP || s->proto == UDP) {
		k->sport = htons(s->sport);
		k->dport = htons(s->dport);
	}
	k->proto = s->proto;
	k->family = s->family == 4 ? XLB_FAMILY_V4 : XLB_FAMILY_V6;
}

/* ---- expected frames ----------------------------------------------------------- */

/* The frame xlb must send when it tunnels the IP packet l3 (len bytes, flow
 * key k) to v's backend: outer source = the egress interface's address (what
 * the FIB picks), TTL 64, TOS copied, DF, IPv6 flow label = hash & 0xfffff,
 * GUE source port = 32768 + (hash & 16383), GUE checksum 0. */
static void expect_encap(struct pkt *exp, const struct tvip *v, const uint8_t *l3, size_t len,
			 const struct xlb_flow_key *k, uint8_t tos)
{
	const struct host *nh = &hosts[v->nh];
	uint32_t h = xlb_hash_flow(k);
	struct pkt_outer o;

	memset(&o, 0, sizeof(o));
	memcpy(o.eth_dst, nh->mac, 6);
	memcpy(o.eth_src, test_link_mac[nh->dev], 6);
	o.family = v->be_family;
	dev_addr(o.src, nh->dev, o.family);
	memcpy(o.dst, v->b, 16);
	o.tos = tos;
	o.ttl = 64;
	o.frag_off = PKT_IP_DF;
	o.flow_label = h & 0xfffff;
	o.proto = gue_port_of(v) ? PKT_NH_UDP : v->family == 4 ? PKT_NH_IPIP : PKT_NH_IPV6;
	o.sport = 32768 + (h & 16383);
	o.dport = gue_port_of(v);
	if (pkt_encap(exp, &o, l3, len)) {
		fprintf(stderr, "tunnel frame does not fit\n");
		exit(2);
	}
}

static uint32_t fwd_action(const struct tvip *v)
{
	return hosts[v->nh].dev == DEV_C ? XDP_TX : XDP_REDIRECT;
}

static enum xlb_reason fwd_reason(const struct tvip *v)
{
	return hosts[v->nh].dev == DEV_C ? XLB_R_TX : XLB_R_REDIRECT;
}

/* Run in (from the client side) and expect exp sent towards v's backend. */
static bool fwd_expect(const char *what, const struct tvip *v, const struct pkt *in,
		       const struct pkt *exp, struct run *r)
{
	xlb_run(r, in, DEV_C);
	if (!check_action(what, r, fwd_action(v)) || !check_reason(what, r, fwd_reason(v))) {
		dump_io(what, in->data, in->len, r);
		return false;
	}
	return check_out(what, r, exp, gue_port_of(v));
}

/* Send s to tunnel VIP v: encapsulated exactly, new_flows flows scheduled. */
static bool tunnel_check(const char *what, const struct tvip *v, const struct pkt_spec *s,
			 int new_flows, struct run *r)
{
	struct xlb_flow_key k;
	struct pkt in, exp;
	const uint8_t *l3;
	size_t len;

	build(&in, s);
	flow_key(&k, s);
	l3 = pkt_l3(&in, &len);
	expect_encap(&exp, v, l3, len, &k, s->tos);
	return fwd_expect(what, v, &in, &exp, r) &&
	       check_info(what, r, XLB_R_NEW_FLOW, new_flows);
}

/* ICMP "fragmentation needed" / "packet too big" answering in, from the VIP,
 * MACs swapped (a VLAN tag kept), quoting the IP header + 8 bytes (IPv4,
 * options included) or the first 48 bytes (IPv6). */
static void expect_too_big(struct pkt *exp, const struct pkt_spec *s, const struct pkt *in,
			   uint32_t mtu)
{
	struct pkt_spec e;
	const uint8_t *l3;
	size_t len;

	l3 = pkt_l3(in, &len);
	memset(&e, 0, sizeof(e));
	set_macs(&e, s->eth_src, s->eth_dst);
	e.vlan_proto = s->vlan_proto;
	e.vlan_tci = s->vlan_tci;
	e.family = s->family;
	memcpy(e.src, s->dst, 16);
	memcpy(e.dst, s->src, 16);
	e.ttl = 64;
	e.payload = l3;
	if (s->family == 4) {
		e.tos = 0xc0;
		e.proto = PKT_NH_ICMP;
		e.icmp_type = 3;
		e.icmp_code = 4;
		e.icmp_seq = (uint16_t)mtu;
		e.payload_len = (l3[0] & 0x0f) * 4 + 8;
	} else {
		e.proto = PKT_NH_ICMPV6;
		e.icmp_type = 2;
		e.icmp_id = mtu >> 16;
		e.icmp_seq = mtu & 0xffff;
		e.payload_len = 48;
	}
	build(exp, &e);
}

/* ---- cases: encapsulation ----------------------------------------------------- */

/* A new flow, then a packet of the established flow (found in the flow
 * table, next hop from the flow's cache): both encapsulated exactly. */
static void t_tunnel(int vi)
{
	const struct tvip *v = &vips[vi];
	uint16_t sport = next_sport();
	struct pkt_spec s;
	struct run r;

	client_spec(&s, v, sport, PKT_TCP_SYN);
	if (!tunnel_check("first packet: ", v, &s, 1, &r))
		return;
	client_spec(&s, v, sport, PKT_TCP_ACK | PKT_TCP_PSH);
	s.seq += 1;
	if (v->proto == TCP) {
		s.payload = data13;
		s.payload_len = 13;
	}
	s.tos = 0; /* the TOS is copied per packet, not per flow */
	tunnel_check("established: ", v, &s, 0, &r);
}

/* An inner VLAN tag is not carried: the outer frame is routed. */
static void t_tunnel_vlan(int vi)
{
	const struct tvip *v = &vips[vi];
	struct pkt_spec s;
	struct run r;

	client_spec(&s, v, next_sport(), PKT_TCP_SYN);
	s.vlan_proto = PKT_ETH_P_8021Q;
	s.vlan_tci = 0x0123;
	tunnel_check("", v, &s, 1, &r);
}

/* IPv4 options travel inside, untouched. */
static void t_tunnel_ip_options(int vi)
{
	static const uint8_t opts[8] = { 0x94, 0x04, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00 };
	const struct tvip *v = &vips[vi];
	struct pkt_spec s;
	struct run r;

	client_spec(&s, v, next_sport(), PKT_TCP_SYN);
	memcpy(s.ip_opts, opts, sizeof(opts));
	s.ip_opts_len = sizeof(opts);
	tunnel_check("", v, &s, 1, &r);
}

/* The per-flow outer field (GUE source port, else IPv6 flow label) differs
 * between flows, so a backend's RSS spreads them; each value is already
 * checked against the hash by tunnel_check. */
static void t_spread(int vi)
{
	const struct tvip *v = &vips[vi];
	uint32_t seen[64];
	size_t l3 = 14, off;
	int n = 0, distinct = 0, i, j;
	struct pkt_spec s;
	struct run r;

	off = gue_port_of(v) ? l3 + (v->be_family == 4 ? 20 : 40) : l3;
	for (i = 0; i < 64; i++) {
		client_spec(&s, v, next_sport(), PKT_TCP_SYN);
		if (!tunnel_check("", v, &s, 1, &r))
			return;
		if (gue_port_of(v))
			seen[n++] = pkt_get16(r.out + off);
		else
			seen[n++] = (r.out[off + 1] & 0x0f) << 16 | pkt_get16(r.out + off + 2);
	}
	for (i = 0; i < n; i++) {
		for (j = 0; j < i && seen[j] != seen[i]; j++)
			;
		distinct += j == i;
	}
	if (distinct < 56)
		tc_fail("64 flows gave only %d distinct %s values", distinct,
			gue_port_of(v) ? "GUE source port" : "flow label");
}

/* A client's SYN to VIP vi, for the verdict rows. */
static void frame_syn_to_vip(struct pkt *p, int vi)
{
	struct pkt_spec s;

	client_spec(&s, &vips[vi], next_sport(), PKT_TCP_SYN);
	build(p, &s);
}

/* ---- cases: too big ---------------------------------------------------------------- */

/* s (already sized) must come back as a too-big answer with v's MTU. */
static bool too_big_check(const char *what, const struct tvip *v, const struct pkt_spec *s,
			  int new_flows)
{
	struct pkt in, exp;
	struct run r;

	build(&in, s);
	expect_too_big(&exp, s, &in, too_big_mtu(v));
	xlb_run(&r, &in, DEV_C);
	if (!check_action(what, &r, XDP_TX) || !check_reason(what, &r, XLB_R_TX_ICMP_TOO_BIG)) {
		dump_io(what, in.data, in.len, &r);
		return false;
	}
	return check_out(what, &r, &exp, 0) && check_info(what, &r, XLB_R_NEW_FLOW, new_flows);
}

/* One byte too many: the encapsulated packet is the path MTU + 1. */
static void t_too_big(int vi)
{
	const struct tvip *v = &vips[vi];
	struct pkt_spec s;

	client_spec(&s, v, next_sport(), PKT_TCP_ACK);
	size_to(&s, v->route_mtu - overhead(v) + 1);
	too_big_check("", v, &s, 1);
}

/* Exactly the path MTU once encapsulated: forwarded. */
static void t_fits(int vi)
{
	const struct tvip *v = &vips[vi];
	struct pkt_spec s;
	struct run r;

	client_spec(&s, v, next_sport(), PKT_TCP_ACK);
	size_to(&s, v->route_mtu - overhead(v));
	tunnel_check("", v, &s, 1, &r);
}

/* XDP cannot fragment: IPv4 that allows fragmentation and does not fit. */
static void frame_too_big_no_df(struct pkt *p, int vi)
{
	const struct tvip *v = &vips[vi];
	struct pkt_spec s;

	client_spec(&s, v, next_sport(), PKT_TCP_ACK);
	s.frag_off = 0;
	size_to(&s, v->route_mtu);
	build(p, &s);
}

/* The flow's cached next hop knows only small packets: a large one is
 * checked against the path again. */
static void t_too_big_established(int vi)
{
	const struct tvip *v = &vips[vi];
	uint16_t sport = next_sport();
	struct pkt_spec s;
	struct run r;

	client_spec(&s, v, sport, PKT_TCP_SYN);
	if (!tunnel_check("SYN: ", v, &s, 1, &r))
		return;
	client_spec(&s, v, sport, PKT_TCP_ACK);
	s.seq += 1;
	size_to(&s, v->route_mtu);
	if (!too_big_check("large packet: ", v, &s, 0))
		return;
	client_spec(&s, v, sport, PKT_TCP_ACK);
	s.seq += 1;
	size_to(&s, v->route_mtu - overhead(v));
	tunnel_check("packet that fits: ", v, &s, 0, &r);
}

static void t_too_big_vlan(int vi)
{
	const struct tvip *v = &vips[vi];
	struct pkt_spec s;

	client_spec(&s, v, next_sport(), PKT_TCP_ACK);
	s.vlan_proto = PKT_ETH_P_8021Q;
	s.vlan_tci = 0x0042;
	size_to(&s, v->route_mtu);
	too_big_check("", v, &s, 1);
}

/* The quote is the whole IPv4 header, options included, + 8 bytes. */
static void t_too_big_ip_options(int vi)
{
	static const uint8_t opts[8] = { 0x94, 0x04, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00 };
	const struct tvip *v = &vips[vi];
	struct pkt_spec s;

	client_spec(&s, v, next_sport(), PKT_TCP_ACK);
	memcpy(s.ip_opts, opts, sizeof(opts));
	s.ip_opts_len = sizeof(opts);
	size_to(&s, v->route_mtu);
	too_big_check("", v, &s, 1);
}

/* ---- cases: ICMP errors to a VIP ------------------------------------------------ */

struct icmp_case {
	int vi;
	uint8_t type, code;
	uint32_t rest; /* bytes 4-7 of the ICMP header (MTU, pointer, unused) */
};

static const struct icmp_case icmp_cases[] = {
	{ T4, 3, 4, 1400 }, /* fragmentation needed */
	{ G4, 11, 0, 0 }, /* time exceeded */
	{ T46, 3, 1, 0 }, /* host unreachable; IPv4 VIP over an IPv6 tunnel */
	{ TU4, 3, 3, 0 }, /* port unreachable, quoting UDP */
	{ T6, 2, 0, 1400 }, /* packet too big */
	{ G6, 3, 0, 0 }, /* time exceeded */
	{ T64, 1, 4, 0 }, /* port unreachable; IPv6 VIP over an IPv4 tunnel */
	{ TX4, 3, 4, 1400 }, /* the backend behind the ingress interface: XDP_TX */
	{ DSR4, 3, 4, 1400 },
	{ DSR6, 2, 0, 1400 },
	{ DSR4, 11, 0, 0 },
	{ NAT4, 3, 4, 1400 },
	{ NAT6, 2, 0, 1400 },
	{ NAT4, 12, 0, 0x14000000 }, /* parameter problem, pointer 20 */
	{ NAT6, 4, 0, 8 }, /* parameter problem, pointer 8 */
};

static uint8_t icmp_type_base(int family)
{
	return family == 4 ? PKT_NH_ICMP : PKT_NH_ICMPV6;
}

/* What VIP v sent back to the client on the flow of s (the reply that left
 * the backend), as an ICMP error would quote it. */
static void reply_spec(struct pkt_spec *q, const struct pkt_spec *s)
{
	*q = *s;
	memcpy(q->src, s->dst, 16);
	memcpy(q->dst, s->src, 16);
	q->sport = s->dport;
	q->dport = s->sport;
	q->tos = 0;
	q->ttl = 64;
	q->seq = 0x77665544;
	q->ack_seq = s->seq + 1;
	q->tcp_flags = PKT_TCP_SYN | PKT_TCP_ACK;
	q->payload = s->proto == UDP ? dns17 : data13;
	q->payload_len = s->proto == UDP ? sizeof(dns17) : 13;
}

/* An ICMP error from the client-side router to the VIP, quoting q (len). */
static void icmp_error_spec(struct pkt_spec *e, int family, const uint8_t *to,
			    const struct icmp_case *c, const uint8_t *quote, size_t len)
{
	memset(e, 0, sizeof(*e));
	set_macs(e, test_link_mac[DEV_C], hosts[H_CROUTER].mac);
	e->family = family;
	host_addr(e->src, H_CROUTER, family);
	memcpy(e->dst, to, 16);
	e->ttl = 63;
	e->tos = family == 4 ? 0xc0 : 0;
	e->proto = icmp_type_base(family);
	e->icmp_type = c->type;
	e->icmp_code = c->code;
	e->icmp_id = c->rest >> 16;
	e->icmp_seq = c->rest & 0xffff;
	e->payload = quote;
	e->payload_len = len;
}

/* nat: the backend knows the flow as backend:port -> client, so the quote
 * is re-addressed (its IPv4 header checksum recomputed; the quoted TCP/UDP
 * checksum is left alone, docs section 4) and the outer packet goes to the
 * backend, one hop later. */
static void expect_nat_icmp(struct pkt *exp, const struct pkt_spec *e, const struct tvip *v)
{
	static uint8_t quote[PKT_MAX];
	struct pkt_spec x = *e;
	size_t hl = v->family == 4 ? (e->payload[0] & 0x0f) * 4 : 40;

	memcpy(quote, e->payload, e->payload_len);
	memcpy(quote + (v->family == 4 ? 12 : 8), v->b, alen(v->family));
	pkt_put16(quote + hl, v->be_port);
	if (v->family == 4)
		pkt_put16(quote + 10, pkt_ipv4_csum(quote, hl));
	x.payload = quote;
	memcpy(x.dst, v->b, 16);
	x.ttl = e->ttl - 1;
	set_macs(&x, hosts[H_BE].mac, test_link_mac[DEV_B]);
	build(exp, &x);
}

/* What the flow's backend must receive for the error err (spec e). */
static void expect_icmp_fwd(struct pkt *exp, const struct pkt_spec *e, const struct pkt *err,
			    const struct tvip *v)
{
	struct xlb_flow_key k;
	struct pkt_spec x;
	const uint8_t *l3;
	size_t len;

	if (v->mode == TUN) {
		/* The hash is the error packet's own (its tuple, ports 0). */
		flow_key(&k, e);
		l3 = pkt_l3(err, &len);
		expect_encap(exp, v, l3, len, &k, e->tos);
	} else if (v->mode == XLB_MODE_DSR) {
		x = *e;
		set_macs(&x, hosts[H_BE].mac, test_link_mac[DEV_B]);
		build(exp, &x);
	} else {
		expect_nat_icmp(exp, e, v);
	}
}

/* Open a flow (SYN or datagram) from the client to v; returns its spec. */
static bool open_flow(const struct tvip *v, struct pkt_spec *s)
{
	struct pkt in;
	struct run r;

	client_spec(s, v, next_sport(), PKT_TCP_SYN);
	build(&in, s);
	xlb_run(&r, &in, DEV_C);
	if (!check_action("opening the flow: ", &r, fwd_action(v))) {
		dump_io("opening the flow: ", in.data, in.len, &r);
		return false;
	}
	return true;
}

static void t_icmp_error(int idx)
{
	const struct icmp_case *c = &icmp_cases[idx];
	const struct tvip *v = &vips[c->vi];
	struct pkt_spec s, q, e;
	struct pkt quote, err, exp;
	const uint8_t *qb;
	struct run r;
	size_t qlen;

	if (!open_flow(v, &s))
		return;
	reply_spec(&q, &s);
	build(&quote, &q);
	qb = pkt_l3(&quote, &qlen);
	icmp_error_spec(&e, v->family, v->a, c, qb, qlen);
	build(&err, &e);
	expect_icmp_fwd(&exp, &e, &err, v);
	if (fwd_expect("", v, &err, &exp, &r))
		check_info("", &r, XLB_R_ICMP_TO_BACKEND, 1);
}

/* "Fragmentation needed" / "packet too big" (MTU 1400) for VIP vi. */
static struct icmp_case too_big_case(int vi)
{
	bool v4 = vips[vi].family == 4;
	struct icmp_case c = { vi, v4 ? 3 : 2, v4 ? 4 : 0, 1400 };

	return c;
}

/* An error quoting a flow xlb never saw: the kernel's. */
static void frame_icmp_error_no_flow(struct pkt *p, int vi)
{
	const struct icmp_case c = too_big_case(vi);
	const struct tvip *v = &vips[vi];
	struct pkt_spec s, q, e;
	struct pkt quote;
	const uint8_t *qb;
	size_t qlen;

	client_spec(&s, v, next_sport(), PKT_TCP_SYN);
	reply_spec(&q, &s);
	build(&quote, &q);
	qb = pkt_l3(&quote, &qlen);
	icmp_error_spec(&e, v->family, v->a, &c, qb, qlen);
	build(p, &e);
}

/* An error quoting a real flow, but addressed to an address with no VIP. */
static void t_icmp_error_other_addr(int vi)
{
	const struct icmp_case c = too_big_case(vi);
	const struct tvip *v = &vips[vi];
	struct pkt_spec s, q, e;
	struct pkt quote, err;
	const uint8_t *qb;
	uint8_t to[16];
	size_t qlen;

	if (!open_flow(v, &s))
		return;
	reply_spec(&q, &s);
	build(&quote, &q);
	qb = pkt_l3(&quote, &qlen);
	dev_addr(to, DEV_C, v->family);
	icmp_error_spec(&e, v->family, to, &c, qb, qlen);
	build(&err, &e);
	expect_verdict("", &err, DEV_C, XDP_PASS, XLB_R_PASS_ICMP);
}

/* A quote too short to hold the ports is malformed (RFC 792 asks for the
 * IP header and 8 bytes): dropped, not passed as ICMP. */
static void t_icmp_error_short_quote(int vi)
{
	const struct icmp_case c = too_big_case(vi);
	const struct tvip *v = &vips[vi];
	struct pkt_spec s, q, e;
	struct pkt quote, err;
	const uint8_t *qb;
	size_t qlen;

	if (!open_flow(v, &s))
		return;
	reply_spec(&q, &s);
	build(&quote, &q);
	qb = pkt_l3(&quote, &qlen);
	icmp_error_spec(&e, v->family, v->a, &c, qb, v->family == 4 ? 22 : 42);
	build(&err, &e);
	expect_verdict("", &err, DEV_C, XDP_DROP, XLB_R_DROP_MALFORMED);
}

/* ---- cases: echo and other ICMP ------------------------------------------------- */

static void echo_spec(struct pkt_spec *s, int family, const uint8_t *to, uint8_t type)
{
	memset(s, 0, sizeof(*s));
	set_macs(s, test_link_mac[DEV_C], hosts[H_CLIENT].mac);
	s->family = family;
	host_addr(s->src, H_CLIENT, family);
	memcpy(s->dst, to, 16);
	s->ttl = 61;
	s->ip_id = 0x1234;
	s->frag_off = PKT_IP_DF;
	s->flow_label = 0x12345;
	s->proto = icmp_type_base(family);
	s->icmp_type = type;
	s->icmp_id = 0x4242;
	s->icmp_seq = 7;
	s->payload = data13;
	s->payload_len = 13;
}

/* Answered by xlb: type 0/129, addresses swapped, TTL 64, MACs swapped,
 * everything else as asked (id, sequence, data, IPv4 id and flags, IPv6
 * flow label). */
static void echo_check(int vi, bool vlan)
{
	const struct tvip *v = &vips[vi];
	struct pkt_spec s, e;
	struct pkt in, exp;
	struct run r;

	echo_spec(&s, v->family, v->a, v->family == 4 ? 8 : 128);
	if (vlan) {
		s.vlan_proto = PKT_ETH_P_8021Q;
		s.vlan_tci = 0x0777;
	}
	build(&in, &s);
	e = s;
	memcpy(e.src, s.dst, 16);
	memcpy(e.dst, s.src, 16);
	set_macs(&e, s.eth_src, s.eth_dst);
	e.ttl = 64;
	e.icmp_type = v->family == 4 ? 0 : 129;
	build(&exp, &e);
	xlb_run(&r, &in, DEV_C);
	if (!check_action("", &r, XDP_TX) || !check_reason("", &r, XLB_R_TX_ICMP_ECHO)) {
		dump_io("", in.data, in.len, &r);
		return;
	}
	check_out("", &r, &exp, 0);
}

static void t_echo(int vi)
{
	echo_check(vi, false);
}

static void t_echo_vlan(int vi)
{
	echo_check(vi, true);
}

static void frame_echo_non_vip(struct pkt *p, int family)
{
	struct pkt_spec s;
	uint8_t to[16];

	parse_addr(to, family, family == 4 ? "198.18.3.99" : "fd00:3::99");
	echo_spec(&s, family, to, family == 4 ? 8 : 128);
	build(p, &s);
}

/* An echo reply (or any other informational type) to a VIP is the kernel's. */
static void frame_icmp_other_type(struct pkt *p, int vi)
{
	const struct tvip *v = &vips[vi];
	struct pkt_spec s;

	echo_spec(&s, v->family, v->a, v->family == 4 ? 0 : 129);
	build(p, &s);
}

/* ---- cases: fragments ---------------------------------------------------------------- */

/* kind | F_V6 | F_NONVIP: to the family's tunnel VIP (T4, T6), or to a
 * non-VIP address */
enum { F_MF, F_OFFSET, F_ICMP, F_V6 = 0x10, F_NONVIP = 0x20 };

static void frame_fragment(struct pkt *p, int arg)
{
	int kind = arg & 0xf, family = arg & F_V6 ? 6 : 4;
	uint8_t to[16];
	struct pkt_spec s;

	if (!(arg & F_NONVIP))
		memcpy(to, vips[family == 4 ? T4 : T6].a, 16);
	else
		parse_addr(to, family, family == 4 ? "198.18.3.99" : "fd00:3::99");
	if (kind == F_ICMP) {
		echo_spec(&s, family, to, 8);
	} else {
		uint8_t src[16];

		host_addr(src, H_CLIENT, family);
		pkt_spec_l4(&s, family, UDP, src, next_sport(), to, 80);
		set_macs(&s, test_link_mac[DEV_C], hosts[H_CLIENT].mac);
		s.payload = dns17;
		s.payload_len = sizeof(dns17);
	}
	/* every fragment but the last carries a multiple of 8 bytes */
	if (kind != F_OFFSET)
		s.payload_len -= (8 + s.payload_len) % 8;
	if (family == 4) {
		s.frag_off = kind == F_OFFSET ? 185 : PKT_IP_MF;
	} else {
		s.ext[0].type = PKT_NH_FRAGMENT;
		s.ext[0].frag = kind == F_OFFSET ? 185 << 3 : 1;
		s.n_ext = 1;
	}
	build(p, &s);
}

/* ---- the decap program ------------------------------------------------------------ */

static struct decap_bpf *D;

/* The decap program's view: a tunnel from the gateway to this backend. */
#define DGW4 "198.18.50.2"
#define DGW6 "fd00:50::2"
#define DBE4 "198.18.3.11"
#define DBE6 "fd00:3::11"
#define DVIP4 "198.19.9.1"
#define DVIP6 "fd00:ff:9::1"
#define DOTHER4 "198.19.9.99"
#define DOTHER6 "fd00:ff:9::99"

static const char *const decap_served[] = {
	DVIP4, DVIP6,
	/* xlb's own VIPs, for the round trips */
	"198.19.1.1", "fd00:ff:1::1", "198.19.1.2", "fd00:ff:1::2", "198.19.1.3", "fd00:ff:1::4",
};

static const char *const decap_reason_names[] = XLB_DECAP_REASON_NAMES;
_Static_assert(ARRAY_SIZE(decap_reason_names) == XLB_DECAP_MAX, "decap reason names");

struct drun {
	int err;
	uint32_t action;
	uint8_t out[PKT_MAX];
	uint32_t out_len;
	uint64_t before[XLB_DECAP_MAX], after[XLB_DECAP_MAX];
};

static int decap_counters(uint64_t out[XLB_DECAP_MAX])
{
	int ncpus = libbpf_num_possible_cpus(), fd = bpf_map__fd(D->maps.xlb_decap_stats);
	uint64_t vals[512];
	__u32 r;
	int c;

	if (ncpus <= 0 || ncpus > 512)
		return -EINVAL;
	for (r = 0; r < XLB_DECAP_MAX; r++) {
		if (bpf_map_lookup_elem(fd, &r, vals))
			return -errno;
		out[r] = 0;
		for (c = 0; c < ncpus; c++)
			out[r] += vals[c];
	}
	return 0;
}

static void decap_run(struct drun *r, const uint8_t *data, size_t len)
{
	struct run tr;
	int e1, e2;

	e1 = decap_counters(r->before);
	r->err = test_run(bpf_program__fd(D->progs.xlb_decap), &tr, data, len, DEV_B);
	e2 = decap_counters(r->after);
	if (!r->err)
		r->err = e1 ? e1 : e2;
	r->action = tr.action;
	r->out_len = tr.out_len;
	memcpy(r->out, tr.out, tr.out_len);
}

static const char *decap_moved(const struct drun *r, char *buf, size_t n)
{
	size_t used = 0;
	int i;

	buf[0] = 0;
	for (i = 0; i < XLB_DECAP_MAX && used < n; i++)
		if (r->after[i] != r->before[i])
			used += snprintf(buf + used, n - used, "%s%s %+lld", used ? ", " : "",
					 decap_reason_names[i],
					 (long long)(r->after[i] - r->before[i]));
	if (!used)
		snprintf(buf, n, "none");
	return buf;
}

/* XDP_PASS (always: the decap program never drops), reason counted once,
 * and the frame that goes up the stack is exp. */
static bool decap_expect(const char *what, const struct pkt *in, enum xlb_decap_reason reason,
			 const struct pkt *exp)
{
	struct drun r;
	char buf[256], sum[640];
	int i;

	decap_run(&r, in->data, in->len);
	if (r.err)
		return tc_fail("%stest run failed: %s", what, strerror(-r.err));
	for (i = 0; i < XLB_DECAP_MAX; i++)
		if (r.after[i] - r.before[i] != (uint64_t)(i == (int)reason))
			return tc_fail("%sreason %s expected +1; counters moved: %s", what,
				       decap_reason_names[reason], decap_moved(&r, buf, sizeof(buf)));
	if (r.action != XDP_PASS)
		return tc_fail("%saction %s, expected PASS", what, action_name(r.action));
	if (r.out_len == exp->len && !memcmp(r.out, exp->data, exp->len))
		return true;
	pkt_diff_summary(sum, sizeof(sum), exp->data, exp->len, r.out, r.out_len);
	fprintf(tc.dumpf, "%soutput\n", what);
	pkt_hexdiff(tc.dumpf, "", "expected", exp->data, exp->len, "actual", r.out, r.out_len);
	return tc_fail("%soutput differs (%s)", what, sum);
}

static void decap_set_port(uint16_t port)
{
	struct xlb_decap_config c = { .gue_port = htons(port) };
	__u32 key = 0;

	if (bpf_map_update_elem(bpf_map__fd(D->maps.xlb_decap_cfg), &key, &c, BPF_ANY))
		tc_fail("setting the decap GUE port: %s", strerror(errno));
}

/* The client's packet as the backend's stack must get it: the tunnel
 * frame's MACs, the inner family's ethertype. */
static void decap_inner_spec(struct pkt_spec *s, int family, const char *vip)
{
	uint8_t src[16], dst[16];

	host_addr(src, H_CLIENT, family);
	parse_addr(dst, family, vip);
	pkt_spec_l4(s, family, TCP, src, next_sport(), dst, 80);
	set_macs(s, hosts[H_BE].mac, hosts[H_ROUTER].mac);
	s->tcp_flags = PKT_TCP_SYN;
	s->tos = TOS_IN;
	s->payload = data13;
	s->payload_len = 13;
}

static void decap_outer(struct pkt_outer *o, int family, uint8_t proto, uint16_t dport)
{
	memset(o, 0, sizeof(*o));
	memcpy(o->eth_dst, hosts[H_BE].mac, 6);
	memcpy(o->eth_src, hosts[H_ROUTER].mac, 6);
	o->family = family;
	parse_addr(o->src, family, family == 4 ? DGW4 : DGW6);
	parse_addr(o->dst, family, family == 4 ? DBE4 : DBE6);
	o->tos = TOS_IN;
	o->ttl = 62;
	o->frag_off = PKT_IP_DF;
	o->flow_label = 0xabcde;
	o->proto = proto;
	o->sport = 40000;
	o->dport = dport;
}

/* inner (built from s) wrapped in o. */
static void decap_frame(struct pkt *f, struct pkt *inner, const struct pkt_spec *s,
			const struct pkt_outer *o)
{
	const uint8_t *l3;
	size_t len;

	build(inner, s);
	l3 = pkt_l3(inner, &len);
	if (pkt_encap(f, o, l3, len)) {
		fprintf(stderr, "tunnel frame does not fit\n");
		exit(2);
	}
}

static uint8_t ipip_proto(int inner)
{
	return inner == 4 ? PKT_NH_IPIP : PKT_NH_IPV6;
}

struct decap_case {
	int outer, inner;
	bool gue;
	bool outer_opts; /* IPv4 outer header with options */
	bool udp_csum; /* GUE with a UDP checksum */
};

static const struct decap_case decap_cases[] = {
	{ 4, 4, false }, { 6, 6, false }, { 6, 4, false }, { 4, 6, false },
	{ 4, 4, true }, { 6, 6, true }, { 6, 4, true }, { 4, 6, true },
	{ 4, 4, false, .outer_opts = true }, { 4, 6, true, .udp_csum = true },
	{ 6, 4, true, .udp_csum = true },
};

/* A served VIP's tunnel packet: the inner packet behind the original
 * Ethernet header. */
static void t_decap(int idx)
{
	static const uint8_t opts[8] = { 0x94, 0x04, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00 };
	const struct decap_case *c = &decap_cases[idx];
	struct pkt_spec s;
	struct pkt_outer o;
	struct pkt in, inner;

	decap_inner_spec(&s, c->inner, c->inner == 4 ? DVIP4 : DVIP6);
	decap_outer(&o, c->outer, c->gue ? PKT_NH_UDP : ipip_proto(c->inner),
		    c->gue ? XLB_GUE_PORT_DEFAULT : 0);
	o.udp_csum = c->udp_csum;
	if (c->outer_opts) {
		memcpy(o.ip_opts, opts, sizeof(opts));
		o.ip_opts_len = sizeof(opts);
	}
	decap_frame(&in, &inner, &s, &o);
	decap_expect("", &in, c->gue ? XLB_DECAP_GUE : XLB_DECAP_IPIP, &inner);
}

/* A tunnel packet for a VIP this backend does not serve: untouched. */
static void t_decap_not_ours(int gue)
{
	struct pkt_spec s;
	struct pkt_outer o;
	struct pkt in, inner;
	int fam;

	for (fam = 4; fam <= 6; fam += 2) {
		decap_inner_spec(&s, fam, fam == 4 ? DOTHER4 : DOTHER6);
		decap_outer(&o, fam, gue ? PKT_NH_UDP : ipip_proto(fam), gue ? XLB_GUE_PORT_DEFAULT : 0);
		decap_frame(&in, &inner, &s, &o);
		if (!decap_expect(fam == 4 ? "IPv4: " : "IPv6: ", &in, XLB_DECAP_PASS_NOT_OURS, &in))
			return;
	}
}

/* Ordinary traffic, even to a served VIP (dsr-style), is not touched. */
static void t_decap_plain(int family)
{
	struct pkt_spec s;
	struct pkt p;

	decap_inner_spec(&s, family, family == 4 ? DVIP4 : DVIP6);
	build(&p, &s);
	decap_expect("", &p, XLB_DECAP_PASS_OTHER, &p);
}

/* UDP to another port than the configured GUE port is plain UDP. */
static void t_decap_gue_other_port(int family)
{
	struct pkt_spec s;
	struct pkt_outer o;
	struct pkt in, inner;

	decap_inner_spec(&s, family, family == 4 ? DVIP4 : DVIP6);
	decap_outer(&o, family, PKT_NH_UDP, XLB_GUE_PORT_DEFAULT + 1);
	decap_frame(&in, &inner, &s, &o);
	decap_expect("", &in, XLB_DECAP_PASS_OTHER, &in);
}

/* gue-port 0 turns GUE off; another port moves it. */
static void t_decap_gue_port_config(int unused)
{
	struct pkt_spec s;
	struct pkt_outer o;
	struct pkt in, inner, in2, inner2;

	(void)unused;
	decap_inner_spec(&s, 4, DVIP4);
	decap_outer(&o, 4, PKT_NH_UDP, XLB_GUE_PORT_DEFAULT);
	decap_frame(&in, &inner, &s, &o);
	decap_outer(&o, 4, PKT_NH_UDP, GUE_PORT2);
	decap_frame(&in2, &inner2, &s, &o);
	decap_set_port(0);
	if (decap_expect("gue-port 0: ", &in, XLB_DECAP_PASS_OTHER, &in)) {
		decap_set_port(GUE_PORT2);
		if (decap_expect("gue-port 7777, to 7777: ", &in2, XLB_DECAP_GUE, &inner2))
			decap_expect("gue-port 7777, to 6080: ", &in, XLB_DECAP_PASS_OTHER, &in);
	}
	decap_set_port(XLB_GUE_PORT_DEFAULT);
}

static void t_decap_not_ip(int vlan)
{
	static const uint8_t arp[28] = { 0, 1, 8, 0, 6, 4, 0, 1 };
	struct pkt_spec s;
	struct pkt_outer o;
	struct pkt p, inner;

	if (vlan) {
		/* A tagged tunnel frame: the program reads no tags. */
		decap_inner_spec(&s, 4, DVIP4);
		decap_outer(&o, 4, PKT_NH_IPIP, 0);
		o.vlan = true;
		o.vlan_tci = 0x0005;
		decap_frame(&p, &inner, &s, &o);
	} else {
		memset(&s, 0, sizeof(s));
		set_macs(&s, hosts[H_BE].mac, hosts[H_ROUTER].mac);
		s.ethertype = PKT_ETH_P_ARP;
		s.payload = arp;
		s.payload_len = sizeof(arp);
		build(&p, &s);
	}
	decap_expect("", &p, XLB_DECAP_PASS_OTHER, &p);
}

/* Outer IPv4 fragments are reassembled by the kernel, not decapsulated here. */
static void t_decap_outer_fragment(int unused)
{
	struct pkt_spec s;
	struct pkt_outer o;
	struct pkt in, inner;

	(void)unused;
	decap_inner_spec(&s, 4, DVIP4);
	decap_outer(&o, 4, PKT_NH_IPIP, 0);
	o.frag_off = PKT_IP_MF;
	decap_frame(&in, &inner, &s, &o);
	decap_expect("", &in, XLB_DECAP_PASS_OTHER, &in);
}

enum {
	TR_OUTER4, TR_OUTER6, TR_IHL, TR_UDP, TR_GUE_EMPTY, TR_INNER4, TR_INNER6, TR_GUE_VERSION,
};

/* Headers we cannot read: untouched, for the kernel to judge. */
static void t_decap_malformed(int kind)
{
	bool gue = kind == TR_UDP || kind == TR_GUE_EMPTY || kind == TR_GUE_VERSION;
	int outer = kind == TR_OUTER6 || kind == TR_INNER6 ? 6 : 4;
	int inner = kind == TR_INNER6 ? 6 : 4;
	struct pkt_spec s;
	struct pkt_outer o;
	struct pkt in, inner_pkt;
	size_t l3 = 14, ohl = outer == 4 ? 20 : 40;

	decap_inner_spec(&s, inner, inner == 4 ? DVIP4 : DVIP6);
	decap_outer(&o, outer, gue ? PKT_NH_UDP : ipip_proto(inner), gue ? XLB_GUE_PORT_DEFAULT : 0);
	decap_frame(&in, &inner_pkt, &s, &o);
	switch (kind) {
	case TR_OUTER4:
	case TR_OUTER6:
		in.len = l3 + ohl - 1;
		break;
	case TR_IHL:
		in.data[l3] = 0x44;
		break;
	case TR_UDP:
		in.len = l3 + ohl + 4;
		break;
	case TR_GUE_EMPTY:
		in.len = l3 + ohl + 8;
		break;
	case TR_INNER4:
		in.len = l3 + ohl + 10;
		break;
	case TR_INNER6:
		in.len = l3 + ohl + 30;
		break;
	case TR_GUE_VERSION:
		in.data[l3 + ohl + 8] = 0x55;
		break;
	}
	decap_expect("", &in, XLB_DECAP_PASS_MALFORMED, &in);
}

/* xlb's own tunnel frame, decapsulated by the backend's program, is the
 * client's packet again (behind the tunnel frame's MACs, untagged). */
static void t_roundtrip(int vi)
{
	const struct tvip *v = &vips[vi];
	struct pkt_spec s, back;
	struct pkt in, tunnelled, exp;
	struct run r;

	client_spec(&s, v, next_sport(), PKT_TCP_SYN);
	build(&in, &s);
	xlb_run(&r, &in, DEV_C);
	if (!check_action("xlb: ", &r, fwd_action(v)))
		return;
	memcpy(tunnelled.data, r.out, r.out_len);
	tunnelled.len = r.out_len;
	back = s;
	set_macs(&back, hosts[v->nh].mac, test_link_mac[hosts[v->nh].dev]);
	build(&exp, &back);
	decap_expect("decap: ", &tunnelled, gue_port_of(v) ? XLB_DECAP_GUE : XLB_DECAP_IPIP, &exp);
}

/* ---- setup ----------------------------------------------------------------------- */

static int setup_dev(int d)
{
	const struct test_veth v = { .dev = dev_name[d], .peer = peer_name[d], .mac = test_link_mac[d],
				     .peer_mac = test_link_peer_mac[d], .v4 = test_link_v4[d], .v6 = test_link_v6[d] };

	dev_ifindex[d] = test_veth_add(&v);
	return dev_ifindex[d] > 0 ? 0 : -1;
}

/* A private network namespace: all of it vanishes with the process. */
static int setup_netns(void)
{
	size_t i;
	int d, h;

	if (test_netns_private())
		return -1;
	for (d = 0; d < NDEV; d++)
		if (setup_dev(d))
			return -1;
	for (h = 0; h < NHOST; h++)
		if (test_neigh_add(hosts[h].v4, hosts[h].v6, hosts[h].mac, dev_name[hosts[h].dev]))
			return -1;
	for (i = 0; i < ARRAY_SIZE(routes); i++)
		if (test_sh("%s", routes[i]))
			return -1;
	return 0;
}

static int setup_vip(struct tvip *v)
{
	struct xlb_vip_spec spec = { .sched = XLB_SCHED_MAGLEV, .mode = v->mode, .ring_size = RING,
				     .encap = v->encap, .gue_port = v->gue_port };
	struct xlb_endpoint ep;
	int err;

	v->family = family_of(v->addr);
	parse_addr(v->a, v->family, v->addr);
	xlb_vip_key_make(&v->key, v->proto, v->family == 4 ? XLB_FAMILY_V4 : XLB_FAMILY_V6,
			 (const struct xlb_addr *)v->a, v->port);
	spec.key = v->key;
	err = xlb_vip_add(X, &spec);
	if (err)
		return tc_fail("xlb_vip_add %s: %s", v->addr, xlb_errmsg()), err;
	if (!v->be)
		return 0;
	v->be_family = family_of(v->be);
	parse_addr(v->b, v->be_family, v->be);
	memset(&ep, 0, sizeof(ep));
	memcpy(ep.addr.bytes, v->b, 16);
	ep.port = htons(v->be_port);
	ep.family = v->be_family == 4 ? XLB_FAMILY_V4 : XLB_FAMILY_V6;
	err = xlb_backend_add(X, &v->key, &ep, 1);
	if (err)
		return tc_fail("xlb_backend_add %s -> %s: %s", v->addr, v->be, xlb_errmsg()), err;
	return 0;
}

static int decap_setup(void)
{
	struct xlb_addr k;
	struct bpf_map *m;
	__u8 one = 1, fam;
	size_t i;
	int err;

	D = decap_bpf__open();
	if (!D)
		return tc_fail("opening the decap skeleton: %s", strerror(errno)), -1;
	/* No pins: this instance lives and dies with the test. */
	bpf_object__for_each_map(m, D->obj)
		bpf_map__set_pin_path(m, NULL);
	err = decap_bpf__load(D);
	if (err)
		return tc_fail("loading build/bpf/decap.bpf.o: %s", strerror(-err)), err;
	for (i = 0; i < ARRAY_SIZE(decap_served); i++) {
		if (xlb_addr_parse(decap_served[i], &k, &fam))
			return tc_fail("%s", xlb_errmsg()), -1;
		if (bpf_map_update_elem(bpf_map__fd(D->maps.xlb_decap_vips), &k, &one, BPF_ANY))
			return tc_fail("filling xlb_decap_vips: %s", strerror(errno)), -1;
	}
	decap_set_port(XLB_GUE_PORT_DEFAULT);
	return 0;
}

static void print_verified_insns(const char *name, int fd)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		printf("# %s: verified_insns unknown (%s)\n", name, strerror(errno));
	else
		printf("# %s: verified_insns=%u\n", name, info.verified_insns);
}

/* ---- the cases --------------------------------------------------------------------- */

struct tcase {
	const char *name;
	void (*fn)(int arg);
	int arg;
};

static const struct tcase cases[] = {
	/* encapsulation: every inner/outer combination, IP-in-IP and GUE */
	{ "v4_in_v4_ipip", t_tunnel, T4 },
	{ "v6_in_v6_ipip", t_tunnel, T6 },
	{ "v4_in_v6_ipip", t_tunnel, T46 },
	{ "v6_in_v4_ipip_proto41", t_tunnel, T64 },
	{ "v4_in_v4_gue_default_port", t_tunnel, G4 },
	{ "v6_in_v6_gue_port_7777", t_tunnel, G6 },
	{ "v4_in_v6_gue", t_tunnel, G46 },
	{ "v6_in_v4_gue", t_tunnel, G64 },
	{ "v4_udp_in_v4_ipip", t_tunnel, TU4 },
	{ "v6_udp_in_v6_gue", t_tunnel, TU6 },
	{ "v4_ipip_egress_is_ingress_xdp_tx", t_tunnel, TX4 },
	{ "v6_gue_egress_is_ingress_xdp_tx", t_tunnel, TX6 },
	{ "v4_ipip_vlan_tag_not_carried", t_tunnel_vlan, T4 },
	{ "v6_gue_vlan_tag_not_carried", t_tunnel_vlan, G6 },
	{ "v4_ipip_inner_ip_options_kept", t_tunnel_ip_options, T4 },
	{ "v4_gue_source_port_spreads_flows", t_spread, G4 },
	{ "v6_gue_source_port_spreads_flows", t_spread, G6 },
	{ "v6_outer_flow_label_spreads_flows", t_spread, T6 },
	/* too big for the path once encapsulated */
	{ "v4_ipip_too_big_frag_needed_mtu_1380", t_too_big, M4 },
	{ "v4_ipip_fits_path_mtu_exactly", t_fits, M4 },
	{ "v4_gue_too_big_frag_needed_mtu_1372", t_too_big, MG4 },
	{ "v4_gue_fits_path_mtu_exactly", t_fits, MG4 },
	{ "v6_ipip_too_big_ptb_mtu_1360", t_too_big, M6 },
	{ "v6_ipip_fits_path_mtu_exactly", t_fits, M6 },
	{ "v6_gue_too_big_ptb_mtu_1352", t_too_big, MG6 },
	{ "v4_in_v6_too_big_frag_needed_mtu_1360", t_too_big, M46 },
	{ "v4_in_v6_fits_path_mtu_exactly", t_fits, M46 },
	{ "v6_in_v4_too_big_ptb_mtu_1380", t_too_big, M64 },
	{ "v6_too_big_ptb_mtu_at_least_1280", t_too_big, MCLAMP },
	{ "v6_clamped_path_fits_exactly", t_fits, MCLAMP },
	{ "v4_too_big_on_established_flow", t_too_big_established, M4 },
	{ "v6_too_big_on_established_flow", t_too_big_established, MG6 },
	{ "v4_too_big_vlan_tag_kept", t_too_big_vlan, M4 },
	{ "v6_too_big_vlan_tag_kept", t_too_big_vlan, M6 },
	{ "v4_too_big_quote_has_ip_options", t_too_big_ip_options, M4 },
	/* ICMP errors quoting a VIP flow go to the flow's backend */
	{ "icmp4_frag_needed_to_tunnel_backend", t_icmp_error, 0 },
	{ "icmp4_time_exceeded_to_gue_backend", t_icmp_error, 1 },
	{ "icmp4_host_unreach_to_v6_tunnel_backend", t_icmp_error, 2 },
	{ "icmp4_port_unreach_udp_to_tunnel_backend", t_icmp_error, 3 },
	{ "icmp6_packet_too_big_to_tunnel_backend", t_icmp_error, 4 },
	{ "icmp6_time_exceeded_to_gue_backend", t_icmp_error, 5 },
	{ "icmp6_port_unreach_to_v4_tunnel_backend", t_icmp_error, 6 },
	{ "icmp4_frag_needed_to_tunnel_backend_xdp_tx", t_icmp_error, 7 },
	{ "icmp4_frag_needed_to_dsr_backend", t_icmp_error, 8 },
	{ "icmp6_packet_too_big_to_dsr_backend", t_icmp_error, 9 },
	{ "icmp4_time_exceeded_to_dsr_backend", t_icmp_error, 10 },
	{ "icmp4_frag_needed_to_nat_backend", t_icmp_error, 11 },
	{ "icmp6_packet_too_big_to_nat_backend", t_icmp_error, 12 },
	{ "icmp4_param_problem_to_nat_backend", t_icmp_error, 13 },
	{ "icmp6_param_problem_to_nat_backend", t_icmp_error, 14 },
	{ "icmp4_error_to_non_vip_pass", t_icmp_error_other_addr, T4 },
	{ "icmp6_error_to_non_vip_pass", t_icmp_error_other_addr, T6 },
	{ "icmp4_error_quote_without_ports_drop", t_icmp_error_short_quote, T4 },
	{ "icmp6_error_quote_without_ports_drop", t_icmp_error_short_quote, T6 },
	/* echo */
	{ "icmp4_echo_to_vip_answered", t_echo, T4 },
	{ "icmp6_echo_to_vip_answered", t_echo, T6 },
	{ "icmp4_echo_to_vip_without_backend_answered", t_echo, EMPTY4 },
	{ "icmp6_echo_to_vip_without_backend_answered", t_echo, EMPTY6 },
	{ "icmp4_echo_to_vip_vlan_answered", t_echo_vlan, NAT4 },
	{ "icmp6_echo_to_vip_vlan_answered", t_echo_vlan, DSR6 },
	/* the backend's decap program */
	{ "decap_ipip_v4_in_v4", t_decap, 0 },
	{ "decap_ipip_v6_in_v6", t_decap, 1 },
	{ "decap_ipip_v4_in_v6", t_decap, 2 },
	{ "decap_ipip_v6_in_v4", t_decap, 3 },
	{ "decap_gue_v4_in_v4", t_decap, 4 },
	{ "decap_gue_v6_in_v6", t_decap, 5 },
	{ "decap_gue_v4_in_v6", t_decap, 6 },
	{ "decap_gue_v6_in_v4", t_decap, 7 },
	{ "decap_ipip_outer_ip_options", t_decap, 8 },
	{ "decap_gue_with_udp_checksum_v4", t_decap, 9 },
	{ "decap_gue_with_udp_checksum_v6", t_decap, 10 },
	{ "decap_ipip_vip_not_served_pass", t_decap_not_ours, 0 },
	{ "decap_gue_vip_not_served_pass", t_decap_not_ours, 1 },
	{ "decap_plain_v4_tcp_pass", t_decap_plain, 4 },
	{ "decap_plain_v6_tcp_pass", t_decap_plain, 6 },
	{ "decap_udp_to_other_port_v4_pass", t_decap_gue_other_port, 4 },
	{ "decap_udp_to_other_port_v6_pass", t_decap_gue_other_port, 6 },
	{ "decap_gue_port_off_and_moved", t_decap_gue_port_config, 0 },
	{ "decap_arp_pass", t_decap_not_ip, 0 },
	{ "decap_vlan_tagged_tunnel_pass", t_decap_not_ip, 1 },
	{ "decap_outer_fragment_pass", t_decap_outer_fragment, 0 },
	{ "decap_outer_v4_truncated_pass", t_decap_malformed, TR_OUTER4 },
	{ "decap_outer_v6_truncated_pass", t_decap_malformed, TR_OUTER6 },
	{ "decap_outer_ihl_below_5_pass", t_decap_malformed, TR_IHL },
	{ "decap_gue_udp_truncated_pass", t_decap_malformed, TR_UDP },
	{ "decap_gue_without_payload_pass", t_decap_malformed, TR_GUE_EMPTY },
	{ "decap_inner_v4_truncated_pass", t_decap_malformed, TR_INNER4 },
	{ "decap_inner_v6_truncated_pass", t_decap_malformed, TR_INNER6 },
	{ "decap_gue_bad_ip_version_pass", t_decap_malformed, TR_GUE_VERSION },
	/* xlb's frames through the decap program */
	{ "roundtrip_v4_in_v4_ipip", t_roundtrip, T4 },
	{ "roundtrip_v6_in_v6_ipip", t_roundtrip, T6 },
	{ "roundtrip_v4_in_v6_ipip", t_roundtrip, T46 },
	{ "roundtrip_v6_in_v4_ipip", t_roundtrip, T64 },
	{ "roundtrip_v4_in_v4_gue", t_roundtrip, G4 },
	{ "roundtrip_v6_in_v4_gue", t_roundtrip, G64 },
};

/* The cases whose whole check is one verdict on one frame, as rows (the
 * form of test_packets.c's verdicts[], for the tunnel's own VIPs). */
struct verdict_row {
	const char *name;
	void (*frame)(struct pkt *p, int arg);
	int arg;
	struct verdict verdict;
};

static const struct verdict_row verdicts[] = {
	{ "v4_tunnel_no_neigh_pass", frame_syn_to_vip, NN4, PASS(NO_NEIGH) },
	{ "v6_tunnel_no_neigh_pass", frame_syn_to_vip, NN6, PASS(NO_NEIGH) },
	{ "v4_tunnel_backend_unreachable_fib_other", frame_syn_to_vip, UR4, PASS(FIB_OTHER) },
	{ "v4_tunnel_without_backend_drop", frame_syn_to_vip, EMPTY4, DROP(NO_BACKEND) },
	{ "v4_too_big_without_df_drop", frame_too_big_no_df, M4, DROP(TOO_BIG) },
	/* ICMP errors that quote no flow of xlb's, echo not for a VIP */
	{ "icmp4_error_without_flow_pass", frame_icmp_error_no_flow, T4, PASS(ICMP) },
	{ "icmp6_error_without_flow_pass", frame_icmp_error_no_flow, T6, PASS(ICMP) },
	{ "icmp4_echo_to_non_vip_pass", frame_echo_non_vip, 4, PASS(ICMP) },
	{ "icmp6_echo_to_non_vip_pass", frame_echo_non_vip, 6, PASS(ICMP) },
	{ "icmp4_echo_reply_to_vip_pass", frame_icmp_other_type, T4, PASS(ICMP) },
	{ "icmp6_echo_reply_to_vip_pass", frame_icmp_other_type, T6, PASS(ICMP) },
	/* fragments */
	{ "v4_fragment_mf_to_vip_drop", frame_fragment, F_MF, DROP(FRAGMENT) },
	{ "v4_fragment_offset_to_vip_drop", frame_fragment, F_OFFSET, DROP(FRAGMENT) },
	{ "v4_icmp_fragment_to_vip_drop", frame_fragment, F_ICMP, DROP(FRAGMENT) },
	{ "v4_fragment_mf_non_vip_pass", frame_fragment, F_MF | F_NONVIP, PASS(FRAGMENT) },
	{ "v4_fragment_offset_non_vip_pass", frame_fragment, F_OFFSET | F_NONVIP, PASS(FRAGMENT) },
	{ "v6_fragment_first_to_vip_drop", frame_fragment, F_V6 | F_MF, DROP(FRAGMENT) },
	{ "v6_fragment_offset_to_vip_drop", frame_fragment, F_V6 | F_OFFSET, DROP(FRAGMENT) },
	{ "v6_fragment_non_vip_pass", frame_fragment, F_V6 | F_MF | F_NONVIP, PASS(FRAGMENT) },
};

static void t_verdict(int row)
{
	const struct verdict_row *v = &verdicts[row];
	struct pkt p;

	v->frame(&p, v->arg);
	expect_verdict("", &p, DEV_C, v->verdict.action, v->verdict.reason);
}

static void run_case(const struct tcase *c)
{
	tc_begin(c->name);
	c->fn(c->arg);
	tc_end();
}

static bool setup_all(void)
{
	int i;

	tc_begin("setup");
	for (i = 0; i < NVIP; i++)
		if (setup_vip(&vips[i]))
			break;
	if (i == NVIP)
		decap_setup();
	tc_end();
	return !tc.failed;
}

int main(void)
{
	struct xlb_open_opts o = { .no_pin = true, .flow_entries = 16384,
				   /* every case gets its answer: test_ratelimit.c
				    * checks the limit */
				   .icmp_rate = XLB_ICMP_UNLIMITED };
	size_t i;
	int err;

	tc.layer = "tunnel";
	setvbuf(stdout, NULL, _IOLBF, 0);
	libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
	memset(bulk, 0xa5, sizeof(bulk));
	for (i = 0; i < sizeof(bulk); i++)
		bulk[i] = (uint8_t)(i * 7 + 3);
	if (geteuid()) {
		printf("FAIL tunnel/setup: needs root (netns, BPF)\n");
		return 1;
	}
	if (setup_netns()) {
		printf("FAIL tunnel/setup: network namespace (see stderr)\n");
		return 1;
	}
	err = xlb_open(&X, &o);
	if (err) {
		printf("FAIL tunnel/setup: xlb_open: %s (%s)\n", strerror(-err), xlb_errmsg());
		return 1;
	}
	print_verified_insns("xlb_lb", xlb_prog_fd(X));
	if (setup_all()) {
		print_verified_insns("xlb_decap", bpf_program__fd(D->progs.xlb_decap));
		for (i = 0; i < ARRAY_SIZE(cases); i++)
			run_case(&cases[i]);
		for (i = 0; i < ARRAY_SIZE(verdicts); i++)
			run_case(&(struct tcase){ verdicts[i].name, t_verdict, (int)i });
	}
	decap_bpf__destroy(D);
	xlb_close(X);
	return test_exit_status();
}
