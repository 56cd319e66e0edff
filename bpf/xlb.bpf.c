/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * xlb's XDP entry point. One lookup decides an established packet: confirmed
 * connections sit in xlb_flows, one entry each, so the VIP is consulted only
 * when a flow is new. New flows wait in xlb_flows_new until their handshake
 * completes, so a flood of fresh tuples cannot push a live connection out.
 * nat replies are rewritten by the backend's address:port (xlb_nat_ends).
 * docs/datapath.md is the rule book for every packet this program touches.
 */
#include "encap.h"
#include "fwd.h"
#include "icmp_fwd.h"
#include "maps.h"
#include "marks.h"
#include "parse.h"
#include "pending.h"
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
		plan_tunnel(p, b, f->gue_port, xlb_hash_flow(&p->key), &t);
		rc = tunnel_next_hop(ctx, p, b, f, &t);
		return tunnel_deliver(ctx, p, b, f, &t, rc);
	}
	rc = next_hop(ctx, p, &p->key.src, &b->addr, &f->nh);
	return deliver_to_backend(ctx, p, b, f->mode, &f->nh, rc);
}

/* This CPU's flow scratch (see xlb_flow_scratch): an unconfirmed flow is
 * copied into it. */
static __always_inline struct xlb_flow *flow_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&xlb_flow_scratch, &zero);
}

static __always_inline __u32 coarse_ms(void)
{
	return bpf_ktime_get_coarse_ns() >> 20;
}

/* Every flow starts unconfirmed, also one rescheduled because its backend
 * went away (its next packet confirms it again). An RST is never
 * remembered: it closes whatever it belongs to, and stray resets would
 * fill the table. */
static __always_inline void remember_flow(const struct xlb_pkt *p, __u32 hash, struct xlb_flow *f)
{
	if (p->tcp_rst)
		return;
	if (p->tcp_syn)
		f->flags = XLB_FLOW_F_SYN;
	pending_put(&p->key, hash, f);
}

static __always_inline void count_flow_traffic(const struct xlb_pkt *p, __u32 backend_id)
{
	count_backend(backend_id, p->frame_len);
}

/* An address:port of the packet's protocol, keyed as VIPs and nat ends are. */
static __always_inline void endpoint_key(struct xlb_vip_key *k, const struct xlb_pkt *p,
					 const struct xlb_addr *addr, __be16 port)
{
	k->addr = *addr;
	k->port = port;
	k->proto = p->key.proto;
	k->family = p->key.family;
}

static __always_inline struct xlb_vip *find_vip(const struct xlb_pkt *p)
{
	struct xlb_vip_key vkey = {};

	endpoint_key(&vkey, p, &p->key.dst, p->key.dport);
	return bpf_map_lookup_elem(&xlb_vips, &vkey);
}

/* hash: the key's xlb_hash_flow, computed once for the scheduler, the
 * unconfirmed table and the tunnel's outer header. */
static __always_inline int new_flow(struct xdp_md *ctx, const struct xlb_pkt *p,
				    const struct xlb_vip *vip, __u32 hash, bool rescheduled)
{
	/* Zeroed: clang may carry its fields across the other modes' paths in
	 * registers a helper call clobbered, which the verifier refuses. */
	struct tunnel_plan t = {};
	/* Built on the stack, which every packet touches anyway: the per-CPU
	 * scratch would cost a new flow a page of its own. */
	struct xlb_flow flow, *f = &flow;
	struct xlb_backend *b;
	__u32 backend_id;
	__s64 id;
	int r;

	id = schedule(vip, &p->key, hash);
	if (id < 0)
		return drop(XLB_R_DROP_NO_BACKEND);
	backend_id = id;
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

	__builtin_memset(f, 0, sizeof(*f));
	f->backend_id = backend_id;
	f->backend_gen = b->gen;
	f->mode = vip->mode;
	f->vip_id = vip->id;
	f->backend_epoch = b->epoch;
	if (p->key.proto == IPPROTO_UDP)
		f->udp_seen = coarse_ms();
	if (vip->mode == XLB_MODE_TUNNEL) {
		f->gue_port = vip->encap == XLB_ENCAP_GUE ? vip->gue_port : 0;
		plan_tunnel(p, b, f->gue_port, hash, &t);
		r = tunnel_backend_next_hop(ctx, p, b, f, &t);
	} else {
		f->backend_addr = b->addr;
		f->backend_port = b->port;
		r = backend_next_hop(ctx, p, b, &f->nh);
	}
	count_reason(rescheduled ? XLB_R_RESCHEDULED : XLB_R_NEW_FLOW);
	remember_flow(p, hash, f);
	count_flow_traffic(p, backend_id);
	if (vip->mode == XLB_MODE_TUNNEL)
		return tunnel_deliver(ctx, p, b, f, &t, r);
	return deliver_to_backend(ctx, p, b, f->mode, &f->nh, r);
}

/* UDP has no end of connection: an entry idle past the timeout is a new
 * flow. The time is refreshed at most once a second to keep the entry's
 * cache line mostly read-only. */
static __always_inline bool udp_flow_expired(const struct xlb_pkt *p, struct xlb_flow *f)
{
	__u32 now, idle;

	if (p->key.proto != IPPROTO_UDP)
		return false;
	now = coarse_ms();
	idle = now - f->udp_seen;
	if (idle > (__u32)(udp_idle_ns >> 20))
		return true;
	if (idle > (__u32)(NSEC_PER_SEC >> 20))
		f->udp_seen = now;
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
		return dsr_deliver(ctx, &f->nh, rc, pkt_padded(p));
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

/* ---- confirmation and closing ------------------------------------------ */

/* Handshake completed (see XLB_FLOW_F_*): this packet confirms the flow. */
static __always_inline bool confirms(const struct xlb_pkt *p, const struct xlb_flow *f)
{
	if (f->flags & (XLB_FLOW_F_CONFIRMED | XLB_FLOW_F_CLOSING))
		return false;
	if (p->key.proto == IPPROTO_UDP)
		return true;
	if (p->tcp_syn || p->tcp_rst || p->tcp_fin)
		return false;
	if (f->mode == XLB_MODE_NAT && (f->flags & XLB_FLOW_F_SYN))
		return f->flags & XLB_FLOW_F_REPLY_SEEN;
	return true;
}

/* Where an established packet's flow lives: a confirmed flow in its table
 * entry (slot NULL), an unconfirmed one copied out of its slot. */
struct flow_ref {
	struct xlb_flow *f;
	bool pending; /* unconfirmed: f is a copy of slot idx */
	__u32 idx;
	__u32 hash; /* unconfirmed: the key's xlb_hash_flow */
};

/* Flags go to the flow itself: the table entry, or the slot (and the copy,
 * for the rest of this packet). */
static __always_inline void flow_flag(const struct xlb_pkt *p, const struct flow_ref *r, __u32 flag)
{
	if (r->pending) {
		r->f->flags |= flag;
		pending_mark(&p->key, r->idx, flag);
	} else if (!(r->f->flags & flag)) {
		__sync_fetch_and_or(&r->f->flags, flag);
	}
}

/* Copy the unconfirmed entry into xlb_flows. A full table leaves the flow
 * unconfirmed (it still forwards); the next packet tries again. */
static __always_inline void confirm(const struct xlb_pkt *p, const struct flow_ref *r)
{
	struct xlb_flow c = *r->f;
	long err;

	c.flags = r->f->flags & XLB_FLOW_F_SYN;
	c.tick = p->clock;
	/* Marked first: a SYN that finds the entry must find the mark. */
	flow_mark(r->hash);
	err = bpf_map_update_elem(&xlb_flows, &p->key, &c, BPF_NOEXIST);
	if (err && err != -17 /* EEXIST: another CPU was first */) {
		count_reason(XLB_R_FLOW_TABLE_FULL);
		return;
	}
	flow_flag(p, r, XLB_FLOW_F_CONFIRMED);
	if (!err)
		count_reason(XLB_R_FLOW_CONFIRMED);
}

/* A client's RST or FIN marks the connection closing; xlbd's sweep removes
 * a closing confirmed flow after a short grace (the last ACKs and a
 * half-closed transfer still pass), and a SYN on its tuple starts a new
 * connection at once. Marking, not deleting, keeps the entry valid while
 * this packet is forwarded from it. */
static __always_inline void note_close(const struct xlb_pkt *p, const struct flow_ref *r)
{
	if ((p->tcp_rst || p->tcp_fin) && !(r->f->flags & XLB_FLOW_F_CLOSING)) {
		flow_flag(p, r, XLB_FLOW_F_CLOSING);
		count_reason(XLB_R_FLOW_CLOSED);
	}
}

/* The flow's clock tick, for xlbd's idle sweep: written once per tick. */
static __always_inline void touch(const struct xlb_pkt *p, struct xlb_flow *f)
{
	if (f->tick != p->clock)
		f->tick = p->clock;
}

/* A SYN on the tuple of a flow that was confirmed and has since closed (or
 * was moved on) starts a new connection: schedule it afresh. */
static __always_inline bool stale_for_syn(const struct xlb_pkt *p, const struct xlb_flow *f)
{
	return p->tcp_syn && (f->flags & (XLB_FLOW_F_CONFIRMED | XLB_FLOW_F_CLOSING));
}

/* An established packet: forward it on f's backend. Sets *resched and
 * returns 0 when the flow must be scheduled again. */
static __always_inline int established(struct xdp_md *ctx, const struct xlb_pkt *p,
				       const struct flow_ref *r, bool *resched)
{
	bool confirmed = !r->pending;
	struct xlb_flow *f = r->f;
	struct xlb_backend *b = NULL;

	if (stale_for_syn(p, f))
		goto resched;
	if (confirmed)
		touch(p, f);
	if (!backend_unchanged(p, f)) {
		b = flow_backend(p, f);
		if (!b)
			goto resched;
	}
	if (!confirmed && confirms(p, f))
		confirm(p, r);
	note_close(p, r);
	return forward_established(ctx, p, b, f);
resched:
	/* The flow starts over unconfirmed on its new backend. */
	if (confirmed)
		bpf_map_delete_elem(&xlb_flows, &p->key);
	*resched = true;
	return 0;
}

/* ---- nat replies ---------------------------------------------------------- */

static __always_inline const struct xlb_nat_end *nat_end_of(const struct xlb_pkt *p)
{
	struct xlb_vip_key k = {};

	endpoint_key(&k, p, &p->key.src, p->key.sport);
	return bpf_map_lookup_elem(&xlb_nat_ends, &k);
}

/* The client->VIP tuple a reply belongs to, for the VIP v. */
static __always_inline void forward_key_of(const struct xlb_pkt *p, const struct xlb_nat_end_vip *v,
					   struct xlb_flow_key *k)
{
	k->src = p->key.dst;
	k->dst = v->addr;
	k->sport = p->key.dport;
	k->dport = v->port;
	k->proto = p->key.proto;
	k->family = p->key.family;
}

static __always_inline bool addr_eq(const struct xlb_addr *a, const struct xlb_addr *b)
{
	return !((a->v6[0] ^ b->v6[0]) | (a->v6[1] ^ b->v6[1]) | (a->v6[2] ^ b->v6[2]) |
		 (a->v6[3] ^ b->v6[3]));
}

/* k's flow, confirmed or not (then read through this CPU's scratch). */
static __always_inline const struct xlb_flow *flow_any(const struct xlb_flow_key *k)
{
	struct xlb_flow *f = bpf_map_lookup_elem(&xlb_flows, k);
	__u32 idx;

	if (f)
		return f;
	f = flow_scratch();
	return f && pending_find(k, xlb_hash_flow(k), f, &idx) ? f : NULL;
}

struct reply_search {
	const struct xlb_pkt *p;
	const struct xlb_nat_end *e;
	int found;
};

static long reply_search_one(__u32 i, void *data)
{
	struct reply_search *rs = data;
	const struct xlb_pkt *p = rs->p;
	const struct xlb_nat_end_vip *v;
	struct xlb_flow_key k = {};
	const struct xlb_flow *f;
	__u32 idx = i;

	/* An opaque copy of i, checked and turned into the address at once:
	 * the compiler would otherwise rebuild the address from a 32-bit
	 * spill of i, whose bound the verifier does not keep. */
	asm volatile("" : "+r"(idx));
	if (idx >= XLB_NAT_END_VIPS)
		return 1;
	v = &rs->e->vips[idx];
	asm volatile("" : "+r"(v));
	forward_key_of(p, v, &k);
	f = flow_any(&k);
	if (f && f->mode == XLB_MODE_NAT && f->backend_port == p->key.sport &&
	    addr_eq(&f->backend_addr, &p->key.src)) {
		rs->found = i;
		return 1;
	}
	return 0;
}

/* A backend of several nat VIPs: the flow that sent the client to this
 * backend names the VIP. -1 when none does. A bpf_loop, so the verifier
 * checks one round instead of every VIP's. */
static __always_inline int reply_vip_index(const struct xlb_pkt *p, const struct xlb_nat_end *e)
{
	struct reply_search rs = { .p = p, .e = e, .found = -1 };
	__u32 n = e->n_vips < XLB_NAT_END_VIPS ? e->n_vips : XLB_NAT_END_VIPS;

	bpf_loop(n, reply_search_one, &rs, 0);
	return rs.found;
}

/* The backend accepted the connection: the client's next packet confirms. */
static __always_inline void note_synack(const struct xlb_pkt *p, const struct xlb_nat_end_vip *v)
{
	struct xlb_flow_key k = {};
	__u32 hash, idx;

	forward_key_of(p, v, &k);
	hash = xlb_hash_flow(&k);
	idx = xlb_flow_slot_index(hash, flows_new_set_mask, 0);
	pending_mark(&k, idx, XLB_FLOW_F_REPLY_SEEN);
	pending_mark(&k, idx + 1, XLB_FLOW_F_REPLY_SEEN);
}

/* This CPU's cached next hop towards the client, looked up when stale. */
static __always_inline struct xlb_nexthop *client_next_hop(struct xdp_md *ctx,
							   const struct xlb_pkt *p,
							   const struct xlb_addr *vip, int *rc)
{
	__u32 slot = xlb_hash_final(xlb_hash_addr(XLB_HASH_SEED, &p->key.dst)) &
		     client_nh_mask;
	struct xlb_client_nh *c = bpf_map_lookup_elem(&xlb_client_nh, &slot);

	if (!c)
		return NULL;
	if (c->family != p->key.family || !addr_eq(&c->addr, &p->key.dst)) {
		c->addr = p->key.dst;
		c->family = p->key.family;
		c->nh.ifindex = 0;
	}
	*rc = next_hop(ctx, p, vip, &p->key.dst, &c->nh);
	return &c->nh;
}

static __always_inline int nat_reply(struct xdp_md *ctx, const struct xlb_pkt *p,
				     const struct xlb_nat_end *e)
{
	const struct xlb_nat_end_vip *v;
	struct xlb_nexthop *nh;
	int r, i = 0, rc = BPF_FIB_LKUP_RET_NOT_FWDED;

	r = nat_precheck(ctx, p);
	if (r)
		return decide(r);
	if (e->n_vips != 1)
		i = reply_vip_index(p, e);
	if (i < 0 || i >= XLB_NAT_END_VIPS)
		return pass(XLB_R_PASS_NAT_REPLY_UNKNOWN);
	v = &e->vips[i];
	if (p->tcp_synack)
		note_synack(p, v);
	count_reason(XLB_R_NAT_REPLY);
	nh = client_next_hop(ctx, p, &v->addr, &rc);
	if (!nh)
		return pass(XLB_R_PASS_FIB_OTHER);
	return nat_deliver(ctx, p, REWRITE_SRC, &v->addr, v->port, nh, rc);
}

SEC("xdp")
int xlb_lb(struct xdp_md *ctx)
{
	struct xlb_pkt p = {};
	const struct xlb_nat_end *e;
	const struct xlb_vip *vip = NULL;
	struct flow_ref ref = {};
	struct xlb_flow *pending;
	bool resched = false;
	__u32 roles;
	int r;

	r = parse_packet(ctx, &p);
	if (r == XLB_R_PASS_ICMP)
		return handle_icmp(ctx, &p);
	if (r)
		return decide(r);
	roles = maybe_ours(&p);
	if (roles & XLB_MAYBE_NAT_REPLY) {
		e = nat_end_of(&p);
		if (e) {
			r = vet_packet(ctx, &p);
			if (r)
				return vet_verdict(ctx, &p, r, true);
			return nat_reply(ctx, &p, e);
		}
	}
	if (!(roles & XLB_MAYBE_VIP))
		return pass(XLB_R_PASS_NOT_VIP);
	r = vet_packet(ctx, &p);
	if (r)
		return vet_verdict(ctx, &p, r, is_vip_address(&p));

	/* A SYN is a new connection: it looks its tuple up in the confirmed
	 * table only where a mark says a confirmed flow may hold it. */
	if (p.tcp_syn)
		ref.hash = xlb_hash_flow(&p.key);
	if (!p.tcp_syn || flow_maybe_confirmed(ref.hash))
		ref.f = bpf_map_lookup_elem(&xlb_flows, &p.key);
	/* Only turn-taking schedulers must find a SYN retransmission's
	 * unconfirmed entry (a hash picks the same backend again), so a SYN
	 * skips the unconfirmed lookup. */
	if (!ref.f && p.tcp_syn)
		vip = find_vip(&p);
	if (!ref.f && (!p.tcp_syn || (vip && turn_taking(vip)))) {
		pending = flow_scratch();
		if (!pending)
			return pass(XLB_R_PASS_FIB_OTHER);
		if (!p.tcp_syn)
			ref.hash = xlb_hash_flow(&p.key);
		ref.pending = pending_find(&p.key, ref.hash, pending, &ref.idx);
		if (ref.pending)
			ref.f = pending;
	}
	if (ref.f) {
		r = established(ctx, &p, &ref, &resched);
		if (!resched)
			return r;
	}
	if (!vip)
		vip = find_vip(&p);
	if (!vip)
		return pass(XLB_R_PASS_NOT_VIP);
	if (!ref.hash) /* not computed yet (a zero hash is merely computed again) */
		ref.hash = xlb_hash_flow(&p.key);
	return new_flow(ctx, &p, vip, ref.hash, resched);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
