/* SPDX-License-Identifier: GPL-2.0 */
/*
 * test_util - what any kvm_xbzrle selftest may want that is not KVM: the
 * library's error message (kvm_util_error()), random numbers, time, small
 * file helpers, fd passing and the kernel log (/dev/kmsg).  No dependency on the
 * kernel's selftest library, so the tests build standalone and as
 * tools/testing/selftests/kvm_xbzrle.
 *
 * Conventions of the whole library (include/kvm_util.h, xbzrle_util.h,
 * records.h and this file): functions returning int return 0 (or a count)
 * on success and -1 on failure with errno preserved from the failing
 * system call and a message for the test's diagnostics in kvm_util_error()
 * (per thread).  Functions returning a pointer return NULL on failure,
 * likewise.
 *
 * TEST_ASSERT(), TEST_FAIL() and TEST_REQUIRE() end a test whose set-up
 * failed or cannot run here, in the TAP of xbzrle_tap.h; they are for the
 * tests, not for the library.
 */
#ifndef XBZRLE_TEST_UTIL_H
#define XBZRLE_TEST_UTIL_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xbzrle_tap.h"

/* Last error of this thread's library call, for tap_diag(). */
const char *kvm_util_error(void);

/* Whether @len bytes at @p are all zero. */
bool page_is_zero(const void *p, size_t len);

/* @len bytes of rand_r(@seed). */
void fill_random(uint8_t *p, size_t len, unsigned int *seed);
/* splitmix64: the next number of the sequence of *@state. */
uint64_t rand64(uint64_t *state);
/* rand64() below @n; 0 for @n 0. */
uint32_t rand_below(uint64_t *state, uint32_t n);

void sleep_ms(unsigned int ms);
/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t now_ns(void);

/*
 * Formats a test's reason for failing into @why (@size bytes) and returns
 * -1, for "return why(...)".
 */
int __attribute__((format(printf, 3, 4)))
set_why(char *why, size_t size, const char *fmt, ...);

/*
 * Two arguments, for "%s%s": ": @why" after a test point's name if @failed,
 * nothing if not.  tap_result(!r, "encode%s%s", WHY_IF(r, m.why)).
 * @failed is evaluated twice.
 */
#define WHY_IF(failed, why)	(failed) ? ": " : "", (failed) ? (why) : ""

/* As the kernel's and kselftest.h's. */
#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

/* Writes "2" to /proc/sys/vm/drop_caches (shrinkers run).  0 or -1. */
int drop_caches(void);
/* Reads @path into @buf (@len bytes, NUL-terminated).  0 or -1. */
int read_file(const char *path, char *buf, size_t len);
/*
 * Writes the string @s to @path, truncated first: "" empties a file
 * (tracefs's trace buffer too, as echo > does).  0 or -1.
 */
int write_file(const char *path, const char *s);

/*
 * An fd over the unix socket @sock (SCM_RIGHTS, with one byte of data):
 * send_fd() sends @fd, 0 or -1; recv_fd() receives one (close-on-exec)
 * and returns it, or -1.
 */
int send_fd(int sock, int fd);
int recv_fd(int sock);

/*
 * The kernel log: kmsg_open() returns /dev/kmsg positioned at its end
 * (what the kernel says from now on), or -1.  kmsg_count() reads the lines
 * since then (or since its last call) and counts those containing one of
 * @patterns (NULL-terminated); the first is kept in kvm_util_error() and
 * *@lines (if not NULL) gets the number of lines read.
 */
int kmsg_open(void);
int kmsg_count(int fd, const char *const *patterns, unsigned int *lines);
/* What the harness fails a run on: BUG, WARNING, KASAN, lockdep... */
extern const char *const kmsg_problems[];

/* ------------------------------ assertions ------------------------------- */

/*
 * TEST_ASSERT(cond, fmt, ...): if @cond is false, the test cannot go on.
 * Reports where on stderr (file, line, the condition, errno and the
 * message), then "Bail out! message (errno N: text)" on stdout, the line
 * tap_bail_out() prints, and exits TAP_EXIT_FAIL (kselftest's KSFT_FAIL).
 * A bail-out is valid TAP before or after the plan and between points, so
 * the test's output stays valid however far it got.  errno is the one
 * @cond left.  For set-up; a failed check of what a test tests is a
 * "not ok" point (tap_result()), not an assertion.
 */
#define TEST_ASSERT(cond, fmt, ...)					\
do {									\
	if (!(cond)) {							\
		int __test_errno = errno;				\
									\
		test_assert_fail(__FILE__, __LINE__, #cond,		\
				 __test_errno, fmt, ##__VA_ARGS__);	\
	}								\
} while (0)

/* TEST_ASSERT() of a condition already known false: the message says it. */
#define TEST_FAIL(fmt, ...) \
	test_assert_fail(__FILE__, __LINE__, "TEST_FAIL", errno,	\
			 fmt, ##__VA_ARGS__)

/*
 * TEST_REQUIRE(cond): without @cond the test cannot run here: skip it,
 * exit TAP_EXIT_SKIP (KSFT_SKIP) with "requirement not met: cond" as the
 * reason.  TEST_REQUIRE_MSG(cond, fmt, ...) gives the reason itself.
 * Before the plan this is tap_skip_all(): "1..0 # SKIP reason".  After it
 * (a misuse, but the output stays valid), each point not yet reported is
 * reported skipped with the reason, and a point that already failed still
 * makes the exit TAP_EXIT_FAIL.
 */
#define TEST_REQUIRE(cond) \
	TEST_REQUIRE_MSG(cond, "requirement not met: %s", #cond)

#define TEST_REQUIRE_MSG(cond, fmt, ...)				\
do {									\
	if (!(cond))							\
		test_require_fail(fmt, ##__VA_ARGS__);			\
} while (0)

static inline void __attribute__((noreturn, format(printf, 5, 6)))
test_assert_fail(const char *file, int line, const char *cond, int err,
		 const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* what the test printed first, on a pipe shared with stderr */
	fflush(stdout);
	fprintf(stderr, "==== Test Assertion Failure ====\n"
		"  %s:%d: %s\n"
		"  errno %d (%s): %s\n"
		"  %s\n", file, line, cond, err, errname(err), strerror(err), msg);
	printf("Bail out! %s (errno %d: %s)\n", msg, err, strerror(err));
	fflush(stdout);
	exit(TAP_EXIT_FAIL);
}

static inline void __attribute__((noreturn, format(printf, 1, 2)))
test_require_fail(const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (!tap.planned && !tap.run)
		tap_skip_all("%s", why);
	while (tap.run < tap.planned) {
		printf("ok %u # SKIP %s\n", ++tap.run, why);
		tap.skipped++;
	}
	printf("# Totals: pass:%u fail:%u skip:%u\n",
	       tap.run - tap.failed - tap.skipped, tap.failed, tap.skipped);
	fflush(stdout);
	exit(tap.failed ? TAP_EXIT_FAIL : TAP_EXIT_SKIP);
}

/*
 * SKIP_UNLESS_FAILED(statement, fmt, ...), for a case on
 * kselftest_harness.h, as its SKIP(): a check that could not be made here
 * (the reason, printf-style).  The case is skipped with the reason,
 * unless a check already failed: a skip would hide that failure, so the
 * reason is only logged, "not checked: reason".  Either way @statement
 * (return) ends the case.
 */
#define SKIP_UNLESS_FAILED(statement, fmt, ...)				\
do {									\
	if (_metadata->exit_code == KSFT_PASS) {			\
		SKIP(statement, fmt, ##__VA_ARGS__);			\
	} else {							\
		TH_LOG("not checked: " fmt, ##__VA_ARGS__);		\
		statement;						\
	}								\
} while (0)

#endif /* XBZRLE_TEST_UTIL_H */
