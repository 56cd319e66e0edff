// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The mark generations of xlb_flow_marks (xlb.h): a cell counts in its
 * own generation and the next, across the wrap from 255 to 1 (0 means
 * "never marked" and is never a generation), and the map is sized to four
 * cells per confirmed entry, a power of two.
 */
#include <xlb/xlb.h>

#include "testlib.h"

static void test_next_skips_zero(void)
{
	ASSERT_EQ(xlb_flow_mark_next(0), 1, "marks off -> first generation");
	ASSERT_EQ(xlb_flow_mark_next(1), 2, "1 -> 2");
	ASSERT_EQ(xlb_flow_mark_next(254), 255, "254 -> 255");
	ASSERT_EQ(xlb_flow_mark_next(255), 1, "255 wraps to 1, not 0");
}

static void test_live_window(void)
{
	ASSERT_TRUE(xlb_flow_mark_live(7, 7), "marked this generation");
	ASSERT_TRUE(xlb_flow_mark_live(6, 7), "marked the generation before");
	ASSERT_FALSE(xlb_flow_mark_live(5, 7), "two generations old");
	ASSERT_FALSE(xlb_flow_mark_live(8, 7), "a generation ahead (a stale wrap)");
	ASSERT_FALSE(xlb_flow_mark_live(0, 1), "never marked");
	ASSERT_TRUE(xlb_flow_mark_live(255, 1), "255 is the generation before 1");
	ASSERT_FALSE(xlb_flow_mark_live(254, 1), "254 is two before 1");
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

int main(void)
{
	RUN_TEST(test_next_skips_zero);
	RUN_TEST(test_live_window);
	RUN_TEST(test_cells_per_flow);
	return test_exit_status();
}
