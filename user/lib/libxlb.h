/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * libxlb: the user-space side of the datapath. Loads and attaches the XDP
 * program, pins its maps, and programs VIPs and backends through typed calls.
 *
 * Every call returns 0 or -errno; on failure xlb_errmsg() names what failed
 * and, where there is one, the fix. Nothing is half-applied: a call either
 * changes the datapath completely or leaves it as it was.
 */
#ifndef XLB_LIBXLB_H
#define XLB_LIBXLB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xlb/xlb.h>

/* ---- errors ---------------------------------------------------------- */

/* The message of the last failed call on this thread ("" if none). */
const char *xlb_errmsg(void);
/* Set the message (printf-style) and return -err (err is a positive errno). */
int xlb_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* What the library did on its own that the operator should know of (it
 * mounted bpffs, say). Goes to stderr unless the program sets a sink. */
enum xlb_notice_level { XLB_NOTICE_WARN, XLB_NOTICE_INFO };
typedef void (*xlb_notice_fn)(enum xlb_notice_level level, const char *msg);
void xlb_set_notice_sink(xlb_notice_fn fn);
void xlb_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void xlb_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- addresses and endpoints ----------------------------------------- */

/* An address with its family and a port (wire order). */
struct xlb_endpoint {
	struct xlb_addr addr;
	__be16 port;
	__u8 family; /* enum xlb_family */
	__u8 pad;
};

/* "198.18.0.1" or "fd00::1" (no brackets). Returns 0 or -EINVAL. */
int xlb_addr_parse(const char *s, struct xlb_addr *addr, __u8 *family);
/* Buffer sizes: any VIP key or endpoint as text (the longest, an IPv6 VIP
 * key, is 57 bytes), and any libxlb message (xlb_errmsg's own size). */
#define XLB_TEXT_LEN 64
#define XLB_MSG_LEN 512

/* Writes "198.18.0.1" / "fd00::1" into buf (>= 46 bytes). Returns buf. */
const char *xlb_addr_str(const struct xlb_addr *addr, __u8 family, char *buf, size_t len);
/* "tcp/198.18.1.10:80", "udp/[fd00::10]:53" into buf (XLB_TEXT_LEN). */
const char *xlb_vip_key_str(const struct xlb_vip_key *key, char *buf, size_t len);
/* "198.18.2.11:80", "[fd00::11]:80" into buf (XLB_TEXT_LEN). */
const char *xlb_endpoint_str(const struct xlb_endpoint *ep, char *buf, size_t len);
/* Fill a zeroed VIP key. port in host order. */
void xlb_vip_key_make(struct xlb_vip_key *key, __u8 proto, __u8 family,
		      const struct xlb_addr *addr, uint16_t port);

const char *xlb_sched_name(enum xlb_sched s);
const char *xlb_mode_name(enum xlb_mode m);
const char *xlb_encap_name(enum xlb_encap e);
int xlb_encap_parse(const char *s);
/* Returns the enum value or -EINVAL. */
int xlb_sched_parse(const char *s);
int xlb_mode_parse(const char *s);
bool xlb_is_prime(uint32_t n);

/* ---- Maglev and turn tables (pure C, no libbpf) ---------------------- */

/* maglev and srchash hash into a table of ring_size entries; rr and wrr
 * keep a turn sequence and ignore the ring. */
bool xlb_sched_uses_ring(enum xlb_sched s);
/* The one rule for a ring size: a prime in [XLB_RING_MIN, XLB_RING_MAX].
 * xlb_ring_check says what is wrong (xlb_errmsg) and returns -EINVAL. */
bool xlb_ring_valid(uint32_t n);
int xlb_ring_check(uint32_t n);

/* One entry of the input to a table build. */
struct xlb_table_member {
	uint32_t id; /* written into the table */
	uint32_t weight; /* > 0; members of weight 0 are left out by the caller */
	/* Identity for the Maglev permutation: stable across machines and
	 * restarts, so the same configuration gives the same table everywhere. */
	struct xlb_endpoint ep;
};

/*
 * Fill table[0..size) with member ids, Maglev-style: each member owns a share
 * of entries exactly proportional to its weight (largest remainder), and a
 * member's entries move only when its own share changes. size must be prime.
 * n == 0 fills nothing and returns 0. Returns 0 or -errno.
 */
int xlb_maglev_build(const struct xlb_table_member *members, size_t n,
		     uint32_t *table, uint32_t size);

/*
 * Turn sequence for rr/wrr: ids interleaved so each member appears in
 * proportion to its weight (smooth weighted round robin; rr passes weight 1
 * for all). Writes at most max entries; returns the sequence length or -errno.
 */
int xlb_turns_build(const struct xlb_table_member *members, size_t n,
		    uint32_t *seq, uint32_t max);

/*
 * A digest of a table of member ids computed over the members' identities
 * (address, port), not their ids: two nodes whose tables send every entry
 * to the same backend address have the same digest, whatever ids their
 * slots got. Returns 0 or -ENOMEM.
 */
int xlb_table_digest(const uint32_t *ids, uint32_t size,
		     const struct xlb_table_member *members, size_t n, uint64_t *digest);

/* ---- bpffs and pin roots ---------------------------------------------- */

#define XLB_BPFFS "/sys/fs/bpf"

bool xlb_on_bpffs(const char *path);
bool xlb_under_default_bpffs(const char *root);
/* Mount bpffs on XLB_BPFFS if it is not there (refused in a private mount
 * namespace, where pins would not outlive the process). */
int xlb_bpffs_mount_default(void);
/* The pin root's deepest existing ancestor is bpffs. */
int xlb_bpffs_check(const char *root);
/* Both of the above, mounting only for a root under XLB_BPFFS. */
int xlb_pin_root_check(const char *root);
/* mkdir -p: every missing directory of path with mode. */
int xlb_mkdir_p(const char *path, unsigned int mode);

/* ---- the loaded datapath --------------------------------------------- */

struct xlb;

enum xlb_xdp_mode {
	XLB_XDP_NATIVE = 0,
	XLB_XDP_GENERIC = 1,
};

/* Where xlbd pins the datapath unless told otherwise (--pin-root). */
#define XLB_PIN_ROOT_DEFAULT "/sys/fs/bpf/xlb"

struct xlb_open_opts {
	const char *pin_root; /* bpffs directory; NULL = XLB_PIN_ROOT_DEFAULT */
	bool no_pin; /* tests: load without pinning anything */
	/* Confirmed-flow table size; 0 = what is pinned, else XLB_FLOWS_DEFAULT.
	 * A size other than the pinned one is refused (the table would have to
	 * be made anew, dropping every connection) unless resize_flows is set. */
	uint32_t flow_entries;
	/* Unconfirmed-flow table size; 0 = what is pinned, else XLB_FLOWS_NEW_DEFAULT. */
	uint32_t new_flow_entries;
	/* Copy the pinned flows into tables of the new sizes (flows that do not
	 * fit are named in the error and the old tables kept). */
	bool resize_flows;
	/* VIPs and backend slots the maps hold; 0 = what is pinned, else
	 * XLB_VIPS_DEFAULT, XLB_BACKENDS_DEFAULT. Another size than the pinned
	 * one is refused (the error names both and the way out). */
	uint32_t max_vips, max_backends;
	/* Per-CPU client next-hop cache slots, a power of two; 0 = default. */
	uint32_t nexthop_cache;
	uint64_t udp_idle_ns; /* 0 = XLB_UDP_IDLE_DEFAULT_NS */
	uint32_t tcp_idle_s; /* confirmed TCP flows idle this long are swept; 0 = default */
	/* ICMP errors the datapath sends, per CPU and second, and their burst
	 * (struct xlb_icmp_bucket); 0 = XLB_ICMP_RATE_DEFAULT and
	 * XLB_ICMP_BURST_DEFAULT, icmp_rate XLB_ICMP_UNLIMITED = no limit. */
	uint32_t icmp_rate;
	uint32_t icmp_burst;
};

#define XLB_ICMP_UNLIMITED UINT32_MAX

/*
 * Load the datapath. If pins exist under pin_root they are adopted (maps
 * reused, VIPs and backends read back), so established flows survive a
 * restart; a pin layout of another version is refused with a clear error.
 */
int xlb_open(struct xlb **out, const struct xlb_open_opts *opts);
/* Release the handle. Pinned maps and links stay: the datapath keeps running. */
void xlb_close(struct xlb *x);
/* Detach from every interface attached under the pin root and remove all pins. */
int xlb_destroy_pins(const char *pin_root);

/* The program fd (for tests: bpf_prog_test_run_opts). */
int xlb_prog_fd(const struct xlb *x);
int xlb_map_fd(const struct xlb *x, const char *name);

/* Attach to an interface with a bpf_link pinned under pin_root/links/IFNAME,
 * or update an existing pinned link to this program. */
int xlb_attach(struct xlb *x, const char *ifname, enum xlb_xdp_mode mode);
int xlb_detach(struct xlb *x, const char *ifname);

/* ---- VIPs and backends ----------------------------------------------- */

struct xlb_vip_spec {
	struct xlb_vip_key key;
	enum xlb_sched sched;
	enum xlb_mode mode;
	uint32_t ring_size; /* maglev/srchash table size, prime; 0 = XLB_RING_DEFAULT */
	enum xlb_encap encap; /* tunnel mode only */
	uint16_t gue_port; /* tunnel mode with GUE, host order; 0 = XLB_GUE_PORT_DEFAULT */
};

struct xlb_backend_info {
	struct xlb_endpoint ep; /* port 0 in a spec means "same as the VIP" */
	uint32_t weight;
	bool drain;
	bool down; /* health: out of the table and its flows rescheduled */
	uint32_t id; /* slot in xlb_backends (read-only) */
};

struct xlb_vip_info {
	struct xlb_vip_spec spec;
	uint32_t id; /* read-only */
	size_t n_backends;
	const struct xlb_backend_info *backends;
};

int xlb_vip_add(struct xlb *x, const struct xlb_vip_spec *spec);
/* Change scheduler and/or ring size; mode cannot change (remove and re-add). */
int xlb_vip_set(struct xlb *x, const struct xlb_vip_spec *spec);
int xlb_vip_del(struct xlb *x, const struct xlb_vip_key *key);

/* weight 0 is allowed (same as drain: no new flows, existing ones continue). */
int xlb_backend_add(struct xlb *x, const struct xlb_vip_key *vip,
		    const struct xlb_endpoint *ep, uint32_t weight);
int xlb_backend_del(struct xlb *x, const struct xlb_vip_key *vip,
		    const struct xlb_endpoint *ep);
int xlb_backend_set_weight(struct xlb *x, const struct xlb_vip_key *vip,
			   const struct xlb_endpoint *ep, uint32_t weight);
int xlb_backend_set_drain(struct xlb *x, const struct xlb_vip_key *vip,
			  const struct xlb_endpoint *ep, bool drain);
/* Health state from the prober. */
int xlb_backend_set_down(struct xlb *x, const struct xlb_vip_key *vip,
			 const struct xlb_endpoint *ep, bool down);

/* One backend as xlb_vip_apply() wants it. */
struct xlb_backend_spec {
	struct xlb_endpoint ep; /* port 0 means "same as the VIP" */
	uint32_t weight;
	bool drain;
};

/*
 * Make an existing VIP's scheduler, ring size and backends equal spec and
 * be[0..n) in one change: backends missing from be are deleted, new ones
 * added (up), the others get the given weight and drain (health is kept).
 * However many backends change, the VIP's table is built and switched once,
 * where the calls above cost one build each. New backends take slots in
 * the order of be. Mode and encapsulation cannot change (as xlb_vip_set).
 */
int xlb_vip_apply(struct xlb *x, const struct xlb_vip_spec *spec,
		  const struct xlb_backend_spec *be, size_t n);
/*
 * Add a VIP together with its backends (as xlb_vip_apply takes them): the
 * VIP enters xlb_vips last, with its table and backend slots ready, so no
 * packet ever finds it without them. On failure nothing is left behind.
 * xlb_vip_add() is this with no backends.
 */
int xlb_vip_create(struct xlb *x, const struct xlb_vip_spec *spec,
		   const struct xlb_backend_spec *be, size_t n);
/* Whether a backend can serve a VIP of this mode (address family, port):
 * 0, or -errno with the reason in xlb_errmsg(). Port 0 means the VIP's. */
int xlb_backend_fits(const struct xlb_vip_spec *vip, const struct xlb_endpoint *ep);
/* An existing VIP with another mode or encapsulation, and its backends, in
 * one switch of its xlb_vips entry: never absent, wholly old or wholly new.
 * Needs free slots for its new backends while the old ones are held. */
int xlb_vip_replace(struct xlb *x, const struct xlb_vip_spec *spec,
		    const struct xlb_backend_spec *be, size_t n);

/* One backend's health as xlb_vip_set_health() sets it. */
struct xlb_backend_health {
	struct xlb_endpoint ep; /* port 0 means "same as the VIP" */
	bool down;
};

/* xlb_backend_set_down() for several backends of one VIP in one change:
 * one table build however many change (a prober's burst of results). */
int xlb_vip_set_health(struct xlb *x, const struct xlb_vip_key *vip,
		       const struct xlb_backend_health *h, size_t n);

/* A snapshot of the configuration, valid until the next change. */
size_t xlb_vip_count(const struct xlb *x);
const struct xlb_vip_info *xlb_vip_at(const struct xlb *x, size_t i);
const struct xlb_vip_info *xlb_vip_find(const struct xlb *x, const struct xlb_vip_key *key);

/* xlb_table_digest() of the table the datapath uses for this VIP now (read
 * back from the map; an empty table for a VIP without usable backends). */
int xlb_vip_table_digest(const struct xlb *x, const struct xlb_vip_key *key,
			 uint64_t *digest);

/* ---- counters -------------------------------------------------------- */

/* Summed over all CPUs. */
int xlb_vip_counters(const struct xlb *x, uint32_t vip_id, struct xlb_counters *out);
int xlb_backend_counters(const struct xlb *x, uint32_t backend_id, struct xlb_counters *out);
int xlb_reason_counters(const struct xlb *x, uint64_t out[XLB_R_MAX]);
const char *xlb_reason_name(enum xlb_reason r);
/* Make every flow look its next hop up again (xlbd: every second and when
 * routes or neighbours change). */
int xlb_nexthop_flush(const struct xlb *x);
/* Live flow entries per backend id (walks the flow tables: slow, for show). */
int xlb_flow_counts(const struct xlb *x, uint32_t *per_backend, size_t n);

/* The flow tables' occupancy against capacity (walks them) and what the
 * kernel charges for them. */
struct xlb_flow_usage {
	uint64_t confirmed, confirmed_capacity, confirmed_bytes;
	uint64_t unconfirmed, unconfirmed_capacity, unconfirmed_bytes;
	/* xlb_flow_marks: cells, those holding a live mark (the share of SYNs
	 * that look the confirmed table up), bytes; generation 0: not kept yet,
	 * every SYN looks up */
	uint64_t mark_cells, marks_live, mark_bytes;
	uint32_t mark_gen;
	uint32_t tcp_idle_s, udp_idle_s;
};
int xlb_flow_usage(const struct xlb *x, struct xlb_flow_usage *u);
uint64_t xlb_flow_capacity(const struct xlb *x);
/* VIPs and backend slots in use against the limits the maps were made
 * with, and what the kernel charges for the maps each sizes. */
struct xlb_limits {
	uint32_t vips, max_vips;
	uint32_t backends, max_backends;
	uint32_t nexthop_cache; /* slots per CPU */
	uint64_t vip_bytes, backend_bytes, nexthop_bytes, stats_bytes;
};
void xlb_limits_get(const struct xlb *x, struct xlb_limits *l);
/* The idle sweep: looks at up to budget confirmed flows from where the last
 * call stopped and removes those idle past their timeout. Returns 1 when a
 * pass over the table ended, 0 when more is left, or -errno. */
int xlb_flows_sweep(struct xlb *x, uint32_t budget, uint32_t *removed);
/* Write a confirmed flow from user space (restores, resizes, benchmarks),
 * marked as the datapath marks the flows it confirms (xlb_flow_marks).
 * 0, -EEXIST, or -errno. */
int xlb_flow_confirmed_put(const struct xlb *x, const struct xlb_flow_key *k,
			   const struct xlb_flow *f);
/* Only the mark, for entries written some other way (batch writes). */
void xlb_flow_mark(const struct xlb *x, const struct xlb_flow_key *k);
/* The generation of k's mark, live or stale (its own cell, else its word's
 * XLB_FLOW_MARK_ANY cell), 0 when it has none; clearing k's word (for
 * tests: every flow of the word loses its mark); and the current mark
 * generation (0: marks not kept yet, or unreadable). */
uint32_t xlb_flow_mark_of(const struct xlb *x, const struct xlb_flow_key *k);
void xlb_flow_mark_clear(const struct xlb *x, const struct xlb_flow_key *k);
uint32_t xlb_flow_mark_gen(const struct xlb *x);
/* The clock the datapath stamps flows with (CLOCK_MONOTONIC seconds). */
uint32_t xlb_clock_now(void);

/* ---- one connection: which backend, and why (xlbctl explain) ---------- */

/* A client's flow-table entry as libxlb reads it: the map's own layout
 * stays inside user/lib/flows.c. */
struct xlb_flow_entry {
	uint32_t backend_id;
	enum xlb_mode mode;
	/* In xlb_flows (handshake done, kept until closed or idle), else in
	 * xlb_flows_new (handshake in progress; a newer flow of the same set
	 * may take its slot). */
	bool confirmed;
	/* The datapath still follows it: its backend is in use, up and the
	 * one it was made for, and a UDP flow has not idled out. Otherwise
	 * the next packet is scheduled anew. */
	bool followed;
};

/* The unconfirmed flow of key k as the datapath finds it (its set in
 * xlb_flows_new): 0, -ENOENT, or -errno with xlb_errmsg() set. */
int xlb_flow_pending_get(const struct xlb *x, const struct xlb_flow_key *k, struct xlb_flow *f);

/* The entry of client -> vip (client port in wire order). Returns 0,
 * -ENOENT when there is none, or -errno with xlb_errmsg() set. */
int xlb_flow_find(const struct xlb *x, const struct xlb_vip_key *vip,
		  const struct xlb_endpoint *client, struct xlb_flow_entry *out);

enum xlb_pick_rule {
	XLB_PICK_NONE = 0, /* the VIP has no usable backend: new flows are dropped */
	XLB_PICK_HASH, /* maglev: hash of the 5-tuple into the live table */
	XLB_PICK_SRC, /* srchash: hash of the client address, any client port */
	XLB_PICK_TURN, /* rr, wrr: the turn the next new flow (any client) draws */
};

struct xlb_pick {
	enum xlb_pick_rule rule;
	enum xlb_sched sched;
	uint32_t hash; /* HASH, SRC */
	uint64_t turn; /* TURN: the VIP's turn counter */
	uint32_t index; /* into the live table */
	uint32_t table_size;
	uint32_t backend_id; /* the table's entry at index (not NONE) */
};

/* What the VIP's scheduler and live table give a new flow from client,
 * computed with the datapath's own hash. maglev needs the client port
 * (-EINVAL otherwise); srchash, rr and wrr do not use it. */
int xlb_flow_predict(const struct xlb *x, const struct xlb_vip_key *vip,
		     const struct xlb_endpoint *client, struct xlb_pick *out);

#endif /* XLB_LIBXLB_H */
