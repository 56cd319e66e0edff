// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The keyword tables (user/lib/keywords.c): every enum value named once,
 * names parsed back, lists in reading order, the scheduler rows' rules,
 * and the error that names the accepted words.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keywords.h"
#include "testlib.h"

static const struct xlb_keywords *const tables[] = {
	&xlb_sched_words, &xlb_mode_words, &xlb_encap_words, &xlb_check_words,
};

static void test_round_trip(void)
{
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		const struct xlb_keywords *k = tables[t];

		for (size_t i = 0; i < k->n; i++) {
			const struct xlb_keyword *r = &k->rows[i];

			ASSERT_EQ(xlb_keyword_parse(k, r->name), r->value, r->name);
			ASSERT_STREQ(xlb_keyword_name(k, r->value), r->name, k->kind);
			ASSERT_TRUE(r->help && r->help[0], "%s %s has a meaning", k->kind, r->name);
			for (size_t j = 0; j < i; j++) {
				ASSERT_TRUE(strcmp(k->rows[j].name, r->name) != 0, "%s: %s twice",
					    k->kind, r->name);
				ASSERT_TRUE(k->rows[j].value != r->value, "%s: value %d twice",
					    k->kind, r->value);
			}
		}
		ASSERT_EQ(xlb_keyword_parse(k, ""), -EINVAL, k->kind);
		ASSERT_STREQ(xlb_keyword_name(k, 1000), "unknown", k->kind);
		ASSERT_TRUE(xlb_keywords_find(k->kind) == k, "%s found by its word", k->kind);
	}
	ASSERT_TRUE(xlb_keywords_find("weight") == NULL, "weight takes a number, not a keyword");
}

static void test_lists(void)
{
	char buf[128];

	ASSERT_STREQ(xlb_keyword_list(&xlb_sched_words, ", ", buf, sizeof(buf)),
		     "maglev, rr, wrr, srchash", "scheduler list");
	ASSERT_STREQ(xlb_keyword_list(&xlb_mode_words, "|", buf, sizeof(buf)), "nat|dsr|tunnel",
		     "mode list");
	ASSERT_STREQ(xlb_keyword_list(&xlb_check_words, ", ", buf, sizeof(buf)),
		     "tcp, http, udp, none", "check types in reading order, not enum order");
	ASSERT_STREQ(xlb_keyword_list(&xlb_encap_words, ", ", buf, 7), "ipip, ", "truncated");
}

/* Each scheduler's rules come from its row, and agree with the datapath's
 * (bpf/sched.h: maglev and srchash read a ring, rr and wrr take turns). */
static void test_sched_rules(void)
{
	ASSERT_TRUE(xlb_sched_uses_ring(XLB_SCHED_MAGLEV), "maglev: ring");
	ASSERT_TRUE(xlb_sched_uses_ring(XLB_SCHED_SRCHASH), "srchash: ring");
	ASSERT_TRUE(!xlb_sched_uses_ring(XLB_SCHED_RR), "rr: turns");
	ASSERT_TRUE(!xlb_sched_uses_ring(XLB_SCHED_WRR), "wrr: turns");
	ASSERT_EQ(xlb_sched_def(XLB_SCHED_MAGLEV)->pick, XLB_PICK_HASH, "maglev hashes the tuple");
	ASSERT_EQ(xlb_sched_def(XLB_SCHED_SRCHASH)->pick, XLB_PICK_SRC, "srchash the client");
	ASSERT_EQ(xlb_sched_def(XLB_SCHED_WRR)->pick, XLB_PICK_TURN, "wrr takes turns");
	ASSERT_TRUE(xlb_sched_def(XLB_SCHED_RR)->equal_turns, "rr ignores weights");
	ASSERT_TRUE(!xlb_sched_def(XLB_SCHED_WRR)->equal_turns, "wrr honours weights");
	ASSERT_EQ(xlb_sched_def(XLB_SCHED_MAX)->pick, XLB_PICK_NONE, "out of range picks nothing");
}

/* The statement parser's errors list the table's words. */
static void test_parser_errors(void)
{
	struct xlb_stmt st;

	ASSERT_TRUE(xlb_stmt_parse("vip add tcp/198.18.0.1:80 mode gre", &st) != 0,
		    "unknown mode refused");
	ASSERT_STREQ(xlb_errmsg(), "unknown mode 'gre' (expected nat, dsr, tunnel)", "mode error");
	ASSERT_TRUE(xlb_stmt_parse("check set tcp/198.18.0.1:80 icmp", &st) != 0,
		    "unknown check type refused");
	ASSERT_STREQ(xlb_errmsg(), "unknown check type 'icmp' (expected tcp, http, udp, none)",
		     "check type error");
}

/* What the man pages and the completion are made from. */
static void test_print(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!ASSERT_TRUE(f != NULL, "open_memstream"))
		return;
	xlb_keywords_print(f);
	fclose(f);
	ASSERT_TRUE(strstr(text, "sched\tmaglev\tconsistent hashing") == text, "first row: %.40s",
		    text);
	ASSERT_TRUE(strstr(text, "\ncheck\tnone\tno probing (the default)") != NULL,
		    "last table's last row");
	free(text);
}

int main(void)
{
	RUN_TEST(test_round_trip);
	RUN_TEST(test_lists);
	RUN_TEST(test_sched_rules);
	RUN_TEST(test_parser_errors);
	RUN_TEST(test_print);
	return test_exit_status();
}
