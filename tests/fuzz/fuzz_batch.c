// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A batch (`xlbctl apply`, the state file at start) applied to an
 * in-memory configuration with xlb_cfg_exec_text(), the seam the daemon
 * uses before anything reaches the datapath. All or nothing: a refused
 * batch leaves the configuration exactly as it was and names its line;
 * an accepted one leaves a configuration that keeps every invariant and
 * rebuilds itself from its own `save` text.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static void check_refusal(const char *err, const char *before, const struct xlb_cfg *c)
{
	char *after = fuzz_cfg_text(c);

	if (strncmp(err, "batch:", 6))
		fuzz_fail("refusal does not name the batch and line: '%s'", err);
	if (strcmp(before, after))
		fuzz_fail("refused batch (%s) changed the configuration:\n%s---\n%s", err,
			  before, after);
	free(after);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xlb_cfg c;
	char *before;
	unsigned int n = 0;
	int rc;

	if (size > 65536)
		return 0;
	fuzz_cfg_base(&c);
	before = fuzz_cfg_text(&c);
	/* Not NUL-terminated on purpose: the batch path takes a length. */
	rc = xlb_cfg_exec_text(&c, (const char *)data, size, "batch", &n);
	if (rc)
		check_refusal(xlb_errmsg(), before, &c);
	else
		fuzz_cfg_check(&c);
	free(before);
	xlb_cfg_free(&c);
	return 0;
}
