/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Packet builder for the datapath tests. A packet is described by a
 * struct pkt_spec and built from scratch, every checksum computed over the
 * whole header / pseudo-header + segment (RFC 1071). Expected output
 * packets are built the same way from an edited copy of the input's spec,
 * so they never borrow a byte (least of all a checksum) from the program's
 * output.
 */
#ifndef XLB_TESTS_PKT_H
#define XLB_TESTS_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PKT_MAX 2048

#define PKT_ETH_HLEN 14
#define PKT_VLAN_HLEN 4

#define PKT_ETH_P_IP 0x0800
#define PKT_ETH_P_ARP 0x0806
#define PKT_ETH_P_8021Q 0x8100
#define PKT_ETH_P_8021AD 0x88a8
#define PKT_ETH_P_IPV6 0x86dd
#define PKT_ETH_P_LLDP 0x88cc

/* IPv4 frag_off field, host order. */
#define PKT_IP_DF 0x4000
#define PKT_IP_MF 0x2000

#define PKT_TCP_FIN 0x01
#define PKT_TCP_SYN 0x02
#define PKT_TCP_RST 0x04
#define PKT_TCP_PSH 0x08
#define PKT_TCP_ACK 0x10

/* Next-header values the builder knows how to lay out. */
#define PKT_NH_HOP 0
#define PKT_NH_ICMP 1
#define PKT_NH_TCP 6
#define PKT_NH_UDP 17
#define PKT_NH_ROUTING 43
#define PKT_NH_FRAGMENT 44
#define PKT_NH_ESP 50
#define PKT_NH_AH 51
#define PKT_NH_ICMPV6 58
#define PKT_NH_NONE 59
#define PKT_NH_DSTOPTS 60

#define PKT_MAX_EXT 8

/* One IPv6 extension header. */
struct pkt_ext {
	uint8_t type; /* PKT_NH_HOP, _ROUTING, _FRAGMENT, _AH, _DSTOPTS */
	/* Bytes on the wire: a multiple of 8 (hop, routing, dstopts), a
	 * multiple of 4 >= 12 (AH); ignored for fragment (always 8). */
	uint16_t len;
	uint16_t frag; /* fragment: offset in 8-byte units << 3 | M bit */
};

struct pkt_spec {
	uint8_t eth_dst[6];
	uint8_t eth_src[6];
	/* Up to two tags: outer with vlan_proto (0 = untagged), inner with
	 * vlan2_proto (0 = none). */
	uint16_t vlan_proto, vlan_tci;
	uint16_t vlan2_proto, vlan2_tci;
	/* 0: derived from family. With family 0 the frame is Ethernet +
	 * ethertype + payload, nothing else. */
	uint16_t ethertype;

	int family; /* 4, 6 or 0 (raw L2 payload) */
	uint8_t src[16], dst[16]; /* IPv4 in the first 4 bytes */
	uint8_t ttl; /* IPv4 TTL or IPv6 hop limit */
	uint8_t tos; /* IPv4 TOS or IPv6 traffic class */
	uint16_t ip_id;
	uint16_t frag_off; /* IPv4 flags + offset, host order */
	uint32_t flow_label;
	uint8_t ip_opts[40]; /* IPv4 options, a multiple of 4 bytes */
	uint8_t ip_opts_len;
	struct pkt_ext ext[PKT_MAX_EXT];
	int n_ext;

	uint8_t proto; /* L4 or final next header */
	uint16_t sport, dport; /* host order */
	uint32_t seq, ack_seq;
	uint8_t tcp_flags;
	uint16_t window;
	uint8_t tcp_opts[40]; /* a multiple of 4 bytes */
	uint8_t tcp_opts_len;
	bool udp_csum_zero; /* transmit UDP checksum 0 ("none") */
	uint8_t icmp_type, icmp_code;
	uint16_t icmp_id, icmp_seq; /* echo; bytes 4-7 of any other type */

	const uint8_t *payload;
	size_t payload_len;
};

struct pkt {
	uint8_t data[PKT_MAX];
	size_t len;
	size_t l3_off; /* IP header, or the payload for family 0 */
	size_t l4_off; /* after every extension header */
};

/* Build the frame described by s into p. Returns 0 or -1 if it won't fit. */
int pkt_build(struct pkt *p, const struct pkt_spec *s);

/* Fill a spec with sensible defaults for one TCP or UDP datagram. */
void pkt_spec_l4(struct pkt_spec *s, int family, uint8_t proto,
		 const uint8_t *src, uint16_t sport, const uint8_t *dst,
		 uint16_t dport);

/* ---- checksums (RFC 1071), independent of anything under test ---- */

/* Add data to a running 32-bit one's complement accumulator, as big-endian
 * 16-bit words; an odd trailing byte is padded with zero. */
uint64_t pkt_csum_add(uint64_t sum, const void *data, size_t len);
/* Fold and complement: the value that goes into a header, host order. */
uint16_t pkt_csum_fold(uint64_t sum);
/* IPv4 header checksum over hlen bytes (the checksum field counted as 0). */
uint16_t pkt_ipv4_csum(const uint8_t *iph, size_t hlen);

/* The fields of an IPv4 header that differ between test packets. */
struct pkt_ipv4_fields {
	uint8_t tos, ttl, proto;
	uint16_t id, frag_off; /* host order; frag_off: flags + offset */
	const uint8_t *src, *dst; /* 4 bytes each */
	const uint8_t *opts; /* opts_len bytes, a multiple of 4 */
	uint8_t opts_len;
};

/* Writes an IPv4 header (options and checksum included) for payload_len
 * bytes after it at b; returns its length. */
size_t pkt_put_ipv4(uint8_t *b, const struct pkt_ipv4_fields *f, size_t payload_len);
/* TCP/UDP/ICMPv6 checksum over pseudo-header + segment (checksum field
 * counted as 0). family 4 or 6. */
uint16_t pkt_l4_csum(int family, const uint8_t *src, const uint8_t *dst,
		     uint8_t proto, const uint8_t *seg, size_t len);

/* Recompute the IPv4 header checksum in place (after a test edited the
 * header on purpose). */
void pkt_fix_ipv4_csum(struct pkt *p);

/*
 * Parse a frame and verify every checksum it carries (IPv4 header, TCP,
 * UDP, ICMP, ICMPv6). Returns true if all are right; otherwise false with
 * the reason in why. Used as a second, independent opinion on a program's
 * output before it is even compared.
 */
bool pkt_verify_csums(const uint8_t *data, size_t len, char *why,
		      size_t why_len);

/* ---- byte access ---- */

static inline uint16_t pkt_get16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static inline void pkt_put16(uint8_t *b, uint16_t v)
{
	b[0] = v >> 8;
	b[1] = v & 0xff;
}

/* ---- comparison ---- */

/*
 * One-line summary of how got differs from exp ("len 54 vs 60; 3 bytes
 * differ: @22 exp 3f got 40, ..."), written to buf. Returns the number of
 * differing bytes (a length difference counts as one).
 */
int pkt_diff_summary(char *buf, size_t n, const uint8_t *exp, size_t elen,
		     const uint8_t *got, size_t glen);
/* Side-by-side hexdump of a (labelled la) and b (lb), 16 bytes a row,
 * differing rows marked with '!', each line starting with prefix. */
void pkt_hexdiff(FILE *f, const char *prefix, const char *la,
		 const uint8_t *a, size_t alen, const char *lb,
		 const uint8_t *b, size_t blen);

#endif /* XLB_TESTS_PKT_H */
