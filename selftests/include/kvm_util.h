/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvm_util - raw /dev/kvm helpers for the kvm_xbzrle selftests: VMs,
 * memslots and their dirty log (lib/kvm_util.c), vCPUs set up and run
 * (lib/vcpu.c).  Error conventions: see test_util.h.
 *
 * Guest memory: every memslot is anonymous, private memory mapped by the
 * test (the "host mapping"), registered with KVM_MEM_LOG_DIRTY_PAGES.
 *
 * vCPUs run in 32-bit flat protected mode (CR0.PE=1, no paging, 4 GiB code
 * and data segments with base 0), so guest code can address any memslot by
 * its guest physical address.  Interrupts are off; there is no GDT or IDT in
 * guest memory, so the guest must not load segment registers or fault.
 */
#ifndef XBZRLE_KVM_UTIL_H
#define XBZRLE_KVM_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "test_util.h"

#define GUEST_PAGE_SIZE		4096ULL
#define GUEST_PAGE_SHIFT	12
#define KVM_UTIL_MAX_SLOTS	8

/* -------------------- /dev/kvm, VMs (lib/kvm_util.c) --------------------- */

/*
 * Opens /dev/kvm (once per process) and checks the API version.  Returns
 * the fd, or -1 with errno from open() (ENOENT, EACCES... -> skip).
 */
int kvm_open(void);
/* KVM_CHECK_EXTENSION on /dev/kvm: the value, 0 if unsupported. */
int kvm_check_cap(long cap);

struct vm_memslot {
	bool used;
	uint32_t slot;
	uint32_t flags;		/* KVM_MEM_* */
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;		/* host mapping */
};

/* vm_create() flags */
#define VM_MANUAL_PROTECT	(1U << 0)	/* KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 */
/* with VM_MANUAL_PROTECT: a new memslot starts with every page dirty */
#define VM_INITIALLY_SET	(1U << 1)	/* KVM_DIRTY_LOG_INITIALLY_SET */

struct kvm_vm {
	int fd;
	unsigned int flags;
	struct vm_memslot slots[KVM_UTIL_MAX_SLOTS];
};

/* KVM_CREATE_VM, optionally with manual dirty-log protection. */
int vm_create(struct kvm_vm *vm, unsigned int flags);
/* Closes the VM and unmaps its memslots; @vm may be partly set up. */
void vm_destroy(struct kvm_vm *vm);

/*
 * Maps @size bytes (page multiple) of zeroed anonymous memory and registers
 * it as memslot @slot at @gpa with KVM_MEM_LOG_DIRTY_PAGES.
 */
int vm_add_memslot(struct kvm_vm *vm, uint32_t slot, uint64_t gpa,
		   uint64_t size);
/*
 * KVM_SET_USER_MEMORY_REGION of the caller's memory, as it is: returns 0
 * or the errno (for tests of the errno; no message, and struct kvm_vm
 * does not learn of it).
 */
int kvm_set_memslot(int vm_fd, uint32_t slot, uint32_t flags, uint64_t gpa,
		    uint64_t size, void *hva);
/* Deletes memslot @slot (memory_size 0) and unmaps its memory. */
int vm_remove_memslot(struct kvm_vm *vm, uint32_t slot);
struct vm_memslot *vm_find_slot(struct kvm_vm *vm, uint32_t slot);
/* The memslot holding @gpa, or NULL. */
struct vm_memslot *vm_slot_of(struct kvm_vm *vm, uint64_t gpa);
/* Host address of guest physical @gpa, or NULL outside every memslot. */
uint8_t *vm_gpa_to_hva(struct kvm_vm *vm, uint64_t gpa);

/* Bytes of a dirty bitmap for @slot (a whole number of u64 words). */
size_t vm_bitmap_bytes(const struct vm_memslot *slot);
/* KVM_GET_DIRTY_LOG of @slot into @bitmap (vm_bitmap_bytes() long). */
int vm_get_dirty_log(struct kvm_vm *vm, uint32_t slot, uint64_t *bitmap);
/*
 * KVM_CLEAR_DIRTY_LOG of pages [@first, @first + @num) of @slot; bit 0 of
 * @bitmap is page @first.  @first must be a multiple of 64.
 */
int vm_clear_dirty_log(struct kvm_vm *vm, uint32_t slot, uint64_t first,
		       uint32_t num, const uint64_t *bitmap);
/*
 * KVM_GET_DIRTY_LOG of every memslot; appends the gpa of each dirty page to
 * @gpas (room for @max).  Returns the number of gpas, -1 on error or if
 * more than @max pages are dirty.
 */
int vm_dirty_gpas(struct kvm_vm *vm, uint64_t *gpas, size_t max);
/* Every page of every memslot, in gpa order of each slot.  Count or -1. */
int vm_all_gpas(struct kvm_vm *vm, uint64_t *gpas, size_t max);
/* Pages in all memslots. */
size_t vm_npages(struct kvm_vm *vm);

/* Copies @len bytes of guest code to guest physical @gpa. */
int vm_load(struct kvm_vm *vm, uint64_t gpa, const void *code, size_t len);

/* -------------------------- vCPUs (lib/vcpu.c) --------------------------- */

struct kvm_vcpu {
	struct kvm_vm *vm;
	int fd;
	uint32_t id;
	struct kvm_run *run;
	size_t run_size;
};

/*
 * KVM_CREATE_VCPU @id, in 32-bit flat protected mode with EIP = @entry_gpa
 * and all general registers zero.
 */
int vcpu_create(struct kvm_vm *vm, struct kvm_vcpu *vcpu, uint32_t id,
		uint64_t entry_gpa);
void vcpu_destroy(struct kvm_vcpu *vcpu);
int vcpu_get_regs(struct kvm_vcpu *vcpu, struct kvm_regs *regs);
int vcpu_set_regs(struct kvm_vcpu *vcpu, const struct kvm_regs *regs);

/* What stopped KVM_RUN. */
struct vcpu_exit {
	uint32_t reason;	/* KVM_EXIT_*; KVM_EXIT_INTR for EINTR */
	/* KVM_EXIT_IO */
	uint16_t port;
	uint8_t direction;	/* KVM_EXIT_IO_IN / _OUT */
	uint8_t size;		/* 1, 2 or 4 */
	uint32_t value;		/* OUT: the value written */
};

/*
 * One KVM_RUN.  Returns 0 and fills @exit (KVM_EXIT_INTR if a signal
 * interrupted the call), -1 if the ioctl failed.
 */
int vcpu_run(struct kvm_vcpu *vcpu, struct vcpu_exit *exit);
/*
 * Runs until the guest does an OUT to @port (value in *@value) or HLTs
 * (returns 1).  Any other exit is an error (message names it); EINTR
 * and KVM_EXIT_INTR are retried.  Returns 0 on the OUT.
 */
int vcpu_run_until_out(struct kvm_vcpu *vcpu, uint16_t port, uint32_t *value);
/* Human-readable KVM_EXIT_* name. */
const char *kvm_exit_name(uint32_t reason);

#endif /* XBZRLE_KVM_UTIL_H */
