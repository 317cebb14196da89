/* SPDX-License-Identifier: GPL-2.0 */
/*
 * test_util - what any kvm_xbzrle selftest may want that is not KVM: the
 * library's error message (kvm_util_error()), random numbers, time, small
 * file helpers and the kernel log (/dev/kmsg).  No dependency on the
 * kernel's selftest library, so the tests build standalone and as
 * tools/testing/selftests/kvm_xbzrle.
 *
 * Conventions of the whole library (include/kvm_util.h, xbzrle_util.h,
 * records.h and this file): functions returning int return 0 (or a count)
 * on success and -1 on failure with errno preserved from the failing
 * system call and a message for the test's diagnostics in kvm_util_error()
 * (per thread).  Functions returning a pointer return NULL on failure,
 * likewise.
 */
#ifndef XBZRLE_TEST_UTIL_H
#define XBZRLE_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* Writes "2" to /proc/sys/vm/drop_caches (shrinkers run).  0 or -1. */
int drop_caches(void);
/* Reads @path into @buf (@len bytes, NUL-terminated).  0 or -1. */
int read_file(const char *path, char *buf, size_t len);
/* Writes the string @s to @path.  0 or -1. */
int write_file(const char *path, const char *s);

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

#endif /* XBZRLE_TEST_UTIL_H */
