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
 * Classic mode: every round's KVM_GET_DIRTY_LOG shows exactly the pages
 * written since the previous call (plus, possibly, the code page: a read fault
 * may map it writable).
 *
 * Manual-protect mode (KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2), the lazy clear
 * that kvm_xbzrle relies on: KVM_GET_DIRTY_LOG does not reset anything,
 * KVM_CLEAR_DIRTY_LOG of a sub-range cleans exactly those pages, and a guest
 * write after the clear dirties the page again.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/kvm.h>

#include "xbzrle_tap.h"

#define GUEST_PAGE_SIZE	4096
#define NPAGES		64	/* one memslot; its dirty bitmap is one u64 */
#define CODE_PAGE	0
#define DATA_OFFSET	0x800	/* byte of each page the guest writes */
#define TSS_ADDR	0xfffbd000UL	/* outside the memslot, as QEMU does */
#define TIMEOUT_S	90

#define CLASSIC_TESTS	8
#define MANUAL_TESTS	16
#define NTESTS		(CLASSIC_TESTS + MANUAL_TESTS)

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

static uint64_t pages(unsigned int first, unsigned int count)
{
	uint64_t m = count >= 64 ? ~0ULL : (1ULL << count) - 1;

	return first >= 64 ? 0 : m << first;
}

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
		tap_diag("%s: KVM_SET_TSS_ADDR: %s (ignored)", name, strerror(errno));

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

/* A round: run the guest, then read the log.  Reports one test point. */
static int round_point(struct vm *vm, const char *what, unsigned int first,
		       unsigned int count, uint8_t val, uint64_t *log)
{
	char why[256];
	int ok;

	ok = !vm_round(vm, first, count, val, why, sizeof(why)) &&
	     !vm_get_log(vm, log, why, sizeof(why));
	tap_result(ok, "%s: %s: guest writes pages %u-%u and halts, log read%s%s",
		   vm->name, what, first, first + count - 1,
		   ok ? "" : ": ", ok ? "" : why);
	return ok;
}

/* Log read without running the guest.  No test point of its own. */
static int log_only(struct vm *vm, uint64_t *log)
{
	char why[256];

	if (vm_get_log(vm, log, why, sizeof(why))) {
		tap_diag("%s: %s", vm->name, why);
		return 0;
	}
	return 1;
}

/* Every page of @must is dirty in @log. */
static void expect_dirty(int valid, struct vm *vm, const char *what,
			 uint64_t log, uint64_t must)
{
	char buf[256];

	if (!valid) {
		tap_result(0, "%s: %s (no dirty log to check)", vm->name, what);
		return;
	}
	if (!tap_result((log & must) == must, "%s: %s", vm->name, what))
		tap_diag("  not dirty: %s", page_list(must & ~log, buf, sizeof(buf)));
}

/*
 * No page of @forbid is dirty in @log.  The code page never is in @forbid
 * (KVM may report it dirty: a read fault may map it writable).
 */
static void expect_clean(int valid, struct vm *vm, const char *what,
			 uint64_t log, uint64_t forbid)
{
	char buf[256];

	forbid &= ~pages(CODE_PAGE, 1);
	if (!valid) {
		tap_result(0, "%s: %s (no dirty log to check)", vm->name, what);
		return;
	}
	if (!tap_result(!(log & forbid), "%s: %s", vm->name, what))
		tap_diag("  unexpectedly dirty: %s",
			 page_list(log & forbid, buf, sizeof(buf)));
	if (log & pages(CODE_PAGE, 1))
		tap_diag("  (code page %u reported dirty too: allowed)", CODE_PAGE);
}

static void expect_memory(struct vm *vm, const char *what)
{
	unsigned int i, bad = 0;

	for (i = 0; i < NPAGES; i++) {
		uint8_t got = vm->mem[i * GUEST_PAGE_SIZE + DATA_OFFSET];

		if (got != vm->expect[i]) {
			if (bad++ < 8)
				tap_diag("  page %u: host sees 0x%02x, guest wrote 0x%02x",
					 i, got, vm->expect[i]);
		}
	}
	tap_result(!bad, "%s: %s", vm->name, what);
}

/* Classic mode: each KVM_GET_DIRTY_LOG returns and resets the log. */
static void test_classic(void)
{
	const uint64_t r1 = pages(8, 16), r2 = pages(32, 12);
	struct vm vm;
	char why[256];
	uint64_t log = 0;
	int valid;

	if (vm_create(&vm, "classic", 0, why, sizeof(why)))
		tap_bail_out("classic VM setup: %s", why);

	valid = round_point(&vm, "round 1", 8, 16, 0x11, &log);
	expect_dirty(valid, &vm, "round 1: every written page is dirty", log, r1);
	expect_clean(valid, &vm, "round 1: no page outside the written range is dirty",
		     log, ~r1);
	expect_memory(&vm, "round 1: host mapping holds the guest's writes");

	valid = round_point(&vm, "round 2", 32, 12, 0x22, &log);
	expect_dirty(valid, &vm, "round 2: every newly written page is dirty", log, r2);
	expect_clean(valid, &vm, "round 2: round 1 pages and all others clean (log was reset, pages re-protected)",
		     log, ~r2);
	expect_memory(&vm, "round 2: host mapping holds both rounds' writes");

	vm_destroy(&vm);
}

/* Manual-protect mode: the lazy clear kvm_xbzrle depends on. */
static void test_manual(void)
{
	const uint64_t a = pages(8, 16);	/* written in rounds 1 and 2 */
	const uint64_t c = pages(8, 8);		/* cleared sub-range of a */
	const uint64_t n = pages(24, 8);	/* new pages of round 3 */
	const uint64_t r4 = pages(8, 4);	/* round 4: part of c again */
	struct vm vm;
	char why[256];
	uint64_t log = 0;
	int valid, i, r;

	r = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
	if (r <= 0 || !(r & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE)) {
		for (i = 0; i < MANUAL_TESTS; i++)
			tap_skip("KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 not supported",
				 "manual-protect dirty log");
		return;
	}

	r = vm_create(&vm, "manual", 1, why, sizeof(why));
	tap_result(!r, "manual: VM with KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE%s%s",
		   r ? ": " : "", r ? why : "");
	if (r) {
		for (i = 1; i < MANUAL_TESTS; i++)
			tap_result(0, "manual: (no VM)");
		vm_destroy(&vm);
		return;
	}

	valid = round_point(&vm, "round 1", 8, 16, 0x33, &log);
	expect_dirty(valid, &vm, "round 1: every written page is dirty", log, a);
	expect_clean(valid, &vm, "round 1: no page outside the written range is dirty",
		     log, ~a);

	/* No clear: the log keeps the pages, rewriting them changes nothing. */
	valid = round_point(&vm, "round 2 (no clear)", 8, 16, 0x44, &log);
	expect_dirty(valid, &vm, "round 2: without KVM_CLEAR_DIRTY_LOG the pages are still dirty",
		     log, a);

	/* Clear a sub-range: effective at once, the rest untouched. */
	r = vm_clear_log(&vm, c, why, sizeof(why));
	tap_result(!r, "manual: KVM_CLEAR_DIRTY_LOG of pages 8-15%s%s",
		   r ? ": " : "", r ? why : "");
	valid = !r && log_only(&vm, &log);
	expect_clean(valid, &vm, "after clear: cleared pages are clean", log, c);
	expect_dirty(valid, &vm, "after clear: uncleared pages are still dirty",
		     log, a & ~c);

	/* Write only outside the cleared range. */
	valid = round_point(&vm, "round 3", 16, 16, 0x55, &log);
	expect_dirty(valid, &vm, "round 3: uncleared and newly written pages (16-31) are dirty",
		     log, (a & ~c) | n);
	expect_clean(valid, &vm, "round 3: cleared pages (8-15) not written again stay clean",
		     log, ~(a & ~c) & ~n);

	/* A write after the clear dirties the page again. */
	valid = round_point(&vm, "round 4", 8, 4, 0x66, &log);
	expect_dirty(valid, &vm, "round 4: a write after the clear re-dirties pages 8-11",
		     log, r4);
	expect_clean(valid, &vm, "round 4: cleared pages 12-15 not written stay clean",
		     log, c & ~r4);

	expect_memory(&vm, "host mapping holds the guest's last writes");
	vm_destroy(&vm);
}

int main(void)
{
	int api;

	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0) {
		if (errno == ENOENT || errno == ENXIO || errno == ENODEV)
			tap_skip_all("/dev/kvm not available: %s", strerror(errno));
		if (errno == EACCES || errno == EPERM)
			tap_skip_all("no access to /dev/kvm: %s", strerror(errno));
		tap_bail_out("open /dev/kvm");
	}
	api = ioctl(kvm_fd, KVM_GET_API_VERSION, 0);
	if (api != KVM_API_VERSION)
		tap_bail_out("KVM_GET_API_VERSION returned %d, expected %d",
			     api, KVM_API_VERSION);

	tap_timeout(TIMEOUT_S);

	tap_plan(NTESTS);
	test_classic();
	test_manual();
	close(kvm_fd);
	tap_finish();
}
