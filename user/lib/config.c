// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The map writes that follow libxlb's model (model.c): VIPs and backends
 * changed in the maps, then in the model.
 *
 * xlbd is the only writer of the maps, so the model in memory mirrors them
 * and is read back only when a new xlbd adopts pinned maps. Every change is
 * prepared completely (validated, table built, inner map filled) before its
 * first visible map write; the visible writes are ordered so a packet never
 * meets a table that names a slot which is not ready, and a failure undoes
 * the writes already made, so nothing is left half-applied.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "keywords.h"
#include "writes.h"

/* ---- table inputs ------------------------------------------------------ */

static bool be_schedulable(const struct xlb_backend_info *b)
{
	return b->weight > 0 && !b->drain && !b->down;
}

/* Some turn-taking schedulers (rr) give every member one turn whatever
 * its weight. */
static uint32_t member_weight(const struct xlb_vip_spec *spec, const struct xlb_backend_info *b)
{
	return xlb_sched_def(spec->sched)->equal_turns ? 1 : b->weight;
}

/* ---- small map writes ------------------------------------------------- */

static int slot_read(const struct xlb *x, uint32_t id, struct xlb_backend *out)
{
	return bpf_map_lookup_elem(x->fd.backends, &id, out);
}

/* Established nat/dsr flows skip the backend's entry while its epoch stands
 * (struct xlb_backend_epochs): every write of the entry moves it, after
 * the write, so a flow that reads the epoch and then the entry never pairs
 * a new epoch with an old entry. The entry carries the epoch it moves to,
 * for new flows (which read the entry anyway). */
int slot_write(const struct xlb *x, uint32_t id, const struct xlb_backend *val)
{
	struct xlb_backend_epochs *e = malloc(sizeof(*e));
	struct xlb_backend entry = *val;
	__u32 zero = 0;
	int err;

	if (!e)
		return -ENOMEM;
	/* The next hop the datapath cached may be for an old address. */
	memset(&entry.route, 0, sizeof(entry.route));
	err = bpf_map_lookup_elem(x->fd.backend_epochs, &zero, e);
	if (!err) {
		entry.epoch = e->epoch[id % XLB_MAX_BACKENDS] + 1;
		err = bpf_map_update_elem(x->fd.backends, &id, &entry, BPF_ANY);
	}
	if (!err) {
		e->epoch[id % XLB_MAX_BACKENDS] = entry.epoch;
		err = bpf_map_update_elem(x->fd.backend_epochs, &zero, e, BPF_ANY);
	}
	free(e);
	return err;
}

static void slot_in_use(const struct xlb_vip_entry *v, const struct xlb_backend_info *b,
			__u32 gen, struct xlb_backend *out)
{
	memset(out, 0, sizeof(*out));
	out->addr = b->ep.addr;
	out->port = b->ep.port;
	out->family = b->ep.family;
	out->flags = XLB_BACKEND_F_IN_USE | (b->drain ? XLB_BACKEND_F_DRAIN : 0) |
		     (b->down ? XLB_BACKEND_F_DOWN : 0);
	out->vip_id = v->val.id;
	out->gen = gen;
	out->weight = b->weight;
}

/* A freed slot keeps its generation: flows still naming it must not match
 * the next backend to take the slot, which gets gen + 1. */
void slot_freed(const struct xlb_backend *old, struct xlb_backend *out)
{
	memset(out, 0, sizeof(*out));
	out->gen = old->gen;
}

/* xlb_vip_addrs counts the VIPs on each address, so the last VIP to leave
 * an address removes it without scanning the others. */
struct xlb_vip_key vip_addr_key(const struct xlb_vip_key *vip)
{
	struct xlb_vip_key k = {};

	k.addr = vip->addr;
	k.family = vip->family;
	return k;
}

static int vip_addr_ref(const struct xlb *x, const struct xlb_vip_key *vip, int delta)
{
	struct xlb_vip_key akey = vip_addr_key(vip);
	const struct xlb_vip_key *key = &akey;
	__u32 n = 0;
	int err;

	err = bpf_map_lookup_elem(x->fd.vip_addrs, key, &n);
	if (err && err != -ENOENT)
		return err;
	if (err)
		n = 0;
	if ((int64_t)n + delta <= 0) {
		err = bpf_map_delete_elem(x->fd.vip_addrs, key);
		return err == -ENOENT ? 0 : err;
	}
	n += delta;
	return bpf_map_update_elem(x->fd.vip_addrs, key, &n, BPF_ANY);
}

/* A VIP id's per-VIP state starts clean: the previous VIP with this id may
 * have left counters, a turn counter and tables behind. None of it is seen
 * by packets until the VIP is inserted. */
static int vip_id_reset(const struct xlb *x, uint32_t id)
{
	struct xlb_vip_state st = {};
	__u32 slot;
	int err, i;

	xlb_stats_zero(x, XLB_STATS_VIP(id));
	err = bpf_map_update_elem(x->fd.vip_state, &id, &st, BPF_ANY);
	for (i = 0; !err && i < 2; i++) {
		slot = 2 * id + i;
		err = bpf_map_delete_elem(x->fd.tables, &slot);
		if (err == -ENOENT)
			err = 0;
	}
	return err;
}

/* Dropping the outer slots frees the tables; nothing reads them once the
 * VIP is gone, and vip_id_reset would clear them anyway. */
static void vip_tables_drop(const struct xlb *x, uint32_t id)
{
	__u32 slot;

	slot = 2 * id;
	bpf_map_delete_elem(x->fd.tables, &slot);
	slot = 2 * id + 1;
	bpf_map_delete_elem(x->fd.tables, &slot);
}

/* Read entries 0..n-1 of an array map: one batch call where the kernel has
 * it, one lookup per entry otherwise. */
int array_read(int fd, uint32_t n, void *vals, size_t value_size)
{
	__u32 *keys, count = n, out_batch = 0, i;
	bool ok;
	int err;

	keys = calloc(n, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	err = bpf_map_lookup_batch(fd, NULL, &out_batch, keys, vals, &count, NULL);
	ok = (!err || err == -ENOENT) && count == n;
	for (i = 0; ok && i < n; i++)
		ok = keys[i] == i;
	free(keys);
	if (ok)
		return 0;
	for (i = 0; i < n; i++) {
		err = bpf_map_lookup_elem(fd, &i, (char *)vals + (size_t)i * value_size);
		if (err)
			return err;
	}
	return 0;
}

int xlb_backend_slots_read(const struct xlb *x, struct xlb_backend *slots)
{
	int err = array_read(x->fd.backends, x->max_backends, slots, sizeof(*slots));

	if (err)
		return xlb_fail(-err, "reading %s failed: %s", XLB_MAP_BACKENDS, strerror(-err));
	return 0;
}

/* ---- tables ----------------------------------------------------------- */

static size_t table_members(const struct xlb_vip_spec *spec, const struct xlb_backend_info *be,
			    size_t n, struct xlb_table_member *out)
{
	size_t i, m = 0;

	for (i = 0; i < n; i++) {
		if (!be_schedulable(&be[i]))
			continue;
		out[m].id = be[i].id;
		out[m].weight = member_weight(spec, &be[i]);
		out[m].ep = be[i].ep;
		m++;
	}
	return m;
}

static int table_fill(const struct xlb_vip_spec *spec, const struct xlb_table_member *m,
		      size_t n, struct table *t)
{
	uint32_t cap = xlb_sched_uses_ring(spec->sched) ? spec->ring_size : XLB_WRR_SEQ_MAX;
	int ret;

	t->ids = malloc((size_t)cap * sizeof(*t->ids));
	if (!t->ids)
		return xlb_fail(ENOMEM, "out of memory for a table of %u entries", cap);
	if (xlb_sched_uses_ring(spec->sched)) {
		ret = xlb_maglev_build(m, n, t->ids, cap);
		t->size = cap;
	} else {
		ret = xlb_turns_build(m, n, t->ids, cap);
		t->size = ret > 0 ? ret : 0;
	}
	if (ret < 0) {
		free(t->ids);
		t->ids = NULL;
		t->size = 0;
		return xlb_fail_vip(ret, "building the table of", &spec->key);
	}
	return 0;
}

/* The table a VIP with this spec and these backends has. Pure: no map is
 * touched, so a failure here leaves everything as it was. */
int table_build(const struct xlb_vip_spec *spec, const struct xlb_backend_info *be,
		       size_t n, struct table *t)
{
	struct xlb_table_member *m;
	size_t nm;
	int err;

	t->ids = NULL;
	t->size = 0;
	m = calloc(n ? n : 1, sizeof(*m));
	if (!m)
		return xlb_fail(ENOMEM, "out of memory for %zu table members", n);
	nm = table_members(spec, be, n, m);
	err = nm ? table_fill(spec, m, nm, t) : 0;
	free(m);
	return err;
}

static int table_map_fill(int fd, const struct table *t)
{
	__u32 *keys, count = t->size, i;
	int err;

	keys = malloc((size_t)t->size * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (i = 0; i < t->size; i++)
		keys[i] = i;
	err = bpf_map_update_batch(fd, keys, t->ids, &count, NULL);
	free(keys);
	if (!err)
		return 0;
	/* Kernels before 5.6 have no batch updates for arrays. */
	for (i = 0; i < t->size; i++) {
		err = bpf_map_update_elem(fd, &i, &t->ids[i], BPF_ANY);
		if (err)
			return err;
	}
	return 0;
}

/*
 * A new inner array for one VIP's table, filled and frozen before anything
 * can see it. It must carry BPF_F_INNER_MAP like the template in maps.h: the
 * outer map only takes inner maps whose flags equal the template's, and the
 * flag is what lets their sizes differ.
 */
static int table_map_create(const struct xlb_vip_entry *v, const struct table *t)
{
	LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = BPF_F_INNER_MAP);
	char name[BPF_OBJ_NAME_LEN], vn[XLB_TEXT_LEN];
	int fd, err;

	snprintf(name, sizeof(name), "xlb_tbl%u", v->val.id);
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, name, sizeof(__u32), sizeof(__u32), t->size, &mo);
	if (fd < 0)
		return xlb_fail(-fd, "creating the table map of %s (%u entries) failed: %s",
				vip_text(&v->info.spec.key, vn), t->size, strerror(-fd));
	err = table_map_fill(fd, t);
	if (!err)
		err = bpf_map_freeze(fd);
	if (err) {
		close(fd);
		return xlb_fail(-err, "filling the table map of %s failed: %s",
				vip_text(&v->info.spec.key, vn), strerror(-err));
	}
	return fd;
}

int table_prepare(const struct xlb_vip_entry *v, const struct table *t,
			 struct table_plan *p)
{
	p->change = true;
	p->size = t->size;
	p->fd = -1;
	if (!t->size)
		return 0;
	p->fd = table_map_create(v, t);
	return p->fd < 0 ? p->fd : 0;
}

void table_plan_release(struct table_plan *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

/* Whether two configurations give the same table, without building either:
 * the same scheduler (and ring, where it matters) over the same members. */
static bool table_inputs_equal(const struct xlb_vip_spec *sa, const struct xlb_backend_info *a,
			       size_t na, const struct xlb_vip_spec *sb,
			       const struct xlb_backend_info *b, size_t nb)
{
	size_t i = 0, j = 0;

	if (sa->sched != sb->sched)
		return false;
	if (xlb_sched_uses_ring(sa->sched) && sa->ring_size != sb->ring_size)
		return false;
	for (;;) {
		while (i < na && !be_schedulable(&a[i]))
			i++;
		while (j < nb && !be_schedulable(&b[j]))
			j++;
		if (i == na || j == nb)
			return i == na && j == nb;
		if (a[i].id != b[j].id || member_weight(sa, &a[i]) != member_weight(sb, &b[j]))
			return false;
		i++;
		j++;
	}
}

/* Prepare the table a VIP would have after a change, if it differs. */
static int table_plan(const struct xlb_vip_entry *v, const struct xlb_vip_spec *spec,
		      const struct xlb_backend_info *be, size_t n, struct table_plan *p)
{
	struct table t;
	int err;

	p->change = false;
	p->fd = -1;
	p->size = 0;
	if (table_inputs_equal(&v->info.spec, v->be, v->info.n_backends, spec, be, n))
		return 0;
	err = table_build(spec, be, n, &t);
	if (!err)
		err = table_prepare(v, &t, p);
	free(t.ids);
	return err;
}

/*
 * The atomic switch. The new table goes into the slot the VIP does not use,
 * then ONE update of the VIP's value moves packets to it together with the
 * table's size (and scheduler), so a packet sees the whole old table or the
 * whole new one. The old slot keeps its table until the next change, for
 * packets that read the old value just before the switch.
 */
int table_publish(const struct xlb *x, struct xlb_vip_entry *v,
			 const struct xlb_vip_spec *spec, const struct table_plan *p)
{
	struct xlb_vip val = v->val;
	char vn[XLB_TEXT_LEN];
	__u32 slot;
	int err;

	val.sched = spec->sched;
	val.ring_size = spec->ring_size;
	if (p->change)
		val.table_size = p->size;
	if (p->change && p->size) {
		slot = v->val.table_slot ^ 1;
		err = bpf_map_update_elem(x->fd.tables, &slot, &p->fd, BPF_ANY);
		if (err)
			return xlb_fail(-err, "installing the new table of %s in %s[%u] failed: %s",
					vip_text(&v->info.spec.key, vn), XLB_MAP_TABLES, slot,
					strerror(-err));
		val.table_slot = slot;
	}
	/* A VIP being created is not in xlb_vips yet: its value goes in whole
	 * when it is published. */
	err = v->hidden ? 0 : bpf_map_update_elem(x->fd.vips, &v->info.spec.key, &val, BPF_EXIST);
	if (err)
		return xlb_fail(-err, "switching %s to its new table failed: %s",
				vip_text(&v->info.spec.key, vn), strerror(-err));
	v->val = val;
	return 0;
}

/* Undo table_publish: the old table is still in its slot. */
static int table_unpublish(const struct xlb *x, struct xlb_vip_entry *v, const struct xlb_vip *old)
{
	int err = v->hidden ? 0 : bpf_map_update_elem(x->fd.vips, &v->info.spec.key, old, BPF_EXIST);

	if (!err)
		v->val = *old;
	return err;
}

/* ---- backend changes -------------------------------------------------- */

/*
 * Every change of a VIP's backends, one or a thousand, goes through one
 * vip_change: its spec and backend list after the change and each slot
 * write that gets it there, prepared before the first visible write. A
 * change builds and publishes at most one table, which is what makes a
 * converge of a thousand backends cost one Maglev build, not a thousand.
 */

enum be_op {
	BE_ADD,
	BE_DEL,
	BE_SET,
};

/* One slot write of a change, with the value it replaces for the undo. */
struct slot_change {
	uint32_t id;
	enum be_op op;
	bool late; /* after the table switch (see chg_commit) */
	struct xlb_backend val;
	struct xlb_backend old;
};

struct vip_change {
	struct xlb_vip_entry *v;
	struct xlb_vip_spec spec; /* the VIP's after the change */
	struct xlb_backend_info *next; /* its backends after, sorted by slot id */
	size_t n_next;
	struct slot_change *slots;
	size_t n_slots;
	uint32_t *taken; /* ids taken for new backends: given back on failure */
	size_t n_taken;
	struct table_plan plan;
	bool committed; /* the model holds next and the taken ids */
};

/* Room for a change of a VIP that has n_cur backends towards n_want. */
static int chg_init(struct vip_change *c, struct xlb_vip_entry *v,
		    const struct xlb_vip_spec *spec, size_t n_cur, size_t n_want)
{
	memset(c, 0, sizeof(*c));
	c->v = v;
	c->spec = *spec;
	c->plan.fd = -1;
	c->next = calloc(n_want + 1, sizeof(*c->next));
	c->slots = calloc(n_cur + n_want + 1, sizeof(*c->slots));
	c->taken = calloc(n_want + 1, sizeof(*c->taken));
	if (c->next && c->slots && c->taken)
		return 0;
	return xlb_fail(ENOMEM, "out of memory for a change of %zu backends", n_cur + n_want);
}

static void chg_release(struct xlb *x, struct vip_change *c)
{
	size_t i;

	for (i = 0; !c->committed && i < c->n_taken; i++)
		xlb_ids_put(&x->be_ids, c->taken[i]);
	table_plan_release(&c->plan);
	if (!c->committed)
		free(c->next);
	free(c->slots);
	free(c->taken);
}

/* Queue the write of b's slot. Its current value gives the generation (a
 * new backend's is one past the last user's) and is the undo. */
static int chg_slot(const struct xlb *x, struct vip_change *c, enum be_op op,
		    const struct xlb_backend_info *b, bool late)
{
	struct slot_change *s = &c->slots[c->n_slots];
	int err = slot_read(x, b->id, &s->old);

	if (err)
		return xlb_fail(-err, "reading %s[%u] failed: %s", XLB_MAP_BACKENDS, b->id,
				strerror(-err));
	s->id = b->id;
	s->op = op;
	s->late = late;
	if (op == BE_DEL)
		slot_freed(&s->old, &s->val);
	else
		slot_in_use(c->v, b, op == BE_ADD ? s->old.gen + 1 : s->old.gen, &s->val);
	c->n_slots++;
	return 0;
}

/* Put back the slots of one side written before index end, newest first. */
static void slots_undo(const struct xlb *x, const struct vip_change *c, bool late, size_t end)
{
	while (end--)
		if (c->slots[end].late == late)
			slot_write(x, c->slots[end].id, &c->slots[end].old);
}

/* Write the slots of one side of the table switch: all of them or none. */
static int slots_write(const struct xlb *x, const struct vip_change *c, bool late)
{
	size_t i;
	int err;

	for (i = 0; i < c->n_slots; i++) {
		if (c->slots[i].late != late)
			continue;
		err = slot_write(x, c->slots[i].id, &c->slots[i].val);
		if (err) {
			slots_undo(x, c, late, i);
			return xlb_fail(-err, "writing %s[%u] failed: %s", XLB_MAP_BACKENDS,
					c->slots[i].id, strerror(-err));
		}
	}
	return 0;
}

/* The VIP's value changes with a new table, and with a new scheduler or
 * ring size even where the table stays (rr ignores the ring). */
static bool chg_publishes(const struct vip_change *c)
{
	const struct xlb_vip_spec *now = &c->v->info.spec;

	return c->plan.change || now->sched != c->spec.sched ||
	       now->ring_size != c->spec.ring_size;
}

/*
 * The visible writes, in an order the datapath can live with at every
 * instant: slots of new and changed backends first, so no table names a
 * slot that is not ready; then the one table switch; then the slots of
 * backends that left (or went down), so a flow rescheduled off them cannot
 * land on them again through the old table. A failure undoes in reverse.
 */
static int chg_commit(const struct xlb *x, struct vip_change *c)
{
	struct xlb_vip prev = c->v->val;
	bool publish = chg_publishes(c);
	int err;

	err = slots_write(x, c, false);
	if (err)
		return err;
	if (publish) {
		err = table_publish(x, c->v, &c->spec, &c->plan);
		if (err)
			goto undo_early;
	}
	err = slots_write(x, c, true);
	if (!err)
		return 0;
	/* While the new table stays published, the slots it names stay too. */
	if (publish && table_unpublish(x, c->v, &prev))
		return err;
undo_early:
	slots_undo(x, c, false, c->n_slots);
	return err;
}

/* The model follows the committed change. */
static int chg_finish(struct xlb *x, struct vip_change *c)
{
	bool removed = false;
	size_t i;

	for (i = 0; i < c->n_slots; i++) {
		if (c->slots[i].op != BE_DEL)
			continue;
		xlb_ids_put(&x->be_ids, c->slots[i].id);
		xlb_stats_retire(x, c->v->val.id, c->slots[i].id);
		removed = true;
	}
	c->v->info.spec = c->spec;
	vip_set_backends(c->v, c->next, c->n_next);
	c->committed = true;
	return removed ? xlb_filter_sync(x) : 0;
}

/* Prepare, write, then follow in the model. The caller releases c. */
static int chg_run(struct xlb *x, struct vip_change *c)
{
	size_t i;
	int err;

	err = table_plan(c->v, &c->spec, c->next, c->n_next, &c->plan);
	if (err)
		return err;
	for (i = 0; i < c->n_slots; i++)
		if (c->slots[i].op == BE_ADD)
			xlb_stats_zero(x, XLB_STATS_BACKEND(c->slots[i].id));
	err = chg_commit(x, c);
	return err ? err : chg_finish(x, c);
}

/* ---- one backend -------------------------------------------------------- */

/* The VIP's backend list after one change, still sorted by slot id. */
static void be_list_after(const struct xlb_vip_entry *v, enum be_op op, size_t idx,
			  const struct xlb_backend_info *nb, struct xlb_backend_info *out,
			  size_t *n_out)
{
	size_t n = v->info.n_backends, i, j = 0;

	for (i = 0; i < n; i++) {
		if (op == BE_ADD && j == i && v->be[i].id > nb->id)
			out[j++] = *nb;
		if (op == BE_DEL && i == idx)
			continue;
		out[j++] = op == BE_SET && i == idx ? *nb : v->be[i];
	}
	if (op == BE_ADD && j == n)
		out[j++] = *nb;
	*n_out = j;
}

/* Apply one backend change: a vip_change of one slot. */
static int be_apply(struct xlb *x, struct xlb_vip_entry *v, enum be_op op, size_t idx,
		    const struct xlb_backend_info *nb)
{
	const struct xlb_backend_info *b = op == BE_DEL ? &v->be[idx] : nb;
	bool late = op == BE_DEL || (op == BE_SET && nb->down && !v->be[idx].down);
	struct vip_change c;
	int err;

	err = chg_init(&c, v, &v->info.spec, 1, v->info.n_backends + 1);
	if (!err) {
		be_list_after(v, op, idx, nb, c.next, &c.n_next);
		err = chg_slot(x, &c, op, b, late);
	}
	if (!err)
		err = chg_run(x, &c);
	chg_release(x, &c);
	return err;
}

static int weight_check(const struct xlb_endpoint *ep, uint32_t weight)
{
	char bn[XLB_TEXT_LEN];

	if (weight > XLB_MAX_WEIGHT)
		return xlb_fail(EINVAL, "backend %s: weight %u is above the maximum of %u",
				ep_text(ep, bn), weight, XLB_MAX_WEIGHT);
	return 0;
}

int xlb_backend_fits(const struct xlb_vip_spec *vip, const struct xlb_endpoint *ep)
{
	const struct xlb_vip_key *key = &vip->key;
	const char *mode = xlb_mode_name(vip->mode);
	char vn[XLB_TEXT_LEN], bn[XLB_TEXT_LEN];
	uint16_t port = ep->port ? ep->port : key->port;

	vip_text(key, vn);
	ep_text(ep, bn);
	/* Only a tunnel carries one family inside the other. */
	if (ep->family != key->family && vip->mode != XLB_MODE_TUNNEL)
		return xlb_fail(EAFNOSUPPORT,
				"backend %s is IPv%u but VIP %s is IPv%u: mode %s does not change "
				"the address family; use an IPv%u backend",
				bn, ep->family, vn, key->family, mode, key->family);
	/* dsr and tunnel leave the inner packet's ports alone. */
	if (vip->mode != XLB_MODE_NAT && port != key->port)
		return xlb_fail(EINVAL,
				"backend %s: mode %s needs the backend port to equal the VIP "
				"port %u (the backend answers from the VIP's address and port); "
				"leave the port out or use mode nat",
				bn, mode, ntohs(key->port));
	return 0;
}

/* What can be wrong with a backend for this VIP, whether new or not. */
static int be_check(const struct xlb_vip_entry *v, const struct xlb_endpoint *in,
		    uint32_t weight, struct xlb_endpoint *ep)
{
	if (!family_valid(in->family))
		return xlb_fail(EINVAL, "backend address family %u is neither IPv4 nor IPv6",
				in->family);
	ep_canon(in, &v->info.spec.key, ep);
	if (weight_check(ep, weight))
		return -EINVAL;
	return xlb_backend_fits(&v->info.spec, ep);
}

/* Everything that can be wrong with a new backend, checked before any write. */
static int be_check_new(const struct xlb_vip_entry *v, const struct xlb_endpoint *in,
			uint32_t weight, struct xlb_endpoint *ep)
{
	char vn[XLB_TEXT_LEN], bn[XLB_TEXT_LEN];
	int err = be_check(v, in, weight, ep);

	if (!err && be_index(v, ep) >= 0)
		return xlb_fail(EEXIST, "backend %s already exists in %s", ep_text(ep, bn),
				vip_text(&v->info.spec.key, vn));
	return err;
}

static int be_take_id(struct xlb *x, uint32_t *id)
{
	if (xlb_ids_alloc(&x->be_ids, id))
		return xlb_fail(ENOSPC, "no free backend slot: all %u are in use (xlbd "
				"--max-backends); delete unused backends, or restart xlbd with a "
				"larger --max-backends (see docs/operations.md, Sizing)",
				x->max_backends);
	return 0;
}

/* A nat backend's replies must pass the filter before any flow goes to it. */
static int be_filter_add(const struct xlb *x, const struct xlb_vip_entry *v,
			 const struct xlb_endpoint *ep)
{
	int err;

	if (v->info.spec.mode != XLB_MODE_NAT)
		return 0;
	err = xlb_nat_end_add(x, v, ep);
	return err ? err : xlb_filter_add(x, &ep->addr, ep->family, XLB_FILTER_NAT_BACKEND);
}

int xlb_backend_add(struct xlb *x, const struct xlb_vip_key *vip, const struct xlb_endpoint *ep,
		    uint32_t weight)
{
	struct xlb_backend_info nb = {};
	struct xlb_vip_entry *v;
	int err;

	err = vip_find(x, vip, &v);
	if (!err)
		err = be_check_new(v, ep, weight, &nb.ep);
	if (!err)
		err = be_take_id(x, &nb.id);
	if (err)
		return err;
	nb.weight = weight;
	err = be_filter_add(x, v, &nb.ep);
	if (!err)
		err = be_apply(x, v, BE_ADD, 0, &nb);
	if (err)
		xlb_ids_put(&x->be_ids, nb.id);
	return err;
}

int xlb_backend_del(struct xlb *x, const struct xlb_vip_key *vip, const struct xlb_endpoint *ep)
{
	struct xlb_vip_entry *v;
	size_t idx;
	int err;

	err = be_locate(x, vip, ep, &v, &idx);
	return err ? err : be_apply(x, v, BE_DEL, idx, NULL);
}

/* Which property of a backend a set call changes. */
enum be_field {
	BF_WEIGHT,
	BF_DRAIN,
	BF_DOWN,
};

static int be_set(struct xlb *x, const struct xlb_vip_key *vip, const struct xlb_endpoint *ep,
		  enum be_field field, uint32_t value)
{
	struct xlb_backend_info nb;
	struct xlb_vip_entry *v;
	size_t idx;
	int err;

	err = be_locate(x, vip, ep, &v, &idx);
	if (err)
		return err;
	nb = v->be[idx];
	if (field == BF_WEIGHT && weight_check(&nb.ep, value))
		return -EINVAL;
	if (field == BF_WEIGHT)
		nb.weight = value;
	else if (field == BF_DRAIN)
		nb.drain = value;
	else
		nb.down = value;
	if (nb.weight == v->be[idx].weight && nb.drain == v->be[idx].drain &&
	    nb.down == v->be[idx].down)
		return 0;
	return be_apply(x, v, BE_SET, idx, &nb);
}

int xlb_backend_set_weight(struct xlb *x, const struct xlb_vip_key *vip,
			   const struct xlb_endpoint *ep, uint32_t weight)
{
	return be_set(x, vip, ep, BF_WEIGHT, weight);
}

int xlb_backend_set_drain(struct xlb *x, const struct xlb_vip_key *vip,
			  const struct xlb_endpoint *ep, bool drain)
{
	return be_set(x, vip, ep, BF_DRAIN, drain);
}

int xlb_backend_set_down(struct xlb *x, const struct xlb_vip_key *vip,
			 const struct xlb_endpoint *ep, bool down)
{
	return be_set(x, vip, ep, BF_DOWN, down);
}

/* ---- VIPs ------------------------------------------------------------- */

static int ring_check(const struct xlb_vip_key *key, uint32_t ring)
{
	int err = xlb_ring_check(ring);

	return err ? xlb_fail_vip(err, "VIP", key) : 0;
}

static int vip_key_check(const struct xlb_vip_key *key)
{
	char vn[XLB_TEXT_LEN];

	if (key->proto != IPPROTO_TCP && key->proto != IPPROTO_UDP)
		return xlb_fail(EINVAL, "VIP protocol %u is neither tcp nor udp", key->proto);
	if (!family_valid(key->family))
		return xlb_fail(EINVAL, "VIP address family %u is neither IPv4 nor IPv6",
				key->family);
	if (!key->port)
		return xlb_fail(EINVAL, "VIP %s has port 0: give the port clients connect to",
				vip_text(key, vn));
	return 0;
}

/* A libxlb caller's enum value must be one the keyword table names. */
static int keyword_check(const struct xlb_keywords *k, unsigned int value)
{
	char names[XLB_MSG_LEN];

	if (xlb_keyword_row(k, (int)value))
		return 0;
	return xlb_fail(EINVAL, "%s %u is not one of %s", k->what, value,
			xlb_keyword_list(k, ", ", names, sizeof(names)));
}

/* A complete, canonical spec (defaults filled in) or an error. */
static int vip_spec_check(const struct xlb_vip_spec *in, struct xlb_vip_spec *out)
{
	int err;

	memset(out, 0, sizeof(*out));
	vip_key_canon(&in->key, &out->key);
	out->sched = in->sched;
	out->mode = in->mode;
	out->ring_size = in->ring_size ? in->ring_size : XLB_RING_DEFAULT;
	err = vip_key_check(&out->key);
	if (err)
		return err;
	err = keyword_check(&xlb_sched_words, in->sched);
	if (!err)
		err = keyword_check(&xlb_mode_words, in->mode);
	if (!err && in->mode == XLB_MODE_TUNNEL)
		err = keyword_check(&xlb_encap_words, in->encap);
	if (err)
		return err;
	if (in->mode == XLB_MODE_TUNNEL) {
		out->encap = in->encap;
		if (in->encap == XLB_ENCAP_GUE)
			out->gue_port = in->gue_port ? in->gue_port : XLB_GUE_PORT_DEFAULT;
	}
	return ring_check(&out->key, out->ring_size);
}

/* Everything a new VIP needs but its entry in xlb_vips: it goes into the
 * model hidden, so packets cannot find it while its backends are set up. */
static int vip_prepare(struct xlb *x, const struct xlb_vip_spec *spec, bool replace,
		       uint32_t *out_id)
{
	struct xlb_vip_entry e = { .hidden = true };
	char vn[XLB_TEXT_LEN];
	uint32_t id;
	int err;

	err = vip_spec_check(spec, &e.info.spec);
	if (err)
		return err;
	vip_text(&e.info.spec.key, vn);
	if (!replace && vip_lookup(x, &e.info.spec.key))
		return xlb_fail(EEXIST, "VIP %s already exists (change it with 'vip set', or "
				"delete it first)", vn);
	err = vips_reserve(x);
	if (err)
		return err;
	if (xlb_ids_alloc(&x->vip_ids, &id))
		return xlb_fail(ENOSPC, "no free VIP id: all %u VIPs are in use (xlbd --max-vips); "
				"delete a VIP, or restart xlbd with a larger --max-vips (see "
				"docs/operations.md, Sizing)", x->max_vips);
	e.info.id = id;
	e.val = (struct xlb_vip){
		.id = id,
		.table_slot = 2 * id,
		.ring_size = e.info.spec.ring_size,
		.sched = e.info.spec.sched,
		.mode = e.info.spec.mode,
		.encap = e.info.spec.encap,
		.gue_port = htons(e.info.spec.gue_port),
	};
	err = vip_id_reset(x, id);
	if (!err)
		err = xlb_filter_add(x, &e.info.spec.key.addr, e.info.spec.key.family,
				     XLB_FILTER_VIP);
	if (!err)
		err = vip_addr_ref(x, &e.info.spec.key, +1);
	if (err) {
		xlb_ids_put(&x->vip_ids, id);
		return xlb_fail(-err, "preparing the maps for VIP %s failed: %s", vn,
				strerror(-err));
	}
	vip_insert(x, &e);
	*out_id = id;
	return 0;
}

/* The one write of xlb_vips that makes v the VIP packets find, with the
 * table and backends it was given while hidden: an insert for a new VIP, a
 * switch in one update for a replaced one. */
static int vip_publish(const struct xlb *x, struct xlb_vip_entry *v, bool replace)
{
	char vn[XLB_TEXT_LEN];
	int err;

	err = bpf_map_update_elem(x->fd.vips, &v->info.spec.key, &v->val,
				  replace ? BPF_EXIST : BPF_NOEXIST);
	if (err)
		return xlb_fail(-err, "%s VIP %s in %s failed: %s",
				replace ? "switching" : "inserting",
				vip_text(&v->info.spec.key, vn), XLB_MAP_VIPS, strerror(-err));
	v->hidden = false;
	return 0;
}

static int vip_apply(struct xlb *x, struct xlb_vip_entry *v, const struct xlb_vip_spec *spec,
		     const struct xlb_backend_spec *be, size_t n);
static int vip_drop(struct xlb *x, struct xlb_vip_entry *v);

/* A VIP built whole while hidden, then published in one write; on failure
 * nothing of it is left. Returns its id in *id. */
static int vip_build(struct xlb *x, const struct xlb_vip_spec *spec,
		     const struct xlb_backend_spec *be, size_t n, bool replace, uint32_t *id)
{
	char why[XLB_MSG_LEN];
	int err = vip_prepare(x, spec, replace, id);

	if (err)
		return err;
	if (n)
		err = vip_apply(x, vip_by_id(x, *id), spec, be, n);
	if (!err)
		err = vip_publish(x, vip_by_id(x, *id), replace);
	if (err) {
		snprintf(why, sizeof(why), "%s", xlb_errmsg());
		vip_drop(x, vip_by_id(x, *id));
		xlb_fail(-err, "%s", why);
	}
	return err;
}

int xlb_vip_create(struct xlb *x, const struct xlb_vip_spec *spec,
		   const struct xlb_backend_spec *be, size_t n)
{
	uint32_t id;

	return vip_build(x, spec, be, n, false, &id);
}

int xlb_vip_add(struct xlb *x, const struct xlb_vip_spec *spec)
{
	return xlb_vip_create(x, spec, NULL, 0);
}

/*
 * Mode and encapsulation are what a VIP's backend slots were written for,
 * so a change of them is a new VIP under a new id: built hidden beside the
 * old one, switched to in the one update of its xlb_vips entry, and only
 * then is the old one freed. A packet (or a crash) finds the VIP wholly old
 * or wholly new, never absent; flows to the old slots are rescheduled
 * because those slots are freed.
 */
int xlb_vip_replace(struct xlb *x, const struct xlb_vip_spec *spec,
		    const struct xlb_backend_spec *be, size_t n)
{
	struct xlb_vip_entry *old;
	uint32_t old_id, id;
	int err;

	err = vip_find(x, &spec->key, &old);
	if (err)
		return err;
	old_id = old->val.id;
	err = vip_build(x, spec, be, n, true, &id);
	if (err)
		return err;
	/* Out of xlb_vips already: vip_drop must not delete the new value. */
	old = vip_by_id(x, old_id);
	old->hidden = true;
	err = vip_drop(x, old);
	if (err)
		return xlb_fail_vip(err, "the new VIP is in place, but freeing the old state of",
				    &spec->key);
	return 0;
}

/* The spec a VIP can move to without being re-created: scheduler and ring. */
static int vip_spec_next(const struct xlb_vip_entry *v, const struct xlb_vip_spec *spec,
			 struct xlb_vip_spec *next)
{
	char vn[XLB_TEXT_LEN];
	int err;

	if (spec->mode != v->info.spec.mode)
		return xlb_fail(EINVAL, "the mode of VIP %s cannot change (it is %s): delete the "
				"VIP and add it again (drops its flows)",
				vip_text(&v->info.spec.key, vn), xlb_mode_name(v->info.spec.mode));
	err = vip_spec_check(spec, next);
	if (err)
		return err;
	/* Like the mode, the encapsulation is part of what the backends were
	 * set up for: it changes only by re-adding the VIP. */
	next->encap = v->info.spec.encap;
	next->gue_port = v->info.spec.gue_port;
	return 0;
}

int xlb_vip_set(struct xlb *x, const struct xlb_vip_spec *spec)
{
	struct table_plan plan = { .fd = -1 };
	struct xlb_vip_spec next;
	struct xlb_vip_entry *v;
	int err;

	err = vip_find(x, &spec->key, &v);
	if (!err)
		err = vip_spec_next(v, spec, &next);
	if (err)
		return err;
	if (next.sched == v->info.spec.sched && next.ring_size == v->info.spec.ring_size)
		return 0;
	err = table_plan(v, &next, v->be, v->info.n_backends, &plan);
	if (!err)
		err = table_publish(x, v, &next, &plan);
	if (!err)
		v->info.spec = next;
	table_plan_release(&plan);
	return err;
}

/* ---- a whole VIP at once ------------------------------------------------ */

/* An endpoint and the index it came from, sorted for lookups by endpoint
 * (a thousand backends would make linear searches quadratic). */
struct ep_ref {
	struct xlb_endpoint ep; /* canonical, so compared as bytes */
	size_t i;
};

static int ep_ref_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct ep_ref *)a)->ep, &((const struct ep_ref *)b)->ep,
		      sizeof(struct xlb_endpoint));
}

static const struct ep_ref *ep_ref_find(const struct ep_ref *refs, size_t n,
					const struct xlb_endpoint *ep)
{
	struct ep_ref key = { .ep = *ep };

	return n ? bsearch(&key, refs, n, sizeof(*refs), ep_ref_cmp) : NULL;
}

/* The wanted backends, each checked, sorted by endpoint; twice is an error. */
static int want_index(const struct xlb_vip_entry *v, const struct xlb_backend_spec *be,
		      size_t n, struct ep_ref **out)
{
	struct ep_ref *w = calloc(n + 1, sizeof(*w));
	char vn[XLB_TEXT_LEN], bn[XLB_TEXT_LEN];
	size_t i;
	int err = 0;

	if (!w)
		return xlb_fail(ENOMEM, "out of memory for %zu backends", n);
	for (i = 0; !err && i < n; i++) {
		err = be_check(v, &be[i].ep, be[i].weight, &w[i].ep);
		w[i].i = i;
	}
	if (!err)
		qsort(w, n, sizeof(*w), ep_ref_cmp);
	for (i = 1; !err && i < n; i++)
		if (!ep_ref_cmp(&w[i - 1], &w[i]))
			err = xlb_fail(EINVAL, "backend %s is given twice for VIP %s: list each "
				       "backend once", ep_text(&w[i].ep, bn),
				       vip_text(&v->info.spec.key, vn));
	if (err)
		free(w);
	else
		*out = w;
	return err;
}

static int cur_index(const struct xlb_vip_entry *v, struct ep_ref **out)
{
	size_t i, n = v->info.n_backends;
	struct ep_ref *c = calloc(n + 1, sizeof(*c));

	if (!c)
		return xlb_fail(ENOMEM, "out of memory for %zu backends", n);
	for (i = 0; i < n; i++) {
		c[i].ep = v->be[i].ep;
		c[i].i = i;
	}
	qsort(c, n, sizeof(*c), ep_ref_cmp);
	*out = c;
	return 0;
}

/* The VIP's backends now: kept, with the wanted weight and drain, or deleted. */
static int plan_current(const struct xlb *x, struct vip_change *c, const struct ep_ref *want,
			const struct xlb_backend_spec *be, size_t n)
{
	const struct xlb_vip_entry *v = c->v;
	const struct ep_ref *w;
	struct xlb_backend_info nb;
	size_t j;
	int err = 0;

	for (j = 0; !err && j < v->info.n_backends; j++) {
		w = ep_ref_find(want, n, &v->be[j].ep);
		if (!w) {
			err = chg_slot(x, c, BE_DEL, &v->be[j], true);
			continue;
		}
		nb = v->be[j];
		nb.weight = be[w->i].weight;
		nb.drain = be[w->i].drain;
		c->next[c->n_next++] = nb;
		if (nb.weight != v->be[j].weight || nb.drain != v->be[j].drain)
			err = chg_slot(x, c, BE_SET, &nb, false);
	}
	return err;
}

/* Backends the VIP does not have yet, in the caller's order: ids go lowest
 * free first, so a list gives the slots that adding its backends one by one
 * would. Slots this change frees are not free yet (a table still names
 * them), so they are not handed out again. */
static int plan_new(struct xlb *x, struct vip_change *c, const struct ep_ref *cur,
		    const struct xlb_backend_spec *be, size_t n)
{
	struct xlb_backend_info nb;
	size_t i;
	int err;

	for (i = 0; i < n; i++) {
		memset(&nb, 0, sizeof(nb));
		ep_canon(&be[i].ep, &c->v->info.spec.key, &nb.ep);
		if (ep_ref_find(cur, c->v->info.n_backends, &nb.ep))
			continue;
		nb.weight = be[i].weight;
		nb.drain = be[i].drain;
		err = be_take_id(x, &nb.id);
		if (err)
			return err;
		c->taken[c->n_taken++] = nb.id;
		err = be_filter_add(x, c->v, &nb.ep);
		if (!err)
			err = chg_slot(x, c, BE_ADD, &nb, false);
		if (err)
			return err;
		c->next[c->n_next++] = nb;
	}
	return 0;
}

static int be_id_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct xlb_backend_info *)a)->id;
	uint32_t y = ((const struct xlb_backend_info *)b)->id;

	return (x > y) - (x < y);
}

/* Filter bits added for backends that did not come are cleared again,
 * keeping the message of the failure. */
static void filter_undo(const struct xlb *x, const struct vip_change *c)
{
	char why[XLB_MSG_LEN];

	if (!c->n_taken || c->v->info.spec.mode != XLB_MODE_NAT)
		return;
	snprintf(why, sizeof(why), "%s", xlb_errmsg());
	xlb_filter_sync(x);
	xlb_fail(EIO, "%s", why);
}

int xlb_vip_apply(struct xlb *x, const struct xlb_vip_spec *spec,
		  const struct xlb_backend_spec *be, size_t n)
{
	struct xlb_vip_entry *v;
	int err = vip_find(x, &spec->key, &v);

	return err ? err : vip_apply(x, v, spec, be, n);
}

static int vip_apply(struct xlb *x, struct xlb_vip_entry *v, const struct xlb_vip_spec *spec,
		     const struct xlb_backend_spec *be, size_t n)
{
	struct ep_ref *want = NULL, *cur = NULL;
	struct xlb_vip_spec next;
	struct vip_change c;
	int err;

	err = vip_spec_next(v, spec, &next);
	if (err)
		return err;
	err = chg_init(&c, v, &next, v->info.n_backends, n);
	if (!err)
		err = want_index(v, be, n, &want);
	if (!err)
		err = cur_index(v, &cur);
	if (!err)
		err = plan_current(x, &c, want, be, n);
	if (!err)
		err = plan_new(x, &c, cur, be, n);
	if (!err) {
		qsort(c.next, c.n_next, sizeof(*c.next), be_id_cmp);
		err = chg_run(x, &c);
	}
	if (err && !c.committed)
		filter_undo(x, &c);
	chg_release(x, &c);
	free(want);
	free(cur);
	return err;
}

/* ---- health of many backends at once ------------------------------------- */

/* Each listed backend's new health, as a change of its slot: going down is
 * written after the switch, coming up before it (see chg_commit). */
static int plan_health(const struct xlb *x, struct vip_change *c, const struct ep_ref *cur,
		       const struct xlb_backend_health *h, size_t n)
{
	const struct xlb_vip_entry *v = c->v;
	char vn[XLB_TEXT_LEN], bn[XLB_TEXT_LEN];
	struct xlb_backend_info *b;
	const struct ep_ref *r;
	struct xlb_endpoint ep;
	size_t i;
	int err;

	for (i = 0; i < n; i++) {
		ep_canon(&h[i].ep, &v->info.spec.key, &ep);
		r = ep_ref_find(cur, v->info.n_backends, &ep);
		if (!r)
			return xlb_fail(ENOENT, "backend %s is not in %s (see 'xlbctl show')",
					ep_text(&ep, bn), vip_text(&v->info.spec.key, vn));
		b = &c->next[r->i];
		if (b->down == h[i].down)
			continue;
		if (b->down != v->be[r->i].down)
			return xlb_fail(EINVAL, "backend %s is given twice for VIP %s: list each "
					"backend once", ep_text(&ep, bn),
					vip_text(&v->info.spec.key, vn));
		b->down = h[i].down;
		err = chg_slot(x, c, BE_SET, b, b->down);
		if (err)
			return err;
	}
	return 0;
}

int xlb_vip_set_health(struct xlb *x, const struct xlb_vip_key *vip,
		       const struct xlb_backend_health *h, size_t n)
{
	struct ep_ref *cur = NULL;
	struct xlb_vip_entry *v;
	struct vip_change c;
	size_t n_be;
	int err;

	err = vip_find(x, vip, &v);
	if (err)
		return err;
	n_be = v->info.n_backends;
	err = chg_init(&c, v, &v->info.spec, n_be, n_be);
	if (!err)
		err = cur_index(v, &cur);
	if (!err) {
		memcpy(c.next, v->be, n_be * sizeof(*c.next));
		c.n_next = n_be;
		err = plan_health(x, &c, cur, h, n);
	}
	if (!err && c.n_slots)
		err = chg_run(x, &c);
	chg_release(x, &c);
	free(cur);
	return err;
}

/* Put back what xlb_vip_del changed before it failed. */
static void vip_del_undo(const struct xlb *x, const struct xlb_vip_entry *v,
			 const struct xlb_backend *old, size_t n_freed)
{
	size_t i;

	for (i = 0; i < n_freed; i++)
		slot_write(x, v->be[i].id, &old[i]);
	if (!v->hidden)
		bpf_map_update_elem(x->fd.vips, &v->info.spec.key, &v->val, BPF_NOEXIST);
}

static int vip_slots_read(const struct xlb *x, const struct xlb_vip_entry *v,
			  struct xlb_backend *old)
{
	size_t i;
	int err;

	for (i = 0; i < v->info.n_backends; i++) {
		err = slot_read(x, v->be[i].id, &old[i]);
		if (err)
			return err;
	}
	return 0;
}

/* Free a VIP's backend slots; returns how many were freed before any error. */
static size_t vip_slots_free(const struct xlb *x, const struct xlb_vip_entry *v,
			     const struct xlb_backend *old, int *err)
{
	struct xlb_backend val;
	size_t i;

	*err = 0;
	for (i = 0; i < v->info.n_backends; i++) {
		slot_freed(&old[i], &val);
		*err = slot_write(x, v->be[i].id, &val);
		if (*err)
			break;
	}
	return i;
}

int xlb_vip_del(struct xlb *x, const struct xlb_vip_key *key)
{
	struct xlb_vip_entry *v;
	int err = vip_find(x, key, &v);

	return err ? err : vip_drop(x, v);
}

/* A hidden VIP is not in xlb_vips (being built, or replaced): only its
 * slots, tables, ids and address reference go. */
static int vip_drop(struct xlb *x, struct xlb_vip_entry *v)
{
	struct xlb_backend *old;
	char vn[XLB_TEXT_LEN];
	size_t freed, i;
	int err;

	vip_text(&v->info.spec.key, vn);
	old = calloc(v->info.n_backends + 1, sizeof(*old));
	if (!old)
		return xlb_fail(ENOMEM, "out of memory deleting VIP %s", vn);
	/* Read every slot before the first write, so an undo can restore them. */
	err = vip_slots_read(x, v, old);
	if (err)
		goto out;
	/* First: new packets stop matching the VIP. Then its flows, which
	 * find their slots freed, are no longer forwarded either. */
	err = v->hidden ? 0 : bpf_map_delete_elem(x->fd.vips, &v->info.spec.key);
	if (err)
		goto out;
	freed = vip_slots_free(x, v, old, &err);
	if (!err)
		err = vip_addr_ref(x, &v->info.spec.key, -1);
	if (err) {
		vip_del_undo(x, v, old, freed);
		goto out;
	}
	vip_tables_drop(x, v->val.id);
	for (i = 0; i < v->info.n_backends; i++)
		xlb_ids_put(&x->be_ids, v->be[i].id);
	xlb_ids_put(&x->vip_ids, v->val.id);
	vip_remove(x, v);
out:
	free(old);
	if (err)
		return xlb_fail(-err, "deleting VIP %s failed: %s", vn, strerror(-err));
	return xlb_filter_sync(x);
}
