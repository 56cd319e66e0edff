/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef XLBD_NEIGH_H
#define XLBD_NEIGH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "libxlb.h"
#include "nl.h"

/* The backends whose next hop already has a managed neighbour entry. */
struct neigh_keeper {
	struct xlb_endpoint *done;
	size_t n, cap;
	uint64_t no_neigh_seen; /* the datapath's pass_no_neigh count last time */
	struct nl_conn nl; /* opened at the first sync */
};

/* Give every backend's next hop a managed neighbour entry (once each). */
void neigh_sync(struct neigh_keeper *k, const struct xlb *x);
void neigh_keeper_free(struct neigh_keeper *k);
/* Once a second: if the datapath met a missing neighbour since the last
 * call (an entry was deleted, say by `ip neigh flush`), make them again. */
void neigh_watch(struct neigh_keeper *k, const struct xlb *x);

#endif
