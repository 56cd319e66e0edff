// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Reading the datapath's counters.
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

int xlb_stats_map(struct xlb *x)
{
	size_t len = (size_t)x->stats_entries * sizeof(struct xlb_counters);
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
	if (slot >= XLB_STATS_STRIDE)
		return &x->stats[XLB_STATS_VIP_KEY((size_t)x->stats_cpus, (size_t)x->max_vips,
						    (size_t)cpu, slot - XLB_STATS_STRIDE)];
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

	for (i = 0; i < x->n_vips; i++)
		if (x->vips[i].info.id == vip_id)
			return &x->vips[i].info;
	return NULL;
}

/* The datapath counts backends only; a VIP is its live backends plus what
 * its deleted backends carried (folded in by xlb_stats_retire). */
int xlb_vip_counters(const struct xlb *x, uint32_t vip_id, struct xlb_counters *out)
{
	const struct xlb_vip_info *v;
	struct xlb_counters be;
	size_t i;

	if (vip_id >= x->max_vips)
		return xlb_fail(EINVAL, "VIP id %u is out of range (ids go up to %u)", vip_id,
				x->max_vips - 1);
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
	if (backend_id >= x->max_backends)
		return xlb_fail(EINVAL, "backend id %u is out of range (ids go up to %u)",
				backend_id, x->max_backends - 1);
	counters_sum(x, XLB_STATS_BACKEND(backend_id), out);
	return 0;
}

/* xlb_reasons is not memory-mapped (see XLB_REASON_KEY): one batch read of
 * every CPU's block. */
int xlb_reason_counters(const struct xlb *x, uint64_t out[XLB_R_MAX])
{
	__u32 n = XLB_REASON_ENTRIES((__u32)x->stats_cpus), count = n, next, r;
	__u32 *keys = calloc(n, sizeof(*keys));
	__u64 *vals = calloc(n, sizeof(*vals));
	int err = 0, cpu;

	if (!keys || !vals) {
		err = xlb_fail(ENOMEM, "reading %s: out of memory", XLB_MAP_REASONS);
		goto out;
	}
	if (bpf_map_lookup_batch(x->fd.reasons, NULL, &next, keys, vals, &count, NULL) &&
	    errno != ENOENT) {
		err = xlb_fail(errno, "reading %s failed: %s", XLB_MAP_REASONS, strerror(errno));
		goto out;
	}
	memset(out, 0, sizeof(uint64_t) * XLB_R_MAX);
	for (cpu = 0; cpu < x->stats_cpus; cpu++)
		for (r = 0; r < XLB_R_MAX; r++)
			if (XLB_REASON_KEY((__u32)cpu, r) < count)
				out[r] += vals[XLB_REASON_KEY((__u32)cpu, r)];
out:
	free(keys);
	free(vals);
	return err;
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
