/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * xlbd's log: one line per event on stderr, "xlbd: LEVEL: message", so a
 * terminal and the journal both read it and grep finds an event whole.
 */
#ifndef XLBD_LOG_H
#define XLBD_LOG_H

#include <stdbool.h>

enum xlog_level {
	XLOG_ERROR,
	XLOG_WARN,
	XLOG_INFO,
	XLOG_DEBUG,
};

void xlog_set_verbose(bool verbose);
bool xlog_verbose(void);
void xlog(enum xlog_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) xlog(XLOG_ERROR, __VA_ARGS__)
#define log_warn(...) xlog(XLOG_WARN, __VA_ARGS__)
#define log_info(...) xlog(XLOG_INFO, __VA_ARGS__)
#define log_debug(...) xlog(XLOG_DEBUG, __VA_ARGS__)

#endif /* XLBD_LOG_H */
