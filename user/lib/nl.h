/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * rtnetlink requests through libmnl, one at a time on a blocking socket:
 * what xlbd (neighbour entries, VIP routes) and xlb-backend (addresses on
 * lo) share.
 */
#ifndef XLB_NL_H
#define XLB_NL_H

#include <stdbool.h>
#include <stdint.h>

struct mnl_socket;
struct nlmsghdr;

/* A request: one header, one family header, a few attributes. */
#define NL_REQUEST_MAX 256

struct nl_conn {
	struct mnl_socket *sock; /* NULL until nl_conn_open */
	uint32_t seq;
};

/* Reads one message of an answer: 0 or -errno. */
typedef int (*nl_parse_fn)(const struct nlmsghdr *nh, void *data);

/* Open the socket (nothing if it is open). strict: the kernel checks
 * requests strictly and filters dumps by the fields they set
 * (NETLINK_GET_STRICT_CHK, Linux >= 4.20). Returns 0 or -errno. */
int nl_conn_open(struct nl_conn *c, bool strict);
void nl_conn_close(struct nl_conn *c);

/* A request header of this type in buf (NL_REQUEST_MAX bytes, aligned). */
struct nlmsghdr *nl_request(void *buf, uint16_t type, uint16_t flags);

/* Send nh and wait for its answer, handed to parse (NULL: an
 * acknowledgement is the whole answer). 0, or the kernel's or parse's -errno. */
int nl_talk(struct nl_conn *c, struct nlmsghdr *nh, nl_parse_fn parse, void *data);

/* Send a dump request (NLM_F_DUMP is added) and hand every message of the
 * answer to each. 0, or the first -errno of the kernel or of each. */
int nl_dump(struct nl_conn *c, struct nlmsghdr *nh, nl_parse_fn each, void *data);

#endif
