// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * `explain PROTO/VIP:PORT CLIENT[:PORT]`: which backend a client's
 * connection goes to, and why. libxlb answers from the maps (flows.c); this
 * file only words the answer, once for text and JSON.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "xlbd.h"

#define TEXT_MAX 80

struct answer {
	const struct xlb_vip_info *vip;
	struct xlb_endpoint client;
	bool have_flow;
	struct xlb_flow_entry flow;
	bool have_pick;
	struct xlb_pick pick;
};

/* A backend slot as the operator knows it: its address:port in this VIP. */
static const char *backend_text(const struct xlb_vip_info *v, uint32_t id, char *buf, size_t len)
{
	for (size_t i = 0; i < v->n_backends; i++) {
		struct xlb_endpoint ep = v->backends[i].ep;

		if (v->backends[i].id != id)
			continue;
		if (!ep.port)
			ep.port = v->spec.key.port;
		return xlb_endpoint_str(&ep, buf, len);
	}
	snprintf(buf, len, "backend slot %u (not in this VIP any more)", id);
	return buf;
}

static const char *pick_rule_name(enum xlb_pick_rule r)
{
	switch (r) {
	case XLB_PICK_HASH:
		return "flow_hash";
	case XLB_PICK_SRC:
		return "source_hash";
	case XLB_PICK_TURN:
		return "turn";
	default:
		return "none";
	}
}

/* The scheduler's reasoning in one sentence. */
static void pick_why(const struct answer *a, char *buf, size_t len)
{
	const struct xlb_pick *k = &a->pick;
	const char *s = xlb_sched_name(k->sched);

	switch (k->rule) {
	case XLB_PICK_HASH:
		snprintf(buf, len,
			 "%s: hash 0x%08x of the 5-tuple, entry %u of %u in the VIP's live table",
			 s, k->hash, k->index, k->table_size);
		break;
	case XLB_PICK_SRC:
		snprintf(buf, len,
			 "%s: hash 0x%08x of the client address, entry %u of %u in the VIP's live "
			 "table; the same for every client port",
			 s, k->hash, k->index, k->table_size);
		break;
	case XLB_PICK_TURN:
		snprintf(buf, len,
			 "%s: the next new flow to this VIP, from any client, draws turn %llu "
			 "(entry %u of the %u-entry turn sequence); a later flow gets a later "
			 "turn, so which backend this client gets depends on the flows before it",
			 s, (unsigned long long)k->turn, k->index, k->table_size);
		break;
	default:
		snprintf(buf, len, "%s: the VIP has no usable backend: new flows are dropped "
				   "(counted as drop_no_backend)", s);
		break;
	}
}

static void why_text(const struct answer *a, char *buf, size_t len)
{
	char pick[512] = "", be[TEXT_MAX];

	if (a->have_pick)
		pick_why(a, pick, sizeof(pick));
	if (a->have_flow && a->flow.followed)
		snprintf(buf, len, "flow-table entry (%s): the flow stays on its backend",
			 a->flow.confirmed ? "confirmed: kept until closed or idle"
					   : "unconfirmed: its handshake is in progress or it closed");
	else if (a->have_flow)
		snprintf(buf, len,
			 "flow-table entry to %s, which is gone, down or replaced: the next packet "
			 "is scheduled anew; %s",
			 backend_text(a->vip, a->flow.backend_id, be, sizeof(be)), pick);
	else if (!a->client.port)
		snprintf(buf, len, "no client port given, so no flow-table lookup; %s", pick);
	else
		snprintf(buf, len, "no flow-table entry; %s", pick);
}

/* The backend the connection's next packet goes to, if known. */
static bool answer_backend(const struct answer *a, uint32_t *id)
{
	if (a->have_flow && a->flow.followed) {
		*id = a->flow.backend_id;
		return true;
	}
	if (a->have_pick && a->pick.rule != XLB_PICK_NONE) {
		*id = a->pick.backend_id;
		return true;
	}
	return false;
}

static void print_flow(struct xp *p, const struct answer *a)
{
	char be[TEXT_MAX];

	if (!a->have_flow) {
		xp_null(p, "flow", NULL);
		return;
	}
	xp_obj_open(p, "flow");
	xp_str(p, "backend", NULL, backend_text(a->vip, a->flow.backend_id, be, sizeof(be)));
	xp_uint(p, "backend_id", NULL, a->flow.backend_id);
	xp_bool(p, "followed", NULL, a->flow.followed);
	xp_bool(p, "confirmed", NULL, a->flow.confirmed);
	xp_obj_close(p);
}

static void print_pick(struct xp *p, const struct answer *a)
{
	const struct xlb_pick *k = &a->pick;
	char be[TEXT_MAX];

	if (!a->have_pick) {
		xp_null(p, "pick", NULL);
		return;
	}
	xp_obj_open(p, "pick");
	xp_str(p, "rule", NULL, pick_rule_name(k->rule));
	if (k->rule != XLB_PICK_NONE) {
		xp_str(p, "backend", NULL, backend_text(a->vip, k->backend_id, be, sizeof(be)));
		xp_uint(p, "backend_id", NULL, k->backend_id);
		xp_uint(p, "index", NULL, k->index);
		xp_uint(p, "table_size", NULL, k->table_size);
	}
	if (k->rule == XLB_PICK_HASH || k->rule == XLB_PICK_SRC)
		xp_uint(p, "hash", NULL, k->hash);
	if (k->rule == XLB_PICK_TURN)
		xp_u64(p, "turn", NULL, k->turn);
	xp_bool(p, "any_client_port", NULL, k->rule == XLB_PICK_SRC);
	xp_obj_close(p);
}

static void print_answer(struct xp *p, const struct answer *a)
{
	char v[TEXT_MAX], c[TEXT_MAX], be[TEXT_MAX], why[1024];
	uint32_t id;
	bool known = answer_backend(a, &id);

	why_text(a, why, sizeof(why));
	xp_obj_open(p, NULL);
	xp_str(p, "vip", "VIP      %s", xlb_vip_key_str(&a->vip->spec.key, v, sizeof(v)));
	xp_str(p, "sched", " (sched %s", xlb_sched_name(a->vip->spec.sched));
	xp_str(p, "mode", ", mode %s)\n", xlb_mode_name(a->vip->spec.mode));
	xp_str(p, "client", "Client   %s\n", xlb_endpoint_str(&a->client, c, sizeof(c)));
	if (known)
		xp_str(p, "backend", "Backend  %s\n", backend_text(a->vip, id, be, sizeof(be)));
	else
		xp_null(p, "backend", "Backend  %s (none)\n");
	xp_str(p, "source", NULL,
	       a->have_flow && a->flow.followed ? "flow" : known ? "scheduler" : "none");
	xp_str(p, "why", "Why      %s\n", why);
	print_flow(p, a);
	print_pick(p, a);
	xp_obj_close(p);
}

int xlbd_explain(struct xlbd *d, const struct xlb_stmt *st, bool json, FILE *out, char *err,
		 size_t errlen)
{
	struct answer a = { .client = st->client };
	struct xp p;
	int rc;

	a.vip = xlb_vip_find(d->x, &st->vip);
	if (!a.vip) {
		char v[TEXT_MAX];

		snprintf(err, errlen, "no VIP %s (see xlbctl vip list)",
			 xlb_vip_key_str(&st->vip, v, sizeof(v)));
		return -1;
	}
	if (st->client.port) {
		rc = xlb_flow_find(d->x, &st->vip, &st->client, &a.flow);
		if (rc && rc != -ENOENT) {
			snprintf(err, errlen, "%s", xlb_errmsg());
			return -1;
		}
		a.have_flow = !rc;
	}
	rc = xlb_flow_predict(d->x, &st->vip, &st->client, &a.pick);
	a.have_pick = !rc;
	/* An established flow needs no prediction; anything else does. */
	if (rc && !(a.have_flow && a.flow.followed)) {
		snprintf(err, errlen, "%s", xlb_errmsg());
		return -1;
	}
	xp_init(&p, out, json);
	print_answer(&p, &a);
	xp_end(&p);
	return 0;
}
