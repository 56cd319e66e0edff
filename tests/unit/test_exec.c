// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Statement execution (user/lib/exec.c): the semantic checks that decide
 * whether a change is accepted, batches applied all or nothing with the
 * failing line named, `save` text that rebuilds the same configuration, and
 * converging a loaded datapath to a configuration without touching what
 * did not change. Also the text/JSON print layer the replies go through.
 *
 * Everything but the converge cases is pure user space. The converge cases
 * load the real BPF object (no pins, no interface, in a private network
 * namespace), so they need root.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec.h"
#include "print.h"
#include "testlib.h"

#define VIP4 "tcp/198.18.1.10:80"
#define VIP6 "udp/[fd00::10]:53"

static char err[1024];

/* ---- helpers ----------------------------------------------------------- */

/* A batch of text, with its message kept in err for the checks. */
static int batch_n(struct xlb_cfg *c, const char *text, size_t len, unsigned int *n)
{
	int rc = xlb_cfg_exec_text(c, text, len, "t.conf", n);

	snprintf(err, sizeof(err), "%s", xlb_errmsg());
	return rc;
}

static int batch(struct xlb_cfg *c, const char *text)
{
	return batch_n(c, text, strlen(text), NULL);
}

static bool batch_ok(struct xlb_cfg *c, const char *text)
{
	int rc = batch(c, text);

	return ASSERT_TRUE(rc == 0, "batch failed: %s", err);
}

/* A batch that must fail with exactly this message. */
static bool batch_err(struct xlb_cfg *c, const char *text, const char *want)
{
	int rc = batch(c, text);

	if (!ASSERT_EQ(rc, -EINVAL, "batch rc"))
		return false;
	return ASSERT_STREQ(err, want, "message");
}

struct text {
	char buf[65536];
	size_t len;
};

static int collect(const char *line, void *arg)
{
	struct text *t = arg;

	t->len += snprintf(t->buf + t->len, sizeof(t->buf) - t->len, "%s\n", line);
	return 0;
}

static const char *save(const struct xlb_cfg *c, struct text *t)
{
	t->len = 0;
	t->buf[0] = '\0';
	xlb_cfg_statements(c, collect, t);
	return t->buf;
}

static const char base[] = "vip add " VIP4 "\n"
			   "backend add " VIP4 " 198.18.2.11\n"
			   "backend add " VIP4 " 198.18.2.12:80 weight 3\n";

/* ---- semantic checks ----------------------------------------------------- */

static void test_duplicate_backend(void)
{
	struct xlb_cfg c;

	xlb_cfg_init(&c);
	if (batch_ok(&c, base))
		/* No port and the VIP's port name the same backend. */
		batch_err(&c, "backend add " VIP4 " 198.18.2.11:80",
			  "t.conf:1: backend 198.18.2.11:80 already exists in " VIP4
			  " (change it with 'backend set')");
	ASSERT_EQ(c.n_backends, 2, "backends after the refused add");
	xlb_cfg_free(&c);
}

static void test_missing_vip(void)
{
	struct xlb_cfg c;

	xlb_cfg_init(&c);
	batch_err(&c, "backend add " VIP4 " 198.18.2.11",
		  "t.conf:1: no VIP " VIP4 " (add it first with 'vip add " VIP4 "')");
	batch_err(&c, "vip set " VIP4 " sched rr",
		  "t.conf:1: no VIP " VIP4 " (add it first with 'vip add " VIP4 "')");
	batch_err(&c, "check set " VIP4 " tcp",
		  "t.conf:1: no VIP " VIP4 " (add it first with 'vip add " VIP4 "')");
	xlb_cfg_free(&c);
}

static void test_missing_backend(void)
{
	struct xlb_cfg c;

	xlb_cfg_init(&c);
	if (!batch_ok(&c, base))
		goto out;
	batch_err(&c, "backend set " VIP4 " 198.18.2.13 drain",
		  "t.conf:1: no backend 198.18.2.13:80 in " VIP4 " (add it with 'backend add')");
	/* Another port is another backend. */
	batch_err(&c, "backend del " VIP4 " 198.18.2.11:8080",
		  "t.conf:1: no backend 198.18.2.11:8080 in " VIP4
		  " (add it with 'backend add')");
out:
	xlb_cfg_free(&c);
}

static void test_vip_exists(void)
{
	struct xlb_cfg c;

	xlb_cfg_init(&c);
	if (batch_ok(&c, base))
		batch_err(&c, "vip add " VIP4 " sched rr",
			  "t.conf:1: VIP " VIP4 " already exists (change it with 'vip set', "
			  "or 'vip del' it first)");
	xlb_cfg_free(&c);
}

static void test_dsr_port(void)
{
	struct xlb_cfg c;

	xlb_cfg_init(&c);
	if (batch_ok(&c, "vip add " VIP4 " mode dsr\nbackend add " VIP4 " 198.18.2.11\n"))
		batch_err(&c, "backend add " VIP4 " 198.18.2.12:8080",
			  "t.conf:1: backend 198.18.2.12:8080: mode dsr needs the backend port "
			  "to equal the VIP port 80 (the backend answers from the VIP's address "
			  "and port); leave the port out or use mode nat");
	xlb_cfg_free(&c);
}

static void test_family(void)
{
	struct xlb_cfg c;

	xlb_cfg_init(&c);
	if (batch_ok(&c, "vip add " VIP4 "\n"))
		batch_err(&c, "backend add " VIP4 " [fd00::11]",
			  "t.conf:1: backend [fd00::11]:80 is IPv6 but VIP " VIP4
			  " is IPv4: mode nat does not change the address family; "
			  "use an IPv4 backend");
	/* A tunnel carries either family inside the other. */
	batch_ok(&c, "vip add tcp/198.18.1.11:80 mode tunnel\n"
		     "backend add tcp/198.18.1.11:80 [fd00::11]\n");
	ASSERT_EQ(c.n_backends, 1, "backends");
	xlb_cfg_free(&c);
}

static void test_wrr_turns(void)
{
	struct xlb_cfg c;

	xlb_cfg_init(&c);
	if (!batch_ok(&c, "vip add " VIP4 " sched wrr\n"
			  "backend add " VIP4 " 198.18.2.11 weight 65535\n"))
		goto out;
	/* 65535 + 2 turns: coprime weights cannot be reduced. */
	batch_err(&c, "backend add " VIP4 " 198.18.2.12 weight 2",
		  "t.conf:1: weights of " VIP4 " add up to 65537 turns (after dividing by "
		  "their gcd 1), more than the 65536 a wrr VIP holds; use smaller weights");
	ASSERT_EQ(c.n_backends, 1, "backends after the refused add");
	/* Maglev has no such limit; switching to wrr afterwards is checked too. */
	if (!batch_ok(&c, "vip set " VIP4 " sched maglev\n"
			  "backend add " VIP4 " 198.18.2.12 weight 2\n"))
		goto out;
	batch_err(&c, "vip set " VIP4 " sched wrr",
		  "t.conf:1: weights of " VIP4 " add up to 65537 turns (after dividing by "
		  "their gcd 1), more than the 65536 a wrr VIP holds; use smaller weights");
out:
	xlb_cfg_free(&c);
}

static void test_ring_too_small(void)
{
	struct xlb_cfg c;
	char text[1024];
	size_t len = 0;

	xlb_cfg_init(&c);
	len += snprintf(text + len, sizeof(text) - len, "vip add " VIP4 " ring 7\n");
	for (int i = 1; i <= 7; i++)
		len += snprintf(text + len, sizeof(text) - len, "backend add " VIP4 " 198.18.2.%d\n",
				i);
	if (batch_ok(&c, text))
		batch_err(&c, "backend add " VIP4 " 198.18.2.8",
			  "t.conf:1: " VIP4 " would have 8 backends but its ring has only 7 "
			  "entries; use 'vip set " VIP4 " ring PRIME' with a prime of at least "
			  "100 x backends");
	xlb_cfg_free(&c);
}

static void test_not_in_batch(void)
{
	struct xlb_cfg c;

	xlb_cfg_init(&c);
	batch_err(&c, "show",
		  "t.conf:1: 'show' does not change the configuration and cannot be part of a "
		  "batch (only vip, backend, check and node statements)");
	batch_err(&c, "apply other.conf",
		  "t.conf:1: 'apply' does not change the configuration and cannot be part of "
		  "a batch (only vip, backend, check and node statements)");
	xlb_cfg_free(&c);
}

/* ---- batches ---------------------------------------------------------------- */

/* The bad line is named and nothing before it stays applied. */
static void test_batch_all_or_nothing(void)
{
	struct text before, after;
	struct xlb_cfg c;

	xlb_cfg_init(&c);
	if (!batch_ok(&c, base))
		goto out;
	save(&c, &before);
	batch_err(&c,
		  "# a comment\n"
		  "vip add tcp/198.18.1.20:80\n"
		  "\n"
		  "backend add tcp/198.18.1.20:80 198.18.2.21\n"
		  "vip add tcp/198.18.1.21:80 sched rrr\n"
		  "backend add tcp/198.18.1.20:80 198.18.2.22\n",
		  "t.conf:5: unknown scheduler 'rrr' (expected maglev, rr, wrr, srchash)");
	ASSERT_STREQ(save(&c, &after), before.buf, "configuration after the refused batch");
	ASSERT_EQ(c.n_vips, 1, "VIPs");
out:
	xlb_cfg_free(&c);
}

/* Statements are applied in order: a later one may build on an earlier. */
static void test_batch_in_order(void)
{
	static const char t[] = "vip add " VIP4 "\r\n"
				"backend add " VIP4 " 198.18.2.11\r\n"
				"backend del " VIP4 " 198.18.2.11\n"
				"backend add " VIP4 " 198.18.2.11 weight 5\n"
				"vip del " VIP4 "\n"
				"vip add " VIP4 " sched rr\n"
				"backend add " VIP4 " 198.18.2.12"; /* no final newline */
	unsigned int n = 0;
	struct xlb_cfg c;
	int rc;

	xlb_cfg_init(&c);
	rc = batch_n(&c, t, strlen(t), &n);
	if (!ASSERT_OK(rc, err))
		goto out;
	ASSERT_EQ(n, 7, "statements counted");
	ASSERT_EQ(c.n_vips, 1, "VIPs");
	ASSERT_EQ(c.n_backends, 1, "backends");
	ASSERT_EQ(c.vips[0].spec.sched, XLB_SCHED_RR, "sched");
out:
	xlb_cfg_free(&c);
}

static void test_batch_bad_bytes(void)
{
	static const char nul[] = "vip add " VIP4 "\nvip add\0 tcp/198.18.1.11:80\n";
	size_t big = XLB_STMT_MAX_LEN + 100;
	char *line = malloc(big + 1);
	struct xlb_cfg c;
	int rc;

	xlb_cfg_init(&c);
	rc = batch_n(&c, nul, sizeof(nul) - 1, NULL);
	ASSERT_EQ(rc, -EINVAL, "NUL byte rc");
	ASSERT_STREQ(err, "t.conf:2: NUL byte in line (not a text file?)", "NUL message");
	if (!ASSERT_NOT_NULL(line, "malloc"))
		goto out;
	memset(line, 'a', big);
	line[big] = '\0';
	rc = batch(&c, line);
	ASSERT_EQ(rc, -EINVAL, "long line rc");
	ASSERT_STREQ(err, "t.conf:1: line too long (4196 bytes, max 4096)", "long line message");
	ASSERT_EQ(c.n_vips, 0, "VIPs");
out:
	free(line);
	xlb_cfg_free(&c);
}

/* ---- save ------------------------------------------------------------------- */

static const char full[] =
	"vip add " VIP4 " sched wrr\n"
	"backend add " VIP4 " 198.18.2.12 weight 2\n"
	"backend add " VIP4 " 198.18.2.11:8080\n"
	"backend set " VIP4 " 198.18.2.12 drain\n"
	"check set " VIP4 " http port 8081 path /healthz expect 204 interval 500ms timeout 200ms\n"
	"vip add " VIP6 " sched srchash ring 101\n"
	"backend add " VIP6 " [fd00::11]\n"
	"check set " VIP6 " udp payload ping rise 1 fall 2\n"
	"vip add tcp/198.18.1.30:443 mode tunnel encap gue\n"
	"backend add tcp/198.18.1.30:443 [fd00::30]\n"
	"vip add tcp/198.18.1.9:80 mode dsr\n";

/* Canonical: sorted by address, every setting spelled out, drains after
 * their backend, checks last. */
static const char full_saved[] =
	"vip add tcp/198.18.1.9:80 sched maglev mode dsr ring 65537\n"
	"vip add " VIP4 " sched wrr mode nat ring 65537\n"
	"backend add " VIP4 " 198.18.2.11:8080 weight 1\n"
	"backend add " VIP4 " 198.18.2.12:80 weight 2\n"
	"backend set " VIP4 " 198.18.2.12:80 drain\n"
	"check set " VIP4 " http port 8081 path /healthz expect 204 interval 500ms timeout 200ms "
	"rise 2 fall 3\n"
	"vip add tcp/198.18.1.30:443 sched maglev mode tunnel ring 65537 encap gue gue-port 6080\n"
	"backend add tcp/198.18.1.30:443 [fd00::30]:443 weight 1\n"
	"vip add " VIP6 " sched srchash mode nat ring 101\n"
	"backend add " VIP6 " [fd00::11]:53 weight 1\n"
	"check set " VIP6 " udp payload ping interval 2s timeout 1s rise 1 fall 2\n";

static void test_save_canonical(void)
{
	struct text t;
	struct xlb_cfg c;

	xlb_cfg_init(&c);
	if (batch_ok(&c, full))
		ASSERT_STREQ(save(&c, &t), full_saved, "save");
	xlb_cfg_free(&c);
}

/* save, then apply on an empty configuration: the same configuration. */
static void test_save_round_trip(void)
{
	struct text a, b;
	struct xlb_cfg c, d;

	xlb_cfg_init(&c);
	xlb_cfg_init(&d);
	if (!batch_ok(&c, full))
		goto out;
	save(&c, &a);
	if (!batch_ok(&d, a.buf))
		goto out;
	ASSERT_STREQ(save(&d, &b), a.buf, "save after apply");
	/* check set none is the default, so it leaves no trace in save. */
	if (batch_ok(&d, "check set " VIP6 " none\ncheck set " VIP4 " none\n"))
		ASSERT_TRUE(!strstr(save(&d, &b), "check set"), "checks gone: %s", b.buf);
out:
	xlb_cfg_free(&c);
	xlb_cfg_free(&d);
}

static void test_copy_independent(void)
{
	struct xlb_cfg c, d;
	struct text a, b;

	xlb_cfg_init(&c);
	xlb_cfg_init(&d);
	if (!batch_ok(&c, full) || !ASSERT_OK(xlb_cfg_copy(&d, &c), "copy"))
		goto out;
	save(&c, &a);
	batch_ok(&d, "vip del " VIP4 "\nbackend del " VIP6 " [fd00::11]\n");
	ASSERT_STREQ(save(&c, &b), a.buf, "original after changing the copy");
	ASSERT_EQ(d.n_backends, c.n_backends - 3, "backends in the copy");
out:
	xlb_cfg_free(&c);
	xlb_cfg_free(&d);
}

/* ---- print layer ---------------------------------------------------------- */

static void test_print_json(void)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	struct xp p;

	if (!ASSERT_NOT_NULL(f, "open_memstream"))
		return;
	xp_init(&p, f, true);
	xp_obj_open(&p, NULL);
	xp_str(&p, "s", "%s", "a\"b\\c\n\x01");
	xp_text(&p, "text only\n");
	xp_str(&p, NULL, "%s", "text only too");
	xp_arr_open(&p, "list");
	xp_uint(&p, "ignored", NULL, 1);
	xp_obj_open(&p, NULL);
	xp_u64(&p, "n", NULL, 18446744073709551615ull);
	xp_null(&p, "none", "%s");
	xp_obj_close(&p);
	xp_bool(&p, "b", NULL, false);
	xp_arr_close(&p);
	xp_float(&p, "f", NULL, 1.5);
	xp_obj_close(&p);
	xp_end(&p);
	fclose(f);
	ASSERT_STREQ(out,
		     "{\"s\":\"a\\\"b\\\\c\\n\\u0001\",\"list\":[1,{\"n\":18446744073709551615,"
		     "\"none\":null},false],\"f\":1.500}\n",
		     "json");
	free(out);
}

static void test_print_text(void)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	struct xp p;

	if (!ASSERT_NOT_NULL(f, "open_memstream"))
		return;
	xp_init(&p, f, false);
	xp_obj_open(&p, NULL);
	xp_str(&p, "s", "[%-4s]", "ab");
	xp_str(&p, "json-only", NULL, "x");
	xp_uint(&p, "n", " %u", 7);
	xp_null(&p, "none", " %s");
	xp_bool(&p, "b", " %s", true);
	xp_text(&p, "\n");
	xp_obj_close(&p);
	xp_end(&p);
	fclose(f);
	ASSERT_STREQ(out, "[ab  ] 7 - yes\n", "text");
	free(out);
}

/* ---- converge (root: loads the BPF object) ------------------------------- */

static struct xlb *load(void)
{
	struct xlb_open_opts o = { .no_pin = true, .flow_entries = 1024 };
	struct xlb *x = NULL;

	if (!ASSERT_OK(xlb_open(&x, &o), xlb_errmsg()))
		return NULL;
	return x;
}

static bool converge_to(struct xlb *x, struct xlb_cfg *want, const char *text)
{
	struct xlb_cfg fresh;
	bool ok;

	xlb_cfg_init(&fresh);
	ok = batch_ok(&fresh, text);
	if (ok)
		ok = ASSERT_OK(xlb_cfg_converge(x, &fresh), xlb_errmsg());
	xlb_cfg_free(want);
	*want = fresh;
	return ok;
}

/* The datapath read back as statements equals what was asked for (checks
 * aside: they are not in the maps). */
static bool datapath_is(struct xlb *x, const char *want)
{
	struct xlb_cfg got;
	struct text t;
	bool ok;

	xlb_cfg_init(&got);
	ok = ASSERT_OK(xlb_cfg_from_xlb(&got, x), "read back");
	if (ok)
		ok = ASSERT_STREQ(save(&got, &t), want, "datapath");
	xlb_cfg_free(&got);
	return ok;
}

static const struct xlb_backend_info *backend_info(struct xlb *x, const char *vip,
						   const char *addr)
{
	const struct xlb_vip_info *v;
	struct xlb_stmt st;
	char line[256];

	snprintf(line, sizeof(line), "backend del %s %s", vip, addr);
	if (xlb_stmt_parse(line, &st) != 1)
		return NULL;
	v = xlb_vip_find(x, &st.vip);
	for (size_t i = 0; v && i < v->n_backends; i++)
		if (v->backends[i].ep.addr.v4 == st.backend.addr.v4)
			return &v->backends[i];
	return NULL;
}

static void test_converge(void)
{
	const struct xlb_backend_info *b;
	struct xlb_cfg want;
	struct xlb *x;
	uint32_t id11, id12;

	if (geteuid()) {
		test_skip("needs root (loads the BPF object)");
		return;
	}
	if (!ASSERT_OK(unshare(CLONE_NEWNET) ? -errno : 0, "unshare(CLONE_NEWNET)"))
		return;
	x = load();
	if (!x)
		return;
	xlb_cfg_init(&want);
	if (!converge_to(x, &want, base) ||
	    !datapath_is(x, "vip add " VIP4 " sched maglev mode nat ring 65537\n"
			    "backend add " VIP4 " 198.18.2.11:80 weight 1\n"
			    "backend add " VIP4 " 198.18.2.12:80 weight 3\n"))
		goto out;
	b = backend_info(x, VIP4, "198.18.2.11");
	id11 = b ? b->id : ~0u;
	b = backend_info(x, VIP4, "198.18.2.12");
	id12 = b ? b->id : ~0u;
	/* Drain one, add one with a drain, reweight: kept backends keep their
	 * slots (and so their flows). */
	if (!converge_to(x, &want,
			 "vip add " VIP4 " sched wrr\n"
			 "backend add " VIP4 " 198.18.2.11\n"
			 "backend add " VIP4 " 198.18.2.12 weight 2\n"
			 "backend set " VIP4 " 198.18.2.11 drain\n"
			 "backend add " VIP4 " 198.18.2.13\n"
			 "backend set " VIP4 " 198.18.2.13 drain\n") ||
	    !datapath_is(x, "vip add " VIP4 " sched wrr mode nat ring 65537\n"
			    "backend add " VIP4 " 198.18.2.11:80 weight 1\n"
			    "backend set " VIP4 " 198.18.2.11:80 drain\n"
			    "backend add " VIP4 " 198.18.2.12:80 weight 2\n"
			    "backend add " VIP4 " 198.18.2.13:80 weight 1\n"
			    "backend set " VIP4 " 198.18.2.13:80 drain\n"))
		goto out;
	b = backend_info(x, VIP4, "198.18.2.11");
	ASSERT_EQ(b ? b->id : ~0u, id11, "slot of the kept 198.18.2.11");
	b = backend_info(x, VIP4, "198.18.2.12");
	ASSERT_EQ(b ? b->id : ~0u, id12, "slot of the kept 198.18.2.12");
	/* A mode change re-creates the VIP; removing everything empties it. */
	if (!converge_to(x, &want, "vip add " VIP4 " mode dsr\nbackend add " VIP4 " 198.18.2.11\n") ||
	    !datapath_is(x, "vip add " VIP4 " sched maglev mode dsr ring 65537\n"
			    "backend add " VIP4 " 198.18.2.11:80 weight 1\n"))
		goto out;
	if (converge_to(x, &want, ""))
		datapath_is(x, "");
out:
	xlb_cfg_free(&want);
	xlb_close(x);
}

/* A change the datapath refuses leaves it as it was. */
static void test_converge_rollback(void)
{
	struct xlb_cfg want, bad;
	struct xlb *x;
	int rc;

	if (geteuid()) {
		test_skip("needs root (loads the BPF object)");
		return;
	}
	x = load();
	if (!x)
		return;
	xlb_cfg_init(&want);
	xlb_cfg_init(&bad);
	if (!converge_to(x, &want, base))
		goto out;
	if (!batch_ok(&bad, "vip add " VIP4 "\n"
			    "backend add " VIP4 " 198.18.2.11\n"
			    "vip add tcp/198.18.1.11:80\n"
			    "backend add tcp/198.18.1.11:80 198.18.2.31\n"))
		goto out;
	/* Forge what the simulation would refuse: a VIP with port 0 that only
	 * libxlb catches, after the first VIP's changes went through. */
	bad.vips[1].spec.key.port = 0;
	bad.vips[1].be[0].ep.port = 0;
	rc = xlb_cfg_converge(x, &bad);
	snprintf(err, sizeof(err), "%s", xlb_errmsg());
	ASSERT_NE(rc, 0, "converge to a refused configuration");
	ASSERT_TRUE(strstr(err, "(nothing was changed)") != NULL, "message: %s", err);
	datapath_is(x, "vip add " VIP4 " sched maglev mode nat ring 65537\n"
		       "backend add " VIP4 " 198.18.2.11:80 weight 1\n"
		       "backend add " VIP4 " 198.18.2.12:80 weight 3\n");
out:
	xlb_cfg_free(&want);
	xlb_cfg_free(&bad);
	xlb_close(x);
}

int main(void)
{
	RUN_TEST(test_duplicate_backend);
	RUN_TEST(test_missing_vip);
	RUN_TEST(test_missing_backend);
	RUN_TEST(test_vip_exists);
	RUN_TEST(test_dsr_port);
	RUN_TEST(test_family);
	RUN_TEST(test_wrr_turns);
	RUN_TEST(test_ring_too_small);
	RUN_TEST(test_not_in_batch);
	RUN_TEST(test_batch_all_or_nothing);
	RUN_TEST(test_batch_in_order);
	RUN_TEST(test_batch_bad_bytes);
	RUN_TEST(test_save_canonical);
	RUN_TEST(test_save_round_trip);
	RUN_TEST(test_copy_independent);
	RUN_TEST(test_print_json);
	RUN_TEST(test_print_text);
	RUN_TEST(test_converge);
	RUN_TEST(test_converge_rollback);
	return test_exit_status();
}
