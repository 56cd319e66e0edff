// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Health probes (see probe.h).
 *
 * Where probes go: from the gateway's own network stack, as plain traffic,
 * to the backend's real address (and the check's port, if it overrides the
 * backend's). They never carry the VIP, so the XDP program sees only their
 * replies, which match no VIP and no NAT entry and are passed to the stack.
 * What that means per forwarding mode:
 *  - nat: the probe reaches the same address:port the datapath rewrites
 *    client traffic to, so it tests exactly the service clients get.
 *  - dsr: the backend serves the VIP on its loopback; the probe goes to its
 *    real address instead, so the service must also listen there (bind to
 *    0.0.0.0/::), or the check's port must point at one that does.
 *  - tunnel: the probe is not encapsulated; it tests the service and the
 *    route, not the backend's decapsulation.
 *
 * Scheduling: one timerfd for all probes, armed for the earliest of every
 * probe's next start or deadline, kept in a binary heap, so a thousand
 * backends cost a heap operation per event and nothing scans them all.
 * First probes are spread at random over one interval so a restart or a
 * large batch does not send them all in the same millisecond.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "probe.h"

#define TEXT_MAX 80
#define HTTP_HEAD_MAX 256 /* the status line must fit in it */
#define FD_WARN_EVERY (60 * EV_SEC)

enum probe_phase {
	PHASE_CONNECT, /* tcp/http: waiting for the connection */
	PHASE_RESPONSE, /* http: waiting for the status line; udp: for a reply */
};

struct target;

/* One probe in flight: its own allocation (not part of the target) so an
 * event still queued for a finished probe can never reach its successor. */
struct probe {
	struct ev_source src;
	struct prober *p;
	struct target *t; /* NULL once the probe is finished or cancelled */
	uint64_t started;
	enum probe_phase phase;
	char buf[HTTP_HEAD_MAX];
	size_t len;
};

struct target {
	struct xlb_vip_key vip;
	struct xlb_endpoint ep; /* the backend as configured */
	struct xlb_check_spec check;
	struct sockaddr_storage dst; /* where probes go */
	socklen_t dstlen;
	struct probe_status st;
	uint64_t next_due; /* start of the next probe */
	uint64_t deadline; /* of the probe in flight */
	struct probe *inflight;
	size_t heap_i;
	bool fresh; /* health state not yet read from the datapath */
	bool keep; /* prober_sync: still configured */
	bool pending; /* a health change decided, not yet in the datapath */
	bool pending_down;
	/* Flap damping: the downs since flap_since, within FLAP_WINDOW. */
	uint64_t flap_since;
	unsigned int downs;
};

struct prober {
	struct ev_loop *loop;
	struct xlb *x;
	struct ev_source timer;
	struct ev_source flush; /* writes the pending health changes */
	struct target **t; /* sorted by (VIP, backend) */
	size_t n;
	struct target **heap; /* same targets, earliest event first */
	size_t heap_n;
	uint64_t fd_warned; /* last "out of file descriptors" log */
};

/* ---- the heap ------------------------------------------------------------ */

static uint64_t when(const struct target *t)
{
	return t->inflight ? t->deadline : t->next_due;
}

static void heap_set(struct prober *p, size_t i, struct target *t)
{
	p->heap[i] = t;
	t->heap_i = i;
}

static void sift_up(struct prober *p, size_t i)
{
	struct target *t = p->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (when(p->heap[parent]) <= when(t))
			break;
		heap_set(p, i, p->heap[parent]);
		i = parent;
	}
	heap_set(p, i, t);
}

static void sift_down(struct prober *p, size_t i)
{
	struct target *t = p->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= p->heap_n)
			break;
		if (c + 1 < p->heap_n && when(p->heap[c + 1]) < when(p->heap[c]))
			c++;
		if (when(t) <= when(p->heap[c]))
			break;
		heap_set(p, i, p->heap[c]);
		i = c;
	}
	heap_set(p, i, t);
}

/* After t's event time changed. */
static void heap_fix(struct prober *p, struct target *t)
{
	sift_up(p, t->heap_i);
	sift_down(p, t->heap_i);
}

static void heap_build(struct prober *p)
{
	p->heap_n = p->n;
	for (size_t i = 0; i < p->n; i++)
		heap_set(p, i, p->t[i]);
	for (size_t i = p->n / 2; i-- > 0;)
		sift_down(p, i);
}

static void rearm(struct prober *p)
{
	int rc = ev_timer_at(p->timer.fd, p->heap_n ? when(p->heap[0]) : 0);

	if (rc)
		log_error("probe timer: %s", strerror(-rc));
}

/* ---- results and health state -------------------------------------------- */

static const char *vip_text(const struct target *t, char *buf)
{
	return xlb_vip_key_str(&t->vip, buf, TEXT_MAX);
}

static const char *ep_text(const struct target *t, char *buf)
{
	return xlb_endpoint_str(&t->ep, buf, TEXT_MAX);
}

/*
 * Flap damping. A backend that keeps failing and recovering (a crashing
 * service restarted by its supervisor, a flaky link) would otherwise move
 * its share of new flows back and forth every few probes. Each down within
 * FLAP_WINDOW_INTERVALS check intervals of the first one counts; from the
 * second on, coming back takes rise x 2^(downs - 1) successful probes, at
 * most rise x FLAP_MAX_FACTOR. A window that passes with no new down
 * starts afresh (docs/operations.md, "Health checks: flap damping").
 */
#define FLAP_WINDOW_INTERVALS 30
#define FLAP_MAX_FACTOR 8

static uint64_t flap_window(const struct target *t)
{
	return (uint64_t)FLAP_WINDOW_INTERVALS * t->check.interval_ms * EV_MS;
}

static bool flap_window_open(const struct target *t)
{
	return t->downs && ev_now() - t->flap_since <= flap_window(t);
}

static void count_down(struct target *t)
{
	if (!flap_window_open(t)) {
		t->downs = 0;
		t->flap_since = ev_now();
	}
	t->downs++;
}

/* Successful probes a down backend needs to come back up. */
static unsigned int rise_needed(const struct target *t)
{
	unsigned int factor = 1, i;

	if (!flap_window_open(t))
		return t->check.rise;
	for (i = 1; i < t->downs && factor < FLAP_MAX_FACTOR; i++)
		factor *= 2;
	return t->check.rise * factor;
}

static void health_changed(struct target *t, bool down)
{
	char v[TEXT_MAX], e[TEXT_MAX], damp[128] = "";
	unsigned int n = down ? t->st.fail_run : t->st.ok_run;

	t->st.down = down;
	t->st.changed_at = ev_now();
	if (down) {
		count_down(t);
		if (rise_needed(t) > t->check.rise)
			snprintf(damp, sizeof(damp),
				 "; flapping: %u downs in %llu s, needs %u successful probes to "
				 "come back", t->downs,
				 (unsigned long long)((ev_now() - t->flap_since) / EV_SEC),
				 rise_needed(t));
	}
	log_info("backend %s of %s %s (%u %s probe%s, last: %s)%s", ep_text(t, e),
		 vip_text(t, v), down ? "down" : "up", n, down ? "failed" : "successful",
		 n == 1 ? "" : "s", t->st.detail, damp);
}

/* Where the target's health is heading: a decided change counts before it
 * reaches the datapath, so results meanwhile are judged against it. */
static bool heading_down(const struct target *t)
{
	return t->pending ? t->pending_down : t->st.down;
}

/*
 * A change of health is decided here and written at the next turn of the
 * loop, with every other change decided in the same turn: one table build
 * per VIP for a burst (a rack going dark) where one build per backend
 * (~15 ms each at a thousand backends) held the loop for seconds and
 * delayed the very probes that detect the rest.
 */
static void set_health(struct prober *p, struct target *t, bool down)
{
	int rc;

	t->pending = down != t->st.down;
	t->pending_down = down;
	if (!t->pending)
		return;
	/* A time long past: readable at the next epoll_wait. */
	rc = ev_timer_at(p->flush.fd, 1);
	if (rc)
		log_error("health change timer: %s", strerror(-rc));
}

/* The pending changes of n targets of one VIP, in one change. */
static void flush_vip(struct prober *p, struct target **t, size_t n,
		      struct xlb_backend_health *h)
{
	char v[TEXT_MAX], e[TEXT_MAX];
	size_t k = 0;
	int rc;

	for (size_t i = 0; i < n; i++)
		if (t[i]->pending)
			h[k++] = (struct xlb_backend_health){ t[i]->ep, t[i]->pending_down };
	if (!k)
		return;
	rc = xlb_vip_set_health(p->x, &t[0]->vip, h, k);
	for (size_t i = 0; i < n; i++) {
		if (!t[i]->pending)
			continue;
		t[i]->pending = false;
		if (!rc) {
			health_changed(t[i], t[i]->pending_down);
			continue;
		}
		/* The runs keep counting, so the next probe decides again. */
		log_error("cannot mark backend %s of %s %s: %s", ep_text(t[i], e),
			  vip_text(t[i], v), t[i]->pending_down ? "down" : "up",
			  xlb_errmsg()[0] ? xlb_errmsg() : strerror(-rc));
	}
}

static void on_flush(struct ev_source *s, uint32_t events)
{
	struct prober *p = ev_container_of(s, struct prober, flush);
	struct xlb_backend_health *h = calloc(p->n + 1, sizeof(*h));
	size_t i, j;

	ev_timer_drain(s->fd);
	if (!h) {
		log_error("health changes delayed by a second: out of memory");
		ev_timer_at(s->fd, ev_now() + EV_SEC);
		return;
	}
	/* Targets are sorted by VIP: each run of one VIP is one change. */
	for (i = 0; i < p->n; i = j) {
		for (j = i + 1; j < p->n && !xlb_cfg_key_cmp(&p->t[j]->vip, &p->t[i]->vip); j++)
			;
		flush_vip(p, &p->t[i], j - i, h);
	}
	free(h);
}

const double probe_duration_bounds_s[PROBE_DURATION_BUCKETS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
};

static void count_result(struct probe_status *st, bool ok, uint64_t rtt)
{
	size_t b = 0;

	while (b < PROBE_DURATION_BUCKETS && rtt > probe_duration_bounds_s[b] * 1e9)
		b++;
	if (b < PROBE_DURATION_BUCKETS)
		st->duration_bucket[b]++;
	st->duration_sum_ns += rtt;
	if (ok)
		st->ok_total++;
	else
		st->fail_total++;
}

static void record(struct prober *p, struct target *t, bool ok, uint64_t rtt, const char *detail)
{
	char v[TEXT_MAX], e[TEXT_MAX];
	struct probe_status *st = &t->st;

	st->has_result = true;
	st->ok = ok;
	st->rtt_ns = rtt;
	st->at = ev_now();
	snprintf(st->detail, sizeof(st->detail), "%s", detail);
	count_result(st, ok, rtt);
	log_debug("probe %s of %s: %s (%.1f ms)", ep_text(t, e), vip_text(t, v), detail,
		  rtt / 1e6);
	if (ok) {
		st->fail_run = 0;
		st->ok_run++;
		if (heading_down(t) && st->ok_run >= rise_needed(t))
			set_health(p, t, false);
	} else {
		st->ok_run = 0;
		st->fail_run++;
		if (!heading_down(t) && st->fail_run >= t->check.fall)
			set_health(p, t, true);
	}
}

/* End the probe in flight: close its socket, count the result. */
static void finish(struct probe *pr, bool ok, const char *detail)
{
	struct target *t = pr->t;
	struct prober *p = pr->p;

	ev_close(p->loop, &pr->src);
	if (!t)
		return;
	pr->t = NULL;
	t->inflight = NULL;
	record(p, t, ok, ev_now() - pr->started, detail);
	heap_fix(p, t);
}

static void finish_errno(struct probe *pr, int err)
{
	const char *why;

	switch (err) {
	case ECONNREFUSED:
		why = pr->t && pr->t->check.type == XLB_CHECK_UDP ? "port unreachable"
								  : "connection refused";
		break;
	case ECONNRESET:
		why = "connection reset";
		break;
	case EHOSTUNREACH:
		why = "host unreachable";
		break;
	case ENETUNREACH:
		why = "network unreachable";
		break;
	case ETIMEDOUT:
		why = "timeout";
		break;
	default:
		why = strerror(err);
	}
	finish(pr, false, why);
}

/* ---- the probes ------------------------------------------------------------ */

static void http_request(const struct target *t, char *buf, size_t len)
{
	char host[300], a[TEXT_MAX];
	uint16_t port = t->check.port ? t->check.port : ntohs(t->ep.port);

	if (t->check.host[0]) {
		snprintf(host, sizeof(host), "%s", t->check.host);
	} else {
		xlb_addr_str(&t->ep.addr, t->ep.family, a, sizeof(a));
		snprintf(host, sizeof(host), t->ep.family == XLB_FAMILY_V6 ? "[%s]" : "%s", a);
		if (port != 80)
			snprintf(host + strlen(host), sizeof(host) - strlen(host), ":%u", port);
	}
	snprintf(buf, len,
		 "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: xlb-health\r\n"
		 "Connection: close\r\n\r\n",
		 t->check.path[0] ? t->check.path : "/", host);
}

/* The request is a few hundred bytes into an empty socket buffer: one
 * send always takes it whole, so there is no partial-write state. */
static int http_send(struct probe *pr)
{
	char req[700];
	size_t len;
	ssize_t n;

	http_request(pr->t, req, sizeof(req));
	len = strlen(req);
	n = send(pr->src.fd, req, len, MSG_NOSIGNAL);
	if (n < 0)
		return -errno;
	if ((size_t)n != len)
		return -EAGAIN;
	pr->phase = PHASE_RESPONSE;
	return ev_mod(pr->p->loop, &pr->src, EPOLLIN);
}

/* "HTTP/1.1 200 OK": the three digits after the first space. */
static int http_status(const char *line)
{
	const char *sp = strchr(line, ' ');

	if (strncmp(line, "HTTP/", 5) || !sp)
		return -1;
	if (sp[1] < '1' || sp[1] > '5' || sp[2] < '0' || sp[2] > '9' || sp[3] < '0' ||
	    sp[3] > '9')
		return -1;
	return (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
}

static void http_judge(struct probe *pr)
{
	char detail[96];
	int code;

	pr->buf[strcspn(pr->buf, "\r\n")] = '\0';
	code = http_status(pr->buf);
	if (code < 0) {
		snprintf(detail, sizeof(detail), "bad response '%.40s'", pr->buf);
		finish(pr, false, detail);
		return;
	}
	if (code == pr->t->check.expect) {
		snprintf(detail, sizeof(detail), "status %d", code);
		finish(pr, true, detail);
		return;
	}
	snprintf(detail, sizeof(detail), "status %d (expected %u)", code, pr->t->check.expect);
	finish(pr, false, detail);
}

static void http_read(struct probe *pr)
{
	ssize_t n = recv(pr->src.fd, pr->buf + pr->len, sizeof(pr->buf) - 1 - pr->len, 0);

	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			finish_errno(pr, errno);
		return;
	}
	pr->len += n;
	pr->buf[pr->len] = '\0';
	if (strchr(pr->buf, '\n') || (n == 0 && pr->len))
		http_judge(pr);
	else if (n == 0)
		finish(pr, false, "connection closed without a response");
	else if (pr->len == sizeof(pr->buf) - 1)
		http_judge(pr);
}

static void udp_read(struct probe *pr)
{
	char buf[512];
	ssize_t n = recv(pr->src.fd, buf, sizeof(buf), 0);

	if (n >= 0)
		finish(pr, true, "reply");
	else if (errno != EAGAIN && errno != EINTR)
		finish_errno(pr, errno);
}

static void connected(struct probe *pr)
{
	int rc;

	if (pr->t->check.type == XLB_CHECK_TCP) {
		finish(pr, true, "connected");
		return;
	}
	rc = http_send(pr);
	if (rc)
		finish_errno(pr, -rc);
}

static void on_connect(struct probe *pr)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(pr->src.fd, SOL_SOCKET, SO_ERROR, &err, &len))
		err = errno;
	if (err)
		finish_errno(pr, err);
	else
		connected(pr);
}

static void on_probe(struct ev_source *s, uint32_t events)
{
	struct probe *pr = ev_container_of(s, struct probe, src);

	if (!pr->t)
		return;
	if (pr->t->check.type == XLB_CHECK_UDP)
		udp_read(pr);
	else if (pr->phase == PHASE_CONNECT)
		on_connect(pr);
	else
		http_read(pr);
}

static void probe_release(struct ev_source *s)
{
	free(ev_container_of(s, struct probe, src));
}

/* TCP probes end with RST (linger 0), as HAProxy's do: the gateway would
 * otherwise hold a TIME_WAIT socket for every probe of every backend. */
static int probe_socket(const struct target *t)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int type = t->check.type == XLB_CHECK_UDP ? SOCK_DGRAM : SOCK_STREAM;
	int fd = socket(t->dst.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	return fd;
}

/* A probe that could not even start says nothing about the backend:
 * no result is counted, the next one is tried on schedule. */
static void skip(struct prober *p, struct target *t, int err)
{
	char e[TEXT_MAX];
	uint64_t now = ev_now();

	snprintf(t->st.detail, sizeof(t->st.detail), "not probed: %s", strerror(err));
	if (now - p->fd_warned >= FD_WARN_EVERY || !p->fd_warned) {
		p->fd_warned = now;
		log_warn("cannot probe %s: %s (raise the open files limit)", ep_text(t, e),
			 strerror(err));
	}
}

/* UDP: connect() only sets the peer; an ICMP port unreachable comes back
 * as ECONNREFUSED on the next recv, which is why the socket is connected. */
static int udp_start(struct probe *pr)
{
	const struct xlb_check_spec *c = &pr->t->check;
	const char *payload = c->payload[0] ? c->payload : "xlb-health";

	pr->phase = PHASE_RESPONSE;
	if (connect(pr->src.fd, (struct sockaddr *)&pr->t->dst, pr->t->dstlen))
		return -errno;
	if (send(pr->src.fd, payload, strlen(payload), MSG_NOSIGNAL) < 0)
		return -errno;
	return 0;
}

static int stream_start(struct probe *pr, bool *done)
{
	*done = false;
	pr->phase = PHASE_CONNECT;
	if (connect(pr->src.fd, (struct sockaddr *)&pr->t->dst, pr->t->dstlen) == 0) {
		*done = true; /* loopback can connect at once */
		return 0;
	}
	return errno == EINPROGRESS ? 0 : -errno;
}

static uint64_t spread(const struct xlb_check_spec *c, uint64_t now)
{
	return now + (uint64_t)(random() % c->interval_ms) * EV_MS;
}

/* On the target's own beat (due + interval), not "now + interval": after a
 * busy loop, now is late for every probe alike, and counting from it would
 * make them all start together from then on. A probe more than an interval
 * late is spread out again instead of being fired in a burst. */
static void schedule_next(struct target *t, uint64_t now)
{
	uint64_t interval = (uint64_t)t->check.interval_ms * EV_MS;

	t->next_due += interval;
	if (t->next_due <= now)
		t->next_due = spread(&t->check, now);
}

static void probe_start(struct prober *p, struct target *t)
{
	uint64_t now = ev_now();
	struct probe *pr;
	bool done = false;
	int fd, rc;

	schedule_next(t, now);
	t->deadline = now + (uint64_t)t->check.timeout_ms * EV_MS;
	pr = calloc(1, sizeof(*pr));
	fd = pr ? probe_socket(t) : -ENOMEM;
	if (fd < 0) {
		free(pr);
		skip(p, t, -fd);
		heap_fix(p, t);
		return;
	}
	pr->p = p;
	pr->t = t;
	pr->started = now;
	pr->src.fd = fd;
	pr->src.on_event = on_probe;
	pr->src.release = probe_release;
	t->inflight = pr;
	heap_fix(p, t);
	rc = ev_add(p->loop, &pr->src, t->check.type == XLB_CHECK_UDP ? EPOLLIN : EPOLLOUT);
	if (!rc)
		rc = t->check.type == XLB_CHECK_UDP ? udp_start(pr) : stream_start(pr, &done);
	if (rc)
		finish_errno(pr, -rc);
	else if (done)
		connected(pr);
}

static const char *timeout_detail(const struct probe *pr)
{
	if (pr->t->check.type == XLB_CHECK_UDP)
		return "no reply (timeout)";
	if (pr->phase == PHASE_CONNECT)
		return "connect timeout";
	return "timeout waiting for the response";
}

/* The deadline passed. The loop may have been busy (a large `show`): a
 * probe whose answer is already waiting is judged on it, not timed out. */
static void probe_expire(struct probe *pr)
{
	struct pollfd pfd = { .fd = pr->src.fd, .events = POLLIN | POLLOUT };

	if (poll(&pfd, 1, 0) == 1 && pfd.revents) {
		on_probe(&pr->src, pfd.revents);
		if (!pr->t)
			return;
	}
	finish(pr, false, timeout_detail(pr));
}

static void on_timer(struct ev_source *s, uint32_t events)
{
	struct prober *p = ev_container_of(s, struct prober, timer);
	uint64_t now = ev_now();

	ev_timer_drain(s->fd);
	while (p->heap_n && when(p->heap[0]) <= now) {
		struct target *t = p->heap[0];

		if (t->inflight)
			probe_expire(t->inflight);
		else
			probe_start(p, t);
	}
	rearm(p);
}

/* ---- targets and configuration ------------------------------------------- */

static int target_cmp(const struct xlb_vip_key *vip, const struct xlb_endpoint *ep,
		      const struct target *t)
{
	int r = xlb_cfg_key_cmp(vip, &t->vip);

	return r ? r : xlb_cfg_ep_cmp(ep, &t->ep);
}

static struct target *target_find(const struct prober *p, const struct xlb_vip_key *vip,
				  const struct xlb_endpoint *ep)
{
	size_t lo = 0, hi = p->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = target_cmp(vip, ep, p->t[mid]);

		if (!r)
			return p->t[mid];
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static void set_dst(struct target *t)
{
	__be16 port = t->check.port ? htons(t->check.port) : t->ep.port;

	memset(&t->dst, 0, sizeof(t->dst));
	if (t->ep.family == XLB_FAMILY_V4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&t->dst;

		sin->sin_family = AF_INET;
		sin->sin_port = port;
		sin->sin_addr.s_addr = t->ep.addr.v4;
		t->dstlen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&t->dst;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = port;
		memcpy(&sin6->sin6_addr, t->ep.addr.bytes, 16);
		t->dstlen = sizeof(*sin6);
	}
}

static void cancel(struct prober *p, struct target *t)
{
	if (!t->inflight)
		return;
	t->inflight->t = NULL;
	ev_close(p->loop, &t->inflight->src);
	t->inflight = NULL;
}

static struct target *target_new(const struct xlb_cfg_vip *v, const struct xlb_cfg_backend *b,
				 uint64_t now)
{
	struct target *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->vip = v->spec.key;
	t->ep = b->ep;
	t->check = v->check;
	t->fresh = true;
	set_dst(t);
	t->next_due = spread(&t->check, now);
	return t;
}

/* A new check for a probed backend: results under the old one say nothing
 * about the new one, so the runs restart; the health state stays. */
static void retune(struct prober *p, struct target *t, const struct xlb_check_spec *c,
		   uint64_t now)
{
	if (!memcmp(&t->check, c, sizeof(*c)))
		return;
	cancel(p, t);
	t->check = *c;
	set_dst(t);
	t->st.ok_run = t->st.fail_run = 0;
	t->next_due = spread(c, now);
}

static size_t probed_count(const struct xlb_cfg *cfg)
{
	size_t n = 0;

	for (size_t i = 0; i < cfg->n_vips; i++)
		if (cfg->vips[i].check.type != XLB_CHECK_NONE)
			n += cfg->vips[i].n_be;
	return n;
}

/* Targets in configuration order, which is the sorted order. */
static int collect(struct prober *p, const struct xlb_cfg *cfg, struct target **out, size_t *n)
{
	uint64_t now = ev_now();

	*n = 0;
	for (size_t i = 0; i < cfg->n_vips; i++) {
		const struct xlb_cfg_vip *v = &cfg->vips[i];

		if (v->check.type == XLB_CHECK_NONE)
			continue;
		for (size_t j = 0; j < v->n_be; j++) {
			struct target *t = target_find(p, &v->spec.key, &v->be[j].ep);

			if (t)
				retune(p, t, &v->check, now);
			else
				t = target_new(v, &v->be[j], now);
			if (!t)
				return -ENOMEM;
			t->keep = true;
			out[(*n)++] = t;
		}
	}
	return 0;
}

/* Free what collect() made and put the kept targets' marks back. */
static void collect_undo(struct target **nt, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		nt[i]->keep = false;
		if (nt[i]->fresh)
			free(nt[i]);
	}
}

struct health_fix {
	struct xlb_vip_key vip;
	struct xlb_endpoint ep;
	bool down;
};

/* What the datapath's health flags must change to: fresh targets take the
 * datapath's state (a restart keeps a down backend down until it rises);
 * known targets impose theirs (a VIP re-created for a mode change must not
 * forget its dead backends); unprobed backends are up. */
static size_t health_plan(struct prober *p, const struct xlb_cfg *cfg, struct health_fix *fix,
			  size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < cfg->n_vips; i++) {
		const struct xlb_vip_info *info = xlb_vip_find(p->x, &cfg->vips[i].spec.key);

		for (size_t j = 0; info && j < info->n_backends; j++) {
			const struct xlb_backend_info *bi = &info->backends[j];
			struct xlb_endpoint ep = bi->ep;
			struct target *t;

			if (!ep.port)
				ep.port = info->spec.key.port;
			ep.pad = 0;
			t = target_find(p, &info->spec.key, &ep);
			if (t && t->fresh)
				t->st.down = bi->down;
			else if (((t && t->st.down != bi->down) || (!t && bi->down)) &&
				 n < cap)
				fix[n++] = (struct health_fix){ info->spec.key, ep, t && t->st.down };
		}
	}
	return n;
}

/* The fixes of one VIP in one change. */
static void fix_vip(struct prober *p, const struct health_fix *fix, size_t n,
		    struct xlb_backend_health *h)
{
	char v[TEXT_MAX], e[TEXT_MAX];
	int rc;

	for (size_t i = 0; i < n; i++)
		h[i] = (struct xlb_backend_health){ fix[i].ep, fix[i].down };
	rc = xlb_vip_set_health(p->x, &fix[0].vip, h, n);
	xlb_vip_key_str(&fix[0].vip, v, sizeof(v));
	for (size_t i = 0; i < n; i++) {
		xlb_endpoint_str(&fix[i].ep, e, sizeof(e));
		if (rc)
			log_error("cannot mark backend %s of %s %s: %s", e, v,
				  fix[i].down ? "down" : "up", xlb_errmsg());
		else
			log_info("backend %s of %s %s (%s)", e, v, fix[i].down ? "down" : "up",
				 fix[i].down ? "still failing its health check"
					     : "not health checked");
	}
}

/* fix is in configuration order, so each VIP's fixes are together. */
static void health_apply(struct prober *p, const struct health_fix *fix, size_t n)
{
	struct xlb_backend_health *h = calloc(n + 1, sizeof(*h));
	size_t i, j;

	if (!h) {
		log_error("health flags not updated: out of memory");
		return;
	}
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && !xlb_cfg_key_cmp(&fix[j].vip, &fix[i].vip); j++)
			;
		fix_vip(p, &fix[i], j - i, h);
	}
	free(h);
}

/* Bring the datapath's health flags in line with the probes. */
static int reconcile(struct prober *p, const struct xlb_cfg *cfg)
{
	struct health_fix *fix = calloc(cfg->n_backends + 1, sizeof(*fix));
	size_t n;

	if (!fix)
		return -ENOMEM;
	/* Planned first, applied after: each change replaces the snapshot
	 * that xlb_vip_find() handed out. */
	n = health_plan(p, cfg, fix, cfg->n_backends + 1);
	health_apply(p, fix, n);
	free(fix);
	for (size_t i = 0; i < p->n; i++)
		p->t[i]->fresh = false;
	return 0;
}

int prober_sync(struct prober *p, const struct xlb_cfg *cfg)
{
	size_t want = probed_count(cfg), n = 0;
	struct target **nt = calloc(want + 1, sizeof(*nt));
	struct target **nheap = calloc(want + 1, sizeof(*nheap));
	int rc = nt && nheap ? collect(p, cfg, nt, &n) : -ENOMEM;

	if (rc) {
		if (nt)
			collect_undo(nt, n);
		free(nt);
		free(nheap);
		log_error("health checks not updated: out of memory");
		return rc;
	}
	for (size_t i = 0; i < p->n; i++) {
		if (p->t[i]->keep)
			continue;
		cancel(p, p->t[i]);
		free(p->t[i]);
	}
	free(p->t);
	free(p->heap);
	p->t = nt;
	p->n = n;
	p->heap = nheap;
	for (size_t i = 0; i < n; i++)
		nt[i]->keep = false;
	heap_build(p);
	rc = reconcile(p, cfg);
	rearm(p);
	return rc;
}

const struct probe_status *prober_status(const struct prober *p, const struct xlb_vip_key *vip,
					 const struct xlb_endpoint *ep)
{
	const struct target *t = target_find(p, vip, ep);

	return t ? &t->st : NULL;
}

static int timer_source(struct ev_loop *loop, struct ev_source *s, ev_fn fn)
{
	s->fd = ev_timerfd();
	if (s->fd < 0)
		return s->fd;
	s->on_event = fn;
	if (ev_add(loop, s, EPOLLIN)) {
		close(s->fd);
		return -1;
	}
	return 0;
}

struct prober *prober_new(struct ev_loop *loop, struct xlb *x)
{
	struct prober *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->loop = loop;
	p->x = x;
	if (timer_source(loop, &p->timer, on_timer)) {
		free(p);
		return NULL;
	}
	if (timer_source(loop, &p->flush, on_flush)) {
		ev_unregister(loop, &p->timer);
		free(p);
		return NULL;
	}
	return p;
}

void prober_free(struct prober *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		cancel(p, p->t[i]);
		free(p->t[i]);
	}
	free(p->t);
	free(p->heap);
	ev_unregister(p->loop, &p->timer);
	ev_unregister(p->loop, &p->flush);
	free(p);
}
