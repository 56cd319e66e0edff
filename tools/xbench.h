/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Helpers shared by the benchmark tools (xlb-bench-prog, xlb-gen,
 * xlb-bench-gw): building test frames with correct checksums, patching their
 * source tuple, MAC strings, entering a named network namespace, running
 * shell commands. Header-only (static inline) because each tools/X.c is
 * linked on its own.
 */
#ifndef XLB_TOOLS_XBENCH_H
#define XLB_TOOLS_XBENCH_H

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/if_ether.h>
#include <xlb/xlb.h>

#include "pkt.h"

#define XB_FRAME_MAX 1514

struct xb_pkt {
	uint8_t data[XB_FRAME_MAX];
	uint32_t len;
	uint32_t l3, l4;
	uint8_t family; /* XLB_FAMILY_* */
	uint8_t proto; /* IPPROTO_TCP or IPPROTO_UDP */
};

struct xb_pkt_spec {
	uint8_t dmac[ETH_ALEN], smac[ETH_ALEN];
	uint8_t family;
	uint8_t proto;
	struct xlb_addr src, dst;
	uint16_t sport, dport; /* host order */
	uint8_t tcp_flags;
	uint32_t size; /* frame bytes without FCS; grown to fit the headers */
	bool udp_csum_zero; /* IPv4 UDP only: send checksum 0 ("none") */
};

static inline double xb_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- checksums (RFC 1071 / 1624) --------------------------------------- */

static inline uint16_t xb_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static inline void xb_put16(uint8_t *b, uint16_t v)
{
	b[0] = v >> 8;
	b[1] = v & 0xff;
}

static inline uint16_t xb_get16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

/* Incremental update of the checksum at ck for n bytes changing old -> new. */
static inline void xb_csum_patch(uint8_t *ck, const uint8_t *old, const uint8_t *new, size_t n)
{
	uint32_t sum = (uint16_t)~xb_get16(ck);
	size_t i;

	for (i = 0; i + 1 < n; i += 2) {
		sum += (uint16_t)~xb_get16(old + i);
		sum += xb_get16(new + i);
	}
	xb_put16(ck, xb_csum_fold(sum));
}

/* ---- frames ------------------------------------------------------------- */

static inline size_t xb_addr_len(uint8_t family)
{
	return family == XLB_FAMILY_V4 ? 4 : 16;
}

static inline uint8_t *xb_l4_csum(struct xb_pkt *p)
{
	return p->data + p->l4 + (p->proto == IPPROTO_TCP ? 16 : 6);
}

/* Build the frame s describes, every checksum right, with the tests' packet
 * builder (tests/lib/pkt.c: one builder for tests and benchmarks), padded
 * with zero payload to s->size. */
static inline void xb_pkt_build(struct xb_pkt *p, const struct xb_pkt_spec *s)
{
	static const uint8_t zeros[XB_FRAME_MAX];
	int family = s->family == XLB_FAMILY_V4 ? 4 : 6;
	size_t hdrs = ETH_HLEN + (family == 4 ? 20 : 40) + (s->proto == IPPROTO_TCP ? 20 : 8);
	size_t size = s->size < XB_FRAME_MAX ? s->size : XB_FRAME_MAX;
	struct pkt_spec ps;
	struct pkt built;

	pkt_spec_l4(&ps, family, s->proto, s->src.bytes, s->sport, s->dst.bytes, s->dport);
	memcpy(ps.eth_dst, s->dmac, ETH_ALEN);
	memcpy(ps.eth_src, s->smac, ETH_ALEN);
	ps.tcp_flags = s->tcp_flags;
	ps.udp_csum_zero = s->udp_csum_zero;
	ps.payload = zeros;
	ps.payload_len = size > hdrs ? size - hdrs : 0;
	memset(p, 0, sizeof(*p));
	if (pkt_build(&built, &ps) || built.len > XB_FRAME_MAX)
		return; /* cannot happen: the headers and XB_FRAME_MAX fit PKT_MAX */
	memcpy(p->data, built.data, built.len);
	p->len = (uint32_t)built.len;
	p->l3 = (uint32_t)built.l3_off;
	p->l4 = (uint32_t)built.l4_off;
	p->family = s->family;
	p->proto = s->proto;
}

/* Give the frame another source address and port, checksums kept right. */
static inline void xb_pkt_set_source(struct xb_pkt *p, const struct xlb_addr *src, uint16_t sport)
{
	uint8_t *ip = p->data + p->l3, *l4 = p->data + p->l4;
	uint8_t *saddr = ip + (p->family == XLB_FAMILY_V4 ? 12 : 8);
	uint8_t *l4ck = xb_l4_csum(p);
	size_t alen = xb_addr_len(p->family);
	bool l4sum = !(p->proto == IPPROTO_UDP && !xb_get16(l4ck));
	uint8_t nport[2];

	xb_put16(nport, sport);
	if (p->family == XLB_FAMILY_V4)
		xb_csum_patch(ip + 10, saddr, src->bytes, alen);
	if (l4sum) {
		xb_csum_patch(l4ck, saddr, src->bytes, alen);
		xb_csum_patch(l4ck, l4, nport, 2);
		if (p->proto == IPPROTO_UDP && !xb_get16(l4ck))
			xb_put16(l4ck, 0xffff);
	}
	memcpy(saddr, src->bytes, alen);
	memcpy(l4, nport, 2);
}

/* ---- strings ------------------------------------------------------------ */

static inline const char *xb_mac_str(const uint8_t *m, char *buf)
{
	sprintf(buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	return buf;
}

static inline int xb_mac_parse(const char *s, uint8_t *m)
{
	unsigned int b[ETH_ALEN];
	int i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != ETH_ALEN)
		return -EINVAL;
	for (i = 0; i < ETH_ALEN; i++) {
		if (b[i] > 0xff)
			return -EINVAL;
		m[i] = (uint8_t)b[i];
	}
	return 0;
}

/* The MAC of an interface of the current network namespace (a socket
 * belongs to the namespace it was created in). */
static inline int xb_dev_mac(const char *dev, uint8_t *mac)
{
	struct ifreq ifr = {};
	int fd, err = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr))
		err = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	close(fd);
	return err;
}

/* ---- processes ---------------------------------------------------------- */

/* Enter the network namespace /run/netns/NAME (as `ip netns` names them).
 * Only the network namespace: bpffs and /sys stay the caller's. */
static inline int xb_netns_enter(const char *name)
{
	char path[256];
	int fd, err = 0;

	if (!name || !*name)
		return 0;
	if (strchr(name, '/'))
		snprintf(path, sizeof(path), "%s", name);
	else
		snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "opening %s failed: %s\n", path, strerror(errno));
		return -errno;
	}
	if (setns(fd, CLONE_NEWNET)) {
		err = -errno;
		fprintf(stderr, "entering network namespace %s failed: %s\n", path, strerror(errno));
	}
	close(fd);
	return err;
}

static inline int xb_pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		fprintf(stderr, "pinning to CPU %d failed: %s\n", cpu, strerror(errno));
		return -errno;
	}
	return 0;
}

#endif /* XLB_TOOLS_XBENCH_H */
