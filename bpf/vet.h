/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What a router checks before it forwards a packet (RFC 1812, RFC 8200),
 * and the TCP/UDP header sanity xlb needs before it rewrites one. These
 * checks cost cycles, so they run only on packets that may be ours (past
 * the address filter) and on ICMP to VIP addresses: traffic that is not
 * for a VIP leaves as cheaply as before. docs/datapath.md, section 1, is
 * the rule book.
 *
 * Nothing here changes the frame except the "time exceeded" answer, so a
 * packet passed to the kernel afterwards leaves exactly as it came.
 */
#ifndef XLB_BPF_VET_H
#define XLB_BPF_VET_H

#include "encap.h"
#include "icmp.h"
#include "parse.h"
#include "stats.h"

#define IP_OPTS_MAX 40

/* The options of one IPv4 header, copied out of the packet for the walk. */
struct ip_opts_walk {
	__u8 buf[64]; /* IP_OPTS_MAX used; indices are masked to 63 */
	__u32 len;
	__u32 pos;
	__u32 bad;
};

/* One option per call: end of list, no-op, or type + length (>= 2, not
 * past the header). Stops with `bad` set on the first that breaks that. */
static long ip_opt_step(__u32 i, void *ctx)
{
	struct ip_opts_walk *w = ctx;
	__u32 pos = w->pos;
	__u8 type, olen;

	if (pos >= w->len)
		return 1;
	type = w->buf[pos & 63];
	if (type == IPOPT_END)
		return 1;
	if (type == IPOPT_NOOP) {
		w->pos = pos + 1;
		return 0;
	}
	olen = pos + 1 < w->len ? w->buf[(pos + 1) & 63] : 0;
	if (olen < 2 || pos + olen > w->len) {
		w->bad = 1;
		return 1;
	}
	w->pos = pos + olen;
	return 0;
}

/* Options well formed and the whole header's checksum right; the options'
 * words are summed from the same copy the walk reads. */
static __always_inline int vet_ip_options(struct xdp_md *ctx, const struct xlb_pkt *p,
					  __u32 hdr_sum)
{
	const struct iphdr *ip = p->l3;
	struct ip_opts_walk w = {};
	__u64 sum = hdr_sum;
	__u32 len;
	__s64 part;

	if ((void *)(ip + 1) > pkt_end(ctx))
		return XLB_R_DROP_MALFORMED;
	len = ip->ihl * 4 - sizeof(*ip);
	if (len > IP_OPTS_MAX || !len)
		return XLB_R_DROP_MALFORMED;
	if (bpf_xdp_load_bytes(ctx, p->l3_off + sizeof(*ip), w.buf, len))
		return XLB_R_DROP_MALFORMED;
	w.len = len;
	part = bpf_csum_diff(NULL, 0, (__be32 *)w.buf, len, 0);
	if (part < 0)
		return XLB_R_DROP_MALFORMED;
	sum += (__u32)part;
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	if (csum_fold((__u32)sum))
		return XLB_R_DROP_IP_CSUM;
	bpf_loop(IP_OPTS_MAX, ip_opt_step, &w, 0);
	return w.bad ? XLB_R_DROP_MALFORMED : 0;
}

/* RFC 1812 5.2.2: verify the header checksum (a zero one fails like any
 * other wrong value) and that the options parse. */
static __always_inline int vet_ipv4(struct xdp_md *ctx, const struct xlb_pkt *p)
{
	const struct iphdr *ip = p->l3;
	const __u32 *w = p->l3;
	__u64 wide = 0;
	__u32 sum;

	if ((void *)(ip + 1) > pkt_end(ctx))
		return XLB_R_DROP_MALFORMED;
	/* Five 32-bit words, half the loads of ten 16-bit ones: the one's
	 * complement sum is the same once the carries are folded back. */
#pragma unroll
	for (int i = 0; i < 5; i++)
		wide += w[i];
	wide = (wide & 0xffffffff) + (wide >> 32);
	sum = (__u32)wide + (__u32)(wide >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	if (ip->ihl > 5)
		return vet_ip_options(ctx, p, sum);
	return csum_fold(sum) ? XLB_R_DROP_IP_CSUM : 0;
}

/* Layer 2 and 3, for every packet xlb may forward or answer: a unicast
 * packet in a link-layer broadcast or multicast frame is not forwarded
 * (RFC 1812 5.3.4), an IPv4 header must be sound. */
static __always_inline int vet_l3(struct xdp_md *ctx, const struct xlb_pkt *p)
{
	const struct ethhdr *eth = pkt_data(ctx);

	if ((void *)(eth + 1) > pkt_end(ctx))
		return XLB_R_DROP_MALFORMED;
	if (eth->h_dest[0] & 1)
		return XLB_R_DROP_L2_BCAST;
	if (p->key.family == XLB_FAMILY_V4)
		return vet_ipv4(ctx, p);
	return 0;
}

/* The TCP data offset and the UDP length must agree with the segment the
 * IP header delimits (parse_l4 made sure the fixed header is inside it). */
static __always_inline int vet_l4(struct xdp_md *ctx, const struct xlb_pkt *p)
{
	void *end = pkt_end(ctx), *l3_end = p->l3 + p->l3_len;
	long seg = l3_end - p->l4;

	if (p->key.proto == IPPROTO_TCP) {
		const struct tcphdr *th = p->l4;

		if ((void *)(th + 1) > end || (long)th->doff * 4 > seg)
			return XLB_R_DROP_MALFORMED;
	} else {
		const struct udphdr *uh = p->l4;

		if ((void *)(uh + 1) > end || (long)bpf_ntohs(uh->len) != seg)
			return XLB_R_DROP_MALFORMED;
	}
	return 0;
}

/* The address the kernel would answer from towards the packet's source:
 * the gateway's own, so traceroute names this hop. */
static __always_inline int gateway_addr(struct xdp_md *ctx, const struct xlb_pkt *p,
					struct xlb_addr *out)
{
	struct bpf_fib_lookup fib;

	__builtin_memset(&fib, 0, sizeof(fib));
	fib.ifindex = ctx->ingress_ifindex;
	if (p->key.family == XLB_FAMILY_V4) {
		fib.family = XLB_AF_INET;
		fib.ipv4_dst = p->key.src.v4;
	} else {
		fib.family = XLB_AF_INET6;
		__builtin_memcpy(fib.ipv6_dst, p->key.src.bytes, 16);
	}
	if (bpf_fib_lookup(ctx, &fib, sizeof(fib), XLB_FIB_LOOKUP_SRC | BPF_FIB_LOOKUP_SKIP_NEIGH) !=
	    BPF_FIB_LKUP_RET_SUCCESS)
		return -1;
	__builtin_memset(out, 0, sizeof(*out));
	if (p->key.family == XLB_FAMILY_V4)
		out->v4 = fib.ipv4_src;
	else
		__builtin_memcpy(out->bytes, fib.ipv6_src, 16);
	return 0;
}

/* A packet to a VIP address that would expire at this hop, in any mode:
 * answered as a router does (RFC 1812 5.3.1), within the ICMP rate limit,
 * which is checked first so a flood of expiring packets costs no FIB
 * lookups. Without a route back, the kernel gets it (pass_ttl). */
static __always_inline int expire(struct xdp_md *ctx, const struct xlb_pkt *p)
{
	struct xlb_addr gw;

	if (!icmp_allowed())
		return drop(XLB_R_DROP_ICMP_RATELIMITED);
	if (gateway_addr(ctx, p, &gw))
		return pass(XLB_R_PASS_TTL);
	return send_time_exceeded(ctx, p, &gw);
}

/*
 * A TCP/UDP packet past the address filter: 0 to go on (flows, nat
 * replies), else the reason it stops here. XLB_R_TX_ICMP_TIME_EXCEEDED asks for the
 * answer (see vet_verdict). The order is a router's: link layer, IP
 * header, TTL, then what only xlb cares about.
 */
static __always_inline int vet_packet(struct xdp_md *ctx, const struct xlb_pkt *p)
{
	int r = vet_l3(ctx, p);

	if (r)
		return r;
	/* A nat reply (to a client) that would expire is nat_precheck's:
	 * the kernel tells the backend (pass_ttl). */
	if (pkt_ttl(p, pkt_end(ctx)) <= 1 && is_vip_address(p))
		return XLB_R_TX_ICMP_TIME_EXCEEDED;
	return vet_l4(ctx, p);
}

/* Act on vet_packet's reason. A packet that is ours (to a VIP address, or
 * a nat reply) is dropped; the others that share the filter's bits go to
 * the kernel, which applies the same rules itself. */
static __always_inline int vet_verdict(struct xdp_md *ctx, const struct xlb_pkt *p, int r,
				       bool ours)
{
	if (r == XLB_R_TX_ICMP_TIME_EXCEEDED)
		return expire(ctx, p);
	return ours ? drop(r) : pass(XLB_R_PASS_MALFORMED);
}

#endif
