// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Marks of confirmed flows (xlb_flow_marks) from user space; the rules are
 * in xlb.h above XLB_FLOW_MARKS_PER_FLOW. The map is mapped into this
 * process so a mark is a compare-and-swap of its word, like the
 * datapath's, never a write that could undo a cell another CPU just set.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include <bpf/bpf.h>

#include "xlb_internal.h"

static size_t marks_bytes(const struct xlb *x)
{
	return (size_t)x->mark_cells / XLB_FLOW_MARKS_PER_WORD * sizeof(__u64);
}

int xlb_marks_map(struct xlb *x)
{
	size_t len = marks_bytes(x);
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
		munmap((void *)x->marks, marks_bytes(x));
	x->marks = NULL;
}

static volatile __u64 *mark_word(const struct xlb *x, __u32 hash)
{
	return &x->marks[hash & (x->mark_cells / XLB_FLOW_MARKS_PER_WORD - 1)];
}

uint32_t xlb_flow_mark_of(const struct xlb *x, const struct xlb_flow_key *k)
{
	__u32 hash = xlb_hash_flow(k), fp = xlb_flow_mark_fp(hash), i, c, g = 0;
	__u64 w = *mark_word(x, hash);

	for (i = 0; i < XLB_FLOW_MARKS_PER_WORD; i++) {
		c = xlb_flow_mark_cell(w, i);
		if (xlb_flow_mark_cell_fp(c) == fp)
			return xlb_flow_mark_cell_gen(c);
		if (xlb_flow_mark_cell_fp(c) == XLB_FLOW_MARK_ANY && xlb_flow_mark_cell_gen(c))
			g = xlb_flow_mark_cell_gen(c);
	}
	return g;
}

void xlb_flow_mark_clear(const struct xlb *x, const struct xlb_flow_key *k)
{
	*mark_word(x, xlb_hash_flow(k)) = 0;
}

uint32_t xlb_flow_mark_gen(const struct xlb *x)
{
	__u32 gen = 0;

	xlb_mark_gen_get(x, &gen);
	return gen;
}

static bool mark_try(volatile __u64 *w, __u32 fp, __u32 gen)
{
	__u64 old = *w, val = xlb_flow_mark_set(old, fp, gen);

	return val == old || __atomic_compare_exchange_n(w, &old, val, false, __ATOMIC_SEQ_CST,
							 __ATOMIC_SEQ_CST);
}

/* As the datapath does: before marks are kept, the first generation; a
 * writer that loses two races for the word marks all of it. */
void xlb_mark_put(const struct xlb *x, const struct xlb_flow_key *k, __u32 gen)
{
	__u32 hash = xlb_hash_flow(k), fp = xlb_flow_mark_fp(hash);
	volatile __u64 *w = mark_word(x, hash);

	if (!gen)
		gen = 1;
	if (!mark_try(w, fp, gen) && !mark_try(w, fp, gen))
		*w = xlb_flow_mark_all(gen);
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

/* The word without its cells that are not live in generation gen. */
static __u64 word_pruned(__u64 w, __u32 gen)
{
	__u32 i;

	for (i = 0; i < XLB_FLOW_MARKS_PER_WORD; i++)
		if (!xlb_flow_mark_live(xlb_flow_mark_cell_gen(xlb_flow_mark_cell(w, i)), gen))
			w &= ~(0xffffull << (16 * i));
	return w;
}

/* Before the generation moves on to gen: cells that would not be live in
 * it (their flows were not seen by the pass that ends) are cleared, so a
 * removed flow's cell cannot come back to life when the generations wrap
 * round to its own. A word another CPU writes meanwhile keeps its cells
 * (they are cleared by a later pass). */
void xlb_marks_prune(const struct xlb *x, __u32 gen)
{
	uint64_t i, words = x->mark_cells / XLB_FLOW_MARKS_PER_WORD;
	__u64 old, val;

	for (i = 0; i < words; i++) {
		old = x->marks[i];
		val = word_pruned(old, gen);
		if (val != old)
			__atomic_compare_exchange_n(&x->marks[i], &old, val, false,
						    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	}
}

/* Live cells now: how full the marks are. */
uint64_t xlb_marks_live(const struct xlb *x, __u32 gen)
{
	uint64_t live = 0, i;

	if (!gen)
		return x->mark_cells;
	for (i = 0; i < x->mark_cells; i++)
		live += (uint64_t)xlb_flow_mark_live(
			xlb_flow_mark_cell_gen(xlb_flow_mark_cell(x->marks[i / XLB_FLOW_MARKS_PER_WORD],
								  i % XLB_FLOW_MARKS_PER_WORD)),
			gen);
	return live;
}
