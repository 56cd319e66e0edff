// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Tunnel frames and deep checksum verification for the datapath tests.
 * Like pkt.c, shares nothing with the datapath: outer headers are laid out
 * field by field and their checksums summed from scratch.
 */
#include <stdio.h>
#include <string.h>

#include "pkt_tunnel.h"

#define MAX_DEPTH 3 /* tunnel in tunnel in ... is not something we build */

static size_t put_l2(uint8_t *b, const struct pkt_outer *o)
{
	size_t off = 12;

	memcpy(b, o->eth_dst, 6);
	memcpy(b + 6, o->eth_src, 6);
	if (o->vlan) {
		pkt_put16(b + off, PKT_ETH_P_8021Q);
		pkt_put16(b + off + 2, o->vlan_tci);
		off += 4;
	}
	pkt_put16(b + off, o->family == 6 ? PKT_ETH_P_IPV6 : PKT_ETH_P_IP);
	return off + 2;
}

static size_t put_outer4(uint8_t *b, const struct pkt_outer *o, size_t payload_len)
{
	const struct pkt_ipv4_fields f = { .tos = o->tos, .ttl = o->ttl, .proto = o->proto,
					   .id = o->ip_id, .frag_off = o->frag_off,
					   .src = o->src, .dst = o->dst, .opts = o->ip_opts,
					   .opts_len = o->ip_opts_len };

	return pkt_put_ipv4(b, &f, payload_len);
}

static size_t put_outer6(uint8_t *b, const struct pkt_outer *o, size_t payload_len)
{
	uint32_t w0 = 6u << 28 | (uint32_t)o->tos << 20 | (o->flow_label & 0xfffff);

	b[0] = w0 >> 24;
	b[1] = (w0 >> 16) & 0xff;
	b[2] = (w0 >> 8) & 0xff;
	b[3] = w0 & 0xff;
	pkt_put16(b + 4, (uint16_t)payload_len);
	b[6] = o->proto;
	b[7] = o->ttl;
	memcpy(b + 8, o->src, 16);
	memcpy(b + 24, o->dst, 16);
	return 40;
}

/* UDP header in front of the inner packet already copied behind it. */
static void put_gue_udp(uint8_t *b, const struct pkt_outer *o, size_t inner_len)
{
	uint16_t csum;

	pkt_put16(b, o->sport);
	pkt_put16(b + 2, o->dport);
	pkt_put16(b + 4, (uint16_t)(8 + inner_len));
	pkt_put16(b + 6, 0);
	if (!o->udp_csum)
		return;
	csum = pkt_l4_csum(o->family, o->src, o->dst, PKT_NH_UDP, b, 8 + inner_len);
	pkt_put16(b + 6, csum ? csum : 0xffff);
}

int pkt_encap(struct pkt *out, const struct pkt_outer *o, const uint8_t *inner, size_t inner_len)
{
	size_t udp = o->proto == PKT_NH_UDP ? 8 : 0;
	size_t l3 = o->family == 4 ? 20 + o->ip_opts_len : 40;
	size_t off;

	if (18 + l3 + udp + inner_len > PKT_MAX || o->ip_opts_len % 4 || o->ip_opts_len > 40)
		return -1;
	memset(out, 0, sizeof(*out));
	off = put_l2(out->data, o);
	out->l3_off = off;
	if (o->family == 4)
		off += put_outer4(out->data + off, o, udp + inner_len);
	else
		off += put_outer6(out->data + off, o, udp + inner_len);
	out->l4_off = off;
	memcpy(out->data + off + udp, inner, inner_len);
	if (udp)
		put_gue_udp(out->data + off, o, inner_len);
	out->len = off + udp + inner_len;
	return 0;
}

/* ---- verification ---------------------------------------------------- */

static bool fail(char *why, size_t n, const char *msg)
{
	snprintf(why, n, "%s", msg);
	return false;
}

static bool verify_l3(const uint8_t *l3, size_t len, int family, uint16_t gue, char *why,
		      size_t n, int depth);

/* Hand an L3 packet to pkt_verify_csums inside a made-up Ethernet frame. */
static bool verify_plain(const uint8_t *l3, size_t len, int family, char *why, size_t n)
{
	static uint8_t frame[PKT_MAX + 14];

	if (len > PKT_MAX)
		return fail(why, n, "packet too long to verify");
	memset(frame, 0, 12);
	pkt_put16(frame + 12, family == 6 ? PKT_ETH_P_IPV6 : PKT_ETH_P_IP);
	memcpy(frame + 14, l3, len);
	return pkt_verify_csums(frame, len + 14, why, n);
}

static int inner_family(const uint8_t *p, size_t len)
{
	if (!len)
		return 0;
	return p[0] >> 4 == 4 ? 4 : p[0] >> 4 == 6 ? 6 : 0;
}

/* GUE: the UDP checksum may be 0 (RFC 6935); the inner packet has its own. */
static bool verify_gue(const uint8_t *udp, size_t len, int family, const uint8_t *l3, uint16_t gue,
		       char *why, size_t n, int depth)
{
	const uint8_t *src = l3 + (family == 4 ? 12 : 8), *dst = l3 + (family == 4 ? 16 : 24);
	uint16_t have, want;

	if (len < 8 || pkt_get16(udp + 4) != len)
		return fail(why, n, "GUE UDP length inconsistent");
	have = pkt_get16(udp + 6);
	if (have) {
		want = pkt_l4_csum(family, src, dst, PKT_NH_UDP, udp, len);
		if ((want ? want : 0xffff) != have) {
			snprintf(why, n, "GUE UDP checksum %04x, should be %04x or 0", have, want);
			return false;
		}
	}
	return verify_l3(udp + 8, len - 8, inner_family(udp + 8, len - 8), gue, why, n, depth + 1);
}

/* The IPv4 header an ICMP error quotes carries its own checksum. */
static bool verify_quote4(const uint8_t *icmp, size_t len, char *why, size_t n)
{
	const uint8_t *q = icmp + 8;
	size_t hl;

	if (len < 8 + 20 || (icmp[0] != 3 && icmp[0] != 11 && icmp[0] != 12) || q[0] >> 4 != 4)
		return true;
	hl = (q[0] & 0x0f) * 4;
	if (hl < 20 || 8 + hl > len)
		return true;
	if (pkt_get16(q + 10) != pkt_ipv4_csum(q, hl)) {
		snprintf(why, n, "quoted IPv4 header checksum %04x, should be %04x",
			 pkt_get16(q + 10), pkt_ipv4_csum(q, hl));
		return false;
	}
	return true;
}

static bool verify_v4(const uint8_t *l3, size_t len, uint16_t gue, char *why, size_t n, int depth)
{
	size_t hl, tot;
	const uint8_t *pl;

	if (len < 20)
		return fail(why, n, "IPv4 header truncated");
	hl = (l3[0] & 0x0f) * 4;
	tot = pkt_get16(l3 + 2);
	if (hl < 20 || tot < hl || tot > len)
		return fail(why, n, "IPv4 lengths inconsistent");
	if (pkt_get16(l3 + 10) != pkt_ipv4_csum(l3, hl)) {
		snprintf(why, n, "IPv4 header checksum %04x, should be %04x", pkt_get16(l3 + 10),
			 pkt_ipv4_csum(l3, hl));
		return false;
	}
	pl = l3 + hl;
	if (pkt_get16(l3 + 6) & 0x3fff)
		return true;
	if (l3[9] == PKT_NH_IPIP || l3[9] == PKT_NH_IPV6)
		return verify_l3(pl, tot - hl, l3[9] == PKT_NH_IPIP ? 4 : 6, gue, why, n, depth + 1);
	if (l3[9] == PKT_NH_UDP && gue && tot - hl >= 8 && pkt_get16(pl + 2) == gue)
		return verify_gue(pl, tot - hl, 4, l3, gue, why, n, depth);
	if (l3[9] == PKT_NH_ICMP && !verify_quote4(pl, tot - hl, why, n))
		return false;
	return verify_plain(l3, tot, 4, why, n);
}

static bool verify_v6(const uint8_t *l3, size_t len, uint16_t gue, char *why, size_t n, int depth)
{
	size_t plen;
	const uint8_t *pl = l3 + 40;

	if (len < 40)
		return fail(why, n, "IPv6 header truncated");
	plen = pkt_get16(l3 + 4);
	if (40 + plen > len)
		return fail(why, n, "IPv6 payload length beyond the frame");
	if (l3[6] == PKT_NH_IPIP || l3[6] == PKT_NH_IPV6)
		return verify_l3(pl, plen, l3[6] == PKT_NH_IPIP ? 4 : 6, gue, why, n, depth + 1);
	if (l3[6] == PKT_NH_UDP && gue && plen >= 8 && pkt_get16(pl + 2) == gue)
		return verify_gue(pl, plen, 6, l3, gue, why, n, depth);
	return verify_plain(l3, 40 + plen, 6, why, n);
}

static bool verify_l3(const uint8_t *l3, size_t len, int family, uint16_t gue, char *why,
		      size_t n, int depth)
{
	if (depth > MAX_DEPTH)
		return fail(why, n, "tunnels nested too deep");
	if (family == 4)
		return verify_v4(l3, len, gue, why, n, depth);
	if (family == 6)
		return verify_v6(l3, len, gue, why, n, depth);
	return fail(why, n, "inner packet is neither IPv4 nor IPv6");
}

bool pkt_verify_deep(const uint8_t *frame, size_t len, uint16_t gue_port, char *why, size_t n)
{
	size_t off = 12;
	uint16_t type;

	if (len < 14)
		return fail(why, n, "Ethernet header truncated");
	type = pkt_get16(frame + off);
	if (type == PKT_ETH_P_8021Q) {
		off += 4;
		if (off + 2 > len)
			return fail(why, n, "VLAN tag truncated");
		type = pkt_get16(frame + off);
	}
	off += 2;
	if (type == PKT_ETH_P_IP)
		return verify_l3(frame + off, len - off, 4, gue_port, why, n, 0);
	if (type == PKT_ETH_P_IPV6)
		return verify_l3(frame + off, len - off, 6, gue_port, why, n, 0);
	return pkt_verify_csums(frame, len, why, n);
}
