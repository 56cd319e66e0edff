/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The daemon as a whole: what its parts share, and the calls between them.
 *
 * There is one thread. Requests, probes and the counter sampler all run
 * from one epoll loop, so the configuration (cfg) and the libxlb handle
 * have exactly one user at a time and need no locks.
 */
#ifndef XLBD_XLBD_H
#define XLBD_XLBD_H

#include <stdbool.h>
#include <stddef.h>

#include "ctl.h"
#include "ev.h"
#include "exec.h"
#include "print.h"
#include "probe.h"
#include "rates.h"

#include "announce.h"
#include "flows.h"
#include "neigh.h"

struct metrics;

struct xlbd {
	struct xlb *x;
	struct xlb_cfg cfg; /* the running configuration, checks included */
	struct ev_loop loop;
	struct prober *prober;
	struct rates *rates;
	struct ctl *ctl;
	struct neigh_keeper neigh;
	struct announcer announce; /* VIP routes for BGP (scale-out) */
	struct flow_keeper flows;
	const char *state_path;
	struct metrics *metrics; /* NULL without --metrics */
	uint64_t generation; /* configurations committed since start (metrics) */
};

/* change.c: make next the running configuration: state file first, then
 * the datapath, then the probes. On error nothing changed. next is left
 * holding the previous configuration (or its own, on error). */
int xlbd_commit(struct xlbd *d, struct xlb_cfg *next, char *err, size_t errlen);

/* request.c: the control socket's handler (a ctl_handler). */
int xlbd_request(void *arg, const char *line, const char *body, size_t body_len, FILE *out,
		 char *err, size_t errlen);

/* show.c: the printing statements. */
void xlbd_show(struct xlbd *d, struct xp *p);
void xlbd_stats(struct xlbd *d, struct xp *p);
void xlbd_vip_list(struct xlbd *d, struct xp *p);
void xlbd_save(struct xlbd *d, struct xp *p);

/* explain.c: `explain`; -1 with err set when it cannot answer. */
int xlbd_explain(struct xlbd *d, const struct xlb_stmt *st, bool json, FILE *out, char *err,
		 size_t errlen);

#endif /* XLBD_XLBD_H */
