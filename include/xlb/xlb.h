/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The one header shared by the XDP datapath (bpf/) and user space (user/,
 * tests/, tools/). Every struct that crosses the kernel/user boundary lives
 * here exactly once; sizes are pinned with _Static_assert so a change that
 * alters a map layout cannot slip in unnoticed (bump XLB_LAYOUT_VERSION).
 *
 * Wire-order fields are __be16/__be32 and stay in network order everywhere.
 */
#ifndef XLB_XLB_H
#define XLB_XLB_H

#include <linux/types.h>

/* Bumped whenever a pinned map's key, value or size changes; xlbd refuses
 * to adopt pins of another version instead of failing inside libbpf. */
#define XLB_LAYOUT_VERSION 9
#define XLB_LAYOUT_MAGIC 0x786c6201u /* "xlb\1" */

/* VIPs and backend slots the datapath holds: xlbd --max-vips and
 * --max-backends, fixed when the maps are made (the loader sizes them). The
 * VIP ceiling is what a flow's 16-bit vip_id can name; the backend ceiling
 * is the size of struct xlb_backend_epochs (why it stays small: there).
 * Arrays in user space indexed by id are sized by the ceilings. */
#define XLB_VIPS_DEFAULT 1024
#define XLB_MAX_VIPS 65536
#define XLB_BACKENDS_DEFAULT 16384
#define XLB_MAX_BACKENDS 16384
/* Two table slots per VIP: the new table is written into the idle slot and
 * the VIP is pointed at it in one map update, so a packet sees the whole old
 * table or the whole new one. The old slot is only reused on the next change. */
#define XLB_TABLE_SLOTS(max_vips) (2 * (max_vips))
#define XLB_RING_DEFAULT 65537
#define XLB_RING_MIN 7
#define XLB_RING_MAX 1048573 /* largest prime below 2^20 */
#define XLB_WRR_SEQ_MAX 65536 /* longest rr/wrr turn sequence */
#define XLB_MAX_WEIGHT 65535
/* Confirmed flows (xlb_flows): one entry per connection in every mode. */
#define XLB_FLOWS_DEFAULT (1u << 20)
/* Unconfirmed flows (xlb_flows_new): connections in their handshake, and
 * whatever a flood of fresh tuples brings. A set-associative array (see
 * struct xlb_flow_slot): a flood churns it and nothing else. Sized for the
 * handshakes in flight at a peak rate; a power of two. */
#define XLB_FLOWS_NEW_DEFAULT (1u << 17)
#define XLB_FLOWS_NEW_WAYS 2
#define XLB_FLOWS_MIN 1024
#define XLB_UDP_IDLE_DEFAULT_NS (30ull * 1000000000ull)
/* Confirmed TCP flows idle this long are removed by xlbd's sweep (IPVS's
 * established timeout). */
#define XLB_TCP_IDLE_DEFAULT_S 900
/* A closed (RST, FIN) confirmed flow keeps its entry this long. */
#define XLB_CLOSING_GRACE_S 10
/* Per-CPU cache of next hops towards clients (nat replies), by address:
 * xlbd --nexthop-cache, a power of two (the slot is a masked hash). */
#define XLB_CLIENT_NH_DEFAULT 4096
#define XLB_CLIENT_NH_MAX (1u << 20)
/* A backend address:port may serve this many nat VIPs. With one, its
 * replies are rewritten without a flow lookup; with more, the flow tables
 * tell which VIP the client talked to (up to two lookups per VIP). Not an
 * option: it is an array bound inside a map value, so the pinned layout and
 * the verifier's loop bound depend on it; past it, serve the extra VIPs from
 * another port of the backend (libxlb's error says so). */
#define XLB_NAT_END_VIPS 16
#define XLB_IPV6_EXT_MAX 4 /* extension headers walked before giving up */
/* The address filter: one bit per hashed address, set for every VIP address
 * and every nat-mode backend address. A packet whose destination is not a
 * VIP candidate and whose source is not a backend candidate cannot be ours,
 * so foreign traffic leaves after one array read instead of two hash misses.
 * False positives only cost the usual lookups. */
#define XLB_ADDR_FILTER_WORDS 1024 /* 65536 bits, 8 KiB */

/* Address family as stored in maps (not AF_*: keeps the header libc-free). */
enum xlb_family {
	XLB_FAMILY_NONE = 0,
	XLB_FAMILY_V4 = 4,
	XLB_FAMILY_V6 = 6,
};

enum xlb_sched {
	XLB_SCHED_MAGLEV = 0,
	XLB_SCHED_RR = 1,
	XLB_SCHED_WRR = 2,
	XLB_SCHED_SRCHASH = 3,
	XLB_SCHED_MAX,
};

enum xlb_mode {
	XLB_MODE_NAT = 0,
	XLB_MODE_DSR = 1,
	XLB_MODE_TUNNEL = 2,
	XLB_MODE_MAX,
};

/* Tunnel mode's encapsulation. GUE is variant 1 (RFC draft-ietf-intarea-gue):
 * the inner IP packet follows the UDP header directly. */
enum xlb_encap {
	XLB_ENCAP_IPIP = 0,
	XLB_ENCAP_GUE = 1,
	XLB_ENCAP_MAX,
};
#define XLB_GUE_PORT_DEFAULT 6080
#define XLB_TUNNEL_TTL 64 /* outer TTL / hop limit */
/* Outer GUE source ports come from the flow hash, in this range, so a
 * backend's RSS spreads flows over its queues while each flow stays put. */
#define XLB_GUE_SPORT_MIN 32768
#define XLB_GUE_SPORT_SPAN 16384

/* An IPv4 address occupies v4 (first word), the rest stays zero. */
struct xlb_addr {
	union {
		__be32 v4;
		__be32 v6[4];
		__u8 bytes[16];
	};
};

/* VIP hash key. Zero the whole key before filling it: lookups compare bytes.
 * With port and proto 0 it also keys xlb_vip_addrs (an address with a VIP). */
struct xlb_vip_key {
	struct xlb_addr addr;
	__be16 port;
	__u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 family; /* enum xlb_family */
};

struct xlb_vip {
	__u32 id; /* index into the per-VIP arrays */
	__u32 table_slot; /* index into xlb_tables holding the live table */
	__u32 table_size; /* entries in that table (0: no usable backend) */
	__u32 ring_size; /* configured Maglev size (control plane only) */
	__u8 sched; /* enum xlb_sched */
	__u8 mode; /* enum xlb_mode */
	__u16 flags; /* reserved, zero */
	__u8 encap; /* tunnel mode: enum xlb_encap */
	__u8 reserved;
	__be16 gue_port; /* tunnel mode with GUE: outer UDP destination port */
};

/* Backend flags. A flow stays on its backend while the backend is IN_USE
 * and not DOWN; DRAIN only keeps the backend out of the table for new flows. */
#define XLB_BACKEND_F_IN_USE (1u << 0)
#define XLB_BACKEND_F_DRAIN (1u << 1)
#define XLB_BACKEND_F_DOWN (1u << 2)

/* A next hop as bpf_fib_lookup() found it, cached in the flow entry so an
 * established packet needs no FIB lookup. ifindex 0: not resolved yet. The
 * control plane invalidates every cached next hop at once by bumping
 * xlb_addr_filter.nexthop_gen (xlbd does so every second and on route or
 * neighbour changes), which costs the datapath no extra memory access. */
struct xlb_nexthop {
	__u32 ifindex;
	__u8 dmac[6];
	__u8 smac[6];
	__u16 mtu; /* tunnel mode: largest outer packet the path took */
	__u16 reserved;
	__u32 gen; /* xlb_addr_filter.nexthop_gen when looked up; stale once it moves */
};

/* The datapath's next hop towards a backend (and, in tunnel mode, the outer
 * source the FIB chose), kept in the backend's own entry: a new flow reads
 * the entry anyway, so the cache costs it no page of its own. Written by
 * the datapath only when stale, data first and generations last; libxlb
 * clears it with every write of the entry. Valid while the next-hop
 * generation and the slot's generation are the ones it was looked up for.
 * CPUs refreshing it at once write what the same FIB told them. */
struct xlb_backend_nh {
	struct xlb_nexthop nh;
	__u32 backend_gen;
	__u32 pad;
	struct xlb_addr tunnel_src;
};

struct xlb_backend {
	struct xlb_addr addr;
	__be16 port; /* wire order; NAT rewrites to it */
	__u8 family;
	__u8 flags; /* XLB_BACKEND_F_* */
	__u16 vip_id;
	/* The epoch this write gives the slot (xlb_backend_epochs moves to it
	 * right after): a new flow takes it from here, one page fewer than
	 * reading the epochs too, and entry and epoch always agree. */
	__u8 epoch;
	__u8 reserved;
	__u32 gen; /* bumped on every reuse of the slot; flows carry it */
	__u32 weight; /* for the control plane (tables are built from it) */
	struct xlb_backend_nh route; /* the datapath's; see above */
};

/* The 5-tuple as it appears in a packet: src/dst exactly as on the wire.
 * A forward entry is keyed client->VIP; a NAT reverse entry backend->client,
 * which is precisely the tuple of the reply, so replies cost one lookup. */
struct xlb_flow_key {
	struct xlb_addr src;
	struct xlb_addr dst;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 family;
	__u8 pad[2];
};

/*
 * Flow entry flags. A flow is first "unconfirmed" (in xlb_flows_new, a cache
 * that floods churn) and is copied into xlb_flows once confirmed: a TCP
 * handshake completed (nat: the client's ACK after the backend's SYN-ACK;
 * dsr and tunnel, which never see replies: a client packet after the SYN),
 * or a second packet of a UDP flow or of a flow picked up mid-stream.
 */
#define XLB_FLOW_F_SYN (1u << 0) /* made by a SYN (else picked up mid-stream) */
#define XLB_FLOW_F_REPLY_SEEN (1u << 1) /* nat: the backend's SYN-ACK went through */
#define XLB_FLOW_F_CONFIRMED (1u << 2) /* copied into xlb_flows; this copy ages out */
#define XLB_FLOW_F_CLOSING (1u << 3) /* the client sent FIN: moved back out of xlb_flows */

/* One connection, keyed by its client->VIP tuple. nat replies need no
 * entry of their own: xlb_nat_ends names the VIP a backend's replies go
 * back to. */
struct xlb_flow {
	__u16 backend_id;
	__u16 vip_id;
	__u32 backend_gen;
	__u32 udp_seen; /* UDP idle expiry: bpf_ktime_get_coarse_ns() >> 20 (~ms) */
	__u32 tick; /* xlb_addr_filter.clock when last seen: xlbd's idle sweep */
	union {
		struct xlb_addr backend_addr; /* nat and dsr: the backend's */
		struct xlb_addr tunnel_src; /* tunnel mode: outer source */
	};
	union {
		__be16 backend_port; /* nat and dsr: the backend's */
		__be16 gue_port; /* tunnel mode: GUE port, 0 for IP-in-IP */
	};
	__u8 mode; /* enum xlb_mode, copied from the VIP at schedule time */
	__u8 backend_epoch; /* the backend's epoch when last checked */
	__u32 flags; /* XLB_FLOW_F_*, set with atomic OR (reply and forward CPUs) */
	struct xlb_nexthop nh; /* towards the backend */
};

/*
 * One slot of xlb_flows_new, an array of sets of XLB_FLOWS_NEW_WAYS slots:
 * a flow lives in set xlb_hash_flow(key) & (sets - 1), in whichever way the
 * insert found free, already its own, or least recently written. Unlike an
 * LRU hash, an insert takes no lock and toggles no interrupts, and a lookup
 * touches one set. A writer takes seq from even to odd (one compare-and-
 * swap) while it rewrites a slot, so a reader on another CPU that copies a
 * slot can tell a torn copy.
 *
 * One cache line, a set two: the slot keeps what a flow's next packets
 * need that its backend's entry does not hold; the backend's address and
 * port (and, per CPU, its next hop) are read from its entry when the slot
 * is (xlb_flow_slot_unpack has the rest).
 */
struct xlb_flow_slot {
	__u32 seq; /* odd while being rewritten */
	__u16 backend_id;
	__u16 vip_id;
	struct xlb_flow_key key; /* an empty slot has key.family 0 */
	__u32 backend_gen;
	__u32 udp_seen;
	union {
		__u32 flags_word; /* flags (its low byte) are set with atomic OR */
		struct {
			__u8 flags; /* XLB_FLOW_F_* */
			__u8 mode;
			__u8 backend_epoch;
			__u8 set_mru; /* way 0 only: the way the set last wrote */
		};
	};
	__be16 gue_port; /* tunnel mode */
	__u16 reserved;
};

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "xlb_flow_slot.flags_word: flags must be its low byte"
#endif

/* A flow into a slot's fields (the caller owns the slot: seq odd, or a
 * copy), and back: an unpacked flow lacks what the backend's entry holds
 * (address, port, next hop, tunnel source); the reader fills that in. */
static inline void xlb_flow_slot_pack(struct xlb_flow_slot *s, const struct xlb_flow_key *k,
				      const struct xlb_flow *f)
{
	s->key = *k;
	s->backend_id = f->backend_id;
	s->vip_id = f->vip_id;
	s->backend_gen = f->backend_gen;
	s->udp_seen = f->udp_seen;
	s->flags = (__u8)f->flags;
	s->mode = f->mode;
	s->backend_epoch = f->backend_epoch;
	s->gue_port = f->mode == XLB_MODE_TUNNEL ? f->gue_port : 0;
}

static inline void xlb_flow_slot_unpack(const struct xlb_flow_slot *s, struct xlb_flow *f)
{
	f->backend_id = s->backend_id;
	f->vip_id = s->vip_id;
	f->backend_gen = s->backend_gen;
	f->udp_seen = s->udp_seen;
	f->flags = s->flags;
	f->mode = s->mode;
	f->backend_epoch = s->backend_epoch;
	f->gue_port = s->gue_port;
}

/* xlb_nat_ends: a nat backend's address:port (keyed like a VIP) -> the
 * VIPs it serves, so its replies are rewritten without a flow lookup. With
 * one VIP (the usual case) the reply is stateless; with more, the flow
 * table tells which VIP the client talked to. */
struct xlb_nat_end_vip {
	struct xlb_addr addr;
	__be16 port;
	__u16 reserved;
};

struct xlb_nat_end {
	__u32 n_vips;
	__u32 reserved;
	struct xlb_nat_end_vip vips[XLB_NAT_END_VIPS];
};

/*
 * One byte per backend slot that libxlb moves on every write of the slot
 * (added, removed, weight, drain, down). A nat or dsr flow remembers the
 * epoch it last checked its backend at and carries the backend's address
 * and port, so while the epoch stands an established packet reads neither
 * the backend's entry nor anything else per backend. A SYN, or a moved
 * epoch, reads the entry and decides as before. The bytes live in one small
 * value that the kernel allocates from its direct map (cheap to reach even
 * with a cold TLB), unlike the 512 KiB of xlb_backends. An epoch wraps
 * after 256 writes of one slot: a flow idle across exactly that many
 * changes of its backend would go on to the address it cached.
 */
struct xlb_backend_epochs {
	__u8 epoch[XLB_MAX_BACKENDS];
};

struct xlb_counters {
	__u64 packets;
	__u64 bytes;
};

/*
 * Counters of packets by reason (enum xlb_reason) live in xlb_reasons, a
 * block of XLB_STATS_REASONS 64-bit words per CPU id: CPU c's count of
 * reason r is entry XLB_REASON_KEY(c, r). A small array (a few KiB) is
 * allocated in the kernel's directly mapped memory, where a packet that
 * only counts a reason (one xlb passes on) finds it without a TLB miss;
 * the big xlb_stats, mapped into user space, always sits in vmalloc space.
 *
 * Traffic counters live in one array (xlb_stats) holding a block of
 * XLB_STATS_STRIDE slots per CPU: CPU c's slot s is entry XLB_STATS_KEY(c, s),
 * and only CPU c writes it, so no atomics are needed. A plain array rather
 * than a per-CPU map: a per-CPU lookup first reads the value's address from
 * a pointer table, one more page (and cache miss) per counter per packet.
 * Backend b sits at XLB_STATS_BACKEND(b): the first 256 backends share a
 * CPU's first page. The datapath never writes the VIP slots: they hold what the VIP's deleted
 * backends carried, and a VIP's total is that plus its live backends'
 * counters (libxlb adds them up). They sit after every CPU's block, so the
 * block the datapath indexes has a size fixed at build time (the backend
 * ceiling): a block size read at run time would cost a packet one more
 * page (the .rodata map's). libxlb sizes the array to the machine's CPU
 * ids and --max-vips before load and reads it through mmap.
 */
#define XLB_STATS_REASONS 64
#define XLB_REASON_KEY(cpu, r) ((cpu) * XLB_STATS_REASONS + (r))
#define XLB_REASON_ENTRIES(cpus) ((cpus) * XLB_STATS_REASONS)
#define XLB_STATS_BACKEND(b) (b)
#define XLB_STATS_STRIDE XLB_MAX_BACKENDS
#define XLB_STATS_KEY(cpu, slot) ((cpu) * XLB_STATS_STRIDE + (slot))
/* VIP v's slot as libxlb names it; its entry follows the CPU blocks. */
#define XLB_STATS_VIP(v) (XLB_STATS_STRIDE + (v))
#define XLB_STATS_VIP_KEY(cpus, max_vips, cpu, v)                              \
	((cpus) * XLB_STATS_STRIDE + (cpu) * (max_vips) + (v))
#define XLB_STATS_ENTRIES(cpus, max_vips) ((cpus) * (XLB_STATS_STRIDE + (max_vips)))

/* Per-VIP state that must be shared across CPUs (not per-CPU). */
struct xlb_vip_state {
	__u64 rr_next; /* next turn for rr/wrr, advanced atomically */
};

enum xlb_filter_role {
	XLB_FILTER_VIP = 1, /* matched against the destination */
	XLB_FILTER_NAT_BACKEND = 2, /* matched against the source (NAT replies) */
};

struct xlb_addr_filter {
	__u32 nexthop_gen; /* see struct xlb_nexthop */
	__u32 clock; /* xlbd's monotonic seconds, written every second: flow ages */
	__u32 mark_gen; /* see xlb_flow_marks; 0: marks not kept, look every SYN up */
	__u32 reserved;
	__u64 words[XLB_ADDR_FILTER_WORDS];
};

/*
 * xlb_flow_marks: a filter saying which tuples a confirmed flow may hold, so
 * a SYN, a new connection almost always, skips the confirmed table's lookup
 * when no mark matches it. The map is an array of __u64 words of four 16-bit
 * cells; a flow's cell is in word xlb_hash_flow(key) & mask and holds a
 * 12-bit fingerprint of that hash and the 4-bit mark generation
 * (xlb_addr_filter.mark_gen) the cell was last set in. A SYN looks up when a
 * live cell of its word carries its fingerprint, or XLB_FLOW_MARK_ANY: a
 * word too full for one more fingerprint gives a cell to every flow of the
 * word, so no flow is ever left unmarked.
 *
 * The datapath sets a cell when it confirms a flow, libxlb when it writes
 * one, and xlbd's idle sweep for every flow it walks past; at the end of
 * each full pass the sweep moves the generation on. A cell counts while it
 * is the current generation or the one before, so a mark lives until a
 * whole pass has not seen its flow, and a live flow is never missed: it was
 * marked when made or by the last complete pass. Marks of removed flows are
 * only stale (one lookup too many) until the pass's end clears them (libxlb
 * xlb_marks_prune), and stale cells are taken again by new flows.
 *
 * A word per confirmed entry (four cells) keeps a full table's words at one
 * flow each on average: about one SYN in 200 looks up a full table (a word
 * with more than four live flows, or a fingerprint shared), where one byte
 * cell per hash and four per flow made it one in five.
 */
#define XLB_FLOW_MARKS_PER_FLOW 4 /* cells per confirmed entry */
#define XLB_FLOW_MARKS_PER_WORD 4 /* the map's values are __u64 words of cells */
#define XLB_FLOW_MARK_ANY 0 /* a cell's fingerprint standing for every flow of its word */
#define XLB_FLOW_MARK_GENS 15 /* generations run 1..15 (0: never marked) */

static inline __u32 xlb_flow_marks_cells(__u32 flow_entries)
{
	__u32 cells = XLB_FLOW_MARKS_PER_WORD;

	while (cells < (__u64)flow_entries * XLB_FLOW_MARKS_PER_FLOW && cells < (1u << 31))
		cells <<= 1;
	return cells;
}

/* The generation after gen, in 1..XLB_FLOW_MARK_GENS. */
static inline __u32 xlb_flow_mark_next(__u32 gen)
{
	return gen >= XLB_FLOW_MARK_GENS ? 1 : gen + 1;
}

/* Whether a cell generation g may stand for a confirmed flow in generation
 * gen: it was marked in gen or in the one before. */
static inline int xlb_flow_mark_live(__u32 g, __u32 gen)
{
	return g && (g == gen || xlb_flow_mark_next(g) == gen);
}

/* A hash's fingerprint, 1..4095: its bits mixed, so flows of one word (the
 * same low bits) differ here. */
static inline __u32 xlb_flow_mark_fp(__u32 hash)
{
	__u32 fp = (hash * 0x9e3779b1u) >> 20;

	return fp ? fp : 1;
}

static inline __u32 xlb_flow_mark_cell(__u64 word, __u32 i)
{
	return (__u32)(word >> (16 * i)) & 0xffff;
}

static inline __u32 xlb_flow_mark_cell_fp(__u32 cell)
{
	return cell >> 4;
}

static inline __u32 xlb_flow_mark_cell_gen(__u32 cell)
{
	return cell & 0xf;
}

/* Bit 15 of each 16-bit lane of v that is 0, for lanes under 0x8000: a
 * lane-wise test without branches (no carry crosses a lane). */
static inline __u64 xlb_flow_mark_zero_lanes(__u64 v)
{
	const __u64 low = 0x7fff7fff7fff7fffull;

	return ~(((v & low) + low) | v) & ~low;
}

/* Whether word holds a live cell for fingerprint fp in generation gen:
 * four cells at once, without a branch the verifier would walk apart. */
static inline int xlb_flow_mark_hit(__u64 word, __u32 fp, __u32 gen)
{
	const __u64 lanes = 0x0001000100010001ull;
	__u64 gens = word & (0xf * lanes), fps = (word >> 4) & (0xfff * lanes);
	__u64 prev = gen == 1 ? XLB_FLOW_MARK_GENS : gen - 1;
	__u64 live = xlb_flow_mark_zero_lanes(gens ^ (gen * lanes)) |
		     xlb_flow_mark_zero_lanes(gens ^ (prev * lanes));
	__u64 match = xlb_flow_mark_zero_lanes(fps ^ (fp * lanes)) |
		      xlb_flow_mark_zero_lanes(fps ^ (XLB_FLOW_MARK_ANY * lanes));

	return (live & match) != 0;
}

/* The word with fp marked in generation gen: in fp's own cell, else in one
 * no longer live, else in the word's XLB_FLOW_MARK_ANY cell; a word of four
 * live fingerprints turns its first cell into XLB_FLOW_MARK_ANY, which
 * stands for the flow it held too. */
static inline __u64 xlb_flow_mark_set(__u64 word, __u32 fp, __u32 gen)
{
	const __u32 none = XLB_FLOW_MARKS_PER_WORD;
	__u32 i, c, own = none, free = none, any = none;

	for (i = 0; i < XLB_FLOW_MARKS_PER_WORD; i++) {
		c = xlb_flow_mark_cell(word, i);
		if (xlb_flow_mark_cell_fp(c) == fp && xlb_flow_mark_cell_gen(c))
			own = i;
		else if (!xlb_flow_mark_live(xlb_flow_mark_cell_gen(c), gen))
			free = free < none ? free : i;
		else if (xlb_flow_mark_cell_fp(c) == XLB_FLOW_MARK_ANY)
			any = i;
	}
	if (own < none)
		i = own;
	else if (free < none)
		i = free;
	else if (any < none)
		i = any;
	else
		i = 0;
	if (i == any || (own == none && free == none))
		fp = XLB_FLOW_MARK_ANY;
	word &= ~(0xffffull << (16 * i));
	return word | (__u64)((fp << 4) | (gen & 0xf)) << (16 * i);
}

/* A word whose every cell stands for every flow: what a writer that lost
 * two races for a word stores instead (no flow of the word goes unmarked). */
static inline __u64 xlb_flow_mark_all(__u32 gen)
{
	__u64 c = (XLB_FLOW_MARK_ANY << 4) | (gen & 0xf);

	return c | c << 16 | c << 32 | c << 48;
}

/*
 * The ICMP errors the datapath originates (time exceeded, fragmentation
 * needed, packet too big) are limited per CPU, as a router must (RFC 1812
 * 4.3.2.8): a token bucket of `burst` messages refilled at `rate` a second
 * (Linux's icmp_msgs_per_sec and icmp_msgs_burst defaults). The bucket holds
 * time: every message costs 1 s / rate of credit, earned as time passes
 * (bpf_ktime_get_ns), up to burst messages' worth. One per CPU
 * (xlb_icmp_bucket, a per-CPU array, not pinned: a new datapath starts full).
 */
#define XLB_ICMP_RATE_DEFAULT 1000
#define XLB_ICMP_BURST_DEFAULT 50

struct xlb_icmp_bucket {
	__u64 credit_ns; /* time credit left after the last message */
	__u64 last_ns; /* bpf_ktime_get_ns() when the credit was last brought up to date */
};

/* Written by xlbd at first load; checked when pins are adopted. */
struct xlb_meta {
	__u32 magic;
	__u32 layout_version;
	__u32 flow_entries;
	__u32 new_flow_entries;
};

/*
 * Why a packet was passed, dropped or sent. One per-CPU counter each.
 * The rule for every odd packet lives here, next to its counter.
 */
enum xlb_reason {
	XLB_R_TX = 0, /* rewritten, XDP_TX */
	XLB_R_REDIRECT, /* rewritten, redirected to another interface */
	XLB_R_PASS_NOT_IP, /* ARP, LLDP, other ethertypes, double VLAN tags */
	XLB_R_PASS_NOT_VIP, /* IP traffic with no VIP and no NAT entry */
	XLB_R_PASS_MALFORMED, /* headers truncated or inconsistent: the kernel validates and drops */
	XLB_R_PASS_FRAGMENT, /* fragment not addressed to a VIP address */
	XLB_R_PASS_IPV6_EXT, /* IPv6 ext header chain longer than XLB_IPV6_EXT_MAX or unknown */
	XLB_R_PASS_NO_NEIGH, /* next hop has no neighbour entry yet: kernel resolves it */
	XLB_R_PASS_TTL, /* TTL/hop limit would expire: kernel sends the ICMP error */
	XLB_R_PASS_FIB_OTHER, /* FIB says local/blackhole/unreachable: kernel decides */
	XLB_R_PASS_ICMP, /* ICMP/ICMPv6 (not yet tied to VIP flows) */
	XLB_R_DROP_NO_BACKEND, /* VIP has no usable backend */
	XLB_R_DROP_MALFORMED, /* addressed to a VIP address but L4 truncated/invalid */
	XLB_R_DROP_FRAGMENT, /* fragment addressed to a VIP address */
	XLB_R_DROP_UDP6_ZERO_CSUM, /* IPv6 UDP with checksum 0 is invalid (RFC 8200) */
	XLB_R_DROP_FAMILY, /* backend family cannot carry this VIP's packets */
	XLB_R_DROP_ENCAP_FAILED, /* reserved for tunnel mode */
	XLB_R_NEW_FLOW, /* informational: flows scheduled */
	XLB_R_RESCHEDULED, /* informational: flows whose backend went away */
	XLB_R_NAT_REPLY, /* informational: replies rewritten back to the VIP */
	XLB_R_FLOW_INSERT_FAILED, /* informational: flow table insert failed */
	XLB_R_TX_ICMP_TOO_BIG, /* tunnel: packet + encap > MTU: ICMP frag-needed/PTB sent back */
	XLB_R_DROP_TOO_BIG, /* tunnel: IPv4 without DF does not fit: dropped (XDP cannot fragment) */
	XLB_R_TX_ICMP_ECHO, /* echo request to a VIP address answered by xlb */
	XLB_R_ICMP_TO_BACKEND, /* informational: ICMP error quoting a VIP flow sent to its backend */
	XLB_R_FLOW_CONFIRMED, /* informational: flows moved into the confirmed table */
	XLB_R_FLOW_CLOSED, /* informational: confirmed flows closed by RST or FIN */
	XLB_R_FLOW_TABLE_FULL, /* informational: confirmed table full, flow stays unconfirmed */
	XLB_R_PASS_NAT_REPLY_UNKNOWN, /* from a backend of several nat VIPs, no flow says which */
	XLB_R_DROP_IP_CSUM, /* to a VIP address: IPv4 header checksum wrong (RFC 1812 5.2.2) */
	XLB_R_DROP_L2_BCAST, /* to a VIP address in a link-layer broadcast/multicast frame (RFC 1812 5.3.4) */
	XLB_R_TX_ICMP_TIME_EXCEEDED, /* to a VIP address with TTL/hop limit <= 1: time exceeded sent back */
	XLB_R_DROP_ICMP_RATELIMITED, /* an ICMP error xlb would send, over this CPU's rate: packet dropped */
	XLB_R_FLOW_EVICTED, /* informational: an unconfirmed flow gave its slot to a newer one */
	XLB_R_MAX,
};

/* Counted besides the packet's verdict: they say what happened on the way. */
static inline int xlb_reason_is_info(int r)
{
	return r == XLB_R_NEW_FLOW || r == XLB_R_RESCHEDULED || r == XLB_R_NAT_REPLY ||
	       r == XLB_R_FLOW_INSERT_FAILED || r == XLB_R_ICMP_TO_BACKEND ||
	       r == XLB_R_FLOW_CONFIRMED || r == XLB_R_FLOW_CLOSED || r == XLB_R_FLOW_TABLE_FULL ||
	       r == XLB_R_FLOW_EVICTED;
}

/* Names as shown by xlbctl stats; indexed by enum xlb_reason. */
#define XLB_REASON_NAMES                                                       \
	{                                                                      \
		"tx", "redirect", "pass_not_ip", "pass_not_vip",               \
			"pass_malformed", "pass_fragment", "pass_ipv6_ext",    \
			"pass_no_neigh", "pass_ttl", "pass_fib_other",         \
			"pass_icmp", "drop_no_backend", "drop_malformed",      \
			"drop_fragment", "drop_udp6_zero_csum", "drop_family", \
			"drop_encap_failed", "new_flow", "rescheduled",        \
			"nat_reply", "flow_insert_failed", "tx_icmp_too_big",  \
			"drop_too_big", "tx_icmp_echo", "icmp_to_backend",    \
			"flow_confirmed", "flow_closed", "flow_table_full",    \
			"pass_nat_reply_unknown", "drop_ip_csum",              \
			"drop_l2_bcast", "tx_icmp_time_exceeded",              \
			"drop_icmp_ratelimited", "flow_evicted"                \
	}

/* Map names as pinned under the pin root (bpffs). */
#define XLB_MAP_VIPS "xlb_vips"
#define XLB_MAP_BACKENDS "xlb_backends"
#define XLB_MAP_FLOWS "xlb_flows"
#define XLB_MAP_FLOWS_NEW "xlb_flows_new"
#define XLB_MAP_FLOW_MARKS "xlb_flow_marks"
#define XLB_MAP_NAT_ENDS "xlb_nat_ends"
#define XLB_MAP_TABLES "xlb_tables"
#define XLB_MAP_VIP_STATE "xlb_vip_state"
#define XLB_MAP_STATS "xlb_stats"
#define XLB_MAP_REASONS "xlb_reasons"
#define XLB_MAP_VIP_ADDRS "xlb_vip_addrs"
#define XLB_MAP_META "xlb_meta"
#define XLB_MAP_ADDR_FILTER "xlb_addr_filter"
#define XLB_MAP_BACKEND_EPOCHS "xlb_backend_epochs"
#define XLB_MAP_ICMP_BUCKET "xlb_icmp_bucket"

/* ---- backend side: bpf/decap.bpf.c ---------------------------------- */

#define XLB_MAP_DECAP_VIPS "xlb_decap_vips"
#define XLB_MAP_DECAP_CONFIG "xlb_decap_cfg"
#define XLB_MAP_DECAP_STATS "xlb_decap_stats"
#define XLB_DECAP_MAX_VIPS 256

struct xlb_decap_config {
	__be16 gue_port; /* 0: GUE not accepted */
	__u16 reserved;
};

enum xlb_decap_reason {
	XLB_DECAP_IPIP = 0, /* IP-in-IP to a served VIP, decapsulated */
	XLB_DECAP_GUE, /* GUE to a served VIP, decapsulated */
	XLB_DECAP_PASS_OTHER, /* not a tunnel packet: untouched */
	XLB_DECAP_PASS_NOT_OURS, /* a tunnel packet for an address we do not serve */
	XLB_DECAP_PASS_MALFORMED, /* truncated or inconsistent: the kernel decides */
	XLB_DECAP_MAX,
};

#define XLB_DECAP_REASON_NAMES \
	{ "ipip", "gue", "pass_other", "pass_not_ours", "pass_malformed" }

_Static_assert(sizeof(struct xlb_decap_config) == 4, "xlb_decap_config layout");

/*
 * Flow hash for the schedulers. Shared so user space can predict a packet's
 * backend (tests, `xlbctl` explain) and every node computes the same value:
 * Maglev is only consistent across nodes if the hash is.
 * A murmur3-style finaliser over the tuple words: cheap, branch-free, and
 * well mixed in the low bits that the table modulo uses.
 */
#define XLB_HASH_SEED 0x9e3779b9u

static inline __u32 xlb_hash_mix(__u32 h, __u32 k)
{
	k *= 0xcc9e2d51u;
	k = (k << 15) | (k >> 17);
	k *= 0x1b873593u;
	h ^= k;
	h = (h << 13) | (h >> 19);
	return h * 5 + 0xe6546b64u;
}

static inline __u32 xlb_hash_final(__u32 h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

static inline __u32 xlb_hash_addr(__u32 h, const struct xlb_addr *a)
{
	h = xlb_hash_mix(h, a->v6[0]);
	h = xlb_hash_mix(h, a->v6[1]);
	h = xlb_hash_mix(h, a->v6[2]);
	return xlb_hash_mix(h, a->v6[3]);
}

/* maglev: the whole 5-tuple. Ports enter as one wire-order word. */
static inline __u32 xlb_hash_flow(const struct xlb_flow_key *k)
{
	__u32 h = XLB_HASH_SEED;

	h = xlb_hash_addr(h, &k->src);
	h = xlb_hash_addr(h, &k->dst);
	h = xlb_hash_mix(h, ((__u32)k->sport << 16) | k->dport);
	h = xlb_hash_mix(h, k->proto);
	return xlb_hash_final(h);
}

/* srchash: the client address only, so a client keeps its backend. */
static inline __u32 xlb_hash_src(const struct xlb_flow_key *k)
{
	return xlb_hash_final(xlb_hash_addr(XLB_HASH_SEED, &k->src));
}

/* Which bit of the address filter an address sets for a role. */
static inline __u32 xlb_filter_bit(const struct xlb_addr *a, __u8 family, __u32 role)
{
	__u32 h = a->v6[0] * 0x9e3779b1u;

	h ^= a->v6[1] * 0x85ebca77u;
	h ^= a->v6[2] * 0xc2b2ae3du;
	h ^= a->v6[3] * 0x27d4eb2fu;
	h ^= ((__u32)family << 8 | role) * 0x165667b1u;
	h ^= h >> 15;
	h *= 0x2c1b3c6du;
	h ^= h >> 12;
	return h & (XLB_ADDR_FILTER_WORDS * 64 - 1);
}

/* Where way `way` of a flow's set sits in xlb_flows_new (set_mask: sets - 1). */
static inline __u32 xlb_flow_slot_index(__u32 hash, __u32 set_mask, __u32 way)
{
	return (hash & set_mask) * XLB_FLOWS_NEW_WAYS + way;
}

/* A slot holding an unconfirmed flow that is still pending: not empty, not
 * already copied into the confirmed table, not closing. Anything else an
 * insert may take. */
static inline int xlb_flow_slot_live(const struct xlb_flow_slot *s)
{
	return s->key.family && !(s->flags & (XLB_FLOW_F_CONFIRMED | XLB_FLOW_F_CLOSING));
}

_Static_assert(sizeof(struct xlb_addr) == 16, "xlb_addr layout");
_Static_assert(sizeof(struct xlb_vip_key) == 20, "xlb_vip_key layout");
_Static_assert(sizeof(struct xlb_vip) == 24, "xlb_vip layout");
_Static_assert(sizeof(struct xlb_backend) == 80, "xlb_backend layout");
_Static_assert(sizeof(struct xlb_backend_nh) == 48, "xlb_backend_nh layout");
_Static_assert(sizeof(struct xlb_flow_key) == 40, "xlb_flow_key layout");
_Static_assert(sizeof(struct xlb_nexthop) == 24, "xlb_nexthop layout");
_Static_assert(sizeof(struct xlb_flow) == 64, "xlb_flow layout");
_Static_assert(sizeof(struct xlb_flow_slot) == 64, "xlb_flow_slot layout: one cache line");
_Static_assert(XLB_FLOW_F_CLOSING < 256, "flow flags fit xlb_flow_slot.flags");
_Static_assert(XLB_VIPS_DEFAULT <= XLB_MAX_VIPS && XLB_BACKENDS_DEFAULT <= XLB_MAX_BACKENDS,
	       "defaults within the ceilings");
_Static_assert(XLB_MAX_VIPS <= 65536, "VIP ids fit xlb_flow.vip_id");
_Static_assert(XLB_MAX_BACKENDS <= 65536, "backend ids fit xlb_flow.backend_id");
_Static_assert(sizeof(struct xlb_nat_end) == 8 + 20 * XLB_NAT_END_VIPS, "xlb_nat_end layout");
_Static_assert(sizeof(struct xlb_counters) == 16, "xlb_counters layout");
_Static_assert(XLB_R_MAX <= XLB_STATS_REASONS, "reasons fit their stats slots");
_Static_assert(sizeof(struct xlb_meta) == 16, "xlb_meta layout");
_Static_assert(sizeof(struct xlb_icmp_bucket) == 16, "xlb_icmp_bucket layout");
_Static_assert(sizeof(struct xlb_addr_filter) == 16 + 8 * XLB_ADDR_FILTER_WORDS, "filter layout");

#endif /* XLB_XLB_H */
