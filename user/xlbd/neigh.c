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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "log.h"
#include "neigh.h"

/* ---- rtnetlink ------------------------------------------------------------ */

/* A request: one header, one family header, a few attributes. */
struct nl_msg {
	union {
		struct nlmsghdr nh;
		char buf[256];
	};
};

/* Replies to these requests are one message, well below this. */
#define NL_REPLY_MAX 4096

static void *nl_init(struct nl_msg *m, uint16_t type, uint16_t flags, size_t hdr_len)
{
	memset(m, 0, sizeof(*m));
	m->nh.nlmsg_len = NLMSG_LENGTH(hdr_len);
	m->nh.nlmsg_type = type;
	m->nh.nlmsg_flags = NLM_F_REQUEST | flags;
	return NLMSG_DATA(&m->nh);
}

static void nl_attr(struct nl_msg *m, uint16_t type, const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)(m->buf + NLMSG_ALIGN(m->nh.nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	m->nh.nlmsg_len = NLMSG_ALIGN(m->nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

/* A blocking socket with a receive timeout: the kernel answers at once, and
 * a reply that never comes must not stall the daemon. */
static int nl_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = 1 };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv))) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* The reply to our sequence number, skipping stale ones (a reply that came
 * after its request timed out). */
static int nl_recv(int fd, uint32_t seq, char *buf, struct nlmsghdr **out)
{
	for (;;) {
		ssize_t n = recv(fd, buf, NL_REPLY_MAX, 0);
		struct nlmsghdr *nh = (struct nlmsghdr *)buf;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (; NLMSG_OK(nh, (size_t)n); nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_seq != seq)
				continue;
			*out = nh;
			return 0;
		}
	}
}

/*
 * Send m and wait for its answer: 0 with *reply set to the answer (NULL for
 * a bare acknowledgement), or the kernel's -errno.
 */
static int nl_talk(struct neigh_keeper *k, struct nl_msg *m, char *buf,
		   struct nlmsghdr **reply)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct nlmsghdr *nh = NULL;
	int err;

	m->nh.nlmsg_seq = ++k->seq;
	if (sendto(k->fd, m, m->nh.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	err = nl_recv(k->fd, k->seq, buf, &nh);
	if (err)
		return err;
	*reply = NULL;
	if (nh->nlmsg_type == NLMSG_ERROR)
		return ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
	*reply = nh;
	return 0;
}

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

static void hop_from_attrs(struct rtmsg *rt, size_t len, struct hop *h)
{
	struct rtattr *a = RTM_RTA(rt);
	struct rtvia *via;

	for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) >= sizeof(int))
			memcpy(&h->ifindex, RTA_DATA(a), sizeof(int));
		else if (a->rta_type == RTA_GATEWAY && RTA_PAYLOAD(a) == h->alen)
			memcpy(h->addr, RTA_DATA(a), h->alen);
		else if (a->rta_type == RTA_VIA && RTA_PAYLOAD(a) >= sizeof(*via)) {
			/* An IPv4 route through an IPv6 next hop. */
			via = RTA_DATA(a);
			h->af = via->rtvia_family;
			h->alen = RTA_PAYLOAD(a) - sizeof(*via);
			if (h->alen > sizeof(h->addr))
				h->alen = sizeof(h->addr);
			memcpy(h->addr, via->rtvia_addr, h->alen);
		}
	}
}

/* The route the kernel uses towards ep (as `ip route get`). */
static int route_get(struct neigh_keeper *k, const struct xlb_endpoint *ep, struct hop *h)
{
	char buf[NL_REPLY_MAX];
	struct nlmsghdr *reply;
	struct nl_msg m;
	struct rtmsg *rt = nl_init(&m, RTM_GETROUTE, 0, sizeof(*rt));
	int err;

	memset(h, 0, sizeof(*h));
	h->af = af_of(ep, &h->alen);
	rt->rtm_family = h->af;
	rt->rtm_dst_len = h->alen * 8;
	nl_attr(&m, RTA_DST, &ep->addr, h->alen);
	/* Without a gateway the backend is on the link: it is its own hop. */
	memcpy(h->addr, &ep->addr, h->alen);
	err = nl_talk(k, &m, buf, &reply);
	if (err)
		return err;
	if (!reply || reply->nlmsg_type != RTM_NEWROUTE)
		return -EPROTO;
	rt = NLMSG_DATA(reply);
	if (rt->rtm_type != RTN_UNICAST)
		return -ENETUNREACH;
	hop_from_attrs(rt, RTM_PAYLOAD(reply), h);
	return h->ifindex ? 0 : -ENETUNREACH;
}

/* The state of the hop's neighbour entry; 0 (NUD_NONE) if it has none. */
static int neigh_state(struct neigh_keeper *k, const struct hop *h, uint16_t *state)
{
	char buf[NL_REPLY_MAX];
	struct nlmsghdr *reply;
	struct nl_msg m;
	struct ndmsg *nd = nl_init(&m, RTM_GETNEIGH, 0, sizeof(*nd));
	int err;

	nd->ndm_family = h->af;
	nd->ndm_ifindex = h->ifindex;
	nl_attr(&m, NDA_DST, h->addr, h->alen);
	*state = NUD_NONE;
	err = nl_talk(k, &m, buf, &reply);
	if (err == -ENOENT)
		return 0;
	if (err)
		return err;
	if (!reply || reply->nlmsg_type != RTM_NEWNEIGH)
		return -EPROTO;
	*state = ((struct ndmsg *)NLMSG_DATA(reply))->ndm_state;
	return 0;
}

/* `ip neigh replace ADDR dev DEV managed`: no address and no state given,
 * the kernel resolves it and keeps it resolved. */
static int neigh_manage(struct neigh_keeper *k, const struct hop *h)
{
	uint32_t ext = NTF_EXT_MANAGED;
	char buf[NL_REPLY_MAX];
	struct nlmsghdr *reply;
	struct nl_msg m;
	struct ndmsg *nd = nl_init(&m, RTM_NEWNEIGH,
				   NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, sizeof(*nd));

	nd->ndm_family = h->af;
	nd->ndm_ifindex = h->ifindex;
	nd->ndm_state = NUD_NONE;
	nl_attr(&m, NDA_DST, h->addr, h->alen);
	nl_attr(&m, NDA_FLAGS_EXT, &ext, sizeof(ext));
	return nl_talk(k, &m, buf, &reply);
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
	int fd;

	if (k->open)
		return true;
	fd = nl_open();
	if (fd < 0) {
		log_warn("cannot open a netlink socket for neighbour entries: %s; backends' "
			 "next hops are resolved only by traffic", strerror(-fd));
		return false;
	}
	k->fd = fd;
	k->open = true;
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
	if (k->open)
		close(k->fd);
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
