// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "ev.h"

#define BATCH 64

int ev_loop_init(struct ev_loop *l)
{
	l->stop = false;
	l->closed = NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	return l->epfd < 0 ? -errno : 0;
}

static void release_closed(struct ev_loop *l)
{
	while (l->closed) {
		struct ev_source *s = l->closed;

		l->closed = s->next_closed;
		if (s->release)
			s->release(s);
	}
}

void ev_loop_fini(struct ev_loop *l)
{
	release_closed(l);
	if (l->epfd >= 0)
		close(l->epfd);
	l->epfd = -1;
}

static int ctl(struct ev_loop *l, int op, struct ev_source *s, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = s };

	return epoll_ctl(l->epfd, op, s->fd, &ev) ? -errno : 0;
}

int ev_add(struct ev_loop *l, struct ev_source *s, uint32_t events)
{
	s->closed = false;
	s->next_closed = NULL;
	return ctl(l, EPOLL_CTL_ADD, s, events);
}

int ev_mod(struct ev_loop *l, struct ev_source *s, uint32_t events)
{
	return ctl(l, EPOLL_CTL_MOD, s, events);
}

void ev_close(struct ev_loop *l, struct ev_source *s)
{
	if (s->closed)
		return;
	if (s->fd >= 0) {
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, s->fd, NULL);
		close(s->fd);
	}
	s->fd = -1;
	s->closed = true;
	s->next_closed = l->closed;
	l->closed = s;
}

void ev_unregister(struct ev_loop *l, struct ev_source *s)
{
	if (s->fd >= 0) {
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, s->fd, NULL);
		close(s->fd);
	}
	s->fd = -1;
	s->closed = true;
}

int ev_run(struct ev_loop *l)
{
	struct epoll_event evs[BATCH];
	int n, i;

	while (!l->stop) {
		n = epoll_wait(l->epfd, evs, BATCH, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (i = 0; i < n; i++) {
			struct ev_source *s = evs[i].data.ptr;

			if (!s->closed)
				s->on_event(s, evs[i].events);
		}
		release_closed(l);
	}
	return 0;
}

void ev_stop(struct ev_loop *l)
{
	l->stop = true;
}

uint64_t ev_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * EV_SEC + ts.tv_nsec;
}

int ev_timerfd(void)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static struct timespec ts_of(uint64_t ns)
{
	struct timespec ts = { .tv_sec = ns / EV_SEC, .tv_nsec = ns % EV_SEC };

	return ts;
}

int ev_timer_at(int tfd, uint64_t at)
{
	struct itimerspec its = { .it_value = ts_of(at) };

	return timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL) ? -errno : 0;
}

int ev_timer_every(int tfd, uint64_t period_ns)
{
	struct itimerspec its = { .it_value = ts_of(period_ns), .it_interval = ts_of(period_ns) };

	return timerfd_settime(tfd, 0, &its, NULL) ? -errno : 0;
}

void ev_timer_drain(int tfd)
{
	uint64_t expirations;

	if (read(tfd, &expirations, sizeof(expirations)) < 0)
		return; /* EAGAIN: nothing to drain */
}
