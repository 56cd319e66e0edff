// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The control protocol (user/xlbd/proto.h): the bytes a client sends,
 * through xlbd's own framing (ctl.c's handle(): request line, body, reply
 * framing) and request handler (request.c: options, parse, a change
 * simulated on a copy and committed), with no socket and no datapath.
 * The two files are compiled into this one so their static functions are
 * the ones under test, unchanged.
 *
 * Checked on every input: the reply is framed as proto.h says ("ok" or
 * one "error: " line, payload lines none of which is ".", then ".");
 * a refused change leaves the running configuration as it was; an
 * accepted one leaves a configuration that keeps every invariant.
 *
 * What needs the datapath is replaced, and only that: a commit adopts the
 * configuration (no state file, no maps: the packet fuzzer covers those),
 * the printing statements (explain too) print the configuration, and the log is
 * formatted but not written (a fuzzer runs millions of requests).
 */
#include "../../user/xlbd/ctl.c"
#include "../../user/xlbd/request.c"

#include <stdarg.h>

#include "fuzz.h"

void xlog(enum xlog_level level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
}

int xlbd_commit(struct xlbd *d, struct xlb_cfg *next, char *err, size_t errlen)
{
	struct xlb_cfg tmp = d->cfg;

	d->cfg = *next;
	*next = tmp;
	return 0;
}

static int print_line(const char *line, void *arg)
{
	xp_str(arg, "statement", "%s\n", line);
	return 0;
}

static void print_cfg(struct xlbd *d, struct xp *p)
{
	xp_obj_open(p, NULL);
	xp_arr_open(p, "statements");
	xlb_cfg_statements(&d->cfg, print_line, p);
	xp_arr_close(p);
	xp_obj_close(p);
}

void xlbd_show(struct xlbd *d, struct xp *p)
{
	print_cfg(d, p);
}

void xlbd_stats(struct xlbd *d, struct xp *p)
{
	print_cfg(d, p);
}

void xlbd_vip_list(struct xlbd *d, struct xp *p)
{
	print_cfg(d, p);
}

void xlbd_save(struct xlbd *d, struct xp *p)
{
	print_cfg(d, p);
}

/* explain reads the datapath's maps: here it answers for configured VIPs
 * with the statement, and refuses others as xlbd does. */
int xlbd_explain(struct xlbd *d, const struct xlb_stmt *st, bool json, FILE *out, char *err,
		 size_t errlen)
{
	char text[XLB_STMT_MAX_LEN + 1];
	struct xp p;

	if (!xlb_cfg_vip_find(&d->cfg, &st->vip)) {
		snprintf(err, errlen, "no such VIP");
		return -1;
	}
	xlb_stmt_format(st, text, sizeof(text));
	xp_init(&p, out, json);
	xp_obj_open(&p, NULL);
	xp_str(&p, "statement", "%s\n", text);
	xp_obj_close(&p);
	xp_end(&p);
	return 0;
}

/* The reply as proto.h frames it; returns true for "ok". */
static bool check_reply(const char *r, size_t len)
{
	const char *end = r + len, *line, *nl;
	bool ok;

	if (memchr(r, '\0', len))
		fuzz_fail("reply holds a NUL byte");
	if (len < 5 || memcmp(end - 3, "\n" XLB_REPLY_END, 3))
		fuzz_fail("reply does not end with a '.' line: '%.*s'", (int)len, r);
	ok = !strncmp(r, XLB_REPLY_OK "\n", 3);
	if (!ok && strncmp(r, XLB_REPLY_ERROR, strlen(XLB_REPLY_ERROR)))
		fuzz_fail("reply starts with neither ok nor error: '%.*s'", (int)len, r);
	nl = memchr(r, '\n', len);
	if (!ok && nl != end - 3)
		fuzz_fail("error reply spans more than one line: '%.*s'", (int)len, r);
	for (line = nl + 1; line < end - 2; line = nl + 1) {
		nl = memchr(line, '\n', end - line);
		if (nl - line == 1 && line[0] == '.')
			fuzz_fail("payload line '.' would end the reply early");
	}
	return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xlbd d = { 0 };
	struct ctl c = { .fn = xlbd_request, .arg = &d };
	struct client cl = { .ctl = &c };
	char *reply = NULL, *before, *after;
	size_t reply_len = 0;
	FILE *f;

	if (size > (1u << 20))
		return 0;
	fuzz_cfg_base(&d.cfg);
	before = fuzz_cfg_text(&d.cfg);
	/* ctl.c's reader leaves one byte past the request for its NUL. */
	cl.in = malloc(size + 1);
	if (!cl.in)
		fuzz_fail("out of memory");
	memcpy(cl.in, data, size);
	cl.in_len = size;
	cl.in_cap = size;
	f = open_memstream(&reply, &reply_len);
	if (!f)
		fuzz_fail("out of memory");
	handle(&cl, f);
	fclose(f);
	after = fuzz_cfg_text(&d.cfg);
	if (!check_reply(reply, reply_len) && strcmp(before, after))
		fuzz_fail("refused request changed the configuration");
	fuzz_cfg_check(&d.cfg);
	free(after);
	free(before);
	free(reply);
	free(cl.in);
	xlb_cfg_free(&d.cfg);
	return 0;
}
