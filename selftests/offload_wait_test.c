// SPDX-License-Identifier: GPL-2.0
/*
 * offload_wait_test - a call that waits for a context behind an ENCODE
 * stuck in a page fault waits killably.
 *
 * ENCODE reads guest memory with the context's lock held; when that memory
 * is a userfaultfd page whose handler does not answer (a postcopy or
 * live-snapshot QEMU, or a stuck one), the call sleeps in the fault for as
 * long as the handler takes.  Every other call on the context waits for the
 * lock meanwhile.  A child process makes this happen: one thread's ENCODE
 * faults on a page registered with userfaultfd and never resolved, then
 * another thread calls ENCODE, GET_STATS, SET_CACHE, SET_REGION,
 * INVALIDATE or BIND (one child per call), which waits.  The kernel's
 * hung-task detector, its timeout lowered to 2 s for the test, reports a
 * task blocked uninterruptibly; a killable wait it leaves alone.  After
 * 7 s the child is killed: it must die, and the kernel log must name none
 * of its threads as blocked.
 *
 * Needs root (the sysctl, /dev/kmsg); skips without the hung-task detector
 * or userfaultfd, saying which.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kvm_util.h"
#include "test_util.h"
#include "xbzrle_tap.h"
#include "xbzrle_util.h"

#define PAGE		GUEST_PAGE_SIZE
#define NPAGES		16
#define GPA		0x100000ULL
#define HUNG_SYSCTL	"/proc/sys/kernel/hung_task_timeout_secs"
#define HUNG_WARNINGS	"/proc/sys/kernel/hung_task_warnings"
#define HUNG_S		2
#define HOLD_S		7
#define TIMEOUT_S	100

enum call { C_ENCODE, C_STATS, C_CACHE, C_REGION, C_INVALIDATE, C_BIND, C_NR };

static const char *const call_names[C_NR] = {
	"ENCODE", "GET_STATS", "SET_CACHE", "SET_REGION", "INVALIDATE", "BIND",
};

static struct kvm_vm vm;
static int xfd;
static uint64_t gpas[NPAGES];
static uint8_t records[NPAGES * KVM_XBZRLE_RECORD_MAX_SIZE]
	__attribute__((aligned(8)));

/* Thread of the child: an ENCODE that faults on the userfaultfd page. */
static void *stuck_encode(void *arg)
{
	struct xbz_encode_result res;

	(void)arg;
	prctl(PR_SET_NAME, "xbz_faulting");
	xbz_encode(xfd, 0, gpas, NPAGES, records, sizeof(records), PAGE, &res);
	return NULL;
}

/* The second call, which has to wait for the context's lock. */
static void waiting_call(enum call c)
{
	struct kvm_xbzrle_stats st;
	struct xbz_encode_result res;
	struct kvm_xbzrle_invalidate inv = {
		.size = sizeof(inv), .flags = KVM_XBZRLE_INVALIDATE_ALL,
	};
	uint64_t size;

	prctl(PR_SET_NAME, "xbz_waiting");
	switch (c) {
	case C_ENCODE:
		xbz_encode(xfd, 0, gpas, 1, records, sizeof(records), PAGE, &res);
		break;
	case C_STATS:
		xbz_get_stats(xfd, &st);
		break;
	case C_CACHE:
		xbz_set_cache(xfd, KVM_XBZRLE_CACHE_RESET, 0, &size);
		break;
	case C_REGION:
		xbz_set_regions(xfd, &vm);
		break;
	case C_INVALIDATE:
		ioctl(xfd, KVM_XBZRLE_INVALIDATE, &inv);
		break;
	case C_BIND:
		xbz_bind(xfd, vm.fd);
		break;
	case C_NR:
		break;
	}
}

/* The child: exits 2 on a set-up failure, else is killed waiting. */
static int child(enum call c, int ready_fd)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct uffd_msg msg;
	pthread_t thr;
	uint8_t *mem;
	int uffd, i;

	if (vm_create(&vm, 0) || vm_add_memslot(&vm, 0, GPA, NPAGES * PAGE))
		return 2;
	mem = vm_gpa_to_hva(&vm, GPA);
	for (i = 0; i < NPAGES; i++)
		gpas[i] = GPA + i * PAGE;
	/* the last page stays untouched, for userfaultfd */
	memset(mem, 1, (NPAGES - 1) * PAGE);
	xfd = xbz_open_bound(&vm);
	if (xfd < 0)
		return 2;
	uffd = syscall(SYS_userfaultfd, O_CLOEXEC);
	reg.range.start = (uintptr_t)mem + (NPAGES - 1) * PAGE;
	reg.range.len = PAGE;
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) ||
	    ioctl(uffd, UFFDIO_REGISTER, &reg))
		return 2;
	if (pthread_create(&thr, NULL, stuck_encode, NULL))
		return 2;
	/* the fault is reported: the ENCODE holds the lock, and stays */
	if (read(uffd, &msg, sizeof(msg)) != sizeof(msg) ||
	    msg.event != UFFD_EVENT_PAGEFAULT)
		return 2;
	if (write(ready_fd, "r", 1) != 1)
		return 2;
	waiting_call(c);
	/* not reached while the ENCODE holds the lock */
	return 3;
}

/* Hung-task reports in the kernel log since @kmsg was opened. */
static int hung_reports(int kmsg)
{
	static const char *const hung[] = { "blocked for more than", NULL };

	return kmsg_count(kmsg, hung, NULL);
}

static void test_call(enum call c)
{
	int pipefd[2], status = 0, kmsg, n;
	char ch;
	pid_t pid;

	kmsg = kmsg_open();
	if (kmsg < 0 || pipe(pipefd))
		tap_bail_out("/dev/kmsg or pipe");
	fflush(stdout);
	pid = fork();
	TEST_ASSERT(pid >= 0, "fork");
	if (!pid) {
		close(pipefd[0]);
		_exit(child(c, pipefd[1]));
	}
	close(pipefd[1]);
	if (read(pipefd[0], &ch, 1) != 1) {
		waitpid(pid, &status, 0);
		tap_result(0, "%s behind an ENCODE held in a fault: child set-up failed (exit %d)",
			   call_names[c], WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		close(pipefd[0]);
		close(kmsg);
		return;
	}
	close(pipefd[0]);
	sleep(HOLD_S);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	n = hung_reports(kmsg);
	close(kmsg);
	tap_result(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && n == 0,
		   "%s behind an ENCODE held in a fault for %d s waits killably: %d hung-task reports (timeout %d s), child %s %d",
		   call_names[c], HOLD_S, n, HUNG_S,
		   WIFSIGNALED(status) ? "killed by signal" : "exited with",
		   WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

static char saved_timeout[32], saved_warnings[32];

static void restore_sysctls(void)
{
	if (saved_timeout[0])
		write_file(HUNG_SYSCTL, saved_timeout);
	if (saved_warnings[0])
		write_file(HUNG_WARNINGS, saved_warnings);
}

int main(void)
{
	struct kvm_xbzrle_caps caps;
	char buf[32];
	int fd, c;

	tap_timeout(TIMEOUT_S);
	xbz_require_offload(&caps, false);
	if (read_file(HUNG_SYSCTL, saved_timeout, sizeof(saved_timeout)) < 0)
		tap_skip_all("no %s: a kernel without CONFIG_DETECT_HUNG_TASK", HUNG_SYSCTL);
	fd = syscall(SYS_userfaultfd, O_CLOEXEC);
	if (fd < 0)
		tap_skip_all("userfaultfd: %s", strerror(errno));
	close(fd);
	if (read_file(HUNG_WARNINGS, saved_warnings, sizeof(saved_warnings)) < 0)
		tap_bail_out("read %s", HUNG_WARNINGS);
	atexit(restore_sysctls);
	snprintf(buf, sizeof(buf), "%d\n", HUNG_S);
	/* every report counts: the detector stops after hung_task_warnings */
	TEST_ASSERT(!write_file(HUNG_SYSCTL, buf) &&
		    !write_file(HUNG_WARNINGS, "-1\n"),
		    "write %s and %s", HUNG_SYSCTL, HUNG_WARNINGS);
	tap_plan(C_NR);
	for (c = 0; c < C_NR; c++)
		test_call(c);
	tap_finish();
}
