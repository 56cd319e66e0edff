/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The enumerated keywords of the statement language (scheduler, mode,
 * encapsulation, check type), each declared once as a table row in
 * keywords.c, which every reader and writer of the words uses.
 */
#ifndef XLB_KEYWORDS_H
#define XLB_KEYWORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "libxlb.h"
#include "stmt.h"

/* What a scheduler's table is, in user space. */
enum xlb_table_kind {
	XLB_TABLE_RING, /* a prime-sized Maglev table of ring_size entries */
	XLB_TABLE_TURNS, /* the sequence of turns, one per member per weight unit */
};

/* How user space builds and predicts a scheduler (the datapath's side of
 * it is bpf/sched.h). */
struct xlb_sched_def {
	enum xlb_table_kind table;
	enum xlb_pick_rule pick; /* what `explain` computes, as the datapath does */
	bool equal_turns; /* every member one turn, whatever its weight */
};

struct xlb_keyword {
	int value; /* the enum's */
	const char *name;
	const char *help; /* one sentence: usage, man pages */
	struct xlb_sched_def sched; /* schedulers' rows only */
};

struct xlb_keywords {
	const char *kind; /* the statement word that takes one: "sched" */
	const char *what; /* for messages: "scheduler" */
	const struct xlb_keyword *rows; /* in the order they are listed */
	size_t n;
};

extern const struct xlb_keywords xlb_sched_words, xlb_mode_words, xlb_encap_words,
	xlb_check_words;

/* NULL when no row has that value. */
const struct xlb_keyword *xlb_keyword_row(const struct xlb_keywords *k, int value);
/* "unknown" when no row has that value. */
const char *xlb_keyword_name(const struct xlb_keywords *k, int value);
/* The value, or -EINVAL. Case-sensitive. */
int xlb_keyword_parse(const struct xlb_keywords *k, const char *s);
/* Every name, in order, joined by sep, into buf (truncated to len); buf. */
const char *xlb_keyword_list(const struct xlb_keywords *k, const char *sep, char *buf, size_t len);
/* The table of a statement word ("sched", "mode", "encap", "check"), or NULL. */
const struct xlb_keywords *xlb_keywords_find(const char *kind);
/* Every row of every table as "kind<TAB>name<TAB>help" lines: what the
 * build turns into the man pages' lists and the shell completion. */
void xlb_keywords_print(FILE *f);

/* The scheduler's row (an out-of-range value gets a ring that no flow picks). */
const struct xlb_sched_def *xlb_sched_def(enum xlb_sched s);

#endif
