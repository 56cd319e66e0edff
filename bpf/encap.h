/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Tunnel mode: the client's packet, untouched, inside an outer IPv4/IPv6
 * header (IP-in-IP) or outer IP + UDP (GUE variant 1), to a backend that may
 * sit in another subnet. The backend decapsulates (bpf/decap.bpf.c) and
 * answers the client directly from the VIP.
 *
 * Outer header rule: source = the address the kernel would use towards the
 * backend (FIB lookup with the SRC flag); TTL/hop limit XLB_TUNNEL_TTL; TOS /
 * traffic class copied from the inner packet; IPv4 DF set, so the path MTU is
 * discovered rather than fragmented; IPv6 flow label and GUE source port from
 * the flow hash, so a backend's RSS spreads flows while each flow stays on
 * one queue. The GUE UDP checksum is 0 (RFC 6935 allows it for tunnels; the
 * inner packet keeps its own).
 */
#ifndef XLB_BPF_ENCAP_H
#define XLB_BPF_ENCAP_H

#include "fwd.h"
#include "icmp.h"

#define XLB_FIB_LOOKUP_SRC (1U << 4) /* kernel >= 6.8; absent from older uapi headers */

struct tunnel_plan {
	__u16 outer_len; /* outer L3 packet length */
	__u8 hdr_len; /* bytes inserted before the inner L3 header, incl. Ethernet */
	__u8 outer_family;
	__be16 gue_port; /* 0: IP-in-IP */
	__u32 mtu; /* FRAG_NEEDED: what the FIB reported */
	__u32 hash; /* the flow's xlb_hash_flow: outer source port, IPv6 flow label */
};

static __always_inline void plan_tunnel(const struct xlb_pkt *p, const struct xlb_backend *b,
					__be16 gue_port, __u32 hash, struct tunnel_plan *t)
{
	__u32 outer_l3 = b->family == XLB_FAMILY_V4 ? sizeof(struct iphdr) : sizeof(struct ipv6hdr);

	t->outer_family = b->family;
	t->gue_port = gue_port;
	t->hdr_len = sizeof(struct ethhdr) + outer_l3 + (gue_port ? sizeof(struct udphdr) : 0);
	t->outer_len = p->l3_len + t->hdr_len - sizeof(struct ethhdr);
	t->mtu = 0;
	t->hash = hash;
}

/* The next hop towards the backend. The cache remembers the largest outer
 * packet the path took, so only a larger one needs the FIB's MTU check. */
static __always_inline int tunnel_next_hop(struct xdp_md *ctx, const struct xlb_pkt *p,
					   const struct xlb_backend *b, struct xlb_flow *f,
					   struct tunnel_plan *t)
{
	struct xlb_nexthop *nh = &f->nh;
	bool fresh = nh->ifindex && nh->gen == p->nh_gen;
	struct bpf_fib_lookup fib;
	int rc;

	if (fresh && t->outer_len <= nh->mtu)
		return BPF_FIB_LKUP_RET_SUCCESS;
	__builtin_memset(&fib, 0, sizeof(fib));
	fib.ifindex = ctx->ingress_ifindex;
	fib.tot_len = t->outer_len;
	fib.l4_protocol = t->gue_port ? IPPROTO_UDP : 0;
	if (b->family == XLB_FAMILY_V4) {
		fib.family = XLB_AF_INET;
		fib.tos = p->tos;
		fib.ipv4_dst = b->addr.v4;
	} else {
		fib.family = XLB_AF_INET6;
		__builtin_memcpy(fib.ipv6_dst, b->addr.bytes, 16);
	}
	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), XLB_FIB_LOOKUP_SRC);
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED)
		t->mtu = fib.mtu_result;
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return rc;
	nh->ifindex = fib.ifindex;
	__builtin_memcpy(nh->dmac, fib.dmac, ETH_ALEN);
	__builtin_memcpy(nh->smac, fib.smac, ETH_ALEN);
	nh->mtu = fresh && nh->mtu > t->outer_len ? nh->mtu : t->outer_len;
	nh->gen = p->nh_gen;
	if (b->family == XLB_FAMILY_V4) {
		f->tunnel_src.v4 = fib.ipv4_src;
	} else {
		__builtin_memcpy(f->tunnel_src.bytes, fib.ipv6_src, 16);
	}
	return rc;
}

/* A new tunnel flow to a known backend: the last lookup for the backend
 * serves (as backend_next_hop does for nat and dsr), outer source
 * included, while the outer packet fits what the path already took. */
static __always_inline int tunnel_backend_next_hop(struct xdp_md *ctx, const struct xlb_pkt *p,
						   const struct xlb_backend *b, struct xlb_flow *f,
						   struct tunnel_plan *t)
{
	int rc;

	if (backend_route_fresh(p, b) && t->outer_len <= b->route.nh.mtu) {
		f->nh = b->route.nh;
		f->tunnel_src = b->route.tunnel_src;
		return BPF_FIB_LKUP_RET_SUCCESS;
	}
	rc = tunnel_next_hop(ctx, p, b, f, t);
	if (rc == BPF_FIB_LKUP_RET_SUCCESS)
		backend_route_store(b, &f->nh, &f->tunnel_src);
	return rc;
}

static __always_inline int write_outer_v4(struct iphdr *ip, void *end, const struct xlb_pkt *p,
					  const struct xlb_backend *b, const struct xlb_flow *f,
					  const struct tunnel_plan *t)
{
	if ((void *)(ip + 1) > end)
		return -1;
	*(__u8 *)ip = 0x45;
	ip->tos = p->tos;
	ip->tot_len = bpf_htons(t->outer_len);
	ip->id = 0;
	ip->frag_off = bpf_htons(IP_DF);
	ip->ttl = XLB_TUNNEL_TTL;
	ip->protocol = t->gue_port ? IPPROTO_UDP
				   : p->key.family == XLB_FAMILY_V4 ? IPPROTO_IPIP : IPPROTO_IPV6;
	ip->saddr = f->tunnel_src.v4;
	ip->daddr = b->addr.v4;
	ip->check = 0;
	ip->check = ipv4_hdr_csum(ip);
	return 0;
}

static __always_inline int write_outer_v6(struct ipv6hdr *ip6, void *end, const struct xlb_pkt *p,
					  const struct xlb_backend *b, const struct xlb_flow *f,
					  const struct tunnel_plan *t, __u32 hash)
{
	__u8 inner = p->key.family == XLB_FAMILY_V4 ? IPPROTO_IPIP : IPPROTO_IPV6;

	if ((void *)(ip6 + 1) > end)
		return -1;
	*(__be32 *)ip6 = bpf_htonl(0x60000000 | ((__u32)p->tos << 20) | (hash & 0xfffff));
	ip6->payload_len = bpf_htons(t->outer_len - sizeof(*ip6));
	ip6->nexthdr = t->gue_port ? IPPROTO_UDP : inner;
	ip6->hop_limit = XLB_TUNNEL_TTL;
	__builtin_memcpy(&ip6->saddr, f->tunnel_src.bytes, 16);
	__builtin_memcpy(&ip6->daddr, b->addr.bytes, 16);
	return 0;
}

static __always_inline int write_gue(struct udphdr *uh, void *end, const struct tunnel_plan *t,
				     __u32 hash)
{
	__u32 outer_l3 = t->outer_family == XLB_FAMILY_V4 ? sizeof(struct iphdr) : sizeof(struct ipv6hdr);

	if ((void *)(uh + 1) > end)
		return -1;
	uh->source = bpf_htons(XLB_GUE_SPORT_MIN + (hash & (XLB_GUE_SPORT_SPAN - 1)));
	uh->dest = t->gue_port;
	uh->len = bpf_htons(t->outer_len - outer_l3);
	uh->check = 0;
	return 0;
}

/* Insert the outer headers in front of the inner L3 header (an inner VLAN
 * tag, if any, is dropped: the outer frame is routed, not bridged). */
static __always_inline int encapsulate(struct xdp_md *ctx, const struct xlb_pkt *p,
				       const struct xlb_backend *b, const struct xlb_flow *f,
				       const struct tunnel_plan *t)
{
	__u32 hash = t->hash;
	void *data, *end, *l3;
	struct ethhdr *eth;

	if (bpf_xdp_adjust_head(ctx, (int)p->l3_off - (int)t->hdr_len))
		return -1;
	data = pkt_data(ctx);
	end = pkt_end(ctx);
	eth = data;
	if ((void *)(eth + 1) > end)
		return -1;
	l3 = eth + 1;
	if (t->outer_family == XLB_FAMILY_V4) {
		eth->h_proto = bpf_htons(ETH_P_IP);
		if (write_outer_v4(l3, end, p, b, f, t))
			return -1;
		l3 += sizeof(struct iphdr);
	} else {
		eth->h_proto = bpf_htons(ETH_P_IPV6);
		if (write_outer_v6(l3, end, p, b, f, t, hash))
			return -1;
		l3 += sizeof(struct ipv6hdr);
	}
	if (t->gue_port)
		return write_gue(l3, end, t, hash);
	return 0;
}

/* Act on the next-hop result: encapsulate and send, or say why not. */
static __always_inline int tunnel_deliver(struct xdp_md *ctx, const struct xlb_pkt *p,
					  const struct xlb_backend *b, const struct xlb_flow *f,
					  const struct tunnel_plan *t, int fib_rc)
{
	if (fib_rc == BPF_FIB_LKUP_RET_FRAG_NEEDED)
		return send_too_big(ctx, p, t->mtu - (t->hdr_len - sizeof(struct ethhdr)));
	/* The kernel cannot encapsulate for us: pass, and let health probes
	 * from the gateway resolve the backend's neighbour. */
	if (fib_rc == BPF_FIB_LKUP_RET_NO_NEIGH)
		return pass(XLB_R_PASS_NO_NEIGH);
	if (fib_rc != BPF_FIB_LKUP_RET_SUCCESS)
		return pass(XLB_R_PASS_FIB_OTHER);
	if (encapsulate(ctx, p, b, f, t))
		return drop(XLB_R_DROP_ENCAP_FAILED);
	return send_to_next_hop(ctx, &f->nh, true);
}

#endif
