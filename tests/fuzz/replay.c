// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Replays a harness's saved corpus (tests/fuzz/corpus/NAME/), every file
 * once, in name order, without libFuzzer: `make test` runs this under ASan
 * and UBSan, so an input that once crashed or broke an invariant keeps
 * failing until it is fixed.
 *
 *   fuzz-replay-NAME [DIR]      (default FUZZ_CORPUS, relative to the repo)
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static int read_all(const char *path, uint8_t **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 4096;

	if (!f)
		return -errno;
	*data = malloc(cap);
	*len = 0;
	while (*data) {
		size_t n = fread(*data + *len, 1, cap - *len, f);

		*len += n;
		if (*len < cap)
			break;
		cap *= 2;
		*data = realloc(*data, cap);
	}
	fclose(f);
	return *data ? 0 : -ENOMEM;
}

/* In a buffer of exactly len bytes, as libFuzzer does, so ASan sees a
 * harness or parser that reads past the input. */
static void run_exact(const uint8_t *data, size_t len)
{
	uint8_t *exact = malloc(len ? len : 1);

	if (!exact)
		fuzz_fail("out of memory");
	memcpy(exact, data, len);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
}

static int is_input(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : FUZZ_CORPUS;
	struct dirent **names;
	char path[4096];
	int n, i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	fuzz_replay_name = "fuzz/" FUZZ_NAME "-corpus";
	n = scandir(dir, &names, is_input, alphasort);
	if (n <= 0) {
		printf("FAIL %s: no corpus in %s (%s): run from the repository root\n",
		       fuzz_replay_name, dir, n < 0 ? strerror(errno) : "empty");
		return 1;
	}
	for (i = 0; i < n; i++) {
		uint8_t *data;
		size_t len;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		if (read_all(path, &data, &len)) {
			printf("FAIL %s: cannot read %s\n", fuzz_replay_name, path);
			return 1;
		}
		fuzz_replay_file = path;
		run_exact(data, len);
		free(data);
		free(names[i]);
	}
	free(names);
	printf("PASS %s (%d inputs)\n", fuzz_replay_name, n);
	return 0;
}
