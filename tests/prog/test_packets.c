// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Packet tests: every rule of docs/datapath.md, run through
 * BPF_PROG_TEST_RUN on the real program with maps programmed through
 * libxlb. Each case checks the XDP action, the exact output bytes (expected
 * frames built from scratch by tests/lib/pkt.c, checksums recomputed
 * independently) and the reason counter that moved.
 *
 * The binary isolates itself in a private network namespace (gone when it
 * exits) with two veth pairs, static neighbours and forwarding on, so that
 * bpf_fib_lookup() inside the program sees a known, fixed topology:
 *
 *   client 198.18.0.2 fd00::2           backends 198.18.2.11-13 fd00:2::11-13
 *   backend 198.18.0.21 fd00::21 --- xc0 [xlb] xb0 --- 198.18.2.14 fd00:2::14
 *   (same side as clients: XDP_TX)                     (no neighbour entry)
 *
 * plus backends the FIB cannot forward to: no route (198.19.255.7,
 * fd00:99::7), a blackhole route (198.19.254.7, fd00:98::7) and xc0/xb0's
 * own address. All MACs are fixed, so every expected frame is exact.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "libxlb.h"
#include "pkt.h"
#include "pktcase.h"
#include "sysutil.h"
#include "testlib.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- topology ------------------------------------------------------------ */

enum { DEV_XC0, DEV_XB0, NDEV };

static const char *const dev_name[NDEV] = { "xc0", "xb0" };
static const char *const peer_name[NDEV] = { "xc0p", "xb0p" };
/* Below the 1500 of the client side: tunnel mode's "too big" rule. */
#define XB0_MTU 1400
static int dev_ifindex[NDEV];

enum {
	H_CLIENT, H_BE11, H_BE12, H_BE13, H_BE21, H_BE14,
	H_UNREACH, H_BLACKHOLE, H_LOCAL, NHOST
};

struct host {
	const char *name;
	uint8_t mac[6];
	const char *v4, *v6;
	int dev;
	bool neigh; /* has a permanent neighbour entry */
};

static const struct host hosts[NHOST] = {
	[H_CLIENT] = { "client", { 0x02, 0xc1, 0, 0, 0, 0x02 }, "198.18.0.2",
		       "fd00::2", DEV_XC0, true },
	[H_BE11] = { "be11", { 0x02, 0xbe, 0, 0, 0, 0x11 }, "198.18.2.11",
		     "fd00:2::11", DEV_XB0, true },
	[H_BE12] = { "be12", { 0x02, 0xbe, 0, 0, 0, 0x12 }, "198.18.2.12",
		     "fd00:2::12", DEV_XB0, true },
	[H_BE13] = { "be13", { 0x02, 0xbe, 0, 0, 0, 0x13 }, "198.18.2.13",
		     "fd00:2::13", DEV_XB0, true },
	[H_BE21] = { "be21", { 0x02, 0xbe, 0, 0, 0, 0x21 }, "198.18.0.21",
		     "fd00::21", DEV_XC0, true },
	[H_BE14] = { "be14", { 0x02, 0xbe, 0, 0, 0, 0x14 }, "198.18.2.14",
		     "fd00:2::14", DEV_XB0, false },
	/* Backends the FIB cannot forward to: pass_fib_other. */
	[H_UNREACH] = { "unreachable", { 0 }, "198.19.255.7", "fd00:99::7",
			DEV_XB0, false },
	[H_BLACKHOLE] = { "blackholed", { 0 }, "198.19.254.7", "fd00:98::7",
			  DEV_XB0, false },
	[H_LOCAL] = { "local", { 0 }, "198.18.2.1", "fd00:2::1", DEV_XB0,
		      false },
};

/* Routes that make H_BLACKHOLE a blackhole (H_UNREACH has no route). */
static const char *const blackhole_v4 = "198.19.254.0/24";
static const char *const blackhole_v6 = "fd00:98::/64";

static void parse_addr(uint8_t out[16], int family, const char *s)
{
	memset(out, 0, 16);
	if (inet_pton(family == 4 ? AF_INET : AF_INET6, s, out) != 1) {
		fprintf(stderr, "bad address %s\n", s);
		exit(2);
	}
}

static void host_addr(uint8_t out[16], int host, int family)
{
	parse_addr(out, family, family == 4 ? hosts[host].v4 : hosts[host].v6);
}

static int alen(int family)
{
	return family == 4 ? 4 : 16;
}

/* ---- VIPs ---------------------------------------------------------------- */

#define MAX_BE 4

struct tbe {
	int host;
	uint16_t port;
	uint32_t weight;
};

struct tvip {
	const char *addr;
	uint16_t port;
	uint8_t proto;
	enum xlb_sched sched;
	enum xlb_mode mode;
	uint32_t ring;
	int n_be;
	struct tbe be[MAX_BE];
	enum xlb_encap encap; /* tunnel mode */
	uint16_t gue_port;
	int be_family; /* 0: the VIP's (tunnel mode may differ) */
	/* filled in at setup */
	int family;
	uint8_t a[16];
	struct xlb_vip_key key;
};

enum {
	V4_NAT, V6_NAT, V4_UDP, V6_UDP, V4_DSR, V6_DSR, V4_TX, V6_TX,
	V4_DSR_TX, V4_NONEIGH, V6_NONEIGH, V4_DSR_NONEIGH, V6_DSR_NONEIGH,
	V4_EMPTY, V6_EMPTY, V4_RR, V6_RR, V4_WRR, V6_WRR, V4_SRC, V6_SRC,
	V4_STICKY, V4_DRAIN, V4_W0, V4_DEL, V4_DOWN, V4_ALLDRAIN, V4_SET,
	V4_UNREACH, V6_UNREACH, V4_BLACKHOLE, V6_BLACKHOLE, V4_LOCAL,
	V4_DSR_UNREACH, V4_READD, V4_TUN, V6_TUN, V4_GUE, V6_GUE, V4_TUN6,
	V4_TUN_NONEIGH, V4_DSR_MARKS, NVIP
};

#define TCP IPPROTO_TCP
#define UDP IPPROTO_UDP
#define MAGLEV XLB_SCHED_MAGLEV
#define NAT XLB_MODE_NAT
#define DSR XLB_MODE_DSR
#define BE3(p)                                                         \
	.n_be = 3, .be = {                                             \
		{ H_BE11, p, 1 },                                      \
		{ H_BE12, p, 1 },                                      \
		{ H_BE13, p, 1 },                                      \
	}
#define BE1(h, p) .n_be = 1, .be = { { h, p, 1 } }

static struct tvip vips[NVIP] = {
	[V4_NAT] = { "198.19.0.10", 80, TCP, MAGLEV, NAT, 0, BE3(8080) },
	[V6_NAT] = { "fd00:ff::10", 80, TCP, MAGLEV, NAT, 0, BE3(8080) },
	[V4_UDP] = { "198.19.0.10", 53, UDP, MAGLEV, NAT, 0, BE3(5353) },
	[V6_UDP] = { "fd00:ff::10", 53, UDP, MAGLEV, NAT, 0, BE3(5353) },
	[V4_DSR] = { "198.19.0.11", 80, TCP, MAGLEV, DSR, 0, BE3(80) },
	[V6_DSR] = { "fd00:ff::11", 80, TCP, MAGLEV, DSR, 0, BE3(80) },
	[V4_TX] = { "198.19.0.12", 80, TCP, MAGLEV, NAT, 0, BE1(H_BE21, 8080) },
	[V6_TX] = { "fd00:ff::12", 80, TCP, MAGLEV, NAT, 0, BE1(H_BE21, 8080) },
	[V4_DSR_TX] = { "198.19.0.12", 443, TCP, MAGLEV, DSR, 0,
			BE1(H_BE21, 443) },
	[V4_NONEIGH] = { "198.19.0.13", 80, TCP, MAGLEV, NAT, 0,
			 BE1(H_BE14, 8080) },
	[V6_NONEIGH] = { "fd00:ff::13", 80, TCP, MAGLEV, NAT, 0,
			 BE1(H_BE14, 8080) },
	[V4_DSR_NONEIGH] = { "198.19.0.13", 443, TCP, MAGLEV, DSR, 0,
			     BE1(H_BE14, 443) },
	[V6_DSR_NONEIGH] = { "fd00:ff::13", 443, TCP, MAGLEV, DSR, 0,
			     BE1(H_BE14, 443) },
	[V4_EMPTY] = { "198.19.0.15", 80, TCP, MAGLEV, NAT, 0, .n_be = 0 },
	[V6_EMPTY] = { "fd00:ff::15", 80, TCP, MAGLEV, NAT, 0, .n_be = 0 },
	[V4_RR] = { "198.19.0.20", 80, TCP, XLB_SCHED_RR, NAT, 0, BE3(8080) },
	[V6_RR] = { "fd00:ff::20", 80, TCP, XLB_SCHED_RR, NAT, 0, BE3(8080) },
	[V4_WRR] = { "198.19.0.21", 80, TCP, XLB_SCHED_WRR, NAT, 0, .n_be = 3,
		     .be = { { H_BE11, 8080, 1 }, { H_BE12, 8080, 2 },
			     { H_BE13, 8080, 3 } } },
	[V6_WRR] = { "fd00:ff::21", 80, TCP, XLB_SCHED_WRR, NAT, 0, .n_be = 3,
		     .be = { { H_BE11, 8080, 1 }, { H_BE12, 8080, 2 },
			     { H_BE13, 8080, 3 } } },
	[V4_SRC] = { "198.19.0.22", 80, TCP, XLB_SCHED_SRCHASH, NAT, 0,
		     BE3(8080) },
	[V6_SRC] = { "fd00:ff::22", 80, TCP, XLB_SCHED_SRCHASH, NAT, 0,
		     BE3(8080) },
	/* A small ring: a backend change moves a visible share of slots. */
	[V4_STICKY] = { "198.19.0.23", 80, TCP, MAGLEV, NAT, 1009, .n_be = 2,
			.be = { { H_BE11, 8080, 1 }, { H_BE12, 8080, 1 } } },
	[V4_DRAIN] = { "198.19.0.24", 80, TCP, MAGLEV, NAT, 0, BE3(8080) },
	[V4_W0] = { "198.19.0.25", 80, TCP, MAGLEV, NAT, 0, .n_be = 3,
		    .be = { { H_BE11, 8080, 1 }, { H_BE12, 8080, 1 },
			    { H_BE13, 8080, 0 } } },
	[V4_DEL] = { "198.19.0.26", 80, TCP, MAGLEV, NAT, 0, BE3(8080) },
	[V4_DOWN] = { "198.19.0.27", 80, TCP, MAGLEV, NAT, 0, BE3(8080) },
	[V4_ALLDRAIN] = { "198.19.0.28", 80, TCP, MAGLEV, NAT, 0,
			  BE1(H_BE11, 8080) },
	[V4_SET] = { "198.19.0.29", 80, TCP, MAGLEV, NAT, 0, BE3(8080) },
	[V4_UNREACH] = { "198.19.0.16", 80, TCP, MAGLEV, NAT, 0,
			 BE1(H_UNREACH, 8080) },
	[V6_UNREACH] = { "fd00:ff::16", 80, TCP, MAGLEV, NAT, 0,
			 BE1(H_UNREACH, 8080) },
	[V4_BLACKHOLE] = { "198.19.0.17", 80, TCP, MAGLEV, NAT, 0,
			   BE1(H_BLACKHOLE, 8080) },
	[V6_BLACKHOLE] = { "fd00:ff::17", 80, TCP, MAGLEV, NAT, 0,
			   BE1(H_BLACKHOLE, 8080) },
	[V4_LOCAL] = { "198.19.0.18", 80, TCP, MAGLEV, NAT, 0,
		       BE1(H_LOCAL, 8080) },
	[V4_DSR_UNREACH] = { "198.19.0.16", 443, TCP, MAGLEV, DSR, 0,
			     BE1(H_UNREACH, 443) },
	[V4_READD] = { "198.19.0.19", 80, TCP, MAGLEV, NAT, 0,
		       BE1(H_BE11, 8080) },
	[V4_TUN] = { "198.19.0.40", 80, TCP, MAGLEV, XLB_MODE_TUNNEL, 0,
		     BE3(80), .encap = XLB_ENCAP_IPIP },
	[V6_TUN] = { "fd00:ff::40", 80, TCP, MAGLEV, XLB_MODE_TUNNEL, 0,
		     BE3(80), .encap = XLB_ENCAP_IPIP },
	[V4_GUE] = { "198.19.0.41", 80, TCP, MAGLEV, XLB_MODE_TUNNEL, 0,
		     BE3(80), .encap = XLB_ENCAP_GUE, .gue_port = 6080 },
	[V6_GUE] = { "fd00:ff::41", 80, TCP, MAGLEV, XLB_MODE_TUNNEL, 0,
		     BE3(80), .encap = XLB_ENCAP_GUE, .gue_port = 6080 },
	/* tunnel carries either family in either */
	[V4_TUN6] = { "198.19.0.42", 80, TCP, MAGLEV, XLB_MODE_TUNNEL, 0,
		      BE3(80), .encap = XLB_ENCAP_IPIP, .be_family = 6 },
	[V4_TUN_NONEIGH] = { "198.19.0.43", 80, TCP, MAGLEV, XLB_MODE_TUNNEL,
			     0, BE1(H_BE14, 80), .encap = XLB_ENCAP_IPIP },
	[V4_DSR_MARKS] = { "198.19.0.31", 80, TCP, MAGLEV, DSR, 1009, .n_be = 2,
			   .be = { { H_BE11, 80, 1 }, { H_BE12, 80, 1 } } },
};

/* The UDP idle expiry case runs on a second instance with a short
 * timeout, so the main instance keeps the default. */
static struct tvip idle_vip = { "198.19.0.30", 53, UDP, MAGLEV, NAT, 0,
				BE3(5353) };
#define IDLE_NS (300ull * 1000000ull)

/* Non-VIP addresses used by the pass cases. */
#define V4_OTHER "198.18.2.11"
#define V6_OTHER "fd00:2::11"

static struct xlb *X; /* the datapath under test */
static struct xlb *X_IDLE; /* second instance, short UDP idle timeout */
static struct xlb *cur; /* the instance packets and map reads go to */

/* ---- reporting ----------------------------------------------------------- */

static const char *const reason_names[] = XLB_REASON_NAMES;
_Static_assert(ARRAY_SIZE(reason_names) == XLB_R_MAX, "reason names");

/* ---- running packets ----------------------------------------------------- */

struct run {
	int err; /* 0 or -errno of the test run */
	uint32_t action;
	uint8_t out[PKT_MAX];
	uint32_t out_len;
	uint64_t before[XLB_R_MAX], after[XLB_R_MAX];
};

static void run_on(struct xlb *x, struct run *r, const uint8_t *data,
		   size_t len, int dev)
{
	struct xdp_md ctx = {
		.data_end = (__u32)len,
		.ingress_ifindex = (__u32)dev_ifindex[dev],
	};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = data,
		    .data_size_in = (__u32)len, .data_out = r->out,
		    .data_size_out = sizeof(r->out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx));
	int err;

	memset(r->before, 0, sizeof(r->before));
	memset(r->after, 0, sizeof(r->after));
	err = xlb_reason_counters(x, r->before);
	r->err = bpf_prog_test_run_opts(xlb_prog_fd(x), &o) ? -errno : 0;
	err = err ?: xlb_reason_counters(x, r->after);
	if (!r->err && err)
		r->err = err;
	r->action = o.retval;
	r->out_len = o.data_size_out;
}

static void run_pkt(struct run *r, const struct pkt *p, int dev)
{
	run_on(cur, r, p->data, p->len, dev);
}

static int64_t delta(const struct run *r, int reason)
{
	return (int64_t)(r->after[reason] - r->before[reason]);
}

/* "pass_malformed +1, new_flow +1": every counter that moved. */
static const char *moved(const struct run *r, char *buf, size_t n)
{
	size_t used = 0;
	int i;

	buf[0] = 0;
	for (i = 0; i < XLB_R_MAX && used < n; i++)
		if (delta(r, i))
			used += snprintf(buf + used, n - used, "%s%s %+lld",
					 used ? ", " : "", reason_names[i],
					 (long long)delta(r, i));
	if (!used)
		snprintf(buf, n, "none");
	return buf;
}

/* The run itself worked and returned the expected action. */
static bool check_action(const char *what, const struct run *r, uint32_t want)
{
	char buf[256];

	if (r->err)
		return tc_fail("%stest run failed: %s", what, strerror(-r->err));
	if (r->action != want)
		return tc_fail("%saction %s (%u), expected %s (%u); counters moved: %s",
			       what, action_name(r->action), r->action,
			       action_name(want), want,
			       moved(r, buf, sizeof(buf)));
	return true;
}

/* Exactly one verdict reason moved, by one, and it is `want`. */
static bool check_reason(const char *what, const struct run *r,
			 enum xlb_reason want)
{
	char buf[256];
	int i;

	for (i = 0; i < XLB_R_MAX; i++) {
		int64_t d = delta(r, i), w = i == (int)want;

		if (xlb_reason_is_info(i) && i != (int)want)
			continue;
		if (d != w)
			return tc_fail("%sreason %s expected +1; counters moved: %s",
				       what, reason_names[want],
				       moved(r, buf, sizeof(buf)));
	}
	return true;
}

static bool check_info(const char *what, const struct run *r,
		       enum xlb_reason info, int64_t want)
{
	char buf[256];

	if (delta(r, info) != want)
		return tc_fail("%scounter %s moved %+lld, expected %+lld (moved: %s)",
			       what, reason_names[info],
			       (long long)delta(r, info), (long long)want,
			       moved(r, buf, sizeof(buf)));
	return true;
}

static bool check_bytes(const char *what, const struct run *r,
			const uint8_t *exp, size_t elen)
{
	char sum[640], why[128];

	if (r->out_len == elen && !memcmp(r->out, exp, elen))
		return true;
	pkt_diff_summary(sum, sizeof(sum), exp, elen, r->out, r->out_len);
	if (!pkt_verify_csums(r->out, r->out_len, why, sizeof(why)))
		tc_fail("%soutput differs (%s) [output's own checksums: %s]",
			what, sum, why);
	else
		tc_fail("%soutput differs (%s)", what, sum);
	fprintf(tc.dumpf, "%soutput\n", what);
	pkt_hexdiff(tc.dumpf, "", "expected", exp, elen, "actual", r->out,
		    r->out_len);
	return false;
}

static bool check_pkt(const char *what, const struct run *r,
		      const struct pkt *exp)
{
	return check_bytes(what, r, exp->data, exp->len);
}

/*
 * Run p arriving on dev and check the verdict: action, reason and, for
 * anything but a drop, that the frame left untouched.
 */
static bool expect_verdict(const char *what, const struct pkt *p, int dev,
			   uint32_t action, enum xlb_reason reason)
{
	static struct run r;

	run_pkt(&r, p, dev);
	if (!check_action(what, &r, action) || !check_reason(what, &r, reason)) {
		fprintf(tc.dumpf, "%sunexpected verdict\n", what);
		pkt_hexdiff(tc.dumpf, "", "input", p->data, p->len, "output",
			    r.out, r.out_len);
		return false;
	}
	if (action == XDP_DROP)
		return true;
	return check_pkt(what, &r, p);
}

/* ---- payloads ------------------------------------------------------------ */

/* Odd lengths on purpose: the checksum's trailing-byte padding is tested. */
static const uint8_t data13[] = "hello, xlb!!";
static const uint8_t dns17[] = { 0x12, 0x34, 0x01, 0x00, 0x00, 0x01,
				 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
				 0x01, 'x',  0x00, 0x00, 0x01 };
/* MSS 1460, SACK permitted, timestamps, NOP, window scale 7. */
static const uint8_t syn_opts[20] = { 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08,
				      0x0a, 0x00, 0x01, 0x02, 0x03, 0x00, 0x00,
				      0x00, 0x00, 0x01, 0x03, 0x03, 0x07 };

static void with_payload(struct pkt_spec *s)
{
	if (s->proto == UDP) {
		s->payload = dns17;
		s->payload_len = sizeof(dns17);
	} else {
		s->payload = data13;
		s->payload_len = 13;
	}
}

/* ---- building packets ---------------------------------------------------- */

static uint16_t next_sport(void)
{
	static uint16_t port = 20000;

	return port++;
}

static void set_macs(struct pkt_spec *s, const uint8_t *dst, const uint8_t *src)
{
	memcpy(s->eth_dst, dst, 6);
	memcpy(s->eth_src, src, 6);
}

/* A packet from the client (on xc0) to VIP v's address and port. */
static void client_spec(struct pkt_spec *s, const struct tvip *v,
			uint16_t sport, uint8_t flags)
{
	uint8_t src[16];

	host_addr(src, H_CLIENT, v->family);
	pkt_spec_l4(s, v->family, v->proto, src, sport, v->a, v->port);
	set_macs(s, test_link_mac[DEV_XC0], hosts[H_CLIENT].mac);
	s->tcp_flags = flags;
	if (flags & PKT_TCP_ACK)
		s->ack_seq = 0x0a0b0c0d;
}

/* A TCP or UDP packet from the client to any address. */
static void client_spec_to(struct pkt_spec *s, int family, uint8_t proto,
			   const char *dst, uint16_t dport, uint8_t flags)
{
	uint8_t src[16], d[16];

	host_addr(src, H_CLIENT, family);
	parse_addr(d, family, dst);
	pkt_spec_l4(s, family, proto, src, next_sport(), d, dport);
	set_macs(s, test_link_mac[DEV_XC0], hosts[H_CLIENT].mac);
	s->tcp_flags = flags;
}

/* An echo request from the client to `dst` (ICMP or ICMPv6). */
static void echo_spec(struct pkt_spec *s, int family, const uint8_t *dst)
{
	uint8_t src[16];

	host_addr(src, H_CLIENT, family);
	pkt_spec_l4(s, family, family == 4 ? PKT_NH_ICMP : PKT_NH_ICMPV6, src,
		    0, dst, 0);
	set_macs(s, test_link_mac[DEV_XC0], hosts[H_CLIENT].mac);
	s->icmp_type = family == 4 ? 8 : 128;
	s->icmp_id = 0x4242;
	s->icmp_seq = 7;
	s->payload = data13;
	s->payload_len = 13;
}

static void build(struct pkt *p, const struct pkt_spec *s)
{
	if (pkt_build(p, s)) {
		fprintf(stderr, "packet does not fit\n");
		exit(2);
	}
}

/* ---- backends and the output --------------------------------------------- */

static const struct tbe *vip_be(const struct tvip *v, int host)
{
	int i;

	for (i = 0; i < v->n_be; i++)
		if (v->be[i].host == host)
			return &v->be[i];
	return NULL;
}

/* Which host a forwarded frame is addressed to: by destination address
 * (nat) or destination MAC (dsr). -1 if none. */
static int out_host(const struct tvip *v, const struct run *r,
		    const struct pkt *in)
{
	size_t daddr = in->l3_off + (v->family == 4 ? 16 : 24);
	uint8_t a[16];
	int h;

	for (h = 0; h < NHOST; h++) {
		if (v->mode == DSR) {
			if (r->out_len >= 6 && !memcmp(r->out, hosts[h].mac, 6))
				return h;
			continue;
		}
		host_addr(a, h, v->family);
		if (r->out_len >= daddr + alen(v->family) &&
		    !memcmp(r->out + daddr, a, alen(v->family)))
			return h;
	}
	return -1;
}

/* The frame the program must emit when it forwards s to backend be. */
static void expect_fwd(struct pkt_spec *e, const struct pkt_spec *s,
		       const struct tvip *v, const struct tbe *be)
{
	const struct host *h = &hosts[be->host];

	*e = *s;
	if (v->mode == NAT) {
		host_addr(e->dst, be->host, v->family);
		e->dport = be->port;
		e->ttl = s->ttl - 1;
	}
	set_macs(e, h->mac, test_link_mac[h->dev]);
}

/*
 * Send s from the client to VIP v and check it was forwarded, per v's
 * mode, to one of v's backends, byte for byte. Returns that backend's host
 * index, or -1 with the failure recorded. `what` prefixes failure details.
 */
static int fwd_verify(const char *what, const struct tvip *v,
		      const struct pkt_spec *s, const struct pkt *in,
		      struct run *r);

static int fwd_check(const char *what, const struct tvip *v,
		     const struct pkt_spec *s, struct run *r)
{
	struct pkt in;

	build(&in, s);
	run_pkt(r, &in, DEV_XC0);
	return fwd_verify(what, v, s, &in, r);
}

/* fwd_check's verdict on a run of s's frame `in` (which may carry more
 * bytes than s describes: they must not come out). */
static int fwd_verify(const char *what, const struct tvip *v,
		      const struct pkt_spec *s, const struct pkt *in,
		      struct run *r)
{
	const struct tbe *be;
	struct pkt_spec es;
	struct pkt exp;
	char buf[256];
	int h, dev;

	if (r->err) {
		tc_fail("%stest run failed: %s", what, strerror(-r->err));
		return -1;
	}
	h = out_host(v, r, in);
	be = h >= 0 ? vip_be(v, h) : NULL;
	if (!be) {
		tc_fail("%snot forwarded to a backend of the VIP: action %s, "
			"counters moved: %s, host %s", what,
			action_name(r->action), moved(r, buf, sizeof(buf)),
			h >= 0 ? hosts[h].name : "unknown");
		fprintf(tc.dumpf, "%sunexpected output\n", what);
		pkt_hexdiff(tc.dumpf, "", "input", in->data, in->len, "output",
			    r->out, r->out_len);
		return -1;
	}
	dev = hosts[h].dev;
	expect_fwd(&es, s, v, be);
	build(&exp, &es);
	if (!check_action(what, r, dev == DEV_XC0 ? XDP_TX : XDP_REDIRECT) ||
	    !check_reason(what, r, dev == DEV_XC0 ? XLB_R_TX : XLB_R_REDIRECT) ||
	    !check_pkt(what, r, &exp))
		return -1;
	return h;
}

/* A new flow from the client: SYN (TCP) or a datagram (UDP). */
static int new_flow(const char *what, const struct tvip *v, uint16_t sport)
{
	struct pkt_spec s;
	struct run r;
	int h;

	client_spec(&s, v, sport, PKT_TCP_SYN);
	h = fwd_check(what, v, &s, &r);
	if (h >= 0 && !check_info(what, &r, XLB_R_NEW_FLOW, 1))
		return -1;
	return h;
}

/* A packet of an established flow (ACK). */
static int est_flow(const char *what, const struct tvip *v, uint16_t sport,
		    struct run *r)
{
	struct pkt_spec s;

	client_spec(&s, v, sport, PKT_TCP_ACK);
	return fwd_check(what, v, &s, r);
}

/* ---- maps: flows, VIPs, tables ------------------------------------------- */

static void flow_key_of(struct xlb_flow_key *k, const struct pkt_spec *s)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->src.bytes, s->src, alen(s->family));
	memcpy(k->dst.bytes, s->dst, alen(s->family));
	k->sport = htons(s->sport);
	k->dport = htons(s->dport);
	k->proto = s->proto;
	k->family = s->family == 4 ? XLB_FAMILY_V4 : XLB_FAMILY_V6;
}

static int flow_get_in(const char *table, const struct xlb_flow_key *k, struct xlb_flow *f)
{
	int fd = xlb_map_fd(cur, table);

	if (fd < 0)
		return fd;
	if (!strcmp(table, XLB_MAP_FLOWS_NEW))
		return xlb_flow_pending_get(cur, k, f);
	return bpf_map_lookup_elem(fd, k, f) ? -errno : 0;
}

/* The flow as the datapath finds it: confirmed first, then unconfirmed. */
static int flow_get(const struct xlb_flow_key *k, struct xlb_flow *f)
{
	int err = flow_get_in(XLB_MAP_FLOWS, k, f);

	return err == -ENOENT ? flow_get_in(XLB_MAP_FLOWS_NEW, k, f) : err;
}

static int vip_get(struct xlb *x, const struct tvip *v, struct xlb_vip *out)
{
	int fd = xlb_map_fd(x, XLB_MAP_VIPS);

	if (fd < 0)
		return fd;
	return bpf_map_lookup_elem(fd, &v->key, out) ? -errno : 0;
}

/* Host index of backend slot id (read from xlb_backends), -1 if none. */
static int backend_host(struct xlb *x, uint32_t id, int family, uint16_t *port)
{
	struct xlb_backend b;
	uint8_t a[16];
	int fd = xlb_map_fd(x, XLB_MAP_BACKENDS), h;

	if (fd < 0 || bpf_map_lookup_elem(fd, &id, &b))
		return -1;
	for (h = 0; h < NHOST; h++) {
		host_addr(a, h, family);
		if (!memcmp(b.addr.bytes, a, 16)) {
			*port = ntohs(b.port);
			return h;
		}
	}
	return -1;
}

/* Entry idx of the VIP's live table (xlb_tables[vip.table_slot]). */
static int table_entry(struct xlb *x, const struct tvip *v, uint32_t hash,
		       uint32_t *id, uint32_t *size)
{
	struct xlb_vip vi;
	uint32_t inner_id, idx;
	int outer = xlb_map_fd(x, XLB_MAP_TABLES), fd, err;

	err = vip_get(x, v, &vi);
	if (err)
		return err;
	if (!vi.table_size)
		return -ENOENT;
	if (outer < 0)
		return outer;
	if (bpf_map_lookup_elem(outer, &vi.table_slot, &inner_id))
		return -errno;
	fd = bpf_map_get_fd_by_id(inner_id);
	if (fd < 0)
		return -errno;
	idx = hash % vi.table_size;
	err = bpf_map_lookup_elem(fd, &idx, id) ? -errno : 0;
	close(fd);
	*size = vi.table_size;
	return err;
}

/* The backend the table gives for a flow hash: an independent prediction
 * of the datapath's choice. Returns the host index or -1. */
static int predict(struct xlb *x, const struct tvip *v, uint32_t hash)
{
	uint32_t id, size;
	uint16_t port;
	int err = table_entry(x, v, hash, &id, &size);

	if (err) {
		tc_fail("reading the VIP's table: %s", strerror(-err));
		return -1;
	}
	return backend_host(x, id, v->be_family, &port);
}

static int predict_flow(const struct tvip *v, const struct pkt_spec *s)
{
	struct xlb_flow_key k;

	flow_key_of(&k, s);
	return predict(cur, v, xlb_hash_flow(&k));
}

static int predict_src(const struct tvip *v, const struct pkt_spec *s)
{
	struct xlb_flow_key k;

	flow_key_of(&k, s);
	return predict(cur, v, xlb_hash_src(&k));
}

/* ---- setup --------------------------------------------------------------- */

static int setup_dev(int d)
{
	const struct test_veth v = { .dev = dev_name[d], .peer = peer_name[d], .mac = test_link_mac[d],
				     .peer_mac = test_link_peer_mac[d], .v4 = test_link_v4[d], .v6 = test_link_v6[d] };

	dev_ifindex[d] = test_veth_add(&v);
	return dev_ifindex[d] > 0 ? 0 : -1;
}

static int setup_neigh(int h)
{
	if (!hosts[h].neigh)
		return 0;
	return test_neigh_add(hosts[h].v4, hosts[h].v6, hosts[h].mac, dev_name[hosts[h].dev]);
}

/* A private network namespace: everything below vanishes with us. */
static int setup_netns(void)
{
	int d, h;

	if (test_netns_private())
		return -1;
	for (d = 0; d < NDEV; d++)
		if (setup_dev(d))
			return -1;
	for (h = 0; h < NHOST; h++)
		if (setup_neigh(h))
			return -1;
	if (test_sh("ip link set %s mtu %d", dev_name[DEV_XB0], XB0_MTU) ||
	    test_sh("ip route add blackhole %s", blackhole_v4) ||
	    test_sh("ip -6 route add blackhole %s", blackhole_v6))
		return -1;
	return 0;
}

static void vip_key_fill(struct tvip *v)
{
	v->family = strchr(v->addr, ':') ? 6 : 4;
	if (!v->be_family)
		v->be_family = v->family;
	parse_addr(v->a, v->family, v->addr);
	memset(&v->key, 0, sizeof(v->key));
	memcpy(v->key.addr.bytes, v->a, 16);
	v->key.port = htons(v->port);
	v->key.proto = v->proto;
	v->key.family = v->family == 4 ? XLB_FAMILY_V4 : XLB_FAMILY_V6;
}

static void endpoint_of(struct xlb_endpoint *ep, const struct tvip *v,
			int host, uint16_t port)
{
	memset(ep, 0, sizeof(*ep));
	host_addr(ep->addr.bytes, host, v->be_family);
	ep->port = htons(port);
	ep->family = v->be_family == 4 ? XLB_FAMILY_V4 : XLB_FAMILY_V6;
}

static int be_op_err(const char *op, int err)
{
	return tc_fail("%s: %s (%s)", op, strerror(-err), xlb_errmsg()), err;
}

static int setup_vip(struct xlb *x, struct tvip *v)
{
	struct xlb_vip_spec spec = { .sched = v->sched, .mode = v->mode,
				     .ring_size = v->ring, .encap = v->encap,
				     .gue_port = v->gue_port };
	struct xlb_endpoint ep;
	char what[128];
	int i, err;

	vip_key_fill(v);
	spec.key = v->key;
	err = xlb_vip_add(x, &spec);
	if (err) {
		snprintf(what, sizeof(what), "xlb_vip_add %s:%u", v->addr,
			 v->port);
		return be_op_err(what, err);
	}
	for (i = 0; i < v->n_be; i++) {
		endpoint_of(&ep, v, v->be[i].host, v->be[i].port);
		err = xlb_backend_add(x, &v->key, &ep, v->be[i].weight);
		if (err) {
			snprintf(what, sizeof(what), "xlb_backend_add %s:%u %s",
				 v->addr, v->port, hosts[v->be[i].host].name);
			return be_op_err(what, err);
		}
	}
	return 0;
}

static void print_verified_insns(void)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(xlb_prog_fd(X), &info, &len))
		printf("# xlb_lb: verified_insns unknown (%s)\n",
		       strerror(errno));
	else
		printf("# xlb_lb: verified_insns=%u\n", info.verified_insns);
}

/* ---- cases: NAT forwarding ----------------------------------------------- */

static bool same_host(const char *what, int got, int want, const char *why)
{
	if (got == want)
		return true;
	return tc_fail("%swent to %s, expected %s (%s)", what,
		       got >= 0 ? hosts[got].name : "?",
		       want >= 0 ? hosts[want].name : "?", why);
}

/* A new flow lands on the backend the VIP's Maglev table names. */
/* A new flow's first packet: a SYN, or a datagram with a payload. */
static void spec_first(struct pkt_spec *s, int vi, int unused)
{
	(void)unused;
	client_spec(s, &vips[vi], next_sport(), PKT_TCP_SYN);
	if (vips[vi].proto == UDP)
		with_payload(s);
}

static void spec_syn_options(struct pkt_spec *s, int vi, int unused)
{
	(void)unused;
	client_spec(s, &vips[vi], next_sport(), PKT_TCP_SYN);
	memcpy(s->tcp_opts, syn_opts, sizeof(syn_opts));
	s->tcp_opts_len = sizeof(syn_opts);
}

/* A later packet of the flow (flags given) goes where the first went,
 * found in the flow table (no new flow scheduled). */
static void t_established(int vi, uint8_t flags)
{
	const struct tvip *v = &vips[vi];
	uint16_t sport = next_sport();
	struct pkt_spec s;
	struct run r;
	int h1, h2;

	h1 = new_flow("first packet: ", v, sport);
	if (h1 < 0)
		return;
	client_spec(&s, v, sport, flags);
	s.seq += 1;
	with_payload(&s);
	h2 = fwd_check("second packet: ", v, &s, &r);
	if (h2 < 0 || !same_host("second packet: ", h2, h1, "flow table"))
		return;
	check_info("second packet: ", &r, XLB_R_NEW_FLOW, 0);
}

static void t_ack(int vi)
{
	t_established(vi, PKT_TCP_ACK | PKT_TCP_PSH);
}

static void t_fin(int vi)
{
	t_established(vi, PKT_TCP_FIN | PKT_TCP_ACK);
}

static void t_rst_known(int vi)
{
	t_established(vi, PKT_TCP_RST);
}

/* An RST of a flow never seen is forwarded but leaves no flow behind. */
static void t_rst_unknown(int vi)
{
	const struct tvip *v = &vips[vi];
	struct xlb_flow_key k;
	struct xlb_flow f;
	struct pkt_spec s;
	struct run r;
	int h, err;

	client_spec(&s, v, next_sport(), PKT_TCP_RST);
	h = fwd_check("", v, &s, &r);
	if (h < 0 || !same_host("", h, predict_flow(v, &s), "the VIP's table"))
		return;
	flow_key_of(&k, &s);
	err = flow_get(&k, &f);
	if (err != -ENOENT)
		tc_fail("forward flow entry after RST: lookup %s, expected none",
			err ? strerror(-err) : "found an entry");
}

static bool check_fwd_entry(const struct tvip *v, const struct pkt_spec *s,
			    int h, const struct tbe *be)
{
	struct xlb_flow_key k;
	struct xlb_vip vi;
	struct xlb_flow f;
	uint16_t port = 0;
	int err;

	flow_key_of(&k, s);
	err = flow_get(&k, &f);
	if (err)
		return tc_fail("forward entry: %s", strerror(-err));
	if (f.mode != v->mode)
		return tc_fail("forward entry: mode %u, expected %u", f.mode, v->mode);
	if (backend_host(cur, f.backend_id, v->family, &port) != h ||
	    port != be->port)
		return tc_fail("forward entry: backend id %u is not %s:%u",
			       f.backend_id, hosts[h].name, be->port);
	err = vip_get(cur, v, &vi);
	if (err || vi.id != f.vip_id)
		return tc_fail("forward entry: vip_id %u, VIP map says %u (%s)",
			       f.vip_id, vi.id, err ? strerror(-err) : "ok");
	return true;
}

/* A nat backend's address:port names the VIP its replies go back to;
 * there is no per-flow reply entry. */
static bool check_nat_end(const struct tvip *v, const struct tbe *be)
{
	struct xlb_vip_key k = {};
	struct xlb_nat_end e;
	int fd = xlb_map_fd(cur, XLB_MAP_NAT_ENDS);
	__u32 i;

	host_addr(k.addr.bytes, be->host, v->family);
	k.port = htons(be->port);
	k.proto = v->proto;
	k.family = v->family == 4 ? XLB_FAMILY_V4 : XLB_FAMILY_V6;
	if (fd < 0 || bpf_map_lookup_elem(fd, &k, &e))
		return tc_fail("no nat end for backend %s:%u", hosts[be->host].name, be->port);
	for (i = 0; i < e.n_vips && i < XLB_NAT_END_VIPS; i++)
		if (!memcmp(e.vips[i].addr.bytes, v->a, 16) && e.vips[i].port == htons(v->port))
			return true;
	return tc_fail("nat end of %s:%u does not name the VIP (%u VIPs)", hosts[be->host].name,
		       be->port, e.n_vips);
}

/* A SYN leaves one unconfirmed entry (made by a SYN), nothing confirmed,
 * and no entry for the reply direction. */
static bool check_unconfirmed_syn_entry(const struct pkt_spec *s)
{
	struct xlb_flow_key k;
	struct xlb_flow f;

	flow_key_of(&k, s);
	if (flow_get_in(XLB_MAP_FLOWS, &k, &f) != -ENOENT)
		return tc_fail("a SYN made a confirmed entry");
	if (flow_get_in(XLB_MAP_FLOWS_NEW, &k, &f))
		return tc_fail("no unconfirmed entry after the SYN");
	if (f.flags != XLB_FLOW_F_SYN)
		return tc_fail("unconfirmed entry flags 0x%x, expected 0x%x (SYN)", f.flags,
			       XLB_FLOW_F_SYN);
	return true;
}

/* A NAT flow leaves one unconfirmed entry; its backend's nat end names
 * the VIP. */
static void t_flow_entries(int vi)
{
	const struct tvip *v = &vips[vi];
	struct pkt_spec s;
	struct run r;
	int h;

	client_spec(&s, v, next_sport(), PKT_TCP_SYN);
	h = fwd_check("", v, &s, &r);
	if (h < 0 || !check_fwd_entry(v, &s, h, vip_be(v, h)) || !check_unconfirmed_syn_entry(&s))
		return;
	check_nat_end(v, vip_be(v, h));
}

/* The backend's answer to flow s, as it arrives on xb0. */
static void reply_spec(struct pkt_spec *rs, const struct pkt_spec *s,
		       const struct tbe *be)
{
	uint8_t src[16];

	host_addr(src, be->host, s->family);
	pkt_spec_l4(rs, s->family, s->proto, src, be->port, s->src, s->sport);
	set_macs(rs, test_link_mac[hosts[be->host].dev], hosts[be->host].mac);
	rs->tcp_flags = PKT_TCP_SYN | PKT_TCP_ACK;
	rs->seq = 0x77665544;
	rs->ack_seq = s->seq + 1;
	rs->ip_id = 0x2bad;
	with_payload(rs);
}

/* Open a flow to v; on success fill s (the client's packet) and return
 * its backend. */
static const struct tbe *open_flow(const struct tvip *v, struct pkt_spec *s)
{
	struct run r;
	int h;

	client_spec(s, v, next_sport(), PKT_TCP_SYN);
	if (v->proto == UDP)
		with_payload(s);
	h = fwd_check("forward packet: ", v, s, &r);
	return h < 0 ? NULL : vip_be(v, h);
}

/* The reply is rewritten back to VIP:port and sent to the client. */
static void t_nat_reply(int vi)
{
	const struct tvip *v = &vips[vi];
	const struct tbe *be;
	struct pkt_spec s, rs, es;
	struct pkt in, exp;
	struct run r;

	be = open_flow(v, &s);
	if (!be)
		return;
	reply_spec(&rs, &s, be);
	es = rs;
	memcpy(es.src, v->a, 16);
	es.sport = v->port;
	es.ttl = rs.ttl - 1;
	set_macs(&es, hosts[H_CLIENT].mac, test_link_mac[DEV_XC0]);
	build(&in, &rs);
	build(&exp, &es);
	run_pkt(&r, &in, DEV_XB0);
	if (check_action("reply: ", &r, XDP_REDIRECT) &&
	    check_reason("reply: ", &r, XLB_R_REDIRECT) &&
	    check_info("reply: ", &r, XLB_R_NAT_REPLY, 1))
		check_pkt("reply: ", &r, &exp);
}

/* A reply that would expire is passed unchanged for the kernel's ICMP. */
static void t_nat_reply_ttl1(int vi)
{
	const struct tvip *v = &vips[vi];
	const struct tbe *be;
	struct pkt_spec s, rs;
	struct pkt in;

	be = open_flow(v, &s);
	if (!be)
		return;
	reply_spec(&rs, &s, be);
	rs.ttl = 1;
	build(&in, &rs);
	expect_verdict("reply: ", &in, DEV_XB0, XDP_PASS, XLB_R_PASS_TTL);
}

/* A nat reply the gateway would not forward (arg: VIP | REPLY_L2 for a
 * broadcast frame, else a wrong IPv4 header checksum): it is the flow's,
 * so it is dropped, never passed on with the backend's address. */
#define REPLY_L2 0x100

static void t_nat_reply_bad(int arg)
{
	const struct tvip *v = &vips[arg & 0xff];
	const struct tbe *be;
	struct pkt_spec s, rs;
	struct pkt in;

	be = open_flow(v, &s);
	if (!be)
		return;
	reply_spec(&rs, &s, be);
	if (arg & REPLY_L2)
		memset(rs.eth_dst, 0xff, 6);
	build(&in, &rs);
	if (!(arg & REPLY_L2))
		in.data[in.l3_off + 10] ^= 0x01;
	expect_verdict("reply: ", &in, DEV_XB0, XDP_DROP,
		       arg & REPLY_L2 ? XLB_R_DROP_L2_BCAST : XLB_R_DROP_IP_CSUM);
}

/* Backend traffic that belongs to no NAT flow is not ours. */
static void t_backend_no_entry(int vi)
{
	const struct tvip *v = &vips[vi];
	const struct tbe *be;
	struct pkt_spec s, rs;
	struct pkt in;

	be = open_flow(v, &s);
	if (!be)
		return;
	reply_spec(&rs, &s, be);
	rs.sport = 9999;
	build(&in, &rs);
	expect_verdict("", &in, DEV_XB0, XDP_PASS, XLB_R_PASS_NOT_VIP);
}

/* The gateway's address on the client's side: the source of its ICMP errors. */
static void gateway_addr(uint8_t out[16], int family)
{
	parse_addr(out, family, family == 4 ? test_link_v4[DEV_XC0] : test_link_v6[DEV_XC0]);
}

/*
 * s (from the client, on xc0) would expire at the gateway: it answers
 * "time exceeded in transit" (ICMP 11/0, ICMPv6 3/0) from its own address,
 * back out of xc0 with the MACs (and VLAN tag) of s swapped. IPv4 quotes
 * the IP header + 8 bytes, IPv6 the first 48 bytes, as xlb's "too big"
 * does; TOS 0xc0 (IPv4), TTL 64, no ID, no DF, flow label 0.
 */
static void expect_time_exceeded(const char *what, const struct pkt_spec *s)
{
	struct pkt_spec e;
	struct pkt in, exp;
	struct run r;

	build(&in, s);
	echo_spec(&e, s->family, s->src);
	gateway_addr(e.src, s->family);
	set_macs(&e, s->eth_src, s->eth_dst);
	e.vlan_proto = s->vlan_proto;
	e.vlan_tci = s->vlan_tci;
	e.ttl = 64;
	e.tos = s->family == 4 ? 0xc0 : 0;
	e.ip_id = 0;
	e.frag_off = 0;
	e.flow_label = 0;
	e.icmp_type = s->family == 4 ? 11 : 3;
	e.icmp_code = 0;
	e.icmp_id = 0;
	e.icmp_seq = 0;
	e.payload = in.data + in.l3_off;
	e.payload_len = s->family == 4 ? in.l4_off - in.l3_off + 8 : 48;
	build(&exp, &e);
	run_pkt(&r, &in, DEV_XC0);
	if (check_action(what, &r, XDP_TX) &&
	    check_reason(what, &r, XLB_R_TX_ICMP_TIME_EXCEEDED))
		check_pkt(what, &r, &exp);
}

enum { TTL_1 = 0x100, TTL_0 = 0x200, TTL_VLAN = 0x400, TTL_EST = 0x800 };

/* A TCP/UDP packet to a VIP that would expire at the gateway, in any mode
 * (arg: VIP | TTL_*): answered with time exceeded, so traceroute through
 * a VIP works. TTL_EST sends it on an established flow. */
static void t_ttl1(int arg)
{
	const struct tvip *v = &vips[arg & 0xff];
	struct pkt_spec s;

	client_spec(&s, v, next_sport(), PKT_TCP_SYN);
	if (arg & TTL_EST) {
		if (!open_flow(v, &s))
			return;
		client_spec(&s, v, s.sport, PKT_TCP_ACK);
	}
	with_payload(&s);
	s.ttl = arg & TTL_0 ? 0 : 1;
	if (arg & TTL_VLAN) {
		s.vlan_proto = PKT_ETH_P_8021Q;
		s.vlan_tci = 100;
	}
	expect_time_exceeded("", &s);
}

/* TTL 2 leaves the gateway with 1 (nat) or 2 (dsr: an L2 hop). */
static void spec_ttl(struct pkt_spec *s, int vi, int ttl)
{
	client_spec(s, &vips[vi], next_sport(), PKT_TCP_SYN);
	s->ttl = (uint8_t)ttl;
}

/* Ethernet padding (or any trailer) after the IP packet is cut before the
 * frame leaves: it never reaches a backend. arg: VIP | PAD_LONG (a
 * 30-byte trailer instead of padding to the Ethernet minimum). */
#define PAD_LONG 0x100

static void t_eth_padding(int arg)
{
	const struct tvip *v = &vips[arg & 0xff];
	struct pkt_spec s;
	struct pkt in;
	struct run r;
	size_t pad;

	client_spec(&s, v, next_sport(), PKT_TCP_SYN);
	build(&in, &s);
	pad = arg & PAD_LONG ? 30 : in.len < 60 ? 60 - in.len : 0;
	memset(in.data + in.len, 0xee, pad);
	in.len += pad;
	run_pkt(&r, &in, DEV_XC0);
	fwd_verify("", v, &s, &in, &r);
}

/* Per-VIP and per-backend packets and bytes (whole frame) move. */
static void t_counters(int vi)
{
	const struct tvip *v = &vips[vi];
	struct xlb_counters v0, v1, b0, b1;
	struct xlb_flow_key k;
	struct xlb_flow f;
	struct pkt_spec s;
	struct pkt p;
	struct run r;
	int err;

	if (!open_flow(v, &s))
		return;
	flow_key_of(&k, &s);
	err = flow_get(&k, &f);
	if (err) {
		tc_fail("forward entry: %s", strerror(-err));
		return;
	}
	err = xlb_vip_counters(cur, f.vip_id, &v0) ?:
	      xlb_backend_counters(cur, f.backend_id, &b0);
	if (err) {
		tc_fail("reading counters: %s", xlb_errmsg());
		return;
	}
	client_spec(&s, v, s.sport, PKT_TCP_ACK);
	with_payload(&s);
	build(&p, &s);
	if (fwd_check("", v, &s, &r) < 0)
		return;
	err = xlb_vip_counters(cur, f.vip_id, &v1) ?:
	      xlb_backend_counters(cur, f.backend_id, &b1);
	if (err)
		tc_fail("reading counters: %s", xlb_errmsg());
	else if (v1.packets - v0.packets != 1 || v1.bytes - v0.bytes != p.len)
		tc_fail("VIP counters moved by %llu packets %llu bytes, "
			"expected 1 and %zu",
			(unsigned long long)(v1.packets - v0.packets),
			(unsigned long long)(v1.bytes - v0.bytes), p.len);
	else if (b1.packets - b0.packets != 1 || b1.bytes - b0.bytes != p.len)
		tc_fail("backend counters moved by %llu packets %llu bytes, "
			"expected 1 and %zu",
			(unsigned long long)(b1.packets - b0.packets),
			(unsigned long long)(b1.bytes - b0.bytes), p.len);
}

/* ---- cases: flow states (unconfirmed -> confirmed -> closing) ----------- */

static bool flow_in(const char *table, const struct pkt_spec *s, struct xlb_flow *f)
{
	struct xlb_flow_key k;

	flow_key_of(&k, s);
	return !flow_get_in(table, &k, f);
}

static bool expect_flags(const char *what, const char *table, const struct pkt_spec *s,
			 uint32_t want)
{
	struct xlb_flow f;

	if (!flow_in(table, s, &f))
		return tc_fail("%sno entry in %s", what, table);
	if (f.flags != want)
		return tc_fail("%s%s entry flags 0x%x, expected 0x%x", what, table, f.flags, want);
	return true;
}

static bool expect_absent(const char *what, const char *table, const struct pkt_spec *s)
{
	struct xlb_flow f;

	return flow_in(table, s, &f) ? tc_fail("%san entry in %s, expected none", what, table)
				     : true;
}

/* The set of xlb_flows_new that s's flow lives in: its two slots' indexes. */
static bool pending_set_of(const struct pkt_spec *s, __u32 idx[2])
{
	int fd = xlb_map_fd(cur, XLB_MAP_FLOWS_NEW);
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	struct xlb_flow_key k;

	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		return tc_fail("reading %s's size: %s", XLB_MAP_FLOWS_NEW, strerror(errno));
	flow_key_of(&k, s);
	idx[0] = xlb_flow_slot_index(xlb_hash_flow(&k), info.max_entries / XLB_FLOWS_NEW_WAYS - 1, 0);
	idx[1] = idx[0] + 1;
	return true;
}

/* Add delta to the seq of both slots of the set (odd: being written). */
static bool pending_set_seq_add(const __u32 idx[2], __u32 delta)
{
	int fd = xlb_map_fd(cur, XLB_MAP_FLOWS_NEW), i;
	struct xlb_flow_slot slot;

	for (i = 0; i < 2; i++) {
		if (bpf_map_lookup_elem(fd, &idx[i], &slot))
			return tc_fail("reading slot %u: %s", idx[i], strerror(errno));
		slot.seq += delta;
		if (bpf_map_update_elem(fd, &idx[i], &slot, BPF_ANY))
			return tc_fail("writing slot %u: %s", idx[i], strerror(errno));
	}
	return true;
}

/* A slot another CPU is rewriting (odd seq) is left to it: the SYN is
 * forwarded as a new flow, but not remembered (flow_insert_failed), and
 * nothing of it is written into the busy set. */
static void t_busy_slot_insert_skipped(int vi)
{
	const struct tvip *v = &vips[vi];
	struct pkt_spec s;
	struct run r;
	__u32 idx[2];
	int h;

	client_spec(&s, v, next_sport(), PKT_TCP_SYN);
	if (!pending_set_of(&s, idx) || !pending_set_seq_add(idx, 1))
		return;
	h = fwd_check("SYN into a busy set: ", v, &s, &r);
	if (h >= 0 && check_info("SYN into a busy set: ", &r, XLB_R_NEW_FLOW, 1) &&
	    check_info("SYN into a busy set: ", &r, XLB_R_FLOW_INSERT_FAILED, 1))
		expect_absent("SYN into a busy set: ", XLB_MAP_FLOWS_NEW, &s);
	if (!pending_set_seq_add(idx, 1))
		return;
	h = fwd_check("SYN again, set free: ", v, &s, &r);
	if (h >= 0 && check_info("SYN again, set free: ", &r, XLB_R_FLOW_INSERT_FAILED, 0))
		expect_flags("SYN again, set free: ", XLB_MAP_FLOWS_NEW, &s, XLB_FLOW_F_SYN);
}

/* nat: a flow is confirmed when its handshake completes: the client's ACK
 * after the backend's SYN-ACK. An ACK before it (or a blind one) is
 * forwarded but confirms nothing. */
static void t_confirm_nat_handshake(int vi)
{
	const struct tvip *v = &vips[vi];
	const struct tbe *be;
	struct pkt_spec s, a, rs;
	struct pkt in;
	struct run r;

	be = open_flow(v, &s);
	if (!be || !check_unconfirmed_syn_entry(&s))
		return;
	client_spec(&a, v, s.sport, PKT_TCP_ACK);
	if (fwd_check("ACK before the SYN-ACK: ", v, &a, &r) < 0 ||
	    !check_info("ACK before the SYN-ACK: ", &r, XLB_R_FLOW_CONFIRMED, 0) ||
	    !expect_absent("ACK before the SYN-ACK: ", XLB_MAP_FLOWS, &s))
		return;
	reply_spec(&rs, &s, be);
	build(&in, &rs);
	run_pkt(&r, &in, DEV_XB0);
	if (!check_info("SYN-ACK: ", &r, XLB_R_NAT_REPLY, 1) ||
	    !expect_flags("SYN-ACK: ", XLB_MAP_FLOWS_NEW, &s,
			  XLB_FLOW_F_SYN | XLB_FLOW_F_REPLY_SEEN))
		return;
	if (fwd_check("handshake ACK: ", v, &a, &r) < 0 ||
	    !check_info("handshake ACK: ", &r, XLB_R_FLOW_CONFIRMED, 1) ||
	    !expect_flags("handshake ACK: ", XLB_MAP_FLOWS, &s, XLB_FLOW_F_SYN))
		return;
	expect_flags("handshake ACK: ", XLB_MAP_FLOWS_NEW, &s,
		     XLB_FLOW_F_SYN | XLB_FLOW_F_REPLY_SEEN | XLB_FLOW_F_CONFIRMED);
}

/* dsr sees no replies: the client's first packet after its SYN confirms. */
static void t_confirm_after_syn(int vi)
{
	const struct tvip *v = &vips[vi];
	struct pkt_spec s, a;
	struct run r;

	if (!open_flow(v, &s) || !check_unconfirmed_syn_entry(&s))
		return;
	client_spec(&a, v, s.sport, PKT_TCP_ACK);
	if (fwd_check("ACK: ", v, &a, &r) < 0 ||
	    !check_info("ACK: ", &r, XLB_R_FLOW_CONFIRMED, 1))
		return;
	expect_flags("ACK: ", XLB_MAP_FLOWS, &s, XLB_FLOW_F_SYN);
}

/* UDP: a second datagram confirms. */
static void t_confirm_udp(int vi)
{
	const struct tvip *v = &vips[vi];
	struct pkt_spec s;
	struct run r;

	client_spec(&s, v, next_sport(), 0);
	with_payload(&s);
	if (fwd_check("first datagram: ", v, &s, &r) < 0 ||
	    !check_info("first datagram: ", &r, XLB_R_FLOW_CONFIRMED, 0) ||
	    !expect_flags("first datagram: ", XLB_MAP_FLOWS_NEW, &s, 0) ||
	    !expect_absent("first datagram: ", XLB_MAP_FLOWS, &s))
		return;
	s.ip_id++;
	if (fwd_check("second datagram: ", v, &s, &r) < 0 ||
	    !check_info("second datagram: ", &r, XLB_R_FLOW_CONFIRMED, 1))
		return;
	expect_flags("second datagram: ", XLB_MAP_FLOWS, &s, 0);
}

/* Complete the handshake of flow s (opened by open_flow): nat needs the
 * backend's SYN-ACK to pass first. Leaves the client's ACK in a. */
static bool handshake(const struct tvip *v, const struct pkt_spec *s, struct pkt_spec *a)
{
	struct xlb_flow f;
	struct pkt_spec rs;
	struct pkt in;
	struct run r;
	int h;

	if (v->mode == XLB_MODE_NAT) {
		if (!flow_in(XLB_MAP_FLOWS_NEW, s, &f))
			return tc_fail("handshake: no unconfirmed entry");
		for (h = 0; h < NHOST; h++) {
			uint8_t addr[16];

			host_addr(addr, h, v->family);
			if (!memcmp(addr, f.backend_addr.bytes, 16) && vip_be(v, h))
				break;
		}
		if (h == NHOST)
			return tc_fail("handshake: the entry's backend is not one of the VIP's");
		reply_spec(&rs, s, vip_be(v, h));
		build(&in, &rs);
		run_pkt(&r, &in, DEV_XB0);
		if (!check_info("SYN-ACK: ", &r, XLB_R_NAT_REPLY, 1))
			return false;
	}
	client_spec(a, v, s->sport, PKT_TCP_ACK);
	return fwd_check("handshake ACK: ", v, a, &r) >= 0 &&
	       check_info("handshake ACK: ", &r, XLB_R_FLOW_CONFIRMED, 1);
}

/* A confirmed flow's RST is forwarded and marks it closing (xlbd's sweep
 * removes it); a SYN on the tuple then starts a new, unconfirmed flow. */
static void t_close_then_reuse(int vi)
{
	const struct tvip *v = &vips[vi];
	struct pkt_spec s, a, rst;
	struct run r;

	if (!open_flow(v, &s) || !handshake(v, &s, &a))
		return;
	client_spec(&rst, v, s.sport, PKT_TCP_RST | PKT_TCP_ACK);
	if (fwd_check("RST: ", v, &rst, &r) < 0 || !check_info("RST: ", &r, XLB_R_FLOW_CLOSED, 1) ||
	    !expect_flags("RST: ", XLB_MAP_FLOWS, &s, XLB_FLOW_F_SYN | XLB_FLOW_F_CLOSING))
		return;
	if (fwd_check("SYN reusing the port: ", v, &s, &r) < 0 ||
	    !check_info("SYN reusing the port: ", &r, XLB_R_RESCHEDULED, 1) ||
	    !expect_absent("SYN reusing the port: ", XLB_MAP_FLOWS, &s))
		return;
	expect_flags("SYN reusing the port: ", XLB_MAP_FLOWS_NEW, &s, XLB_FLOW_F_SYN);
}

/* A datapath of its own with small tables (so a test can fill them), and
 * the one VIP the test needs. Returns the previous instance to restore. */
static struct xlb *small_instance(const struct tvip *v, uint32_t flows, uint32_t new_flows)
{
	struct xlb_open_opts o = { .no_pin = true, .flow_entries = flows,
				   .new_flow_entries = new_flows };
	struct tvip copy = *v;
	struct xlb *x;

	if (xlb_open(&x, &o)) {
		tc_fail("xlb_open (small tables): %s", xlb_errmsg());
		return NULL;
	}
	if (setup_vip(x, &copy)) {
		xlb_close(x);
		return NULL;
	}
	return x;
}

/* Whether s's flow falls in the same set of xlb_flows_new as k's. */
static bool same_set(const struct xlb_flow_key *k, const struct pkt_spec *s, uint32_t slots)
{
	uint32_t mask = slots / XLB_FLOWS_NEW_WAYS - 1;
	struct xlb_flow_key o;

	flow_key_of(&o, s);
	return xlb_flow_slot_index(xlb_hash_flow(&o), mask, 0) ==
	       xlb_flow_slot_index(xlb_hash_flow(k), mask, 0);
}

/* Eviction order: fresh tuples (four times the unconfirmed table, then
 * two more into the early flow's own set, newer than it) evict unconfirmed
 * flows only; the confirmed flow keeps forwarding from its entry and the
 * oldest unconfirmed one is gone. */
static void t_flood_evicts_unconfirmed_only(int vi)
{
	const struct tvip *v = &vips[vi];
	struct xlb *x = small_instance(v, XLB_FLOWS_MIN, XLB_FLOWS_MIN);
	struct pkt_spec s, a, early, f;
	struct xlb_flow_key ek;
	struct run r;
	int i, rivals = 0;

	if (!x)
		return;
	cur = x;
	if (!open_flow(v, &s) || !handshake(v, &s, &a) || !open_flow(v, &early))
		goto out;
	for (i = 0; i < 4 * XLB_FLOWS_MIN; i++) {
		struct pkt in;

		client_spec(&f, v, next_sport(), PKT_TCP_SYN);
		f.src[3] = (uint8_t)(i >> 8); /* beyond the port range */
		build(&in, &f);
		run_pkt(&r, &in, DEV_XC0);
	}
	flow_key_of(&ek, &early);
	for (i = 0; rivals < XLB_FLOWS_NEW_WAYS && i < 1 << 20; i++) {
		struct pkt in;

		client_spec(&f, v, next_sport(), PKT_TCP_SYN);
		f.src[2] = (uint8_t)(i >> 8);
		f.src[3] = (uint8_t)i;
		if (!same_set(&ek, &f, XLB_FLOWS_MIN))
			continue;
		build(&in, &f);
		run_pkt(&r, &in, DEV_XC0);
		rivals++;
	}
	if (!expect_flags("after the flood: ", XLB_MAP_FLOWS, &s, XLB_FLOW_F_SYN) ||
	    !expect_absent("after the flood, the early unconfirmed flow: ", XLB_MAP_FLOWS_NEW,
			   &early))
		goto out;
	if (fwd_check("confirmed flow after the flood: ", v, &a, &r) >= 0)
		check_info("confirmed flow after the flood: ", &r, XLB_R_NEW_FLOW, 0);
out:
	cur = X;
	xlb_close(x);
}

/* A full confirmed table refuses the copy (flow_table_full); the flow is
 * still forwarded, from its unconfirmed entry. */
static void t_confirmed_table_full(int vi)
{
	const struct tvip *v = &vips[vi];
	struct xlb *x = small_instance(v, XLB_FLOWS_MIN, XLB_FLOWS_MIN);
	struct xlb_flow_key k = {};
	struct xlb_flow zero = {};
	struct pkt_spec s, a;
	struct run r;
	int fd, i;

	if (!x)
		return;
	cur = x;
	fd = xlb_map_fd(x, XLB_MAP_FLOWS);
	k.family = XLB_FAMILY_V4;
	k.proto = IPPROTO_TCP;
	for (i = 0; i < XLB_FLOWS_MIN; i++) {
		k.sport = htons((uint16_t)i);
		if (bpf_map_update_elem(fd, &k, &zero, BPF_NOEXIST)) {
			tc_fail("filling the confirmed table: %s", strerror(errno));
			goto out;
		}
	}
	if (!open_flow(v, &s))
		goto out;
	client_spec(&a, v, s.sport, PKT_TCP_ACK);
	if (fwd_check("ACK: ", v, &a, &r) < 0 ||
	    !check_info("ACK: ", &r, XLB_R_FLOW_TABLE_FULL, 1) ||
	    !check_info("ACK: ", &r, XLB_R_FLOW_CONFIRMED, 0) ||
	    !expect_absent("ACK: ", XLB_MAP_FLOWS, &s))
		goto out;
	expect_flags("ACK: ", XLB_MAP_FLOWS_NEW, &s, XLB_FLOW_F_SYN);
out:
	cur = X;
	xlb_close(x);
}

/* ---- cases: UDP ---------------------------------------------------------- */

/* A second datagram of a UDP flow follows the first. */
static void t_udp_established(int vi)
{
	const struct tvip *v = &vips[vi];
	struct pkt_spec s;
	struct run r;
	int h1, h2;

	client_spec(&s, v, next_sport(), 0);
	with_payload(&s);
	h1 = fwd_check("first datagram: ", v, &s, &r);
	if (h1 < 0 || !check_info("first datagram: ", &r, XLB_R_NEW_FLOW, 1))
		return;
	s.ip_id++;
	h2 = fwd_check("second datagram: ", v, &s, &r);
	if (h2 >= 0 && same_host("second datagram: ", h2, h1, "flow table"))
		check_info("second datagram: ", &r, XLB_R_NEW_FLOW, 0);
}

/* IPv4 UDP without checksum (0) stays without one after NAT. */
static void spec_udp_csum0(struct pkt_spec *s, int vi, int unused)
{
	(void)unused;
	client_spec(s, &vips[vi], next_sport(), 0);
	with_payload(s);
	s->udp_csum_zero = true;
}

/* IPv6 UDP with checksum 0 is invalid (RFC 8200): dropped. */
static void frame_udp6_csum0(struct pkt *p, int vi)
{
	struct pkt_spec s;

	client_spec(&s, &vips[vi], next_sport(), 0);
	with_payload(&s);
	s.udp_csum_zero = true;
	build(p, &s);
}

static int neigh_set(int h, int family, const uint8_t mac[6])
{
	char m[18];

	test_mac_str(mac, m);
	return test_sh("ip %s neigh replace %s lladdr %s nud permanent dev %s",
		  family == 4 ? "-4" : "-6", family == 4 ? hosts[h].v4 : hosts[h].v6, m,
		  dev_name[hosts[h].dev]);
}

/* A new flow of the VIP that its table sends to host h. */
static void new_flow_to(const struct tvip *v, int h, struct pkt_spec *s)
{
	do
		client_spec(s, v, next_sport(), PKT_TCP_SYN);
	while (predict_flow(v, s) != h);
}

static bool dst_mac_is(const char *what, const struct run *r, const uint8_t mac[6])
{
	char got[18], want[18];

	if (r->out_len >= 6 && !memcmp(r->out, mac, 6))
		return true;
	test_mac_str(r->out, got);
	test_mac_str(mac, want);
	tc_fail("%sdestination MAC %s, expected %s", what, got, want);
	return false;
}

/*
 * New flows to a backend reuse the last next hop looked up for it, kept in
 * the backend's entry (no FIB lookup per new flow), until the control
 * plane moves the next-hop generation: a neighbour's new MAC reaches new
 * flows after xlb_nexthop_flush(), which xlbd calls every second and on
 * changes.
 */
static void t_backend_nh_cache(int vi)
{
	static const uint8_t moved[6] = { 0x02, 0xbe, 0, 0, 0, 0x99 };
	const struct tvip *v = &vips[vi];
	struct pkt_spec s;
	struct pkt in;
	struct run r;
	int h;

	h = new_flow("first flow: ", v, next_sport());
	if (h >= 0 && !neigh_set(h, v->family, moved)) {
		new_flow_to(v, h, &s);
		build(&in, &s);
		run_pkt(&r, &in, DEV_XC0);
		if (check_action("second flow, cached next hop: ", &r, XDP_REDIRECT) &&
		    dst_mac_is("second flow, cached next hop: ", &r, hosts[h].mac) &&
		    !xlb_nexthop_flush(cur)) {
			new_flow_to(v, h, &s);
			build(&in, &s);
			run_pkt(&r, &in, DEV_XC0);
			dst_mac_is("after the generation moved: ", &r, moved);
		}
	}
	if (h >= 0 && (neigh_set(h, v->family, hosts[h].mac) || xlb_nexthop_flush(cur)))
		tc_fail("restoring the neighbour of %s failed", hosts[h].name);
}

static bool be_call(int err, const char *op)
{
	if (err)
		return tc_fail("%s: %s (%s)", op, strerror(-err), xlb_errmsg());
	return true;
}

/* The backend h's index in v->be, or -1. */
static int be_index(const struct tvip *v, int h)
{
	int i;

	for (i = 0; i < v->n_be; i++)
		if (v->be[i].host == h)
			return i;
	return -1;
}

static bool be_reweight(struct tvip *v, int i, uint32_t weight)
{
	struct xlb_endpoint ep;

	endpoint_of(&ep, v, v->be[i].host, v->be[i].port);
	if (!be_call(xlb_backend_set_weight(cur, &v->key, &ep, weight), "xlb_backend_set_weight"))
		return false;
	v->be[i].weight = weight;
	return true;
}

/* Backend slot id's entry, as the datapath and libxlb left it. */
static bool backend_entry(uint32_t id, struct xlb_backend *out)
{
	int fd = xlb_map_fd(cur, XLB_MAP_BACKENDS);

	if (fd < 0 || bpf_map_lookup_elem(fd, &id, out))
		return tc_fail("reading backend slot %u failed", id);
	return true;
}

/* The entry's next-hop cache holds a lookup for this slot towards mac. */
static bool route_cached(const char *what, const struct xlb_backend *b, const uint8_t *mac)
{
	const struct xlb_backend_nh *c = &b->route;

	if (!c->nh.ifindex || c->backend_gen != b->gen || memcmp(c->nh.dmac, mac, 6))
		return tc_fail("%sbackend entry caches ifindex %u, slot gen %u (entry %u), "
			       "another MAC than expected",
			       what, c->nh.ifindex, c->backend_gen, b->gen);
	return true;
}

/*
 * The next hop a new flow looked up stays in its backend's entry; libxlb
 * clears it whenever it writes the entry (a new address may sit behind the
 * same slot), so the next new flow asks the FIB again without waiting for
 * the generation to move, and caches the answer there again.
 */
static void t_backend_nh_cleared_by_write(int vi)
{
	static const uint8_t moved[6] = { 0x02, 0xbe, 0, 0, 0, 0x98 };
	static const struct xlb_backend_nh none;
	struct tvip *v = &vips[vi];
	uint16_t sport = next_sport();
	struct xlb_backend b;
	struct xlb_flow_key k;
	struct xlb_flow f;
	uint32_t weight = 0;
	struct pkt_spec s;
	struct pkt in;
	struct run r;
	int h, i = -1;
	__u32 id;

	h = new_flow("first flow: ", v, sport);
	if (h >= 0)
		i = be_index(v, h);
	client_spec(&s, v, sport, PKT_TCP_ACK);
	flow_key_of(&k, &s);
	if (i < 0 || flow_get(&k, &f)) {
		tc_fail("no flow entry, or no backend took the first flow");
		return;
	}
	id = f.backend_id;
	if (!backend_entry(id, &b) || !route_cached("after the first flow: ", &b, hosts[h].mac))
		return;
	weight = v->be[i].weight;
	if (!neigh_set(h, v->family, moved) && be_reweight(v, i, weight + 1) &&
	    backend_entry(id, &b)) {
		if (memcmp(&b.route, &none, sizeof(none)))
			tc_fail("writing the entry left its next-hop cache in place");
		new_flow_to(v, h, &s);
		build(&in, &s);
		run_pkt(&r, &in, DEV_XC0);
		if (check_action("after the entry was written: ", &r, XDP_REDIRECT) &&
		    dst_mac_is("after the entry was written: ", &r, moved) && backend_entry(id, &b))
			route_cached("after the next new flow: ", &b, moved);
	}
	if (v->be[i].weight != weight)
		be_reweight(v, i, weight);
	if (neigh_set(h, v->family, hosts[h].mac) || xlb_nexthop_flush(cur))
		tc_fail("restoring the neighbour of %s failed", hosts[h].name);
}

/* The epoch xlb_backend_epochs holds for slot id, or -1. */
static int epoch_of(uint32_t id)
{
	int fd = xlb_map_fd(cur, XLB_MAP_BACKEND_EPOCHS);
	struct xlb_backend_epochs e;
	uint32_t zero = 0;

	if (fd < 0 || bpf_map_lookup_elem(fd, &zero, &e))
		return -1;
	return e.epoch[id];
}

static int epoch_move_raw(uint32_t id)
{
	int fd = xlb_map_fd(cur, XLB_MAP_BACKEND_EPOCHS);
	struct xlb_backend_epochs e;
	uint32_t zero = 0;

	if (fd < 0 || bpf_map_lookup_elem(fd, &zero, &e))
		return -1;
	e.epoch[id]++;
	return bpf_map_update_elem(fd, &zero, &e, BPF_ANY) ? -1 : 0;
}

/*
 * An established nat/dsr packet trusts what its flow cached about the
 * backend while the backend's epoch stands: a change written to the entry
 * alone is not seen (libxlb always moves the epoch with it); once the epoch
 * moves, the packet reads the entry and decides from it.
 */
/* A flow's backend id as a map key (the entry holds 16 bits). */
static __u32 *f_id_ptr(const struct xlb_flow *f, __u32 *id)
{
	*id = f->backend_id;
	return id;
}

static void t_backend_epoch(int vi)
{
	const struct tvip *v = &vips[vi];
	int bfd = xlb_map_fd(cur, XLB_MAP_BACKENDS), h;
	uint16_t sport = next_sport();
	struct xlb_backend saved, down;
	struct xlb_flow_key k;
	struct pkt_spec s;
	struct xlb_flow f;
	struct pkt in;
	struct run r;
	__u32 id;

	h = new_flow("first packet: ", v, sport);
	client_spec(&s, v, sport, PKT_TCP_ACK);
	flow_key_of(&k, &s);
	if (h < 0 || flow_get(&k, &f) || bpf_map_lookup_elem(bfd, f_id_ptr(&f, &id), &saved)) {
		tc_fail("no flow entry or backend entry after the first packet");
		return;
	}
	/* A new flow takes the epoch from the entry, which libxlb writes with
	 * the value the epochs move to. */
	if (f.backend_epoch != saved.epoch || epoch_of(id) != saved.epoch) {
		tc_fail("epochs disagree: flow %u, entry %u, xlb_backend_epochs %d", f.backend_epoch,
			saved.epoch, epoch_of(id));
		return;
	}
	down = saved;
	down.flags |= XLB_BACKEND_F_DOWN;
	if (bpf_map_update_elem(bfd, &id, &down, BPF_ANY)) {
		tc_fail("writing the backend entry: %s", strerror(errno));
		return;
	}
	if (est_flow("entry marked down, epoch unchanged: ", v, sport, &r) == h &&
	    !epoch_move_raw(id)) {
		build(&in, &s);
		run_pkt(&r, &in, DEV_XC0);
		if (check_action("epoch moved: ", &r, XDP_DROP))
			check_reason("epoch moved: ", &r, XLB_R_DROP_NO_BACKEND);
	}
	if (bpf_map_update_elem(bfd, &id, &saved, BPF_ANY) || epoch_move_raw(id))
		tc_fail("restoring backend slot %u failed", id);
}

/* ---- cases: DSR, XDP_TX, no neighbour, no backend ------------------------ */

/* nat to a backend without neighbour: rewritten (TTL and MACs as they
 * were) and passed to the kernel, which resolves the neighbour. */
static void t_noneigh_nat(int vi)
{
	const struct tvip *v = &vips[vi];
	struct pkt_spec s, es;
	struct pkt in, exp;
	struct run r;

	client_spec(&s, v, next_sport(), PKT_TCP_SYN);
	es = s;
	host_addr(es.dst, v->be[0].host, v->family);
	es.dport = v->be[0].port;
	build(&in, &s);
	build(&exp, &es);
	run_pkt(&r, &in, DEV_XC0);
	if (check_action("", &r, XDP_PASS) &&
	    check_reason("", &r, XLB_R_PASS_NO_NEIGH))
		check_pkt("", &r, &exp);
}

/* A client's SYN to VIP vi. Where the VIP cannot deliver it (no backend,
 * no neighbour for dsr, the FIB cannot forward to the backend: no route,
 * blackhole, local) it is dropped or passed unchanged, not even
 * NAT-rewritten. */
static void frame_syn_to_vip(struct pkt *p, int vi)
{
	struct pkt_spec s;

	client_spec(&s, &vips[vi], next_sport(), PKT_TCP_SYN);
	build(p, &s);
}

/* IPv4 UDP without checksum: the NAT reply keeps 0 as well. */
static void t_udp4_csum0_reply(int vi)
{
	const struct tvip *v = &vips[vi];
	const struct tbe *be;
	struct pkt_spec s, rs, es;
	struct pkt in, exp;
	struct run r;

	be = open_flow(v, &s);
	if (!be)
		return;
	reply_spec(&rs, &s, be);
	rs.udp_csum_zero = true;
	es = rs;
	memcpy(es.src, v->a, 16);
	es.sport = v->port;
	es.ttl = rs.ttl - 1;
	set_macs(&es, hosts[H_CLIENT].mac, test_link_mac[DEV_XC0]);
	build(&in, &rs);
	build(&exp, &es);
	run_pkt(&r, &in, DEV_XB0);
	if (check_action("reply: ", &r, XDP_REDIRECT) &&
	    check_reason("reply: ", &r, XLB_R_REDIRECT))
		check_pkt("reply: ", &r, &exp);
}

/* ---- cases: tunnel mode ---------------------------------------------- */

/*
 * The frame tunnel mode must emit for s to backend host h: s's IP packet,
 * untouched, behind an outer header from xb0's address (what the kernel
 * uses towards the backends), TTL 64, TOS copied, IPv4 DF and ID 0, IPv6
 * flow label and GUE source port from the flow hash, GUE checksum 0; no
 * VLAN tag. The contract does not name the outer IPv4 ID nor the flow
 * label's formula: 0 and the hash's low 20 bits are expected.
 */
static void expect_tunnel(struct pkt *exp, const struct pkt_spec *s,
			  const struct tvip *v, int h)
{
	uint8_t src[16], dst[16];
	struct xlb_flow_key k;
	struct pkt_spec o;
	struct pkt inner;
	uint32_t hash;
	int fam = v->be_family;

	build(&inner, s);
	flow_key_of(&k, s);
	hash = xlb_hash_flow(&k);
	parse_addr(src, fam, fam == 4 ? test_link_v4[DEV_XB0] : test_link_v6[DEV_XB0]);
	host_addr(dst, h, fam);
	pkt_spec_l4(&o, fam, s->family == 4 ? 4 : 41, src, 0, dst, 0);
	set_macs(&o, hosts[h].mac, test_link_mac[DEV_XB0]);
	o.ttl = 64;
	o.tos = s->tos;
	o.ip_id = 0;
	o.frag_off = PKT_IP_DF;
	o.flow_label = hash & 0xfffff;
	o.payload = inner.data + inner.l3_off;
	o.payload_len = inner.len - inner.l3_off;
	if (v->encap == XLB_ENCAP_GUE) {
		o.proto = UDP;
		o.sport = (uint16_t)(32768 + hash % 16384);
		o.dport = v->gue_port;
		o.udp_csum_zero = true;
	}
	build(exp, &o);
}

/* Send s to tunnel VIP v; check the encapsulated frame byte for byte.
 * Returns the backend's host index or -1. */
static int tunnel_check(const char *what, const struct tvip *v,
			const struct pkt_spec *s, struct run *r)
{
	size_t daddr = PKT_ETH_HLEN + (v->be_family == 4 ? 16 : 24);
	struct pkt in, exp;
	char buf[256];
	uint8_t a[16];
	int h;

	build(&in, s);
	run_pkt(r, &in, DEV_XC0);
	for (h = 0; h < NHOST; h++) {
		host_addr(a, h, v->be_family);
		if (vip_be(v, h) && r->out_len >= daddr + alen(v->be_family) &&
		    !memcmp(r->out + daddr, a, alen(v->be_family)))
			break;
	}
	if (r->err || h == NHOST) {
		tc_fail("%snot tunnelled to a backend of the VIP: err %d, action %s, counters moved: %s",
			what, r->err, action_name(r->action),
			moved(r, buf, sizeof(buf)));
		fprintf(tc.dumpf, "%sunexpected output\n", what);
		pkt_hexdiff(tc.dumpf, "", "input", in.data, in.len, "output",
			    r->out, r->out_len);
		return -1;
	}
	expect_tunnel(&exp, s, v, h);
	if (!check_action(what, r, XDP_REDIRECT) ||
	    !check_reason(what, r, XLB_R_REDIRECT) ||
	    !check_pkt(what, r, &exp))
		return -1;
	return h;
}

static void t_tunnel_new(int vi)
{
	const struct tvip *v = &vips[vi];
	struct pkt_spec s;
	struct run r;
	int h;

	client_spec(&s, v, next_sport(), PKT_TCP_SYN);
	s.tos = 0x28; /* copied into the outer header */
	h = tunnel_check("", v, &s, &r);
	if (h >= 0 && check_info("", &r, XLB_R_NEW_FLOW, 1))
		same_host("", h, predict_flow(v, &s), "the VIP's table");
}

/* The established path (cached next hop) builds the same outer header. */
static void t_tunnel_established(int vi)
{
	const struct tvip *v = &vips[vi];
	struct pkt_spec s;
	struct run r;
	int h1, h2;

	client_spec(&s, v, next_sport(), PKT_TCP_SYN);
	h1 = tunnel_check("first packet: ", v, &s, &r);
	if (h1 < 0)
		return;
	client_spec(&s, v, s.sport, PKT_TCP_ACK | PKT_TCP_PSH);
	with_payload(&s);
	h2 = tunnel_check("second packet: ", v, &s, &r);
	if (h2 >= 0 && same_host("second packet: ", h2, h1, "flow table"))
		check_info("second packet: ", &r, XLB_R_NEW_FLOW, 0);
}

/* An inner VLAN tag is not carried (expect_tunnel builds none). */
static void t_tunnel_vlan(int vi)
{
	struct pkt_spec s;
	struct run r;

	client_spec(&s, &vips[vi], next_sport(), PKT_TCP_SYN);
	s.vlan_proto = PKT_ETH_P_8021Q;
	s.vlan_tci = 100;
	tunnel_check("", &vips[vi], &s, &r);
}

static void t_tunnel_noneigh(int vi)
{
	struct pkt_spec s;
	struct pkt p;

	client_spec(&s, &vips[vi], next_sport(), PKT_TCP_SYN);
	build(&p, &s);
	expect_verdict("", &p, DEV_XC0, XDP_PASS, XLB_R_PASS_NO_NEIGH);
}

/* A client packet whose IP length is exactly ip_len bytes. */
static void big_spec(struct pkt_spec *s, const struct tvip *v, size_t ip_len)
{
	static uint8_t fill[PKT_MAX];
	size_t hdrs = (v->family == 4 ? 20 : 40) + 20;

	memset(fill, 0x5a, sizeof(fill));
	client_spec(s, v, next_sport(), PKT_TCP_ACK);
	s->payload = fill;
	s->payload_len = ip_len - hdrs;
}

/*
 * Encapsulated, the packet exceeds xb0's MTU: the client gets "too big"
 * from the VIP, MTU = path MTU - encapsulation overhead, sent back out of
 * xc0 with the MACs swapped. Fields the contract leaves open (IPv4 ID,
 * TOS, DF; IPv6 traffic class, flow label; how much is quoted, as long as
 * it is a prefix of the packet and at least the IP header + 8 bytes) are
 * read from the output; everything else is built from scratch.
 */
static void t_tunnel_too_big(int vi)
{
	const struct tvip *v = &vips[vi];
	size_t ovh = v->be_family == 4 ? 20 : 40, l3, l4, ip_end, qlen;
	bool v4 = v->family == 4;
	struct pkt_spec s, e;
	struct pkt in, exp;
	struct run r;

	big_spec(&s, v, XB0_MTU);
	build(&in, &s);
	run_pkt(&r, &in, DEV_XC0);
	if (!check_action("", &r, XDP_TX) ||
	    !check_reason("", &r, XLB_R_TX_ICMP_TOO_BIG))
		return;
	/* The quote's length is the one the output's IP header claims; the
	 * frame must end where that packet ends. */
	l3 = PKT_ETH_HLEN;
	l4 = l3 + (v4 ? (r.out[l3] & 0x0f) * 4u : 40);
	ip_end = l3 + (v4 ? pkt_get16(r.out + l3 + 2) :
			    40u + pkt_get16(r.out + l3 + 4));
	qlen = ip_end > l4 + 8 ? ip_end - l4 - 8 : 0;
	if (qlen < (v4 ? 28u : 48u) || qlen > in.len - in.l3_off ||
	    ip_end > r.out_len ||
	    memcmp(r.out + l4 + 8, in.data + in.l3_off, qlen)) {
		tc_fail("the quoted packet (%zu bytes by the IP length) is not a prefix of the client's packet",
			qlen);
		return;
	}
	echo_spec(&e, v->family, s.src);
	memcpy(e.src, v->a, 16);
	set_macs(&e, hosts[H_CLIENT].mac, test_link_mac[DEV_XC0]);
	e.ttl = 64;
	e.icmp_type = v4 ? 3 : 2;
	e.icmp_code = v4 ? 4 : 0;
	e.icmp_id = v4 ? 0 : (uint16_t)((XB0_MTU - ovh) >> 16);
	e.icmp_seq = (uint16_t)(XB0_MTU - ovh);
	e.payload = in.data + in.l3_off;
	e.payload_len = qlen;
	if (v4) {
		e.ip_id = pkt_get16(r.out + l3 + 4);
		e.tos = r.out[l3 + 1];
		e.frag_off = pkt_get16(r.out + l3 + 6);
	} else {
		uint32_t w0 = (uint32_t)pkt_get16(r.out + l3) << 16 |
			      pkt_get16(r.out + l3 + 2);

		e.tos = (w0 >> 20) & 0xff;
		e.flow_label = w0 & 0xfffff;
	}
	build(&exp, &e);
	check_pkt("", &r, &exp);
}

/* IPv4 without DF that would not fit encapsulated: XDP cannot fragment. */
static void frame_too_big_no_df(struct pkt *p, int vi)
{
	struct pkt_spec s;

	big_spec(&s, &vips[vi], XB0_MTU);
	s.frag_off = 0;
	build(p, &s);
}

/* The largest packet that fits encapsulated is tunnelled. */
static void t_tunnel_fits(int vi)
{
	const struct tvip *v = &vips[vi];
	struct pkt_spec s;
	struct run r;

	big_spec(&s, v, XB0_MTU - (v->be_family == 4 ? 20 : 40) -
				(v->encap == XLB_ENCAP_GUE ? 8 : 0));
	tunnel_check("", v, &s, &r);
}

/* ---- cases: schedulers --------------------------------------------------- */

#define NFLOWS 32

/* Maglev: every new flow lands where the VIP's table says, and with
 * enough flows every backend gets some. */
static void t_maglev_many(int vi)
{
	const struct tvip *v = &vips[vi];
	struct pkt_spec s;
	struct run r;
	char what[48];
	int i, h, used = 0;

	for (i = 0; i < 2 * NFLOWS; i++) {
		snprintf(what, sizeof(what), "flow %d: ", i);
		client_spec(&s, v, next_sport(), PKT_TCP_SYN);
		h = fwd_check(what, v, &s, &r);
		if (h < 0 || !same_host(what, h, predict_flow(v, &s),
					"the VIP's table"))
			return;
		used |= 1 << h;
	}
	for (i = 0; i < v->n_be; i++)
		if (!(used & 1 << v->be[i].host))
			tc_fail("no flow of %d went to %s", 2 * NFLOWS,
				hosts[v->be[i].host].name);
}

/* New flows from the client; picks[i] is the backend of flow i. */
static bool new_flows(const struct tvip *v, int n, int *picks,
		      uint16_t *ports)
{
	char what[48];
	int i;

	for (i = 0; i < n; i++) {
		uint16_t sport = next_sport();

		snprintf(what, sizeof(what), "new flow %d: ", i);
		picks[i] = new_flow(what, v, sport);
		if (picks[i] < 0)
			return false;
		if (ports)
			ports[i] = sport;
	}
	return true;
}

static const char *pick_list(const int *picks, int n, char *buf, size_t len)
{
	size_t used = 0;
	int i;

	buf[0] = 0;
	for (i = 0; i < n && used < len; i++)
		used += snprintf(buf + used, len - used, "%s%s", i ? "," : "",
				 hosts[picks[i]].name);
	return buf;
}

/* rr: each backend in turn, the same order every round. */
static bool strict_turns(const int *picks, int n, int nbe)
{
	char buf[512];
	int i, j;

	for (i = 0; i < nbe; i++)
		for (j = 0; j < i; j++)
			if (picks[i] == picks[j])
				return tc_fail("not in turns: %s",
					       pick_list(picks, n, buf,
							 sizeof(buf)));
	for (i = nbe; i < n; i++)
		if (picks[i] != picks[i % nbe])
			return tc_fail("not in turns: %s",
				       pick_list(picks, n, buf, sizeof(buf)));
	return true;
}

static void t_rr(int vi)
{
	int picks[8 * 3];

	if (new_flows(&vips[vi], 8 * 3, picks, NULL))
		strict_turns(picks, 8 * 3, 3);
}

/* wrr 1:2:3: over 6k new flows exactly k, 2k, 3k. */
static void t_wrr(int vi)
{
	const struct tvip *v = &vips[vi];
	enum { K = 4 };
	int picks[6 * K], i, j, count;
	char buf[512];

	if (!new_flows(v, 6 * K, picks, NULL))
		return;
	for (i = 0; i < v->n_be; i++) {
		for (count = 0, j = 0; j < 6 * K; j++)
			count += picks[j] == v->be[i].host;
		if (count != (int)v->be[i].weight * K) {
			tc_fail("%s got %d of %d flows, weight %u wants %u: %s",
				hosts[v->be[i].host].name, count, 6 * K,
				v->be[i].weight, v->be[i].weight * K,
				pick_list(picks, 6 * K, buf, sizeof(buf)));
			return;
		}
	}
}

/* srchash: one client address, many ports: one backend (the table's). */
static void t_src_same(int vi)
{
	const struct tvip *v = &vips[vi];
	int picks[NFLOWS], want, i;
	struct pkt_spec s;

	client_spec(&s, v, 1, PKT_TCP_SYN);
	want = predict_src(v, &s);
	if (want < 0 || !new_flows(v, NFLOWS, picks, NULL))
		return;
	for (i = 0; i < NFLOWS; i++) {
		char what[48];

		snprintf(what, sizeof(what), "flow %d: ", i);
		if (!same_host(what, picks[i], want, "srchash of the client"))
			return;
	}
}

/* srchash: many client addresses spread over all backends, each where
 * the table puts its address. */
static void t_src_spread(int vi)
{
	const struct tvip *v = &vips[vi];
	struct pkt_spec s;
	struct run r;
	char what[48];
	int i, h, used = 0;

	for (i = 0; i < 2 * NFLOWS; i++) {
		snprintf(what, sizeof(what), "client %d: ", i);
		client_spec(&s, v, next_sport(), PKT_TCP_SYN);
		if (v->family == 4) {
			s.src[2] = 1; /* 198.18.1.i */
			s.src[3] = (uint8_t)(i + 1);
		} else {
			s.src[5] = 1; /* fd00:1::i */
			s.src[15] = (uint8_t)(i + 1);
		}
		h = fwd_check(what, v, &s, &r);
		if (h < 0 || !same_host(what, h, predict_src(v, &s),
					"srchash of the client"))
			return;
		used |= 1 << h;
	}
	for (i = 0; i < v->n_be; i++)
		if (!(used & 1 << v->be[i].host))
			tc_fail("no client of %d went to %s", 2 * NFLOWS,
				hosts[v->be[i].host].name);
}

/* ---- cases: flows across configuration changes --------------------------- */

struct flows {
	int n;
	uint16_t port[NFLOWS];
	int host[NFLOWS];
};

static bool open_flows(const struct tvip *v, struct flows *fl)
{
	fl->n = NFLOWS;
	return new_flows(v, fl->n, fl->host, fl->port);
}

static int flows_on(const struct flows *fl, int host)
{
	int i, n = 0;

	for (i = 0; i < fl->n; i++)
		n += fl->host[i] == host;
	return n;
}

/* How many flows the VIP's table now sends somewhere else: without the
 * flow table these would move. */
static int table_moved(const struct tvip *v, const struct flows *fl)
{
	struct pkt_spec s;
	int i, n = 0;

	for (i = 0; i < fl->n; i++) {
		client_spec(&s, v, fl->port[i], PKT_TCP_SYN);
		n += predict_flow(v, &s) != fl->host[i];
	}
	return n;
}

/* Every flow's next packet goes to its old backend, from the flow table. */
static bool flows_stay(const struct tvip *v, const struct flows *fl)
{
	struct run r;
	char what[64];
	int i, h;

	for (i = 0; i < fl->n; i++) {
		snprintf(what, sizeof(what), "established flow %d: ", i);
		h = est_flow(what, v, fl->port[i], &r);
		if (h < 0 || !same_host(what, h, fl->host[i], "flow table") ||
		    !check_info(what, &r, XLB_R_NEW_FLOW, 0) ||
		    !check_info(what, &r, XLB_R_RESCHEDULED, 0))
			return false;
	}
	return true;
}

/* n new flows, none on `avoid`, each where the table says. */
static bool new_flows_avoid(const struct tvip *v, int n, int avoid1,
			    int avoid2)
{
	struct pkt_spec s;
	struct run r;
	char what[64];
	int i, h;

	for (i = 0; i < n; i++) {
		snprintf(what, sizeof(what), "new flow %d: ", i);
		client_spec(&s, v, next_sport(), PKT_TCP_SYN);
		h = fwd_check(what, v, &s, &r);
		if (h < 0)
			return false;
		if (h == avoid1 || h == avoid2)
			return tc_fail("%swent to %s, which takes no new flows",
				       what, hosts[h].name);
		if (!same_host(what, h, predict_flow(v, &s), "the VIP's table"))
			return false;
	}
	return true;
}

static bool need_moved(const struct tvip *v, const struct flows *fl)
{
	if (table_moved(v, fl) > 0)
		return true;
	return tc_fail("precondition: the change moved none of %d flows in the table",
		       fl->n);
}

static void t_sticky_add(int vi)
{
	struct tvip *v = &vips[vi];
	struct xlb_endpoint ep;
	struct flows fl;

	if (!open_flows(v, &fl))
		return;
	endpoint_of(&ep, v, H_BE13, 8080);
	if (!be_call(xlb_backend_add(cur, &v->key, &ep, 1), "xlb_backend_add"))
		return;
	v->be[v->n_be++] = (struct tbe){ H_BE13, 8080, 1 };
	if (need_moved(v, &fl) && flows_stay(v, &fl))
		new_flows_avoid(v, NFLOWS, -1, -1);
}

static void t_sticky_reweight(int vi)
{
	struct tvip *v = &vips[vi];
	struct xlb_endpoint ep;
	struct flows fl;

	if (!open_flows(v, &fl))
		return;
	endpoint_of(&ep, v, H_BE11, 8080);
	if (!be_call(xlb_backend_set_weight(cur, &v->key, &ep, 5),
		     "xlb_backend_set_weight"))
		return;
	v->be[0].weight = 5;
	if (need_moved(v, &fl) && flows_stay(v, &fl))
		new_flows_avoid(v, NFLOWS, -1, -1);
}

/* ---- cases: marks of confirmed flows (xlb_flow_marks) --------------------- */

/* Each flow confirmed, in xlb_flows, and its cell marked live. */
static bool flows_marked(const struct tvip *v, const struct flows *fl)
{
	uint32_t gen = xlb_flow_mark_gen(cur);
	struct xlb_flow_key k;
	struct pkt_spec s;
	struct xlb_flow f;
	uint32_t cell;
	int i;

	if (!gen)
		return tc_fail("the mark generation is 0: marks are not kept");
	for (i = 0; i < fl->n; i++) {
		client_spec(&s, v, fl->port[i], PKT_TCP_SYN);
		flow_key_of(&k, &s);
		if (flow_get_in(XLB_MAP_FLOWS, &k, &f))
			return tc_fail("flow %d: not confirmed after its ACK", i);
		cell = xlb_flow_mark_of(cur, &k);
		if (!xlb_flow_mark_live(cell, gen))
			return tc_fail("flow %d: its cell holds %u, generation %u: not live", i,
				       cell, gen);
	}
	return true;
}

/* SYNs on the flows' tuples: to their own backend (found by their mark) or,
 * with want_table, where the table says (no mark, no lookup: a new flow). */
static bool syns_go(const struct tvip *v, const struct flows *fl, bool want_table)
{
	struct pkt_spec s;
	struct run r;
	char what[64];
	int i, h;

	for (i = 0; i < fl->n; i++) {
		snprintf(what, sizeof(what), "SYN on flow %d: ", i);
		client_spec(&s, v, fl->port[i], PKT_TCP_SYN);
		h = fwd_check(what, v, &s, &r);
		if (h < 0 ||
		    !same_host(what, h, want_table ? predict_flow(v, &s) : fl->host[i],
			       want_table ? "the VIP's table (cell cleared)" : "its confirmed flow") ||
		    !check_info(what, &r, XLB_R_NEW_FLOW, want_table))
			return false;
	}
	return true;
}

static void marks_clear(const struct tvip *v, const struct flows *fl)
{
	struct xlb_flow_key k;
	struct pkt_spec s;
	int i;

	for (i = 0; i < fl->n; i++) {
		client_spec(&s, v, fl->port[i], PKT_TCP_SYN);
		flow_key_of(&k, &s);
		xlb_flow_mark_clear(cur, &k);
	}
}

/* Every flow's word made a full word's catch-all (as a word with no room
 * for another fingerprint, or a writer that lost its races, leaves it). */
static bool marks_catch_all(const struct tvip *v, const struct flows *fl)
{
	int fd = xlb_map_fd(cur, XLB_MAP_FLOW_MARKS);
	__u64 all = xlb_flow_mark_all(xlb_flow_mark_gen(cur));
	struct xlb_flow_usage u;
	struct xlb_flow_key k;
	struct pkt_spec s;
	__u32 word;
	int i;

	if (fd < 0 || xlb_flow_usage(cur, &u))
		return tc_fail("reading the marks: %s", xlb_errmsg());
	for (i = 0; i < fl->n; i++) {
		client_spec(&s, v, fl->port[i], PKT_TCP_SYN);
		flow_key_of(&k, &s);
		word = xlb_hash_flow(&k) & (uint32_t)(u.mark_cells / XLB_FLOW_MARKS_PER_WORD - 1);
		if (bpf_map_update_elem(fd, &word, &all, BPF_ANY))
			return tc_fail("writing mark word %u: %s", word, strerror(errno));
	}
	return true;
}

/* A SYN looks the confirmed table up only where a mark says a confirmed
 * flow may be: confirmed dsr flows are marked; after a backend add moved
 * their table slots, a SYN on their tuples still reaches their backends;
 * with their words cleared it is scheduled as the table says, which shows
 * the mark is what sends it to the lookup; with their words all catch-all
 * cells (a full word) it reaches its confirmed flow again. */
static void t_syn_marks(int vi)
{
	struct tvip *v = &vips[vi];
	struct xlb_endpoint ep;
	struct flows fl;

	if (!open_flows(v, &fl) || !flows_stay(v, &fl) || !flows_marked(v, &fl))
		return;
	endpoint_of(&ep, v, H_BE13, 80);
	if (!be_call(xlb_backend_add(cur, &v->key, &ep, 1), "xlb_backend_add"))
		return;
	v->be[v->n_be++] = (struct tbe){ H_BE13, 80, 1 };
	if (!need_moved(v, &fl) || !syns_go(v, &fl, false))
		return;
	marks_clear(v, &fl);
	if (syns_go(v, &fl, true) && marks_catch_all(v, &fl))
		syns_go(v, &fl, false);
}

static bool need_flows_on(const struct flows *fl, int host)
{
	if (flows_on(fl, host))
		return true;
	return tc_fail("precondition: none of %d flows went to %s", fl->n,
		       hosts[host].name);
}

/* drain: no new flow on the backend, its established flows continue. */
static void t_drain(int vi)
{
	struct tvip *v = &vips[vi];
	struct xlb_endpoint ep;
	struct flows fl;

	if (!open_flows(v, &fl) || !need_flows_on(&fl, H_BE12))
		return;
	endpoint_of(&ep, v, H_BE12, 8080);
	if (!be_call(xlb_backend_set_drain(cur, &v->key, &ep, true),
		     "xlb_backend_set_drain"))
		return;
	if (flows_stay(v, &fl))
		new_flows_avoid(v, 2 * NFLOWS, H_BE12, -1);
}

/* Drain lifted: the backend takes new flows again. */
static void t_undrain(int vi)
{
	struct tvip *v = &vips[vi];
	struct xlb_endpoint ep;
	struct flows fl;

	endpoint_of(&ep, v, H_BE12, 8080);
	if (!be_call(xlb_backend_set_drain(cur, &v->key, &ep, false),
		     "xlb_backend_set_drain false") ||
	    !new_flows_avoid(v, NFLOWS, -1, -1))
		return;
	if (open_flows(v, &fl))
		need_flows_on(&fl, H_BE12);
}

/*
 * A backend removed and added again is a new backend (new slot or new
 * generation): its old flows are rescheduled, even onto the same address.
 */
static void t_readded(int vi)
{
	struct tvip *v = &vips[vi];
	struct xlb_endpoint ep;
	struct flows fl;
	struct run r;
	int h;

	fl.n = 1;
	if (!new_flows(v, 1, fl.host, fl.port))
		return;
	endpoint_of(&ep, v, H_BE11, 8080);
	if (!be_call(xlb_backend_del(cur, &v->key, &ep), "xlb_backend_del") ||
	    !be_call(xlb_backend_add(cur, &v->key, &ep, 1), "xlb_backend_add"))
		return;
	h = est_flow("after re-add: ", v, fl.port[0], &r);
	if (h >= 0 && same_host("after re-add: ", h, H_BE11, "only backend"))
		check_info("after re-add: ", &r, XLB_R_RESCHEDULED, 1);
}

/* A backend added with weight 0 takes no new flow. */
static void t_w0_added(int vi)
{
	new_flows_avoid(&vips[vi], 2 * NFLOWS, H_BE13, -1);
}

/* Weight 0 is drain: established flows continue, no new ones. */
static void t_w0_set(int vi)
{
	struct tvip *v = &vips[vi];
	struct xlb_endpoint ep;
	struct flows fl;

	if (!open_flows(v, &fl) || !need_flows_on(&fl, H_BE12))
		return;
	endpoint_of(&ep, v, H_BE12, 8080);
	if (!be_call(xlb_backend_set_weight(cur, &v->key, &ep, 0),
		     "xlb_backend_set_weight"))
		return;
	v->be[1].weight = 0;
	if (flows_stay(v, &fl))
		new_flows_avoid(v, 2 * NFLOWS, H_BE12, H_BE13);
}

/*
 * After `gone` left (removed or down), its flows are rescheduled onto the
 * table's choice (counted), the others stay, and a rescheduled flow then
 * stays on its new backend.
 */
static bool flows_rescheduled(const struct tvip *v, const struct flows *fl,
			      int gone)
{
	struct pkt_spec s;
	struct run r;
	char what[64];
	int i, h, pass;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < fl->n; i++) {
			bool moves = fl->host[i] == gone && pass == 0;

			snprintf(what, sizeof(what), "%sflow %d (was on %s): ",
				 pass ? "again: " : "", i,
				 hosts[fl->host[i]].name);
			h = est_flow(what, v, fl->port[i], &r);
			if (h < 0)
				return false;
			if (h == gone)
				return tc_fail("%sstill sent to %s", what,
					       hosts[gone].name);
			client_spec(&s, v, fl->port[i], PKT_TCP_SYN);
			if (!same_host(what, h,
				       fl->host[i] == gone ?
					       predict_flow(v, &s) :
					       fl->host[i],
				       fl->host[i] == gone ? "the VIP's table" :
							     "flow table") ||
			    !check_info(what, &r, XLB_R_RESCHEDULED, moves))
				return false;
		}
	}
	return true;
}

static void vip_forget_be(struct tvip *v, int host)
{
	int i;

	for (i = 0; i < v->n_be; i++)
		if (v->be[i].host == host)
			v->be[i] = v->be[--v->n_be];
}

static void t_removed(int vi)
{
	struct tvip *v = &vips[vi];
	struct xlb_endpoint ep;
	struct flows fl;

	if (!open_flows(v, &fl) || !need_flows_on(&fl, H_BE12))
		return;
	endpoint_of(&ep, v, H_BE12, 8080);
	if (!be_call(xlb_backend_del(cur, &v->key, &ep), "xlb_backend_del"))
		return;
	vip_forget_be(v, H_BE12);
	flows_rescheduled(v, &fl, H_BE12);
}

static void t_down(int vi)
{
	struct tvip *v = &vips[vi];
	struct xlb_endpoint ep;
	struct flows fl;

	if (!open_flows(v, &fl) || !need_flows_on(&fl, H_BE12))
		return;
	endpoint_of(&ep, v, H_BE12, 8080);
	if (!be_call(xlb_backend_set_down(cur, &v->key, &ep, true),
		     "xlb_backend_set_down"))
		return;
	if (flows_rescheduled(v, &fl, H_BE12))
		new_flows_avoid(v, NFLOWS, H_BE12, -1);
}

/* Every backend drained: new flows are dropped, established ones go on. */
static void t_all_drained(int vi)
{
	struct tvip *v = &vips[vi];
	struct xlb_endpoint ep;
	struct pkt_spec s;
	struct flows fl;
	struct pkt p;

	fl.n = 1;
	if (!new_flows(v, 1, fl.host, fl.port))
		return;
	endpoint_of(&ep, v, v->be[0].host, v->be[0].port);
	if (!be_call(xlb_backend_set_drain(cur, &v->key, &ep, true),
		     "xlb_backend_set_drain"))
		return;
	client_spec(&s, v, next_sport(), PKT_TCP_SYN);
	build(&p, &s);
	if (expect_verdict("new flow: ", &p, DEV_XC0, XDP_DROP,
			   XLB_R_DROP_NO_BACKEND))
		flows_stay(v, &fl);
}

/* Switching the scheduler keeps established flows; new ones follow rr. */
static void t_vip_set(int vi)
{
	struct tvip *v = &vips[vi];
	struct xlb_vip_spec spec = { .key = v->key, .sched = XLB_SCHED_RR,
				     .mode = v->mode };
	int picks[6];
	struct flows fl;

	if (!open_flows(v, &fl))
		return;
	if (!be_call(xlb_vip_set(cur, &spec), "xlb_vip_set"))
		return;
	v->sched = XLB_SCHED_RR;
	if (flows_stay(v, &fl) && new_flows(v, 6, picks, NULL))
		strict_turns(picks, 6, 3);
}

/* A UDP flow idle past the timeout is scheduled afresh (here: away from
 * its now drained backend); before the timeout it stays. */
static void t_udp_idle(int unused)
{
	struct tvip *v = &idle_vip;
	struct xlb_endpoint ep;
	struct pkt_spec s;
	struct run r;
	int h1, h2;

	(void)unused;
	if (!X_IDLE) {
		tc_fail("second instance (udp_idle_ns) not loaded");
		return;
	}
	cur = X_IDLE;
	client_spec(&s, v, next_sport(), 0);
	with_payload(&s);
	h1 = fwd_check("first datagram: ", v, &s, &r);
	if (h1 < 0)
		goto out;
	endpoint_of(&ep, v, h1, vip_be(v, h1)->port);
	if (!be_call(xlb_backend_set_drain(cur, &v->key, &ep, true),
		     "xlb_backend_set_drain"))
		goto out;
	h2 = fwd_check("datagram within the timeout: ", v, &s, &r);
	if (h2 < 0 || !same_host("datagram within the timeout: ", h2, h1,
				 "flow table, not idle yet"))
		goto out;
	/* Five timeouts: also covers a last-seen refreshed only each second. */
	usleep(1500 * 1000);
	h2 = fwd_check("datagram after the timeout: ", v, &s, &r);
	if (h2 < 0)
		goto out;
	if (h2 == h1)
		tc_fail("idle flow still on drained %s after %llu ms idle "
			"(timeout %llu ms)",
			hosts[h1].name, 1500ull, IDLE_NS / 1000000);
	else
		same_host("datagram after the timeout: ", h2,
			  predict_flow(v, &s), "the VIP's table");
out:
	cur = X;
}

/* ---- cases: traffic that is not ours ------------------------------------- */

static void arp_spec(struct pkt_spec *s)
{
	static uint8_t arp[28] = {
		0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01, /* request */
		0x02, 0xc1, 0, 0, 0, 0x02, 198, 18, 0, 2, /* sender */
		0, 0, 0, 0, 0, 0, 198, 18, 0, 1, /* target */
	};
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	memset(s, 0, sizeof(*s));
	set_macs(s, bcast, hosts[H_CLIENT].mac);
	s->ethertype = PKT_ETH_P_ARP;
	s->payload = arp;
	s->payload_len = sizeof(arp);
}

static void frame_arp(struct pkt *p, int vlan)
{
	struct pkt_spec s;

	arp_spec(&s);
	if (vlan) {
		s.vlan_proto = PKT_ETH_P_8021Q;
		s.vlan_tci = 100;
	}
	build(p, &s);
}

static void frame_lldp(struct pkt *p, int unused)
{
	static const uint8_t lldp[] = { 0x02, 0x07, 0x04, 0x02, 0xc1, 0, 0, 0,
					0x02, 0x04, 0x03, 0x05, 'x', 'c', 0x06,
					0x02, 0x00, 0x78, 0x00, 0x00 };
	static const uint8_t dst[6] = { 0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e };
	struct pkt_spec s;

	(void)unused;
	memset(&s, 0, sizeof(s));
	set_macs(&s, dst, hosts[H_CLIENT].mac);
	s.ethertype = PKT_ETH_P_LLDP;
	s.payload = lldp;
	s.payload_len = sizeof(lldp);
	build(p, &s);
}

/* Echo to a VIP address is answered by xlb: type 0/129 from the VIP,
 * TTL 64, MACs swapped, XDP_TX; the rest of the request as it was. */
static void echo_answered(const struct pkt_spec *s)
{
	struct pkt_spec e = *s;
	struct pkt in, exp;
	struct run r;

	memcpy(e.src, s->dst, 16);
	memcpy(e.dst, s->src, 16);
	e.ttl = 64;
	e.icmp_type = s->family == 4 ? 0 : 129;
	set_macs(&e, s->eth_src, s->eth_dst);
	build(&in, s);
	build(&exp, &e);
	run_pkt(&r, &in, DEV_XC0);
	if (check_action("", &r, XDP_TX) &&
	    check_reason("", &r, XLB_R_TX_ICMP_ECHO))
		check_pkt("", &r, &exp);
}

static void t_icmp_echo(int vi)
{
	struct pkt_spec s;

	echo_spec(&s, vips[vi].family, vips[vi].a);
	echo_answered(&s);
}

static void t_icmp_echo_vlan(int vi)
{
	struct pkt_spec s;

	echo_spec(&s, vips[vi].family, vips[vi].a);
	s.vlan_proto = PKT_ETH_P_8021Q;
	s.vlan_tci = 100;
	echo_answered(&s);
}

/* ICMP types other than echo and the errors, to a VIP address: IPv4 echo
 * reply, ICMPv6 neighbour solicitation. */
static void frame_icmp_other_type(struct pkt *p, int vi)
{
	const struct tvip *v = &vips[vi];
	struct pkt_spec s;

	echo_spec(&s, v->family, v->a);
	if (v->family == 4) {
		s.icmp_type = 0;
	} else {
		s.icmp_type = 135;
		s.icmp_id = 0;
		s.icmp_seq = 0;
		s.payload = v->a; /* target address */
		s.payload_len = 16;
		s.ttl = 255;
	}
	build(p, &s);
}

static void frame_icmp_echo_other(struct pkt *p, int family)
{
	struct pkt_spec s;

	client_spec_to(&s, family, family == 4 ? PKT_NH_ICMP : PKT_NH_ICMPV6,
		       family == 4 ? V4_OTHER : V6_OTHER, 0, 0);
	s.sport = 0;
	s.icmp_type = family == 4 ? 8 : 128;
	s.icmp_id = 0x4243;
	s.icmp_seq = 9;
	s.payload = data13;
	s.payload_len = 13;
	build(p, &s);
}

/*
 * An ICMP error from a router on the client side (IPv4 "fragmentation
 * needed" or time exceeded, IPv6 "packet too big"), addressed to the VIP
 * and quoting the packet q (as the VIP sent it: VIP:port -> client). IPv4
 * quotes the IP header + 8 bytes (RFC 792), IPv6 the whole packet.
 */
static void icmp_error_spec(struct pkt_spec *e, struct pkt *quoted,
			    const struct tvip *v, const struct pkt_spec *fwd,
			    uint8_t type)
{
	struct pkt_spec q;
	uint8_t router[16];
	size_t qlen;

	pkt_spec_l4(&q, v->family, v->proto, v->a, v->port, fwd->src,
		    fwd->sport);
	q.tcp_flags = PKT_TCP_SYN | PKT_TCP_ACK;
	q.payload = data13;
	q.payload_len = 13;
	build(quoted, &q);
	qlen = quoted->len - quoted->l3_off;
	if (v->family == 4)
		qlen = 28;
	parse_addr(router, v->family, v->family == 4 ? "198.18.0.254" :
						       "fd00::fe");
	pkt_spec_l4(e, v->family, v->family == 4 ? PKT_NH_ICMP : PKT_NH_ICMPV6,
		    router, 0, v->a, 0);
	set_macs(e, test_link_mac[DEV_XC0], hosts[H_CLIENT].mac);
	e->icmp_type = type;
	e->icmp_code = type == 3 ? 4 : 0;
	e->icmp_id = 0;
	e->icmp_seq = type == 11 ? 0 : 1280; /* next-hop MTU (v4: bytes 6-7) */
	e->payload = quoted->data + quoted->l3_off;
	e->payload_len = qlen;
}

/* The quoted packet as a nat flow's backend sent it: source address and
 * port the backend's, the quoted IPv4 header checksum patched, nothing
 * else (the quoted L4 checksum is not). */
static void quote_from_backend(uint8_t *q, int family, const struct tbe *be)
{
	size_t hl = family == 4 ? (q[0] & 0x0f) * 4u : 40;
	uint8_t a[16];

	host_addr(a, be->host, family);
	memcpy(q + (family == 4 ? 12 : 8), a, alen(family));
	pkt_put16(q + hl, be->port);
	if (family == 4)
		pkt_put16(q + 10, pkt_ipv4_csum(q, hl));
}

#define ICMP_TRAILER 0x100

/* An error quoting a flow's packet goes to that flow's backend (arg: VIP,
 * | ICMP_TRAILER for a frame with 6 bytes after the IP packet, which the
 * backend does not get). */
static void t_icmp_error_steered(int arg)
{
	const struct tvip *v = &vips[arg & 0xff];
	uint8_t type = v->family == 6 ? 2 : v->mode == DSR ? 11 : 3;
	uint8_t q2[PKT_MAX];
	struct pkt_spec s, e, es;
	struct pkt quoted, in, exp;
	const struct tbe *be;
	struct run r;

	be = open_flow(v, &s);
	if (!be)
		return;
	icmp_error_spec(&e, &quoted, v, &s, type);
	es = e;
	if (v->mode == NAT) {
		memcpy(q2, e.payload, e.payload_len);
		quote_from_backend(q2, v->family, be);
		es.payload = q2;
		host_addr(es.dst, be->host, v->family);
		es.ttl = e.ttl - 1;
	}
	set_macs(&es, hosts[be->host].mac, test_link_mac[hosts[be->host].dev]);
	build(&in, &e);
	build(&exp, &es);
	if (arg & ICMP_TRAILER) {
		memset(in.data + in.len, 0xee, 6);
		in.len += 6;
	}
	run_pkt(&r, &in, DEV_XC0);
	if (check_action("", &r, XDP_REDIRECT) &&
	    check_reason("", &r, XLB_R_REDIRECT) &&
	    check_info("", &r, XLB_R_ICMP_TO_BACKEND, 1))
		check_pkt("", &r, &exp);
}

/* An error quoting a tuple that is no flow: the kernel's (pass_icmp). */
static void frame_icmp_error_no_flow(struct pkt *p, int vi)
{
	const struct tvip *v = &vips[vi];
	struct pkt_spec s, e;
	struct pkt quoted;

	client_spec(&s, v, next_sport(), PKT_TCP_SYN); /* never sent */
	icmp_error_spec(&e, &quoted, v, &s, v->family == 4 ? 3 : 2);
	build(p, &e);
}

/* A SYN that is for no VIP: to another address, or to a VIP's address on
 * another port or protocol. */
static void frame_to_non_vip(struct pkt *p, int family)
{
	struct pkt_spec s;

	client_spec_to(&s, family, TCP, family == 4 ? V4_OTHER : V6_OTHER, 80, PKT_TCP_SYN);
	build(p, &s);
}

static void frame_vip_other_port(struct pkt *p, int vi)
{
	struct pkt_spec s;

	client_spec_to(&s, vips[vi].family, TCP, vips[vi].addr, 81, PKT_TCP_SYN);
	build(p, &s);
}

/* The VIP is tcp/80: udp/80 to the same address is not it. */
static void frame_vip_other_proto(struct pkt *p, int vi)
{
	struct pkt_spec s;

	client_spec_to(&s, vips[vi].family, UDP, vips[vi].addr, vips[vi].port, PKT_TCP_SYN);
	build(p, &s);
}

/* Neither TCP nor UDP (SCTP here), even to a VIP address. */
static void frame_sctp_to_vip(struct pkt *p, int vi)
{
	static const uint8_t sctp[16] = { 0x30, 0x39, 0x00, 0x50, 0, 0, 0, 0,
					  0xde, 0xad, 0xbe, 0xef, 1, 0, 0, 4 };
	struct pkt_spec s;

	client_spec(&s, &vips[vi], next_sport(), 0);
	s.proto = 132;
	s.payload = sctp;
	s.payload_len = sizeof(sctp);
	build(p, &s);
}

/* ---- cases: VLAN --------------------------------------------------------- */

/* One 802.1Q tag is parsed and kept in the forwarded frame. */
static void spec_vlan(struct pkt_spec *s, int vi, int tci)
{
	client_spec(s, &vips[vi], next_sport(), PKT_TCP_SYN);
	s->vlan_proto = PKT_ETH_P_8021Q;
	s->vlan_tci = (uint16_t)tci;
}

/* QinQ (two 802.1Q tags) and 802.1ad are not parsed. */
static void frame_vlan_unparsed(struct pkt *p, int qinq)
{
	struct pkt_spec s;

	client_spec(&s, &vips[V4_NAT], next_sport(), PKT_TCP_SYN);
	if (qinq) {
		s.vlan_proto = PKT_ETH_P_8021Q;
		s.vlan_tci = 100;
		s.vlan2_proto = PKT_ETH_P_8021Q;
		s.vlan2_tci = 200;
	} else {
		s.vlan_proto = PKT_ETH_P_8021AD;
		s.vlan_tci = 100;
	}
	build(p, &s);
}

/* ---- cases: IPv4 options, IPv6 extension headers ------------------------- */

/* Router alert, then one unknown (experimental, RFC 4727) option with
 * patterned data filling the rest: shifted or rewritten option bytes show. */
static void fill_ip_opts(uint8_t *o, size_t len)
{
	size_t i;

	o[0] = 0x94;
	o[1] = 4;
	o[2] = 0;
	o[3] = 0;
	if (len < 8)
		return;
	o[4] = 0x9e;
	o[5] = (uint8_t)(len - 4);
	for (i = 6; i < len; i++)
		o[i] = (uint8_t)(0x30 + i);
}

static void spec_ip_options(struct pkt_spec *s, int vi, int ihl)
{
	client_spec(s, &vips[vi], next_sport(), PKT_TCP_SYN);
	s->ip_opts_len = (uint8_t)((ihl - 5) * 4);
	fill_ip_opts(s->ip_opts, s->ip_opts_len);
}

static void add_ext(struct pkt_spec *s, uint8_t type, uint16_t len)
{
	s->ext[s->n_ext].type = type;
	s->ext[s->n_ext].len = len;
	s->n_ext++;
}

enum {
	X_HBH_DST, X_ROUTING, X_CHAIN4, X_UDP_HBH, /* forwarded */
	X_CHAIN5, X_AH, X_ESP, X_NONEXT, /* pass_ipv6_ext */
};

static void ext_spec(struct pkt_spec *s, int kind)
{
	const struct tvip *v = &vips[kind == X_UDP_HBH ? V6_UDP : V6_NAT];

	client_spec(s, v, next_sport(), PKT_TCP_SYN);
	with_payload(s);
	switch (kind) {
	case X_HBH_DST:
		add_ext(s, PKT_NH_HOP, 8);
		add_ext(s, PKT_NH_DSTOPTS, 16);
		break;
	case X_ROUTING:
		add_ext(s, PKT_NH_HOP, 8);
		add_ext(s, PKT_NH_ROUTING, 24);
		add_ext(s, PKT_NH_DSTOPTS, 8);
		break;
	case X_CHAIN4:
	case X_CHAIN5:
		add_ext(s, PKT_NH_HOP, 8);
		add_ext(s, PKT_NH_DSTOPTS, 8);
		add_ext(s, PKT_NH_ROUTING, 16);
		add_ext(s, PKT_NH_DSTOPTS, 24);
		if (kind == X_CHAIN5)
			add_ext(s, PKT_NH_DSTOPTS, 8);
		break;
	case X_UDP_HBH:
		add_ext(s, PKT_NH_HOP, 16);
		break;
	case X_AH:
		add_ext(s, PKT_NH_AH, 24);
		break;
	case X_ESP:
		s->proto = PKT_NH_ESP;
		break;
	case X_NONEXT:
		add_ext(s, PKT_NH_HOP, 8);
		s->proto = PKT_NH_NONE;
		s->payload_len = 0;
		break;
	}
}

static void spec_v6_ext(struct pkt_spec *s, int vi, int kind)
{
	(void)vi; /* the kind names its VIP: V6_UDP for X_UDP_HBH, else V6_NAT */
	ext_spec(s, kind);
}

/* Chains xlb does not walk (too long, AH, ESP, no next header). */
static void frame_v6_ext(struct pkt *p, int kind)
{
	struct pkt_spec s;

	ext_spec(&s, kind);
	build(p, &s);
}

/* ---- cases: fragments ---------------------------------------------------- */

enum { F_MF, F_OFFSET, F_OTHER_PORT }; /* | F_NONVIP */

/* A payload that makes the fragment's data (TCP header included) a
 * multiple of 8 bytes, as every fragment but the last must be. */
static void frag_payload(struct pkt_spec *s)
{
	with_payload(s);
	s->payload_len -= (20 + s->payload_len) % 8;
}
#define F_NONVIP 0x10

static void frame_frag4(struct pkt *p, int kind)
{
	bool nonvip = kind & F_NONVIP;
	struct pkt_spec s;

	kind &= ~F_NONVIP;
	if (nonvip)
		client_spec_to(&s, 4, TCP, V4_OTHER, 80, PKT_TCP_SYN);
	else
		client_spec(&s, &vips[V4_NAT], next_sport(), PKT_TCP_SYN);
	if (kind == F_OTHER_PORT)
		s.dport = 81;
	s.frag_off = kind == F_OFFSET ? 185 : PKT_IP_MF;
	frag_payload(&s);
	build(p, &s);
}

enum { F6_FIRST, F6_OFFSET, F6_AFTER_HBH };

static void frame_frag6(struct pkt *p, int kind)
{
	bool nonvip = kind & F_NONVIP;
	struct pkt_spec s;

	kind &= ~F_NONVIP;
	if (nonvip)
		client_spec_to(&s, 6, TCP, V6_OTHER, 80, PKT_TCP_SYN);
	else
		client_spec(&s, &vips[V6_NAT], next_sport(), PKT_TCP_SYN);
	if (kind == F6_AFTER_HBH)
		add_ext(&s, PKT_NH_HOP, 8);
	add_ext(&s, PKT_NH_FRAGMENT, 8);
	/* offset in 8-byte units << 3, M in bit 0 */
	s.ext[s.n_ext - 1].frag = kind == F6_OFFSET ? 185 << 3 : 1;
	frag_payload(&s);
	build(p, &s);
}

/* ---- cases: truncation and bad lengths ----------------------------------- */

/* Cut p at every length in [from, to) and expect the same verdict. */
static void cut_range(const struct pkt *p, size_t from, size_t to,
		      uint32_t action, enum xlb_reason reason)
{
	static struct pkt c;
	char what[32];
	size_t len;

	for (len = from; len < to; len++) {
		c = *p;
		c.len = len;
		snprintf(what, sizeof(what), "cut at %zu bytes: ", len);
		if (!expect_verdict(what, &c, DEV_XC0, action, reason))
			return;
	}
}

/* The IP header says the packet ends at len: L4 is short, not the frame. */
static void set_ip_end(struct pkt *p, int family, size_t len)
{
	uint8_t *ip = p->data + p->l3_off;

	p->len = len;
	if (family == 4) {
		pkt_put16(ip + 2, (uint16_t)(len - p->l3_off));
		pkt_fix_ipv4_csum(p);
	} else {
		pkt_put16(ip + 4, (uint16_t)(len - p->l3_off - 40));
	}
}

/* Frames shorter than Ethernet never reach the program: the kernel's test
 * run refuses them (as drivers drop runts). Checked so that a kernel that
 * starts accepting them makes this case ask for the real check. */
static void t_cut_eth(int unused)
{
	struct pkt_spec s;
	struct run r;
	struct pkt p;
	size_t len;

	(void)unused;
	client_spec(&s, &vips[V4_NAT], next_sport(), PKT_TCP_SYN);
	build(&p, &s);
	for (len = 0; len < PKT_ETH_HLEN; len++) {
		run_on(cur, &r, p.data, len, DEV_XC0);
		if (r.err != -EINVAL) {
			tc_fail("cut at %zu bytes: the kernel ran it (err %d, "
				"action %s): expected EINVAL; the datapath "
				"must answer pass_malformed",
				len, r.err, action_name(r.action));
			return;
		}
	}
	test_log("cut_eth: lengths 0..13 refused by BPF_PROG_TEST_RUN (EINVAL)");
}

enum { C_V4, C_V6, C_V4_VLAN, C_V6_EXT };

static void cut_spec(struct pkt_spec *s, int kind)
{
	if (kind == C_V6_EXT) {
		ext_spec(s, X_HBH_DST);
		return;
	}
	client_spec(s, &vips[kind == C_V6 ? V6_NAT : V4_NAT], next_sport(),
		    PKT_TCP_SYN);
	if (kind == C_V4_VLAN) {
		s->vlan_proto = PKT_ETH_P_8021Q;
		s->vlan_tci = 100;
	}
}

/* Frame cut inside the VLAN tag or the IP header. */
static void t_cut_l3(int kind)
{
	struct pkt_spec s;
	struct pkt p;

	cut_spec(&s, kind);
	build(&p, &s);
	cut_range(&p, PKT_ETH_HLEN, p.l3_off + (s.family == 4 ? 20 : 40),
		  XDP_PASS, XLB_R_PASS_MALFORMED);
}

/* Frame cut after the IP header: IP's length is beyond the frame (and,
 * with extension headers, the cut also falls inside them). */
static void t_cut_l4_frame(int kind)
{
	struct pkt_spec s;
	struct pkt p;

	cut_spec(&s, kind);
	build(&p, &s);
	cut_range(&p, p.l3_off + (s.family == 4 ? 20 : 40), p.len, XDP_DROP,
		  XLB_R_DROP_MALFORMED);
}

/* IPv6 payload length agrees with the frame, which ends inside the
 * extension headers: they do not fit. */
static void t_cut_ext_consistent(int unused)
{
	struct pkt_spec s;
	struct pkt p, c;
	char what[32];
	size_t len;

	(void)unused;
	ext_spec(&s, X_HBH_DST);
	build(&p, &s);
	for (len = p.l3_off + 40; len < p.l4_off; len++) {
		c = p;
		set_ip_end(&c, 6, len);
		snprintf(what, sizeof(what), "%zu ext bytes: ",
			 len - p.l3_off - 40);
		if (!expect_verdict(what, &c, DEV_XC0, XDP_DROP,
				    XLB_R_DROP_MALFORMED))
			return;
	}
}

/* The main nat VIP of a family and protocol. */
static const struct tvip *vip_for(int family, uint8_t proto)
{
	if (family == 4)
		return &vips[proto == TCP ? V4_NAT : V4_UDP];
	return &vips[proto == TCP ? V6_NAT : V6_UDP];
}

/* IP lengths agree with the frame, L4 header short. To a VIP address:
 * drop_malformed; elsewhere: pass_malformed. */
static void t_short_l4(int family, uint8_t proto, bool vip, int ext)
{
	size_t hdr = proto == TCP ? 20 : 8, k;
	struct pkt_spec s;
	struct pkt p, c;
	char what[32];

	if (vip)
		client_spec(&s, vip_for(family, proto), next_sport(),
			    PKT_TCP_SYN);
	else
		client_spec_to(&s, family, proto, family == 4 ? V4_OTHER : V6_OTHER,
			       80, PKT_TCP_SYN);
	if (ext)
		add_ext(&s, PKT_NH_HOP, 8);
	build(&p, &s);
	for (k = 0; k < hdr; k++) {
		c = p;
		set_ip_end(&c, family, p.l4_off + k);
		snprintf(what, sizeof(what), "%zu L4 bytes: ", k);
		if (!expect_verdict(what, &c, DEV_XC0, vip ? XDP_DROP : XDP_PASS,
				    vip ? XLB_R_DROP_MALFORMED :
					  XLB_R_PASS_MALFORMED))
			return;
	}
}

enum { S_TCP, S_UDP, S_TCP_EXT };

static void t_short_vip4(int k)
{
	t_short_l4(4, k == S_UDP ? UDP : TCP, true, 0);
}

static void t_short_other4(int k)
{
	t_short_l4(4, k == S_UDP ? UDP : TCP, false, 0);
}

static void t_short_vip6(int k)
{
	t_short_l4(6, k == S_UDP ? UDP : TCP, true, k == S_TCP_EXT);
}

static void t_short_other6(int k)
{
	t_short_l4(6, k == S_UDP ? UDP : TCP, false, k == S_TCP_EXT);
}

static void edit_ihl(struct pkt *p, int ihl)
{
	p->data[p->l3_off] = (uint8_t)(0x40 | ihl);
	pkt_fix_ipv4_csum(p);
}

static void edit_ip_totlen(struct pkt *p, int len)
{
	pkt_put16(p->data + p->l3_off + 2, (uint16_t)len);
	pkt_fix_ipv4_csum(p);
}

/* IHL 15 with the frame ending before byte 60 of the IP header. */
static void edit_ihl_beyond_frame(struct pkt *p, int arg)
{
	(void)arg;
	p->len = p->l3_off + 56;
	edit_ip_totlen(p, 56);
	edit_ihl(p, 15);
}

static void edit_version(struct pkt *p, int version)
{
	uint8_t *ip = p->data + p->l3_off;

	ip[0] = (uint8_t)(version << 4 | (ip[0] & 0x0f));
	if (version != 6 && p->data[12] == 0x08)
		pkt_fix_ipv4_csum(p);
}

static void edit_v6_paylen(struct pkt *p, int len)
{
	pkt_put16(p->data + p->l3_off + 4, (uint16_t)len);
}

static void edit_doff(struct pkt *p, int doff)
{
	p->data[p->l4_off + 12] = (uint8_t)(doff << 4);
}

/* IHL 15 (60 bytes, all present in the frame) but total length 56. */
static void edit_ihl_over_totlen(struct pkt *p, int arg)
{
	(void)arg;
	edit_ip_totlen(p, 56);
	edit_ihl(p, 15);
}

/* The frame the header edits start from: a SYN to the family's nat VIP
 * with a 40-byte payload (to > 0: the family), or to a non-VIP address of
 * family -to without one. IPv4 carries 20 + 20 + 40 = 80 bytes, IPv6 40 +
 * 20 + 40 with 60 bytes of payload. */
static void frame_edit_base(struct pkt *p, int to)
{
	struct pkt_spec s;

	if (to > 0) {
		client_spec(&s, &vips[to == 4 ? V4_NAT : V6_NAT], next_sport(), PKT_TCP_SYN);
		s.payload = (const uint8_t *)"0123456789abcdef0123456789abcdef0123456789";
		s.payload_len = 40;
	} else {
		client_spec_to(&s, -to, TCP, -to == 4 ? V4_OTHER : V6_OTHER, 80, PKT_TCP_SYN);
	}
	build(p, &s);
}

/* ---- cases: what a router would not forward (RFC 1812, RFC 8200) ------ */

/* A SYN from the client to VIP v (or, with vi < 0, to a non-VIP address of
 * family -vi), with a payload. */
static void hyg_spec(struct pkt_spec *s, int vi)
{
	if (vi < 0)
		client_spec_to(s, -vi, TCP, -vi == 4 ? V4_OTHER : V6_OTHER, 80,
			       PKT_TCP_SYN);
	else
		client_spec(s, &vips[vi], next_sport(), PKT_TCP_SYN);
	with_payload(s);
}

/* arg: VIP | CSUM_ZERO | CSUM_OPTS | CSUM_ECHO (an echo request to the
 * VIP's address instead of TCP/UDP), or NONVIP4 for a non-VIP address */
enum { CSUM_ZERO = 0x100, CSUM_OPTS = 0x200, NONVIP4 = 0x400, CSUM_ECHO = 0x800 };

/* IPv4 header checksum wrong or zero (RFC 1812 5.2.2): to a VIP, dropped
 * in every mode (drop_ip_csum); to any other address it is not xlb's to
 * judge, and leaves untouched at no extra cost (pass_not_vip). */
static void frame_ip_csum(struct pkt *p, int arg)
{
	struct pkt_spec s;
	uint8_t *ck;

	if (arg & CSUM_ECHO)
		echo_spec(&s, 4, vips[arg & 0xff].a);
	else
		hyg_spec(&s, arg & NONVIP4 ? -4 : arg & 0xff);
	if (arg & CSUM_OPTS) {
		s.ip_opts_len = 12;
		fill_ip_opts(s.ip_opts, s.ip_opts_len);
	}
	build(p, &s);
	ck = p->data + p->l3_off + 10;
	if (arg & CSUM_ZERO)
		pkt_put16(ck, 0);
	else if (arg & CSUM_OPTS)
		p->data[p->l3_off + 30] ^= 0x40; /* an option byte, not the sum */
	else
		pkt_put16(ck, pkt_get16(ck) ^ 0x0100);
}

enum {
	OPT_LEN0, OPT_LEN1, OPT_PAST, OPT_NO_LEN, OPT_PAST_40, /* malformed */
	OPT_EOL_JUNK, OPT_NOP_40, OPT_EXACT_40, /* forwarded */
};

/* IPv4 options that do not parse (a length below 2, an option running past
 * the header, a type without its length byte): dropped as malformed, their
 * header checksum right. Options that parse are forwarded as they are. */
static void ip_opts_spec(struct pkt_spec *s, int kind)
{
	uint8_t *o;

	hyg_spec(s, V4_NAT);
	o = s->ip_opts;
	s->ip_opts_len = 4;
	switch (kind) {
	case OPT_LEN0: /* router alert, length 0 */
		memcpy(o, "\x94\x00\x00\x00", 4);
		break;
	case OPT_LEN1:
		memcpy(o, "\x01\x9e\x01\x00", 4);
		break;
	case OPT_PAST: /* NOP, then 8 bytes claimed in the 3 left */
		memcpy(o, "\x01\x9e\x08\x00", 4);
		break;
	case OPT_NO_LEN: /* three NOPs, then a type in the last byte */
		memcpy(o, "\x01\x01\x01\x9e", 4);
		break;
	case OPT_PAST_40: /* 40 bytes: 36 of NOP, an option claiming 5 in 4 */
		s->ip_opts_len = 40;
		memset(o, 1, 36);
		memcpy(o + 36, "\x9e\x05\x00\x00", 4);
		break;
	case OPT_EOL_JUNK: /* nothing after the end of the list is read */
		memcpy(o, "\x01\x00\xff\xff", 4);
		break;
	case OPT_NOP_40: /* the longest walk: 40 one-byte options */
		s->ip_opts_len = 40;
		memset(o, 1, 40);
		break;
	case OPT_EXACT_40: /* one option filling all 40 bytes */
		s->ip_opts_len = 40;
		fill_ip_opts(o, 40);
		break;
	}
}

static void frame_ip_opts(struct pkt *p, int kind)
{
	struct pkt_spec s;

	ip_opts_spec(&s, kind);
	build(p, &s);
}

static void spec_ip_opts(struct pkt_spec *s, int vi, int kind)
{
	(void)vi; /* V4_NAT */
	ip_opts_spec(s, kind);
}

/* TCP data offset past the segment's end: 60 or 36 bytes of header claimed
 * in a 33-byte segment (arg: family | 0x10 for 36). */
static void frame_doff_past(struct pkt *p, int arg)
{
	struct pkt_spec s;

	hyg_spec(&s, (arg & 0xf) == 4 ? V4_NAT : V6_NAT);
	build(p, &s);
	edit_doff(p, arg & 0x10 ? 9 : 15);
}

/* UDP length field below 8, or not the IP payload's length (shorter or
 * longer): dropped (arg: family | variant << 4). */
static void frame_udp_len(struct pkt *p, int arg)
{
	int family = arg & 0xf, variant = arg >> 4;
	struct pkt_spec s;
	uint8_t *len;
	int seg;

	client_spec(&s, vip_for(family, UDP), next_sport(), 0);
	with_payload(&s);
	build(p, &s);
	len = p->data + p->l4_off + 4;
	seg = (int)(p->len - p->l4_off);
	pkt_put16(len, (uint16_t)(variant == 0 ? 0 : variant == 1 ? 7 :
				  variant == 2 ? seg - 1 : seg + 1));
}

/* Hop-by-hop options anywhere but first (RFC 8200 4.1): malformed; to a
 * VIP dropped, elsewhere passed for the kernel (which drops it too).
 * arg: 0 HBH, DSTOPTS, HBH; 1 DSTOPTS, HBH; | 0x10 to a non-VIP address. */
static void frame_v6_hbh_later(struct pkt *p, int arg)
{
	bool nonvip = arg & 0x10;
	struct pkt_spec s;

	hyg_spec(&s, nonvip ? -6 : V6_NAT);
	if (!(arg & 1))
		add_ext(&s, PKT_NH_HOP, 8);
	add_ext(&s, PKT_NH_DSTOPTS, 8);
	add_ext(&s, PKT_NH_HOP, 8);
	build(p, &s);
}

static const uint8_t l2_group[3][6] = {
	{ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, /* broadcast */
	{ 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 }, /* IPv4 multicast */
	{ 0x33, 0x33, 0x00, 0x00, 0x00, 0x01 }, /* IPv6 multicast */
};

/* A unicast packet to a VIP in a link-layer broadcast or multicast frame
 * (RFC 1812 5.3.4): dropped in every mode, echo requests too (arg: VIP |
 * group << 8 | L2_ECHO); to another address it is not looked at. */
enum { L2_ECHO = 0x1000, L2_NONVIP = 0x2000 };

static void frame_l2_group(struct pkt *p, int arg)
{
	const struct tvip *v = &vips[arg & 0xff];
	struct pkt_spec s;

	if (arg & L2_ECHO)
		echo_spec(&s, v->family, v->a);
	else
		hyg_spec(&s, arg & L2_NONVIP ? -v->family : arg & 0xff);
	memcpy(s.eth_dst, l2_group[(arg >> 8) & 3], 6);
	build(p, &s);
}

enum { FB_V4_ODD, FB_V4_OVERFLOW, FB_V4_EMPTY, FB_V6_ODD, FB_V6_OVERFLOW, FB_V6_CUT, FB_V6_EMPTY };

/* Fragments that can never be reassembled (a non-last one whose data is
 * not a multiple of 8 bytes, data reaching past 65535, no data at all, a
 * fragment header cut short) are malformed, not fragments: to a VIP
 * drop_malformed, elsewhere pass_malformed (kind | F_NONVIP). */
static void frame_frag_bad(struct pkt *p, int arg)
{
	int kind = arg & ~F_NONVIP, family = kind <= FB_V4_EMPTY ? 4 : 6;
	bool nonvip = arg & F_NONVIP;
	struct pkt_spec s;

	hyg_spec(&s, nonvip ? -family : family == 4 ? V4_NAT : V6_NAT);
	if (family == 4) {
		/* 33 bytes of data; offset 8189 * 8 + 33 > 65535 - 20 */
		s.frag_off = kind == FB_V4_OVERFLOW ? 8189 : PKT_IP_MF;
	} else {
		add_ext(&s, PKT_NH_FRAGMENT, 8);
		s.ext[0].frag = kind == FB_V6_OVERFLOW ? 8189 << 3 : 1;
	}
	build(p, &s);
	if (kind == FB_V6_CUT) /* the payload ends 4 bytes into the header */
		set_ip_end(p, 6, p->l3_off + 44);
	if (kind == FB_V4_EMPTY || kind == FB_V6_EMPTY) /* headers only */
		set_ip_end(p, family, p->l3_off + (family == 4 ? 20 : 48));
}

/* ICMP to a VIP address whose 8-byte header is cut short by the IP length
 * (the frame carries the rest): malformed, dropped. */
static void frame_icmp_short(struct pkt *p, int family)
{
	const struct tvip *v = &vips[family == 4 ? V4_NAT : V6_NAT];
	struct pkt_spec s;

	echo_spec(&s, family, v->a);
	s.payload_len = 0;
	build(p, &s);
	set_ip_end(p, family, p->l4_off + 4);
	p->len += 4; /* the other 4 bytes, as a trailer */
}

/* An ICMP error to a VIP whose quote is no IP header (version 0): dropped
 * as malformed, not passed as ICMP. */
static void frame_icmp_bad_quote(struct pkt *p, int vi)
{
	const struct tvip *v = &vips[vi];
	uint8_t q[PKT_MAX];
	struct pkt_spec s, e;
	struct pkt quoted;

	client_spec(&s, v, next_sport(), PKT_TCP_SYN);
	icmp_error_spec(&e, &quoted, v, &s, v->family == 4 ? 3 : 2);
	memcpy(q, e.payload, e.payload_len);
	q[0] &= 0x0f;
	e.payload = q;
	build(p, &e);
}

/* An echo request to a VIP with Ethernet padding: the reply has none. */
static void t_icmp_echo_padding(int vi)
{
	struct pkt_spec s, e;
	struct pkt in, exp;
	struct run r;

	echo_spec(&s, vips[vi].family, vips[vi].a);
	e = s;
	memcpy(e.src, s.dst, 16);
	memcpy(e.dst, s.src, 16);
	e.ttl = 64;
	e.icmp_type = s.family == 4 ? 0 : 129;
	set_macs(&e, s.eth_src, s.eth_dst);
	build(&in, &s);
	build(&exp, &e);
	memset(in.data + in.len, 0xee, 20);
	in.len += 20;
	run_pkt(&r, &in, DEV_XC0);
	if (check_action("", &r, XDP_TX) &&
	    check_reason("", &r, XLB_R_TX_ICMP_ECHO))
		check_pkt("", &r, &exp);
}

/* Tunnel mode with a trailer after the IP packet (a full 1514-byte frame
 * carries a 1480-byte packet plus 20-30 bytes): the frame is cut to the
 * packet, so the packet that fits the path once encapsulated is tunnelled
 * exactly; one that does not gets "too big" (never a frame the kernel
 * would drop for its size after the program returns). */
static void t_tunnel_trailer(int vi)
{
	const struct tvip *v = &vips[vi];
	size_t ovh = (v->be_family == 4 ? 20 : 40) +
		     (v->encap == XLB_ENCAP_GUE ? 8 : 0);
	struct pkt_spec s;
	struct pkt in, exp;
	struct run r;

	big_spec(&s, v, XB0_MTU - ovh);
	build(&in, &s);
	memset(in.data + in.len, 0xee, 26);
	in.len += 26;
	run_pkt(&r, &in, DEV_XC0);
	expect_tunnel(&exp, &s, v, predict_flow(v, &s));
	if (check_action("", &r, XDP_REDIRECT) &&
	    check_reason("", &r, XLB_R_REDIRECT))
		check_pkt("", &r, &exp);
}

/* ---- case: the builder's checksums, judged by the kernel ----------------- */

/*
 * Every expected frame is compared with the program's output, but input
 * and expected frames come from the same builder: a builder whose
 * checksums were consistently wrong would go unnoticed. So the kernel
 * judges them: frames injected on the veth peer reach the stack of xc0,
 * which verifies checksums in software (CHECKSUM_NONE) and delivers a UDP
 * datagram, or answers a TCP SYN to a closed port with RST, only if they
 * are right.
 */
#define LOCAL_PORT 7001

static int inject(const struct pkt *p)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_ifindex = (int)if_nametoindex(peer_name[DEV_XC0]),
		.sll_halen = 6,
	};
	int fd = socket(AF_PACKET, SOCK_RAW, 0), rc;

	if (fd < 0)
		return -errno;
	memcpy(sll.sll_addr, p->data, 6);
	rc = sendto(fd, p->data, p->len, 0, (struct sockaddr *)&sll,
		    sizeof(sll)) == (ssize_t)p->len ? 0 : -errno;
	close(fd);
	return rc;
}

/* A UDP socket on xc0's own address (family 4 or 6). */
static int local_udp(int family)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6,
				   .sin6_port = htons(LOCAL_PORT) };
	struct sockaddr_in a4 = { .sin_family = AF_INET,
				  .sin_port = htons(LOCAL_PORT) };
	int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM, 0);
	int rc;

	if (fd < 0)
		return -errno;
	if (family == 4) {
		inet_pton(AF_INET, "198.18.0.1", &a4.sin_addr);
		rc = bind(fd, (struct sockaddr *)&a4, sizeof(a4));
	} else {
		inet_pton(AF_INET6, "fd00::1", &a6.sin6_addr);
		rc = bind(fd, (struct sockaddr *)&a6, sizeof(a6));
	}
	if (rc) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

/* A frame from the client to xc0's own address. */
static void local_spec(struct pkt_spec *s, int family, uint8_t proto,
		       uint16_t dport)
{
	uint8_t src[16], dst[16];

	host_addr(src, H_CLIENT, family);
	parse_addr(dst, family, family == 4 ? "198.18.0.1" : "fd00::1");
	pkt_spec_l4(s, family, proto, src, next_sport(), dst, dport);
	set_macs(s, test_link_mac[DEV_XC0], hosts[H_CLIENT].mac);
	with_payload(s);
}

static bool kernel_takes_udp(int family)
{
	uint8_t buf[64];
	struct pkt_spec s;
	struct pollfd pfd;
	struct pkt p;
	int fd = local_udp(family), err;
	ssize_t n;

	if (fd < 0)
		return tc_fail("UDP socket: %s", strerror(-fd));
	local_spec(&s, family, UDP, LOCAL_PORT);
	build(&p, &s);
	err = inject(&p);
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	if (!err && poll(&pfd, 1, 2000) != 1)
		err = -ETIMEDOUT;
	n = err ? -1 : recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	close(fd);
	if (err)
		return tc_fail("IPv%d UDP datagram from the builder not delivered: %s",
			       family, strerror(-err));
	if (n != (ssize_t)s.payload_len || memcmp(buf, s.payload, n))
		return tc_fail("IPv%d UDP payload delivered wrong", family);
	return true;
}

/* One counter of the "Tcp:" lines of /proc/net/snmp (this netns). */
static long long tcp_mib(const char *name)
{
	char hdr[1024], val[1024], *h, *v, *hs = NULL, *vs = NULL;
	long long out = -1;
	FILE *f = fopen("/proc/net/snmp", "r");

	if (!f)
		return -1;
	while (fgets(hdr, sizeof(hdr), f) && fgets(val, sizeof(val), f)) {
		if (strncmp(hdr, "Tcp:", 4))
			continue;
		for (h = strtok_r(hdr, " \n", &hs), v = strtok_r(val, " \n", &vs);
		     h && v; h = strtok_r(NULL, " \n", &hs),
		     v = strtok_r(NULL, " \n", &vs))
			if (!strcmp(h, name))
				out = atoll(v);
	}
	fclose(f);
	return out;
}

static bool kernel_takes_tcp(int family)
{
	long long rst0 = tcp_mib("OutRsts"), bad0 = tcp_mib("InCsumErrors");
	struct pkt_spec s;
	struct pkt p;
	int err, i;

	local_spec(&s, family, TCP, LOCAL_PORT + 1); /* nobody listens */
	s.tcp_flags = PKT_TCP_SYN;
	memcpy(s.tcp_opts, syn_opts, sizeof(syn_opts));
	s.tcp_opts_len = sizeof(syn_opts);
	build(&p, &s);
	err = inject(&p);
	if (err)
		return tc_fail("inject: %s", strerror(-err));
	for (i = 0; i < 100 && tcp_mib("OutRsts") == rst0; i++)
		usleep(10 * 1000);
	if (tcp_mib("InCsumErrors") != bad0)
		return tc_fail("IPv%d TCP SYN from the builder: kernel "
			       "counted a checksum error",
			       family);
	if (tcp_mib("OutRsts") != rst0 + 1)
		return tc_fail("IPv%d TCP SYN from the builder: no RST from the kernel",
			       family);
	return true;
}

static void t_builder_vs_kernel(int unused)
{
	(void)unused;
	if (kernel_takes_udp(4) && kernel_takes_udp(6) &&
	    kernel_takes_tcp(4))
		kernel_takes_tcp(6);
}

/* ---- the table of cases -------------------------------------------------- */

/*
 * Verdict cases as data: one row is one case, a frame (built by `frame`
 * from `arg`, then changed by `edit` with `edit_arg` where there is one)
 * and the verdict it must get: the action, the reason counted, and for
 * anything but a drop the frame unchanged byte for byte (expect_verdict).
 * One driver runs them (t_verdict); `test_packets --perf` times them.
 */
struct verdict_row {
	const char *name;
	void (*frame)(struct pkt *p, int arg);
	int arg;
	struct verdict verdict;
	void (*edit)(struct pkt *p, int arg); /* NULL: the frame as built */
	int edit_arg;
};

static const struct verdict_row verdicts[] = {
	{ "v6_udp_csum0_drop", frame_udp6_csum0, V6_UDP, DROP(UDP6_ZERO_CSUM) },
	{ "v4_dsr_no_neigh", frame_syn_to_vip, V4_DSR_NONEIGH, PASS(NO_NEIGH) },
	{ "v6_dsr_no_neigh", frame_syn_to_vip, V6_DSR_NONEIGH, PASS(NO_NEIGH) },
	{ "v4_nat_backend_unreachable_fib_other", frame_syn_to_vip, V4_UNREACH, PASS(FIB_OTHER) },
	{ "v6_nat_backend_unreachable_fib_other", frame_syn_to_vip, V6_UNREACH, PASS(FIB_OTHER) },
	{ "v4_nat_backend_blackhole_fib_other", frame_syn_to_vip, V4_BLACKHOLE, PASS(FIB_OTHER) },
	{ "v6_nat_backend_blackhole_fib_other", frame_syn_to_vip, V6_BLACKHOLE, PASS(FIB_OTHER) },
	{ "v4_nat_backend_local_fib_other", frame_syn_to_vip, V4_LOCAL, PASS(FIB_OTHER) },
	{ "v4_dsr_backend_unreachable_fib_other", frame_syn_to_vip, V4_DSR_UNREACH, PASS(FIB_OTHER) },
	{ "v4_vip_without_backend_drop", frame_syn_to_vip, V4_EMPTY, DROP(NO_BACKEND) },
	{ "v4_tunnel_too_big_no_df_drop", frame_too_big_no_df, V4_TUN, DROP(TOO_BIG) },
	{ "v6_vip_without_backend_drop", frame_syn_to_vip, V6_EMPTY, DROP(NO_BACKEND) },
	{ "arp_pass", frame_arp, 0, PASS(NOT_IP) },
	{ "vlan_arp_pass", frame_arp, 1, PASS(NOT_IP) },
	{ "lldp_pass", frame_lldp, 0, PASS(NOT_IP) },
	{ "v4_icmp_echo_non_vip_pass", frame_icmp_echo_other, 4, PASS(ICMP) },
	{ "v6_icmp_echo_non_vip_pass", frame_icmp_echo_other, 6, PASS(ICMP) },
	{ "v4_icmp_echo_reply_to_vip_pass", frame_icmp_other_type, V4_NAT, PASS(ICMP) },
	{ "v6_icmp_neigh_solicit_to_vip_pass", frame_icmp_other_type, V6_NAT, PASS(ICMP) },
	{ "v4_icmp_error_no_flow_pass", frame_icmp_error_no_flow, V4_NAT, PASS(ICMP) },
	{ "v6_icmp_error_no_flow_pass", frame_icmp_error_no_flow, V6_NAT, PASS(ICMP) },
	{ "v4_tcp_non_vip_addr_pass", frame_to_non_vip, 4, PASS(NOT_VIP) },
	{ "v6_tcp_non_vip_addr_pass", frame_to_non_vip, 6, PASS(NOT_VIP) },
	{ "v4_tcp_vip_addr_other_port_pass", frame_vip_other_port, V4_NAT, PASS(NOT_VIP) },
	{ "v6_tcp_vip_addr_other_port_pass", frame_vip_other_port, V6_NAT, PASS(NOT_VIP) },
	{ "v4_udp_to_tcp_vip_pass", frame_vip_other_proto, V4_NAT, PASS(NOT_VIP) },
	{ "v6_udp_to_tcp_vip_pass", frame_vip_other_proto, V6_NAT, PASS(NOT_VIP) },
	{ "v4_sctp_to_vip_addr_pass", frame_sctp_to_vip, V4_NAT, PASS(NOT_VIP) },
	{ "vlan_qinq_pass", frame_vlan_unparsed, 1, PASS(NOT_IP) },
	{ "vlan_8021ad_pass", frame_vlan_unparsed, 0, PASS(NOT_IP) },
	{ "v6_ext_chain_of_5_pass", frame_v6_ext, X_CHAIN5, PASS(IPV6_EXT) },
	{ "v6_ext_ah_pass", frame_v6_ext, X_AH, PASS(IPV6_EXT) },
	{ "v6_ext_esp_pass", frame_v6_ext, X_ESP, PASS(IPV6_EXT) },
	{ "v6_ext_no_next_header_pass", frame_v6_ext, X_NONEXT, PASS(IPV6_EXT) },
	{ "v4_frag_mf_to_vip_drop", frame_frag4, F_MF, DROP(FRAGMENT) },
	{ "v4_frag_offset_to_vip_drop", frame_frag4, F_OFFSET, DROP(FRAGMENT) },
	{ "v4_frag_to_vip_addr_other_port_drop", frame_frag4, F_OTHER_PORT, DROP(FRAGMENT) },
	{ "v4_frag_mf_non_vip_pass", frame_frag4, F_MF | F_NONVIP, PASS(FRAGMENT) },
	{ "v4_frag_offset_non_vip_pass", frame_frag4, F_OFFSET | F_NONVIP, PASS(FRAGMENT) },
	{ "v6_frag_first_to_vip_drop", frame_frag6, F6_FIRST, DROP(FRAGMENT) },
	{ "v6_frag_offset_to_vip_drop", frame_frag6, F6_OFFSET, DROP(FRAGMENT) },
	{ "v6_frag_after_hbh_to_vip_drop", frame_frag6, F6_AFTER_HBH, DROP(FRAGMENT) },
	{ "v6_frag_non_vip_pass", frame_frag6, F6_FIRST | F_NONVIP, PASS(FRAGMENT) },
	{ "v4_tcp_doff_past_segment_to_vip_drop", frame_doff_past, 4, DROP(MALFORMED) },
	{ "v4_tcp_doff_36_past_33_byte_segment_to_vip_drop", frame_doff_past, 0x14, DROP(MALFORMED) },
	{ "v6_tcp_doff_past_segment_to_vip_drop", frame_doff_past, 6, DROP(MALFORMED) },
	{ "v4_udp_len_0_drop", frame_udp_len, 4, DROP(MALFORMED) },
	{ "v4_udp_len_7_drop", frame_udp_len, 4 | 1 << 4, DROP(MALFORMED) },
	{ "v4_udp_len_below_ip_payload_drop", frame_udp_len, 4 | 2 << 4, DROP(MALFORMED) },
	{ "v4_udp_len_beyond_ip_payload_drop", frame_udp_len, 4 | 3 << 4, DROP(MALFORMED) },
	{ "v6_udp_len_0_drop", frame_udp_len, 6, DROP(MALFORMED) },
	{ "v6_udp_len_below_ip_payload_drop", frame_udp_len, 6 | 2 << 4, DROP(MALFORMED) },
	{ "v6_udp_len_beyond_ip_payload_drop", frame_udp_len, 6 | 3 << 4, DROP(MALFORMED) },
	{ "v4_ip_csum_wrong_nat_drop", frame_ip_csum, V4_NAT, DROP(IP_CSUM) },
	{ "v4_ip_csum_zero_nat_drop", frame_ip_csum, V4_NAT | CSUM_ZERO, DROP(IP_CSUM) },
	{ "v4_ip_csum_wrong_over_options_nat_drop", frame_ip_csum, V4_NAT | CSUM_OPTS, DROP(IP_CSUM) },
	{ "v4_ip_csum_wrong_dsr_drop", frame_ip_csum, V4_DSR, DROP(IP_CSUM) },
	{ "v4_ip_csum_zero_tunnel_drop", frame_ip_csum, V4_TUN | CSUM_ZERO, DROP(IP_CSUM) },
	{ "v4_udp_ip_csum_wrong_nat_drop", frame_ip_csum, V4_UDP, DROP(IP_CSUM) },
	{ "v4_ip_csum_wrong_non_vip_untouched", frame_ip_csum, NONVIP4, PASS(NOT_VIP) },
	{ "v4_icmp_echo_ip_csum_wrong_to_vip_drop", frame_ip_csum, V4_NAT | CSUM_ECHO, DROP(IP_CSUM) },
	{ "v4_ip_opt_len_0_drop", frame_ip_opts, OPT_LEN0, DROP(MALFORMED) },
	{ "v4_ip_opt_len_1_drop", frame_ip_opts, OPT_LEN1, DROP(MALFORMED) },
	{ "v4_ip_opt_past_header_drop", frame_ip_opts, OPT_PAST, DROP(MALFORMED) },
	{ "v4_ip_opt_without_length_drop", frame_ip_opts, OPT_NO_LEN, DROP(MALFORMED) },
	{ "v4_ip_opt_past_40_byte_header_drop", frame_ip_opts, OPT_PAST_40, DROP(MALFORMED) },
	{ "v6_hbh_second_drop", frame_v6_hbh_later, 0, DROP(MALFORMED) },
	{ "v6_hbh_after_dstopts_drop", frame_v6_hbh_later, 1, DROP(MALFORMED) },
	{ "v6_hbh_second_non_vip_pass_malformed", frame_v6_hbh_later, 0x10, PASS(MALFORMED) },
	{ "v4_l2_broadcast_to_vip_nat_drop", frame_l2_group, V4_NAT, DROP(L2_BCAST) },
	{ "v4_l2_multicast_to_vip_dsr_drop", frame_l2_group, V4_DSR | 1 << 8, DROP(L2_BCAST) },
	{ "v6_l2_multicast_to_vip_nat_drop", frame_l2_group, V6_NAT | 2 << 8, DROP(L2_BCAST) },
	{ "v4_l2_broadcast_to_vip_tunnel_drop", frame_l2_group, V4_TUN, DROP(L2_BCAST) },
	{ "v4_l2_broadcast_echo_to_vip_drop", frame_l2_group, V4_NAT | L2_ECHO, DROP(L2_BCAST) },
	{ "v6_l2_multicast_echo_to_vip_drop", frame_l2_group, V6_NAT | 2 << 8 | L2_ECHO, DROP(L2_BCAST) },
	{ "v4_l2_broadcast_non_vip_untouched", frame_l2_group, V4_NAT | L2_NONVIP, PASS(NOT_VIP) },
	{ "v4_frag_odd_length_to_vip_malformed", frame_frag_bad, FB_V4_ODD, DROP(MALFORMED) },
	{ "v4_frag_past_65535_to_vip_malformed", frame_frag_bad, FB_V4_OVERFLOW, DROP(MALFORMED) },
	{ "v4_frag_odd_length_non_vip_pass_malformed", frame_frag_bad, FB_V4_ODD | F_NONVIP, PASS(MALFORMED) },
	{ "v6_frag_odd_length_to_vip_malformed", frame_frag_bad, FB_V6_ODD, DROP(MALFORMED) },
	{ "v6_frag_past_65535_to_vip_malformed", frame_frag_bad, FB_V6_OVERFLOW, DROP(MALFORMED) },
	{ "v6_frag_header_cut_to_vip_malformed", frame_frag_bad, FB_V6_CUT, DROP(MALFORMED) },
	{ "v6_frag_header_cut_non_vip_pass_malformed", frame_frag_bad, FB_V6_CUT | F_NONVIP, PASS(MALFORMED) },
	{ "v4_frag_mf_without_data_to_vip_malformed", frame_frag_bad, FB_V4_EMPTY, DROP(MALFORMED) },
	{ "v6_frag_mf_without_data_to_vip_malformed", frame_frag_bad, FB_V6_EMPTY, DROP(MALFORMED) },
	{ "v4_frag_mf_without_data_non_vip_pass_malformed", frame_frag_bad, FB_V4_EMPTY | F_NONVIP, PASS(MALFORMED) },
	{ "v4_icmp_header_cut_to_vip_drop", frame_icmp_short, 4, DROP(MALFORMED) },
	{ "v6_icmp_header_cut_to_vip_drop", frame_icmp_short, 6, DROP(MALFORMED) },
	{ "v4_icmp_error_quote_not_ip_drop", frame_icmp_bad_quote, V4_NAT, DROP(MALFORMED) },
	{ "v6_icmp_error_quote_not_ip_drop", frame_icmp_bad_quote, V6_NAT, DROP(MALFORMED) },
	/* header edits */
	{ "v4_ihl_0_pass", frame_edit_base, 4, PASS(MALFORMED), edit_ihl, 0 },
	{ "v4_ihl_1_pass", frame_edit_base, 4, PASS(MALFORMED), edit_ihl, 1 },
	{ "v4_ihl_2_pass", frame_edit_base, 4, PASS(MALFORMED), edit_ihl, 2 },
	{ "v4_ihl_3_pass", frame_edit_base, 4, PASS(MALFORMED), edit_ihl, 3 },
	{ "v4_ihl_4_pass", frame_edit_base, 4, PASS(MALFORMED), edit_ihl, 4 },
	{ "v4_ihl_beyond_total_length", frame_edit_base, 4, DROP(MALFORMED), edit_ihl_over_totlen, 0 },
	{ "v4_ihl_beyond_frame", frame_edit_base, 4, DROP(MALFORMED), edit_ihl_beyond_frame, 0 },
	{ "v4_total_length_81_beyond_frame", frame_edit_base, 4, DROP(MALFORMED), edit_ip_totlen, 81 },
	{ "v4_total_length_65535_beyond_frame", frame_edit_base, 4, DROP(MALFORMED), edit_ip_totlen, 0xffff },
	{ "v4_total_length_19_below_ihl", frame_edit_base, 4, DROP(MALFORMED), edit_ip_totlen, 19 },
	{ "v4_total_length_0_below_ihl", frame_edit_base, 4, DROP(MALFORMED), edit_ip_totlen, 0 },
	{ "v4_version_6_pass", frame_edit_base, 4, PASS(MALFORMED), edit_version, 6 },
	{ "v4_version_0_pass", frame_edit_base, 4, PASS(MALFORMED), edit_version, 0 },
	{ "v6_version_4_pass", frame_edit_base, 6, PASS(MALFORMED), edit_version, 4 },
	{ "v6_version_0_pass", frame_edit_base, 6, PASS(MALFORMED), edit_version, 0 },
	{ "v6_payload_length_61_beyond_frame", frame_edit_base, 6, DROP(MALFORMED), edit_v6_paylen, 61 },
	{ "v6_payload_length_65535_beyond_frame", frame_edit_base, 6, DROP(MALFORMED), edit_v6_paylen, 0xffff },
	{ "v4_tcp_doff_0_to_vip_drop", frame_edit_base, 4, DROP(MALFORMED), edit_doff, 0 },
	{ "v4_tcp_doff_1_to_vip_drop", frame_edit_base, 4, DROP(MALFORMED), edit_doff, 1 },
	{ "v4_tcp_doff_2_to_vip_drop", frame_edit_base, 4, DROP(MALFORMED), edit_doff, 2 },
	{ "v4_tcp_doff_3_to_vip_drop", frame_edit_base, 4, DROP(MALFORMED), edit_doff, 3 },
	{ "v4_tcp_doff_4_to_vip_drop", frame_edit_base, 4, DROP(MALFORMED), edit_doff, 4 },
	{ "v6_tcp_doff_0_to_vip_drop", frame_edit_base, 6, DROP(MALFORMED), edit_doff, 0 },
	{ "v6_tcp_doff_1_to_vip_drop", frame_edit_base, 6, DROP(MALFORMED), edit_doff, 1 },
	{ "v6_tcp_doff_2_to_vip_drop", frame_edit_base, 6, DROP(MALFORMED), edit_doff, 2 },
	{ "v6_tcp_doff_3_to_vip_drop", frame_edit_base, 6, DROP(MALFORMED), edit_doff, 3 },
	{ "v6_tcp_doff_4_to_vip_drop", frame_edit_base, 6, DROP(MALFORMED), edit_doff, 4 },
	{ "v4_tcp_doff_0_non_vip_pass", frame_edit_base, -4, PASS(MALFORMED), edit_doff, 0 },
	{ "v4_tcp_doff_1_non_vip_pass", frame_edit_base, -4, PASS(MALFORMED), edit_doff, 1 },
	{ "v4_tcp_doff_2_non_vip_pass", frame_edit_base, -4, PASS(MALFORMED), edit_doff, 2 },
	{ "v4_tcp_doff_3_non_vip_pass", frame_edit_base, -4, PASS(MALFORMED), edit_doff, 3 },
	{ "v4_tcp_doff_4_non_vip_pass", frame_edit_base, -4, PASS(MALFORMED), edit_doff, 4 },
};

static void verdict_frame(const struct verdict_row *v, struct pkt *p)
{
	v->frame(p, v->arg);
	if (v->edit)
		v->edit(p, v->edit_arg);
}

/* The driver of verdicts: arg is the row. */
static void t_verdict(int row)
{
	const struct verdict_row *v = &verdicts[row];
	struct pkt p;

	verdict_frame(v, &p);
	expect_verdict("", &p, DEV_XC0, v->verdict.action, v->verdict.reason);
}

/*
 * Forwarded cases as data: one row is one new flow's first packet, built
 * by `spec` for VIP `vip` from `arg`. The driver checks what fwd_check
 * does (the action, the output byte for byte as the VIP's model says it
 * must leave, the reason counted) and that it was scheduled as a new flow
 * on the backend the VIP's table names.
 */
struct forward_row {
	const char *name;
	int vip;
	void (*spec)(struct pkt_spec *s, int vi, int arg);
	int arg;
};

static const struct forward_row forwards[] = {
	{ "v4_tcp_syn_nat", V4_NAT, spec_first, 0 },
	{ "v4_tcp_syn_options_nat", V4_NAT, spec_syn_options, 0 },
	{ "v4_tcp_ttl2_nat_forwarded", V4_NAT, spec_ttl, 2 },
	{ "v4_udp_nat", V4_UDP, spec_first, 0 },
	{ "v4_udp_csum0_stays0", V4_UDP, spec_udp_csum0, 0 },
	{ "v6_tcp_syn_nat", V6_NAT, spec_first, 0 },
	{ "v6_tcp_syn_options_nat", V6_NAT, spec_syn_options, 0 },
	{ "v6_udp_nat", V6_UDP, spec_first, 0 },
	{ "v4_tcp_syn_dsr", V4_DSR, spec_first, 0 },
	{ "v4_tcp_ttl2_dsr_forwarded_unchanged", V4_DSR, spec_ttl, 2 },
	{ "v6_tcp_syn_dsr", V6_DSR, spec_first, 0 },
	{ "v4_tcp_syn_nat_xdp_tx", V4_TX, spec_first, 0 },
	{ "v6_tcp_syn_nat_xdp_tx", V6_TX, spec_first, 0 },
	{ "v4_tcp_syn_dsr_xdp_tx", V4_DSR_TX, spec_first, 0 },
	{ "v4_vlan_tcp_syn_nat_tag_kept", V4_NAT, spec_vlan, 0x2064 /* PCP 1, VID 100 */ },
	{ "v6_vlan_tcp_syn_nat_tag_kept", V6_NAT, spec_vlan, 0x2064 /* PCP 1, VID 100 */ },
	{ "v4_ip_options_ihl6_nat", V4_NAT, spec_ip_options, 6 },
	{ "v4_ip_options_ihl7_nat", V4_NAT, spec_ip_options, 7 },
	{ "v4_ip_options_ihl8_nat", V4_NAT, spec_ip_options, 8 },
	{ "v4_ip_options_ihl9_nat", V4_NAT, spec_ip_options, 9 },
	{ "v4_ip_options_ihl10_nat", V4_NAT, spec_ip_options, 10 },
	{ "v4_ip_options_ihl11_nat", V4_NAT, spec_ip_options, 11 },
	{ "v4_ip_options_ihl12_nat", V4_NAT, spec_ip_options, 12 },
	{ "v4_ip_options_ihl13_nat", V4_NAT, spec_ip_options, 13 },
	{ "v4_ip_options_ihl14_nat", V4_NAT, spec_ip_options, 14 },
	{ "v4_ip_options_ihl15_nat", V4_NAT, spec_ip_options, 15 },
	{ "v6_ext_hbh_dstopts_nat", V6_NAT, spec_v6_ext, X_HBH_DST },
	{ "v6_ext_hbh_routing_dstopts_nat", V6_NAT, spec_v6_ext, X_ROUTING },
	{ "v6_ext_chain_of_4_nat", V6_NAT, spec_v6_ext, X_CHAIN4 },
	{ "v6_ext_hbh_udp_nat", V6_UDP, spec_v6_ext, X_UDP_HBH },
	{ "v4_ip_opt_junk_after_end_of_list_nat", V4_NAT, spec_ip_opts, OPT_EOL_JUNK },
	{ "v4_ip_opt_40_nops_nat", V4_NAT, spec_ip_opts, OPT_NOP_40 },
	{ "v4_ip_opt_one_of_40_bytes_nat", V4_NAT, spec_ip_opts, OPT_EXACT_40 },
};

/* The driver of forwards: arg is the row. */
static void t_forward(int row)
{
	const struct forward_row *f = &forwards[row];
	const struct tvip *v = &vips[f->vip];
	struct pkt_spec s;
	struct run r;
	int h;

	f->spec(&s, f->vip, f->arg);
	h = fwd_check("", v, &s, &r);
	if (h < 0 || !check_info("", &r, XLB_R_NEW_FLOW, 1))
		return;
	same_host("", h, predict_flow(v, &s), "the VIP's table");
}

struct tcase {
	const char *name; /* a %d in it takes arg */
	void (*fn)(int arg);
	int arg;
};

static const struct tcase cases[] = {
	{ "pkt_builder_checksums_accepted_by_kernel", t_builder_vs_kernel, 0 },
	/* nat, IPv4 */
	{ "v4_tcp_ack_nat_established", t_ack, V4_NAT },
	{ "v4_tcp_fin_nat_established", t_fin, V4_NAT },
	{ "v4_tcp_rst_nat_established", t_rst_known, V4_NAT },
	{ "v4_tcp_rst_unknown_no_flow", t_rst_unknown, V4_NAT },
	{ "v4_nat_flow_entries", t_flow_entries, V4_NAT },
	{ "v4_tcp_nat_reply", t_nat_reply, V4_NAT },
	{ "v4_tcp_nat_reply_ttl1", t_nat_reply_ttl1, V4_NAT },
	{ "v4_backend_packet_without_flow", t_backend_no_entry, V4_NAT },
	{ "v4_tcp_ttl1_nat_time_exceeded", t_ttl1, V4_NAT },
	{ "v4_tcp_ttl0_nat_time_exceeded", t_ttl1, V4_NAT | TTL_0 },
	{ "v4_tcp_ttl1_nat_established_time_exceeded", t_ttl1, V4_NAT | TTL_EST },
	{ "v4_vlan_tcp_ttl1_nat_time_exceeded", t_ttl1, V4_NAT | TTL_VLAN },
	{ "v4_udp_ttl1_nat_time_exceeded", t_ttl1, V4_UDP },
	{ "v4_tcp_eth_padding_trimmed_nat", t_eth_padding, V4_NAT },
	{ "v4_tcp_eth_trailer_trimmed_nat", t_eth_padding, V4_NAT | PAD_LONG },
	{ "v6_tcp_eth_trailer_trimmed_nat", t_eth_padding, V6_NAT | PAD_LONG },
	{ "v4_tcp_eth_padding_trimmed_dsr", t_eth_padding, V4_DSR },
	{ "v6_tcp_eth_trailer_trimmed_dsr", t_eth_padding, V6_DSR | PAD_LONG },
	{ "v4_tcp_eth_padding_trimmed_xdp_tx", t_eth_padding, V4_TX },
	{ "v4_vip_backend_counters", t_counters, V4_NAT },
	{ "v4_udp_nat_established", t_udp_established, V4_UDP },
	{ "v4_udp_nat_reply", t_nat_reply, V4_UDP },
	{ "v4_udp_csum0_nat_reply_stays0", t_udp4_csum0_reply, V4_UDP },
	/* nat, IPv6 */
	{ "v6_tcp_ack_nat_established", t_ack, V6_NAT },
	{ "v6_tcp_fin_nat_established", t_fin, V6_NAT },
	{ "v6_tcp_rst_unknown_no_flow", t_rst_unknown, V6_NAT },
	{ "v6_nat_flow_entries", t_flow_entries, V6_NAT },
	{ "v4_nat_confirmed_by_handshake", t_confirm_nat_handshake, V4_NAT },
	{ "v6_nat_confirmed_by_handshake", t_confirm_nat_handshake, V6_NAT },
	{ "v4_dsr_confirmed_after_syn", t_confirm_after_syn, V4_DSR },
	{ "v6_dsr_confirmed_after_syn", t_confirm_after_syn, V6_DSR },
	{ "v4_udp_confirmed_by_second_datagram", t_confirm_udp, V4_UDP },
	{ "v6_udp_confirmed_by_second_datagram", t_confirm_udp, V6_UDP },
	{ "v4_dsr_rst_closes_then_syn_reschedules", t_close_then_reuse, V4_DSR },
	{ "v4_nat_rst_closes_then_syn_reschedules", t_close_then_reuse, V4_NAT },
	{ "v4_dsr_flood_evicts_unconfirmed_only", t_flood_evicts_unconfirmed_only, V4_DSR },
	{ "v4_nat_flood_evicts_unconfirmed_only", t_flood_evicts_unconfirmed_only, V4_NAT },
	{ "v4_dsr_confirmed_table_full", t_confirmed_table_full, V4_DSR },
	{ "v4_nat_syn_into_busy_slot_not_remembered", t_busy_slot_insert_skipped, V4_NAT },
	{ "v6_tcp_nat_reply", t_nat_reply, V6_NAT },
	{ "v6_tcp_nat_reply_hoplimit1", t_nat_reply_ttl1, V6_NAT },
	{ "v6_tcp_hoplimit1_nat_time_exceeded", t_ttl1, V6_NAT },
	{ "v6_udp_hoplimit1_nat_time_exceeded", t_ttl1, V6_UDP },
	{ "v6_vlan_tcp_hoplimit0_nat_time_exceeded", t_ttl1, V6_NAT | TTL_0 | TTL_VLAN },
	{ "v6_udp_nat_established", t_udp_established, V6_UDP },
	{ "v6_udp_nat_reply", t_nat_reply, V6_UDP },
	{ "v4_new_flow_backend_nexthop_cached", t_backend_nh_cache, V4_NAT },
	{ "v4_new_flow_backend_nexthop_cleared_by_write", t_backend_nh_cleared_by_write, V4_NAT },
	{ "v4_nat_established_trusts_backend_epoch", t_backend_epoch, V4_NAT },
	{ "v6_dsr_established_trusts_backend_epoch", t_backend_epoch, V6_DSR },
	{ "v6_new_flow_backend_nexthop_cached", t_backend_nh_cache, V6_NAT },
	{ "v6_new_flow_backend_nexthop_cleared_by_write", t_backend_nh_cleared_by_write, V6_NAT },
	/* dsr */
	{ "v4_tcp_ack_dsr_established", t_ack, V4_DSR },
	{ "v4_tcp_ttl1_dsr_time_exceeded", t_ttl1, V4_DSR },
	{ "v6_tcp_hoplimit1_dsr_time_exceeded", t_ttl1, V6_DSR },
	{ "v6_tcp_ack_dsr_established", t_ack, V6_DSR },
	/* egress == ingress */
	/* no neighbour, no backend */
	{ "v4_nat_no_neigh", t_noneigh_nat, V4_NONEIGH },
	{ "v6_nat_no_neigh", t_noneigh_nat, V6_NONEIGH },
	/* tunnel */
	{ "v4_tcp_syn_tunnel_ipip", t_tunnel_new, V4_TUN },
	{ "v6_tcp_syn_tunnel_ipip", t_tunnel_new, V6_TUN },
	{ "v4_tcp_syn_tunnel_gue", t_tunnel_new, V4_GUE },
	{ "v6_tcp_syn_tunnel_gue", t_tunnel_new, V6_GUE },
	{ "v4_tcp_syn_tunnel_ipip_over_v6", t_tunnel_new, V4_TUN6 },
	{ "v4_tcp_ack_tunnel_established", t_tunnel_established, V4_TUN },
	{ "v6_tcp_ack_tunnel_gue_established", t_tunnel_established, V6_GUE },
	{ "v4_vlan_tcp_syn_tunnel_tag_not_carried", t_tunnel_vlan, V4_TUN },
	{ "v4_tunnel_no_neigh", t_tunnel_noneigh, V4_TUN_NONEIGH },
	{ "v4_tunnel_largest_fitting_packet", t_tunnel_fits, V4_GUE },
	{ "v6_tunnel_largest_fitting_packet", t_tunnel_fits, V6_TUN },
	{ "v4_tunnel_too_big_frag_needed", t_tunnel_too_big, V4_TUN },
	{ "v6_tunnel_too_big_packet_too_big", t_tunnel_too_big, V6_TUN },
	{ "v4_tunnel_trailer_trimmed_largest_fitting", t_tunnel_trailer, V4_TUN },
	{ "v6_tunnel_gue_trailer_trimmed_largest_fitting", t_tunnel_trailer, V6_GUE },
	{ "v4_tcp_ttl1_tunnel_time_exceeded", t_ttl1, V4_TUN },
	{ "v6_tcp_hoplimit1_tunnel_gue_time_exceeded", t_ttl1, V6_GUE },
	/* schedulers */
	{ "v4_sched_maglev_table", t_maglev_many, V4_NAT },
	{ "v6_sched_maglev_table", t_maglev_many, V6_NAT },
	{ "v4_sched_rr_turns", t_rr, V4_RR },
	{ "v6_sched_rr_turns", t_rr, V6_RR },
	{ "v4_sched_wrr_1_2_3", t_wrr, V4_WRR },
	{ "v6_sched_wrr_1_2_3", t_wrr, V6_WRR },
	{ "v4_sched_srchash_one_client", t_src_same, V4_SRC },
	{ "v4_sched_srchash_spread", t_src_spread, V4_SRC },
	{ "v6_sched_srchash_one_client", t_src_same, V6_SRC },
	{ "v6_sched_srchash_spread", t_src_spread, V6_SRC },
	/* flows across configuration changes */
	{ "v4_flows_stay_after_backend_add", t_sticky_add, V4_STICKY },
	{ "v4_flows_stay_after_reweight", t_sticky_reweight, V4_STICKY },
	{ "v4_dsr_syn_on_confirmed_flow_found_by_mark", t_syn_marks, V4_DSR_MARKS },
	{ "v4_drain_keeps_flows_no_new", t_drain, V4_DRAIN },
	{ "v4_undrain_takes_new_flows", t_undrain, V4_DRAIN },
	{ "v4_readded_backend_flow_rescheduled", t_readded, V4_READD },
	{ "v4_weight0_backend_no_new_flows", t_w0_added, V4_W0 },
	{ "v4_weight0_is_drain", t_w0_set, V4_W0 },
	{ "v4_removed_backend_rescheduled", t_removed, V4_DEL },
	{ "v4_down_backend_rescheduled", t_down, V4_DOWN },
	{ "v4_all_drained_drop_new_keep_old", t_all_drained, V4_ALLDRAIN },
	{ "v4_vip_set_sched_keeps_flows", t_vip_set, V4_SET },
	{ "v4_udp_idle_flow_rescheduled", t_udp_idle, 0 },
	/* not ours */
	/* ICMP to a VIP address */
	{ "v4_icmp_echo_to_vip_answered", t_icmp_echo, V4_NAT },
	{ "v6_icmp_echo_to_vip_answered", t_icmp_echo, V6_NAT },
	{ "v4_icmp_echo_to_vip_without_backend_answered", t_icmp_echo, V4_EMPTY },
	{ "v4_vlan_icmp_echo_to_vip_answered", t_icmp_echo_vlan, V4_DSR },
	{ "v4_icmp_frag_needed_nat_to_backend", t_icmp_error_steered, V4_NAT },
	{ "v6_icmp_packet_too_big_nat_to_backend", t_icmp_error_steered, V6_NAT },
	{ "v4_icmp_time_exceeded_dsr_to_backend", t_icmp_error_steered, V4_DSR },
	{ "v6_icmp_packet_too_big_dsr_to_backend", t_icmp_error_steered, V6_DSR },
	{ "v4_icmp_frag_needed_nat_to_backend_trailer_trimmed", t_icmp_error_steered,
	  V4_NAT | ICMP_TRAILER },
	{ "v6_icmp_packet_too_big_dsr_to_backend_trailer_trimmed", t_icmp_error_steered,
	  V6_DSR | ICMP_TRAILER },
	/* VLAN */
	/* IPv4 options */
	/* IPv6 extension headers */
	/* fragments */
	/* truncation at every header boundary */
	{ "cut_eth_kernel_refuses", t_cut_eth, 0 },
	{ "v4_cut_in_ip_header", t_cut_l3, C_V4 },
	{ "v4_cut_after_ip_header", t_cut_l4_frame, C_V4 },
	{ "vlan_v4_cut_in_tag_or_ip_header", t_cut_l3, C_V4_VLAN },
	{ "vlan_v4_cut_after_ip_header", t_cut_l4_frame, C_V4_VLAN },
	{ "v6_cut_in_ip_header", t_cut_l3, C_V6 },
	{ "v6_cut_after_ip_header", t_cut_l4_frame, C_V6 },
	{ "v6_cut_in_ext_headers", t_cut_l4_frame, C_V6_EXT },
	{ "v6_ext_headers_beyond_payload", t_cut_ext_consistent, 0 },
	{ "v4_short_tcp_to_vip_drop", t_short_vip4, S_TCP },
	{ "v4_short_udp_to_vip_drop", t_short_vip4, S_UDP },
	{ "v4_short_tcp_non_vip_pass", t_short_other4, S_TCP },
	{ "v4_short_udp_non_vip_pass", t_short_other4, S_UDP },
	{ "v6_short_tcp_to_vip_drop", t_short_vip6, S_TCP },
	{ "v6_short_udp_to_vip_drop", t_short_vip6, S_UDP },
	{ "v6_short_tcp_after_hbh_to_vip_drop", t_short_vip6, S_TCP_EXT },
	{ "v6_short_tcp_non_vip_pass", t_short_other6, S_TCP },
	{ "v6_short_udp_non_vip_pass", t_short_other6, S_UDP },
	/* bad lengths and versions */
	/* router hygiene: IPv4 header */
	{ "v4_nat_reply_ip_csum_wrong_drop", t_nat_reply_bad, V4_NAT },
	{ "v6_nat_reply_l2_broadcast_drop", t_nat_reply_bad, V6_NAT | REPLY_L2 },
	/* router hygiene: IPv6, link layer, fragments, ICMP */
	{ "v4_icmp_echo_padding_trimmed", t_icmp_echo_padding, V4_NAT },
};

/* ---- main ---------------------------------------------------------------- */

static void setup_vips(void)
{
	struct xlb_open_opts o = { .no_pin = true, .flow_entries = 4096,
				   .udp_idle_ns = IDLE_NS };
	int i, err;

	tc_begin("setup_vips");
	for (i = 0; i < NVIP; i++)
		if (setup_vip(X, &vips[i]))
			break;
	err = xlb_open(&X_IDLE, &o);
	if (err) {
		X_IDLE = NULL;
		tc_fail("xlb_open (udp_idle_ns): %s", xlb_errmsg());
	} else if (setup_vip(X_IDLE, &idle_vip)) {
		/* failure recorded */
	}
	tc_end();
}

static void run_case(const struct tcase *c)
{
	char name[96];

	snprintf(name, sizeof(name), c->name, c->arg);
	tc_begin(name);
	c->fn(c->arg);
	tc_end();
}

/* Mean ns per run of one frame through the program, repeated n times in
 * the kernel (a verdict row's frame leaves unchanged, so every run sees
 * the same bytes). -1 when the run fails. */
static double time_frame(const struct pkt *p, unsigned int n)
{
	struct xdp_md ctx = { .data_end = p->len, .ingress_ifindex = (__u32)dev_ifindex[DEV_XC0] };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->data, .data_size_in = p->len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = n);

	if (bpf_prog_test_run_opts(xlb_prog_fd(cur), &o))
		return -1;
	return o.duration;
}

/*
 * test_packets --perf N: each verdict row's frame timed N times, after its
 * verdict is checked, as Katran's tester times its fixtures: the rows that
 * say what xlb does with a frame also say what that costs. Printed as ns
 * per packet and as a multiple of the cheapest row's (ARP, passed at the
 * first header): the extra price of each rule. Timing is a benchmark,
 * never a test: nothing here fails on a number.
 */
static void perf_verdicts(unsigned int n)
{
	double ns[ARRAY_SIZE(verdicts)], floor = 0;
	struct pkt p;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(verdicts); i++) {
		run_case(&(struct tcase){ verdicts[i].name, t_verdict, (int)i });
		verdict_frame(&verdicts[i], &p);
		ns[i] = time_frame(&p, n);
		if (ns[i] > 0 && (!floor || ns[i] < floor))
			floor = ns[i];
	}
	printf("# %-52s %8s %7s\n", "verdict row", "ns/pkt", "x floor");
	for (i = 0; i < ARRAY_SIZE(verdicts); i++)
		printf("# %-52s %8.1f %7.2f\n", verdicts[i].name, ns[i], floor ? ns[i] / floor : 0);
}

static void usage_exit(void)
{
	fprintf(stderr, "usage: test_packets [--perf RUNS]  (RUNS: repeats per verdict row)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned int perf_runs = 0;
	struct xlb_open_opts o = { .no_pin = true, .flow_entries = 65536,
				   /* every case gets its answer: test_ratelimit.c
				    * checks the limit */
				   .icmp_rate = XLB_ICMP_UNLIMITED };
	size_t i;
	int err;

	if (argc == 3 && !strcmp(argv[1], "--perf"))
		perf_runs = (unsigned int)strtoul(argv[2], NULL, 10);
	if (argc != 1 && !perf_runs)
		usage_exit();
	tc.layer = "prog";
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid()) {
		printf("FAIL prog/setup: needs root (netns, BPF)\n");
		return 1;
	}
	if (setup_netns()) {
		printf("FAIL prog/setup: network namespace (see stderr)\n");
		return 1;
	}
	err = xlb_open(&X, &o);
	if (err) {
		printf("FAIL prog/setup: xlb_open: %s (%s)\n", strerror(-err),
		       xlb_errmsg());
		return 1;
	}
	cur = X;
	print_verified_insns();
	setup_vips();
	if (perf_runs) {
		perf_verdicts(perf_runs);
		xlb_close(X);
		return test_exit_status();
	}
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		run_case(&cases[i]);
	for (i = 0; i < ARRAY_SIZE(forwards); i++)
		run_case(&(struct tcase){ forwards[i].name, t_forward, (int)i });
	for (i = 0; i < ARRAY_SIZE(verdicts); i++)
		run_case(&(struct tcase){ verdicts[i].name, t_verdict, (int)i });
	if (X_IDLE)
		xlb_close(X_IDLE);
	xlb_close(X);
	return test_exit_status();
}
