// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Reading the datapath's counters and flow table.
 *
 * xlb_stats is mapped into this process (xlb_stats_map): a counter is the
 * sum of its slot in every CPU's block, read without a system call. Reads
 * race with the datapath harmlessly: every counter is an aligned 64-bit
 * word, so a sum is at worst a few packets behind.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <netinet/in.h>
#include <sys/mman.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xlb_internal.h"

#define FLOW_BATCH 4096 /* entries per batch read of the flow table */

int xlb_stats_map(struct xlb *x)
{
	size_t len = (size_t)x->stats_cpus * XLB_STATS_SLOTS * sizeof(struct xlb_counters);
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, x->fd.stats, 0);

	if (p == MAP_FAILED)
		return xlb_fail(errno, "mapping %s into memory failed: %s", XLB_MAP_STATS,
				strerror(errno));
	x->stats = p;
	x->stats_len = len;
	return 0;
}

void xlb_stats_unmap(struct xlb *x)
{
	if (x->stats)
		munmap(x->stats, x->stats_len);
	x->stats = NULL;
}

static struct xlb_counters *stats_at(const struct xlb *x, int cpu, __u32 slot)
{
	return &x->stats[XLB_STATS_KEY((size_t)cpu, slot)];
}

static void counters_sum(const struct xlb *x, __u32 slot, struct xlb_counters *out)
{
	int cpu;

	memset(out, 0, sizeof(*out));
	for (cpu = 0; cpu < x->stats_cpus; cpu++) {
		out->packets += stats_at(x, cpu, slot)->packets;
		out->bytes += stats_at(x, cpu, slot)->bytes;
	}
}

void xlb_stats_zero(const struct xlb *x, uint32_t slot)
{
	int cpu;

	for (cpu = 0; cpu < x->stats_cpus; cpu++)
		memset(stats_at(x, cpu, slot), 0, sizeof(struct xlb_counters));
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

	if (vip_id >= XLB_MAX_VIPS)
		return xlb_fail(EINVAL, "VIP id %u is out of range (ids go up to %u)", vip_id,
				XLB_MAX_VIPS - 1);
	counters_sum(x, XLB_STATS_VIP(vip_id), out);
	v = vip_by_id(x, vip_id);
	for (i = 0; v && i < v->n_backends; i++) {
		counters_sum(x, XLB_STATS_BACKEND(v->backends[i].id), &be);
		out->packets += be.packets;
		out->bytes += be.bytes;
	}
	return 0;
}

int xlb_backend_counters(const struct xlb *x, uint32_t backend_id, struct xlb_counters *out)
{
	if (backend_id >= XLB_MAX_BACKENDS)
		return xlb_fail(EINVAL, "backend id %u is out of range (ids go up to %u)",
				backend_id, XLB_MAX_BACKENDS - 1);
	counters_sum(x, XLB_STATS_BACKEND(backend_id), out);
	return 0;
}

int xlb_reason_counters(const struct xlb *x, uint64_t out[XLB_R_MAX])
{
	struct xlb_counters c;
	__u32 r;

	for (r = 0; r < XLB_R_MAX; r++) {
		counters_sum(x, XLB_STATS_REASON(r), &c);
		out[r] = c.packets;
	}
	return 0;
}

/* Fold a deleted backend's counters into its VIP's, CPU by CPU, so the VIP's
 * totals do not shrink when a backend leaves. */
void xlb_stats_retire(const struct xlb *x, uint32_t vip_id, uint32_t backend_id)
{
	struct xlb_counters *v, *b;
	int cpu;

	for (cpu = 0; cpu < x->stats_cpus; cpu++) {
		v = stats_at(x, cpu, XLB_STATS_VIP(vip_id));
		b = stats_at(x, cpu, XLB_STATS_BACKEND(backend_id));
		v->packets += b->packets;
		v->bytes += b->bytes;
	}
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
