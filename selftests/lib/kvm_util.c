// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_util - VMs, memslots and their dirty log on /dev/kvm.  See
 * include/kvm_util.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kvm_util.h"
#include "util_internal.h"

static int kvm_fd = -1;

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

		if (flags & VM_INITIALLY_SET)
			cap.args[0] |= KVM_DIRTY_LOG_INITIALLY_SET;
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
