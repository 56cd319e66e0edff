// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libxlb's model of the datapath: VIPs and their backends in memory, the
 * ids handed out for them, and the canonical forms every lookup compares.
 * Nothing here writes a map (config.c does, adopt.c reads them back); the
 * model is the one owner of "what VIPs exist", and the snapshot API
 * (xlb_vip_count/at/find) is its only public view.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

/* ---- ids -------------------------------------------------------------- */

int xlb_ids_init(struct xlb_ids *ids, uint32_t size)
{
	ids->bits = calloc((size + 63) / 64, sizeof(*ids->bits));
	ids->size = size;
	return ids->bits ? 0 : -ENOMEM;
}

void xlb_ids_free(struct xlb_ids *ids)
{
	free(ids->bits);
	ids->bits = NULL;
}

void xlb_ids_take(struct xlb_ids *ids, uint32_t id)
{
	ids->bits[id / 64] |= 1ull << (id % 64);
}

void xlb_ids_put(struct xlb_ids *ids, uint32_t id)
{
	ids->bits[id / 64] &= ~(1ull << (id % 64));
}

bool xlb_ids_used(const struct xlb_ids *ids, uint32_t id)
{
	return ids->bits[id / 64] & (1ull << (id % 64));
}

int xlb_ids_alloc(struct xlb_ids *ids, uint32_t *id)
{
	uint32_t w, i;

	for (w = 0; w < (ids->size + 63) / 64; w++) {
		if (ids->bits[w] == ~0ull)
			continue;
		i = w * 64 + __builtin_ctzll(~ids->bits[w]);
		if (i >= ids->size)
			break;
		xlb_ids_take(ids, i);
		*id = i;
		return 0;
	}
	return -ENOSPC;
}

/* ---- keys, endpoints, names ------------------------------------------- */

/* Lookups compare every byte of a key: rebuild addresses so the unused tail
 * of an IPv4 address is zero whatever the caller left there. */
static void addr_canon(const struct xlb_addr *in, __u8 family, struct xlb_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (family == XLB_FAMILY_V4)
		out->v4 = in->v4;
	else
		*out = *in;
}

void vip_key_canon(const struct xlb_vip_key *in, struct xlb_vip_key *out)
{
	memset(out, 0, sizeof(*out));
	addr_canon(&in->addr, in->family, &out->addr);
	out->port = in->port;
	out->proto = in->proto;
	out->family = in->family;
}

/* Port 0 in a request means the VIP's port; the model and the slots always
 * hold the real port, so "ADDR" and "ADDR:VIPPORT" name the same backend. */
void ep_canon(const struct xlb_endpoint *in, const struct xlb_vip_key *vip,
		     struct xlb_endpoint *out)
{
	memset(out, 0, sizeof(*out));
	addr_canon(&in->addr, in->family, &out->addr);
	out->port = in->port ? in->port : vip->port;
	out->family = in->family;
}

static bool ep_equal(const struct xlb_endpoint *a, const struct xlb_endpoint *b)
{
	return a->family == b->family && a->port == b->port &&
	       !memcmp(&a->addr, &b->addr, sizeof(a->addr));
}

bool family_valid(__u8 family)
{
	return family == XLB_FAMILY_V4 || family == XLB_FAMILY_V6;
}

const char *vip_text(const struct xlb_vip_key *key, char buf[XLB_TEXT_LEN])
{
	return xlb_vip_key_str(key, buf, XLB_TEXT_LEN);
}

const char *ep_text(const struct xlb_endpoint *ep, char buf[XLB_TEXT_LEN])
{
	return xlb_endpoint_str(ep, buf, XLB_TEXT_LEN);
}

/* ---- the model -------------------------------------------------------- */

/* While a VIP is replaced (xlb_vip_replace) its key has two entries: the
 * one in xlb_vips is the one callers mean. */
struct xlb_vip_entry *vip_lookup(const struct xlb *x, const struct xlb_vip_key *canon)
{
	struct xlb_vip_entry *hidden = NULL;
	size_t i;

	for (i = 0; i < x->n_vips; i++) {
		if (memcmp(&x->vips[i].info.spec.key, canon, sizeof(*canon)))
			continue;
		if (!x->vips[i].hidden)
			return &x->vips[i];
		hidden = &x->vips[i];
	}
	return hidden;
}

struct xlb_vip_entry *vip_by_id(const struct xlb *x, uint32_t id)
{
	size_t lo = 0, hi = x->n_vips, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (x->vips[mid].val.id == id)
			return &x->vips[mid];
		if (x->vips[mid].val.id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int vip_find(struct xlb *x, const struct xlb_vip_key *key, struct xlb_vip_entry **out)
{
	struct xlb_vip_key canon;
	char vn[XLB_TEXT_LEN];

	vip_key_canon(key, &canon);
	*out = vip_lookup(x, &canon);
	if (!*out)
		return xlb_fail(ENOENT, "VIP %s does not exist (see 'xlbctl vip list')",
				vip_text(&canon, vn));
	return 0;
}

/* Room for one more VIP, taken before any map write so that inserting the
 * VIP into the model afterwards cannot fail. */
int vips_reserve(struct xlb *x)
{
	struct xlb_vip_entry *v;

	v = realloc(x->vips, (x->n_vips + 1) * sizeof(*v));
	if (!v)
		return xlb_fail(ENOMEM, "out of memory for %zu VIPs", x->n_vips + 1);
	x->vips = v;
	return 0;
}

/* Keeps the array sorted by id so the order does not depend on history:
 * a restarted xlbd that adopts the maps lists VIPs as its predecessor did. */
void vip_insert(struct xlb *x, const struct xlb_vip_entry *e)
{
	struct xlb_vip_entry *v = x->vips;
	size_t i;

	for (i = 0; i < x->n_vips && v[i].val.id < e->val.id; i++)
		;
	memmove(&v[i + 1], &v[i], (x->n_vips - i) * sizeof(*v));
	v[i] = *e;
	x->n_vips++;
}

void vip_remove(struct xlb *x, struct xlb_vip_entry *v)
{
	size_t i = v - x->vips;

	free(v->be);
	memmove(&x->vips[i], &x->vips[i + 1], (x->n_vips - i - 1) * sizeof(*v));
	x->n_vips--;
}

void vip_set_backends(struct xlb_vip_entry *v, struct xlb_backend_info *be, size_t n)
{
	free(v->be);
	v->be = be;
	v->info.backends = be;
	v->info.n_backends = n;
}

ssize_t be_index(const struct xlb_vip_entry *v, const struct xlb_endpoint *canon)
{
	size_t i;

	for (i = 0; i < v->info.n_backends; i++)
		if (ep_equal(&v->be[i].ep, canon))
			return i;
	return -1;
}

int be_locate(struct xlb *x, const struct xlb_vip_key *vip,
		     const struct xlb_endpoint *ep, struct xlb_vip_entry **v, size_t *idx)
{
	struct xlb_endpoint canon;
	char vn[XLB_TEXT_LEN], bn[XLB_TEXT_LEN];
	ssize_t i;
	int err;

	err = vip_find(x, vip, v);
	if (err)
		return err;
	ep_canon(ep, &(*v)->info.spec.key, &canon);
	i = be_index(*v, &canon);
	if (i < 0)
		return xlb_fail(ENOENT, "backend %s is not in %s (see 'xlbctl show')",
				ep_text(&canon, bn), vip_text(&(*v)->info.spec.key, vn));
	*idx = i;
	return 0;
}

int xlb_model_init(struct xlb *x)
{
	if (xlb_ids_init(&x->vip_ids, x->max_vips) ||
	    xlb_ids_init(&x->be_ids, x->max_backends))
		return xlb_fail(ENOMEM, "out of memory for the VIP and backend ids");
	return 0;
}

void xlb_model_free(struct xlb *x)
{
	size_t i;

	for (i = 0; i < x->n_vips; i++)
		free(x->vips[i].be);
	free(x->vips);
	x->vips = NULL;
	x->n_vips = 0;
	xlb_ids_free(&x->vip_ids);
	xlb_ids_free(&x->be_ids);
}

/* ---- snapshot --------------------------------------------------------- */

size_t xlb_vip_count(const struct xlb *x)
{
	return x->n_vips;
}

const struct xlb_vip_info *xlb_vip_at(const struct xlb *x, size_t i)
{
	return i < x->n_vips ? &x->vips[i].info : NULL;
}

const struct xlb_vip_info *xlb_vip_find(const struct xlb *x, const struct xlb_vip_key *key)
{
	struct xlb_vip_key canon;
	struct xlb_vip_entry *v;

	vip_key_canon(key, &canon);
	v = vip_lookup(x, &canon);
	return v ? &v->info : NULL;
}
