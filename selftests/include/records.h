/* SPDX-License-Identifier: GPL-2.0 */
/*
 * records - the record oracle of the kvm_xbzrle selftests (lib/records.c):
 * reads the records of a KVM_XBZRLE_ENCODE buffer, applies them to a
 * destination copy of guest memory (struct xbz_dest, as a migration target
 * would hold it) with the project's codec (kmod/codec/xbzrle.c, built into the
 * tests through userspace/kcompat), checks each record as a receiver can
 * and compares the destination with guest memory.  Error conventions: see
 * test_util.h.
 */
#ifndef XBZRLE_RECORDS_H
#define XBZRLE_RECORDS_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm_xbzrle.h>

#include "kvm_util.h"

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
 * The number of pages, of @npages guest pages from @a and from @b, that
 * differ: two copies of memory (a source and a destination's copy).
 */
unsigned int xbz_pages_differing(const uint8_t *a, const uint8_t *b,
				 size_t npages);

/* What a checker knows of the module's base of a page. */
enum xbz_base {
	XBZ_BASE_NONE,	/* the module cannot have one (never sent, reset) */
	XBZ_BASE_HELD,	/* the module must have one, equal to the destination's */
	XBZ_BASE_MAYBE,	/* may have been dropped, or last sent as ZERO */
};

/*
 * What the caller of xbz_check_apply_record() knows beyond the record and
 * the destination's page, and what the check found out.
 */
struct xbz_expect {
	uint32_t max_delta;	/* the call's; 0: GUEST_PAGE_SIZE */
	enum xbz_base base;
	/* The page the record must give (guest memory held still), or NULL. */
	const uint8_t *snapshot;
	/* Out: a RAW record whose delta from a possible base did not fit. */
	bool overflow;
};

/*
 * The one per-record check of the selftests.  Checks a record the way a
 * receiver can, before it applies it: @rec applied to @page (the
 * destination's copy, the base the record must apply to) gives an
 * all-zero page exactly for a ZERO record, and an XBZRLE delta is
 * xbzrle_encode() of @page to that result, byte for byte (the module's
 * base is what the destination holds).  With @exp (may be NULL: base
 * XBZ_BASE_MAYBE, max_delta GUEST_PAGE_SIZE, snapshot unknown) also:
 *
 *   - the result equals @exp->snapshot, if given;
 *   - UNCHANGED and XBZRLE only if @exp->base is not XBZ_BASE_NONE;
 *   - RAW with @exp->base XBZ_BASE_HELD only if the delta does not fit
 *     @exp->max_delta (or it would have been XBZRLE or UNCHANGED);
 *   - @exp->overflow is set for a RAW record whose delta from the
 *     destination's page does not fit @exp->max_delta (base not NONE).
 *
 * Then applies @rec to @page.  @scratch: 2 * GUEST_PAGE_SIZE bytes of the
 * caller's.  0, or -1 with the reason in kvm_util_error() ("gpa 0x...: ").
 */
int xbz_check_apply_record(const struct xbz_record *rec, uint8_t *page,
			   uint8_t *scratch, struct xbz_expect *exp);

/* Records by type. */
struct xbz_counts {
	uint64_t zero, unchanged, xbzrle, raw;
};

/* Counts a record of @type (KVM_XBZRLE_RECORD_*); an unknown type is not. */
void xbz_count_record(struct xbz_counts *counts, uint16_t type);

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

#endif /* XBZRLE_RECORDS_H */
