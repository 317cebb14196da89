// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_util - raw /dev/kvm and /dev/kvm_xbzrle helpers for the kvm_xbzrle
 * selftests.  See kvm_util.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kvm_util.h"
#include "xbzrle.h"
#include "xbzrle_tap.h"

static __thread char util_err[256];
static int kvm_fd = -1;

const char *kvm_util_error(void)
{
	return util_err;
}

/* Records a message and returns -1; errno is left as the caller had it. */
static int __attribute__((format(printf, 1, 2))) fail(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(util_err, sizeof(util_err), fmt, ap);
	va_end(ap);
	errno = err;
	return -1;
}

/* As fail(), with ": strerror(errno)" appended. */
#define fail_errno(fmt, ...) \
	fail(fmt ": %s", ##__VA_ARGS__, strerror(errno))

/* -------------------------------- /dev/kvm -------------------------------- */

int kvm_open(void)
{
	int fd, api;

	if (kvm_fd >= 0)
		return kvm_fd;
	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return fail_errno("open /dev/kvm");
	api = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (api != KVM_API_VERSION) {
		close(fd);
		errno = EINVAL;
		return fail("KVM_GET_API_VERSION returned %d, expected %d",
			    api, KVM_API_VERSION);
	}
	kvm_fd = fd;
	return fd;
}

int kvm_check_cap(long cap)
{
	int r;

	if (kvm_open() < 0)
		return 0;
	r = ioctl(kvm_fd, KVM_CHECK_EXTENSION, cap);
	return r < 0 ? 0 : r;
}

int vm_create(struct kvm_vm *vm, unsigned int flags)
{
	memset(vm, 0, sizeof(*vm));
	vm->fd = -1;
	vm->flags = flags;
	if (kvm_open() < 0)
		return -1;

	vm->fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm->fd < 0)
		return fail_errno("KVM_CREATE_VM");
	if (flags & VM_MANUAL_PROTECT) {
		struct kvm_enable_cap cap = {
			.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
			.args[0] = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE,
		};

		if (ioctl(vm->fd, KVM_ENABLE_CAP, &cap))
			return fail_errno("KVM_ENABLE_CAP(MANUAL_DIRTY_LOG_PROTECT2)");
	}
	/*
	 * Only VMX without unrestricted guest needs a TSS for real mode; set
	 * it outside guest RAM (as QEMU does) and ignore failures.
	 */
	ioctl(vm->fd, KVM_SET_TSS_ADDR, 0xfffbd000UL);
	return 0;
}

void vm_destroy(struct kvm_vm *vm)
{
	unsigned int i;

	/* The VM first: KVM must not reference memory we unmap. */
	if (vm->fd >= 0)
		close(vm->fd);
	vm->fd = -1;
	for (i = 0; i < KVM_UTIL_MAX_SLOTS; i++) {
		struct vm_memslot *s = &vm->slots[i];

		if (s->used && s->hva)
			munmap(s->hva, s->size);
		memset(s, 0, sizeof(*s));
	}
}

struct vm_memslot *vm_find_slot(struct kvm_vm *vm, uint32_t slot)
{
	unsigned int i;

	for (i = 0; i < KVM_UTIL_MAX_SLOTS; i++)
		if (vm->slots[i].used && vm->slots[i].slot == slot)
			return &vm->slots[i];
	return NULL;
}

struct vm_memslot *vm_slot_of(struct kvm_vm *vm, uint64_t gpa)
{
	unsigned int i;

	for (i = 0; i < KVM_UTIL_MAX_SLOTS; i++) {
		struct vm_memslot *s = &vm->slots[i];

		if (s->used && gpa >= s->gpa && gpa - s->gpa < s->size)
			return s;
	}
	return NULL;
}

uint8_t *vm_gpa_to_hva(struct kvm_vm *vm, uint64_t gpa)
{
	struct vm_memslot *s = vm_slot_of(vm, gpa);

	return s ? s->hva + (gpa - s->gpa) : NULL;
}

int vm_add_memslot(struct kvm_vm *vm, uint32_t slot, uint64_t gpa,
		   uint64_t size)
{
	struct kvm_userspace_memory_region region;
	struct vm_memslot *s = NULL;
	unsigned int i;
	void *mem;

	if (vm_find_slot(vm, slot)) {
		errno = EEXIST;
		return fail("memslot %u already added", slot);
	}
	for (i = 0; i < KVM_UTIL_MAX_SLOTS && !s; i++)
		if (!vm->slots[i].used)
			s = &vm->slots[i];
	if (!s) {
		errno = ENOSPC;
		return fail("more than %d memslots", KVM_UTIL_MAX_SLOTS);
	}
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		return fail_errno("mmap %llu bytes of guest memory",
				  (unsigned long long)size);

	region = (struct kvm_userspace_memory_region){
		.slot = slot,
		.flags = KVM_MEM_LOG_DIRTY_PAGES,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)mem,
	};
	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region)) {
		fail_errno("KVM_SET_USER_MEMORY_REGION slot %u gpa 0x%llx size 0x%llx",
			   slot, (unsigned long long)gpa,
			   (unsigned long long)size);
		i = errno;
		munmap(mem, size);
		errno = i;
		return -1;
	}
	*s = (struct vm_memslot){
		.used = true,
		.slot = slot,
		.flags = region.flags,
		.gpa = gpa,
		.size = size,
		.hva = mem,
	};
	return 0;
}

int kvm_set_memslot(int vm_fd, uint32_t slot, uint32_t flags, uint64_t gpa,
		    uint64_t size, void *hva)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot, .flags = flags, .guest_phys_addr = gpa,
		.memory_size = size, .userspace_addr = (uintptr_t)hva,
	};

	return ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &r) ? errno : 0;
}

int vm_remove_memslot(struct kvm_vm *vm, uint32_t slot)
{
	struct kvm_userspace_memory_region region = { .slot = slot };
	struct vm_memslot *s = vm_find_slot(vm, slot);

	if (!s) {
		errno = ENOENT;
		return fail("no memslot %u", slot);
	}
	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region))
		return fail_errno("KVM_SET_USER_MEMORY_REGION(delete slot %u)",
				  slot);
	munmap(s->hva, s->size);
	memset(s, 0, sizeof(*s));
	return 0;
}

size_t vm_bitmap_bytes(const struct vm_memslot *slot)
{
	uint64_t pages = slot->size >> GUEST_PAGE_SHIFT;

	return (pages + 63) / 64 * 8;
}

int vm_get_dirty_log(struct kvm_vm *vm, uint32_t slot, uint64_t *bitmap)
{
	struct kvm_dirty_log log;

	memset(&log, 0, sizeof(log));
	log.slot = slot;
	log.dirty_bitmap = bitmap;
	if (ioctl(vm->fd, KVM_GET_DIRTY_LOG, &log))
		return fail_errno("KVM_GET_DIRTY_LOG slot %u", slot);
	return 0;
}

int vm_clear_dirty_log(struct kvm_vm *vm, uint32_t slot, uint64_t first,
		       uint32_t num, const uint64_t *bitmap)
{
	struct kvm_clear_dirty_log clear;

	memset(&clear, 0, sizeof(clear));
	clear.slot = slot;
	clear.first_page = first;
	clear.num_pages = num;
	clear.dirty_bitmap = (void *)bitmap;
	if (ioctl(vm->fd, KVM_CLEAR_DIRTY_LOG, &clear))
		return fail_errno("KVM_CLEAR_DIRTY_LOG slot %u pages %llu+%u",
				  slot, (unsigned long long)first, num);
	return 0;
}

int vm_dirty_gpas(struct kvm_vm *vm, uint64_t *gpas, size_t max)
{
	size_t n = 0, i, p, npages;
	uint64_t *bitmap;

	for (i = 0; i < KVM_UTIL_MAX_SLOTS; i++) {
		struct vm_memslot *s = &vm->slots[i];

		if (!s->used)
			continue;
		bitmap = calloc(1, vm_bitmap_bytes(s));
		if (!bitmap)
			return fail_errno("dirty bitmap");
		if (vm_get_dirty_log(vm, s->slot, bitmap)) {
			free(bitmap);
			return -1;
		}
		npages = s->size >> GUEST_PAGE_SHIFT;
		for (p = 0; p < npages; p++) {
			if (!(bitmap[p / 64] & (1ULL << (p % 64))))
				continue;
			if (n == max) {
				free(bitmap);
				errno = ENOSPC;
				return fail("more than %zu dirty pages", max);
			}
			gpas[n++] = s->gpa + (p << GUEST_PAGE_SHIFT);
		}
		free(bitmap);
	}
	return n;
}

int vm_all_gpas(struct kvm_vm *vm, uint64_t *gpas, size_t max)
{
	size_t n = 0, i;
	uint64_t off;

	for (i = 0; i < KVM_UTIL_MAX_SLOTS; i++) {
		struct vm_memslot *s = &vm->slots[i];

		if (!s->used)
			continue;
		for (off = 0; off < s->size; off += GUEST_PAGE_SIZE) {
			if (n == max) {
				errno = ENOSPC;
				return fail("more than %zu pages", max);
			}
			gpas[n++] = s->gpa + off;
		}
	}
	return n;
}

size_t vm_npages(struct kvm_vm *vm)
{
	size_t n = 0, i;

	for (i = 0; i < KVM_UTIL_MAX_SLOTS; i++)
		if (vm->slots[i].used)
			n += vm->slots[i].size >> GUEST_PAGE_SHIFT;
	return n;
}

int vm_load(struct kvm_vm *vm, uint64_t gpa, const void *code, size_t len)
{
	struct vm_memslot *s = vm_slot_of(vm, gpa);

	if (!s || len > s->size - (gpa - s->gpa)) {
		errno = EFAULT;
		return fail("guest code at 0x%llx+%zu outside the memslots",
			    (unsigned long long)gpa, len);
	}
	memcpy(s->hva + (gpa - s->gpa), code, len);
	return 0;
}

/* --------------------------------- vCPUs ---------------------------------- */

/* A flat 4 GiB segment with base 0: code (execute/read) or data (r/w). */
static void flat_segment(struct kvm_segment *seg, uint16_t selector, bool code)
{
	*seg = (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,	/* bytes, as KVM takes it */
		.selector = selector,
		.type = code ? 0xb : 0x3,	/* accessed */
		.present = 1,
		.dpl = 0,
		.db = 1,		/* 32-bit */
		.s = 1,			/* code/data, not system */
		.l = 0,
		.g = 1,
	};
}

static int vcpu_setup_protected(struct kvm_vcpu *vcpu, uint64_t entry_gpa)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs))
		return fail_errno("KVM_GET_SREGS");
	flat_segment(&sregs.cs, 0x08, true);
	flat_segment(&sregs.ds, 0x10, false);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	/* Protected mode, no paging, no PAE, no long mode. */
	sregs.cr0 = (sregs.cr0 | 0x1) & ~0x80000000ULL;
	sregs.cr4 = 0;
	sregs.efer = 0;
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &sregs))
		return fail_errno("KVM_SET_SREGS (32-bit flat)");

	memset(&regs, 0, sizeof(regs));
	regs.rip = entry_gpa;
	regs.rflags = 0x2;	/* reserved bit 1; IF clear */
	if (ioctl(vcpu->fd, KVM_SET_REGS, &regs))
		return fail_errno("KVM_SET_REGS");
	return 0;
}

int vcpu_create(struct kvm_vm *vm, struct kvm_vcpu *vcpu, uint32_t id,
		uint64_t entry_gpa)
{
	int sz;

	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->fd = ioctl(vm->fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (vcpu->fd < 0)
		return fail_errno("KVM_CREATE_VCPU %u", id);

	sz = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (sz < (int)sizeof(struct kvm_run))
		return fail_errno("KVM_GET_VCPU_MMAP_SIZE returned %d", sz);
	vcpu->run = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED,
			 vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		vcpu->run = NULL;
		return fail_errno("mmap kvm_run");
	}
	vcpu->run_size = sz;
	return vcpu_setup_protected(vcpu, entry_gpa);
}

void vcpu_destroy(struct kvm_vcpu *vcpu)
{
	if (vcpu->run)
		munmap(vcpu->run, vcpu->run_size);
	if (vcpu->fd > 0)
		close(vcpu->fd);
	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->fd = -1;
}

int vcpu_get_regs(struct kvm_vcpu *vcpu, struct kvm_regs *regs)
{
	if (ioctl(vcpu->fd, KVM_GET_REGS, regs))
		return fail_errno("KVM_GET_REGS");
	return 0;
}

int vcpu_set_regs(struct kvm_vcpu *vcpu, const struct kvm_regs *regs)
{
	if (ioctl(vcpu->fd, KVM_SET_REGS, regs))
		return fail_errno("KVM_SET_REGS");
	return 0;
}

const char *kvm_exit_name(uint32_t reason)
{
	static const char *const names[] = {
		[KVM_EXIT_UNKNOWN] = "KVM_EXIT_UNKNOWN",
		[KVM_EXIT_EXCEPTION] = "KVM_EXIT_EXCEPTION",
		[KVM_EXIT_IO] = "KVM_EXIT_IO",
		[KVM_EXIT_HLT] = "KVM_EXIT_HLT",
		[KVM_EXIT_MMIO] = "KVM_EXIT_MMIO",
		[KVM_EXIT_SHUTDOWN] = "KVM_EXIT_SHUTDOWN (triple fault)",
		[KVM_EXIT_FAIL_ENTRY] = "KVM_EXIT_FAIL_ENTRY",
		[KVM_EXIT_INTR] = "KVM_EXIT_INTR",
		[KVM_EXIT_INTERNAL_ERROR] = "KVM_EXIT_INTERNAL_ERROR",
	};

	if (reason < sizeof(names) / sizeof(names[0]) && names[reason])
		return names[reason];
	return "unexpected KVM exit reason";
}

int vcpu_run(struct kvm_vcpu *vcpu, struct vcpu_exit *exit)
{
	struct kvm_run *run = vcpu->run;

	memset(exit, 0, sizeof(*exit));
	if (ioctl(vcpu->fd, KVM_RUN, 0)) {
		if (errno == EINTR) {
			exit->reason = KVM_EXIT_INTR;
			return 0;
		}
		return fail_errno("KVM_RUN");
	}
	exit->reason = run->exit_reason;
	if (run->exit_reason == KVM_EXIT_IO) {
		const uint8_t *data = (const uint8_t *)run + run->io.data_offset;
		uint32_t v = 0;

		exit->port = run->io.port;
		exit->direction = run->io.direction;
		exit->size = run->io.size;
		if (run->io.size <= sizeof(v))
			memcpy(&v, data, run->io.size);
		exit->value = v;
	}
	return 0;
}

/* Describes an unexpected exit in the error message. */
static int bad_exit(struct kvm_vcpu *vcpu, const struct vcpu_exit *exit)
{
	struct kvm_run *run = vcpu->run;
	struct kvm_regs regs;
	char where[64] = "";

	if (!ioctl(vcpu->fd, KVM_GET_REGS, &regs))
		snprintf(where, sizeof(where), " at eip 0x%llx",
			 (unsigned long long)regs.rip);
	errno = EPROTO;
	switch (exit->reason) {
	case KVM_EXIT_IO:
		return fail("unexpected KVM_EXIT_IO %s port 0x%x size %u%s",
			    exit->direction == KVM_EXIT_IO_OUT ? "out" : "in",
			    exit->port, exit->size, where);
	case KVM_EXIT_FAIL_ENTRY:
		return fail("KVM_EXIT_FAIL_ENTRY, reason 0x%llx%s",
			    (unsigned long long)run->fail_entry.hardware_entry_failure_reason,
			    where);
	case KVM_EXIT_INTERNAL_ERROR:
		return fail("KVM_EXIT_INTERNAL_ERROR, suberror %u%s",
			    run->internal.suberror, where);
	case KVM_EXIT_MMIO:
		return fail("KVM_EXIT_MMIO at gpa 0x%llx%s",
			    (unsigned long long)run->mmio.phys_addr, where);
	default:
		return fail("%s (%u)%s", kvm_exit_name(exit->reason),
			    exit->reason, where);
	}
}

int vcpu_run_until_out(struct kvm_vcpu *vcpu, uint16_t port, uint32_t *value)
{
	struct vcpu_exit exit;

	for (;;) {
		if (vcpu_run(vcpu, &exit))
			return -1;
		switch (exit.reason) {
		case KVM_EXIT_INTR:
			continue;
		case KVM_EXIT_HLT:
			return 1;
		case KVM_EXIT_IO:
			if (exit.port == port &&
			    exit.direction == KVM_EXIT_IO_OUT) {
				if (value)
					*value = exit.value;
				return 0;
			}
			/* fall through */
		default:
			return bad_exit(vcpu, &exit);
		}
	}
}

/* ---------------------------- /dev/kvm_xbzrle ----------------------------- */

static bool missing(int err)
{
	return err == ENOENT || err == ENXIO || err == ENODEV ||
	       err == EACCES || err == EPERM;
}

int xbz_check_offload(struct kvm_xbzrle_caps *caps)
{
	int xfd;

	memset(caps, 0, sizeof(*caps));
	caps->size = sizeof(*caps);
	if (kvm_open() < 0)
		return missing(errno) ? 1 : -1;
	xfd = xbz_open();
	if (xfd < 0) {
		char why[sizeof(util_err)];

		if (!missing(errno))
			return -1;
		snprintf(why, sizeof(why), "%s", util_err);
		fail("%s (module not loaded?)", why);
		return 1;
	}
	if (ioctl(xfd, KVM_XBZRLE_GET_CAPS, caps)) {
		fail_errno("KVM_XBZRLE_GET_CAPS");
		close(xfd);
		return -1;
	}
	close(xfd);
	if (!(caps->capabilities & KVM_XBZRLE_CAP_OFFLOAD)) {
		fail("module without KVM_XBZRLE_CAP_OFFLOAD (capabilities 0x%llx)",
		     (unsigned long long)caps->capabilities);
		return 1;
	}
	if (caps->page_size != GUEST_PAGE_SIZE) {
		fail("page size %u, the tests assume 4096", caps->page_size);
		return 1;
	}
	return 0;
}

int xbz_open(void)
{
	int fd = open("/dev/kvm_xbzrle", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return fail_errno("open /dev/kvm_xbzrle");
	return fd;
}

int xbz_bind(int xfd, int vm_fd)
{
	struct kvm_xbzrle_bind bind = {
		.size = sizeof(bind),
		.vm_fd = vm_fd,
	};

	if (ioctl(xfd, KVM_XBZRLE_BIND, &bind))
		return fail_errno("KVM_XBZRLE_BIND vm_fd %d", vm_fd);
	return 0;
}

int xbz_set_region(int xfd, uint32_t slot, uint64_t gpa, uint64_t size,
		   const void *hva)
{
	struct kvm_xbzrle_region region = {
		.size = sizeof(region),
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)hva,
	};

	if (ioctl(xfd, KVM_XBZRLE_SET_REGION, &region))
		return fail_errno("KVM_XBZRLE_SET_REGION slot %u gpa 0x%llx size 0x%llx",
				  slot, (unsigned long long)gpa,
				  (unsigned long long)size);
	return 0;
}

int xbz_set_regions(int xfd, struct kvm_vm *vm)
{
	unsigned int i;

	for (i = 0; i < KVM_UTIL_MAX_SLOTS; i++) {
		struct vm_memslot *s = &vm->slots[i];

		if (s->used &&
		    xbz_set_region(xfd, s->slot, s->gpa, s->size, s->hva))
			return -1;
	}
	return 0;
}

int xbz_open_bound(struct kvm_vm *vm)
{
	int xfd = xbz_open(), err;

	if (xfd < 0)
		return -1;
	if (xbz_bind(xfd, vm->fd) || xbz_set_regions(xfd, vm)) {
		err = errno;
		close(xfd);
		errno = err;
		return -1;
	}
	return xfd;
}

int xbz_encode(int xfd, uint32_t flags, const uint64_t *gpas, uint32_t npages,
	       void *records, uint32_t records_size, uint32_t max_delta,
	       struct xbz_encode_result *res)
{
	return xbz_encode_gen(xfd, flags, 0, gpas, npages, records,
			      records_size, max_delta, res);
}

int xbz_encode_gen(int xfd, uint32_t flags, uint64_t generation,
		   const uint64_t *gpas, uint32_t npages, void *records,
		   uint32_t records_size, uint32_t max_delta,
		   struct xbz_encode_result *res)
{
	struct kvm_xbzrle_encode enc = {
		.size = sizeof(enc),
		.flags = flags,
		.pages = (uintptr_t)gpas,
		.records = (uintptr_t)records,
		.npages = npages,
		.records_size = records_size,
		.max_delta = max_delta,
		.generation = generation,
	};

	if (ioctl(xfd, KVM_XBZRLE_ENCODE, &enc))
		return fail_errno("KVM_XBZRLE_ENCODE of %u pages (flags 0x%x, generation %llu, max_delta %u)",
				  npages, flags, (unsigned long long)generation,
				  max_delta);
	res->npages_done = enc.npages_done;
	res->records_used = enc.records_used;
	if (enc.npages_done > npages || enc.records_used > records_size) {
		errno = EPROTO;
		return fail("KVM_XBZRLE_ENCODE returned npages_done %u of %u, records_used %u of %u",
			    enc.npages_done, npages, enc.records_used,
			    records_size);
	}
	return 0;
}

int xbz_get_stats(int xfd, struct kvm_xbzrle_stats *stats)
{
	memset(stats, 0, sizeof(*stats));
	stats->size = sizeof(*stats);
	if (ioctl(xfd, KVM_XBZRLE_GET_STATS, stats))
		return fail_errno("KVM_XBZRLE_GET_STATS");
	return 0;
}

int xbz_set_cache(int xfd, uint32_t flags, uint64_t cache_size,
		  uint64_t *in_effect)
{
	struct kvm_xbzrle_cache cache = {
		.size = sizeof(cache),
		.flags = flags,
		.cache_size = cache_size,
	};

	if (ioctl(xfd, KVM_XBZRLE_SET_CACHE, &cache))
		return fail_errno("KVM_XBZRLE_SET_CACHE flags 0x%x size %llu",
				  flags, (unsigned long long)cache_size);
	if (in_effect)
		*in_effect = cache.cache_size;
	return 0;
}

/* ------------------------------ record buffer ----------------------------- */

const char *xbz_record_type_name(uint16_t type)
{
	static __thread char buf[16];

	switch (type) {
	case KVM_XBZRLE_RECORD_ZERO:
		return "ZERO";
	case KVM_XBZRLE_RECORD_UNCHANGED:
		return "UNCHANGED";
	case KVM_XBZRLE_RECORD_XBZRLE:
		return "XBZRLE";
	case KVM_XBZRLE_RECORD_RAW:
		return "RAW";
	}
	snprintf(buf, sizeof(buf), "type %u", type);
	return buf;
}

int xbz_next_record(const void *buf, uint32_t used, uint32_t *off,
		    struct xbz_record *rec)
{
	const uint8_t *p = buf;
	struct kvm_xbzrle_record hdr;
	uint64_t next;

	if (*off >= used)
		return 0;
	errno = EPROTO;
	if (used - *off < sizeof(hdr))
		return fail("record at offset %u: %u bytes left, header needs %zu",
			    *off, used - *off, sizeof(hdr));
	memcpy(&hdr, p + *off, sizeof(hdr));
	if (hdr.len > used - *off - sizeof(hdr))
		return fail("record at offset %u (gpa 0x%llx): len %u past records_used %u",
			    *off, (unsigned long long)hdr.gpa, hdr.len, used);
	rec->gpa = hdr.gpa;
	rec->type = hdr.type;
	rec->reserved = hdr.reserved;
	rec->len = hdr.len;
	rec->data = p + *off + sizeof(hdr);
	rec->offset = *off;
	next = (uint64_t)*off + sizeof(hdr) + hdr.len;
	next = (next + KVM_XBZRLE_RECORD_ALIGN - 1) &
	       ~(uint64_t)(KVM_XBZRLE_RECORD_ALIGN - 1);
	/* The last record's padding need not be counted in records_used. */
	*off = next > used ? used : next;
	return 1;
}

int xbz_apply_record(const struct xbz_record *rec, uint8_t *page)
{
	int r;

	errno = EPROTO;
	if (rec->reserved)
		return fail("gpa 0x%llx: reserved field 0x%x",
			    (unsigned long long)rec->gpa, rec->reserved);
	switch (rec->type) {
	case KVM_XBZRLE_RECORD_ZERO:
	case KVM_XBZRLE_RECORD_UNCHANGED:
		if (rec->len)
			return fail("gpa 0x%llx: %s record with len %u",
				    (unsigned long long)rec->gpa,
				    xbz_record_type_name(rec->type), rec->len);
		if (rec->type == KVM_XBZRLE_RECORD_ZERO)
			memset(page, 0, GUEST_PAGE_SIZE);
		return 0;
	case KVM_XBZRLE_RECORD_RAW:
		if (rec->len != GUEST_PAGE_SIZE)
			return fail("gpa 0x%llx: RAW record with len %u",
				    (unsigned long long)rec->gpa, rec->len);
		memcpy(page, rec->data, GUEST_PAGE_SIZE);
		return 0;
	case KVM_XBZRLE_RECORD_XBZRLE:
		if (!rec->len || rec->len > GUEST_PAGE_SIZE)
			return fail("gpa 0x%llx: XBZRLE record with len %u",
				    (unsigned long long)rec->gpa, rec->len);
		r = xbzrle_decode(rec->data, rec->len, page, GUEST_PAGE_SIZE);
		if (r < 0)
			return fail("gpa 0x%llx: xbzrle_decode of a %u-byte delta: %d",
				    (unsigned long long)rec->gpa, rec->len, r);
		return 0;
	}
	return fail("gpa 0x%llx: unknown record type %u",
		    (unsigned long long)rec->gpa, rec->type);
}

int xbz_dest_init(struct xbz_dest *dest, struct kvm_vm *vm)
{
	unsigned int i;

	memset(dest, 0, sizeof(*dest));
	for (i = 0; i < KVM_UTIL_MAX_SLOTS; i++) {
		struct vm_memslot *s = &vm->slots[i];
		unsigned int n = dest->nslots;

		if (!s->used)
			continue;
		dest->slots[n].mem = calloc(1, s->size);
		if (!dest->slots[n].mem) {
			xbz_dest_free(dest);
			return fail_errno("destination copy of slot %u", s->slot);
		}
		dest->slots[n].gpa = s->gpa;
		dest->slots[n].size = s->size;
		dest->nslots++;
	}
	return 0;
}

void xbz_dest_free(struct xbz_dest *dest)
{
	unsigned int i;

	for (i = 0; i < dest->nslots; i++)
		free(dest->slots[i].mem);
	memset(dest, 0, sizeof(*dest));
}

uint8_t *xbz_dest_page(struct xbz_dest *dest, uint64_t gpa)
{
	unsigned int i;

	if (gpa & (GUEST_PAGE_SIZE - 1))
		return NULL;
	for (i = 0; i < dest->nslots; i++)
		if (gpa >= dest->slots[i].gpa &&
		    gpa - dest->slots[i].gpa < dest->slots[i].size)
			return dest->slots[i].mem + (gpa - dest->slots[i].gpa);
	return NULL;
}

int xbz_walk_records(struct xbz_dest *dest, const void *buf, uint32_t used,
		     xbz_record_fn check, void *opaque)
{
	struct xbz_record rec;
	uint32_t off = 0;
	uint8_t *page;
	int n = 0, r;

	while ((r = xbz_next_record(buf, used, &off, &rec)) > 0) {
		page = xbz_dest_page(dest, rec.gpa);
		if (!page) {
			errno = EPROTO;
			return fail("record %d: gpa 0x%llx not a page of the destination",
				    n, (unsigned long long)rec.gpa);
		}
		if (check) {
			r = check(&rec, page, opaque);
			if (r)
				return r;
		}
		if (xbz_apply_record(&rec, page))
			return -1;
		n++;
	}
	return r < 0 ? -1 : n;
}

int xbz_dest_compare(struct xbz_dest *dest, struct kvm_vm *vm)
{
	char msg[200] = "";
	size_t off, len = 0;
	unsigned int i;
	int bad = 0;

	for (i = 0; i < dest->nslots; i++) {
		uint8_t *host = vm_gpa_to_hva(vm, dest->slots[i].gpa);

		if (!host) {
			errno = EPROTO;
			return fail("destination slot at gpa 0x%llx not in the VM",
				    (unsigned long long)dest->slots[i].gpa);
		}
		for (off = 0; off < dest->slots[i].size; off += GUEST_PAGE_SIZE) {
			if (!memcmp(host + off, dest->slots[i].mem + off,
				    GUEST_PAGE_SIZE))
				continue;
			if (bad++ < 4 && len < sizeof(msg))
				len += snprintf(msg + len, sizeof(msg) - len,
						" 0x%llx",
						(unsigned long long)(dest->slots[i].gpa + off));
		}
	}
	if (bad)
		fail("%d page(s) differ from guest memory, first at gpa%s",
		     bad, msg);
	return bad;
}

int xbz_check_apply_record(const struct xbz_record *rec, uint8_t *page,
			   uint8_t *scratch)
{
	uint8_t *snap = scratch, *delta = scratch + GUEST_PAGE_SIZE;
	bool zero;
	int enc;

	memcpy(snap, page, GUEST_PAGE_SIZE);
	if (xbz_apply_record(rec, snap))
		return -1;
	errno = EPROTO;
	zero = page_is_zero(snap, GUEST_PAGE_SIZE);
	if (zero != (rec->type == KVM_XBZRLE_RECORD_ZERO))
		return fail("gpa 0x%llx: %s record for a%s snapshot",
			    (unsigned long long)rec->gpa,
			    xbz_record_type_name(rec->type),
			    zero ? "n all-zero" : " non-zero");
	if (rec->type == KVM_XBZRLE_RECORD_XBZRLE) {
		enc = xbzrle_encode(page, snap, GUEST_PAGE_SIZE, delta,
				    GUEST_PAGE_SIZE);
		if (enc != (int)rec->len || memcmp(delta, rec->data, rec->len))
			return fail("gpa 0x%llx: XBZRLE delta of %u bytes is not the delta from the destination's copy (xbzrle_encode gives %d%s): the module's base is not what the destination holds",
				    (unsigned long long)rec->gpa, rec->len, enc,
				    enc == (int)rec->len ? ", other bytes" : "");
	}
	memcpy(page, snap, GUEST_PAGE_SIZE);
	return 0;
}

int xbz_check_apply_call(const void *buf, uint32_t used, const uint64_t *gpas,
			 uint32_t n, xbz_dest_page_fn dest_page, void *opaque,
			 uint8_t *scratch, struct xbz_counts *counts)
{
	struct xbz_record rec;
	uint32_t off = 0, i = 0;
	uint8_t *page;
	int r;

	while ((r = xbz_next_record(buf, used, &off, &rec)) > 0) {
		errno = EPROTO;
		if (i >= n)
			return fail("more records than npages_done %u", n);
		if (rec.gpa != gpas[i])
			return fail("record %u is for gpa 0x%llx, page %u of the call is 0x%llx",
				    i, (unsigned long long)rec.gpa, i,
				    (unsigned long long)gpas[i]);
		page = dest_page ? dest_page(opaque, rec.gpa) :
				   xbz_dest_page(opaque, rec.gpa);
		if (!page)
			return fail("gpa 0x%llx has no destination page",
				    (unsigned long long)rec.gpa);
		if (xbz_check_apply_record(&rec, page, scratch))
			return -1;
		switch (rec.type) {
		case KVM_XBZRLE_RECORD_ZERO:
			counts->zero++;
			break;
		case KVM_XBZRLE_RECORD_UNCHANGED:
			counts->unchanged++;
			break;
		case KVM_XBZRLE_RECORD_XBZRLE:
			counts->xbzrle++;
			break;
		case KVM_XBZRLE_RECORD_RAW:
			counts->raw++;
			break;
		}
		i++;
	}
	if (r < 0)
		return -1;
	if (i != n) {
		errno = EPROTO;
		return fail("%u records for npages_done %u", i, n);
	}
	return 0;
}

void xbz_require_offload(struct kvm_xbzrle_caps *caps, bool manual_protect)
{
	switch (xbz_check_offload(caps)) {
	case 1:
		tap_skip_all("%s", util_err);
	case -1:
		tap_bail_out("%s", util_err);
	}
	if (manual_protect &&
	    (!(caps->capabilities & KVM_XBZRLE_CAP_CLEAR_DIRTY_LOG) ||
	     !(kvm_check_cap(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2) &
	       KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE)))
		tap_skip_all("no manual dirty-log protection (module caps 0x%llx)",
			     (unsigned long long)caps->capabilities);
}

/* ------------------------------- miscellany ------------------------------- */

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

long long xbz_debugfs_stat(const char *name)
{
	FILE *f = fopen("/sys/kernel/debug/kvm_xbzrle/stats", "r");
	char key[64];
	long long v, found = -1;

	if (!f)
		return -1;
	while (fscanf(f, "%63s %lld", key, &v) == 2)
		if (!strcmp(key, name))
			found = v;
	fclose(f);
	return found;
}

int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

#define PARAM_DIR	"/sys/module/kvm_xbzrle/parameters/"
#define SAVED_PARAMS	4

static struct {
	char name[32], value[32];
} saved_params[SAVED_PARAMS];

static bool registered;

static void restore_params(void)
{
	char path[96];
	int i;

	for (i = SAVED_PARAMS - 1; i >= 0; i--) {
		if (!saved_params[i].name[0])
			continue;
		snprintf(path, sizeof(path), PARAM_DIR "%s", saved_params[i].name);
		if (write_file(path, saved_params[i].value))
			printf("# could not restore %s to %s\n", path,
			       saved_params[i].value);
	}
}

/* see kvm_util.h */
void xbz_param_set(const char *name, const char *value)
{
	char path[96];
	int i, free_slot = -1;

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	for (i = 0; i < SAVED_PARAMS; i++) {
		if (!strcmp(saved_params[i].name, name))
			break;
		if (!saved_params[i].name[0] && free_slot < 0)
			free_slot = i;
	}
	if (i == SAVED_PARAMS) {
		if (free_slot < 0)
			tap_bail_out("xbz_param_set: more than %d parameters", SAVED_PARAMS);
		if (read_file(path, saved_params[free_slot].value,
			      sizeof(saved_params[free_slot].value)) < 0)
			tap_bail_out("read %s", path);
		saved_params[free_slot].value[strcspn(saved_params[free_slot].value, "\n")] = 0;
		snprintf(saved_params[free_slot].name,
			 sizeof(saved_params[free_slot].name), "%s", name);
		if (!registered && !atexit(restore_params))
			registered = true;
	}
	if (write_file(path, value))
		tap_bail_out("write %s to %s", value, path);
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
