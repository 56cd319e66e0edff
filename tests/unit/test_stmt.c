// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The statement grammar: every verb parses into the right fields, every
 * error message is exactly what an operator will read, and the canonical
 * text that `save` prints parses back to the same statement.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stmt.h"
#include "testlib.h"

#define VIP4 "tcp/198.18.1.10:80"
#define VIP6 "tcp/[fd00::10]:80"
#define BE4 "198.18.2.11"
/* The tails of the address messages, spelled once. */
#define VIP_HINT "(expected PROTO/ADDR:PORT, e.g. tcp/198.18.1.10:80)"
#define BE_HINT "(expected ADDR[:PORT], e.g. 198.18.2.11:8080 or [fd00::11]:8080)"

static char err[1024];

/* xlb_stmt_parse, its message kept in err for the checks. */
static int parse(const char *line, struct xlb_stmt *st)
{
	int rc = xlb_stmt_parse(line, st);

	snprintf(err, sizeof(err), "%s", xlb_errmsg());
	return rc;
}

static bool parse_ok(const char *line, struct xlb_stmt *st)
{
	int rc = parse(line, st);

	return ASSERT_TRUE(rc == 1, "parse \"%s\": rc %d: %s", line, rc, err);
}

static bool addr_is(const struct xlb_addr *a, __u8 family, const char *want)
{
	char buf[64];

	return ASSERT_STREQ(xlb_addr_str(a, family, buf, sizeof(buf)), want, "address");
}

static bool vip_is(const struct xlb_stmt *st, const char *want)
{
	char buf[64];

	return ASSERT_STREQ(xlb_vip_key_str(&st->vip, buf, sizeof(buf)), want, "VIP");
}

/* ---- every verb ---------------------------------------------------------- */

static void test_vip_add_full(void)
{
	struct xlb_stmt st;

	if (!parse_ok("vip add " VIP4 " sched wrr mode dsr ring 7", &st))
		return;
	ASSERT_EQ(st.verb, XLB_V_VIP_ADD, "verb");
	ASSERT_EQ(st.vip.proto, IPPROTO_TCP, "proto");
	ASSERT_EQ(st.vip.family, XLB_FAMILY_V4, "family");
	ASSERT_EQ(st.vip.port, htons(80), "port");
	ASSERT_EQ_U(st.vip.addr.v4, htonl(0xc612010a), "address");
	ASSERT_EQ(st.sched, XLB_SCHED_WRR, "sched");
	ASSERT_EQ(st.mode, XLB_MODE_DSR, "mode");
	ASSERT_EQ(st.ring, 7, "ring");
}

static void test_vip_add_defaults(void)
{
	struct xlb_stmt st;

	if (!parse_ok("vip add udp/[fd00::10]:53", &st))
		return;
	vip_is(&st, "udp/[fd00::10]:53");
	ASSERT_EQ(st.vip.family, XLB_FAMILY_V6, "family");
	ASSERT_TRUE(st.has_sched && st.has_mode && st.has_ring, "defaults not marked as set");
	ASSERT_EQ(st.sched, XLB_SCHED_MAGLEV, "sched");
	ASSERT_EQ(st.mode, XLB_MODE_NAT, "mode");
	ASSERT_EQ(st.ring, XLB_RING_DEFAULT, "ring");
}

static void test_vip_set(void)
{
	struct xlb_stmt st;

	if (parse_ok("vip set " VIP4 " sched rr", &st)) {
		ASSERT_EQ(st.verb, XLB_V_VIP_SET, "verb");
		ASSERT_TRUE(st.has_sched && !st.has_ring && !st.has_mode, "only sched given");
		ASSERT_EQ(st.sched, XLB_SCHED_RR, "sched");
	}
	if (parse_ok("vip set " VIP4 " ring 1048573", &st)) {
		ASSERT_TRUE(!st.has_sched && st.has_ring, "only ring given");
		ASSERT_EQ(st.ring, XLB_RING_MAX, "ring");
	}
}

static void test_vip_del_list(void)
{
	struct xlb_stmt st;

	if (parse_ok("vip del " VIP6, &st)) {
		ASSERT_EQ(st.verb, XLB_V_VIP_DEL, "verb");
		vip_is(&st, VIP6);
	}
	if (parse_ok("vip list", &st))
		ASSERT_EQ(st.verb, XLB_V_VIP_LIST, "verb");
}

static void test_backend_add(void)
{
	struct xlb_stmt st;

	if (parse_ok("backend add " VIP4 " " BE4 ":8080 weight 5", &st)) {
		ASSERT_EQ(st.verb, XLB_V_BACKEND_ADD, "verb");
		addr_is(&st.backend.addr, st.backend.family, BE4);
		ASSERT_EQ(st.backend.port, htons(8080), "port");
		ASSERT_EQ(st.weight, 5, "weight");
	}
	if (parse_ok("backend add " VIP4 " " BE4, &st)) {
		ASSERT_EQ(st.backend.port, 0, "no port: the VIP's");
		ASSERT_TRUE(st.has_weight, "default weight not marked");
		ASSERT_EQ(st.weight, 1, "default weight");
	}
}

static void test_backend_add_v6_forms(void)
{
	static const char *const forms[] = { "[fd00::11]:8080", "[fd00::11]", "fd00::11" };
	static const uint16_t ports[] = { 8080, 0, 0 };
	struct xlb_stmt st;
	char line[128];

	for (int i = 0; i < 3; i++) {
		snprintf(line, sizeof(line), "backend add " VIP6 " %s", forms[i]);
		if (!parse_ok(line, &st))
			continue;
		ASSERT_EQ(st.backend.family, XLB_FAMILY_V6, forms[i]);
		addr_is(&st.backend.addr, st.backend.family, "fd00::11");
		ASSERT_EQ(st.backend.port, htons(ports[i]), forms[i]);
	}
}

static void test_backend_set(void)
{
	struct xlb_stmt st;

	if (parse_ok("backend set " VIP4 " " BE4 " weight 0", &st)) {
		ASSERT_EQ(st.verb, XLB_V_BACKEND_SET, "verb");
		ASSERT_EQ(st.bop, XLB_BOP_WEIGHT, "op");
		ASSERT_TRUE(st.has_weight, "has_weight");
		ASSERT_EQ(st.weight, 0, "weight 0 is allowed");
	}
	if (parse_ok("backend set " VIP4 " " BE4 " drain", &st))
		ASSERT_EQ(st.bop, XLB_BOP_DRAIN, "drain");
	if (parse_ok("backend set " VIP4 " " BE4 " enable", &st))
		ASSERT_EQ(st.bop, XLB_BOP_ENABLE, "enable");
}

static void test_backend_del(void)
{
	struct xlb_stmt st;

	if (!parse_ok("backend del " VIP4 " " BE4 ":80", &st))
		return;
	ASSERT_EQ(st.verb, XLB_V_BACKEND_DEL, "verb");
	ASSERT_EQ(st.backend.port, htons(80), "port");
}

static void test_check_set_http(void)
{
	struct xlb_stmt st;
	const struct xlb_check_spec *c = &st.check;

	if (!parse_ok("check set " VIP4 " http port 8080 path /healthz host example.org "
		      "expect 204 interval 500ms timeout 500ms rise 5 fall 1", &st))
		return;
	ASSERT_EQ(st.verb, XLB_V_CHECK_SET, "verb");
	ASSERT_EQ(c->type, XLB_CHECK_HTTP, "type");
	ASSERT_EQ(c->port, 8080, "port (host order)");
	ASSERT_STREQ(c->path, "/healthz", "path");
	ASSERT_STREQ(c->host, "example.org", "host");
	ASSERT_EQ(c->expect, 204, "expect");
	ASSERT_EQ(c->interval_ms, 500, "interval");
	ASSERT_EQ(c->timeout_ms, 500, "timeout equal to interval is fine");
	ASSERT_EQ(c->rise, 5, "rise");
	ASSERT_EQ(c->fall, 1, "fall");
}

static void test_check_set_defaults(void)
{
	struct xlb_stmt st;
	const struct xlb_check_spec *c = &st.check;

	if (parse_ok("check set " VIP4 " http", &st)) {
		ASSERT_STREQ(c->path, "/", "http path");
		ASSERT_EQ(c->expect, 200, "http expect");
		ASSERT_STREQ(c->host, "", "http host (the backend's address)");
		ASSERT_EQ(c->port, 0, "port (the backend's)");
		ASSERT_EQ(c->interval_ms, XLB_CHECK_DEFAULT_INTERVAL_MS, "interval");
		ASSERT_EQ(c->timeout_ms, XLB_CHECK_DEFAULT_TIMEOUT_MS, "timeout");
		ASSERT_EQ(c->rise, XLB_CHECK_DEFAULT_RISE, "rise");
		ASSERT_EQ(c->fall, XLB_CHECK_DEFAULT_FALL, "fall");
	}
	if (parse_ok("check set udp/198.18.1.10:53 udp", &st))
		ASSERT_STREQ(c->payload, "xlb-health", "udp payload");
	if (parse_ok("check set " VIP4 " tcp", &st)) {
		ASSERT_EQ(c->type, XLB_CHECK_TCP, "type");
		ASSERT_STREQ(c->path, "", "tcp has no path");
	}
	if (parse_ok("check set " VIP4 " none", &st))
		ASSERT_EQ(c->type, XLB_CHECK_NONE, "type");
}

static void test_simple_verbs(void)
{
	static const struct {
		const char *line;
		enum xlb_verb verb;
	} cases[] = {
		{ "show", XLB_V_SHOW },
		{ "stats", XLB_V_STATS },
		{ "save", XLB_V_SAVE },
		{ "vip list", XLB_V_VIP_LIST },
	};
	struct xlb_stmt st;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (parse_ok(cases[i].line, &st))
			ASSERT_EQ(st.verb, cases[i].verb, cases[i].line);
}

static void test_explain(void)
{
	struct xlb_stmt st;

	if (parse_ok("explain " VIP4 " 198.18.0.2:40000", &st)) {
		ASSERT_EQ(st.verb, XLB_V_EXPLAIN, "verb");
		vip_is(&st, VIP4);
		addr_is(&st.client.addr, XLB_FAMILY_V4, "198.18.0.2");
		ASSERT_EQ(st.client.port, htons(40000), "client port");
	}
	if (parse_ok("explain " VIP6 " [fd00::2]", &st)) {
		addr_is(&st.client.addr, XLB_FAMILY_V6, "fd00::2");
		ASSERT_EQ(st.client.port, 0, "no client port");
	}
}

static void test_apply(void)
{
	struct xlb_stmt st;

	if (parse_ok("apply /etc/xlb/xlb.conf", &st)) {
		ASSERT_EQ(st.verb, XLB_V_APPLY, "verb");
		ASSERT_STREQ(st.path, "/etc/xlb/xlb.conf", "path");
	}
	if (parse_ok("apply -", &st))
		ASSERT_STREQ(st.path, "-", "stdin");
}

/* ---- comments, blanks, long lines ---------------------------------------- */

static void test_blank_and_comments(void)
{
	static const char *const blanks[] = {
		"", "   ", "\t \r\n", "# a comment", "   # indented comment", "#vip add x",
	};
	struct xlb_stmt st;

	for (size_t i = 0; i < sizeof(blanks) / sizeof(blanks[0]); i++) {
		int rc = parse(blanks[i], &st);

		ASSERT_TRUE(rc == 0 && st.verb == XLB_V_NONE, "\"%s\": rc %d verb %d: %s",
			    blanks[i], rc, st.verb, err);
	}
	if (parse_ok("vip del " VIP4 " # gone for good", &st))
		ASSERT_EQ(st.verb, XLB_V_VIP_DEL, "trailing comment");
	if (parse_ok("show#no space needed", &st))
		ASSERT_EQ(st.verb, XLB_V_SHOW, "comment right after a word");
	if (parse_ok("\tvip   add\t" VIP4 "   sched  rr \r\n", &st))
		ASSERT_EQ(st.sched, XLB_SCHED_RR, "tabs, runs of spaces, CRLF");
}

/* A config file as `apply` feeds it: one statement a line. */
static void test_config_file(void)
{
	static const char *const lines[] = {
		"# xlb.conf",
		"",
		"vip add " VIP4 " sched maglev   # web",
		"backend add " VIP4 " " BE4 ":8080 weight 2",
		"   ",
		"backend add " VIP4 " 198.18.2.12:8080",
		"check set " VIP4 " http path /healthz",
	};
	int n = 0, rc;
	struct xlb_stmt st;

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		rc = parse(lines[i], &st);
		if (!ASSERT_TRUE(rc >= 0, "line %zu: %s", i + 1, err))
			return;
		n += rc;
	}
	ASSERT_EQ(n, 4, "statements in the file");
}

static void test_huge_line(void)
{
	size_t len = 10 * 1024 * 1024;
	char *line = malloc(len + 1);
	struct xlb_stmt st;
	int rc;

	if (!ASSERT_NOT_NULL(line, "malloc"))
		return;
	memset(line, 'a', len);
	memcpy(line, "vip add ", 8);
	line[len] = '\0';
	rc = parse(line, &st);
	ASSERT_EQ(rc, -EINVAL, "rc");
	ASSERT_STREQ(err, "line too long (max 4096 bytes)", "message");
	ASSERT_EQ(st.verb, XLB_V_NONE, "verb after error");
	free(line);
}

static void test_line_length_limit(void)
{
	char line[XLB_STMT_MAX_LEN + 2];
	struct xlb_stmt st;
	int rc;

	/* Exactly the limit: a statement padded with blanks still parses. */
	memset(line, ' ', XLB_STMT_MAX_LEN);
	memcpy(line, "show", 4);
	line[XLB_STMT_MAX_LEN] = '\0';
	parse_ok(line, &st);
	line[XLB_STMT_MAX_LEN] = ' ';
	line[XLB_STMT_MAX_LEN + 1] = '\0';
	rc = parse(line, &st);
	ASSERT_TRUE(rc == -EINVAL && strstr(err, "too long"), "one byte over: rc %d: %s", rc,
		    err);
}

/* ---- errors: the exact text an operator reads ---------------------------- */

static const struct {
	const char *name;
	const char *line;
	const char *msg;
} errors[] = {
	{ "unknown_sched", "vip add " VIP4 " sched rrr",
	  "unknown scheduler 'rrr' (expected maglev, rr, wrr, srchash)" },
	{ "unknown_mode", "vip add " VIP4 " mode nta",
	  "unknown mode 'nta' (expected nat, dsr, tunnel)" },
	{ "explain_no_client", "explain " VIP4,
	  "missing client (expected CLIENT[:PORT], e.g. 198.18.0.2:40000 or [fd00::2]:40000)" },
	{ "explain_family", "explain " VIP4 " [fd00::2]:40000",
	  "client '[fd00::2]:40000' is not of the VIP's address family (expected CLIENT[:PORT], "
	  "e.g. 198.18.0.2:40000 or [fd00::2]:40000)" },
	{ "explain_trailing", "explain " VIP4 " 198.18.0.2:40000 now",
	  "unexpected 'now' after statement" },
	{ "port_range", "vip add tcp/198.18.1.10:70000",
	  "port 70000 out of range (1-65535) in 'tcp/198.18.1.10:70000'" },
	{ "port_zero", "vip del tcp/198.18.1.10:0",
	  "port 0 out of range (1-65535) in 'tcp/198.18.1.10:0'" },
	{ "port_not_number", "vip del tcp/198.18.1.10:http",
	  "bad port 'http' in 'tcp/198.18.1.10:http' (expected a number 1-65535)" },
	{ "port_missing", "vip del tcp/198.18.1.10",
	  "missing port in 'tcp/198.18.1.10' " VIP_HINT },
	{ "port_empty", "vip del tcp/198.18.1.10:",
	  "missing port in 'tcp/198.18.1.10:' " VIP_HINT },
	{ "backend_set_typo", "backend set " VIP4 " " BE4 " wieght 3",
	  "unknown keyword 'wieght' (expected weight, drain, enable)" },
	{ "backend_set_missing_op", "backend set " VIP4 " " BE4,
	  "missing operation (expected weight, drain, enable)" },
	{ "backend_set_two_ops", "backend set " VIP4 " " BE4 " drain enable",
	  "unexpected 'enable' after statement" },
	{ "backend_add_unknown_keyword", "backend add " VIP4 " " BE4 " drain",
	  "unknown keyword 'drain' (expected weight)" },
	{ "ring_not_prime", "vip add " VIP4 " ring 65536", "ring size 65536 is not a prime between 7 and 1048573 (the default is 65537)" },
	{ "ring_range", "vip set " VIP4 " ring 5", "ring 5 out of range (7-1048573)" },
	{ "ring_not_number", "vip add " VIP4 " ring big",
	  "bad ring 'big' (expected a prime 7-1048573)" },
	{ "encap_without_tunnel", "vip add " VIP4 " encap gue", "'encap' applies to mode tunnel only" },
	{ "gue_port_without_gue", "vip add " VIP4 " mode tunnel gue-port 7000",
	  "'gue-port' needs 'encap gue'" },
	{ "encap_unknown", "vip add " VIP4 " mode tunnel encap gre",
	  "unknown encapsulation 'gre' (expected ipip, gue)" },
	{ "missing_vip", "vip add",
	  "missing VIP (expected PROTO/ADDR:PORT, e.g. tcp/198.18.1.10:80)" },
	{ "missing_backend", "backend add " VIP4, "missing backend " BE_HINT },
	{ "weight_negative", "backend add " VIP4 " " BE4 " weight -1",
	  "weight -1 out of range (0-65535)" },
	{ "weight_too_big", "backend set " VIP4 " " BE4 " weight 65536",
	  "weight 65536 out of range (0-65535)" },
	{ "weight_not_number", "backend add " VIP4 " " BE4 " weight 1.5",
	  "bad weight '1.5' (expected a number 0-65535)" },
	{ "weight_missing", "backend set " VIP4 " " BE4 " weight",
	  "missing value after 'weight' (expected a number 0-65535)" },
	{ "trailing_word", "show foo", "unexpected 'foo' after statement" },
	{ "trailing_stats", "stats -j", "unexpected '-j' after statement" },
	{ "trailing_save", "save now", "unexpected 'now' after statement" },
	{ "trailing_vip_list", "vip list all", "unexpected 'all' after statement" },
	{ "trailing_vip_del", "vip del " VIP4 " now", "unexpected 'now' after statement" },
	{ "duplicate_option", "vip add " VIP4 " sched rr sched wrr", "duplicate option 'sched'" },
	{ "duplicate_weight", "backend add " VIP4 " " BE4 " weight 1 weight 2",
	  "duplicate option 'weight'" },
	{ "vip_set_mode", "vip set " VIP4 " mode dsr",
	  "mode cannot change on vip set (delete the VIP and add it again with the new mode)" },
	{ "vip_set_nothing", "vip set " VIP4,
	  "nothing to change on vip set (expected sched, ring, announce-min)" },
	{ "vip_set_unknown_keyword", "vip set " VIP4 " weight 1",
	  "unknown keyword 'weight' (expected sched, ring, announce-min)" },
	{ "announce_min_zero", "vip set " VIP4 " announce-min 0",
	  "announce-min 0 out of range (1-16384)" },
	{ "node_unknown", "node stop", "unknown node command 'stop' (expected drain, enable)" },
	{ "node_extra", "node drain now", "unexpected 'now' after statement" },
	{ "vip_add_unknown_keyword", "vip add " VIP4 " shed rr",
	  "unknown keyword 'shed' (expected sched, mode, ring, encap, gue-port)" },
	{ "missing_value", "vip add " VIP4 " sched",
	  "missing value after 'sched' (expected maglev, rr, wrr, srchash)" },
	{ "unknown_command", "frob",
	  "unknown command 'frob' (expected vip, backend, check, node, show, stats, save, apply, explain)" },
	{ "case_sensitive", "VIP list",
	  "unknown command 'VIP' (expected vip, backend, check, node, show, stats, save, apply, explain)" },
	{ "missing_vip_command", "vip", "missing vip command (expected add, set, del, list)" },
	{ "unknown_vip_command", "vip ad " VIP4,
	  "unknown vip command 'ad' (expected add, set, del, list)" },
	{ "unknown_backend_command", "backend list",
	  "unknown backend command 'list' (expected add, set, del)" },
	{ "unknown_check_command", "check add", "unknown check command 'add' (expected set)" },
	{ "unknown_proto", "vip del sctp/198.18.1.10:80",
	  "unknown protocol 'sctp' in 'sctp/198.18.1.10:80' (expected tcp, udp)" },
	{ "vip_without_proto", "vip del 198.18.1.10:80",
	  "bad VIP '198.18.1.10:80' " VIP_HINT },
	{ "vip_short_v4", "vip del tcp/1.2.3:80",
	  "bad address '1.2.3' in 'tcp/1.2.3:80' " VIP_HINT },
	{ "vip_bad_octet", "vip del tcp/198.18.1.256:80",
	  "bad address '198.18.1.256' in 'tcp/198.18.1.256:80' " VIP_HINT },
	{ "vip_v6_unbracketed", "vip del tcp/fd00::10:80",
	  "IPv6 address needs brackets in 'tcp/fd00::10:80' "
	  "(expected PROTO/[ADDR]:PORT, e.g. tcp/[fd00::10]:80)" },
	{ "vip_missing_bracket", "vip del tcp/[fd00::10:80",
	  "missing ']' in 'tcp/[fd00::10:80' " VIP_HINT },
	{ "vip_unmatched_bracket", "vip del tcp/fd00::10]:80",
	  "unmatched ']' in 'tcp/fd00::10]:80' " VIP_HINT },
	{ "vip_junk_after_bracket", "vip del tcp/[fd00::10]80",
	  "unexpected '80' after ']' in 'tcp/[fd00::10]80' " VIP_HINT },
	{ "vip_zone_id", "vip del tcp/[fe80::1%eth0]:80",
	  "bad address 'fe80::1%eth0' in 'tcp/[fe80::1%eth0]:80' (zone ids are not allowed; "
	  "expected PROTO/ADDR:PORT, e.g. tcp/198.18.1.10:80)" },
	{ "vip_unspecified", "vip add tcp/0.0.0.0:80",
	  "unspecified address '0.0.0.0' in 'tcp/0.0.0.0:80' " VIP_HINT },
	{ "backend_bad_address", "backend add " VIP4 " 198.18.2",
	  "bad address '198.18.2' " BE_HINT },
	{ "backend_bracketed_v4", "backend add " VIP4 " [198.18.2.11]:80",
	  "brackets are only for IPv6 addresses in '[198.18.2.11]:80' " BE_HINT },
	{ "backend_unspecified_v6", "backend add " VIP6 " ::",
	  "unspecified address '::' " BE_HINT },
	{ "backend_port_zero", "backend add " VIP4 " " BE4 ":0",
	  "port 0 out of range (1-65535) in '198.18.2.11:0'" },
	{ "check_missing_type", "check set " VIP4,
	  "missing check type (expected tcp, http, udp, none)" },
	{ "check_unknown_type", "check set " VIP4 " icmp",
	  "unknown check type 'icmp' (expected tcp, http, udp, none)" },
	{ "check_path_slash", "check set " VIP4 " http path healthz",
	  "path 'healthz' must start with '/'" },
	{ "check_expect_range", "check set " VIP4 " http expect 700",
	  "expect 700 out of range (100-599)" },
	{ "check_expect_low", "check set " VIP4 " http expect 99",
	  "expect 99 out of range (100-599)" },
	{ "check_rise_zero", "check set " VIP4 " tcp rise 0", "rise 0 out of range (1-100)" },
	{ "check_fall_big", "check set " VIP4 " tcp fall 101", "fall 101 out of range (1-100)" },
	{ "check_port_range", "check set " VIP4 " tcp port 65536",
	  "port 65536 out of range (1-65535)" },
	{ "check_timeout_gt_interval", "check set " VIP4 " tcp interval 1s timeout 1500ms",
	  "timeout 1500ms is longer than interval 1s (timeout must be <= interval)" },
	{ "check_timeout_gt_default", "check set " VIP4 " tcp timeout 3s",
	  "timeout 3s is longer than interval 2s (timeout must be <= interval)" },
	{ "check_bad_duration", "check set " VIP4 " tcp interval 2",
	  "bad interval '2' (expected a duration like 500ms, 2s, 1m)" },
	{ "check_duration_unit_h", "check set " VIP4 " tcp interval 1h",
	  "bad interval '1h' (expected a duration like 500ms, 2s, 1m)" },
	{ "check_duration_range", "check set " VIP4 " tcp interval 61m",
	  "interval 61m out of range (1ms-1h)" },
	{ "check_duration_zero", "check set " VIP4 " tcp timeout 0ms",
	  "timeout 0ms out of range (1ms-1h)" },
	{ "check_path_on_tcp", "check set " VIP4 " tcp path /",
	  "'path' does not apply to check type tcp" },
	{ "check_payload_on_http", "check set " VIP4 " http payload x",
	  "'payload' does not apply to check type http" },
	{ "check_none_options", "check set " VIP4 " none interval 2s",
	  "'interval' does not apply to check type none" },
	{ "check_unknown_keyword_tcp", "check set " VIP4 " tcp pth /",
	  "unknown keyword 'pth' (expected port, interval, timeout, rise, fall)" },
	{ "check_unknown_keyword_http", "check set " VIP4 " http pth /",
	  "unknown keyword 'pth' (expected port, path, host, expect, interval, timeout, "
	  "rise, fall)" },
	{ "check_unknown_keyword_none", "check set " VIP4 " none foo",
	  "unexpected 'foo' after statement" },
	{ "check_duplicate", "check set " VIP4 " http path /a path /b", "duplicate option 'path'" },
	{ "apply_missing_file", "apply", "missing file (expected a path, or - for stdin)" },
	{ "apply_two_files", "apply a b", "unexpected 'b' after statement" },
};

static void test_error(size_t i)
{
	struct xlb_stmt st;
	int rc = parse(errors[i].line, &st);

	ASSERT_EQ(rc, -EINVAL, errors[i].line);
	ASSERT_STREQ(err, errors[i].msg, "message");
	/* Half a statement must never look like a whole one. */
	ASSERT_EQ(st.verb, XLB_V_NONE, "verb after error");
}

static void test_error_long_host(void)
{
	char line[512], host[300], want[512];
	struct xlb_stmt st;

	memset(host, 'h', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	snprintf(line, sizeof(line), "check set " VIP4 " http host %s", host);
	snprintf(want, sizeof(want), "host '%s' too long (max 255 bytes)", host);
	ASSERT_EQ(parse(line, &st), -EINVAL, "rc");
	ASSERT_STREQ(err, want, "message");
}

static void test_error_cleared(void)
{
	struct xlb_stmt st;

	/* The message is libxlb's (xlb_errmsg), and a good line clears it. */
	ASSERT_EQ(xlb_stmt_parse("frob", &st), -EINVAL, "rc");
	ASSERT_TRUE(strstr(xlb_errmsg(), "unknown command 'frob'") != NULL, "message: %s",
		    xlb_errmsg());
	ASSERT_EQ(xlb_stmt_parse("show", &st), 1, "rc of a good line");
	ASSERT_STREQ(xlb_errmsg(), "", "message after a good line");
}

/* ---- round trips ------------------------------------------------------- */

static const struct {
	const char *name;
	const char *line;
	const char *canonical;
} trips[] = {
	{ "explain_v4_port", "explain " VIP4 "   198.18.0.2:40000",
	  "explain " VIP4 " 198.18.0.2:40000" },
	{ "explain_v6_no_port", "explain " VIP6 " FD00::2", "explain " VIP6 " [fd00::2]" },
	{ "vip_add_defaults", "vip add " VIP4,
	  "vip add " VIP4 " sched maglev mode nat ring 65537" },
	{ "vip_add_reordered", "vip add udp/[FD00::10]:53 ring 7 mode tunnel sched srchash",
	  "vip add udp/[fd00::10]:53 sched srchash mode tunnel ring 7 encap ipip" },
	{ "vip_add_tunnel_gue", "vip add " VIP4 " mode tunnel encap gue",
	  "vip add " VIP4 " sched maglev mode tunnel ring 65537 encap gue gue-port 6080" },
	{ "vip_add_tunnel_gue_port", "vip add " VIP4 " gue-port 7000 mode tunnel encap gue",
	  "vip add " VIP4 " sched maglev mode tunnel ring 65537 encap gue gue-port 7000" },
	{ "backend_add_other_family", "backend add " VIP4 " [fd00::11]",
	  "backend add " VIP4 " [fd00::11] weight 1" },
	{ "vip_set_sched", "vip set " VIP4 " sched wrr", "vip set " VIP4 " sched wrr" },
	{ "vip_set_announce_min", "vip set " VIP4 " announce-min 2 sched rr",
	  "vip set " VIP4 " sched rr announce-min 2" },
	{ "node_drain", "  node   drain ", "node drain" },
	{ "node_enable", "node enable", "node enable" },
	{ "vip_set_both", "vip set " VIP4 " ring 251 sched rr",
	  "vip set " VIP4 " sched rr ring 251" },
	{ "vip_del", "vip del   " VIP6, "vip del " VIP6 },
	{ "vip_list", " vip list ", "vip list" },
	{ "backend_add", "backend add " VIP4 " " BE4 ":8080",
	  "backend add " VIP4 " " BE4 ":8080 weight 1" },
	{ "backend_add_no_port", "backend add " VIP4 " " BE4 " weight 7",
	  "backend add " VIP4 " " BE4 " weight 7" },
	{ "backend_add_v6_bare", "backend add " VIP6 " fd00::11",
	  "backend add " VIP6 " [fd00::11] weight 1" },
	{ "backend_add_v6_port", "backend add " VIP6 " [fd00::11]:8080 weight 0",
	  "backend add " VIP6 " [fd00::11]:8080 weight 0" },
	{ "backend_set_weight", "backend set " VIP4 " " BE4 " weight 3",
	  "backend set " VIP4 " " BE4 " weight 3" },
	{ "backend_set_drain", "backend set " VIP4 " " BE4 ":80 drain",
	  "backend set " VIP4 " " BE4 ":80 drain" },
	{ "backend_set_enable", "backend set " VIP4 " " BE4 " enable",
	  "backend set " VIP4 " " BE4 " enable" },
	{ "backend_del", "backend del " VIP6 " [fd00::11]", "backend del " VIP6 " [fd00::11]" },
	{ "check_http_full",
	  "check set " VIP4 " http port 80 path /healthz host example expect 200 "
	  "interval 2s timeout 1s rise 2 fall 3",
	  "check set " VIP4 " http port 80 path /healthz host example expect 200 "
	  "interval 2s timeout 1s rise 2 fall 3" },
	{ "check_http_minimal", "check set " VIP4 " http",
	  "check set " VIP4 " http path / expect 200 interval 2s timeout 1s rise 2 fall 3" },
	{ "check_tcp", "check set " VIP4 " tcp fall 5 rise 1",
	  "check set " VIP4 " tcp interval 2s timeout 1s rise 1 fall 5" },
	{ "check_udp", "check set udp/198.18.1.10:53 udp",
	  "check set udp/198.18.1.10:53 udp payload xlb-health interval 2s timeout 1s "
	  "rise 2 fall 3" },
	{ "check_udp_payload", "check set udp/198.18.1.10:53 udp payload ping port 5353",
	  "check set udp/198.18.1.10:53 udp port 5353 payload ping interval 2s timeout 1s "
	  "rise 2 fall 3" },
	{ "check_durations", "check set " VIP4 " tcp interval 120000ms timeout 1500ms",
	  "check set " VIP4 " tcp interval 2m timeout 1500ms rise 2 fall 3" },
	{ "check_durations_seconds", "check set " VIP4 " tcp interval 90s timeout 60s",
	  "check set " VIP4 " tcp interval 90s timeout 1m rise 2 fall 3" },
	{ "check_none", "check set " VIP4 " none", "check set " VIP4 " none" },
	{ "check_short_interval_default_timeout", "check set " VIP4 " tcp interval 500ms fall 2",
	  "check set " VIP4 " tcp interval 500ms timeout 500ms rise 2 fall 2" },
	{ "show", "show", "show" },
	{ "stats", "stats", "stats" },
	{ "save", "save # comment", "save" },
	{ "apply_stdin", "apply -", "apply -" },
	{ "apply_file", "apply /etc/xlb/xlb.conf", "apply /etc/xlb/xlb.conf" },
};

static void test_round_trip(size_t i)
{
	struct xlb_stmt a, b;
	char text[XLB_STMT_MAX_LEN], again[XLB_STMT_MAX_LEN];
	int n;

	if (!parse_ok(trips[i].line, &a))
		return;
	n = xlb_stmt_format(&a, text, sizeof(text));
	if (!ASSERT_TRUE(n >= 0, "format: %d", n))
		return;
	ASSERT_EQ(n, (long long)strlen(text), "returned length");
	if (!ASSERT_STREQ(text, trips[i].canonical, "canonical text") || !parse_ok(text, &b))
		return;
	/* The parser zeroes the whole struct first, so bytes compare. */
	ASSERT_TRUE(memcmp(&a, &b, sizeof(a)) == 0, "\"%s\" parses to another statement", text);
	if (ASSERT_TRUE(xlb_stmt_format(&b, again, sizeof(again)) >= 0, "format again"))
		ASSERT_STREQ(again, text, "formatting is stable");
}

static void test_format_buffer(void)
{
	struct xlb_stmt st;
	char buf[64];
	const char *want = "vip del " VIP4;
	int len = strlen(want);

	if (!parse_ok(want, &st))
		return;
	ASSERT_EQ(xlb_stmt_format(&st, buf, len + 1), len, "exact fit");
	ASSERT_EQ(xlb_stmt_format(&st, buf, len), -ENOSPC, "one byte short");
	ASSERT_TRUE(strlen(buf) < (size_t)len, "NUL-terminated inside the buffer");
	ASSERT_EQ(xlb_stmt_format(&st, buf, 0), -ENOSPC, "no buffer");
	memset(&st, 0, sizeof(st));
	ASSERT_EQ(xlb_stmt_format(&st, buf, sizeof(buf)), 0, "blank statement");
	ASSERT_STREQ(buf, "", "blank text");
	st.verb = 999;
	ASSERT_EQ(xlb_stmt_format(&st, buf, sizeof(buf)), -EINVAL, "unknown verb");
}

/* ---- durations and names -------------------------------------------------- */

static void test_duration_parse(void)
{
	static const struct {
		const char *s;
		uint32_t ms;
	} good[] = {
		{ "1ms", 1 }, { "500ms", 500 }, { "2s", 2000 }, { "1m", 60000 },
		{ "60m", 3600000 }, { "3600s", 3600000 }, { "007s", 7000 },
	};
	uint32_t ms;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ms = 0;
		if (ASSERT_OK(xlb_duration_parse(good[i].s, &ms), good[i].s))
			ASSERT_EQ(ms, good[i].ms, good[i].s);
	}
}

static void test_duration_parse_bad(void)
{
	static const char *const bad[] = {
		"", "2", "ms", "0s", "0ms", "61m", "3601s", "3600001ms", "1h", "2S", "1.5s",
		"-1s", "+1s", " 1s", "1s ", "1 s", "99999999999999999999999ms", "2sec",
	};
	uint32_t ms = 42;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_TRUE(xlb_duration_parse(bad[i], &ms) == -EINVAL, "\"%s\" accepted", bad[i]);
	ASSERT_EQ(ms, 42, "output untouched on failure");
}

static void test_check_type_names(void)
{
	ASSERT_STREQ(xlb_check_type_name(XLB_CHECK_NONE), "none", "none");
	ASSERT_STREQ(xlb_check_type_name(XLB_CHECK_TCP), "tcp", "tcp");
	ASSERT_STREQ(xlb_check_type_name(XLB_CHECK_HTTP), "http", "http");
	ASSERT_STREQ(xlb_check_type_name(XLB_CHECK_UDP), "udp", "udp");
	ASSERT_STREQ(xlb_check_type_name(XLB_CHECK_UDP + 1), "unknown", "out of range");
}

int main(void)
{
	RUN_TEST(test_vip_add_full);
	RUN_TEST(test_vip_add_defaults);
	RUN_TEST(test_vip_set);
	RUN_TEST(test_vip_del_list);
	RUN_TEST(test_backend_add);
	RUN_TEST(test_backend_add_v6_forms);
	RUN_TEST(test_backend_set);
	RUN_TEST(test_backend_del);
	RUN_TEST(test_check_set_http);
	RUN_TEST(test_check_set_defaults);
	RUN_TEST(test_simple_verbs);
	RUN_TEST(test_apply);
	RUN_TEST(test_explain);
	RUN_TEST(test_blank_and_comments);
	RUN_TEST(test_config_file);
	RUN_TEST(test_huge_line);
	RUN_TEST(test_line_length_limit);
	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
		test_begin("error_%s", errors[i].name);
		test_error(i);
		test_end();
	}
	RUN_TEST(test_error_long_host);
	RUN_TEST(test_error_cleared);
	for (size_t i = 0; i < sizeof(trips) / sizeof(trips[0]); i++) {
		test_begin("round_trip_%s", trips[i].name);
		test_round_trip(i);
		test_end();
	}
	RUN_TEST(test_format_buffer);
	RUN_TEST(test_duration_parse);
	RUN_TEST(test_duration_parse_bad);
	RUN_TEST(test_check_type_names);
	return test_exit_status();
}
