// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Neighbour entries for backends' next hops. XDP forwarding never confirms
 * a neighbour, and a fresh gateway with dsr or tunnel backends and no health
 * check never talks to them, so the FIB lookup in the datapath can find no
 * MAC (pass_no_neigh) and, in those modes, the kernel cannot help. A
 * "managed" neighbour entry (Linux >= 5.16) is resolved by the kernel as
 * soon as it is created and kept resolved from then on, which is exactly
 * what the datapath needs.
 *
 * The entries are made over rtnetlink, once per backend address: the route
 * names the next hop and device, the neighbour is read (an operator's static
 * entry is left alone), then made managed. Three requests on one socket take
 * microseconds; running iproute2 for them took three process spawns per
 * backend, over a minute for a thousand backends at start, all of it with
 * the daemon's loop blocked.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include "log.h"
#include "neigh.h"
#include "nl.h"

static int af_of(const struct xlb_endpoint *ep, size_t *alen)
{
	*alen = ep->family == XLB_FAMILY_V4 ? 4 : 16;
	return ep->family == XLB_FAMILY_V4 ? AF_INET : AF_INET6;
}

/* ---- the three requests ---------------------------------------------------- */

/* Where packets to a backend go: device and next-hop address. */
struct hop {
	int af;
	int ifindex;
	unsigned char addr[16];
	size_t alen;
};

/* An IPv4 route through an IPv6 next hop. */
static void hop_via(struct hop *h, const struct rtvia *via, size_t len)
{
	h->af = via->rtvia_family;
	h->alen = len - sizeof(*via);
	if (h->alen > sizeof(h->addr))
		h->alen = sizeof(h->addr);
	memcpy(h->addr, via->rtvia_addr, h->alen);
}

static int hop_attr(const struct nlattr *a, void *data)
{
	const void *p = mnl_attr_get_payload(a);
	size_t len = mnl_attr_get_payload_len(a);
	struct hop *h = data;

	if (mnl_attr_get_type(a) == RTA_OIF && len >= sizeof(int))
		memcpy(&h->ifindex, p, sizeof(int));
	else if (mnl_attr_get_type(a) == RTA_GATEWAY && len == h->alen)
		memcpy(h->addr, p, h->alen);
	else if (mnl_attr_get_type(a) == RTA_VIA && len >= sizeof(struct rtvia))
		hop_via(h, p, len);
	return MNL_CB_OK;
}

static int route_parse(const struct nlmsghdr *nh, void *data)
{
	const struct rtmsg *rt = mnl_nlmsg_get_payload(nh);
	struct hop *h = data;

	if (nh->nlmsg_type != RTM_NEWROUTE || mnl_nlmsg_get_payload_len(nh) < sizeof(*rt))
		return -EPROTO;
	if (rt->rtm_type != RTN_UNICAST)
		return -ENETUNREACH;
	mnl_attr_parse(nh, sizeof(*rt), hop_attr, h);
	return h->ifindex ? 0 : -ENETUNREACH;
}

/* The route the kernel uses towards ep (as `ip route get`). */
static int route_get(struct neigh_keeper *k, const struct xlb_endpoint *ep, struct hop *h)
{
	alignas(struct nlmsghdr) char buf[NL_REQUEST_MAX];
	struct nlmsghdr *nh = nl_request(buf, RTM_GETROUTE, 0);
	struct rtmsg *rt = mnl_nlmsg_put_extra_header(nh, sizeof(*rt));

	memset(h, 0, sizeof(*h));
	h->af = af_of(ep, &h->alen);
	rt->rtm_family = h->af;
	rt->rtm_dst_len = h->alen * 8;
	mnl_attr_put(nh, RTA_DST, h->alen, &ep->addr);
	/* Without a gateway the backend is on the link: it is its own hop. */
	memcpy(h->addr, &ep->addr, h->alen);
	return nl_talk(&k->nl, nh, route_parse, h);
}

static int neigh_parse(const struct nlmsghdr *nh, void *data)
{
	const struct ndmsg *nd = mnl_nlmsg_get_payload(nh);
	uint16_t *state = data;

	if (nh->nlmsg_type != RTM_NEWNEIGH || mnl_nlmsg_get_payload_len(nh) < sizeof(*nd))
		return -EPROTO;
	*state = nd->ndm_state;
	return 0;
}

/* The state of the hop's neighbour entry; 0 (NUD_NONE) if it has none. */
static int neigh_state(struct neigh_keeper *k, const struct hop *h, uint16_t *state)
{
	alignas(struct nlmsghdr) char buf[NL_REQUEST_MAX];
	struct nlmsghdr *nh = nl_request(buf, RTM_GETNEIGH, 0);
	struct ndmsg *nd = mnl_nlmsg_put_extra_header(nh, sizeof(*nd));
	int err;

	nd->ndm_family = h->af;
	nd->ndm_ifindex = h->ifindex;
	mnl_attr_put(nh, NDA_DST, h->alen, h->addr);
	*state = NUD_NONE;
	err = nl_talk(&k->nl, nh, neigh_parse, state);
	return err == -ENOENT ? 0 : err;
}

/* `ip neigh replace ADDR dev DEV managed`: no address and no state given,
 * the kernel resolves it and keeps it resolved. */
static int neigh_manage(struct neigh_keeper *k, const struct hop *h)
{
	alignas(struct nlmsghdr) char buf[NL_REQUEST_MAX];
	struct nlmsghdr *nh = nl_request(buf, RTM_NEWNEIGH,
					 NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE);
	struct ndmsg *nd = mnl_nlmsg_put_extra_header(nh, sizeof(*nd));

	nd->ndm_family = h->af;
	nd->ndm_ifindex = h->ifindex;
	nd->ndm_state = NUD_NONE;
	mnl_attr_put(nh, NDA_DST, h->alen, h->addr);
	mnl_attr_put_u32(nh, NDA_FLAGS_EXT, NTF_EXT_MANAGED);
	return nl_talk(&k->nl, nh, NULL, NULL);
}

/* ---- per backend ---------------------------------------------------------- */

static const char *hop_text(const struct hop *h, char *buf, size_t len)
{
	char dev[IF_NAMESIZE];

	if (!inet_ntop(h->af, h->addr, buf, len))
		snprintf(buf, len, "?");
	if (if_indextoname(h->ifindex, dev))
		snprintf(buf + strlen(buf), len - strlen(buf), " on %s", dev);
	return buf;
}

static int manage_one(struct neigh_keeper *k, const struct xlb_endpoint *ep)
{
	char addr[INET6_ADDRSTRLEN], hop[INET6_ADDRSTRLEN + IF_NAMESIZE + 8];
	uint16_t state;
	struct hop h;
	int err;

	xlb_addr_str(&ep->addr, ep->family, addr, sizeof(addr));
	err = route_get(k, ep, &h);
	if (err) {
		log_warn("no route to backend %s (%s): the datapath cannot reach it until one "
			 "exists", addr, strerror(-err));
		return err;
	}
	/* An operator's static entry is left alone; anything else (a learnt
	 * entry that will age, or a managed one that failed) is made managed
	 * again. */
	err = neigh_state(k, &h, &state);
	if (!err && (state & (NUD_PERMANENT | NUD_NOARP)))
		return 0;
	if (!err)
		err = neigh_manage(k, &h);
	if (err)
		log_warn("could not keep a neighbour entry for %s (next hop of backend %s): %s; "
			 "the datapath passes its packets to the kernel until it is resolved",
			 hop_text(&h, hop, sizeof(hop)), addr, strerror(-err));
	return err;
}

/* ---- the keeper ------------------------------------------------------------- */

static bool is_done(const struct neigh_keeper *k, const struct xlb_endpoint *ep)
{
	for (size_t i = 0; i < k->n; i++)
		if (k->done[i].family == ep->family &&
		    !memcmp(&k->done[i].addr, &ep->addr, sizeof(ep->addr)))
			return true;
	return false;
}

static void mark_done(struct neigh_keeper *k, const struct xlb_endpoint *ep)
{
	struct xlb_endpoint *grown;

	if (k->n == k->cap) {
		grown = realloc(k->done, (k->cap ? 2 * k->cap : 64) * sizeof(*grown));
		if (!grown)
			return; /* tried again at the next change */
		k->done = grown;
		k->cap = k->cap ? 2 * k->cap : 64;
	}
	k->done[k->n++] = *ep;
}

static bool keeper_open(struct neigh_keeper *k)
{
	int err;

	err = nl_conn_open(&k->nl, false);
	if (err) {
		log_warn("cannot open a netlink socket for neighbour entries: %s; backends' "
			 "next hops are resolved only by traffic", strerror(-err));
		return false;
	}
	return true;
}

void neigh_sync(struct neigh_keeper *k, const struct xlb *x)
{
	if (!keeper_open(k))
		return;
	for (size_t i = 0; i < xlb_vip_count(x); i++) {
		const struct xlb_vip_info *v = xlb_vip_at(x, i);

		for (size_t j = 0; j < v->n_backends; j++) {
			const struct xlb_endpoint *ep = &v->backends[j].ep;

			if (!is_done(k, ep) && !manage_one(k, ep))
				mark_done(k, ep);
		}
	}
}

void neigh_keeper_free(struct neigh_keeper *k)
{
	nl_conn_close(&k->nl);
	free(k->done);
	*k = (struct neigh_keeper){ 0 };
}

void neigh_watch(struct neigh_keeper *k, const struct xlb *x)
{
	uint64_t reasons[XLB_R_MAX];

	if (xlb_reason_counters(x, reasons))
		return;
	if (reasons[XLB_R_PASS_NO_NEIGH] == k->no_neigh_seen)
		return;
	k->no_neigh_seen = reasons[XLB_R_PASS_NO_NEIGH];
	k->n = 0;
	neigh_sync(k, x);
}
