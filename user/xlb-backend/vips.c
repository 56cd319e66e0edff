// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Where the VIP addresses are: they belong on lo, and nowhere else. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

static bool same_addr(const struct be_ifaddr *a, const struct be_vip *v)
{
	return a->family == v->family && !memcmp(&a->addr, &v->addr, sizeof(v->addr));
}

/* A VIP on DEV (or any interface but lo) makes the host answer ARP/ND for
 * it there and fight the load balancer for the address. */
int vips_precheck(const struct be_vip *vips, size_t n)
{
	struct be_ifaddr *list;
	unsigned int lo = if_nametoindex("lo");
	char ifname[IF_NAMESIZE], a[64];
	size_t cnt, i, j;
	int err;

	err = nl_addr_list(&list, &cnt);
	if (err)
		return err;
	for (i = 0; i < n && !err; i++) {
		for (j = 0; j < cnt; j++) {
			if (!same_addr(&list[j], &vips[i]) || list[j].ifindex == (int)lo)
				continue;
			if (!if_indextoname(list[j].ifindex, ifname))
				snprintf(ifname, sizeof(ifname), "#%d", list[j].ifindex);
			be_vip_str(&vips[i], a, sizeof(a));
			err = xlb_fail(EEXIST, "VIP %s is configured on %s (as %s/%u), so this host "
				       "would answer for it on the network: remove it there "
				       "('ip addr del %s/%u dev %s'); xlb-backend puts it on lo",
				       a, ifname, a, list[j].prefixlen, a, list[j].prefixlen,
				       ifname);
			break;
		}
	}
	free(list);
	return err;
}

int vip_on_lo(const struct be_vip *v, bool *on)
{
	struct be_ifaddr *list;
	unsigned int lo = if_nametoindex("lo");
	size_t cnt, j;
	int err;

	*on = false;
	err = nl_addr_list(&list, &cnt);
	if (err)
		return err;
	for (j = 0; j < cnt; j++)
		if (list[j].ifindex == (int)lo && same_addr(&list[j], v))
			*on = true;
	free(list);
	return 0;
}
