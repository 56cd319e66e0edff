// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The sysctls a backend needs. /proc/sys/net is resolved against the
 * network namespace of the process that opens it, so run inside a backend's
 * namespace these touch that namespace only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"

static int sysctl_open(const char *path, int flags, char *full, size_t len)
{
	int fd;

	snprintf(full, len, "/proc/sys/%s", path);
	fd = open(full, flags | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return fd;
}

int sysctl_read(const char *path, char *val, size_t len)
{
	char full[PATH_MAX], name[128];
	ssize_t n;
	int fd;

	fd = sysctl_open(path, O_RDONLY, full, sizeof(full));
	if (fd < 0)
		return xlb_fail(-fd, "reading %s (%s) failed: %s", sysctl_name(path, name, sizeof(name)),
				full, strerror(-fd));
	n = read(fd, val, len - 1);
	close(fd);
	if (n < 0)
		return xlb_fail(errno, "reading %s failed: %s", full, strerror(errno));
	val[n] = '\0';
	val[strcspn(val, "\n")] = '\0';
	return 0;
}

int sysctl_write(const char *path, const char *val)
{
	char full[PATH_MAX], name[128];
	size_t len = strlen(val);
	ssize_t n;
	int fd;

	sysctl_name(path, name, sizeof(name));
	fd = sysctl_open(path, O_WRONLY, full, sizeof(full));
	if (fd < 0)
		return xlb_fail(-fd, "setting %s=%s failed: %s (%s; run as root in the backend's "
				"network namespace)", name, val, strerror(-fd), full);
	n = write(fd, val, len);
	if (n < 0) {
		int err = errno;

		close(fd);
		return xlb_fail(err, "setting %s=%s failed: %s", name, val, strerror(err));
	}
	close(fd);
	return 0;
}

/* Slashes become dots; a dot inside a device name ("eth0.100") stays, which
 * is how the name reads in messages (sysctl(8) itself would want a slash). */
const char *sysctl_name(const char *path, char *buf, size_t len)
{
	size_t i;

	snprintf(buf, len, "%s", path);
	for (i = 0; buf[i]; i++)
		if (buf[i] == '/')
			buf[i] = '.';
	return buf;
}

static void wanted_push(struct be_sysctl *out, size_t *n, size_t max, const char *dev,
			const char *knob, const char *val)
{
	if (*n >= max)
		return;
	memset(&out[*n], 0, sizeof(out[*n]));
	snprintf(out[*n].path, sizeof(out[*n].path), "net/ipv4/conf/%s/%s", dev, knob);
	snprintf(out[*n].set, sizeof(out[*n].set), "%s", val);
	(*n)++;
}

static bool has_v4(const struct be_state *st)
{
	size_t i;

	for (i = 0; i < st->n_vips; i++)
		if (st->vips[i].family == XLB_FAMILY_V4)
			return true;
	return false;
}

/*
 * arp_ignore=1: answer ARP only for addresses of the interface asked on,
 * so a VIP on lo is never claimed on DEV. arp_announce=2: never use lo's VIP
 * as the source of our own ARP requests. The kernel takes the larger of
 * "all" and the device's value for both, so both are set.
 * rp_filter=2 (loose): the decap program hands the stack packets from the
 * client's address arriving on DEV, which a strict filter drops whenever the
 * route back to the client leaves by another interface.
 */
size_t sysctl_wanted(const struct be_state *st, struct be_sysctl *out, size_t max)
{
	const char *devs[2] = { "all", st->dev };
	size_t n = 0;
	int i;

	for (i = 0; i < 2 && has_v4(st); i++) {
		wanted_push(out, &n, max, devs[i], "arp_ignore", "1");
		wanted_push(out, &n, max, devs[i], "arp_announce", "2");
	}
	for (i = 0; i < 2 && st->mode == BE_MODE_TUNNEL; i++)
		wanted_push(out, &n, max, devs[i], "rp_filter", "2");
	return n;
}
