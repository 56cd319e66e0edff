// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Packet builder and checksums for the datapath tests. Deliberately
 * shares no code with the datapath: a bug in the program's checksum update
 * must not be mirrored here.
 */
#include <stdio.h>
#include <string.h>

#include "pkt.h"

/* ---- checksums ------------------------------------------------------ */

uint64_t pkt_csum_add(uint64_t sum, const void *data, size_t len)
{
	const uint8_t *b = data;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		sum += (uint32_t)(b[len - 1] << 8);
	return sum;
}

uint16_t pkt_csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint16_t pkt_ipv4_csum(const uint8_t *iph, size_t hlen)
{
	uint64_t sum = 0;

	/* Sum around the checksum field (bytes 10-11) so a stale value in
	 * the buffer cannot leak into the result. */
	sum = pkt_csum_add(sum, iph, 10);
	sum = pkt_csum_add(sum, iph + 12, hlen - 12);
	return pkt_csum_fold(sum);
}

static uint64_t pseudo_sum(int family, const uint8_t *src, const uint8_t *dst,
			   uint8_t proto, size_t len)
{
	uint8_t w[8];
	uint64_t sum = 0;
	size_t alen = family == 4 ? 4 : 16;

	sum = pkt_csum_add(sum, src, alen);
	sum = pkt_csum_add(sum, dst, alen);
	/* IPv4: zero, proto, 16-bit length; IPv6: 32-bit length, 3 zero
	 * bytes, next header. Both sum to length + proto. */
	w[0] = 0;
	w[1] = 0;
	w[2] = (len >> 8) & 0xff;
	w[3] = len & 0xff;
	w[4] = 0;
	w[5] = 0;
	w[6] = 0;
	w[7] = proto;
	if (family == 6) {
		w[0] = (len >> 24) & 0xff;
		w[1] = (len >> 16) & 0xff;
	}
	return pkt_csum_add(sum, w, sizeof(w));
}

/* Offset of the checksum field inside an L4 header, or -1 if none. */
static int l4_csum_off(uint8_t proto)
{
	switch (proto) {
	case PKT_NH_TCP:
		return 16;
	case PKT_NH_UDP:
		return 6;
	case PKT_NH_ICMP:
	case PKT_NH_ICMPV6:
		return 2;
	default:
		return -1;
	}
}

uint16_t pkt_l4_csum(int family, const uint8_t *src, const uint8_t *dst,
		     uint8_t proto, const uint8_t *seg, size_t len)
{
	int coff = l4_csum_off(proto);
	uint64_t sum = 0;

	/* ICMPv4 has no pseudo-header; ICMPv6, TCP and UDP have. */
	if (proto != PKT_NH_ICMP)
		sum = pseudo_sum(family, src, dst, proto, len);
	if (coff < 0 || (size_t)coff + 2 > len)
		return pkt_csum_fold(pkt_csum_add(sum, seg, len));
	sum = pkt_csum_add(sum, seg, coff);
	sum = pkt_csum_add(sum, seg + coff + 2, len - coff - 2);
	return pkt_csum_fold(sum);
}

void pkt_fix_ipv4_csum(struct pkt *p)
{
	uint8_t *iph = p->data + p->l3_off;
	size_t hlen = (iph[0] & 0x0f) * 4;

	if (hlen < 20)
		hlen = 20;
	pkt_put16(iph + 10, pkt_ipv4_csum(iph, hlen));
}

/* ---- building -------------------------------------------------------- */

void pkt_spec_l4(struct pkt_spec *s, int family, uint8_t proto,
		 const uint8_t *src, uint16_t sport, const uint8_t *dst,
		 uint16_t dport)
{
	memset(s, 0, sizeof(*s));
	s->family = family;
	memcpy(s->src, src, family == 4 ? 4 : 16);
	memcpy(s->dst, dst, family == 4 ? 4 : 16);
	s->ttl = 64;
	s->ip_id = 0x4d2e;
	/* DF as real TCP stacks send it: it must not look like a fragment. */
	s->frag_off = PKT_IP_DF;
	s->flow_label = 0x5a5a5;
	s->proto = proto;
	s->sport = sport;
	s->dport = dport;
	s->seq = 0x01020304;
	s->window = 64240;
}

static size_t l4_len(const struct pkt_spec *s)
{
	switch (s->proto) {
	case PKT_NH_TCP:
		return 20 + s->tcp_opts_len + s->payload_len;
	case PKT_NH_UDP:
	case PKT_NH_ICMP:
	case PKT_NH_ICMPV6:
		return 8 + s->payload_len;
	default:
		return s->payload_len;
	}
}

static size_t ext_len(const struct pkt_ext *e)
{
	return e->type == PKT_NH_FRAGMENT ? 8 : e->len;
}

static size_t put_eth(uint8_t *b, const struct pkt_spec *s)
{
	uint16_t type = s->ethertype;
	size_t off = 12;

	if (!type)
		type = s->family == 6 ? PKT_ETH_P_IPV6 : PKT_ETH_P_IP;
	memcpy(b, s->eth_dst, 6);
	memcpy(b + 6, s->eth_src, 6);
	if (s->vlan_proto) {
		pkt_put16(b + off, s->vlan_proto);
		pkt_put16(b + off + 2, s->vlan_tci);
		off += 4;
	}
	if (s->vlan2_proto) {
		pkt_put16(b + off, s->vlan2_proto);
		pkt_put16(b + off + 2, s->vlan2_tci);
		off += 4;
	}
	pkt_put16(b + off, type);
	return off + 2;
}

size_t pkt_put_ipv4(uint8_t *b, const struct pkt_ipv4_fields *f, size_t payload_len)
{
	size_t hl = 20 + f->opts_len;

	b[0] = 0x40 | (uint8_t)(hl / 4);
	b[1] = f->tos;
	pkt_put16(b + 2, (uint16_t)(hl + payload_len));
	pkt_put16(b + 4, f->id);
	pkt_put16(b + 6, f->frag_off);
	b[8] = f->ttl;
	b[9] = f->proto;
	pkt_put16(b + 10, 0);
	memcpy(b + 12, f->src, 4);
	memcpy(b + 16, f->dst, 4);
	memcpy(b + 20, f->opts, f->opts_len);
	pkt_put16(b + 10, pkt_ipv4_csum(b, hl));
	return hl;
}

static size_t put_ipv4(uint8_t *b, const struct pkt_spec *s, size_t l4len)
{
	const struct pkt_ipv4_fields f = { .tos = s->tos, .ttl = s->ttl, .proto = s->proto,
					   .id = s->ip_id, .frag_off = s->frag_off,
					   .src = s->src, .dst = s->dst, .opts = s->ip_opts,
					   .opts_len = s->ip_opts_len };

	return pkt_put_ipv4(b, &f, l4len);
}

/* Options area of hop-by-hop/destination options: one experimental
 * option (RFC 4727, "skip if unknown") with patterned data, so a datapath
 * that rewrote or shifted option bytes would be caught. */
static void put_tlv_opts(uint8_t *b, size_t n)
{
	size_t i;

	if (n == 1) {
		b[0] = 0; /* Pad1 */
		return;
	}
	b[0] = 0x1e;
	b[1] = (uint8_t)(n - 2);
	for (i = 2; i < n; i++)
		b[i] = (uint8_t)(0xa0 + i);
}

static size_t put_ext(uint8_t *b, const struct pkt_ext *e, uint8_t next)
{
	size_t len = ext_len(e), i;

	memset(b, 0, len);
	b[0] = next;
	switch (e->type) {
	case PKT_NH_FRAGMENT:
		pkt_put16(b + 2, e->frag);
		b[4] = 0x11;
		b[5] = 0x22;
		b[6] = 0x33;
		b[7] = 0x44;
		break;
	case PKT_NH_AH:
		b[1] = (uint8_t)(len / 4 - 2);
		b[7] = 1; /* SPI 0x00000001 */
		b[11] = 1; /* sequence 1 */
		for (i = 12; i < len; i++)
			b[i] = (uint8_t)(0x50 + i); /* ICV */
		break;
	case PKT_NH_ROUTING:
		b[1] = (uint8_t)(len / 8 - 1);
		b[2] = 253; /* experimental routing type (RFC 4727) */
		b[3] = 0; /* segments left: nothing to route */
		for (i = 8; i < len; i++)
			b[i] = (uint8_t)(0x70 + i);
		break;
	default: /* hop-by-hop, destination options */
		b[1] = (uint8_t)(len / 8 - 1);
		put_tlv_opts(b + 2, len - 2);
		break;
	}
	return len;
}

static size_t put_ipv6(uint8_t *b, const struct pkt_spec *s, size_t l4len)
{
	uint32_t w0 = 6u << 28 | (uint32_t)s->tos << 20 | (s->flow_label & 0xfffff);
	size_t off = 40, exts = 0;
	int i;

	for (i = 0; i < s->n_ext; i++)
		exts += ext_len(&s->ext[i]);
	b[0] = w0 >> 24;
	b[1] = (w0 >> 16) & 0xff;
	b[2] = (w0 >> 8) & 0xff;
	b[3] = w0 & 0xff;
	pkt_put16(b + 4, (uint16_t)(exts + l4len));
	b[6] = s->n_ext ? s->ext[0].type : s->proto;
	b[7] = s->ttl;
	memcpy(b + 8, s->src, 16);
	memcpy(b + 24, s->dst, 16);
	for (i = 0; i < s->n_ext; i++) {
		uint8_t next = i + 1 < s->n_ext ? s->ext[i + 1].type : s->proto;

		off += put_ext(b + off, &s->ext[i], next);
	}
	return off;
}

static void put_tcp(uint8_t *b, const struct pkt_spec *s)
{
	size_t hl = 20 + s->tcp_opts_len;

	pkt_put16(b, s->sport);
	pkt_put16(b + 2, s->dport);
	b[4] = s->seq >> 24;
	b[5] = (s->seq >> 16) & 0xff;
	b[6] = (s->seq >> 8) & 0xff;
	b[7] = s->seq & 0xff;
	b[8] = s->ack_seq >> 24;
	b[9] = (s->ack_seq >> 16) & 0xff;
	b[10] = (s->ack_seq >> 8) & 0xff;
	b[11] = s->ack_seq & 0xff;
	b[12] = (uint8_t)(hl / 4) << 4;
	b[13] = s->tcp_flags;
	pkt_put16(b + 14, s->window);
	memcpy(b + 20, s->tcp_opts, s->tcp_opts_len);
	memcpy(b + hl, s->payload, s->payload_len);
}

static void put_udp(uint8_t *b, const struct pkt_spec *s)
{
	pkt_put16(b, s->sport);
	pkt_put16(b + 2, s->dport);
	pkt_put16(b + 4, (uint16_t)(8 + s->payload_len));
	memcpy(b + 8, s->payload, s->payload_len);
}

static void put_icmp(uint8_t *b, const struct pkt_spec *s)
{
	b[0] = s->icmp_type;
	b[1] = s->icmp_code;
	pkt_put16(b + 4, s->icmp_id);
	pkt_put16(b + 6, s->icmp_seq);
	memcpy(b + 8, s->payload, s->payload_len);
}

/* Lay out the L4 header and payload and fill in its checksum. */
static void put_l4(uint8_t *b, const struct pkt_spec *s, size_t len)
{
	int coff = l4_csum_off(s->proto);
	uint16_t csum;

	memset(b, 0, len);
	switch (s->proto) {
	case PKT_NH_TCP:
		put_tcp(b, s);
		break;
	case PKT_NH_UDP:
		put_udp(b, s);
		break;
	case PKT_NH_ICMP:
	case PKT_NH_ICMPV6:
		put_icmp(b, s);
		break;
	default:
		memcpy(b, s->payload, s->payload_len);
		return;
	}
	csum = pkt_l4_csum(s->family, s->src, s->dst, s->proto, b, len);
	if (s->proto == PKT_NH_UDP) {
		/* A computed 0 is sent as all ones: 0 means "no checksum". */
		if (!csum)
			csum = 0xffff;
		if (s->udp_csum_zero)
			csum = 0;
	}
	pkt_put16(b + coff, csum);
}

int pkt_build(struct pkt *p, const struct pkt_spec *s)
{
	size_t l4len = l4_len(s), need = 14 + 8 + 60 + l4len;
	int i;

	for (i = 0; i < s->n_ext; i++)
		need += ext_len(&s->ext[i]);
	if (need > PKT_MAX || s->n_ext > PKT_MAX_EXT || s->ip_opts_len > 40 ||
	    s->ip_opts_len % 4 || s->tcp_opts_len % 4)
		return -1;
	memset(p, 0, sizeof(*p));
	p->l3_off = put_eth(p->data, s);
	if (s->family == 0) {
		memcpy(p->data + p->l3_off, s->payload, s->payload_len);
		p->l4_off = p->l3_off;
		p->len = p->l3_off + s->payload_len;
		return 0;
	}
	if (s->family == 4)
		p->l4_off = p->l3_off + put_ipv4(p->data + p->l3_off, s, l4len);
	else
		p->l4_off = p->l3_off + put_ipv6(p->data + p->l3_off, s, l4len);
	put_l4(p->data + p->l4_off, s, l4len);
	p->len = p->l4_off + l4len;
	return 0;
}

/* ---- verification ---------------------------------------------------- */

static bool fail(char *why, size_t n, const char *msg)
{
	snprintf(why, n, "%s", msg);
	return false;
}

static bool verify_l4(int family, const uint8_t *src, const uint8_t *dst,
		      uint8_t proto, const uint8_t *seg, size_t len, char *why,
		      size_t n)
{
	int coff = l4_csum_off(proto);
	uint16_t want, have;

	if (coff < 0)
		return true;
	if ((size_t)coff + 2 > len)
		return fail(why, n, "L4 header truncated");
	have = pkt_get16(seg + coff);
	if (proto == PKT_NH_UDP && family == 4 && have == 0)
		return true;
	want = pkt_l4_csum(family, src, dst, proto, seg, len);
	if (proto == PKT_NH_UDP && want == 0)
		want = 0xffff;
	if (want != have) {
		snprintf(why, n, "L4 (proto %u) checksum %04x, should be %04x",
			 proto, have, want);
		return false;
	}
	return true;
}

static bool verify_ipv4(const uint8_t *b, size_t len, char *why, size_t n)
{
	size_t hl, tot;
	uint16_t want;

	if (len < 20)
		return fail(why, n, "IPv4 header truncated");
	hl = (b[0] & 0x0f) * 4;
	tot = pkt_get16(b + 2);
	if (hl < 20 || hl > len || tot < hl || tot > len)
		return fail(why, n, "IPv4 lengths inconsistent");
	want = pkt_ipv4_csum(b, hl);
	if (pkt_get16(b + 10) != want) {
		snprintf(why, n, "IPv4 header checksum %04x, should be %04x",
			 pkt_get16(b + 10), want);
		return false;
	}
	if (pkt_get16(b + 6) & 0x3fff) /* a fragment: no whole L4 to check */
		return true;
	return verify_l4(4, b + 12, b + 16, b[9], b + hl, tot - hl, why, n);
}

static bool verify_ipv6(const uint8_t *b, size_t len, char *why, size_t n)
{
	size_t off = 40, end;
	uint8_t nh;
	int i;

	if (len < 40)
		return fail(why, n, "IPv6 header truncated");
	end = 40 + (size_t)pkt_get16(b + 4);
	if (end > len)
		return fail(why, n, "IPv6 payload length beyond the frame");
	nh = b[6];
	for (i = 0; i < PKT_MAX_EXT; i++) {
		size_t elen;

		if (nh == PKT_NH_FRAGMENT)
			return true;
		if (nh != PKT_NH_HOP && nh != PKT_NH_ROUTING &&
		    nh != PKT_NH_DSTOPTS && nh != PKT_NH_AH)
			break;
		if (off + 2 > end)
			return fail(why, n, "IPv6 extension header truncated");
		elen = nh == PKT_NH_AH ? ((size_t)b[off + 1] + 2) * 4 :
					 ((size_t)b[off + 1] + 1) * 8;
		nh = b[off];
		off += elen;
		if (off > end)
			return fail(why, n, "IPv6 extension header truncated");
	}
	return verify_l4(6, b + 8, b + 24, nh, b + off, end - off, why, n);
}

bool pkt_verify_csums(const uint8_t *data, size_t len, char *why,
		      size_t why_len)
{
	size_t off = 12;
	uint16_t type;
	int tags;

	if (len < 14)
		return fail(why, why_len, "Ethernet header truncated");
	type = pkt_get16(data + off);
	for (tags = 0; tags < 2 && (type == PKT_ETH_P_8021Q ||
				    type == PKT_ETH_P_8021AD); tags++) {
		off += 4;
		if (off + 2 > len)
			return fail(why, why_len, "VLAN tag truncated");
		type = pkt_get16(data + off);
	}
	off += 2;
	if (type == PKT_ETH_P_IP)
		return verify_ipv4(data + off, len - off, why, why_len);
	if (type == PKT_ETH_P_IPV6)
		return verify_ipv6(data + off, len - off, why, why_len);
	return true;
}

/* ---- comparison ------------------------------------------------------ */

int pkt_diff_summary(char *buf, size_t n, const uint8_t *exp, size_t elen,
		     const uint8_t *got, size_t glen)
{
	size_t i, common = elen < glen ? elen : glen, used = 0;
	int ndiff = 0, shown = 0;

	buf[0] = 0;
	if (elen != glen) {
		used += snprintf(buf + used, n - used, "len exp %zu got %zu; ",
				 elen, glen);
		ndiff++;
	}
	for (i = 0; i < common; i++) {
		if (exp[i] == got[i])
			continue;
		ndiff++;
		if (shown++ < 12 && used < n)
			used += snprintf(buf + used, n - used,
					 "@%zu exp %02x got %02x, ", i, exp[i],
					 got[i]);
	}
	if (used < n && shown > 12)
		snprintf(buf + used, n - used, "... (%d bytes differ)", shown);
	return ndiff;
}

static void hex_row(char *out, const uint8_t *b, size_t len, size_t row)
{
	size_t i;

	for (i = 0; i < 16; i++) {
		size_t at = row + i;

		if (at < len)
			sprintf(out + i * 3, "%02x ", b[at]);
		else
			sprintf(out + i * 3, "   ");
	}
}

void pkt_hexdiff(FILE *f, const char *prefix, const char *la,
		 const uint8_t *a, size_t alen, const char *lb,
		 const uint8_t *b, size_t blen)
{
	size_t max = alen > blen ? alen : blen, row, i;
	char ha[64], hb[64];

	fprintf(f, "%s      %-48s | %s\n", prefix, la, lb);
	for (row = 0; row < max; row += 16) {
		bool same = true;

		for (i = row; i < row + 16 && i < max; i++)
			if (i >= alen || i >= blen || a[i] != b[i])
				same = false;
		hex_row(ha, a, alen, row);
		hex_row(hb, b, blen, row);
		fprintf(f, "%s%c%04zx %s| %s\n", prefix, same ? ' ' : '!', row,
			ha, hb);
	}
}
