/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Marks of confirmed flows (xlb_flow_marks; the rules are in xlb.h, above
 * XLB_FLOW_MARKS_PER_FLOW): a SYN whose word holds no live cell with its
 * fingerprint cannot belong to a confirmed flow, and skips the confirmed
 * table's lookup, the dearest of a new connection's three table reads.
 */
#ifndef XLB_BPF_MARKS_H
#define XLB_BPF_MARKS_H

#include "maps.h"

/* Words - 1 (a power of two minus one); set by libxlb before load. */
const volatile __u32 flow_marks_mask =
	XLB_FLOWS_DEFAULT * XLB_FLOW_MARKS_PER_FLOW / XLB_FLOW_MARKS_PER_WORD - 1;

static __always_inline __u64 *flow_mark_word(__u32 hash)
{
	__u32 word = hash & flow_marks_mask;

	return bpf_map_lookup_elem(&xlb_flow_marks, &word);
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
	const __u64 *w;

	if (!gen)
		return true;
	w = flow_mark_word(hash);
	return !w || xlb_flow_mark_hit(*(volatile const __u64 *)w, xlb_flow_mark_fp(hash), gen);
}

/* Set the word to its value with this flow marked, unless another CPU
 * changed it meanwhile (false then). */
static __always_inline bool flow_mark_try(__u64 *w, __u32 fp, __u32 gen)
{
	__u64 old = *(volatile __u64 *)w, val = xlb_flow_mark_set(old, fp, gen);

	return val == old || __sync_val_compare_and_swap(w, old, val) == old;
}

/* A flow of this hash is being confirmed: give it a live cell. Before
 * marks are kept the first generation is written, so the walk that starts
 * keeping them (libxlb) cannot miss a flow confirmed meanwhile. A writer
 * that loses two races for the word marks all of it for every flow. A
 * global function: the verifier checks its branches once, not at every
 * call. */
__noinline int flow_mark(__u32 hash)
{
	__u32 gen = mark_gen(), fp = xlb_flow_mark_fp(hash);
	__u64 *w = flow_mark_word(hash);

	if (!gen)
		gen = 1;
	if (!w || flow_mark_try(w, fp, gen) || flow_mark_try(w, fp, gen))
		return 0;
	*(volatile __u64 *)w = xlb_flow_mark_all(gen);
	return 0;
}

#endif /* XLB_BPF_MARKS_H */
