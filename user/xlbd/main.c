// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * xlbd: the xlb daemon. Loads and attaches the datapath, applies the
 * configuration, serves the control socket, runs the health probes.
 *
 * Which configuration applies at start (the persistence rule):
 *   1. the state file (--state, default /var/lib/xlb/state.conf) if it
 *      exists: it holds the running configuration as of the last change,
 *      including every change made live with xlbctl; -c is then ignored;
 *   2. otherwise the -c file (default /etc/xlb/xlb.conf; a missing default
 *      file is no error, a missing explicit one is);
 *   3. otherwise whatever the pinned datapath holds (nothing on a first
 *      start).
 * The chosen file is checked completely before the datapath is touched; one
 * bad line refuses the start ("FILE:LINE: reason") and nothing is applied.
 * The datapath adopted from the pins is then converged to it, which on a
 * restart changes nothing and keeps every flow. To start over from the -c
 * file: stop xlbd, remove the state file, start xlbd.
 *
 * Stopping (SIGTERM, SIGINT) leaves the datapath attached and pinned: traffic
 * keeps flowing and the next xlbd adopts it. `xlbd --detach` removes it.
 * The VIP routes of scale-out (announce.c) follow the datapath: they stay
 * while xlbd is stopped and go with --detach.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "linkwatch.h"
#include "log.h"
#include "metrics.h"
#include "persist.h"
#include "proto.h"
#include "stmt.h"
#include "xlbd.h"

#define CONFIG_DEFAULT "/etc/xlb/xlb.conf"
#define MAX_IFACES 64
/* Long options without a short form. */
#define ROUTE_TABLE_OPT 0x100
#define MAX_VIPS_OPT 0x110
#define MAX_BACKENDS_OPT 0x111
#define NEXTHOP_CACHE_OPT 0x112
#define ROUTE_PROTO_OPT 0x101
#define ICMP_RATE_OPT 0x102
#define ICMP_BURST_OPT 0x103

/* -v: xlbd's debug lines; -vv: libbpf's too. */
static int verbosity;

struct opts {
	const char *ifaces[MAX_IFACES];
	size_t n_ifaces;
	const char *config;
	bool config_given;
	enum xlb_xdp_mode mode;
	const char *socket;
	const char *pin_root;
	const char *state;
	bool detach;
	bool metrics; /* --metrics given: serve metrics_addr */
	struct metrics_addr metrics_addr;
	struct xlb_open_opts flows; /* the flow tables' sizes and timeouts, the ICMP limit */
	uint32_t flood_rate;
	uint32_t route_table; /* 0: no VIP routes */
	uint32_t route_proto;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xlbd -i IFACE[,IFACE...] [-c FILE] [--xdp-mode native|generic]\n"
		"            [--socket PATH] [--pin-root PATH] [--state PATH]\n"
		"            [--metrics [ADDR:]PORT] [--route-table N] [--route-proto N]\n"
		"            [--icmp-rate N] [--icmp-burst N] [-v]\n"
		"       xlbd --detach [--pin-root PATH] [--socket PATH] [--route-table N]\n"
		"            [--route-proto N]\n"
		"\n"
		"  -i, --interface IFACES  attach the balancer to these interfaces\n"
		"  -c, --config FILE       statements applied when there is no state file\n"
		"                          (default " CONFIG_DEFAULT ")\n"
		"      --xdp-mode MODE     native (default) or generic\n"
		"      --socket PATH       control socket (default " XLB_SOCKET_DEFAULT ")\n"
		"      --pin-root PATH     bpffs directory of the pins (default " XLB_PIN_ROOT_DEFAULT
		")\n"
		"      --state PATH        running configuration, rewritten on every change\n"
		"                          (default " XLB_STATE_DEFAULT "); it wins over -c\n"
		"      --flow-entries N    confirmed connections the flow table holds\n"
		"                          (default %u; one entry per connection)\n"
		"      --new-flow-entries N  unconfirmed flows (handshakes, floods) held\n"
		"                          (default %u)\n"
		"      --resize-flows      copy pinned flows into tables of a new size\n"
		"      --max-vips N        VIPs the datapath holds (default %u, at most %u)\n"
		"      --max-backends N    backend slots over all VIPs (default %u, at most %u)\n"
		"      --nexthop-cache N   client next hops cached per CPU, a power of two\n"
		"                          (default %u)\n"
		"      --tcp-idle DUR      idle TCP connections leave the table (default %us)\n"
		"      --udp-idle DUR      idle UDP flows are scheduled again (default %llus)\n"
		"      --flood-rate N      new flows/s, mostly unconfirmed, logged as a flood\n"
		"                          (default %u)\n"
		"      --icmp-rate N       ICMP errors the datapath sends a second, per CPU\n"
		"                          (default %u; 0 = no limit)\n"
		"      --icmp-burst N      ICMP errors it may send at once (default %u)\n"
		"      --metrics [ADDR:]PORT  serve Prometheus metrics on http://ADDR:PORT/metrics\n"
		"                          (off by default; ADDR defaults to " METRICS_DEFAULT_ADDR
		", IPv6 as [ADDR])\n"
		"      --route-table N     kernel routing table of the VIP routes a routing\n"
		"                          daemon exports (scale-out; default %u, 0 = none)\n"
		"      --route-proto N     their rtnetlink protocol number (default %u)\n"
		"      --detach            remove the datapath, its pins and its VIP routes,\n"
		"                          then exit\n"
		"  -v, --verbose           log every probe and request; -vv adds libbpf's debug\n"
		"      --version           print xlbd's version and exit\n",
		XLB_FLOWS_DEFAULT, XLB_FLOWS_NEW_DEFAULT, XLB_VIPS_DEFAULT, XLB_MAX_VIPS,
		XLB_BACKENDS_DEFAULT, XLB_MAX_BACKENDS, XLB_CLIENT_NH_DEFAULT, XLB_TCP_IDLE_DEFAULT_S,
		XLB_UDP_IDLE_DEFAULT_NS / 1000000000ull, XLBD_FLOOD_RATE_DEFAULT,
		XLB_ICMP_RATE_DEFAULT, XLB_ICMP_BURST_DEFAULT,
		ANNOUNCE_TABLE_DEFAULT, ANNOUNCE_PROTO_DEFAULT);
}

static int add_ifaces(struct opts *o, char *list)
{
	for (char *tok = strtok(list, ", \t"); tok; tok = strtok(NULL, ", \t")) {
		if (o->n_ifaces == MAX_IFACES) {
			fprintf(stderr, "xlbd: at most %d interfaces\n", MAX_IFACES);
			return -1;
		}
		o->ifaces[o->n_ifaces++] = tok;
	}
	return 0;
}

static int parse_mode(struct opts *o, const char *s)
{
	if (!strcmp(s, "native"))
		o->mode = XLB_XDP_NATIVE;
	else if (!strcmp(s, "generic"))
		o->mode = XLB_XDP_GENERIC;
	else {
		fprintf(stderr, "xlbd: unknown XDP mode '%s' (expected native, generic)\n", s);
		return -1;
	}
	return 0;
}

static int parse_count(const char *opt, const char *s, uint32_t min, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < min || v > UINT32_MAX || *s == '-') {
		fprintf(stderr, "xlbd: %s '%s' is not a number from %u to %u\n", opt, s, min,
			UINT32_MAX);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

static int parse_seconds(const char *opt, const char *s, uint32_t *out)
{
	uint32_t ms;

	if (xlb_duration_parse(s, &ms) || ms < 1000) {
		fprintf(stderr, "xlbd: %s '%s' is not a duration of at least 1s (like 30s, 15m "
				"is 900s)\n",
			opt, s);
		return -1;
	}
	*out = ms / 1000;
	return 0;
}

/* --route-table (0 turns announcing off) and --route-proto: below 5 are
 * the kernel's own (kernel, boot, static), which routing daemons treat as
 * the system's routes, not ours. */
static int parse_route_opt(struct opts *o, int c, const char *arg)
{
	if (c == ROUTE_TABLE_OPT)
		return parse_count("--route-table", arg, 0, &o->route_table);
	if (parse_count("--route-proto", arg, 5, &o->route_proto))
		return -1;
	if (o->route_proto > 255) {
		fprintf(stderr, "xlbd: --route-proto %u is not a protocol number (5-255)\n",
			o->route_proto);
		return -1;
	}
	return 0;
}

/* --icmp-rate (0: every error is sent) and --icmp-burst: the datapath's
 * token bucket (docs/operations.md, "ICMP rate limit"). */
static int parse_icmp_opt(struct opts *o, int c, const char *arg)
{
	if (c == ICMP_BURST_OPT)
		return parse_count("--icmp-burst", arg, 1, &o->flows.icmp_burst);
	if (parse_count("--icmp-rate", arg, 0, &o->flows.icmp_rate))
		return -1;
	if (o->flows.icmp_rate > 1000000000) {
		fprintf(stderr, "xlbd: --icmp-rate %u is above one a nanosecond (1000000000); "
				"0 turns the limit off\n",
			o->flows.icmp_rate);
		return -1;
	}
	if (!o->flows.icmp_rate)
		o->flows.icmp_rate = XLB_ICMP_UNLIMITED;
	return 0;
}

/* The flow tables' options (docs/operations.md, "Sizing the flow tables"). */
static int parse_flow_opt(struct opts *o, int c, const char *arg)
{
	uint32_t s;

	switch (c) {
	case 'F':
		return parse_count("--flow-entries", arg, XLB_FLOWS_MIN, &o->flows.flow_entries);
	case 'N':
		return parse_count("--new-flow-entries", arg, XLB_FLOWS_MIN,
				   &o->flows.new_flow_entries);
	case 'R':
		o->flows.resize_flows = true;
		return 0;
	case 'T':
		return parse_seconds("--tcp-idle", arg, &o->flows.tcp_idle_s);
	case 'U':
		if (parse_seconds("--udp-idle", arg, &s))
			return -1;
		o->flows.udp_idle_ns = (uint64_t)s * 1000000000ull;
		return 0;
	default:
		return parse_count("--flood-rate", arg, 1, &o->flood_rate);
	}
}

/* The limits the maps are made with (docs/operations.md, "Sizing"); libxlb
 * checks their ranges against the pinned maps. */
static int parse_limit_opt(struct opts *o, int c, const char *arg)
{
	if (c == MAX_VIPS_OPT)
		return parse_count("--max-vips", arg, 1, &o->flows.max_vips);
	if (c == MAX_BACKENDS_OPT)
		return parse_count("--max-backends", arg, 1, &o->flows.max_backends);
	return parse_count("--nexthop-cache", arg, 1, &o->flows.nexthop_cache);
}

/* 0 to run, 1 to exit 0 (help), 2 for a usage error. */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	char err[256];
	static const struct option longopts[] = {
		{ "interface", required_argument, NULL, 'i' },
		{ "config", required_argument, NULL, 'c' },
		{ "xdp-mode", required_argument, NULL, 'm' },
		{ "socket", required_argument, NULL, 's' },
		{ "pin-root", required_argument, NULL, 'p' },
		{ "state", required_argument, NULL, 'S' },
		{ "detach", no_argument, NULL, 'D' },
		{ "metrics", required_argument, NULL, 'M' },
		{ "flow-entries", required_argument, NULL, 'F' },
		{ "new-flow-entries", required_argument, NULL, 'N' },
		{ "resize-flows", no_argument, NULL, 'R' },
		{ "tcp-idle", required_argument, NULL, 'T' },
		{ "udp-idle", required_argument, NULL, 'U' },
		{ "flood-rate", required_argument, NULL, 'L' },
		{ "max-vips", required_argument, NULL, MAX_VIPS_OPT },
		{ "max-backends", required_argument, NULL, MAX_BACKENDS_OPT },
		{ "nexthop-cache", required_argument, NULL, NEXTHOP_CACHE_OPT },
		{ "route-table", required_argument, NULL, ROUTE_TABLE_OPT },
		{ "route-proto", required_argument, NULL, ROUTE_PROTO_OPT },
		{ "icmp-rate", required_argument, NULL, ICMP_RATE_OPT },
		{ "icmp-burst", required_argument, NULL, ICMP_BURST_OPT },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{},
	};
	int c;

	*o = (struct opts){ .config = CONFIG_DEFAULT, .socket = XLB_SOCKET_DEFAULT,
			    .pin_root = XLB_PIN_ROOT_DEFAULT, .state = XLB_STATE_DEFAULT,
			    .flood_rate = XLBD_FLOOD_RATE_DEFAULT,
			    .route_table = ANNOUNCE_TABLE_DEFAULT,
			    .route_proto = ANNOUNCE_PROTO_DEFAULT };
	while ((c = getopt_long(argc, argv, "i:c:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (add_ifaces(o, optarg))
				return 2;
			break;
		case 'c':
			o->config = optarg;
			o->config_given = true;
			break;
		case 'm':
			if (parse_mode(o, optarg))
				return 2;
			break;
		case 's':
			o->socket = optarg;
			break;
		case 'p':
			o->pin_root = optarg;
			break;
		case 'S':
			o->state = optarg;
			break;
		case 'D':
			o->detach = true;
			break;
		case 'M':
			if (metrics_addr_parse(optarg, &o->metrics_addr, err, sizeof(err))) {
				fprintf(stderr, "xlbd: %s\n", err);
				return 2;
			}
			o->metrics = true;
			break;
		case 'F':
		case 'N':
		case 'R':
		case 'T':
		case 'U':
		case 'L':
			if (parse_flow_opt(o, c, optarg))
				return 2;
			break;
		case MAX_VIPS_OPT:
		case MAX_BACKENDS_OPT:
		case NEXTHOP_CACHE_OPT:
			if (parse_limit_opt(o, c, optarg))
				return 2;
			break;
		case ROUTE_TABLE_OPT:
		case ROUTE_PROTO_OPT:
			if (parse_route_opt(o, c, optarg))
				return 2;
			break;
		case ICMP_RATE_OPT:
		case ICMP_BURST_OPT:
			if (parse_icmp_opt(o, c, optarg))
				return 2;
			break;
		case 'v':
			verbosity++;
			xlog_set_verbose(true);
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf("xlbd %s\n", XLB_VERSION);
			return 1;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "xlbd: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!o->detach && !o->n_ifaces) {
		fprintf(stderr, "xlbd: no interface given (-i IFACE)\n");
		usage(stderr);
		return 2;
	}
	return 0;
}

/* libbpf's own messages, as xlbd log lines; its debug chatter (thousands of
 * lines per load) only with -vv. */
static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char msg[1024];

	if (level == LIBBPF_DEBUG && verbosity < 2)
		return 0;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	xlog(level == LIBBPF_WARN ? XLOG_WARN : XLOG_DEBUG, "libbpf: %s", msg);
	return 0;
}

static void libxlb_notice(enum xlb_notice_level level, const char *msg)
{
	xlog(level == XLB_NOTICE_WARN ? XLOG_WARN : XLOG_INFO, "%s", msg);
}

/* ---- --detach -------------------------------------------------------------- */

static int detach(const struct opts *o)
{
	char err[512];
	int lock = ctl_lock(o->socket, err, sizeof(err));
	int rc;

	/* A running xlbd would go on writing maps that no longer drive
	 * anything: it must be stopped first. */
	if (lock < 0) {
		log_error("%s; stop it first", err);
		return 1;
	}
	rc = xlb_destroy_pins(o->pin_root);
	if (rc) {
		close(lock);
		log_error("detach: %s", xlb_errmsg());
		return 1;
	}
	rc = o->route_table ? announce_withdraw_all(o->route_table, o->route_proto) : 0;
	close(lock);
	if (rc) {
		log_error("detach: removing the VIP routes from table %u: %s (remove them with "
			  "'ip route flush table %u proto %u')",
			  o->route_table, strerror(-rc), o->route_table, o->route_proto);
		return 1;
	}
	log_info("datapath detached and pins under %s removed; the state file (%s) is kept, "
		 "remove it too to start from the -c file",
		 o->pin_root, o->state);
	return 0;
}

/* ---- the configuration at start ------------------------------------------- */

enum cfg_source {
	SRC_PINS, /* neither file: keep what the datapath holds */
	SRC_STATE,
	SRC_CONFIG,
};

/* A damaged state file is no configuration: applying it would take VIPs
 * out of the live datapath. It is set aside and what the datapath holds is
 * kept (see docs/operations.md, "Security of the control socket and state
 * file"). */
static int state_damaged(const struct opts *o, enum cfg_source *src)
{
	char aside[PATH_MAX];
	int rc = persist_set_aside(o->state, aside, sizeof(aside));

	if (rc) {
		log_error("cannot move it aside to %s.bad: %s; remove or repair it, then start "
			  "xlbd again", o->state, strerror(-rc));
		return rc;
	}
	log_error("it is kept as %s and not applied: xlbd keeps what the datapath holds "
		  "(VIPs and backends; health checks are not in the datapath and stay off "
		  "until set again). To recover: stop xlbd, remove %s and start xlbd with -c "
		  "YOUR_CONFIG (unchanged VIPs keep their flows), or set the checks again "
		  "with 'xlbctl check set'", aside, o->state);
	*src = SRC_PINS;
	return 0;
}

/* The state file if there is one (-ENOENT if not). */
static int load_state(const struct opts *o, struct xlb_cfg *want, enum cfg_source *src)
{
	struct persist_body b;
	char err[1024];
	int rc = persist_load(o->state, want, &b, err, sizeof(err));

	*src = SRC_STATE;
	if (rc == -ENOENT)
		return rc;
	if (rc) {
		log_error("%s", err);
		if (rc == -EBADMSG)
			return state_damaged(o, src);
		if (rc == -EINVAL)
			log_error("configuration refused: nothing was applied");
		return rc;
	}
	if (b.legacy)
		log_warn("state file %s has no version line (an older xlbd wrote it); it was "
			 "read whole and is rewritten in the current format", o->state);
	log_info("configuration from the state file %s (%lu statements)%s%s%s", o->state,
		 b.n_stmts, o->config_given ? "; -c " : "", o->config_given ? o->config : "",
		 o->config_given ? " is not used while the state file exists" : "");
	return 0;
}

/* Read the -c file: no state file applies (see the top of this file). */
static int read_start_config(const struct opts *o, enum cfg_source *src, char **text,
			     size_t *len)
{
	char err[512];
	int rc;

	*src = SRC_CONFIG;
	rc = persist_read(o->config, text, len, err, sizeof(err));
	if (rc == -ENOENT && !o->config_given) {
		*src = SRC_PINS;
		return 0;
	}
	if (rc)
		log_error("%s", err);
	return rc;
}

/* The configuration that must be running once xlbd is up. Checked
 * completely here, before the datapath is loaded. */
static int start_config(const struct opts *o, struct xlb_cfg *want, enum cfg_source *src)
{
	const char *name;
	unsigned int n = 0;
	char *text = NULL;
	size_t len = 0;
	int rc;

	rc = load_state(o, want, src);
	if (rc != -ENOENT)
		return rc;
	rc = read_start_config(o, src, &text, &len);
	if (rc)
		return rc;
	if (*src == SRC_PINS) {
		log_info("no state file (%s) and no configuration file (%s): keeping what the "
			 "datapath holds", o->state, o->config);
		return 0;
	}
	name = o->config;
	rc = xlb_cfg_exec_text(want, text, len, name, &n);
	free(text);
	if (rc) {
		log_error("%s", xlb_errmsg());
		log_error("configuration refused: nothing was applied");
		return rc;
	}
	log_info("configuration from %s (%u statements)", name, n);
	return 0;
}

/* ---- startup ---------------------------------------------------------------- */

/* A thousand backends probed at once need a thousand sockets. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Before the datapath: a port in use refuses the start with nothing done. */
static int open_metrics(struct xlbd *d, const struct opts *o)
{
	char err[512];

	if (!o->metrics)
		return 0;
	d->metrics = metrics_open(d, &o->metrics_addr, err, sizeof(err));
	if (d->metrics)
		return 0;
	log_error("%s", err);
	return -EADDRINUSE;
}

/*
 * One daemon per pinned datapath, whatever its socket: two would fight over
 * the maps. The lock is on the pin root directory itself (bpffs supports
 * flock) and lasts as long as the process; taken before anything is
 * attached or converged.
 */
static int pins_lock(const char *pin_root)
{
	int fd = open(pin_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		log_error("opening the pin root %s: %s", pin_root, strerror(errno));
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		log_error("another xlbd is running on the datapath pinned at %s (it holds a lock "
			  "on that directory): stop it first, or give this one its own --pin-root",
			  pin_root);
		close(fd);
		return -EBUSY;
	}
	return 0;
}

static int open_datapath(struct xlbd *d, const struct opts *o)
{
	struct xlb_open_opts oo = o->flows;
	int rc;

	oo.pin_root = o->pin_root;
	d->flows.flood_rate = o->flood_rate;
	rc = xlb_open(&d->x, &oo);

	if (rc) {
		log_error("loading the datapath: %s", xlb_errmsg());
		return rc;
	}
	rc = pins_lock(o->pin_root);
	if (rc)
		return rc;
	if (xlb_vip_count(d->x))
		log_info("adopted the pinned datapath under %s (%zu VIPs): established flows "
			 "keep their backends",
			 o->pin_root, xlb_vip_count(d->x));
	for (size_t i = 0; i < o->n_ifaces; i++) {
		rc = xlb_attach(d->x, o->ifaces[i], o->mode);
		if (rc) {
			log_error("attaching to %s: %s", o->ifaces[i], xlb_errmsg());
			return rc;
		}
		log_info("attached to %s (%s XDP)", o->ifaces[i],
			 o->mode == XLB_XDP_GENERIC ? "generic" : "native");
	}
	return 0;
}

static int apply_start_config(struct xlbd *d, struct xlb_cfg *want, enum cfg_source src)
{
	char err[1024];
	int rc;

	if (src == SRC_PINS && xlb_cfg_from_xlb(want, d->x)) {
		log_error("reading the pinned configuration: out of memory");
		return -ENOMEM;
	}
	rc = xlbd_commit(d, want, err, sizeof(err));
	if (rc)
		log_error("applying the configuration: %s", err);
	return rc;
}

/* ---- the loop's own sources --------------------------------------------------- */

/* The tick runs four times a second: missing neighbours are noticed within
 * a quarter second (a client's first SYN retransmit then finds one), the
 * rest is once a second. */
#define TICKS_PER_SEC 4

struct daemon_sources {
	struct ev_source sig;
	struct ev_source tick;
	unsigned int ticks;
	struct xlbd *d;
};

static void on_signal(struct ev_source *s, uint32_t events)
{
	struct daemon_sources *ds = ev_container_of(s, struct daemon_sources, sig);
	struct signalfd_siginfo si;

	while (read(s->fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			log_info("SIGHUP ignored: change the configuration with xlbctl");
			continue;
		}
		log_info("%s: stopping; the datapath stays attached and keeps forwarding",
			 strsignal(si.ssi_signo));
		ev_stop(&ds->d->loop);
	}
}

/* Neighbour entries made again if the datapath found one missing; once a
 * second also counter samples for rates, stuck clients, and a fresh
 * next-hop generation, so route and neighbour changes reach established
 * flows (which cache their next hop) within a second. */
static void on_tick(struct ev_source *s, uint32_t events)
{
	struct daemon_sources *ds = ev_container_of(s, struct daemon_sources, tick);
	uint64_t now = ev_now();

	ev_timer_drain(s->fd);
	neigh_watch(&ds->d->neigh, ds->d->x);
	/* Health changes reach the routes within a tick; once a second the
	 * table is read back, so a route removed by hand comes back. */
	announce_sync(&ds->d->announce, &ds->d->cfg, ds->d->x,
		      (ds->ticks + 1) % TICKS_PER_SEC == 0);
	if (++ds->ticks % TICKS_PER_SEC)
		return;
	rates_sample(ds->d->rates, ds->d->x, now);
	ctl_sweep(ds->d->ctl, now);
	if (xlb_nexthop_flush(ds->d->x))
		log_warn("%s", xlb_errmsg());
	flows_tick(&ds->d->flows, ds->d->x, now / EV_SEC);
}

static int signals_open(struct daemon_sources *ds)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	ds->sig.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (ds->sig.fd < 0)
		return -errno;
	ds->sig.on_event = on_signal;
	return ev_add(&ds->d->loop, &ds->sig, EPOLLIN);
}

static int tick_open(struct daemon_sources *ds)
{
	int rc;

	ds->tick.fd = ev_timerfd();
	if (ds->tick.fd < 0)
		return ds->tick.fd;
	ds->tick.on_event = on_tick;
	rc = ev_timer_every(ds->tick.fd, EV_SEC / TICKS_PER_SEC);
	return rc ? rc : ev_add(&ds->d->loop, &ds->tick, EPOLLIN);
}

/* ---- run ---------------------------------------------------------------------- */

static int serve(struct xlbd *d, const struct opts *o)
{
	struct daemon_sources ds = { .sig.fd = -1, .tick.fd = -1, .d = d };
	char err[512];
	int rc;

	rc = signals_open(&ds);
	if (!rc)
		rc = tick_open(&ds);
	if (rc) {
		log_error("setting up the event loop: %s", strerror(-rc));
		return rc;
	}
	d->ctl = ctl_open(&d->loop, o->socket, xlbd_request, d, err, sizeof(err));
	if (!d->ctl) {
		log_error("%s", err);
		return -EIO;
	}
	log_info("ready: %zu VIPs, %zu backends; control socket %s, state file %s",
		 d->cfg.n_vips, d->cfg.n_backends, o->socket, o->state);
	rc = ev_run(&d->loop);
	if (rc)
		log_error("event loop: %s", strerror(-rc));
	ctl_close(d->ctl);
	d->ctl = NULL;
	ev_unregister(&d->loop, &ds.sig);
	ev_unregister(&d->loop, &ds.tick);
	return rc;
}

static int watch_links(struct xlbd *d, const struct opts *o, struct linkwatch **lw)
{
	char err[256];

	*lw = linkwatch_open(&d->loop, d->x, o->ifaces, o->n_ifaces, o->mode, err, sizeof(err));
	if (!*lw)
		log_error("%s", err);
	return *lw ? 0 : -EIO;
}

static int run(const struct opts *o)
{
	struct xlbd d = { .state_path = o->state, .loop.epfd = -1 };
	struct linkwatch *lw = NULL;
	struct xlb_cfg want;
	enum cfg_source src;
	char err[512];
	int lock, rc;

	xlb_cfg_init(&d.cfg);
	xlb_cfg_init(&want);
	announce_init(&d.announce, o->route_table, o->route_proto);
	lock = ctl_lock(o->socket, err, sizeof(err));
	if (lock < 0) {
		log_error("%s", err);
		return 1;
	}
	rc = start_config(o, &want, &src);
	if (!rc)
		rc = ev_loop_init(&d.loop);
	if (!rc)
		rc = open_metrics(&d, o);
	if (!rc)
		rc = open_datapath(&d, o);
	if (!rc) {
		d.prober = prober_new(&d.loop, d.x);
		d.rates = rates_new();
		rc = d.prober && d.rates ? 0 : -ENOMEM;
	}
	if (!rc)
		rc = apply_start_config(&d, &want, src);
	if (!rc)
		rc = watch_links(&d, o, &lw);
	if (!rc)
		rc = serve(&d, o);
	metrics_close(d.metrics);
	linkwatch_close(lw);
	prober_free(d.prober);
	rates_free(d.rates);
	neigh_keeper_free(&d.neigh);
	announce_free(&d.announce);
	xlb_close(d.x);
	ev_loop_fini(&d.loop);
	xlb_cfg_free(&d.cfg);
	xlb_cfg_free(&want);
	close(lock);
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	int rc = parse_opts(argc, argv, &o);

	if (rc)
		return rc == 1 ? 0 : 2;
	libbpf_set_print(libbpf_log);
	xlb_set_notice_sink(libxlb_notice);
	if (o.detach)
		return detach(&o);
	raise_nofile();
	srandom(time(NULL) ^ getpid());
	return run(&o);
}
