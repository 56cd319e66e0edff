/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * XDP attachments held by bpf_links pinned at ROOT/links/IFNAME: what xlbd
 * (through libxlb) and xlb-backend share. A pinned link outlives the
 * process that made it (even kill -9), can be found again (adopt), checked,
 * pointed at a new program atomically (bpf_link_update, no gap in
 * traffic), and detached by removing it.
 */
#ifndef XLB_XDP_H
#define XLB_XDP_H

#include <limits.h>
#include <stdbool.h>
#include <linux/types.h>

#include "libxlb.h"

#define XLB_LINKS_DIR "links"

/* dir/name into buf; an error when it does not fit. */
int xlb_path_join(char buf[PATH_MAX], const char *dir, const char *name);
/* ROOT/links/IFNAME. */
int xlb_link_path(char buf[PATH_MAX], const char *root, const char *ifname);

int xlb_ifindex(const char *ifname, unsigned int *ifindex);
const char *xlb_xdp_mode_name(enum xlb_xdp_mode mode);
/* The program driving ifindex in any mode (0: none) and its mode. */
int xlb_xdp_attached(unsigned int ifindex, __u32 *prog_id, enum xlb_xdp_mode *mode);

/* A pinned link as found. */
struct xlb_pinned_link {
	int fd; /* -1: none pinned */
	__u32 prog_id;
	__u32 ifindex; /* what it was made for */
	bool current; /* drives ifindex now, with its program, in the wanted mode */
};

/* Adopt: open the link pinned for ifname, if any (a missing pin is not an
 * error). A link outlives its interface (it goes defunct) and cannot change
 * mode: such a link is not current. */
int xlb_link_open(const char *root, const char *ifname, unsigned int ifindex,
		  enum xlb_xdp_mode mode, struct xlb_pinned_link *l);
void xlb_link_close(struct xlb_pinned_link *l);
/* Detach it (a defunct link has nothing left to detach) and remove its pin. */
int xlb_link_drop(const char *root, const char *ifname, struct xlb_pinned_link *l);
/* Attach prog_fd to ifname with a new link; its fd, or -errno. */
int xlb_link_create(int prog_fd, const char *ifname, unsigned int ifindex,
		    enum xlb_xdp_mode mode);
/* The same, pinned at ROOT/links/IFNAME (the directory made if missing). */
int xlb_link_create_pinned(int prog_fd, const char *root, const char *ifname,
			   unsigned int ifindex, enum xlb_xdp_mode mode);
/* Detach every link pinned under ROOT/links and remove the directory;
 * done(ifname, arg) after each. */
int xlb_links_remove(const char *root, void (*done)(const char *ifname, void *arg), void *arg);

#endif
