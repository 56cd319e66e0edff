/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Health probes: every backend of every VIP whose check is not none is
 * probed from one event loop, all probes concurrent, none blocking.
 *
 * A backend starts up when it is added (after a restart: as the pinned
 * datapath remembers it), goes down after `fall` failed probes in a row and
 * comes back after `rise` successes; each change goes to the datapath
 * (xlb_vip_set_health: the changes decided in one turn of the loop
 * together, one table build per VIP) and to the log with the reason. A VIP with check
 * none (the default) is not probed and its backends are kept up.
 */
#ifndef XLBD_PROBE_H
#define XLBD_PROBE_H

#include <stdbool.h>
#include <stdint.h>

#include "exec.h"
#include "ev.h"

struct prober;

/* Upper bounds (seconds) of the probe-duration histogram's buckets; a
 * duration beyond the last counts only in the total (+Inf). */
#define PROBE_DURATION_BUCKETS 12
extern const double probe_duration_bounds_s[PROBE_DURATION_BUCKETS];

struct probe_status {
	bool has_result; /* false until the first probe finished */
	bool ok; /* last probe */
	char detail[96]; /* "status 200", "connection refused", ... */
	uint64_t rtt_ns; /* last probe's duration */
	uint64_t at; /* ev_now() of the last result */
	bool down; /* the health state this prober holds */
	uint64_t changed_at; /* ev_now() of the last up/down change; 0: none seen */
	unsigned int ok_run, fail_run; /* consecutive results */
	/* Every result since the backend was first probed (metrics). */
	uint64_t ok_total, fail_total;
	uint64_t duration_bucket[PROBE_DURATION_BUCKETS]; /* per bucket, not cumulative */
	uint64_t duration_sum_ns;
};

struct prober *prober_new(struct ev_loop *loop, struct xlb *x);
void prober_free(struct prober *p);
/* Follow a configuration change: start, retune or stop probes, and put
 * the datapath's health flags in line with them. */
int prober_sync(struct prober *p, const struct xlb_cfg *cfg);
/* NULL when the backend is not probed. */
const struct probe_status *prober_status(const struct prober *p, const struct xlb_vip_key *vip,
					 const struct xlb_endpoint *ep);

#endif /* XLBD_PROBE_H */
