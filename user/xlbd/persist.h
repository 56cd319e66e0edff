/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The state file: xlbd's memory of the running configuration across
 * restarts (default /var/lib/xlb/state.conf). It is the `save` output,
 * rewritten atomically (temporary file, fsync, rename) before every change
 * reaches the datapath, so a crash at any point leaves either the old or
 * the new configuration in it, never half of one.
 */
#ifndef XLBD_PERSIST_H
#define XLBD_PERSIST_H

#include <stddef.h>

#include "exec.h"

#define XLB_STATE_DEFAULT "/var/lib/xlb/state.conf"

/* The whole of a file, NUL-terminated. Returns 0, -ENOENT or -errno
 * (with a message in err). */
int persist_read(const char *path, char **text, size_t *len, char *err, size_t errlen);
/* Write cfg to path atomically. Returns 0 or -errno with a message. */
int persist_write(const char *path, const struct xlb_cfg *cfg, char *err, size_t errlen);
/* mkdir -p of path's directory. */
int persist_mkdir_parent(const char *path, unsigned int mode);

#endif /* XLBD_PERSIST_H */
