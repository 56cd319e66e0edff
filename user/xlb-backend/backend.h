/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * xlb-backend: everything a backend needs for xlb's dsr and tunnel modes,
 * set up, checked and removed by one command.
 *
 * What the host gets (and what `remove` takes back):
 *   - each VIP on lo (/32, /128), so the stack accepts and answers for it;
 *   - ARP suppression for IPv4 VIPs (arp_ignore=1, arp_announce=2 on all and
 *     DEV), so the backend never claims a VIP on its network;
 *   - tunnel mode: rp_filter=2 on all and DEV (decapsulated packets arrive on
 *     DEV from the client's address) and bpf/decap.bpf.c attached to DEV,
 *     with its maps and link pinned under the pin root.
 *
 * Every change is recorded in a state file (/run/xlb-backend/NAME.state,
 * NAME from the pin root) before it is made, with the value it replaced, so
 * `remove` undoes exactly what `setup` did and nothing else.
 */
#ifndef XLB_BACKEND_H
#define XLB_BACKEND_H

#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libxlb.h"

#define BE_PIN_ROOT_DEFAULT "/sys/fs/bpf/xlb-backend"
#define BE_RUN_DIR "/run/xlb-backend"
#define BE_MAX_VIPS XLB_DECAP_MAX_VIPS
#define BE_MAX_SYSCTLS 8
#define BE_SYSCTL_VAL 16

enum be_mode {
	BE_MODE_NONE = 0,
	BE_MODE_DSR,
	BE_MODE_TUNNEL,
};

struct be_vip {
	struct xlb_addr addr;
	__u8 family; /* enum xlb_family */
	/* state: setup put the address on lo (false: it was there already,
	 * so remove leaves it) */
	bool added;
};

/* One sysctl setup changed: remove writes orig back if it still reads set. */
struct be_sysctl {
	char path[96]; /* below /proc/sys, e.g. net/ipv4/conf/all/arp_ignore */
	char orig[BE_SYSCTL_VAL];
	char set[BE_SYSCTL_VAL];
};

/* What this host was set up with (the state file), or what a command asks for. */
struct be_state {
	bool exists;
	unsigned long long netns; /* inode of the network namespace */
	char dev[IF_NAMESIZE];
	enum be_mode mode;
	enum xlb_xdp_mode xdp_mode;
	uint16_t gue_port; /* host order; 0: GUE not accepted */
	size_t n_vips;
	struct be_vip vips[BE_MAX_VIPS];
	size_t n_sysctls;
	struct be_sysctl sysctls[BE_MAX_SYSCTLS];
};

enum be_cmd {
	BE_CMD_SETUP,
	BE_CMD_REMOVE,
	BE_CMD_STATUS,
};

/* The command line. */
struct be_opts {
	enum be_cmd cmd;
	size_t n_vips;
	struct be_vip vips[BE_MAX_VIPS];
	enum be_mode mode; /* BE_MODE_NONE: not given */
	char dev[IF_NAMESIZE]; /* "": not given */
	bool has_gue_port;
	uint16_t gue_port;
	bool has_xdp_mode;
	enum xlb_xdp_mode xdp_mode;
	char pin_root[PATH_MAX];
	char state_path[PATH_MAX];
	char lock_path[PATH_MAX];
};

/* ---- report.c: what the command prints ------------------------------- */

/* "ok: ..." something was already as it should be. */
void rep_ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "done: ..." a change made now. */
void rep_done(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "fixed: ..." a change that repaired a half-configured host. */
void rep_fixed(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "problem: ..." (status): something wrong; counted for the exit code. */
void rep_problem(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "note: ..." information that needs no action. */
void rep_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
unsigned int rep_problems(void);
void rep_libxlb_notice(enum xlb_notice_level level, const char *msg);

const char *be_mode_name(enum be_mode m);
const char *be_vip_str(const struct be_vip *v, char *buf, size_t len);
/* "198.18.1.10/32", "fd00::10/128" */
const char *be_vip_prefix_str(const struct be_vip *v, char *buf, size_t len);

/* ---- nl.c: addresses over rtnetlink ------------------------------------ */

struct be_ifaddr {
	int ifindex;
	__u8 family;
	__u8 prefixlen;
	struct xlb_addr addr;
};

/* Every address of every interface. *out is malloc'ed. */
int nl_addr_list(struct be_ifaddr **out, size_t *n);
/* Add or delete addr/prefixlen on ifindex. -EEXIST / -EADDRNOTAVAIL pass through. */
int nl_addr_add(int ifindex, const struct be_vip *v);
int nl_addr_del(int ifindex, const struct be_vip *v);

/* ---- sysctl.c ---------------------------------------------------------- */

/* path is below /proc/sys ("net/ipv4/conf/all/arp_ignore"). */
int sysctl_read(const char *path, char *val, size_t len);
int sysctl_write(const char *path, const char *val);
/* "net.ipv4.conf.all.arp_ignore" (device names keep their dots). */
const char *sysctl_name(const char *path, char *buf, size_t len);
/* The sysctls a host needs for st's mode, device and VIP families, with
 * the wanted values in .set (orig left empty). Returns the count. */
size_t sysctl_wanted(const struct be_state *st, struct be_sysctl *out, size_t max);

/* ---- state.c ----------------------------------------------------------- */

/* Derive the state and lock file names from the pin root. */
int state_paths(struct be_opts *o);
/* Missing file: st->exists = false and 0. */
int state_load(const char *path, struct be_state *st);
/* Written to a temporary file and renamed: never half-written. */
int state_save(const char *path, const struct be_state *st);
int state_unlink(const char *path);
/* An exclusive lock for the pin root, held until exit. */
int state_lock(const char *path);
int netns_inode(unsigned long long *ino);
/* Refuse a state recorded in another network namespace. */
int state_check_netns(const struct be_opts *o, const struct be_state *st);
const struct be_vip *state_vip_find(const struct be_state *st, const struct be_vip *v);
const struct be_sysctl *state_sysctl_find(const struct be_state *st, const char *path);

/* ---- decap.c: the decap program ---------------------------------------- */

/* Refuse early (before the host is touched) what would make attaching fail:
 * no bpffs, a foreign XDP program on the device. */
int decap_precheck(const struct be_opts *o, const struct be_state *want);
/* Load (adopting pins), program the maps to want's VIPs and GUE port, attach
 * or keep the attachment. All or nothing: on failure the pins and maps are
 * as they were. Reports every step. */
int decap_apply(const struct be_opts *o, const struct be_state *want, const struct be_state *old);
/* Detach and unpin everything under the pin root. *found says whether
 * anything was there. */
int decap_remove(const char *pin_root, bool *found);
/* Drop VIPs from the map of a running decap program (partial remove). */
int decap_forget_vips(const char *pin_root, const struct be_vip *vips, size_t n);
/* Report (rep_ok / rep_problem) how the decap program stands against want. */
void decap_status(const struct be_opts *o, const struct be_state *want);
/* False when pin_root is under /sys/fs/bpf and that is not bpffs here (a
 * private mount namespace such as `ip netns exec` makes). */
bool decap_bpffs_visible(const char *pin_root);
/* Whether a decap program is pinned under pin_root (link or maps). */
bool decap_pinned(const char *pin_root);

/* ---- the commands ------------------------------------------------------ */

int cmd_setup(const struct be_opts *o);
int cmd_remove(const struct be_opts *o);
int cmd_status(const struct be_opts *o);

/* vips.c: the VIP addresses on lo. */
/* Check that no VIP sits on an interface other than lo. */
int vips_precheck(const struct be_vip *vips, size_t n);
/* Whether v is on lo now. */
int vip_on_lo(const struct be_vip *v, bool *on);

#endif /* XLB_BACKEND_H */
