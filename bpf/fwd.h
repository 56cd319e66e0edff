/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Rewriting a packet for its backend (nat, dsr) or back to the VIP (nat
 * replies) and sending it to the next hop the kernel's FIB names. */
#ifndef XLB_BPF_FWD_H
#define XLB_BPF_FWD_H

#include "csum.h"
#include "parse.h"
#include "stats.h"

#define XLB_AF_INET 2
#define XLB_AF_INET6 10

enum rewrite_side {
	REWRITE_SRC = 0,
	REWRITE_DST = 1,
};

static __always_inline bool pkt_is_v4(const struct xlb_pkt *p)
{
	return p->key.family == XLB_FAMILY_V4;
}

static __always_inline int fib_lookup(struct xdp_md *ctx, const struct xlb_pkt *p,
				      const struct xlb_addr *src, const struct xlb_addr *dst,
				      struct bpf_fib_lookup *fib)
{
	__builtin_memset(fib, 0, sizeof(*fib));
	fib->ifindex = ctx->ingress_ifindex;
	fib->l4_protocol = p->key.proto;
	fib->sport = p->key.sport;
	fib->dport = p->key.dport;
	fib->tot_len = p->l3_len;
	if (pkt_is_v4(p)) {
		fib->family = XLB_AF_INET;
		fib->tos = p->tos;
		fib->ipv4_src = src->v4;
		fib->ipv4_dst = dst->v4;
	} else {
		fib->family = XLB_AF_INET6;
		__builtin_memcpy(fib->ipv6_src, src->bytes, 16);
		__builtin_memcpy(fib->ipv6_dst, dst->bytes, 16);
	}
	return bpf_fib_lookup(ctx, fib, sizeof(*fib), 0);
}

/* The cached next hop if it is fresh, else a FIB lookup (cached when it
 * succeeds). Returns a BPF_FIB_LKUP_RET_* code. */
static __always_inline int next_hop(struct xdp_md *ctx, const struct xlb_pkt *p,
				    const struct xlb_addr *src, const struct xlb_addr *dst,
				    struct xlb_nexthop *nh)
{
	struct bpf_fib_lookup fib;
	int rc;

	if (nh->ifindex && nh->gen == p->nh_gen)
		return BPF_FIB_LKUP_RET_SUCCESS;
	rc = fib_lookup(ctx, p, src, dst, &fib);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return rc;
	nh->ifindex = fib.ifindex;
	__builtin_memcpy(nh->dmac, fib.dmac, ETH_ALEN);
	__builtin_memcpy(nh->smac, fib.smac, ETH_ALEN);
	nh->gen = p->nh_gen;
	return rc;
}

#ifndef barrier
#define barrier() asm volatile("" ::: "memory")
#endif

/* The backend entry's next-hop cache (struct xlb_backend_nh), which the
 * datapath alone writes. */
static __always_inline struct xlb_backend_nh *backend_route(const struct xlb_backend *b)
{
	return (struct xlb_backend_nh *)&b->route;
}

/* Whether b's cached next hop may serve this packet. */
static __always_inline bool backend_route_fresh(const struct xlb_pkt *p, const struct xlb_backend *b)
{
	const struct xlb_backend_nh *c = &b->route;

	return *(volatile const __u32 *)&c->nh.gen == p->nh_gen &&
	       *(volatile const __u32 *)&c->backend_gen == b->gen && c->nh.ifindex;
}

/* Publish a looked-up next hop: the generations go last, so a CPU that
 * finds them current reads the data they were written with. */
static __always_inline void backend_route_store(const struct xlb_backend *b,
						const struct xlb_nexthop *nh,
						const struct xlb_addr *tunnel_src)
{
	struct xlb_backend_nh *c = backend_route(b);

	c->nh.gen = 0;
	barrier();
	c->nh.ifindex = nh->ifindex;
	__builtin_memcpy(c->nh.dmac, nh->dmac, ETH_ALEN);
	__builtin_memcpy(c->nh.smac, nh->smac, ETH_ALEN);
	c->nh.mtu = nh->mtu;
	if (tunnel_src)
		c->tunnel_src = *tunnel_src;
	c->backend_gen = b->gen;
	barrier();
	c->nh.gen = nh->gen;
}

/* The next hop towards a backend for a new flow: the next hop depends on
 * the backend's address, not on the flow, so the last lookup for the
 * backend serves (see struct xlb_backend_nh). Source-based policy routing
 * would need the per-flow lookup; xlb routes by destination, as IPVS does. */
static __always_inline int backend_next_hop(struct xdp_md *ctx, const struct xlb_pkt *p,
					    const struct xlb_backend *b, struct xlb_nexthop *out)
{
	int rc;

	if (backend_route_fresh(p, b)) {
		*out = b->route.nh;
		return BPF_FIB_LKUP_RET_SUCCESS;
	}
	rc = next_hop(ctx, p, &p->key.src, &b->addr, out);
	if (rc == BPF_FIB_LKUP_RET_SUCCESS)
		backend_route_store(b, out, NULL);
	return rc;
}

/* Set the next hop's MACs and send: XDP_TX back out of the ingress
 * interface, or redirect to another one. padded: the frame may carry bytes
 * past its IP packet (see pkt_padded), which are cut first. */
static __always_inline int send_to_next_hop(struct xdp_md *ctx, const struct xlb_nexthop *nh,
					    bool padded)
{
	void *end = pkt_end(ctx);
	struct ethhdr *eth = pkt_data(ctx);
	__u32 ifindex = nh->ifindex;

	if ((void *)(eth + 1) > end)
		return drop(XLB_R_DROP_MALFORMED);
	__builtin_memcpy(eth->h_dest, nh->dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, nh->smac, ETH_ALEN);
	if (padded && trim_frame(ctx))
		return drop(XLB_R_DROP_MALFORMED);
	if (ifindex == ctx->ingress_ifindex)
		return verdict(XLB_R_TX, XDP_TX);
	count_reason(XLB_R_REDIRECT);
	return bpf_redirect(ifindex, 0);
}

static __always_inline __u8 pkt_ttl(const struct xlb_pkt *p, void *end)
{
	if (pkt_is_v4(p)) {
		struct iphdr *ip = p->l3;

		return (void *)(ip + 1) > end ? 0 : ip->ttl;
	} else {
		struct ipv6hdr *ip6 = p->l3;

		return (void *)(ip6 + 1) > end ? 0 : ip6->hop_limit;
	}
}

static __always_inline void dec_ttl(const struct xlb_pkt *p, void *end)
{
	if (pkt_is_v4(p)) {
		struct iphdr *ip = p->l3;
		__u16 *ttl_proto;
		__u32 sum;

		if ((void *)(ip + 1) > end)
			return;
		/* TTL shares a 16-bit checksum unit with the protocol byte. */
		ttl_proto = (__u16 *)&ip->ttl;
		sum = csum_sub16(csum_unfold(ip->check), *ttl_proto);
		ip->ttl--;
		ip->check = csum_fold(csum_add16(sum, *ttl_proto));
	} else {
		struct ipv6hdr *ip6 = p->l3;

		if ((void *)(ip6 + 1) > end)
			return;
		ip6->hop_limit--;
	}
}

/* Where the TCP or UDP checksum sits; NULL if the header is not in bounds. */
static __always_inline __sum16 *l4_csum_field(const struct xlb_pkt *p, void *end)
{
	if (p->key.proto == IPPROTO_TCP) {
		struct tcphdr *th = p->l4;

		return (void *)(th + 1) > end ? NULL : &th->check;
	} else {
		struct udphdr *uh = p->l4;

		return (void *)(uh + 1) > end ? NULL : &uh->check;
	}
}

/* IPv6 UDP must carry a checksum (RFC 8200); we cannot patch a missing one. */
static __always_inline bool udp6_without_csum(const struct xlb_pkt *p, void *end)
{
	__sum16 *sum;

	if (pkt_is_v4(p) || p->key.proto != IPPROTO_UDP)
		return false;
	sum = l4_csum_field(p, end);
	return sum && *sum == 0;
}

static __always_inline __u32 rewrite_addr4(const struct xlb_pkt *p, void *end, enum rewrite_side side,
					   const struct xlb_addr *addr, __u32 l4sum)
{
	struct iphdr *ip = p->l3;
	__be32 *field;
	__u32 l3sum;

	if ((void *)(ip + 1) > end)
		return l4sum;
	field = side == REWRITE_DST ? &ip->daddr : &ip->saddr;
	l3sum = csum_replace_addr(csum_unfold(ip->check), field, &addr->v4, 1);
	l4sum = csum_replace_addr(l4sum, field, &addr->v4, 1);
	ip->check = csum_fold(l3sum);
	*field = addr->v4;
	return l4sum;
}

static __always_inline __u32 rewrite_addr6(const struct xlb_pkt *p, void *end, enum rewrite_side side,
					   const struct xlb_addr *addr, __u32 l4sum)
{
	struct ipv6hdr *ip6 = p->l3;
	__be32 *field;

	if ((void *)(ip6 + 1) > end)
		return l4sum;
	field = side == REWRITE_DST ? ip6->daddr.in6_u.u6_addr32 : ip6->saddr.in6_u.u6_addr32;
	l4sum = csum_replace_addr(l4sum, field, addr->v6, 4);
	__builtin_memcpy(field, addr->bytes, 16);
	return l4sum;
}

/* Replace one side's address and port and patch the IPv4 header checksum and
 * the TCP/UDP checksum (whose pseudo-header covers the addresses). */
static __always_inline void nat_rewrite(struct xdp_md *ctx, const struct xlb_pkt *p,
					enum rewrite_side side, const struct xlb_addr *addr, __be16 port)
{
	void *end = pkt_end(ctx);
	__sum16 *csum = l4_csum_field(p, end);
	__be16 *ports = p->l4; /* TCP and UDP both start with source, dest */
	__be16 *portp;
	bool has_csum;
	__u32 sum;
	__u16 folded;

	if (!csum || (void *)(ports + 2) > end)
		return;
	/* An IPv4 UDP checksum of 0 means "none" and must stay 0. */
	has_csum = !(p->key.proto == IPPROTO_UDP && *csum == 0);
	sum = csum_unfold(*csum);
	if (pkt_is_v4(p))
		sum = rewrite_addr4(p, end, side, addr, sum);
	else
		sum = rewrite_addr6(p, end, side, addr, sum);
	portp = side == REWRITE_DST ? &ports[1] : &ports[0];
	sum = csum_add16(csum_sub16(sum, *portp), port);
	*portp = port;
	if (!has_csum)
		return;
	folded = csum_fold(sum);
	if (p->key.proto == IPPROTO_UDP && folded == 0)
		folded = 0xffff; /* 0 would read as "no checksum" */
	*csum = folded;
}

/* nat and nat replies are a routed hop: checks that decide the packet
 * before any lookup. 0 to go on, else the reason. */
static __always_inline int nat_precheck(struct xdp_md *ctx, const struct xlb_pkt *p)
{
	void *end = pkt_end(ctx);

	/* An expiring packet goes to the kernel, which sends the ICMP error. */
	if (pkt_ttl(p, end) <= 1)
		return XLB_R_PASS_TTL;
	if (udp6_without_csum(p, end))
		return XLB_R_DROP_UDP6_ZERO_CSUM;
	return 0;
}

/* Rewrite one side to addr:port and send it where the next hop says. */
static __always_inline int nat_deliver(struct xdp_md *ctx, const struct xlb_pkt *p,
				       enum rewrite_side side, const struct xlb_addr *addr,
				       __be16 port, const struct xlb_nexthop *nh, int fib_rc)
{
	if (fib_rc == BPF_FIB_LKUP_RET_NO_NEIGH) {
		/* The kernel forwards the rewritten packet (and decrements the
		 * TTL itself) while it resolves the neighbour. */
		nat_rewrite(ctx, p, side, addr, port);
		return pass(XLB_R_PASS_NO_NEIGH);
	}
	if (fib_rc != BPF_FIB_LKUP_RET_SUCCESS)
		return pass(XLB_R_PASS_FIB_OTHER);
	nat_rewrite(ctx, p, side, addr, port);
	dec_ttl(p, pkt_end(ctx));
	return send_to_next_hop(ctx, nh, pkt_padded(p));
}

/* L2 DSR: the frame goes to the backend's MAC untouched above L2. Without a
 * neighbour entry there is nothing useful to rewrite; health probes from the
 * gateway keep backend neighbours resolved. */
static __always_inline int dsr_deliver(struct xdp_md *ctx, const struct xlb_nexthop *nh, int fib_rc,
				       bool padded)
{
	if (fib_rc == BPF_FIB_LKUP_RET_NO_NEIGH)
		return pass(XLB_R_PASS_NO_NEIGH);
	if (fib_rc != BPF_FIB_LKUP_RET_SUCCESS)
		return pass(XLB_R_PASS_FIB_OTHER);
	return send_to_next_hop(ctx, nh, padded);
}

static __always_inline int deliver_to_backend(struct xdp_md *ctx, const struct xlb_pkt *p,
					      const struct xlb_backend *b, __u8 mode,
					      const struct xlb_nexthop *nh, int fib_rc)
{
	if (mode == XLB_MODE_DSR)
		return dsr_deliver(ctx, nh, fib_rc, pkt_padded(p));
	return nat_deliver(ctx, p, REWRITE_DST, &b->addr, b->port, nh, fib_rc);
}

#endif
