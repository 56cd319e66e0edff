// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * xlb-backend status: what is set up, and every way the host differs from
 * it, each with its fix. Changes nothing. Exit 0: all in place; 1: problems
 * (listed); 3: nothing set up.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

#define EXIT_NOT_SET_UP 3

/* The arguments, where given, say what should be; the state file the rest. */
static void expected(const struct be_opts *o, const struct be_state *st, struct be_state *want)
{
	size_t i;

	*want = *st;
	if (o->dev[0])
		snprintf(want->dev, sizeof(want->dev), "%s", o->dev);
	if (o->mode != BE_MODE_NONE)
		want->mode = o->mode;
	if (o->has_xdp_mode)
		want->xdp_mode = o->xdp_mode;
	if (o->has_gue_port)
		want->gue_port = o->gue_port;
	else if (!st->exists && want->mode == BE_MODE_TUNNEL)
		want->gue_port = XLB_GUE_PORT_DEFAULT;
	for (i = 0; i < o->n_vips && want->n_vips < BE_MAX_VIPS; i++)
		if (!state_vip_find(want, &o->vips[i]))
			want->vips[want->n_vips++] = o->vips[i];
}

static void status_vip(const struct be_vip *v, const struct be_ifaddr *list, size_t n,
		       const struct be_state *st)
{
	unsigned int lo = if_nametoindex("lo");
	char a[64], ifname[IF_NAMESIZE];
	bool on_lo = false;
	size_t j;

	be_vip_prefix_str(v, a, sizeof(a));
	for (j = 0; j < n; j++) {
		if (list[j].family != v->family || memcmp(&list[j].addr, &v->addr, sizeof(v->addr)))
			continue;
		if (list[j].ifindex == (int)lo) {
			on_lo = true;
			continue;
		}
		if (!if_indextoname(list[j].ifindex, ifname))
			snprintf(ifname, sizeof(ifname), "#%d", list[j].ifindex);
		rep_problem("VIP %s is also on %s: the host answers for it there; fix: 'ip addr del "
			    "%s dev %s'", a, ifname, a, ifname);
	}
	if (on_lo)
		rep_ok("VIP %s is on lo", a);
	else
		rep_problem("VIP %s is not on lo (the stack drops its packets); fix: run setup again",
			    a);
	if (st->exists && !state_vip_find(st, v))
		rep_problem("VIP %s is not recorded as set up here; fix: run setup with it", a);
}

static void status_vips(const struct be_state *want, const struct be_state *st)
{
	struct be_ifaddr *list;
	size_t n, i;

	if (nl_addr_list(&list, &n)) {
		rep_problem("%s", xlb_errmsg());
		return;
	}
	for (i = 0; i < want->n_vips; i++)
		status_vip(&want->vips[i], list, n, st);
	free(list);
}

static void status_sysctls(const struct be_state *want)
{
	struct be_sysctl w[BE_MAX_SYSCTLS];
	size_t n = sysctl_wanted(want, w, BE_MAX_SYSCTLS), i;
	char cur[BE_SYSCTL_VAL], name[128];

	for (i = 0; i < n; i++) {
		sysctl_name(w[i].path, name, sizeof(name));
		if (sysctl_read(w[i].path, cur, sizeof(cur))) {
			rep_problem("%s", xlb_errmsg());
			continue;
		}
		if (!strcmp(cur, w[i].set))
			rep_ok("%s=%s", name, cur);
		else
			rep_problem("%s=%s, expected %s; fix: run setup again", name, cur, w[i].set);
	}
}

static void header(const struct be_opts *o, const struct be_state *want, const struct be_state *st)
{
	printf("xlb-backend: %s mode on %s, %zu VIP(s), pin root %s, state %s%s\n",
	       be_mode_name(want->mode), want->dev[0] ? want->dev : "?", want->n_vips, o->pin_root,
	       o->state_path, st->exists ? "" : " (missing)");
	if (want->n_vips && !want->dev[0])
		rep_problem("no device known: pass --dev");
}

int cmd_status(const struct be_opts *o)
{
	static struct be_state st, want;
	int err;

	err = state_load(o->state_path, &st);
	if (!err && st.exists && state_check_netns(o, &st))
		rep_problem("%s", xlb_errmsg());
	if (err)
		return err;
	if (!decap_bpffs_visible(o->pin_root)) {
		rep_problem("/sys/fs/bpf is not mounted in this mount namespace (ip netns exec?), so "
			    "the pins are out of sight; fix: run 'nsenter --net=/run/netns/NAME "
			    "xlb-backend status' instead");
		return 1;
	}
	if (!st.exists && !o->n_vips) {
		rep_note("nothing set up under %s (no state file %s)", o->pin_root, o->state_path);
		if (decap_pinned(o->pin_root))
			rep_problem("a decap program is pinned under %s without a record; fix: "
				    "'xlb-backend remove --pin-root %s'", o->pin_root, o->pin_root);
		return rep_problems() ? 1 : EXIT_NOT_SET_UP;
	}
	expected(o, &st, &want);
	header(o, &want, &st);
	if (!st.exists)
		rep_problem("not set up by xlb-backend (no state file); fix: run setup");
	status_vips(&want, &st);
	if (want.dev[0])
		status_sysctls(&want);
	if (want.mode == BE_MODE_TUNNEL && want.dev[0])
		decap_status(o, &want);
	else if (decap_pinned(o->pin_root))
		rep_problem("a decap program is pinned under %s but the mode is %s; fix: "
			    "'xlb-backend remove', then setup", o->pin_root, be_mode_name(want.mode));
	if (want.n_vips && !rep_problems())
		printf("xlb-backend: all in place\n");
	else if (rep_problems())
		printf("xlb-backend: %u problem(s)\n", rep_problems());
	return rep_problems() ? 1 : 0;
}
