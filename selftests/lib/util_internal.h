/* SPDX-License-Identifier: GPL-2.0 */
/*
 * util_internal - shared by the library's files in lib/, not for tests:
 * how they record the message kvm_util_error() returns.
 */
#ifndef XBZRLE_UTIL_INTERNAL_H
#define XBZRLE_UTIL_INTERNAL_H

#include <errno.h>
#include <string.h>

/* Size of the message of kvm_util_error(), NUL included. */
#define KVM_UTIL_ERR_LEN	256

/*
 * Records a message for kvm_util_error() and returns -1; errno is left as
 * the caller had it.
 */
int __attribute__((format(printf, 1, 2))) kvm_util_fail(const char *fmt, ...);

#define fail(fmt, ...)	kvm_util_fail(fmt, ##__VA_ARGS__)

/* As fail(), with ": strerror(errno)" appended. */
#define fail_errno(fmt, ...) \
	fail(fmt ": %s", ##__VA_ARGS__, strerror(errno))

#endif /* XBZRLE_UTIL_INTERNAL_H */
