// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Interface addresses over rtnetlink. Three messages (dump, add, delete) do
 * not justify a library: the uapi headers and one socket suffice, and the
 * kernel's errno comes back unchanged for precise error messages.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "backend.h"

#define NL_BUF 32768

/* One buffer, headers laid out in it, so appending attributes stays within
 * the object the compiler sees. */
struct nl_addr_req {
	union {
		struct nlmsghdr nh;
		char buf[NLMSG_SPACE(sizeof(struct ifaddrmsg)) + 64];
	};
};

#define REQ_IFA(r) ((struct ifaddrmsg *)NLMSG_DATA(&(r)->nh))

static int nl_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (fd < 0)
		return xlb_fail(errno, "opening a netlink socket failed: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = errno;

		close(fd);
		return xlb_fail(err, "binding a netlink socket failed: %s", strerror(err));
	}
	return fd;
}

static int nl_send(int fd, struct nlmsghdr *nh)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };

	if (sendto(fd, nh, nh->nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return xlb_fail(errno, "sending to netlink failed: %s", strerror(errno));
	return 0;
}

static void attr_put(struct nl_addr_req *r, unsigned short type, const void *data, size_t len)
{
	size_t off = NLMSG_ALIGN(r->nh.nlmsg_len);
	struct rtattr rta = { .rta_type = type, .rta_len = RTA_LENGTH(len) };

	if (off + RTA_SPACE(len) > sizeof(r->buf))
		return;
	memcpy(r->buf + off, &rta, sizeof(rta));
	memcpy(r->buf + off + RTA_LENGTH(0), data, len);
	r->nh.nlmsg_len = off + RTA_ALIGN(rta.rta_len);
}

/* The kernel's answer to one request: 0 or -errno from its NLMSG_ERROR. */
static int nl_ack(int fd, __u32 seq)
{
	char buf[4096];
	struct nlmsghdr *nh;
	ssize_t n;

	for (;;) {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return xlb_fail(errno, "reading from netlink failed: %s", strerror(errno));
		for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n); nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_seq != seq || nh->nlmsg_type != NLMSG_ERROR)
				continue;
			return ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
		}
	}
}

static int addr_change(int type, int flags, int ifindex, const struct be_vip *v)
{
	struct nl_addr_req req;
	size_t alen = v->family == XLB_FAMILY_V4 ? 4 : 16;
	__u32 ifa_flags = IFA_F_NODAD;
	int fd, err;

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
	req.nh.nlmsg_type = type;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	req.nh.nlmsg_seq = 1;
	REQ_IFA(&req)->ifa_family = v->family == XLB_FAMILY_V4 ? AF_INET : AF_INET6;
	REQ_IFA(&req)->ifa_prefixlen = alen * 8;
	REQ_IFA(&req)->ifa_scope = RT_SCOPE_UNIVERSE;
	REQ_IFA(&req)->ifa_index = ifindex;
	attr_put(&req, IFA_LOCAL, v->addr.bytes, alen);
	attr_put(&req, IFA_ADDRESS, v->addr.bytes, alen);
	if (type == RTM_NEWADDR && v->family == XLB_FAMILY_V6)
		attr_put(&req, IFA_FLAGS, &ifa_flags, sizeof(ifa_flags));

	fd = nl_open();
	if (fd < 0)
		return fd;
	err = nl_send(fd, &req.nh);
	if (!err)
		err = nl_ack(fd, req.nh.nlmsg_seq);
	close(fd);
	return err;
}

int nl_addr_add(int ifindex, const struct be_vip *v)
{
	return addr_change(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, ifindex, v);
}

int nl_addr_del(int ifindex, const struct be_vip *v)
{
	return addr_change(RTM_DELADDR, 0, ifindex, v);
}

/* IPv4 keeps the local address in IFA_LOCAL (IFA_ADDRESS is the peer on
 * point-to-point links); IPv6 only sends IFA_ADDRESS unless it is a peer. */
static bool parse_addr_msg(struct nlmsghdr *nh, struct be_ifaddr *out)
{
	struct ifaddrmsg *ifa = NLMSG_DATA(nh);
	int len = IFA_PAYLOAD(nh);
	size_t alen;
	bool have = false;
	struct rtattr *rta;

	if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
		return false;
	alen = ifa->ifa_family == AF_INET ? 4 : 16;
	memset(out, 0, sizeof(*out));
	out->ifindex = ifa->ifa_index;
	out->family = ifa->ifa_family == AF_INET ? XLB_FAMILY_V4 : XLB_FAMILY_V6;
	out->prefixlen = ifa->ifa_prefixlen;
	for (rta = IFA_RTA(ifa); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		if (RTA_PAYLOAD(rta) < alen)
			continue;
		if (rta->rta_type == IFA_LOCAL || (rta->rta_type == IFA_ADDRESS && !have)) {
			memcpy(out->addr.bytes, RTA_DATA(rta), alen);
			have = true;
		}
	}
	return have;
}

static int list_push(struct be_ifaddr **list, size_t *n, size_t *cap, const struct be_ifaddr *a)
{
	struct be_ifaddr *p;

	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		p = realloc(*list, *cap * sizeof(*p));
		if (!p)
			return xlb_fail(ENOMEM, "out of memory listing addresses");
		*list = p;
	}
	(*list)[(*n)++] = *a;
	return 0;
}

/* Read dump replies until NLMSG_DONE. Returns 1 when done, 0 to go on. */
static int dump_chunk(char *buf, ssize_t n, struct be_ifaddr **list, size_t *cnt, size_t *cap)
{
	struct be_ifaddr a;
	struct nlmsghdr *nh;
	int err;

	for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n); nh = NLMSG_NEXT(nh, n)) {
		if (nh->nlmsg_type == NLMSG_DONE)
			return 1;
		if (nh->nlmsg_type == NLMSG_ERROR) {
			err = ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
			return xlb_fail(-err, "listing addresses failed: %s", strerror(-err));
		}
		if (nh->nlmsg_type != RTM_NEWADDR || !parse_addr_msg(nh, &a))
			continue;
		err = list_push(list, cnt, cap, &a);
		if (err)
			return err;
	}
	return 0;
}

int nl_addr_list(struct be_ifaddr **out, size_t *n)
{
	struct nl_addr_req req;
	size_t cap = 0;
	char *buf;
	ssize_t got;
	int fd, rc;

	*out = NULL;
	*n = 0;
	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
	req.nh.nlmsg_type = RTM_GETADDR;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.nh.nlmsg_seq = 2;
	REQ_IFA(&req)->ifa_family = AF_UNSPEC;

	buf = malloc(NL_BUF);
	if (!buf)
		return xlb_fail(ENOMEM, "out of memory listing addresses");
	fd = nl_open();
	rc = fd < 0 ? fd : nl_send(fd, &req.nh);
	while (!rc) {
		got = recv(fd, buf, NL_BUF, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			rc = xlb_fail(errno, "reading addresses from netlink failed: %s",
				      strerror(errno));
		else
			rc = dump_chunk(buf, got, out, n, &cap);
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	if (rc < 0) {
		free(*out);
		*out = NULL;
		*n = 0;
		return rc;
	}
	return 0;
}
