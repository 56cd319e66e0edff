/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Unconfirmed flows (xlb_flows_new): a set-associative cache of
 * struct xlb_flow_slot. A flow is found in, and written to, the set its
 * hash names; nothing else is read. Readers copy a slot and check its seq
 * afterwards, so a slot another CPU rewrites meanwhile reads as a miss
 * (the flow is then scheduled again, which a hashing scheduler answers
 * with the same backend). Flag updates go to the slot itself, after the
 * key is checked once more.
 */
#ifndef XLB_BPF_PENDING_H
#define XLB_BPF_PENDING_H

#include "maps.h"
#include "stats.h"

/* Sets - 1 (a power of two minus one); set by libxlb before load. */
const volatile __u32 flows_new_set_mask = XLB_FLOWS_NEW_DEFAULT / XLB_FLOWS_NEW_WAYS - 1;

#ifndef barrier
#define barrier() asm volatile("" ::: "memory")
#endif

static __always_inline bool flow_key_eq(const struct xlb_flow_key *a, const struct xlb_flow_key *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;

	return !((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) | (x[4] ^ y[4]));
}

static __always_inline struct xlb_flow_slot *pending_slot(__u32 idx)
{
	return bpf_map_lookup_elem(&xlb_flows_new, &idx);
}

static __always_inline bool slot_holds(const struct xlb_flow_slot *s, const struct xlb_flow_key *k)
{
	return flow_key_eq(&s->key, k);
}

/* Copy slot s's flow into out if s holds k, untorn. */
static __always_inline bool slot_read(const struct xlb_flow_slot *s, const struct xlb_flow_key *k,
				      struct xlb_flow *out)
{
	__u32 seq = *(volatile const __u32 *)&s->seq;

	if (seq & 1)
		return false;
	barrier();
	if (!slot_holds(s, k))
		return false;
	xlb_flow_slot_unpack(s, out);
	barrier();
	return *(volatile const __u32 *)&s->seq == seq;
}

/* What the slot leaves to the backend's entry: its address and port (nat,
 * dsr) and its cached next hop (and outer source, for tunnels). A backend
 * slot written since the flow was made reads as a moved epoch, so the
 * flow's next packet checks the backend before using them. */
static __always_inline void slot_fill_backend(struct xlb_flow *f)
{
	__u32 id = f->backend_id;
	const struct xlb_backend *b = bpf_map_lookup_elem(&xlb_backends, &id);
	const struct xlb_backend_nh *c;

	if (!b || b->gen != f->backend_gen) {
		f->backend_epoch = b ? b->epoch + 1 : f->backend_epoch + 1;
		return;
	}
	if (f->mode != XLB_MODE_TUNNEL) {
		f->backend_addr = b->addr;
		f->backend_port = b->port;
	}
	c = &b->route;
	if (c->backend_gen == f->backend_gen) {
		f->nh = c->nh;
		if (f->mode == XLB_MODE_TUNNEL)
			f->tunnel_src = c->tunnel_src;
	}
}

/* Whether k's set holds its unconfirmed flow: then the flow is copied into
 * out and *idx names its slot. The pending_* functions that touch slots
 * are global BPF functions: the verifier checks each once, not at every
 * call, and walks what follows a call once, whichever way matched. */
__noinline int pending_find(const struct xlb_flow_key *k, __u32 hash, struct xlb_flow *out,
			    __u32 *idx)
{
	__u32 i = xlb_flow_slot_index(hash, flows_new_set_mask, 0);
	struct xlb_flow_slot *s;

	if (!k || !out || !idx)
		return 0;
	__builtin_memset(out, 0, sizeof(*out));
	s = pending_slot(i);
	if (!s || !slot_read(s, k, out)) {
		i++;
		s = pending_slot(i);
		if (!s || !slot_read(s, k, out))
			return 0;
	}
	slot_fill_backend(out);
	*idx = i;
	return 1;
}

/* Set flags on the flow in slot idx if the slot still holds k. */
__noinline int pending_mark(const struct xlb_flow_key *k, __u32 idx, __u32 flags)
{
	struct xlb_flow_slot *s = pending_slot(idx);

	if (k && s && slot_holds(s, k) && (s->flags & flags) != flags)
		__sync_fetch_and_or(&s->flags_word, flags);
	return 0;
}

/* Which way of the set an insert of k takes: its own, a free one, else the
 * one written less recently (the set's other way than set_mru). */
static __always_inline __u32 pending_way(const struct xlb_flow_slot *w0,
					 const struct xlb_flow_slot *w1,
					 const struct xlb_flow_key *k, bool *evicts)
{
	*evicts = false;
	if (slot_holds(w0, k))
		return 0;
	if (slot_holds(w1, k))
		return 1;
	if (!xlb_flow_slot_live(w0))
		return 0;
	if (!xlb_flow_slot_live(w1))
		return 1;
	*evicts = true;
	return w0->set_mru ? 0 : 1;
}

/* Rewrite slot s, alone: one compare-and-swap takes its seq from even to
 * odd, so two CPUs never write one slot at once (two increments would
 * let them, and a reader could take their mix for a flow); the writer
 * that loses leaves the slot to the other (false). The release is a plain
 * store: x86 keeps stores in order, and barrier() keeps the compiler's. */
static __always_inline bool slot_write(struct xlb_flow_slot *s, const struct xlb_flow_key *k,
				       const struct xlb_flow *f)
{
	__u32 seq = *(volatile __u32 *)&s->seq;

	if ((seq & 1) || __sync_val_compare_and_swap(&s->seq, seq, seq + 1) != seq)
		return false;
	barrier();
	xlb_flow_slot_pack(s, k, f);
	barrier();
	*(volatile __u32 *)&s->seq = seq + 2;
	return true;
}

__noinline int pending_put(const struct xlb_flow_key *k, __u32 hash, const struct xlb_flow *f)
{
	__u32 idx = xlb_flow_slot_index(hash, flows_new_set_mask, 0);
	struct xlb_flow_slot *w0 = pending_slot(idx);
	struct xlb_flow_slot *w1 = pending_slot(idx + 1);
	bool evicts;
	__u32 way;

	if (!k || !f || !w0 || !w1) {
		count_reason(XLB_R_FLOW_INSERT_FAILED);
		return 0;
	}
	way = pending_way(w0, w1, k, &evicts);
	if (!slot_write(way ? w1 : w0, k, f)) {
		count_reason(XLB_R_FLOW_INSERT_FAILED);
		return 0;
	}
	if (evicts)
		count_reason(XLB_R_FLOW_EVICTED);
	if (w0->set_mru != way)
		w0->set_mru = way;
	return 0;
}

#endif
