// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The VIP/backend model and how it is written into the maps.
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

#include "xlb_internal.h"

#define TEXT_LEN 64 /* what xlb_vip_key_str/xlb_endpoint_str need */

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

static void vip_key_canon(const struct xlb_vip_key *in, struct xlb_vip_key *out)
{
	memset(out, 0, sizeof(*out));
	addr_canon(&in->addr, in->family, &out->addr);
	out->port = in->port;
	out->proto = in->proto;
	out->family = in->family;
}

/* Port 0 in a request means the VIP's port; the model and the slots always
 * hold the real port, so "ADDR" and "ADDR:VIPPORT" name the same backend. */
static void ep_canon(const struct xlb_endpoint *in, const struct xlb_vip_key *vip,
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

static bool family_valid(__u8 family)
{
	return family == XLB_FAMILY_V4 || family == XLB_FAMILY_V6;
}

static const char *vip_text(const struct xlb_vip_key *key, char buf[TEXT_LEN])
{
	return xlb_vip_key_str(key, buf, TEXT_LEN);
}

static const char *ep_text(const struct xlb_endpoint *ep, char buf[TEXT_LEN])
{
	return xlb_endpoint_str(ep, buf, TEXT_LEN);
}

/* Prefix the message of a failed inner call with the VIP it was for. */
static int fail_for_vip(int err, const char *what, const struct xlb_vip_key *key)
{
	char why[512], vn[TEXT_LEN];

	snprintf(why, sizeof(why), "%s", xlb_errmsg());
	return xlb_fail(-err, "%s %s: %s", what, vip_text(key, vn), why);
}

/* ---- the model -------------------------------------------------------- */

static struct xlb_vip_entry *vip_lookup(const struct xlb *x, const struct xlb_vip_key *canon)
{
	size_t i;

	for (i = 0; i < x->n_vips; i++)
		if (!memcmp(&x->vips[i].info.spec.key, canon, sizeof(*canon)))
			return &x->vips[i];
	return NULL;
}

static struct xlb_vip_entry *vip_by_id(const struct xlb *x, uint32_t id)
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

static int vip_find(struct xlb *x, const struct xlb_vip_key *key, struct xlb_vip_entry **out)
{
	struct xlb_vip_key canon;
	char vn[TEXT_LEN];

	vip_key_canon(key, &canon);
	*out = vip_lookup(x, &canon);
	if (!*out)
		return xlb_fail(ENOENT, "VIP %s does not exist (see 'xlbctl vip list')",
				vip_text(&canon, vn));
	return 0;
}

/* Room for one more VIP, taken before any map write so that inserting the
 * VIP into the model afterwards cannot fail. */
static int vips_reserve(struct xlb *x)
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
static void vip_insert(struct xlb *x, const struct xlb_vip_entry *e)
{
	struct xlb_vip_entry *v = x->vips;
	size_t i;

	for (i = 0; i < x->n_vips && v[i].val.id < e->val.id; i++)
		;
	memmove(&v[i + 1], &v[i], (x->n_vips - i) * sizeof(*v));
	v[i] = *e;
	x->n_vips++;
}

static void vip_remove(struct xlb *x, struct xlb_vip_entry *v)
{
	size_t i = v - x->vips;

	free(v->be);
	memmove(&x->vips[i], &x->vips[i + 1], (x->n_vips - i - 1) * sizeof(*v));
	x->n_vips--;
}

static void vip_set_backends(struct xlb_vip_entry *v, struct xlb_backend_info *be, size_t n)
{
	free(v->be);
	v->be = be;
	v->info.backends = be;
	v->info.n_backends = n;
}

static ssize_t be_index(const struct xlb_vip_entry *v, const struct xlb_endpoint *canon)
{
	size_t i;

	for (i = 0; i < v->info.n_backends; i++)
		if (ep_equal(&v->be[i].ep, canon))
			return i;
	return -1;
}

static int be_locate(struct xlb *x, const struct xlb_vip_key *vip,
		     const struct xlb_endpoint *ep, struct xlb_vip_entry **v, size_t *idx)
{
	struct xlb_endpoint canon;
	char vn[TEXT_LEN], bn[TEXT_LEN];
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

static bool be_schedulable(const struct xlb_backend_info *b)
{
	return b->weight > 0 && !b->drain && !b->down;
}

/* rr gives every member one turn whatever its weight. */
static uint32_t member_weight(const struct xlb_vip_spec *spec, const struct xlb_backend_info *b)
{
	return spec->sched == XLB_SCHED_RR ? 1 : b->weight;
}

static bool sched_uses_ring(enum xlb_sched s)
{
	return s == XLB_SCHED_MAGLEV || s == XLB_SCHED_SRCHASH;
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

/* ---- small map writes ------------------------------------------------- */

static int slot_read(const struct xlb *x, uint32_t id, struct xlb_backend *out)
{
	return bpf_map_lookup_elem(x->fd.backends, &id, out);
}

/* Established nat/dsr flows skip the backend's entry while its epoch stands
 * (struct xlb_backend_epochs): every write of the entry moves it, after
 * the write, so a flow that reads the epoch and then the entry never pairs
 * a new epoch with an old entry. */
static int epoch_move(const struct xlb *x, uint32_t id)
{
	struct xlb_backend_epochs *e = malloc(sizeof(*e));
	__u32 zero = 0;
	int err;

	if (!e)
		return -ENOMEM;
	err = bpf_map_lookup_elem(x->fd.backend_epochs, &zero, e);
	if (!err) {
		e->epoch[id % XLB_MAX_BACKENDS]++;
		err = bpf_map_update_elem(x->fd.backend_epochs, &zero, e, BPF_ANY);
	}
	free(e);
	return err;
}

static int slot_write(const struct xlb *x, uint32_t id, const struct xlb_backend *val)
{
	int err = bpf_map_update_elem(x->fd.backends, &id, val, BPF_ANY);

	return err ? err : epoch_move(x, id);
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
static void slot_freed(const struct xlb_backend *old, struct xlb_backend *out)
{
	memset(out, 0, sizeof(*out));
	out->gen = old->gen;
}

/* xlb_vip_addrs counts the VIPs on each address, so the last VIP to leave
 * an address removes it without scanning the others. */
static struct xlb_vip_key vip_addr_key(const struct xlb_vip_key *vip)
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

	xlb_stats_zero(x, XLB_STATS_VIP(x->max_backends, id));
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
static int array_read(int fd, uint32_t n, void *vals, size_t value_size)
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

/* A built table: backend ids, one per entry. */
struct table {
	uint32_t *ids;
	uint32_t size; /* 0: no usable backend, the VIP drops new flows */
};

/* A table change prepared before the first visible map write. */
struct table_plan {
	bool change; /* the VIP moves to a new table (of size 0 if fd < 0) */
	int fd; /* the new inner map, filled and frozen */
	uint32_t size;
};

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
	uint32_t cap = sched_uses_ring(spec->sched) ? spec->ring_size : XLB_WRR_SEQ_MAX;
	int ret;

	t->ids = malloc((size_t)cap * sizeof(*t->ids));
	if (!t->ids)
		return xlb_fail(ENOMEM, "out of memory for a table of %u entries", cap);
	if (sched_uses_ring(spec->sched)) {
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
		return fail_for_vip(ret, "building the table of", &spec->key);
	}
	return 0;
}

/* The table a VIP with this spec and these backends has. Pure: no map is
 * touched, so a failure here leaves everything as it was. */
static int table_build(const struct xlb_vip_spec *spec, const struct xlb_backend_info *be,
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
	char name[BPF_OBJ_NAME_LEN], vn[TEXT_LEN];
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

static int table_prepare(const struct xlb_vip_entry *v, const struct table *t,
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

static void table_plan_release(struct table_plan *p)
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
	if (sched_uses_ring(sa->sched) && sa->ring_size != sb->ring_size)
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
static int table_publish(const struct xlb *x, struct xlb_vip_entry *v,
			 const struct xlb_vip_spec *spec, const struct table_plan *p)
{
	struct xlb_vip val = v->val;
	char vn[TEXT_LEN];
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
	char bn[TEXT_LEN];

	if (weight > XLB_MAX_WEIGHT)
		return xlb_fail(EINVAL, "backend %s: weight %u is above the maximum of %u",
				ep_text(ep, bn), weight, XLB_MAX_WEIGHT);
	return 0;
}

/* What can be wrong with a backend for this VIP, whether new or not. */
static int be_check(const struct xlb_vip_entry *v, const struct xlb_endpoint *in,
		    uint32_t weight, struct xlb_endpoint *ep)
{
	const struct xlb_vip_key *key = &v->info.spec.key;
	const char *mode = xlb_mode_name(v->info.spec.mode);
	char vn[TEXT_LEN], bn[TEXT_LEN];

	if (!family_valid(in->family))
		return xlb_fail(EINVAL, "backend address family %u is neither IPv4 nor IPv6",
				in->family);
	ep_canon(in, key, ep);
	vip_text(key, vn);
	ep_text(ep, bn);
	if (weight_check(ep, weight))
		return -EINVAL;
	if (ep->family != key->family && v->info.spec.mode != XLB_MODE_TUNNEL)
		return xlb_fail(EAFNOSUPPORT,
				"backend %s is IPv%u but VIP %s is IPv%u: mode %s does not change "
				"the address family; use an IPv%u backend",
				bn, ep->family, vn, key->family, mode, key->family);
	if (v->info.spec.mode != XLB_MODE_NAT && ep->port != key->port)
		return xlb_fail(EINVAL,
				"backend %s: mode %s needs the backend port to equal the VIP "
				"port %u (the backend answers from the VIP's address and port); "
				"leave the port out or use mode nat",
				bn, mode, ntohs(key->port));
	return 0;
}

/* Everything that can be wrong with a new backend, checked before any write. */
static int be_check_new(const struct xlb_vip_entry *v, const struct xlb_endpoint *in,
			uint32_t weight, struct xlb_endpoint *ep)
{
	char vn[TEXT_LEN], bn[TEXT_LEN];
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
	char vn[TEXT_LEN];

	if (ring < XLB_RING_MIN || ring > XLB_RING_MAX || !xlb_is_prime(ring))
		return xlb_fail(EINVAL, "ring size %u of VIP %s is not a prime between %u and %u "
				"(the default is %u)",
				ring, vip_text(key, vn), XLB_RING_MIN, XLB_RING_MAX,
				XLB_RING_DEFAULT);
	return 0;
}

static int vip_key_check(const struct xlb_vip_key *key)
{
	char vn[TEXT_LEN];

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
	if ((unsigned int)in->sched >= XLB_SCHED_MAX)
		return xlb_fail(EINVAL, "scheduler %u is not one of maglev, rr, wrr, srchash",
				in->sched);
	if ((unsigned int)in->mode >= XLB_MODE_MAX)
		return xlb_fail(EINVAL, "mode %u is not one of nat, dsr, tunnel", in->mode);
	if (in->mode == XLB_MODE_TUNNEL) {
		if ((unsigned int)in->encap >= XLB_ENCAP_MAX)
			return xlb_fail(EINVAL, "encapsulation %u is not one of ipip, gue", in->encap);
		out->encap = in->encap;
		if (in->encap == XLB_ENCAP_GUE)
			out->gue_port = in->gue_port ? in->gue_port : XLB_GUE_PORT_DEFAULT;
	}
	return ring_check(&out->key, out->ring_size);
}

/* Everything a new VIP needs but its entry in xlb_vips: it goes into the
 * model hidden, so packets cannot find it while its backends are set up. */
static int vip_prepare(struct xlb *x, const struct xlb_vip_spec *spec)
{
	struct xlb_vip_entry e = { .hidden = true };
	char vn[TEXT_LEN];
	uint32_t id;
	int err;

	err = vip_spec_check(spec, &e.info.spec);
	if (err)
		return err;
	vip_text(&e.info.spec.key, vn);
	if (vip_lookup(x, &e.info.spec.key))
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
	return 0;
}

/* The insert is the last write: the VIP matches packets from here on, with
 * the table and backends it was given while hidden. */
static int vip_publish(struct xlb *x, const struct xlb_vip_key *key)
{
	struct xlb_vip_entry *v;
	char vn[TEXT_LEN];
	int err = vip_find(x, key, &v);

	if (err)
		return err;
	err = bpf_map_update_elem(x->fd.vips, &v->info.spec.key, &v->val, BPF_NOEXIST);
	if (err)
		return xlb_fail(-err, "inserting VIP %s into %s failed: %s",
				vip_text(&v->info.spec.key, vn), XLB_MAP_VIPS, strerror(-err));
	v->hidden = false;
	return 0;
}

int xlb_vip_create(struct xlb *x, const struct xlb_vip_spec *spec,
		   const struct xlb_backend_spec *be, size_t n)
{
	char why[512];
	int err = vip_prepare(x, spec);

	if (err)
		return err;
	if (n)
		err = xlb_vip_apply(x, spec, be, n);
	if (!err)
		err = vip_publish(x, &spec->key);
	if (err) {
		snprintf(why, sizeof(why), "%s", xlb_errmsg());
		xlb_vip_del(x, &spec->key);
		xlb_fail(-err, "%s", why);
	}
	return err;
}

int xlb_vip_add(struct xlb *x, const struct xlb_vip_spec *spec)
{
	return xlb_vip_create(x, spec, NULL, 0);
}

/* The spec a VIP can move to without being re-created: scheduler and ring. */
static int vip_spec_next(const struct xlb_vip_entry *v, const struct xlb_vip_spec *spec,
			 struct xlb_vip_spec *next)
{
	char vn[TEXT_LEN];
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
	char vn[TEXT_LEN], bn[TEXT_LEN];
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
	char why[512];

	if (!c->n_taken || c->v->info.spec.mode != XLB_MODE_NAT)
		return;
	snprintf(why, sizeof(why), "%s", xlb_errmsg());
	xlb_filter_sync(x);
	xlb_fail(EIO, "%s", why);
}

int xlb_vip_apply(struct xlb *x, const struct xlb_vip_spec *spec,
		  const struct xlb_backend_spec *be, size_t n)
{
	struct ep_ref *want = NULL, *cur = NULL;
	struct xlb_vip_spec next;
	struct xlb_vip_entry *v;
	struct vip_change c;
	int err;

	err = vip_find(x, &spec->key, &v);
	if (!err)
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
	char vn[TEXT_LEN], bn[TEXT_LEN];
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
	struct xlb_backend *old;
	struct xlb_vip_entry *v;
	char vn[TEXT_LEN];
	size_t freed, i;
	int err;

	err = vip_find(x, key, &v);
	if (err)
		return err;
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

/* ---- adoption --------------------------------------------------------- */

static int adopt_refuse(const struct xlb *x, const char *what, const struct xlb_vip_key *key)
{
	char vn[TEXT_LEN];

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
	       val->mode < XLB_MODE_MAX && val->ring_size >= XLB_RING_MIN &&
	       val->ring_size <= XLB_RING_MAX && xlb_is_prime(val->ring_size);
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
		if (!v || slots[id].family != v->info.spec.key.family) {
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
	char vn[TEXT_LEN];
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
