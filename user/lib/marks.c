// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Marks of confirmed flows (xlb_flow_marks) from user space; the rules are
 * in xlb.h above XLB_FLOW_MARKS_PER_FLOW. The map is mapped into this
 * process so a mark is one byte written, like the datapath's, never a
 * read-modify-write of a word another CPU is marking in.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include <bpf/bpf.h>

#include "xlb_internal.h"

int xlb_marks_map(struct xlb *x)
{
	size_t len = x->mark_cells;
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, x->fd.marks, 0);

	if (p == MAP_FAILED)
		return xlb_fail(errno, "mapping %s into memory failed: %s", XLB_MAP_FLOW_MARKS,
				strerror(errno));
	x->marks = p;
	return 0;
}

void xlb_marks_unmap(struct xlb *x)
{
	if (x->marks)
		munmap((void *)x->marks, x->mark_cells);
	x->marks = NULL;
}

volatile uint8_t *xlb_flow_mark_cell(const struct xlb *x, const struct xlb_flow_key *k)
{
	return &x->marks[xlb_hash_flow(k) & (x->mark_cells - 1)];
}

uint32_t xlb_flow_mark_gen(const struct xlb *x)
{
	__u32 gen = 0;

	xlb_mark_gen_get(x, &gen);
	return gen;
}

/* As the datapath does: before marks are kept, the first generation. */
void xlb_mark_put(const struct xlb *x, const struct xlb_flow_key *k, __u32 gen)
{
	volatile __u8 *cell = xlb_flow_mark_cell(x, k);
	__u8 g = gen ? (__u8)gen : 1;

	if (*cell != g)
		*cell = g;
}

void xlb_flow_mark(const struct xlb *x, const struct xlb_flow_key *k)
{
	xlb_mark_put(x, k, xlb_flow_mark_gen(x));
}

int xlb_flow_confirmed_put(const struct xlb *x, const struct xlb_flow_key *k,
			   const struct xlb_flow *f)
{
	/* Marked first, as in the datapath: an entry is never found unmarked. */
	xlb_flow_mark(x, k);
	if (bpf_map_update_elem(x->fd.flows, k, f, BPF_NOEXIST))
		return -errno;
	return 0;
}

/* Live cells now: what share of SYNs still look the confirmed table up. */
uint64_t xlb_marks_live(const struct xlb *x, __u32 gen)
{
	uint64_t live = 0, i;

	if (!gen)
		return x->mark_cells;
	for (i = 0; i < x->mark_cells; i++)
		live += (uint64_t)xlb_flow_mark_live(x->marks[i], gen);
	return live;
}
