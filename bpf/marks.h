/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Marks of confirmed flows (xlb_flow_marks; the rules are in xlb.h, above
 * XLB_FLOW_MARKS_PER_FLOW): a SYN whose cell holds no live mark cannot
 * belong to a confirmed flow, and skips the confirmed table's lookup, the
 * dearest of a new connection's three table reads.
 */
#ifndef XLB_BPF_MARKS_H
#define XLB_BPF_MARKS_H

#include "maps.h"

/* Cells - 1 (a power of two minus one); set by libxlb before load. */
const volatile __u32 flow_marks_mask =
	XLB_FLOWS_DEFAULT * XLB_FLOW_MARKS_PER_FLOW - 1;

static __always_inline __u8 *flow_mark_cell(__u32 hash)
{
	__u32 cell = hash & flow_marks_mask, word = cell / XLB_FLOW_MARKS_PER_WORD;
	__u8 *w = bpf_map_lookup_elem(&xlb_flow_marks, &word);

	return w ? w + (cell % XLB_FLOW_MARKS_PER_WORD) : NULL;
}

/* The mark generation, read afresh rather than carried in the packet's
 * state: a value the verifier knows nothing of, so its branches here do
 * not split the paths that follow. */
static __always_inline __u32 mark_gen(void)
{
	__u32 zero = 0;
	const struct xlb_addr_filter *f = bpf_map_lookup_elem(&xlb_addr_filter, &zero);

	return f ? f->mark_gen : 0;
}

/* Whether a confirmed flow of this hash may exist. Without marks kept (no
 * generation yet), any may. */
static __always_inline bool flow_maybe_confirmed(__u32 hash)
{
	__u32 gen = mark_gen();
	const __u8 *c;

	if (!gen)
		return true;
	c = flow_mark_cell(hash);
	return !c || xlb_flow_mark_live(*c, gen);
}

/* A flow of this hash is being confirmed: set its cell's generation.
 * Before marks are kept the first generation is written, so the walk that
 * starts keeping them (libxlb) cannot miss a flow confirmed meanwhile. */
static __always_inline void flow_mark(__u32 hash)
{
	__u32 gen = mark_gen();
	__u8 *c = flow_mark_cell(hash);

	if (!gen)
		gen = 1;
	if (c && *c != (__u8)gen)
		*c = (__u8)gen;
}

#endif /* XLB_BPF_MARKS_H */
