// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Adoption of pinned maps by a new handle (what a restarted xlbd does):
 *  - a tunnel VIP's backends of the other address family are adopted with
 *    their slots, not freed as strays;
 *  - the state a crash in the middle of a VIP replacement leaves (backend
 *    slots in use by a VIP id that is not in xlb_vips) is repaired: those
 *    slots are freed and the published VIP keeps its backends.
 *
 * Pins under /sys/fs/bpf: run under the lab lock (tests/run.sh prog).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "libxlb.h"
#include "testlib.h"

#define PIN_ROOT "/sys/fs/bpf/xlb-test-adopt"

static struct xlb *open_pinned(void)
{
	struct xlb_open_opts o = { .pin_root = PIN_ROOT, .flow_entries = 1024,
				   .new_flow_entries = 1024 };
	struct xlb *x = NULL;

	if (!ASSERT_OK(xlb_open(&x, &o), xlb_errmsg()))
		return NULL;
	return x;
}

static struct xlb_vip_spec tunnel_vip(void)
{
	struct xlb_addr a = { .v4 = htonl(0xc6130a0au) }; /* 198.19.10.10 */
	struct xlb_vip_spec s = {};

	xlb_vip_key_make(&s.key, IPPROTO_TCP, XLB_FAMILY_V4, &a, 80);
	s.mode = XLB_MODE_TUNNEL;
	s.encap = XLB_ENCAP_GUE;
	s.ring_size = 1009;
	return s;
}

/* Backend i: fd00:10::i (IPv6, for the IPv4 VIP) when v6, else 198.18.10.i. */
static struct xlb_backend_spec backend(unsigned int i, bool v6)
{
	struct xlb_backend_spec b = { .weight = 1 };

	b.ep.family = v6 ? XLB_FAMILY_V6 : XLB_FAMILY_V4;
	if (v6) {
		inet_pton(AF_INET6, "fd00:10::", &b.ep.addr);
		b.ep.addr.bytes[15] = i;
	} else {
		b.ep.addr.v4 = htonl(0xc6120a00u + i);
	}
	return b;
}

/* The ids of a VIP's backends, in slot order, as a string to compare. */
static void ids_of(struct xlb *x, const struct xlb_vip_key *key, char *buf, size_t len)
{
	const struct xlb_vip_info *v = xlb_vip_find(x, key);
	size_t off = 0;

	buf[0] = 0;
	for (size_t i = 0; v && i < v->n_backends; i++)
		off += snprintf(buf + off, len - off, "%u(%u) ", v->backends[i].id,
				v->backends[i].ep.family);
}

/* What a restarted xlbd does: close the handle, open the pins again. The
 * VIP's slots before and after go to before and after. NULL: open failed. */
static struct xlb *restart(struct xlb *x, const struct xlb_vip_key *key, char *before,
			   char *after, size_t len)
{
	ids_of(x, key, before, len);
	xlb_close(x);
	x = open_pinned();
	if (x)
		ids_of(x, key, after, len);
	return x;
}

static void test_adopt_cross_family_tunnel(void)
{
	struct xlb_backend_spec be[3] = { backend(1, true), backend(2, false), backend(3, true) };
	struct xlb_vip_spec s = tunnel_vip();
	char before[256], after[256];
	struct xlb *x;

	xlb_destroy_pins(PIN_ROOT);
	x = open_pinned();
	if (!x)
		return;
	if (!ASSERT_OK(xlb_vip_create(x, &s, be, 3), xlb_errmsg()))
		goto out;
	x = restart(x, &s.key, before, after, sizeof(before));
	if (!x)
		goto out;
	test_log("slots(family) before: %s, after adoption: %s", before, after);
	ASSERT_STREQ(after, before, "backend slots after adoption");
out:
	xlb_close(x);
	xlb_destroy_pins(PIN_ROOT);
}

/* A slot in use by VIP id 7, which is not in xlb_vips: what a crash leaves
 * between a replacement's backend writes and its switch. */
static int stray_slot(struct xlb *x, uint32_t id)
{
	struct xlb_backend b = {};

	b.family = XLB_FAMILY_V4;
	b.addr.v4 = htonl(0xc6120a63u); /* 198.18.10.99 */
	b.port = htons(80);
	b.flags = XLB_BACKEND_F_IN_USE;
	b.vip_id = 7;
	b.gen = 1;
	b.weight = 1;
	return bpf_map_update_elem(xlb_map_fd(x, XLB_MAP_BACKENDS), &id, &b, BPF_ANY);
}

static void test_adopt_frees_crash_leftovers(void)
{
	struct xlb_backend_spec be[2] = { backend(1, false), backend(2, false) };
	struct xlb_vip_spec s = tunnel_vip();
	struct xlb_backend slot = {};
	char before[256], after[256];
	uint32_t stray = 100;
	struct xlb *x;

	s.mode = XLB_MODE_NAT;
	xlb_destroy_pins(PIN_ROOT);
	x = open_pinned();
	if (!x)
		return;
	if (!ASSERT_OK(xlb_vip_create(x, &s, be, 2), xlb_errmsg()) ||
	    !ASSERT_OK(stray_slot(x, stray), "write the stray slot"))
		goto out;
	x = restart(x, &s.key, before, after, sizeof(before));
	if (!x)
		goto out;
	ASSERT_STREQ(after, before, "the published VIP's backends after adoption");
	if (ASSERT_OK(bpf_map_lookup_elem(xlb_map_fd(x, XLB_MAP_BACKENDS), &stray, &slot),
		      "read the stray slot")) {
		ASSERT_EQ(slot.flags & XLB_BACKEND_F_IN_USE, 0, "stray slot in use after adoption");
		ASSERT_EQ(slot.gen, 1, "stray slot's generation (kept, so its flows stay stale)");
	}
out:
	xlb_close(x);
	xlb_destroy_pins(PIN_ROOT);
}

int main(void)
{
	if (geteuid()) {
		printf("FAIL test_adopt: needs root (pins maps under /sys/fs/bpf)\n");
		return 1;
	}
	RUN_TEST(test_adopt_cross_family_tunnel);
	RUN_TEST(test_adopt_frees_crash_leftovers);
	return test_exit_status();
}
