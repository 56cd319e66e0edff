// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The Prometheus endpoint (metrics.h). Two halves: the HTTP side, which
 * plugs libmicrohttpd's epoll fd and its timeout into xlbd's loop, and the
 * scrape, which writes every metric family once from the datapath's
 * snapshot (libxlb), the prober and the configuration.
 *
 * Naming follows Prometheus' conventions: an xlb_ prefix, base units
 * (bytes, seconds), _total on counters, one metric with a label where the
 * values are alternatives of one thing (state, reason, result).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <microhttpd.h>

#include "log.h"
#include "metrics.h"
#include "xlbd.h"

#ifndef XLB_VERSION
#define XLB_VERSION "unknown"
#endif

#define LISTEN_BACKLOG 16
/* A scraper or two, plus room for a curl by hand; more is not a scraper. */
#define CONNECTION_LIMIT 16
#define CONNECTION_TIMEOUT_S 10
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define LABEL_MAX 160
#define TEXT_MAX 80

struct metrics {
	struct xlbd *d;
	struct MHD_Daemon *mhd;
	struct ev_source io; /* a dup of libmicrohttpd's epoll fd */
	struct ev_source timer; /* its connection timeouts */
};

/* ---- the listening address ------------------------------------------------- */

static int port_parse(const char *s, uint16_t *port)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	v = strtoul(s, &end, 10);
	if (*end || v < 1 || v > 65535)
		return -EINVAL;
	*port = v;
	return 0;
}

/* Split "HOST:PORT", "[HOST6]:PORT", ":PORT" or "PORT" (host "" then). */
static int split(const char *s, char *host, size_t hostlen, const char **port)
{
	const char *colon;

	if (*s == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':' || (size_t)(rb - s - 1) >= hostlen)
			return -EINVAL;
		memcpy(host, s + 1, rb - s - 1);
		host[rb - s - 1] = '\0';
		*port = rb + 2;
		return 0;
	}
	colon = strrchr(s, ':');
	if (colon && strchr(s, ':') != colon)
		return -EINVAL; /* bare IPv6: needs brackets */
	*port = colon ? colon + 1 : s;
	if (!colon)
		colon = s;
	if ((size_t)(colon - s) >= hostlen)
		return -EINVAL;
	memcpy(host, s, colon - s);
	host[colon - s] = '\0';
	return 0;
}

int metrics_addr_parse(const char *s, struct metrics_addr *a, char *err, size_t errlen)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->ss;
	char host[INET6_ADDRSTRLEN + 1];
	const char *port_text;
	uint16_t port;

	memset(a, 0, sizeof(*a));
	if (split(s, host, sizeof(host), &port_text) || port_parse(port_text, &port)) {
		snprintf(err, errlen,
			 "bad --metrics '%s' (expected PORT, ADDR:PORT or [ADDR6]:PORT, e.g. "
			 "127.0.0.1:9742; the port 1-65535)", s);
		return -EINVAL;
	}
	if (!*host)
		snprintf(host, sizeof(host), "%s", METRICS_DEFAULT_ADDR);
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		a->len = sizeof(*in4);
		snprintf(a->text, sizeof(a->text), "%s:%u", host, port);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		a->len = sizeof(*in6);
		snprintf(a->text, sizeof(a->text), "[%s]:%u", host, port);
		return 0;
	}
	snprintf(err, errlen, "bad --metrics address '%s' in '%s' (expected an IPv4 or IPv6 "
			      "address; IPv6 in brackets)", host, s);
	return -EINVAL;
}

/* Our own socket rather than libmicrohttpd's: its start fails without
 * saying why, and "port in use" is the one an operator needs to hear. */
static int listen_on(const struct metrics_addr *a, char *err, size_t errlen)
{
	int one = 1, fd, e;

	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "metrics socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (!bind(fd, (const struct sockaddr *)&a->ss, a->len) && !listen(fd, LISTEN_BACKLOG))
		return fd;
	e = errno;
	close(fd);
	if (e == EADDRINUSE)
		snprintf(err, errlen, "metrics address %s is in use (another xlbd or exporter?): "
				      "choose another with --metrics ADDR:PORT", a->text);
	else if (e == EADDRNOTAVAIL)
		snprintf(err, errlen, "metrics address %s is not an address of this machine "
				      "(see ip addr)", a->text);
	else
		snprintf(err, errlen, "cannot listen on metrics address %s: %s", a->text,
			 strerror(e));
	return -1;
}

/* ---- the scrape -------------------------------------------------------------- */

/* One backend of one VIP, with what every family prints about it. Label
 * values are addresses, scheduler and mode names: nothing to escape. */
struct row {
	const struct xlb_vip_info *vip;
	const struct xlb_backend_info *be;
	char labels[LABEL_MAX]; /* vip="...",backend="..." */
	const struct probe_status *probe; /* NULL: not probed */
};

struct scrape {
	struct xlbd *d;
	FILE *f;
	struct row *rows;
	size_t n_rows;
	char (*vip_labels)[LABEL_MAX]; /* vip="...", per xlb_vip_at() index */
	size_t n_vips;
	uint32_t *flows; /* live flows per backend id; NULL if unknown */
};

static void family(struct scrape *s, const char *name, const char *type, const char *help)
{
	fprintf(s->f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void rows_fill(struct scrape *s)
{
	size_t r = 0;

	for (size_t i = 0; i < s->n_vips; i++) {
		const struct xlb_vip_info *v = xlb_vip_at(s->d->x, i);
		char k[TEXT_MAX], e[TEXT_MAX];

		xlb_vip_key_str(&v->spec.key, k, sizeof(k));
		snprintf(s->vip_labels[i], LABEL_MAX, "vip=\"%s\"", k);
		for (size_t j = 0; j < v->n_backends; j++, r++) {
			struct xlb_endpoint ep = v->backends[j].ep;

			if (!ep.port)
				ep.port = v->spec.key.port;
			s->rows[r].vip = v;
			s->rows[r].be = &v->backends[j];
			s->rows[r].probe = prober_status(s->d->prober, &v->spec.key, &ep);
			snprintf(s->rows[r].labels, LABEL_MAX, "vip=\"%s\",backend=\"%s\"", k,
				 xlb_endpoint_str(&ep, e, sizeof(e)));
		}
	}
	s->n_rows = r;
}

static int scrape_init(struct scrape *s, struct xlbd *d, FILE *f)
{
	size_t n = 0;

	memset(s, 0, sizeof(*s));
	s->d = d;
	s->f = f;
	s->n_vips = xlb_vip_count(d->x);
	for (size_t i = 0; i < s->n_vips; i++)
		n += xlb_vip_at(d->x, i)->n_backends;
	s->rows = calloc(n + 1, sizeof(*s->rows));
	s->vip_labels = calloc(s->n_vips + 1, sizeof(*s->vip_labels));
	if (!s->rows || !s->vip_labels)
		return -ENOMEM;
	rows_fill(s);
	return 0;
}

static void scrape_fini(struct scrape *s)
{
	free(s->rows);
	free(s->vip_labels);
	free(s->flows);
}

static void write_info(struct scrape *s)
{
	family(s, "xlb_build_info", "gauge", "xlbd's version, always 1.");
	fprintf(s->f, "xlb_build_info{version=\"%s\"} 1\n", XLB_VERSION);
	family(s, "xlb_config_generation", "gauge",
	       "Configurations committed since xlbd started (start-up included); moves on "
	       "every change.");
	fprintf(s->f, "xlb_config_generation %llu\n", (unsigned long long)s->d->generation);
	family(s, "xlb_vip_info", "gauge", "One per VIP, always 1: its scheduler and mode.");
	for (size_t i = 0; i < s->n_vips; i++) {
		const struct xlb_vip_spec *sp = &xlb_vip_at(s->d->x, i)->spec;

		fprintf(s->f, "xlb_vip_info{%s,sched=\"%s\",mode=\"%s\"} 1\n", s->vip_labels[i],
			xlb_sched_name(sp->sched), xlb_mode_name(sp->mode));
	}
}

/* Scale-out (announce.c): what this node announces for BGP. */
static void write_announced(struct scrape *s)
{
	family(s, "xlb_node_draining", "gauge",
	       "1 after 'node drain': no VIP route announced for BGP.");
	fprintf(s->f, "xlb_node_draining %d\n", s->d->cfg.node_drained ? 1 : 0);
	family(s, "xlb_vip_announced", "gauge",
	       "1 while this node announces the VIP's address for BGP (--route-table).");
	for (size_t i = 0; i < s->n_vips; i++)
		fprintf(s->f, "xlb_vip_announced{%s} %d\n", s->vip_labels[i],
			announce_has(&s->d->announce, &xlb_vip_at(s->d->x, i)->spec.key) ? 1 : 0);
}

static void write_vip_counters(struct scrape *s)
{
	struct xlb_counters *c = calloc(s->n_vips + 1, sizeof(*c));

	if (!c)
		return;
	for (size_t i = 0; i < s->n_vips; i++)
		xlb_vip_counters(s->d->x, xlb_vip_at(s->d->x, i)->id, &c[i]);
	family(s, "xlb_vip_packets_total", "counter",
	       "Packets from clients that the datapath sent on to the VIP's backends (replies "
	       "are not counted here; nat replies are reason nat_reply).");
	for (size_t i = 0; i < s->n_vips; i++)
		fprintf(s->f, "xlb_vip_packets_total{%s} %llu\n", s->vip_labels[i],
			(unsigned long long)c[i].packets);
	family(s, "xlb_vip_bytes_total", "counter",
	       "Bytes of those packets, whole frames as received.");
	for (size_t i = 0; i < s->n_vips; i++)
		fprintf(s->f, "xlb_vip_bytes_total{%s} %llu\n", s->vip_labels[i],
			(unsigned long long)c[i].bytes);
	free(c);
}

static void write_backend_counters(struct scrape *s)
{
	struct xlb_counters *c = calloc(s->n_rows + 1, sizeof(*c));

	if (!c)
		return;
	for (size_t r = 0; r < s->n_rows; r++)
		xlb_backend_counters(s->d->x, s->rows[r].be->id, &c[r]);
	family(s, "xlb_backend_packets_total", "counter",
	       "Packets from clients that the datapath sent on to the backend.");
	for (size_t r = 0; r < s->n_rows; r++)
		fprintf(s->f, "xlb_backend_packets_total{%s} %llu\n", s->rows[r].labels,
			(unsigned long long)c[r].packets);
	family(s, "xlb_backend_bytes_total", "counter",
	       "Bytes of those packets, whole frames as received.");
	for (size_t r = 0; r < s->n_rows; r++)
		fprintf(s->f, "xlb_backend_bytes_total{%s} %llu\n", s->rows[r].labels,
			(unsigned long long)c[r].bytes);
	free(c);
}

static const char *be_state(const struct xlb_backend_info *b)
{
	return b->down ? "down" : b->drain ? "draining" : "up";
}

static void write_backend_state(struct scrape *s)
{
	static const char *const states[] = { "up", "down", "draining" };

	family(s, "xlb_backend_state", "gauge",
	       "1 for the backend's state, 0 for the others: up (takes new flows), down "
	       "(failed its health check), draining (keeps its flows, takes no new ones).");
	for (size_t r = 0; r < s->n_rows; r++)
		for (size_t i = 0; i < 3; i++)
			fprintf(s->f, "xlb_backend_state{%s,state=\"%s\"} %d\n", s->rows[r].labels,
				states[i], !strcmp(states[i], be_state(s->rows[r].be)));
	family(s, "xlb_backend_weight", "gauge", "The backend's configured weight.");
	for (size_t r = 0; r < s->n_rows; r++)
		fprintf(s->f, "xlb_backend_weight{%s} %u\n", s->rows[r].labels,
			s->rows[r].be->weight);
	if (!s->flows)
		return;
	family(s, "xlb_backend_flows", "gauge",
	       "Flows in the flow table that the datapath still follows to the backend.");
	for (size_t r = 0; r < s->n_rows; r++)
		fprintf(s->f, "xlb_backend_flows{%s} %u\n", s->rows[r].labels,
			s->flows[s->rows[r].be->id]);
}

static void write_probe_results(struct scrape *s)
{
	family(s, "xlb_probe_results_total", "counter",
	       "Health probes of the backend that finished, by result (probed backends only).");
	for (size_t r = 0; r < s->n_rows; r++) {
		const struct probe_status *p = s->rows[r].probe;

		if (!p)
			continue;
		fprintf(s->f, "xlb_probe_results_total{%s,result=\"success\"} %llu\n",
			s->rows[r].labels, (unsigned long long)p->ok_total);
		fprintf(s->f, "xlb_probe_results_total{%s,result=\"failure\"} %llu\n",
			s->rows[r].labels, (unsigned long long)p->fail_total);
	}
}

/* The probe-duration histogram of one VIP: its backends' counts summed. */
static void write_histogram(struct scrape *s, size_t vip, const struct row *rows, size_t n)
{
	uint64_t bucket[PROBE_DURATION_BUCKETS] = { 0 }, sum_ns = 0, count = 0, cum = 0;
	const char *l = s->vip_labels[vip];

	for (size_t r = 0; r < n; r++) {
		const struct probe_status *p = rows[r].probe;

		if (!p)
			continue;
		for (size_t b = 0; b < PROBE_DURATION_BUCKETS; b++)
			bucket[b] += p->duration_bucket[b];
		sum_ns += p->duration_sum_ns;
		count += p->ok_total + p->fail_total;
	}
	for (size_t b = 0; b < PROBE_DURATION_BUCKETS; b++) {
		cum += bucket[b];
		fprintf(s->f, "xlb_probe_duration_seconds_bucket{%s,le=\"%g\"} %llu\n", l,
			probe_duration_bounds_s[b], (unsigned long long)cum);
	}
	fprintf(s->f, "xlb_probe_duration_seconds_bucket{%s,le=\"+Inf\"} %llu\n", l,
		(unsigned long long)count);
	fprintf(s->f, "xlb_probe_duration_seconds_sum{%s} %.9f\n", l, sum_ns / 1e9);
	fprintf(s->f, "xlb_probe_duration_seconds_count{%s} %llu\n", l, (unsigned long long)count);
}

/* Per VIP, not per backend: a dozen buckets for each of thousands of
 * backends would be most of the scrape. */
static void write_probe_durations(struct scrape *s)
{
	size_t r = 0;

	family(s, "xlb_probe_duration_seconds", "histogram",
	       "How long the VIP's health probes took (successes and failures; a failure by "
	       "timeout takes the timeout). Summed over the VIP's probed backends.");
	for (size_t i = 0; i < s->n_vips; i++) {
		const struct xlb_vip_info *v = xlb_vip_at(s->d->x, i);
		size_t start = r;

		r += v->n_backends;
		if (v->n_backends && s->rows[start].probe)
			write_histogram(s, i, &s->rows[start], r - start);
	}
}

static void write_reasons(struct scrape *s)
{
	uint64_t c[XLB_R_MAX];

	if (xlb_reason_counters(s->d->x, c))
		return;
	family(s, "xlb_reason_packets_total", "counter",
	       "Packets by what the datapath did with them and why (xlbctl stats' reasons): "
	       "tx and redirect were forwarded, pass_* went to the kernel, drop_* were "
	       "dropped; the informational ones (new_flow, flow_confirmed, nat_reply, ...) "
	       "count events among those packets.");
	for (int r = 0; r < XLB_R_MAX; r++)
		fprintf(s->f, "xlb_reason_packets_total{reason=\"%s\"} %llu\n", xlb_reason_name(r),
			(unsigned long long)c[r]);
}

/* The live flows per backend (walks the flow tables: xlb_backend_flows). */
static void backend_flows(struct scrape *s)
{
	s->flows = calloc(XLB_MAX_BACKENDS, sizeof(*s->flows));
	if (s->flows && !xlb_flow_counts(s->d->x, s->flows, XLB_MAX_BACKENDS))
		return;
	log_warn("metrics: flows per backend not read: %s", s->flows ? xlb_errmsg() : "no memory");
	free(s->flows);
	s->flows = NULL;
}

static void flow_table_row(struct scrape *s, const char *name, const char *table, uint64_t v)
{
	fprintf(s->f, "%s{table=\"%s\"} %llu\n", name, table, (unsigned long long)v);
}

/* Both flow tables: xlb_flows holds confirmed connections (nothing evicts
 * them), xlb_flows_new those in their handshake (sets of slots). */
static void write_flow_tables(struct scrape *s)
{
	struct xlb_flow_usage u;

	if (xlb_flow_usage(s->d->x, &u)) {
		log_warn("metrics: flow tables not read: %s", xlb_errmsg());
		return;
	}
	family(s, "xlb_flow_table_entries", "gauge",
	       "Entries in the flow tables: confirmed (handshake done; kept until closed or "
	       "idle) and unconfirmed (handshake in progress; the older of a full set taken over).");
	flow_table_row(s, "xlb_flow_table_entries", "confirmed", u.confirmed);
	flow_table_row(s, "xlb_flow_table_entries", "unconfirmed", u.unconfirmed);
	family(s, "xlb_flow_table_entries_limit", "gauge",
	       "Entries each flow table holds (xlbd's flow size options). A full confirmed "
	       "table leaves new connections unconfirmed (reason flow_table_full).");
	flow_table_row(s, "xlb_flow_table_entries_limit", "confirmed", u.confirmed_capacity);
	flow_table_row(s, "xlb_flow_table_entries_limit", "unconfirmed", u.unconfirmed_capacity);
	family(s, "xlb_flow_table_memory_bytes", "gauge",
	       "Kernel memory charged for each flow table.");
	flow_table_row(s, "xlb_flow_table_memory_bytes", "confirmed", u.confirmed_bytes);
	flow_table_row(s, "xlb_flow_table_memory_bytes", "unconfirmed", u.unconfirmed_bytes);
	flow_table_row(s, "xlb_flow_table_memory_bytes", "syn_marks", u.mark_bytes);
	family(s, "xlb_syn_marks", "gauge",
	       "Cells of xlb_flow_marks holding a live mark, of all cells (four per confirmed "
	       "entry): how full the filter that spares new connections (SYNs) the confirmed "
	       "table's lookup is.");
	fprintf(s->f, "xlb_syn_marks{state=\"live\"} %llu\n", (unsigned long long)u.marks_live);
	fprintf(s->f, "xlb_syn_marks{state=\"cells\"} %llu\n", (unsigned long long)u.mark_cells);
}

/* The limits the other maps were made with (xlbd --max-vips, ...). */
static void write_limits(struct scrape *s)
{
	struct xlb_limits l;

	xlb_limits_get(s->d->x, &l);
	family(s, "xlb_datapath_entries", "gauge",
	       "VIPs and backend slots in use in the datapath's maps.");
	flow_table_row(s, "xlb_datapath_entries", "vips", l.vips);
	flow_table_row(s, "xlb_datapath_entries", "backends", l.backends);
	family(s, "xlb_datapath_entries_limit", "gauge",
	       "VIPs, backend slots and per-CPU client next-hop cache slots the maps hold "
	       "(xlbd --max-vips, --max-backends, --nexthop-cache).");
	flow_table_row(s, "xlb_datapath_entries_limit", "vips", l.max_vips);
	flow_table_row(s, "xlb_datapath_entries_limit", "backends", l.max_backends);
	flow_table_row(s, "xlb_datapath_entries_limit", "nexthop_cache", l.nexthop_cache);
	family(s, "xlb_datapath_memory_bytes", "gauge",
	       "Kernel memory charged for the maps each limit sizes, and for the counters.");
	flow_table_row(s, "xlb_datapath_memory_bytes", "vips", l.vip_bytes);
	flow_table_row(s, "xlb_datapath_memory_bytes", "backends", l.backend_bytes);
	flow_table_row(s, "xlb_datapath_memory_bytes", "nexthop_cache", l.nexthop_bytes);
	flow_table_row(s, "xlb_datapath_memory_bytes", "counters", l.stats_bytes);
}

void metrics_write(struct xlbd *d, FILE *f)
{
	struct scrape s;

	if (scrape_init(&s, d, f)) {
		scrape_fini(&s);
		log_warn("metrics: out of memory for a scrape");
		return;
	}
	backend_flows(&s);
	write_info(&s);
	write_vip_counters(&s);
	write_announced(&s);
	write_backend_counters(&s);
	write_backend_state(&s);
	write_probe_results(&s);
	write_probe_durations(&s);
	write_reasons(&s);
	write_flow_tables(&s);
	write_limits(&s);
	scrape_fini(&s);
}

/* ---- HTTP ---------------------------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int status, char *body,
			     size_t len, const char *type)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result rc;

	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned int status, const char *text)
{
	char *body = strdup(text);

	return body ? reply(c, status, body, strlen(body), "text/plain; charset=utf-8") : MHD_NO;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct metrics *m = cls;
	char *body = NULL;
	size_t len = 0;
	FILE *f;

	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
	if (!strcmp(url, "/"))
		return reply_text(c, MHD_HTTP_OK, "xlbd: the metrics are at /metrics\n");
	if (strcmp(url, "/metrics"))
		return reply_text(c, MHD_HTTP_NOT_FOUND, "not found: the metrics are at /metrics\n");
	f = open_memstream(&body, &len);
	if (!f)
		return MHD_NO;
	metrics_write(m->d, f);
	if (fclose(f)) {
		free(body);
		return MHD_NO;
	}
	return reply(c, MHD_HTTP_OK, body, len, CONTENT_TYPE);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_warn("metrics: %s", msg);
}

/* After every run: wake up again when libmicrohttpd's next timeout is due. */
static void run_mhd(struct metrics *m)
{
	MHD_UNSIGNED_LONG_LONG ms;

	MHD_run(m->mhd);
	if (MHD_get_timeout(m->mhd, &ms) == MHD_YES)
		ev_timer_at(m->timer.fd, ev_now() + ms * EV_MS + 1);
	else
		ev_timer_at(m->timer.fd, 0);
}

static void on_io(struct ev_source *s, uint32_t events)
{
	run_mhd(ev_container_of(s, struct metrics, io));
}

static void on_timer(struct ev_source *s, uint32_t events)
{
	ev_timer_drain(s->fd);
	run_mhd(ev_container_of(s, struct metrics, timer));
}

static int sources_add(struct metrics *m, char *err, size_t errlen)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	int rc;

	/* A dup: the loop closes its sources' fds, libmicrohttpd its own. */
	m->io.fd = info ? fcntl(info->epoll_fd, F_DUPFD_CLOEXEC, 0) : -1;
	m->io.on_event = on_io;
	m->timer.fd = ev_timerfd();
	m->timer.on_event = on_timer;
	if (m->io.fd < 0 || m->timer.fd < 0) {
		snprintf(err, errlen, "metrics: setting up the event sources failed");
		return -1;
	}
	rc = ev_add(&m->d->loop, &m->io, EPOLLIN);
	if (!rc)
		rc = ev_add(&m->d->loop, &m->timer, EPOLLIN);
	if (rc)
		snprintf(err, errlen, "metrics: adding to the event loop: %s", strerror(-rc));
	return rc ? -1 : 0;
}

struct metrics *metrics_open(struct xlbd *d, const struct metrics_addr *a, char *err,
			     size_t errlen)
{
	struct metrics *m = calloc(1, sizeof(*m));
	int fd;

	if (!m) {
		snprintf(err, errlen, "metrics: out of memory");
		return NULL;
	}
	m->d = d;
	m->io.fd = m->timer.fd = -1;
	fd = listen_on(a, err, errlen);
	if (fd < 0)
		goto fail;
	/* The logger first: libmicrohttpd prints to stderr until it has one. */
	m->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, m,
				  MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				  MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
				  (unsigned int)CONNECTION_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
				  (unsigned int)CONNECTION_TIMEOUT_S, MHD_OPTION_END);
	if (!m->mhd) {
		close(fd);
		snprintf(err, errlen, "metrics: libmicrohttpd did not start on %s", a->text);
		goto fail;
	}
	if (sources_add(m, err, errlen))
		goto fail;
	log_info("metrics: serving Prometheus metrics on http://%s/metrics", a->text);
	return m;
fail:
	metrics_close(m);
	return NULL;
}

void metrics_close(struct metrics *m)
{
	if (!m)
		return;
	ev_unregister(&m->d->loop, &m->io);
	ev_unregister(&m->d->loop, &m->timer);
	if (m->mhd)
		MHD_stop_daemon(m->mhd);
	free(m);
}
