// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The text/JSON printer behind every xlbctl output (see print.h).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "print.h"

void xp_init(struct xp *p, FILE *f, bool json)
{
	p->f = f;
	p->json = json;
	p->depth = 0;
	p->nonempty[0] = false;
	p->array[0] = false;
}

void xp_end(struct xp *p)
{
	if (p->json)
		fputc('\n', p->f);
}

void xp_json_string(FILE *f, const char *s)
{
	const unsigned char *c = (const unsigned char *)s;

	fputc('"', f);
	for (; *c; c++) {
		switch (*c) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			/* Other control bytes would make the document invalid;
			 * bytes >= 0x80 pass as they are (UTF-8 stays UTF-8). */
			if (*c < 0x20)
				fprintf(f, "\\u%04x", *c);
			else
				fputc(*c, f);
		}
	}
	fputc('"', f);
}

/* The comma and "key": that precede a member. Keys are only meaningful
 * inside objects; in arrays (or at the top) they are ignored. */
static void member(struct xp *p, const char *key)
{
	if (p->nonempty[p->depth])
		fputc(',', p->f);
	p->nonempty[p->depth] = true;
	if (key && !p->array[p->depth]) {
		xp_json_string(p->f, key);
		fputc(':', p->f);
	}
}

static void open_container(struct xp *p, const char *key, char c)
{
	if (!p->json)
		return;
	if (p->depth > 0)
		member(p, key);
	fputc(c, p->f);
	/* Deeper nesting would be a bug in a renderer; keep the output well
	 * formed anyway by not tracking commas beyond the limit. */
	if (p->depth < XP_MAX_DEPTH - 1)
		p->depth++;
	p->nonempty[p->depth] = false;
	p->array[p->depth] = c == '[';
}

static void close_container(struct xp *p, char c)
{
	if (!p->json)
		return;
	fputc(c, p->f);
	if (p->depth > 0)
		p->depth--;
}

void xp_obj_open(struct xp *p, const char *key)
{
	open_container(p, key, '{');
}

void xp_obj_close(struct xp *p)
{
	close_container(p, '}');
}

void xp_arr_open(struct xp *p, const char *key)
{
	open_container(p, key, '[');
}

void xp_arr_close(struct xp *p)
{
	close_container(p, ']');
}

/* True when the call has something to print in the current mode. */
static bool wants(const struct xp *p, const char *key, const char *fmt)
{
	return p->json ? key != NULL : fmt != NULL;
}

void xp_str(struct xp *p, const char *key, const char *fmt, const char *val)
{
	if (!wants(p, key, fmt))
		return;
	if (!p->json) {
		fprintf(p->f, fmt, val);
		return;
	}
	member(p, key);
	xp_json_string(p->f, val);
}

void xp_u64(struct xp *p, const char *key, const char *fmt, uint64_t val)
{
	if (!wants(p, key, fmt))
		return;
	if (!p->json) {
		fprintf(p->f, fmt, (unsigned long long)val);
		return;
	}
	member(p, key);
	fprintf(p->f, "%llu", (unsigned long long)val);
}

void xp_uint(struct xp *p, const char *key, const char *fmt, unsigned int val)
{
	if (!wants(p, key, fmt))
		return;
	if (!p->json) {
		fprintf(p->f, fmt, val);
		return;
	}
	member(p, key);
	fprintf(p->f, "%u", val);
}

void xp_float(struct xp *p, const char *key, const char *fmt, double val)
{
	if (!wants(p, key, fmt))
		return;
	if (!p->json) {
		fprintf(p->f, fmt, val);
		return;
	}
	member(p, key);
	if (isfinite(val))
		fprintf(p->f, "%.3f", val);
	else
		fputs("null", p->f);
}

void xp_bool(struct xp *p, const char *key, const char *fmt, bool val)
{
	if (!wants(p, key, fmt))
		return;
	if (!p->json) {
		fprintf(p->f, fmt, val ? "yes" : "no");
		return;
	}
	member(p, key);
	fputs(val ? "true" : "false", p->f);
}

void xp_null(struct xp *p, const char *key, const char *fmt)
{
	if (!wants(p, key, fmt))
		return;
	if (!p->json) {
		fprintf(p->f, fmt, "-");
		return;
	}
	member(p, key);
	fputs("null", p->f);
}

void xp_text(struct xp *p, const char *fmt, ...)
{
	va_list ap;

	if (p->json)
		return;
	va_start(ap, fmt);
	vfprintf(p->f, fmt, ap);
	va_end(ap);
}
