// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The flow tables from user space: xlb_flows (confirmed connections, a
 * plain hash that nothing evicts) and xlb_flows_new (unconfirmed, sets of
 * slots that new flows take over).
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

typedef void (*batch_fn)(void *ctx, const void *key, const void *val);

/* One pass over a map in batches. Entries can vanish under the walk
 * (closes, the sweep): a batch resumes where the kernel left it. */
static int batch_walk(int fd, size_t key_size, size_t val_size, batch_fn fn, void *ctx)
{
	__u32 in, out, count, i;
	void *inp = NULL, *keys, *vals;
	int err;

	keys = calloc(FLOW_BATCH, key_size);
	vals = calloc(FLOW_BATCH, val_size);
	err = keys && vals ? 0 : -ENOMEM;
	while (!err) {
		count = FLOW_BATCH;
		err = bpf_map_lookup_batch(fd, inp, &out, keys, vals, &count, NULL);
		if (err && err != -ENOENT)
			break;
		for (i = 0; i < count; i++)
			fn(ctx, (char *)keys + i * key_size, (char *)vals + i * val_size);
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

struct flow_walk {
	xlb_flow_fn fn;
	void *ctx;
};

static void confirmed_one(void *ctx, const void *key, const void *val)
{
	struct flow_walk *w = ctx;

	w->fn(w->ctx, key, val);
}

/* A slot's flow without what its backend's entry holds (address, port,
 * next hop): the walks count and copy, and need none of it. */
static void slot_one(void *ctx, const void *key, const void *val)
{
	const struct xlb_flow_slot *s = val;
	struct flow_walk *w = ctx;
	struct xlb_flow f = {};

	if (!s->key.family)
		return;
	xlb_flow_slot_unpack(s, &f);
	w->fn(w->ctx, &s->key, &f);
}

int xlb_flows_walk_fd(int fd, xlb_flow_fn fn, void *ctx)
{
	struct flow_walk w = { fn, ctx };

	return batch_walk(fd, sizeof(struct xlb_flow_key), sizeof(struct xlb_flow), confirmed_one,
			  &w);
}

int xlb_pending_walk_fd(int fd, xlb_flow_fn fn, void *ctx)
{
	struct flow_walk w = { fn, ctx };

	return batch_walk(fd, sizeof(__u32), sizeof(struct xlb_flow_slot), slot_one, &w);
}

/* ---- the unconfirmed table's sets (bpf/pending.h) ------------------------ */

static __u32 pending_set_mask(uint32_t entries)
{
	return entries / XLB_FLOWS_NEW_WAYS - 1;
}

static int slot_read(int fd, __u32 idx, struct xlb_flow_slot *s)
{
	int err = bpf_map_lookup_elem(fd, &idx, s);

	return err ? xlb_fail(-err, "reading %s failed: %s", XLB_MAP_FLOWS_NEW, strerror(-err)) : 0;
}

/* The slot's flow as the datapath reads it: with the backend's address and
 * port from its entry (nat, dsr), while that entry is the flow's. */
static void slot_flow(const struct xlb *x, const struct xlb_flow_slot *s, struct xlb_flow *f)
{
	__u32 id = s->backend_id;
	struct xlb_backend b;

	memset(f, 0, sizeof(*f));
	xlb_flow_slot_unpack(s, f);
	if (s->mode == XLB_MODE_TUNNEL || bpf_map_lookup_elem(x->fd.backends, &id, &b) ||
	    b.gen != s->backend_gen)
		return;
	f->backend_addr = b.addr;
	f->backend_port = b.port;
}

int xlb_flow_pending_get(const struct xlb *x, const struct xlb_flow_key *k, struct xlb_flow *f)
{
	__u32 hash = xlb_hash_flow(k), way;
	struct xlb_flow_slot s;
	int err;

	for (way = 0; way < XLB_FLOWS_NEW_WAYS; way++) {
		err = slot_read(x->fd.flows_new,
				xlb_flow_slot_index(hash, pending_set_mask(x->new_flow_entries), way),
				&s);
		if (err)
			return err;
		if (!memcmp(&s.key, k, sizeof(*k))) {
			slot_flow(x, &s, f);
			return 0;
		}
	}
	return -ENOENT;
}

/* From user space (a resize copies pending flows over): the first way of
 * the set not holding a live flow. -ENOSPC when both do. */
int xlb_pending_put_fd(int fd, uint32_t entries, const struct xlb_flow_key *k,
		       const struct xlb_flow *f)
{
	__u32 way, idx, hash = xlb_hash_flow(k);
	struct xlb_flow_slot s = {}, cur;
	int err;

	xlb_flow_slot_pack(&s, k, f);
	for (way = 0; way < XLB_FLOWS_NEW_WAYS; way++) {
		idx = xlb_flow_slot_index(hash, pending_set_mask(entries), way);
		err = slot_read(fd, idx, &cur);
		if (err)
			return err;
		if (xlb_flow_slot_live(&cur))
			continue;
		err = bpf_map_update_elem(fd, &idx, &s, BPF_ANY);
		return err ? xlb_fail(-err, "writing %s failed: %s", XLB_MAP_FLOWS_NEW,
				      strerror(-err))
			   : 0;
	}
	return -ENOSPC;
}

static int walk_or_fail(const struct xlb *x, bool pending, xlb_flow_fn fn, void *ctx)
{
	int err = pending ? xlb_pending_walk_fd(x->fd.flows_new, fn, ctx)
			  : xlb_flows_walk_fd(x->fd.flows, fn, ctx);

	return err ? xlb_fail(-err, "walking %s failed: %s",
			      pending ? XLB_MAP_FLOWS_NEW : XLB_MAP_FLOWS, strerror(-err))
		   : 0;
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
		err = walk_or_fail(x, false, flow_count_one, &c);
	if (!err)
		err = walk_or_fail(x, true, flow_count_one, &c);
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

/* A pending slot counts while its flow waits for confirmation (the copy
 * of a confirmed or closing flow is free for the next insert). */
static void count_pending(void *ctx, const struct xlb_flow_key *k, const struct xlb_flow *f)
{
	if (!(f->flags & (XLB_FLOW_F_CONFIRMED | XLB_FLOW_F_CLOSING)))
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
	u->mark_cells = x->mark_cells;
	u->mark_bytes = xlb_map_memlock(x->fd.marks);
	err = xlb_mark_gen_get(x, &u->mark_gen);
	if (!err)
		u->marks_live = xlb_marks_live(x, u->mark_gen);
	if (!err)
		err = walk_or_fail(x, false, count_entry, &u->confirmed);
	if (!err)
		err = walk_or_fail(x, true, count_pending, &u->unconfirmed);
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

/* A pass over the whole table has marked every flow it kept: the marks
 * move on a generation (and are on from now, if they were not yet). */
static int marks_pass_done(const struct xlb *x, __u32 gen)
{
	__u32 next = xlb_flow_mark_next(gen);

	xlb_marks_prune(x, next);
	return xlb_mark_gen_set(x, next);
}

/* Up to `budget` confirmed flows from where the last call stopped; deletes
 * those idle past their timeout and marks the others (xlb_flow_marks). A
 * pass over the whole table ends with the cursor back at the start
 * (returns 1 then). */
int xlb_flows_sweep(struct xlb *x, uint32_t budget, uint32_t *removed)
{
	struct xlb_flow_key *keys, *idle;
	struct xlb_flow *vals;
	__u32 count = budget, out, n_idle = 0, i, gen = 0;
	uint32_t now = xlb_clock_now();
	int err, done = 0;

	*removed = 0;
	/* A pass marks with the generation it started in: the one it moves
	 * on from at its end. */
	if (!x->sweep_started && xlb_mark_gen_get(x, &x->sweep_gen))
		return -EIO;
	gen = x->sweep_gen;
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
		else
			xlb_mark_put(x, &keys[i], gen);
	for (i = 0; i < n_idle; i++)
		if (!bpf_map_delete_elem(x->fd.flows, &idle[i]))
			(*removed)++;
	x->sweep_cursor = out;
	x->sweep_started = !done;
	if (done)
		err = marks_pass_done(x, gen);
out:
	free(keys);
	free(idle);
	free(vals);
	return err ? err : done;
}
