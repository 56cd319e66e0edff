/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Tunnel frames for the datapath tests: an outer IPv4/IPv6 header (IP-in-IP)
 * or outer IP + UDP (GUE variant 1) around an inner IP packet, built from
 * scratch with tests/lib/pkt.h's checksum functions, and a verifier that
 * recomputes every checksum of a frame independently, looking inside
 * tunnels and inside the packet an ICMP error quotes.
 */
#ifndef XLB_TESTS_PKT_TUNNEL_H
#define XLB_TESTS_PKT_TUNNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pkt.h"

#define PKT_NH_IPIP 4 /* IPv4 inside */
#define PKT_NH_IPV6 41 /* IPv6 inside */

/* The outer headers of a tunnel frame. */
struct pkt_outer {
	uint8_t eth_dst[6];
	uint8_t eth_src[6];
	uint16_t vlan_tci; /* with vlan */
	bool vlan;

	int family; /* 4 or 6 */
	uint8_t src[16], dst[16]; /* IPv4 in the first 4 bytes */
	uint8_t tos; /* IPv4 TOS or IPv6 traffic class */
	uint8_t ttl;
	uint16_t ip_id;
	uint16_t frag_off; /* IPv4 flags + offset, host order */
	uint32_t flow_label;
	uint8_t ip_opts[40]; /* IPv4 options, a multiple of 4 bytes */
	uint8_t ip_opts_len;
	/* PKT_NH_IPIP / PKT_NH_IPV6 for IP-in-IP, PKT_NH_UDP for GUE */
	uint8_t proto;
	uint16_t sport, dport; /* GUE: UDP ports, host order */
	bool udp_csum; /* GUE: compute the UDP checksum (default: 0, none) */
};

/*
 * out = Ethernet (+ tag) + outer header(s) + inner, where inner is an IP
 * packet (from its IP header on). Lengths and checksums are computed here.
 * Returns 0, or -1 if it does not fit.
 */
int pkt_encap(struct pkt *out, const struct pkt_outer *o, const uint8_t *inner, size_t inner_len);

/* The L3 part of a built frame (its IP header on). */
static inline const uint8_t *pkt_l3(const struct pkt *p, size_t *len)
{
	*len = p->len - p->l3_off;
	return p->data + p->l3_off;
}

/*
 * Every checksum of a frame, recomputed from scratch: IPv4 headers,
 * TCP/UDP/ICMP/ICMPv6 (pkt_verify_csums), and, recursively, the inner packet
 * of an IP-in-IP or GUE frame (gue_port: the GUE UDP port, 0 for none) and
 * the IPv4 header an ICMP error quotes. A GUE UDP checksum of 0 is accepted
 * over IPv4 and IPv6 (RFC 6935). Returns true, or false with why.
 */
bool pkt_verify_deep(const uint8_t *frame, size_t len, uint16_t gue_port, char *why, size_t n);

#endif /* XLB_TESTS_PKT_TUNNEL_H */
