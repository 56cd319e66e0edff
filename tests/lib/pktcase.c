// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "pktcase.h"
#include "testlib.h"

struct pkt_case tc;

void tc_begin(const char *name)
{
	test_begin("%s/%s", tc.layer ? tc.layer : "prog", name);
	tc.failed = false;
	tc.dump = NULL;
	tc.dump_len = 0;
	tc.dumpf = open_memstream(&tc.dump, &tc.dump_len);
}

bool tc_fail(const char *fmt, ...)
{
	char detail[1024];
	va_list ap;

	if (tc.failed)
		return false;
	tc.failed = true;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	return TEST_FAIL("%s", detail);
}

void tc_end(void)
{
	char *line, *save = NULL;

	fclose(tc.dumpf);
	test_end();
	if (tc.failed && tc.dump_len)
		for (line = strtok_r(tc.dump, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			test_log("%s", line);
	free(tc.dump);
}

const char *action_name(uint32_t a)
{
	static const char *const names[] = { "ABORTED", "DROP", "PASS", "TX", "REDIRECT" };

	return a < sizeof(names) / sizeof(names[0]) ? names[a] : "?";
}
