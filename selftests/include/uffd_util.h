/* SPDX-License-Identifier: GPL-2.0 */
/*
 * uffd_util - userfaultfd for tests that hold an ioctl in a page fault:
 * register a never-touched range for missing-page faults, and a handler
 * thread that answers one fault after the test's action ran.  The fault
 * is where a test changes the world under a call (memslots, protections)
 * at a point it chose.  Error conventions: include/test_util.h.
 */
#ifndef XBZRLE_UFFD_UTIL_H
#define XBZRLE_UFFD_UTIL_H

#include <stddef.h>

/*
 * A userfaultfd with the @len bytes at @addr (page-aligned, never touched,
 * not backed by huge pages) registered for missing-page faults.  The fd,
 * or -1 (errno ENOSYS: a kernel without CONFIG_USERFAULTFD; EPERM: not
 * allowed to this user).
 */
int uffd_register_missing(void *addr, size_t len);

/* One fault, answered by uffd_answer_one(). */
struct uffd_job {
	int uffd;
	/* Run before the fault is answered, in the handler's thread. */
	void (*action)(struct uffd_job *job);
	void *opaque;			/* the action's */
	int faults;			/* faults read: 1 after a fault */
	int err;			/* errno of the handler (or the action) */
};

/*
 * A thread function (pthread_create(..., uffd_answer_one, job)): waits up
 * to 10 s for one page fault on @job->uffd, runs @job->action, then maps
 * the zero page at the faulting address so the faulting access goes on (a
 * write gets a fresh zeroed page).  Returns NULL; job->err is 0 on success.
 */
void *uffd_answer_one(void *job);

#endif /* XBZRLE_UFFD_UTIL_H */
