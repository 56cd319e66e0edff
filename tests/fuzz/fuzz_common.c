// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

const char *fuzz_replay_name;
const char *fuzz_replay_file;

void fuzz_fail(const char *fmt, ...)
{
	char why[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (fuzz_replay_name)
		printf("FAIL %s: input %s: %s\n", fuzz_replay_name, fuzz_replay_file, why);
	else
		fprintf(stderr, "fuzz invariant broken: %s\n", why);
	fflush(NULL);
	abort();
}

char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		fuzz_fail("out of memory");
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

struct text {
	char *buf;
	size_t len;
	FILE *f;
};

static int put_line(const char *line, void *arg)
{
	struct text *t = arg;

	fprintf(t->f, "%s\n", line);
	return 0;
}

char *fuzz_cfg_text(const struct xlb_cfg *c)
{
	struct text t = { 0 };

	t.f = open_memstream(&t.buf, &t.len);
	if (!t.f)
		fuzz_fail("out of memory");
	xlb_cfg_statements(c, put_line, &t);
	fclose(t.f);
	return t.buf;
}

static const char base_conf[] =
	"vip add tcp/198.18.1.10:80 sched maglev mode nat ring 251\n"
	"backend add tcp/198.18.1.10:80 198.18.2.11:8080 weight 2\n"
	"backend add tcp/198.18.1.10:80 198.18.2.12:8080\n"
	"check set tcp/198.18.1.10:80 http port 8080 path /health expect 200 interval 1s rise 2 fall 3\n"
	"vip add udp/[fd00::10]:53 sched wrr mode nat\n"
	"backend add udp/[fd00::10]:53 [fd00:2::11]:5353 weight 3\n"
	"vip add tcp/198.18.1.11:443 sched srchash mode dsr\n"
	"backend add tcp/198.18.1.11:443 198.18.2.13\n"
	"vip add tcp/[fd00::11]:80 sched rr mode tunnel encap gue gue-port 6080\n"
	"backend add tcp/[fd00::11]:80 198.18.2.14\n";

void fuzz_cfg_base(struct xlb_cfg *c)
{
	xlb_cfg_init(c);
	if (xlb_cfg_exec_text(c, base_conf, strlen(base_conf), "base", NULL))
		fuzz_fail("the base configuration is refused: %s", xlb_errmsg());
}

static void check_order(const struct xlb_cfg *c)
{
	size_t i, j, n_be = 0;

	for (i = 0; i < c->n_vips; i++) {
		const struct xlb_cfg_vip *v = &c->vips[i];

		if (i && xlb_cfg_key_cmp(&c->vips[i - 1].spec.key, &v->spec.key) >= 0)
			fuzz_fail("VIPs %zu and %zu out of order or equal", i - 1, i);
		for (j = 1; j < v->n_be; j++)
			if (xlb_cfg_ep_cmp(&v->be[j - 1].ep, &v->be[j].ep) >= 0)
				fuzz_fail("VIP %zu: backends %zu and %zu out of order", i, j - 1, j);
		n_be += v->n_be;
	}
	if (n_be != c->n_backends)
		fuzz_fail("n_backends %zu, but the VIPs hold %zu", c->n_backends, n_be);
}

void fuzz_cfg_check(const struct xlb_cfg *c)
{
	char *text = fuzz_cfg_text(c), *again;
	struct xlb_cfg r;

	check_order(c);
	xlb_cfg_init(&r);
	if (xlb_cfg_exec_text(&r, text, strlen(text), "save", NULL))
		fuzz_fail("the save text is refused on an empty configuration: %s\n%s",
			  xlb_errmsg(), text);
	again = fuzz_cfg_text(&r);
	if (strcmp(text, again))
		fuzz_fail("save text does not rebuild the same configuration:\n%s---\n%s", text,
			  again);
	xlb_cfg_free(&r);
	free(again);
	free(text);
}
