/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Answers xlb builds itself: "fragmentation needed" / "packet too big" when
 * tunnel encapsulation would not fit the path, "time exceeded" for a packet
 * to a VIP that would expire here, and echo replies for VIP addresses. All
 * go back out of the ingress interface (XDP_TX) with the L2 header (and
 * VLAN tag) of the packet they answer, addresses swapped. The errors are
 * rate limited per CPU; echo replies are not, as Linux's default
 * icmp_ratemask leaves them out (ping answers one for one). */
#ifndef XLB_BPF_ICMP_H
#define XLB_BPF_ICMP_H

#include <linux/icmpv6.h>
#include "csum.h"
#include "parse.h"
#include "stats.h"

/* <linux/icmp.h> drags in libc's socket headers, which do not build for
 * the BPF target; these are the few ICMPv4 bits we need. */
#define ICMP_ECHOREPLY 0
#define ICMP_DEST_UNREACH 3
#define ICMP_FRAG_NEEDED 4
#define ICMP_ECHO 8
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAMETERPROB 12

struct icmphdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be16 unused;
	__be16 mtu; /* frag-needed: next-hop MTU; echo: sequence */
};

#define IP_DF 0x4000
#define ICMP_QUOTE_MAX 68 /* IPv4 header with options + 8 bytes */
#define ICMP6_QUOTE 48 /* IPv6 header + 8 bytes */
#define IPV6_MIN_MTU 1280
#define XLB_ICMP_TTL 64

static __always_inline __u16 ipv4_hdr_csum(const struct iphdr *ip)
{
	const __u16 *w = (const __u16 *)ip;
	__u32 sum = 0;

#pragma unroll
	for (int i = 0; i < 10; i++)
		sum += w[i];
	return csum_fold(sum);
}

static __always_inline void swap_macs(struct ethhdr *eth)
{
	__u8 tmp[ETH_ALEN];

	__builtin_memcpy(tmp, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, tmp, ETH_ALEN);
}

/* Make room for `grow` bytes of new headers between the L2 header and the
 * packet, then cut the frame to keep `keep` bytes of the original L3 on.
 * The L2 header (with its VLAN tag, if any) moves to the new front. */
static __always_inline int reframe(struct xdp_md *ctx, __u8 l3_off, int grow, __u32 keep)
{
	void *data, *end;
	__u32 len;

	if (bpf_xdp_adjust_head(ctx, -grow))
		return -1;
	data = pkt_data(ctx);
	end = pkt_end(ctx);
	if (data + grow + 18 > end)
		return -1;
	__builtin_memmove(data, data + grow, 14);
	if (l3_off == 18)
		__builtin_memmove(data + 14, data + grow + 14, 4);
	len = end - data;
	return bpf_xdp_adjust_tail(ctx, (int)(l3_off + grow + keep) - (int)len);
}

/* ICMP checksum over the message, read into a stack buffer because its
 * length depends on the quoted header's options. */
static __always_inline int icmp_msg_csum(struct xdp_md *ctx, __u32 off, __u32 len, __u32 seed,
					 __u16 *out)
{
	__u8 buf[8 + ICMP6_QUOTE + 32] = {};
	__s64 sum;

	if (len > sizeof(buf) || len & 3)
		return -1;
	if (bpf_xdp_load_bytes(ctx, off, buf, len))
		return -1;
	sum = bpf_csum_diff(NULL, 0, (__be32 *)buf, len, seed);
	if (sum < 0)
		return -1;
	*out = csum_fold((__u32)sum);
	return 0;
}

/* An ICMP error xlb sends back out of the ingress interface: what it says,
 * and from which address. */
struct icmp_error {
	__u8 type;
	__u8 code;
	__be32 info; /* bytes 4-7: frag-needed/too-big MTU, else 0 */
	const struct xlb_addr *src;
	enum xlb_reason reason;
};

/* Quote the packet's IP header + 8 bytes (RFC 792) behind a new IPv4 and
 * ICMP header, addressed from e->src back to the packet's source. */
static __always_inline int icmp_error_v4(struct xdp_md *ctx, const struct xlb_pkt *p,
					 const struct icmp_error *e)
{
	const __u32 grow = sizeof(struct iphdr) + sizeof(struct icmphdr);
	struct iphdr *orig = p->l3, *ip;
	void *data, *end = pkt_end(ctx);
	struct icmphdr *ic;
	__u8 l3_off = p->l3_off;
	__u32 quote;
	__u16 csum;

	if ((void *)(orig + 1) > end)
		return drop(XLB_R_DROP_MALFORMED);
	quote = orig->ihl * 4 + 8;
	if (quote > ICMP_QUOTE_MAX || reframe(ctx, l3_off, grow, quote))
		return drop(XLB_R_DROP_ENCAP_FAILED);

	data = pkt_data(ctx);
	end = pkt_end(ctx);
	if (l3_off != 14 && l3_off != 18)
		return drop(XLB_R_DROP_ENCAP_FAILED);
	ip = data + l3_off;
	ic = (void *)(ip + 1);
	if ((void *)(ic + 1) > end)
		return drop(XLB_R_DROP_ENCAP_FAILED);
	swap_macs(data);
	*(__u8 *)ip = 0x45;
	ip->tos = 0xc0; /* internetwork control, as the kernel sends errors */
	ip->tot_len = bpf_htons(grow + quote);
	ip->id = 0;
	ip->frag_off = 0;
	ip->ttl = XLB_ICMP_TTL;
	ip->protocol = IPPROTO_ICMP;
	ip->saddr = e->src->v4;
	ip->daddr = p->key.src.v4;
	ip->check = 0;
	ip->check = ipv4_hdr_csum(ip);
	ic->type = e->type;
	ic->code = e->code;
	ic->checksum = 0;
	__builtin_memcpy(&ic->unused, &e->info, sizeof(e->info));
	if (icmp_msg_csum(ctx, l3_off + sizeof(*ip), sizeof(*ic) + quote, 0, &csum))
		return drop(XLB_R_DROP_ENCAP_FAILED);
	data = pkt_data(ctx);
	end = pkt_end(ctx);
	ic = data + l3_off + sizeof(*ip);
	if ((void *)(ic + 1) > end)
		return drop(XLB_R_DROP_ENCAP_FAILED);
	ic->checksum = csum;
	return verdict(e->reason, XDP_TX);
}

/* The ICMPv6 checksum starts with the pseudo-header. */
static __always_inline __u32 icmp6_pseudo_sum(const struct xlb_addr *src, const struct xlb_addr *dst,
					      __u32 len)
{
	__u32 sum = 0;

#pragma unroll
	for (int i = 0; i < 4; i++) {
		sum = csum_add32(sum, src->v6[i]);
		sum = csum_add32(sum, dst->v6[i]);
	}
	sum = csum_add32(sum, bpf_htonl(len));
	return csum_add32(sum, bpf_htonl(IPPROTO_ICMPV6));
}

static __always_inline int icmp_error_v6(struct xdp_md *ctx, const struct xlb_pkt *p,
					 const struct icmp_error *e)
{
	const __u32 grow = sizeof(struct ipv6hdr) + sizeof(struct icmp6hdr);
	const __u32 msg_len = sizeof(struct icmp6hdr) + ICMP6_QUOTE;
	void *data, *end;
	struct ipv6hdr *ip6;
	struct icmp6hdr *ic;
	__u8 l3_off = p->l3_off;
	__u16 csum;

	if (reframe(ctx, l3_off, grow, ICMP6_QUOTE))
		return drop(XLB_R_DROP_ENCAP_FAILED);
	data = pkt_data(ctx);
	end = pkt_end(ctx);
	if (l3_off != 14 && l3_off != 18)
		return drop(XLB_R_DROP_ENCAP_FAILED);
	ip6 = data + l3_off;
	ic = (void *)(ip6 + 1);
	if ((void *)(ic + 1) > end)
		return drop(XLB_R_DROP_ENCAP_FAILED);
	swap_macs(data);
	*(__be32 *)ip6 = bpf_htonl(0x60000000);
	ip6->payload_len = bpf_htons(msg_len);
	ip6->nexthdr = IPPROTO_ICMPV6;
	ip6->hop_limit = XLB_ICMP_TTL;
	__builtin_memcpy(&ip6->saddr, e->src->bytes, 16);
	__builtin_memcpy(&ip6->daddr, p->key.src.bytes, 16);
	ic->icmp6_type = e->type;
	ic->icmp6_code = e->code;
	ic->icmp6_cksum = 0;
	ic->icmp6_mtu = e->info;
	if (icmp_msg_csum(ctx, l3_off + sizeof(*ip6), msg_len,
			  icmp6_pseudo_sum(e->src, &p->key.src, msg_len), &csum))
		return drop(XLB_R_DROP_ENCAP_FAILED);
	data = pkt_data(ctx);
	end = pkt_end(ctx);
	ic = data + l3_off + sizeof(*ip6);
	if ((void *)(ic + 1) > end)
		return drop(XLB_R_DROP_ENCAP_FAILED);
	ic->icmp6_cksum = csum;
	return verdict(e->reason, XDP_TX);
}

/* Set by libxlb before load: ICMP errors a second and their burst, per
 * CPU (struct xlb_icmp_bucket); rate 0 sends every one. */
const volatile __u32 icmp_rate = XLB_ICMP_RATE_DEFAULT;
const volatile __u32 icmp_burst = XLB_ICMP_BURST_DEFAULT;

#define ICMP_NSEC_PER_SEC 1000000000ull

/* Take one message's worth of credit from this CPU's bucket, if it has it.
 * A clock that seems to go back (a bucket written from user space) earns
 * nothing. */
static __always_inline bool icmp_allowed(void)
{
	struct xlb_icmp_bucket *b;
	__u64 now, cost, credit;
	__u32 zero = 0;

	if (!icmp_rate)
		return true;
	b = bpf_map_lookup_elem(&xlb_icmp_bucket, &zero);
	if (!b)
		return false;
	now = bpf_ktime_get_ns();
	cost = ICMP_NSEC_PER_SEC / icmp_rate;
	credit = b->credit_ns;
	if (now > b->last_ns)
		credit += now - b->last_ns;
	if (credit > cost * icmp_burst)
		credit = cost * icmp_burst;
	b->last_ns = now;
	if (credit < cost) {
		b->credit_ns = credit;
		return false;
	}
	b->credit_ns = credit - cost;
	return true;
}

/* Callers take the message's token first (icmp_allowed), before any work
 * a suppressed answer would waste. */
static __always_inline int send_icmp_error(struct xdp_md *ctx, const struct xlb_pkt *p,
					   const struct icmp_error *e)
{
	if (p->key.family == XLB_FAMILY_V4)
		return icmp_error_v4(ctx, p, e);
	return icmp_error_v6(ctx, p, e);
}

/* Tell the client, from the VIP, the largest packet that fits once
 * encapsulated. */
static __always_inline int send_too_big(struct xdp_md *ctx, const struct xlb_pkt *p, __u32 mtu)
{
	struct icmp_error e = { .src = &p->key.dst, .reason = XLB_R_TX_ICMP_TOO_BIG };

	if (p->key.family == XLB_FAMILY_V4) {
		struct iphdr *ip = p->l3;

		if ((void *)(ip + 1) > pkt_end(ctx))
			return drop(XLB_R_DROP_MALFORMED);
		/* Without DF the sender allows fragmentation, which XDP cannot do. */
		if (!(ip->frag_off & bpf_htons(IP_DF)))
			return drop(XLB_R_DROP_TOO_BIG);
		e.type = ICMP_DEST_UNREACH;
		e.code = ICMP_FRAG_NEEDED;
		e.info = bpf_htonl(mtu & 0xffff);
	} else {
		e.type = ICMPV6_PKT_TOOBIG;
		e.info = bpf_htonl(mtu < IPV6_MIN_MTU ? IPV6_MIN_MTU : mtu);
	}
	if (!icmp_allowed())
		return drop(XLB_R_DROP_ICMP_RATELIMITED);
	return send_icmp_error(ctx, p, &e);
}

/* A packet that would expire at this hop: "time exceeded in transit" from
 * src (the gateway's address towards the client), so traceroute through a
 * VIP shows the gateway. The caller has taken the token. */
static __always_inline int send_time_exceeded(struct xdp_md *ctx, const struct xlb_pkt *p,
					      const struct xlb_addr *src)
{
	struct icmp_error e = { .src = src, .reason = XLB_R_TX_ICMP_TIME_EXCEEDED };

	e.type = p->key.family == XLB_FAMILY_V4 ? ICMP_TIME_EXCEEDED : ICMPV6_TIME_EXCEED;
	return send_icmp_error(ctx, p, &e);
}

/* Echo to a VIP address: answered here, so `ping VIP` works in every mode
 * without involving a backend. Type change and TTL reset are patched into
 * the checksums; swapping addresses leaves every sum unchanged. */
static __always_inline int echo_reply(struct xdp_md *ctx, const struct xlb_pkt *p)
{
	void *end = pkt_end(ctx);
	struct ethhdr *eth = pkt_data(ctx);

	if ((void *)(eth + 1) > end)
		return drop(XLB_R_DROP_MALFORMED);
	if (p->key.family == XLB_FAMILY_V4) {
		struct iphdr *ip = p->l3;
		struct icmphdr *ic = p->l4;
		__u16 *ttl_proto;
		__u32 sum;

		if ((void *)(ip + 1) > end || (void *)(ic + 1) > end)
			return drop(XLB_R_DROP_MALFORMED);
		ttl_proto = (__u16 *)&ip->ttl;
		sum = csum_sub16(csum_unfold(ip->check), *ttl_proto);
		ip->ttl = XLB_ICMP_TTL;
		ip->check = csum_fold(csum_add16(sum, *ttl_proto));
		ip->saddr = p->key.dst.v4;
		ip->daddr = p->key.src.v4;
		sum = csum_sub16(csum_unfold(ic->checksum), *(__u16 *)ic);
		ic->type = ICMP_ECHOREPLY;
		ic->checksum = csum_fold(csum_add16(sum, *(__u16 *)ic));
	} else {
		struct ipv6hdr *ip6 = p->l3;
		struct icmp6hdr *ic = p->l4;
		__u32 sum;

		if ((void *)(ip6 + 1) > end || (void *)(ic + 1) > end)
			return drop(XLB_R_DROP_MALFORMED);
		ip6->hop_limit = XLB_ICMP_TTL;
		__builtin_memcpy(&ip6->saddr, p->key.dst.bytes, 16);
		__builtin_memcpy(&ip6->daddr, p->key.src.bytes, 16);
		sum = csum_sub16(csum_unfold(ic->icmp6_cksum), *(__u16 *)ic);
		ic->icmp6_type = ICMPV6_ECHO_REPLY;
		ic->icmp6_cksum = csum_fold(csum_add16(sum, *(__u16 *)ic));
	}
	swap_macs(eth);
	if (trim_frame(ctx))
		return drop(XLB_R_DROP_MALFORMED);
	return verdict(XLB_R_TX_ICMP_ECHO, XDP_TX);
}

#endif
