/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include "maps.h"

/* Set by libxlb at load time. */
const volatile __u64 udp_idle_ns = XLB_UDP_IDLE_DEFAULT_NS;

SEC("xdp")
int xlb_lb(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
