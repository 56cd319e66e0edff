// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "sysutil.h"

int test_sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc)
		fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
	return rc;
}

int test_write_file(const char *path, const char *val)
{
	FILE *f = fopen(path, "w");
	int rc;

	if (!f)
		return -errno;
	rc = fputs(val, f) < 0 ? -EIO : 0;
	if (fclose(f))
		rc = -errno;
	return rc;
}

const char *test_mac_str(const uint8_t *m, char *buf)
{
	sprintf(buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	return buf;
}

int test_netns_private(void)
{
	if (unshare(CLONE_NEWNET)) {
		perror("unshare(CLONE_NEWNET)");
		return -1;
	}
	/* /proc/sys/net is resolved against the opener's namespace: these
	 * writes turn forwarding on in ours only. */
	if (test_write_file("/proc/sys/net/ipv4/ip_forward", "1") ||
	    test_write_file("/proc/sys/net/ipv6/conf/all/forwarding", "1") ||
	    test_write_file("/proc/sys/net/ipv6/conf/default/forwarding", "1"))
		return -1;
	return test_sh("ip link set lo up") ? -1 : 0;
}

/* " address MAC mtu N" as far as given, for `ip link add`. */
static const char *link_opts(const uint8_t *mac, int mtu, char *buf, size_t len)
{
	char m[18];
	int n = 0;

	buf[0] = '\0';
	if (mac)
		n = snprintf(buf, len, " address %s", test_mac_str(mac, m));
	if (mtu && n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - n, " mtu %d", mtu);
	return buf;
}

int test_veth_add(const struct test_veth *v)
{
	char o1[64], o2[64];
	int ifindex;

	if (test_sh("ip link add %s%s type veth peer name %s%s", v->dev,
		    link_opts(v->mac, v->mtu, o1, sizeof(o1)), v->peer,
		    link_opts(v->peer_mac, v->mtu, o2, sizeof(o2))) ||
	    test_sh("ip link set %s up", v->dev) || test_sh("ip link set %s up", v->peer) ||
	    (v->v4 && test_sh("ip addr add %s/24 dev %s", v->v4, v->dev)) ||
	    (v->v6 && test_sh("ip -6 addr add %s/64 dev %s nodad", v->v6, v->dev)))
		return -1;
	ifindex = (int)if_nametoindex(v->dev);
	return ifindex ? ifindex : -1;
}

int test_neigh_add(const char *v4, const char *v6, const uint8_t *mac, const char *dev)
{
	char m[18];

	test_mac_str(mac, m);
	return (v4 && test_sh("ip neigh add %s lladdr %s nud permanent dev %s", v4, m, dev)) ||
	       (v6 && test_sh("ip -6 neigh add %s lladdr %s nud permanent dev %s", v6, m, dev));
}

const uint8_t test_link_mac[2][6] = {
	{ 0x02, 0x00, 0x00, 0x00, 0xc0, 0x01 },
	{ 0x02, 0x00, 0x00, 0x00, 0xb0, 0x01 },
};
const uint8_t test_link_peer_mac[2][6] = {
	{ 0x02, 0x00, 0x00, 0x00, 0xc0, 0x02 },
	{ 0x02, 0x00, 0x00, 0x00, 0xb0, 0x02 },
};
const char *const test_link_v4[2] = { "198.18.0.1", "198.18.2.1" };
const char *const test_link_v6[2] = { "fd00::1", "fd00:2::1" };
