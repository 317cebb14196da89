// SPDX-License-Identifier: GPL-2.0
/*
 * dirty_log_test - KVM dirty logging works where the kvm_xbzrle tests run.
 *
 * Raw /dev/kvm, no libraries.  One VM, one memslot of NPAGES anonymous pages
 * at guest physical 0 with KVM_MEM_LOG_DIRTY_PAGES, one vCPU in real mode
 * running a tiny 16-bit loop that writes one byte to each page of a range
 * (first page's segment in ax, page count in cx, the byte in dl):
 *
 *	0:  mov es, ax
 *	2:  mov [es:DATA_OFFSET], dl
 *	7:  add ax, 0x100
 *	10: loop 0
 *	12: hlt
 *
 * A step is one such round (or a KVM_CLEAR_DIRTY_LOG), then a
 * KVM_GET_DIRTY_LOG.  The checks allow the code page to be dirty too: a
 * read fault may map it writable.  A case is a variant of the fixture
 * dirty_log: a VM in one mode, the steps up to the one it checks, and
 * that step's checks (case dirty_log.<variant>.after_steps).
 *
 * Classic mode: every KVM_GET_DIRTY_LOG shows exactly the pages written
 * since the previous call, and resets the log:
 *
 *   classic_round_logs_written_pages  round 1 (pages 8-23): they are dirty,
 *                                     no other page is, and the host
 *                                     mapping holds the guest's bytes;
 *   classic_get_resets_the_log        then round 2 (pages 32-43): only they
 *                                     are dirty, and the host mapping holds
 *                                     both rounds' bytes.
 *
 * Manual-protect mode (KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2), the lazy clear
 * that kvm_xbzrle relies on; the steps are round 1 of pages 8-23, round 2
 * of pages 24-27, a clear of pages 8-15, round 3 of pages 16-31 and
 * round 4 of pages 8-11:
 *
 *   manual_round_logs_written_pages     after round 1, pages 8-23 dirty,
 *                                       no other;
 *   manual_get_does_not_reset           after round 2, without a clear,
 *                                       pages 8-23 still dirty beside
 *                                       24-27, no other;
 *   manual_clear_cleans_its_pages_only  after the clear, pages 8-15 clean,
 *                                       16-23 still dirty;
 *   manual_cleared_pages_stay_clean     after round 3, pages 16-31 dirty,
 *                                       the cleared 8-15 (not written
 *                                       again) and all others clean;
 *   manual_write_after_clear_redirties  after round 4, pages 8-11 dirty
 *                                       again, 12-15 clean, and the host
 *                                       mapping holds the last bytes.
 *
 * On the kernel's kselftest harness: each case in its own process with its
 * own VM.  Skips without access to /dev/kvm (not root); without /dev/kvm,
 * or the manual cases without KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, which
 * kvm_xbzrle needs, it fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/kvm.h>

#include "kselftest_harness.h"
#include "xbzrle_tap.h"

#define GUEST_PAGE_SIZE	4096
#define NPAGES		64	/* one memslot; its dirty bitmap is one u64 */
#define CODE_PAGE	0
#define DATA_OFFSET	0x800	/* byte of each page the guest writes */
#define TSS_ADDR	0xfffbd000UL	/* outside the memslot, as QEMU does */

_Static_assert(NPAGES == 64, "bitmaps below are a single u64");

static const uint8_t guest_code[] = {
	0x8e, 0xc0,			/* 0:  mov es, ax */
	0x26, 0x88, 0x16,		/* 2:  mov [es:DATA_OFFSET], dl */
	DATA_OFFSET & 0xff, DATA_OFFSET >> 8,
	0x05, 0x00, 0x01,		/* 7:  add ax, 0x100 */
	0xe2, 0xf4,			/* 10: loop 0 */
	0xf4,				/* 12: hlt */
	0xeb, 0xfd,			/* 13: jmp 12 */
};

struct vm {
	const char *name;
	int fd;
	int vcpu_fd;
	struct kvm_run *run;
	size_t run_size;
	uint8_t *mem;
	uint8_t expect[NPAGES];	/* byte at DATA_OFFSET of every page */
};

static int kvm_fd = -1;

/* Pages [@first, @first + @count) as a bitmap; a constant expression. */
#define PAGES(first, count)						\
	((first) >= 64 ? 0 :						\
	 ((count) >= 64 ? ~0ULL : (1ULL << (count)) - 1) << (first))

static const char *page_list(uint64_t m, char *buf, size_t len)
{
	size_t off = 0;
	unsigned int i;

	buf[0] = '\0';
	for (i = 0; i < NPAGES && off + 8 < len; i++)
		if (m & (1ULL << i))
			off += snprintf(buf + off, len - off, "%s%u",
					off ? "," : "", i);
	return off ? buf : "none";
}

static int vm_create(struct vm *vm, const char *name, int manual,
		     char *why, size_t len)
{
	struct kvm_userspace_memory_region region;
	struct kvm_sregs sregs;
	int sz;

	memset(vm, 0, sizeof(*vm));
	vm->name = name;
	vm->fd = vm->vcpu_fd = -1;

	vm->fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm->fd < 0) {
		snprintf(why, len, "KVM_CREATE_VM: %s", strerror(errno));
		return -1;
	}
	if (manual) {
		struct kvm_enable_cap cap = {
			.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
			.args[0] = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE,
		};

		if (ioctl(vm->fd, KVM_ENABLE_CAP, &cap)) {
			snprintf(why, len, "KVM_ENABLE_CAP(MANUAL_DIRTY_LOG_PROTECT2): %s",
				 strerror(errno));
			return -1;
		}
	}
	/* Only needed for real mode on VMX without unrestricted guest. */
	if (ioctl(vm->fd, KVM_SET_TSS_ADDR, TSS_ADDR))
		ksft_print_msg("%s: KVM_SET_TSS_ADDR: %s (ignored)\n", name,
			       strerror(errno));

	vm->mem = mmap(NULL, NPAGES * GUEST_PAGE_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->mem == MAP_FAILED) {
		vm->mem = NULL;
		snprintf(why, len, "mmap guest memory: %s", strerror(errno));
		return -1;
	}
	memcpy(vm->mem + CODE_PAGE * GUEST_PAGE_SIZE, guest_code,
	       sizeof(guest_code));

	region = (struct kvm_userspace_memory_region){
		.slot = 0,
		.flags = KVM_MEM_LOG_DIRTY_PAGES,
		.guest_phys_addr = 0,
		.memory_size = NPAGES * GUEST_PAGE_SIZE,
		.userspace_addr = (uintptr_t)vm->mem,
	};
	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region)) {
		snprintf(why, len, "KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
		return -1;
	}

	vm->vcpu_fd = ioctl(vm->fd, KVM_CREATE_VCPU, 0);
	if (vm->vcpu_fd < 0) {
		snprintf(why, len, "KVM_CREATE_VCPU: %s", strerror(errno));
		return -1;
	}
	sz = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (sz < (int)sizeof(struct kvm_run)) {
		snprintf(why, len, "KVM_GET_VCPU_MMAP_SIZE: %d (%s)", sz,
			 strerror(errno));
		return -1;
	}
	vm->run_size = sz;
	vm->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       vm->vcpu_fd, 0);
	if (vm->run == MAP_FAILED) {
		vm->run = NULL;
		snprintf(why, len, "mmap kvm_run: %s", strerror(errno));
		return -1;
	}

	/* Real mode, code at physical 0. */
	if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs)) {
		snprintf(why, len, "KVM_GET_SREGS: %s", strerror(errno));
		return -1;
	}
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &sregs)) {
		snprintf(why, len, "KVM_SET_SREGS: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void vm_destroy(struct vm *vm)
{
	if (vm->run)
		munmap(vm->run, vm->run_size);
	if (vm->vcpu_fd >= 0)
		close(vm->vcpu_fd);
	if (vm->fd >= 0)
		close(vm->fd);
	if (vm->mem)
		munmap(vm->mem, NPAGES * GUEST_PAGE_SIZE);
	memset(vm, 0, sizeof(*vm));
	vm->fd = vm->vcpu_fd = -1;
}

static void describe_exit(struct kvm_run *run, char *why, size_t len)
{
	switch (run->exit_reason) {
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(why, len, "KVM_EXIT_FAIL_ENTRY, reason 0x%llx",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(why, len, "KVM_EXIT_INTERNAL_ERROR, suberror %u",
			 run->internal.suberror);
		break;
	case KVM_EXIT_MMIO:
		snprintf(why, len, "KVM_EXIT_MMIO at 0x%llx",
			 (unsigned long long)run->mmio.phys_addr);
		break;
	case KVM_EXIT_IO:
		snprintf(why, len, "KVM_EXIT_IO port 0x%x", run->io.port);
		break;
	case KVM_EXIT_SHUTDOWN:
		snprintf(why, len, "KVM_EXIT_SHUTDOWN (triple fault)");
		break;
	default:
		snprintf(why, len, "unexpected exit reason %u", run->exit_reason);
		break;
	}
}

/*
 * Runs the guest loop once: writes @val at DATA_OFFSET of pages
 * [@first, @first + @count).  Returns 0 when the vCPU reached HLT with the
 * loop finished.
 */
static int vm_round(struct vm *vm, unsigned int first, unsigned int count,
		    uint8_t val, char *why, size_t len)
{
	struct kvm_regs regs;
	unsigned int i;

	if (!count || first + count > NPAGES || first <= CODE_PAGE) {
		snprintf(why, len, "bad round [%u, %u)", first, first + count);
		return -1;
	}
	memset(&regs, 0, sizeof(regs));
	regs.rip = 0;
	regs.rflags = 0x2;
	regs.rax = first * 0x100;	/* segment of the first page */
	regs.rcx = count;
	regs.rdx = val;
	if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &regs)) {
		snprintf(why, len, "KVM_SET_REGS: %s", strerror(errno));
		return -1;
	}
	for (;;) {
		if (ioctl(vm->vcpu_fd, KVM_RUN, 0)) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			snprintf(why, len, "KVM_RUN: %s", strerror(errno));
			return -1;
		}
		if (vm->run->exit_reason == KVM_EXIT_HLT)
			break;
		if (vm->run->exit_reason == KVM_EXIT_INTR)
			continue;
		describe_exit(vm->run, why, len);
		return -1;
	}
	if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &regs)) {
		snprintf(why, len, "KVM_GET_REGS: %s", strerror(errno));
		return -1;
	}
	if ((regs.rcx & 0xffff) != 0 ||
	    (regs.rax & 0xffff) != ((first + count) * 0x100 & 0xffff) ||
	    regs.rip != 13) {
		snprintf(why, len, "guest stopped early: ax=0x%llx cx=0x%llx ip=0x%llx",
			 (unsigned long long)regs.rax, (unsigned long long)regs.rcx,
			 (unsigned long long)regs.rip);
		return -1;
	}
	for (i = first; i < first + count; i++)
		vm->expect[i] = val;
	return 0;
}

static int vm_get_log(struct vm *vm, uint64_t *bitmap, char *why, size_t len)
{
	struct kvm_dirty_log log;

	memset(&log, 0, sizeof(log));
	*bitmap = 0;
	log.slot = 0;
	log.dirty_bitmap = bitmap;
	if (ioctl(vm->fd, KVM_GET_DIRTY_LOG, &log)) {
		snprintf(why, len, "KVM_GET_DIRTY_LOG: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int vm_clear_log(struct vm *vm, uint64_t mask, char *why, size_t len)
{
	struct kvm_clear_dirty_log clear;

	memset(&clear, 0, sizeof(clear));
	clear.slot = 0;
	clear.first_page = 0;
	clear.num_pages = NPAGES;
	clear.dirty_bitmap = &mask;
	if (ioctl(vm->fd, KVM_CLEAR_DIRTY_LOG, &clear)) {
		snprintf(why, len, "KVM_CLEAR_DIRTY_LOG: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * A step: the guest writes @val to pages [@first, @first + @count), or,
 * with @val 0, KVM_CLEAR_DIRTY_LOG of those pages; then the log is read.
 * A case runs the steps up to the one it checks, and checks what that
 * step's log must show.
 */
struct step {
	const char *what;
	unsigned int first, count;
	uint8_t val;
	uint64_t dirty;		/* all dirty; 0: the pages written */
	const char *dirty_why;
	uint64_t clean;		/* none dirty (but the code page); 0: all others */
	const char *clean_why;	/* NULL: not checked */
	const char *memory;	/* if set: the host mapping holds the bytes */
};

static const struct step classic_steps[] = {
	{ .what = "round 1", .first = 8, .count = 16, .val = 0x11,
	  .dirty_why = "round 1: every written page is dirty",
	  .clean_why = "round 1: no page outside the written range is dirty",
	  .memory = "round 1: host mapping holds the guest's writes" },
	{ .what = "round 2", .first = 32, .count = 12, .val = 0x22,
	  .dirty_why = "round 2: every newly written page is dirty",
	  .clean_why = "round 2: round 1 pages and all others clean (log was reset, pages re-protected)",
	  .memory = "round 2: host mapping holds both rounds' writes" },
};

#define MANUAL_C	PAGES(8, 8)	/* the cleared pages */

static const struct step manual_steps[] = {
	{ .what = "round 1", .first = 8, .count = 16, .val = 0x33,
	  .dirty_why = "round 1: every written page is dirty",
	  .clean_why = "round 1: no page outside the written range is dirty" },
	/*
	 * no clear: the log keeps round 1's pages; round 2 writes other
	 * pages, so that a GET that reset the log would show 8-23 clean
	 */
	{ .what = "round 2 (no clear)", .first = 24, .count = 4, .val = 0x44,
	  .dirty = PAGES(8, 20),
	  .dirty_why = "round 2: without KVM_CLEAR_DIRTY_LOG round 1's pages are still dirty, beside round 2's",
	  .clean = ~PAGES(8, 20),
	  .clean_why = "round 2: no other page is dirty" },
	/* clear a sub-range: effective at once, the rest untouched */
	{ .what = "KVM_CLEAR_DIRTY_LOG of pages 8-15", .first = 8, .count = 8,
	  .dirty = PAGES(16, 8),
	  .dirty_why = "after clear: uncleared pages are still dirty",
	  .clean = MANUAL_C,
	  .clean_why = "after clear: cleared pages are clean" },
	/* write only outside the cleared range */
	{ .what = "round 3", .first = 16, .count = 16, .val = 0x55,
	  .dirty_why = "round 3: uncleared and newly written pages (16-31) are dirty",
	  .clean_why = "round 3: cleared pages (8-15) not written again stay clean" },
	/* a write after the clear dirties the page again */
	{ .what = "round 4", .first = 8, .count = 4, .val = 0x66,
	  .dirty_why = "round 4: a write after the clear re-dirties pages 8-11",
	  .clean = MANUAL_C & ~PAGES(8, 4),
	  .clean_why = "round 4: cleared pages 12-15 not written stay clean",
	  .memory = "host mapping holds the guest's last writes" },
};

/* Every page of @must is dirty in @log. */
static void expect_dirty(struct __test_metadata *_metadata, struct vm *vm,
			 const char *what, uint64_t log, uint64_t must)
{
	char buf[256];

	EXPECT_EQ(must, log & must)
		TH_LOG("%s: %s: not dirty: %s", vm->name, what,
		       page_list(must & ~log, buf, sizeof(buf)));
}

/*
 * No page of @forbid is dirty in @log.  The code page never is in @forbid
 * (KVM may report it dirty: a read fault may map it writable).
 */
static void expect_clean(struct __test_metadata *_metadata, struct vm *vm,
			 const char *what, uint64_t log, uint64_t forbid)
{
	char buf[256];

	forbid &= ~PAGES(CODE_PAGE, 1);
	EXPECT_EQ(0ULL, log & forbid)
		TH_LOG("%s: %s: unexpectedly dirty: %s", vm->name, what,
		       page_list(log & forbid, buf, sizeof(buf)));
	if (log & PAGES(CODE_PAGE, 1))
		TH_LOG("%s: code page %u reported dirty too: allowed",
		       vm->name, CODE_PAGE);
}

/* The host mapping holds the byte the guest last wrote to each page. */
static void expect_memory(struct __test_metadata *_metadata, struct vm *vm,
			  const char *what)
{
	unsigned int i, bad = 0;

	for (i = 0; i < NPAGES; i++) {
		uint8_t got = vm->mem[i * GUEST_PAGE_SIZE + DATA_OFFSET];

		if (got != vm->expect[i] && bad++ < 8)
			TH_LOG("page %u: host sees 0x%02x, guest wrote 0x%02x",
			       i, got, vm->expect[i]);
	}
	EXPECT_EQ(0U, bad) TH_LOG("%s: %s", vm->name, what);
}

/* Steps 0 to @last of @steps, then the checks of step @last. */
static void run_steps(struct __test_metadata *_metadata, struct vm *vm,
		      const struct step *steps, unsigned int last)
{
	const struct step *s;
	uint64_t log = 0, written;
	unsigned int i;
	char why[256];

	for (i = 0; i <= last; i++) {
		s = &steps[i];
		if (s->val) {
			ASSERT_EQ(0, vm_round(vm, s->first, s->count, s->val,
					      why, sizeof(why)))
				TH_LOG("%s: %s: guest writes pages %u-%u and halts: %s",
				       vm->name, s->what, s->first,
				       s->first + s->count - 1, why);
		} else {
			ASSERT_EQ(0, vm_clear_log(vm, PAGES(s->first, s->count),
						  why, sizeof(why)))
				TH_LOG("%s: %s: %s", vm->name, s->what, why);
		}
		ASSERT_EQ(0, vm_get_log(vm, &log, why, sizeof(why)))
			TH_LOG("%s: after %s: %s", vm->name, s->what, why);
	}
	s = &steps[last];
	written = s->val ? PAGES(s->first, s->count) : 0;
	expect_dirty(_metadata, vm, s->dirty_why, log,
		     s->dirty ? s->dirty : written);
	if (s->clean_why)
		expect_clean(_metadata, vm, s->clean_why, log,
			     s->clean ? s->clean : ~written);
	if (s->memory)
		expect_memory(_metadata, vm, s->memory);
}

FIXTURE(dirty_log) {
	struct vm vm;
};

/* A case: a VM in a mode, the steps up to one, that step's checks. */
FIXTURE_VARIANT(dirty_log) {
	bool manual;		/* KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE */
	const struct step *steps;
	unsigned int last;
};

/* Classic mode: each KVM_GET_DIRTY_LOG returns and resets the log. */
FIXTURE_VARIANT_ADD(dirty_log, classic_round_logs_written_pages) {
	.steps = classic_steps, .last = 0,
};

FIXTURE_VARIANT_ADD(dirty_log, classic_get_resets_the_log) {
	.steps = classic_steps, .last = 1,
};

/* Manual-protect mode: the lazy clear kvm_xbzrle depends on. */
FIXTURE_VARIANT_ADD(dirty_log, manual_round_logs_written_pages) {
	.manual = true, .steps = manual_steps, .last = 0,
};

FIXTURE_VARIANT_ADD(dirty_log, manual_get_does_not_reset) {
	.manual = true, .steps = manual_steps, .last = 1,
};

FIXTURE_VARIANT_ADD(dirty_log, manual_clear_cleans_its_pages_only) {
	.manual = true, .steps = manual_steps, .last = 2,
};

FIXTURE_VARIANT_ADD(dirty_log, manual_cleared_pages_stay_clean) {
	.manual = true, .steps = manual_steps, .last = 3,
};

FIXTURE_VARIANT_ADD(dirty_log, manual_write_after_clear_redirties) {
	.manual = true, .steps = manual_steps, .last = 4,
};

FIXTURE_SETUP(dirty_log)
{
	const char *name = variant->manual ? "manual" : "classic";
	char why[256];
	int api, r;

	/* the tests run where KVM is: without it nothing here can check */
	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0 && (errno == EACCES || errno == EPERM))
		SKIP(return, "no access to /dev/kvm: %s", strerror(errno));
	ASSERT_LE(0, kvm_fd) TH_LOG("open /dev/kvm: %s", strerror(errno));
	api = ioctl(kvm_fd, KVM_GET_API_VERSION, 0);
	ASSERT_EQ(KVM_API_VERSION, api)
		TH_LOG("KVM_GET_API_VERSION returned %d", api);
	if (variant->manual) {
		r = ioctl(kvm_fd, KVM_CHECK_EXTENSION,
			  KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
		/* kvm_xbzrle needs it: its absence is a failure, not a skip */
		ASSERT_TRUE(r > 0 && (r & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE))
			TH_LOG("KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 not supported (%d)", r);
	}
	ASSERT_EQ(0, vm_create(&self->vm, name, variant->manual, why,
			       sizeof(why)))
		TH_LOG("%s VM setup: %s", name, why);
}

FIXTURE_TEARDOWN(dirty_log)
{
	vm_destroy(&self->vm);
	close(kvm_fd);
}

TEST_F(dirty_log, after_steps)
{
	run_steps(_metadata, &self->vm, variant->steps, variant->last);
}

XBZRLE_SCALE_TIMEOUTS()

TEST_HARNESS_MAIN
