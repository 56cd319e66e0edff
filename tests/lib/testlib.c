// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "testlib.h"

/* One case runs at a time; tests are single-threaded by convention. */
static struct {
	char name[256];
	char detail[768];
	bool running;
	bool failed;
	bool skipped;
} cur;

static unsigned int cases_run;
static unsigned int cases_failed;

/* A result must stay on one line or run.sh would miscount it. */
static void one_line(char *s)
{
	for (; *s; s++)
		if (*s == '\n' || *s == '\r')
			*s = ' ';
}

void test_begin(const char *fmt, ...)
{
	va_list ap;

	if (cur.running)
		test_end();
	memset(&cur, 0, sizeof(cur));
	va_start(ap, fmt);
	vsnprintf(cur.name, sizeof(cur.name), fmt, ap);
	va_end(ap);
	one_line(cur.name);
	cur.running = true;
}

bool test_end(void)
{
	if (!cur.running)
		return false;
	cur.running = false;
	cases_run++;
	if (cur.failed) {
		cases_failed++;
		printf("FAIL %s: %s\n", cur.name, cur.detail);
	} else if (cur.skipped) {
		printf("SKIP %s: %s\n", cur.name, cur.detail);
	} else {
		printf("PASS %s\n", cur.name);
	}
	/* Keep the order of stdout and stderr when both go down one pipe. */
	fflush(stdout);
	return !cur.failed;
}

void test_skip(const char *fmt, ...)
{
	va_list ap;

	if (cur.failed)
		return;
	cur.skipped = true;
	va_start(ap, fmt);
	vsnprintf(cur.detail, sizeof(cur.detail), fmt, ap);
	va_end(ap);
	one_line(cur.detail);
}

int test_exit_status(void)
{
	return cases_failed || !cases_run;
}

void test_log(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("  # ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void record_failure(const char *file, int line, const char *fmt,
			   va_list ap)
{
	int len;

	/* The first failure explains the case; later ones are consequences. */
	if (cur.failed)
		return;
	cur.failed = true;
	len = vsnprintf(cur.detail, sizeof(cur.detail), fmt, ap);
	if (len >= 0 && (size_t)len < sizeof(cur.detail))
		snprintf(cur.detail + len, sizeof(cur.detail) - len,
			 " (%s:%d)", file, line);
	one_line(cur.detail);
}

bool test__check(bool ok, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	if (ok)
		return true;
	va_start(ap, fmt);
	record_failure(file, line, fmt, ap);
	va_end(ap);
	return false;
}

static bool holds(int cmp, const char *op)
{
	if (!strcmp(op, "=="))
		return cmp == 0;
	if (!strcmp(op, "!="))
		return cmp != 0;
	if (!strcmp(op, "<"))
		return cmp < 0;
	if (!strcmp(op, "<="))
		return cmp <= 0;
	if (!strcmp(op, ">"))
		return cmp > 0;
	return cmp >= 0;
}

/* "got 3, expected 4" for ==, "got 3, expected <= 2" for the others. */
static const char *shown_op(const char *op)
{
	return strcmp(op, "==") ? op : "";
}

bool test__cmp(long long a, long long b, const char *op, const char *what,
	       const char *file, int line)
{
	return test__check(holds((a > b) - (a < b), op), file, line,
			   "%s: got %lld, expected %s%s%lld", what, a,
			   shown_op(op), *shown_op(op) ? " " : "", b);
}

bool test__cmp_u(unsigned long long a, unsigned long long b, const char *op,
		 const char *what, const char *file, int line)
{
	return test__check(holds((a > b) - (a < b), op), file, line,
			   "%s: got %llu, expected %s%s%llu", what, a,
			   shown_op(op), *shown_op(op) ? " " : "", b);
}

bool test__ok(long long err, const char *what, const char *file, int line)
{
	return test__check(err == 0, file, line, "%s: returned %lld (%s)", what,
			   err, err < 0 ? strerror((int)-err) : "not 0");
}

bool test__streq(const char *a, const char *b, const char *what,
		 const char *file, int line)
{
	bool eq = (a && b) ? !strcmp(a, b) : a == b;

	return test__check(eq, file, line, "%s: got \"%s\", expected \"%s\"",
			   what, a ? a : "(null)", b ? b : "(null)");
}
