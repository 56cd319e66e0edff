// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The address filter (xlb_addr_filter): a bitmap that lets the datapath send
 * foreign traffic on after one array read. Bits are only ever added ahead of
 * the change that needs them and cleared by a full recomputation after a
 * removal, so the datapath never misses a bit it needs; a stale bit only
 * costs a few lookups. This file is the only writer of xlb_addr_filter and
 * xlb_nat_ends; it reads the model (struct xlb's vips) and calls nothing
 * of the model's.
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

/* The map's one value, allocated (it is a few KiB), or NULL and xlb_errmsg. */
static struct xlb_addr_filter *filter_read(const struct xlb *x)
{
	struct xlb_addr_filter *f = calloc(1, sizeof(*f));
	__u32 zero = 0;
	int err;

	if (!f) {
		xlb_fail(ENOMEM, "out of memory updating %s", XLB_MAP_ADDR_FILTER);
		return NULL;
	}
	err = bpf_map_lookup_elem(x->fd.addr_filter, &zero, f);
	if (err) {
		free(f);
		xlb_fail(-err, "reading %s failed: %s", XLB_MAP_ADDR_FILTER, strerror(-err));
		return NULL;
	}
	return f;
}

int xlb_filter_add(const struct xlb *x, const struct xlb_addr *a, __u8 family, __u32 role)
{
	struct xlb_addr_filter *f = filter_read(x);
	int err;

	if (!f)
		return -EIO;
	filter_set(f, a, family, role);
	err = filter_write(x, f);
	free(f);
	return err;
}

/* Invalidate every cached next hop (struct xlb_nexthop): flows look their
 * next hop up again with their next packet. The datapath's clock (flow ages
 * for the idle sweep) moves with it. */
int xlb_nexthop_flush(const struct xlb *x)
{
	struct xlb_addr_filter *f = filter_read(x);
	int err;

	if (!f)
		return -EIO;
	f->nexthop_gen++;
	f->clock = xlb_clock_now();
	err = filter_write(x, f);
	free(f);
	return err;
}

int xlb_mark_gen_get(const struct xlb *x, __u32 *gen)
{
	struct xlb_addr_filter *f = filter_read(x);

	if (!f)
		return -EIO;
	*gen = f->mark_gen;
	free(f);
	return 0;
}

int xlb_mark_gen_set(const struct xlb *x, __u32 gen)
{
	struct xlb_addr_filter *f = filter_read(x);
	int err;

	if (!f)
		return -EIO;
	f->mark_gen = gen;
	err = filter_write(x, f);
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

static int nat_ends_sync(const struct xlb *x);

/* The next-hop generation lives in the same value (one read for the
 * datapath); a recomputation moves it on, which also refreshes cached
 * next hops after a configuration change. */
int xlb_filter_sync(const struct xlb *x)
{
	struct xlb_addr_filter *f = filter_read(x);
	__u32 gen, clock, mark_gen;
	size_t i;
	int err;

	if (!f)
		return -EIO;
	gen = f->nexthop_gen + 1;
	clock = f->clock;
	mark_gen = f->mark_gen;
	memset(f, 0, sizeof(*f));
	f->nexthop_gen = gen;
	f->clock = clock;
	f->mark_gen = mark_gen;
	for (i = 0; i < x->n_vips; i++)
		filter_fill_vip(f, &x->vips[i].info);
	err = filter_write(x, f);
	free(f);
	return err ? err : nat_ends_sync(x);
}

/* ---- nat ends: where a nat backend's replies go back to ------------------ */

static void nat_end_key(struct xlb_vip_key *k, const struct xlb_vip_entry *v,
			const struct xlb_endpoint *ep)
{
	memset(k, 0, sizeof(*k));
	k->addr = ep->addr;
	k->port = ep->port;
	k->proto = v->info.spec.key.proto;
	k->family = ep->family;
}

/* Add v to e unless it is there. -ENOSPC when e is full. */
static int nat_end_put(struct xlb_nat_end *e, const struct xlb_vip_key *vip)
{
	__u32 i;

	for (i = 0; i < e->n_vips; i++)
		if (!memcmp(&e->vips[i].addr, &vip->addr, sizeof(vip->addr)) &&
		    e->vips[i].port == vip->port)
			return 0;
	if (e->n_vips == XLB_NAT_END_VIPS)
		return -ENOSPC;
	e->vips[e->n_vips].addr = vip->addr;
	e->vips[e->n_vips].port = vip->port;
	e->n_vips++;
	return 0;
}

static int nat_end_full(const struct xlb_vip_key *k)
{
	struct xlb_endpoint ep = { .addr = k->addr, .port = k->port, .family = k->family };
	char a[XLB_TEXT_LEN];

	xlb_endpoint_str(&ep, a, sizeof(a));
	return xlb_fail(ENOSPC, "backend %s already serves %u nat VIPs, a fixed limit (see "
			"docs/operations.md, Sizing): give it another port for this VIP, "
			"or use dsr or tunnel mode",
			a, XLB_NAT_END_VIPS);
}

/* Ahead of the first flow to a new nat backend: its replies must find
 * their VIP. */
int xlb_nat_end_add(const struct xlb *x, const struct xlb_vip_entry *v,
		    const struct xlb_endpoint *ep)
{
	struct xlb_nat_end e = {};
	struct xlb_vip_key k;
	int err;

	if (v->info.spec.mode != XLB_MODE_NAT)
		return 0;
	nat_end_key(&k, v, ep);
	if (bpf_map_lookup_elem(x->fd.nat_ends, &k, &e))
		memset(&e, 0, sizeof(e));
	if (nat_end_put(&e, &v->info.spec.key))
		return nat_end_full(&k);
	err = bpf_map_update_elem(x->fd.nat_ends, &k, &e, BPF_ANY);
	if (err)
		return xlb_fail(-err, "writing %s failed: %s", XLB_MAP_NAT_ENDS, strerror(-err));
	return 0;
}

struct nat_ends {
	struct xlb_vip_key *keys;
	struct xlb_nat_end *vals;
	size_t n;
};

static struct xlb_nat_end *nat_ends_find(struct nat_ends *s, const struct xlb_vip_key *k)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (!memcmp(&s->keys[i], k, sizeof(*k)))
			return &s->vals[i];
	return NULL;
}

/* What xlb_nat_ends must hold: every backend of every nat VIP. */
static int nat_ends_build(const struct xlb *x, struct nat_ends *s)
{
	size_t i, j, cap = 0;
	struct xlb_nat_end *e;
	struct xlb_vip_key k;

	for (i = 0; i < x->n_vips; i++)
		cap += x->vips[i].info.n_backends;
	s->keys = calloc(cap ? cap : 1, sizeof(*s->keys));
	s->vals = calloc(cap ? cap : 1, sizeof(*s->vals));
	if (!s->keys || !s->vals)
		return xlb_fail(ENOMEM, "out of memory updating %s", XLB_MAP_NAT_ENDS);
	for (i = 0; i < x->n_vips; i++) {
		const struct xlb_vip_entry *v = &x->vips[i];

		if (v->info.spec.mode != XLB_MODE_NAT)
			continue;
		for (j = 0; j < v->info.n_backends; j++) {
			nat_end_key(&k, v, &v->be[j].ep);
			e = nat_ends_find(s, &k);
			if (!e) {
				s->keys[s->n] = k;
				e = &s->vals[s->n++];
			}
			if (nat_end_put(e, &v->info.spec.key))
				return nat_end_full(&k);
		}
	}
	return 0;
}

/* Write what the model says, then remove what it no longer has. */
static int nat_ends_sync(const struct xlb *x)
{
	struct nat_ends s = {};
	struct xlb_vip_key key, next, *prev = NULL;
	size_t i;
	int err = nat_ends_build(x, &s);

	for (i = 0; !err && i < s.n; i++)
		err = bpf_map_update_elem(x->fd.nat_ends, &s.keys[i], &s.vals[i], BPF_ANY);
	while (!err && !bpf_map_get_next_key(x->fd.nat_ends, prev, &next)) {
		key = next;
		if (!nat_ends_find(&s, &key) && !bpf_map_delete_elem(x->fd.nat_ends, &key))
			continue; /* deleted: the walk goes on from the same place */
		prev = &key;
	}
	if (err > 0 || (err < 0 && !*xlb_errmsg()))
		err = xlb_fail(-err, "writing %s failed: %s", XLB_MAP_NAT_ENDS, strerror(-err));
	free(s.keys);
	free(s.vals);
	return err;
}
