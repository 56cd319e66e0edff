// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The cells of xlb_flow_marks (xlb.h): a cell counts in its own generation
 * and the next, across the wrap from 15 to 1 (0 means "never marked" and is
 * never a generation); a word of four cells finds a flow by fingerprint,
 * takes a new one into its own, a free or a stale cell, and when four live
 * fingerprints leave no room, stands for every flow of the word instead of
 * leaving one unmarked. The map is sized to four cells per confirmed entry,
 * a power of two.
 */
#include <stdlib.h>

#include <xlb/xlb.h>

#include "testlib.h"

static void test_next_skips_zero(void)
{
	ASSERT_EQ(xlb_flow_mark_next(0), 1, "marks off -> first generation");
	ASSERT_EQ(xlb_flow_mark_next(1), 2, "1 -> 2");
	ASSERT_EQ(xlb_flow_mark_next(14), 15, "14 -> 15");
	ASSERT_EQ(xlb_flow_mark_next(15), 1, "15 wraps to 1, not 0");
}

static void test_live_window(void)
{
	ASSERT_TRUE(xlb_flow_mark_live(7, 7), "marked this generation");
	ASSERT_TRUE(xlb_flow_mark_live(6, 7), "marked the generation before");
	ASSERT_FALSE(xlb_flow_mark_live(5, 7), "two generations old");
	ASSERT_FALSE(xlb_flow_mark_live(8, 7), "a generation ahead (a stale wrap)");
	ASSERT_FALSE(xlb_flow_mark_live(0, 1), "never marked");
	ASSERT_TRUE(xlb_flow_mark_live(15, 1), "15 is the generation before 1");
	ASSERT_FALSE(xlb_flow_mark_live(14, 1), "14 is two before 1");
	ASSERT_TRUE(xlb_flow_mark_live(1, 1), "1 in 1");
}

static void test_cells_per_flow(void)
{
	ASSERT_EQ_U(xlb_flow_marks_cells(1024), 4096, "1024 flows");
	ASSERT_EQ_U(xlb_flow_marks_cells(1000), 4096, "rounded up to a power of two");
	ASSERT_EQ_U(xlb_flow_marks_cells(1u << 20), 1u << 22, "the default table");
	ASSERT_EQ_U(xlb_flow_marks_cells(1), XLB_FLOW_MARKS_PER_WORD, "at least one word");
	ASSERT_EQ_U(xlb_flow_marks_cells(0xffffffffu), 1u << 31, "capped at 2^31");
}

static void test_fingerprint_range(void)
{
	__u32 h, fp, lo = 4096, hi = 0;

	for (h = 0; h < 1u << 20; h++) {
		fp = xlb_flow_mark_fp(h * 2654435761u);
		lo = fp < lo ? fp : lo;
		hi = fp > hi ? fp : hi;
	}
	ASSERT_EQ_U(lo, 1, "never 0 (XLB_FLOW_MARK_ANY)");
	ASSERT_EQ_U(hi, 4095, "12 bits");
	ASSERT_TRUE(xlb_flow_mark_fp(0) != XLB_FLOW_MARK_ANY, "hash 0 too");
}

/* Cells of w that are not zero. */
static int cells_used(__u64 w)
{
	int i, n = 0;

	for (i = 0; i < XLB_FLOW_MARKS_PER_WORD; i++)
		n += xlb_flow_mark_cell(w, (__u32)i) != 0;
	return n;
}

static void test_set_and_hit(void)
{
	__u64 w = xlb_flow_mark_set(0, 100, 3);

	ASSERT_TRUE(xlb_flow_mark_hit(w, 100, 3), "set -> found in its generation");
	ASSERT_TRUE(xlb_flow_mark_hit(w, 100, 4), "and in the next");
	ASSERT_FALSE(xlb_flow_mark_hit(w, 100, 5), "not two generations on");
	ASSERT_FALSE(xlb_flow_mark_hit(w, 101, 3), "another fingerprint is not found");
	ASSERT_FALSE(xlb_flow_mark_hit(0, 100, 3), "an empty word finds nothing");
	ASSERT_EQ_U(xlb_flow_mark_cell(w, 0), 100u << 4 | 3, "cell: fingerprint, generation");
	w = xlb_flow_mark_set(w, 100, 4);
	ASSERT_EQ(cells_used(w), 1, "marking again refreshes its own cell");
	ASSERT_FALSE(xlb_flow_mark_hit(w, 100, 6), "refreshed to 4: gone by 6");
	ASSERT_TRUE(xlb_flow_mark_hit(w, 100, 5), "refreshed to 4: live in 5");
}

static void test_full_word_marks_every_flow(void)
{
	__u64 w = 0, before;
	__u32 fp;

	for (fp = 1; fp <= 4; fp++)
		w = xlb_flow_mark_set(w, fp, 7);
	ASSERT_EQ(cells_used(w), 4, "four fingerprints, four cells");
	for (fp = 1; fp <= 4; fp++)
		ASSERT_TRUE(xlb_flow_mark_hit(w, fp, 7), "each found");
	ASSERT_FALSE(xlb_flow_mark_hit(w, 9, 7), "a fifth is not, yet");
	w = xlb_flow_mark_set(w, 9, 7);
	for (fp = 1; fp <= 4; fp++)
		ASSERT_TRUE(xlb_flow_mark_hit(w, fp, 7), "a full word keeps every flow found");
	ASSERT_TRUE(xlb_flow_mark_hit(w, 9, 7), "the fifth found too");
	ASSERT_TRUE(xlb_flow_mark_hit(w, 1234, 7), "so is any flow of the word (one lookup too many)");
	before = w;
	w = xlb_flow_mark_set(w, 10, 7);
	ASSERT_TRUE(w == before, "a sixth takes the word's catch-all cell, already live");
	w = xlb_flow_mark_set(w, 11, 8);
	ASSERT_EQ_U(xlb_flow_mark_cell(w, 0), XLB_FLOW_MARK_ANY << 4 | 8,
		    "a later generation refreshes the catch-all cell");
}

static void test_stale_cells_taken_again(void)
{
	__u64 w = 0;
	__u32 fp;

	for (fp = 1; fp <= 4; fp++)
		w = xlb_flow_mark_set(w, fp, 2);
	/* Generation 4: the cells of 2 no longer count. */
	w = xlb_flow_mark_set(w, 50, 4);
	ASSERT_TRUE(xlb_flow_mark_hit(w, 50, 4), "a new flow takes a stale cell");
	ASSERT_FALSE(xlb_flow_mark_hit(w, 1234, 4), "no catch-all: there was room");
	w = xlb_flow_mark_set(w, 3, 4);
	ASSERT_TRUE(xlb_flow_mark_hit(w, 3, 4), "a swept flow finds its own stale cell again");
	ASSERT_FALSE(xlb_flow_mark_hit(w, 1, 4), "flows not seen again stay stale");
}

/* The lane-wise test against one cell at a time, over words of random
 * cells (small fingerprints and generations often, to meet matches). */
static int hit_cell_by_cell(__u64 w, __u32 fp, __u32 gen)
{
	__u32 i, c;

	for (i = 0; i < XLB_FLOW_MARKS_PER_WORD; i++) {
		c = xlb_flow_mark_cell(w, i);
		if (xlb_flow_mark_live(xlb_flow_mark_cell_gen(c), gen) &&
		    (xlb_flow_mark_cell_fp(c) == fp || xlb_flow_mark_cell_fp(c) == XLB_FLOW_MARK_ANY))
			return 1;
	}
	return 0;
}

static void test_hit_lanes(void)
{
	__u64 x = 0x9e3779b97f4a7c15ull, w;
	__u32 n, i, fp, gen, wrong = 0, hits = 0;

	for (n = 0; n < 200000; n++) {
		w = 0;
		for (i = 0; i < XLB_FLOW_MARKS_PER_WORD; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			w |= (__u64)(((x & 7) << 4 | (x >> 8) % 16) & (x & 0x100000 ? 0xffff : 0xff)) << (16 * i);
		}
		fp = (__u32)(x >> 32) % 8 + 1;
		gen = (__u32)(x >> 40) % XLB_FLOW_MARK_GENS + 1;
		hits += hit_cell_by_cell(w, fp, gen);
		wrong += xlb_flow_mark_hit(w, fp, gen) != hit_cell_by_cell(w, fp, gen);
	}
	ASSERT_EQ_U(wrong, 0, "lane-wise and cell-by-cell agree");
	ASSERT_TRUE(hits > 10000 && hits < 190000, "both answers were tried");
}

/* A full table (a flow per word, random hashes): the share of fresh SYNs
 * whose word sends them to the lookup. docs/datapath.md says about one in
 * 200; one byte cell per hash and four per flow made it one in five. */
static void test_full_table_lookups(void)
{
	const __u32 words = 1u << 16, queries = 400000;
	__u64 x = 88172645463325252ull, *w = calloc(words, sizeof(*w));
	__u32 i, h, hits = 0;

	if (!ASSERT_TRUE(w != NULL, "memory"))
		return;
	for (i = 0; i < words + queries; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		h = (__u32)x;
		if (i < words)
			w[h & (words - 1)] = xlb_flow_mark_set(w[h & (words - 1)],
								xlb_flow_mark_fp(h), 1);
		else
			hits += xlb_flow_mark_hit(w[h & (words - 1)], xlb_flow_mark_fp(h), 1);
	}
	free(w);
	ASSERT_TRUE(hits > queries / 1000 && hits < queries / 150,
		    "between 1 in 1000 and 1 in 150 fresh SYNs look a full table up");
}

static void test_all_marks_everything(void)
{
	__u64 w = xlb_flow_mark_all(5);

	ASSERT_TRUE(xlb_flow_mark_hit(w, 1, 5) && xlb_flow_mark_hit(w, 4095, 6),
		    "the lost-race word finds every fingerprint");
	ASSERT_FALSE(xlb_flow_mark_hit(w, 1, 7), "and ages like any cell");
}

int main(void)
{
	RUN_TEST(test_next_skips_zero);
	RUN_TEST(test_live_window);
	RUN_TEST(test_cells_per_flow);
	RUN_TEST(test_fingerprint_range);
	RUN_TEST(test_set_and_hit);
	RUN_TEST(test_full_word_marks_every_flow);
	RUN_TEST(test_stale_cells_taken_again);
	RUN_TEST(test_all_marks_everything);
	RUN_TEST(test_hit_lanes);
	RUN_TEST(test_full_table_lookups);
	return test_exit_status();
}
