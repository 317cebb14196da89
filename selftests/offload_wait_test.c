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
 * On the kernel's kselftest harness: one variant of the case per call,
 * each in its own process, with the sysctls set in the fixture's set-up
 * and put back in its teardown.  Needs root (the sysctl, /dev/kmsg; it
 * skips without).  The module, the hung-task detector and userfaultfd are
 * what it tests with: without one of them it fails, saying which.
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

#include "kselftest_harness.h"

#include "kvm_util.h"
#include "test_util.h"
#include "uffd_util.h"
#include "xbzrle_util.h"

#define PAGE		GUEST_PAGE_SIZE
#define NPAGES		16
#define GPA		0x100000ULL
#define HUNG_SYSCTL	"/proc/sys/kernel/hung_task_timeout_secs"
#define HUNG_WARNINGS	"/proc/sys/kernel/hung_task_warnings"
#define HUNG_S		2
#define HOLD_S		7
#define TIMEOUT_S	60		/* a case: the child's set-up and HOLD_S */

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
	uffd = uffd_register_missing(mem + (NPAGES - 1) * PAGE, PAGE);
	if (uffd < 0)
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

FIXTURE(wait) {
	char saved_timeout[32], saved_warnings[32];
};

FIXTURE_VARIANT(wait) {
	enum call c;
};

FIXTURE_VARIANT_ADD(wait, encode) { .c = C_ENCODE };
FIXTURE_VARIANT_ADD(wait, get_stats) { .c = C_STATS };
FIXTURE_VARIANT_ADD(wait, set_cache) { .c = C_CACHE };
FIXTURE_VARIANT_ADD(wait, set_region) { .c = C_REGION };
FIXTURE_VARIANT_ADD(wait, invalidate) { .c = C_INVALIDATE };
FIXTURE_VARIANT_ADD(wait, bind) { .c = C_BIND };

FIXTURE_SETUP(wait)
{
	struct kvm_xbzrle_caps caps;
	char buf[32];
	int fd;

	if (geteuid())
		SKIP(return, "not root: the hung-task sysctls and /dev/kmsg are root's");
	/* the module is what is tested: its absence is a failure */
	ASSERT_EQ(0, xbz_check_offload(&caps)) TH_LOG("%s", kvm_util_error());
	/* so are the detector and userfaultfd, with which it is tested */
	ASSERT_LE(0, read_file(HUNG_SYSCTL, self->saved_timeout,
			       sizeof(self->saved_timeout)))
		TH_LOG("no %s: a kernel without CONFIG_DETECT_HUNG_TASK",
		       HUNG_SYSCTL);
	fd = syscall(SYS_userfaultfd, O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("userfaultfd: %s", strerror(errno));
	close(fd);
	ASSERT_EQ(0, read_file(HUNG_WARNINGS, self->saved_warnings,
			       sizeof(self->saved_warnings)))
		TH_LOG("read %s: %s", HUNG_WARNINGS, kvm_util_error());
	snprintf(buf, sizeof(buf), "%d\n", HUNG_S);
	/* every report counts: the detector stops after hung_task_warnings */
	ASSERT_EQ(0, write_file(HUNG_SYSCTL, buf));
	ASSERT_EQ(0, write_file(HUNG_WARNINGS, "-1\n"));
}

FIXTURE_TEARDOWN(wait)
{
	if (self->saved_timeout[0])
		write_file(HUNG_SYSCTL, self->saved_timeout);
	if (self->saved_warnings[0])
		write_file(HUNG_WARNINGS, self->saved_warnings);
}

/*
 * The variant's call behind an ENCODE held in a fault for HOLD_S seconds:
 * the child must die of the SIGKILL, and no hung-task report may come.
 */
TEST_F_TIMEOUT(wait, killable_behind_a_faulting_encode, TIMEOUT_S)
{
	int pipefd[2], status = 0, kmsg, n;
	enum call c = variant->c;
	char ch;
	pid_t pid;

	kmsg = kmsg_open();
	ASSERT_LE(0, kmsg) TH_LOG("/dev/kmsg: %s", kvm_util_error());
	ASSERT_EQ(0, pipe(pipefd));
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid) TH_LOG("fork: %s", strerror(errno));
	if (!pid) {
		close(pipefd[0]);
		_exit(child(c, pipefd[1]));
	}
	close(pipefd[1]);
	if (read(pipefd[0], &ch, 1) != 1) {
		waitpid(pid, &status, 0);
		close(pipefd[0]);
		close(kmsg);
		ASSERT_TRUE(0) TH_LOG("%s: the child's set-up failed (exit %d)",
				      call_names[c], WIFEXITED(status) ?
				      WEXITSTATUS(status) : -1);
	}
	close(pipefd[0]);
	sleep(HOLD_S);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	n = hung_reports(kmsg);
	close(kmsg);
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		TH_LOG("%s: child %s %d", call_names[c],
		       WIFSIGNALED(status) ? "killed by signal" : "exited with",
		       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	EXPECT_EQ(0, n)
		TH_LOG("%s behind an ENCODE held in a fault for %d s: %d hung-task reports (timeout %d s)",
		       call_names[c], HOLD_S, n, HUNG_S);
}

XBZRLE_SCALE_TIMEOUTS()

TEST_HARNESS_MAIN
