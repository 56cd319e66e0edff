// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdarg.h>
#include <stdio.h>

#include "libxlb.h"

/* Per thread, so the prober thread (if any) and the control loop don't
 * overwrite each other's explanation. */
static __thread char last_error[512];

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
