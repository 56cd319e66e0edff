// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The flow tables from user space: xlb_flows (confirmed connections, a
 * plain hash that nothing evicts) and xlb_flows_new (unconfirmed, an LRU).
 * Reading them (flows per backend, occupancy) and the idle sweep that
 * removes confirmed flows nobody closed: the datapath stamps each confirmed
 * flow with xlb_addr_filter.clock (xlbd's monotonic seconds) once a tick.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>

#include <bpf/bpf.h>

#include "xlb_internal.h"

#define FLOW_BATCH 4096 /* entries per batch read of a flow table */

uint32_t xlb_clock_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)ts.tv_sec;
}

typedef void (*flow_fn)(void *ctx, const struct xlb_flow_key *k, const struct xlb_flow *f);

/* One pass over a flow table in batches. Entries can vanish under the walk
 * (LRU eviction, closes): a batch resumes where the kernel left it. */
static int flows_walk(int fd, flow_fn fn, void *ctx)
{
	struct xlb_flow_key *keys;
	struct xlb_flow *vals;
	__u32 in, out, count, i;
	void *inp = NULL;
	int err;

	keys = calloc(FLOW_BATCH, sizeof(*keys));
	vals = calloc(FLOW_BATCH, sizeof(*vals));
	err = keys && vals ? 0 : -ENOMEM;
	while (!err) {
		count = FLOW_BATCH;
		err = bpf_map_lookup_batch(fd, inp, &out, keys, vals, &count, NULL);
		if (err && err != -ENOENT)
			break;
		for (i = 0; i < count; i++)
			fn(ctx, &keys[i], &vals[i]);
		if (err == -ENOENT) {
			err = 0;
			break;
		}
		in = out;
		inp = &in;
	}
	free(keys);
	free(vals);
	return err;
}

static int walk_or_fail(int fd, const char *name, flow_fn fn, void *ctx)
{
	int err = flows_walk(fd, fn, ctx);

	return err ? xlb_fail(-err, "walking %s failed: %s", name, strerror(-err)) : 0;
}

/* ---- flows per backend ------------------------------------------------ */

struct flow_count {
	const struct xlb_backend *slots; /* every slot of xlb_backends */
	uint32_t *per_backend;
	size_t n;
	uint32_t now_ms; /* the datapath's coarse clock, in its ~ms units */
	uint32_t udp_idle_ms;
};

uint32_t xlb_coarse_ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint32_t)(((uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec) >> 20);
}

/* The datapath still follows the flow (bpf/xlb.bpf.c flow_backend): its
 * slot is in use, up, of the same generation, and a UDP flow has not idled
 * out. */
bool xlb_flow_followed(const struct xlb_backend *b, const struct xlb_flow_key *k,
		       const struct xlb_flow *f, uint32_t now_ms, uint32_t udp_idle_ms)
{
	if (!(b->flags & XLB_BACKEND_F_IN_USE) || (b->flags & XLB_BACKEND_F_DOWN) ||
	    b->gen != f->backend_gen)
		return false;
	return k->proto != IPPROTO_UDP || (uint32_t)(now_ms - f->udp_seen) <= udp_idle_ms;
}

/* A flow counts where the datapath would still follow it. The unconfirmed
 * copy of a confirmed flow is not counted twice. */
static void flow_count_one(void *ctx, const struct xlb_flow_key *k, const struct xlb_flow *f)
{
	struct flow_count *c = ctx;

	if ((f->flags & XLB_FLOW_F_CONFIRMED) && !(f->flags & XLB_FLOW_F_CLOSING))
		return;
	if (f->backend_id >= XLB_MAX_BACKENDS || f->backend_id >= c->n)
		return;
	if (xlb_flow_followed(&c->slots[f->backend_id], k, f, c->now_ms, c->udp_idle_ms))
		c->per_backend[f->backend_id]++;
}

int xlb_flow_counts(const struct xlb *x, uint32_t *per_backend, size_t n)
{
	struct flow_count c = {
		.per_backend = per_backend,
		.n = n,
		.now_ms = xlb_coarse_ms_now(),
		.udp_idle_ms = (uint32_t)(x->udp_idle_ns >> 20),
	};
	struct xlb_backend *slots;
	int err;

	memset(per_backend, 0, n * sizeof(*per_backend));
	slots = calloc(XLB_MAX_BACKENDS, sizeof(*slots));
	if (!slots)
		return xlb_fail(ENOMEM, "out of memory reading %s", XLB_MAP_BACKENDS);
	err = xlb_backend_slots_read(x, slots);
	c.slots = slots;
	if (!err)
		err = walk_or_fail(x->fd.flows, XLB_MAP_FLOWS, flow_count_one, &c);
	if (!err)
		err = walk_or_fail(x->fd.flows_new, XLB_MAP_FLOWS_NEW, flow_count_one, &c);
	if (err)
		memset(per_backend, 0, n * sizeof(*per_backend));
	free(slots);
	return err;
}

/* ---- occupancy ----------------------------------------------------------- */

static void count_entry(void *ctx, const struct xlb_flow_key *k, const struct xlb_flow *f)
{
	(*(uint64_t *)ctx)++;
}

/* What the kernel charges for a map, as /proc shows it for our fd. */
uint64_t xlb_map_memlock(int fd)
{
	char path[64], line[128];
	uint64_t v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %lu", &v) == 1)
			break;
	fclose(f);
	return v;
}

int xlb_flow_usage(const struct xlb *x, struct xlb_flow_usage *u)
{
	int err;

	memset(u, 0, sizeof(*u));
	u->confirmed_capacity = x->flow_entries;
	u->unconfirmed_capacity = x->new_flow_entries;
	u->confirmed_bytes = xlb_map_memlock(x->fd.flows);
	u->unconfirmed_bytes = xlb_map_memlock(x->fd.flows_new);
	u->tcp_idle_s = x->tcp_idle_s;
	u->udp_idle_s = (uint32_t)(x->udp_idle_ns / 1000000000ull);
	err = walk_or_fail(x->fd.flows, XLB_MAP_FLOWS, count_entry, &u->confirmed);
	if (!err)
		err = walk_or_fail(x->fd.flows_new, XLB_MAP_FLOWS_NEW, count_entry, &u->unconfirmed);
	return err;
}

/* ---- the idle sweep -------------------------------------------------------- */

uint64_t xlb_flow_capacity(const struct xlb *x)
{
	return x->flow_entries;
}

/* Closed connections (RST, FIN) keep their entry a short grace for their
 * last packets; idle ones their protocol's timeout. */
static bool flow_idle(const struct xlb *x, const struct xlb_flow_key *k, const struct xlb_flow *f,
		      uint32_t now)
{
	uint32_t limit = k->proto == IPPROTO_UDP ? (uint32_t)(x->udp_idle_ns / 1000000000ull)
						 : x->tcp_idle_s;

	if ((f->flags & XLB_FLOW_F_CLOSING) && limit > XLB_CLOSING_GRACE_S)
		limit = XLB_CLOSING_GRACE_S;

	return (int32_t)(now - f->tick) > (int32_t)limit;
}

/* Up to `budget` confirmed flows from where the last call stopped; deletes
 * those idle past their timeout. A pass over the whole table ends with the
 * cursor back at the start (returns 1 then). */
int xlb_flows_sweep(struct xlb *x, uint32_t budget, uint32_t *removed)
{
	struct xlb_flow_key *keys, *idle;
	struct xlb_flow *vals;
	__u32 count = budget, out, n_idle = 0, i;
	uint32_t now = xlb_clock_now();
	int err, done = 0;

	*removed = 0;
	keys = calloc(budget, sizeof(*keys));
	idle = calloc(budget, sizeof(*idle));
	vals = calloc(budget, sizeof(*vals));
	if (!keys || !idle || !vals) {
		err = xlb_fail(ENOMEM, "out of memory sweeping %s", XLB_MAP_FLOWS);
		goto out;
	}
	err = bpf_map_lookup_batch(x->fd.flows, x->sweep_started ? &x->sweep_cursor : NULL, &out,
				   keys, vals, &count, NULL);
	if (err == -ENOENT) {
		done = 1;
		err = 0;
	}
	if (err) {
		/* The cursor's bucket may be gone: start over next time. */
		x->sweep_started = false;
		err = xlb_fail(-err, "sweeping %s failed: %s", XLB_MAP_FLOWS, strerror(-err));
		goto out;
	}
	for (i = 0; i < count; i++)
		if (flow_idle(x, &keys[i], &vals[i], now))
			idle[n_idle++] = keys[i];
	for (i = 0; i < n_idle; i++)
		if (!bpf_map_delete_elem(x->fd.flows, &idle[i]))
			(*removed)++;
	x->sweep_cursor = out;
	x->sweep_started = !done;
out:
	free(keys);
	free(idle);
	free(vals);
	return err ? err : done;
}
