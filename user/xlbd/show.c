// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The printing statements: show, stats, vip list, save. Each is written once
 * against the print layer (print.h) and comes out as a table or as JSON.
 *
 * The configuration (d->cfg) gives the order and the health checks; the
 * datapath (libxlb's snapshot) gives what is live: slot ids, health flags,
 * counters. They agree after every commit; where they would not, the
 * datapath's word is shown.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xlbd.h"


/* ---- small formatters ---------------------------------------------------- */

static const char *duration(uint32_t ms, char *buf, size_t len)
{
	if (ms % 60000 == 0)
		snprintf(buf, len, "%um", ms / 60000);
	else if (ms % 1000 == 0)
		snprintf(buf, len, "%us", ms / 1000);
	else
		snprintf(buf, len, "%ums", ms);
	return buf;
}

/* 950, 12.3k, 4.56M: a rate at a glance. */
static const char *scaled(double v, char *buf, size_t len)
{
	static const char units[] = " kMGTP";
	int u = 0;

	while (v >= 1000 && u < (int)sizeof(units) - 2) {
		v /= 1000;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.*f%c", v < 10 ? 2 : v < 100 ? 1 : 0, v, units[u]);
	return buf;
}

static const char *proto_name(__u8 proto)
{
	return proto == IPPROTO_TCP ? "tcp" : proto == IPPROTO_UDP ? "udp" : "?";
}

static const char *check_summary(const struct xlb_check_spec *c, char *buf, size_t len)
{
	char every[16], port[16] = "";

	if (c->type == XLB_CHECK_NONE)
		return "none";
	if (c->port)
		snprintf(port, sizeof(port), " port %u", c->port);
	duration(c->interval_ms, every, sizeof(every));
	if (c->type == XLB_CHECK_HTTP)
		snprintf(buf, len, "http%s %s expect %u every %s", port, c->path, c->expect,
			 every);
	else
		snprintf(buf, len, "%s%s every %s", xlb_check_type_name(c->type), port, every);
	return buf;
}

/* ---- the datapath's view of a configured backend ------------------------- */

struct live_be {
	struct xlb_endpoint ep; /* port resolved */
	const struct xlb_backend_info *bi;
};

static int live_cmp(const void *a, const void *b)
{
	return xlb_cfg_ep_cmp(&((const struct live_be *)a)->ep, &((const struct live_be *)b)->ep);
}

/* The VIP's datapath backends sorted by endpoint, for lookups in the
 * configuration's order. NULL (and *n 0) if the VIP is not live. */
static struct live_be *live_backends(const struct xlb_vip_info *info, size_t *n)
{
	struct live_be *l;

	*n = 0;
	if (!info || !info->n_backends)
		return NULL;
	l = calloc(info->n_backends, sizeof(*l));
	if (!l)
		return NULL;
	for (size_t i = 0; i < info->n_backends; i++) {
		l[i].bi = &info->backends[i];
		l[i].ep = info->backends[i].ep;
		if (!l[i].ep.port)
			l[i].ep.port = info->spec.key.port;
		l[i].ep.pad = 0;
	}
	qsort(l, info->n_backends, sizeof(*l), live_cmp);
	*n = info->n_backends;
	return l;
}

static const struct xlb_backend_info *live_find(const struct live_be *l, size_t n,
						const struct xlb_endpoint *ep)
{
	struct live_be key = { .ep = *ep };
	const struct live_be *hit = n ? bsearch(&key, l, n, sizeof(*l), live_cmp) : NULL;

	return hit ? hit->bi : NULL;
}

static const char *state_name(const struct xlb_backend_info *bi)
{
	if (!bi)
		return "missing";
	if (bi->down)
		return "down";
	return bi->drain ? "drain" : "up";
}

/* ---- shared pieces ------------------------------------------------------- */

static void vip_identity(struct xp *p, const struct xlb_vip_spec *s, const char *text_fmt)
{
	char k[XLB_TEXT_LEN], a[XLB_TEXT_LEN];

	xp_str(p, "vip", text_fmt, xlb_vip_key_str(&s->key, k, sizeof(k)));
	xp_str(p, "proto", NULL, proto_name(s->key.proto));
	xp_str(p, "address", NULL, xlb_addr_str(&s->key.addr, s->key.family, a, sizeof(a)));
	xp_uint(p, "port", NULL, ntohs(s->key.port));
	if (s->mode != XLB_MODE_TUNNEL)
		return;
	xp_str(p, "encap", NULL, xlb_encap_name(s->encap));
	if (s->encap == XLB_ENCAP_GUE)
		xp_uint(p, "gue_port", NULL, s->gue_port);
}

static void backend_identity(struct xp *p, const struct xlb_endpoint *ep, const char *text_fmt)
{
	char e[XLB_TEXT_LEN], a[XLB_TEXT_LEN];

	xp_str(p, "backend", text_fmt, xlb_endpoint_str(ep, e, sizeof(e)));
	xp_str(p, "address", NULL, xlb_addr_str(&ep->addr, ep->family, a, sizeof(a)));
	xp_uint(p, "port", NULL, ntohs(ep->port));
}

static void check_json(struct xp *p, const struct xlb_check_spec *c)
{
	xp_obj_open(p, "check");
	xp_str(p, "type", NULL, xlb_check_type_name(c->type));
	if (c->type != XLB_CHECK_NONE) {
		if (c->port)
			xp_uint(p, "port", NULL, c->port);
		else
			xp_null(p, "port", NULL);
		if (c->type == XLB_CHECK_HTTP) {
			xp_str(p, "path", NULL, c->path);
			xp_str(p, "host", NULL, c->host);
			xp_uint(p, "expect", NULL, c->expect);
		}
		if (c->type == XLB_CHECK_UDP)
			xp_str(p, "payload", NULL, c->payload);
		xp_uint(p, "interval_ms", NULL, c->interval_ms);
		xp_uint(p, "timeout_ms", NULL, c->timeout_ms);
		xp_uint(p, "rise", NULL, c->rise);
		xp_uint(p, "fall", NULL, c->fall);
	}
	xp_obj_close(p);
}

/* ---- show ------------------------------------------------------------------ */

static void probe_cell(struct xp *p, const struct probe_status *ps)
{
	char cell[128];

	if (!ps || !ps->has_result) {
		xp_null(p, "probe", "%s");
		return;
	}
	if (ps->ok)
		snprintf(cell, sizeof(cell), "%s (%.1fms)", ps->detail, ps->rtt_ns / 1e6);
	else
		snprintf(cell, sizeof(cell), "%s", ps->detail);
	xp_str(p, NULL, "%s", cell);
	xp_obj_open(p, "probe");
	xp_bool(p, "ok", NULL, ps->ok);
	xp_str(p, "result", NULL, ps->detail);
	xp_float(p, "rtt_ms", NULL, ps->rtt_ns / 1e6);
	xp_float(p, "age_s", NULL, (ev_now() - ps->at) / 1e9);
	xp_uint(p, "ok_run", NULL, ps->ok_run);
	xp_uint(p, "fail_run", NULL, ps->fail_run);
	/* How long the backend has been in its state: scripts measure
	 * detection times from it without racing their own polling. */
	if (ps->changed_at)
		xp_float(p, "state_age_s", NULL, (ev_now() - ps->changed_at) / 1e9);
	else
		xp_null(p, "state_age_s", NULL);
	xp_obj_close(p);
}

static void show_backend(struct xlbd *d, struct xp *p, const struct xlb_cfg_vip *v,
			 const struct xlb_cfg_backend *b, const struct xlb_backend_info *bi,
			 const uint32_t *flows)
{
	struct xlb_counters c = { 0 };
	bool have_c = bi && !xlb_backend_counters(d->x, bi->id, &c);

	xp_obj_open(p, NULL);
	backend_identity(p, &b->ep, "  -> %-29s ");
	xp_uint(p, "weight", "%-6u ", b->weight);
	xp_str(p, "state", "%-6s ", state_name(bi));
	xp_bool(p, "drain", NULL, b->drain);
	xp_bool(p, "down", NULL, bi && bi->down);
	if (flows && bi && bi->id < XLB_MAX_BACKENDS)
		xp_uint(p, "flows", "%-8u ", flows[bi->id]);
	else
		xp_null(p, "flows", "%-8s ");
	if (have_c) {
		xp_u64(p, "packets", "%-12llu ", c.packets);
		xp_u64(p, "bytes", NULL, c.bytes);
	} else {
		xp_null(p, "packets", "%-12s ");
		xp_null(p, "bytes", NULL);
	}
	probe_cell(p, prober_status(d->prober, &v->spec.key, &b->ep));
	xp_text(p, "\n");
	xp_obj_close(p);
}

/* What other nodes compare: whether this VIP's address is announced, and a
 * digest of its live table (over backend addresses, so equal configurations
 * give equal digests on every node). */
static void show_scaleout(struct xlbd *d, struct xp *p, const struct xlb_cfg_vip *v)
{
	bool announced = announce_has(&d->announce, &v->spec.key);
	char hex[20];
	uint64_t digest;

	xp_text(p, "     ");
	xp_bool(p, "announced", "announced %s", announced);
	if (v->announce_min != 1)
		xp_uint(p, "announce_min", " (min %u usable)", v->announce_min);
	if (xlb_vip_table_digest(d->x, &v->spec.key, &digest)) {
		xp_null(p, "digest", "  table digest %s\n");
		return;
	}
	snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)digest);
	xp_str(p, "digest", "  table digest %s\n", hex);
}

/* The node as a whole: draining or not, and what it announces. */
static void show_node(struct xlbd *d, struct xp *p)
{
	const struct announcer *a = &d->announce;
	char t[INET6_ADDRSTRLEN];

	xp_obj_open(p, "node");
	xp_bool(p, "draining", NULL, d->cfg.node_drained);
	xp_uint(p, "route_table", NULL, a->table);
	if (d->cfg.node_drained)
		xp_text(p, "Node: DRAINING (node drain): no VIP route announced, established "
			   "flows still forwarded\n");
	else if (!a->table)
		xp_text(p, "Node: active; VIP routes off (--route-table 0)\n");
	else
		xp_text(p, "Node: active; announcing %zu VIP address%s in route table %u:",
			a->n_want, a->n_want == 1 ? "" : "es", a->table);
	xp_arr_open(p, "announced");
	for (size_t i = 0; i < a->n_want; i++)
		xp_str(p, "address", " %s",
		       xlb_addr_str(&a->want[i].addr, a->want[i].family, t, sizeof(t)));
	xp_arr_close(p);
	if (!d->cfg.node_drained && a->table)
		xp_text(p, "\n");
	xp_obj_close(p);
}

static void show_vip(struct xlbd *d, struct xp *p, const struct xlb_cfg_vip *v,
		     const uint32_t *flows)
{
	const struct xlb_vip_info *info = xlb_vip_find(d->x, &v->spec.key);
	struct xlb_counters c = { 0 };
	char k[XLB_TEXT_LEN], chk[400], proto[8];
	struct live_be *live;
	size_t n_live;

	xp_obj_open(p, NULL);
	snprintf(proto, sizeof(proto), "%s", proto_name(v->spec.key.proto));
	for (char *s = proto; *s; s++)
		*s -= 'a' - 'A';
	xp_text(p, "%-4s ", proto);
	xlb_vip_key_str(&v->spec.key, k, sizeof(k));
	xp_text(p, "%-29s ", strchr(k, '/') + 1);
	vip_identity(p, &v->spec, NULL);
	xp_str(p, "sched", "%-8s ", xlb_sched_name(v->spec.sched));
	xp_str(p, "mode", "%-7s ", xlb_mode_name(v->spec.mode));
	if (xlb_sched_uses_ring(v->spec.sched))
		xp_uint(p, "ring", "%-8u ", v->spec.ring_size);
	else
		xp_null(p, "ring", "%-8s ");
	xp_str(p, NULL, "%s\n", check_summary(&v->check, chk, sizeof(chk)));
	check_json(p, &v->check);
	show_scaleout(d, p, v);
	if (info && !xlb_vip_counters(d->x, info->id, &c)) {
		xp_u64(p, "packets", NULL, c.packets);
		xp_u64(p, "bytes", NULL, c.bytes);
	}
	live = live_backends(info, &n_live);
	xp_arr_open(p, "backends");
	for (size_t i = 0; i < v->n_be; i++)
		show_backend(d, p, v, &v->be[i], live_find(live, n_live, &v->be[i].ep), flows);
	xp_arr_close(p);
	xp_obj_close(p);
	free(live);
}

void xlbd_show(struct xlbd *d, struct xp *p)
{
	uint32_t *flows = calloc(XLB_MAX_BACKENDS, sizeof(*flows));

	/* Counting flows walks the flow table: slow on a full one, but show
	 * is for people, and the active-flow column is what they come for. */
	if (flows && xlb_flow_counts(d->x, flows, XLB_MAX_BACKENDS)) {
		free(flows);
		flows = NULL;
	}
	xp_obj_open(p, NULL);
	show_node(d, p);
	xp_text(p, "%-4s %-29s %-8s %-7s %-8s %s\n", "Prot", "VIP:Port", "Sched", "Mode", "Ring",
		"Check");
	xp_text(p, "  -> %-29s %-6s %-6s %-8s %-12s %s\n", "Backend:Port", "Weight", "State",
		"Flows", "Packets", "Last probe");
	xp_arr_open(p, "vips");
	for (size_t i = 0; i < d->cfg.n_vips; i++)
		show_vip(d, p, &d->cfg.vips[i], flows);
	xp_arr_close(p);
	xp_obj_close(p);
	free(flows);
}

/* ---- stats ----------------------------------------------------------------- */

static void counters_row(struct xp *p, bool ok, const struct xlb_counters *c,
			 const struct rate *r)
{
	char a[32], b[32];

	if (ok) {
		xp_u64(p, "packets", "%14llu ", c->packets);
		xp_u64(p, "bytes", "%16llu ", c->bytes);
	} else {
		xp_null(p, "packets", "%14s ");
		xp_null(p, "bytes", "%16s ");
	}
	if (r->valid) {
		xp_str(p, NULL, "%10s ", scaled(r->pps, a, sizeof(a)));
		xp_str(p, NULL, "%10s", scaled(r->bps * 8, b, sizeof(b)));
		xp_float(p, "pps", NULL, r->pps);
		xp_float(p, "bytes_per_s", NULL, r->bps);
	} else {
		xp_null(p, "pps", "%10s ");
		xp_null(p, "bytes_per_s", "%10s");
	}
	xp_text(p, "\n");
}

static void stats_vip(struct xlbd *d, struct xp *p, const struct xlb_vip_info *info)
{
	struct xlb_counters c = { 0 };
	struct rate r = rates_vip(d->rates, info->id);
	bool ok = !xlb_vip_counters(d->x, info->id, &c);
	char k[XLB_TEXT_LEN];

	xp_obj_open(p, NULL);
	xp_text(p, "%-38s ", xlb_vip_key_str(&info->spec.key, k, sizeof(k)));
	vip_identity(p, &info->spec, NULL);
	counters_row(p, ok, &c, &r);
	xp_arr_open(p, "backends");
	for (size_t j = 0; j < info->n_backends; j++) {
		const struct xlb_backend_info *bi = &info->backends[j];
		struct xlb_endpoint ep = bi->ep;
		char e[XLB_TEXT_LEN];

		if (!ep.port)
			ep.port = info->spec.key.port;
		r = rates_backend(d->rates, bi->id);
		ok = !xlb_backend_counters(d->x, bi->id, &c);
		xp_obj_open(p, NULL);
		xp_text(p, "  -> %-33s ", xlb_endpoint_str(&ep, e, sizeof(e)));
		backend_identity(p, &ep, NULL);
		counters_row(p, ok, &c, &r);
		xp_obj_close(p);
	}
	xp_arr_close(p);
	xp_obj_close(p);
}

static int info_cmp(const void *a, const void *b)
{
	const struct xlb_vip_info *x = *(const struct xlb_vip_info *const *)a;
	const struct xlb_vip_info *y = *(const struct xlb_vip_info *const *)b;

	return xlb_cfg_key_cmp(&x->spec.key, &y->spec.key);
}

static void stats_reasons(struct xlbd *d, struct xp *p)
{
	uint64_t r[XLB_R_MAX];

	if (xlb_reason_counters(d->x, r)) {
		xp_text(p, "\nreason counters unavailable: %s\n", xlb_errmsg());
		return;
	}
	/* Text shows what happened; JSON has every reason, so a script
	 * never has to treat a missing key as zero. */
	xp_text(p, "\nReason                          Packets\n");
	xp_obj_open(p, "reasons");
	for (int i = 0; i < XLB_R_MAX; i++) {
		if (!r[i] && !p->json)
			continue;
		xp_text(p, "%-30s ", xlb_reason_name(i));
		xp_u64(p, xlb_reason_name(i), "%9llu\n", r[i]);
	}
	xp_obj_close(p);
}

void xlbd_stats(struct xlbd *d, struct xp *p)
{
	size_t n = xlb_vip_count(d->x);
	const struct xlb_vip_info **v = calloc(n + 1, sizeof(*v));

	xp_text(p, "%-38s %14s %16s %10s %10s\n", "VIP / Backend", "Packets", "Bytes", "Pkt/s",
		"Bit/s");
	xp_obj_open(p, NULL);
	xp_arr_open(p, "vips");
	for (size_t i = 0; v && i < n; i++)
		v[i] = xlb_vip_at(d->x, i);
	if (v)
		qsort(v, n, sizeof(*v), info_cmp);
	for (size_t i = 0; v && i < n; i++)
		stats_vip(d, p, v[i]);
	xp_arr_close(p);
	flows_stats(&d->flows, d->x, p);
	limits_stats(d->x, p);
	stats_reasons(d, p);
	xp_obj_close(p);
	free(v);
}

/* ---- vip list ---------------------------------------------------------------- */

static unsigned int usable(const struct xlb_vip_info *info)
{
	unsigned int n = 0;

	for (size_t j = 0; info && j < info->n_backends; j++) {
		const struct xlb_backend_info *b = &info->backends[j];

		n += !b->down && !b->drain && b->weight;
	}
	return n;
}

void xlbd_vip_list(struct xlbd *d, struct xp *p)
{
	char chk[400];

	xp_text(p, "%-34s %-8s %-7s %-8s %-8s %-4s %s\n", "VIP", "Sched", "Mode", "Ring",
		"Backends", "Up", "Check");
	xp_obj_open(p, NULL);
	xp_arr_open(p, "vips");
	for (size_t i = 0; i < d->cfg.n_vips; i++) {
		const struct xlb_cfg_vip *v = &d->cfg.vips[i];

		xp_obj_open(p, NULL);
		vip_identity(p, &v->spec, "%-34s ");
		xp_str(p, "sched", "%-8s ", xlb_sched_name(v->spec.sched));
		xp_str(p, "mode", "%-7s ", xlb_mode_name(v->spec.mode));
		if (xlb_sched_uses_ring(v->spec.sched))
			xp_uint(p, "ring", "%-8u ", v->spec.ring_size);
		else
			xp_null(p, "ring", "%-8s ");
		xp_uint(p, "backends", "%-8u ", v->n_be);
		xp_uint(p, "up", "%-4u ", usable(xlb_vip_find(d->x, &v->spec.key)));
		xp_str(p, NULL, "%s\n", check_summary(&v->check, chk, sizeof(chk)));
		xp_str(p, "check", NULL, xlb_check_type_name(v->check.type));
		xp_obj_close(p);
	}
	xp_arr_close(p);
	xp_obj_close(p);
}

/* ---- save -------------------------------------------------------------------- */

static int save_line(const char *line, void *arg)
{
	xp_str(arg, "statement", "%s\n", line);
	return 0;
}

void xlbd_save(struct xlbd *d, struct xp *p)
{
	xp_obj_open(p, NULL);
	xp_arr_open(p, "statements");
	xlb_cfg_statements(&d->cfg, save_line, p);
	xp_arr_close(p);
	xp_obj_close(p);
}
