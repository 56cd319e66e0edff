// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Marks of confirmed flows (xlb_flow_marks) kept by user space: the mark
 * libxlb writes with a flow, the generations xlbd's idle sweep moves (a
 * live flow stays marked, a removed one's mark stops counting after two
 * passes), marks made anew beside a pinned table (off until a pass has
 * marked its flows) and a resize (the copies are marked in the new map).
 * What the datapath does with them is in test_packets.c
 * (v4_dsr_syn_on_confirmed_flow_found_by_mark).
 *
 * Pins under /sys/fs/bpf: run under the lab lock (tests/run.sh prog).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "libxlb.h"
#include "testlib.h"

#define PIN_ROOT "/sys/fs/bpf/xlb-test-marks"
#define NFLOWS 3

static struct xlb *open_pinned(uint32_t flow_entries, bool resize)
{
	struct xlb_open_opts o = { .pin_root = PIN_ROOT, .flow_entries = flow_entries,
				   .new_flow_entries = 1024, .resize_flows = resize };
	struct xlb *x = NULL;

	if (!ASSERT_OK(xlb_open(&x, &o), xlb_errmsg()))
		return NULL;
	/* The clock the sweep ages flows by: now, as xlbd keeps it. */
	if (!ASSERT_OK(xlb_nexthop_flush(x), xlb_errmsg())) {
		xlb_close(x);
		return NULL;
	}
	return x;
}

/* Client 198.18.3.(i+1):(40000+i) -> 198.19.3.1:80, TCP. */
static void flow_key(struct xlb_flow_key *k, int i)
{
	memset(k, 0, sizeof(*k));
	k->src.v4 = htonl(0xc6120301u + (uint32_t)i);
	k->dst.v4 = htonl(0xc6130301u);
	k->sport = htons((uint16_t)(40000 + i));
	k->dport = htons(80);
	k->proto = IPPROTO_TCP;
	k->family = XLB_FAMILY_V4;
}

static bool flows_put(struct xlb *x)
{
	struct xlb_flow f = { .flags = XLB_FLOW_F_SYN, .tick = xlb_clock_now() };
	struct xlb_flow_key k;
	int i;

	for (i = 0; i < NFLOWS; i++) {
		flow_key(&k, i);
		if (!ASSERT_OK(xlb_flow_confirmed_put(x, &k, &f), "write a confirmed flow"))
			return false;
	}
	return true;
}

/* The generation of flow i's mark (0: none). */
static uint32_t mark_of(struct xlb *x, int i)
{
	struct xlb_flow_key k;

	flow_key(&k, i);
	return xlb_flow_mark_of(x, &k);
}

static bool live(struct xlb *x, int i)
{
	return xlb_flow_mark_live(mark_of(x, i), xlb_flow_mark_gen(x));
}

/* One whole pass of the idle sweep. */
static bool sweep_pass(struct xlb *x)
{
	uint32_t removed;
	int rc, calls = 0;

	do
		rc = xlb_flows_sweep(x, 4096, &removed);
	while (rc == 0 && ++calls < 100);
	return ASSERT_EQ(rc, 1, xlb_errmsg());
}

static void test_marks_follow_flows_across_sweeps(void)
{
	struct xlb_flow_usage u;
	struct xlb_flow_key k;
	struct xlb *x;
	int i;

	xlb_destroy_pins(PIN_ROOT);
	x = open_pinned(1024, false);
	if (!x)
		return;
	ASSERT_EQ(xlb_flow_mark_gen(x), 1, "a fresh datapath keeps marks from generation 1");
	if (!flows_put(x))
		goto out;
	for (i = 0; i < NFLOWS; i++)
		ASSERT_EQ(mark_of(x, i), 1, "a written flow's cell holds the generation");
	flow_key(&k, 2);
	if (!ASSERT_OK(bpf_map_delete_elem(xlb_map_fd(x, XLB_MAP_FLOWS), &k), "remove flow 2"))
		goto out;
	if (!sweep_pass(x))
		goto out;
	ASSERT_EQ(xlb_flow_mark_gen(x), 2, "a whole pass moves the generation on");
	ASSERT_TRUE(live(x, 0) && live(x, 1), "live flows' marks count");
	ASSERT_TRUE(live(x, 2), "a removed flow's mark still counts one pass on (harmless)");
	if (!sweep_pass(x))
		goto out;
	ASSERT_EQ(xlb_flow_mark_gen(x), 3, "generation after two passes");
	ASSERT_EQ(mark_of(x, 0), 2, "the sweep re-marks a live flow with its pass's generation");
	ASSERT_TRUE(live(x, 0) && live(x, 1), "live flows' marks count after two passes");
	ASSERT_FALSE(live(x, 2), "a removed flow's mark no longer counts after two passes");
	ASSERT_EQ(mark_of(x, 2), 0, "and its cell is cleared: it cannot come back when the "
				    "generations wrap round");
	if (ASSERT_OK(xlb_flow_usage(x, &u), xlb_errmsg())) {
		ASSERT_EQ(u.mark_cells, 4096, "cells: four per confirmed entry");
		ASSERT_EQ(u.marks_live, 2, "live cells");
		ASSERT_EQ(u.mark_gen, 3, "usage's generation");
	}
out:
	xlb_close(x);
	xlb_destroy_pins(PIN_ROOT);
}

/* Marks lost beside a pinned table (its pin removed): every SYN must look
 * up until a sweep pass has marked the table's flows. */
static void test_new_marks_beside_pinned_flows_start_off(void)
{
	char path[256];
	struct xlb *x;
	int i;

	xlb_destroy_pins(PIN_ROOT);
	x = open_pinned(1024, false);
	if (!x || !flows_put(x))
		goto out;
	xlb_close(x);
	snprintf(path, sizeof(path), "%s/%s", PIN_ROOT, XLB_MAP_FLOW_MARKS);
	if (!ASSERT_OK(unlink(path) ? -errno : 0, "remove the marks' pin"))
		goto gone;
	x = open_pinned(1024, false);
	if (!x)
		goto gone;
	ASSERT_EQ(xlb_flow_mark_gen(x), 0, "marks made beside pinned flows start off");
	ASSERT_EQ(mark_of(x, 0), 0, "the new marks know no flow yet");
	if (!sweep_pass(x))
		goto out;
	ASSERT_EQ(xlb_flow_mark_gen(x), 1, "one whole pass turns the marks on");
	for (i = 0; i < NFLOWS; i++)
		ASSERT_TRUE(live(x, i), "the pass marked every pinned flow");
out:
	xlb_close(x);
gone:
	xlb_destroy_pins(PIN_ROOT);
}

/* --resize-flows: the marks are made at the new size, the copies marked. */
static void test_resize_marks_copied_flows(void)
{
	struct xlb_flow_usage u;
	struct xlb *x;
	int i;

	xlb_destroy_pins(PIN_ROOT);
	x = open_pinned(1024, false);
	if (!x || !flows_put(x))
		goto out;
	xlb_close(x);
	x = open_pinned(4096, true);
	if (!x)
		goto gone;
	if (ASSERT_OK(xlb_flow_usage(x, &u), xlb_errmsg())) {
		ASSERT_EQ(u.confirmed, NFLOWS, "flows copied into the resized table");
		ASSERT_EQ(u.mark_cells, 16384, "marks sized for the new table");
	}
	ASSERT_TRUE(xlb_flow_mark_gen(x) != 0, "marks kept after a resize");
	for (i = 0; i < NFLOWS; i++)
		ASSERT_TRUE(live(x, i), "a copied flow is marked in the new marks");
out:
	xlb_close(x);
gone:
	xlb_destroy_pins(PIN_ROOT);
}

int main(void)
{
	if (geteuid()) {
		printf("FAIL test_marks: needs root (pins maps under /sys/fs/bpf)\n");
		return 1;
	}
	RUN_TEST(test_marks_follow_flows_across_sweeps);
	RUN_TEST(test_new_marks_beside_pinned_flows_start_off);
	RUN_TEST(test_resize_marks_copied_flows);
	return test_exit_status();
}
