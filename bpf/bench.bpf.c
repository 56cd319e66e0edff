/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Reference programs for the benchmarks (tools/xlb-bench-prog.c and
 * tools/bench/): the floor every xlb figure is quoted against, the ceiling of
 * the forwarding test, and the sink that counts what arrives. They do as
 * little as their role allows, so any difference to xlb is xlb's own cost.
 */
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <xlb/xlb.h>

/* Set before load by the tool that loads this object; frozen afterwards, so
 * the verifier folds them into the bare forwarder like a hard-coded route. */
const volatile __u32 fwd_ifindex = 0;
const volatile __u8 fwd_dmac[ETH_ALEN] = {};
const volatile __u8 fwd_smac[ETH_ALEN] = {};

/* Per-CPU: the sink runs on whichever CPU the veth's NAPI runs on, and a
 * shared counter would cost more than the program it measures. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xlb_counters);
} sink_counters SEC(".maps");

/* The cost of merely running an XDP program: the "empty" floor. */
SEC("xdp")
int xdp_empty(struct xdp_md *ctx)
{
	return XDP_PASS;
}

static __always_inline void swap_macs(struct ethhdr *eth)
{
	__u8 tmp[ETH_ALEN];

	__builtin_memcpy(tmp, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, tmp, ETH_ALEN);
}

/* The "trivial" floor: touch the packet, send it back out. */
SEC("xdp")
int xdp_swap_tx(struct xdp_md *ctx)
{
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = (void *)(long)ctx->data;

	if ((void *)(eth + 1) > end)
		return XDP_DROP;
	swap_macs(eth);
	return XDP_TX;
}

/* The ceiling: what any forwarder must do at least (new MACs, redirect),
 * with the next hop known in advance and no lookup at all. */
SEC("xdp")
int xdp_bare_fwd(struct xdp_md *ctx)
{
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = (void *)(long)ctx->data;

	if ((void *)(eth + 1) > end)
		return XDP_DROP;
	__builtin_memcpy(eth->h_dest, (const void *)fwd_dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, (const void *)fwd_smac, ETH_ALEN);
	return bpf_redirect(fwd_ifindex, 0);
}

/* Counts what reaches the end of the chain; dropping keeps the sink's own
 * stack out of the measurement. */
SEC("xdp")
int xdp_sink(struct xdp_md *ctx)
{
	struct xlb_counters *c;
	__u32 key = 0;

	c = bpf_map_lookup_elem(&sink_counters, &key);
	if (c) {
		c->packets += 1;
		c->bytes += ctx->data_end - ctx->data;
	}
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
