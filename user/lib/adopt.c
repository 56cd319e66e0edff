// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Adoption: the model rebuilt from maps that outlived a previous xlbd, and
 * what an interrupted change left behind repaired (orphaned slots, VIP
 * address counts, tables behind their slots). Reads the maps, writes only
 * through config.c's primitives (writes.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>

#include <bpf/bpf.h>

#include "writes.h"

static int adopt_refuse(const struct xlb *x, const char *what, const struct xlb_vip_key *key)
{
	char vn[XLB_TEXT_LEN];

	return xlb_fail(EPROTO, "the pinned %s %s under %s is invalid: run 'xlbd --detach' to "
			"remove the pins (drops established flows), then start again",
			what, vip_text(key, vn), x->pin_root);
}

static bool vip_value_sane(const struct xlb_vip_key *key, const struct xlb_vip *val)
{
	struct xlb_vip_key canon;

	vip_key_canon(key, &canon);
	return !memcmp(&canon, key, sizeof(canon)) && key->port &&
	       (key->proto == IPPROTO_TCP || key->proto == IPPROTO_UDP) &&
	       family_valid(key->family) && val->id < XLB_MAX_VIPS &&
	       val->table_slot / 2 == val->id && val->sched < XLB_SCHED_MAX &&
	       val->mode < XLB_MODE_MAX && xlb_ring_valid(val->ring_size);
}

static int adopt_vip(struct xlb *x, const struct xlb_vip_key *key, const struct xlb_vip *val)
{
	struct xlb_vip_entry e = {};
	int err;

	if (!vip_value_sane(key, val) || val->id >= x->max_vips ||
	    xlb_ids_used(&x->vip_ids, val->id))
		return adopt_refuse(x, "VIP", key);
	e.info.spec.key = *key;
	e.info.spec.sched = val->sched;
	e.info.spec.mode = val->mode;
	e.info.spec.ring_size = val->ring_size;
	e.info.spec.encap = val->encap;
	e.info.spec.gue_port = ntohs(val->gue_port);
	e.info.id = val->id;
	e.val = *val;
	err = vips_reserve(x);
	if (err)
		return err;
	vip_insert(x, &e);
	xlb_ids_take(&x->vip_ids, val->id);
	return 0;
}

static int adopt_vips(struct xlb *x)
{
	struct xlb_vip_key key, next;
	struct xlb_vip val;
	void *prev = NULL;
	int err;

	for (;;) {
		err = bpf_map_get_next_key(x->fd.vips, prev, &next);
		if (err == -ENOENT)
			return 0;
		if (err)
			return xlb_fail(-err, "walking %s failed: %s", XLB_MAP_VIPS,
					strerror(-err));
		key = next;
		prev = &key;
		err = bpf_map_lookup_elem(x->fd.vips, &key, &val);
		if (err)
			return xlb_fail(-err, "reading %s failed: %s", XLB_MAP_VIPS,
					strerror(-err));
		err = adopt_vip(x, &key, &val);
		if (err)
			return err;
	}
}

static int be_append(struct xlb_vip_entry *v, const struct xlb_backend *slot, uint32_t id)
{
	struct xlb_backend_info *be, *b;

	be = realloc(v->be, (v->info.n_backends + 1) * sizeof(*be));
	if (!be)
		return xlb_fail(ENOMEM, "out of memory adopting backend slot %u", id);
	b = &be[v->info.n_backends];
	memset(b, 0, sizeof(*b));
	b->ep.addr = slot->addr;
	b->ep.port = slot->port;
	b->ep.family = slot->family;
	b->weight = slot->weight;
	b->drain = slot->flags & XLB_BACKEND_F_DRAIN;
	b->down = slot->flags & XLB_BACKEND_F_DOWN;
	b->id = id;
	v->be = be;
	v->info.backends = be;
	v->info.n_backends++;
	return 0;
}

/* A slot in use whose VIP is gone was being freed when the previous xlbd
 * stopped (vip del frees the slots after deleting the VIP): finish that. */
static int adopt_orphan(const struct xlb *x, uint32_t id, const struct xlb_backend *slot)
{
	struct xlb_backend val;
	int err;

	slot_freed(slot, &val);
	err = slot_write(x, id, &val);
	if (err)
		return xlb_fail(-err, "freeing orphaned %s[%u] failed: %s", XLB_MAP_BACKENDS, id,
				strerror(-err));
	return 0;
}

/* A slot whose backend its VIP could not have (another family outside a
 * tunnel, say) was not written for it: freed like an orphan. */
static bool slot_fits(const struct xlb_vip_entry *v, const struct xlb_backend *slot)
{
	struct xlb_endpoint ep = { .addr = slot->addr, .port = slot->port,
				   .family = slot->family };

	return family_valid(ep.family) && !xlb_backend_fits(&v->info.spec, &ep);
}

static int adopt_backends(struct xlb *x)
{
	struct xlb_backend *slots;
	struct xlb_vip_entry *v;
	uint32_t id;
	int err;

	slots = calloc(XLB_MAX_BACKENDS, sizeof(*slots));
	if (!slots)
		return xlb_fail(ENOMEM, "out of memory reading %s", XLB_MAP_BACKENDS);
	err = xlb_backend_slots_read(x, slots);
	for (id = 0; !err && id < x->max_backends; id++) {
		if (!(slots[id].flags & XLB_BACKEND_F_IN_USE))
			continue;
		v = vip_by_id(x, slots[id].vip_id);
		if (!v || !slot_fits(v, &slots[id])) {
			err = adopt_orphan(x, id, &slots[id]);
			continue;
		}
		err = be_append(v, &slots[id], id);
		if (!err)
			xlb_ids_take(&x->be_ids, id);
	}
	free(slots);
	return err;
}

static __u32 vip_addr_users(const struct xlb *x, const struct xlb_vip_key *a)
{
	struct xlb_vip_key k;
	__u32 n = 0;
	size_t i;

	for (i = 0; i < x->n_vips; i++) {
		k = vip_addr_key(&x->vips[i].info.spec.key);
		n += !memcmp(&k, a, sizeof(k));
	}
	return n;
}

/* A VIP add or del interrupted between its writes leaves a count off by
 * one: recount from the adopted VIPs. */
static int repair_vip_addrs(const struct xlb *x)
{
	struct xlb_vip_key *keys, cur, k;
	void *prev = NULL;
	size_t n = 0, i;
	__u32 cnt;
	int err = 0;

	keys = calloc(XLB_MAX_VIPS, sizeof(*keys));
	if (!keys)
		return xlb_fail(ENOMEM, "out of memory reading %s", XLB_MAP_VIP_ADDRS);
	while (n < x->max_vips && !bpf_map_get_next_key(x->fd.vip_addrs, prev, &keys[n])) {
		cur = keys[n++];
		prev = &cur;
	}
	for (i = 0; !err && i < n; i++)
		if (!vip_addr_users(x, &keys[i]))
			err = bpf_map_delete_elem(x->fd.vip_addrs, &keys[i]);
	for (i = 0; !err && i < x->n_vips; i++) {
		k = vip_addr_key(&x->vips[i].info.spec.key);
		cnt = vip_addr_users(x, &k);
		err = bpf_map_update_elem(x->fd.vip_addrs, &k, &cnt, BPF_ANY);
	}
	free(keys);
	if (err)
		return xlb_fail(-err, "repairing %s failed: %s", XLB_MAP_VIP_ADDRS, strerror(-err));
	return 0;
}

/* The table a VIP points at, read back from its map into *ids (malloc'ed,
 * v->val.table_size entries; NULL when the VIP has no table). -ENOENT: the
 * map is gone. */
static int live_table_read(const struct xlb *x, const struct xlb_vip_entry *v, uint32_t **ids)
{
	__u32 slot = v->val.table_slot, map_id;
	uint32_t *live;
	int fd, err;

	*ids = NULL;
	if (!v->val.table_size)
		return 0;
	err = bpf_map_lookup_elem(x->fd.tables, &slot, &map_id);
	if (err)
		return err;
	fd = bpf_map_get_fd_by_id(map_id);
	if (fd < 0)
		return fd;
	live = malloc((size_t)v->val.table_size * sizeof(*live));
	err = live ? array_read(fd, v->val.table_size, live, sizeof(*live)) : -ENOMEM;
	close(fd);
	if (err)
		free(live);
	else
		*ids = live;
	return err;
}

/* Whether the table a VIP points at holds exactly t. */
static int table_live_equal(const struct xlb *x, const struct xlb_vip_entry *v,
			    const struct table *t, bool *equal)
{
	uint32_t *live;
	int err;

	*equal = v->val.table_size == t->size;
	if (!*equal || !t->size)
		return 0;
	*equal = false;
	err = live_table_read(x, v, &live);
	if (err)
		return err == -ENOENT ? 0 : err;
	*equal = !memcmp(live, t->ids, (size_t)t->size * sizeof(*live));
	free(live);
	return 0;
}

int xlb_vip_table_digest(const struct xlb *x, const struct xlb_vip_key *key, uint64_t *digest)
{
	const struct xlb_vip_entry *v;
	struct xlb_table_member *m;
	struct xlb_vip_key canon;
	char vn[XLB_TEXT_LEN];
	uint32_t *live;
	size_t i, n;
	int err;

	vip_key_canon(key, &canon);
	v = vip_lookup(x, &canon);
	if (!v)
		return xlb_fail(ENOENT, "no VIP %s", vip_text(key, vn));
	err = live_table_read(x, v, &live);
	if (err)
		return xlb_fail(-err, "reading the live table of %s: %s", vip_text(key, vn),
				strerror(-err));
	n = v->info.n_backends;
	m = calloc(n ? n : 1, sizeof(*m));
	err = m ? 0 : xlb_fail(ENOMEM, "out of memory");
	for (i = 0; m && i < n; i++) {
		m[i].id = v->be[i].id;
		m[i].ep = v->be[i].ep;
	}
	if (!err)
		err = xlb_table_digest(live, v->val.table_size, m, n, digest);
	free(m);
	free(live);
	return err;
}

/*
 * A change interrupted between its slot write and its table switch leaves
 * the table behind the slots. Rebuild each table from the adopted model and
 * switch only where it differs: the build is deterministic, so normally
 * nothing changes and established flows are never touched anyway.
 */
static int repair_table(struct xlb *x, struct xlb_vip_entry *v)
{
	struct table_plan plan = { .fd = -1 };
	struct table t;
	bool equal;
	int err;

	err = table_build(&v->info.spec, v->be, v->info.n_backends, &t);
	if (err)
		return err;
	err = table_live_equal(x, v, &t, &equal);
	if (err)
		err = xlb_fail(-err, "reading the live table of VIP id %u failed: %s", v->val.id,
			       strerror(-err));
	if (!err && !equal) {
		err = table_prepare(v, &t, &plan);
		if (!err)
			err = table_publish(x, v, &v->info.spec, &plan);
		table_plan_release(&plan);
	}
	free(t.ids);
	return err;
}

int xlb_model_adopt(struct xlb *x)
{
	size_t i;
	int err;

	err = adopt_vips(x);
	if (!err)
		err = adopt_backends(x);
	if (!err)
		err = repair_vip_addrs(x);
	for (i = 0; !err && i < x->n_vips; i++)
		err = repair_table(x, &x->vips[i]);
	if (!err)
		err = xlb_filter_sync(x);
	return err;
}
