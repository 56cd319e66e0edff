/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* What the namespace-building tests do to the system: shell commands,
 * sysctl-style file writes, MAC addresses as text. */
#ifndef XLB_TEST_SYSUTIL_H
#define XLB_TEST_SYSUTIL_H

#include <stdint.h>

/* Run a command (printf-style) with system(); non-zero is also reported
 * on stderr with the command. */
int test_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Write val into path (a /proc or /sys knob): 0 or -errno. */
int test_write_file(const char *path, const char *val);
/* "aa:bb:cc:dd:ee:ff" into buf (at least 18 bytes); returns buf. */
const char *test_mac_str(const uint8_t *m, char *buf);

#endif
