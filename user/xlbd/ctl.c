// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The control socket (protocol in proto.h).
 *
 * Each connection is a small state machine driven by epoll: read until the
 * client shuts down its side, handle, write the reply, close. Requests are
 * handled one at a time in the loop, so no two changes ever interleave.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "log.h"
#include "persist.h"
#include "proto.h"

/*
 * Connections served at once. More wait in the listen backlog, never reset:
 * xlbctl sends its whole request the moment it connects and reads its whole
 * reply at once, so a real client holds a slot for milliseconds and never
 * leaves a second without a byte moving. A client that does is dropped when
 * no byte has moved for STALL_TIMEOUT (it sends nothing, or does not read
 * its reply), when its request is not complete within REQUEST_TIMEOUT, or
 * its reply not read within REPLY_TIMEOUT. When every slot is taken and
 * someone waits, the longest-connected client with no byte moved for
 * EVICT_GRACE gives its slot up at once.
 */
#define MAX_CLIENTS 64
#define LISTEN_BACKLOG 1024
#define STALL_TIMEOUT (10 * EV_SEC)
#define REQUEST_TIMEOUT (30 * EV_SEC)
#define REPLY_TIMEOUT (300 * EV_SEC)
#define EVICT_GRACE (1 * EV_SEC)

struct client {
	struct ev_source src;
	struct ctl *ctl;
	struct client *prev, *next;
	char *in;
	size_t in_len, in_cap;
	bool too_big; /* past XLB_REQUEST_MAX: read and dropped until EOF */
	char *out;
	size_t out_len, out_off;
	bool writing;
	uint64_t since; /* connected */
	uint64_t moved; /* when bytes last went in either direction */
};

struct ctl {
	struct ev_loop *loop;
	struct ev_source listener;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	ctl_handler fn;
	void *arg;
	struct client *clients;
	unsigned int n_clients;
	bool paused; /* full, nobody to evict: the backlog holds the rest */
};

/* ---- connections ----------------------------------------------------------- */

/* Accepting again once a slot may be had (a client left, or time passed so
 * that one can be evicted). */
static void listener_resume(struct ctl *c)
{
	if (!c->paused)
		return;
	if (ev_mod(c->loop, &c->listener, EPOLLIN))
		log_warn("control socket: cannot listen again: %s", strerror(errno));
	else
		c->paused = false;
}

static void client_release(struct ev_source *s)
{
	struct client *cl = ev_container_of(s, struct client, src);

	free(cl->in);
	free(cl->out);
	free(cl);
}

static void client_close(struct client *cl)
{
	struct ctl *c = cl->ctl;

	if (cl->prev)
		cl->prev->next = cl->next;
	else
		c->clients = cl->next;
	if (cl->next)
		cl->next->prev = cl->prev;
	c->n_clients--;
	ev_close(c->loop, &cl->src);
	listener_resume(c);
}

/* Room for more input; past the limit the rest is read into a scratch
 * buffer and dropped, so the client can finish sending and get its answer. */
static char *in_room(struct client *cl, size_t *room)
{
	static char scratch[65536];
	size_t cap;
	char *p;

	if (cl->too_big) {
		*room = sizeof(scratch);
		return scratch;
	}
	if (cl->in_cap - cl->in_len < 4096) {
		cap = cl->in_cap ? cl->in_cap * 2 : 8192;
		p = realloc(cl->in, cap + 1);
		if (!p)
			return NULL;
		cl->in = p;
		cl->in_cap = cap;
	}
	*room = cl->in_cap - cl->in_len;
	return cl->in + cl->in_len;
}

/* 1 at EOF, 0 when more is to come, -1 on error. */
static int client_read(struct client *cl)
{
	for (;;) {
		size_t room;
		char *p = in_room(cl, &room);
		ssize_t n;

		if (!p)
			return -1;
		n = recv(cl->src.fd, p, room, 0);
		if (n == 0)
			return 1;
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		cl->moved = ev_now();
		if (cl->too_big)
			continue;
		cl->in_len += n;
		if (cl->in_len > XLB_REQUEST_MAX) {
			cl->too_big = true;
			free(cl->in);
			cl->in = NULL;
			cl->in_len = cl->in_cap = 0;
		}
	}
}

/* Messages are single lines: a newline would end the status line early. */
static void one_line(char *s)
{
	for (; *s; s++)
		if (*s == '\n' || *s == '\r')
			*s = ' ';
}

static void frame_error(FILE *f, char *msg)
{
	one_line(msg);
	fprintf(f, XLB_REPLY_ERROR "%s\n" XLB_REPLY_END, msg);
}

/* Run the handler and frame its answer. */
static void handle(struct client *cl, FILE *f)
{
	char err[1024] = "";
	char *payload = NULL, *line, *nl;
	size_t plen = 0, body_len = 0;
	const char *body = "";
	FILE *pf;
	int rc;

	if (cl->too_big) {
		snprintf(err, sizeof(err), "request too large (more than %u MiB)",
			 XLB_REQUEST_MAX >> 20);
		frame_error(f, err);
		return;
	}
	line = cl->in ? cl->in : (char *)"";
	if (cl->in)
		cl->in[cl->in_len] = '\0';
	nl = memchr(line, '\n', cl->in_len);
	if (nl) {
		*nl = '\0';
		body = nl + 1;
		body_len = cl->in_len - (body - line);
	}
	/* The handler sees a C string: what follows a NUL would be dropped
	 * unseen, and the cut statement applied. */
	if (strlen(line) < (size_t)((nl ? nl : line + cl->in_len) - line)) {
		snprintf(err, sizeof(err), "NUL byte in the statement at byte %zu (statements are "
			 "text)", strlen(line) + 1);
		frame_error(f, err);
		return;
	}
	pf = open_memstream(&payload, &plen);
	if (!pf) {
		snprintf(err, sizeof(err), "out of memory");
		frame_error(f, err);
		return;
	}
	rc = cl->ctl->fn(cl->ctl->arg, line, body, body_len, pf, err, sizeof(err));
	fclose(pf);
	if (rc) {
		frame_error(f, err[0] ? err : (char *)"request failed");
	} else {
		fputs(XLB_REPLY_OK "\n", f);
		fwrite(payload, 1, plen, f);
		if (plen && payload[plen - 1] != '\n')
			fputc('\n', f);
		fputs(XLB_REPLY_END, f);
	}
	free(payload);
}

/* 1 when everything is written, 0 when the socket is full, -1 on error. */
static int client_write(struct client *cl)
{
	while (cl->out_off < cl->out_len) {
		ssize_t n = send(cl->src.fd, cl->out + cl->out_off, cl->out_len - cl->out_off,
				 MSG_NOSIGNAL);

		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		cl->out_off += n;
		cl->moved = ev_now();
	}
	return 1;
}

static void client_respond(struct client *cl)
{
	FILE *f = open_memstream(&cl->out, &cl->out_len);

	if (!f) {
		client_close(cl);
		return;
	}
	handle(cl, f);
	fclose(f);
	free(cl->in);
	cl->in = NULL;
	cl->writing = true;
	cl->moved = ev_now();
	if (ev_mod(cl->ctl->loop, &cl->src, EPOLLOUT))
		client_close(cl);
}

static void on_client(struct ev_source *s, uint32_t events)
{
	struct client *cl = ev_container_of(s, struct client, src);
	int rc;

	if (!cl->writing) {
		rc = client_read(cl);
		if (rc < 0) {
			client_close(cl);
			return;
		}
		if (rc == 0)
			return;
		client_respond(cl);
		if (cl->src.closed)
			return;
	}
	rc = client_write(cl);
	if (rc != 0)
		client_close(cl);
}

/* Only the user xlbd runs as (root) may change the datapath; the socket's
 * mode says so already, this holds even if someone chmods it. */
static bool peer_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return false;
	return cred.uid == 0 || cred.uid == geteuid();
}

static void client_new(struct ctl *c, int fd)
{
	struct client *cl;

	if (!peer_allowed(fd)) {
		log_warn("control connection refused (not root)");
		close(fd);
		return;
	}
	cl = calloc(1, sizeof(*cl));
	if (!cl) {
		close(fd);
		return;
	}
	cl->ctl = c;
	cl->since = cl->moved = ev_now();
	cl->src.fd = fd;
	cl->src.on_event = on_client;
	cl->src.release = client_release;
	if (ev_add(c->loop, &cl->src, EPOLLIN)) {
		close(fd);
		free(cl);
		return;
	}
	cl->next = c->clients;
	if (c->clients)
		c->clients->prev = cl;
	c->clients = cl;
	c->n_clients++;
}

static bool fd_ready(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	return poll(&p, 1, 0) == 1 && p.revents;
}

/* A client holding its slot without using it for limit: sending nothing,
 * or not reading its reply. One whose bytes wait for the loop (a long
 * request ran before it) is not stalled. */
static bool client_stalled(const struct client *cl, uint64_t now, uint64_t limit)
{
	return now - cl->moved >= limit && !fd_ready(cl->src.fd, cl->writing ? POLLOUT : POLLIN);
}

/* Give the slot of the longest-connected idle client to one that waits. */
static bool evict_one(struct ctl *c)
{
	struct client *cl, *victim = NULL;
	uint64_t now = ev_now();

	for (cl = c->clients; cl; cl = cl->next)
		if (client_stalled(cl, now, EVICT_GRACE) && (!victim || cl->since < victim->since))
			victim = cl;
	if (!victim)
		return false;
	log_warn("control connection dropped: %s while all %d slots were taken and another "
		 "client waited", victim->writing ? "its reply unread" : "idle", MAX_CLIENTS);
	client_close(victim);
	return true;
}

/* Full, someone waits and nobody can be evicted: stop watching the
 * listener (it would fire at once again) until a slot frees up. */
static void listener_pause(struct ctl *c)
{
	if (!ev_mod(c->loop, &c->listener, 0))
		c->paused = true;
}

static void on_listener(struct ev_source *s, uint32_t events)
{
	struct ctl *c = ev_container_of(s, struct ctl, listener);

	for (;;) {
		int fd;

		if (c->n_clients >= MAX_CLIENTS) {
			if (!fd_ready(s->fd, POLLIN))
				return;
			if (!evict_one(c)) {
				listener_pause(c);
				return;
			}
		}
		fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("control socket accept: %s", strerror(errno));
			return;
		}
		client_new(c, fd);
	}
}

/* Why a client is dropped now, or NULL. */
static const char *client_expired(const struct client *cl, uint64_t now)
{
	if (client_stalled(cl, now, STALL_TIMEOUT))
		return cl->writing ? "no byte of its reply read for 10 s" : "nothing sent for 10 s";
	if (cl->writing && now - cl->since >= REPLY_TIMEOUT)
		return "reply not read within 300 s";
	if (!cl->writing && now - cl->since >= REQUEST_TIMEOUT)
		return "no complete request within 30 s";
	return NULL;
}

void ctl_sweep(struct ctl *c, uint64_t now)
{
	struct client *cl = c->clients, *next;
	const char *why;

	for (; cl; cl = next) {
		next = cl->next;
		why = client_expired(cl, now);
		if (!why)
			continue;
		log_warn("control connection dropped: %s", why);
		client_close(cl);
	}
	/* Time passed: a client may have become evictable. */
	listener_resume(c);
}

/* ---- the socket ---------------------------------------------------------- */

int ctl_lock(const char *path, char *err, size_t errlen)
{
	char lock[PATH_MAX];
	int fd, rc;

	snprintf(lock, sizeof(lock), "%s.lock", path);
	rc = persist_prepare_dir(path, "control socket", err, errlen);
	if (rc)
		return rc;
	/* The lock outlives each xlbd, so O_EXCL cannot be had; the checked
	 * directory and O_NOFOLLOW keep it from being anything but ours. */
	fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot open %s: %s%s", lock, strerror(errno),
			 errno == ELOOP ? " (a symbolic link: remove it)" : "");
		return rc;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		snprintf(err, errlen, "another xlbd is running on %s (it holds %s)", path, lock);
		close(fd);
		return rc;
	}
	return fd;
}

static int listen_on(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	mode_t old;
	int fd, rc;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "control socket: %s", strerror(errno));
		return rc;
	}
	/* Holding the instance lock means a socket file left here is stale. */
	unlink(path);
	/* Created 0600 from the start: no window in which others connect. */
	old = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun)) ? -errno : 0;
	umask(old);
	if (!rc && listen(fd, LISTEN_BACKLOG))
		rc = -errno;
	if (rc) {
		snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(-rc));
		close(fd);
		return rc;
	}
	return fd;
}

struct ctl *ctl_open(struct ev_loop *loop, const char *path, ctl_handler fn, void *arg,
		     char *err, size_t errlen)
{
	struct ctl *c;
	int fd;

	if (strlen(path) >= sizeof(c->path)) {
		snprintf(err, errlen, "socket path too long (max %zu bytes): %s",
			 sizeof(c->path) - 1, path);
		return NULL;
	}
	if (persist_prepare_dir(path, "control socket", err, errlen))
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	fd = listen_on(path, err, errlen);
	if (fd < 0) {
		free(c);
		return NULL;
	}
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->loop = loop;
	c->fn = fn;
	c->arg = arg;
	c->listener.fd = fd;
	c->listener.on_event = on_listener;
	if (ev_add(loop, &c->listener, EPOLLIN)) {
		snprintf(err, errlen, "control socket: %s", strerror(errno));
		close(fd);
		unlink(path);
		free(c);
		return NULL;
	}
	return c;
}

void ctl_close(struct ctl *c)
{
	if (!c)
		return;
	while (c->clients)
		client_close(c->clients);
	ev_unregister(c->loop, &c->listener);
	unlink(c->path);
	free(c);
}
