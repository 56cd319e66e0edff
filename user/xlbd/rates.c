// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdlib.h>
#include <string.h>

#include "rates.h"

/* The last two samples of one counter slot. The slot's owner is recorded
 * because ids are reused: a backend added where another was removed must
 * not get a rate from its predecessor's counters. */
struct slot {
	uint8_t owner[24];
	struct xlb_counters prev, cur;
	uint64_t t_prev, t_cur;
	unsigned int samples; /* since the owner last changed */
};

struct rates {
	struct slot vips[XLB_MAX_VIPS];
	struct slot backends[XLB_MAX_BACKENDS];
};

struct rates *rates_new(void)
{
	return calloc(1, sizeof(struct rates));
}

void rates_free(struct rates *r)
{
	free(r);
}

static void slot_push(struct slot *s, const void *owner, size_t len,
		      const struct xlb_counters *c, uint64_t now)
{
	uint8_t o[sizeof(s->owner)] = { 0 };

	memcpy(o, owner, len < sizeof(o) ? len : sizeof(o));
	if (memcmp(o, s->owner, sizeof(o))) {
		memcpy(s->owner, o, sizeof(o));
		s->samples = 0;
	}
	s->prev = s->cur;
	s->t_prev = s->t_cur;
	s->cur = *c;
	s->t_cur = now;
	s->samples++;
}

static void sample_backends(struct rates *r, const struct xlb *x, const struct xlb_vip_info *v,
			    uint64_t now)
{
	struct {
		uint32_t vip_id;
		struct xlb_endpoint ep;
	} owner;
	struct xlb_counters c;

	for (size_t j = 0; j < v->n_backends; j++) {
		const struct xlb_backend_info *b = &v->backends[j];

		if (b->id >= XLB_MAX_BACKENDS || xlb_backend_counters(x, b->id, &c))
			continue;
		memset(&owner, 0, sizeof(owner));
		owner.vip_id = v->id;
		owner.ep = b->ep;
		slot_push(&r->backends[b->id], &owner, sizeof(owner), &c, now);
	}
}

void rates_sample(struct rates *r, const struct xlb *x, uint64_t now)
{
	struct xlb_counters c;
	size_t n = xlb_vip_count(x);

	for (size_t i = 0; i < n; i++) {
		const struct xlb_vip_info *v = xlb_vip_at(x, i);

		if (v->id < XLB_MAX_VIPS && !xlb_vip_counters(x, v->id, &c))
			slot_push(&r->vips[v->id], &v->spec.key, sizeof(v->spec.key), &c, now);
		sample_backends(r, x, v, now);
	}
}

static struct rate slot_rate(const struct slot *s)
{
	struct rate rt = { 0 };
	double dt;

	if (s->samples < 2 || s->t_cur <= s->t_prev)
		return rt;
	dt = (s->t_cur - s->t_prev) / 1e9;
	rt.valid = true;
	/* Counters only grow; a smaller value means the slot was reset. */
	if (s->cur.packets >= s->prev.packets)
		rt.pps = (s->cur.packets - s->prev.packets) / dt;
	if (s->cur.bytes >= s->prev.bytes)
		rt.bps = (s->cur.bytes - s->prev.bytes) / dt;
	return rt;
}

struct rate rates_vip(const struct rates *r, uint32_t vip_id)
{
	struct rate none = { 0 };

	return vip_id < XLB_MAX_VIPS ? slot_rate(&r->vips[vip_id]) : none;
}

struct rate rates_backend(const struct rates *r, uint32_t backend_id)
{
	struct rate none = { 0 };

	return backend_id < XLB_MAX_BACKENDS ? slot_rate(&r->backends[backend_id]) : none;
}
