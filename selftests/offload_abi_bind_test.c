// SPDX-License-Identifier: GPL-2.0
/*
 * offload_abi_bind_test - KVM_XBZRLE_BIND and the contexts' owners: what
 * a context may be bound to, what it can do before, and what happens when
 * another process uses it or the VM's owner closes the VM.
 *
 *   bad_fds        vm_fd -1 or a closed fd: EBADF; /dev/null, /dev/kvm,
 *                  another /dev/kvm_xbzrle context or a vCPU: EINVAL;
 *                  after them SET_REGION and ENCODE on the unbound
 *                  context are ENOTCONN, SET_CACHE and GET_STATS work;
 *   foreign_vm     a VM created by another process (passed with
 *                  SCM_RIGHTS) or the parent's VM bound by a child (another
 *                  mm): EIO;
 *   busy           a bound context refuses a second BIND (the same VM or
 *                  another) with EBUSY and still serves its VM: SET_REGION,
 *                  then ENCODE gives the page's RAW record;
 *   vm_gone        a bound context whose VM's vCPU and VM fds are closed:
 *                  ENCODE is ENODEV, GET_STATS still works and the cache
 *                  is dropped;
 *   forked_child   a context used by a forked child (ENCODE, SET_REGION):
 *                  EIO, and the parent's region, counters and records are
 *                  unaffected.
 *
 * No vCPU runs.  On the kernel's kselftest harness; a missing module
 * fails the set-up.  Contract: <linux/kvm_xbzrle.h>.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <linux/kvm_xbzrle.h>

#include "kselftest_harness.h"

#include "abi_util.h"
#include "kvm_util.h"
#include "test_util.h"
#include "xbzrle_util.h"

FIXTURE(bind) {
	struct kvm_vm vm_c;		/* one page at FX_GPA, a vCPU */
	struct kvm_vcpu vcpu_c;
	struct kvm_vm vm_b;		/* another VM of this process */
	int ctx;			/* unbound */
	int other_ctx;			/* another context, unbound */
	uint8_t *recbuf;		/* RECBUF_SIZE */
};

FIXTURE_SETUP(bind)
{
	struct kvm_xbzrle_caps caps;

	self->ctx = self->other_ctx = -1;
	self->vm_c.fd = self->vm_b.fd = -1;
	self->vcpu_c.fd = -1;
	/* the module is what is tested: its absence is a failure */
	ASSERT_EQ(0, xbz_check_offload(&caps)) TH_LOG("%s", kvm_util_error());
	self->recbuf = abi_map_pages(RECBUF_SIZE / PG, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, self->recbuf);
	self->ctx = xbz_open();
	ASSERT_LE(0, self->ctx) TH_LOG("%s", kvm_util_error());
	self->other_ctx = xbz_open();
	ASSERT_LE(0, self->other_ctx) TH_LOG("%s", kvm_util_error());
	ASSERT_EQ(0, vm_create(&self->vm_c, 0)) TH_LOG("%s", kvm_util_error());
	ASSERT_EQ(0, vm_add_memslot(&self->vm_c, 0, FX_GPA, PG))
		TH_LOG("%s", kvm_util_error());
	ASSERT_EQ(0, vcpu_create(&self->vm_c, &self->vcpu_c, 0, FX_GPA))
		TH_LOG("%s", kvm_util_error());
	memset(vm_gpa_to_hva(&self->vm_c, FX_GPA), 0x42, PG);
	ASSERT_EQ(0, vm_create(&self->vm_b, 0)) TH_LOG("%s", kvm_util_error());
}

FIXTURE_TEARDOWN(bind)
{
	if (self->ctx >= 0)
		close(self->ctx);
	if (self->other_ctx >= 0)
		close(self->other_ctx);
	if (self->vcpu_c.fd >= 0)
		vcpu_destroy(&self->vcpu_c);
	vm_destroy(&self->vm_c);
	vm_destroy(&self->vm_b);
	if (self->recbuf)
		munmap(self->recbuf, RECBUF_SIZE);
}

TEST_F(bind, bad_fds)
{
	struct kvm_xbzrle_stats s;
	uint64_t gpa = FX_GPA;
	int fd;

	EXPECT_ERRNO(EBADF, abi_bind(self->ctx, -1), "BIND: vm_fd -1");
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	close(fd);
	EXPECT_ERRNO(EBADF, abi_bind(self->ctx, fd), "BIND: a closed fd");

	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_ERRNO(EINVAL, abi_bind(self->ctx, fd), "BIND: /dev/null");
	close(fd);
	EXPECT_ERRNO(EINVAL, abi_bind(self->ctx, kvm_open()),
		     "BIND: the /dev/kvm fd (not a VM)");
	EXPECT_ERRNO(EINVAL, abi_bind(self->ctx, self->other_ctx),
		     "BIND: a /dev/kvm_xbzrle fd");
	EXPECT_ERRNO(EINVAL, abi_bind(self->ctx, self->vcpu_c.fd),
		     "BIND: a vCPU fd");

	EXPECT_ERRNO(ENOTCONN, abi_region(self->ctx, 0, FX_GPA, PG,
					  (uintptr_t)vm_gpa_to_hva(&self->vm_c, FX_GPA)),
		     "SET_REGION on an unbound context (after refused BINDs)");
	EXPECT_ERRNO(ENOTCONN, abi_encode(self->ctx, 0, &gpa, 1, self->recbuf,
					  RECBUF_SIZE, 4096, NULL),
		     "ENCODE on an unbound context");
	EXPECT_ERRNO(0, abi_cache(self->ctx, KVM_XBZRLE_CACHE_SET_SIZE, 128 * PG,
				  NULL),
		     "SET_CACHE on an unbound context");
	EXPECT_ERRNO(0, abi_stats(self->ctx, &s), "GET_STATS on an unbound context");
}

/*
 * A VM created by a child process, received over a unix socket; the child
 * waits for a byte on @*sock before it exits.  Returns the fd or -1.
 */
static int foreign_vm(int *sock, pid_t *child)
{
	int sv[2], fd;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		char c;
		int vm;

		close(sv[0]);
		vm = ioctl(kvm_open(), KVM_CREATE_VM, 0);
		if (vm < 0 || send_fd(sv[1], vm))
			_exit(1);
		if (read(sv[1], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(sv[1]);
	fd = recv_fd(sv[0]);
	*sock = sv[0];
	*child = pid;
	return fd;
}

static void foreign_vm_done(int sock, pid_t child)
{
	char c = 'x';
	int status;

	if (write(sock, &c, 1) < 0)
		perror("cannot tell the VM's child to exit");
	close(sock);
	waitpid(child, &status, 0);
}

/* In a child: a new context binds the parent's VM (res[0], -2: no context). */
static void child_bind_inherited(int *res, void *arg)
{
	int *vm_fd = arg, xfd = xbz_open();

	res[0] = xfd < 0 ? -2 : abi_bind(xfd, *vm_fd);
}

TEST_F(bind, foreign_vm)
{
	int fd, n, res[1], sock;
	pid_t child;

	fd = foreign_vm(&sock, &child);
	EXPECT_LE(0, fd)
		TH_LOG("BIND: a VM created by another process: could not get one (%s)",
		       strerror(errno));
	if (fd >= 0) {
		EXPECT_ERRNO(EIO, abi_bind(self->ctx, fd),
			     "BIND: a VM created by another process (passed with SCM_RIGHTS)");
		close(fd);
		foreign_vm_done(sock, child);
	}

	n = abi_in_child(child_bind_inherited, &self->vm_c.fd, res, 1);
	EXPECT_TRUE(n == 1 && res[0] != -2)
		TH_LOG("BIND: a child binds the parent's VM fd: child failed");
	if (n == 1 && res[0] != -2)
		EXPECT_ERRNO(EIO, res[0],
			     "BIND: a child binds the parent's VM fd (another mm)");
}

TEST_F(bind, busy)
{
	uint8_t *hva = vm_gpa_to_hva(&self->vm_c, FX_GPA);
	struct kvm_xbzrle_record *rec = (void *)self->recbuf;
	struct abi_enc_out out = { 0 };
	uint64_t gpa = FX_GPA;

	EXPECT_ERRNO(0, abi_bind(self->ctx, self->vm_c.fd),
		     "BIND: a VM of this process");
	EXPECT_ERRNO(EBUSY, abi_bind(self->ctx, self->vm_c.fd),
		     "BIND: the same VM again");
	EXPECT_ERRNO(EBUSY, abi_bind(self->ctx, self->vm_b.fd),
		     "BIND: another VM");

	/* after EBUSY the context still serves its VM */
	EXPECT_ERRNO(0, abi_region(self->ctx, 0, FX_GPA, PG, (uintptr_t)hva),
		     "BIND: after EBUSY: SET_REGION");
	EXPECT_ERRNO(0, abi_encode(self->ctx, 0, &gpa, 1, self->recbuf,
				   RECBUF_SIZE, 4096, &out),
		     "BIND: after EBUSY: ENCODE");
	EXPECT_EQ(1U, out.done);
	EXPECT_LE(16 + PG, out.used);
	EXPECT_EQ(KVM_XBZRLE_RECORD_RAW, rec->type)
		TH_LOG("BIND: after EBUSY: wrong record");
	EXPECT_EQ(0, memcmp(self->recbuf + 16, hva, PG))
		TH_LOG("BIND: after EBUSY: wrong record data");
}

TEST_F(bind, vm_gone)
{
	uint8_t *hva = vm_gpa_to_hva(&self->vm_c, FX_GPA);
	struct abi_enc_out out = { 0 };
	struct kvm_xbzrle_stats s;
	uint64_t gpa = FX_GPA;
	int r;

	ASSERT_EQ(0, abi_bind(self->ctx, self->vm_c.fd));
	ASSERT_EQ(0, abi_region(self->ctx, 0, FX_GPA, PG, (uintptr_t)hva));
	hva[1] ^= 0xff;
	r = abi_encode(self->ctx, 0, &gpa, 1, self->recbuf, RECBUF_SIZE, 4096, &out);
	EXPECT_ERRNO(0, r, "VM with a vCPU, bound: ENCODE works");
	EXPECT_EQ(1U, out.done);
	/* the context holds a base now: there is a cache to drop */
	ASSERT_EQ(0, abi_stats(self->ctx, &s));
	EXPECT_NE(0ULL, s.cache_bytes);

	vcpu_destroy(&self->vcpu_c);
	self->vcpu_c.fd = -1;
	close(self->vm_c.fd);
	self->vm_c.fd = -1;	/* memory stays mapped until vm_destroy() */
	hva[1] ^= 0xff;
	EXPECT_ERRNO(ENODEV, abi_encode(self->ctx, 0, &gpa, 1, self->recbuf,
					RECBUF_SIZE, 4096, NULL),
		     "ENCODE after the VM's vCPU and VM fds were closed");
	r = abi_stats(self->ctx, &s);
	EXPECT_ERRNO(0, r, "GET_STATS after ENODEV");
	EXPECT_TRUE(!r && s.cache_bytes == 0)
		TH_LOG("after ENODEV the context dropped its cache (cache_bytes %llu)",
		       (unsigned long long)s.cache_bytes);
	r = abi_encode(self->ctx, 0, &gpa, 1, self->recbuf, RECBUF_SIZE, 4096, NULL);
	ksft_print_msg("a second ENCODE after ENODEV: %s\n", errname(r));
}

/* A bound context (the ABI fixture) used by a forked child. */
FIXTURE(foreign) {
	struct abi_fx fx;
};

FIXTURE_SETUP(foreign)
{
	ASSERT_EQ(0, abi_fx_init(&self->fx)) TH_LOG("%s", kvm_util_error());
}

FIXTURE_TEARDOWN(foreign)
{
	abi_fx_destroy(&self->fx);
}

static void child_use_ctx(int *res, void *arg)
{
	struct abi_fx *fx = arg;
	uint64_t gpa = FX_GPA + PG;

	res[0] = abi_encode(fx->xfd, 0, &gpa, 1, fx->recbuf, RECBUF_SIZE, 4096,
			    NULL);
	res[1] = abi_region(fx->xfd, FX_SLOT, 0, 0, 0);
}

TEST_F(foreign, forked_child)
{
	uint64_t gpas[2] = { FX_GPA + PG, FX_GPA + 6 * PG };
	const char *why;
	int res[2], n;

	n = abi_in_child(child_use_ctx, &self->fx, res, 2);
	EXPECT_EQ(2, n) TH_LOG("context used by a forked child: the child failed");
	if (n == 2) {
		EXPECT_ERRNO(EIO, res[0],
			     "ENCODE from a forked child (context inherited)");
		EXPECT_ERRNO(EIO, res[1], "SET_REGION (remove) from a forked child");
	}
	why = abi_fx_encode_good(&self->fx, 0, gpas, 2, 12);
	EXPECT_EQ(NULL, why)
		TH_LOG("after the child's refused calls: region kept, counters only the parent's, correct records: %s",
		       why);
}

XBZRLE_SCALE_TIMEOUTS()

TEST_HARNESS_MAIN
