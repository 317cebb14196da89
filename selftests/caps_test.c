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
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <linux/kvm_xbzrle.h>

#include "xbzrle_tap.h"

#define DEV_PATH	"/dev/kvm_xbzrle"
#define MAX_SIZE	4096	/* largest caps.size the module accepts */
#define BIG_SIZE	8192	/* > MAX_SIZE, fits the 14-bit ioctl size */
#define LARGER_SIZE	80	/* a future, larger struct kvm_xbzrle_caps */

#define NTESTS		35

_Static_assert(sizeof(struct kvm_xbzrle_caps) == KVM_XBZRLE_CAPS_SIZE_VER1,
	       "struct kvm_xbzrle_caps does not match KVM_XBZRLE_CAPS_SIZE_VER1");

static int xfd = -1;
static long page_size;

/* GET_CAPS with an arbitrary size in the ioctl number. */
static unsigned long caps_cmd(unsigned int size)
{
	return _IOC(_IOC_READ | _IOC_WRITE, KVM_XBZRLE_IOCTL_TYPE, 0, size);
}

/* Outcome of one call: 0 on success, else errno (-1 if a non-zero success). */
static int do_ioctl(int fd, unsigned long cmd, void *arg)
{
	int r;

	errno = 0;
	r = ioctl(fd, cmd, arg);
	if (r == 0)
		return 0;
	if (r < 0)
		return errno;
	return -1;
}

/* One test point: @got (0 or an errno) must be @want (0 or an errno). */
static int expect(int got, int want, const char *fmt, ...)
{
	char name[256];
	va_list ap;
	int ok = got == want;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);

	if (ok)
		return tap_result(1, "%s -> %s", name, errname(want));
	if (got == -1)
		return tap_result(0, "%s: got a positive return value, expected %s (%s)",
				  name, errname(want), want ? strerror(want) : "0");
	return tap_result(0, "%s: got %s (%s), expected %s (%s)", name,
			  errname(got), got ? strerror(got) : "0",
			  errname(want), want ? strerror(want) : "0");
}

static void caps_init(struct kvm_xbzrle_caps *caps)
{
	memset(caps, 0, sizeof(*caps));
	caps->size = sizeof(*caps);
}

/* Output of a successful call; returns a description of the first mismatch. */
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
	else if (c->page_size != (unsigned long)page_size)
		snprintf(why, sizeof(why), "page_size %u", c->page_size);
	else if (c->max_delta_size != c->page_size)
		snprintf(why, sizeof(why), "max_delta_size %u", c->max_delta_size);
	else {
		for (i = 0; i < sizeof(c->reserved) / sizeof(c->reserved[0]); i++)
			if (c->reserved[i]) {
				snprintf(why, sizeof(why), "reserved[%u] 0x%llx", i,
					 (unsigned long long)c->reserved[i]);
				return why;
			}
		return NULL;
	}
	return why;
}

static void test_valid(void)
{
	struct kvm_xbzrle_caps caps;
	int r;
	unsigned int i;
	int zero = 1;

	caps_init(&caps);
	r = do_ioctl(xfd, KVM_XBZRLE_GET_CAPS, &caps);
	expect(r, 0, "GET_CAPS size %zu, flags 0", sizeof(caps));
	if (r) {
		memset(&caps, 0, sizeof(caps));	/* check the fields anyway */
		tap_diag("valid call failed: output fields below are not meaningful");
	}

	tap_result(caps.api_version == KVM_XBZRLE_API_VERSION,
		   "api_version is %u (got %u)", KVM_XBZRLE_API_VERSION,
		   caps.api_version);
	tap_result(!!(caps.capabilities & KVM_XBZRLE_CAP_CODEC),
		   "capabilities has KVM_XBZRLE_CAP_CODEC (got 0x%llx)",
		   (unsigned long long)caps.capabilities);
	tap_result(caps.formats == (1ULL << KVM_XBZRLE_FORMAT_QEMU_V1),
		   "formats is 1 << KVM_XBZRLE_FORMAT_QEMU_V1 (got 0x%llx)",
		   (unsigned long long)caps.formats);
	tap_result(caps.page_size == (unsigned long)page_size,
		   "page_size is the host page size %ld (got %u)", page_size,
		   caps.page_size);
	tap_result(caps.max_delta_size == (unsigned long)page_size,
		   "max_delta_size is the page size %ld (got %u)", page_size,
		   caps.max_delta_size);
	tap_result(caps.max_batch == KVM_XBZRLE_MAX_BATCH &&
		   caps.max_regions >= KVM_XBZRLE_MAX_REGIONS &&
		   caps.capabilities & KVM_XBZRLE_CAP_HOST_PAGE_BASES,
		   "max_batch is %u and max_regions at least %u with HOST_PAGE_BASES (got %u, %u)",
		   KVM_XBZRLE_MAX_BATCH, KVM_XBZRLE_MAX_REGIONS,
		   caps.max_batch, caps.max_regions);
	for (i = 0; i < sizeof(caps.reserved) / sizeof(caps.reserved[0]); i++)
		if (caps.reserved[i])
			zero = 0;
	tap_result(!r && zero, "reserved fields are zero on output%s",
		   r ? " (call failed)" : "");
}

static void test_sizes(void)
{
	static uint8_t big[BIG_SIZE] __attribute__((aligned(8)));
	struct kvm_xbzrle_caps *c = (struct kvm_xbzrle_caps *)big;
	const char *bad;
	unsigned int i;
	int r;

	/* Too small, whatever the ioctl number says. */
	memset(big, 0, sizeof(big));
	c->size = 0;
	expect(do_ioctl(xfd, KVM_XBZRLE_GET_CAPS, big), EINVAL,
	       "size 0 with the standard ioctl number");

	memset(big, 0, sizeof(big));
	c->size = KVM_XBZRLE_CAPS_SIZE_VER1 - 8;
	expect(do_ioctl(xfd, caps_cmd(c->size), big), EINVAL,
	       "size %u (< KVM_XBZRLE_CAPS_SIZE_VER1) with a matching ioctl size",
	       c->size);

	/* Size field and ioctl number disagree. */
	memset(big, 0, sizeof(big));
	c->size = LARGER_SIZE;
	expect(do_ioctl(xfd, KVM_XBZRLE_GET_CAPS, big), EINVAL,
	       "size %u with ioctl size %u", LARGER_SIZE,
	       (unsigned int)_IOC_SIZE(KVM_XBZRLE_GET_CAPS));

	memset(big, 0, sizeof(big));
	c->size = sizeof(*c);
	expect(do_ioctl(xfd, _IOWR(KVM_XBZRLE_IOCTL_TYPE, 0, char[LARGER_SIZE]), big),
	       EINVAL, "size %zu with ioctl size %u", sizeof(*c), LARGER_SIZE);

	/* A larger (newer) struct: zero tail accepted, non-zero tail refused. */
	memset(big, 0, sizeof(big));
	c->size = LARGER_SIZE;
	r = do_ioctl(xfd, _IOWR(KVM_XBZRLE_IOCTL_TYPE, 0, char[LARGER_SIZE]), big);
	expect(r, 0, "size %u (larger struct), zero tail", LARGER_SIZE);
	bad = caps_bad(c);
	for (i = KVM_XBZRLE_CAPS_SIZE_VER1; i < sizeof(big); i++)
		if (big[i]) {
			bad = "tail changed";
			break;
		}
	tap_result(!r && !bad, "size %u (larger struct): valid output, tail left zero%s%s",
		   LARGER_SIZE, bad || r ? ": " : "",
		   r ? "call failed" : bad ? bad : "");

	memset(big, 0, sizeof(big));
	c->size = LARGER_SIZE;
	big[KVM_XBZRLE_CAPS_SIZE_VER1] = 1;
	expect(do_ioctl(xfd, _IOWR(KVM_XBZRLE_IOCTL_TYPE, 0, char[LARGER_SIZE]), big),
	       E2BIG, "size %u, non-zero first tail byte", LARGER_SIZE);

	memset(big, 0, sizeof(big));
	c->size = LARGER_SIZE;
	big[LARGER_SIZE - 1] = 0x80;
	expect(do_ioctl(xfd, _IOWR(KVM_XBZRLE_IOCTL_TYPE, 0, char[LARGER_SIZE]), big),
	       E2BIG, "size %u, non-zero last tail byte", LARGER_SIZE);

	/* Bounds: MAX_SIZE is still accepted, beyond it is refused. */
	memset(big, 0, sizeof(big));
	c->size = MAX_SIZE;
	expect(do_ioctl(xfd, caps_cmd(MAX_SIZE), big), 0,
	       "size %u, zero tail", MAX_SIZE);

	memset(big, 0, sizeof(big));
	c->size = BIG_SIZE;
	expect(do_ioctl(xfd, caps_cmd(BIG_SIZE), big), E2BIG,
	       "size %u (> %u)", BIG_SIZE, MAX_SIZE);
}

static void test_fields(void)
{
	struct kvm_xbzrle_caps caps;
	unsigned int i;

	caps_init(&caps);
	caps.flags = 1U << 31;
	expect(do_ioctl(xfd, KVM_XBZRLE_GET_CAPS, &caps), EINVAL,
	       "unknown flag 0x%x", 1U << 31);

	for (i = 0; i < sizeof(caps.reserved) / sizeof(caps.reserved[0]); i++) {
		caps_init(&caps);
		caps.reserved[i] = 1ULL << (i * 16);
		expect(do_ioctl(xfd, KVM_XBZRLE_GET_CAPS, &caps), EINVAL,
		       "reserved[%u] = 0x%llx", i,
		       (unsigned long long)caps.reserved[i]);
	}

	caps_init(&caps);
	caps.vm_fd = 1;
	expect(do_ioctl(xfd, KVM_XBZRLE_GET_CAPS, &caps), EINVAL,
	       "vm_fd 1 without KVM_XBZRLE_CAPS_VM_FD");
}

static void test_faults(void)
{
	void *p;

	expect(do_ioctl(xfd, KVM_XBZRLE_GET_CAPS, NULL), EFAULT, "NULL argument");

	p = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		tap_result(0, "unmapped argument: mmap: %s", strerror(errno));
		return;
	}
	munmap(p, page_size);
	expect(do_ioctl(xfd, KVM_XBZRLE_GET_CAPS, p), EFAULT, "unmapped argument");
}

static void test_numbers(void)
{
	struct kvm_xbzrle_caps caps;

	caps_init(&caps);
	expect(do_ioctl(xfd, _IOWR(KVM_XBZRLE_IOCTL_TYPE, 0x3f, struct kvm_xbzrle_caps),
			&caps), ENOTTY, "unknown ioctl number 0x3f of our type");
	caps_init(&caps);
	expect(do_ioctl(xfd, _IOWR(0xAE, 0, struct kvm_xbzrle_caps), &caps),
	       ENOTTY, "ioctl of another type (0xAE, KVM's)");
	caps_init(&caps);
	expect(do_ioctl(xfd, _IOR(KVM_XBZRLE_IOCTL_TYPE, 0, struct kvm_xbzrle_caps),
			&caps), ENOTTY, "GET_CAPS number with _IOR direction");
	caps_init(&caps);
	expect(do_ioctl(xfd, _IOW(KVM_XBZRLE_IOCTL_TYPE, 0, struct kvm_xbzrle_caps),
			&caps), ENOTTY, "GET_CAPS number with _IOW direction");
}

static int caps_with_vm_fd(int vm_fd)
{
	struct kvm_xbzrle_caps caps;

	caps_init(&caps);
	caps.flags = KVM_XBZRLE_CAPS_VM_FD;
	caps.vm_fd = vm_fd;
	return do_ioctl(xfd, KVM_XBZRLE_GET_CAPS, &caps);
}

#define VM_FD_KVM_TESTS	4

static void test_vm_fd(void)
{
	struct kvm_xbzrle_caps caps;
	const char *bad;
	int null_fd, kvm_fd, vm_fd, status, r;
	pid_t pid;

	expect(caps_with_vm_fd(-1), EBADF, "KVM_XBZRLE_CAPS_VM_FD, vm_fd -1");

	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null_fd < 0) {
		tap_result(0, "KVM_XBZRLE_CAPS_VM_FD, vm_fd of /dev/null: open: %s",
			   strerror(errno));
	} else {
		expect(caps_with_vm_fd(null_fd), EINVAL,
		       "KVM_XBZRLE_CAPS_VM_FD, vm_fd of /dev/null");
		close(null_fd);
	}

	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0) {
		int i;

		for (i = 0; i < VM_FD_KVM_TESTS; i++)
			tap_skip("/dev/kvm not available",
				 "KVM_XBZRLE_CAPS_VM_FD with KVM file descriptors");
		return;
	}
	expect(caps_with_vm_fd(kvm_fd), EINVAL,
	       "KVM_XBZRLE_CAPS_VM_FD, vm_fd of /dev/kvm itself (not a VM)");

	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm_fd < 0) {
		tap_result(0, "KVM_XBZRLE_CAPS_VM_FD, a VM of this process: KVM_CREATE_VM: %s",
			   strerror(errno));
		tap_result(0, "KVM_XBZRLE_CAPS_VM_FD, a VM: valid output (no VM)");
		tap_result(0, "KVM_XBZRLE_CAPS_VM_FD, a VM of another process (no VM)");
		close(kvm_fd);
		return;
	}

	caps_init(&caps);
	caps.flags = KVM_XBZRLE_CAPS_VM_FD;
	caps.vm_fd = vm_fd;
	r = do_ioctl(xfd, KVM_XBZRLE_GET_CAPS, &caps);
	expect(r, 0, "KVM_XBZRLE_CAPS_VM_FD, a VM of this process");
	bad = r ? "call failed" : caps_bad(&caps);
	tap_result(!bad, "KVM_XBZRLE_CAPS_VM_FD, a VM: valid output%s%s",
		   bad ? ": " : "", bad ? bad : "");

	/* The same VM file used from a child: a different mm. */
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		r = caps_with_vm_fd(vm_fd);
		_exit(r < 0 ? 255 : r & 0xff);
	}
	if (pid < 0) {
		tap_result(0, "KVM_XBZRLE_CAPS_VM_FD, the VM from a forked child: fork: %s",
			   strerror(errno));
	} else if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
		tap_result(0, "KVM_XBZRLE_CAPS_VM_FD, the VM from a forked child: child died (status 0x%x)",
			   status);
	} else {
		r = WEXITSTATUS(status);
		expect(r == 255 ? -1 : r, EIO,
		       "KVM_XBZRLE_CAPS_VM_FD, the VM from a forked child (another mm)");
	}
	close(vm_fd);
	close(kvm_fd);
}

int main(void)
{
	page_size = sysconf(_SC_PAGESIZE);

	xfd = open(DEV_PATH, O_RDWR | O_CLOEXEC);
	if (xfd < 0) {
		if (errno == ENOENT || errno == ENXIO || errno == ENODEV)
			tap_skip_all(DEV_PATH " not available (is kvm_xbzrle loaded?): %s",
				     strerror(errno));
		tap_bail_out("open " DEV_PATH);
	}

	tap_plan(NTESTS);
	test_valid();		/* 7 */
	test_sizes();		/* 10 */
	test_fields();		/* 6 */
	test_faults();		/* 2 */
	test_numbers();		/* 4 */
	test_vm_fd();		/* 6 */
	close(xfd);
	tap_finish();
}
