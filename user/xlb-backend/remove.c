// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * xlb-backend remove: undo what setup recorded, and only that. Addresses
 * that were on lo before setup stay; a sysctl goes back to its old value
 * only if it still reads what setup wrote (someone who changed it since
 * meant it). With --vip, only those VIPs go and the rest keeps working.
 *
 * What cannot be undone stays in the state file, so a second run, after the
 * cause is fixed, finishes the job.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "backend.h"

static bool vip_listed(const struct be_opts *o, const struct be_vip *v)
{
	size_t i;

	for (i = 0; i < o->n_vips; i++)
		if (o->vips[i].family == v->family && !memcmp(&o->vips[i].addr, &v->addr, sizeof(v->addr)))
			return true;
	return false;
}

/* Split st's VIPs into the ones to remove (gone) and the rest (kept in st). */
static void select_vips(const struct be_opts *o, struct be_state *st, struct be_state *gone)
{
	size_t i, kept = 0;
	char a[64];

	gone->n_vips = 0;
	for (i = 0; i < o->n_vips; i++)
		if (!state_vip_find(st, &o->vips[i]))
			rep_note("VIP %s was not set up by xlb-backend here; nothing to undo",
				 be_vip_str(&o->vips[i], a, sizeof(a)));
	for (i = 0; i < st->n_vips; i++) {
		if (!o->n_vips || vip_listed(o, &st->vips[i]))
			gone->vips[gone->n_vips++] = st->vips[i];
		else
			st->vips[kept++] = st->vips[i];
	}
	st->n_vips = kept;
}

/* A VIP that cannot be taken off lo stays recorded. */
static int remove_vip(const struct be_vip *v, struct be_state *st)
{
	char a[64];
	int err;

	be_vip_prefix_str(v, a, sizeof(a));
	if (!v->added) {
		rep_note("left VIP %s on lo: it was there before setup", a);
		return 0;
	}
	err = nl_addr_del(if_nametoindex("lo"), v);
	if (err == -EADDRNOTAVAIL || err == -ENOENT) {
		rep_ok("VIP %s is not on lo (already gone)", a);
		return 0;
	}
	if (err) {
		st->vips[st->n_vips++] = *v;
		return xlb_fail(-err, "removing %s from lo failed: %s; fix the cause and run remove "
				"again", a, strerror(-err));
	}
	rep_done("removed VIP %s from lo", a);
	return 0;
}

static bool still_wanted(const struct be_sysctl *s, const struct be_sysctl *w, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(w[i].path, s->path))
			return true;
	return false;
}

static int restore_sysctl(const struct be_sysctl *s)
{
	char cur[BE_SYSCTL_VAL], name[128];
	int err;

	sysctl_name(s->path, name, sizeof(name));
	err = sysctl_read(s->path, cur, sizeof(cur));
	if (err == -ENOENT) {
		rep_note("%s is gone (interface removed?); nothing to restore", name);
		return 0;
	}
	if (err)
		return err;
	if (strcmp(cur, s->set)) {
		rep_note("left %s=%s: changed since setup set it to %s (it was %s before)", name,
			 cur, s->set, s->orig);
		return 0;
	}
	if (!strcmp(cur, s->orig)) {
		rep_ok("%s=%s (already as before setup)", name, cur);
		return 0;
	}
	err = sysctl_write(s->path, s->orig);
	if (!err)
		rep_done("restored %s=%s (setup had set %s)", name, s->orig, s->set);
	return err;
}

/* Sysctls the remaining VIPs no longer need go back; failures stay recorded. */
static int restore_sysctls(struct be_state *st)
{
	struct be_sysctl w[BE_MAX_SYSCTLS], all[BE_MAX_SYSCTLS];
	size_t nw = st->n_vips ? sysctl_wanted(st, w, BE_MAX_SYSCTLS) : 0, n = st->n_sysctls, i;
	int err = 0, e;

	memcpy(all, st->sysctls, n * sizeof(all[0]));
	st->n_sysctls = 0;
	for (i = 0; i < n; i++) {
		e = still_wanted(&all[i], w, nw) ? 0 : restore_sysctl(&all[i]);
		if (e || still_wanted(&all[i], w, nw))
			st->sysctls[st->n_sysctls++] = all[i];
		if (e && !err)
			err = e;
	}
	return err;
}

/* Without a record, only the pins are unambiguously ours. */
static int remove_unrecorded(const struct be_opts *o)
{
	bool found;
	int err = decap_remove(o->pin_root, &found);

	if (err)
		return err;
	if (!found)
		rep_ok("nothing set up under %s (no state file %s)", o->pin_root, o->state_path);
	else
		rep_note("no state file %s: addresses and sysctls were not recorded by setup and "
			 "are left as they are", o->state_path);
	return 0;
}

static int args_match(const struct be_opts *o, const struct be_state *st)
{
	if (o->dev[0] && strcmp(o->dev, st->dev))
		return xlb_fail(EINVAL, "this host was set up on %s, not %s: use --dev %s (or leave "
				"--dev out)", st->dev, o->dev, st->dev);
	if (o->mode != BE_MODE_NONE && o->mode != st->mode)
		return xlb_fail(EINVAL, "this host was set up for %s mode, not %s: use --mode %s (or "
				"leave --mode out)", be_mode_name(st->mode), be_mode_name(o->mode),
				be_mode_name(st->mode));
	return 0;
}

/* The program goes first, so nothing is decapsulated towards addresses
 * that are about to disappear. */
static int remove_decap(const struct be_opts *o, const struct be_state *st,
			const struct be_state *gone)
{
	bool found;

	if (st->mode != BE_MODE_TUNNEL && !decap_pinned(o->pin_root))
		return 0;
	if (st->n_vips)
		return decap_forget_vips(o->pin_root, gone->vips, gone->n_vips);
	return decap_remove(o->pin_root, &found);
}

/* The first failure is the one reported; later steps still run. */
static int first_err;
static char first_msg[512];

static void keep_first(int err)
{
	if (!err || first_err)
		return;
	first_err = err;
	snprintf(first_msg, sizeof(first_msg), "%s", xlb_errmsg());
}

int cmd_remove(const struct be_opts *o)
{
	static struct be_state st, gone;
	size_t i;
	int err;

	err = state_load(o->state_path, &st);
	if (!err)
		err = state_check_netns(o, &st);
	if (err)
		return err;
	if (!st.exists)
		return remove_unrecorded(o);
	err = args_match(o, &st);
	if (err)
		return err;
	select_vips(o, &st, &gone);
	err = remove_decap(o, &st, &gone);
	if (err) {
		/* The program still runs: keep the whole record for the next try. */
		return err;
	}
	for (i = 0; i < gone.n_vips; i++)
		keep_first(remove_vip(&gone.vips[i], &st));
	keep_first(restore_sysctls(&st));
	if (!st.n_vips && !st.n_sysctls)
		keep_first(state_unlink(o->state_path));
	else
		keep_first(state_save(o->state_path, &st));
	if (first_err)
		return xlb_fail(-first_err, "%s", first_msg);
	if (st.n_vips)
		printf("xlb-backend: %zu VIP(s) still set up (%s mode on %s)\n", st.n_vips,
		       be_mode_name(st.mode), st.dev);
	else
		printf("xlb-backend: removed; this host no longer serves xlb VIPs\n");
	return 0;
}
