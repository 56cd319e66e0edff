// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The limits libxlb makes the maps with (xlbd --max-vips, --max-backends,
 * --nexthop-cache): every map they size has that size in the kernel, the
 * datapath's per-CPU block of counters follows them (a packet counted on
 * the last CPU is read back at its reason, which a stride left at the
 * default would miss), and values out of range are refused before load.
 * Needs root (loads BPF); pins nothing.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "libxlb.h"
#include "testlib.h"

#define VIPS 4
#define BACKENDS 6
#define NH_CACHE 256

static struct xlb *open_small(void)
{
	struct xlb_open_opts o = { .no_pin = true, .flow_entries = XLB_FLOWS_MIN,
				   .new_flow_entries = XLB_FLOWS_MIN, .max_vips = VIPS,
				   .max_backends = BACKENDS, .nexthop_cache = NH_CACHE };
	struct xlb *x = NULL;

	if (xlb_open(&x, &o)) {
		TEST_FAIL("xlb_open: %s", xlb_errmsg());
		return NULL;
	}
	return x;
}

static void expect_entries(struct xlb *x, const char *map, uint32_t want)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int fd = xlb_map_fd(x, map);

	if (!ASSERT_TRUE(fd >= 0, "map %s: %s", map, xlb_errmsg()))
		return;
	if (!ASSERT_OK(bpf_obj_get_info_by_fd(fd, &info, &len), map))
		return;
	ASSERT_EQ(info.max_entries, want, map);
}

static void test_limits_map_sizes(void)
{
	struct xlb *x = open_small();
	struct xlb_limits l;

	if (!x)
		return;
	expect_entries(x, XLB_MAP_VIPS, VIPS);
	expect_entries(x, XLB_MAP_VIP_ADDRS, VIPS);
	expect_entries(x, XLB_MAP_VIP_STATE, VIPS);
	expect_entries(x, XLB_MAP_TABLES, 2 * VIPS);
	expect_entries(x, XLB_MAP_BACKENDS, BACKENDS);
	expect_entries(x, XLB_MAP_NAT_ENDS, BACKENDS);
	expect_entries(x, "xlb_client_nh", NH_CACHE);
	xlb_limits_get(x, &l);
	ASSERT_EQ(l.max_vips, VIPS, "limits: max_vips");
	ASSERT_EQ(l.max_backends, BACKENDS, "limits: max_backends");
	ASSERT_EQ(l.nexthop_cache, NH_CACHE, "limits: nexthop_cache");
	ASSERT_EQ(l.vips, 0, "limits: vips in use");
	ASSERT_TRUE(l.vip_bytes > 0 && l.backend_bytes > 0, "memory charged is read");
	xlb_close(x);
}

/* Without options: the defaults, and what they cost (logged for the docs). */
static void test_limits_defaults(void)
{
	struct xlb_open_opts o = { .no_pin = true, .flow_entries = XLB_FLOWS_MIN,
				   .new_flow_entries = XLB_FLOWS_MIN };
	struct xlb *x = NULL;
	struct xlb_limits l;

	if (xlb_open(&x, &o)) {
		TEST_FAIL("xlb_open: %s", xlb_errmsg());
		return;
	}
	xlb_limits_get(x, &l);
	ASSERT_EQ(l.max_vips, XLB_VIPS_DEFAULT, "default max_vips");
	ASSERT_EQ(l.max_backends, XLB_BACKENDS_DEFAULT, "default max_backends");
	ASSERT_EQ(l.nexthop_cache, XLB_CLIENT_NH_DEFAULT, "default nexthop_cache");
	test_log("defaults charged: vips %llu, backends %llu, nexthop cache %llu, "
		 "counters %llu bytes\n",
		 (unsigned long long)l.vip_bytes, (unsigned long long)l.backend_bytes,
		 (unsigned long long)l.nexthop_bytes, (unsigned long long)l.stats_bytes);
	xlb_close(x);
}

static int last_cpu(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (int)n - 1 : 0;
}

/* An ARP frame: counted as XLB_R_PASS_NOT_IP on the running CPU. */
static void test_limits_counters_per_cpu(void)
{
	unsigned char frame[60] = { [12] = 0x08, [13] = 0x06 };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = sizeof(frame),
		    .repeat = 1);
	uint64_t before[XLB_R_MAX], after[XLB_R_MAX];
	struct xlb *x = open_small();
	cpu_set_t cpus;

	if (!x)
		return;
	CPU_ZERO(&cpus);
	CPU_SET(last_cpu(), &cpus);
	if (!ASSERT_OK(sched_setaffinity(0, sizeof(cpus), &cpus), "pin to the last CPU"))
		goto out;
	xlb_reason_counters(x, before);
	if (!ASSERT_OK(bpf_prog_test_run_opts(xlb_prog_fd(x), &o), "test run"))
		goto out;
	xlb_reason_counters(x, after);
	ASSERT_EQ(o.retval, XDP_PASS, "verdict");
	ASSERT_EQ(after[XLB_R_PASS_NOT_IP] - before[XLB_R_PASS_NOT_IP], 1,
		  "not-ip counted on the last CPU, read back at its reason");
out:
	CPU_ZERO(&cpus);
	for (int c = 0; c <= last_cpu(); c++)
		CPU_SET(c, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	xlb_close(x);
}

static void expect_refused(struct xlb_open_opts o, const char *what, const char *words)
{
	struct xlb *x = NULL;

	o.no_pin = true;
	if (!ASSERT_TRUE(xlb_open(&x, &o) != 0, "%s was accepted", what)) {
		xlb_close(x);
		return;
	}
	ASSERT_TRUE(strstr(xlb_errmsg(), words) != NULL, "%s: error '%s' lacks '%s'", what,
		    xlb_errmsg(), words);
}

static void test_limits_out_of_range(void)
{
	expect_refused((struct xlb_open_opts){ .max_vips = XLB_MAX_VIPS + 1 }, "too many VIPs",
		       "--max-vips 65537 is out of range: 1 to 65536");
	expect_refused((struct xlb_open_opts){ .max_backends = XLB_MAX_BACKENDS + 1 },
		       "too many backends", "--max-backends 16385 is out of range");
	expect_refused((struct xlb_open_opts){ .nexthop_cache = 3 }, "cache of 3",
		       "must be a power of two");
}

int main(void)
{
	RUN_TEST(test_limits_defaults);
	RUN_TEST(test_limits_map_sizes);
	RUN_TEST(test_limits_counters_per_cpu);
	RUN_TEST(test_limits_out_of_range);
	return test_exit_status();
}
