/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Counters in the running CPU's block of xlb_reasons and xlb_stats: no
 * atomics and no shared cache lines on the fast path. */
#ifndef XLB_BPF_STATS_H
#define XLB_BPF_STATS_H

#include "maps.h"

static __always_inline struct xlb_counters *stats_slot(__u32 slot)
{
	__u32 key = XLB_STATS_KEY(bpf_get_smp_processor_id(), slot);

	return bpf_map_lookup_elem(&xlb_stats, &key);
}

static __always_inline void count_reason(enum xlb_reason r)
{
	__u32 key = XLB_REASON_KEY(bpf_get_smp_processor_id(), r);
	__u64 *c = bpf_map_lookup_elem(&xlb_reasons, &key);

	if (c)
		*c += 1;
}

static __always_inline void count_backend(__u32 backend_id, __u64 bytes)
{
	struct xlb_counters *c = stats_slot(XLB_STATS_BACKEND(backend_id));

	if (c) {
		c->packets += 1;
		c->bytes += bytes;
	}
}

/* Count the reason and return the XDP action that goes with it. */
static __always_inline int verdict(enum xlb_reason r, int action)
{
	count_reason(r);
	return action;
}

static __always_inline int pass(enum xlb_reason r)
{
	return verdict(r, XDP_PASS);
}

static __always_inline int drop(enum xlb_reason r)
{
	return verdict(r, XDP_DROP);
}

#endif
