// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * xlb-gen: a packet generator for the forwarding benchmarks, built on
 * BPF_F_TEST_XDP_LIVE_FRAMES test runs (the kernel's pktgen and xdp-trafficgen
 * are not usable on this machine). The kernel turns every XDP_TX of
 * bpf/gen.bpf.c into a real frame sent out of the given veth, at driver
 * level; the program gives each frame the next of --flows distinct 5-tuples.
 *
 *   xlb-gen --netns xbench-gen --dev gen0 --dst-mac 02:... --src 198.18.1.2 \
 *           --dst 198.19.0.10 --dport 5353 --flows 10000 --size 64 --count 4000000
 *
 * It prints what it sent and how fast; the receiving side counts for itself.
 */
#include <getopt.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "libxlb.h"
#include "gen.skel.h"
#include "xbench.h"

#define NPORTS_MAX 32768 /* source ports per source address */
#define CHUNK_MAX 250000u /* packets per test run: bounds one syscall's time */

struct gen_opts {
	const char *netns;
	const char *dev;
	const char *src, *dst;
	const char *dst_mac, *src_mac;
	const char *proto;
	const char *tcp_flags;
	uint16_t sport, dport;
	uint32_t flows;
	uint32_t repeat;
	uint32_t size;
	uint64_t count;
	uint32_t batch;
	double duration;
	int cpu;
	bool quiet;
	bool check; /* one ordinary test run, print the frame, send nothing */
};

static struct gen_opts opt = {
	.src = "198.18.1.2",
	.dst = "198.19.0.10",
	.proto = "udp",
	.tcp_flags = "ack",
	.sport = 10000,
	.dport = 5353,
	.flows = 1,
	.repeat = 1,
	.size = 64,
	.count = 1000000,
	.batch = 64,
	.duration = 30,
	.cpu = -1,
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xlb-gen --dev IFNAME --dst-mac MAC [options]\n"
		"  --netns NAME     enter /run/netns/NAME first\n"
		"  --dev IFNAME     the veth to send from (required)\n"
		"  --dst-mac MAC    destination MAC: the peer's (required)\n"
		"  --src-mac MAC    source MAC (default: the device's)\n"
		"  --src ADDR       first source address (default 198.18.1.2)\n"
		"  --dst ADDR       destination address (default 198.19.0.10)\n"
		"  --proto udp|tcp  (default udp; IPv4 UDP is sent without checksum)\n"
		"  --tcp-flags syn|ack  TCP: connection openings or mid-stream (default ack)\n"
		"  --sport N        first source port (default 10000)\n"
		"  --dport N        destination port (default 5353)\n"
		"  --flows N        distinct 5-tuples: source ports, then addresses (default 1)\n"
		"  --repeat N       send each tuple N times in a row before the next (default 1;\n"
		"                   2 confirms every UDP flow in xlb, which needs a second packet)\n"
		"  --size N         frame bytes without FCS (default 64)\n"
		"  --count N        packets to send (default 1000000)\n"
		"  --batch N        frames per batch of the test run (default 64)\n"
		"  --duration S     stop after S seconds even if count is not reached (default 30)\n"
		"  --cpu N          pin to CPU N\n"
		"  --quiet          print only the result line\n"
		"  --check          run the program once without sending, print its frame\n"
		"Prints: sent=N seconds=S pps=P\n");
}

static int parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "netns", required_argument, NULL, 'N' },   { "dev", required_argument, NULL, 'i' },
		{ "dst-mac", required_argument, NULL, 'M' }, { "src-mac", required_argument, NULL, 'm' },
		{ "src", required_argument, NULL, 's' },     { "dst", required_argument, NULL, 'd' },
		{ "proto", required_argument, NULL, 'p' },
		{ "tcp-flags", required_argument, NULL, 'T' },   { "sport", required_argument, NULL, 'S' },
		{ "dport", required_argument, NULL, 'D' },   { "flows", required_argument, NULL, 'f' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "size", required_argument, NULL, 'l' },    { "count", required_argument, NULL, 'n' },
		{ "batch", required_argument, NULL, 'b' },   { "duration", required_argument, NULL, 't' },
		{ "cpu", required_argument, NULL, 'c' },     { "quiet", no_argument, NULL, 'q' },
		{ "check", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },          {}
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 'N':
			opt.netns = optarg;
			break;
		case 'i':
			opt.dev = optarg;
			break;
		case 'M':
			opt.dst_mac = optarg;
			break;
		case 'm':
			opt.src_mac = optarg;
			break;
		case 's':
			opt.src = optarg;
			break;
		case 'd':
			opt.dst = optarg;
			break;
		case 'p':
			opt.proto = optarg;
			break;
		case 'T':
			opt.tcp_flags = optarg;
			break;
		case 'S':
			opt.sport = (uint16_t)atoi(optarg);
			break;
		case 'D':
			opt.dport = (uint16_t)atoi(optarg);
			break;
		case 'f':
			opt.flows = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			opt.repeat = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'l':
			opt.size = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			opt.count = strtoull(optarg, NULL, 10);
			break;
		case 'b':
			opt.batch = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 't':
			opt.duration = atof(optarg);
			break;
		case 'c':
			opt.cpu = atoi(optarg);
			break;
		case 'q':
			opt.quiet = true;
			break;
		case 'k':
			opt.check = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	if (optind != argc || !opt.dev || !opt.dst_mac || !opt.flows || !opt.repeat || !opt.count || !opt.batch)
		return -1;
	if (strcmp(opt.proto, "udp") && strcmp(opt.proto, "tcp"))
		return -1;
	if (strcmp(opt.tcp_flags, "syn") && strcmp(opt.tcp_flags, "ack"))
		return -1;
	return 0;
}

static int frame_build(struct xb_pkt *p)
{
	struct xb_pkt_spec s = {
		.proto = strcmp(opt.proto, "tcp") ? IPPROTO_UDP : IPPROTO_TCP,
		.sport = opt.sport,
		.dport = opt.dport,
		/* ACK: mid-connection, as most packets are; SYN: openings */
		.tcp_flags = strcmp(opt.tcp_flags, "syn") ? 0x10 : 0x02,
		.size = opt.size,
		.udp_csum_zero = true, /* the generator then has one checksum less to patch */
	};
	__u8 fam_src, fam_dst;

	if (xlb_addr_parse(opt.src, &s.src, &fam_src) || xlb_addr_parse(opt.dst, &s.dst, &fam_dst) ||
	    fam_src != fam_dst) {
		fprintf(stderr, "xlb-gen: --src and --dst must be addresses of one family\n");
		return -EINVAL;
	}
	s.family = fam_src;
	if (xb_mac_parse(opt.dst_mac, s.dmac)) {
		fprintf(stderr, "xlb-gen: bad --dst-mac %s\n", opt.dst_mac);
		return -EINVAL;
	}
	if (opt.src_mac ? xb_mac_parse(opt.src_mac, s.smac) : xb_dev_mac(opt.dev, s.smac)) {
		fprintf(stderr, "xlb-gen: no source MAC for %s\n", opt.dev);
		return -EINVAL;
	}
	xb_pkt_build(p, &s);
	return 0;
}

/* Flows: --sport.. as source ports (at most NPORTS_MAX), then the next
 * source addresses: 1M flows from 31 addresses of 32768 ports each. */
static int gen_load(struct gen_bpf **skel, const struct xb_pkt *p)
{
	struct gen_bpf *g = gen_bpf__open();
	uint32_t nports = opt.flows < NPORTS_MAX ? opt.flows : NPORTS_MAX;
	const uint8_t *src = p->data + p->l3 + (p->family == XLB_FAMILY_V4 ? 12 : 8 + 12);
	int err;

	if (!g)
		return -errno;
	if ((uint32_t)opt.sport + nports > 65536) {
		fprintf(stderr, "xlb-gen: --sport %u + %u ports passes 65535\n", opt.sport, nports);
		gen_bpf__destroy(g);
		return -EINVAL;
	}
	g->rodata->nflows = opt.flows;
	g->rodata->nports = nports;
	g->rodata->repeat = opt.repeat;
	g->rodata->base_port = opt.sport;
	g->rodata->base_addr = (uint32_t)src[0] << 24 | src[1] << 16 | src[2] << 8 | src[3];
	g->rodata->hdr_len = p->l4 + (p->proto == IPPROTO_TCP ? 20 : 8);
	if (g->rodata->hdr_len > sizeof(g->bss->tmpl)) {
		gen_bpf__destroy(g);
		return -EINVAL;
	}
	memcpy(g->bss->tmpl, p->data, g->rodata->hdr_len);
	err = gen_bpf__load(g);
	if (err) {
		gen_bpf__destroy(g);
		return err;
	}
	*skel = g;
	return 0;
}

/* One live-frames test run of n packets. */
static int send_chunk(int prog_fd, struct xb_pkt *p, int ifindex, uint32_t n)
{
	struct xdp_md md = {
		.data_end = p->len,
		.ingress_ifindex = (__u32)ifindex,
	};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->data, .data_size_in = p->len,
		    .ctx_in = &md, .ctx_size_in = sizeof(md), .repeat = n,
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = opt.batch);

	return bpf_prog_test_run_opts(prog_fd, &o) ? -errno : 0;
}

static int generate(int prog_fd, struct xb_pkt *p, int ifindex)
{
	uint64_t sent = 0;
	double t0 = xb_now(), t = 0;
	uint32_t n;
	int err = 0;

	while (sent < opt.count && t < opt.duration) {
		n = opt.count - sent < CHUNK_MAX ? (uint32_t)(opt.count - sent) : CHUNK_MAX;
		err = send_chunk(prog_fd, p, ifindex, n);
		if (err)
			break;
		sent += n;
		t = xb_now() - t0;
	}
	if (err)
		fprintf(stderr, "xlb-gen: live-frames test run failed: %s\n", strerror(-err));
	if (!opt.quiet)
		fprintf(stderr, "xlb-gen: %s %s -> %s, %u flows, %u-byte frames, from %s\n",
			opt.proto, opt.src, opt.dst, opt.flows, p->len, opt.dev);
	printf("sent=%lu seconds=%.4f pps=%.0f\n", (unsigned long)sent, t, t > 0 ? sent / t : 0);
	return err;
}

/* What the program makes of the frame, without sending anything. */
static int check_frame(int prog_fd, struct xb_pkt *p)
{
	static uint8_t out[XB_FRAME_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->data, .data_size_in = p->len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);
	uint32_t i;

	if (bpf_prog_test_run_opts(prog_fd, &o))
		return -errno;
	printf("action=%u len=%u\n", o.retval, o.data_size_out);
	for (i = 0; i < o.data_size_out; i++)
		printf("%02x%s", out[i], (i + 1) % 16 ? " " : "\n");
	printf("\n");
	return 0;
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

int main(int argc, char **argv)
{
	struct gen_bpf *g = NULL;
	static struct xb_pkt p;
	int ifindex, err;

	if (parse_args(argc, argv)) {
		usage(stderr);
		return 2;
	}
	libbpf_set_print(libbpf_quiet);
	if (xb_netns_enter(opt.netns) || (opt.cpu >= 0 && xb_pin_cpu(opt.cpu)))
		return 1;
	ifindex = (int)if_nametoindex(opt.dev);
	if (!ifindex) {
		fprintf(stderr, "xlb-gen: no interface %s here\n", opt.dev);
		return 1;
	}
	if (frame_build(&p) || gen_load(&g, &p))
		return 1;
	if (opt.check)
		err = check_frame(bpf_program__fd(g->progs.xdp_gen), &p);
	else
		err = generate(bpf_program__fd(g->progs.xdp_gen), &p, ifindex);
	gen_bpf__destroy(g);
	return err ? 1 : 0;
}
