// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * xlb-backend setup: bring the host to what the arguments ask for, item by
 * item, saying for each whether it was in place, done now, or repaired.
 *
 * Nothing is half-applied. Every check that can refuse runs before the
 * first change; the new state file (with the values about to be replaced)
 * is written before the first change, so even a crash leaves a record
 * `remove` can work from; and each change made is logged in a transaction
 * that is rolled back, newest first, if a later step fails.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "backend.h"

/* ---- the transaction ------------------------------------------------- */

enum undo_kind {
	UNDO_SYSCTL,
	UNDO_ADDR,
};

struct undo {
	enum undo_kind kind;
	char path[96];
	char val[BE_SYSCTL_VAL];
	struct be_vip vip;
};

struct txn {
	struct undo u[BE_MAX_SYSCTLS + BE_MAX_VIPS];
	size_t n;
};

static void txn_sysctl(struct txn *t, const char *path, const char *old)
{
	struct undo *u = &t->u[t->n++];

	u->kind = UNDO_SYSCTL;
	snprintf(u->path, sizeof(u->path), "%.*s", (int)sizeof(u->path) - 1, path);
	snprintf(u->val, sizeof(u->val), "%.*s", (int)sizeof(u->val) - 1, old);
}

static void txn_addr(struct txn *t, const struct be_vip *v)
{
	struct undo *u = &t->u[t->n++];

	u->kind = UNDO_ADDR;
	u->vip = *v;
}

/* Best effort, newest first; the original error is what the user sees. */
static void txn_rollback(struct txn *t)
{
	char saved[512], name[128], a[64];
	struct undo *u;

	snprintf(saved, sizeof(saved), "%s", xlb_errmsg());
	while (t->n) {
		u = &t->u[--t->n];
		if (u->kind == UNDO_SYSCTL) {
			if (!sysctl_write(u->path, u->val))
				rep_note("rolled back %s=%s", sysctl_name(u->path, name, sizeof(name)),
					 u->val);
		} else if (!nl_addr_del(if_nametoindex("lo"), &u->vip)) {
			rep_note("rolled back: removed %s from lo",
				 be_vip_prefix_str(&u->vip, a, sizeof(a)));
		}
	}
	xlb_fail(EINVAL, "%s", saved);
}

/* ---- what is wanted ---------------------------------------------------- */

static int check_compatible(const struct be_opts *o, const struct be_state *old)
{
	if (!old->exists)
		return 0;
	if (strcmp(old->dev, o->dev) || old->mode != o->mode)
		return xlb_fail(EINVAL, "this host is set up for %s mode on %s (pin root %s); "
				"setting it up for %s on %s needs 'xlb-backend remove --pin-root %s' "
				"first", be_mode_name(old->mode), old->dev, o->pin_root,
				be_mode_name(o->mode), o->dev, o->pin_root);
	return 0;
}

/* The old VIPs (with what setup recorded about them) plus the new ones. */
static int merge_vips(const struct be_opts *o, struct be_state *want)
{
	size_t i;

	for (i = 0; i < o->n_vips; i++) {
		if (state_vip_find(want, &o->vips[i]))
			continue;
		if (want->n_vips >= BE_MAX_VIPS)
			return xlb_fail(ENOSPC, "at most %d VIPs per host", BE_MAX_VIPS);
		want->vips[want->n_vips] = o->vips[i];
		want->vips[want->n_vips].added = false;
		want->n_vips++;
	}
	return 0;
}

static int want_build(const struct be_opts *o, const struct be_state *old, struct be_state *want)
{
	int err;

	*want = *old;
	want->exists = true;
	err = netns_inode(&want->netns);
	if (err)
		return err;
	snprintf(want->dev, sizeof(want->dev), "%s", o->dev);
	want->mode = o->mode;
	want->xdp_mode = o->has_xdp_mode ? o->xdp_mode : old->exists ? old->xdp_mode : XLB_XDP_NATIVE;
	if (o->mode != BE_MODE_TUNNEL)
		want->gue_port = 0;
	else if (o->has_gue_port)
		want->gue_port = o->gue_port;
	else if (!old->exists)
		want->gue_port = XLB_GUE_PORT_DEFAULT;
	return merge_vips(o, want);
}

/* A VIP setup must add is recorded as added (remove takes it away again);
 * one already on lo is not ours to remove. */
static int plan_vips(struct be_state *want)
{
	bool on;
	size_t i;
	int err;

	for (i = 0; i < want->n_vips; i++) {
		err = vip_on_lo(&want->vips[i], &on);
		if (err)
			return err;
		if (!on)
			want->vips[i].added = true;
	}
	return 0;
}

/* Sysctls keep the value from before the first setup as the one to restore. */
static int plan_sysctls(const struct be_state *old, struct be_state *want)
{
	struct be_sysctl w[BE_MAX_SYSCTLS];
	const struct be_sysctl *prev;
	size_t n = sysctl_wanted(want, w, BE_MAX_SYSCTLS), i;
	int err;

	for (i = 0; i < n; i++) {
		prev = state_sysctl_find(old, w[i].path);
		if (prev) {
			snprintf(w[i].orig, sizeof(w[i].orig), "%s", prev->orig);
			continue;
		}
		err = sysctl_read(w[i].path, w[i].orig, sizeof(w[i].orig));
		if (err)
			return err;
	}
	/* Sysctls of an earlier setup that are no longer wanted stay recorded. */
	for (i = 0; i < old->n_sysctls && n < BE_MAX_SYSCTLS; i++) {
		size_t j;
		bool have = false;

		for (j = 0; j < n; j++)
			have = have || !strcmp(w[j].path, old->sysctls[i].path);
		if (!have)
			w[n++] = old->sysctls[i];
	}
	memcpy(want->sysctls, w, n * sizeof(w[0]));
	want->n_sysctls = n;
	return 0;
}

/* ---- the steps ----------------------------------------------------------- */

static int apply_sysctl(const struct be_sysctl *s, const struct be_state *old, struct txn *t)
{
	char cur[BE_SYSCTL_VAL], name[128];
	int err;

	sysctl_name(s->path, name, sizeof(name));
	err = sysctl_read(s->path, cur, sizeof(cur));
	if (err)
		return err;
	if (!strcmp(cur, s->set)) {
		rep_ok("%s=%s (already in place)", name, cur);
		return 0;
	}
	err = sysctl_write(s->path, s->set);
	if (err)
		return err;
	txn_sysctl(t, s->path, cur);
	if (old->exists && state_sysctl_find(old, s->path))
		rep_fixed("%s was %s, not the %s set up earlier; set to %s", name, cur, s->set, s->set);
	else
		rep_done("set %s=%s (was %s)", name, s->set, cur);
	return 0;
}

static int apply_sysctls(const struct be_state *want, const struct be_state *old, struct txn *t)
{
	struct be_sysctl w[BE_MAX_SYSCTLS];
	size_t n = sysctl_wanted(want, w, BE_MAX_SYSCTLS), i;
	int err = 0;

	for (i = 0; i < n && !err; i++)
		err = apply_sysctl(&w[i], old, t);
	return err;
}

static int apply_vip(const struct be_vip *v, const struct be_state *old, struct txn *t)
{
	char a[64];
	bool on;
	int err;

	be_vip_prefix_str(v, a, sizeof(a));
	err = vip_on_lo(v, &on);
	if (err)
		return err;
	if (on) {
		rep_ok("VIP %s is on lo (already in place)", a);
		return 0;
	}
	err = nl_addr_add(if_nametoindex("lo"), v);
	if (err == -EEXIST) {
		rep_ok("VIP %s is on lo (already in place)", a);
		return 0;
	}
	if (err)
		return xlb_fail(-err, "adding %s to lo failed: %s", a, strerror(-err));
	txn_addr(t, v);
	if (old->exists && state_vip_find(old, v))
		rep_fixed("VIP %s was missing from lo; added", a);
	else
		rep_done("added VIP %s to lo", a);
	return 0;
}

static int apply_vips(const struct be_state *want, const struct be_state *old, struct txn *t)
{
	size_t i;
	int err = 0;

	for (i = 0; i < want->n_vips && !err; i++)
		err = apply_vip(&want->vips[i], old, t);
	return err;
}

/* ARP suppression goes first, so the VIP is never on lo while the host
 * would still answer ARP for it; the program goes last, so it starts with
 * its maps filled and the stack ready for what it hands over. */
static int apply_all(const struct be_opts *o, const struct be_state *want,
		     const struct be_state *old, struct txn *t)
{
	int err = apply_sysctls(want, old, t);

	if (!err)
		err = apply_vips(want, old, t);
	if (!err && want->mode == BE_MODE_TUNNEL)
		err = decap_apply(o, want, old);
	return err;
}

/* ---- the command ---------------------------------------------------------- */

static int prechecks(const struct be_opts *o, const struct be_state *want)
{
	int err;

	if (!strcmp(want->dev, "lo"))
		return xlb_fail(EINVAL, "--dev lo: give the interface the tunnel or dsr traffic "
				"arrives on (e.g. eth0)");
	if (!if_nametoindex(want->dev))
		return xlb_fail(ENODEV, "interface %s does not exist in this network namespace "
				"(see 'ip link')", want->dev);
	err = vips_precheck(want->vips, want->n_vips);
	if (!err && want->mode == BE_MODE_TUNNEL)
		err = decap_precheck(o, want);
	return err;
}

/* Put the previous state file back after a failed run. */
static void state_restore(const struct be_opts *o, const struct be_state *old)
{
	if (old->exists)
		state_save(o->state_path, old);
	else
		state_unlink(o->state_path);
}

int cmd_setup(const struct be_opts *o)
{
	static struct be_state old, want;
	struct txn t = { .n = 0 };
	char saved[512];
	int err;

	err = state_load(o->state_path, &old);
	if (!err)
		err = state_check_netns(o, &old);
	if (!err)
		err = check_compatible(o, &old);
	if (!err)
		err = want_build(o, &old, &want);
	if (!err)
		err = prechecks(o, &want);
	if (!err)
		err = plan_vips(&want);
	if (!err)
		err = plan_sysctls(&old, &want);
	if (!err)
		err = state_save(o->state_path, &want);
	if (err)
		return err;
	err = apply_all(o, &want, &old, &t);
	if (err) {
		txn_rollback(&t);
		snprintf(saved, sizeof(saved), "%s", xlb_errmsg());
		state_restore(o, &old);
		rep_note("setup failed; the changes it made were rolled back");
		return xlb_fail(-err, "%s", saved);
	}
	printf("xlb-backend: %s mode on %s ready for %zu VIP(s); state in %s\n",
	       be_mode_name(want.mode), want.dev, want.n_vips, o->state_path);
	return 0;
}
