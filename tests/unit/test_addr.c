// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Address and endpoint text forms, and the names of the datapath's enums.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "libxlb.h"
#include "testlib.h"

static bool parse_ok(const char *s, struct xlb_addr *a, __u8 *family)
{
	int rc = xlb_addr_parse(s, a, family);

	return ASSERT_TRUE(rc == 0, "xlb_addr_parse(\"%s\") = %d: %s", s, rc, xlb_errmsg());
}

static bool parse_fails(const char *s)
{
	struct xlb_addr a;
	__u8 family = 99;
	int rc = xlb_addr_parse(s, &a, &family);

	return ASSERT_TRUE(rc == -EINVAL, "xlb_addr_parse(\"%s\") = %d, want -EINVAL", s, rc) &&
	       ASSERT_EQ(family, XLB_FAMILY_NONE, "family after failure");
}

static void test_parse_v4(void)
{
	struct xlb_addr a;
	__u8 family;
	static const __u8 zero[12];

	memset(&a, 0xff, sizeof(a));
	if (!parse_ok("198.18.0.1", &a, &family))
		return;
	ASSERT_EQ(family, XLB_FAMILY_V4, "family");
	ASSERT_EQ_U(a.v4, htonl(0xc6120001), "v4 word");
	/* Map keys compare all 16 bytes: the tail must be zero, not stale. */
	ASSERT_TRUE(memcmp(a.bytes + 4, zero, sizeof(zero)) == 0, "bytes 4..15 not zero");
}

static void test_parse_v4_edges(void)
{
	struct xlb_addr a;
	__u8 family;

	if (parse_ok("0.0.0.0", &a, &family))
		ASSERT_EQ_U(a.v4, 0, "0.0.0.0");
	if (parse_ok("255.255.255.255", &a, &family))
		ASSERT_EQ_U(a.v4, 0xffffffffu, "255.255.255.255");
}

static void test_parse_v4_bad_octets(void)
{
	parse_fails("256.1.1.1");
	parse_fails("198.18.0.300");
	parse_fails("1.2.3.-1");
	parse_fails("1.2.3.a");
	parse_fails("1..2.3");
}

static void test_parse_v4_wrong_parts(void)
{
	parse_fails("1.2.3");
	parse_fails("1.2.3.4.5");
	parse_fails("1.2.3.");
	parse_fails("1");
	parse_fails(" 1.2.3.4");
	parse_fails("1.2.3.4 ");
}

static void test_parse_v6(void)
{
	static const __u8 want[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11 };
	struct xlb_addr a;
	__u8 family;

	if (!parse_ok("fd00::11", &a, &family))
		return;
	ASSERT_EQ(family, XLB_FAMILY_V6, "family");
	ASSERT_TRUE(memcmp(a.bytes, want, 16) == 0, "fd00::11 bytes");
}

static void test_parse_v6_any(void)
{
	static const __u8 zero[16];
	struct xlb_addr a;
	__u8 family;

	memset(&a, 0xff, sizeof(a));
	if (!parse_ok("::", &a, &family))
		return;
	ASSERT_EQ(family, XLB_FAMILY_V6, "family of ::");
	ASSERT_TRUE(memcmp(a.bytes, zero, 16) == 0, ":: is not all zero");
}

static void test_parse_v6_forms(void)
{
	struct xlb_addr a;
	__u8 family;

	if (parse_ok("::ffff:198.18.0.1", &a, &family))
		ASSERT_EQ(family, XLB_FAMILY_V6, "v4-mapped stays IPv6");
	parse_ok("2001:db8:0:0:0:0:0:1", &a, &family);
	parse_ok("FD00::AB", &a, &family);
	parse_ok("::1", &a, &family);
}

static void test_parse_v6_bad(void)
{
	parse_fails("fd00:::1");
	parse_fails("1:2:3:4:5:6:7:8:9");
	parse_fails("gggg::1");
	parse_fails("fd00::1::2");
	parse_fails(":");
}

static void test_parse_zone_rejected(void)
{
	if (parse_fails("fe80::1%eth0"))
		ASSERT_TRUE(strstr(xlb_errmsg(), "zone id"), "message: %s", xlb_errmsg());
	parse_fails("fe80::1%1");
}

static void test_parse_brackets_rejected(void)
{
	/* Brackets belong to endpoint syntax, not to an address. */
	parse_fails("[fd00::1]");
	parse_fails("[fd00::1");
	parse_fails("fd00::1]");
	parse_fails("[198.18.0.1]");
}

static void test_parse_empty_and_long(void)
{
	char longer[200];

	parse_fails("");
	memset(longer, '1', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	parse_fails(longer);
}

static void test_addr_str(void)
{
	struct xlb_addr a;
	__u8 family;
	char buf[64];

	if (parse_ok("198.18.0.1", &a, &family))
		ASSERT_STREQ(xlb_addr_str(&a, family, buf, sizeof(buf)), "198.18.0.1", "v4");
	/* Printed in the RFC 5952 form whatever the input spelling. */
	if (parse_ok("FD00:0:0:0:0:0:0:11", &a, &family))
		ASSERT_STREQ(xlb_addr_str(&a, family, buf, sizeof(buf)), "fd00::11", "v6");
	if (parse_ok("::", &a, &family))
		ASSERT_STREQ(xlb_addr_str(&a, family, buf, sizeof(buf)), "::", "::");
}

static void test_addr_str_bad_input(void)
{
	struct xlb_addr a = { .v4 = htonl(0x01020304) };
	char small[4], buf[64];

	ASSERT_STREQ(xlb_addr_str(&a, XLB_FAMILY_NONE, buf, sizeof(buf)), "?", "family none");
	ASSERT_STREQ(xlb_addr_str(&a, XLB_FAMILY_V4, small, sizeof(small)), "?",
		     "buffer too small");
}

static void test_vip_key_make(void)
{
	struct xlb_addr a;
	struct xlb_vip_key k;
	static const __u8 zero[12];

	memset(&a, 0xee, sizeof(a));
	a.v4 = htonl(0xc612010a);
	memset(&k, 0xff, sizeof(k));
	xlb_vip_key_make(&k, IPPROTO_TCP, XLB_FAMILY_V4, &a, 80);
	ASSERT_EQ_U(k.addr.v4, htonl(0xc612010a), "address");
	ASSERT_TRUE(memcmp(k.addr.bytes + 4, zero, sizeof(zero)) == 0,
		    "IPv4 key keeps the caller's stray bytes");
	ASSERT_EQ(k.port, htons(80), "port in wire order");
	ASSERT_EQ(k.proto, IPPROTO_TCP, "proto");
	ASSERT_EQ(k.family, XLB_FAMILY_V4, "family");
}

static void test_vip_key_str(void)
{
	struct xlb_vip_key k;
	struct xlb_addr a;
	__u8 family;
	char buf[64];

	if (parse_ok("198.18.1.10", &a, &family)) {
		xlb_vip_key_make(&k, IPPROTO_TCP, family, &a, 80);
		ASSERT_STREQ(xlb_vip_key_str(&k, buf, sizeof(buf)), "tcp/198.18.1.10:80", "v4 key");
	}
	if (parse_ok("fd00::10", &a, &family)) {
		xlb_vip_key_make(&k, IPPROTO_UDP, family, &a, 53);
		ASSERT_STREQ(xlb_vip_key_str(&k, buf, sizeof(buf)), "udp/[fd00::10]:53", "v6 key");
	}
}

static void test_endpoint_str(void)
{
	struct xlb_endpoint ep = { 0 };
	char buf[64];

	if (parse_ok("198.18.2.11", &ep.addr, &ep.family)) {
		ep.port = htons(80);
		ASSERT_STREQ(xlb_endpoint_str(&ep, buf, sizeof(buf)), "198.18.2.11:80", "v4");
		ep.port = 0;
		ASSERT_STREQ(xlb_endpoint_str(&ep, buf, sizeof(buf)), "198.18.2.11", "v4 no port");
	}
	if (parse_ok("fd00::11", &ep.addr, &ep.family)) {
		ep.port = htons(8080);
		ASSERT_STREQ(xlb_endpoint_str(&ep, buf, sizeof(buf)), "[fd00::11]:8080", "v6");
		ep.port = 0;
		ASSERT_STREQ(xlb_endpoint_str(&ep, buf, sizeof(buf)), "[fd00::11]", "v6 no port");
	}
}

static void test_sched_names(void)
{
	static const char *const names[] = { "maglev", "rr", "wrr", "srchash" };

	for (int s = 0; s < XLB_SCHED_MAX; s++) {
		ASSERT_STREQ(xlb_sched_name(s), names[s], "sched name");
		ASSERT_EQ(xlb_sched_parse(names[s]), s, names[s]);
	}
	ASSERT_STREQ(xlb_sched_name(XLB_SCHED_MAX), "unknown", "out of range");
	ASSERT_EQ(xlb_sched_parse("rrr"), -EINVAL, "rrr");
	ASSERT_EQ(xlb_sched_parse("Maglev"), -EINVAL, "keywords are case-sensitive");
	ASSERT_EQ(xlb_sched_parse(""), -EINVAL, "empty");
}

static void test_mode_names(void)
{
	static const char *const names[] = { "nat", "dsr", "tunnel" };

	for (int m = 0; m < XLB_MODE_MAX; m++) {
		ASSERT_STREQ(xlb_mode_name(m), names[m], "mode name");
		ASSERT_EQ(xlb_mode_parse(names[m]), m, names[m]);
	}
	ASSERT_STREQ(xlb_mode_name(XLB_MODE_MAX), "unknown", "out of range");
	ASSERT_EQ(xlb_mode_parse("NAT"), -EINVAL, "NAT");
	ASSERT_EQ(xlb_mode_parse("tun"), -EINVAL, "tun");
}

static void test_reason_names(void)
{
	ASSERT_STREQ(xlb_reason_name(XLB_R_TX), "tx", "first");
	ASSERT_STREQ(xlb_reason_name(XLB_R_DROP_FAMILY), "drop_family", "middle");
	ASSERT_STREQ(xlb_reason_name(XLB_R_FLOW_INSERT_FAILED), "flow_insert_failed", "last");
	ASSERT_STREQ(xlb_reason_name(XLB_R_MAX), "unknown", "XLB_R_MAX");
	ASSERT_STREQ(xlb_reason_name((enum xlb_reason)-1), "unknown", "negative");
}

int main(void)
{
	RUN_TEST(test_parse_v4);
	RUN_TEST(test_parse_v4_edges);
	RUN_TEST(test_parse_v4_bad_octets);
	RUN_TEST(test_parse_v4_wrong_parts);
	RUN_TEST(test_parse_v6);
	RUN_TEST(test_parse_v6_any);
	RUN_TEST(test_parse_v6_forms);
	RUN_TEST(test_parse_v6_bad);
	RUN_TEST(test_parse_zone_rejected);
	RUN_TEST(test_parse_brackets_rejected);
	RUN_TEST(test_parse_empty_and_long);
	RUN_TEST(test_addr_str);
	RUN_TEST(test_addr_str_bad_input);
	RUN_TEST(test_vip_key_make);
	RUN_TEST(test_vip_key_str);
	RUN_TEST(test_endpoint_str);
	RUN_TEST(test_sched_names);
	RUN_TEST(test_mode_names);
	RUN_TEST(test_reason_names);
	return test_exit_status();
}
