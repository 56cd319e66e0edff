// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * xlb-bench-gw: puts the XDP programs of the forwarding benchmark in place
 * (tools/bench/fwd.sh) and reads the sink's counter.
 *
 *   xlb-bench-gw [--netns NS] sink DEV           count and drop what arrives on DEV
 *   xlb-bench-gw [--netns NS] count DEV          print the sink's packets and bytes
 *   xlb-bench-gw [--netns NS] fwd IN OUT DMAC    bare forwarder: IN -> OUT, to DMAC
 *   xlb-bench-gw [--netns NS] xlb IN[,IN...] nat|dsr PROTO/VIP:PORT BACKEND...
 *                                                xlb (a private copy) on each IN
 *   xlb-bench-gw [--netns NS] reasons DEV        xlb's reason counters (attached to DEV)
 *   xlb-bench-gw [--netns NS] off DEV            detach whatever XDP program DEV has
 *
 * Programs are attached through netlink in native mode, not through a
 * bpf_link, so they stay when this tool exits and leave with the interface
 * (the benchmark deletes its namespaces at the end); nothing is pinned. The
 * sink's counter is found again through the program attached to DEV.
 */
#include <getopt.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "libxlb.h"
#include "bench.skel.h"
#include "xbench.h"

static const char *netns;
static uint32_t flow_entries;

static int ifindex_of(const char *dev)
{
	int i = (int)if_nametoindex(dev);

	if (!i)
		fprintf(stderr, "xlb-bench-gw: no interface %s\n", dev);
	return i;
}

static int attach(const char *dev, int prog_fd)
{
	int ifindex = ifindex_of(dev), err;

	if (!ifindex)
		return -ENODEV;
	err = bpf_xdp_attach(ifindex, prog_fd, XDP_FLAGS_DRV_MODE, NULL);
	if (err)
		fprintf(stderr, "xlb-bench-gw: attaching to %s failed: %s\n", dev, strerror(-err));
	return err;
}

/* Load bench.bpf.o (forwarder settings first: they are frozen at load) and
 * attach one of its programs. */
static int bench_attach(const char *dev, const char *prog, int fwd_ifindex, const uint8_t *dmac,
			const uint8_t *smac)
{
	struct bench_bpf *b = bench_bpf__open();
	struct bpf_program *p;
	int err;

	if (!b)
		return -errno;
	b->rodata->fwd_ifindex = (__u32)fwd_ifindex;
	if (dmac)
		memcpy((void *)b->rodata->fwd_dmac, dmac, ETH_ALEN);
	if (smac)
		memcpy((void *)b->rodata->fwd_smac, smac, ETH_ALEN);
	err = bench_bpf__load(b);
	p = err ? NULL : bpf_object__find_program_by_name(b->obj, prog);
	if (!err && !p)
		err = -ENOENT;
	if (!err)
		err = attach(dev, bpf_program__fd(p));
	bench_bpf__destroy(b); /* the attachment holds the program and its maps */
	return err;
}

static int cmd_sink(char **argv)
{
	return bench_attach(argv[0], "xdp_sink", 0, NULL, NULL);
}

static int cmd_fwd(char **argv)
{
	uint8_t dmac[ETH_ALEN], smac[ETH_ALEN];
	int out = ifindex_of(argv[1]);

	if (!out)
		return -ENODEV;
	if (xb_mac_parse(argv[2], dmac) || xb_dev_mac(argv[1], smac)) {
		fprintf(stderr, "xlb-bench-gw: bad MAC %s or no MAC on %s\n", argv[2], argv[1]);
		return -EINVAL;
	}
	return bench_attach(argv[0], "xdp_bare_fwd", out, dmac, smac);
}

static int cmd_off(char **argv)
{
	int ifindex = ifindex_of(argv[0]);

	return ifindex ? bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, NULL) : -ENODEV;
}

/* The map called name of the program attached (native) to dev. */
static int attached_map(const char *dev, const char *name)
{
	struct bpf_prog_info pinfo = {};
	__u32 ids[16], len = sizeof(pinfo), i, prog_id = 0;
	int ifindex = ifindex_of(dev), pfd, fd = -ENOENT;

	if (!ifindex || bpf_xdp_query_id(ifindex, XDP_FLAGS_DRV_MODE, &prog_id) || !prog_id)
		return -ENOENT;
	pfd = bpf_prog_get_fd_by_id(prog_id);
	if (pfd < 0)
		return -errno;
	pinfo.nr_map_ids = sizeof(ids) / sizeof(ids[0]);
	pinfo.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(pfd, &pinfo, &len))
		pinfo.nr_map_ids = 0;
	close(pfd);
	for (i = 0; i < pinfo.nr_map_ids && fd == -ENOENT; i++) {
		struct bpf_map_info minfo = {};
		__u32 mlen = sizeof(minfo);
		int mfd = bpf_map_get_fd_by_id(ids[i]);

		if (mfd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(mfd, &minfo, &mlen) && !strcmp(minfo.name, name))
			fd = mfd;
		else
			close(mfd);
	}
	return fd;
}

static int cmd_count(char **argv)
{
	int ncpu = libbpf_num_possible_cpus(), fd, i;
	struct xlb_counters *v, sum = {};
	__u32 key = 0;

	fd = attached_map(argv[0], "sink_counters");
	if (fd < 0) {
		fprintf(stderr, "xlb-bench-gw: no sink attached to %s\n", argv[0]);
		return fd;
	}
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v || bpf_map_lookup_elem(fd, &key, v)) {
		free(v);
		close(fd);
		return -EIO;
	}
	for (i = 0; i < ncpu; i++) {
		sum.packets += v[i].packets;
		sum.bytes += v[i].bytes;
	}
	printf("packets=%llu bytes=%llu\n", (unsigned long long)sum.packets,
	       (unsigned long long)sum.bytes);
	free(v);
	close(fd);
	return 0;
}

/* Every non-zero reason counter of the xlb attached to DEV, summed over
 * CPUs: tells whether the packets took the path the benchmark meant. */
static int cmd_reasons(char **argv)
{
	struct bpf_map_info info = {};
	__u32 r, cpu, key, len = sizeof(info);
	__u64 sum, n;
	int fd;

	fd = attached_map(argv[0], XLB_MAP_REASONS);
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len)) {
		fprintf(stderr, "xlb-bench-gw: no xlb attached to %s\n", argv[0]);
		return fd < 0 ? fd : -errno;
	}
	for (r = 0; r < XLB_R_MAX; r++) {
		for (sum = 0, cpu = 0; cpu < info.max_entries / XLB_STATS_REASONS; cpu++) {
			key = XLB_REASON_KEY(cpu, r);
			if (!bpf_map_lookup_elem(fd, &key, &n))
				sum += n;
		}
		if (sum)
			printf("%s=%llu ", xlb_reason_name(r), (unsigned long long)sum);
	}
	printf("\n");
	close(fd);
	return 0;
}

/* "udp/198.19.0.10:5353" */
static int vip_parse(const char *s, struct xlb_vip_key *key)
{
	char buf[96], *addr, *port;
	struct xlb_addr a;
	__u8 proto, fam;

	snprintf(buf, sizeof(buf), "%s", s);
	if (!strncmp(buf, "udp/", 4))
		proto = IPPROTO_UDP;
	else if (!strncmp(buf, "tcp/", 4))
		proto = IPPROTO_TCP;
	else
		return -EINVAL;
	addr = buf + 4;
	port = strrchr(addr, ':');
	if (!port)
		return -EINVAL;
	*port++ = '\0';
	if (*addr == '[' && port[-2] == ']') {
		addr++;
		port[-2] = '\0';
	}
	if (xlb_addr_parse(addr, &a, &fam))
		return -EINVAL;
	xlb_vip_key_make(key, proto, fam, &a, (uint16_t)atoi(port));
	return 0;
}

/* As in xlb-bench-prog: backends go in while the ring is small, then one
 * build at the default size (the same table as adding them one by one). */
#define SETUP_RING 1009

static int xlb_setup(struct xlb *x, struct xlb_vip_spec *spec, char **backends, int n)
{
	struct xlb_endpoint ep;
	__u8 fam;
	int i, err;

	err = xlb_vip_add(x, spec);
	for (i = 0; !err && i < n; i++) {
		memset(&ep, 0, sizeof(ep));
		err = xlb_addr_parse(backends[i], &ep.addr, &fam);
		ep.family = fam;
		if (!err)
			err = xlb_backend_add(x, &spec->key, &ep, 1);
	}
	spec->ring_size = XLB_RING_DEFAULT;
	if (!err)
		err = xlb_vip_set(x, spec);
	return err;
}

/* nat needs xlb on the backend side too, for the replies. */
static int attach_all(const char *devs, int prog_fd)
{
	char buf[256], *dev, *save = NULL;
	int err = 0;

	snprintf(buf, sizeof(buf), "%s", devs);
	for (dev = strtok_r(buf, ",", &save); dev && !err; dev = strtok_r(NULL, ",", &save))
		err = attach(dev, prog_fd);
	return err;
}

static int cmd_xlb(char **argv, int argc)
{
	struct xlb_open_opts o = { .no_pin = true, .flow_entries = flow_entries };
	struct xlb_vip_spec spec = { .sched = XLB_SCHED_MAGLEV, .ring_size = SETUP_RING };
	struct xlb *x;
	int mode, err;

	mode = xlb_mode_parse(argv[1]);
	if (mode < 0 || vip_parse(argv[2], &spec.key)) {
		fprintf(stderr, "xlb-bench-gw: bad mode %s or VIP %s\n", argv[1], argv[2]);
		return -EINVAL;
	}
	spec.mode = mode;
	err = xlb_open(&x, &o);
	if (!err)
		err = xlb_setup(x, &spec, argv + 3, argc - 3);
	if (err)
		fprintf(stderr, "xlb-bench-gw: %s\n", xlb_errmsg());
	if (!err)
		err = attach_all(argv[0], xlb_prog_fd(x));
	xlb_close(x); /* the netlink attachment keeps program and maps */
	return err;
}

struct cmd {
	const char *name;
	int min_args;
	int max_args;
};

static const struct cmd cmds[] = {
	{ "sink", 1, 1 }, { "count", 1, 1 }, { "fwd", 3, 3 },
	{ "xlb", 4, 64 }, { "reasons", 1, 1 }, { "off", 1, 1 },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: xlb-bench-gw [--netns NS] [--flow-entries N] COMMAND ARGS\n"
		   "  sink DEV | count DEV | fwd IN OUT DMAC | reasons DEV | off DEV\n"
		   "  xlb IN[,IN...] nat|dsr udp|tcp/VIP:PORT BACKEND...\n");
}

static int run(const char *name, char **argv, int argc)
{
	if (!strcmp(name, "sink"))
		return cmd_sink(argv);
	if (!strcmp(name, "count"))
		return cmd_count(argv);
	if (!strcmp(name, "fwd"))
		return cmd_fwd(argv);
	if (!strcmp(name, "xlb"))
		return cmd_xlb(argv, argc);
	if (!strcmp(name, "reasons"))
		return cmd_reasons(argv);
	return cmd_off(argv);
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "netns", required_argument, NULL, 'N' },
		{ "flow-entries", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	size_t i;
	int ch, nargs;

	while ((ch = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
		if (ch == 'N') {
			netns = optarg;
		} else if (ch == 'F') {
			flow_entries = (uint32_t)strtoul(optarg, NULL, 10);
		} else {
			usage(ch == 'h' ? stdout : stderr);
			return ch == 'h' ? 0 : 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	nargs = argc - optind - 1;
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(cmds[i].name, argv[optind]))
			break;
	if (i == sizeof(cmds) / sizeof(cmds[0]) || nargs < cmds[i].min_args ||
	    nargs > cmds[i].max_args) {
		usage(stderr);
		return 2;
	}
	libbpf_set_print(libbpf_quiet);
	if (xb_netns_enter(netns))
		return 1;
	return run(cmds[i].name, argv + optind + 1, nargs) ? 1 : 0;
}
