/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The datapath's maps. Names match XLB_MAP_* in include/xlb/xlb.h; all are
 * pinned by name so a restarted xlbd (or a new program) reuses them. */
#ifndef XLB_BPF_MAPS_H
#define XLB_BPF_MAPS_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <xlb/xlb.h>

/* One map's kind, size, key and value in one line; pinned by name unless
 * the map is per-process state (XLB_MAP). Sizes marked "set by libxlb"
 * follow xlbd's options (user/lib/loader.c, limits_apply). */
#define XLB_MAP(kind, entries, k, v)                                                      \
	__uint(type, kind);                                                               \
	__uint(max_entries, entries);                                                     \
	__type(key, k);                                                                   \
	__type(value, v)
#define XLB_PINNED_MAP(kind, entries, k, v)                                               \
	XLB_MAP(kind, entries, k, v);                                                     \
	__uint(pinning, LIBBPF_PIN_BY_NAME)

struct {
	XLB_PINNED_MAP(BPF_MAP_TYPE_HASH, XLB_VIPS_DEFAULT, struct xlb_vip_key, struct xlb_vip);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} xlb_vips SEC(".maps");

/* Addresses that carry at least one VIP (value: number of VIPs), keyed like
 * a VIP with port and protocol 0. Consulted only off the fast path:
 * fragments, malformed packets and ICMP to a VIP address. */
struct {
	XLB_PINNED_MAP(BPF_MAP_TYPE_HASH, XLB_VIPS_DEFAULT, struct xlb_vip_key, __u32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} xlb_vip_addrs SEC(".maps");

struct {
	XLB_PINNED_MAP(BPF_MAP_TYPE_ARRAY, XLB_BACKENDS_DEFAULT, __u32, struct xlb_backend);
} xlb_backends SEC(".maps");

/* Confirmed flows, one per connection. Shared (not per-CPU): a flow's
 * packets may arrive on any CPU (RSS moves, ICMP errors, ECMP). A plain
 * hash, not an LRU: nothing a new tuple does can evict a confirmed flow.
 * Entries leave when the connection closes (RST, FIN) or by xlbd's idle
 * sweep; when the table is full new flows stay unconfirmed (and counted). */
struct {
	XLB_PINNED_MAP(BPF_MAP_TYPE_HASH, XLB_FLOWS_DEFAULT, struct xlb_flow_key, struct xlb_flow);
} xlb_flows SEC(".maps");

/* Marks of confirmed flows by hash (see XLB_FLOW_MARKS_PER_FLOW in xlb.h):
 * words of four 16-bit cells, each written whole with a compare-and-swap.
 * Memory-mappable, so libxlb and xlbd's sweep do the same from user space. */
struct {
	XLB_PINNED_MAP(BPF_MAP_TYPE_ARRAY,
		       XLB_FLOWS_DEFAULT * XLB_FLOW_MARKS_PER_FLOW / XLB_FLOW_MARKS_PER_WORD, __u32,
		       __u64);
	__uint(map_flags, BPF_F_MMAPABLE);
} xlb_flow_marks SEC(".maps");

/* Unconfirmed flows: handshakes in flight, single-packet UDP, floods, in
 * sets of XLB_FLOWS_NEW_WAYS slots (struct xlb_flow_slot; bpf/pending.h).
 * A flood evicts only its own kind. An array, not an LRU hash: an insert
 * takes no lock (an LRU insert takes three, each toggling interrupts), and
 * a lookup reads one set wherever the flow's packets arrive. */
struct {
	XLB_PINNED_MAP(BPF_MAP_TYPE_ARRAY, XLB_FLOWS_NEW_DEFAULT, __u32, struct xlb_flow_slot);
} xlb_flows_new SEC(".maps");

/* This CPU's copy of the unconfirmed flow the packet at hand belongs to
 * (bpf/pending.h copies a slot before trusting it). A map value, not the
 * stack: the verifier then follows the established path's writes to the
 * flow without tracking each field, as for a table entry. */
struct {
	XLB_MAP(BPF_MAP_TYPE_PERCPU_ARRAY, 1, __u32, struct xlb_flow);
} xlb_flow_scratch SEC(".maps");

/* nat backends' address:port -> the VIPs their replies go back to. */
struct {
	XLB_PINNED_MAP(BPF_MAP_TYPE_HASH, XLB_BACKENDS_DEFAULT, struct xlb_vip_key, struct xlb_nat_end);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} xlb_nat_ends SEC(".maps");

/* Where replies to a client go, as this CPU last looked it up: a cache by
 * client address (direct-mapped), not pinned. */
struct xlb_client_nh {
	struct xlb_addr addr;
	struct xlb_nexthop nh;
	__u8 family;
	__u8 pad[7];
};

struct {
	XLB_MAP(BPF_MAP_TYPE_PERCPU_ARRAY, XLB_CLIENT_NH_DEFAULT, __u32, struct xlb_client_nh);
} xlb_client_nh SEC(".maps");

/* One inner array per table slot; its size is the table's (prime for
 * maglev/srchash, the turn sequence's length for rr/wrr). */
struct xlb_table_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XLB_RING_DEFAULT);
	__uint(map_flags, BPF_F_INNER_MAP);
	__type(key, __u32);
	__type(value, __u32);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, XLB_TABLE_SLOTS(XLB_VIPS_DEFAULT)); /* set by libxlb */
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct xlb_table_inner);
} xlb_tables SEC(".maps");

struct {
	XLB_PINNED_MAP(BPF_MAP_TYPE_ARRAY, XLB_VIPS_DEFAULT, __u32, struct xlb_vip_state);
} xlb_vip_state SEC(".maps");

/* The next-hop cache's size as the loader sets it: a constant to the
 * verifier, though reading it touches the .rodata map's page (the nat reply
 * path only). */
const volatile __u32 client_nh_mask = XLB_CLIENT_NH_DEFAULT - 1;

/* Packets by reason: one block of XLB_STATS_REASONS words per CPU id (see
 * XLB_REASON_KEY); XLB_REASON_ENTRIES for the CPU ids, set by libxlb. Not
 * memory-mappable, so the kernel allocates it directly mapped. */
struct {
	XLB_PINNED_MAP(BPF_MAP_TYPE_ARRAY, XLB_REASON_ENTRIES(1), __u32, __u64);
} xlb_reasons SEC(".maps");

/* One block of XLB_STATS_STRIDE per CPU id, then the VIP slots (see
 * XLB_STATS_KEY). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	/* XLB_STATS_ENTRIES for the CPU ids and --max-vips, set by libxlb */
	__uint(max_entries, XLB_STATS_ENTRIES(1, XLB_VIPS_DEFAULT));
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct xlb_counters);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xlb_stats SEC(".maps");

struct {
	XLB_PINNED_MAP(BPF_MAP_TYPE_ARRAY, 1, __u32, struct xlb_backend_epochs);
} xlb_backend_epochs SEC(".maps");

struct {
	XLB_PINNED_MAP(BPF_MAP_TYPE_ARRAY, 1, __u32, struct xlb_addr_filter);
} xlb_addr_filter SEC(".maps");

struct {
	XLB_PINNED_MAP(BPF_MAP_TYPE_ARRAY, 1, __u32, struct xlb_meta);
} xlb_meta SEC(".maps");

/* This CPU's ICMP error budget (icmp.h): per CPU, so no atomics; not
 * pinned, so a new datapath starts with a full bucket. */
struct {
	XLB_MAP(BPF_MAP_TYPE_PERCPU_ARRAY, 1, __u32, struct xlb_icmp_bucket);
} xlb_icmp_bucket SEC(".maps");

/* Packet bounds, loaded so the compiler cannot keep &ctx->data_end in a
 * register and dereference it later: the verifier only accepts loads from
 * the unmodified context pointer. */
static __always_inline void *pkt_data(struct xdp_md *ctx)
{
	void *p;

	asm volatile("%0 = *(u32 *)(%1 + 0)" : "=r"(p) : "r"(ctx));
	return p;
}

static __always_inline void *pkt_end(struct xdp_md *ctx)
{
	void *p;

	asm volatile("%0 = *(u32 *)(%1 + 4)" : "=r"(p) : "r"(ctx));
	return p;
}

#endif
