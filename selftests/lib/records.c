// SPDX-License-Identifier: GPL-2.0
/*
 * records - the records of KVM_XBZRLE_ENCODE applied to and checked
 * against a destination copy of guest memory.  See include/records.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "records.h"
#include "util_internal.h"
#include "xbzrle.h"

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

unsigned int xbz_pages_differing(const uint8_t *a, const uint8_t *b,
				 size_t npages)
{
	unsigned int d = 0;
	size_t i;

	for (i = 0; i < npages; i++)
		d += !!memcmp(a + i * GUEST_PAGE_SIZE, b + i * GUEST_PAGE_SIZE,
			      GUEST_PAGE_SIZE);
	return d;
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
			   uint8_t *scratch, struct xbz_expect *exp)
{
	uint8_t *snap = scratch, *delta = scratch + GUEST_PAGE_SIZE;
	enum xbz_base base = exp ? exp->base : XBZ_BASE_MAYBE;
	uint32_t max_delta = exp && exp->max_delta ? exp->max_delta :
						     GUEST_PAGE_SIZE;
	const char *type = xbz_record_type_name(rec->type);
	unsigned long long gpa = rec->gpa;
	bool zero;
	int enc;

	if (exp)
		exp->overflow = false;
	memcpy(snap, page, GUEST_PAGE_SIZE);
	if (xbz_apply_record(rec, snap))
		return -1;
	errno = EPROTO;
	if (exp && exp->snapshot &&
	    memcmp(snap, exp->snapshot, GUEST_PAGE_SIZE))
		return fail("gpa 0x%llx: %s record does not give the page, held still during the call",
			    gpa, type);
	zero = page_is_zero(snap, GUEST_PAGE_SIZE);
	if (zero != (rec->type == KVM_XBZRLE_RECORD_ZERO))
		return fail("gpa 0x%llx: %s record for a%s snapshot", gpa, type,
			    zero ? "n all-zero" : " non-zero");
	switch (rec->type) {
	case KVM_XBZRLE_RECORD_UNCHANGED:
	case KVM_XBZRLE_RECORD_XBZRLE:
		if (base == XBZ_BASE_NONE)
			return fail("gpa 0x%llx: %s record, but the module has no base (never sent or reset)",
				    gpa, type);
		if (rec->type == KVM_XBZRLE_RECORD_UNCHANGED)
			break;
		enc = xbzrle_encode(page, snap, GUEST_PAGE_SIZE, delta,
				    max_delta);
		if (enc != (int)rec->len || memcmp(delta, rec->data, rec->len))
			return fail("gpa 0x%llx: XBZRLE delta of %u bytes is not the delta from the destination's copy (xbzrle_encode, max_delta %u, gives %d%s): the module's base is not what the destination holds",
				    gpa, rec->len, max_delta, enc,
				    enc == (int)rec->len ? ", other bytes" : "");
		break;
	case KVM_XBZRLE_RECORD_RAW:
		/* Without @exp nothing is known of the base. */
		if (!exp || base == XBZ_BASE_NONE)
			break;
		enc = xbzrle_encode(page, snap, GUEST_PAGE_SIZE, delta,
				    max_delta);
		if (enc >= 0 && base == XBZ_BASE_HELD)
			return fail("gpa 0x%llx: RAW, but the base is cached and %s (xbzrle_encode %d, max_delta %u)",
				    gpa, enc ? "the delta fits" : "the page is unchanged",
				    enc, max_delta);
		if (enc < 0)
			exp->overflow = true;
		break;
	}
	memcpy(page, snap, GUEST_PAGE_SIZE);
	return 0;
}

void xbz_count_record(struct xbz_counts *counts, uint16_t type)
{
	uint64_t *const count[KVM_XBZRLE_RECORD_RAW + 1] = {
		[KVM_XBZRLE_RECORD_ZERO] = &counts->zero,
		[KVM_XBZRLE_RECORD_UNCHANGED] = &counts->unchanged,
		[KVM_XBZRLE_RECORD_XBZRLE] = &counts->xbzrle,
		[KVM_XBZRLE_RECORD_RAW] = &counts->raw,
	};

	if (type <= KVM_XBZRLE_RECORD_RAW && count[type])
		(*count[type])++;
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
		if (xbz_check_apply_record(&rec, page, scratch, NULL))
			return -1;
		xbz_count_record(counts, rec.type);
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
