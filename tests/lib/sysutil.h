/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* What the namespace-building tests do to the system: shell commands,
 * sysctl-style file writes, MAC addresses as text. */
#ifndef XLB_TEST_SYSUTIL_H
#define XLB_TEST_SYSUTIL_H

#include <stdint.h>

/* Run a command (printf-style) with system(); non-zero is also reported
 * on stderr with the command. */
int test_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Write val into path (a /proc or /sys knob): 0 or -errno. */
int test_write_file(const char *path, const char *val);
/* "aa:bb:cc:dd:ee:ff" into buf (at least 18 bytes); returns buf. */
const char *test_mac_str(const uint8_t *m, char *buf);

/* Move this process into a network namespace of its own (everything made
 * in it vanishes with the process), with lo up and forwarding on, which
 * bpf_fib_lookup() needs (FWD_DISABLED otherwise). 0 or -1. */
int test_netns_private(void);

/* One end of a test link: a veth named dev (peer: its other end), up,
 * with an IPv4 /24 and an IPv6 /64 address (either may be NULL). A NULL
 * MAC lets the kernel pick one. */
struct test_veth {
	const char *dev, *peer;
	const uint8_t *mac, *peer_mac;
	const char *v4, *v6;
	int mtu; /* 0: the default */
};

/* The packet tests' two links, as test_veth_add makes them: [0] the
 * client side, [1] the backend side. Each test names its own devices. */
extern const uint8_t test_link_mac[2][6], test_link_peer_mac[2][6];
extern const char *const test_link_v4[2], *const test_link_v6[2];

/* Make the veth pair; its ifindex, or -1. */
int test_veth_add(const struct test_veth *v);
/* Permanent neighbour entries for a host's IPv4 and IPv6 address (either
 * may be NULL) on dev. 0 or non-zero. */
int test_neigh_add(const char *v4, const char *v6, const uint8_t *mac, const char *dev);

#endif
