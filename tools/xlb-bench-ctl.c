// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * xlb-bench-ctl: control-plane figures (benchmark part 4), through libxlb on
 * a private copy of the datapath (nothing pinned, nothing attached).
 *
 *  - backend add: for a VIP that already has N-1 backends, the time of
 *    xlb_backend_add() for the N-th, at ring size M. The call returns once
 *    the new table is in its inner map and the VIP points at it (one map
 *    update); the datapath reads the VIP entry for every new flow, so the
 *    next one already uses the new table: this is the time from "backend
 *    add" to the datapath using the new table.
 *  - Maglev build alone: xlb_maglev_build() for N members at M.
 *  - memory: every map of the loaded datapath at the default sizes, as
 *    max_entries x (key + value) and as the kernel's own memlock accounting.
 *
 * Output: a table on stdout, and with --tsv FILE rows of two kinds:
 *   time  WHAT  N  MEDIAN  MIN  MAX          (milliseconds)
 *   map   NAME  ENTRIES  KEY  VALUE  ENTRIES*(KEY+VALUE)  MEMLOCK
 */
#include <getopt.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "libxlb.h"
#include "xbench.h"

#define MAX_SIZES 8

static unsigned long sizes[MAX_SIZES] = { 10, 100, 1000 };
static int n_sizes = 3;
static uint32_t ring = XLB_RING_DEFAULT;
static int reps = 5;
static FILE *tsv;

static double ms_since(double t0)
{
	return (xb_now() - t0) * 1e3;
}

static void backend_ep(unsigned int i, struct xlb_endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	ep->family = XLB_FAMILY_V4;
	/* 198.18.16.0/20: room for 4096 backends */
	ep->addr.v4 = htonl((198u << 24 | 18u << 16 | 16u << 8) + 2 + i);
}

static void vip_spec(struct xlb_vip_spec *spec, unsigned int k)
{
	struct xlb_addr a = { .v4 = htonl((198u << 24 | 19u << 16 | 1u << 8) + k) };

	memset(spec, 0, sizeof(*spec));
	xlb_vip_key_make(&spec->key, IPPROTO_TCP, XLB_FAMILY_V4, &a, 80);
	spec->sched = XLB_SCHED_MAGLEV;
	spec->mode = XLB_MODE_DSR;
	spec->ring_size = ring;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of n values (sorts them). */
static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Print and record median, min and max of n timings (sorts them). */
static void row(const char *what, unsigned long size, double *t, int n)
{
	double med = median(t, n);

	printf("  %-28s %6lu %10.3f %10.3f %10.3f ms\n", what, size, med, t[0], t[n - 1]);
	if (tsv)
		fprintf(tsv, "time\t%s\t%lu\t%.4f\t%.4f\t%.4f\n", what, size, med, t[0], t[n - 1]);
}

/* Fill a VIP with n - 1 backends (quietly: small ring, then resize), then
 * time adding the n-th, reps times (removing it again in between). */
static int time_backend_add(struct xlb *x, unsigned int k, unsigned long n)
{
	struct xlb_vip_spec spec;
	struct xlb_endpoint ep;
	double t[32], t0;
	unsigned int i;
	int r, err;

	vip_spec(&spec, k);
	spec.ring_size = n < 1000 ? 1009 : 4099;
	err = xlb_vip_add(x, &spec);
	for (i = 0; !err && i + 1 < n; i++) {
		backend_ep(i, &ep);
		err = xlb_backend_add(x, &spec.key, &ep, 1);
	}
	spec.ring_size = ring;
	if (!err)
		err = xlb_vip_set(x, &spec);
	backend_ep((unsigned int)n - 1, &ep);
	for (r = 0; !err && r < reps; r++) {
		t0 = xb_now();
		err = xlb_backend_add(x, &spec.key, &ep, 1);
		t[r] = ms_since(t0);
		if (!err)
			err = xlb_backend_del(x, &spec.key, &ep);
	}
	if (err) {
		fprintf(stderr, "xlb-bench-ctl: %s\n", xlb_errmsg());
		return err;
	}
	row("backend_add", n, t, reps);
	return xlb_vip_del(x, &spec.key);
}

static int time_maglev(unsigned long n)
{
	struct xlb_table_member *m = calloc(n, sizeof(*m));
	uint32_t *table = malloc((size_t)ring * sizeof(*table));
	double t[32], t0;
	unsigned int i;
	int r, err = 0;

	if (!m || !table) {
		free(m);
		free(table);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		m[i].id = i;
		m[i].weight = 1;
		backend_ep(i, &m[i].ep);
	}
	for (r = 0; !err && r < reps; r++) {
		t0 = xb_now();
		err = xlb_maglev_build(m, n, table, ring);
		t[r] = ms_since(t0);
	}
	if (!err)
		row("maglev_build", n, t, reps);
	free(m);
	free(table);
	return err;
}

/* "memlock: N" from /proc/self/fdinfo/FD: what the kernel charges the map. */
static long memlock_of(int fd)
{
	char path[64], line[128];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %ld", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* One map's line; adds to the totals. */
static void map_row(int fd, uint64_t *raw_total, uint64_t *lock_total)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	uint64_t raw;
	long lock;

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return;
	raw = (uint64_t)info.max_entries * (info.key_size + info.value_size);
	lock = memlock_of(fd);
	*raw_total += raw;
	*lock_total += lock > 0 ? (uint64_t)lock : 0;
	printf("  %-16s %10u %6u %6u %14lu %14ld\n", info.name, info.max_entries, info.key_size,
	       info.value_size, (unsigned long)raw, lock);
	if (tsv)
		fprintf(tsv, "map\t%s\t%u\t%u\t%u\t%lu\t%ld\n", info.name, info.max_entries,
			info.key_size, info.value_size, (unsigned long)raw, lock);
}

/* Every map the datapath program uses, at the default sizes (found through
 * the program, so a map added or merged later is counted too). */
static int memory(struct xlb *x)
{
	struct bpf_prog_info pinfo = {};
	__u32 ids[64], len = sizeof(pinfo), i;
	uint64_t raw_total = 0, lock_total = 0;
	int fd;

	pinfo.nr_map_ids = sizeof(ids) / sizeof(ids[0]);
	pinfo.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(xlb_prog_fd(x), &pinfo, &len))
		return -errno;
	printf("\n  %-16s %10s %6s %6s %14s %14s\n", "map", "entries", "key", "value",
	       "entries*(k+v)", "memlock");
	for (i = 0; i < pinfo.nr_map_ids && i < sizeof(ids) / sizeof(ids[0]); i++) {
		fd = bpf_map_get_fd_by_id(ids[i]);
		if (fd < 0)
			continue;
		map_row(fd, &raw_total, &lock_total);
		close(fd);
	}
	printf("  %-16s %10s %6s %6s %14lu %14lu\n", "total", "", "", "", (unsigned long)raw_total,
	       (unsigned long)lock_total);
	if (tsv)
		fprintf(tsv, "map\ttotal\t0\t0\t0\t%lu\t%lu\n", (unsigned long)raw_total,
			(unsigned long)lock_total);
	return 0;
}

/* One table of the default size, as a VIP with backends gets it. */
static int table_memory(struct xlb *x)
{
	struct xlb_vip_spec spec;
	struct xlb_endpoint ep;
	const struct xlb_vip_info *vi;
	int err;

	vip_spec(&spec, 999);
	spec.ring_size = XLB_RING_DEFAULT;
	backend_ep(0, &ep);
	err = xlb_vip_add(x, &spec);
	if (!err)
		err = xlb_backend_add(x, &spec.key, &ep, 1);
	vi = err ? NULL : xlb_vip_find(x, &spec.key);
	if (vi) {
		uint64_t bytes = (uint64_t)XLB_RING_DEFAULT * 8;

		printf("  %-16s %10u %6u %6u %14lu %14s  (per VIP, inner map)\n", "table", XLB_RING_DEFAULT,
		       4, 4, (unsigned long)bytes, "-");
		if (tsv)
			fprintf(tsv, "map\ttable_per_vip\t%u\t4\t4\t%lu\t-1\n", XLB_RING_DEFAULT,
				(unsigned long)bytes);
	}
	return err;
}

static int parse_list(const char *s)
{
	char *end;

	n_sizes = 0;
	while (*s && n_sizes < MAX_SIZES) {
		sizes[n_sizes++] = strtoul(s, &end, 10);
		if (end == s || (*end && *end != ','))
			return -1;
		s = *end ? end + 1 : end;
	}
	return n_sizes ? 0 : -1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: xlb-bench-ctl [--backends 10,100,1000] [--ring M] [--reps N] [--tsv FILE]\n");
}

static int parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "backends", required_argument, NULL, 'b' },
		{ "ring", required_argument, NULL, 'm' },
		{ "reps", required_argument, NULL, 'r' },
		{ "tsv", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "b:m:r:o:h", lo, NULL)) != -1) {
		if (ch == 'b' && !parse_list(optarg))
			continue;
		if (ch == 'm') {
			ring = (uint32_t)strtoul(optarg, NULL, 10);
		} else if (ch == 'r') {
			reps = atoi(optarg);
		} else if (ch == 'o') {
			tsv = fopen(optarg, "w");
			if (!tsv) {
				perror(optarg);
				return -1;
			}
		} else if (ch == 'h') {
			usage(stdout);
			exit(0);
		} else {
			return -1;
		}
	}
	return optind == argc && reps > 0 && reps <= 32 && xlb_is_prime(ring) ? 0 : -1;
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

int main(int argc, char **argv)
{
	struct xlb_open_opts o = { .no_pin = true };
	struct xlb *x;
	int i, err;

	if (parse_args(argc, argv)) {
		usage(stderr);
		return 2;
	}
	libbpf_set_print(libbpf_quiet);
	err = xlb_open(&x, &o);
	if (err) {
		fprintf(stderr, "xlb-bench-ctl: %s\n", xlb_errmsg());
		return 1;
	}
	printf("ring size %u, median of %d\n  %-28s %6s %10s %10s %10s\n", ring, reps, "what",
	       "N", "median", "min", "max");
	for (i = 0; !err && i < n_sizes; i++)
		err = time_maglev(sizes[i]);
	for (i = 0; !err && i < n_sizes; i++)
		err = time_backend_add(x, (unsigned int)i, sizes[i]);
	if (!err)
		err = memory(x);
	if (!err)
		err = table_memory(x);
	xlb_close(x);
	if (tsv && fclose(tsv))
		err = -EIO;
	return err ? 1 : 0;
}
