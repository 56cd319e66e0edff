// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * One connection's backend, as the datapath sees it (xlbctl explain): the
 * flow table's entry if there is one, otherwise what the VIP's scheduler
 * would pick from its live table.
 *
 * This file is the only place outside bpf/ that knows how a client's packet
 * becomes a flow key, so the flow table's layout can change here alone.
 * Everything is read from the maps, not from libxlb's model: the answer is
 * what the datapath would do, including after an interrupted change. The
 * hash is the datapath's own (include/xlb/xlb.h), so a prediction is the
 * datapath's choice, not an imitation of it.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>

#include <bpf/bpf.h>

#include "keywords.h"
#include "xlb_internal.h"

/* The forward key of client -> VIP exactly as bpf/parse.h fills it from a
 * packet: a zeroed key, IPv4 in the first word only, ports in wire order. */
static void flow_key_make(const struct xlb_vip_key *vip, const struct xlb_endpoint *client,
			  struct xlb_flow_key *k)
{
	memset(k, 0, sizeof(*k));
	k->family = vip->family;
	k->proto = vip->proto;
	if (vip->family == XLB_FAMILY_V4) {
		k->src.v4 = client->addr.v4;
		k->dst.v4 = vip->addr.v4;
	} else {
		k->src = client->addr;
		k->dst = vip->addr;
	}
	k->sport = client->port;
	k->dport = vip->port;
}

static int vip_read(const struct xlb *x, const struct xlb_vip_key *key, struct xlb_vip *v)
{
	struct xlb_vip_key k;
	char buf[64];
	int err;

	xlb_vip_key_make(&k, key->proto, key->family, &key->addr, ntohs(key->port));
	err = bpf_map_lookup_elem(x->fd.vips, &k, v);
	if (err == -ENOENT)
		return xlb_fail(ENOENT, "no VIP %s in the datapath (see xlbctl vip list)",
				xlb_vip_key_str(&k, buf, sizeof(buf)));
	if (err)
		return xlb_fail(-err, "reading %s failed: %s", XLB_MAP_VIPS, strerror(-err));
	return 0;
}

/* The datapath's lookup: the confirmed table first, then the unconfirmed. */
static int flow_lookup(const struct xlb *x, const struct xlb_flow_key *k, struct xlb_flow *f,
		       bool *confirmed)
{
	int err = bpf_map_lookup_elem(x->fd.flows, k, f);

	*confirmed = !err;
	if (err == -ENOENT)
		return xlb_flow_pending_get(x, k, f);
	if (err)
		return xlb_fail(-err, "looking up a flow in %s failed: %s", XLB_MAP_FLOWS,
				strerror(-err));
	return 0;
}

int xlb_flow_find(const struct xlb *x, const struct xlb_vip_key *vip,
		  const struct xlb_endpoint *client, struct xlb_flow_entry *out)
{
	struct xlb_backend b = {};
	struct xlb_flow_key k;
	struct xlb_flow f;
	__u32 id;
	int err;

	memset(out, 0, sizeof(*out));
	flow_key_make(vip, client, &k);
	err = flow_lookup(x, &k, &f, &out->confirmed);
	if (err)
		return err;
	out->backend_id = f.backend_id;
	out->mode = f.mode;
	id = f.backend_id;
	if (id < XLB_MAX_BACKENDS && !bpf_map_lookup_elem(x->fd.backends, &id, &b))
		out->followed = xlb_flow_followed(&b, &k, &f, xlb_coarse_ms_now(),
						  (uint32_t)(x->udp_idle_ns >> 20));
	return 0;
}

/* Entry idx of the VIP's live table (an inner array of xlb_tables). */
static int table_entry(const struct xlb *x, const struct xlb_vip *v, __u32 idx, uint32_t *id)
{
	__u32 slot = v->table_slot, map_id;
	int fd, err;

	err = bpf_map_lookup_elem(x->fd.tables, &slot, &map_id);
	if (!err) {
		fd = bpf_map_get_fd_by_id(map_id);
		if (fd < 0)
			return xlb_fail(-fd, "opening the live table of VIP id %u failed: %s",
					v->id, strerror(-fd));
		err = bpf_map_lookup_elem(fd, &idx, id);
		close(fd);
	}
	if (err)
		return xlb_fail(-err, "reading entry %u of the live table of VIP id %u failed: %s",
				idx, v->id, strerror(-err));
	return 0;
}

static int turn_read(const struct xlb *x, const struct xlb_vip *v, uint64_t *turn)
{
	struct xlb_vip_state st;
	__u32 id = v->id;
	int err = bpf_map_lookup_elem(x->fd.vip_state, &id, &st);

	if (err)
		return xlb_fail(-err, "reading the turn of VIP id %u from %s failed: %s", v->id,
				XLB_MAP_VIP_STATE, strerror(-err));
	*turn = st.rr_next;
	return 0;
}

/* The table index as bpf/sched.h table_index() computes it; rr and wrr
 * take the turn the next new flow will draw (the datapath adds one to it
 * per new flow). */
static int pick_index(const struct xlb *x, const struct xlb_vip *v, const struct xlb_flow_key *k,
		      struct xlb_pick *out)
{
	int err;

	switch (xlb_sched_def(v->sched)->pick) {
	case XLB_PICK_SRC:
		out->rule = XLB_PICK_SRC;
		out->hash = xlb_hash_src(k);
		out->index = out->hash % v->table_size;
		return 0;
	case XLB_PICK_TURN:
		out->rule = XLB_PICK_TURN;
		err = turn_read(x, v, &out->turn);
		if (err)
			return err;
		out->index = out->turn % v->table_size;
		return 0;
	default:
		if (!k->sport)
			return xlb_fail(EINVAL, "maglev hashes the client's port too: give the "
						"client as ADDR:PORT");
		out->rule = XLB_PICK_HASH;
		out->hash = xlb_hash_flow(k);
		out->index = out->hash % v->table_size;
		return 0;
	}
}

int xlb_flow_predict(const struct xlb *x, const struct xlb_vip_key *vip,
		     const struct xlb_endpoint *client, struct xlb_pick *out)
{
	struct xlb_flow_key k;
	struct xlb_vip v;
	int err;

	memset(out, 0, sizeof(*out));
	err = vip_read(x, vip, &v);
	if (err)
		return err;
	out->sched = v.sched;
	out->table_size = v.table_size;
	if (!v.table_size) {
		out->rule = XLB_PICK_NONE;
		return 0;
	}
	flow_key_make(vip, client, &k);
	err = pick_index(x, &v, &k, out);
	if (!err)
		err = table_entry(x, &v, out->index, &out->backend_id);
	return err;
}
