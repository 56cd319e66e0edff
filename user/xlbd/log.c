// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

static bool verbose;

static const char *const level_names[] = {
	[XLOG_ERROR] = "error",
	[XLOG_WARN] = "warning",
	[XLOG_INFO] = "info",
	[XLOG_DEBUG] = "debug",
};

void xlog_set_verbose(bool on)
{
	verbose = on;
}

bool xlog_verbose(void)
{
	return verbose;
}

/* Newlines inside a message (a libbpf error, say) would split one event
 * across lines that no longer say who wrote them. */
static void one_line(char *s)
{
	for (; *s; s++)
		if (*s == '\n' || *s == '\r')
			*s = ' ';
}

void xlog(enum xlog_level level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (level == XLOG_DEBUG && !verbose)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	one_line(msg);
	/* One write per line: concurrent writers (libbpf's own prints) do not
	 * interleave inside it. */
	fprintf(stderr, "xlbd: %s: %s\n", level_names[level], msg);
}
