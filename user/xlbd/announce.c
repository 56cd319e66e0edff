// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Route health injection (announce.h). A VIP address is announced while at
 * least one of its VIPs (tcp/udp, any port) can serve and the node is not
 * drained; the announcement is a blackhole host route (/32, /128) in a
 * table of its own, tagged with a protocol number of its own. No ip rule
 * points at that table, so the gateway never forwards by it (blackhole:
 * even a rule added by mistake would drop rather than loop); it exists
 * only to be read by the routing daemon, which filters on table and
 * protocol and exports the routes over BGP.
 *
 * The routes are kernel state: they outlive xlbd (a restart or kill -9
 * keeps the node announced while the datapath keeps forwarding), and a
 * starting xlbd reconciles the table with what it wants instead of
 * flushing it, so a node that restarts is never withdrawn even briefly.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include "announce.h"
#include "log.h"

void announce_init(struct announcer *a, uint32_t table, uint8_t proto)
{
	memset(a, 0, sizeof(*a));
	a->table = table;
	a->proto = proto;
}

void announce_free(struct announcer *a)
{
	nl_conn_close(&a->nl);
	free(a->want);
	a->want = NULL;
	a->n_want = 0;
}

/* ---- what should be announced --------------------------------------------- */

static int addr_cmp(const void *pa, const void *pb)
{
	const struct announce_addr *a = pa, *b = pb;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(&a->addr, &b->addr, sizeof(a->addr));
}

static struct announce_addr addr_of(const struct xlb_vip_key *key)
{
	struct announce_addr r;

	memset(&r, 0, sizeof(r));
	r.family = key->family;
	memcpy(&r.addr, &key->addr, key->family == XLB_FAMILY_V4 ? 4 : 16);
	return r;
}

bool announce_vip_can_serve(const struct xlb_cfg_vip *v, const struct xlb *x)
{
	const struct xlb_vip_info *info = xlb_vip_find(x, &v->spec.key);
	uint32_t usable = 0, need = v->announce_min ? v->announce_min : 1;

	if (!info)
		return false;
	for (size_t i = 0; i < info->n_backends; i++) {
		const struct xlb_backend_info *b = &info->backends[i];

		usable += b->weight > 0 && !b->drain && !b->down;
	}
	return usable >= need;
}

/* The sorted, duplicate-free addresses to announce; -ENOMEM. */
static int want_compute(const struct xlb_cfg *cfg, const struct xlb *x,
			struct announce_addr **out, size_t *n_out)
{
	struct announce_addr *w;
	size_t n = 0;

	*out = NULL;
	*n_out = 0;
	if (cfg->node_drained || !cfg->n_vips)
		return 0;
	w = calloc(cfg->n_vips, sizeof(*w));
	if (!w)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_vips; i++)
		if (announce_vip_can_serve(&cfg->vips[i], x))
			w[n++] = addr_of(&cfg->vips[i].spec.key);
	qsort(w, n, sizeof(*w), addr_cmp);
	*n_out = 0;
	for (size_t i = 0; i < n; i++)
		if (!*n_out || addr_cmp(&w[*n_out - 1], &w[i]))
			w[(*n_out)++] = w[i];
	*out = w;
	return 0;
}

static bool set_has(const struct announce_addr *set, size_t n, const struct announce_addr *e)
{
	return n && bsearch(e, set, n, sizeof(*set), addr_cmp);
}

bool announce_has(const struct announcer *a, const struct xlb_vip_key *key)
{
	struct announce_addr e = addr_of(key);

	return set_has(a->want, a->n_want, &e);
}

/* ---- the routing table ------------------------------------------------------ */

static int af_of(uint8_t family, size_t *alen)
{
	*alen = family == XLB_FAMILY_V4 ? 4 : 16;
	return family == XLB_FAMILY_V4 ? AF_INET : AF_INET6;
}

/* The routes of ours found in the table. */
struct present {
	struct announce_addr *a;
	size_t n, cap;
	uint32_t table;
	uint8_t proto;
	int err;
};

struct route_attrs {
	const void *dst;
	size_t dst_len;
	uint32_t table;
};

static int route_attr(const struct nlattr *at, void *data)
{
	struct route_attrs *r = data;

	if (mnl_attr_get_type(at) == RTA_DST) {
		r->dst = mnl_attr_get_payload(at);
		r->dst_len = mnl_attr_get_payload_len(at);
	} else if (mnl_attr_get_type(at) == RTA_TABLE &&
		   mnl_attr_get_payload_len(at) >= sizeof(uint32_t)) {
		r->table = mnl_attr_get_u32(at);
	}
	return MNL_CB_OK;
}

static int present_add(struct present *p, const struct announce_addr *e)
{
	struct announce_addr *grown;

	if (p->n == p->cap) {
		grown = realloc(p->a, (p->cap ? 2 * p->cap : 16) * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		p->a = grown;
		p->cap = p->cap ? 2 * p->cap : 16;
	}
	p->a[p->n++] = *e;
	return 0;
}

/* One route of a dump. The kernel filters by table and protocol already
 * (strict checking); checked again so an older kernel that ignores the
 * filter cannot make us touch anybody else's routes. */
static int present_parse(const struct nlmsghdr *nh, void *data)
{
	const struct rtmsg *rt = mnl_nlmsg_get_payload(nh);
	struct route_attrs r = { 0 };
	struct present *p = data;
	struct announce_addr e;

	if (nh->nlmsg_type != RTM_NEWROUTE || mnl_nlmsg_get_payload_len(nh) < sizeof(*rt))
		return 0;
	r.table = rt->rtm_table;
	mnl_attr_parse(nh, sizeof(*rt), route_attr, &r);
	if (r.table != p->table || rt->rtm_protocol != p->proto || !r.dst)
		return 0;
	memset(&e, 0, sizeof(e));
	e.family = rt->rtm_family == AF_INET ? XLB_FAMILY_V4 : XLB_FAMILY_V6;
	if (rt->rtm_dst_len != r.dst_len * 8 || r.dst_len > sizeof(e.addr))
		return 0;
	memcpy(&e.addr, r.dst, r.dst_len);
	return present_add(p, &e);
}

static void route_header(struct nlmsghdr *nh, struct rtmsg *rt, int af, uint32_t table,
			 uint8_t proto)
{
	rt->rtm_family = af;
	rt->rtm_table = table < 256 ? table : RT_TABLE_UNSPEC;
	rt->rtm_protocol = proto;
	mnl_attr_put_u32(nh, RTA_TABLE, table);
}

static int present_read_family(struct nl_conn *c, struct present *p, int af)
{
	alignas(struct nlmsghdr) char buf[NL_REQUEST_MAX];
	struct nlmsghdr *nh = nl_request(buf, RTM_GETROUTE, 0);
	struct rtmsg *rt = mnl_nlmsg_put_extra_header(nh, sizeof(*rt));
	int err;

	route_header(nh, rt, af, p->table, p->proto);
	err = nl_dump(c, nh, present_parse, p);
	/* A table that does not exist yet holds nothing. */
	return err == -ENOENT ? 0 : err;
}

static int present_read(struct nl_conn *c, struct present *p)
{
	int err = present_read_family(c, p, AF_INET);

	if (!err)
		err = present_read_family(c, p, AF_INET6);
	if (!err)
		qsort(p->a, p->n, sizeof(*p->a), addr_cmp);
	return err;
}

/* Add (RTM_NEWROUTE) or remove (RTM_DELROUTE) one host route. */
static int route_change(struct nl_conn *c, uint16_t type, const struct announce_addr *e,
			uint32_t table, uint8_t proto)
{
	alignas(struct nlmsghdr) char buf[NL_REQUEST_MAX];
	uint16_t flags = NLM_F_ACK | (type == RTM_NEWROUTE ? NLM_F_CREATE | NLM_F_REPLACE : 0);
	struct nlmsghdr *nh = nl_request(buf, type, flags);
	struct rtmsg *rt = mnl_nlmsg_put_extra_header(nh, sizeof(*rt));
	size_t alen;
	int af = af_of(e->family, &alen), err;

	route_header(nh, rt, af, table, proto);
	rt->rtm_dst_len = alen * 8;
	rt->rtm_scope = RT_SCOPE_UNIVERSE;
	rt->rtm_type = RTN_BLACKHOLE;
	mnl_attr_put(nh, RTA_DST, alen, &e->addr);
	err = nl_talk(c, nh, NULL, NULL);
	return type == RTM_DELROUTE && (err == -ESRCH || err == -ENOENT) ? 0 : err;
}

/* ---- reconciling ------------------------------------------------------------- */

static const char *addr_text(const struct announce_addr *e, char *buf, size_t len)
{
	return xlb_addr_str(&e->addr, e->family, buf, len);
}

static void report_error(struct announcer *a, int err, const char *what)
{
	if (err == a->last_err)
		return;
	a->last_err = err;
	log_warn("route table %u: %s: %s; the VIP routes may be stale (retried every second)",
		 a->table, what, strerror(-err));
}

/* Make the table hold exactly want; why: the reason for a withdrawal. */
static int reconcile(struct announcer *a, const struct announce_addr *want, size_t n_want,
		     const char *why)
{
	struct present p = { .table = a->table, .proto = a->proto };
	char t[INET6_ADDRSTRLEN];
	size_t i;
	int err;

	err = nl_conn_open(&a->nl, true);
	if (!err)
		err = present_read(&a->nl, &p);
	if (err) {
		report_error(a, err, "reading the announced routes");
		free(p.a);
		return err;
	}
	for (i = 0; !err && i < p.n; i++) {
		if (set_has(want, n_want, &p.a[i]))
			continue;
		err = route_change(&a->nl, RTM_DELROUTE, &p.a[i], a->table, a->proto);
		if (!err)
			log_info("withdrawn: route to %s removed from table %u (%s)",
				 addr_text(&p.a[i], t, sizeof(t)), a->table, why);
	}
	for (i = 0; !err && i < n_want; i++) {
		if (set_has(p.a, p.n, &want[i]))
			continue;
		err = route_change(&a->nl, RTM_NEWROUTE, &want[i], a->table, a->proto);
		if (!err)
			log_info("announced: route to %s added to table %u",
				 addr_text(&want[i], t, sizeof(t)), a->table);
	}
	free(p.a);
	if (err)
		report_error(a, err, "changing the announced routes");
	else
		a->last_err = 0;
	return err;
}

static bool same_set(const struct announce_addr *x, size_t nx, const struct announce_addr *y,
		     size_t ny)
{
	return nx == ny && (!nx || !memcmp(x, y, nx * sizeof(*x)));
}

void announce_sync(struct announcer *a, const struct xlb_cfg *cfg, const struct xlb *x,
		   bool force)
{
	struct announce_addr *want;
	size_t n;

	if (!a->table)
		return;
	if (want_compute(cfg, x, &want, &n)) {
		report_error(a, -ENOMEM, "working out the routes");
		return;
	}
	if (a->known && !force && same_set(want, n, a->want, a->n_want)) {
		free(want);
		return;
	}
	free(a->want);
	a->want = want;
	a->n_want = n;
	a->known = !reconcile(a, want, n,
			      cfg->node_drained ? "node drained"
						: "no VIP of this address has enough usable backends");
}

int announce_withdraw_all(uint32_t table, uint8_t proto)
{
	struct announcer a;
	int err;

	announce_init(&a, table, proto);
	err = reconcile(&a, NULL, 0, "xlbd --detach");
	announce_free(&a);
	return err;
}
