// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * rtnetlink requests for xlbd and xlb-backend (see nl.h). Blocking with a receive
 * timeout: the kernel answers at once, and a reply that never comes must not
 * stall the daemon's loop.
 */
#include <errno.h>
#include <stdalign.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <libmnl/libmnl.h>
#include <linux/netlink.h>

#include "nl.h"

/* A dump's datagrams hold several messages; one page-sized message is the
 * kernel's unit, 32 KiB is what libmnl recommends for dumps. */
#define NL_REPLY_MAX 32768

/* The request in flight. Only messages with its sequence number are its
 * answer: anything else is a late reply to one that timed out. */
struct nl_call {
	uint32_t seq;
	bool dump; /* many messages, ended by NLMSG_DONE */
	bool done;
	int err;
	nl_parse_fn parse; /* NULL: an acknowledgement is the whole answer */
	void *data;
};

static int socket_setup(struct mnl_socket *nl, bool strict)
{
	struct timeval tv = { .tv_sec = 1 };
	int one = 1, fd = mnl_socket_get_fd(nl);

	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))
		return -errno;
	if (strict && setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof(one)))
		return -errno;
	return 0;
}

int nl_conn_open(struct nl_conn *c, bool strict)
{
	struct mnl_socket *nl;
	int err;

	if (c->sock)
		return 0;
	nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl)
		return -errno;
	err = socket_setup(nl, strict);
	if (err) {
		mnl_socket_close(nl);
		return err;
	}
	c->sock = nl;
	return 0;
}

void nl_conn_close(struct nl_conn *c)
{
	if (c->sock)
		mnl_socket_close(c->sock);
	c->sock = NULL;
}

struct nlmsghdr *nl_request(void *buf, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nh = mnl_nlmsg_put_header(buf);

	nh->nlmsg_type = type;
	nh->nlmsg_flags = NLM_F_REQUEST | flags;
	return nh;
}

/* A data message: the answer of a plain request, or one of a dump's (the
 * first error of a dump's parser is kept, the rest still read). */
static int on_answer(const struct nlmsghdr *nh, void *data)
{
	struct nl_call *c = data;
	int err;

	if (nh->nlmsg_seq != c->seq)
		return MNL_CB_OK;
	if (c->dump && nh->nlmsg_type == NLMSG_DONE) {
		c->done = true;
		return MNL_CB_STOP;
	}
	err = c->parse ? c->parse(nh, c->data) : 0;
	if (!c->dump) {
		c->done = true;
		c->err = err;
		return MNL_CB_STOP;
	}
	if (!c->err)
		c->err = err;
	return MNL_CB_OK;
}

/* The kernel's -errno, or with 0 an acknowledgement: an answer for a request
 * that wants none, a protocol error for one that wants data. */
static int on_error(const struct nlmsghdr *nh, void *data)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nh);
	struct nl_call *c = data;

	if (nh->nlmsg_seq != c->seq)
		return MNL_CB_OK;
	c->done = true;
	if (mnl_nlmsg_get_payload_len(nh) < sizeof(*e))
		c->err = -EBADMSG;
	else
		c->err = e->error ? e->error : c->parse && !c->dump ? -EPROTO : c->err;
	return MNL_CB_STOP;
}

/* Sequence numbers are matched by the callbacks, not by mnl_cb_run2 (seq 0),
 * so that a late reply is skipped rather than failing the request. */
static int nl_wait(struct mnl_socket *nl, struct nl_call *c)
{
	/* Any other message with the sequence number is the answer too (and
	 * the wrong one: the parser says so). */
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = {
		[NLMSG_NOOP] = on_answer,
		[NLMSG_ERROR] = on_error,
		[NLMSG_DONE] = on_answer,
		[NLMSG_OVERRUN] = on_answer,
	};
	/* One thread, one request at a time: a static buffer keeps 32 KiB
	 * off the stack. */
	static alignas(struct nlmsghdr) char buf[NL_REPLY_MAX];
	ssize_t n;

	while (!c->done) {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || mnl_cb_run2(buf, n, 0, 0, on_answer, c, ctl, NLMSG_MIN_TYPE) < 0)
			return -errno;
	}
	return c->err;
}

static int call(struct nl_conn *conn, struct nlmsghdr *nh, struct nl_call *c)
{
	c->seq = ++conn->seq;
	nh->nlmsg_seq = c->seq;
	if (mnl_socket_sendto(conn->sock, nh, nh->nlmsg_len) < 0)
		return -errno;
	return nl_wait(conn->sock, c);
}

int nl_talk(struct nl_conn *conn, struct nlmsghdr *nh, nl_parse_fn parse, void *data)
{
	struct nl_call c = { .parse = parse, .data = data };

	return call(conn, nh, &c);
}

int nl_dump(struct nl_conn *conn, struct nlmsghdr *nh, nl_parse_fn each, void *data)
{
	struct nl_call c = { .dump = true, .parse = each, .data = data };

	nh->nlmsg_flags |= NLM_F_DUMP;
	return call(conn, nh, &c);
}
