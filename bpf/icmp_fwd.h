/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * ICMP errors addressed to a VIP (frag-needed, packet too big, unreachable,
 * time exceeded, parameter problem) quote a packet the VIP sent: the quoted
 * tuple, reversed, is the flow's own key. The error goes to that flow's
 * backend so path-MTU discovery and error handling work through xlb, in
 * every mode. Errors that match no flow are passed to the kernel.
 */
#ifndef XLB_BPF_ICMP_FWD_H
#define XLB_BPF_ICMP_FWD_H

#include "encap.h"
#include "fwd.h"
#include "icmp.h"
#include "pending.h"
#include "sched.h"
#include "vet.h"

static __always_inline bool icmp_is_error(const struct xlb_pkt *p, __u8 type)
{
	if (p->key.family == XLB_FAMILY_V4)
		return type == ICMP_DEST_UNREACH || type == ICMP_TIME_EXCEEDED ||
		       type == ICMP_PARAMETERPROB;
	return type >= ICMPV6_DEST_UNREACH && type <= ICMPV6_PARAMPROB;
}

static __always_inline bool icmp_is_echo(const struct xlb_pkt *p, __u8 type)
{
	return type == (p->key.family == XLB_FAMILY_V4 ? ICMP_ECHO : ICMPV6_ECHO_REQUEST);
}

/* The flow key of the quoted packet, reversed: 0, XLB_R_PASS_ICMP if the
 * quote is not TCP/UDP (no flow of ours), XLB_R_DROP_MALFORMED if it is not
 * a readable IP header with the ports, inside the ICMP packet. */
static __always_inline int quoted_flow_key(const struct xlb_pkt *p, void *end, struct xlb_flow_key *k)
{
	void *quote = p->l4 + 8;
	__be16 *ports;

	if (p->key.family == XLB_FAMILY_V4) {
		struct iphdr *qip = quote;

		if ((void *)(qip + 1) > end || qip->version != 4 || qip->ihl < 5)
			return XLB_R_DROP_MALFORMED;
		ports = quote + qip->ihl * 4;
		k->proto = qip->protocol;
		k->src.v4 = qip->daddr;
		k->dst.v4 = qip->saddr;
	} else {
		struct ipv6hdr *qip6 = quote;

		if ((void *)(qip6 + 1) > end || qip6->version != 6)
			return XLB_R_DROP_MALFORMED;
		ports = (void *)(qip6 + 1);
		k->proto = qip6->nexthdr;
		copy_addr6(&k->src, &qip6->daddr);
		copy_addr6(&k->dst, &qip6->saddr);
	}
	if (k->proto != IPPROTO_TCP && k->proto != IPPROTO_UDP)
		return XLB_R_PASS_ICMP;
	if ((void *)(ports + 2) > end || beyond_l3(p, ports + 2))
		return XLB_R_DROP_MALFORMED;
	k->family = p->key.family;
	k->sport = ports[1];
	k->dport = ports[0];
	return 0;
}

/* nat, IPv4: the quoted packet left the gateway as VIP:port -> client; the
 * backend only knows it as backend:port -> client. Rewrite the outer
 * destination and the quoted source, patching the outer header checksum,
 * the quoted header checksum and the ICMP checksum that covers the quote. */
static __always_inline int nat_icmp4_rewrite(const struct xlb_pkt *p, void *end,
					     const struct xlb_backend *b)
{
	struct iphdr *ip = p->l3;
	struct icmphdr *ic = p->l4;
	struct iphdr *qip = (void *)(ic + 1);
	__u32 l3sum, qsum, icsum;
	__be16 *qports;
	__sum16 qcheck;

	if ((void *)(ip + 1) > end || (void *)(qip + 1) > end)
		return -1;
	qports = (void *)qip + qip->ihl * 4;
	if ((void *)(qports + 2) > end)
		return -1;
	l3sum = csum_replace_addr(csum_unfold(ip->check), &ip->daddr, &b->addr.v4, 1);
	qsum = csum_replace_addr(csum_unfold(qip->check), &qip->saddr, &b->addr.v4, 1);
	qcheck = csum_fold(qsum);
	icsum = csum_replace_addr(csum_unfold(ic->checksum), &qip->saddr, &b->addr.v4, 1);
	icsum = csum_add16(csum_sub16(icsum, qip->check), qcheck);
	icsum = csum_add16(csum_sub16(icsum, qports[0]), b->port);
	ip->daddr = b->addr.v4;
	ip->check = csum_fold(l3sum);
	qip->saddr = b->addr.v4;
	qip->check = qcheck;
	qports[0] = b->port;
	ic->checksum = csum_fold(icsum);
	return 0;
}

/* nat, IPv6: as above; the ICMPv6 checksum also covers the outer
 * destination through its pseudo-header, and IPv6 has no header checksum. */
static __always_inline int nat_icmp6_rewrite(const struct xlb_pkt *p, void *end,
					     const struct xlb_backend *b)
{
	struct ipv6hdr *ip6 = p->l3;
	struct icmp6hdr *ic = p->l4;
	struct ipv6hdr *qip6 = (void *)(ic + 1);
	__be16 *qports = (void *)(qip6 + 1);
	__u32 icsum;

	if ((void *)(ip6 + 1) > end || (void *)(qports + 2) > end)
		return -1;
	icsum = csum_unfold(ic->icmp6_cksum);
	icsum = csum_replace_addr(icsum, ip6->daddr.in6_u.u6_addr32, b->addr.v6, 4);
	icsum = csum_replace_addr(icsum, qip6->saddr.in6_u.u6_addr32, b->addr.v6, 4);
	icsum = csum_add16(csum_sub16(icsum, qports[0]), b->port);
	__builtin_memcpy(&ip6->daddr, b->addr.bytes, 16);
	__builtin_memcpy(&qip6->saddr, b->addr.bytes, 16);
	qports[0] = b->port;
	ic->icmp6_cksum = csum_fold(icsum);
	return 0;
}

static __always_inline int nat_icmp_to_backend(struct xdp_md *ctx, const struct xlb_pkt *p,
					       const struct xlb_backend *b, struct xlb_flow *f)
{
	void *end = pkt_end(ctx);
	int rc, err;

	if (pkt_ttl(p, end) <= 1)
		return pass(XLB_R_PASS_TTL);
	rc = next_hop(ctx, p, &p->key.src, &b->addr, &f->nh);
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH)
		return pass(XLB_R_PASS_NO_NEIGH);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return pass(XLB_R_PASS_FIB_OTHER);
	if (p->key.family == XLB_FAMILY_V4)
		err = nat_icmp4_rewrite(p, end, b);
	else
		err = nat_icmp6_rewrite(p, end, b);
	if (err)
		return drop(XLB_R_DROP_MALFORMED);
	dec_ttl(p, end);
	return send_to_next_hop(ctx, &f->nh, true);
}

static __always_inline int icmp_error_to_backend(struct xdp_md *ctx, struct xlb_pkt *p)
{
	void *end = pkt_end(ctx);
	struct xlb_flow_key qkey = {};
	struct tunnel_plan t;
	__u32 zero = 0, idx;
	struct xlb_backend *b;
	struct xlb_flow *f;
	__u32 backend_id;
	int rc;

	rc = quoted_flow_key(p, end, &qkey);
	if (rc)
		return rc == XLB_R_PASS_ICMP ? pass(rc) : drop(rc);
	f = bpf_map_lookup_elem(&xlb_flows, &qkey);
	if (!f) {
		/* An unconfirmed flow is read through this CPU's copy. */
		f = bpf_map_lookup_elem(&xlb_flow_scratch, &zero);
		if (f && !pending_find(&qkey, xlb_hash_flow(&qkey), f, &idx))
			f = NULL;
	}
	if (!f)
		return pass(XLB_R_PASS_ICMP);
	backend_id = f->backend_id;
	b = bpf_map_lookup_elem(&xlb_backends, &backend_id);
	if (!b || b->gen != f->backend_gen || !backend_keeps_flows(b))
		return pass(XLB_R_PASS_ICMP);

	count_reason(XLB_R_ICMP_TO_BACKEND);
	if (f->mode == XLB_MODE_TUNNEL) {
		plan_tunnel(p, b, f->gue_port, xlb_hash_flow(&p->key), &t);
		rc = tunnel_next_hop(ctx, p, b, f, &t);
		return tunnel_deliver(ctx, p, b, f, &t, rc);
	}
	if (f->mode == XLB_MODE_DSR) {
		rc = next_hop(ctx, p, &p->key.src, &b->addr, &f->nh);
		return dsr_deliver(ctx, &f->nh, rc, true);
	}
	return nat_icmp_to_backend(ctx, p, b, f);
}

/* ICMP to a VIP address: echo is answered, errors steered; the rest (and
 * all ICMP to other addresses) goes to the kernel. ICMP to a VIP address
 * that a router or host would discard (vet_l3, a header cut short) is
 * dropped. */
static __always_inline int handle_icmp(struct xdp_md *ctx, struct xlb_pkt *p)
{
	void *end = pkt_end(ctx);
	__u8 *type = p->l4;
	int r;

	if (!is_vip_address(p))
		return pass(XLB_R_PASS_ICMP);
	if ((void *)(type + 8) > end || beyond_l3(p, type + 8))
		return drop(XLB_R_DROP_MALFORMED);
	r = vet_l3(ctx, p);
	if (r)
		return drop(r);
	maybe_ours(p); /* for the next-hop generation */
	if (icmp_is_echo(p, *type))
		return echo_reply(ctx, p);
	if (icmp_is_error(p, *type))
		return icmp_error_to_backend(ctx, p);
	return pass(XLB_R_PASS_ICMP);
}

#endif
