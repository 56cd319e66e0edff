/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * One print path for text and JSON, in the manner of iproute2's json_print:
 * the code that renders `show`, `stats`, `save` and `vip list` says once what
 * it prints, and the printer decides how.
 *
 * Every value call takes a JSON key and a printf format for text:
 *   key == NULL: text only (a label, a column that JSON carries elsewhere)
 *   fmt == NULL: JSON only (a field the table has no room for)
 * Inside a JSON array the key is not printed (but must not be NULL for a
 * value to appear in JSON).
 * Text-only decoration (headers, newlines) goes through xp_text(), which
 * prints nothing in JSON mode.
 *
 * JSON is written compactly on one line, ended by a newline at xp_end(), so
 * a reply that carries it is one line a script can read whole.
 */
#ifndef XLB_PRINT_H
#define XLB_PRINT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define XP_MAX_DEPTH 16

struct xp {
	FILE *f;
	bool json;
	int depth;
	/* Per open container: has it had a member yet (needs a comma)? */
	bool nonempty[XP_MAX_DEPTH];
	bool array[XP_MAX_DEPTH]; /* members of arrays have no keys */
};

/* Start a document. In JSON mode the caller opens the top-level container
 * itself (xp_obj_open(p, NULL) or xp_arr_open(p, NULL)). */
void xp_init(struct xp *p, FILE *f, bool json);
/* End the document: the JSON line's newline. */
void xp_end(struct xp *p);

void xp_obj_open(struct xp *p, const char *key);
void xp_obj_close(struct xp *p);
void xp_arr_open(struct xp *p, const char *key);
void xp_arr_close(struct xp *p);

void xp_str(struct xp *p, const char *key, const char *fmt, const char *val);
void xp_u64(struct xp *p, const char *key, const char *fmt, uint64_t val);
void xp_uint(struct xp *p, const char *key, const char *fmt, unsigned int val);
/* JSON has no NaN or infinity: those print as null. */
void xp_float(struct xp *p, const char *key, const char *fmt, double val);
void xp_bool(struct xp *p, const char *key, const char *fmt, bool val);
/* JSON null; text prints fmt with the string "-". */
void xp_null(struct xp *p, const char *key, const char *fmt);

void xp_text(struct xp *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Write s as a JSON string literal, quotes included. */
void xp_json_string(FILE *f, const char *s);

#endif /* XLB_PRINT_H */
