// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Neighbour entries for backends' next hops. XDP forwarding never confirms
 * a neighbour, and a fresh gateway with dsr or tunnel backends and no health
 * check never talks to them, so the FIB lookup in the datapath can find no
 * MAC (pass_no_neigh) and, in those modes, the kernel cannot help. A
 * "managed" neighbour entry (Linux >= 5.16) is resolved by the kernel as
 * soon as it is created and kept resolved from then on, which is exactly
 * what the datapath needs. The entries are made with iproute2 (`ip route
 * get` names the next hop and device), once per backend address.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "log.h"
#include "neigh.h"

extern char **environ;

/* Run argv (no shell), capture up to len-1 bytes of stdout; exit status or -1. */
static int run_capture(char *const argv[], char *out, size_t len)
{
	posix_spawn_file_actions_t fa;
	int pipefd[2], status = -1;
	size_t got = 0;
	ssize_t r;
	pid_t pid;

	if (pipe(pipefd))
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
	posix_spawn_file_actions_addclose(&fa, pipefd[0]);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", 0, 0);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ))
		pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	while (pid > 0 && (r = read(pipefd[0], out + got, len - 1 - got)) > 0)
		got += r;
	close(pipefd[0]);
	out[got] = '\0';
	if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status))
		return WEXITSTATUS(status);
	return -1;
}

/* From `ip route get` output: the next hop ("via X", else the address
 * itself) and the device ("dev Y"). */
static int parse_route(const char *route, const char *addr, char *nh, size_t nhlen,
		       char *dev, size_t devlen)
{
	const char *via = strstr(route, " via "), *d = strstr(route, " dev ");

	if (!d || sscanf(d, " dev %31s", dev) != 1 || devlen < 32)
		return -1;
	if (!via || sscanf(via, " via %63s", nh) != 1 || nhlen < 64)
		snprintf(nh, nhlen, "%s", addr);
	return 0;
}

/* An operator's static entry is left alone; anything else (a learnt entry
 * that will age, or a managed one that failed) is made managed again. */
static bool neigh_settled(char *nh, char *dev)
{
	char *show[] = { "ip", "neigh", "show", "to", nh, "dev", dev, NULL };
	char out[512];

	if (run_capture(show, out, sizeof(out)) != 0)
		return false;
	return strstr(out, "PERMANENT") || strstr(out, "NOARP");
}

static int manage_one(const struct xlb_endpoint *ep)
{
	char addr[INET6_ADDRSTRLEN], route[512], nh[64], dev[32];
	char *get[] = { "ip", "route", "get", addr, NULL };
	char *add[] = { "ip", "neigh", "replace", nh, "dev", dev, "managed", NULL };

	xlb_addr_str(&ep->addr, ep->family, addr, sizeof(addr));
	if (run_capture(get, route, sizeof(route)) != 0 ||
	    parse_route(route, addr, nh, sizeof(nh), dev, sizeof(dev))) {
		log_warn("no route to backend %s: the datapath cannot reach it until one exists",
			 addr);
		return -1;
	}
	if (neigh_settled(nh, dev))
		return 0;
	if (run_capture(add, route, sizeof(route)) != 0) {
		log_warn("could not keep a neighbour entry for %s (next hop of backend %s) on %s: "
			 "the datapath passes its packets to the kernel until it is resolved",
			 nh, addr, dev);
		return -1;
	}
	return 0;
}

static bool is_done(const struct neigh_keeper *k, const struct xlb_endpoint *ep)
{
	for (size_t i = 0; i < k->n; i++)
		if (k->done[i].family == ep->family &&
		    !memcmp(&k->done[i].addr, &ep->addr, sizeof(ep->addr)))
			return true;
	return false;
}

static void mark_done(struct neigh_keeper *k, const struct xlb_endpoint *ep)
{
	struct xlb_endpoint *grown;

	if (k->n == k->cap) {
		grown = realloc(k->done, (k->cap ? 2 * k->cap : 64) * sizeof(*grown));
		if (!grown)
			return; /* tried again at the next change */
		k->done = grown;
		k->cap = k->cap ? 2 * k->cap : 64;
	}
	k->done[k->n++] = *ep;
}

void neigh_sync(struct neigh_keeper *k, const struct xlb *x)
{
	for (size_t i = 0; i < xlb_vip_count(x); i++) {
		const struct xlb_vip_info *v = xlb_vip_at(x, i);

		for (size_t j = 0; j < v->n_backends; j++) {
			const struct xlb_endpoint *ep = &v->backends[j].ep;

			if (!is_done(k, ep) && !manage_one(ep))
				mark_done(k, ep);
		}
	}
}

void neigh_keeper_free(struct neigh_keeper *k)
{
	free(k->done);
	*k = (struct neigh_keeper){ 0 };
}

void neigh_watch(struct neigh_keeper *k, const struct xlb *x)
{
	uint64_t reasons[XLB_R_MAX];

	if (xlb_reason_counters(x, reasons))
		return;
	if (reasons[XLB_R_PASS_NO_NEIGH] == k->no_neigh_seen)
		return;
	k->no_neigh_seen = reasons[XLB_R_PASS_NO_NEIGH];
	k->n = 0;
	neigh_sync(k, x);
}
