// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Addresses, endpoints and reason names: the text forms that xlbctl prints,
 * xlbd logs and the statement parser reads (the statement keywords are in
 * keywords.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "libxlb.h"

static const char *const reason_names[] = XLB_REASON_NAMES;

/* A reason added to the enum without a name would shift every later name. */
_Static_assert(sizeof(reason_names) / sizeof(reason_names[0]) == XLB_R_MAX,
	       "XLB_REASON_NAMES must name every enum xlb_reason");

/* Both families share one text buffer size: the longest IPv6 text. */
#define ADDR_TEXT_MAX INET6_ADDRSTRLEN

int xlb_addr_parse(const char *s, struct xlb_addr *addr, __u8 *family)
{
	size_t len = strnlen(s, ADDR_TEXT_MAX);

	memset(addr, 0, sizeof(*addr));
	*family = XLB_FAMILY_NONE;
	if (len == 0)
		return xlb_fail(EINVAL, "empty address");
	if (len >= ADDR_TEXT_MAX)
		return xlb_fail(EINVAL, "bad address '%.*s...' (too long)",
				ADDR_TEXT_MAX, s);
	/* Scoped (link-local) addresses cannot be balanced to: a VIP or a
	 * backend is reached by routing, never through one interface. */
	if (strchr(s, '%'))
		return xlb_fail(EINVAL, "zone id not allowed in '%s'", s);
	if (strchr(s, ':')) {
		if (inet_pton(AF_INET6, s, addr->bytes) != 1)
			return xlb_fail(EINVAL, "bad address '%s'", s);
		*family = XLB_FAMILY_V6;
		return 0;
	}
	if (inet_pton(AF_INET, s, &addr->v4) != 1)
		return xlb_fail(EINVAL, "bad address '%s'", s);
	*family = XLB_FAMILY_V4;
	return 0;
}

const char *xlb_addr_str(const struct xlb_addr *addr, __u8 family, char *buf, size_t len)
{
	int af = family == XLB_FAMILY_V4 ? AF_INET : AF_INET6;

	if (!len)
		return buf;
	if ((family != XLB_FAMILY_V4 && family != XLB_FAMILY_V6) ||
	    !inet_ntop(af, addr->bytes, buf, len))
		snprintf(buf, len, "?");
	return buf;
}

static const char *proto_name(__u8 proto, char *buf, size_t len)
{
	if (proto == IPPROTO_TCP)
		return "tcp";
	if (proto == IPPROTO_UDP)
		return "udp";
	snprintf(buf, len, "proto%u", proto);
	return buf;
}

/* Port 0 (a backend that takes the VIP's port) prints as the bare address,
 * brackets kept for IPv6, so the text parses back to the same endpoint. */
static const char *hostport_str(const struct xlb_addr *addr, __u8 family,
				__be16 port, char *buf, size_t len)
{
	char a[ADDR_TEXT_MAX];
	const char *lb = family == XLB_FAMILY_V6 ? "[" : "";
	const char *rb = family == XLB_FAMILY_V6 ? "]" : "";

	xlb_addr_str(addr, family, a, sizeof(a));
	if (port)
		snprintf(buf, len, "%s%s%s:%u", lb, a, rb, ntohs(port));
	else
		snprintf(buf, len, "%s%s%s", lb, a, rb);
	return buf;
}

const char *xlb_vip_key_str(const struct xlb_vip_key *key, char *buf, size_t len)
{
	char pbuf[16], ep[ADDR_TEXT_MAX + 8];

	hostport_str(&key->addr, key->family, key->port, ep, sizeof(ep));
	snprintf(buf, len, "%s/%s", proto_name(key->proto, pbuf, sizeof(pbuf)), ep);
	return buf;
}

const char *xlb_endpoint_str(const struct xlb_endpoint *ep, char *buf, size_t len)
{
	return hostport_str(&ep->addr, ep->family, ep->port, buf, len);
}

void xlb_vip_key_make(struct xlb_vip_key *key, __u8 proto, __u8 family,
		      const struct xlb_addr *addr, uint16_t port)
{
	memset(key, 0, sizeof(*key));
	/* Lookups compare all 16 bytes: an IPv4 key must not carry whatever
	 * the caller left behind the first word. */
	if (family == XLB_FAMILY_V4)
		key->addr.v4 = addr->v4;
	else
		key->addr = *addr;
	key->port = htons(port);
	key->proto = proto;
	key->family = family;
}

const char *xlb_reason_name(enum xlb_reason r)
{
	return (unsigned int)r < XLB_R_MAX ? reason_names[r] : "unknown";
}
