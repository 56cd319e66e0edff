// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Maglev tables and rr/wrr turn sequences (user/lib/maglev.c): balance,
 * exact weights, disruption on membership changes, determinism, input-order
 * independence, error reporting, build time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libxlb.h"
#include "testlib.h"

#define M_SMALL 65537u
#define M_LARGE 1048573u

/* ---- helpers ---------------------------------------------------------- */

/* Member i is 198.18.(i/256).(i%256):80 with id 1000 + i, so identity order
 * (family, address, port) is index order. */
static struct xlb_table_member member_v4(uint32_t i, uint32_t weight)
{
	struct xlb_table_member m = {};

	m.id = 1000 + i;
	m.weight = weight;
	m.ep.family = XLB_FAMILY_V4;
	m.ep.addr.v4 = htonl(0xc6120000u + i);
	m.ep.port = htons(80);
	return m;
}

static struct xlb_table_member member_v6(uint32_t i, uint32_t weight)
{
	struct xlb_table_member m = {};

	m.id = 500000 + i;
	m.weight = weight;
	m.ep.family = XLB_FAMILY_V6;
	m.ep.addr.bytes[0] = 0xfd;
	m.ep.addr.v6[3] = htonl(i + 1);
	m.ep.port = htons(8080);
	return m;
}

/* A fixed pseudo-random stream (not rand(): runs must be reproducible). */
static uint32_t lcg(uint32_t *state)
{
	*state = *state * 1664525u + 1013904223u;
	return *state >> 8;
}

static struct xlb_table_member *members_equal(size_t n)
{
	struct xlb_table_member *m = calloc(n ? n : 1, sizeof(*m));
	size_t i;

	for (i = 0; m && i < n; i++)
		m[i] = member_v4(i, 1);
	return m;
}

static void shuffle(struct xlb_table_member *m, size_t n, uint32_t seed)
{
	struct xlb_table_member t;
	size_t i, j;

	for (i = n; i > 1; i--) {
		j = lcg(&seed) % i;
		t = m[i - 1];
		m[i - 1] = m[j];
		m[j] = t;
	}
}

/* Builds a fresh table; NULL (with the case failed) on error. */
static uint32_t *build(const struct xlb_table_member *m, size_t n,
		       uint32_t size)
{
	uint32_t *table = calloc(size, sizeof(*table));
	int err;

	if (!ASSERT_NOT_NULL(table, "calloc table"))
		return NULL;
	err = xlb_maglev_build(m, n, table, size);
	if (!ASSERT_OK(err, xlb_errmsg())) {
		free(table);
		return NULL;
	}
	return table;
}

/* Entries per member index (ids are 1000 + index). False if an entry
 * holds an id that is no member's. */
static bool count_entries(const uint32_t *table, uint32_t size, size_t n,
			  uint32_t *counts)
{
	uint32_t i;

	memset(counts, 0, n * sizeof(*counts));
	for (i = 0; i < size; i++) {
		if (!ASSERT_TRUE(table[i] >= 1000 && table[i] - 1000 < n,
				 "entry %u holds id %u, no member's", i, table[i]))
			return false;
		counts[table[i] - 1000]++;
	}
	return true;
}

/* The exact quota by largest remainder is floor or ceil of the share. */
static bool check_exact_shares(const uint32_t *table, uint32_t size,
			       const struct xlb_table_member *m, size_t n)
{
	uint64_t total = 0, share_lo, share_hi;
	uint32_t *counts = calloc(n, sizeof(*counts));
	double want, got;
	bool ok = true;
	size_t i;

	if (!ASSERT_NOT_NULL(counts, "calloc counts"))
		return false;
	for (i = 0; i < n; i++)
		total += m[i].weight;
	ok = count_entries(table, size, n, counts);
	for (i = 0; ok && i < n; i++) {
		share_lo = (uint64_t)size * m[i].weight / total;
		share_hi = share_lo + ((uint64_t)size * m[i].weight % total != 0);
		ok = ASSERT_TRUE(counts[i] == share_lo || counts[i] == share_hi,
				 "member %zu weight %u: %u entries, quota is %llu..%llu",
				 i, m[i].weight, counts[i],
				 (unsigned long long)share_lo,
				 (unsigned long long)share_hi);
		/* Within 1% of the weighted share, or one entry for shares
		 * too small for 1% to be a whole entry. */
		want = (double)size * m[i].weight / total;
		got = counts[i];
		ok = ok && ASSERT_TRUE(fabs(got - want) <= (want > 100 ? 0.01 * want : 1),
				       "member %zu: %.0f entries, weighted share %.2f",
				       i, got, want);
	}
	free(counts);
	return ok;
}

struct disruption {
	uint32_t moved; /* entries whose owner changed */
	uint32_t shuffled; /* of those: between members present in both tables */
};

static struct disruption diff_tables(const uint32_t *a, const uint32_t *b,
				     uint32_t size, uint32_t gone_id,
				     uint32_t new_id)
{
	struct disruption d = {};
	uint32_t i;

	for (i = 0; i < size; i++) {
		if (a[i] == b[i])
			continue;
		d.moved++;
		if (a[i] != gone_id && b[i] != new_id)
			d.shuffled++;
	}
	return d;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Forget the previous failure so a missing message is noticed. */
static void errmsg_clear(void)
{
	xlb_fail(0, "%s", "");
}

/* ---- Maglev: balance and weights ------------------------------------ */

static void test_balance_equal(size_t n, uint32_t size)
{
	struct xlb_table_member *m = members_equal(n);
	uint32_t *table;

	if (!ASSERT_NOT_NULL(m, "calloc members"))
		return;
	table = build(m, n, size);
	if (table)
		check_exact_shares(table, size, m, n);
	free(table);
	free(m);
}

static void test_weights(const uint32_t *weights, size_t n, uint32_t size)
{
	struct xlb_table_member *m = calloc(n, sizeof(*m));
	uint32_t *table;
	size_t i;

	if (!ASSERT_NOT_NULL(m, "calloc members"))
		return;
	for (i = 0; i < n; i++)
		m[i] = member_v4(i, weights[i]);
	table = build(m, n, size);
	if (table)
		check_exact_shares(table, size, m, n);
	free(table);
	free(m);
}

static void test_weights_mixed(void)
{
	uint32_t w[64], seed = 42;
	size_t i;

	for (i = 0; i < 64; i++)
		w[i] = 1 + lcg(&seed) % 100;
	test_weights(w, 64, M_SMALL);
}

/* Fewer entries than members: each entry still goes to a member, nobody
 * gets two while another has none. */
static void test_more_members_than_entries(void)
{
	struct xlb_table_member *m = members_equal(10);
	uint32_t *table, counts[10];
	size_t i;

	if (!ASSERT_NOT_NULL(m, "calloc members"))
		return;
	table = build(m, 10, 7);
	if (table && count_entries(table, 7, 10, counts))
		for (i = 0; i < 10; i++)
			if (!ASSERT_LE(counts[i], 1, "entries of one member"))
				break;
	free(table);
	free(m);
}

static void test_empty(void)
{
	uint32_t table[7] = { 1, 2, 3, 4, 5, 6, 7 };

	ASSERT_OK(xlb_maglev_build(NULL, 0, table, 7), "n=0");
	ASSERT_EQ(table[3], 4, "table untouched");
}

/* ---- Maglev: disruption --------------------------------------------- */

/* Remove member `gone` of n: at most 1/n + 1% of entries move, and at most
 * 1% move between the members that stay. Logs the worst case seen. */
static bool check_remove(const struct xlb_table_member *m, size_t n,
			 const uint32_t *before, uint32_t size, size_t gone,
			 struct disruption *worst)
{
	struct xlb_table_member *rest = malloc(n * sizeof(*rest));
	struct disruption d;
	uint32_t *after;
	bool ok = false;

	if (!ASSERT_NOT_NULL(rest, "malloc"))
		return false;
	memcpy(rest, m, gone * sizeof(*m));
	memcpy(rest + gone, m + gone + 1, (n - gone - 1) * sizeof(*m));
	after = build(rest, n - 1, size);
	if (after) {
		d = diff_tables(before, after, size, m[gone].id, UINT32_MAX);
		if (d.moved > worst->moved)
			worst->moved = d.moved;
		if (d.shuffled > worst->shuffled)
			worst->shuffled = d.shuffled;
		ok = ASSERT_LE(d.moved, (uint32_t)(size * (1.0 / n + 0.01)),
			       "entries moved") &&
		     ASSERT_LE(d.shuffled, (uint32_t)(size * 0.01),
			       "entries moved between remaining members");
	}
	free(after);
	free(rest);
	return ok;
}

static void test_remove_one(size_t n, uint32_t size, size_t tries)
{
	struct xlb_table_member *m = members_equal(n);
	struct disruption worst = {};
	uint32_t *before;
	size_t t;

	if (!ASSERT_NOT_NULL(m, "calloc members"))
		return;
	before = build(m, n, size);
	for (t = 0; before && t < tries; t++)
		if (!check_remove(m, n, before, size, t * n / tries, &worst))
			break;
	test_log("remove one of %zu, M=%u: worst moved %u (%.3f%%, ideal %.3f%%), "
		 "between remaining %u (%.3f%%)", n, size, worst.moved,
		 100.0 * worst.moved / size, 100.0 / n, worst.shuffled,
		 100.0 * worst.shuffled / size);
	free(before);
	free(m);
}

static void test_add_one(size_t n, uint32_t size)
{
	struct xlb_table_member *m = members_equal(n + 1);
	uint32_t *before = NULL, *after = NULL;
	struct disruption d;

	if (!ASSERT_NOT_NULL(m, "calloc members"))
		return;
	before = build(m, n, size);
	after = before ? build(m, n + 1, size) : NULL;
	if (after) {
		d = diff_tables(before, after, size, UINT32_MAX, m[n].id);
		test_log("add one to %zu, M=%u: moved %u (%.3f%%, ideal %.3f%%), "
			 "between old members %u (%.3f%%)", n, size, d.moved,
			 100.0 * d.moved / size, 100.0 / (n + 1), d.shuffled,
			 100.0 * d.shuffled / size);
		ASSERT_LE(d.moved, (uint32_t)(size * (1.0 / (n + 1) + 0.01)),
			  "entries moved");
	}
	free(after);
	free(before);
	free(m);
}

/* Weighted members, one removed: the others keep their entries too. */
static void test_remove_one_weighted(void)
{
	struct xlb_table_member m[20];
	struct disruption worst = {};
	uint32_t *before, seed = 7;
	size_t i;

	for (i = 0; i < 20; i++)
		m[i] = member_v4(i, 1 + lcg(&seed) % 10);
	before = build(m, 20, M_SMALL);
	for (i = 0; before && i < 20; i += 3) {
		/* Removing a heavy member may move more than 1/n: allow its share. */
		struct xlb_table_member *rest = malloc(sizeof(m));
		uint32_t *after;
		struct disruption d;

		if (!ASSERT_NOT_NULL(rest, "malloc"))
			break;
		memcpy(rest, m, i * sizeof(*m));
		memcpy(rest + i, m + i + 1, (19 - i) * sizeof(*m));
		after = build(rest, 19, M_SMALL);
		free(rest);
		if (!after)
			break;
		d = diff_tables(before, after, M_SMALL, m[i].id, UINT32_MAX);
		free(after);
		if (d.shuffled > worst.shuffled)
			worst.shuffled = d.shuffled;
		if (!ASSERT_LE(d.shuffled, M_SMALL / 100,
			       "entries moved between remaining members"))
			break;
	}
	test_log("remove one of 20 weighted, M=%u: worst between remaining %u (%.3f%%)",
		 M_SMALL, worst.shuffled, 100.0 * worst.shuffled / M_SMALL);
	free(before);
}

/* ---- Maglev: determinism -------------------------------------------- */

static struct xlb_table_member *members_mixed(size_t n)
{
	struct xlb_table_member *m = calloc(n, sizeof(*m));
	uint32_t seed = 99;
	size_t i;

	for (i = 0; m && i < n; i++)
		m[i] = i % 2 ? member_v6(i, 1 + lcg(&seed) % 50) :
			       member_v4(i, 1 + lcg(&seed) % 50);
	return m;
}

static void test_rebuild_identical(void)
{
	struct xlb_table_member *m = members_mixed(300);
	uint32_t *a = NULL, *b = NULL;

	if (!ASSERT_NOT_NULL(m, "calloc members"))
		return;
	a = build(m, 300, M_SMALL);
	b = a ? build(m, 300, M_SMALL) : NULL;
	if (b)
		ASSERT_TRUE(!memcmp(a, b, M_SMALL * sizeof(*a)),
			    "two builds of one input differ");
	free(a);
	free(b);
	free(m);
}

static void test_order_independent(void)
{
	struct xlb_table_member *m = members_mixed(300);
	uint32_t *a, *b;
	uint32_t round;

	if (!ASSERT_NOT_NULL(m, "calloc members"))
		return;
	a = build(m, 300, M_SMALL);
	for (round = 1; a && round <= 5; round++) {
		shuffle(m, 300, round);
		b = build(m, 300, M_SMALL);
		if (!b)
			break;
		if (!ASSERT_TRUE(!memcmp(a, b, M_SMALL * sizeof(*a)),
				 "shuffle %u gives another table", round)) {
			free(b);
			break;
		}
		free(b);
	}
	free(a);
	free(m);
}

/*
 * Two nodes with the same backends under other slot ids, given in another
 * order: the tables differ as ids but name the same backend in every entry,
 * and the digest (over identities) is equal. One backend moved to another
 * address changes it.
 */
static void test_digest_ignores_ids(void)
{
	struct xlb_table_member *a = members_mixed(50), *b = members_mixed(50);
	uint32_t *ta = NULL, *tb = NULL, i;
	uint64_t da = 0, db = 1, dc = 0;

	if (!ASSERT_NOT_NULL(a, "calloc") || !ASSERT_NOT_NULL(b, "calloc"))
		goto out;
	for (i = 0; i < 50; i++)
		b[i].id = 7000 + 49 - i; /* another node's history */
	shuffle(b, 50, 9);
	ta = build(a, 50, M_SMALL);
	tb = build(b, 50, M_SMALL);
	if (!ta || !tb)
		goto out;
	ASSERT_TRUE(memcmp(ta, tb, M_SMALL * sizeof(*ta)) != 0, "ids differ, so must the raw tables");
	ASSERT_OK(xlb_table_digest(ta, M_SMALL, a, 50, &da), "digest a");
	ASSERT_OK(xlb_table_digest(tb, M_SMALL, b, 50, &db), "digest b");
	ASSERT_EQ_U(da, db, "digests of one configuration under other ids");
	/* Same ids, one member's address changed: another configuration. */
	a[7].ep.port = htons(81);
	ASSERT_OK(xlb_table_digest(ta, M_SMALL, a, 50, &dc), "digest c");
	ASSERT_NE(da, dc, "digest after a member moved to another port");
out:
	free(ta);
	free(tb);
	free(a);
	free(b);
}

/* Bytes past an IPv4 address are not part of the identity. */
static void test_v4_identity_ignores_padding(void)
{
	struct xlb_table_member m[3] = { member_v4(0, 1), member_v4(1, 2),
					 member_v4(2, 3) };
	uint32_t *a, *b = NULL;

	a = build(m, 3, 1009);
	m[1].ep.addr.v6[2] = 0xdeadbeef;
	m[2].ep.pad = 0x55;
	if (a)
		b = build(m, 3, 1009);
	if (b)
		ASSERT_TRUE(!memcmp(a, b, 1009 * sizeof(*a)),
			    "stray bytes changed the table");
	free(a);
	free(b);
}

/* ---- Maglev: errors ------------------------------------------------- */

static bool expect_einval(int err, const char *case_name, const char *word)
{
	return ASSERT_EQ(err, -EINVAL, case_name) &&
	       ASSERT_TRUE(strstr(xlb_errmsg(), word) != NULL,
			   "%s: message \"%s\" does not mention \"%s\"",
			   case_name, xlb_errmsg(), word);
}

static void test_maglev_errors(void)
{
	struct xlb_table_member m[3] = { member_v4(0, 1), member_v4(1, 1),
					 member_v4(2, 1) };
	static uint32_t table[M_LARGE];
	struct xlb_table_member *many;

	errmsg_clear();
	expect_einval(xlb_maglev_build(m, 3, table, 65536), "size 65536", "prime");
	errmsg_clear();
	expect_einval(xlb_maglev_build(m, 3, table, 5), "size 5", "between 7 and 1048573");
	errmsg_clear();
	/* 1048583 is prime but above XLB_RING_MAX. */
	expect_einval(xlb_maglev_build(m, 3, table, 1048583), "size 1048583", "between 7 and 1048573");
	m[1].weight = 0;
	errmsg_clear();
	expect_einval(xlb_maglev_build(m, 3, table, 1009), "zero weight", "weight 0");
	m[1].weight = 1;
	m[2].ep = m[0].ep;
	m[2].id = 77;
	errmsg_clear();
	expect_einval(xlb_maglev_build(m, 3, table, 1009), "duplicate", "duplicate");
	many = members_equal(XLB_MAX_BACKENDS + 1);
	if (!ASSERT_NOT_NULL(many, "calloc"))
		return;
	errmsg_clear();
	expect_einval(xlb_maglev_build(many, XLB_MAX_BACKENDS + 1, table, M_LARGE),
		      "too many members", "limit");
	free(many);
}

static void test_is_prime(void)
{
	static const uint32_t primes[] = { 2, 3, 5, 7, 13, 65537, 1048573, 4294967291u, 4294967279u };
	static const uint32_t others[] = { 0, 1, 4, 9, 25, 65535, 65536, 1048575,
					   4294967295u, 65521u * 65521u };
	size_t i;

	for (i = 0; i < sizeof(primes) / sizeof(primes[0]); i++)
		ASSERT_TRUE(xlb_is_prime(primes[i]), "%u is prime", primes[i]);
	for (i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		ASSERT_FALSE(xlb_is_prime(others[i]), "%u is not prime", others[i]);
}

/* ---- Maglev: build time --------------------------------------------- */

static void test_build_time(void)
{
	struct xlb_table_member *m = members_equal(1000);
	uint32_t *table = calloc(M_SMALL, sizeof(*table));
	double t0, best = 1e9;
	int i;

	if (!ASSERT_NOT_NULL(m, "calloc") || !ASSERT_NOT_NULL(table, "calloc"))
		goto out;
	/* Best of three: the VM is shared, a single run can be preempted. */
	for (i = 0; i < 3; i++) {
		t0 = now_ms();
		if (!ASSERT_OK(xlb_maglev_build(m, 1000, table, M_SMALL), xlb_errmsg()))
			goto out;
		if (now_ms() - t0 < best)
			best = now_ms() - t0;
	}
	test_log("build M=%u N=1000: %.2f ms", M_SMALL, best);
	ASSERT_TRUE(best < 100, "build took %.1f ms, budget 100 ms", best);
out:
	free(table);
	free(m);
}

/* ---- turns (rr/wrr) ------------------------------------------------- */

/* nginx's smooth weighted round robin, member by member, for comparison. */
static void swrr_reference(const struct xlb_table_member *m, size_t n,
			   uint32_t *seq, uint32_t len)
{
	int64_t *cur = calloc(n, sizeof(*cur)), total = 0;
	size_t i, best;
	uint32_t t;

	for (i = 0; i < n; i++)
		total += m[i].weight;
	for (t = 0; cur && t < len; t++) {
		best = 0;
		for (i = 0; i < n; i++) {
			cur[i] += m[i].weight;
			if (cur[i] > cur[best])
				best = i;
		}
		cur[best] -= total;
		seq[t] = m[best].id;
	}
	free(cur);
}

static uint32_t count_id(const uint32_t *seq, int len, uint32_t id)
{
	uint32_t c = 0;
	int i;

	for (i = 0; i < len; i++)
		c += seq[i] == id;
	return c;
}

static void test_turns_rr(void)
{
	struct xlb_table_member *m = members_equal(50);
	uint32_t seq[64];
	int len, i;

	if (!ASSERT_NOT_NULL(m, "calloc"))
		return;
	shuffle(m, 50, 3);
	len = xlb_turns_build(m, 50, seq, 64);
	if (ASSERT_EQ(len, 50, xlb_errmsg()))
		/* Each member once, in identity (address) order whatever the input. */
		for (i = 0; i < len; i++)
			if (!ASSERT_EQ(seq[i], 1000 + i, "turn"))
				break;
	free(m);
}

/* Longest run of one id in the cyclic sequence. */
static int longest_run(const uint32_t *seq, int len, uint32_t id)
{
	int i, run = 0, best = 0;

	for (i = 0; i < 2 * len; i++) {
		run = seq[i % len] == id ? run + 1 : 0;
		if (run > best)
			best = run;
	}
	return best > len ? len : best;
}

/*
 * Smooth: over every prefix of the sequence each member has had its share
 * of turns within one turn (what spreads new flows evenly), and nobody runs
 * longer than ceil(w / w_min) turns in a row.
 */
static bool check_smooth(const struct xlb_table_member *m, size_t n,
			 const uint32_t *seq, int len)
{
	uint64_t total = 0;
	double share, have;
	uint32_t w_min = UINT32_MAX;
	size_t i;
	int t, c;

	for (i = 0; i < n; i++) {
		total += m[i].weight;
		if (m[i].weight < w_min)
			w_min = m[i].weight;
	}
	for (i = 0; i < n; i++) {
		if (!ASSERT_LE(longest_run(seq, len, m[i].id),
			       (m[i].weight + w_min - 1) / w_min, "longest run"))
			return false;
		for (t = 1, c = 0; t <= len; t++) {
			c += seq[t - 1] == m[i].id;
			share = (double)t * m[i].weight / total;
			have = c;
			if (!ASSERT_TRUE(have - share < 1 && share - have < 1,
					 "member %zu after %d turns: %d, share %.2f",
					 i, t, c, share))
				return false;
		}
	}
	return true;
}

static void test_turns_wrr_123(void)
{
	struct xlb_table_member m[3] = { member_v4(0, 1), member_v4(1, 2),
					 member_v4(2, 3) };
	uint32_t seq[16];
	int len;

	len = xlb_turns_build(m, 3, seq, 16);
	if (!ASSERT_EQ(len, 6, xlb_errmsg()))
		return;
	ASSERT_EQ(count_id(seq, len, m[0].id), 1, "turns of weight 1");
	ASSERT_EQ(count_id(seq, len, m[1].id), 2, "turns of weight 2");
	ASSERT_EQ(count_id(seq, len, m[2].id), 3, "turns of weight 3");
	check_smooth(m, 3, seq, len);
}

/* Weights with a common divisor give the short sequence. */
static void test_turns_gcd(void)
{
	struct xlb_table_member m[3] = { member_v4(0, 200), member_v4(1, 400),
					 member_v4(2, 600) };
	uint32_t seq[6], ref[6];
	int len;

	len = xlb_turns_build(m, 3, seq, 6);
	if (!ASSERT_EQ(len, 6, xlb_errmsg()))
		return;
	m[0].weight = 1, m[1].weight = 2, m[2].weight = 3;
	swrr_reference(m, 3, ref, 6);
	ASSERT_TRUE(!memcmp(seq, ref, sizeof(seq)), "differs from weights 1:2:3");
}

/* The classic nginx example: weights 5, 1, 1 give a a b a c a a. */
static void test_turns_nginx_example(void)
{
	struct xlb_table_member m[3] = { member_v4(0, 5), member_v4(1, 1),
					 member_v4(2, 1) };
	const uint32_t want[7] = { 1000, 1000, 1001, 1000, 1002, 1000, 1000 };
	uint32_t seq[7];
	int len;

	shuffle(m, 3, 11);
	len = xlb_turns_build(m, 3, seq, 7);
	if (ASSERT_EQ(len, 7, xlb_errmsg()))
		ASSERT_TRUE(!memcmp(seq, want, sizeof(want)),
			    "sequence %u %u %u %u %u %u %u", seq[0], seq[1],
			    seq[2], seq[3], seq[4], seq[5], seq[6]);
}

/* Random mixes against the member-by-member reference, in shuffled order. */
static void test_turns_match_reference(void)
{
	static uint32_t seq[XLB_WRR_SEQ_MAX], ref[XLB_WRR_SEQ_MAX];
	struct xlb_table_member m[200], sorted[200];
	uint32_t seed = 5, round;
	size_t i, n;
	int len;

	for (round = 0; round < 20; round++) {
		n = 1 + lcg(&seed) % 200;
		for (i = 0; i < n; i++)
			sorted[i] = member_v4(i, 1 + lcg(&seed) % (round % 2 ? 4 : 60));
		memcpy(m, sorted, n * sizeof(*m));
		shuffle(m, n, round);
		len = xlb_turns_build(m, n, seq, XLB_WRR_SEQ_MAX);
		if (!ASSERT_GT(len, 0, xlb_errmsg()))
			return;
		swrr_reference(sorted, n, ref, len);
		if (!ASSERT_TRUE(!memcmp(seq, ref, len * sizeof(*seq)),
				 "round %u (n=%zu): differs from reference", round, n))
			return;
		if (!check_smooth(sorted, n, seq, len))
			return;
	}
}

static void test_turns_e2big(void)
{
	struct xlb_table_member m[2] = { member_v4(0, 7), member_v4(1, 100) };
	uint32_t seq[100];

	errmsg_clear();
	ASSERT_EQ(xlb_turns_build(m, 2, seq, 100), -E2BIG, "7 + 100 turns, max 100");
	ASSERT_TRUE(strstr(xlb_errmsg(), "gcd") && strstr(xlb_errmsg(), "smaller weights"),
		    "message \"%s\" should explain the sum and the fix", xlb_errmsg());
}

static void test_turns_errors(void)
{
	struct xlb_table_member m[2] = { member_v4(0, 1), member_v4(1, 0) };
	uint32_t seq[8];

	errmsg_clear();
	expect_einval(xlb_turns_build(m, 2, seq, 8), "zero weight", "weight 0");
	m[1] = m[0];
	m[1].id = 5;
	errmsg_clear();
	expect_einval(xlb_turns_build(m, 2, seq, 8), "duplicate", "duplicate");
	ASSERT_EQ(xlb_turns_build(m, 0, seq, 8), 0, "no members");
}

int main(void)
{
	static const uint32_t w123[] = { 1, 2, 3 };

	RUN_CASE("maglev_is_prime", test_is_prime());
	RUN_CASE("maglev_balance_n3", test_balance_equal(3, M_SMALL));
	RUN_CASE("maglev_balance_n10", test_balance_equal(10, M_SMALL));
	RUN_CASE("maglev_balance_n100", test_balance_equal(100, M_SMALL));
	RUN_CASE("maglev_balance_n1000", test_balance_equal(1000, M_LARGE));
	RUN_CASE("maglev_weights_1_2_3", test_weights(w123, 3, M_SMALL));
	RUN_CASE("maglev_weights_mixed", test_weights_mixed());
	RUN_CASE("maglev_more_members_than_entries", test_more_members_than_entries());
	RUN_CASE("maglev_empty", test_empty());
	RUN_CASE("maglev_remove_one_n3", test_remove_one(3, M_SMALL, 3));
	RUN_CASE("maglev_remove_one_n10", test_remove_one(10, M_SMALL, 10));
	RUN_CASE("maglev_remove_one_n100", test_remove_one(100, M_SMALL, 10));
	RUN_CASE("maglev_remove_one_weighted", test_remove_one_weighted());
	RUN_CASE("maglev_add_one_n3", test_add_one(3, M_SMALL));
	RUN_CASE("maglev_add_one_n10", test_add_one(10, M_SMALL));
	RUN_CASE("maglev_add_one_n100", test_add_one(100, M_SMALL));
	RUN_CASE("maglev_rebuild_identical", test_rebuild_identical());
	RUN_CASE("maglev_order_independent", test_order_independent());
	RUN_CASE("maglev_v4_identity_ignores_padding", test_v4_identity_ignores_padding());
	RUN_CASE("maglev_digest_ignores_ids", test_digest_ignores_ids());
	RUN_CASE("maglev_errors", test_maglev_errors());
	RUN_CASE("maglev_build_time", test_build_time());
	RUN_CASE("turns_rr", test_turns_rr());
	RUN_CASE("turns_wrr_1_2_3", test_turns_wrr_123());
	RUN_CASE("turns_gcd", test_turns_gcd());
	RUN_CASE("turns_nginx_example", test_turns_nginx_example());
	RUN_CASE("turns_match_reference", test_turns_match_reference());
	RUN_CASE("turns_e2big", test_turns_e2big());
	RUN_CASE("turns_errors", test_turns_errors());
	return test_exit_status();
}
