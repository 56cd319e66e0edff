/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * libxlb's private view of a loaded datapath: the handle, the in-memory
 * model of VIPs and backends, and the calls the library's files make into
 * each other. Nothing here is part of the API (libxlb.h is).
 */
#ifndef XLB_INTERNAL_H
#define XLB_INTERNAL_H

#include <limits.h>
#include <net/if.h>

#include "libxlb.h"


struct xlb_bpf;

/* Ids handed out lowest free first: the same sequence of changes gives the
 * same ids on every node and when a saved configuration is replayed. */
struct xlb_ids {
	uint64_t *bits;
	uint32_t size;
};

int xlb_ids_init(struct xlb_ids *ids, uint32_t size);
void xlb_ids_free(struct xlb_ids *ids);
/* Returns 0 and the lowest free id, or -ENOSPC. */
int xlb_ids_alloc(struct xlb_ids *ids, uint32_t *id);
void xlb_ids_take(struct xlb_ids *ids, uint32_t id);
void xlb_ids_put(struct xlb_ids *ids, uint32_t id);
bool xlb_ids_used(const struct xlb_ids *ids, uint32_t id);

/* One VIP as the control plane knows it. */
struct xlb_vip_entry {
	struct xlb_vip_info info; /* the public view; info.backends == be */
	struct xlb_vip val; /* what xlb_vips holds for this VIP right now */
	struct xlb_backend_info *be; /* sorted by slot id */
	bool hidden; /* being created (xlb_vip_create): not in xlb_vips yet */
};

/* A link kept open by the handle (no_pin: it dies with the handle). */
struct xlb_link {
	char ifname[IF_NAMESIZE];
	int fd;
};

struct xlb_map_fds {
	int addr_filter;
	int backend_epochs;
	int vips;
	int vip_addrs;
	int backends;
	int flows;
	int flows_new;
	int marks;
	int nat_ends;
	int tables;
	int vip_state;
	int stats;
	int reasons;
	int meta;
};

struct xlb {
	struct xlb_bpf *skel;
	struct xlb_map_fds fd;
	char pin_root[PATH_MAX];
	bool no_pin;
	int stats_cpus; /* CPU ids (highest possible + 1): blocks of xlb_stats */
	struct xlb_counters *stats; /* xlb_stats, mapped */
	size_t stats_len;
	uint32_t flow_entries;
	uint32_t new_flow_entries;
	bool resize_flows;
	volatile __u64 *marks; /* xlb_flow_marks, mapped: mark_cells / 4 words */
	uint32_t mark_cells;
	/* Before load: the marks will be made anew beside a pinned confirmed
	 * table, whose flows they cannot know yet (marks_start). */
	bool marks_blind;
	uint32_t max_vips, max_backends; /* the maps' sizes (xlbd --max-vips, --max-backends) */
	uint32_t nexthop_cache; /* xlb_client_nh slots per CPU, a power of two */
	uint32_t stats_entries; /* xlb_stats' size: every CPU's block, then the VIP slots */
	uint64_t udp_idle_ns;
	uint32_t tcp_idle_s;
	uint32_t icmp_rate; /* as the datapath takes it: 0 = no limit */
	uint32_t icmp_burst;
	__u32 sweep_cursor; /* where the idle sweep goes on (a batch token) */
	bool sweep_started;
	__u32 sweep_gen; /* the mark generation the sweep's pass started in */

	struct xlb_vip_entry *vips; /* sorted by VIP id */
	size_t n_vips;
	struct xlb_ids vip_ids;
	struct xlb_ids be_ids;

	struct xlb_link *links;
	size_t n_links;
};

/* error.c: xlb_errmsg() prefixed with what failed and for which VIP (or
 * strerror(err) where libxlb left no message). Returns -errno. */
int xlb_fail_vip(int err, const char *what, const struct xlb_vip_key *key);

/* model.c: the VIPs and backends in memory (model.h has the rest). */
int xlb_model_init(struct xlb *x);
void xlb_model_free(struct xlb *x);
/* adopt.c: rebuild the model from maps that outlived a previous xlbd, and
 * repair what an interrupted change left behind. */
int xlb_model_adopt(struct xlb *x);
/* filter.c, the only writer of xlb_addr_filter and xlb_nat_ends: add one
 * address's bit, or recompute all from the model. */
int xlb_filter_add(const struct xlb *x, const struct xlb_addr *a, __u8 family, __u32 role);
int xlb_filter_sync(const struct xlb *x);
/* xlb_nat_ends: a nat backend's replies find v, ahead of its first flow
 * (xlb_filter_sync recomputes the whole map). */
int xlb_nat_end_add(const struct xlb *x, const struct xlb_vip_entry *v,
		    const struct xlb_endpoint *ep);
/* filter.c: the mark generation (xlb_addr_filter.mark_gen). */
int xlb_mark_gen_get(const struct xlb *x, __u32 *gen);
int xlb_mark_gen_set(const struct xlb *x, __u32 gen);
/* marks.c: xlb_flow_marks, mapped after load; a mark as the datapath sets
 * it, how many cells hold a live one, and the cells a pass's end clears. */
int xlb_marks_map(struct xlb *x);
void xlb_marks_unmap(struct xlb *x);
void xlb_mark_put(const struct xlb *x, const struct xlb_flow_key *k, __u32 gen);
uint64_t xlb_marks_live(const struct xlb *x, __u32 gen);
void xlb_marks_prune(const struct xlb *x, __u32 gen);
/* counters.c: xlb_stats, mapped into memory after load. */
int xlb_stats_map(struct xlb *x);
void xlb_stats_unmap(struct xlb *x);
void xlb_stats_zero(const struct xlb *x, uint32_t slot);
void xlb_stats_retire(const struct xlb *x, uint32_t vip_id, uint32_t backend_id);
/* What the kernel charges for a map (flowtab.c). */
uint64_t xlb_map_memlock(int fd);
/* All x->max_backends slots of xlb_backends, in slot order. */
int xlb_backend_slots_read(const struct xlb *x, struct xlb_backend *slots);

/* flowtab.c: the datapath's coarse clock (bpf_ktime_get_coarse_ns() >> 20,
 * the unit of xlb_flow.udp_seen), and whether it still follows flow f to
 * the backend in slot b. */
uint32_t xlb_coarse_ms_now(void);
bool xlb_flow_followed(const struct xlb_backend *b, const struct xlb_flow_key *k,
		       const struct xlb_flow *f, uint32_t now_ms, uint32_t udp_idle_ms);

/* flowtab.c: every flow of a confirmed table (xlb_flows) or every occupied
 * slot of an unconfirmed one (xlb_flows_new) given by fd; and a pending
 * flow written from user space into the unconfirmed table of `entries`
 * slots (-ENOSPC when its set holds live flows only). */
typedef void (*xlb_flow_fn)(void *ctx, const struct xlb_flow_key *k, const struct xlb_flow *f);
int xlb_flows_walk_fd(int fd, xlb_flow_fn fn, void *ctx);
int xlb_pending_walk_fd(int fd, xlb_flow_fn fn, void *ctx);
int xlb_pending_put_fd(int fd, uint32_t entries, const struct xlb_flow_key *k,
		       const struct xlb_flow *f);

#endif /* XLB_INTERNAL_H */
