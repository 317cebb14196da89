// SPDX-License-Identifier: GPL-2.0
/*
 * test_util - random numbers, time, files, fd passing, the kernel log and
 * the library's error message.  See include/test_util.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"
#include "util_internal.h"

static __thread char util_err[KVM_UTIL_ERR_LEN];

const char *kvm_util_error(void)
{
	return util_err;
}

/* see util_internal.h */
int kvm_util_fail(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(util_err, sizeof(util_err), fmt, ap);
	va_end(ap);
	errno = err;
	return -1;
}

bool page_is_zero(const void *p, size_t len)
{
	const uint8_t *b = p;

	return !len || (!b[0] && !memcmp(b, b + 1, len - 1));
}

void fill_random(uint8_t *p, size_t len, unsigned int *seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = rand_r(seed);
}

uint64_t rand64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint32_t rand_below(uint64_t *state, uint32_t n)
{
	return n ? (uint32_t)(rand64(state) % n) : 0;
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int set_why(char *why, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, size, fmt, ap);
	va_end(ap);
	return -1;
}

int drop_caches(void)
{
	return write_file("/proc/sys/vm/drop_caches", "2\n");
}

int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return 0;
}

int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

/* A message of one byte @c and room for one fd of SCM_RIGHTS. */
struct fd_msg {
	char c;
	struct iovec iov;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg;
};

static void fd_msg_init(struct fd_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->c = 'v';
	m->iov.iov_base = &m->c;
	m->iov.iov_len = 1;
	m->msg.msg_iov = &m->iov;
	m->msg.msg_iovlen = 1;
	m->msg.msg_control = m->u.buf;
	m->msg.msg_controllen = sizeof(m->u.buf);
}

int send_fd(int sock, int fd)
{
	struct fd_msg m;
	struct cmsghdr *cm;

	fd_msg_init(&m);
	cm = CMSG_FIRSTHDR(&m.msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(sock, &m.msg, 0) != 1)
		return fail_errno("sendmsg of fd %d", fd);
	return 0;
}

int recv_fd(int sock)
{
	struct fd_msg m;
	struct cmsghdr *cm;
	int fd;

	fd_msg_init(&m);
	if (recvmsg(sock, &m.msg, MSG_CMSG_CLOEXEC) != 1)
		return fail_errno("recvmsg of an fd");
	cm = CMSG_FIRSTHDR(&m.msg);
	if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
	    cm->cmsg_len != CMSG_LEN(sizeof(int))) {
		errno = EPROTO;
		return fail("recvmsg: no fd (SCM_RIGHTS) in the message");
	}
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

const char *const kmsg_problems[] = {
	"BUG:", "WARNING:", "Oops", "KASAN", "UBSAN", "general protection",
	"kernel BUG", "Call Trace:", "list_add corruption",
	"list_del corruption", "refcount_t", "lockdep", "possible circular",
	"possible recursive", "inconsistent lock", "rcu_",
	"blocked for more than", "Out of memory", NULL,
};

int kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

int kmsg_count(int fd, const char *const *patterns, unsigned int *lines)
{
	char buf[8192];
	unsigned int k, n_lines = 0;
	int found = 0;
	ssize_t n;

	for (;;) {
		n = read(fd, buf, sizeof(buf) - 1);
		if (n < 0 && errno == EPIPE)
			continue;	/* overwritten records: go on */
		if (n <= 0)
			break;
		buf[n] = 0;
		buf[strcspn(buf, "\n")] = 0;
		n_lines++;
		for (k = 0; patterns[k]; k++) {
			if (strstr(buf, patterns[k])) {
				if (!found++)
					fail("kernel: %s", strchr(buf, ';') ?
					     strchr(buf, ';') + 1 : buf);
				break;
			}
		}
	}
	if (lines)
		*lines = n_lines;
	return found;
}
