/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Picking a backend for a new flow. Nothing here grows with the number of
 * backends: one table read, whatever the scheduler. */
#ifndef XLB_BPF_SCHED_H
#define XLB_BPF_SCHED_H

#include "maps.h"

static __always_inline bool backend_keeps_flows(const struct xlb_backend *b)
{
	return (b->flags & (XLB_BACKEND_F_IN_USE | XLB_BACKEND_F_DOWN)) == XLB_BACKEND_F_IN_USE;
}

/* rr/wrr: the VIP's turn counter is shared by all CPUs so turns are exact;
 * it is touched only by new flows, so the atomic stays off the fast path. */
static __always_inline __u32 next_turn(const struct xlb_vip *vip)
{
	__u32 id = vip->id;
	struct xlb_vip_state *st = bpf_map_lookup_elem(&xlb_vip_state, &id);

	if (!st)
		return 0;
	return __sync_fetch_and_add(&st->rr_next, 1) % vip->table_size;
}

/* rr and wrr give a retransmitted first packet the next turn, not the
 * backend of the first one: their new flows must find their own entry. */
static __always_inline bool turn_taking(const struct xlb_vip *vip)
{
	return vip->sched == XLB_SCHED_RR || vip->sched == XLB_SCHED_WRR;
}

static __always_inline __u32 table_index(const struct xlb_vip *vip, const struct xlb_flow_key *key,
					 __u32 flow_hash)
{
	switch (vip->sched) {
	case XLB_SCHED_SRCHASH:
		return xlb_hash_src(key) % vip->table_size;
	case XLB_SCHED_RR:
	case XLB_SCHED_WRR:
		return next_turn(vip);
	default:
		return flow_hash % vip->table_size;
	}
}

/* Returns the backend id or -1 when the VIP has no usable backend.
 * flow_hash is the key's xlb_hash_flow. */
static __always_inline __s64 schedule(const struct xlb_vip *vip, const struct xlb_flow_key *key,
				      __u32 flow_hash)
{
	__u32 slot = vip->table_slot, idx, *id;
	void *table;

	if (!vip->table_size)
		return -1;
	table = bpf_map_lookup_elem(&xlb_tables, &slot);
	if (!table)
		return -1;
	idx = table_index(vip, key, flow_hash);
	id = bpf_map_lookup_elem(table, &idx);
	if (!id)
		return -1;
	return *id;
}

#endif
