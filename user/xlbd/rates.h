/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Packet and byte rates for `stats`: the daemon samples every VIP's and
 * backend's counters once a second and keeps the last two samples; a rate
 * is their difference over the time between them. A client asking twice a
 * second thus sees a steady rate, not one over its own request interval.
 */
#ifndef XLBD_RATES_H
#define XLBD_RATES_H

#include <stdbool.h>
#include <stdint.h>

#include "libxlb.h"

struct rates;

struct rate {
	bool valid; /* false until two samples of the same VIP/backend exist */
	double pps;
	double bps; /* bytes per second */
};

struct rates *rates_new(void);
void rates_free(struct rates *r);
void rates_sample(struct rates *r, const struct xlb *x, uint64_t now);
struct rate rates_vip(const struct rates *r, uint32_t vip_id);
struct rate rates_backend(const struct rates *r, uint32_t backend_id);

#endif /* XLBD_RATES_H */
