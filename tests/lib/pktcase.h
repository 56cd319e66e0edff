/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * One packet-test case on top of testlib: it stops at its first failure
 * (later ones are usually consequences) and keeps the hexdumps that explain
 * it, logged after the result line. Shared by the tests/prog binaries.
 */
#ifndef XLB_PKTCASE_H
#define XLB_PKTCASE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <linux/bpf.h>
#include <xlb/xlb.h>

struct pkt_case {
	const char *layer; /* "prog", "tunnel": the case names' prefix */
	bool failed;
	char *dump;
	size_t dump_len;
	FILE *dumpf; /* write explanations here; shown only on failure */
};

extern struct pkt_case tc;

void tc_begin(const char *name);
/* Record a failure (only the first is reported); returns false. */
bool tc_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tc_end(void);
/* "PASS", "TX", ... for an XDP action. */
const char *action_name(uint32_t action);

/* What a case expects of a frame that is passed or dropped: the action and
 * the reason counted (a passed frame also leaves unchanged). Written
 * PASS(NOT_VIP), DROP(MALFORMED) in the case tables. */
struct verdict {
	uint32_t action;
	enum xlb_reason reason;
};

#define PASS(r) { XDP_PASS, XLB_R_PASS_##r }
#define DROP(r) { XDP_DROP, XLB_R_DROP_##r }

#endif
