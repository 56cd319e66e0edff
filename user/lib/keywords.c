// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Every enumerated keyword of the statement language, declared once: the
 * parser, the printers, xlbctl's usage and error messages read these
 * tables; the man pages are filled from `xlbctl --keywords` at build time
 * and the shell completion asks it. A row is listed in the order people
 * read it; its value is the enum's.
 *
 * A scheduler's row also says how user space treats it (its table kind,
 * whether weights count, how `explain` predicts it), so adding one takes
 * its enum value (include/xlb/xlb.h), its pick in bpf/sched.h and one row
 * here: docs/architecture.md, "Adding a scheduler".
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "keywords.h"

#define ROWS(a) .rows = (a), .n = sizeof(a) / sizeof((a)[0])

#define RING_HASH(hash) { .table = XLB_TABLE_RING, .pick = (hash) }
#define TURNS(equal) { .table = XLB_TABLE_TURNS, .pick = XLB_PICK_TURN, .equal_turns = (equal) }

static const struct xlb_keyword sched_rows[] = {
	{ XLB_SCHED_MAGLEV, "maglev",
	  "consistent hashing of the 5-tuple into the VIP's Maglev table; weights are exact "
	  "and a change of backends moves only their share of new connections (the default)",
	  RING_HASH(XLB_PICK_HASH) },
	{ XLB_SCHED_RR, "rr", "new connections in turn, one turn per backend whatever its weight",
	  TURNS(true) },
	{ XLB_SCHED_WRR, "wrr", "new connections in turn, in proportion to weight", TURNS(false) },
	{ XLB_SCHED_SRCHASH, "srchash",
	  "the Maglev table hashed on the client address only: one client, one backend",
	  RING_HASH(XLB_PICK_SRC) },
};

static const struct xlb_keyword mode_rows[] = {
	{ XLB_MODE_NAT, "nat",
	  "rewrites the destination to the backend's address and port, and the backend's "
	  "replies back to the VIP; backends route clients through the gateway (the default)" },
	{ XLB_MODE_DSR, "dsr",
	  "direct server return: changes only the destination MAC address; backends are on "
	  "the gateway's link, own the VIP on their loopback and answer clients directly" },
	{ XLB_MODE_TUNNEL, "tunnel",
	  "encapsulates the packet to the backend's address, which may be anywhere routable; "
	  "backends answer clients directly" },
};

static const struct xlb_keyword encap_rows[] = {
	{ XLB_ENCAP_IPIP, "ipip", "IP in IP (the default; 20 or 40 bytes of overhead)" },
	{ XLB_ENCAP_GUE, "gue", "GUE to gue-port: outer IP and UDP (28 or 48 bytes of overhead)" },
};

static const struct xlb_keyword check_rows[] = {
	{ XLB_CHECK_TCP, "tcp", "success: the connection is accepted" },
	{ XLB_CHECK_HTTP, "http", "success: GET path answers with status expect" },
	{ XLB_CHECK_UDP, "udp", "success: a reply to payload arrives" },
	{ XLB_CHECK_NONE, "none", "no probing (the default): backends are always up" },
};

const struct xlb_keywords xlb_sched_words = { "sched", "scheduler", ROWS(sched_rows) };
const struct xlb_keywords xlb_mode_words = { "mode", "mode", ROWS(mode_rows) };
const struct xlb_keywords xlb_encap_words = { "encap", "encapsulation", ROWS(encap_rows) };
const struct xlb_keywords xlb_check_words = { "check", "check type", ROWS(check_rows) };

static const struct xlb_keywords *const all_words[] = {
	&xlb_sched_words, &xlb_mode_words, &xlb_encap_words, &xlb_check_words,
};

_Static_assert(sizeof(sched_rows) / sizeof(sched_rows[0]) == XLB_SCHED_MAX,
	       "every enum xlb_sched has its row");
_Static_assert(sizeof(mode_rows) / sizeof(mode_rows[0]) == XLB_MODE_MAX,
	       "every enum xlb_mode has its row");
_Static_assert(sizeof(encap_rows) / sizeof(encap_rows[0]) == XLB_ENCAP_MAX,
	       "every enum xlb_encap has its row");

const struct xlb_keyword *xlb_keyword_row(const struct xlb_keywords *k, int value)
{
	for (size_t i = 0; i < k->n; i++)
		if (k->rows[i].value == value)
			return &k->rows[i];
	return NULL;
}

const char *xlb_keyword_name(const struct xlb_keywords *k, int value)
{
	const struct xlb_keyword *row = xlb_keyword_row(k, value);

	return row ? row->name : "unknown";
}

int xlb_keyword_parse(const struct xlb_keywords *k, const char *s)
{
	for (size_t i = 0; i < k->n; i++)
		if (strcmp(k->rows[i].name, s) == 0)
			return k->rows[i].value;
	return -EINVAL;
}

const char *xlb_keyword_list(const struct xlb_keywords *k, const char *sep, char *buf, size_t len)
{
	size_t used = 0;

	if (!len)
		return buf;
	buf[0] = '\0';
	for (size_t i = 0; i < k->n && used < len; i++) {
		int n = snprintf(buf + used, len - used, "%s%s", i ? sep : "", k->rows[i].name);

		if (n < 0)
			break;
		used += (size_t)n;
	}
	return buf;
}

const struct xlb_keywords *xlb_keywords_find(const char *kind)
{
	for (size_t i = 0; i < sizeof(all_words) / sizeof(all_words[0]); i++)
		if (strcmp(all_words[i]->kind, kind) == 0)
			return all_words[i];
	return NULL;
}

void xlb_keywords_print(FILE *f)
{
	for (size_t i = 0; i < sizeof(all_words) / sizeof(all_words[0]); i++) {
		const struct xlb_keywords *k = all_words[i];

		for (size_t r = 0; r < k->n; r++)
			fprintf(f, "%s\t%s\t%s\n", k->kind, k->rows[r].name, k->rows[r].help);
	}
}

const struct xlb_sched_def *xlb_sched_def(enum xlb_sched s)
{
	static const struct xlb_sched_def none = { .table = XLB_TABLE_RING, .pick = XLB_PICK_NONE };
	const struct xlb_keyword *row = xlb_keyword_row(&xlb_sched_words, s);

	return row ? &row->sched : &none;
}

bool xlb_sched_uses_ring(enum xlb_sched s)
{
	return xlb_sched_def(s)->table == XLB_TABLE_RING;
}

const char *xlb_sched_name(enum xlb_sched s)
{
	return xlb_keyword_name(&xlb_sched_words, s);
}

int xlb_sched_parse(const char *s)
{
	return xlb_keyword_parse(&xlb_sched_words, s);
}

const char *xlb_mode_name(enum xlb_mode m)
{
	return xlb_keyword_name(&xlb_mode_words, m);
}

int xlb_mode_parse(const char *s)
{
	return xlb_keyword_parse(&xlb_mode_words, s);
}

const char *xlb_encap_name(enum xlb_encap e)
{
	return xlb_keyword_name(&xlb_encap_words, e);
}

int xlb_encap_parse(const char *s)
{
	return xlb_keyword_parse(&xlb_encap_words, s);
}

const char *xlb_check_type_name(enum xlb_check_type t)
{
	return xlb_keyword_name(&xlb_check_words, t);
}
