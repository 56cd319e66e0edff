/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The state file: xlbd's memory of the running configuration across
 * restarts (default /var/lib/xlb/state.conf). It is the `save` output
 * between a version line ("# xlb-state 1") and an end line counting the
 * statements ("# xlb-state end N"), rewritten atomically (temporary file,
 * fsync, rename) before every change reaches the datapath, so a crash at
 * any point leaves either the old or the new configuration in it, never
 * half of one. A file without both lines (empty, cut short, not xlbd's) is
 * refused as damaged rather than applied.
 *
 * Its directory, like the control socket's, must be root's and writable by
 * no one else (persist_check_dir), and files there are created only with
 * O_EXCL|O_NOFOLLOW: another user cannot plant a link xlbd would write
 * through as root.
 */
#ifndef XLBD_PERSIST_H
#define XLBD_PERSIST_H

#include <stdbool.h>
#include <stddef.h>

#include "exec.h"

#define XLB_STATE_DEFAULT "/var/lib/xlb/state.conf"
/* The version of the file's format, on its first line. */
#define PERSIST_FORMAT 1

/* The statements of a state file, once its frame checked out. */
struct persist_body {
	const char *text; /* into the file's text */
	size_t len;
	unsigned long n_stmts; /* as its end line says (after a load: applied) */
	bool legacy; /* written before the version line existed */
};

/* The whole of a file, NUL-terminated. Returns 0, -ENOENT or -errno
 * (with a message in err). For the operator's -c file. */
int persist_read(const char *path, char **text, size_t *len, char *err, size_t errlen);
/* Check the frame of a state file's text. -EBADMSG (message in err) when it
 * is damaged: empty, cut short, not xlbd's, from a newer xlbd. */
int persist_parse(const char *path, const char *text, size_t len, struct persist_body *b,
		  char *err, size_t errlen);
/* Read, check and execute the state file into cfg (all or nothing: on an
 * error cfg is unchanged). Returns 0, -ENOENT,
 * -EBADMSG when the file is damaged, -EPERM when its directory is unsafe,
 * -EINVAL for a statement that fails, or -errno; err says which. */
int persist_load(const char *path, struct xlb_cfg *cfg, struct persist_body *b, char *err,
		 size_t errlen);
/* Rename a damaged state file to PATH.bad (its name in aside). */
int persist_set_aside(const char *path, char *aside, size_t aside_len);
/* Write cfg to path atomically. Returns 0 or -errno with a message. */
int persist_write(const char *path, const struct xlb_cfg *cfg, char *err, size_t errlen);
/* mkdir -p of path's directory. */
int persist_mkdir_parent(const char *path, unsigned int mode);
/* The directory of path (what: "state file", "control socket", for the
 * message) and each one above it must be root's (or xlbd's user's) and not
 * writable by others; an ancestor may be if it is sticky, like /tmp.
 * Returns 0 or -errno with a message naming the directory and the fix. */
int persist_check_dir(const char *path, const char *what, char *err, size_t errlen);
/* mkdir -p, then persist_check_dir. */
int persist_prepare_dir(const char *path, const char *what, char *err, size_t errlen);

#endif /* XLBD_PERSIST_H */
