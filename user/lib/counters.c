// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Reading the datapath's counters and flow table.
 *
 * Per-CPU maps hand back one value per possible CPU (not per online CPU),
 * summed here. Reads race with the datapath harmlessly: every per-CPU value
 * is an aligned 64-bit word, so a sum is at worst a few packets behind.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <netinet/in.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xlb_internal.h"

#define FLOW_BATCH 4096 /* entries per batch read of the flow table */

static int counters_sum(const struct xlb *x, int fd, __u32 key, struct xlb_counters *out)
{
	struct xlb_counters *vals;
	int err, cpu;

	vals = calloc(x->ncpus, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	err = bpf_map_lookup_elem(fd, &key, vals);
	memset(out, 0, sizeof(*out));
	for (cpu = 0; !err && cpu < x->ncpus; cpu++) {
		out->packets += vals[cpu].packets;
		out->bytes += vals[cpu].bytes;
	}
	free(vals);
	return err;
}

static int vip_retired(const struct xlb *x, uint32_t vip_id, struct xlb_counters *out)
{
	return counters_sum(x, x->fd.stats, XLB_STATS_VIP(vip_id), out);
}

static const struct xlb_vip_info *vip_by_id(const struct xlb *x, uint32_t vip_id)
{
	size_t i;

	for (i = 0; i < xlb_vip_count(x); i++)
		if (xlb_vip_at(x, i)->id == vip_id)
			return xlb_vip_at(x, i);
	return NULL;
}

/* The datapath counts backends only; a VIP is its live backends plus what
 * its deleted backends carried (folded in by xlb_stats_retire). */
int xlb_vip_counters(const struct xlb *x, uint32_t vip_id, struct xlb_counters *out)
{
	const struct xlb_vip_info *v;
	struct xlb_counters be;
	size_t i;
	int err;

	if (vip_id >= XLB_MAX_VIPS)
		return xlb_fail(EINVAL, "VIP id %u is out of range (ids go up to %u)", vip_id,
				XLB_MAX_VIPS - 1);
	err = vip_retired(x, vip_id, out);
	v = vip_by_id(x, vip_id);
	for (i = 0; !err && v && i < v->n_backends; i++) {
		err = counters_sum(x, x->fd.stats, XLB_STATS_BACKEND(v->backends[i].id), &be);
		out->packets += be.packets;
		out->bytes += be.bytes;
	}
	if (err)
		return xlb_fail(-err, "reading the counters of VIP id %u failed: %s", vip_id,
				strerror(-err));
	return 0;
}

int xlb_backend_counters(const struct xlb *x, uint32_t backend_id, struct xlb_counters *out)
{
	int err;

	if (backend_id >= XLB_MAX_BACKENDS)
		return xlb_fail(EINVAL, "backend id %u is out of range (ids go up to %u)",
				backend_id, XLB_MAX_BACKENDS - 1);
	err = counters_sum(x, x->fd.stats, XLB_STATS_BACKEND(backend_id), out);
	if (err)
		return xlb_fail(-err, "reading the counters of backend id %u failed: %s",
				backend_id, strerror(-err));
	return 0;
}

int xlb_reason_counters(const struct xlb *x, uint64_t out[XLB_R_MAX])
{
	struct xlb_counters c;
	__u32 r;
	int err;

	for (r = 0; r < XLB_R_MAX; r++) {
		err = counters_sum(x, x->fd.stats, XLB_STATS_REASON(r), &c);
		if (err)
			return xlb_fail(-err, "reading %s[%s] failed: %s", XLB_MAP_STATS,
					xlb_reason_name(r), strerror(-err));
		out[r] = c.packets;
	}
	return 0;
}

/* Fold a deleted backend's counters into its VIP's, CPU by CPU, so the VIP's
 * totals do not shrink when a backend leaves. */
int xlb_stats_retire(const struct xlb *x, uint32_t vip_id, uint32_t backend_id)
{
	__u32 vkey = XLB_STATS_VIP(vip_id), bkey = XLB_STATS_BACKEND(backend_id);
	struct xlb_counters *v, *b;
	int err, cpu;

	v = calloc(x->ncpus, sizeof(*v));
	b = calloc(x->ncpus, sizeof(*b));
	err = v && b ? 0 : -ENOMEM;
	if (!err)
		err = bpf_map_lookup_elem(x->fd.stats, &vkey, v);
	if (!err)
		err = bpf_map_lookup_elem(x->fd.stats, &bkey, b);
	for (cpu = 0; !err && cpu < x->ncpus; cpu++) {
		v[cpu].packets += b[cpu].packets;
		v[cpu].bytes += b[cpu].bytes;
	}
	if (!err)
		err = bpf_map_update_elem(x->fd.stats, &vkey, v, BPF_ANY);
	free(v);
	free(b);
	if (err)
		return xlb_fail(-err, "keeping the counters of deleted backend id %u failed: %s",
				backend_id, strerror(-err));
	return 0;
}

/* Invalidate every cached next hop (struct xlb_nexthop): flows look their
 * next hop up again with their next packet. */
int xlb_nexthop_flush(const struct xlb *x)
{
	struct xlb_addr_filter *f = calloc(1, sizeof(*f));
	__u32 zero = 0;
	int err;

	if (!f)
		return xlb_fail(ENOMEM, "out of memory updating %s", XLB_MAP_ADDR_FILTER);
	err = bpf_map_lookup_elem(x->fd.addr_filter, &zero, f);
	if (!err) {
		f->nexthop_gen++;
		err = bpf_map_update_elem(x->fd.addr_filter, &zero, f, BPF_ANY);
	}
	free(f);
	if (err)
		return xlb_fail(-err, "bumping the next-hop generation in %s failed: %s",
				XLB_MAP_ADDR_FILTER, strerror(-err));
	return 0;
}

/* ---- flows per backend ------------------------------------------------ */

struct flow_count {
	const struct xlb_backend *slots; /* every slot of xlb_backends */
	uint32_t *per_backend;
	size_t n;
	uint64_t now_ns; /* CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns */
	uint64_t udp_idle_ns;
};

/* A flow counts where the datapath would still follow it: its slot is in
 * use, up, of the same generation, and a UDP flow has not idled out. */
static void flow_count_one(struct flow_count *c, const struct xlb_flow_key *k,
			   const struct xlb_flow *f)
{
	const struct xlb_backend *b;

	if (f->kind != XLB_FLOW_FORWARD || f->backend_id >= XLB_MAX_BACKENDS ||
	    f->backend_id >= c->n)
		return;
	b = &c->slots[f->backend_id];
	if (!(b->flags & XLB_BACKEND_F_IN_USE) || (b->flags & XLB_BACKEND_F_DOWN) ||
	    b->gen != f->backend_gen)
		return;
	if (k->proto == IPPROTO_UDP && c->now_ns > f->last_seen_ns &&
	    c->now_ns - f->last_seen_ns > c->udp_idle_ns)
		return;
	c->per_backend[f->backend_id]++;
}

/* One pass over the flow table in batches. Returns 0, or -errno (the caller
 * falls back to walking keys when batches are not available). */
static int flows_walk_batch(const struct xlb *x, struct flow_count *c)
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
		err = bpf_map_lookup_batch(x->fd.flows, inp, &out, keys, vals, &count, NULL);
		if (err && err != -ENOENT)
			break;
		for (i = 0; i < count; i++)
			flow_count_one(c, &keys[i], &vals[i]);
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

/* Entries can vanish under the walk (LRU eviction); get_next_key then
 * starts over, so the walk is bounded by the table's size. */
static int flows_walk_keys(const struct xlb *x, struct flow_count *c)
{
	struct xlb_flow_key key, next;
	struct xlb_flow val;
	void *prev = NULL;
	uint32_t i;
	int err;

	for (i = 0; i < x->flow_entries; i++) {
		err = bpf_map_get_next_key(x->fd.flows, prev, &next);
		if (err == -ENOENT)
			return 0;
		if (err)
			return err;
		key = next;
		prev = &key;
		if (!bpf_map_lookup_elem(x->fd.flows, &key, &val))
			flow_count_one(c, &key, &val);
	}
	return 0;
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int xlb_flow_counts(const struct xlb *x, uint32_t *per_backend, size_t n)
{
	struct flow_count c = {
		.per_backend = per_backend,
		.n = n,
		.now_ns = monotonic_ns(),
		.udp_idle_ns = x->udp_idle_ns,
	};
	struct xlb_backend *slots;
	int err;

	memset(per_backend, 0, n * sizeof(*per_backend));
	slots = calloc(XLB_MAX_BACKENDS, sizeof(*slots));
	if (!slots)
		return xlb_fail(ENOMEM, "out of memory reading %s", XLB_MAP_BACKENDS);
	err = xlb_backend_slots_read(x, slots);
	if (err)
		goto out;
	c.slots = slots;
	err = flows_walk_batch(x, &c);
	if (err) {
		memset(per_backend, 0, n * sizeof(*per_backend));
		err = flows_walk_keys(x, &c);
	}
	if (err)
		err = xlb_fail(-err, "walking %s failed: %s", XLB_MAP_FLOWS, strerror(-err));
out:
	free(slots);
	return err;
}
