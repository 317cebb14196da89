/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvm_util - raw /dev/kvm and /dev/kvm_xbzrle helpers for the kvm_xbzrle
 * selftests.  No dependency on the kernel's KVM selftest library, so the
 * tests build standalone and as tools/testing/selftests/kvm_xbzrle.
 *
 * Conventions: functions returning int return 0 (or a count) on success and
 * -1 on failure with errno preserved from the failing system call and a
 * message for the test's diagnostics in kvm_util_error() (per thread).
 * Functions returning a pointer return NULL on failure, likewise.
 *
 * Guest memory: every memslot is anonymous, private memory mapped by the
 * test (the "host mapping"), registered with KVM_MEM_LOG_DIRTY_PAGES.
 *
 * vCPUs run in 32-bit flat protected mode (CR0.PE=1, no paging, 4 GiB code
 * and data segments with base 0), so guest code can address any memslot by
 * its guest physical address.  Interrupts are off; there is no GDT or IDT in
 * guest memory, so the guest must not load segment registers or fault.
 *
 * The offload helpers (xbz_*) wrap the ioctls of <linux/kvm_xbzrle.h>; the
 * record helpers apply KVM_XBZRLE_ENCODE records to a destination copy of
 * guest memory with the project's codec (kmod/xbzrle.c, built into the
 * tests through userspace/kcompat).
 */
#ifndef XBZRLE_KVM_UTIL_H
#define XBZRLE_KVM_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>
#include <linux/kvm_xbzrle.h>

#define GUEST_PAGE_SIZE		4096ULL
#define GUEST_PAGE_SHIFT	12
#define KVM_UTIL_MAX_SLOTS	8

/* Last error of this thread's kvm_util call, for tap_diag(). */
const char *kvm_util_error(void);

/* -------------------------------- /dev/kvm -------------------------------- */

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

/* ---------------------------- /dev/kvm_xbzrle ----------------------------- */

/*
 * Whether KVM, the module and its offload are there: 0 and @caps filled,
 * 1 if not (a reason to skip, in kvm_util_error()), -1 on an unexpected
 * error (message likewise).
 */
int xbz_check_offload(struct kvm_xbzrle_caps *caps);
/* open("/dev/kvm_xbzrle"): a new context.  fd, or -1 with errno. */
int xbz_open(void);
/* KVM_XBZRLE_BIND @vm_fd. */
int xbz_bind(int xfd, int vm_fd);
/* KVM_XBZRLE_SET_REGION; @size 0 removes the region of @slot. */
int xbz_set_region(int xfd, uint32_t slot, uint64_t gpa, uint64_t size,
		   const void *hva);
/* One region per used memslot of @vm. */
int xbz_set_regions(int xfd, struct kvm_vm *vm);
/* Opens a context, binds it to @vm and registers all memslots.  fd or -1. */
int xbz_open_bound(struct kvm_vm *vm);

struct xbz_encode_result {
	uint32_t npages_done;
	uint32_t records_used;
};

/* One KVM_XBZRLE_ENCODE call; fills @res on success. */
int xbz_encode(int xfd, uint32_t flags, const uint64_t *gpas, uint32_t npages,
	       void *records, uint32_t records_size, uint32_t max_delta,
	       struct xbz_encode_result *res);
/* The same with @generation (valid with KVM_XBZRLE_ENCODE_GENERATION). */
int xbz_encode_gen(int xfd, uint32_t flags, uint64_t generation,
		   const uint64_t *gpas, uint32_t npages, void *records,
		   uint32_t records_size, uint32_t max_delta,
		   struct xbz_encode_result *res);
int xbz_get_stats(int xfd, struct kvm_xbzrle_stats *stats);
/*
 * KVM_XBZRLE_SET_CACHE with @flags (KVM_XBZRLE_CACHE_*); *@in_effect (if
 * not NULL) receives the cache size in effect.
 */
int xbz_set_cache(int xfd, uint32_t flags, uint64_t cache_size,
		  uint64_t *in_effect);

/* ------------------------------ record buffer ----------------------------- */

/* One record of a KVM_XBZRLE_ENCODE buffer. */
struct xbz_record {
	uint64_t gpa;
	uint16_t type;		/* KVM_XBZRLE_RECORD_* */
	uint16_t reserved;
	uint32_t len;
	const uint8_t *data;	/* @len bytes, inside the buffer */
	uint32_t offset;	/* of the header in the buffer */
};

/*
 * Reads the record at *@off of @buf (@used bytes valid) and advances *@off
 * to the next 8-byte boundary after its data.  Returns 1 with @rec filled,
 * 0 at the end of the buffer, -1 if the record does not fit in @used bytes
 * (message says why).  Does not judge the type or length.
 */
int xbz_next_record(const void *buf, uint32_t used, uint32_t *off,
		    struct xbz_record *rec);
/*
 * Applies @rec to @page (the destination's copy, GUEST_PAGE_SIZE bytes):
 * ZERO clears it, UNCHANGED leaves it, XBZRLE decodes the delta onto it,
 * RAW copies the data.  -1 for an unknown type, a length that does not
 * fit the type (ZERO/UNCHANGED 0, RAW the page size, XBZRLE 1..page size),
 * a non-zero reserved field or a delta xbzrle_decode() rejects.
 */
int xbz_apply_record(const struct xbz_record *rec, uint8_t *page);
/* "ZERO", "UNCHANGED", "XBZRLE", "RAW" or "type N". */
const char *xbz_record_type_name(uint16_t type);

/*
 * A destination: a private copy of each memslot of a VM, as a migration
 * target would hold it.  Starts all zero.
 */
struct xbz_dest {
	unsigned int nslots;
	struct {
		uint64_t gpa;
		uint64_t size;
		uint8_t *mem;
	} slots[KVM_UTIL_MAX_SLOTS];
};

/* A zeroed destination with the memslot layout of @vm. */
int xbz_dest_init(struct xbz_dest *dest, struct kvm_vm *vm);
void xbz_dest_free(struct xbz_dest *dest);
/* The destination's copy of the page at @gpa, or NULL. */
uint8_t *xbz_dest_page(struct xbz_dest *dest, uint64_t gpa);

/*
 * Called for each record by xbz_walk_records() before it is applied, with
 * the destination page as it was (the base the record must apply to).
 * Non-zero stops the walk with that value.
 */
typedef int (*xbz_record_fn)(const struct xbz_record *rec,
			     const uint8_t *base, void *opaque);

/*
 * Applies every record of @buf (@used bytes) to @dest.  @check (may be
 * NULL) sees each record first.  Returns the number of records, -1 for a
 * malformed buffer or record or a gpa outside @dest (message says which),
 * or the non-zero value of @check.
 */
int xbz_walk_records(struct xbz_dest *dest, const void *buf, uint32_t used,
		     xbz_record_fn check, void *opaque);

/*
 * Compares @dest with guest memory of @vm.  Returns the number of pages
 * that differ; the first few are named in the message.
 */
int xbz_dest_compare(struct xbz_dest *dest, struct kvm_vm *vm);

/*
 * Checks a record the way a receiver can, before it applies it: @rec
 * applied to @page (the destination's copy, the base the record must apply
 * to) gives an all-zero page exactly for a ZERO record, and an XBZRLE
 * delta is xbzrle_encode() of @page to that result, byte for byte (the
 * module's base is what the destination holds).  Then applies it to @page.
 * @scratch: 2 * GUEST_PAGE_SIZE bytes of the caller's.  0, or -1 with the
 * reason in kvm_util_error().
 */
int xbz_check_apply_record(const struct xbz_record *rec, uint8_t *page,
			   uint8_t *scratch);

/* Records by type. */
struct xbz_counts {
	uint64_t zero, unchanged, xbzrle, raw;
};

/* The destination page of @gpa, or NULL. */
typedef uint8_t *(*xbz_dest_page_fn)(void *opaque, uint64_t gpa);

/*
 * The records of one ENCODE call that did pages @gpas[0..@n), @used bytes
 * of @buf: one record a page, in order, each checked and applied by
 * xbz_check_apply_record() to the page @dest_page(@opaque, gpa) gives
 * (@dest_page NULL: xbz_dest_page() of the struct xbz_dest @opaque) and
 * counted in @counts.  @scratch as for xbz_check_apply_record().  0, or -1
 * with the reason in kvm_util_error().
 */
int xbz_check_apply_call(const void *buf, uint32_t used, const uint64_t *gpas,
			 uint32_t n, xbz_dest_page_fn dest_page, void *opaque,
			 uint8_t *scratch, struct xbz_counts *counts);

/*
 * The environment check of the offload tests: skips the whole test (exit
 * 4) without KVM, the module or its offload, or, with @manual_protect,
 * without manual dirty-log protection (of KVM and of the module); bails out
 * on an unexpected error.  Fills @caps.
 */
void xbz_require_offload(struct kvm_xbzrle_caps *caps, bool manual_protect);

/* ------------------------------- miscellany ------------------------------- */

/* Whether @len bytes at @p are all zero. */
bool page_is_zero(const void *p, size_t len);

/* @len bytes of rand_r(@seed). */
void fill_random(uint8_t *p, size_t len, unsigned int *seed);
/* splitmix64: the next number of the sequence of *@state. */
uint64_t rand64(uint64_t *state);
/* rand64() below @n; 0 for @n 0. */
uint32_t rand_below(uint64_t *state, uint32_t n);

void sleep_ms(unsigned int ms);
/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t now_ns(void);

/*
 * Formats a test's reason for failing into @why (@size bytes) and returns
 * -1, for "return why(...)".
 */
int __attribute__((format(printf, 3, 4)))
set_why(char *why, size_t size, const char *fmt, ...);

/* Writes "2" to /proc/sys/vm/drop_caches (shrinkers run).  0 or -1. */
int drop_caches(void);
/* Reads @path into @buf (@len bytes, NUL-terminated).  0 or -1. */
int read_file(const char *path, char *buf, size_t len);
/* Writes the string @s to @path.  0 or -1. */
int write_file(const char *path, const char *s);
/*
 * Writes @value to the module parameter @name (bails out on failure); the
 * value it had before the first such write is written back at exit.
 */
void xbz_param_set(const char *name, const char *value);
/* Value @name of debugfs kvm_xbzrle/stats; -1 if unreadable or absent. */
long long xbz_debugfs_stat(const char *name);

/*
 * The kernel log: kmsg_open() returns /dev/kmsg positioned at its end
 * (what the kernel says from now on), or -1.  kmsg_count() reads the lines
 * since then (or since its last call) and counts those containing one of
 * @patterns (NULL-terminated); the first is kept in kvm_util_error() and
 * *@lines (if not NULL) gets the number of lines read.
 */
int kmsg_open(void);
int kmsg_count(int fd, const char *const *patterns, unsigned int *lines);
/* What the harness fails a run on: BUG, WARNING, KASAN, lockdep... */
extern const char *const kmsg_problems[];

#endif /* XBZRLE_KVM_UTIL_H */
