/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * xlb's backend-side program for tunnel mode. It strips the outer IPv4/IPv6
 * header (IP-in-IP, or IP + UDP for GUE) from packets whose inner
 * destination is a VIP this backend serves, and hands the inner packet to
 * the stack, which owns the VIP on its loopback and answers the client
 * directly. It needs no ipip/fou/ip6_tunnel module.
 *
 * Rule book: anything that is not a tunnel packet passes untouched; a tunnel
 * packet for an address not in xlb_decap_vips passes untouched; a tunnel
 * packet we cannot parse passes untouched. Each case has a counter.
 */
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <xlb/xlb.h>

#define IP_MF 0x2000
#define IP_OFFSET 0x1fff

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XLB_DECAP_MAX_VIPS);
	__type(key, struct xlb_addr);
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xlb_decap_vips SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xlb_decap_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xlb_decap_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_DECAP_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xlb_decap_stats SEC(".maps");

static __always_inline int count(enum xlb_decap_reason r)
{
	__u32 key = r;
	__u64 *v = bpf_map_lookup_elem(&xlb_decap_stats, &key);

	if (v)
		*v += 1;
	return XDP_PASS;
}

static __always_inline bool serves(const struct xlb_addr *a)
{
	return bpf_map_lookup_elem(&xlb_decap_vips, a) != NULL;
}

static __always_inline __be16 gue_port(void)
{
	__u32 key = 0;
	struct xlb_decap_config *cfg = bpf_map_lookup_elem(&xlb_decap_cfg, &key);

	return cfg ? cfg->gue_port : 0;
}

/* Where the tunnel's payload starts (outer header length) and which inner
 * family it carries; 0 if this is not a tunnel packet for us. */
struct outer {
	__u32 len; /* bytes of outer L3 (+ UDP) after the Ethernet header */
	__u8 inner_proto; /* IPPROTO_IPIP or IPPROTO_IPV6 */
	bool gue;
};

/* GUE variant 1: the first nibble of the payload is the IP version. */
static __always_inline int gue_inner(void *payload, void *end, struct outer *o)
{
	__u8 *first = payload;

	if ((void *)(first + 1) > end)
		return -1;
	if ((*first >> 4) == 4)
		o->inner_proto = IPPROTO_IPIP;
	else if ((*first >> 4) == 6)
		o->inner_proto = IPPROTO_IPV6;
	else
		return -1;
	o->gue = true;
	return 0;
}

static __always_inline int parse_outer(void *l3, void *end, __be16 proto, struct outer *o)
{
	__u8 next;

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = l3;

		if ((void *)(ip + 1) > end || ip->ihl < 5)
			return -1;
		if (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET))
			return 1; /* fragments are the kernel's */
		o->len = ip->ihl * 4;
		next = ip->protocol;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = l3;

		if ((void *)(ip6 + 1) > end)
			return -1;
		o->len = sizeof(*ip6);
		next = ip6->nexthdr;
	} else {
		return 1;
	}
	if (next == IPPROTO_IPIP || next == IPPROTO_IPV6) {
		o->inner_proto = next;
		return 0;
	}
	if (next == IPPROTO_UDP) {
		struct udphdr *uh = l3 + o->len;
		__be16 port = gue_port();

		if (o->len > 60 || (void *)(uh + 1) > end)
			return -1;
		if (!port || uh->dest != port)
			return 1;
		o->len += sizeof(*uh);
		return gue_inner(uh + 1, end, o);
	}
	return 1;
}

static __always_inline int inner_dst(void *inner, void *end, __u8 proto, struct xlb_addr *dst)
{
	if (proto == IPPROTO_IPIP) {
		struct iphdr *ip = inner;

		if ((void *)(ip + 1) > end)
			return -1;
		dst->v4 = ip->daddr;
		return 0;
	}
	{
		struct ipv6hdr *ip6 = inner;

		if ((void *)(ip6 + 1) > end)
			return -1;
		__builtin_memcpy(dst->bytes, &ip6->daddr, 16);
		return 0;
	}
}

SEC("xdp")
int xlb_decap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data, saved;
	struct xlb_addr dst = {};
	struct outer o = {};
	int r;

	if ((void *)(eth + 1) > end)
		return count(XLB_DECAP_PASS_MALFORMED);
	r = parse_outer(eth + 1, end, eth->h_proto, &o);
	if (r > 0)
		return count(XLB_DECAP_PASS_OTHER);
	if (r < 0 || o.len > 68)
		return count(XLB_DECAP_PASS_MALFORMED);
	if (inner_dst((void *)(eth + 1) + o.len, end, o.inner_proto, &dst))
		return count(XLB_DECAP_PASS_MALFORMED);
	if (!serves(&dst))
		return count(XLB_DECAP_PASS_NOT_OURS);

	/* The frame keeps its MACs; only the ethertype follows the inner family. */
	saved = *eth;
	saved.h_proto = bpf_htons(o.inner_proto == IPPROTO_IPIP ? ETH_P_IP : ETH_P_IPV6);
	if (bpf_xdp_adjust_head(ctx, o.len))
		return count(XLB_DECAP_PASS_MALFORMED);
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > end)
		return XDP_DROP;
	*eth = saved;
	return count(o.gue ? XLB_DECAP_GUE : XLB_DECAP_IPIP);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
