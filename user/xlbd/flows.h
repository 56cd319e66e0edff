/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The flow tables as xlbd keeps them: the idle sweep of confirmed flows,
 * the new-flow and confirmation rates, flood detection (logged when a
 * flood starts and ends), and the flow section of `xlbctl stats`.
 */
#ifndef XLBD_FLOWS_H
#define XLBD_FLOWS_H

#include <stdbool.h>
#include <stdint.h>

#include "print.h"

struct xlb;

/* A flood: more new flows a second than this, less than half of them
 * confirmed. */
#define XLBD_FLOOD_RATE_DEFAULT 50000

struct flow_keeper {
	uint32_t flood_rate; /* new flows/s that, mostly unconfirmed, make a flood */
	uint64_t last_new, last_confirmed; /* reason counters at the last tick */
	bool primed;
	double new_rate, confirmed_rate; /* per second, over the last tick */
	bool flooding;
	uint64_t flood_since_s, flood_new, flood_peak;
	uint32_t calm_ticks; /* seconds under the threshold while flooding */
	uint64_t swept; /* confirmed flows removed idle or closed */
};

/* Once a second: rates, flood start/end, a slice of the idle sweep. */
void flows_tick(struct flow_keeper *k, struct xlb *x, uint64_t now_s);
void flows_stats(const struct flow_keeper *k, struct xlb *x, struct xp *p);
void limits_stats(const struct xlb *x, struct xp *p);

#endif /* XLBD_FLOWS_H */
