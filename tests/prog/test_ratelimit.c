// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The ICMP rate limit (docs/datapath.md, section 1, "ICMP rate limit") on
 * the real program, through BPF_PROG_TEST_RUN: a full bucket answers its
 * burst, the next packet is dropped unanswered and counted, and the bucket
 * earns credit with time. Time is moved by writing the bucket through its
 * map, never by sleeping: a bucket brought up to date N ns ago has earned
 * N ns of credit. The limit is 1 message a second, so the microseconds a
 * case takes earn nothing measurable (a message costs a whole second).
 *
 * Every answer is compared byte for byte with one built from scratch
 * (tests/lib/pkt.c), and each run checks the one reason counter that moved.
 * The process stays on one CPU: the buckets are per CPU.
 *
 * Topology, in a private network namespace (bpf_fib_lookup() finds the
 * gateway's address towards the client, and the tunnel's path MTU):
 *
 *   client 198.18.0.2 fd00::2 -- xc0 198.18.0.1 fd00::1 [xlb]
 *                                xb0 198.18.2.1 mtu 1400 -- be 198.18.2.11 fd00:2::11
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "libxlb.h"
#include "pkt.h"
#include "sysutil.h"
#include "testlib.h"

#define RATE 1 /* a second: one message costs a whole second of credit */
#define BURST 4
#define COST_NS 1000000000ull
#define XB0_MTU 1400

static const uint8_t xc0_mac[6] = { 0x02, 0, 0, 0, 0xc0, 0x01 };
static const uint8_t client_mac[6] = { 0x02, 0xc1, 0, 0, 0, 0x02 };
static const uint8_t be_mac[6] = { 0x02, 0xbe, 0, 0, 0, 0x11 };
static int xc0_ifindex;

static const char *const reason_names[] = XLB_REASON_NAMES;

/* The VIPs: time exceeded is answered for any; too big needs the tunnel. */
enum { NAT4, NAT6, TUN4, TUN6, NVIP };

static const struct {
	const char *vip, *be;
	uint16_t be_port;
	enum xlb_mode mode;
} vip_def[NVIP] = {
	[NAT4] = { "198.19.0.10", "198.18.2.11", 8080, XLB_MODE_NAT },
	[NAT6] = { "fd00:ff::10", "fd00:2::11", 8080, XLB_MODE_NAT },
	[TUN4] = { "198.19.0.40", "198.18.2.11", 80, XLB_MODE_TUNNEL },
	[TUN6] = { "fd00:ff::40", "fd00:2::11", 80, XLB_MODE_TUNNEL },
};

static struct xlb *X; /* limited: RATE, BURST */
static struct xlb *X_FREE; /* --icmp-rate 0 */

static int family_of(const char *a)
{
	return strchr(a, ':') ? 6 : 4;
}

static void addr_parse(uint8_t out[16], const char *s)
{
	memset(out, 0, 16);
	if (inet_pton(family_of(s) == 4 ? AF_INET : AF_INET6, s, out) != 1) {
		fprintf(stderr, "bad address %s\n", s);
		exit(2);
	}
}

/* ---- setup --------------------------------------------------------------- */

static int setup_netns(void)
{
	const struct test_veth client = { .dev = "xc0", .peer = "xc0p", .mac = xc0_mac,
					  .v4 = "198.18.0.1", .v6 = "fd00::1" };
	const struct test_veth backends = { .dev = "xb0", .peer = "xb0p", .v4 = "198.18.2.1",
					    .v6 = "fd00:2::1", .mtu = XB0_MTU };

	if (test_netns_private() || test_veth_add(&backends) < 0 ||
	    test_neigh_add("198.18.2.11", "fd00:2::11", be_mac, "xb0"))
		return -1;
	xc0_ifindex = test_veth_add(&client);
	return xc0_ifindex > 0 ? 0 : -1;
}

static int setup_vip(struct xlb *x, int vi)
{
	struct xlb_vip_spec spec = { .mode = vip_def[vi].mode };
	struct xlb_endpoint ep = {};
	int family = family_of(vip_def[vi].vip);

	addr_parse(spec.key.addr.bytes, vip_def[vi].vip);
	spec.key.port = htons(80);
	spec.key.proto = IPPROTO_TCP;
	spec.key.family = family == 4 ? XLB_FAMILY_V4 : XLB_FAMILY_V6;
	addr_parse(ep.addr.bytes, vip_def[vi].be);
	ep.port = htons(vip_def[vi].be_port);
	ep.family = spec.key.family;
	if (xlb_vip_add(x, &spec) || xlb_backend_add(x, &spec.key, &ep, 1)) {
		fprintf(stderr, "VIP %s: %s\n", vip_def[vi].vip, xlb_errmsg());
		return -1;
	}
	return 0;
}

static int open_instance(struct xlb **x, uint32_t rate)
{
	struct xlb_open_opts o = { .no_pin = true, .flow_entries = 4096, .icmp_rate = rate,
				   .icmp_burst = BURST };

	if (xlb_open(x, &o)) {
		fprintf(stderr, "xlb_open: %s\n", xlb_errmsg());
		return -1;
	}
	for (int vi = 0; vi < NVIP; vi++)
		if (setup_vip(*x, vi))
			return -1;
	return 0;
}

/* The buckets are per CPU: every run must take from the same one. */
static int stay_on_this_cpu(void)
{
	cpu_set_t set;
	int cpu = sched_getcpu();

	if (cpu < 0)
		return -1;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

/* ---- the bucket ---------------------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts); /* bpf_ktime_get_ns()'s clock */
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Every CPU's bucket: `credit` left, brought up to date `ago` ns ago. */
static bool bucket_set(struct xlb *x, uint64_t credit, uint64_t ago)
{
	int n = libbpf_num_possible_cpus(), fd = xlb_map_fd(x, XLB_MAP_ICMP_BUCKET);
	struct xlb_icmp_bucket b[n];
	__u32 zero = 0;

	if (!ASSERT_GE(fd, 0, "xlb_icmp_bucket's fd"))
		return false;
	uint64_t now = now_ns();

	for (int i = 0; i < n; i++)
		b[i] = (struct xlb_icmp_bucket){ .credit_ns = credit,
						 .last_ns = ago < now ? now - ago : 0 };
	return ASSERT_OK(bpf_map_update_elem(fd, &zero, b, BPF_ANY) ? -errno : 0,
			 "writing xlb_icmp_bucket");
}

/* This CPU's bucket. */
static bool bucket_get(struct xlb *x, struct xlb_icmp_bucket *out)
{
	int n = libbpf_num_possible_cpus(), fd = xlb_map_fd(x, XLB_MAP_ICMP_BUCKET);
	struct xlb_icmp_bucket b[n];
	__u32 zero = 0;

	if (!ASSERT_GE(fd, 0, "xlb_icmp_bucket's fd") ||
	    !ASSERT_OK(bpf_map_lookup_elem(fd, &zero, b) ? -errno : 0, "reading xlb_icmp_bucket"))
		return false;
	*out = b[sched_getcpu()];
	return true;
}

/* ---- packets ------------------------------------------------------------- */

static const uint8_t data13[] = "hello, xlb!!";

enum kind { TTL1, TOO_BIG, ECHO };

/* A packet from the client that xlb answers itself. */
static void ask_spec(struct pkt_spec *s, int vi, enum kind k)
{
	static uint8_t fill[PKT_MAX];
	int family = family_of(vip_def[vi].vip);
	uint8_t src[16], dst[16];

	addr_parse(src, family == 4 ? "198.18.0.2" : "fd00::2");
	addr_parse(dst, vip_def[vi].vip);
	pkt_spec_l4(s, family, k != ECHO ? IPPROTO_TCP : family == 4 ? PKT_NH_ICMP : PKT_NH_ICMPV6,
		    src, 40000, dst, k == ECHO ? 0 : 80);
	memcpy(s->eth_dst, xc0_mac, 6);
	memcpy(s->eth_src, client_mac, 6);
	s->tcp_flags = PKT_TCP_ACK;
	s->payload = data13;
	s->payload_len = 13;
	if (k == TTL1)
		s->ttl = 1;
	if (k == ECHO) {
		s->icmp_type = family == 4 ? 8 : 128;
		s->icmp_id = 0x4242;
		s->icmp_seq = 7;
	}
	if (k == TOO_BIG) { /* one byte too many for xb0 once encapsulated */
		memset(fill, 0x5a, sizeof(fill));
		s->payload = fill;
		s->payload_len = XB0_MTU - (family == 4 ? 20 : 40) - 20;
	}
}

/* xlb's answer to `in` (built from spec s), back to the client out of xc0:
 * time exceeded from the gateway, fragmentation needed / packet too big
 * from the VIP (MTU: xb0's less the IP-in-IP header) or the echo reply. */
static void answer_of(struct pkt *exp, const struct pkt_spec *s, const struct pkt *in,
		      enum kind k)
{
	struct pkt_spec e = *s;

	if (k == ECHO) {
		memcpy(e.src, s->dst, 16);
		memcpy(e.dst, s->src, 16);
		e.icmp_type = s->family == 4 ? 0 : 129;
	} else {
		pkt_spec_l4(&e, s->family, s->family == 4 ? PKT_NH_ICMP : PKT_NH_ICMPV6, s->dst, 0,
			    s->src, 0);
		if (k == TTL1)
			addr_parse(e.src, s->family == 4 ? "198.18.0.1" : "fd00::1");
		e.tos = s->family == 4 ? 0xc0 : 0;
		e.ip_id = 0;
		e.frag_off = 0;
		e.flow_label = 0;
		e.icmp_type = k == TOO_BIG ? (s->family == 4 ? 3 : 2) : s->family == 4 ? 11 : 3;
		e.icmp_code = k == TOO_BIG && s->family == 4 ? 4 : 0;
		e.icmp_id = 0;
		e.icmp_seq = k == TOO_BIG ? XB0_MTU - (s->family == 4 ? 20 : 40) : 0;
		e.payload = in->data + in->l3_off;
		e.payload_len = s->family == 4 ? in->l4_off - in->l3_off + 8 : 48;
	}
	memcpy(e.eth_dst, s->eth_src, 6);
	memcpy(e.eth_src, s->eth_dst, 6);
	e.ttl = 64;
	if (pkt_build(exp, &e)) {
		fprintf(stderr, "answer does not fit\n");
		exit(2);
	}
}

/* Run `in` on xc0: the action, and the one verdict reason that moved. */
static bool run(struct xlb *x, const struct pkt *in, uint32_t *action, int *reason,
		struct pkt *out)
{
	struct xdp_md ctx = { .data_end = (__u32)in->len, .ingress_ifindex = (__u32)xc0_ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in->data, .data_size_in = (__u32)in->len,
		    .data_out = out->data, .data_size_out = sizeof(out->data), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx));
	uint64_t before[XLB_R_MAX], after[XLB_R_MAX];

	*reason = -1;
	if (!ASSERT_OK(xlb_reason_counters(x, before), "reading the counters") ||
	    !ASSERT_OK(bpf_prog_test_run_opts(xlb_prog_fd(x), &o) ? -errno : 0, "test run") ||
	    !ASSERT_OK(xlb_reason_counters(x, after), "reading the counters"))
		return false;
	*action = o.retval;
	out->len = o.data_size_out;
	for (int i = 0; i < XLB_R_MAX; i++) {
		if (xlb_reason_is_info(i) || after[i] == before[i])
			continue;
		if (*reason >= 0 || after[i] - before[i] != 1)
			return TEST_FAIL("more than one verdict counted: %s and %s",
					 *reason >= 0 ? reason_names[*reason] : "-", reason_names[i]);
		*reason = i;
	}
	return ASSERT_TRUE(*reason >= 0, "no verdict counted");
}

static const char *name_of(int reason)
{
	return reason >= 0 ? reason_names[reason] : "none";
}

/* The n-th packet of kind k to VIP vi is answered, exactly. */
static bool answered(struct xlb *x, int vi, enum kind k, int n)
{
	static const enum xlb_reason want[] = { [TTL1] = XLB_R_TX_ICMP_TIME_EXCEEDED,
						[TOO_BIG] = XLB_R_TX_ICMP_TOO_BIG,
						[ECHO] = XLB_R_TX_ICMP_ECHO };
	struct pkt in, exp, out;
	struct pkt_spec s;
	uint32_t action;
	char diff[640];
	int reason;

	ask_spec(&s, vi, k);
	if (pkt_build(&in, &s))
		return TEST_FAIL("packet does not fit");
	answer_of(&exp, &s, &in, k);
	if (!run(x, &in, &action, &reason, &out))
		return false;
	if (action != XDP_TX || reason != (int)want[k])
		return TEST_FAIL("packet %d: action %u, %s; expected XDP_TX, %s", n, action,
				 name_of(reason), reason_names[want[k]]);
	if (pkt_diff_summary(diff, sizeof(diff), exp.data, exp.len, out.data, out.len))
		return TEST_FAIL("packet %d: answer differs (%s)", n, diff);
	return true;
}

/* The n-th packet of kind k is dropped without an answer, and counted. */
static bool suppressed(struct xlb *x, int vi, enum kind k, int n)
{
	struct pkt in, out;
	struct pkt_spec s;
	uint32_t action;
	int reason;

	ask_spec(&s, vi, k);
	if (pkt_build(&in, &s))
		return TEST_FAIL("packet does not fit");
	if (!run(x, &in, &action, &reason, &out))
		return false;
	if (action != XDP_DROP || reason != XLB_R_DROP_ICMP_RATELIMITED)
		return TEST_FAIL("packet %d: action %u, %s; expected XDP_DROP, "
				 "drop_icmp_ratelimited",
				 n, action, name_of(reason));
	return true;
}

/* ---- cases --------------------------------------------------------------- */

/* A bucket idle for ages holds BURST messages, not more: the burst is
 * answered, the next one is not. */
static void t_burst(int vi, enum kind k)
{
	int i;

	if (!bucket_set(X, 0, 1000 * BURST * COST_NS))
		return;
	for (i = 1; i <= BURST; i++)
		if (!answered(X, vi, k, i))
			return;
	suppressed(X, vi, k, i);
}

/* 1.5 messages' worth of time: one answer, then none; half a message's
 * credit stays in the bucket. */
static void t_refill(int vi)
{
	struct xlb_icmp_bucket b;

	if (!bucket_set(X, 0, COST_NS + COST_NS / 2) || !answered(X, vi, TTL1, 1) ||
	    !suppressed(X, vi, TTL1, 2) || !bucket_get(X, &b))
		return;
	ASSERT_TRUE(b.credit_ns >= COST_NS / 2 && b.credit_ns < COST_NS,
		    "credit left: %llu ns, expected half a message's (%llu) and less than one",
		    (unsigned long long)b.credit_ns, COST_NS / 2);
}

/* Credit carried over counts: half a message left, half earned. */
static void t_credit_kept(int vi)
{
	if (bucket_set(X, COST_NS / 2, COST_NS / 2 + COST_NS / 10) && answered(X, vi, TTL1, 1))
		suppressed(X, vi, TTL1, 2);
}

/* An empty bucket does not silence echo replies. */
static void t_echo_free(int vi)
{
	if (bucket_set(X, 0, 0) && answered(X, vi, ECHO, 1))
		answered(X, vi, ECHO, 2);
}

/* --icmp-rate 0: every error is answered, whatever the bucket holds. */
static void t_unlimited(int vi)
{
	if (!bucket_set(X_FREE, 0, 0))
		return;
	for (int i = 1; i <= 4 * BURST; i++)
		if (!answered(X_FREE, vi, TTL1, i))
			return;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid()) {
		printf("FAIL ratelimit/setup: needs root (netns, BPF)\n");
		return 1;
	}
	if (setup_netns() || stay_on_this_cpu() || open_instance(&X, RATE) ||
	    open_instance(&X_FREE, XLB_ICMP_UNLIMITED)) {
		printf("FAIL ratelimit/setup: namespace or datapath (see stderr)\n");
		return 1;
	}
	RUN_CASE("ratelimit/v4_time_exceeded_burst_then_dropped", t_burst(NAT4, TTL1));
	RUN_CASE("ratelimit/v6_time_exceeded_burst_then_dropped", t_burst(NAT6, TTL1));
	RUN_CASE("ratelimit/v4_frag_needed_burst_then_dropped", t_burst(TUN4, TOO_BIG));
	RUN_CASE("ratelimit/v6_packet_too_big_burst_then_dropped", t_burst(TUN6, TOO_BIG));
	RUN_CASE("ratelimit/refill_one_message_after_its_time", t_refill(NAT4));
	RUN_CASE("ratelimit/credit_carried_over", t_credit_kept(NAT6));
	RUN_CASE("ratelimit/echo_reply_not_limited", t_echo_free(NAT4));
	RUN_CASE("ratelimit/rate_0_unlimited", t_unlimited(NAT4));
	xlb_close(X_FREE);
	xlb_close(X);
	return test_exit_status();
}
