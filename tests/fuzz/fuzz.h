/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What the user-space fuzz harnesses share. Each harness is one
 * LLVMFuzzerTestOneInput(); it is linked either with libFuzzer (make fuzz)
 * or with replay.c (make test), which runs every file of its saved corpus
 * once under ASan and UBSan.
 *
 * A harness checks invariants beyond "does not crash"; a broken one calls
 * fuzz_fail(), which aborts, so libFuzzer keeps the input as a crash and
 * replay reports the corpus file by name.
 */
#ifndef XLB_FUZZ_H
#define XLB_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "exec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Set by replay.c: the harness's test name and the corpus file running. */
extern const char *fuzz_replay_name;
extern const char *fuzz_replay_file;

void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* data as a NUL-terminated string (malloc'd; a NUL inside ends it early,
 * as it does for every C-string consumer). */
char *fuzz_cstr(const uint8_t *data, size_t size);

/* The configuration's `save` text, one statement a line (malloc'd). */
char *fuzz_cfg_text(const struct xlb_cfg *c);

/* A small configuration for changes to act on: v4 and v6 VIPs in every
 * mode, with backends and a health check. */
void fuzz_cfg_base(struct xlb_cfg *c);

/*
 * The invariants of a configuration: VIPs and backends sorted and unique,
 * n_backends the sum over VIPs, and its `save` text rebuilds exactly it on
 * an empty configuration (what a restart does with the state file).
 */
void fuzz_cfg_check(const struct xlb_cfg *c);

#endif
