// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Interface addresses over rtnetlink (dump, add, delete), through libxlb's
 * libmnl requests (nl.h) as xlbd makes its own. The kernel's errno comes
 * back unchanged for precise error messages.
 */
#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>

#include "backend.h"
#include "nl.h"

static size_t addr_len(__u8 family)
{
	return family == XLB_FAMILY_V4 ? 4 : 16;
}

/* One request on a socket of its own: xlb-backend makes a handful. */
static int talk_once(struct nlmsghdr *nh, nl_parse_fn parse, void *data, bool dump)
{
	struct nl_conn c = { 0 };
	int err = nl_conn_open(&c, false);

	if (err)
		return xlb_fail(-err, "opening a netlink socket failed: %s", strerror(-err));
	err = dump ? nl_dump(&c, nh, parse, data) : nl_talk(&c, nh, parse, data);
	nl_conn_close(&c);
	return err;
}

static int addr_change(uint16_t type, uint16_t flags, int ifindex, const struct be_vip *v)
{
	alignas(struct nlmsghdr) char buf[NL_REQUEST_MAX];
	struct nlmsghdr *nh = nl_request(buf, type, NLM_F_ACK | flags);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nh, sizeof(*ifa));
	size_t alen = addr_len(v->family);

	ifa->ifa_family = v->family == XLB_FAMILY_V4 ? AF_INET : AF_INET6;
	ifa->ifa_prefixlen = alen * 8;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = ifindex;
	mnl_attr_put(nh, IFA_LOCAL, alen, v->addr.bytes);
	mnl_attr_put(nh, IFA_ADDRESS, alen, v->addr.bytes);
	if (type == RTM_NEWADDR && v->family == XLB_FAMILY_V6)
		mnl_attr_put_u32(nh, IFA_FLAGS, IFA_F_NODAD);
	return talk_once(nh, NULL, NULL, false);
}

int nl_addr_add(int ifindex, const struct be_vip *v)
{
	return addr_change(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, ifindex, v);
}

int nl_addr_del(int ifindex, const struct be_vip *v)
{
	return addr_change(RTM_DELADDR, 0, ifindex, v);
}

struct addr_list {
	struct be_ifaddr *a;
	size_t n, cap;
};

/* One address message as it is read. */
struct addr_parse {
	struct be_ifaddr a;
	bool have;
};

/* IPv4 keeps the local address in IFA_LOCAL (IFA_ADDRESS is the peer on
 * point-to-point links); IPv6 only sends IFA_ADDRESS unless it is a peer. */
static int addr_attr(const struct nlattr *at, void *data)
{
	struct addr_parse *p = data;
	size_t alen = addr_len(p->a.family);
	uint16_t type = mnl_attr_get_type(at);

	if (mnl_attr_get_payload_len(at) < alen)
		return MNL_CB_OK;
	if (type == IFA_LOCAL || (type == IFA_ADDRESS && !p->have)) {
		memcpy(p->a.addr.bytes, mnl_attr_get_payload(at), alen);
		p->have = true;
	}
	return MNL_CB_OK;
}

static int list_push(struct addr_list *l, const struct be_ifaddr *a)
{
	struct be_ifaddr *p;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		p = realloc(l->a, l->cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		l->a = p;
	}
	l->a[l->n++] = *a;
	return 0;
}

static int on_addr(const struct nlmsghdr *nh, void *data)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nh);
	struct addr_parse p = { 0 };

	if (nh->nlmsg_type != RTM_NEWADDR || mnl_nlmsg_get_payload_len(nh) < sizeof(*ifa))
		return 0;
	if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
		return 0;
	p.a.ifindex = ifa->ifa_index;
	p.a.family = ifa->ifa_family == AF_INET ? XLB_FAMILY_V4 : XLB_FAMILY_V6;
	p.a.prefixlen = ifa->ifa_prefixlen;
	mnl_attr_parse(nh, sizeof(*ifa), addr_attr, &p);
	return p.have ? list_push(data, &p.a) : 0;
}

int nl_addr_list(struct be_ifaddr **out, size_t *n)
{
	alignas(struct nlmsghdr) char buf[NL_REQUEST_MAX];
	struct nlmsghdr *nh = nl_request(buf, RTM_GETADDR, 0);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nh, sizeof(*ifa));
	struct addr_list l = { 0 };
	int err;

	ifa->ifa_family = AF_UNSPEC;
	err = talk_once(nh, on_addr, &l, true);
	if (err) {
		free(l.a);
		*out = NULL;
		*n = 0;
		return xlb_fail(-err, "listing addresses failed: %s", strerror(-err));
	}
	*out = l.a;
	*n = l.n;
	return 0;
}
