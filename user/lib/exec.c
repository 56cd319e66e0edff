// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Statement execution: simulate on a configuration value, then converge the
 * datapath to it (see exec.h for why it is split that way).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "keywords.h"


static int sign_cmp(long a, long b)
{
	return (a > b) - (a < b);
}

int xlb_cfg_key_cmp(const struct xlb_vip_key *a, const struct xlb_vip_key *b)
{
	int r;

	if (a->family != b->family)
		return sign_cmp(a->family, b->family);
	r = memcmp(a->addr.bytes, b->addr.bytes, sizeof(a->addr.bytes));
	if (r)
		return r;
	if (a->port != b->port)
		return sign_cmp(ntohs(a->port), ntohs(b->port));
	return sign_cmp(a->proto, b->proto);
}

int xlb_cfg_ep_cmp(const struct xlb_endpoint *a, const struct xlb_endpoint *b)
{
	int r;

	if (a->family != b->family)
		return sign_cmp(a->family, b->family);
	r = memcmp(a->addr.bytes, b->addr.bytes, sizeof(a->addr.bytes));
	if (r)
		return r;
	return sign_cmp(ntohs(a->port), ntohs(b->port));
}

/* ---- the configuration value ------------------------------------------ */

void xlb_cfg_init(struct xlb_cfg *c)
{
	memset(c, 0, sizeof(*c));
}

void xlb_cfg_free(struct xlb_cfg *c)
{
	for (size_t i = 0; i < c->n_vips; i++)
		free(c->vips[i].be);
	free(c->vips);
	xlb_cfg_init(c);
}

int xlb_cfg_copy(struct xlb_cfg *dst, const struct xlb_cfg *src)
{
	struct xlb_cfg out = *src;
	size_t i;

	out.cap_vips = src->n_vips;
	out.vips = calloc(src->n_vips ? src->n_vips : 1, sizeof(*out.vips));
	if (!out.vips)
		return -ENOMEM;
	for (i = 0; i < src->n_vips; i++) {
		struct xlb_cfg_vip *v = &out.vips[i];

		*v = src->vips[i];
		v->cap_be = v->n_be;
		v->be = malloc((v->n_be ? v->n_be : 1) * sizeof(*v->be));
		if (!v->be) {
			out.n_vips = i;
			xlb_cfg_free(&out);
			return -ENOMEM;
		}
		if (v->n_be)
			memcpy(v->be, src->vips[i].be, v->n_be * sizeof(*v->be));
	}
	xlb_cfg_free(dst);
	*dst = out;
	return 0;
}

void xlb_check_default(struct xlb_check_spec *check)
{
	memset(check, 0, sizeof(*check));
	check->type = XLB_CHECK_NONE;
	check->interval_ms = XLB_CHECK_DEFAULT_INTERVAL_MS;
	check->timeout_ms = XLB_CHECK_DEFAULT_TIMEOUT_MS;
	check->rise = XLB_CHECK_DEFAULT_RISE;
	check->fall = XLB_CHECK_DEFAULT_FALL;
}

/* Index of key, or where it would be inserted. */
static size_t vip_lower(const struct xlb_cfg *c, const struct xlb_vip_key *key, bool *found)
{
	size_t lo = 0, hi = c->n_vips;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (xlb_cfg_key_cmp(&c->vips[mid].spec.key, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < c->n_vips && xlb_cfg_key_cmp(&c->vips[lo].spec.key, key) == 0;
	return lo;
}

static size_t be_lower(const struct xlb_cfg_vip *v, const struct xlb_endpoint *ep, bool *found)
{
	size_t lo = 0, hi = v->n_be;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (xlb_cfg_ep_cmp(&v->be[mid].ep, ep) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < v->n_be && xlb_cfg_ep_cmp(&v->be[lo].ep, ep) == 0;
	return lo;
}

struct xlb_cfg_vip *xlb_cfg_vip_find(const struct xlb_cfg *c, const struct xlb_vip_key *key)
{
	bool found;
	size_t i = vip_lower(c, key, &found);

	return found ? &c->vips[i] : NULL;
}

struct xlb_cfg_backend *xlb_cfg_backend_find(const struct xlb_cfg_vip *v,
					     const struct xlb_endpoint *ep)
{
	bool found;
	size_t i = be_lower(v, ep, &found);

	return found ? &v->be[i] : NULL;
}

/* Make room for one more element of size sz at *arr (n used, *cap room). */
static int grow(void **arr, size_t n, size_t *cap, size_t sz)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 8;
	p = realloc(*arr, ncap * sz);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

static struct xlb_cfg_vip *vip_insert(struct xlb_cfg *c, const struct xlb_vip_spec *spec)
{
	struct xlb_cfg_vip *v;
	bool found;
	size_t i = vip_lower(c, &spec->key, &found);

	if (grow((void **)&c->vips, c->n_vips, &c->cap_vips, sizeof(*c->vips)))
		return NULL;
	v = &c->vips[i];
	memmove(v + 1, v, (c->n_vips - i) * sizeof(*v));
	c->n_vips++;
	memset(v, 0, sizeof(*v));
	v->spec = *spec;
	v->announce_min = 1;
	xlb_check_default(&v->check);
	return v;
}

static void vip_remove(struct xlb_cfg *c, struct xlb_cfg_vip *v)
{
	size_t i = v - c->vips;

	c->n_backends -= v->n_be;
	free(v->be);
	memmove(v, v + 1, (c->n_vips - i - 1) * sizeof(*v));
	c->n_vips--;
}

static struct xlb_cfg_backend *be_insert(struct xlb_cfg *c, struct xlb_cfg_vip *v,
					 const struct xlb_endpoint *ep)
{
	struct xlb_cfg_backend *b;
	bool found;
	size_t i = be_lower(v, ep, &found);

	if (grow((void **)&v->be, v->n_be, &v->cap_be, sizeof(*v->be)))
		return NULL;
	b = &v->be[i];
	memmove(b + 1, b, (v->n_be - i) * sizeof(*b));
	v->n_be++;
	c->n_backends++;
	memset(b, 0, sizeof(*b));
	b->ep = *ep;
	return b;
}

static void be_remove(struct xlb_cfg *c, struct xlb_cfg_vip *v, struct xlb_cfg_backend *b)
{
	size_t i = b - v->be;

	memmove(b, b + 1, (v->n_be - i - 1) * sizeof(*b));
	v->n_be--;
	c->n_backends--;
}

/* ---- semantic checks ---------------------------------------------------- */

static const char *key_str(const struct xlb_vip_key *key, char *buf)
{
	return xlb_vip_key_str(key, buf, XLB_TEXT_LEN);
}

static const char *ep_str(const struct xlb_endpoint *ep, char *buf)
{
	return xlb_endpoint_str(ep, buf, XLB_TEXT_LEN);
}

static uint32_t gcd(uint32_t a, uint32_t b)
{
	while (b) {
		uint32_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/*
 * wrr keeps a turn sequence as long as the weights' sum divided by their
 * gcd. Backends that are drained or down leave the sequence, which can
 * only shorten it (a subset's gcd is no smaller), so checking every
 * backend of weight > 0 guarantees that no health change can overflow it.
 */
static int check_turns(const struct xlb_cfg_vip *v)
{
	const struct xlb_sched_def *def = xlb_sched_def(v->spec.sched);
	unsigned long long len = 0;
	uint32_t g = 0;
	char k[XLB_TEXT_LEN];
	size_t i;

	if (def->table != XLB_TABLE_TURNS || def->equal_turns)
		return 0;
	for (i = 0; i < v->n_be; i++)
		g = gcd(v->be[i].weight, g);
	if (!g)
		return 0;
	for (i = 0; i < v->n_be; i++)
		len += v->be[i].weight / g;
	if (len <= XLB_WRR_SEQ_MAX)
		return 0;
	return xlb_fail(-EINVAL,
			"weights of %s add up to %llu turns (after dividing by their gcd %u), "
			"more than the %u a wrr VIP holds; use smaller weights",
			key_str(&v->spec.key, k), len, g, XLB_WRR_SEQ_MAX);
}

/* Maglev gives every backend at least one slot only while the table has
 * more slots than there are backends. */
static int check_ring(const struct xlb_cfg_vip *v, size_t n_be)
{
	char k[XLB_TEXT_LEN];

	if (!xlb_sched_uses_ring(v->spec.sched))
		return 0;
	if (n_be <= v->spec.ring_size)
		return 0;
	return xlb_fail(-EINVAL,
			"%s would have %zu backends but its ring has only %u entries; "
			"use 'vip set %s ring PRIME' with a prime of at least 100 x backends",
			key_str(&v->spec.key, k), n_be, v->spec.ring_size, k);
}

static int no_vip(const struct xlb_vip_key *key)
{
	char k[XLB_TEXT_LEN];

	key_str(key, k);
	return xlb_fail(-EINVAL, "no VIP %s (add it first with 'vip add %s')", k, k);
}

static int no_backend(const struct xlb_cfg_vip *v, const struct xlb_endpoint *ep)
{
	char k[XLB_TEXT_LEN], b[XLB_TEXT_LEN];

	return xlb_fail(-EINVAL, "no backend %s in %s (add it with 'backend add')",
			ep_str(ep, b), key_str(&v->spec.key, k));
}

/* ---- statements ------------------------------------------------------- */

static int exec_vip_add(struct xlb_cfg *c, const struct xlb_stmt *st)
{
	struct xlb_vip_spec spec = { .key = st->vip };
	char k[XLB_TEXT_LEN];

	if (xlb_cfg_vip_find(c, &st->vip))
		return xlb_fail(-EINVAL,
				"VIP %s already exists (change it with 'vip set', "
				"or 'vip del' it first)",
				key_str(&st->vip, k));
	if (c->n_vips >= XLB_MAX_VIPS)
		return xlb_fail(-EINVAL, "too many VIPs (the datapath holds %d)",
				XLB_MAX_VIPS);
	spec.sched = st->has_sched ? st->sched : XLB_SCHED_MAGLEV;
	spec.mode = st->has_mode ? st->mode : XLB_MODE_NAT;
	spec.ring_size = st->has_ring && st->ring ? st->ring : XLB_RING_DEFAULT;
	if (spec.mode == XLB_MODE_TUNNEL && st->has_encap)
		spec.encap = st->encap;
	if (spec.mode == XLB_MODE_TUNNEL && spec.encap == XLB_ENCAP_GUE)
		spec.gue_port = st->has_gue_port && st->gue_port ? st->gue_port
								 : XLB_GUE_PORT_DEFAULT;
	return vip_insert(c, &spec) ? 0 : -ENOMEM;
}

static int exec_vip_set(struct xlb_cfg *c, const struct xlb_stmt *st)
{
	struct xlb_cfg_vip *v = xlb_cfg_vip_find(c, &st->vip);
	struct xlb_cfg_vip next;
	char k[XLB_TEXT_LEN];
	int rc;

	if (!v)
		return no_vip(&st->vip);
	if (st->has_mode && st->mode != v->spec.mode)
		return xlb_fail(-EINVAL,
				"mode of %s cannot change (vip del it and add it again "
				"with mode %s)",
				key_str(&st->vip, k), xlb_mode_name(st->mode));
	next = *v;
	if (st->has_sched)
		next.spec.sched = st->sched;
	if (st->has_ring)
		next.spec.ring_size = st->ring;
	rc = check_turns(&next);
	if (!rc)
		rc = check_ring(&next, next.n_be);
	if (rc)
		return rc;
	v->spec = next.spec;
	if (st->has_announce_min)
		v->announce_min = st->announce_min;
	return 0;
}

static int exec_vip_del(struct xlb_cfg *c, const struct xlb_stmt *st)
{
	struct xlb_cfg_vip *v = xlb_cfg_vip_find(c, &st->vip);

	if (!v)
		return no_vip(&st->vip);
	vip_remove(c, v);
	return 0;
}

/* The statement's backend with "no port" made explicit. */
static struct xlb_endpoint stmt_backend(const struct xlb_stmt *st)
{
	struct xlb_endpoint ep = st->backend;

	if (!ep.port)
		ep.port = st->vip.port;
	ep.pad = 0;
	return ep;
}

/* The mode's rules for a backend are libxlb's (xlb_backend_fits): checked
 * here so a batch is refused before any write. */
static int check_fits(const struct xlb_cfg_vip *v, const struct xlb_endpoint *ep)
{
	int rc = xlb_backend_fits(&v->spec, ep);

	return rc ? -EINVAL : 0;
}

static int exec_backend_add(struct xlb_cfg *c, const struct xlb_stmt *st)
{
	struct xlb_cfg_vip *v = xlb_cfg_vip_find(c, &st->vip);
	struct xlb_endpoint ep = stmt_backend(st);
	struct xlb_cfg_backend *b;
	char k[XLB_TEXT_LEN], e[XLB_TEXT_LEN];
	int rc;

	if (!v)
		return no_vip(&st->vip);
	if (xlb_cfg_backend_find(v, &ep))
		return xlb_fail(-EINVAL,
				"backend %s already exists in %s (change it with 'backend set')",
				ep_str(&ep, e), key_str(&st->vip, k));
	if (c->n_backends >= XLB_MAX_BACKENDS)
		return xlb_fail(-EINVAL,
				"too many backends (the datapath holds %d over all VIPs)",
				XLB_MAX_BACKENDS);
	rc = check_fits(v, &ep);
	if (!rc)
		rc = check_ring(v, v->n_be + 1);
	if (rc)
		return rc;
	b = be_insert(c, v, &ep);
	if (!b)
		return -ENOMEM;
	b->weight = st->has_weight ? st->weight : 1;
	rc = check_turns(v);
	if (rc)
		be_remove(c, v, b);
	return rc;
}

static int exec_backend_set(struct xlb_cfg *c, const struct xlb_stmt *st)
{
	struct xlb_cfg_vip *v = xlb_cfg_vip_find(c, &st->vip);
	struct xlb_endpoint ep = stmt_backend(st);
	struct xlb_cfg_backend *b;
	uint32_t old;
	int rc;

	if (!v)
		return no_vip(&st->vip);
	b = xlb_cfg_backend_find(v, &ep);
	if (!b)
		return no_backend(v, &ep);
	switch (st->bop) {
	case XLB_BOP_WEIGHT:
		old = b->weight;
		b->weight = st->weight;
		rc = check_turns(v);
		if (rc)
			b->weight = old;
		return rc;
	case XLB_BOP_DRAIN:
		b->drain = true;
		return 0;
	case XLB_BOP_ENABLE:
		b->drain = false;
		return 0;
	default:
		return xlb_fail(-EINVAL,
				"backend set needs one of weight N, drain, enable");
	}
}

static int exec_backend_del(struct xlb_cfg *c, const struct xlb_stmt *st)
{
	struct xlb_cfg_vip *v = xlb_cfg_vip_find(c, &st->vip);
	struct xlb_endpoint ep = stmt_backend(st);
	struct xlb_cfg_backend *b;

	if (!v)
		return no_vip(&st->vip);
	b = xlb_cfg_backend_find(v, &ep);
	if (!b)
		return no_backend(v, &ep);
	be_remove(c, v, b);
	return 0;
}

static int exec_check_set(struct xlb_cfg *c, const struct xlb_stmt *st)
{
	struct xlb_cfg_vip *v = xlb_cfg_vip_find(c, &st->vip);

	if (!v)
		return no_vip(&st->vip);
	if (st->check.type == XLB_CHECK_NONE)
		xlb_check_default(&v->check);
	else
		v->check = st->check;
	return 0;
}

bool xlb_stmt_changes(enum xlb_verb verb)
{
	switch (verb) {
	case XLB_V_VIP_ADD:
	case XLB_V_VIP_SET:
	case XLB_V_VIP_DEL:
	case XLB_V_BACKEND_ADD:
	case XLB_V_BACKEND_SET:
	case XLB_V_BACKEND_DEL:
	case XLB_V_CHECK_SET:
	case XLB_V_NODE_DRAIN:
	case XLB_V_NODE_ENABLE:
		return true;
	default:
		return false;
	}
}

static const char *verb_name(enum xlb_verb verb)
{
	switch (verb) {
	case XLB_V_VIP_LIST:
		return "vip list";
	case XLB_V_SHOW:
		return "show";
	case XLB_V_STATS:
		return "stats";
	case XLB_V_SAVE:
		return "save";
	case XLB_V_APPLY:
		return "apply";
	case XLB_V_EXPLAIN:
		return "explain";
	default:
		return "this statement";
	}
}

int xlb_cfg_exec(struct xlb_cfg *c, const struct xlb_stmt *st)
{
	switch (st->verb) {
	case XLB_V_NONE:
		return 0;
	case XLB_V_VIP_ADD:
		return exec_vip_add(c, st);
	case XLB_V_VIP_SET:
		return exec_vip_set(c, st);
	case XLB_V_VIP_DEL:
		return exec_vip_del(c, st);
	case XLB_V_BACKEND_ADD:
		return exec_backend_add(c, st);
	case XLB_V_BACKEND_SET:
		return exec_backend_set(c, st);
	case XLB_V_BACKEND_DEL:
		return exec_backend_del(c, st);
	case XLB_V_CHECK_SET:
		return exec_check_set(c, st);
	case XLB_V_NODE_DRAIN:
	case XLB_V_NODE_ENABLE:
		c->node_drained = st->verb == XLB_V_NODE_DRAIN;
		return 0;
	default:
		return xlb_fail(-EINVAL,
				"'%s' does not change the configuration and cannot be "
				"part of a batch (only vip, backend, check and node statements)",
				verb_name(st->verb));
	}
}

/* ---- batches ------------------------------------------------------------ */

/* The line at text[0..len) as a C string in buf, or an error. */
static int line_take(const char *text, size_t len, char *buf)
{
	if (len > XLB_STMT_MAX_LEN)
		return xlb_fail(-EINVAL, "line too long (%zu bytes, max %d)", len,
				XLB_STMT_MAX_LEN);
	/* A NUL would silently end the line early: what follows it would be
	 * ignored instead of rejected. */
	if (memchr(text, '\0', len))
		return xlb_fail(-EINVAL, "NUL byte in line (not a text file?)");
	memcpy(buf, text, len);
	/* Files written on Windows end lines in CRLF. */
	if (len && buf[len - 1] == '\r')
		len--;
	buf[len] = '\0';
	return 0;
}

static int exec_line(struct xlb_cfg *c, const char *text, size_t len, unsigned int *n_stmts)
{
	static __thread char buf[XLB_STMT_MAX_LEN + 1];
	struct xlb_stmt st;
	int rc;

	rc = line_take(text, len, buf);
	if (rc)
		return rc;
	rc = xlb_stmt_parse(buf, &st);
	if (rc <= 0)
		return rc;
	rc = xlb_cfg_exec(c, &st);
	if (!rc)
		(*n_stmts)++;
	return rc;
}

int xlb_cfg_exec_text(struct xlb_cfg *c, const char *text, size_t len, const char *name,
		      unsigned int *n_stmts)
{
	char why[XLB_MSG_LEN];
	struct xlb_cfg work;
	unsigned int lineno = 0, count = 0;
	size_t pos = 0;
	int rc;

	xlb_cfg_init(&work);
	rc = xlb_cfg_copy(&work, c);
	if (rc)
		return xlb_fail(rc, "%s: out of memory", name);
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len;

		lineno++;
		rc = exec_line(&work, text + pos, end - pos, &count);
		if (rc) {
			snprintf(why, sizeof(why), "%s", xlb_errmsg());
			xlb_cfg_free(&work);
			return xlb_fail(rc, "%s:%u: %s", name, lineno,
					rc == -ENOMEM ? "out of memory" : why);
		}
		pos = end + 1;
	}
	xlb_cfg_free(c);
	*c = work;
	if (n_stmts)
		*n_stmts = count;
	return 0;
}

/* ---- save ---------------------------------------------------------------- */

static int emit(const struct xlb_stmt *st, int (*fn)(const char *, void *), void *arg)
{
	char line[XLB_STMT_MAX_LEN + 1];
	int n = xlb_stmt_format(st, line, sizeof(line));

	if (n < 0)
		return n;
	return fn(line, arg);
}

static int emit_backend(const struct xlb_cfg_vip *v, const struct xlb_cfg_backend *b,
			int (*fn)(const char *, void *), void *arg)
{
	struct xlb_stmt st = { .verb = XLB_V_BACKEND_ADD, .vip = v->spec.key };
	int rc;

	st.backend = b->ep;
	st.has_weight = true;
	st.weight = b->weight;
	rc = emit(&st, fn, arg);
	if (rc || !b->drain)
		return rc;
	st.verb = XLB_V_BACKEND_SET;
	st.has_weight = false;
	st.bop = XLB_BOP_DRAIN;
	return emit(&st, fn, arg);
}

static int emit_vip(const struct xlb_cfg_vip *v, int (*fn)(const char *, void *), void *arg)
{
	struct xlb_stmt st = { .verb = XLB_V_VIP_ADD, .vip = v->spec.key };
	int rc;

	st.has_sched = st.has_mode = st.has_ring = true;
	st.sched = v->spec.sched;
	st.mode = v->spec.mode;
	st.ring = v->spec.ring_size;
	if (v->spec.mode == XLB_MODE_TUNNEL) {
		st.has_encap = st.has_gue_port = true;
		st.encap = v->spec.encap;
		st.gue_port = v->spec.gue_port;
	}
	rc = emit(&st, fn, arg);
	for (size_t i = 0; !rc && i < v->n_be; i++)
		rc = emit_backend(v, &v->be[i], fn, arg);
	if (!rc && v->announce_min != 1) {
		memset(&st, 0, sizeof(st));
		st.verb = XLB_V_VIP_SET;
		st.vip = v->spec.key;
		st.has_announce_min = true;
		st.announce_min = v->announce_min;
		rc = emit(&st, fn, arg);
	}
	if (rc || v->check.type == XLB_CHECK_NONE)
		return rc;
	memset(&st, 0, sizeof(st));
	st.verb = XLB_V_CHECK_SET;
	st.vip = v->spec.key;
	st.check = v->check;
	return emit(&st, fn, arg);
}

int xlb_cfg_statements(const struct xlb_cfg *c, int (*fn)(const char *line, void *arg),
		       void *arg)
{
	int rc = 0;

	for (size_t i = 0; !rc && i < c->n_vips; i++)
		rc = emit_vip(&c->vips[i], fn, arg);
	if (!rc && c->node_drained) {
		struct xlb_stmt st = { .verb = XLB_V_NODE_DRAIN };

		rc = emit(&st, fn, arg);
	}
	return rc;
}

/* ---- the datapath ------------------------------------------------------- */

static int read_vip(struct xlb_cfg *c, const struct xlb_vip_info *info)
{
	struct xlb_vip_spec spec = info->spec;
	struct xlb_cfg_vip *v;

	if (!spec.ring_size)
		spec.ring_size = XLB_RING_DEFAULT;
	if (spec.mode != XLB_MODE_TUNNEL)
		spec.encap = 0;
	if (spec.mode != XLB_MODE_TUNNEL || spec.encap != XLB_ENCAP_GUE)
		spec.gue_port = 0;
	v = vip_insert(c, &spec);
	if (!v)
		return -ENOMEM;
	for (size_t j = 0; j < info->n_backends; j++) {
		const struct xlb_backend_info *bi = &info->backends[j];
		struct xlb_endpoint ep = bi->ep;
		struct xlb_cfg_backend *b;

		if (!ep.port)
			ep.port = spec.key.port;
		ep.pad = 0;
		b = be_insert(c, v, &ep);
		if (!b)
			return -ENOMEM;
		b->weight = bi->weight;
		b->drain = bi->drain;
	}
	return 0;
}

int xlb_cfg_from_xlb(struct xlb_cfg *c, const struct xlb *x)
{
	size_t n = xlb_vip_count(x);
	int rc = 0;

	xlb_cfg_free(c);
	for (size_t i = 0; !rc && i < n; i++)
		rc = read_vip(c, xlb_vip_at(x, i));
	if (rc)
		xlb_cfg_free(c);
	return rc;
}
