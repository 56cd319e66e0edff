/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A tiny harness for C tests, in the spirit of the kernel's bpf selftests.
 *
 * Each test case prints exactly one line on stdout, which tests/run.sh counts:
 *
 *   PASS <name>
 *   FAIL <name>: <detail of the first failed check>
 *   SKIP <name>: <reason>          (avoid: a test that cannot run should fail)
 *
 * Usage:
 *
 *   static void test_foo(int n)
 *   {
 *           int *p = malloc(...);
 *
 *           if (!ASSERT_NOT_NULL(p, "malloc"))
 *                   return;
 *           ASSERT_EQ(foo(p, n), 42, "foo(p, n)");
 *           free(p);
 *   }
 *
 *   int main(void)
 *   {
 *           RUN_TEST(test_foo, 3);                  // named "test_foo"
 *           RUN_CASE("foo_n10", test_foo(10));
 *           test_begin("foo_n%d", 20); test_foo(20); test_end();
 *           return test_exit_status();
 *   }
 *
 * Checks do not abort the case: they record the first failure and return
 * false, so a case decides itself whether to stop (return/goto cleanup) or go
 * on. Diagnostics go to stderr via test_log() so stdout stays one line a case.
 */
#ifndef XLB_TESTLIB_H
#define XLB_TESTLIB_H

#include <stdbool.h>
#include <stddef.h>

/* Start a case; the name is printf-formatted (e.g. "balance_n%d"). */
void test_begin(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Finish the running case: print its result line. Returns true if it passed. */
bool test_end(void);
/* Mark the running case skipped (reported by test_end unless it also failed). */
void test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* 1 if any case failed or none ran, else 0: main's return value. */
int test_exit_status(void);
/* A diagnostic line on stderr ("  # ..."), never counted as a result. */
void test_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Record a failure (the first one of a case is reported). Returns ok. */
bool test__check(bool ok, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
bool test__cmp(long long a, long long b, const char *op, const char *what,
	       const char *file, int line);
bool test__cmp_u(unsigned long long a, unsigned long long b, const char *op,
		 const char *what, const char *file, int line);
bool test__ok(long long err, const char *what, const char *file, int line);
bool test__streq(const char *a, const char *b, const char *what,
		 const char *file, int line);

/* One case named after its function, or given a name (for a function
 * that runs several cases with different arguments). */
#define RUN_TEST(fn, ...)                                                      \
	do {                                                                   \
		test_begin("%s", #fn);                                         \
		fn(__VA_ARGS__);                                               \
		test_end();                                                    \
	} while (0)
#define RUN_CASE(name, call)                                                   \
	do {                                                                   \
		test_begin("%s", (name));                                      \
		call;                                                          \
		test_end();                                                    \
	} while (0)

/* Fails with a free-form detail. */
#define ASSERT_TRUE(cond, ...)                                                 \
	test__check(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define ASSERT_FALSE(cond, ...)                                                \
	test__check(!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define TEST_FAIL(...) test__check(false, __FILE__, __LINE__, __VA_ARGS__)

/* ASSERT_xx(actual, expected, what), signed: the detail shows both values
 * ("what: got 3, expected 4", "what: got 3, expected <= 2"). */
#define ASSERT_EQ(a, b, what) test__cmp((a), (b), "==", (what), __FILE__, __LINE__)
#define ASSERT_NE(a, b, what) test__cmp((a), (b), "!=", (what), __FILE__, __LINE__)
#define ASSERT_LT(a, b, what) test__cmp((a), (b), "<", (what), __FILE__, __LINE__)
#define ASSERT_LE(a, b, what) test__cmp((a), (b), "<=", (what), __FILE__, __LINE__)
#define ASSERT_GT(a, b, what) test__cmp((a), (b), ">", (what), __FILE__, __LINE__)
#define ASSERT_GE(a, b, what) test__cmp((a), (b), ">=", (what), __FILE__, __LINE__)
/* Unsigned 64-bit values that may not fit a long long. */
#define ASSERT_EQ_U(a, b, what) test__cmp_u((a), (b), "==", (what), __FILE__, __LINE__)

/* err == 0 (libxlb style: 0 or -errno); the detail names the errno. */
#define ASSERT_OK(err, what) test__ok((err), (what), __FILE__, __LINE__)
#define ASSERT_NOT_NULL(p, what)                                               \
	test__check((p) != NULL, __FILE__, __LINE__, "%s: NULL", (what))
/* Both strings shown; NULL compares equal only to NULL. */
#define ASSERT_STREQ(a, b, what) test__streq((a), (b), (what), __FILE__, __LINE__)

#endif /* XLB_TESTLIB_H */
