/* SPDX-License-Identifier: GPL-2.0 */
/*
 * guest_util - a migration in miniature for the offload tests
 * (lib/guest_util.c): a KVM VM (the source), a kvm_xbzrle context bound to
 * it and a destination copy of guest memory that receives only what the
 * records of KVM_XBZRLE_ENCODE say, applied with the project's decoder.
 * Every record is checked against the contract of the records (by
 * xbz_check_apply_record() of records.h, the one per-record check):
 *
 *   ZERO       the snapshot was all zeros (and an all-zero snapshot is
 *              always ZERO);
 *   UNCHANGED  the snapshot equals the base the destination holds;
 *   XBZRLE     the delta is byte-identical to the userspace encoder's
 *              xbzrle_encode(base, snapshot, 4096, buf, max_delta);
 *   RAW        the snapshot, because the module has no base for the page
 *              or the delta does not fit max_delta.
 *
 * The snapshot is known from the record itself (the destination page
 * after applying it), so records can be checked while a guest keeps
 * writing; when the guest is paused the snapshot must also equal guest
 * memory.  Per page, the library follows whether the module must hold a
 * base (enum xbz_base of records.h); the records seen are counted
 * (struct tally) so that the context's counters can be checked against
 * them.
 *
 * Also the "host" VM of several tests: one memslot of HOST_PAGES pages at
 * gpa 0, no vCPU, written by the host through its mapping.
 *
 * Functions are named gmig_ ("guest migration").  Error conventions: see
 * test_util.h; functions of struct mig put their reason for failing in
 * m->why instead (set_why(), the why() macro below).
 */
#ifndef XBZRLE_GUEST_UTIL_H
#define XBZRLE_GUEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm_xbzrle.h>

#include "kvm_util.h"
#include "records.h"
#include "test_util.h"

/* Records seen, by what they mean for the context's counters. */
struct tally {
	uint64_t pages;
	uint64_t zero;
	uint64_t unchanged;
	uint64_t xbzrle;
	uint64_t raw;
	uint64_t delta_bytes;
	uint64_t overflow_min;	/* RAW with a held base: overflow for sure */
	uint64_t overflow_max;	/* ... plus RAW that may be overflows */
};

/* One source VM, its context and its destination. */
struct mig {
	const char *name;
	struct kvm_vm vm;
	struct kvm_vcpu vcpu;
	bool has_vcpu;
	int xfd;
	struct xbz_dest dest;
	size_t npages;
	uint8_t *state;		/* enum xbz_base, by page index */
	bool may_evict;		/* cache smaller than the VM: HELD means MAYBE */
	uint64_t generation;	/* passed with KVM_XBZRLE_ENCODE_GENERATION */
	uint64_t *gpas;		/* room for npages */
	uint8_t *records;
	uint32_t records_cap;
	struct tally total;	/* since the context's counters were zeroed */
	char why[1024];
};

#define why(m, ...)	set_why((m)->why, sizeof((m)->why), __VA_ARGS__)

/*
 * Whether KVM, the module and its offload are there and, with
 * @manual_protect, manual dirty-log protection of KVM and of the module.
 * 0, or -1 with the reason in kvm_util_error() (for the tests a missing
 * dependency is a failure).
 */
int gmig_check_offload(bool manual_protect);

/*
 * Zeroes @m, names it and creates its VM (vm_create() @vm_flags).  @m can
 * be given to gmig_destroy() whatever the result.  0 or -1.
 */
int gmig_init(struct mig *m, const char *name, unsigned int vm_flags);
/*
 * After the VM's memslots are added: destination, bookkeeping, a record
 * buffer of @rec_pages * KVM_XBZRLE_RECORD_MAX_SIZE bytes and a context
 * bound to the VM with one region per memslot.  0 or -1.
 */
int gmig_attach(struct mig *m, uint32_t rec_pages);
/* Frees everything of @m (partly set up or not). */
void gmig_destroy(struct mig *m);

/*
 * Sends @gpas[0..@n) with as many KVM_XBZRLE_ENCODE calls as it takes
 * (records buffer of @records_size bytes, @flags, @max_delta), checking
 * each call's records against the contract (with @paused, also against
 * guest memory) and applying them to the destination.  Only a full
 * buffer or the batch limit may end a call early.  The records are
 * counted in @t (may be NULL) and in m->total; *@ncalls (may be NULL)
 * gets the number of calls.  0 or -1.
 */
int gmig_send(struct mig *m, const uint64_t *gpas, uint32_t n, uint32_t flags,
	      uint32_t max_delta, uint32_t records_size, bool paused,
	      struct tally *t, unsigned int *ncalls);
/* The destination equals guest memory.  0 or -1. */
int gmig_compare(struct mig *m);
/*
 * The context's counters (KVM_XBZRLE_GET_STATS) agree with the records
 * seen since they were zeroed (m->total): page and byte counts equal,
 * overflows within what the RAW records allow, hits and misses adding
 * up, cache_bytes whole pages within cache_size.  0 (the counters are
 * printed as a diagnostic) or -1.
 */
int gmig_check_stats(struct mig *m);
/* The context's cache size in effect, or 0 (reason in m->why). */
uint64_t gmig_cache_size(struct mig *m);

/* Every page the module must hold may now be gone (cache shrank...). */
void gmig_forget_bases(struct mig *m);
/* After KVM_XBZRLE_CACHE_RESET: no base anywhere, counters zero. */
void gmig_reset(struct mig *m);

/* "# name: what: N pages: ..." on stdout. */
void gmig_tally_diag(const struct mig *m, const char *what,
		     const struct tally *t);

/* ------------------------------- host VMs -------------------------------- */

#define HOST_PAGES	64
#define HOST_ZERO	16	/* pages 0..HOST_ZERO-1 stay zero */

/*
 * A VM without vCPU: one memslot of HOST_PAGES pages at gpa 0, pages from
 * HOST_ZERO on random (rand_r() from @seed), bound to a context with a
 * record buffer of @rec_pages records.  0 or -1.
 */
int gmig_host_setup(struct mig *m, const char *name, unsigned int seed,
		    uint32_t rec_pages);
/* Host address of page @i of a host VM. */
uint8_t *gmig_host_page(struct mig *m, unsigned int i);
/* The gpas of pages [@first, @first + @n), in m->gpas. */
uint64_t *gmig_host_range(struct mig *m, unsigned int first, unsigned int n);
/* A few bytes changed on each page of [@first, @first + @n). */
void gmig_touch_sparse(struct mig *m, unsigned int first, unsigned int n,
		       uint8_t salt);

/*
 * The guest of the offload tests (32-bit code, vcpu_create()'s entry):
 * with ebx = buffer gpa, ebp = writes per pass, edi = stride, eax =
 * passes done, each pass increments one byte every stride bytes, then
 * reports the passes with "out GMIG_OUT_PORT, eax".  Loads it at @gpa
 * (vm_load()): 0 or -1.
 */
#define GMIG_OUT_PORT	0x10
int gmig_load_guest(struct kvm_vm *vm, uint64_t gpa);

#endif /* XBZRLE_GUEST_UTIL_H */
