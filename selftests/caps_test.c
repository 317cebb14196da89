// SPDX-License-Identifier: GPL-2.0
/*
 * caps_test - KVM_XBZRLE_GET_CAPS follows its documented contract.
 *
 * The ioctl is matched by type, number and direction; its size field must
 * equal caps.size, which is at least KVM_XBZRLE_CAPS_SIZE_VER1 and at most
 * 4096 (bytes past what the module knows must be zero); unknown flags,
 * non-zero reserved fields and a vm_fd without KVM_XBZRLE_CAPS_VM_FD are
 * refused; with KVM_XBZRLE_CAPS_VM_FD the fd must be a KVM VM of the calling
 * process.
 *
 * On the kernel's kselftest harness: one case per rule, each with its own
 * open of /dev/kvm_xbzrle (the fixture).  The module is what is tested: a
 * missing /dev/kvm_xbzrle fails the set-up.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <linux/kvm_xbzrle.h>

#include "kselftest_harness.h"

#include "abi_util.h"

#define DEV_PATH	"/dev/kvm_xbzrle"
#define MAX_SIZE	4096	/* largest caps.size the module accepts */
#define BIG_SIZE	8192	/* > MAX_SIZE, fits the 14-bit ioctl size */
#define LARGER_SIZE	80	/* a future, larger struct kvm_xbzrle_caps */
#define NRESERVED	(sizeof(((struct kvm_xbzrle_caps *)0)->reserved) / sizeof(__u64))

_Static_assert(sizeof(struct kvm_xbzrle_caps) == KVM_XBZRLE_CAPS_SIZE_VER1,
	       "struct kvm_xbzrle_caps does not match KVM_XBZRLE_CAPS_SIZE_VER1");

/* GET_CAPS with an arbitrary size in the ioctl number. */
static unsigned long caps_cmd(unsigned int size)
{
	return _IOC(_IOC_READ | _IOC_WRITE, KVM_XBZRLE_IOCTL_TYPE, 0, size);
}

static void caps_init(struct kvm_xbzrle_caps *caps)
{
	memset(caps, 0, sizeof(*caps));
	caps->size = sizeof(*caps);
}

/* Output of a successful call; a description of the first mismatch. */
static const char *caps_bad(const struct kvm_xbzrle_caps *c)
{
	static char why[160];
	unsigned int i;

	if (c->api_version != KVM_XBZRLE_API_VERSION)
		snprintf(why, sizeof(why), "api_version %u", c->api_version);
	else if (!(c->capabilities & KVM_XBZRLE_CAP_CODEC))
		snprintf(why, sizeof(why), "capabilities 0x%llx",
			 (unsigned long long)c->capabilities);
	else if (c->formats != (1ULL << KVM_XBZRLE_FORMAT_QEMU_V1))
		snprintf(why, sizeof(why), "formats 0x%llx",
			 (unsigned long long)c->formats);
	else if (c->page_size != (unsigned long)sysconf(_SC_PAGESIZE))
		snprintf(why, sizeof(why), "page_size %u", c->page_size);
	else if (c->max_delta_size != c->page_size)
		snprintf(why, sizeof(why), "max_delta_size %u", c->max_delta_size);
	else {
		for (i = 0; i < NRESERVED; i++)
			if (c->reserved[i]) {
				snprintf(why, sizeof(why), "reserved[%u] 0x%llx", i,
					 (unsigned long long)c->reserved[i]);
				return why;
			}
		return NULL;
	}
	return why;
}

FIXTURE(caps) {
	int xfd;
	struct kvm_xbzrle_caps c;	/* caps_init()ed */
	uint8_t big[BIG_SIZE] __attribute__((aligned(8)));
};

FIXTURE_SETUP(caps)
{
	self->xfd = open(DEV_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->xfd)
		TH_LOG(DEV_PATH ": %s (is kvm_xbzrle loaded?)", strerror(errno));
	caps_init(&self->c);
	memset(self->big, 0, sizeof(self->big));
}

FIXTURE_TEARDOWN(caps)
{
	if (self->xfd >= 0)
		close(self->xfd);
}

/* ---------------------------- a valid call ------------------------------ */

TEST_F(caps, valid_call_fills_every_field)
{
	struct kvm_xbzrle_caps *c = &self->c;
	unsigned int i;

	ASSERT_EQ(0, abi_ioctl(self->xfd, KVM_XBZRLE_GET_CAPS, c));
	EXPECT_EQ((__u32)KVM_XBZRLE_API_VERSION, c->api_version);
	EXPECT_TRUE(!!(c->capabilities & KVM_XBZRLE_CAP_CODEC))
		TH_LOG("capabilities 0x%llx", (unsigned long long)c->capabilities);
	EXPECT_EQ(1ULL << KVM_XBZRLE_FORMAT_QEMU_V1, c->formats);
	EXPECT_EQ((unsigned long)sysconf(_SC_PAGESIZE), c->page_size);
	EXPECT_EQ(c->page_size, c->max_delta_size);
	for (i = 0; i < NRESERVED; i++)
		EXPECT_EQ(0ULL, c->reserved[i]) TH_LOG("reserved[%u]", i);
}

TEST_F(caps, host_page_bases_with_batch_and_region_limits)
{
	struct kvm_xbzrle_caps *c = &self->c;

	ASSERT_EQ(0, abi_ioctl(self->xfd, KVM_XBZRLE_GET_CAPS, c));
	EXPECT_TRUE(!!(c->capabilities & KVM_XBZRLE_CAP_HOST_PAGE_BASES));
	EXPECT_EQ((__u32)KVM_XBZRLE_MAX_BATCH, c->max_batch);
	EXPECT_LE((__u32)KVM_XBZRLE_MAX_REGIONS, c->max_regions);
}

TEST_F(caps, offers_the_per_page_rule)
{
	ASSERT_EQ(0, abi_ioctl(self->xfd, KVM_XBZRLE_GET_CAPS, &self->c));
	EXPECT_TRUE(!!(self->c.capabilities & KVM_XBZRLE_CAP_ADAPT))
		TH_LOG("capabilities 0x%llx",
		       (unsigned long long)self->c.capabilities);
}

TEST_F(caps, offers_the_stop_of_a_migration)
{
	ASSERT_EQ(0, abi_ioctl(self->xfd, KVM_XBZRLE_GET_CAPS, &self->c));
	EXPECT_TRUE(!!(self->c.capabilities & KVM_XBZRLE_CAP_STOP))
		TH_LOG("capabilities 0x%llx",
		       (unsigned long long)self->c.capabilities);
}

/* ------------------------------- sizes ---------------------------------- */

TEST_F(caps, size_below_ver1_refused)
{
	struct kvm_xbzrle_caps *c = (void *)self->big;

	c->size = 0;
	EXPECT_ERRNO(EINVAL, abi_ioctl(self->xfd, KVM_XBZRLE_GET_CAPS, c), "size 0");
	c->size = KVM_XBZRLE_CAPS_SIZE_VER1 - 8;
	EXPECT_ERRNO(EINVAL, abi_ioctl(self->xfd, caps_cmd(c->size), c), "size %u", c->size);
}

TEST_F(caps, size_and_ioctl_number_disagree)
{
	struct kvm_xbzrle_caps *c = (void *)self->big;

	c->size = LARGER_SIZE;
	EXPECT_ERRNO(EINVAL, abi_ioctl(self->xfd, KVM_XBZRLE_GET_CAPS, c),
		     "size %u, ioctl number of size %zu", c->size, sizeof(*c));
	c->size = sizeof(*c);
	EXPECT_ERRNO(EINVAL, abi_ioctl(self->xfd, caps_cmd(LARGER_SIZE), c),
		     "size %u, ioctl number of size %u", c->size, LARGER_SIZE);
}

/* A larger (newer) struct: a zero tail is accepted and left alone. */
TEST_F(caps, larger_struct_zero_tail)
{
	struct kvm_xbzrle_caps *c = (void *)self->big;
	const char *bad;
	unsigned int i;

	c->size = LARGER_SIZE;
	ASSERT_EQ(0, abi_ioctl(self->xfd, caps_cmd(LARGER_SIZE), c));
	bad = caps_bad(c);
	EXPECT_EQ(NULL, bad) TH_LOG("%s", bad);
	for (i = KVM_XBZRLE_CAPS_SIZE_VER1; i < sizeof(self->big); i++)
		ASSERT_EQ(0, self->big[i]) TH_LOG("tail byte %u changed", i);
}

TEST_F(caps, larger_struct_nonzero_tail_refused)
{
	struct kvm_xbzrle_caps *c = (void *)self->big;

	c->size = LARGER_SIZE;
	self->big[KVM_XBZRLE_CAPS_SIZE_VER1] = 1;
	EXPECT_ERRNO(E2BIG, abi_ioctl(self->xfd, caps_cmd(LARGER_SIZE), c),
		     "first tail byte set");
	self->big[KVM_XBZRLE_CAPS_SIZE_VER1] = 0;
	self->big[LARGER_SIZE - 1] = 0x80;
	EXPECT_ERRNO(E2BIG, abi_ioctl(self->xfd, caps_cmd(LARGER_SIZE), c),
		     "last tail byte set");
}

TEST_F(caps, size_bounds)
{
	struct kvm_xbzrle_caps *c = (void *)self->big;

	c->size = MAX_SIZE;
	EXPECT_ERRNO(0, abi_ioctl(self->xfd, caps_cmd(MAX_SIZE), c), "size %u", MAX_SIZE);
	memset(self->big, 0, sizeof(self->big));
	c->size = BIG_SIZE;
	EXPECT_ERRNO(E2BIG, abi_ioctl(self->xfd, caps_cmd(BIG_SIZE), c), "size %u", BIG_SIZE);
}

/* ------------------------- flags and reserved fields --------------------- */

TEST_F(caps, unknown_flag_refused)
{
	self->c.flags = 1U << 31;
	EXPECT_ERRNO(EINVAL, abi_ioctl(self->xfd, KVM_XBZRLE_GET_CAPS, &self->c),
		     "flags 0x%x", self->c.flags);
}

TEST_F(caps, reserved_fields_refused)
{
	unsigned int i;

	for (i = 0; i < NRESERVED; i++) {
		caps_init(&self->c);
		self->c.reserved[i] = 1ULL << (i * 16);
		EXPECT_EQ(EINVAL, abi_ioctl(self->xfd, KVM_XBZRLE_GET_CAPS,
					   &self->c))
			TH_LOG("reserved[%u] 0x%llx", i,
			       (unsigned long long)self->c.reserved[i]);
	}
}

TEST_F(caps, vm_fd_without_its_flag_refused)
{
	self->c.vm_fd = 1;
	EXPECT_ERRNO(EINVAL, abi_ioctl(self->xfd, KVM_XBZRLE_GET_CAPS, &self->c),
		     "vm_fd 1 without KVM_XBZRLE_CAPS_VM_FD");
}

/* --------------------------- bad pointers -------------------------------- */

TEST_F(caps, null_argument)
{
	EXPECT_ERRNO(EFAULT, abi_ioctl(self->xfd, KVM_XBZRLE_GET_CAPS, NULL), "NULL");
}

TEST_F(caps, unmapped_argument)
{
	long pg = sysconf(_SC_PAGESIZE);
	void *p = mmap(NULL, pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap: %s", strerror(errno));
	munmap(p, pg);
	EXPECT_ERRNO(EFAULT, abi_ioctl(self->xfd, KVM_XBZRLE_GET_CAPS, p), "unmapped %p", p);
}

/* ---------------------------- ioctl numbers ------------------------------ */

TEST_F(caps, other_numbers_types_directions)
{
	struct kvm_xbzrle_caps *c = &self->c;

	EXPECT_ERRNO(ENOTTY, abi_ioctl(self->xfd, _IOWR(KVM_XBZRLE_IOCTL_TYPE, 0x3f,
						       struct kvm_xbzrle_caps), c),
		     "number 0x3f");
	EXPECT_ERRNO(ENOTTY, abi_ioctl(self->xfd, _IOWR(0xAE, 0,
						       struct kvm_xbzrle_caps), c),
		     "KVM's type 0xAE");
	EXPECT_ERRNO(ENOTTY, abi_ioctl(self->xfd, _IOR(KVM_XBZRLE_IOCTL_TYPE, 0,
						      struct kvm_xbzrle_caps), c),
		     "_IOR");
	EXPECT_ERRNO(ENOTTY, abi_ioctl(self->xfd, _IOW(KVM_XBZRLE_IOCTL_TYPE, 0,
						      struct kvm_xbzrle_caps), c),
		     "_IOW");
}

/* -------------------------- KVM_XBZRLE_CAPS_VM_FD ------------------------ */

static int caps_with_vm_fd(int xfd, int vm_fd)
{
	struct kvm_xbzrle_caps caps;

	caps_init(&caps);
	caps.flags = KVM_XBZRLE_CAPS_VM_FD;
	caps.vm_fd = vm_fd;
	return abi_ioctl(xfd, KVM_XBZRLE_GET_CAPS, &caps);
}

TEST_F(caps, vm_fd_not_a_vm)
{
	int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	EXPECT_ERRNO(EBADF, caps_with_vm_fd(self->xfd, -1), "vm_fd -1");
	ASSERT_LE(0, null_fd);
	EXPECT_ERRNO(EINVAL, caps_with_vm_fd(self->xfd, null_fd), "vm_fd of /dev/null");
	close(null_fd);
}

/* KVM's own files: /dev/kvm is not a VM; a VM of this process is. */
TEST_F(caps, vm_fd_of_kvm)
{
	int kvm_fd, vm_fd, status;
	const char *bad;
	pid_t pid;

	/* the tests run where KVM is: without it this case cannot check */
	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, kvm_fd) TH_LOG("/dev/kvm: %s", strerror(errno));
	EXPECT_ERRNO(EINVAL, caps_with_vm_fd(self->xfd, kvm_fd), "vm_fd of /dev/kvm");

	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	ASSERT_LE(0, vm_fd) TH_LOG("KVM_CREATE_VM: %s", strerror(errno));
	self->c.flags = KVM_XBZRLE_CAPS_VM_FD;
	self->c.vm_fd = vm_fd;
	ASSERT_EQ(0, abi_ioctl(self->xfd, KVM_XBZRLE_GET_CAPS, &self->c));
	bad = caps_bad(&self->c);
	EXPECT_EQ(NULL, bad) TH_LOG("%s", bad);

	/* The same VM file used from a child: another mm. */
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int r = caps_with_vm_fd(self->xfd, vm_fd);

		_exit(r < 0 ? 255 : r & 0xff);
	}
	ASSERT_LT(0, pid) TH_LOG("fork: %s", strerror(errno));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("child status 0x%x", status);
	EXPECT_ERRNO(EIO, WEXITSTATUS(status) == 255 ? -1 : WEXITSTATUS(status),
		     "the VM of another process");
	close(vm_fd);
	close(kvm_fd);
}

XBZRLE_SCALE_TIMEOUTS()

TEST_HARNESS_MAIN
