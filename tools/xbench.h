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

static inline uint32_t xb_csum_add(uint32_t sum, const void *buf, size_t len)
{
	const uint8_t *b = buf;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	return sum;
}

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

static inline void xb_l4_csum_fill(struct xb_pkt *p)
{
	const uint8_t *ip = p->data + p->l3;
	uint32_t l4len = p->len - p->l4;
	uint32_t sum;
	uint16_t c;

	xb_put16(xb_l4_csum(p), 0);
	if (p->family == XLB_FAMILY_V4)
		sum = xb_csum_add(0, ip + 12, 8);
	else
		sum = xb_csum_add(0, ip + 8, 32);
	sum += p->proto + l4len;
	c = xb_csum_fold(xb_csum_add(sum, p->data + p->l4, l4len));
	if (p->proto == IPPROTO_UDP && !c)
		c = 0xffff; /* 0 would mean "no checksum" */
	xb_put16(xb_l4_csum(p), c);
}

static inline void xb_ip_fill(struct xb_pkt *p, const struct xb_pkt_spec *s)
{
	uint8_t *ip = p->data + p->l3;
	uint32_t l4len = p->len - p->l4;

	if (s->family == XLB_FAMILY_V4) {
		ip[0] = 0x45;
		xb_put16(ip + 2, (uint16_t)(20 + l4len));
		xb_put16(ip + 6, 0x4000); /* DF */
		ip[8] = 64;
		ip[9] = s->proto;
		memcpy(ip + 12, &s->src.v4, 4);
		memcpy(ip + 16, &s->dst.v4, 4);
		xb_put16(ip + 10, xb_csum_fold(xb_csum_add(0, ip, 20)));
	} else {
		ip[0] = 0x60;
		xb_put16(ip + 4, (uint16_t)l4len);
		ip[6] = s->proto;
		ip[7] = 64;
		memcpy(ip + 8, s->src.bytes, 16);
		memcpy(ip + 24, s->dst.bytes, 16);
	}
}

/* Build the frame s describes, every checksum right. */
static inline void xb_pkt_build(struct xb_pkt *p, const struct xb_pkt_spec *s)
{
	uint32_t l3len = s->family == XLB_FAMILY_V4 ? 20 : 40;
	uint32_t l4hdr = s->proto == IPPROTO_TCP ? 20 : 8;
	uint32_t len = ETH_HLEN + l3len + l4hdr;
	uint8_t *l4;

	memset(p, 0, sizeof(*p));
	if (len < s->size)
		len = s->size < XB_FRAME_MAX ? s->size : XB_FRAME_MAX;
	p->len = len;
	p->family = s->family;
	p->proto = s->proto;
	p->l3 = ETH_HLEN;
	p->l4 = ETH_HLEN + l3len;
	memcpy(p->data, s->dmac, ETH_ALEN);
	memcpy(p->data + ETH_ALEN, s->smac, ETH_ALEN);
	xb_put16(p->data + 12, s->family == XLB_FAMILY_V4 ? ETH_P_IP : ETH_P_IPV6);
	xb_ip_fill(p, s);
	l4 = p->data + p->l4;
	xb_put16(l4, s->sport);
	xb_put16(l4 + 2, s->dport);
	if (s->proto == IPPROTO_TCP) {
		l4[4] = 0x12; /* any sequence number will do */
		l4[12] = 5 << 4;
		l4[13] = s->tcp_flags;
		xb_put16(l4 + 14, 64240);
	} else {
		xb_put16(l4 + 4, (uint16_t)(len - p->l4));
	}
	if (s->family == XLB_FAMILY_V4 && s->proto == IPPROTO_UDP && s->udp_csum_zero)
		return;
	xb_l4_csum_fill(p);
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
