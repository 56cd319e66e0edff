// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Link events (linkwatch.h). The socket joins RTNLGRP_LINK and is read from
 * the event loop. A lost event (the receive buffer overflowed: ENOBUFS) is
 * made good by comparing every watched name's current index with the one
 * attached, which is also all that a NEWLINK for a watched name triggers:
 * link state changes (up, down, MTU) keep the index and change nothing.
 */
#include <errno.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmnl/libmnl.h>

#include "linkwatch.h"
#include "log.h"

struct watched {
	const char *name;
	unsigned int ifindex; /* attached to; 0 while the interface is gone */
};

struct linkwatch {
	struct ev_source src;
	struct ev_loop *loop;
	struct mnl_socket *nl;
	struct xlb *x;
	enum xlb_xdp_mode mode;
	struct watched *w;
	size_t n;
};

static void gone(struct watched *w)
{
	log_error("interface %s (index %u) is gone: the datapath went with it; xlbd attaches "
		  "again as soon as an interface named %s appears",
		  w->name, w->ifindex, w->name);
	w->ifindex = 0;
}

static void appeared(struct linkwatch *lw, struct watched *w, unsigned int ifindex)
{
	if (xlb_attach(lw->x, w->name, lw->mode)) {
		log_error("interface %s is back (index %u) but attaching failed: %s; "
			  "fix that and restart xlbd, which attaches at start",
			  w->name, ifindex, xlb_errmsg());
		w->ifindex = 0;
		return;
	}
	log_info("interface %s is back (index %u): attached again", w->name, ifindex);
	w->ifindex = ifindex;
}

/* Bring one watched name up to date with what the kernel has now. */
static void resync(struct linkwatch *lw, struct watched *w)
{
	unsigned int now = if_nametoindex(w->name);

	if (now == w->ifindex)
		return;
	if (w->ifindex)
		gone(w);
	if (now)
		appeared(lw, w, now);
}

static struct watched *find(struct linkwatch *lw, const char *name)
{
	for (size_t i = 0; i < lw->n; i++)
		if (!strcmp(lw->w[i].name, name))
			return &lw->w[i];
	return NULL;
}

static int name_attr(const struct nlattr *a, void *data)
{
	if (mnl_attr_get_type(a) == IFLA_IFNAME && !mnl_attr_validate(a, MNL_TYPE_NUL_STRING))
		*(const char **)data = mnl_attr_get_str(a);
	return MNL_CB_OK;
}

static int on_link(const struct nlmsghdr *nh, void *data)
{
	struct linkwatch *lw = data;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nh);
	const char *name = NULL;
	struct watched *w;

	if (nh->nlmsg_type != RTM_NEWLINK && nh->nlmsg_type != RTM_DELLINK)
		return MNL_CB_OK;
	mnl_attr_parse(nh, sizeof(*ifi), name_attr, &name);
	w = name ? find(lw, name) : NULL;
	if (!w)
		return MNL_CB_OK;
	if (nh->nlmsg_type == RTM_DELLINK) {
		if (w->ifindex == (unsigned int)ifi->ifi_index)
			gone(w);
		return MNL_CB_OK;
	}
	resync(lw, w);
	return MNL_CB_OK;
}

static void on_event(struct ev_source *s, uint32_t events)
{
	struct linkwatch *lw = ev_container_of(s, struct linkwatch, src);
	char buf[MNL_SOCKET_BUFFER_SIZE];

	for (;;) {
		ssize_t n = mnl_socket_recvfrom(lw->nl, buf, sizeof(buf));

		if (n < 0 && errno == ENOBUFS) {
			log_warn("link events lost (receive buffer full): checking every interface");
			for (size_t i = 0; i < lw->n; i++)
				resync(lw, &lw->w[i]);
			continue;
		}
		if (n <= 0)
			return;
		mnl_cb_run(buf, n, 0, 0, on_link, lw);
	}
}

static void lw_free(struct linkwatch *lw)
{
	if (lw->nl)
		mnl_socket_close(lw->nl);
	free(lw->w);
	free(lw);
}

struct linkwatch *linkwatch_open(struct ev_loop *loop, struct xlb *x, const char *const *ifaces,
				 size_t n, enum xlb_xdp_mode mode, char *err, size_t errlen)
{
	struct linkwatch *lw = calloc(1, sizeof(*lw));

	if (!lw || !(lw->w = calloc(n ? n : 1, sizeof(*lw->w)))) {
		snprintf(err, errlen, "link watch: out of memory");
		goto fail;
	}
	lw->loop = loop;
	lw->x = x;
	lw->mode = mode;
	lw->n = n;
	for (size_t i = 0; i < n; i++)
		lw->w[i] = (struct watched){ ifaces[i], if_nametoindex(ifaces[i]) };
	lw->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!lw->nl || mnl_socket_bind(lw->nl, RTMGRP_LINK, MNL_SOCKET_AUTOPID)) {
		snprintf(err, errlen, "link watch: rtnetlink socket: %s", strerror(errno));
		goto fail;
	}
	/* The loop closes its own descriptor, libmnl its own. */
	lw->src.fd = dup(mnl_socket_get_fd(lw->nl));
	lw->src.on_event = on_event;
	if (lw->src.fd < 0 || ev_add(loop, &lw->src, EPOLLIN)) {
		snprintf(err, errlen, "link watch: %s", strerror(errno));
		if (lw->src.fd >= 0)
			close(lw->src.fd);
		goto fail;
	}
	return lw;
fail:
	if (lw)
		lw_free(lw);
	return NULL;
}

void linkwatch_close(struct linkwatch *w)
{
	if (!w)
		return;
	ev_unregister(w->loop, &w->src);
	lw_free(w);
}
