/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Route health injection for scale-out (docs/scale-out.md): one host route
 * per VIP address that can serve, in a routing table of its own that only a
 * routing daemon (BIRD) reads and exports over BGP.
 */
#ifndef XLBD_ANNOUNCE_H
#define XLBD_ANNOUNCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exec.h"
#include "nl.h"

/* Defaults of --route-table and --route-proto: unused by the kernel,
 * iproute2 and the routing daemons in /etc/iproute2/rt_protos. */
#define ANNOUNCE_TABLE_DEFAULT 245
#define ANNOUNCE_PROTO_DEFAULT 245

struct announce_addr {
	struct xlb_addr addr;
	uint8_t family;
};

struct announcer {
	uint32_t table; /* 0: announcing is off */
	uint8_t proto;
	struct nl_conn nl;
	struct announce_addr *want; /* announced now, sorted */
	size_t n_want;
	bool known; /* want reflects a completed reconcile */
	int last_err; /* logged once until it changes */
};

void announce_init(struct announcer *a, uint32_t table, uint8_t proto);
void announce_free(struct announcer *a);

/* Work out which addresses must be announced (cfg: drain and announce-min;
 * x: health) and make the table say so, touching only what differs. force:
 * read the table back even if nothing changed (repairs routes someone else
 * removed). Never flushes: a route that must stay is never withdrawn. */
void announce_sync(struct announcer *a, const struct xlb_cfg *cfg, const struct xlb *x,
		   bool force);

/* Whether a VIP can serve: enough backends that are up, not drained, of
 * weight > 0. */
bool announce_vip_can_serve(const struct xlb_cfg_vip *v, const struct xlb *x);
/* Whether a VIP's address is announced now. */
bool announce_has(const struct announcer *a, const struct xlb_vip_key *key);

/* Remove every route of ours from the table (xlbd --detach). 0 or -errno. */
int announce_withdraw_all(uint32_t table, uint8_t proto);

#endif
