// SPDX-License-Identifier: GPL-2.0
/*
 * guest_util - a migration in miniature for the offload tests: a source
 * VM, a context bound to it and a destination that receives only what the
 * records say, every record checked against the contract.  See
 * include/guest_util.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "guest_util.h"
#include "util_internal.h"
#include "xbzrle_util.h"

/*
 * Registers on entry: ebx = buffer gpa, ebp = writes per pass,
 * edi = stride, eax = passes done so far.
 */
static const uint8_t guest_code[] = {
	0x89, 0xde,		/* 0:  mov esi, ebx */
	0x89, 0xe9,		/* 2:  mov ecx, ebp */
	0xfe, 0x06,		/* 4:  inc byte [esi] */
	0x01, 0xfe,		/* 6:  add esi, edi */
	0xe2, 0xfa,		/* 8:  loop 4 */
	0x40,			/* 10: inc eax */
	0xe7, GMIG_OUT_PORT,	/* 11: out GMIG_OUT_PORT, eax */
	0xeb, 0xf1,		/* 13: jmp 0 */
};

int gmig_load_guest(struct kvm_vm *vm, uint64_t gpa)
{
	return vm_load(vm, gpa, guest_code, sizeof(guest_code));
}

#define PAGE		GUEST_PAGE_SIZE
#define REC_MAX		KVM_XBZRLE_RECORD_MAX_SIZE

/* Per-call checking state, for check_record(). */
struct check {
	struct mig *m;
	const uint64_t *expect;	/* the gpas of this call */
	uint32_t nexpect;
	uint32_t idx;
	uint32_t max_delta;
	uint32_t records_size;
	bool paused;		/* guest memory must equal the snapshot */
	struct tally *t;
};


/* Index of the page at @gpa among all pages of the VM, or -1. */
static ssize_t page_index(struct mig *m, uint64_t gpa)
{
	uint64_t base = 0;
	unsigned int i;

	for (i = 0; i < m->dest.nslots; i++) {
		if (gpa >= m->dest.slots[i].gpa &&
		    gpa - m->dest.slots[i].gpa < m->dest.slots[i].size)
			return base + ((gpa - m->dest.slots[i].gpa) >> GUEST_PAGE_SHIFT);
		base += m->dest.slots[i].size >> GUEST_PAGE_SHIFT;
	}
	return -1;
}

/*
 * Checks one record against the destination's page (@base, before the
 * record) and what the test knows of the page, with the oracle of
 * records.c (the contract of include/guest_util.h).  Updates the page's
 * base state and the tally.
 */
static int check_record(const struct xbz_record *rec, const uint8_t *base,
			void *opaque)
{
	struct check *c = opaque;
	struct mig *m = c->m;
	unsigned long long gpa = rec->gpa;
	struct xbz_expect exp = { .max_delta = c->max_delta };
	uint8_t page[PAGE], scratch[2 * PAGE];
	ssize_t idx;

	if (c->idx >= c->nexpect)
		return why(m, "more records than npages_done (%u)", c->nexpect);
	if (rec->gpa != c->expect[c->idx])
		return why(m, "record %u is for gpa 0x%llx, page %u of the call is 0x%llx",
			   c->idx, gpa, c->idx,
			   (unsigned long long)c->expect[c->idx]);
	if (c->records_size - rec->offset < REC_MAX)
		return why(m, "record %u (gpa 0x%llx) started with %u bytes left, less than %zu",
			   c->idx, gpa, c->records_size - rec->offset, REC_MAX);
	idx = page_index(m, rec->gpa);
	if (idx < 0)
		return why(m, "gpa 0x%llx outside the VM", gpa);
	exp.base = m->state[idx];
	if (exp.base == XBZ_BASE_HELD && m->may_evict)
		exp.base = XBZ_BASE_MAYBE;
	if (c->paused)
		exp.snapshot = vm_gpa_to_hva(&m->vm, rec->gpa);

	/* xbz_walk_records() applies the record itself: check a copy. */
	memcpy(page, base, PAGE);
	if (xbz_check_apply_record(rec, page, scratch, &exp))
		return why(m, "%s", kvm_util_error());

	c->t->pages++;
	switch (rec->type) {
	case KVM_XBZRLE_RECORD_ZERO:
		c->t->zero++;
		break;
	case KVM_XBZRLE_RECORD_UNCHANGED:
		c->t->unchanged++;
		break;
	case KVM_XBZRLE_RECORD_XBZRLE:
		c->t->xbzrle++;
		c->t->delta_bytes += rec->len;
		break;
	case KVM_XBZRLE_RECORD_RAW:
		c->t->raw++;
		if (exp.overflow && exp.base == XBZ_BASE_HELD)
			c->t->overflow_min++;
		if (exp.overflow)
			c->t->overflow_max++;
		break;
	}
	m->state[idx] = rec->type == KVM_XBZRLE_RECORD_ZERO ? XBZ_BASE_MAYBE :
							      XBZ_BASE_HELD;
	c->idx++;
	return 0;
}

static void tally_add(struct tally *sum, const struct tally *t)
{
	sum->pages += t->pages;
	sum->zero += t->zero;
	sum->unchanged += t->unchanged;
	sum->xbzrle += t->xbzrle;
	sum->raw += t->raw;
	sum->delta_bytes += t->delta_bytes;
	sum->overflow_min += t->overflow_min;
	sum->overflow_max += t->overflow_max;
}

void gmig_tally_diag(const struct mig *m, const char *what,
		     const struct tally *t)
{
	tap_diag("%s: %s: %llu pages: %llu ZERO, %llu UNCHANGED, %llu XBZRLE (%llu bytes), %llu RAW",
	     m->name, what, (unsigned long long)t->pages,
		 (unsigned long long)t->zero, (unsigned long long)t->unchanged,
		 (unsigned long long)t->xbzrle,
		 (unsigned long long)t->delta_bytes, (unsigned long long)t->raw);
}

int gmig_send(struct mig *m, const uint64_t *gpas, uint32_t n, uint32_t flags,
	      uint32_t max_delta, uint32_t records_size, bool paused,
	      struct tally *t, unsigned int *ncalls)
{
	struct xbz_encode_result res;
	struct tally local = { 0 };
	uint32_t done = 0, want;
	int r;

	if (ncalls)
		*ncalls = 0;
	if (records_size > m->records_cap)
		return why(m, "BUG: records_size %u > buffer %u", records_size,
			   m->records_cap);
	while (done < n) {
		struct check c = {
			.m = m,
			.expect = gpas + done,
			.max_delta = max_delta,
			.records_size = records_size,
			.paused = paused,
			.t = &local,
		};

		want = n - done;
		if (xbz_encode_gen(m->xfd, flags,
				   flags & KVM_XBZRLE_ENCODE_GENERATION ?
				   m->generation : 0, gpas + done, want,
				   m->records, records_size, max_delta, &res))
			return why(m, "after %u of %u pages: %s", done, n,
				   kvm_util_error());
		if (ncalls)
			(*ncalls)++;
		if (!res.npages_done)
			return why(m, "KVM_XBZRLE_ENCODE returned 0 with no page done (%u left)",
				   want);
		/* Only a full buffer or the batch limit may stop a call. */
		if (res.npages_done < want &&
		    res.npages_done < KVM_XBZRLE_MAX_BATCH &&
		    records_size - res.records_used >= REC_MAX + KVM_XBZRLE_RECORD_ALIGN)
			return why(m, "KVM_XBZRLE_ENCODE stopped after %u of %u pages with %u of %u record bytes free",
				   res.npages_done, want,
				   records_size - res.records_used, records_size);
		if (res.npages_done > KVM_XBZRLE_MAX_BATCH)
			return why(m, "npages_done %u above KVM_XBZRLE_MAX_BATCH",
				   res.npages_done);
		c.nexpect = res.npages_done;
		/* check_record() sets m->why; the walker kvm_util_error(). */
		m->why[0] = 0;
		r = xbz_walk_records(&m->dest, m->records, res.records_used,
				     check_record, &c);
		if (r < 0)
			return m->why[0] ? -1 : why(m, "%s", kvm_util_error());
		if ((uint32_t)r != res.npages_done)
			return why(m, "%d records for npages_done %u", r,
				   res.npages_done);
		done += res.npages_done;
	}
	tally_add(&m->total, &local);
	if (t)
		tally_add(t, &local);
	return 0;
}

int gmig_compare(struct mig *m)
{
	int bad = xbz_dest_compare(&m->dest, &m->vm);

	if (bad)
		return why(m, "destination differs: %s", kvm_util_error());
	return 0;
}

int gmig_check_stats(struct mig *m)
{
	struct kvm_xbzrle_stats s;
	const struct tally *t = &m->total;
	const char *bad = NULL;
	char str[512];

	if (xbz_get_stats(m->xfd, &s))
		return why(m, "%s", kvm_util_error());
	if (s.pages != t->pages || s.zero_pages != t->zero ||
	    s.unchanged_pages != t->unchanged ||
	    s.xbzrle_pages != t->xbzrle || s.raw_pages != t->raw ||
	    s.delta_bytes != t->delta_bytes)
		bad = "records counted differently";
	else if (s.overflows < t->overflow_min ||
		 s.overflows > t->overflow_max ||
		 s.cache_hits != t->unchanged + t->xbzrle + s.overflows ||
		 s.cache_misses + s.overflows != t->raw)
		bad = "hits, misses and overflows do not add up to the records";
	else if (s.cache_bytes > s.cache_size || s.cache_bytes % PAGE)
		bad = "cache_bytes over cache_size or not whole pages";
	xbz_stats_str(&s, str, sizeof(str));
	if (bad)
		return why(m, "%s: stats %s; records: pages %llu zero %llu unchanged %llu xbzrle %llu raw %llu (%llu..%llu overflows) delta_bytes %llu",
			   bad, str, (unsigned long long)t->pages,
			   (unsigned long long)t->zero,
			   (unsigned long long)t->unchanged,
			   (unsigned long long)t->xbzrle,
			   (unsigned long long)t->raw,
			   (unsigned long long)t->overflow_min,
			   (unsigned long long)t->overflow_max,
			   (unsigned long long)t->delta_bytes);
	tap_diag("%s: %s", m->name, str);
	return 0;
}

void gmig_destroy(struct mig *m)
{
	if (m->xfd >= 0)
		close(m->xfd);
	m->xfd = -1;
	if (m->has_vcpu)
		vcpu_destroy(&m->vcpu);
	m->has_vcpu = false;
	vm_destroy(&m->vm);
	xbz_dest_free(&m->dest);
	free(m->state);
	free(m->gpas);
	free(m->records);
	m->state = NULL;
	m->gpas = NULL;
	m->records = NULL;
}

uint64_t gmig_cache_size(struct mig *m)
{
	struct kvm_xbzrle_stats s;

	if (xbz_get_stats(m->xfd, &s)) {
		why(m, "%s", kvm_util_error());
		return 0;
	}
	return s.cache_size;
}

int gmig_attach(struct mig *m, uint32_t rec_pages)
{
	uint64_t cache;

	m->npages = vm_npages(&m->vm);
	m->state = calloc(m->npages, 1);
	m->gpas = calloc(m->npages, sizeof(*m->gpas));
	m->records_cap = rec_pages * REC_MAX;
	m->records = aligned_alloc(PAGE, m->records_cap);
	if (!m->state || !m->gpas || !m->records)
		return why(m, "out of memory");
	if (xbz_dest_init(&m->dest, &m->vm))
		return why(m, "%s", kvm_util_error());
	m->xfd = xbz_open_bound(&m->vm);
	if (m->xfd < 0)
		return why(m, "%s", kvm_util_error());
	cache = gmig_cache_size(m);
	if (!cache && m->why[0])
		return -1;
	m->may_evict = cache < m->npages * PAGE;
	if (m->may_evict)
		tap_diag("%s: cache of %llu bytes smaller than the VM's %zu pages: bases may be evicted",
		     m->name, (unsigned long long)cache, m->npages);
	return 0;
}

int gmig_init(struct mig *m, const char *name, unsigned int vm_flags)
{
	memset(m, 0, sizeof(*m));
	m->name = name;
	m->xfd = -1;
	m->vm.fd = -1;
	if (vm_create(&m->vm, vm_flags))
		return why(m, "%s", kvm_util_error());
	return 0;
}

void gmig_forget_bases(struct mig *m)
{
	size_t i;

	for (i = 0; i < m->npages; i++)
		if (m->state[i] == XBZ_BASE_HELD)
			m->state[i] = XBZ_BASE_MAYBE;
}

void gmig_reset(struct mig *m)
{
	memset(m->state, XBZ_BASE_NONE, m->npages);
	memset(&m->total, 0, sizeof(m->total));
}

int gmig_check_offload(bool manual_protect)
{
	struct kvm_xbzrle_caps caps;

	if (xbz_check_offload(&caps))
		return -1;
	if (manual_protect &&
	    (!(caps.capabilities & KVM_XBZRLE_CAP_CLEAR_DIRTY_LOG) ||
	     !(kvm_check_cap(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2) &
	       KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE)))
		return fail("no manual dirty-log protection (module caps 0x%llx)",
			    (unsigned long long)caps.capabilities);
	return 0;
}

/* ------------------------------- host VMs -------------------------------- */

int gmig_host_setup(struct mig *m, const char *name, unsigned int seed,
		    uint32_t rec_pages)
{
	uint8_t *mem;

	if (gmig_init(m, name, 0))
		return -1;
	if (vm_add_memslot(&m->vm, 0, 0, HOST_PAGES * PAGE))
		return why(m, "%s", kvm_util_error());
	mem = vm_gpa_to_hva(&m->vm, 0);
	fill_random(mem + HOST_ZERO * PAGE, (HOST_PAGES - HOST_ZERO) * PAGE,
		    &seed);
	return gmig_attach(m, rec_pages);
}

uint8_t *gmig_host_page(struct mig *m, unsigned int i)
{
	return vm_gpa_to_hva(&m->vm, (uint64_t)i * PAGE);
}

uint64_t *gmig_host_range(struct mig *m, unsigned int first, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		m->gpas[i] = (uint64_t)(first + i) * PAGE;
	return m->gpas;
}

void gmig_touch_sparse(struct mig *m, unsigned int first, unsigned int n,
		       uint8_t salt)
{
	unsigned int i;

	for (i = first; i < first + n; i++) {
		gmig_host_page(m, i)[100] ^= 0x5a ^ salt;
		gmig_host_page(m, i)[2000] += 1 + salt;
		gmig_host_page(m, i)[4095] ^= 0x81;
	}
}
