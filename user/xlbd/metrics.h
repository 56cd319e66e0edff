/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * `xlbd --metrics ADDR:PORT`: the Prometheus text format on
 * http://ADDR:PORT/metrics, served by libmicrohttpd from xlbd's own event
 * loop (its epoll fd is one of the loop's sources), so a scrape reads the
 * configuration and the libxlb handle like any request: no thread, no lock.
 *
 * Off unless --metrics is given. "PORT" or ":PORT" alone binds 127.0.0.1:
 * counters and addresses are not for every network the gateway sits on;
 * exposing them is an explicit "--metrics 0.0.0.0:PORT" (or an address).
 */
#ifndef XLBD_METRICS_H
#define XLBD_METRICS_H

#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

#define METRICS_DEFAULT_ADDR "127.0.0.1"

struct xlbd;
struct metrics;

struct metrics_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[64]; /* as logged: 127.0.0.1:9742, [::1]:9742 */
};

/* "PORT", ":PORT", "ADDR:PORT" or "[ADDR6]:PORT". Returns 0 or -EINVAL
 * with err naming the problem. */
int metrics_addr_parse(const char *s, struct metrics_addr *a, char *err, size_t errlen);

/* Bind and listen now (so a port in use fails the start), serve from d's
 * loop once it runs. NULL with err set on failure. */
struct metrics *metrics_open(struct xlbd *d, const struct metrics_addr *a, char *err,
			     size_t errlen);
void metrics_close(struct metrics *m);

/* One scrape's text into f (tests, benchmarks: the HTTP body). */
void metrics_write(struct xlbd *d, FILE *f);

#endif /* XLBD_METRICS_H */
