// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * xlb-backend: the one command a backend runs for xlb's dsr or tunnel mode.
 *
 *   xlb-backend setup  --vip ADDR[,ADDR...] --mode dsr|tunnel --dev DEV [options]
 *   xlb-backend remove [--vip ADDR[,ADDR...]] [--pin-root PATH]
 *   xlb-backend status [--vip ...] [--mode ...] [--dev DEV] [--pin-root PATH]
 *
 * Exit status: 0 success (status: all in place), 1 an error or (status) a
 * problem, each named with its fix, 2 a usage error, 3 (status) nothing set up.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "backend.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xlb-backend setup  --vip ADDR[,ADDR...] --mode dsr|tunnel --dev DEV\n"
		"                          [--gue-port N] [--xdp-mode native|generic] [--pin-root PATH]\n"
		"       xlb-backend remove [--vip ADDR[,ADDR...]] [--mode M] [--dev DEV] [--pin-root PATH]\n"
		"       xlb-backend status [--vip ADDR[,ADDR...]] [--mode M] [--dev DEV] [--pin-root PATH]\n"
		"\n"
		"Sets up a backend for xlb's dsr or tunnel mode, checks it, and undoes it.\n"
		"\n"
		"setup   puts each VIP on lo (/32, /128); for IPv4 VIPs sets arp_ignore=1 and\n"
		"        arp_announce=2 (all and DEV) so the host never answers ARP for a VIP;\n"
		"        tunnel mode also sets rp_filter=2 (all and DEV: decapsulated packets\n"
		"        arrive on DEV from the client's address) and attaches xlb's decap\n"
		"        program (XDP) to DEV, pinned under the pin root. IPv6 VIPs need no\n"
		"        sysctl: Linux answers neighbour solicitations on DEV only for DEV's own\n"
		"        addresses, never for one on lo. Safe to run again: it reports what was\n"
		"        already in place and repairs what is missing. Setting up more VIPs\n"
		"        later adds them.\n"
		"remove  undoes exactly what setup recorded (addresses it added, sysctls back\n"
		"        to their earlier values unless changed since, program and pins);\n"
		"        with --vip only those VIPs.\n"
		"status  reports what is set up and each problem with its fix (exit 1), or\n"
		"        exit 3 if nothing is set up.\n"
		"\n"
		"  --vip ADDR[,ADDR...]  VIP addresses (IPv4 or IPv6; repeatable)\n"
		"  --mode dsr|tunnel     xlb's forwarding mode for these VIPs\n"
		"  --dev DEV             the interface xlb's traffic arrives on\n"
		"  --gue-port N          tunnel: UDP port of GUE packets (default %u, as xlb's\n"
		"                        default; 0 accepts IP-in-IP only)\n"
		"  --xdp-mode MODE       tunnel: native (default) or generic XDP\n"
		"  --pin-root PATH       bpffs directory for the pins (default %s); one per\n"
		"                        network namespace. The record of changes is kept in\n"
		"                        %s/NAME.state, NAME from PATH.\n"
		"  --version             print xlb-backend's version and exit\n"
		"\n"
		"Run it in the backend's network namespace with nsenter --net=..., not\n"
		"'ip netns exec', whose private /sys would take the pins away on exit.\n",
		XLB_GUE_PORT_DEFAULT, BE_PIN_ROOT_DEFAULT, BE_RUN_DIR);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "xlb-backend: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'xlb-backend --help')\n");
	return 2;
}

static bool vip_dup(const struct be_opts *o, const struct be_vip *v)
{
	size_t i;

	for (i = 0; i < o->n_vips; i++)
		if (o->vips[i].family == v->family && !memcmp(&o->vips[i].addr, &v->addr, sizeof(v->addr)))
			return true;
	return false;
}

static int add_vips(struct be_opts *o, char *list)
{
	struct be_vip v;
	char *tok, *save = NULL;

	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		memset(&v, 0, sizeof(v));
		if (xlb_addr_parse(tok, &v.addr, &v.family))
			return usage_error("--vip: %s", xlb_errmsg());
		if (vip_dup(o, &v))
			continue;
		if (o->n_vips >= BE_MAX_VIPS)
			return usage_error("--vip: at most %d VIPs", BE_MAX_VIPS);
		o->vips[o->n_vips++] = v;
	}
	return 0;
}

static int parse_mode(struct be_opts *o, const char *s)
{
	if (!strcmp(s, "dsr"))
		o->mode = BE_MODE_DSR;
	else if (!strcmp(s, "tunnel"))
		o->mode = BE_MODE_TUNNEL;
	else if (!strcmp(s, "nat"))
		return usage_error("--mode nat needs nothing on the backend but a route to the "
				   "clients via the gateway: no setup to do");
	else
		return usage_error("unknown --mode '%s' (expected dsr or tunnel)", s);
	return 0;
}

static int parse_gue_port(struct be_opts *o, const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < 0 || v > 65535)
		return usage_error("--gue-port '%s' is not a port number (0-65535)", s);
	o->gue_port = v;
	o->has_gue_port = true;
	return 0;
}

static int parse_xdp_mode(struct be_opts *o, const char *s)
{
	if (!strcmp(s, "native"))
		o->xdp_mode = XLB_XDP_NATIVE;
	else if (!strcmp(s, "generic"))
		o->xdp_mode = XLB_XDP_GENERIC;
	else
		return usage_error("unknown --xdp-mode '%s' (expected native or generic)", s);
	o->has_xdp_mode = true;
	return 0;
}

static int parse_dev(struct be_opts *o, const char *s)
{
	if (!*s || strlen(s) >= IF_NAMESIZE || strchr(s, '/'))
		return usage_error("--dev '%s' is not an interface name", s);
	snprintf(o->dev, sizeof(o->dev), "%s", s);
	return 0;
}

static int parse_cmd(struct be_opts *o, const char *s)
{
	if (!strcmp(s, "setup"))
		o->cmd = BE_CMD_SETUP;
	else if (!strcmp(s, "remove"))
		o->cmd = BE_CMD_REMOVE;
	else if (!strcmp(s, "status"))
		o->cmd = BE_CMD_STATUS;
	else
		return usage_error("unknown command '%s' (expected setup, remove or status)", s);
	return 0;
}

static int parse_opt(struct be_opts *o, int c, char *arg)
{
	switch (c) {
	case 'v':
		return add_vips(o, arg);
	case 'm':
		return parse_mode(o, arg);
	case 'd':
		return parse_dev(o, arg);
	case 'g':
		return parse_gue_port(o, arg);
	case 'x':
		return parse_xdp_mode(o, arg);
	case 'p':
		snprintf(o->pin_root, sizeof(o->pin_root), "%s", arg);
		return 0;
	default:
		usage(stderr);
		return 2;
	}
}

/* setup needs the whole picture; the others read it from the record. */
static int validate(const struct be_opts *o)
{
	if (o->cmd != BE_CMD_SETUP)
		return 0;
	if (!o->n_vips)
		return usage_error("setup needs --vip");
	if (o->mode == BE_MODE_NONE)
		return usage_error("setup needs --mode dsr|tunnel");
	if (!o->dev[0])
		return usage_error("setup needs --dev (the interface xlb's traffic arrives on)");
	if (o->mode != BE_MODE_TUNNEL && (o->has_gue_port || o->has_xdp_mode))
		return usage_error("--gue-port and --xdp-mode apply to --mode tunnel only");
	return 0;
}

/* -1: go on; otherwise the exit status. */
static int parse_args(int argc, char **argv, struct be_opts *o)
{
	static const struct option longopts[] = {
		{ "vip", required_argument, NULL, 'v' },
		{ "mode", required_argument, NULL, 'm' },
		{ "dev", required_argument, NULL, 'd' },
		{ "gue-port", required_argument, NULL, 'g' },
		{ "xdp-mode", required_argument, NULL, 'x' },
		{ "pin-root", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int c, rc;

	memset(o, 0, sizeof(*o));
	snprintf(o->pin_root, sizeof(o->pin_root), "%s", BE_PIN_ROOT_DEFAULT);
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("xlb-backend %s\n", XLB_VERSION);
		return 0;
	}
	rc = parse_cmd(o, argv[1]);
	if (rc)
		return rc;
	optind = 2;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		rc = parse_opt(o, c, optarg);
		if (rc)
			return rc;
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	rc = validate(o);
	return rc ? rc : -1;
}

/* libbpf's warnings help when loading fails; its chatter does not. */
static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG || level == LIBBPF_INFO)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int run(const struct be_opts *o)
{
	switch (o->cmd) {
	case BE_CMD_SETUP:
		return cmd_setup(o);
	case BE_CMD_REMOVE:
		return cmd_remove(o);
	default:
		return cmd_status(o);
	}
}

int main(int argc, char **argv)
{
	static struct be_opts o;
	int rc, lock;

	setvbuf(stdout, NULL, _IOLBF, 0);
	rc = parse_args(argc, argv, &o);
	if (rc >= 0)
		return rc;
	if (geteuid()) {
		fprintf(stderr, "xlb-backend: error: must run as root (it changes addresses and "
				"sysctls and loads BPF); fix: run it with sudo\n");
		return 1;
	}
	libbpf_set_print(libbpf_log);
	xlb_set_notice_sink(rep_libxlb_notice);
	if (state_paths(&o)) {
		fprintf(stderr, "xlb-backend: error: %s\n", xlb_errmsg());
		return 2;
	}
	lock = state_lock(o.lock_path);
	if (lock < 0) {
		fprintf(stderr, "xlb-backend: error: %s\n", xlb_errmsg());
		return 1;
	}
	rc = run(&o);
	if (o.cmd == BE_CMD_STATUS && rc >= 0)
		return rc;
	if (rc) {
		fprintf(stderr, "xlb-backend: error: %s\n", xlb_errmsg());
		return 1;
	}
	return 0;
}
