/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The control socket server: accepts connections, reads one request from
 * each (proto.h), hands it to the request handler and writes the framed
 * reply, without ever blocking the loop that also runs the probes.
 */
#ifndef XLBD_CTL_H
#define XLBD_CTL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ev.h"

struct ctl;

/*
 * Handle one request: line is its first line (NUL-terminated, no newline),
 * body what followed it. Print the payload to out; return 0 for "ok" or
 * -1 with the message in err.
 */
typedef int (*ctl_handler)(void *arg, const char *line, const char *body, size_t body_len,
			   FILE *out, char *err, size_t errlen);

/* Take the instance lock (PATH.lock): one daemon per socket. Returns the
 * held fd, or -errno with a message (another xlbd holds it: -EBUSY). */
int ctl_lock(const char *path, char *err, size_t errlen);
struct ctl *ctl_open(struct ev_loop *loop, const char *path, ctl_handler fn, void *arg,
		     char *err, size_t errlen);
/* Close every connection and remove the socket file. */
void ctl_close(struct ctl *c);
/* Drop clients that have not finished sending their request in time. */
void ctl_sweep(struct ctl *c, uint64_t now);

#endif /* XLBD_CTL_H */
