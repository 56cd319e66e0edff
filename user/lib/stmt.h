/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The statement grammar (xlb.conf(5)): one statement is one line of
 * a config file, one request on the control socket, one xlbctl command.
 *
 *   vip add     PROTO/VIP:PORT [sched SCHED] [mode MODE] [ring PRIME]
 *               [encap ENCAP] [gue-port N]             (encap options: mode tunnel only)
 *   vip set     PROTO/VIP:PORT [sched ...] [ring PRIME] [announce-min N]
 *   vip del     PROTO/VIP:PORT
 *   vip list
 *   backend add PROTO/VIP:PORT ADDR[:PORT] [weight N]
 *   backend set PROTO/VIP:PORT ADDR[:PORT] weight N | drain | enable
 *   backend del PROTO/VIP:PORT ADDR[:PORT]
 *   check set   PROTO/VIP:PORT TYPE [port N] [path P] [host H] [expect CODE]
 *               [payload STR] [interval DUR] [timeout DUR] [rise N] [fall N]
 *   node drain | node enable
 *   show | stats | save
 *   apply FILE
 *   explain     PROTO/VIP:PORT CLIENT[:PORT]   (which backend, and why; not for batches)
 *
 * SCHED, MODE, ENCAP and TYPE are the words of keywords.c's tables.
 */
#ifndef XLB_STMT_H
#define XLB_STMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libxlb.h"

#define XLB_STMT_MAX_LEN 4096 /* longer lines are rejected, not truncated */

enum xlb_verb {
	XLB_V_NONE = 0, /* blank line or comment */
	XLB_V_VIP_ADD,
	XLB_V_VIP_SET,
	XLB_V_VIP_DEL,
	XLB_V_VIP_LIST,
	XLB_V_BACKEND_ADD,
	XLB_V_BACKEND_SET,
	XLB_V_BACKEND_DEL,
	XLB_V_CHECK_SET,
	XLB_V_SHOW,
	XLB_V_STATS,
	XLB_V_SAVE,
	XLB_V_APPLY,
	XLB_V_EXPLAIN,
	XLB_V_NODE_DRAIN, /* withdraw this node's VIP routes (scale-out) */
	XLB_V_NODE_ENABLE,
};

enum xlb_backend_op {
	XLB_BOP_NONE = 0,
	XLB_BOP_WEIGHT,
	XLB_BOP_DRAIN,
	XLB_BOP_ENABLE,
};

enum xlb_check_type {
	XLB_CHECK_NONE = 0,
	XLB_CHECK_TCP,
	XLB_CHECK_HTTP,
	XLB_CHECK_UDP,
};

#define XLB_CHECK_DEFAULT_INTERVAL_MS 2000
#define XLB_CHECK_DEFAULT_TIMEOUT_MS 1000
#define XLB_CHECK_DEFAULT_RISE 2
#define XLB_CHECK_DEFAULT_FALL 3

struct xlb_check_spec {
	enum xlb_check_type type;
	uint16_t port; /* 0: the backend's port */
	char path[256]; /* http; default "/" */
	char host[256]; /* http Host header; default the backend address */
	uint16_t expect; /* http status; default 200 */
	char payload[256]; /* udp; default "xlb-health" */
	uint32_t interval_ms, timeout_ms, rise, fall;
};

struct xlb_stmt {
	enum xlb_verb verb;
	struct xlb_vip_key vip;
	/* vip add/set */
	bool has_sched, has_mode, has_ring;
	enum xlb_sched sched;
	enum xlb_mode mode;
	uint32_t ring;
	/* vip set: healthy backends the VIP needs before its route is announced */
	bool has_announce_min;
	uint32_t announce_min;
	/* vip add, mode tunnel: filled with defaults (ipip, XLB_GUE_PORT_DEFAULT) */
	bool has_encap, has_gue_port;
	enum xlb_encap encap;
	uint16_t gue_port;
	/* backend add/set/del: port 0 means "the VIP's port" */
	struct xlb_endpoint backend;
	bool has_weight;
	uint32_t weight;
	enum xlb_backend_op bop;
	/* check set: defaults filled in for every field not given */
	struct xlb_check_spec check;
	/* apply */
	char path[4096];
	/* explain: port 0 when not given; family equal to the VIP's */
	struct xlb_endpoint client;
};

/*
 * Parse one statement. Returns 1 for a statement, 0 for a blank line or a
 * comment (everything from '#' on is a comment), or -EINVAL with a message
 * in xlb_errmsg() that names the offending word and what was expected, e.g.
 *   unknown scheduler 'rrr' (expected maglev, rr, wrr, srchash)
 * Validation that needs no state happens here: address syntax, port range
 * 1-65535, ring size prime within XLB_RING_MIN..XLB_RING_MAX, weight
 * 0..XLB_MAX_WEIGHT, backend family equal to the VIP's (nat, dsr), durations.
 */
int xlb_stmt_parse(const char *line, struct xlb_stmt *st);

/* The canonical text of a statement (what `save` prints). Returns the length
 * or -ENOSPC. Parsing the output gives back an equal statement. */
int xlb_stmt_format(const struct xlb_stmt *st, char *buf, size_t len);

/* "500ms", "2s", "1m" -> milliseconds. Returns 0 or -EINVAL. */
int xlb_duration_parse(const char *s, uint32_t *ms);

const char *xlb_check_type_name(enum xlb_check_type t);

#endif /* XLB_STMT_H */
