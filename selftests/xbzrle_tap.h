/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Minimal TAP 13 reporting for the kvm_xbzrle selftests, with kselftest's
 * exit codes (0 pass, 1 fail, 4 skip).  Kept self-contained so the tests
 * build both here and as tools/testing/selftests/kvm_xbzrle in a kernel tree.
 */
#ifndef XBZRLE_TAP_H
#define XBZRLE_TAP_H

#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAP_EXIT_PASS	0
#define TAP_EXIT_FAIL	1
#define TAP_EXIT_SKIP	4

struct tap_state {
	unsigned int planned;
	unsigned int run;
	unsigned int failed;
	unsigned int skipped;
};

static struct tap_state tap;

/* "EINVAL" for EINVAL; glibc knows every name. */
static inline const char *errname(int e)
{
	const char *name = e < 0 ? "not an errno" : e ? strerrorname_np(e) : "success";

	return name ? name : "E?";
}

static inline void tap_plan(unsigned int n)
{
	printf("TAP version 13\n1..%u\n", n);
	fflush(stdout);
	tap.planned = n;
}

static inline void tap_vresult(const char *status, const char *directive,
			       const char *fmt, va_list ap)
{
	printf("%s %u ", status, ++tap.run);
	vprintf(fmt, ap);
	if (directive)
		printf(" # %s", directive);
	printf("\n");
	fflush(stdout);
}

/* Reports one test point; returns @ok so callers can chain on it. */
static inline int tap_result(int ok, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vresult(ok ? "ok" : "not ok", NULL, fmt, ap);
	va_end(ap);
	if (!ok)
		tap.failed++;
	return ok;
}

static inline void tap_skip(const char *why, const char *fmt, ...)
{
	char directive[256];
	va_list ap;

	snprintf(directive, sizeof(directive), "SKIP %s", why);
	va_start(ap, fmt);
	tap_vresult("ok", directive, fmt, ap);
	va_end(ap);
	tap.skipped++;
}

static inline void tap_diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* Whole test cannot run: one plan line, one SKIP reason, exit 4. */
static inline void __attribute__((noreturn)) tap_skip_all(const char *fmt, ...)
{
	va_list ap;

	printf("TAP version 13\n1..0 # SKIP ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	exit(TAP_EXIT_SKIP);
}

/* Setup failed before any result could be reported. */
static inline void __attribute__((noreturn)) tap_bail_out(const char *fmt, ...)
{
	int err = errno;	/* before printf can change it */
	va_list ap;

	printf("Bail out! ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" (errno %d: %s)\n", err, strerror(err));
	exit(TAP_EXIT_FAIL);
}

static void tap_on_alarm(int sig)
{
	static const char msg[] = "Bail out! timed out\n";

	(void)sig;
	if (write(STDOUT_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(TAP_EXIT_FAIL);
	_exit(TAP_EXIT_FAIL);
}

/*
 * XBZRLE_TIMEOUT_SCALE: every time limit of a test is multiplied by it on
 * a slow kernel (KASAN, lockdep: several times slower).  The VM's init
 * exports it, with the runner's own limit scaled alike.  1 when unset; a
 * value that is not a whole number from 1 to 20 bails out (a limit left
 * unscaled would fail the debug kernel's run for nothing of the module's).
 */
static inline unsigned int xbzrle_timeout_scale(void)
{
	const char *s = getenv("XBZRLE_TIMEOUT_SCALE");
	unsigned long scale;
	char *end;

	if (!s || !*s)
		return 1;
	errno = 0;
	scale = strtoul(s, &end, 10);
	if (errno || *end || scale < 1 || scale > 20) {
		printf("Bail out! XBZRLE_TIMEOUT_SCALE=%s is not a whole number from 1 to 20\n",
		       s);
		exit(TAP_EXIT_FAIL);
	}
	return scale;
}

/* A TAP test that hangs fails after @seconds, scaled, instead of stalling the run. */
static inline void tap_timeout(unsigned int seconds)
{
	unsigned int scale = xbzrle_timeout_scale();

	signal(SIGALRM, tap_on_alarm);
	alarm(seconds * scale);
}

/*
 * The same for a test on the kernel's harness (kselftest_harness.h), once
 * after its last test: a constructor, run after the harness registered the
 * tests, that multiplies the limit of each (TEST_F_TIMEOUT()'s, or the
 * harness's default) by xbzrle_timeout_scale().
 */
#define XBZRLE_SCALE_TIMEOUTS()						\
static void __attribute__((constructor(KSELFTEST_PRIO_TEST + 10)))	\
xbzrle_scale_timeouts(void)						\
{									\
	unsigned int scale = xbzrle_timeout_scale();			\
	struct __fixture_metadata *f;					\
	struct __test_metadata *t;					\
									\
	for (f = __fixture_list; f; f = f->next)			\
		for (t = f->tests; t; t = t->next)			\
			t->timeout *= scale;				\
}

static inline int __attribute__((noreturn)) tap_finish(void)
{
	if (tap.run != tap.planned) {
		printf("# planned %u tests but ran %u\n", tap.planned, tap.run);
		exit(TAP_EXIT_FAIL);
	}
	printf("# Totals: pass:%u fail:%u skip:%u\n",
	       tap.run - tap.failed - tap.skipped, tap.failed, tap.skipped);
	if (tap.failed)
		exit(TAP_EXIT_FAIL);
	if (tap.run && tap.skipped == tap.run)
		exit(TAP_EXIT_SKIP);
	exit(TAP_EXIT_PASS);
}

#endif /* XBZRLE_TAP_H */
