/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Statement execution: the running configuration as a plain value
 * (struct xlb_cfg), statements applied to it with every semantic check
 * (exec.c), and the one place that makes the datapath match a configuration
 * (converge.c). Errors follow libxlb's convention: -errno, and the reason
 * in xlb_errmsg().
 *
 * A change is never applied statement by statement to the maps. It is
 * simulated on a copy of the configuration first (xlb_cfg_exec*): that copy
 * either takes every statement or the change is refused with the statement
 * and the reason, and nothing happened. Only a configuration that passed is
 * handed to xlb_cfg_converge(), which issues the libxlb calls that turn the
 * datapath's state into it. The same converge adopts pinned state after a
 * restart, so a restart with an unchanged configuration writes nothing.
 */
#ifndef XLB_EXEC_H
#define XLB_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libxlb.h"
#include "stmt.h"

struct xlb_cfg_backend {
	struct xlb_endpoint ep; /* port never 0: resolved to the VIP's */
	uint32_t weight;
	bool drain;
};

struct xlb_cfg_vip {
	struct xlb_vip_spec spec; /* ring_size never 0 */
	struct xlb_check_spec check; /* type XLB_CHECK_NONE: not probed */
	uint32_t announce_min; /* usable backends before its route is announced (>= 1) */
	struct xlb_cfg_backend *be; /* sorted by xlb_cfg_ep_cmp() */
	size_t n_be;
	size_t cap_be;
};

/* Sorted arrays rather than lists: lookups are binary searches, and `save`
 * prints in address order, which makes its output independent of the order
 * in which things were added or read back from pinned maps. */
struct xlb_cfg {
	struct xlb_cfg_vip *vips; /* sorted by xlb_cfg_key_cmp() */
	size_t n_vips;
	size_t cap_vips;
	size_t n_backends; /* over all VIPs: the datapath's slots are shared */
	bool node_drained; /* `node drain`: no VIP route announced (scale-out) */
};

/* Orders: family, address, port (numerically), then protocol. */
int xlb_cfg_key_cmp(const struct xlb_vip_key *a, const struct xlb_vip_key *b);
int xlb_cfg_ep_cmp(const struct xlb_endpoint *a, const struct xlb_endpoint *b);

void xlb_cfg_init(struct xlb_cfg *c);
void xlb_cfg_free(struct xlb_cfg *c);
/* dst must be initialised (its old content is freed). Returns 0 or -ENOMEM. */
int xlb_cfg_copy(struct xlb_cfg *dst, const struct xlb_cfg *src);
/* The checks of a VIP that has none configured. */
void xlb_check_default(struct xlb_check_spec *check);

struct xlb_cfg_vip *xlb_cfg_vip_find(const struct xlb_cfg *c, const struct xlb_vip_key *key);
struct xlb_cfg_backend *xlb_cfg_backend_find(const struct xlb_cfg_vip *v,
					     const struct xlb_endpoint *ep);

/* True for the verbs that change the configuration (vip add/set/del,
 * backend add/set/del, check set, node drain/enable). */
bool xlb_stmt_changes(enum xlb_verb verb);

/*
 * Apply one parsed statement to c, checking everything the parser cannot
 * know: that the VIP or backend exists (or does not), capacity, dsr ports,
 * turn-sequence length for wrr. On error c is unchanged and xlb_errmsg()
 * says what is wrong and how to fix it. Returns 0, -EINVAL or -ENOMEM.
 */
int xlb_cfg_exec(struct xlb_cfg *c, const struct xlb_stmt *st);

/*
 * A batch: every line of text (len bytes, need not be NUL-terminated) is
 * parsed and applied in order, blank lines and comments skipped. All or
 * nothing: on the first bad line c is unchanged and xlb_errmsg() reads
 * "NAME:LINE: reason". *n_stmts (may be NULL) counts the statements.
 */
int xlb_cfg_exec_text(struct xlb_cfg *c, const char *text, size_t len, const char *name,
		      unsigned int *n_stmts);

/*
 * The configuration as canonical statements, one call of fn per statement
 * (no newline), in an order that rebuilds it on an empty configuration.
 * Stops at and returns the first non-zero value fn returns.
 */
int xlb_cfg_statements(const struct xlb_cfg *c, int (*fn)(const char *line, void *arg),
		       void *arg);

/* Read the datapath's VIPs and backends into c (initialised; replaced).
 * Health checks are not in the maps: every VIP gets none. */
int xlb_cfg_from_xlb(struct xlb_cfg *c, const struct xlb *x);

/*
 * converge.c: make the datapath's VIPs and backends equal want, touching
 * only what differs: an unchanged VIP or backend keeps its slot, its table
 * entries and its flows. On failure the datapath is put back as it was
 * (xlb_errmsg() says so, or that even that failed). Health state (down) is
 * left alone; backends that are added start up. Returns 0 or -errno.
 */
int xlb_cfg_converge(struct xlb *x, const struct xlb_cfg *want);

#endif /* XLB_EXEC_H */
