// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdio.h>

#include "flows.h"
#include "libxlb.h"
#include "log.h"

/* Seconds a full sweep of the confirmed table takes at most: a slice of
 * capacity / SWEEP_PASS_S each second (at least SWEEP_MIN entries). */
#define SWEEP_PASS_S 30
#define SWEEP_MIN 4096
/* A flood ends after this many calm seconds in a row. */
#define FLOOD_CALM_S 5

static void rates_update(struct flow_keeper *k, struct xlb *x)
{
	uint64_t r[XLB_R_MAX];

	if (xlb_reason_counters(x, r))
		return;
	if (k->primed) {
		k->new_rate = (double)(r[XLB_R_NEW_FLOW] - k->last_new);
		k->confirmed_rate = (double)(r[XLB_R_FLOW_CONFIRMED] - k->last_confirmed);
	}
	k->last_new = r[XLB_R_NEW_FLOW];
	k->last_confirmed = r[XLB_R_FLOW_CONFIRMED];
	k->primed = true;
}

static bool looks_like_flood(const struct flow_keeper *k)
{
	return k->new_rate > k->flood_rate && k->confirmed_rate * 2 < k->new_rate;
}

/* Floods only churn the unconfirmed table; the log says so, so an operator
 * reading it at 3 a.m. knows what is and is not at risk. */
static void flood_watch(struct flow_keeper *k, uint64_t now_s)
{
	if (looks_like_flood(k)) {
		k->calm_ticks = 0;
		k->flood_new += (uint64_t)k->new_rate;
		if (k->new_rate > k->flood_peak)
			k->flood_peak = (uint64_t)k->new_rate;
		if (k->flooding)
			return;
		k->flooding = true;
		k->flood_since_s = now_s;
		log_warn("flood started: %.0f new flows/s, %.0f confirmed/s; new flows churn the "
			 "unconfirmed table, confirmed connections stay",
			 k->new_rate, k->confirmed_rate);
		return;
	}
	if (!k->flooding || ++k->calm_ticks < FLOOD_CALM_S)
		return;
	log_info("flood ended after %llu s: %llu new flows, peak %llu/s",
		 (unsigned long long)(now_s - k->flood_since_s - FLOOD_CALM_S + 1),
		 (unsigned long long)k->flood_new, (unsigned long long)k->flood_peak);
	k->flooding = false;
	k->flood_new = k->flood_peak = 0;
}

static void sweep_slice(struct flow_keeper *k, struct xlb *x)
{
	uint32_t budget, removed = 0;

	budget = (uint32_t)(xlb_flow_capacity(x) / SWEEP_PASS_S);
	if (budget < SWEEP_MIN)
		budget = SWEEP_MIN;
	if (xlb_flows_sweep(x, budget, &removed) < 0)
		log_warn("%s", xlb_errmsg());
	k->swept += removed;
}

void flows_tick(struct flow_keeper *k, struct xlb *x, uint64_t now_s)
{
	rates_update(k, x);
	flood_watch(k, now_s);
	sweep_slice(k, x);
}

static void table_row(struct xp *p, const char *name, uint64_t used, uint64_t cap, uint64_t bytes)
{
	xp_obj_open(p, name);
	xp_text(p, "  %-12s ", name);
	xp_u64(p, "entries", "%10llu", used);
	xp_u64(p, "capacity", " / %-10llu", cap);
	xp_text(p, " (%5.1f%%) ", cap ? 100.0 * (double)used / (double)cap : 0.0);
	xp_u64(p, "memory_bytes", "%llu bytes charged\n", bytes);
	xp_obj_close(p);
}

/* VIPs and backend slots against the limits xlbd was started with. */
void limits_stats(const struct xlb *x, struct xp *p)
{
	struct xlb_limits l;

	xlb_limits_get(x, &l);
	xp_text(p, "\nCapacity\n");
	xp_obj_open(p, "capacity");
	table_row(p, "vips", l.vips, l.max_vips, l.vip_bytes);
	table_row(p, "backends", l.backends, l.max_backends, l.backend_bytes);
	xp_text(p, "  ");
	xp_uint(p, "nexthop_cache", "next-hop cache %u slots per CPU", l.nexthop_cache);
	xp_u64(p, "nexthop_cache_bytes", " (%llu bytes charged)", l.nexthop_bytes);
	xp_u64(p, "counters_bytes", ", counters %llu bytes charged\n", l.stats_bytes);
	xp_obj_close(p);
}

void flows_stats(const struct flow_keeper *k, struct xlb *x, struct xp *p)
{
	struct xlb_flow_usage u;

	if (xlb_flow_usage(x, &u)) {
		xp_text(p, "\nflow tables unavailable: %s\n", xlb_errmsg());
		return;
	}
	xp_text(p, "\nFlows\n");
	xp_obj_open(p, "flows");
	table_row(p, "confirmed", u.confirmed, u.confirmed_capacity, u.confirmed_bytes);
	table_row(p, "unconfirmed", u.unconfirmed, u.unconfirmed_capacity, u.unconfirmed_bytes);
	/* Live marks against cells: about the share of new connections that
	 * look the confirmed table up (all of them while the generation is 0). */
	table_row(p, "syn_marks", u.marks_live, u.mark_cells, u.mark_bytes);
	xp_text(p, "  ");
	xp_float(p, "new_per_s", "new %.0f/s", k->new_rate);
	xp_float(p, "confirmed_per_s", ", confirmed %.0f/s", k->confirmed_rate);
	xp_u64(p, "swept", ", swept %llu", k->swept);
	xp_bool(p, "flood", ", flood %s", k->flooding);
	xp_uint(p, "tcp_idle_s", "; idle timeouts: tcp %us", u.tcp_idle_s);
	xp_uint(p, "udp_idle_s", ", udp %us", u.udp_idle_s);
	xp_uint(p, "mark_generation", "; mark generation %u\n", u.mark_gen);
	xp_obj_close(p);
}
