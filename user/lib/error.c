// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "xlb_internal.h"

/* Per thread, so a caller's threads never overwrite each other's
 * explanation. */
static __thread char last_error[XLB_MSG_LEN];

const char *xlb_errmsg(void)
{
	return last_error;
}

int xlb_fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return err > 0 ? -err : err;
}

int xlb_fail_vip(int err, const char *what, const struct xlb_vip_key *key)
{
	char why[XLB_MSG_LEN], vn[XLB_TEXT_LEN];

	snprintf(why, sizeof(why), "%s", last_error[0] ? last_error : strerror(err < 0 ? -err : err));
	return xlb_fail(err, "%s %s: %s", what, xlb_vip_key_str(key, vn, sizeof(vn)), why);
}

static void notice_stderr(enum xlb_notice_level level, const char *msg)
{
	fprintf(stderr, "%s: %s\n", level == XLB_NOTICE_WARN ? "warning" : "info", msg);
}

static xlb_notice_fn notice_sink = notice_stderr;

void xlb_set_notice_sink(xlb_notice_fn fn)
{
	notice_sink = fn ? fn : notice_stderr;
}

static void notice(enum xlb_notice_level level, const char *fmt, va_list ap)
{
	char msg[XLB_MSG_LEN];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	notice_sink(level, msg);
}

void xlb_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	notice(XLB_NOTICE_WARN, fmt, ap);
	va_end(ap);
}

void xlb_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	notice(XLB_NOTICE_INFO, fmt, ap);
	va_end(ap);
}
