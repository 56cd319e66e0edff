// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The diff and the writes: make the datapath equal a configuration value.
 *
 * Each wanted VIP is compared with libxlb's model of it, never with a copy
 * read back into a configuration: a VIP on one side only is created or
 * deleted, one whose mode or encapsulation differs is replaced in one
 * switch, and any other goes whole to xlb_vip_apply(), which works out its
 * backend changes (the one backend diff) and writes nothing when there are
 * none. Errors follow libxlb's convention: -errno and xlb_errmsg().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "exec.h"
#include "xlb_internal.h"

/* Mode and encapsulation are fixed for a VIP's id (vip set cannot change
 * them): a VIP whose want differs there is replaced by a new one. */
static bool vip_recreated(const struct xlb_vip_spec *h, const struct xlb_vip_spec *w)
{
	return h->mode != w->mode || h->encap != w->encap || h->gue_port != w->gue_port;
}

/* First: VIPs gone from want. Backends gone from a kept VIP leave in that
 * VIP's one change (vip_converge). */
static int converge_removals(struct xlb *x, const struct xlb_cfg *want)
{
	size_t i = xlb_vip_count(x);
	int rc;

	/* Backwards: a deletion moves only the entries after it. */
	while (i--) {
		const struct xlb_vip_info *h = xlb_vip_at(x, i);

		if (xlb_cfg_vip_find(want, &h->spec.key))
			continue;
		rc = xlb_vip_del(x, &h->spec.key);
		if (rc)
			return xlb_fail_vip(rc, "vip del", &h->spec.key);
	}
	return 0;
}

/*
 * A VIP's scheduler, ring and backends in one libxlb change, however many
 * backends are added, deleted or changed: the table is built and switched
 * once (a Maglev build of 65537 entries costs tens of ms with many
 * backends, once per backend would be minutes for a thousand). A new VIP
 * comes in with its backends in one step, and drained backends come in
 * drained, so no intermediate state sends new flows anywhere neither end
 * state would: each VIP is wholly old or wholly new at every instant.
 */
static int vip_converge(struct xlb *x, const struct xlb_vip_info *h, const struct xlb_cfg_vip *w)
{
	struct xlb_backend_spec *be = calloc(w->n_be + 1, sizeof(*be));
	const char *what = h ? "changing" : "vip add";
	int rc;

	if (!be)
		return xlb_fail(ENOMEM, "out of memory for %zu backends", w->n_be);
	for (size_t j = 0; j < w->n_be; j++) {
		be[j].ep = w->be[j].ep;
		be[j].weight = w->be[j].weight;
		be[j].drain = w->be[j].drain;
	}
	if (!h)
		rc = xlb_vip_create(x, &w->spec, be, w->n_be);
	else if (vip_recreated(&h->spec, &w->spec))
		rc = xlb_vip_replace(x, &w->spec, be, w->n_be);
	else
		rc = xlb_vip_apply(x, &w->spec, be, w->n_be);
	free(be);
	return rc ? xlb_fail_vip(rc, what, &w->spec.key) : 0;
}

/* A VIP that will hold more backend slots than it does (new ones
 * included; a replaced one holds both sets until its switch). */
static bool vip_grows(const struct xlb_vip_info *h, const struct xlb_cfg_vip *w)
{
	return !h || vip_recreated(&h->spec, &w->spec) || w->n_be > h->n_backends;
}

/* VIPs that do not grow go first: the slots their deleted backends free
 * are then there for the VIPs that grow, so a converge never needs more
 * slots at once than one VIP's change holds on to. */
static int converge_once(struct xlb *x, const struct xlb_cfg *want)
{
	int rc = converge_removals(x, want);

	for (int grows = 0; grows < 2; grows++) {
		for (size_t i = 0; !rc && i < want->n_vips; i++) {
			const struct xlb_cfg_vip *w = &want->vips[i];
			const struct xlb_vip_info *h = xlb_vip_find(x, &w->spec.key);

			if (vip_grows(h, w) == grows)
				rc = vip_converge(x, h, w);
		}
	}
	return rc;
}

int xlb_cfg_converge(struct xlb *x, const struct xlb_cfg *want)
{
	char why[XLB_MSG_LEN], back[XLB_MSG_LEN];
	struct xlb_cfg before;
	int rc;

	/* Only for the way back: what the datapath held, as a target. */
	xlb_cfg_init(&before);
	rc = xlb_cfg_from_xlb(&before, x);
	if (rc)
		return xlb_fail(rc, "out of memory reading the datapath's state");
	rc = converge_once(x, want);
	if (rc) {
		snprintf(why, sizeof(why), "%s", xlb_errmsg());
		if (converge_once(x, &before)) {
			snprintf(back, sizeof(back), "%s", xlb_errmsg());
			xlb_fail(rc, "%s; putting the previous state back failed too (%s): "
				 "the datapath may be partly changed, run 'xlbctl save' to see it",
				 why, back);
		} else
			xlb_fail(rc, "%s (nothing was changed)", why);
	}
	xlb_cfg_free(&before);
	return rc;
}
