// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * What xlb-backend prints: one line per item, starting with a word a script
 * can match (ok, done, fixed, problem, note), so "run it twice" and "what is
 * wrong here" are answered line by line.
 */
#include <stdarg.h>
#include <stdio.h>

#include "backend.h"

static unsigned int problems;

static void vline(const char *tag, const char *fmt, va_list ap)
{
	printf("%s: ", tag);
	vprintf(fmt, ap);
	putchar('\n');
}

#define REP_FN(name, tag)                                                      \
	void name(const char *fmt, ...)                                        \
	{                                                                      \
		va_list ap;                                                    \
                                                                               \
		va_start(ap, fmt);                                             \
		vline(tag, fmt, ap);                                           \
		va_end(ap);                                                    \
	}

REP_FN(rep_ok, "ok")
REP_FN(rep_done, "done")
REP_FN(rep_fixed, "fixed")
REP_FN(rep_note, "note")

void rep_problem(const char *fmt, ...)
{
	va_list ap;

	problems++;
	va_start(ap, fmt);
	vline("problem", fmt, ap);
	va_end(ap);
}

unsigned int rep_problems(void)
{
	return problems;
}

const char *be_mode_name(enum be_mode m)
{
	switch (m) {
	case BE_MODE_DSR:
		return "dsr";
	case BE_MODE_TUNNEL:
		return "tunnel";
	default:
		return "none";
	}
}

const char *be_vip_str(const struct be_vip *v, char *buf, size_t len)
{
	return xlb_addr_str(&v->addr, v->family, buf, len);
}

const char *be_vip_prefix_str(const struct be_vip *v, char *buf, size_t len)
{
	char a[64];

	snprintf(buf, len, "%s/%d", be_vip_str(v, a, sizeof(a)),
		 v->family == XLB_FAMILY_V4 ? 32 : 128);
	return buf;
}

/* What libxlb did on its own: a mount is "done", a doubt is a "note". */
void rep_libxlb_notice(enum xlb_notice_level level, const char *msg)
{
	if (level == XLB_NOTICE_WARN)
		rep_note("%s", msg);
	else
		rep_done("%s", msg);
}
