// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The address filter (xlb_addr_filter): a bitmap that lets the datapath send
 * foreign traffic on after one array read. Bits are only ever added ahead of
 * the change that needs them and cleared by a full recomputation after a
 * removal, so the datapath never misses a bit it needs; a stale bit only
 * costs a few lookups.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "xlb_internal.h"

static void filter_set(struct xlb_addr_filter *f, const struct xlb_addr *a, __u8 family,
		       __u32 role)
{
	__u32 bit = xlb_filter_bit(a, family, role);

	f->words[bit / 64] |= 1ull << (bit % 64);
}

static int filter_write(const struct xlb *x, const struct xlb_addr_filter *f)
{
	__u32 zero = 0;
	int err = bpf_map_update_elem(x->fd.addr_filter, &zero, f, BPF_ANY);

	if (err)
		return xlb_fail(-err, "writing %s failed: %s", XLB_MAP_ADDR_FILTER, strerror(-err));
	return 0;
}

int xlb_filter_add(const struct xlb *x, const struct xlb_addr *a, __u8 family, __u32 role)
{
	struct xlb_addr_filter *f = calloc(1, sizeof(*f));
	__u32 zero = 0;
	int err;

	if (!f)
		return xlb_fail(ENOMEM, "out of memory updating %s", XLB_MAP_ADDR_FILTER);
	err = bpf_map_lookup_elem(x->fd.addr_filter, &zero, f);
	if (err)
		err = xlb_fail(-err, "reading %s failed: %s", XLB_MAP_ADDR_FILTER, strerror(-err));
	else {
		filter_set(f, a, family, role);
		err = filter_write(x, f);
	}
	free(f);
	return err;
}

/* Replies of nat flows arrive from the backend's address. */
static void filter_fill_vip(struct xlb_addr_filter *f, const struct xlb_vip_info *v)
{
	size_t i;

	filter_set(f, &v->spec.key.addr, v->spec.key.family, XLB_FILTER_VIP);
	if (v->spec.mode != XLB_MODE_NAT)
		return;
	for (i = 0; i < v->n_backends; i++)
		filter_set(f, &v->backends[i].ep.addr, v->backends[i].ep.family,
			   XLB_FILTER_NAT_BACKEND);
}

/* The next-hop generation lives in the same value (one read for the
 * datapath); a recomputation moves it on, which also refreshes cached
 * next hops after a configuration change. */
int xlb_filter_sync(const struct xlb *x)
{
	struct xlb_addr_filter *f = calloc(1, sizeof(*f));
	__u32 zero = 0, gen;
	size_t i;
	int err;

	if (!f)
		return xlb_fail(ENOMEM, "out of memory updating %s", XLB_MAP_ADDR_FILTER);
	err = bpf_map_lookup_elem(x->fd.addr_filter, &zero, f);
	if (err) {
		free(f);
		return xlb_fail(-err, "reading %s failed: %s", XLB_MAP_ADDR_FILTER, strerror(-err));
	}
	gen = f->nexthop_gen + 1;
	memset(f, 0, sizeof(*f));
	f->nexthop_gen = gen;
	for (i = 0; i < xlb_vip_count(x); i++)
		filter_fill_vip(f, xlb_vip_at(x, i));
	err = filter_write(x, f);
	free(f);
	return err;
}
