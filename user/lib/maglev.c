// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Maglev lookup tables (Eisenbud et al., NSDI 2016) and rr/wrr turn
 * sequences. Pure C: no libbpf, no randomness, no dependence on the order
 * of the input or on the machine, so every xlb node given the same
 * configuration builds the same table and agrees on each flow's backend.
 *
 * Weights are exact: a member of weight w owns floor or ceil of size*w/W
 * entries (largest remainder). Members fill the table in turns spread evenly
 * over the build in proportion to their quota, so a change of one member
 * shifts everybody's turns only slightly and the others keep their entries.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libxlb.h"

/* Identity bytes: family, address (IPv4 zero-padded), port in wire order. */
#define IDENT_LEN 19

/* Fixed, so tables agree across machines and restarts; different, so a
 * member's offset and skip are independent of each other. */
#define SEED_OFFSET 0x6d61676cu
#define SEED_SKIP 0x65763231u

struct ring_member {
	const struct xlb_table_member *m;
	uint8_t ident[IDENT_LEN];
	uint32_t quota; /* entries this member owns */
	uint32_t taken; /* entries claimed so far */
	uint32_t pos; /* next position of its permutation */
	uint32_t skip;
	uint64_t remainder; /* of size * weight / total, for largest remainder */
};

bool xlb_is_prime(uint32_t n)
{
	uint32_t d;

	if (n < 4)
		return n >= 2;
	if (n % 2 == 0 || n % 3 == 0)
		return false;
	for (d = 5; (uint64_t)d * d <= n; d += 6)
		if (n % d == 0 || n % (d + 2) == 0)
			return false;
	return true;
}

bool xlb_ring_valid(uint32_t n)
{
	return n >= XLB_RING_MIN && n <= XLB_RING_MAX && xlb_is_prime(n);
}

int xlb_ring_check(uint32_t n)
{
	if (xlb_ring_valid(n))
		return 0;
	return xlb_fail(EINVAL, "ring size %u is not a prime between %u and %u (the default is %u)",
			n, XLB_RING_MIN, XLB_RING_MAX, XLB_RING_DEFAULT);
}

/* ---- members: identity, validation, canonical order ------------------- */

static void ident_make(const struct xlb_endpoint *ep, uint8_t ident[IDENT_LEN])
{
	/* Bytes past an IPv4 address are not part of it: ignore stray ones. */
	size_t alen = ep->family == XLB_FAMILY_V4 ? 4 : 16;

	memset(ident, 0, IDENT_LEN);
	ident[0] = ep->family;
	memcpy(ident + 1, ep->addr.bytes, alen);
	memcpy(ident + 17, &ep->port, sizeof(ep->port));
}

/* Words are assembled from bytes explicitly so big- and little-endian
 * hosts compute the same hash. */
static uint32_t ident_hash(const uint8_t ident[IDENT_LEN], uint32_t seed)
{
	uint32_t h = seed, w;
	size_t i, j;

	for (i = 0; i < IDENT_LEN; i += 4) {
		w = 0;
		for (j = 0; j < 4 && i + j < IDENT_LEN; j++)
			w |= (uint32_t)ident[i + j] << (8 * j);
		h = xlb_hash_mix(h, w);
	}
	return xlb_hash_final(h ^ IDENT_LEN);
}

static const char *ident_str(const struct xlb_endpoint *ep, char *buf,
			     size_t len)
{
	char addr[INET6_ADDRSTRLEN] = "?";
	bool v6 = ep->family == XLB_FAMILY_V6;

	inet_ntop(v6 ? AF_INET6 : AF_INET, &ep->addr, addr, sizeof(addr));
	snprintf(buf, len, v6 ? "[%s]:%u" : "%s:%u", addr, ntohs(ep->port));
	return buf;
}

static int cmp_ident(const void *a, const void *b)
{
	const struct ring_member *x = a, *y = b;

	return memcmp(x->ident, y->ident, IDENT_LEN);
}

static int check_members(const struct xlb_table_member *members, size_t n,
			 const char *what)
{
	char buf[64];
	size_t i;

	if (n > XLB_MAX_BACKENDS)
		return xlb_fail(EINVAL, "%s: %zu members exceed the limit of %d",
				what, n, XLB_MAX_BACKENDS);
	for (i = 0; i < n; i++)
		if (!members[i].weight)
			return xlb_fail(EINVAL,
					"%s: member %s (id %u) has weight 0; "
					"leave it out instead",
					what, ident_str(&members[i].ep, buf, sizeof(buf)),
					members[i].id);
	return 0;
}

/*
 * Copy the members into identity order, which fixes every tie-break of the
 * build, so the input order cannot change the result. Duplicates are refused:
 * two members with one identity would share a permutation.
 */
static int members_sort(const struct xlb_table_member *members, size_t n,
			const char *what, struct ring_member **out)
{
	struct ring_member *r;
	char buf[64];
	size_t i;
	int err;

	r = calloc(n, sizeof(*r));
	if (!r)
		return xlb_fail(ENOMEM, "%s: out of memory", what);
	for (i = 0; i < n; i++) {
		r[i].m = &members[i];
		ident_make(&members[i].ep, r[i].ident);
	}
	qsort(r, n, sizeof(*r), cmp_ident);
	for (i = 1; i < n; i++) {
		if (cmp_ident(&r[i - 1], &r[i]))
			continue;
		err = xlb_fail(EINVAL, "%s: duplicate member %s (ids %u and %u)",
			       what, ident_str(&r[i].m->ep, buf, sizeof(buf)),
			       r[i - 1].m->id, r[i].m->id);
		free(r);
		return err;
	}
	*out = r;
	return 0;
}

/* ---- Maglev ----------------------------------------------------------- */

/* Larger remainder first; equal remainders in identity order (the array's
 * order), so the tie-break does not depend on the input order. */
static int cmp_remainder(const void *a, const void *b)
{
	const struct ring_member *x = *(const struct ring_member *const *)a;
	const struct ring_member *y = *(const struct ring_member *const *)b;

	if (x->remainder != y->remainder)
		return x->remainder > y->remainder ? -1 : 1;
	return (x > y) - (x < y);
}

/* Largest remainder method: quotas sum to size, each floor or ceil of the
 * exact share. */
static int assign_quotas(struct ring_member *r, size_t n, uint32_t size)
{
	struct ring_member **order;
	uint64_t total = 0, share;
	uint32_t given = 0;
	size_t i;

	for (i = 0; i < n; i++)
		total += r[i].m->weight;
	for (i = 0; i < n; i++) {
		share = (uint64_t)size * r[i].m->weight;
		r[i].quota = share / total;
		r[i].remainder = share % total;
		given += r[i].quota;
	}
	order = malloc(n * sizeof(*order));
	if (!order)
		return xlb_fail(ENOMEM, "maglev: out of memory");
	for (i = 0; i < n; i++)
		order[i] = &r[i];
	qsort(order, n, sizeof(*order), cmp_remainder);
	/* Fewer than n entries are left over, one each for the largest. */
	for (i = 0; given < size; i++, given++)
		order[i]->quota++;
	free(order);
	return 0;
}

/* Offset and skip from two independent hashes; skip in [1, size-1] and size
 * prime make each permutation visit every entry exactly once. */
static void init_permutations(struct ring_member *r, size_t n, uint32_t size)
{
	size_t i;

	for (i = 0; i < n; i++) {
		r[i].pos = ident_hash(r[i].ident, SEED_OFFSET) % size;
		r[i].skip = ident_hash(r[i].ident, SEED_SKIP) % (size - 1) + 1;
		r[i].taken = 0;
	}
}

/*
 * The order of turns. Member i's k-th turn falls at time (k + 1/2) / quota_i
 * on a [0, 1) clock: turns are spread evenly over the build in proportion to
 * the quota, and a member whose quota changes a little keeps nearly the same
 * place among the others' turns, which is what keeps entries where they were.
 * Equal times go to the earlier identity.
 */
static bool turn_before(const struct ring_member *r, uint32_t a, uint32_t b)
{
	uint64_t ta = (2ull * r[a].taken + 1) * r[b].quota;
	uint64_t tb = (2ull * r[b].taken + 1) * r[a].quota;

	if (ta != tb)
		return ta < tb;
	return a < b;
}

struct turn_heap {
	const struct ring_member *r;
	uint32_t *idx;
	size_t len;
};

static void heap_swap(struct turn_heap *h, size_t a, size_t b)
{
	uint32_t t = h->idx[a];

	h->idx[a] = h->idx[b];
	h->idx[b] = t;
}

static void heap_sift_down(struct turn_heap *h, size_t i)
{
	size_t l, best;

	for (;;) {
		best = i;
		l = 2 * i + 1;
		if (l < h->len && turn_before(h->r, h->idx[l], h->idx[best]))
			best = l;
		if (l + 1 < h->len && turn_before(h->r, h->idx[l + 1], h->idx[best]))
			best = l + 1;
		if (best == i)
			return;
		heap_swap(h, i, best);
		i = best;
	}
}

/* Members that own no entry (more members than entries) never get a turn. */
static void heap_init(struct turn_heap *h, const struct ring_member *r,
		      size_t n, uint32_t *storage)
{
	size_t i;

	h->r = r;
	h->idx = storage;
	h->len = 0;
	for (i = 0; i < n; i++)
		if (r[i].quota)
			h->idx[h->len++] = i;
	for (i = h->len / 2; i-- > 0;)
		heap_sift_down(h, i);
}

/* The member's next preferred entry that nobody holds yet. */
static uint32_t claim_next(struct ring_member *rm, uint64_t *used,
			   uint32_t size)
{
	uint32_t pos = rm->pos;

	while (used[pos / 64] & (1ull << (pos % 64))) {
		pos += rm->skip;
		if (pos >= size)
			pos -= size;
	}
	used[pos / 64] |= 1ull << (pos % 64);
	rm->pos = pos + rm->skip >= size ? pos + rm->skip - size : pos + rm->skip;
	rm->taken++;
	return pos;
}

static int fill_table(struct ring_member *r, size_t n, uint32_t *table,
		      uint32_t size)
{
	struct turn_heap h;
	uint32_t *storage;
	uint64_t *used;
	uint32_t i;

	storage = malloc(n * sizeof(*storage));
	used = calloc((size + 63) / 64, sizeof(*used));
	if (!storage || !used) {
		free(storage);
		free(used);
		return xlb_fail(ENOMEM, "maglev: out of memory for %u entries", size);
	}
	heap_init(&h, r, n, storage);
	while (h.len) {
		i = h.idx[0];
		table[claim_next(&r[i], used, size)] = r[i].m->id;
		if (r[i].taken == r[i].quota)
			h.idx[0] = h.idx[--h.len];
		heap_sift_down(&h, 0);
	}
	free(storage);
	free(used);
	return 0;
}

int xlb_maglev_build(const struct xlb_table_member *members, size_t n,
		     uint32_t *table, uint32_t size)
{
	struct ring_member *r;
	int err;

	err = xlb_ring_check(size);
	if (!err)
		err = check_members(members, n, "maglev");
	if (err || !n)
		return err;
	err = members_sort(members, n, "maglev", &r);
	if (err)
		return err;
	err = assign_quotas(r, n, size);
	if (!err) {
		init_permutations(r, n, size);
		err = fill_table(r, n, table, size);
	}
	free(r);
	return err;
}

/* ---- digests ---------------------------------------------------------- */

#define FNV64_OFFSET 0xcbf29ce484222325ull
#define FNV64_PRIME 0x100000001b3ull

static uint64_t fnv_u64(uint64_t h, uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		h ^= (v >> (8 * i)) & 0xff;
		h *= FNV64_PRIME;
	}
	return h;
}

/* 64 bits of a member's identity: two independent 32-bit hashes. */
static uint64_t ident_hash64(const struct xlb_endpoint *ep)
{
	uint8_t ident[IDENT_LEN];

	ident_make(ep, ident);
	return (uint64_t)ident_hash(ident, SEED_OFFSET) << 32 | ident_hash(ident, SEED_SKIP);
}

struct id_hash {
	uint32_t id;
	uint64_t hash;
};

static int cmp_id_hash(const void *a, const void *b)
{
	const struct id_hash *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

/* An id of no member (a table being replaced) hashes as all ones. */
static uint64_t id_to_hash(const struct id_hash *by_id, size_t n, uint32_t id)
{
	struct id_hash key = { .id = id };
	const struct id_hash *e = n ? bsearch(&key, by_id, n, sizeof(*by_id), cmp_id_hash) : NULL;

	return e ? e->hash : ~0ull;
}

/*
 * Entries are hashed as the identity of the member they name, never as its
 * id: ids are slots local to one node (they follow the history of adds and
 * deletes), identities are the configuration, which is what nodes share.
 */
int xlb_table_digest(const uint32_t *ids, uint32_t size,
		     const struct xlb_table_member *members, size_t n, uint64_t *digest)
{
	uint64_t h = fnv_u64(FNV64_OFFSET, size);
	struct id_hash *by_id;
	uint32_t i, last = 0;
	uint64_t last_hash = 0;

	by_id = calloc(n ? n : 1, sizeof(*by_id));
	if (!by_id)
		return xlb_fail(ENOMEM, "digest: out of memory");
	for (i = 0; i < n; i++) {
		by_id[i].id = members[i].id;
		by_id[i].hash = ident_hash64(&members[i].ep);
	}
	qsort(by_id, n, sizeof(*by_id), cmp_id_hash);
	for (i = 0; i < size; i++) {
		/* Runs of one id are common: look each run up once. */
		if (!i || ids[i] != last) {
			last = ids[i];
			last_hash = id_to_hash(by_id, n, last);
		}
		h = fnv_u64(h, last_hash);
	}
	free(by_id);
	*digest = h;
	return 0;
}

/* ---- rr/wrr turn sequences -------------------------------------------- */

static uint32_t gcd(uint32_t a, uint32_t b)
{
	uint32_t t;

	while (b) {
		t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/*
 * Members of equal weight take their turns in identity order, one after the
 * other (what smooth weighted round robin does with them), so the sequence
 * is computed per weight class: a class is one candidate per step, not one
 * per member, which keeps 16384 rr backends cheap.
 */
struct weight_class {
	uint32_t weight; /* divided by the gcd */
	uint32_t first; /* index of its first member in the by-weight order */
	uint32_t count; /* members in the class */
	uint64_t picks; /* turns the class has had */
};

static int cmp_weight_then_ident(const void *a, const void *b)
{
	const struct ring_member *x = a, *y = b;

	if (x->m->weight != y->m->weight)
		return x->m->weight < y->m->weight ? -1 : 1;
	return cmp_ident(a, b);
}

/* Sort r by weight and return its classes; *n_classes is their number. */
static struct weight_class *weight_classes(struct ring_member *r, size_t n,
					   uint32_t g, size_t *n_classes)
{
	struct weight_class *c;
	size_t i, k = 0;

	qsort(r, n, sizeof(*r), cmp_weight_then_ident);
	c = calloc(n, sizeof(*c));
	if (!c)
		return NULL;
	for (i = 0; i < n; i++) {
		if (i && r[i].m->weight == r[i - 1].m->weight) {
			c[k - 1].count++;
			continue;
		}
		c[k].weight = r[i].m->weight / g;
		c[k].first = i;
		c[k].count = 1;
		k++;
	}
	*n_classes = k;
	return c;
}

static const struct ring_member *class_next(const struct weight_class *c,
					    const struct ring_member *r)
{
	return &r[c->first + c->picks % c->count];
}

/*
 * Smooth weighted round robin (nginx): at step t every member's current
 * weight has grown by t * w and dropped by total for each turn it took; the
 * largest goes next, equal ones in identity order. Within a class the
 * member due is the class's next in rotation, with picks / count turns.
 */
static void swrr_fill(struct weight_class *c, size_t n_classes,
		      const struct ring_member *r, uint64_t total,
		      uint32_t *seq, uint32_t len)
{
	const struct ring_member *due, *best_m;
	int64_t cur, best_cur;
	size_t k, best;
	uint32_t t;

	for (t = 1; t <= len; t++) {
		best = 0;
		best_cur = 0;
		best_m = NULL;
		for (k = 0; k < n_classes; k++) {
			due = class_next(&c[k], r);
			cur = (int64_t)t * c[k].weight -
			      (int64_t)total * (c[k].picks / c[k].count);
			if (best_m && (cur < best_cur ||
				       (cur == best_cur &&
					cmp_ident(due, best_m) > 0)))
				continue;
			best = k;
			best_cur = cur;
			best_m = due;
		}
		seq[t - 1] = best_m->m->id;
		c[best].picks++;
	}
}

int xlb_turns_build(const struct xlb_table_member *members, size_t n,
		    uint32_t *seq, uint32_t max)
{
	struct weight_class *classes;
	struct ring_member *r;
	uint64_t len = 0;
	size_t i, n_classes;
	uint32_t g = 0;
	int err;

	err = check_members(members, n, "turns");
	if (err || !n)
		return err;
	for (i = 0; i < n; i++)
		g = gcd(members[i].weight, g);
	for (i = 0; i < n; i++)
		len += members[i].weight / g;
	/* The length is also the return value: it must fit an int. */
	if (max > INT32_MAX)
		max = INT32_MAX;
	if (len > max)
		return xlb_fail(E2BIG,
				"turns: the weights' sum after dividing by their "
				"gcd (%u) is %llu, which exceeds the limit of %u "
				"turns; use smaller weights (or weights with a "
				"larger common divisor)",
				g, (unsigned long long)len, max);
	err = members_sort(members, n, "turns", &r);
	if (err)
		return err;
	classes = weight_classes(r, n, g, &n_classes);
	if (!classes) {
		free(r);
		return xlb_fail(ENOMEM, "turns: out of memory");
	}
	swrr_fill(classes, n_classes, r, len, seq, len);
	free(classes);
	free(r);
	return len;
}
