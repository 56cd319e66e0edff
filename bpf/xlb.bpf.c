/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * xlb's XDP entry point. One lookup decides an established packet: the flow
 * table holds both directions (client->VIP forward entries and backend->client
 * NAT reply entries), so the VIP is consulted only when a flow is new.
 * docs/datapath.md is the rule book for every packet this program touches.
 */
#include "encap.h"
#include "fwd.h"
#include "icmp_fwd.h"
#include "maps.h"
#include "parse.h"
#include "sched.h"
#include "stats.h"
#include "vet.h"

#define NSEC_PER_SEC 1000000000ull

/* Set by libxlb before load (frozen afterwards, so the verifier folds it). */
const volatile __u64 udp_idle_ns = XLB_UDP_IDLE_DEFAULT_NS;

static __always_inline bool reason_is_drop(int r)
{
	return (r >= XLB_R_DROP_NO_BACKEND && r <= XLB_R_DROP_ENCAP_FAILED) ||
	       r == XLB_R_DROP_TOO_BIG || r == XLB_R_DROP_IP_CSUM || r == XLB_R_DROP_L2_BCAST;
}

static __always_inline int decide(int r)
{
	return reason_is_drop(r) ? drop(r) : pass(r);
}

/* nat rewrites addresses of one family; dsr forwards the frame as it is;
 * tunnel carries any inner family in any outer one. */
static __always_inline bool family_fits(__u8 mode, const struct xlb_backend *b, const struct xlb_pkt *p)
{
	return mode == XLB_MODE_TUNNEL || b->family == p->key.family;
}

/* The backend slot's epoch (see struct xlb_backend_epochs), or -1, which
 * no flow's epoch equals. */
static __always_inline int backend_epoch(__u32 backend_id)
{
	const struct xlb_backend_epochs *e;
	__u32 zero = 0;

	e = bpf_map_lookup_elem(&xlb_backend_epochs, &zero);
	if (!e || backend_id >= XLB_MAX_BACKENDS)
		return -1;
	return *(volatile const __u8 *)&e->epoch[backend_id];
}

/* Resolve the next hop for f's backend (caching it in f) and send. */
static __always_inline int to_backend(struct xdp_md *ctx, const struct xlb_pkt *p,
				      const struct xlb_backend *b, struct xlb_flow *f)
{
	struct tunnel_plan t;
	int rc;

	if (f->mode == XLB_MODE_TUNNEL) {
		plan_tunnel(p, b, f->gue_port, &t);
		rc = tunnel_next_hop(ctx, p, b, f, &t);
		return tunnel_deliver(ctx, p, b, f, &t, rc);
	}
	rc = next_hop(ctx, p, &p->key.src, &b->addr, &f->nh);
	return deliver_to_backend(ctx, p, b, f->mode, &f->nh, rc);
}

/* The reply of a NAT flow is exactly the forward tuple with the backend in
 * place of the VIP, reversed. Its next hop (towards the client) is resolved
 * by the first reply. */
static __always_inline void remember_nat_reply(const struct xlb_pkt *p, const struct xlb_flow *fwd,
					       const struct xlb_backend *b)
{
	struct xlb_flow_key rkey = {};
	struct xlb_flow rev = {};

	rkey.src = b->addr;
	rkey.dst = p->key.src;
	rkey.sport = b->port;
	rkey.dport = p->key.sport;
	rkey.proto = p->key.proto;
	rkey.family = p->key.family;
	rev.backend_id = fwd->backend_id;
	rev.backend_gen = fwd->backend_gen;
	rev.kind = XLB_FLOW_NAT_REPLY;
	rev.mode = fwd->mode;
	rev.vip_id = fwd->vip_id;
	rev.vip = p->key.dst;
	rev.vip_port = p->key.dport;
	if (bpf_map_update_elem(&xlb_flows, &rkey, &rev, BPF_ANY))
		count_reason(XLB_R_FLOW_INSERT_FAILED);
}

static __always_inline void remember_flow(const struct xlb_pkt *p, const struct xlb_flow *f,
					  const struct xlb_backend *b)
{
	if (bpf_map_update_elem(&xlb_flows, &p->key, f, BPF_ANY))
		count_reason(XLB_R_FLOW_INSERT_FAILED);
	if (f->mode == XLB_MODE_NAT)
		remember_nat_reply(p, f, b);
}

static __always_inline void count_flow_traffic(const struct xlb_pkt *p, __u32 backend_id)
{
	count_backend(backend_id, p->frame_len);
}

static __always_inline struct xlb_vip *find_vip(const struct xlb_pkt *p)
{
	struct xlb_vip_key vkey = {};

	vkey.addr = p->key.dst;
	vkey.port = p->key.dport;
	vkey.proto = p->key.proto;
	vkey.family = p->key.family;
	return bpf_map_lookup_elem(&xlb_vips, &vkey);
}

static __always_inline int new_flow(struct xdp_md *ctx, const struct xlb_pkt *p, bool rescheduled)
{
	struct xlb_flow f = {};
	struct tunnel_plan t;
	struct xlb_backend *b;
	struct xlb_vip *vip;
	__u32 backend_id;
	int r, epoch;
	__s64 id;

	vip = find_vip(p);
	if (!vip)
		return pass(XLB_R_PASS_NOT_VIP);
	id = schedule(vip, &p->key);
	if (id < 0)
		return drop(XLB_R_DROP_NO_BACKEND);
	backend_id = id;
	/* The epoch before the entry: libxlb writes the entry first and then
	 * moves the epoch, so a flow never pairs a new epoch with an old entry. */
	epoch = backend_epoch(backend_id);
	b = bpf_map_lookup_elem(&xlb_backends, &backend_id);
	if (!b || !backend_keeps_flows(b))
		return drop(XLB_R_DROP_NO_BACKEND);
	if (!family_fits(vip->mode, b, p))
		return drop(XLB_R_DROP_FAMILY);
	if (vip->mode == XLB_MODE_NAT) {
		r = nat_precheck(ctx, p);
		if (r)
			return decide(r);
	}

	f.backend_id = backend_id;
	f.backend_gen = b->gen;
	f.kind = XLB_FLOW_FORWARD;
	f.mode = vip->mode;
	f.vip_id = vip->id;
	f.backend_epoch = epoch;
	if (p->key.proto == IPPROTO_UDP)
		f.last_seen_ns = bpf_ktime_get_coarse_ns();
	if (vip->mode == XLB_MODE_TUNNEL) {
		f.gue_port = vip->encap == XLB_ENCAP_GUE ? vip->gue_port : 0;
		plan_tunnel(p, b, f.gue_port, &t);
		r = tunnel_next_hop(ctx, p, b, &f, &t);
	} else {
		f.backend_addr = b->addr;
		f.backend_port = b->port;
		r = backend_next_hop(ctx, p, backend_id, b, &f.nh);
	}
	count_reason(rescheduled ? XLB_R_RESCHEDULED : XLB_R_NEW_FLOW);
	/* An RST closes whatever it belongs to; remembering it would only
	 * let stray resets fill the table. */
	if (!p->tcp_rst)
		remember_flow(p, &f, b);
	count_flow_traffic(p, backend_id);
	if (vip->mode == XLB_MODE_TUNNEL)
		return tunnel_deliver(ctx, p, b, &f, &t, r);
	return deliver_to_backend(ctx, p, b, f.mode, &f.nh, r);
}

/* UDP has no end of connection: an entry idle past the timeout is a new
 * flow. last_seen is refreshed at most once a second to keep the entry's
 * cache line mostly read-only. */
static __always_inline bool udp_flow_expired(const struct xlb_pkt *p, struct xlb_flow *f)
{
	__u64 now, idle;

	if (p->key.proto != IPPROTO_UDP)
		return false;
	now = bpf_ktime_get_coarse_ns();
	idle = now - f->last_seen_ns;
	if (idle > udp_idle_ns)
		return true;
	if (idle > NSEC_PER_SEC)
		f->last_seen_ns = now;
	return false;
}

/* A SYN on a known tuple is a new connection reusing a client port: it must
 * not land on a backend that takes no new connections. */
static __always_inline bool syn_to_draining(const struct xlb_pkt *p, const struct xlb_backend *b)
{
	return p->tcp_syn && ((b->flags & XLB_BACKEND_F_DRAIN) || !b->weight);
}

/* The backend an established flow may keep using, or NULL when the flow
 * must be scheduled again: the backend was removed (slot generation moved
 * on), went down, is draining and this is a new connection on a reused
 * port, or the UDP flow sat idle too long. */
static __always_inline struct xlb_backend *flow_backend(const struct xlb_pkt *p, struct xlb_flow *f)
{
	__u32 backend_id = f->backend_id;
	int epoch = backend_epoch(backend_id);
	struct xlb_backend *b = bpf_map_lookup_elem(&xlb_backends, &backend_id);

	if (!b || b->gen != f->backend_gen || !backend_keeps_flows(b))
		return NULL;
	if (syn_to_draining(p, b))
		return NULL;
	if (udp_flow_expired(p, f))
		return NULL;
	/* Still good: later packets may skip the entry until it changes. */
	if (f->backend_epoch != epoch && epoch >= 0)
		f->backend_epoch = epoch;
	return b;
}

/* nat and dsr flows carry the backend's address and port: while the
 * backend's epoch stands, a packet other than a SYN (which must see drain)
 * needs nothing from the backend's entry. */
static __always_inline bool backend_unchanged(const struct xlb_pkt *p, struct xlb_flow *f)
{
	if (f->mode == XLB_MODE_TUNNEL || p->tcp_syn)
		return false;
	if (f->backend_epoch != backend_epoch(f->backend_id))
		return false;
	return !udp_flow_expired(p, f);
}

/* The backend's address and port as the flow carries them (nat, dsr). */
static __always_inline int to_cached_backend(struct xdp_md *ctx, const struct xlb_pkt *p,
					     struct xlb_flow *f)
{
	int rc = next_hop(ctx, p, &p->key.src, &f->backend_addr, &f->nh);

	if (f->mode == XLB_MODE_DSR)
		return dsr_deliver(ctx, &f->nh, rc);
	return nat_deliver(ctx, p, REWRITE_DST, &f->backend_addr, f->backend_port, &f->nh, rc);
}

/* b is NULL when the flow's cached backend serves (backend_unchanged). */
static __always_inline int forward_established(struct xdp_md *ctx, const struct xlb_pkt *p,
					       const struct xlb_backend *b, struct xlb_flow *f)
{
	int r;

	if (f->mode == XLB_MODE_NAT) {
		r = nat_precheck(ctx, p);
		if (r)
			return decide(r);
	}
	count_flow_traffic(p, f->backend_id);
	if (!b)
		return to_cached_backend(ctx, p, f);
	return to_backend(ctx, p, b, f);
}

static __always_inline int reply_established(struct xdp_md *ctx, const struct xlb_pkt *p,
					     struct xlb_flow *f)
{
	int r = nat_precheck(ctx, p);

	if (r)
		return decide(r);
	count_reason(XLB_R_NAT_REPLY);
	r = next_hop(ctx, p, &f->vip, &p->key.dst, &f->nh);
	return nat_deliver(ctx, p, REWRITE_SRC, &f->vip, f->vip_port, &f->nh, r);
}

SEC("xdp")
int xlb_lb(struct xdp_md *ctx)
{
	struct xlb_pkt p = {};
	struct xlb_backend *b;
	struct xlb_flow *f;
	int r;

	r = parse_packet(ctx, &p);
	if (r == XLB_R_PASS_ICMP)
		return handle_icmp(ctx, &p);
	if (r)
		return decide(r);
	if (!maybe_ours(&p))
		return pass(XLB_R_PASS_NOT_VIP);
	r = vet_packet(ctx, &p);
	if (r)
		return vet_verdict(ctx, &p, r);

	f = bpf_map_lookup_elem(&xlb_flows, &p.key);
	if (!f)
		return new_flow(ctx, &p, false);
	if (f->kind == XLB_FLOW_NAT_REPLY)
		return reply_established(ctx, &p, f);
	if (backend_unchanged(&p, f))
		return forward_established(ctx, &p, NULL, f);
	b = flow_backend(&p, f);
	if (!b)
		return new_flow(ctx, &p, true);
	return forward_established(ctx, &p, b, f);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
