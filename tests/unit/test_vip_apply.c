// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * xlb_vip_apply(): many backend changes of one VIP in one table build.
 *
 * What is checked, always on what the maps hold (the live table read back
 * through xlb_vips -> xlb_tables -> inner map, and xlb_backends):
 *  - a batch of adds gives exactly the table, slot for slot, that the same
 *    backends added one at a time give; a mixed batch (adds, deletes,
 *    reweights, drains) the same table by endpoint as the single calls;
 *  - while batches that delete run, a reader never finds a published table
 *    naming a slot that is not in use by the VIP;
 *  - a batch that fails, whether refused up front or failing between its
 *    map writes, leaves tables, slots, ids and the model as they were;
 *  - the converge built on it rolls a failed multi-VIP change back to the
 *    very same tables;
 *  - xlb_vip_set_health(), the same for health: many backends down in one
 *    change give the table the single calls give.
 *
 * These load the real BPF object (no pins, no interface, in a private
 * network namespace), so they need root.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "exec.h"
#include "testlib.h"

#define RING 10007 /* prime; small enough that single adds stay quick */
#define RING_SMALL 1009

static char err[1024];

/* ---- set-up ------------------------------------------------------------ */

/* A private datapath, or NULL (the test is skipped without root). */
static struct xlb *load(void)
{
	struct xlb_open_opts o = { .no_pin = true, .flow_entries = 1024 };
	struct xlb *x = NULL;

	if (geteuid()) {
		test_skip("needs root (loads the BPF object)");
		return NULL;
	}
	if (!ASSERT_OK(xlb_open(&x, &o), xlb_errmsg()))
		return NULL;
	return x;
}

static struct xlb_vip_spec vip_spec(unsigned int k, enum xlb_sched sched, uint32_t ring)
{
	struct xlb_addr a = { .v4 = htonl(0xc6130100u + 10 + k) }; /* 198.19.1.10 + k */
	struct xlb_vip_spec s = {};

	xlb_vip_key_make(&s.key, IPPROTO_TCP, XLB_FAMILY_V4, &a, 80);
	s.sched = sched;
	s.mode = XLB_MODE_NAT;
	s.ring_size = ring;
	return s;
}

/* Backend i: 198.18.32.0/20, every third one on its own port. */
static struct xlb_endpoint ep_of(unsigned int i)
{
	struct xlb_endpoint ep = {};

	ep.family = XLB_FAMILY_V4;
	ep.addr.v4 = htonl(0xc6122000u + 2 + i);
	ep.port = i % 3 ? 0 : htons(8000 + i % 7);
	return ep;
}

static struct xlb_backend_spec be_of(unsigned int i, uint32_t weight, bool drain)
{
	struct xlb_backend_spec b = { .ep = ep_of(i), .weight = weight, .drain = drain };

	return b;
}

/* ---- reading the datapath back ------------------------------------------ */

struct live {
	struct xlb_vip val;
	uint32_t map_id; /* the inner map published for the VIP (0: none) */
	uint32_t *ids; /* val.table_size entries */
};

static void live_free(struct live *l)
{
	free(l->ids);
	memset(l, 0, sizeof(*l));
}

static int array_read(int fd, uint32_t n, uint32_t *vals)
{
	__u32 *keys = calloc(n + 1, sizeof(*keys)), count = n, out = 0, i;
	int rc;

	if (!keys)
		return -ENOMEM;
	rc = bpf_map_lookup_batch(fd, NULL, &out, keys, vals, &count, NULL);
	free(keys);
	if ((!rc || rc == -ENOENT) && count == n)
		return 0;
	for (i = 0; i < n; i++) {
		rc = bpf_map_lookup_elem(fd, &i, &vals[i]);
		if (rc)
			return rc;
	}
	return 0;
}

/* The VIP's value and the table it points at, as a packet would find them. */
static int live_read(struct xlb *x, const struct xlb_vip_key *key, struct live *l)
{
	int vips = xlb_map_fd(x, XLB_MAP_VIPS), tables = xlb_map_fd(x, XLB_MAP_TABLES);
	int rc, fd;

	memset(l, 0, sizeof(*l));
	rc = bpf_map_lookup_elem(vips, key, &l->val);
	if (rc || !l->val.table_size)
		return rc;
	rc = bpf_map_lookup_elem(tables, &l->val.table_slot, &l->map_id);
	if (rc)
		return rc;
	fd = bpf_map_get_fd_by_id(l->map_id);
	if (fd < 0)
		return fd;
	l->ids = calloc(l->val.table_size, sizeof(*l->ids));
	rc = l->ids ? array_read(fd, l->val.table_size, l->ids) : -ENOMEM;
	close(fd);
	return rc;
}

static int slot_read(struct xlb *x, uint32_t id, struct xlb_backend *b)
{
	return bpf_map_lookup_elem(xlb_map_fd(x, XLB_MAP_BACKENDS), &id, b);
}

/* Slots 0..n-1: enough to cover every id a test hands out. */
static struct xlb_backend *slots_snapshot(struct xlb *x, uint32_t n)
{
	struct xlb_backend *s = calloc(n, sizeof(*s));

	for (uint32_t i = 0; s && i < n; i++)
		if (slot_read(x, i, &s[i])) {
			free(s);
			return NULL;
		}
	return s;
}

/* Every slot the table names is in use by this VIP: the invariant a packet
 * relies on. Each slot is read once. Returns the first offending id, or -1. */
static long table_bad_slot(struct xlb *x, const struct live *l)
{
	static __thread uint64_t seen[XLB_MAX_BACKENDS / 64];
	struct xlb_backend b;
	uint32_t id;

	memset(seen, 0, sizeof(seen));
	for (uint32_t i = 0; i < l->val.table_size; i++) {
		id = l->ids[i];
		if (id >= XLB_MAX_BACKENDS)
			return id;
		if (seen[id / 64] & (1ull << (id % 64)))
			continue;
		seen[id / 64] |= 1ull << (id % 64);
		if (slot_read(x, id, &b) || !(b.flags & XLB_BACKEND_F_IN_USE) ||
		    b.vip_id != l->val.id)
			return id;
	}
	return -1;
}

/* The model's backends of a VIP, copied. */
static struct xlb_backend_info *model_copy(struct xlb *x, const struct xlb_vip_key *key,
					   size_t *n)
{
	const struct xlb_vip_info *v = xlb_vip_find(x, key);
	struct xlb_backend_info *c;

	*n = v ? v->n_backends : 0;
	c = calloc(*n + 1, sizeof(*c));
	if (c && *n)
		memcpy(c, v->backends, *n * sizeof(*c));
	return c;
}

/* The endpoint a table entry sends to, for tables whose ids differ. */
static const struct xlb_endpoint *ep_of_id(const struct xlb_vip_info *v, uint32_t id)
{
	for (size_t i = 0; i < v->n_backends; i++)
		if (v->backends[i].id == id)
			return &v->backends[i].ep;
	return NULL;
}

/* ---- a batch of adds == the same adds one by one --------------------------- */

#define N_ADD 150

static bool single_adds(struct xlb *x, const struct xlb_vip_spec *s,
			const struct xlb_backend_spec *be, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!ASSERT_OK(xlb_backend_add(x, &s->key, &be[i].ep, be[i].weight), xlb_errmsg()))
			return false;
		if (be[i].drain &&
		    !ASSERT_OK(xlb_backend_set_drain(x, &s->key, &be[i].ep, true), xlb_errmsg()))
			return false;
	}
	return true;
}

static void test_adds_equal_single(enum xlb_sched sched)
{
	struct xlb_vip_spec s = vip_spec(0, sched, RING);
	struct xlb_backend_spec be[N_ADD];
	struct xlb_backend_info *m1 = NULL, *m2 = NULL;
	struct live one = {}, batch = {};
	size_t n1, n2;
	struct xlb *x;

	/* Without root, load() below skips the test. */
	if (!geteuid() && !ASSERT_OK(unshare(CLONE_NEWNET) ? -errno : 0, "unshare"))
		return;
	x = load();
	if (!x)
		return;
	for (unsigned int i = 0; i < N_ADD; i++)
		be[i] = be_of(i, i % 4 + 1, i % 10 == 0);
	if (!ASSERT_OK(xlb_vip_add(x, &s), xlb_errmsg()) || !single_adds(x, &s, be, N_ADD) ||
	    !ASSERT_OK(live_read(x, &s.key, &one), "read the table of single adds"))
		goto out;
	m1 = model_copy(x, &s.key, &n1);
	/* Deleting the VIP frees its ids: the batch starts from the same ones. */
	if (!ASSERT_OK(xlb_vip_del(x, &s.key), xlb_errmsg()) ||
	    !ASSERT_OK(xlb_vip_add(x, &s), xlb_errmsg()) ||
	    !ASSERT_OK(xlb_vip_apply(x, &s, be, N_ADD), xlb_errmsg()) ||
	    !ASSERT_OK(live_read(x, &s.key, &batch), "read the table of the batch"))
		goto out;
	m2 = model_copy(x, &s.key, &n2);
	ASSERT_GT(one.val.table_size, 0, "table size");
	ASSERT_EQ(batch.val.table_size, one.val.table_size, "table size of the batch");
	if (batch.val.table_size == one.val.table_size)
		ASSERT_TRUE(!memcmp(batch.ids, one.ids, one.val.table_size * sizeof(*one.ids)),
			    "the batch's table differs from the single adds' table");
	ASSERT_EQ(n2, n1, "backends in the model");
	if (n1 == n2 && m1 && m2)
		ASSERT_TRUE(!memcmp(m1, m2, n1 * sizeof(*m1)), "model (slots, weights, drain)");
	ASSERT_EQ(table_bad_slot(x, &batch), -1, "a table entry names a slot not in use");
out:
	free(m1);
	free(m2);
	live_free(&one);
	live_free(&batch);
	xlb_close(x);
}

/* ---- a mixed batch == the same changes one by one, by endpoint ------------- */

#define N_MIX 100

/* Start: backends 0..N_MIX-1, weight 1. Then: 0..29 deleted, N_MIX..N_MIX+29
 * added, 30..49 reweighted, 50..59 drained, 60..69 drained at weight 0. */
static size_t mixed_want(struct xlb_backend_spec *be)
{
	size_t n = 0;

	for (unsigned int i = 30; i < N_MIX + 30; i++)
		be[n++] = be_of(i, i < 50 ? i % 5 + 2 : (i >= 60 && i < 70 ? 0 : 1),
				i >= 50 && i < 60);
	return n;
}

static bool mixed_single(struct xlb *x, const struct xlb_vip_spec *s)
{
	struct xlb_endpoint ep;
	bool ok = true;

	for (unsigned int i = 0; ok && i < 30; i++) {
		ep = ep_of(i);
		ok = ASSERT_OK(xlb_backend_del(x, &s->key, &ep), xlb_errmsg());
	}
	for (unsigned int i = 30; ok && i < 50; i++) {
		ep = ep_of(i);
		ok = ASSERT_OK(xlb_backend_set_weight(x, &s->key, &ep, i % 5 + 2), xlb_errmsg());
	}
	for (unsigned int i = 50; ok && i < 60; i++) {
		ep = ep_of(i);
		ok = ASSERT_OK(xlb_backend_set_drain(x, &s->key, &ep, true), xlb_errmsg());
	}
	for (unsigned int i = 60; ok && i < 70; i++) {
		ep = ep_of(i);
		ok = ASSERT_OK(xlb_backend_set_weight(x, &s->key, &ep, 0), xlb_errmsg());
	}
	for (unsigned int i = N_MIX; ok && i < N_MIX + 30; i++) {
		ep = ep_of(i);
		ok = ASSERT_OK(xlb_backend_add(x, &s->key, &ep, 1), xlb_errmsg());
	}
	return ok;
}

static bool start_vip(struct xlb *x, const struct xlb_vip_spec *s, unsigned int n)
{
	struct xlb_backend_spec *be = calloc(n, sizeof(*be));
	bool ok;

	for (unsigned int i = 0; be && i < n; i++)
		be[i] = be_of(i, 1, false);
	ok = ASSERT_OK(xlb_vip_add(x, s), xlb_errmsg()) &&
	     ASSERT_OK(xlb_vip_apply(x, s, be, n), xlb_errmsg());
	free(be);
	return ok;
}

/* Each entry's endpoint under the VIP's model. */
static struct xlb_endpoint *table_eps(struct xlb *x, const struct xlb_vip_key *key,
				      const struct live *l)
{
	const struct xlb_vip_info *v = xlb_vip_find(x, key);
	struct xlb_endpoint *eps = calloc(l->val.table_size + 1, sizeof(*eps));
	const struct xlb_endpoint *ep;

	for (uint32_t i = 0; v && eps && i < l->val.table_size; i++) {
		ep = ep_of_id(v, l->ids[i]);
		if (!ep) {
			free(eps);
			return NULL;
		}
		eps[i] = *ep;
	}
	return eps;
}

static void test_mixed_equal_single(void)
{
	struct xlb_vip_spec s = vip_spec(1, XLB_SCHED_MAGLEV, RING);
	struct xlb_endpoint *e1 = NULL, *e2 = NULL;
	struct xlb_backend_spec be[N_MIX + 30];
	struct live one = {}, batch = {};
	struct xlb *x;
	size_t n;

	x = load();
	if (!x)
		return;
	n = mixed_want(be);
	if (!start_vip(x, &s, N_MIX) || !mixed_single(x, &s) ||
	    !ASSERT_OK(live_read(x, &s.key, &one), "read the table of single changes"))
		goto out;
	e1 = table_eps(x, &s.key, &one);
	if (!ASSERT_OK(xlb_vip_del(x, &s.key), xlb_errmsg()) || !start_vip(x, &s, N_MIX) ||
	    !ASSERT_OK(xlb_vip_apply(x, &s, be, n), xlb_errmsg()) ||
	    !ASSERT_OK(live_read(x, &s.key, &batch), "read the table of the batch"))
		goto out;
	e2 = table_eps(x, &s.key, &batch);
	if (!ASSERT_NOT_NULL(e1, "table of single changes names unknown slots") ||
	    !ASSERT_NOT_NULL(e2, "table of the batch names unknown slots"))
		goto out;
	ASSERT_EQ(batch.val.table_size, one.val.table_size, "table size");
	if (batch.val.table_size == one.val.table_size)
		ASSERT_TRUE(!memcmp(e1, e2, one.val.table_size * sizeof(*e1)),
			    "the batch's table sends entries to other backends than the "
			    "single changes' table");
	ASSERT_EQ(xlb_vip_find(x, &s.key)->n_backends, n, "backends after the batch");
	ASSERT_EQ(table_bad_slot(x, &batch), -1, "a table entry names a slot not in use");
out:
	free(e1);
	free(e2);
	live_free(&one);
	live_free(&batch);
	xlb_close(x);
}

/* ---- deletes never leave a table naming a freed slot ---------------------- */

struct watch {
	struct xlb *x;
	struct xlb_vip_key key;
	atomic_bool stop;
	unsigned long samples; /* consistent snapshots checked */
	unsigned long bad; /* ... in which the table named a slot not in use */
	long bad_id;
};

static bool same_publication(struct xlb *x, const struct xlb_vip_key *key, const struct live *l)
{
	struct live now;
	bool same;

	if (live_read(x, key, &now))
		return false;
	same = !memcmp(&now.val, &l->val, sizeof(now.val)) && now.map_id == l->map_id;
	live_free(&now);
	return same;
}

/* Reads the table, then its slots, then the VIP again: if the same table
 * was published throughout, every slot it named must have been in use at
 * the moment it was read. Samples that straddle a switch are dropped. */
static void *watcher(void *arg)
{
	struct watch *w = arg;
	struct live l;
	long id;

	while (!atomic_load(&w->stop)) {
		if (live_read(w->x, &w->key, &l) || !l.val.table_size) {
			live_free(&l);
			continue;
		}
		id = table_bad_slot(w->x, &l);
		if (same_publication(w->x, &w->key, &l)) {
			w->samples++;
			if (id >= 0) {
				w->bad++;
				w->bad_id = id;
			}
		}
		live_free(&l);
	}
	return NULL;
}

#define N_SET 200
#define ROUNDS 200

/* Set a (backends 0..199) or set b (100..299): each switch deletes 100 and
 * adds 100. */
static int flip(struct xlb *x, const struct xlb_vip_spec *s, bool b)
{
	struct xlb_backend_spec be[N_SET];

	for (unsigned int i = 0; i < N_SET; i++)
		be[i] = be_of(i + (b ? N_SET / 2 : 0), 1, false);
	return xlb_vip_apply(x, s, be, N_SET);
}

static void test_deletes_never_name_freed(void)
{
	struct xlb_vip_spec s = vip_spec(2, XLB_SCHED_MAGLEV, RING_SMALL);
	struct watch w = {};
	pthread_t t;
	int rc = 0;

	w.x = load();
	if (!w.x)
		return;
	w.key = s.key;
	if (!ASSERT_OK(xlb_vip_add(w.x, &s), xlb_errmsg()) ||
	    !ASSERT_OK(flip(w.x, &s, false), xlb_errmsg()) ||
	    !ASSERT_OK(pthread_create(&t, NULL, watcher, &w), "pthread_create"))
		goto out;
	for (int r = 0; !rc && r < ROUNDS; r++)
		rc = flip(w.x, &s, r % 2 == 0);
	atomic_store(&w.stop, true);
	pthread_join(t, NULL);
	ASSERT_OK(rc, xlb_errmsg());
	test_log("%lu consistent snapshots checked during %d batches", w.samples, ROUNDS);
	ASSERT_GT(w.samples, 0, "snapshots checked");
	ASSERT_EQ(w.bad, 0, "snapshots whose published table named a slot not in use");
	if (w.bad)
		test_log("last bad slot: %ld", w.bad_id);
out:
	xlb_close(w.x);
}

/* ---- a VIP created with its backends is never seen without them ---------- */

struct create_watch {
	struct watch w;
	unsigned long absent, empty; /* lookups that found no VIP, or no table */
};

/* Whenever the VIP is in xlb_vips, it must come with its whole table. */
static void *create_watcher(void *arg)
{
	struct create_watch *cw = arg;
	int vips = xlb_map_fd(cw->w.x, XLB_MAP_VIPS);
	struct live l = {};
	long id;

	while (!atomic_load(&cw->w.stop)) {
		if (bpf_map_lookup_elem(vips, &cw->w.key, &l.val)) {
			cw->absent++;
			continue;
		}
		/* Found, but its table freed under the reader by a later
		 * switch: not a state a packet (one lookup of each) sees. */
		if (live_read(cw->w.x, &cw->w.key, &l)) {
			live_free(&l);
			continue;
		}
		if (!l.val.table_size) {
			cw->empty++;
			live_free(&l);
			continue;
		}
		id = table_bad_slot(cw->w.x, &l);
		if (same_publication(cw->w.x, &cw->w.key, &l)) {
			cw->w.samples++;
			if (id >= 0) {
				cw->w.bad++;
				cw->w.bad_id = id;
			}
		}
		live_free(&l);
	}
	return NULL;
}

#define N_CREATE 20
#define ROUNDS_CREATE 300

/* Stop the watcher and judge what it saw over rounds of what. A VIP that is
 * deleted between rounds may be absent; one that is replaced may not. */
static void watch_verdict(struct create_watch *cw, pthread_t t, int rc, int rounds,
			  const char *what, bool may_be_absent)
{
	atomic_store(&cw->w.stop, true);
	pthread_join(t, NULL);
	ASSERT_OK(rc, xlb_errmsg());
	test_log("%d %s: VIP seen whole %lu times, absent %lu, without a table %lu", rounds,
		 what, cw->w.samples, cw->absent, cw->empty);
	ASSERT_GT(cw->w.samples, 0, "lookups that found the VIP");
	if (!may_be_absent)
		ASSERT_EQ(cw->absent, 0, "lookups that did not find the VIP");
	ASSERT_EQ(cw->empty, 0, "lookups that found the VIP without a table");
	ASSERT_EQ(cw->w.bad, 0, "lookups whose table named a slot not in use by its VIP id");
}

static void test_create_never_empty(void)
{
	struct xlb_vip_spec s = vip_spec(5, XLB_SCHED_MAGLEV, RING_SMALL);
	struct xlb_backend_spec be[N_CREATE];
	struct create_watch cw = {};
	pthread_t t;
	int rc = 0;

	cw.w.x = load();
	if (!cw.w.x)
		return;
	cw.w.key = s.key;
	for (unsigned int i = 0; i < N_CREATE; i++)
		be[i] = be_of(i, 1, false);
	if (!ASSERT_OK(pthread_create(&t, NULL, create_watcher, &cw), "pthread_create"))
		goto out;
	for (int r = 0; !rc && r < ROUNDS_CREATE; r++) {
		rc = xlb_vip_create(cw.w.x, &s, be, N_CREATE);
		/* Time for the watcher to find it whole, too. */
		usleep(200);
		if (!rc)
			rc = xlb_vip_del(cw.w.x, &s.key);
	}
	watch_verdict(&cw, t, rc, ROUNDS_CREATE, "creates", true);
out:
	xlb_close(cw.w.x);
}

/* ---- a VIP whose mode changes is never absent, never half --------------- */

#define ROUNDS_REPLACE 200

/* Backend i on the VIP's port: valid for nat and dsr alike. */
static void replace_backends(struct xlb_backend_spec *be)
{
	for (unsigned int i = 0; i < N_CREATE; i++) {
		be[i] = be_of(i, 1, false);
		be[i].ep.port = 0;
	}
}

static void test_replace_never_absent(void)
{
	struct xlb_vip_spec s = vip_spec(7, XLB_SCHED_MAGLEV, RING_SMALL);
	struct xlb_backend_spec be[N_CREATE];
	struct create_watch cw = {};
	const struct xlb_vip_info *v;
	pthread_t t;
	int rc;

	cw.w.x = load();
	if (!cw.w.x)
		return;
	cw.w.key = s.key;
	replace_backends(be);
	if (!ASSERT_OK(xlb_vip_create(cw.w.x, &s, be, N_CREATE), xlb_errmsg()) ||
	    !ASSERT_OK(pthread_create(&t, NULL, create_watcher, &cw), "pthread_create"))
		goto out;
	rc = 0;
	for (int r = 0; !rc && r < ROUNDS_REPLACE; r++) {
		s.mode = r % 2 ? XLB_MODE_NAT : XLB_MODE_DSR;
		rc = xlb_vip_replace(cw.w.x, &s, be, N_CREATE);
		usleep(200);
	}
	watch_verdict(&cw, t, rc, ROUNDS_REPLACE, "mode changes", false);
	v = xlb_vip_find(cw.w.x, &s.key);
	if (ASSERT_TRUE(v != NULL, "VIP after the changes")) {
		ASSERT_EQ(v->spec.mode, s.mode, "mode after the last change");
		ASSERT_EQ(v->n_backends, N_CREATE, "backends after the changes");
	}
	ASSERT_EQ(xlb_vip_count(cw.w.x), 1, "VIPs in the model (the old ones freed)");
out:
	xlb_close(cw.w.x);
}

/* A create that fails leaves no VIP, no slot and no id behind. */
static void test_create_failure_leaves_nothing(void)
{
	struct xlb_vip_spec s = vip_spec(6, XLB_SCHED_WRR, 0);
	struct xlb_backend_spec be[3] = { be_of(1, 1, false), be_of(2, 1, false),
					  be_of(1, 2, false) };
	struct xlb_backend *before = NULL, *after = NULL;
	struct xlb_vip val;
	struct xlb *x = load();

	if (!x)
		return;
	before = slots_snapshot(x, 64);
	ASSERT_NE(xlb_vip_create(x, &s, be, 3), 0, "a create with a backend given twice");
	ASSERT_TRUE(strstr(xlb_errmsg(), "given twice") != NULL, "message: %s", xlb_errmsg());
	after = slots_snapshot(x, 64);
	ASSERT_TRUE(xlb_vip_find(x, &s.key) == NULL, "the VIP is not in the model");
	ASSERT_EQ(bpf_map_lookup_elem(xlb_map_fd(x, XLB_MAP_VIPS), &s.key, &val), -ENOENT,
		  "the VIP is not in xlb_vips");
	ASSERT_TRUE(before && after && !memcmp(before, after, 64 * sizeof(*before)),
		    "the backend slots are as they were");
	if (ASSERT_OK(xlb_vip_create(x, &s, be, 2), xlb_errmsg())) {
		ASSERT_EQ(xlb_vip_find(x, &s.key)->id, 0, "the VIP id was given back");
		ASSERT_EQ(xlb_vip_find(x, &s.key)->n_backends, 2, "backends");
	}
	free(before);
	free(after);
	xlb_close(x);
}

/* A slot freed by a batch is not handed to a backend of the same batch: the
 * old table still names it until the switch. */
static void test_freed_slot_not_reused(void)
{
	struct xlb_vip_spec s = vip_spec(3, XLB_SCHED_MAGLEV, RING_SMALL);
	struct xlb_backend_spec be[2] = { be_of(1, 1, false), be_of(2, 1, false) };
	const struct xlb_vip_info *v;
	struct xlb_backend slot;
	struct xlb *x;

	x = load();
	if (!x)
		return;
	/* 0 and 1 take slots 0 and 1; then {1, 2}: 2 must not get slot 0. */
	if (!start_vip(x, &s, 2) || !ASSERT_OK(xlb_vip_apply(x, &s, be, 2), xlb_errmsg()))
		goto out;
	v = xlb_vip_find(x, &s.key);
	if (!ASSERT_EQ(v->n_backends, 2, "backends"))
		goto out;
	ASSERT_EQ(v->backends[0].id, 1, "slot of the kept backend");
	ASSERT_EQ(v->backends[1].id, 2, "slot of the new backend");
	if (ASSERT_OK(slot_read(x, 0, &slot), "read slot 0"))
		ASSERT_EQ(slot.flags & XLB_BACKEND_F_IN_USE, 0, "slot 0 is freed");
	/* Free now: the next add takes it. */
	be[0] = be_of(3, 1, false);
	if (ASSERT_OK(xlb_backend_add(x, &s.key, &be[0].ep, 1), xlb_errmsg()))
		ASSERT_EQ(xlb_vip_find(x, &s.key)->backends[0].id, 0, "slot 0 reused later");
out:
	xlb_close(x);
}

/* ---- a failing batch changes nothing ------------------------------------- */

#define N_BASE 100
#define SLOTS_SEEN 400

struct snapshot {
	struct live live;
	struct xlb_backend *slots;
	struct xlb_backend_info *model;
	size_t n_model;
};

static bool snap_take(struct xlb *x, const struct xlb_vip_key *key, struct snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->slots = slots_snapshot(x, SLOTS_SEEN);
	s->model = model_copy(x, key, &s->n_model);
	return ASSERT_OK(live_read(x, key, &s->live), "read the table") &&
	       ASSERT_NOT_NULL(s->slots, "read the slots") &&
	       ASSERT_NOT_NULL(s->model, "copy the model");
}

static void snap_free(struct snapshot *s)
{
	live_free(&s->live);
	free(s->slots);
	free(s->model);
}

/* Free slots may differ in their generation only: a rollback that adds and
 * deletes a backend again moves it on, as it must. Every write moves a
 * slot's epoch, so a rewrite of the same entry is not a change. */
static bool slots_same(const struct xlb_backend *a, const struct xlb_backend *b, bool strict)
{
	for (uint32_t i = 0; i < SLOTS_SEEN; i++) {
		bool used = (a[i].flags | b[i].flags) & XLB_BACKEND_F_IN_USE;
		struct xlb_backend x = a[i], y = b[i];

		x.epoch = y.epoch = 0;
		if ((strict || used) && memcmp(&x, &y, sizeof(x)))
			return false;
	}
	return true;
}

/* strict: the very same table still published (no switch happened) and
 * every slot byte for byte; otherwise an equal table and equal used slots. */
static bool snap_same(struct xlb *x, const struct xlb_vip_key *key, const struct snapshot *a,
		      bool strict)
{
	size_t tsize = a->live.val.table_size * sizeof(*a->live.ids);
	struct snapshot b;
	bool ok = snap_take(x, key, &b);

	ok = ok && ASSERT_TRUE(!memcmp(&a->live.val, &b.live.val, sizeof(a->live.val)),
			       "the VIP's entry changed");
	if (strict)
		ok = ok && ASSERT_EQ(b.live.map_id, a->live.map_id, "the published table");
	else
		ok = ok && ASSERT_TRUE(!memcmp(a->live.ids, b.live.ids, tsize),
				       "the table's entries changed");
	ok = ok && ASSERT_TRUE(slots_same(a->slots, b.slots, strict), "backend slots changed");
	ok = ok && ASSERT_EQ(b.n_model, a->n_model, "backends in the model");
	ok = ok && ASSERT_TRUE(!memcmp(a->model, b.model, a->n_model * sizeof(*a->model)),
			       "the model changed");
	snap_free(&b);
	return ok;
}

/* Delete 20, reweight 30, add 50, with one bad backend among the new ones. */
static size_t bad_batch(struct xlb_backend_spec *be, const char *kind)
{
	size_t n = 0;

	for (unsigned int i = 20; i < N_BASE; i++)
		be[n++] = be_of(i, i < 50 ? 3 : 1, false);
	for (unsigned int i = N_BASE; i < N_BASE + 50; i++)
		be[n++] = be_of(i, 1, false);
	if (!strcmp(kind, "weight"))
		be[n - 25].weight = XLB_MAX_WEIGHT + 1;
	else if (!strcmp(kind, "twice"))
		be[n - 25] = be[n - 26];
	else if (!strcmp(kind, "family"))
		be[n - 25].ep.family = XLB_FAMILY_V6;
	return n;
}

static void test_invalid_changes_nothing(const char *kind, const char *want)
{
	struct xlb_vip_spec s = vip_spec(4, XLB_SCHED_MAGLEV, RING);
	struct xlb_backend_spec be[N_BASE + 50];
	struct xlb_endpoint down = ep_of(5);
	struct snapshot before = {};
	struct xlb *x;
	uint32_t next_id;
	size_t n;
	int rc;

	x = load();
	if (!x)
		return;
	if (!start_vip(x, &s, N_BASE) ||
	    !ASSERT_OK(xlb_backend_set_down(x, &s.key, &down, true), xlb_errmsg()) ||
	    !snap_take(x, &s.key, &before))
		goto out;
	n = bad_batch(be, kind);
	rc = xlb_vip_apply(x, &s, be, n);
	ASSERT_NE(rc, 0, "a batch with a bad backend");
	ASSERT_TRUE(strstr(xlb_errmsg(), want) != NULL, "message '%s' lacks '%s'", xlb_errmsg(),
		    want);
	snap_same(x, &s.key, &before, true);
	/* No id leaked: the next add gets the lowest free slot. */
	next_id = N_BASE;
	if (ASSERT_OK(xlb_backend_add(x, &s.key, &be[n - 1].ep, 1), xlb_errmsg()))
		ASSERT_EQ(xlb_vip_find(x, &s.key)->backends[N_BASE].id, next_id,
			  "slot of the next add");
out:
	snap_free(&before);
	xlb_close(x);
}

/* A failure between the map writes: the VIP's entry removed behind libxlb's
 * back makes the table switch fail after the new slots are written. */
static void test_failure_midway_undone(void)
{
	struct xlb_vip_spec s = vip_spec(5, XLB_SCHED_MAGLEV, RING);
	struct xlb_backend_spec be[N_BASE + 50];
	struct snapshot before = {};
	struct xlb *x;
	size_t n;
	int vips;

	x = load();
	if (!x)
		return;
	vips = xlb_map_fd(x, XLB_MAP_VIPS);
	if (!start_vip(x, &s, N_BASE) || !snap_take(x, &s.key, &before))
		goto out;
	n = bad_batch(be, "none");
	if (!ASSERT_OK(bpf_map_delete_elem(vips, &s.key), "remove the VIP's entry"))
		goto out;
	ASSERT_NE(xlb_vip_apply(x, &s, be, n), 0, "a batch whose table switch fails");
	test_log("%s", xlb_errmsg());
	if (!ASSERT_OK(bpf_map_update_elem(vips, &s.key, &before.live.val, BPF_NOEXIST),
		       "put the VIP's entry back"))
		goto out;
	snap_same(x, &s.key, &before, true);
	/* And once the switch can happen, the same batch goes through. */
	if (ASSERT_OK(xlb_vip_apply(x, &s, be, n), xlb_errmsg()))
		ASSERT_EQ(xlb_vip_find(x, &s.key)->n_backends, n, "backends after the retry");
out:
	snap_free(&before);
	xlb_close(x);
}

/* Health is not part of a batch: a down backend stays down and out. */
static void test_keeps_health(void)
{
	struct xlb_vip_spec s = vip_spec(6, XLB_SCHED_MAGLEV, RING_SMALL);
	struct xlb_backend_spec be[20];
	struct xlb_endpoint ep = ep_of(3);
	const struct xlb_vip_info *v;
	struct live l = {};
	uint32_t id;
	struct xlb *x;

	x = load();
	if (!x)
		return;
	for (unsigned int i = 0; i < 20; i++)
		be[i] = be_of(i + 2, 2, false);
	if (!start_vip(x, &s, 10) ||
	    !ASSERT_OK(xlb_backend_set_down(x, &s.key, &ep, true), "down") ||
	    !ASSERT_OK(xlb_vip_apply(x, &s, be, 20), xlb_errmsg()) ||
	    !ASSERT_OK(live_read(x, &s.key, &l), "read the table"))
		goto out;
	v = xlb_vip_find(x, &s.key);
	id = ~0u;
	for (size_t i = 0; i < v->n_backends; i++)
		if (!memcmp(&v->backends[i].ep.addr, &ep.addr, sizeof(ep.addr))) {
			ASSERT_TRUE(v->backends[i].down, "the down backend is still down");
			ASSERT_EQ(v->backends[i].weight, 2, "and has its new weight");
			id = v->backends[i].id;
		}
	for (uint32_t i = 0; i < l.val.table_size; i++)
		if (!ASSERT_NE(l.ids[i], id, "the down backend is in the table"))
			break;
	ASSERT_EQ(table_bad_slot(x, &l), -1, "a table entry names a slot not in use");
out:
	live_free(&l);
	xlb_close(x);
}

/* ---- health of many backends in one change --------------------------------- */

#define N_HEALTH 100

static bool single_health(struct xlb *x, const struct xlb_vip_spec *s, bool down)
{
	struct xlb_endpoint ep;

	for (unsigned int i = 0; i < N_HEALTH; i += 3) {
		ep = ep_of(i);
		if (!ASSERT_OK(xlb_backend_set_down(x, &s->key, &ep, down), xlb_errmsg()))
			return false;
	}
	return true;
}

static size_t health_list(struct xlb_backend_health *h, bool down)
{
	size_t n = 0;

	for (unsigned int i = 0; i < N_HEALTH; i += 3)
		h[n++] = (struct xlb_backend_health){ ep_of(i), down };
	return n;
}

static bool tables_equal(const struct live *a, const struct live *b, const char *what)
{
	return ASSERT_EQ(a->val.table_size, b->val.table_size, what) &&
	       ASSERT_TRUE(!memcmp(a->ids, b->ids, a->val.table_size * sizeof(*a->ids)),
			   "%s: entries differ", what);
}

static void test_health_equal_single(void)
{
	struct xlb_vip_spec s = vip_spec(7, XLB_SCHED_MAGLEV, RING);
	struct xlb_backend_health h[N_HEALTH];
	struct live up = {}, one = {}, batch = {}, back = {};
	struct xlb *x;
	size_t n;

	x = load();
	if (!x)
		return;
	if (!start_vip(x, &s, N_HEALTH) || !ASSERT_OK(live_read(x, &s.key, &up), "read") ||
	    !single_health(x, &s, true) || !ASSERT_OK(live_read(x, &s.key, &one), "read") ||
	    !single_health(x, &s, false))
		goto out;
	n = health_list(h, true);
	if (!ASSERT_OK(xlb_vip_set_health(x, &s.key, h, n), xlb_errmsg()) ||
	    !ASSERT_OK(live_read(x, &s.key, &batch), "read"))
		goto out;
	tables_equal(&one, &batch, "34 down in one change vs one by one");
	ASSERT_EQ(table_bad_slot(x, &batch), -1, "a table entry names a slot not in use");
	n = health_list(h, false);
	if (ASSERT_OK(xlb_vip_set_health(x, &s.key, h, n), xlb_errmsg()) &&
	    ASSERT_OK(live_read(x, &s.key, &back), "read"))
		tables_equal(&up, &back, "all up again");
out:
	live_free(&up);
	live_free(&one);
	live_free(&batch);
	live_free(&back);
	xlb_close(x);
}

static void test_health_unknown_changes_nothing(void)
{
	struct xlb_vip_spec s = vip_spec(8, XLB_SCHED_MAGLEV, RING);
	struct xlb_backend_health h[N_HEALTH];
	struct snapshot before = {};
	struct xlb *x;
	size_t n;

	x = load();
	if (!x)
		return;
	if (!start_vip(x, &s, N_HEALTH) || !snap_take(x, &s.key, &before))
		goto out;
	n = health_list(h, true);
	h[n / 2].ep = ep_of(N_HEALTH + 1);
	ASSERT_EQ(xlb_vip_set_health(x, &s.key, h, n), -ENOENT, "a change naming no backend");
	ASSERT_TRUE(strstr(xlb_errmsg(), "is not in") != NULL, "message: %s", xlb_errmsg());
	snap_same(x, &s.key, &before, true);
out:
	snap_free(&before);
	xlb_close(x);
}

/* ---- converge: a failed change across VIPs restores the same tables -------- */

static char text[1 << 16];

static const char *config(unsigned int extra, uint32_t weight)
{
	size_t len = 0;

	for (unsigned int v = 0; v < 2; v++) {
		len += snprintf(text + len, sizeof(text) - len,
				"vip add tcp/198.19.2.%u:80 ring %u\n", 10 + v, RING_SMALL);
		for (unsigned int i = 0; i < 40 + extra; i++)
			len += snprintf(text + len, sizeof(text) - len,
					"backend add tcp/198.19.2.%u:80 198.18.%u.%u weight %u\n",
					10 + v, 40 + v, 2 + i, i % 2 ? weight : 1);
	}
	return text;
}

static bool cfg_of(struct xlb_cfg *c, const char *t)
{
	return ASSERT_OK(xlb_cfg_exec_text(c, t, strlen(t), "t.conf", NULL), xlb_errmsg());
}

static void test_converge_restores_tables(void)
{
	struct xlb_cfg have, bad;
	struct snapshot before = {};
	struct xlb_vip_key key;
	struct xlb *x;
	int rc;

	x = load();
	if (!x)
		return;
	xlb_cfg_init(&have);
	xlb_cfg_init(&bad);
	if (!cfg_of(&have, config(0, 1)) ||
	    !ASSERT_OK(xlb_cfg_converge(x, &have), xlb_errmsg()))
		goto out;
	key = have.vips[0].spec.key;
	if (!snap_take(x, &key, &before))
		goto out;
	/* The first VIP gains 20 backends and new weights; the second, last
	 * in converge order, has one weight only libxlb refuses. */
	if (!cfg_of(&bad, config(20, 4)))
		goto out;
	bad.vips[1].be[7].weight = XLB_MAX_WEIGHT + 1;
	rc = xlb_cfg_converge(x, &bad);
	snprintf(err, sizeof(err), "%s", xlb_errmsg());
	ASSERT_NE(rc, 0, "converge to a refused configuration");
	ASSERT_TRUE(strstr(err, "(nothing was changed)") != NULL, "message: %s", err);
	ASSERT_TRUE(strstr(err, "above the maximum") != NULL, "message: %s", err);
	snap_same(x, &key, &before, false);
out:
	snap_free(&before);
	xlb_cfg_free(&have);
	xlb_cfg_free(&bad);
	xlb_close(x);
}

/* A configuration whose VIP changes mode converges by replacing it: the
 * same backends, the new mode, one VIP. */
static void test_converge_mode_change(void)
{
	static const char nat[] = "vip add tcp/198.19.3.10:80 ring 1009\n"
				  "backend add tcp/198.19.3.10:80 198.18.50.2\n"
				  "backend add tcp/198.19.3.10:80 198.18.50.3 weight 3\n";
	static const char dsr[] = "vip add tcp/198.19.3.10:80 ring 1009 mode dsr\n"
				  "backend add tcp/198.19.3.10:80 198.18.50.2\n"
				  "backend add tcp/198.19.3.10:80 198.18.50.3 weight 3\n";
	const struct xlb_vip_info *v;
	struct xlb_cfg a, b;
	struct xlb *x;

	x = load();
	if (!x)
		return;
	xlb_cfg_init(&a);
	xlb_cfg_init(&b);
	if (!cfg_of(&a, nat) || !cfg_of(&b, dsr) ||
	    !ASSERT_OK(xlb_cfg_converge(x, &a), xlb_errmsg()) ||
	    !ASSERT_OK(xlb_cfg_converge(x, &b), xlb_errmsg()))
		goto out;
	v = xlb_vip_find(x, &b.vips[0].spec.key);
	if (ASSERT_TRUE(v != NULL, "VIP after the mode change")) {
		ASSERT_EQ(v->spec.mode, XLB_MODE_DSR, "mode");
		ASSERT_EQ(v->n_backends, 2, "backends");
		ASSERT_NE(v->id, 0, "a new VIP id (the old one was held until the switch)");
	}
	ASSERT_EQ(xlb_vip_count(x), 1, "VIPs");
out:
	xlb_cfg_free(&a);
	xlb_cfg_free(&b);
	xlb_close(x);
}

int main(void)
{
	RUN_CASE("test_adds_equal_single_maglev", test_adds_equal_single(XLB_SCHED_MAGLEV));
	RUN_CASE("test_adds_equal_single_wrr", test_adds_equal_single(XLB_SCHED_WRR));
	RUN_TEST(test_mixed_equal_single);
	RUN_TEST(test_deletes_never_name_freed);
	RUN_TEST(test_freed_slot_not_reused);
	RUN_TEST(test_create_never_empty);
	RUN_TEST(test_create_failure_leaves_nothing);
	RUN_TEST(test_replace_never_absent);
	RUN_TEST(test_converge_mode_change);
	RUN_CASE("test_invalid_weight_changes_nothing",
		 test_invalid_changes_nothing("weight", "above the maximum"));
	RUN_CASE("test_invalid_twice_changes_nothing",
		 test_invalid_changes_nothing("twice", "given twice"));
	RUN_CASE("test_invalid_family_changes_nothing",
		 test_invalid_changes_nothing("family", "IPv6 but VIP"));
	RUN_TEST(test_failure_midway_undone);
	RUN_TEST(test_keeps_health);
	RUN_TEST(test_health_equal_single);
	RUN_TEST(test_health_unknown_changes_nothing);
	RUN_TEST(test_converge_restores_tables);
	return test_exit_status();
}
