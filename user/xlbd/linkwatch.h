/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Interfaces that go away and come back. An XDP attachment belongs to one
 * interface index: when the interface is deleted the attachment goes with
 * it, and an interface created again under the same name (a veth pair
 * rebuilt, a driver reloaded) starts without the datapath. xlbd watches
 * rtnetlink's link events for the interfaces it was told to serve, says
 * when one disappears, and attaches again when it reappears.
 */
#ifndef XLBD_LINKWATCH_H
#define XLBD_LINKWATCH_H

#include <stddef.h>

#include "ev.h"
#include "libxlb.h"

struct linkwatch;

/* Watch ifaces (attached already, in mode). NULL with a message in err. */
struct linkwatch *linkwatch_open(struct ev_loop *loop, struct xlb *x, const char *const *ifaces,
				 size_t n, enum xlb_xdp_mode mode, char *err, size_t errlen);
void linkwatch_close(struct linkwatch *w);

#endif
