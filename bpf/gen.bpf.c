/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The packet generator's program (tools/xlb-gen.c). It runs in a
 * BPF_F_TEST_XDP_LIVE_FRAMES test run: every returned XDP_TX becomes a real
 * frame sent out of the generator's veth. Before sending, it gives the frame
 * the next of nflows distinct 5-tuples (source port, then source address),
 * so the device under test sees many flows from one template frame.
 *
 * Live frames share their pages with everything downstream: a gateway that
 * rewrites a frame in place (NAT, MACs, TTL) rewrites the page the generator
 * sends next. So every frame starts from the template headers (set before load), and
 * only then gets its tuple, with checksums patched from the template values.
 */
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define HDR_MAX 80

/* Set by xlb-gen before load. Ports and addresses in host order. */
const volatile __u32 hdr_len = 0; /* 42, 54 (IPv4 UDP, TCP), 62, 74 (IPv6) */
/* Ethernet + IP + TCP/UDP headers. Not const: the copy below must read the
 * loaded bytes, which clang would fold to the zero initialiser of a const. */
__u8 tmpl[HDR_MAX];
const volatile __u32 nflows = 1;
const volatile __u32 nports = 1; /* source ports per source address */
const volatile __u32 repeat = 1; /* frames per tuple in a row (>= 1) */
const volatile __u16 base_port = 10000;
const volatile __u32 base_addr = 0; /* IPv4 source, or IPv6 source's last word */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} gen_seq SEC(".maps");

struct tuple {
	__be32 addr;
	__be16 port;
};

/* RFC 1624: HC' = ~(~HC + ~m + m'), on 16-bit halves of a 32-bit word. */
static __always_inline __u32 csum_diff32(__u32 sum, __be32 from, __be32 to)
{
	sum += (__u16)~(from >> 16) + (__u16)~(from & 0xffff);
	return sum + (to >> 16) + (to & 0xffff);
}

static __always_inline __sum16 csum_patch(__sum16 check, __u32 diff)
{
	__u32 sum = (__u16)~check + diff;

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__sum16)~sum;
}

static __always_inline struct tuple next_tuple(void)
{
	struct tuple t = {};
	__u32 key = 0, i;
	__u64 *seq;

	seq = bpf_map_lookup_elem(&gen_seq, &key);
	if (!seq)
		return t;
	i = (*seq / repeat) % nflows;
	*seq += 1;
	t.port = bpf_htons(base_port + i % nports);
	t.addr = bpf_htonl(base_addr + i / nports);
	return t;
}

/* The TCP/UDP checksum field after the IP header, NULL if none applies
 * (an IPv4 UDP checksum of 0 means "none" and stays 0). */
static __always_inline __sum16 *l4_check(void *l4, void *end, __u8 proto, bool v4)
{
	if (proto == IPPROTO_TCP) {
		struct tcphdr *th = l4;

		return (void *)(th + 1) > end ? NULL : &th->check;
	}
	if (proto == IPPROTO_UDP) {
		struct udphdr *uh = l4;

		if ((void *)(uh + 1) > end || (v4 && !uh->check))
			return NULL;
		return &uh->check;
	}
	return NULL;
}

/* Source port and source address word, with the L4 checksum patched for
 * both (the address is part of its pseudo-header). Returns the checksum
 * difference of the address alone, for the IPv4 header checksum. */
static __always_inline int set_tuple(void *l4, void *end, __u8 proto, bool v4,
				     __be32 *addr, struct tuple t)
{
	__be16 *sport = l4;
	__sum16 *check;
	__u32 diff;

	if ((void *)(sport + 1) > end)
		return -1;
	check = l4_check(l4, end, proto, v4);
	diff = csum_diff32(0, *addr, t.addr);
	if (check) {
		__u32 l4diff = diff + (__u16)~*sport + t.port;
		__sum16 c = csum_patch(*check, l4diff);

		/* A computed UDP checksum of 0 is sent as all ones. */
		*check = (proto == IPPROTO_UDP && !c) ? 0xffff : c;
	}
	*sport = t.port;
	*addr = t.addr;
	return diff;
}

static __always_inline int gen_ipv4(void *pos, void *end, struct tuple t)
{
	struct iphdr *ip = pos;
	int diff;

	if ((void *)(ip + 1) > end || ip->ihl != 5)
		return XDP_DROP;
	diff = set_tuple(ip + 1, end, ip->protocol, true, &ip->saddr, t);
	if (diff < 0)
		return XDP_DROP;
	ip->check = csum_patch(ip->check, diff);
	return XDP_TX;
}

static __always_inline int gen_ipv6(void *pos, void *end, struct tuple t)
{
	struct ipv6hdr *ip6 = pos;

	if ((void *)(ip6 + 1) > end)
		return XDP_DROP;
	if (set_tuple(ip6 + 1, end, ip6->nexthdr, false, &ip6->saddr.in6_u.u6_addr32[3], t) < 0)
		return XDP_DROP;
	return XDP_TX;
}

/* len is a constant at each call site, so the copy unrolls and the bounds
 * check is one comparison. */
static __always_inline int emit(struct xdp_md *ctx, __u32 len, bool v4)
{
	void *end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct tuple t;

	if (data + len > end)
		return XDP_DROP;
	__builtin_memcpy(data, tmpl, len);
	t = next_tuple();
	data += ETH_HLEN;
	return v4 ? gen_ipv4(data, end, t) : gen_ipv6(data, end, t);
}

SEC("xdp")
int xdp_gen(struct xdp_md *ctx)
{
	switch (hdr_len) {
	case 42:
		return emit(ctx, 42, true);
	case 54:
		return emit(ctx, 54, true);
	case 62:
		return emit(ctx, 62, false);
	case 74:
		return emit(ctx, 74, false);
	}
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
