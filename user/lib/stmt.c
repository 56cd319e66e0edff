// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The statement grammar of xlb.conf(5), both ways: text to struct
 * xlb_stmt (config files, the control socket, xlbctl) and back to the one
 * canonical text that `save` prints.
 *
 * One table of commands drives both directions, and every option of a
 * statement is a row of a small table, so an error can always list what
 * would have been accepted at that point.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keywords.h"
#include "stmt.h"

#define STR_(x) #x
#define STR(x) STR_(x)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define WEIGHT_DEFAULT 1
#define HTTP_PATH_DEFAULT "/"
#define HTTP_EXPECT_DEFAULT 200
/* One token: the grammar has no quoting, so the payload cannot hold spaces. */
#define UDP_PAYLOAD_DEFAULT "xlb-health"
#define DURATION_MAX_MS (60u * 60u * 1000u)
#define CHECK_COUNT_MAX 100

#define VIP_EXPECTED "PROTO/ADDR:PORT, e.g. tcp/198.18.1.10:80"
#define BACKEND_EXPECTED "ADDR[:PORT], e.g. 198.18.2.11:8080 or [fd00::11]:8080"
#define CLIENT_EXPECTED "CLIENT[:PORT], e.g. 198.18.0.2:40000 or [fd00::2]:40000"

struct parser {
	char buf[XLB_STMT_MAX_LEN + 1]; /* the line, cut into words in place */
	char *pos; /* first byte not yet read */
	struct xlb_stmt *st;
	bool timeout_given;
};

/* The message goes to xlb_errmsg(); p stays so that every rule reads
 * perr(p, ...) whatever the parser state comes to hold. */
static int __attribute__((format(printf, 2, 3)))
perr(struct parser *p, const char *fmt, ...)
{
	char msg[XLB_MSG_LEN];
	va_list ap;

	(void)p;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return xlb_fail(EINVAL, "%s", msg);
}

/* ---- words ------------------------------------------------------------ */

static int parser_load(struct parser *p, const char *line)
{
	size_t len = strnlen(line, XLB_STMT_MAX_LEN + 1);
	char *hash;

	/* Checked before anything is copied: a runaway line (a binary file
	 * fed to apply) costs no more than a normal one. */
	if (len > XLB_STMT_MAX_LEN)
		return perr(p, "line too long (max %d bytes)", XLB_STMT_MAX_LEN);
	memcpy(p->buf, line, len);
	p->buf[len] = '\0';
	hash = strchr(p->buf, '#');
	if (hash)
		*hash = '\0';
	p->pos = p->buf;
	return 0;
}

/* The next whitespace-separated word, or NULL at the end of the line. */
static char *next_word(struct parser *p)
{
	char *start;

	while (*p->pos && isspace((unsigned char)*p->pos))
		p->pos++;
	if (!*p->pos)
		return NULL;
	start = p->pos;
	while (*p->pos && !isspace((unsigned char)*p->pos))
		p->pos++;
	if (*p->pos)
		*p->pos++ = '\0';
	return start;
}

static int parse_end(struct parser *p)
{
	const char *word = next_word(p);

	if (word)
		return perr(p, "unexpected '%s' after statement", word);
	return 0;
}

/* ", "-separated list of names, for the "(expected ...)" part of a message. */
static void list_add(char *buf, size_t len, const char *name)
{
	size_t used = strnlen(buf, len);

	if (used < len)
		snprintf(buf + used, len - used, "%s%s", used ? ", " : "", name);
}

/* ---- numbers and durations ------------------------------------------- */

/* Decimal only, sign allowed so "-1" is reported as out of range rather
 * than as a non-number. Returns 0, -EINVAL (not a number) or -ERANGE. */
static int number_scan(const char *s, long long min, long long max, long long *out)
{
	const char *digits = s[0] == '-' ? s + 1 : s;
	char *end;
	long long v;

	if (!isdigit((unsigned char)digits[0]))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static int parse_number(struct parser *p, const char *name, const char *hint,
			const char *s, long long min, long long max, long long *out)
{
	int rc = number_scan(s, min, max, out);

	if (rc == -EINVAL)
		return perr(p, "bad %s '%s' (expected %s)", name, s, hint);
	if (rc == -ERANGE)
		return perr(p, "%s %s out of range (%lld-%lld)", name, s, min, max);
	return 0;
}

static const struct {
	const char *suffix;
	uint32_t ms;
} duration_units[] = {
	{ "ms", 1 },
	{ "s", 1000 },
	{ "m", 60 * 1000 },
};

/* Returns 0, -EINVAL (syntax) or -ERANGE (outside 1ms..1h). */
static int duration_scan(const char *s, uint32_t *ms)
{
	unsigned long long v;
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	for (size_t i = 0; i < ARRAY_SIZE(duration_units); i++) {
		uint32_t unit = duration_units[i].ms;

		if (strcmp(end, duration_units[i].suffix))
			continue;
		if (errno == ERANGE || v == 0 || v > DURATION_MAX_MS / unit)
			return -ERANGE;
		*ms = v * unit;
		return 0;
	}
	return -EINVAL;
}

int xlb_duration_parse(const char *s, uint32_t *ms)
{
	return duration_scan(s, ms) ? -EINVAL : 0;
}

/* The largest unit that says it exactly, so 60000 prints as "1m". */
static const char *duration_str(uint32_t ms, char *buf, size_t len)
{
	size_t i = ARRAY_SIZE(duration_units);

	while (--i > 0 && ms % duration_units[i].ms)
		;
	snprintf(buf, len, "%u%s", ms / duration_units[i].ms, duration_units[i].suffix);
	return buf;
}

/* ---- addresses -------------------------------------------------------- */

struct ep_rules {
	const char *token; /* the whole word, quoted in messages */
	const char *expected; /* what a good word looks like */
	bool vip; /* port required, IPv6 only in brackets */
};

/* Cut "ADDR", "ADDR:PORT", "[ADDR]" or "[ADDR]:PORT" into its address and
 * its port text (NULL when there is none). */
static int split_hostport(struct parser *p, const struct ep_rules *r, const char *s,
			  char *host, size_t hostlen, const char **port, bool *bracketed)
{
	const char *end, *colon;

	*port = NULL;
	*bracketed = *s == '[';
	if (*bracketed) {
		end = strchr(s, ']');
		if (!end)
			return perr(p, "missing ']' in '%s' (expected %s)", r->token, r->expected);
		s++;
		if (end[1] == ':')
			*port = end + 2;
		else if (end[1])
			return perr(p, "unexpected '%s' after ']' in '%s' (expected %s)",
				    end + 1, r->token, r->expected);
	} else if (strchr(s, ']')) {
		return perr(p, "unmatched ']' in '%s' (expected %s)", r->token, r->expected);
	} else {
		colon = strchr(s, ':');
		end = s + strlen(s);
		/* Two colons can only be a bare IPv6 address: no port. */
		if (colon && !strchr(colon + 1, ':')) {
			end = colon;
			*port = colon + 1;
		} else if (colon && r->vip) {
			return perr(p, "IPv6 address needs brackets in '%s' (expected %s)",
				    r->token, "PROTO/[ADDR]:PORT, e.g. tcp/[fd00::10]:80");
		}
	}
	if ((size_t)(end - s) >= hostlen)
		return perr(p, "bad address '%.*s' in '%s' (expected %s)", (int)(end - s), s,
			    r->token, r->expected);
	memcpy(host, s, end - s);
	host[end - s] = '\0';
	return 0;
}

static int parse_port(struct parser *p, const struct ep_rules *r, const char *s, __be16 *port)
{
	long long v;
	int rc;

	if (!*s)
		return perr(p, "missing port in '%s' (expected %s)", r->token, r->expected);
	rc = number_scan(s, 1, 65535, &v);
	if (rc == -EINVAL)
		return perr(p, "bad port '%s' in '%s' (expected a number 1-65535)", s, r->token);
	if (rc == -ERANGE)
		return perr(p, "port %s out of range (1-65535) in '%s'", s, r->token);
	*port = htons(v);
	return 0;
}

/* " in 'WORD'" when the address is only part of the word, so a message
 * quotes what the user typed without repeating it. */
static const char *within(const struct ep_rules *r, const char *host, char *buf, size_t len)
{
	if (strcmp(host, r->token) == 0)
		return "";
	snprintf(buf, len, " in '%s'", r->token);
	return buf;
}

static int parse_host(struct parser *p, const struct ep_rules *r, const char *host,
		      bool bracketed, struct xlb_endpoint *ep)
{
	static const struct xlb_addr zero;
	char buf[XLB_STMT_MAX_LEN + 8];
	const char *in = within(r, host, buf, sizeof(buf));

	if (xlb_addr_parse(host, &ep->addr, &ep->family)) {
		/* Worth its own message: "fe80::1%eth0" looks valid to most. */
		if (strchr(host, '%'))
			return perr(p, "bad address '%s'%s (zone ids are not allowed; expected %s)",
				    host, in, r->expected);
		return perr(p, "bad address '%s'%s (expected %s)", host, in, r->expected);
	}
	if (bracketed && ep->family != XLB_FAMILY_V6)
		return perr(p, "brackets are only for IPv6 addresses in '%s' (expected %s)",
			    r->token, r->expected);
	/* 0.0.0.0 and :: never match a packet nor reach a backend: a typo. */
	if (memcmp(&ep->addr, &zero, sizeof(zero)) == 0)
		return perr(p, "unspecified address '%s'%s (expected %s)", host, in, r->expected);
	return 0;
}

static int parse_endpoint(struct parser *p, const struct ep_rules *r, const char *s,
			  struct xlb_endpoint *ep)
{
	char host[XLB_TEXT_LEN];
	const char *port;
	bool bracketed;
	int rc;

	memset(ep, 0, sizeof(*ep));
	rc = split_hostport(p, r, s, host, sizeof(host), &port, &bracketed);
	if (rc)
		return rc;
	rc = parse_host(p, r, host, bracketed, ep);
	if (rc)
		return rc;
	if (port)
		return parse_port(p, r, port, &ep->port);
	if (r->vip)
		return perr(p, "missing port in '%s' (expected %s)", r->token, r->expected);
	return 0;
}

static int parse_proto(struct parser *p, const char *word, size_t len, __u8 *proto)
{
	if (len == 3 && memcmp(word, "tcp", 3) == 0)
		*proto = IPPROTO_TCP;
	else if (len == 3 && memcmp(word, "udp", 3) == 0)
		*proto = IPPROTO_UDP;
	else
		return perr(p, "unknown protocol '%.*s' in '%s' (expected tcp, udp)",
			    (int)len, word, word);
	return 0;
}

static int parse_vip(struct parser *p)
{
	const char *word = next_word(p);
	struct ep_rules rules = { .token = word, .expected = VIP_EXPECTED, .vip = true };
	struct xlb_endpoint ep;
	const char *slash;
	__u8 proto = 0;
	int rc;

	if (!word)
		return perr(p, "missing VIP (expected %s)", VIP_EXPECTED);
	slash = strchr(word, '/');
	if (!slash)
		return perr(p, "bad VIP '%s' (expected %s)", word, VIP_EXPECTED);
	rc = parse_proto(p, word, slash - word, &proto);
	if (!rc)
		rc = parse_endpoint(p, &rules, slash + 1, &ep);
	if (rc)
		return rc;
	xlb_vip_key_make(&p->st->vip, proto, ep.family, &ep.addr, ntohs(ep.port));
	return 0;
}

static int parse_backend(struct parser *p)
{
	const char *word = next_word(p);
	struct ep_rules rules = { .token = word, .expected = BACKEND_EXPECTED };
	int rc;

	if (!word)
		return perr(p, "missing backend (expected %s)", BACKEND_EXPECTED);
	rc = parse_endpoint(p, &rules, word, &p->st->backend);
	/* Whether the families may differ depends on the VIP's mode, which
	 * only the configuration knows: libxlb checks it. */
	return rc;
}

/* ---- options ----------------------------------------------------------- */

struct option {
	const char *name;
	const char *hint; /* what a value looks like (keyword options: their names) */
	int (*set)(struct parser *p, const struct option *o, const char *value);
	unsigned int only; /* check types (CHECK_BIT) it applies to; 0: always */
	const char *refusal; /* known word that is refused with this message */
	const struct xlb_keywords *words; /* a keyword option's table */
	/* A keyword or number option's value and its "given" flag: where they
	 * go in struct xlb_stmt (set_keyword, set_number), and a number's
	 * bounds and width. */
	size_t value_at, given_at, value_size;
	long long min, max;
};

_Static_assert(sizeof(enum xlb_sched) == sizeof(int) && sizeof(enum xlb_mode) == sizeof(int) &&
		       sizeof(enum xlb_encap) == sizeof(int),
	       "set_keyword stores keyword enums as int");

#define KEYWORD_OPTION(name, table, field)                                                \
	{ name, .words = &(table), .set = set_keyword,                                     \
	  .value_at = offsetof(struct xlb_stmt, field),                                    \
	  .given_at = offsetof(struct xlb_stmt, has_##field) }

#define NUMBER_OPTION(name, hint, lo, hi, setter, field)                                  \
	{ name, hint, .set = setter, .min = (lo), .max = (hi),                            \
	  .value_at = offsetof(struct xlb_stmt, field),                                    \
	  .value_size = sizeof(((struct xlb_stmt *)0)->field),                             \
	  .given_at = offsetof(struct xlb_stmt, has_##field) }

#define CHECK_BIT(t) (1u << (t))
#define ANY_KIND (~0u)

/* What a value of o looks like, for messages. */
static const char *option_hint(const struct option *o, char *buf, size_t len)
{
	return o->words ? xlb_keyword_list(o->words, ", ", buf, len) : o->hint;
}

/* The keyword value of a keyword option, or the error that names the
 * accepted words. */
static int keyword_value(struct parser *p, const struct option *o, const char *value)
{
	int v = xlb_keyword_parse(o->words, value);
	char names[XLB_MSG_LEN];

	if (v < 0)
		return perr(p, "unknown %s '%s' (expected %s)", o->words->what, value,
			    option_hint(o, names, sizeof(names)));
	return v;
}

/* A keyword option: its enum value and "given" flag, where its row says. */
static int set_keyword(struct parser *p, const struct option *o, const char *value)
{
	int v = keyword_value(p, o, value);

	if (v < 0)
		return v;
	*(int *)((char *)p->st + o->value_at) = v;
	*(bool *)((char *)p->st + o->given_at) = true;
	return 0;
}

/* A number option: parsed within its row's bounds, stored where it says. */
static int set_number(struct parser *p, const struct option *o, const char *value)
{
	char *at = (char *)p->st + o->value_at;
	long long v;
	int rc = parse_number(p, o->name, o->hint, value, o->min, o->max, &v);

	if (rc)
		return rc;
	if (o->value_size == sizeof(uint16_t))
		*(uint16_t *)at = (uint16_t)v;
	else
		*(uint32_t *)at = (uint32_t)v;
	*(bool *)((char *)p->st + o->given_at) = true;
	return 0;
}

/* A ring size is also a prime. */
static int set_ring(struct parser *p, const struct option *o, const char *value)
{
	int rc = set_number(p, o, value);

	if (!rc && xlb_ring_check(p->st->ring))
		return perr(p, "%s", xlb_errmsg());
	return rc;
}

static int set_check_port(struct parser *p, const struct option *o, const char *value)
{
	long long v;
	int rc = parse_number(p, o->name, o->hint, value, 1, 65535, &v);

	if (!rc)
		p->st->check.port = v;
	return rc;
}

static int set_text(struct parser *p, const struct option *o, const char *value,
		    char *dst, size_t dstlen)
{
	if (strlen(value) >= dstlen)
		return perr(p, "%s '%s' too long (max %zu bytes)", o->name, value, dstlen - 1);
	strcpy(dst, value);
	return 0;
}

static int set_path(struct parser *p, const struct option *o, const char *value)
{
	if (value[0] != '/')
		return perr(p, "path '%s' must start with '/'", value);
	return set_text(p, o, value, p->st->check.path, sizeof(p->st->check.path));
}

static int set_host(struct parser *p, const struct option *o, const char *value)
{
	return set_text(p, o, value, p->st->check.host, sizeof(p->st->check.host));
}

static int set_payload(struct parser *p, const struct option *o, const char *value)
{
	return set_text(p, o, value, p->st->check.payload, sizeof(p->st->check.payload));
}

static int set_expect(struct parser *p, const struct option *o, const char *value)
{
	long long v;
	int rc = parse_number(p, o->name, o->hint, value, 100, 599, &v);

	if (!rc)
		p->st->check.expect = v;
	return rc;
}

static int set_duration(struct parser *p, const struct option *o, const char *value,
			uint32_t *ms)
{
	int rc = duration_scan(value, ms);

	if (rc == -EINVAL)
		return perr(p, "bad %s '%s' (expected %s)", o->name, value, o->hint);
	if (rc == -ERANGE)
		return perr(p, "%s %s out of range (1ms-1h)", o->name, value);
	return 0;
}

static int set_interval(struct parser *p, const struct option *o, const char *value)
{
	return set_duration(p, o, value, &p->st->check.interval_ms);
}

static int set_timeout(struct parser *p, const struct option *o, const char *value)
{
	p->timeout_given = true;
	return set_duration(p, o, value, &p->st->check.timeout_ms);
}

static int set_count(struct parser *p, const struct option *o, const char *value,
		     uint32_t *count)
{
	long long v;
	int rc = parse_number(p, o->name, o->hint, value, 1, CHECK_COUNT_MAX, &v);

	if (!rc)
		*count = v;
	return rc;
}

static int set_rise(struct parser *p, const struct option *o, const char *value)
{
	return set_count(p, o, value, &p->st->check.rise);
}

static int set_fall(struct parser *p, const struct option *o, const char *value)
{
	return set_count(p, o, value, &p->st->check.fall);
}

#define RING_HINT "a prime " STR(XLB_RING_MIN) "-" STR(XLB_RING_MAX)
#define WEIGHT_HINT "a number 0-" STR(XLB_MAX_WEIGHT)
#define DURATION_HINT "a duration like 500ms, 2s, 1m"

static const struct option vip_add_opts[] = {
	KEYWORD_OPTION("sched", xlb_sched_words, sched),
	KEYWORD_OPTION("mode", xlb_mode_words, mode),
	NUMBER_OPTION("ring", RING_HINT, XLB_RING_MIN, XLB_RING_MAX, set_ring, ring),
	KEYWORD_OPTION("encap", xlb_encap_words, encap),
	NUMBER_OPTION("gue-port", "a port 1-65535", 1, 65535, set_number, gue_port),
};

static const struct option vip_set_opts[] = {
	KEYWORD_OPTION("sched", xlb_sched_words, sched),
	NUMBER_OPTION("ring", RING_HINT, XLB_RING_MIN, XLB_RING_MAX, set_ring, ring),
	NUMBER_OPTION("announce-min", "a number 1-" STR(XLB_MAX_BACKENDS), 1, XLB_MAX_BACKENDS,
		      set_number, announce_min),
	{ "mode", .refusal = "mode cannot change on vip set "
			     "(delete the VIP and add it again with the new mode)" },
};

static const struct option backend_add_opts[] = {
	NUMBER_OPTION("weight", WEIGHT_HINT, 0, XLB_MAX_WEIGHT, set_number, weight),
};

#define PROBED (CHECK_BIT(XLB_CHECK_TCP) | CHECK_BIT(XLB_CHECK_HTTP) | CHECK_BIT(XLB_CHECK_UDP))

static const struct option check_opts[] = {
	{ "port", "a number 1-65535", set_check_port, PROBED },
	{ "path", "a path starting with '/'", set_path, CHECK_BIT(XLB_CHECK_HTTP) },
	{ "host", "a host name", set_host, CHECK_BIT(XLB_CHECK_HTTP) },
	{ "expect", "a status code 100-599", set_expect, CHECK_BIT(XLB_CHECK_HTTP) },
	{ "payload", "a word to send", set_payload, CHECK_BIT(XLB_CHECK_UDP) },
	{ "interval", DURATION_HINT, set_interval, PROBED },
	{ "timeout", DURATION_HINT, set_timeout, PROBED },
	{ "rise", "a number 1-" STR(CHECK_COUNT_MAX), set_rise, PROBED },
	{ "fall", "a number 1-" STR(CHECK_COUNT_MAX), set_fall, PROBED },
};

static bool option_applies(const struct option *o, unsigned int kind)
{
	return !o->only || (o->only & kind);
}

static int unknown_keyword(struct parser *p, const char *word, const struct option *opts,
			   size_t n, unsigned int kind)
{
	char names[256] = "";

	for (size_t i = 0; i < n; i++)
		if (!opts[i].refusal && option_applies(&opts[i], kind))
			list_add(names, sizeof(names), opts[i].name);
	if (!names[0])
		return perr(p, "unexpected '%s' after statement", word);
	return perr(p, "unknown keyword '%s' (expected %s)", word, names);
}

static int apply_option(struct parser *p, const struct option *o, unsigned int kind)
{
	char hint[XLB_MSG_LEN];
	const char *value;

	if (o->refusal)
		return perr(p, "%s", o->refusal);
	if (!option_applies(o, kind))
		return perr(p, "'%s' does not apply to check type %s", o->name,
			    xlb_check_type_name(p->st->check.type));
	value = next_word(p);
	if (!value)
		return perr(p, "missing value after '%s' (expected %s)", o->name,
			    option_hint(o, hint, sizeof(hint)));
	return o->set(p, o, value);
}

/* Options up to the end of the line, each at most once, in any order.
 * kind: the CHECK_BIT of a check statement's type, else ANY_KIND. */
static int parse_options(struct parser *p, const struct option *opts, size_t n,
			 unsigned int kind)
{
	unsigned int seen = 0;
	const char *word;
	size_t i;
	int rc;

	while ((word = next_word(p))) {
		for (i = 0; i < n && strcmp(opts[i].name, word); i++)
			;
		if (i == n)
			return unknown_keyword(p, word, opts, n, kind);
		if (seen & (1u << i))
			return perr(p, "duplicate option '%s'", word);
		seen |= 1u << i;
		rc = apply_option(p, &opts[i], kind);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- statements -------------------------------------------------------- */

/* encap and gue-port only mean something in tunnel mode; there they are
 * always spelled out, like every other VIP setting. */
static int tunnel_defaults(struct parser *p)
{
	struct xlb_stmt *st = p->st;

	if (st->mode != XLB_MODE_TUNNEL) {
		if (st->has_encap || st->has_gue_port)
			return perr(p, "'%s' applies to mode tunnel only",
				    st->has_encap ? "encap" : "gue-port");
		return 0;
	}
	if (st->has_gue_port && !(st->has_encap && st->encap == XLB_ENCAP_GUE))
		return perr(p, "'gue-port' needs 'encap gue'");
	if (!st->has_gue_port)
		st->gue_port = XLB_GUE_PORT_DEFAULT;
	st->has_encap = st->has_gue_port = true;
	return 0;
}

static int parse_vip_add(struct parser *p)
{
	struct xlb_stmt *st = p->st;
	int rc = parse_vip(p);

	if (!rc)
		rc = parse_options(p, vip_add_opts, ARRAY_SIZE(vip_add_opts), ANY_KIND);
	if (rc)
		return rc;
	/* A new VIP has every setting: spell out the defaults so the
	 * statement means the same whatever the defaults become later. */
	if (!st->has_ring)
		st->ring = XLB_RING_DEFAULT;
	st->has_sched = st->has_mode = st->has_ring = true;
	return tunnel_defaults(p);
}

static int parse_vip_set(struct parser *p)
{
	int rc = parse_vip(p);

	if (!rc)
		rc = parse_options(p, vip_set_opts, ARRAY_SIZE(vip_set_opts), ANY_KIND);
	if (rc)
		return rc;
	if (!p->st->has_sched && !p->st->has_ring && !p->st->has_announce_min)
		return perr(p, "nothing to change on vip set (expected sched, ring, announce-min)");
	return 0;
}

static int parse_vip_del(struct parser *p)
{
	int rc = parse_vip(p);

	return rc ? rc : parse_end(p);
}

static int parse_backend_add(struct parser *p)
{
	struct xlb_stmt *st = p->st;
	int rc = parse_vip(p);

	if (!rc)
		rc = parse_backend(p);
	if (!rc)
		rc = parse_options(p, backend_add_opts, ARRAY_SIZE(backend_add_opts), ANY_KIND);
	if (rc)
		return rc;
	if (!st->has_weight)
		st->weight = WEIGHT_DEFAULT;
	st->has_weight = true;
	return 0;
}

static const struct {
	const char *name;
	enum xlb_backend_op op;
} backend_ops[] = {
	{ "weight", XLB_BOP_WEIGHT },
	{ "drain", XLB_BOP_DRAIN },
	{ "enable", XLB_BOP_ENABLE },
};

#define BACKEND_OPS_HINT "weight, drain, enable"

/* Exactly one of: weight N | drain | enable. */
static int parse_backend_op(struct parser *p)
{
	static const struct option weight =
		NUMBER_OPTION("weight", WEIGHT_HINT, 0, XLB_MAX_WEIGHT, set_number, weight);
	const char *word = next_word(p);
	size_t i;

	if (!word)
		return perr(p, "missing operation (expected %s)", BACKEND_OPS_HINT);
	for (i = 0; i < ARRAY_SIZE(backend_ops) && strcmp(backend_ops[i].name, word); i++)
		;
	if (i == ARRAY_SIZE(backend_ops))
		return perr(p, "unknown keyword '%s' (expected %s)", word, BACKEND_OPS_HINT);
	p->st->bop = backend_ops[i].op;
	if (p->st->bop == XLB_BOP_WEIGHT)
		return apply_option(p, &weight, ANY_KIND);
	return 0;
}

static int parse_backend_set(struct parser *p)
{
	int rc = parse_vip(p);

	if (!rc)
		rc = parse_backend(p);
	if (!rc)
		rc = parse_backend_op(p);
	return rc ? rc : parse_end(p);
}

static int parse_backend_del(struct parser *p)
{
	int rc = parse_vip(p);

	if (!rc)
		rc = parse_backend(p);
	return rc ? rc : parse_end(p);
}

static void check_defaults(struct xlb_check_spec *c)
{
	c->interval_ms = XLB_CHECK_DEFAULT_INTERVAL_MS;
	c->timeout_ms = XLB_CHECK_DEFAULT_TIMEOUT_MS;
	c->rise = XLB_CHECK_DEFAULT_RISE;
	c->fall = XLB_CHECK_DEFAULT_FALL;
	if (c->type == XLB_CHECK_HTTP) {
		strcpy(c->path, HTTP_PATH_DEFAULT);
		c->expect = HTTP_EXPECT_DEFAULT;
	}
	if (c->type == XLB_CHECK_UDP)
		strcpy(c->payload, UDP_PAYLOAD_DEFAULT);
}

static int parse_check_type(struct parser *p)
{
	const struct option o = { "check", .words = &xlb_check_words };
	const char *word = next_word(p);
	char hint[XLB_MSG_LEN];
	int t;

	if (!word)
		return perr(p, "missing check type (expected %s)", option_hint(&o, hint, sizeof(hint)));
	t = keyword_value(p, &o, word);
	if (t < 0)
		return t;
	p->st->check.type = t;
	check_defaults(&p->st->check);
	return 0;
}

/* A probe that may outlive its interval would overlap the next one. The
 * default timeout shrinks to a shorter interval; a given one must fit. */
static int check_timing(struct parser *p)
{
	struct xlb_check_spec *c = &p->st->check;
	char t[16], i[16];

	if (!p->timeout_given && c->timeout_ms > c->interval_ms)
		c->timeout_ms = c->interval_ms;
	if (c->timeout_ms <= c->interval_ms)
		return 0;
	return perr(p, "timeout %s is longer than interval %s (timeout must be <= interval)",
		    duration_str(c->timeout_ms, t, sizeof(t)),
		    duration_str(c->interval_ms, i, sizeof(i)));
}

static int parse_check_set(struct parser *p)
{
	int rc = parse_vip(p);

	if (!rc)
		rc = parse_check_type(p);
	if (!rc)
		rc = parse_options(p, check_opts, ARRAY_SIZE(check_opts),
				   CHECK_BIT(p->st->check.type));
	return rc ? rc : check_timing(p);
}

static int parse_apply(struct parser *p)
{
	const char *word = next_word(p);

	if (!word)
		return perr(p, "missing file (expected a path, or - for stdin)");
	/* Cannot overflow: the path came out of a line no longer than it. */
	snprintf(p->st->path, sizeof(p->st->path), "%s", word);
	return parse_end(p);
}

/* explain PROTO/VIP:PORT CLIENT[:PORT] */
static int parse_explain(struct parser *p)
{
	const char *word;
	struct ep_rules rules = { .expected = CLIENT_EXPECTED };
	int rc = parse_vip(p);

	if (rc)
		return rc;
	word = next_word(p);
	if (!word)
		return perr(p, "missing client (expected %s)", CLIENT_EXPECTED);
	rules.token = word;
	rc = parse_endpoint(p, &rules, word, &p->st->client);
	if (rc)
		return rc;
	/* The VIP only ever sees clients of its own family. */
	if (p->st->client.family != p->st->vip.family)
		return perr(p, "client '%s' is not of the VIP's address family (expected %s)", word,
			    CLIENT_EXPECTED);
	return parse_end(p);
}

/* ---- formatting --------------------------------------------------------- */

struct out {
	char *buf;
	size_t len;
	size_t used; /* what the whole text needs, even past len */
};

static void __attribute__((format(printf, 2, 3))) put(struct out *o, const char *fmt, ...)
{
	size_t room = o->used < o->len ? o->len - o->used : 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room ? o->buf + o->used : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->used += n;
}

static void put_vip(struct out *o, const struct xlb_stmt *st)
{
	char v[XLB_TEXT_LEN];

	put(o, " %s", xlb_vip_key_str(&st->vip, v, sizeof(v)));
}

static void put_backend(struct out *o, const struct xlb_stmt *st)
{
	char b[XLB_TEXT_LEN];

	put_vip(o, st);
	put(o, " %s", xlb_endpoint_str(&st->backend, b, sizeof(b)));
}

static void format_nothing(struct out *o, const struct xlb_stmt *st)
{
}

static void format_vip_add(struct out *o, const struct xlb_stmt *st)
{
	put_vip(o, st);
	put(o, " sched %s mode %s ring %u", xlb_sched_name(st->sched), xlb_mode_name(st->mode),
	    st->ring);
	if (st->mode != XLB_MODE_TUNNEL)
		return;
	put(o, " encap %s", xlb_encap_name(st->encap));
	if (st->encap == XLB_ENCAP_GUE)
		put(o, " gue-port %u", st->gue_port);
}

static void format_vip_set(struct out *o, const struct xlb_stmt *st)
{
	put_vip(o, st);
	if (st->has_sched)
		put(o, " sched %s", xlb_sched_name(st->sched));
	if (st->has_ring)
		put(o, " ring %u", st->ring);
	if (st->has_announce_min)
		put(o, " announce-min %u", st->announce_min);
}

static void format_backend_add(struct out *o, const struct xlb_stmt *st)
{
	put_backend(o, st);
	put(o, " weight %u", st->weight);
}

static void format_backend_set(struct out *o, const struct xlb_stmt *st)
{
	put_backend(o, st);
	if (st->bop == XLB_BOP_WEIGHT)
		put(o, " weight %u", st->weight);
	else if (st->bop == XLB_BOP_DRAIN)
		put(o, " drain");
	else if (st->bop == XLB_BOP_ENABLE)
		put(o, " enable");
}

static void format_check_set(struct out *o, const struct xlb_stmt *st)
{
	const struct xlb_check_spec *c = &st->check;
	char d[16];

	put_vip(o, st);
	put(o, " %s", xlb_check_type_name(c->type));
	if (c->type == XLB_CHECK_NONE)
		return;
	if (c->port)
		put(o, " port %u", c->port);
	if (c->type == XLB_CHECK_HTTP) {
		put(o, " path %s", c->path);
		if (c->host[0])
			put(o, " host %s", c->host);
		put(o, " expect %u", c->expect);
	}
	if (c->type == XLB_CHECK_UDP)
		put(o, " payload %s", c->payload);
	put(o, " interval %s", duration_str(c->interval_ms, d, sizeof(d)));
	put(o, " timeout %s", duration_str(c->timeout_ms, d, sizeof(d)));
	put(o, " rise %u fall %u", c->rise, c->fall);
}

static void format_apply(struct out *o, const struct xlb_stmt *st)
{
	put(o, " %s", st->path);
}

static void format_explain(struct out *o, const struct xlb_stmt *st)
{
	char c[XLB_TEXT_LEN];

	put_vip(o, st);
	put(o, " %s", xlb_endpoint_str(&st->client, c, sizeof(c)));
}

/* ---- the command table ------------------------------------------------- */

struct command {
	const char *noun; /* first word */
	const char *action; /* second word; NULL for one-word commands */
	enum xlb_verb verb;
	int (*parse)(struct parser *p);
	void (*format)(struct out *o, const struct xlb_stmt *st);
};

static const struct command commands[] = {
	{ "vip", "add", XLB_V_VIP_ADD, parse_vip_add, format_vip_add },
	{ "vip", "set", XLB_V_VIP_SET, parse_vip_set, format_vip_set },
	{ "vip", "del", XLB_V_VIP_DEL, parse_vip_del, put_vip },
	{ "vip", "list", XLB_V_VIP_LIST, parse_end, format_nothing },
	{ "backend", "add", XLB_V_BACKEND_ADD, parse_backend_add, format_backend_add },
	{ "backend", "set", XLB_V_BACKEND_SET, parse_backend_set, format_backend_set },
	{ "backend", "del", XLB_V_BACKEND_DEL, parse_backend_del, put_backend },
	{ "check", "set", XLB_V_CHECK_SET, parse_check_set, format_check_set },
	{ "node", "drain", XLB_V_NODE_DRAIN, parse_end, format_nothing },
	{ "node", "enable", XLB_V_NODE_ENABLE, parse_end, format_nothing },
	{ "show", NULL, XLB_V_SHOW, parse_end, format_nothing },
	{ "stats", NULL, XLB_V_STATS, parse_end, format_nothing },
	{ "save", NULL, XLB_V_SAVE, parse_end, format_nothing },
	{ "apply", NULL, XLB_V_APPLY, parse_apply, format_apply },
	{ "explain", NULL, XLB_V_EXPLAIN, parse_explain, format_explain },
};

static const struct command *command_by_verb(enum xlb_verb verb)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (commands[i].verb == verb)
			return &commands[i];
	return NULL;
}

static const struct command *find_action(struct parser *p, const char *noun)
{
	const char *action = next_word(p);
	char names[128] = "";

	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		if (strcmp(commands[i].noun, noun))
			continue;
		if (action && strcmp(commands[i].action, action) == 0)
			return &commands[i];
		list_add(names, sizeof(names), commands[i].action);
	}
	if (action)
		perr(p, "unknown %s command '%s' (expected %s)", noun, action, names);
	else
		perr(p, "missing %s command (expected %s)", noun, names);
	return NULL;
}

/* The command a line starts with; NULL with the error set. */
static const struct command *find_command(struct parser *p, const char *noun)
{
	char names[128] = "";

	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		if (strcmp(commands[i].noun, noun) == 0)
			return commands[i].action ? find_action(p, noun) : &commands[i];
		if (i == 0 || strcmp(commands[i - 1].noun, commands[i].noun))
			list_add(names, sizeof(names), commands[i].noun);
	}
	perr(p, "unknown command '%s' (expected %s)", noun, names);
	return NULL;
}

int xlb_stmt_parse(const char *line, struct xlb_stmt *st)
{
	struct parser p = { .st = st };
	const struct command *cmd;
	const char *word;
	int rc;

	/* Zeroed, padding included: callers may compare statements bytewise. */
	memset(st, 0, sizeof(*st));
	xlb_fail(0, "%s", "");
	rc = parser_load(&p, line);
	if (rc)
		return rc;
	word = next_word(&p);
	if (!word)
		return 0;
	cmd = find_command(&p, word);
	if (!cmd)
		return -EINVAL;
	st->verb = cmd->verb;
	rc = cmd->parse(&p);
	if (rc) {
		/* Half a statement must not be mistaken for a whole one. */
		memset(st, 0, sizeof(*st));
		return rc;
	}
	return 1;
}

int xlb_stmt_format(const struct xlb_stmt *st, char *buf, size_t len)
{
	struct out o = { .buf = buf, .len = len };
	const struct command *cmd;

	if (len)
		buf[0] = '\0';
	if (st->verb == XLB_V_NONE)
		return 0;
	cmd = command_by_verb(st->verb);
	if (!cmd)
		return -EINVAL;
	put(&o, "%s", cmd->noun);
	if (cmd->action)
		put(&o, " %s", cmd->action);
	cmd->format(&o, st);
	return o.used < len ? (int)o.used : -ENOSPC;
}
