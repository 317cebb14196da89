// SPDX-License-Identifier: GPL-2.0
/*
 * offload_exact_test - the base of every delta is what the destination
 * holds, also when the VM's memory map moves.
 *
 * A destination keeps pages per host page (QEMU's RAMBlock and offset),
 * not per guest address.  Each fixture plays a caller whose memory map
 * does what a real VM's does, checks each record it gets as a receiver
 * can (records.h), applies it to such a destination and compares that
 * with the source:
 *
 *   alias          two memslots map the same host memory (std-VGA's
 *                  0xa0000 window and its framebuffer BAR); each page is
 *                  encoded as one alias, the other, the first again:
 *                  destination_exact, one_base_for_both (no RAW but the
 *                  first), region_removal_drops_base (of the other alias);
 *   bases          pages sent once: KVM_XBZRLE_INVALIDATE of one the caller
 *                  sent itself (RAW next, the others keep their bases), of
 *                  all (every base dropped, the counters kept), its EINVAL
 *                  cases; an unchanged page with max_delta 1 is UNCHANGED;
 *   output_fault   the outputs of ENCODE become unwritable during the call
 *                  (userfaultfd holds it while they are write-protected):
 *                  it fails with EFAULT, and no base moved on without the
 *                  caller (the next call makes the destination equal);
 *   slot_replaced  while ENCODE waits on a fault in guest memory
 *                  (guest_page_read) or in the record buffer where it
 *                  builds KVM_CLEAR_DIRTY_LOG's argument
 *                  (clear_argument_written), the memslot is deleted and
 *                  created again with the same id over other memory: the
 *                  call does no page of it, and its dirty bits all survive.
 *
 * And caps_offer_invalidate: GET_CAPS offers INVALIDATE, HOST_PAGE_BASES
 * and their limits.  On the kernel's kselftest harness, each case in its
 * own process with its own VM and context.  Without KVM, the module or
 * manual dirty-log protection the set-up fails, and so do the
 * output_fault and slot_replaced cases without userfaultfd.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kselftest_harness.h"

#include "abi_util.h"
#include "guest_util.h"
#include "kvm_util.h"
#include "records.h"
#include "test_util.h"
#include "uffd_util.h"
#include "xbzrle_util.h"

#define PAGE		GUEST_PAGE_SIZE
#define NPAGES		128
#define GPA_A		0x100000ULL
#define GPA_B		0x400000ULL
/* a case that holds ENCODE in a fault: the handler waits up to 10 s */
#define UFFD_TIMEOUT_S	60

static uint64_t records[NPAGES * REC_MAX / 8];	/* 8-byte aligned */
#define RECS_PAGES	((sizeof(records) + PAGE - 1) / PAGE)
static uint64_t gpas[NPAGES];
static uint8_t scratch[2 * PAGE];

/*
 * Private anonymous pages, never huge: a page left untouched for
 * userfaultfd must not be filled in with a neighbour's large folio.
 */
static void *map_pages(struct __test_metadata *_metadata, size_t n)
{
	void *p = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap %zu pages: %s", n, strerror(errno));
	/* EINVAL: a kernel without transparent huge pages */
	ASSERT_TRUE(!madvise(p, n * PAGE, MADV_NOHUGEPAGE) || errno == EINVAL)
		TH_LOG("madvise(MADV_NOHUGEPAGE): %s", strerror(errno));
	return p;
}

/*
 * Every fixture's start: a VM with manual dirty-log protection, bits
 * initially set, @nslots memslots (1 at GPA_A, 2 at GPA_B) over the same
 * @n pages, and a context bound to it with a region for each.
 */
struct exact {
	struct kvm_vm vm;
	int xfd;
	unsigned int n;
	uint8_t *mem;		/* the @n pages, the source */
	uint8_t *dest;		/* the destination's copy of them */
	char why[256];		/* encode_apply()'s message */
};

static void exact_setup(struct __test_metadata *_metadata, struct exact *e,
			unsigned int n, unsigned int nslots)
{
	const uint64_t slot_gpa[] = { GPA_A, GPA_B };
	unsigned int i;
	int err;

	e->xfd = -1;
	e->vm.fd = -1;
	e->n = n;
	/* the module is what is tested: its absence is a failure */
	ASSERT_EQ(0, gmig_check_offload(true)) TH_LOG("%s", kvm_util_error());
	e->mem = map_pages(_metadata, n);
	e->dest = calloc(n, PAGE);
	ASSERT_NE(NULL, e->dest);
	ASSERT_EQ(0, vm_create(&e->vm, VM_MANUAL_PROTECT | VM_INITIALLY_SET))
		TH_LOG("%s", kvm_util_error());
	for (i = 0; i < nslots; i++) {
		err = kvm_set_memslot(e->vm.fd, i + 1, KVM_MEM_LOG_DIRTY_PAGES,
				      slot_gpa[i], n * PAGE, e->mem);
		ASSERT_EQ(0, err) TH_LOG("KVM_SET_USER_MEMORY_REGION slot %u: %s",
					 i + 1, strerror(err));
	}
	e->xfd = xbz_open();
	ASSERT_LE(0, e->xfd) TH_LOG("%s", kvm_util_error());
	ASSERT_EQ(0, xbz_bind(e->xfd, e->vm.fd)) TH_LOG("%s", kvm_util_error());
	for (i = 0; i < nslots; i++)
		ASSERT_EQ(0, xbz_set_region(e->xfd, i + 1, slot_gpa[i], n * PAGE,
					    e->mem))
			TH_LOG("%s", kvm_util_error());
}

static void exact_teardown(struct exact *e)
{
	if (e->xfd >= 0)
		close(e->xfd);
	vm_destroy(&e->vm);
	munmap(e->mem, e->n * PAGE);
	free(e->dest);
}

/*
 * Encodes the @n pages at @gpa through @e's context and applies the
 * records to @dest, the destination's copy of those pages in order, each
 * checked first as a receiver can (records.h: a delta is the one the
 * portable encoder makes of the destination's page).  Returns the type of
 * the last record, or -1 (message in @e->why).
 */
static int encode_apply(struct exact *e, uint64_t gpa, unsigned int n,
			uint32_t max_delta, uint8_t *dest)
{
	struct xbz_encode_result res;
	struct xbz_record rec;
	uint32_t off = 0;
	unsigned int i;
	int type = -1;

	for (i = 0; i < n; i++)
		gpas[i] = gpa + i * PAGE;
	if (xbz_encode(e->xfd, 0, gpas, n, records, sizeof(records),
		       max_delta, &res))
		return set_why(e->why, sizeof(e->why), "%s", kvm_util_error());
	if (res.npages_done != n)
		return set_why(e->why, sizeof(e->why), "%u of %u pages done",
			       res.npages_done, n);
	for (i = 0; i < n; i++) {
		if (xbz_next_record(records, res.records_used, &off, &rec) != 1 ||
		    rec.gpa != gpas[i] ||
		    xbz_check_apply_record(&rec, dest + i * PAGE, scratch, NULL))
			return set_why(e->why, sizeof(e->why), "record %u: %s", i,
				       kvm_util_error());
		type = rec.type;
	}
	return type;
}

#define ALIAS_N		16U

FIXTURE(alias) {
	struct exact e;
	int t3;			/* the last record's type, or -1 */
	unsigned int deltas;	/* pages whose second and third were not RAW */
};

/*
 * Page p: v1 as alias A, v2 (one byte changed) as alias B, v3 as alias A
 * again, which is v1 or differs from it by one other byte.  A base per
 * guest frame sends v3 as a delta on v1 (or UNCHANGED), which the
 * destination applies to v2.
 */
FIXTURE_SETUP(alias)
{
	struct exact *e = &self->e;
	unsigned int p;
	int t1, t2;

	exact_setup(_metadata, e, ALIAS_N, 2);
	for (p = 0; p < ALIAS_N; p++) {
		uint8_t *src = e->mem + p * PAGE, *d = e->dest + p * PAGE;

		memset(src, 0x11, PAGE);
		t1 = encode_apply(e, GPA_A + p * PAGE, 1, PAGE, d);
		src[100] = 0x22;
		t2 = encode_apply(e, GPA_B + p * PAGE, 1, PAGE, d);
		src[100] = 0x11;		/* even pages: v3 == v1 */
		if (p & 1)
			src[p * 7] = 0x33;
		self->t3 = encode_apply(e, GPA_A + p * PAGE, 1, PAGE, d);
		if (t1 < 0 || t2 < 0 || self->t3 < 0) {
			self->t3 = -1;
			break;
		}
		self->deltas += t2 != KVM_XBZRLE_RECORD_RAW &&
				self->t3 != KVM_XBZRLE_RECORD_RAW;
	}
}

FIXTURE_TEARDOWN(alias)
{
	exact_teardown(&self->e);
}

/* a host page encoded as gpa A, B, A: the destination equals the source */
TEST_F(alias, destination_exact)
{
	ASSERT_LE(0, self->t3) TH_LOG("%s", self->e.why);
	EXPECT_EQ(0U, xbz_pages_differing(self->e.mem, self->e.dest, ALIAS_N));
}

/* the two memslots share one base: the second and third are not RAW */
TEST_F(alias, one_base_for_both)
{
	EXPECT_EQ(ALIAS_N, self->deltas) TH_LOG("%u of %u pages had their base",
						self->deltas, ALIAS_N);
}

/* removing alias B drops the host pages' bases: A is sent whole */
TEST_F(alias, region_removal_drops_base)
{
	struct exact *e = &self->e;
	int t;

	ASSERT_LE(0, self->t3) TH_LOG("%s", e->why);
	ASSERT_EQ(0, xbz_set_region(e->xfd, 2, GPA_B, 0, e->mem))
		TH_LOG("%s", kvm_util_error());
	t = encode_apply(e, GPA_A, 1, PAGE, e->dest);
	EXPECT_EQ(KVM_XBZRLE_RECORD_RAW, t)
		TH_LOG("record %s %s", t < 0 ? "none" : xbz_record_type_name(t),
		       e->why);
}

static int invalidate(int xfd, uint32_t size, uint32_t flags, uint64_t addr,
		      uint64_t len, uint64_t reserved)
{
	struct kvm_xbzrle_invalidate arg = {
		.size = size, .flags = flags, .userspace_addr = addr,
		.memory_size = len, .reserved[1] = reserved,
	};

	return abi_ioctl(xfd, KVM_XBZRLE_INVALIDATE, &arg);
}

TEST(caps_offer_invalidate)
{
	struct kvm_xbzrle_caps caps;

	ASSERT_EQ(0, xbz_check_offload(&caps)) TH_LOG("%s", kvm_util_error());
	EXPECT_TRUE(!!(caps.capabilities & KVM_XBZRLE_CAP_INVALIDATE));
	EXPECT_TRUE(!!(caps.capabilities & KVM_XBZRLE_CAP_HOST_PAGE_BASES));
	EXPECT_EQ((uint32_t)KVM_XBZRLE_MAX_BATCH, caps.max_batch);
	EXPECT_LE((uint32_t)KVM_XBZRLE_MAX_REGIONS, caps.max_regions);
}

#define BASES_N		4U	/* pages of 0x5a sent once: each has its base */

FIXTURE(bases) {
	struct exact e;
};

FIXTURE_SETUP(bases)
{
	exact_setup(_metadata, &self->e, BASES_N, 1);
	memset(self->e.mem, 0x5a, BASES_N * PAGE);
	ASSERT_LE(0, encode_apply(&self->e, GPA_A, BASES_N, PAGE, self->e.dest))
		TH_LOG("first send: %s", self->e.why);
}

FIXTURE_TEARDOWN(bases)
{
	exact_teardown(&self->e);
}

/* All BASES_N pages again, the records applied, the counters read. */
static void send_all(struct __test_metadata *_metadata, struct exact *e,
		     struct kvm_xbzrle_stats *stats)
{
	ASSERT_LE(0, encode_apply(e, GPA_A, BASES_N, PAGE, e->dest))
		TH_LOG("%s", e->why);
	ASSERT_EQ(0, xbz_get_stats(e->xfd, stats)) TH_LOG("%s", kvm_util_error());
}

/* a page sent around the module is RAW next, the others keep their bases */
TEST_F(bases, invalidate_page)
{
	struct kvm_xbzrle_stats before, after;
	struct exact *e = &self->e;
	int err;

	ASSERT_EQ(0, xbz_get_stats(e->xfd, &before)) TH_LOG("%s", kvm_util_error());
	/* the caller sends page 1 itself after changing it */
	e->mem[PAGE + 9] = 1;
	memcpy(e->dest + PAGE, e->mem + PAGE, PAGE);
	err = invalidate(e->xfd, 40, 0, (uintptr_t)e->mem + PAGE, PAGE, 0);
	EXPECT_EQ(0, err) TH_LOG("INVALIDATE: %s", errname(err));
	e->mem[PAGE + 10] = 2;
	send_all(_metadata, e, &after);
	EXPECT_EQ(0U, xbz_pages_differing(e->mem, e->dest, BASES_N));
	EXPECT_EQ(before.raw_pages + 1, after.raw_pages);
	EXPECT_EQ(before.unchanged_pages + 3, after.unchanged_pages);
}

/* ALL drops every base and keeps the counters */
TEST_F(bases, invalidate_all)
{
	struct kvm_xbzrle_stats before, after;
	struct exact *e = &self->e;
	int err;

	/* a second send: the counters hold both */
	send_all(_metadata, e, &before);
	err = invalidate(e->xfd, 40, KVM_XBZRLE_INVALIDATE_ALL, 0, 0, 0);
	EXPECT_EQ(0, err) TH_LOG("INVALIDATE ALL: %s", errname(err));
	ASSERT_EQ(0, xbz_get_stats(e->xfd, &before)) TH_LOG("%s", kvm_util_error());
	EXPECT_LE(2ULL * BASES_N, before.pages);
	send_all(_metadata, e, &after);
	EXPECT_EQ(before.raw_pages + BASES_N, after.raw_pages);
	EXPECT_EQ(0U, xbz_pages_differing(e->mem, e->dest, BASES_N));
}

TEST_F(bases, invalidate_bad_arguments)
{
	uint64_t a = (uintptr_t)self->e.mem;
	const struct {
		const char *what;
		uint32_t size, flags;
		uint64_t addr, len, reserved;
	} cases[] = {
		{ "unknown flag", 40, 4, a, PAGE, 0 },
		{ "STOP without ALL", 40, KVM_XBZRLE_INVALIDATE_STOP, a, PAGE, 0 },
		{ "reserved field", 40, 0, a, PAGE, 1 },
		{ "size below VER1", 32, 0, a, PAGE, 0 },
		{ "unaligned address", 40, 0, a + 1, PAGE, 0 },
		{ "unaligned length", 40, 0, a, PAGE + 1, 0 },
		{ "zero length", 40, 0, a, 0, 0 },
		{ "range wraps", 40, 0, -PAGE, 2 * PAGE, 0 },
		{ "ALL with a range", 40, KVM_XBZRLE_INVALIDATE_ALL, a, PAGE, 0 },
	};
	unsigned int i;
	int e;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		e = invalidate(self->e.xfd, cases[i].size, cases[i].flags,
			       cases[i].addr, cases[i].len, cases[i].reserved);
		EXPECT_EQ(EINVAL, e) TH_LOG("%s: %s, not EINVAL", cases[i].what,
					    errname(e));
	}
}

/* max_delta 1: no delta fits, an unchanged page is still UNCHANGED */
TEST_F(bases, max_delta_1_unchanged)
{
	int t = encode_apply(&self->e, GPA_A, 1, 1, self->e.dest);

	EXPECT_EQ(KVM_XBZRLE_RECORD_UNCHANGED, t)
		TH_LOG("record %s %s", t < 0 ? "none" : xbz_record_type_name(t),
		       self->e.why);
}

/* What a fault handler's action works on. */
struct fault_ctx {
	void *arg_page;			/* output fault: made read-only */
	int vm_fd;			/* slot replaced: the memslot's VM */
	void *new_mem;
};

/*
 * This kernel lets the test use userfaultfd: the cases that hold ENCODE
 * in a fault cannot run without it, so its absence is a failure.
 */
static void require_uffd(struct __test_metadata *_metadata)
{
	int fd = syscall(SYS_userfaultfd, O_CLOEXEC);

	ASSERT_LE(0, fd)
		TH_LOG("userfaultfd: %s (CONFIG_USERFAULTFD? vm.unprivileged_userfaultfd, not root?)",
		       strerror(errno));
	close(fd);
}

/*
 * The fault cases' set-up: userfaultfd, the VM and context of NPAGES
 * pages in memslot 1, and @job (not registered yet), whose fault runs
 * @action with @f.
 */
static void fault_setup(struct __test_metadata *_metadata, struct exact *e,
			struct uffd_job *job,
			void (*action)(struct uffd_job *job), struct fault_ctx *f)
{
	*job = (struct uffd_job) { .uffd = -1, .action = action, .opaque = f };
	require_uffd(_metadata);
	exact_setup(_metadata, e, NPAGES, 1);
}

/*
 * After fault_setup() and the case's own set-up: fills guest memory but
 * @fault_page if it is a page of it (a page registered for userfaultfd
 * must never have been touched), registers @fault_page for missing-page
 * faults in @job and starts @thr, which answers its one fault with @job's
 * action.
 */
static void start_fault_job(struct __test_metadata *_metadata,
			    struct exact *e, void *fault_page,
			    struct uffd_job *job, pthread_t *thr)
{
	unsigned int i;

	for (i = 0; i < NPAGES; i++) {
		gpas[i] = GPA_A + i * PAGE;
		if (e->mem + i * PAGE != fault_page)
			memset(e->mem + i * PAGE, i + 1, PAGE);
	}
	job->uffd = uffd_register_missing(fault_page, PAGE);
	ASSERT_LE(0, job->uffd) TH_LOG("%s", kvm_util_error());
	ASSERT_EQ(0, pthread_create(thr, NULL, uffd_answer_one, job));
}

static void make_read_only(struct uffd_job *job)
{
	struct fault_ctx *f = job->opaque;

	if (mprotect(f->arg_page, PAGE, PROT_READ))
		job->err = errno;
}

/*
 * The outputs cannot be written at the end of the call: the caller gets
 * -EFAULT and none of the records, so its destination lacks them.  The
 * set-up makes that call; page 100 is the one it faults on.
 */
FIXTURE(output_fault) {
	struct exact e;
	struct kvm_xbzrle_encode *enc;
	struct uffd_job job;
	int ret, err;
};

FIXTURE_SETUP(output_fault)
{
	struct exact *e = &self->e;
	struct fault_ctx f;
	pthread_t thr;

	fault_setup(_metadata, e, &self->job, make_read_only, &f);
	self->enc = map_pages(_metadata, 1);
	f = (struct fault_ctx) { .arg_page = self->enc };
	start_fault_job(_metadata, e, e->mem + 100 * PAGE, &self->job, &thr);
	*self->enc = (struct kvm_xbzrle_encode) {
		.size = sizeof(*self->enc), .pages = (uintptr_t)gpas,
		.records = (uintptr_t)records, .npages = NPAGES,
		.records_size = sizeof(records), .max_delta = PAGE,
	};
	self->ret = ioctl(e->xfd, KVM_XBZRLE_ENCODE, self->enc);
	self->err = errno;
	pthread_join(thr, NULL);
	ASSERT_EQ(0, mprotect(self->enc, PAGE, PROT_READ | PROT_WRITE));
}

FIXTURE_TEARDOWN(output_fault)
{
	if (self->job.uffd >= 0)
		close(self->job.uffd);
	munmap(self->enc, PAGE);
	exact_teardown(&self->e);
}

TEST_F_TIMEOUT(output_fault, fails_with_efault, UFFD_TIMEOUT_S)
{
	EXPECT_EQ(-1, self->ret);
	EXPECT_EQ(EFAULT, self->err) TH_LOG("ENCODE: %s", errname(self->err));
	EXPECT_EQ(1, self->job.faults);
	EXPECT_EQ(0, self->job.err) TH_LOG("handler: %s", errname(self->job.err));
}

/* the destination got nothing of that call: the next must be whole */
TEST_F_TIMEOUT(output_fault, no_base_moved_on, UFFD_TIMEOUT_S)
{
	ASSERT_LE(0, encode_apply(&self->e, GPA_A, NPAGES, PAGE, self->e.dest))
		TH_LOG("%s", self->e.why);
	EXPECT_EQ(0U, xbz_pages_differing(self->e.mem, self->e.dest, NPAGES));
}

static void replace_slot(struct uffd_job *job)
{
	struct fault_ctx *f = job->opaque;

	if (kvm_set_memslot(f->vm_fd, 1, 0, GPA_A, 0, NULL) ||
	    kvm_set_memslot(f->vm_fd, 1, KVM_MEM_LOG_DIRTY_PAGES, GPA_A,
			    NPAGES * PAGE, f->new_mem))
		job->err = EPROTO;
}

/*
 * The set-up replaces memslot 1 (same id and gpa, other memory, all pages
 * dirty) while ENCODE of its 128 pages with CLEAR_DIRTY_LOG waits in a
 * fault: on page 10 of guest memory (after the first chunk's clear) or on
 * the record buffer where the module writes the clear's argument (before
 * the clear), then reads the new memslot's dirty log.
 */
FIXTURE(slot_replaced) {
	struct exact e;
	uint8_t *new_mem, *recs;
	struct uffd_job job;
	struct xbz_encode_result res;
	int ret, err;
	unsigned int lost;	/* dirty bits of the new memslot cleared */
};

FIXTURE_VARIANT(slot_replaced) {
	bool fault_in_records;
	uint32_t want_done;	/* pages the call does; 0: it fails */
};

FIXTURE_VARIANT_ADD(slot_replaced, guest_page_read) {
	.fault_in_records = false, .want_done = 64,
};

FIXTURE_VARIANT_ADD(slot_replaced, clear_argument_written) {
	.fault_in_records = true, .want_done = 0,
};

FIXTURE_SETUP(slot_replaced)
{
	uint64_t bitmap[NPAGES / 64];
	struct exact *e = &self->e;
	struct fault_ctx f;
	unsigned int i;
	pthread_t thr;

	fault_setup(_metadata, e, &self->job, replace_slot, &f);
	self->new_mem = map_pages(_metadata, NPAGES);
	self->recs = map_pages(_metadata, RECS_PAGES);
	f = (struct fault_ctx) { .vm_fd = e->vm.fd, .new_mem = self->new_mem };
	start_fault_job(_metadata, e, variant->fault_in_records ?
			self->recs : e->mem + 10 * PAGE, &self->job, &thr);
	self->ret = xbz_encode(e->xfd, KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG, gpas,
			       NPAGES, self->recs, sizeof(records), PAGE,
			       &self->res);
	self->err = self->ret ? errno : 0;
	pthread_join(thr, NULL);

	/* the new memslot starts all dirty: nothing of it was read */
	ASSERT_EQ(0, vm_get_dirty_log(&e->vm, 1, bitmap))
		TH_LOG("%s", kvm_util_error());
	for (i = 0; i < NPAGES; i++)
		self->lost += !(bitmap[i / 64] & (1ULL << (i % 64)));
}

FIXTURE_TEARDOWN(slot_replaced)
{
	if (self->job.uffd >= 0)
		close(self->job.uffd);
	munmap(self->recs, RECS_PAGES * PAGE);
	munmap(self->new_mem, NPAGES * PAGE);
	exact_teardown(&self->e);
}

/* the call does no page of the new memslot: 64 pages done, or ENOENT */
TEST_F_TIMEOUT(slot_replaced, no_page_of_new_memslot, UFFD_TIMEOUT_S)
{
	EXPECT_EQ(1, self->job.faults);
	EXPECT_EQ(0, self->job.err) TH_LOG("handler: %s", errname(self->job.err));
	if (variant->want_done) {
		EXPECT_EQ(0, self->ret) TH_LOG("ENCODE: %s", errname(self->err));
		EXPECT_EQ(variant->want_done, self->res.npages_done);
	} else {
		EXPECT_EQ(-1, self->ret);
		EXPECT_EQ(ENOENT, self->err) TH_LOG("ENCODE: %s", errname(self->err));
	}
}

TEST_F_TIMEOUT(slot_replaced, dirty_bits_survive, UFFD_TIMEOUT_S)
{
	EXPECT_EQ(0U, self->lost) TH_LOG("%u of %u dirty bits of the new memslot were cleared",
					 self->lost, NPAGES);
}

XBZRLE_SCALE_TIMEOUTS()

TEST_HARNESS_MAIN
