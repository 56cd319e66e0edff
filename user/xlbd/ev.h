/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The daemon's one event loop: epoll over every fd xlbd waits on (control
 * socket, its clients, probe sockets, timers, signals).
 *
 * A source closed while epoll_wait's batch is being dispatched may still
 * have an event further down that batch. ev_close() therefore only marks
 * and unregisters it; its release callback (which frees it) runs after the
 * batch, and events for closed sources are skipped.
 */
#ifndef XLBD_EV_H
#define XLBD_EV_H

#include <stdbool.h>
#include <stdint.h>

struct ev_source;

typedef void (*ev_fn)(struct ev_source *s, uint32_t events);
typedef void (*ev_release_fn)(struct ev_source *s);

struct ev_source {
	int fd;
	ev_fn on_event;
	ev_release_fn release; /* NULL: nothing to free */
	bool closed;
	struct ev_source *next_closed;
};

struct ev_loop {
	int epfd;
	bool stop;
	struct ev_source *closed; /* released after the current batch */
};

int ev_loop_init(struct ev_loop *l);
void ev_loop_fini(struct ev_loop *l);
/* Register s->fd. Returns 0 or -errno. */
int ev_add(struct ev_loop *l, struct ev_source *s, uint32_t events);
int ev_mod(struct ev_loop *l, struct ev_source *s, uint32_t events);
/* Unregister and close s->fd; s->release(s) runs after the batch. */
void ev_close(struct ev_loop *l, struct ev_source *s);
/* Unregister and close s->fd now, no release: for an owner tearing itself
 * down outside of dispatch (at exit). */
void ev_unregister(struct ev_loop *l, struct ev_source *s);
/* Dispatch until ev_stop(). Returns 0 or -errno from epoll_wait. */
int ev_run(struct ev_loop *l);
void ev_stop(struct ev_loop *l);

/* CLOCK_MONOTONIC in nanoseconds: the clock of every timer and deadline. */
uint64_t ev_now(void);
/* A non-blocking CLOCK_MONOTONIC timerfd. */
int ev_timerfd(void);
/* Fire once at the absolute monotonic time at (0: disarm). */
int ev_timer_at(int tfd, uint64_t at);
/* Fire every period_ns, first after period_ns. */
int ev_timer_every(int tfd, uint64_t period_ns);
/* Consume a timerfd's expiry count so it stops being readable. */
void ev_timer_drain(int tfd);

#include <stddef.h>

#define ev_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#define EV_MS 1000000ull
#define EV_SEC 1000000000ull

#endif /* XLBD_EV_H */
