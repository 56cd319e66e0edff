// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The statement parser (user/lib/stmt.c) on any line: it answers 1, 0 or
 * -EINVAL with a message, and a statement it accepts prints (`save` form)
 * as text that parses back to a statement printing the same text.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "stmt.h"

static void check_canonical(const char *line, const struct xlb_stmt *st)
{
	static char text[2 * XLB_STMT_MAX_LEN], again[2 * XLB_STMT_MAX_LEN];
	static struct xlb_stmt st2;
	int rc;

	if (xlb_stmt_format(st, text, sizeof(text)) < 0)
		fuzz_fail("accepted statement does not print: '%s'", line);
	rc = xlb_stmt_parse(text, &st2);
	if (rc != 1)
		fuzz_fail("printed statement '%s' (from '%s') parses as %d: %s", text, line, rc,
			  xlb_errmsg());
	if (xlb_stmt_format(&st2, again, sizeof(again)) < 0 || strcmp(text, again))
		fuzz_fail("'%s' prints '%s', which prints '%s'", line, text, again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct xlb_stmt st;
	char *line;
	int rc;

	if (size > 2 * XLB_STMT_MAX_LEN)
		return 0;
	line = fuzz_cstr(data, size);
	rc = xlb_stmt_parse(line, &st);
	if (rc == -EINVAL) {
		if (!xlb_errmsg()[0])
			fuzz_fail("'%s' refused without a message", line);
	} else if (rc == 1) {
		check_canonical(line, &st);
	} else if (rc != 0) {
		fuzz_fail("'%s': unexpected return %d", line, rc);
	}
	free(line);
	return 0;
}
