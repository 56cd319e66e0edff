/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Header parsing, one function per layer. Each advances the cursor only after
 * its bounds check, and returns 0 to go on or the xlb_reason that decides the
 * packet (docs/datapath.md, section 1, is the rule book).
 */
#ifndef XLB_BPF_PARSE_H
#define XLB_BPF_PARSE_H

#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include "maps.h"

#ifndef ETH_P_8021Q
#define ETH_P_8021Q 0x8100
#endif
#define IP_MF 0x2000
#define IP_OFFSET 0x1fff

struct vlan_hdr {
	__be16 tci;
	__be16 encapsulated_proto;
};

/* What the rest of the program needs to know about a parsed packet. */
struct xlb_pkt {
	struct xlb_flow_key key;
	void *l3; /* struct iphdr or struct ipv6hdr */
	void *l4; /* struct tcphdr or struct udphdr */
	__u32 frame_len; /* bytes from the Ethernet header on, for counters */
	__u8 l3_off; /* 14, or 18 behind a VLAN tag */
	__u16 l3_len; /* IPv4 total length, IPv6 40 + payload: FIB MTU check */
	__u8 tcp_rst;
	__u8 tcp_syn; /* SYN without ACK: a connection's first packet */
	__u8 tcp_synack; /* SYN+ACK: a backend accepting a connection */
	__u8 tcp_fin;
	__u8 tos;
	__u32 nh_gen; /* the control plane's next-hop generation (see xlb_nexthop) */
	__u32 clock; /* xlbd's clock (xlb_addr_filter.clock) */
};

/* What the address filter says a packet may be (maybe_ours). */
#define XLB_MAYBE_VIP 1u /* its destination may be a VIP */
#define XLB_MAYBE_NAT_REPLY 2u /* its source may be a nat backend */

static __always_inline bool is_vip_address(const struct xlb_pkt *p)
{
	struct xlb_vip_key key = {};

	key.addr = p->key.dst;
	key.family = p->key.family;
	return bpf_map_lookup_elem(&xlb_vip_addrs, &key) != NULL;
}

static __always_inline bool filter_has(const struct xlb_addr_filter *f, __u32 bit)
{
	return f->words[(bit >> 6) & (XLB_ADDR_FILTER_WORDS - 1)] & (1ull << (bit & 63));
}

/* Cheap pre-check: could this packet be for a VIP or be a NAT reply? The
 * same read yields the next-hop generation, so checking cached next hops
 * costs nothing more. */
static __always_inline __u32 maybe_ours(struct xlb_pkt *p)
{
	__u32 zero = 0, roles = 0;
	const struct xlb_addr_filter *f = bpf_map_lookup_elem(&xlb_addr_filter, &zero);

	if (!f)
		return XLB_MAYBE_VIP | XLB_MAYBE_NAT_REPLY;
	p->nh_gen = f->nexthop_gen;
	p->clock = f->clock;
	if (filter_has(f, xlb_filter_bit(&p->key.dst, p->key.family, XLB_FILTER_VIP)))
		roles |= XLB_MAYBE_VIP;
	if (filter_has(f, xlb_filter_bit(&p->key.src, p->key.family, XLB_FILTER_NAT_BACKEND)))
		roles |= XLB_MAYBE_NAT_REPLY;
	return roles;
}

/* A packet we cannot read is ours to drop if it is meant for a VIP
 * address; anything else goes to the kernel, which validates and accounts
 * for it. */
static __always_inline int malformed_rule(const struct xlb_pkt *p)
{
	return is_vip_address(p) ? XLB_R_DROP_MALFORMED : XLB_R_PASS_MALFORMED;
}

/* A fragment carries no (or only the first) L4 ports, so it cannot be
 * matched to a flow: drop it if it is meant for a VIP, pass it otherwise.
 * One that could never be reassembled (RFC 8200 4.5: a non-last fragment
 * not a multiple of 8 bytes, no data, or data past max_end) is malformed. */
static __always_inline int fragment_rule(const struct xlb_pkt *p, __u32 offset, bool more,
					 long data_len, long max_end)
{
	if ((more && (data_len & 7)) || data_len <= 0 || offset + data_len > max_end)
		return malformed_rule(p);
	return is_vip_address(p) ? XLB_R_DROP_FRAGMENT : XLB_R_PASS_FRAGMENT;
}

static __always_inline int parse_eth(void **pos, void *end, struct xlb_pkt *p, __be16 *proto)
{
	struct ethhdr *eth = *pos;
	struct vlan_hdr *vlan;

	if ((void *)(eth + 1) > end)
		return XLB_R_PASS_MALFORMED;
	*proto = eth->h_proto;
	*pos = eth + 1;
	p->l3_off = sizeof(*eth);
	if (*proto != bpf_htons(ETH_P_8021Q))
		return 0;
	/* One 802.1Q tag; a second tag leaves a non-IP ethertype behind. */
	vlan = *pos;
	if ((void *)(vlan + 1) > end)
		return XLB_R_PASS_MALFORMED;
	*proto = vlan->encapsulated_proto;
	*pos = vlan + 1;
	p->l3_off += sizeof(*vlan);
	return 0;
}

static __always_inline int parse_ipv4(void **pos, void *end, struct xlb_pkt *p,
				      __u8 *l4proto)
{
	struct iphdr *ip = *pos;
	__u32 hdr_len, tot_len;

	if ((void *)(ip + 1) > end)
		return XLB_R_PASS_MALFORMED;
	if (ip->version != 4 || ip->ihl < 5)
		return XLB_R_PASS_MALFORMED;
	p->key.family = XLB_FAMILY_V4;
	p->key.src.v4 = ip->saddr;
	p->key.dst.v4 = ip->daddr;
	hdr_len = ip->ihl * 4;
	tot_len = bpf_ntohs(ip->tot_len);
	/* Includes a frame shorter than its IP packet. */
	if (tot_len < hdr_len || (void *)ip + tot_len > end)
		return malformed_rule(p);
	if (*pos + hdr_len > end)
		return malformed_rule(p);

	p->l3 = ip;
	p->l3_len = tot_len;
	p->tos = ip->tos;
	if (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return fragment_rule(p, (bpf_ntohs(ip->frag_off) & IP_OFFSET) * 8,
				     ip->frag_off & bpf_htons(IP_MF), tot_len - hdr_len,
				     0xffff - hdr_len);
	*l4proto = ip->protocol;
	*pos += hdr_len;
	return 0;
}

static __always_inline bool ipv6_is_walked_ext(__u8 nexthdr)
{
	return nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
	       nexthdr == IPPROTO_DSTOPTS;
}

/* Headers we recognise as extensions but do not look past. */
static __always_inline bool ipv6_is_opaque_ext(__u8 nexthdr)
{
	return nexthdr == IPPROTO_AH || nexthdr == IPPROTO_ESP || nexthdr == 59 /* no next header */;
}

/* Bounded walk: at most XLB_IPV6_EXT_MAX hop-by-hop/routing/dest-options,
 * each inside the IPv6 payload. Hop-by-hop may only come first (RFC 8200
 * 4.1): the caller has seen the first next header. */
static __always_inline int skip_ipv6_ext(void **pos, void *end, const struct xlb_pkt *p,
					 __u8 *nexthdr)
{
	void *l3_end = p->l3 + p->l3_len;

#pragma unroll
	for (int i = 0; i < XLB_IPV6_EXT_MAX; i++) {
		struct ipv6_opt_hdr *opt = *pos;
		void *next;

		if (!ipv6_is_walked_ext(*nexthdr))
			return 0;
		if ((void *)(opt + 1) > end)
			return malformed_rule(p);
		next = *pos + (opt->hdrlen + 1) * 8;
		if (next > end || next > l3_end || opt->nexthdr == IPPROTO_HOPOPTS)
			return malformed_rule(p);
		*nexthdr = opt->nexthdr;
		*pos = next;
	}
	return ipv6_is_walked_ext(*nexthdr) ? XLB_R_PASS_IPV6_EXT : 0;
}

/* The fragment header must be whole, inside the payload. */
static __always_inline int ipv6_fragment_rule(void *pos, void *end, const struct xlb_pkt *p)
{
	struct frag_hdr {
		__u8 nexthdr;
		__u8 reserved;
		__be16 frag_off; /* offset << 3 | M */
		__be32 id;
	} *fh = pos;
	void *l3_end = p->l3 + p->l3_len;
	__u16 off;

	if ((void *)(fh + 1) > end || (void *)(fh + 1) > l3_end)
		return malformed_rule(p);
	off = bpf_ntohs(fh->frag_off);
	return fragment_rule(p, off & ~7, off & 1, l3_end - (void *)(fh + 1), 0xffff);
}

static __always_inline void copy_addr6(struct xlb_addr *dst, const struct in6_addr *src)
{
	__builtin_memcpy(dst->bytes, src, 16);
}

static __always_inline int parse_ipv6(void **pos, void *end, struct xlb_pkt *p,
				      __u8 *l4proto)
{
	struct ipv6hdr *ip6 = *pos;
	__u8 nexthdr;
	int r;

	if ((void *)(ip6 + 1) > end)
		return XLB_R_PASS_MALFORMED;
	if (ip6->version != 6)
		return XLB_R_PASS_MALFORMED;
	p->key.family = XLB_FAMILY_V6;
	copy_addr6(&p->key.src, &ip6->saddr);
	copy_addr6(&p->key.dst, &ip6->daddr);
	/* A frame shorter than its IP packet. */
	if ((void *)(ip6 + 1) + bpf_ntohs(ip6->payload_len) > end)
		return malformed_rule(p);
	p->l3 = ip6;
	p->l3_len = sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
	p->tos = (ip6->priority << 4) | (ip6->flow_lbl[0] >> 4);
	*pos = ip6 + 1;

	nexthdr = ip6->nexthdr;
	r = skip_ipv6_ext(pos, end, p, &nexthdr);
	if (r)
		return r;
	if (nexthdr == IPPROTO_FRAGMENT)
		return ipv6_fragment_rule(*pos, end, p);
	if (ipv6_is_opaque_ext(nexthdr))
		return XLB_R_PASS_IPV6_EXT;
	*l4proto = nexthdr;
	return 0;
}

/* The L4 header must also lie inside the IP packet, not in frame padding. */
static __always_inline bool beyond_l3(const struct xlb_pkt *p, void *hdr_end)
{
	return hdr_end > p->l3 + p->l3_len;
}

static __always_inline int parse_l4(void *pos, void *end, struct xlb_pkt *p, __u8 proto)
{
	if (proto == IPPROTO_TCP) {
		struct tcphdr *th = pos;

		if ((void *)(th + 1) > end || beyond_l3(p, th + 1) || th->doff < 5)
			return malformed_rule(p);
		p->key.sport = th->source;
		p->key.dport = th->dest;
		p->tcp_rst = th->rst;
		p->tcp_syn = th->syn && !th->ack;
		p->tcp_synack = th->syn && th->ack;
		p->tcp_fin = th->fin;
	} else if (proto == IPPROTO_UDP) {
		struct udphdr *uh = pos;

		if ((void *)(uh + 1) > end || beyond_l3(p, uh + 1))
			return malformed_rule(p);
		p->key.sport = uh->source;
		p->key.dport = uh->dest;
	} else if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) {
		/* Not a flow of its own: the caller may still answer an echo to
		 * a VIP or steer an error that quotes a VIP flow. */
		p->key.proto = proto;
		p->l4 = pos;
		return XLB_R_PASS_ICMP;
	} else {
		return XLB_R_PASS_NOT_VIP;
	}
	p->key.proto = proto;
	p->l4 = pos;
	return 0;
}

/* Cut whatever follows the IP packet in the frame about to leave (after a
 * rewrite or an encapsulation): Ethernet padding or a trailer must not
 * reach a backend, and the frame must be as long as the next hop's MTU
 * check assumed. 0, or -1 if the frame is shorter than its IP packet. */
static __noinline int trim_frame(struct xdp_md *ctx)
{
	void *data = pkt_data(ctx), *end = pkt_end(ctx);
	struct ethhdr *eth = data;
	__u32 l3_off = sizeof(*eth), ip_len;
	__be16 proto;
	long excess;

	if ((void *)(eth + 1) > end)
		return -1;
	proto = eth->h_proto;
	if (proto == bpf_htons(ETH_P_8021Q)) {
		struct vlan_hdr *vlan = (void *)(eth + 1);

		if ((void *)(vlan + 1) > end)
			return -1;
		proto = vlan->encapsulated_proto;
		l3_off += sizeof(*vlan);
	}
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data + l3_off;

		if ((void *)(ip + 1) > end)
			return -1;
		ip_len = bpf_ntohs(ip->tot_len);
	} else {
		struct ipv6hdr *ip6 = data + l3_off;

		if ((void *)(ip6 + 1) > end)
			return -1;
		ip_len = sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
	}
	excess = (end - data) - (long)(l3_off + ip_len);
	if (excess <= 0)
		return excess < 0 ? -1 : 0;
	return bpf_xdp_adjust_tail(ctx, (int)-excess) ? -1 : 0;
}

/* Whether bytes follow p's IP packet in the frame (parsing made sure the
 * frame holds the whole packet): only then has trim_frame work to do, for
 * a frame rewritten in place. */
static __always_inline bool pkt_padded(const struct xlb_pkt *p)
{
	return p->frame_len > (__u32)p->l3_off + p->l3_len;
}

/* Fill p from the frame; 0 when it is a TCP/UDP packet worth looking up. */
static __always_inline int parse_packet(struct xdp_md *ctx, struct xlb_pkt *p)
{
	void *end = pkt_end(ctx);
	void *pos = pkt_data(ctx);
	__be16 eth_proto;
	__u8 l4proto = 0;
	int r;

	p->frame_len = end - pos;
	r = parse_eth(&pos, end, p, &eth_proto);
	if (r)
		return r;
	if (eth_proto == bpf_htons(ETH_P_IP))
		r = parse_ipv4(&pos, end, p, &l4proto);
	else if (eth_proto == bpf_htons(ETH_P_IPV6))
		r = parse_ipv6(&pos, end, p, &l4proto);
	else
		return XLB_R_PASS_NOT_IP;
	if (r)
		return r;
	return parse_l4(pos, end, p, l4proto);
}

#endif
