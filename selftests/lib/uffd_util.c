// SPDX-License-Identifier: GPL-2.0
/*
 * uffd_util - userfaultfd registration and a one-fault handler
 * (include/uffd_util.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "uffd_util.h"
#include "util_internal.h"

#define UFFD_WAIT_MS	10000

int uffd_register_missing(void *addr, size_t len)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = {
		.range.start = (uintptr_t)addr, .range.len = len,
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	int fd = syscall(SYS_userfaultfd, O_CLOEXEC), err;

	if (fd < 0)
		return fail_errno("userfaultfd");
	if (ioctl(fd, UFFDIO_API, &api) || ioctl(fd, UFFDIO_REGISTER, &reg)) {
		err = errno;
		close(fd);
		errno = err;
		return fail_errno("UFFDIO_REGISTER of %zu bytes", len);
	}
	return fd;
}

void *uffd_answer_one(void *opaque)
{
	struct uffd_job *job = opaque;
	struct pollfd pfd = { .fd = job->uffd, .events = POLLIN };
	struct uffdio_zeropage zp = { 0 };
	struct uffd_msg msg;

	errno = 0;
	if (poll(&pfd, 1, UFFD_WAIT_MS) != 1 ||
	    read(job->uffd, &msg, sizeof(msg)) != sizeof(msg) ||
	    msg.event != UFFD_EVENT_PAGEFAULT) {
		job->err = errno ? errno : EPROTO;
		return NULL;
	}
	job->faults++;
	if (job->action)
		job->action(job);
	zp.range.start = msg.arg.pagefault.address &
			 ~((uint64_t)sysconf(_SC_PAGESIZE) - 1);
	zp.range.len = sysconf(_SC_PAGESIZE);
	if (ioctl(job->uffd, UFFDIO_ZEROPAGE, &zp) && !job->err)
		job->err = errno;
	return NULL;
}
