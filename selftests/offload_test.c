// SPDX-License-Identifier: GPL-2.0
/*
 * offload_test - KVM_XBZRLE_ENCODE against real KVM guests.
 *
 * A migration in miniature: a KVM VM (the source), a kvm_xbzrle context
 * bound to it, and a destination copy of guest memory that receives only
 * what the records say, applied with the project's own decoder
 * (kmod/xbzrle.c).  After every round the destination must equal guest
 * memory byte for byte, and every record must be what the contract says:
 *
 *   ZERO       the snapshot was all zeros (and an all-zero snapshot is
 *              always ZERO);
 *   UNCHANGED  the snapshot equals the base the destination holds;
 *   XBZRLE     the delta is byte-identical to the userspace encoder's
 *              xbzrle_encode(base, snapshot, 4096, buf, max_delta);
 *   RAW        the snapshot, because the module has no base for the page
 *              or the delta does not fit max_delta.
 *
 * The snapshot is known from the record itself (the destination page after
 * applying it), so records can be checked while the guest keeps writing;
 * when the guest is paused the snapshot must also equal guest memory.
 *
 * The test follows, per page, whether the module must hold a base: none
 * (never sent, or after KVM_XBZRLE_SET_CACHE RESET), one (last sent
 * non-zero, cache big enough, nothing evicted), or maybe (last sent as
 * ZERO, or the cache shrank or the shrinker ran since).  With a base, a
 * RAW record is only right if the delta overflows; the context's counters
 * must match the records seen.
 *
 * The guest is hand-assembled 32-bit code (flat protected mode, see
 * kvm_util.h): it increments one byte every STRIDE bytes of a DATA_SIZE
 * buffer, then does `out OUT_PORT, eax` with the pass number, so the host
 * can stop it at pass boundaries.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "kvm_util.h"
#include "records.h"
#include "test_util.h"
#include "xbzrle.h"
#include "xbzrle_tap.h"
#include "xbzrle_util.h"

#define PAGE		GUEST_PAGE_SIZE
#define REC_MAX		KVM_XBZRLE_RECORD_MAX_SIZE
#define TIMEOUT_S	110

/* Guest layout: code in slot 0, the buffer the guest writes in slot 1. */
#define CODE_SLOT	0
#define CODE_GPA	0x0ULL
#define CODE_SIZE	(64 * 1024ULL)
#define DATA_SLOT	1
#define DATA_GPA	0x100000ULL
#define DATA_SIZE	(4 * 1024 * 1024ULL)
#define DATA_PAGES	(DATA_SIZE / PAGE)
#define STRIDE		1024
#define OUT_PORT	0x10

/* Guest rounds between two dirty-log reads, paused and running. */
#define PAUSED_ROUNDS	4
#define RUNNING_ROUNDS	20

/* Record buffer of the guest tests: a RAW round takes many calls. */
#define GUEST_REC_PAGES	64

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
	0xe7, OUT_PORT,		/* 11: out OUT_PORT, eax */
	0xeb, 0xf1,		/* 13: jmp 0 */
};

/* ------------------------------ test points ------------------------------ */

/*
 * Each test reports a fixed number of points, even when it stops early,
 * so the plan holds.
 */
struct points {
	const char *test;
	unsigned int planned;
	unsigned int start;
};

static void points_begin(struct points *p, const char *test, unsigned int n)
{
	p->test = test;
	p->planned = n;
	p->start = tap.run;
}

static void points_end(struct points *p)
{
	while (tap.run - p->start < p->planned)
		tap_result(0, "%s: not reached (earlier failure)", p->test);
	if (tap.run - p->start > p->planned)
		tap_diag("%s: BUG: %u points reported, %u planned", p->test,
			 tap.run - p->start, p->planned);
}

/* ------------------------------ the migration ----------------------------- */

/* What the test knows about the module's base of a page. */
enum base_state {
	BASE_NONE,	/* the module cannot have one */
	BASE_HELD,	/* the module must have one, equal to the destination's */
	BASE_MAYBE,	/* may have been dropped, or last sent as ZERO */
};

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

struct mig {
	const char *name;
	struct kvm_vm vm;
	struct kvm_vcpu vcpu;
	bool has_vcpu;
	int xfd;
	struct xbz_dest dest;
	size_t npages;
	uint8_t *state;		/* enum base_state, by page index */
	bool may_evict;		/* cache smaller than the VM: HELD means MAYBE */
	uint64_t generation;	/* passed with KVM_XBZRLE_ENCODE_GENERATION */
	uint64_t *gpas;		/* room for npages */
	uint8_t *records;
	uint32_t records_cap;
	struct tally total;	/* since the context's counters were zeroed */
	char why[512];
};

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

#define why(m, ...)	set_why((m)->why, sizeof((m)->why), __VA_ARGS__)

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
 * record) and the contract; see the comment at the top.  Updates the
 * page's base state and the tally.
 */
static int check_record(const struct xbz_record *rec, const uint8_t *base,
			void *opaque)
{
	struct check *c = opaque;
	struct mig *m = c->m;
	const char *type = xbz_record_type_name(rec->type);
	unsigned long long gpa = rec->gpa;
	uint8_t snap[PAGE], delta[PAGE];
	struct xbz_record copy = *rec;
	enum base_state st;
	ssize_t idx;
	int enc = 0;

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
	st = m->state[idx];
	if (st == BASE_HELD && m->may_evict)
		st = BASE_MAYBE;

	/* The snapshot the record stands for. */
	memcpy(snap, base, PAGE);
	if (xbz_apply_record(&copy, snap))
		return why(m, "%s", kvm_util_error());
	if (c->paused && memcmp(snap, vm_gpa_to_hva(&m->vm, rec->gpa), PAGE))
		return why(m, "gpa 0x%llx: %s record does not give guest memory (guest paused)",
			   gpa, type);

	if (page_is_zero(snap, PAGE) != (rec->type == KVM_XBZRLE_RECORD_ZERO))
		return why(m, "gpa 0x%llx: %s record for a%s page", gpa, type,
			   page_is_zero(snap, PAGE) ? "n all-zero" : " non-zero");
	if (rec->type != KVM_XBZRLE_RECORD_ZERO && st != BASE_NONE)
		enc = xbzrle_encode(base, snap, PAGE, delta, c->max_delta);

	c->t->pages++;
	switch (rec->type) {
	case KVM_XBZRLE_RECORD_ZERO:
		c->t->zero++;
		break;
	case KVM_XBZRLE_RECORD_UNCHANGED:
	case KVM_XBZRLE_RECORD_XBZRLE:
		if (st == BASE_NONE)
			return why(m, "gpa 0x%llx: %s record, but the module has no base (never sent or reset)",
				   gpa, type);
		if (rec->type == KVM_XBZRLE_RECORD_UNCHANGED) {
			c->t->unchanged++;
			break;
		}
		if (enc <= 0 || (uint32_t)enc != rec->len ||
		    memcmp(delta, rec->data, enc))
			return why(m, "gpa 0x%llx: XBZRLE delta of %u bytes, xbzrle_encode(max_delta %u) gives %d%s",
				   gpa, rec->len, c->max_delta, enc,
				   enc == (int)rec->len ? " different bytes" : "");
		c->t->xbzrle++;
		c->t->delta_bytes += rec->len;
		break;
	case KVM_XBZRLE_RECORD_RAW:
		c->t->raw++;
		if (st == BASE_NONE)
			break;
		if (enc >= 0 && st == BASE_HELD)
			return why(m, "gpa 0x%llx: RAW, but the base is cached and %s (xbzrle_encode %d, max_delta %u)",
				   gpa, enc ? "the delta fits" : "the page is unchanged",
				   enc, c->max_delta);
		if (enc < 0 && st == BASE_HELD)
			c->t->overflow_min++;
		if (enc < 0)
			c->t->overflow_max++;
		break;
	}
	m->state[idx] = rec->type == KVM_XBZRLE_RECORD_ZERO ? BASE_MAYBE : BASE_HELD;
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

static void tally_diag(struct mig *m, const char *what, const struct tally *t)
{
	tap_diag("%s: %s: %llu pages: %llu ZERO, %llu UNCHANGED, %llu XBZRLE (%llu bytes), %llu RAW",
		 m->name, what, (unsigned long long)t->pages,
		 (unsigned long long)t->zero, (unsigned long long)t->unchanged,
		 (unsigned long long)t->xbzrle,
		 (unsigned long long)t->delta_bytes, (unsigned long long)t->raw);
}

/*
 * Sends @gpas[0..@n) with as many KVM_XBZRLE_ENCODE calls as it takes
 * (records buffer of @records_size bytes), checking and applying each
 * call's records.  The round's records are counted in @t (may be NULL)
 * and in m->total.  0, or -1 with m->why set.
 */
static int mig_send(struct mig *m, const uint64_t *gpas, uint32_t n,
		    uint32_t flags, uint32_t max_delta, uint32_t records_size,
		    bool paused, struct tally *t, unsigned int *ncalls)
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

/* Destination equals guest memory.  0, or -1 with m->why set. */
static int mig_compare(struct mig *m)
{
	int bad = xbz_dest_compare(&m->dest, &m->vm);

	if (bad)
		return why(m, "destination differs: %s", kvm_util_error());
	return 0;
}

/*
 * The context's counters agree with the records seen since they were
 * zeroed (m->total).  Reports one test point.
 */
static bool check_stats(struct mig *m, const char *what)
{
	struct kvm_xbzrle_stats s;
	const struct tally *t = &m->total;
	char msg[512] = "";

	if (xbz_get_stats(m->xfd, &s)) {
		snprintf(msg, sizeof(msg), "%s", kvm_util_error());
	} else if (s.pages != t->pages || s.zero_pages != t->zero ||
		   s.unchanged_pages != t->unchanged ||
		   s.xbzrle_pages != t->xbzrle || s.raw_pages != t->raw ||
		   s.delta_bytes != t->delta_bytes) {
		snprintf(msg, sizeof(msg),
			 "stats pages %llu zero %llu unchanged %llu xbzrle %llu raw %llu delta_bytes %llu; records: %llu %llu %llu %llu %llu %llu",
			 (unsigned long long)s.pages,
			 (unsigned long long)s.zero_pages,
			 (unsigned long long)s.unchanged_pages,
			 (unsigned long long)s.xbzrle_pages,
			 (unsigned long long)s.raw_pages,
			 (unsigned long long)s.delta_bytes,
			 (unsigned long long)t->pages,
			 (unsigned long long)t->zero,
			 (unsigned long long)t->unchanged,
			 (unsigned long long)t->xbzrle,
			 (unsigned long long)t->raw,
			 (unsigned long long)t->delta_bytes);
	} else if (s.overflows < t->overflow_min ||
		   s.overflows > t->overflow_max ||
		   s.cache_hits != t->unchanged + t->xbzrle + s.overflows ||
		   s.cache_misses + s.overflows != t->raw) {
		snprintf(msg, sizeof(msg),
			 "stats cache_hits %llu cache_misses %llu overflows %llu; records: %llu UNCHANGED + %llu XBZRLE, %llu RAW of which %llu..%llu overflows",
			 (unsigned long long)s.cache_hits,
			 (unsigned long long)s.cache_misses,
			 (unsigned long long)s.overflows,
			 (unsigned long long)t->unchanged,
			 (unsigned long long)t->xbzrle,
			 (unsigned long long)t->raw,
			 (unsigned long long)t->overflow_min,
			 (unsigned long long)t->overflow_max);
	} else if (s.cache_bytes > s.cache_size || s.cache_bytes % PAGE) {
		snprintf(msg, sizeof(msg), "cache_bytes %llu, cache_size %llu",
			 (unsigned long long)s.cache_bytes,
			 (unsigned long long)s.cache_size);
	}
	if (!tap_result(!msg[0], "%s: %s: counters match the records", m->name,
			what))
		tap_diag("  %s", msg);
	else
		tap_diag("%s: pages %llu hits %llu misses %llu overflows %llu delta_bytes %llu evictions %llu reclaimed %llu cache_bytes %llu",
			 m->name, (unsigned long long)s.pages,
			 (unsigned long long)s.cache_hits,
			 (unsigned long long)s.cache_misses,
			 (unsigned long long)s.overflows,
			 (unsigned long long)s.delta_bytes,
			 (unsigned long long)s.evictions,
			 (unsigned long long)s.reclaimed,
			 (unsigned long long)s.cache_bytes);
	return !msg[0];
}

static void mig_destroy(struct mig *m)
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

/* The context's cache size in effect, or 0 (message in m->why). */
static uint64_t mig_cache_size(struct mig *m)
{
	struct kvm_xbzrle_stats s;

	if (xbz_get_stats(m->xfd, &s)) {
		why(m, "%s", kvm_util_error());
		return 0;
	}
	return s.cache_size;
}

/*
 * After the VM's memslots are added: destination, bookkeeping and a
 * context bound to the VM with one region per memslot.
 */
static int mig_attach(struct mig *m, uint32_t rec_pages)
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
	cache = mig_cache_size(m);
	if (!cache && m->why[0])
		return -1;
	m->may_evict = cache < m->npages * PAGE;
	if (m->may_evict)
		tap_diag("%s: cache of %llu bytes smaller than the VM's %zu pages: bases may be evicted",
			 m->name, (unsigned long long)cache, m->npages);
	return 0;
}

static int mig_init(struct mig *m, const char *name, unsigned int vm_flags)
{
	memset(m, 0, sizeof(*m));
	m->name = name;
	m->xfd = -1;
	m->vm.fd = -1;
	if (vm_create(&m->vm, vm_flags))
		return why(m, "%s", kvm_util_error());
	return 0;
}

/* ------------------------------ guest tests ------------------------------- */

/*
 * The guest VM: code slot and data slot, every 4th data page zero, the
 * rest random; vCPU at the code, registers for the loop.
 */
static int guest_setup(struct mig *m, const char *name, unsigned int vm_flags,
		       unsigned int seed)
{
	struct kvm_regs regs;
	uint8_t *data;
	uint64_t i;

	if (mig_init(m, name, vm_flags))
		return -1;
	if (vm_add_memslot(&m->vm, CODE_SLOT, CODE_GPA, CODE_SIZE) ||
	    vm_add_memslot(&m->vm, DATA_SLOT, DATA_GPA, DATA_SIZE) ||
	    vm_load(&m->vm, CODE_GPA, guest_code, sizeof(guest_code)))
		return why(m, "%s", kvm_util_error());
	data = vm_gpa_to_hva(&m->vm, DATA_GPA);
	for (i = 0; i < DATA_PAGES; i++)
		if (i % 4 != 3)
			fill_random(data + i * PAGE, PAGE, &seed);

	if (vcpu_create(&m->vm, &m->vcpu, 0, CODE_GPA))
		return why(m, "%s", kvm_util_error());
	m->has_vcpu = true;
	if (vcpu_get_regs(&m->vcpu, &regs))
		return why(m, "%s", kvm_util_error());
	regs.rbx = DATA_GPA;
	regs.rbp = DATA_SIZE / STRIDE;
	regs.rdi = STRIDE;
	regs.rax = 0;
	if (vcpu_set_regs(&m->vcpu, &regs))
		return why(m, "%s", kvm_util_error());
	return mig_attach(m, GUEST_REC_PAGES);
}

/* Runs one pass of the guest loop; checks the pass number it reports. */
static int guest_pass(struct mig *m, uint32_t expect)
{
	uint32_t v = 0;
	int r = vcpu_run_until_out(&m->vcpu, OUT_PORT, &v);

	if (r < 0)
		return why(m, "guest: %s", kvm_util_error());
	if (r > 0)
		return why(m, "guest halted");
	if (v != expect)
		return why(m, "guest reported pass %u, expected %u", v, expect);
	return 0;
}

/* Pages of the data slot in @gpas[0..n). */
static unsigned int data_pages_in(const uint64_t *gpas, unsigned int n)
{
	unsigned int i, k = 0;

	for (i = 0; i < n; i++)
		k += gpas[i] >= DATA_GPA && gpas[i] < DATA_GPA + DATA_SIZE;
	return k;
}

/* The first send: the whole VM, the dirty log reset first. */
static int guest_round0(struct mig *m, uint32_t flags, struct tally *t)
{
	int n;

	/* Classic mode: this read resets the log and write-protects. */
	if (vm_dirty_gpas(&m->vm, m->gpas, m->npages) < 0)
		return why(m, "%s", kvm_util_error());
	n = vm_all_gpas(&m->vm, m->gpas, m->npages);
	if (n < 0)
		return why(m, "%s", kvm_util_error());
	if (mig_send(m, m->gpas, n, flags, PAGE, m->records_cap, true, t, NULL))
		return -1;
	if (t->xbzrle || t->unchanged)
		return why(m, "first send has %llu XBZRLE/UNCHANGED records",
			   (unsigned long long)(t->xbzrle + t->unchanged));
	return mig_compare(m);
}

/*
 * Paused rounds, classic dirty log or manual protect with the module
 * clearing the log.  Reports PAUSED_ROUNDS + 4 points.
 */
static void test_guest_paused(bool manual)
{
	const char *name = manual ? "guest/manual-protect" : "guest/classic";
	const uint32_t flags = manual ? KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG : 0;
	struct tally t;
	struct points p;
	struct mig m;
	int round, n, r, left_n, leftover = 0;
	char left[128] = "";

	points_begin(&p, name, PAUSED_ROUNDS + 4);
	r = guest_setup(&m, name, manual ? VM_MANUAL_PROTECT : 0, 1);
	if (!tap_result(!r, "%s: VM with code and 4 MiB data slots, vCPU in 32-bit protected mode, context bound with 2 regions%s%s",
			name, WHY_IF(r, m.why)))
		goto out;

	memset(&t, 0, sizeof(t));
	r = guest_round0(&m, flags, &t);
	tally_diag(&m, "round 0", &t);
	if (!tap_result(!r, "%s: round 0: all %zu pages sent RAW/ZERO, destination == guest memory%s%s",
			name, m.npages, WHY_IF(r, m.why)))
		goto out;

	for (round = 1; round <= PAUSED_ROUNDS; round++) {
		/* Classic mode: the flag must be harmless; try it last. */
		uint32_t f = flags;

		if (!manual && round == PAUSED_ROUNDS)
			f = KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG;
		memset(&t, 0, sizeof(t));
		r = guest_pass(&m, round);
		n = r ? -1 : vm_dirty_gpas(&m.vm, m.gpas, m.npages);
		if (!r && n < 0)
			r = why(&m, "%s", kvm_util_error());
		if (!r && data_pages_in(m.gpas, n) != DATA_PAGES)
			r = why(&m, "%u of %llu data pages dirty after a guest pass",
				data_pages_in(m.gpas, n), DATA_PAGES);
		if (!r)
			r = mig_send(&m, m.gpas, n, f, PAGE, m.records_cap,
				     true, &t, NULL);
		if (!r)
			r = mig_compare(&m);
		/* Zero pages of round 0 may come RAW; the rest must be deltas. */
		if (!r && t.xbzrle < DATA_PAGES * 3 / 4)
			r = why(&m, "only %llu XBZRLE records for %llu data pages with 4 bytes changed",
				(unsigned long long)t.xbzrle, DATA_PAGES);
		/* The guest is paused: a page clean now stays clean. */
		if (!r) {
			left_n = vm_dirty_gpas(&m.vm, m.gpas, m.npages);
			if (left_n < 0)
				r = why(&m, "%s", kvm_util_error());
			else if (left_n && !leftover++)
				snprintf(left, sizeof(left),
					 "round %d: %d pages still dirty after ENCODE%s, first 0x%llx",
					 round, left_n,
					 f ? " with CLEAR_DIRTY_LOG" : "",
					 (unsigned long long)m.gpas[0]);
		}
		tally_diag(&m, "round", &t);
		if (!tap_result(!r, "%s: round %d: guest pass, %d dirty pages encoded%s, records exact, destination == guest memory%s%s",
				name, round, n, f ? " (CLEAR_DIRTY_LOG)" : "",
				WHY_IF(r, m.why)))
			goto out;
	}
	tap_result(!leftover, "%s: %s%s%s", name,
		   manual ? "KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG cleared the log of every page it sent"
			  : "dirty log empty after each round (flag harmless in classic mode)",
		   leftover ? ": " : "", left);
	check_stats(&m, "after all rounds");
out:
	points_end(&p);
	mig_destroy(&m);
}

struct runner {
	struct kvm_vcpu *vcpu;
	atomic_bool stop;
	atomic_uint passes;
	char error[256];
};

/* Runs guest passes until told to stop (checked at pass boundaries). */
static void *vcpu_thread(void *arg)
{
	struct runner *r = arg;
	uint32_t v;
	int rc;

	while (!atomic_load(&r->stop)) {
		rc = vcpu_run_until_out(r->vcpu, OUT_PORT, &v);
		if (rc) {
			snprintf(r->error, sizeof(r->error), "%s",
				 rc > 0 ? "guest halted" : kvm_util_error());
			break;
		}
		atomic_fetch_add(&r->passes, 1);
	}
	return NULL;
}

/* Waits until the guest finished @target passes; false after 20 s. */
static bool wait_passes(struct runner *r, unsigned int target)
{
	int i;

	for (i = 0; i < 10000; i++) {
		if (atomic_load(&r->passes) >= target || r->error[0])
			return atomic_load(&r->passes) >= target;
		sleep_ms(2);
	}
	return false;
}

/*
 * The vCPU keeps writing in a second thread while the host reads the
 * dirty log and encodes with CLEAR_DIRTY_LOG; then a final round with the
 * guest stopped must leave an exact destination.  Reports 5 points.
 */
static void test_guest_running(void)
{
	const char *name = "guest/running";
	const uint32_t flags = KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG;
	struct runner run = { 0 };
	unsigned int round, before, during = 0;
	bool started = false;
	struct tally t = { 0 };
	struct points p;
	struct mig m;
	pthread_t th;
	int n = 0, r;

	points_begin(&p, name, 5);
	r = guest_setup(&m, name, VM_MANUAL_PROTECT, 2);
	if (!r) {
		r = guest_round0(&m, flags, &t);
		tally_diag(&m, "round 0", &t);
	}
	if (!tap_result(!r, "%s: manual-protect VM set up, round 0 exact%s%s",
			name, WHY_IF(r, m.why)))
		goto out;

	run.vcpu = &m.vcpu;
	if (pthread_create(&th, NULL, vcpu_thread, &run)) {
		tap_result(0, "%s: pthread_create: %s", name, strerror(errno));
		goto out;
	}
	started = true;

	memset(&t, 0, sizeof(t));
	for (round = 1; round <= RUNNING_ROUNDS && !r; round++) {
		/* Something to send: at least one more pass since last time. */
		if (!wait_passes(&run, atomic_load(&run.passes) + 1)) {
			r = why(&m, "guest made no progress: %s",
				run.error[0] ? run.error : "timeout");
			break;
		}
		before = atomic_load(&run.passes);
		n = vm_dirty_gpas(&m.vm, m.gpas, m.npages);
		if (n < 0) {
			r = why(&m, "%s", kvm_util_error());
			break;
		}
		r = mig_send(&m, m.gpas, n, flags, PAGE, m.records_cap, false,
			     &t, NULL);
		during += atomic_load(&run.passes) != before;
	}
	tally_diag(&m, "running rounds", &t);
	tap_result(!r, "%s: %u rounds of dirty log + ENCODE while the vCPU runs: records valid and consistent%s%s",
		   name, RUNNING_ROUNDS, WHY_IF(r, m.why));
	tap_diag("%s: guest finished a pass during %u of %u rounds, %u passes in all",
		 name, during, RUNNING_ROUNDS, atomic_load(&run.passes));

	atomic_store(&run.stop, true);
	pthread_join(th, NULL);
	started = false;
	r = run.error[0] ? why(&m, "vCPU thread: %s", run.error) : 0;
	tap_result(!r, "%s: vCPU stopped cleanly after %u passes%s%s", name,
		   atomic_load(&run.passes), WHY_IF(r, m.why));

	/* Every write after its page's clear is in the log: nothing lost. */
	memset(&t, 0, sizeof(t));
	n = vm_dirty_gpas(&m.vm, m.gpas, m.npages);
	r = n < 0 ? why(&m, "%s", kvm_util_error()) : 0;
	if (!r)
		r = mig_send(&m, m.gpas, n, flags, PAGE, m.records_cap, true,
			     &t, NULL);
	if (!r)
		r = mig_compare(&m);
	tally_diag(&m, "final round", &t);
	tap_result(!r, "%s: final round with the guest stopped (%d dirty pages): destination == guest memory, no write lost%s%s",
		   name, n, WHY_IF(r, m.why));
	check_stats(&m, "after all rounds");
out:
	if (started) {
		atomic_store(&run.stop, true);
		pthread_join(th, NULL);
	}
	points_end(&p);
	mig_destroy(&m);
}

/* ------------------------------- host tests ------------------------------- */

#define HOST_PAGES	64
#define HOST_ZERO	16	/* pages 0..15 stay zero */

/* A VM without vCPU; the host writes guest RAM through its mapping. */
static int host_setup(struct mig *m, const char *name, unsigned int seed,
		      uint32_t rec_pages)
{
	uint8_t *mem;

	if (mig_init(m, name, 0))
		return -1;
	if (vm_add_memslot(&m->vm, 0, 0, HOST_PAGES * PAGE))
		return why(m, "%s", kvm_util_error());
	mem = vm_gpa_to_hva(&m->vm, 0);
	fill_random(mem + HOST_ZERO * PAGE, (HOST_PAGES - HOST_ZERO) * PAGE,
		    &seed);
	return mig_attach(m, rec_pages);
}

static uint8_t *host_page(struct mig *m, unsigned int i)
{
	return vm_gpa_to_hva(&m->vm, (uint64_t)i * PAGE);
}

/* gpas of pages [first, first + n) in m->gpas. */
static uint64_t *range(struct mig *m, unsigned int first, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		m->gpas[i] = (uint64_t)(first + i) * PAGE;
	return m->gpas;
}

/* A few bytes changed on each page of [first, first + n). */
static void touch_sparse(struct mig *m, unsigned int first, unsigned int n,
			 uint8_t salt)
{
	unsigned int i;

	for (i = first; i < first + n; i++) {
		host_page(m, i)[100] ^= 0x5a ^ salt;
		host_page(m, i)[2000] += 1 + salt;
		host_page(m, i)[4095] ^= 0x81;
	}
}

/* Every byte of the page changed: no delta fits. */
static void touch_dense(uint8_t *page)
{
	unsigned int i;

	for (i = 0; i < PAGE; i++)
		page[i] = ~page[i];
}

/* Every 4th byte changed: a delta of about 3 KiB. */
static void touch_every_4th(uint8_t *page)
{
	unsigned int i;

	for (i = 0; i < PAGE; i += 4)
		page[i] ^= 0x3c;
}

/* One host round: send, check, compare.  One point. */
static bool host_round(struct mig *m, const char *what, const uint64_t *gpas,
		       uint32_t n, uint32_t max_delta, struct tally *t)
{
	int r;

	memset(t, 0, sizeof(*t));
	m->why[0] = 0;
	r = mig_send(m, gpas, n, 0, max_delta, m->records_cap, true, t, NULL);
	if (!r)
		r = mig_compare(m);
	tally_diag(m, what, t);
	return tap_result(!r, "%s: %s: records exact, destination == guest memory%s%s",
			  m->name, what, WHY_IF(r, m->why));
}

/* @got records of a kind equal @want.  One point. */
static bool expect_count(struct mig *m, const char *what, uint64_t got,
			 uint64_t want)
{
	return tap_result(got == want, "%s: %s: %llu (expected %llu)", m->name,
			  what, (unsigned long long)got,
			  (unsigned long long)want);
}

/* Every page the module must hold may now be gone. */
static void forget_bases(struct mig *m)
{
	size_t i;

	for (i = 0; i < m->npages; i++)
		if (m->state[i] == BASE_HELD)
			m->state[i] = BASE_MAYBE;
}

/*
 * Record kinds from host-made changes, max_delta, a small cache, the
 * shrinker and RESET.  Reports HOST_POINTS points.
 */
#define HOST_POINTS	30
static void test_host(void)
{
	const char *name = "host";
	struct kvm_xbzrle_stats s0, s1;
	uint64_t default_cache, eff;
	struct tally t;
	struct points p;
	struct mig m;
	unsigned int i;
	int r;

	points_begin(&p, name, HOST_POINTS);
	r = host_setup(&m, name, 3, HOST_PAGES);
	if (!tap_result(!r, "%s: VM with %u pages, no vCPU, context bound%s%s",
			name, HOST_PAGES, WHY_IF(r, m.why)))
		goto out;

	/* 1: first send: zero pages ZERO, the rest RAW (no base yet). */
	host_round(&m, "first send", range(&m, 0, HOST_PAGES), HOST_PAGES,
		   PAGE, &t);
	expect_count(&m, "first send: ZERO records", t.zero, HOST_ZERO);
	expect_count(&m, "first send: RAW records", t.raw,
		     HOST_PAGES - HOST_ZERO);

	/* 2: nothing changed: ZERO stays ZERO, the rest UNCHANGED. */
	host_round(&m, "resend unchanged", range(&m, 0, HOST_PAGES),
		   HOST_PAGES, PAGE, &t);
	expect_count(&m, "resend: UNCHANGED records", t.unchanged,
		     HOST_PAGES - HOST_ZERO);
	expect_count(&m, "resend: ZERO records", t.zero, HOST_ZERO);

	/* 3: a few bytes per page: XBZRLE, checked byte for byte. */
	touch_sparse(&m, 16, 16, 0);
	host_round(&m, "sparse changes", range(&m, 16, 16), 16, PAGE, &t);
	expect_count(&m, "sparse changes: XBZRLE records", t.xbzrle, 16);

	/* 4: every byte changed: the delta never fits, RAW overflows. */
	for (i = 32; i < 40; i++)
		touch_dense(host_page(&m, i));
	host_round(&m, "dense changes", range(&m, 32, 8), 8, PAGE, &t);
	expect_count(&m, "dense changes: RAW records (overflows)", t.raw, 8);
	expect_count(&m, "dense changes: counted as overflows", t.overflow_min, 8);

	/* 5: a ~3 KiB delta: RAW at max_delta 1024, XBZRLE at 4096. */
	touch_every_4th(host_page(&m, 40));
	host_round(&m, "3 KiB delta, max_delta 1024", range(&m, 40, 1), 1,
		   1024, &t);
	expect_count(&m, "max_delta 1024: RAW overflow", t.overflow_min, 1);
	touch_every_4th(host_page(&m, 40));
	host_round(&m, "3 KiB delta, max_delta 4096", range(&m, 40, 1), 1,
		   PAGE, &t);
	tap_result(t.xbzrle == 1 && t.delta_bytes > 1024,
		   "%s: max_delta 4096: XBZRLE record of %llu bytes", name,
		   (unsigned long long)t.delta_bytes);
	check_stats(&m, "after host rounds");

	/* 6: a cache of 16 pages for 48 non-zero pages. */
	if (xbz_get_stats(m.xfd, &s0))
		tap_diag("%s", kvm_util_error());
	default_cache = s0.cache_size;
	r = xbz_set_cache(m.xfd, KVM_XBZRLE_CACHE_SET_SIZE, 16 * PAGE + 100,
			  &eff);
	if (!r)
		r = xbz_get_stats(m.xfd, &s1);
	tap_result(!r && eff == 16 * PAGE && s1.cache_size == 16 * PAGE &&
		   s1.cache_bytes <= 16 * PAGE &&
		   s0.cache_bytes > 16 * PAGE &&
		   s1.evictions >= s0.evictions +
				   (s0.cache_bytes - 16 * PAGE) / PAGE,
		   "%s: SET_CACHE 16 pages + 100 bytes: size in effect %llu (16 pages), cache_bytes %llu -> %llu, evictions %llu -> %llu%s%s",
		   name, (unsigned long long)eff,
		   (unsigned long long)s0.cache_bytes,
		   (unsigned long long)s1.cache_bytes,
		   (unsigned long long)s0.evictions,
		   (unsigned long long)s1.evictions,
		   WHY_IF(r, kvm_util_error()));
	forget_bases(&m);
	m.may_evict = true;
	touch_sparse(&m, HOST_ZERO, HOST_PAGES - HOST_ZERO, 1);
	host_round(&m, "small cache, all pages changed",
		   range(&m, HOST_ZERO, HOST_PAGES - HOST_ZERO),
		   HOST_PAGES - HOST_ZERO, PAGE, &t);
	tap_result(t.raw >= HOST_PAGES - HOST_ZERO - 16,
		   "%s: small cache: %llu RAW of %u pages (at most 16 bases fit)",
		   name, (unsigned long long)t.raw, HOST_PAGES - HOST_ZERO);
	r = xbz_get_stats(m.xfd, &s1);
	tap_result(!r && s1.evictions > s0.evictions && s1.cache_bytes <= 16 * PAGE,
		   "%s: small cache: evictions %llu -> %llu, cache_bytes %llu",
		   name, (unsigned long long)s0.evictions,
		   (unsigned long long)s1.evictions,
		   (unsigned long long)s1.cache_bytes);
	check_stats(&m, "after the small-cache round");

	/* 7: back to the default size; two sends fill the cache again. */
	r = xbz_set_cache(m.xfd, KVM_XBZRLE_CACHE_SET_SIZE, default_cache,
			  &eff);
	/* Pages sent while the cache was small may have lost their base. */
	forget_bases(&m);
	m.may_evict = false;
	if (!r)
		r = mig_send(&m, range(&m, 0, HOST_PAGES), HOST_PAGES, 0, PAGE,
			     m.records_cap, true, NULL, NULL);
	if (!r)
		r = mig_send(&m, range(&m, 0, HOST_PAGES), HOST_PAGES, 0, PAGE,
			     m.records_cap, true, &t, NULL);
	if (!r)
		r = xbz_get_stats(m.xfd, &s0);
	tap_result(!r && t.unchanged == HOST_PAGES - HOST_ZERO &&
		   s0.cache_bytes >= (HOST_PAGES - HOST_ZERO) * PAGE,
		   "%s: default cache size again: everything cached (%llu UNCHANGED, cache_bytes %llu)%s%s",
		   name, (unsigned long long)t.unchanged,
		   (unsigned long long)s0.cache_bytes, r ? ": " : "",
		   r ? (m.why[0] ? m.why : kvm_util_error()) : "");

	/* 8: the shrinker gives cached pages back. */
	if (drop_caches()) {
		tap_skip("cannot write /proc/sys/vm/drop_caches",
			 "%s: shrinker reclaims cached pages", name);
	} else {
		r = xbz_get_stats(m.xfd, &s1);
		tap_result(!r && s1.cache_bytes < s0.cache_bytes &&
			   s1.reclaimed > s0.reclaimed &&
			   (s1.reclaimed - s0.reclaimed) * PAGE ==
				s0.cache_bytes - s1.cache_bytes,
			   "%s: drop_caches: cache_bytes %llu -> %llu, reclaimed %llu -> %llu",
			   name, (unsigned long long)s0.cache_bytes,
			   (unsigned long long)s1.cache_bytes,
			   (unsigned long long)s0.reclaimed,
			   (unsigned long long)s1.reclaimed);
	}
	forget_bases(&m);
	touch_sparse(&m, HOST_ZERO, HOST_PAGES - HOST_ZERO, 2);
	host_round(&m, "after the shrinker", range(&m, 0, HOST_PAGES),
		   HOST_PAGES, PAGE, &t);
	check_stats(&m, "after the shrinker");

	/* 9: RESET: no bases, counters zero, then everything RAW/ZERO. */
	r = xbz_set_cache(m.xfd, KVM_XBZRLE_CACHE_RESET, 0, NULL);
	if (!r)
		r = xbz_get_stats(m.xfd, &s1);
	tap_result(!r && !s1.cache_bytes && !s1.pages && !s1.cache_hits &&
		   !s1.cache_misses && !s1.overflows && !s1.zero_pages &&
		   !s1.unchanged_pages && !s1.xbzrle_pages && !s1.raw_pages &&
		   !s1.delta_bytes && !s1.evictions && !s1.reclaimed &&
		   s1.cache_size == default_cache,
		   "%s: RESET: cache empty (cache_bytes %llu), counters zero (pages %llu), size kept (%llu)%s%s",
		   name, (unsigned long long)s1.cache_bytes,
		   (unsigned long long)s1.pages,
		   (unsigned long long)s1.cache_size,
		   WHY_IF(r, kvm_util_error()));
	memset(m.state, BASE_NONE, m.npages);
	memset(&m.total, 0, sizeof(m.total));
	touch_sparse(&m, HOST_ZERO, 8, 3);
	host_round(&m, "after RESET", range(&m, 0, HOST_PAGES), HOST_PAGES,
		   PAGE, &t);
	tap_result(t.raw == HOST_PAGES - HOST_ZERO && t.zero == HOST_ZERO,
		   "%s: after RESET: %llu RAW + %llu ZERO, nothing else", name,
		   (unsigned long long)t.raw, (unsigned long long)t.zero);
	check_stats(&m, "after RESET");
out:
	points_end(&p);
	mig_destroy(&m);
}

/*
 * A record buffer for 3 pages and 20 RAW pages: every call stops after 3
 * pages, continuing finishes the batch.  Reports 3 points.
 */
static void test_small_buffer(void)
{
	const char *name = "small-buffer";
	unsigned int i, calls = 0;
	struct tally t = { 0 };
	struct points p;
	struct mig m;
	int r;

	points_begin(&p, name, 3);
	r = host_setup(&m, name, 4, 3);
	if (!r)
		r = mig_send(&m, range(&m, 0, HOST_PAGES), HOST_PAGES, 0, PAGE,
			     m.records_cap, true, NULL, NULL);
	if (!tap_result(!r, "%s: VM set up, first send with a 3-page buffer%s%s",
			name, WHY_IF(r, m.why)))
		goto out;

	for (i = 20; i < 40; i++)
		touch_dense(host_page(&m, i));
	r = mig_send(&m, range(&m, 20, 20), 20, 0, PAGE, 3 * REC_MAX, true,
		     &t, &calls);
	if (!r)
		r = mig_compare(&m);
	tap_result(!r && t.raw == 20 && calls == 7,
		   "%s: 20 RAW pages, buffer of 3 * %zu bytes: %u calls (expected 7: 6 x 3 + 2), destination == guest memory%s%s",
		   name, REC_MAX, calls, WHY_IF(r, m.why));
	check_stats(&m, "after the small-buffer rounds");
out:
	points_end(&p);
	mig_destroy(&m);
}

/*
 * Two VMs with the same layout and different content, one context each,
 * used alternately.  Reports 7 points.
 */
static void test_two_contexts(void)
{
	const char *name = "two-contexts";
	struct mig a, b;
	struct mig *both[2] = { &a, &b };
	struct points p;
	struct tally t;
	int r, round, k;

	points_begin(&p, name, 7);
	memset(&b, 0, sizeof(b));
	b.xfd = -1;
	b.vm.fd = -1;
	r = host_setup(&a, "two-contexts/A", 5, HOST_PAGES);
	if (!r && host_setup(&b, "two-contexts/B", 6, HOST_PAGES)) {
		memcpy(a.why, b.why, sizeof(a.why));
		r = -1;
	}
	if (!tap_result(!r, "%s: two VMs, a context bound to each%s%s", name,
			WHY_IF(r, a.why)))
		goto out;

	for (round = 0; round < 2; round++) {
		char what[64];

		for (k = 0; k < 2; k++) {
			if (round)
				touch_sparse(both[k], HOST_ZERO + 8 * k, 8,
					     round + k);
			snprintf(what, sizeof(what), "round %d", round);
			host_round(both[k], what, range(both[k], 0, HOST_PAGES),
				   HOST_PAGES, PAGE, &t);
		}
	}
	/* Each context counted its own pages only. */
	check_stats(&a, "own pages only");
	check_stats(&b, "own pages only");
out:
	points_end(&p);
	mig_destroy(&b);
	mig_destroy(&a);
}

/*
 * The cache policy with and without generations, on QEMU's worst case for
 * an LRU: a working set of twice the cache, every page rewritten and sent
 * in the same order every round (a cyclic scan).  Cache of GEN_CACHE
 * pages, working set pages HOST_ZERO .. HOST_ZERO + 2 * GEN_CACHE - 1
 * (none zero).
 *
 * With KVM_XBZRLE_ENCODE_GENERATION, generation r in round r: round 1
 * fills the cache with the first GEN_CACHE pages; the other GEN_CACHE find
 * the cache full and its least recently sent base sent in this round, so
 * they are refused (RAW, not cached).  From round 2 on the first half hits
 * (XBZRLE, its bases sent again in this round), the second half is
 * refused: exactly GEN_CACHE hits, GEN_CACHE RAW and GEN_CACHE refusals
 * per round, no eviction.  Then rounds of the second half only: in the
 * next generation the first half's bases, sent in the previous one, are
 * still kept (GEN_CACHE refusals); a generation later they are two
 * generations old and give way (GEN_CACHE evictions, no refusal), and the
 * next round of the second half hits.
 *
 * Without the flag (after RESET) the plain LRU evicts every base just
 * before its page comes round again: no hit in any round, GEN_CACHE
 * evictions in the first round and 2 * GEN_CACHE in every later one.
 * Reports GEN_POINTS points.
 */
#define GEN_CACHE	16
#define GEN_ROUNDS	4
#define GEN_LRU_ROUNDS	3
#define GEN_POINTS	(1 + 2 * GEN_ROUNDS + 6 + 1 + 2 * GEN_LRU_ROUNDS + 2)

/* One round of the scan test: two points. */
static void gen_round(struct mig *m, const char *what, unsigned int first,
		      unsigned int n, uint32_t flags, uint64_t want_hits,
		      uint64_t want_refused, uint64_t want_evicted)
{
	struct kvm_xbzrle_stats s0, s1;
	struct tally t = { 0 };
	int r;

	m->why[0] = 0;
	touch_sparse(m, first, n, (uint8_t)m->generation);
	r = xbz_get_stats(m->xfd, &s0);
	if (!r)
		r = mig_send(m, range(m, first, n), n, flags, PAGE,
			     m->records_cap, true, &t, NULL);
	else
		why(m, "%s", kvm_util_error());
	if (!r)
		r = mig_compare(m);
	if (!r && xbz_get_stats(m->xfd, &s1))
		r = why(m, "%s", kvm_util_error());
	tally_diag(m, what, &t);
	tap_result(!r, "%s: %s: records exact, destination == guest memory%s%s",
		   m->name, what, WHY_IF(r, m->why));
	if (r)
		memset(&s1, 0, sizeof(s1));
	tap_result(!r && t.unchanged + t.xbzrle == want_hits &&
		   t.raw == n - want_hits &&
		   s1.refused - s0.refused == want_refused &&
		   s1.evictions - s0.evictions == want_evicted,
		   "%s: %s: %llu hits, %llu RAW, %llu refused, %llu evicted (expected %llu, %llu, %llu, %llu)",
		   m->name, what, (unsigned long long)(t.unchanged + t.xbzrle),
		   (unsigned long long)t.raw,
		   (unsigned long long)(s1.refused - s0.refused),
		   (unsigned long long)(s1.evictions - s0.evictions),
		   (unsigned long long)want_hits,
		   (unsigned long long)(n - want_hits),
		   (unsigned long long)want_refused,
		   (unsigned long long)want_evicted);
}

static void test_generation(void)
{
	const char *name = "generation";
	const uint32_t gen = KVM_XBZRLE_ENCODE_GENERATION;
	const unsigned int ws = 2 * GEN_CACHE, half = HOST_ZERO + GEN_CACHE;
	struct kvm_xbzrle_stats s;
	struct points p;
	char what[64];
	uint64_t eff = 0;
	struct mig m;
	unsigned int round;
	int r;

	points_begin(&p, name, GEN_POINTS);
	r = host_setup(&m, name, 7, HOST_PAGES);
	/* the destination gets every page, then the cache starts empty */
	if (!r)
		r = mig_send(&m, range(&m, 0, HOST_PAGES), HOST_PAGES, 0, PAGE,
			     m.records_cap, true, NULL, NULL);
	if (!r && xbz_set_cache(m.xfd, KVM_XBZRLE_CACHE_RESET |
				KVM_XBZRLE_CACHE_SET_SIZE, GEN_CACHE * PAGE,
				&eff))
		r = why(&m, "%s", kvm_util_error());
	memset(m.state, BASE_NONE, m.npages);
	memset(&m.total, 0, sizeof(m.total));
	if (!tap_result(!r && eff == GEN_CACHE * PAGE,
			"%s: VM with %u pages sent, RESET, cache of %u pages, working set %u pages%s%s",
			name, HOST_PAGES, GEN_CACHE, ws, WHY_IF(r, m.why)))
		goto out;
	m.may_evict = true;

	for (round = 1; round <= GEN_ROUNDS; round++) {
		m.generation = round;
		snprintf(what, sizeof(what), "scan with generation %u", round);
		gen_round(&m, what, HOST_ZERO, ws, gen,
			  round == 1 ? 0 : GEN_CACHE, GEN_CACHE, 0);
	}
	/* The next generation: the first half's bases are still kept. */
	m.generation = GEN_ROUNDS + 1;
	gen_round(&m, "second half, the next generation", half, GEN_CACHE,
		  gen, 0, GEN_CACHE, 0);
	/* One more: the first half's bases are two generations old. */
	m.generation = GEN_ROUNDS + 2;
	gen_round(&m, "second half, a generation later", half, GEN_CACHE,
		  gen, 0, 0, GEN_CACHE);
	gen_round(&m, "second half again", half, GEN_CACHE, gen, GEN_CACHE, 0,
		  0);
	check_stats(&m, "after the scan with generations");

	/* Plain LRU: RESET, then the same scan without the flag. */
	r = xbz_set_cache(m.xfd, KVM_XBZRLE_CACHE_RESET, 0, NULL);
	if (r)
		tap_diag("%s: RESET: %s", name, kvm_util_error());
	memset(m.state, BASE_NONE, m.npages);
	memset(&m.total, 0, sizeof(m.total));
	m.generation = 0;
	for (round = 1; round <= GEN_LRU_ROUNDS; round++) {
		snprintf(what, sizeof(what), "scan without generation, round %u",
			 round);
		gen_round(&m, what, HOST_ZERO, ws, 0, 0, 0,
			  round == 1 ? GEN_CACHE : ws);
	}
	check_stats(&m, "after the plain LRU scan");
	r = xbz_get_stats(m.xfd, &s);
	tap_result(!r && !s.refused, "%s: plain LRU: no refusal (refused %llu)",
		   name, r ? 0ULL : (unsigned long long)s.refused);
out:
	points_end(&p);
	mig_destroy(&m);
}

/* -------------------------------------------------------------------------- */

int main(void)
{
	struct kvm_xbzrle_caps caps;
	time_t start = time(NULL);

	xbz_require_offload(&caps, true);
	tap_timeout(TIMEOUT_S);

	tap_plan(2 * (PAUSED_ROUNDS + 4) + 5 + HOST_POINTS + 3 + 7 +
		 GEN_POINTS);
	test_guest_paused(false);
	test_guest_paused(true);
	test_guest_running();
	test_host();
	test_small_buffer();
	test_two_contexts();
	test_generation();
	tap_diag("offload_test took %lld s", (long long)(time(NULL) - start));
	tap_finish();
}
