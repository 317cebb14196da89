// SPDX-License-Identifier: GPL-2.0
/*
 * offload_exact_test - the base of every delta is what the destination
 * holds, also when the VM's memory map moves.
 *
 * A destination keeps pages per host page (QEMU's RAMBlock and offset),
 * not per guest address.  Each test plays a caller whose memory map does
 * what a real VM's does, applies the records it gets to such a
 * destination, and compares it with the source:
 *
 *   alias        two memslots map the same host memory (std-VGA's 0xa0000
 *                window and its framebuffer BAR): a page encoded as one
 *                alias, then the other, then the first again;
 *   invalidate   KVM_XBZRLE_INVALIDATE: pages the caller sent itself lose
 *                their base (and every errno it documents);
 *   max_delta    an unchanged page is UNCHANGED even with max_delta 1;
 *   output fault the outputs of ENCODE become unwritable during the call
 *                (userfaultfd holds the call while the test write-protects
 *                them): the caller saw -EFAULT, so no base may have moved
 *                on without it;
 *   slot replaced  while ENCODE waits on a fault in guest memory, or in
 *                the record buffer where it builds KVM_CLEAR_DIRTY_LOG's
 *                argument, the memslot is deleted and created again with
 *                the same id over other memory: the new memslot's dirty
 *                bits must all survive the call.
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

#include "kvm_util.h"
#include "records.h"
#include "test_util.h"
#include "uffd_util.h"
#include "xbzrle_tap.h"
#include "xbzrle_util.h"

#define PAGE		GUEST_PAGE_SIZE
#define REC_MAX		KVM_XBZRLE_RECORD_MAX_SIZE
#define NPAGES		128
#define GPA_A		0x100000ULL
#define GPA_B		0x400000ULL
#define TIMEOUT_S	100

static uint8_t records[NPAGES * REC_MAX] __attribute__((aligned(8)));
static uint64_t gpas[NPAGES];

/*
 * Private anonymous pages, never huge: a page left untouched for
 * userfaultfd must not be filled in with a neighbour's large folio.
 */
static void *map_pages(size_t n)
{
	void *p = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	TEST_ASSERT(p != MAP_FAILED, "mmap %zu pages", n);
	/* EINVAL: a kernel without transparent huge pages */
	TEST_ASSERT(!madvise(p, n * PAGE, MADV_NOHUGEPAGE) || errno == EINVAL,
		    "madvise(MADV_NOHUGEPAGE)");
	return p;
}

static void set_memslot(int vm_fd, uint32_t slot, uint64_t gpa, size_t n,
			void *hva)
{
	int err = kvm_set_memslot(vm_fd, slot, KVM_MEM_LOG_DIRTY_PAGES, gpa,
				  n * PAGE, hva);

	if (err) {
		errno = err;
		tap_bail_out("KVM_SET_USER_MEMORY_REGION slot %u", slot);
	}
}

/* A VM with manual dirty-log protection, bits initially set. */
static int vm_create_initially_set(void)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
		.args[0] = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE |
			   KVM_DIRTY_LOG_INITIALLY_SET,
	};
	int fd = ioctl(kvm_open(), KVM_CREATE_VM, 0);

	if (fd < 0 || ioctl(fd, KVM_ENABLE_CAP, &cap))
		tap_bail_out("KVM_CREATE_VM with KVM_DIRTY_LOG_INITIALLY_SET");
	return fd;
}

static int open_bound(int vm_fd)
{
	int xfd = xbz_open();

	TEST_ASSERT(xfd >= 0 && !xbz_bind(xfd, vm_fd),
		    "open and bind a context: %s", kvm_util_error());
	return xfd;
}

static void add_region(int xfd, uint32_t slot, uint64_t gpa, size_t n,
		       void *hva)
{
	TEST_ASSERT(!xbz_set_region(xfd, slot, gpa, n * PAGE, hva),
		    "%s", kvm_util_error());
}

/*
 * Encodes the @n pages at @gpa (flags @flags) and applies the records to
 * @dest, the destination's copy of those pages in order.  Returns the
 * type of the last record, or -1 (message in *@why).
 */
static int encode_apply(int xfd, uint32_t flags, uint64_t gpa, unsigned int n,
			uint32_t max_delta, uint8_t *dest, char *why)
{
	struct xbz_encode_result res;
	struct xbz_record rec;
	uint32_t off = 0;
	unsigned int i;
	int type = -1;

	for (i = 0; i < n; i++)
		gpas[i] = gpa + i * PAGE;
	if (xbz_encode(xfd, flags, gpas, n, records, sizeof(records),
		       max_delta, &res))
		return set_why(why, 256, "%s", kvm_util_error());
	if (res.npages_done != n)
		return set_why(why, 256, "%u of %u pages done", res.npages_done, n);
	for (i = 0; i < n; i++) {
		if (xbz_next_record(records, res.records_used, &off, &rec) != 1 ||
		    rec.gpa != gpas[i] || xbz_apply_record(&rec, dest + i * PAGE))
			return set_why(why, 256, "record %u: %s", i,
				       kvm_util_error());
		type = rec.type;
	}
	return type;
}

static unsigned int pages_differing(const uint8_t *a, const uint8_t *b,
				    unsigned int n)
{
	unsigned int i, d = 0;

	for (i = 0; i < n; i++)
		d += !!memcmp(a + i * PAGE, b + i * PAGE, PAGE);
	return d;
}

/* ---------------------------------- alias --------------------------------- */

static void test_alias(void)
{
	enum { N = 16 };
	uint8_t *mem = map_pages(N), *dest = calloc(N, PAGE);
	int vm_fd = vm_create_initially_set(), xfd, t1, t2, t3 = 0;
	unsigned int p, diff, deltas = 0;
	char why[256] = "";

	set_memslot(vm_fd, 1, GPA_A, N, mem);
	set_memslot(vm_fd, 2, GPA_B, N, mem);
	xfd = open_bound(vm_fd);
	add_region(xfd, 1, GPA_A, N, mem);
	add_region(xfd, 2, GPA_B, N, mem);

	/*
	 * Page p: v1 as alias A, v2 (one byte changed) as alias B, v3 as
	 * alias A again, which is v1 or differs from it by one other byte.
	 * A base per guest frame sends v3 as a delta on v1 (or UNCHANGED),
	 * which the destination applies to v2.
	 */
	for (p = 0; p < N; p++) {
		uint8_t *src = mem + p * PAGE, *d = dest + p * PAGE;

		memset(src, 0x11, PAGE);
		t1 = encode_apply(xfd, 0, GPA_A + p * PAGE, 1, PAGE, d, why);
		src[100] = 0x22;
		t2 = encode_apply(xfd, 0, GPA_B + p * PAGE, 1, PAGE, d, why);
		src[100] = 0x11;		/* even pages: v3 == v1 */
		if (p & 1)
			src[p * 7] = 0x33;
		t3 = encode_apply(xfd, 0, GPA_A + p * PAGE, 1, PAGE, d, why);
		if (t1 < 0 || t2 < 0 || t3 < 0)
			break;
		deltas += t2 != KVM_XBZRLE_RECORD_RAW &&
			  t3 != KVM_XBZRLE_RECORD_RAW;
	}
	diff = pages_differing(mem, dest, N);
	if (!tap_result(t3 >= 0 && !diff,
			"alias: a host page encoded as gpa A, B, A: the destination equals the source"))
		tap_diag("%s; %u of %u pages differ", why, diff, N);
	if (!tap_result(deltas == N,
			"alias: the two memslots share one base (the second and third records are not RAW)"))
		tap_diag("%u of %u pages had their base", deltas, N);

	/* removing alias B drops the host pages' bases: A is sent whole */
	if (xbz_set_region(xfd, 2, GPA_B, 0, mem))
		tap_diag("%s", kvm_util_error());
	t1 = encode_apply(xfd, 0, GPA_A, 1, PAGE, dest, why);
	if (!tap_result(t1 == KVM_XBZRLE_RECORD_RAW,
			"alias: removing one alias's region drops the base the other used"))
		tap_diag("record %s %s", t1 < 0 ? "none" :
			 xbz_record_type_name(t1), why);
	close(xfd);
	close(vm_fd);
	munmap(mem, N * PAGE);
	free(dest);
}

/* ------------------------------- invalidate ------------------------------- */

static int invalidate(int xfd, uint32_t size, uint32_t flags, uint64_t addr,
		      uint64_t len, uint64_t reserved)
{
	struct kvm_xbzrle_invalidate arg = {
		.size = size, .flags = flags, .userspace_addr = addr,
		.memory_size = len, .reserved[1] = reserved,
	};

	return ioctl(xfd, KVM_XBZRLE_INVALIDATE, &arg) ? errno : 0;
}

static void test_invalidate(const struct kvm_xbzrle_caps *caps)
{
	enum { N = 4 };
	uint8_t *mem = map_pages(N), *dest = calloc(N, PAGE);
	int vm_fd = vm_create_initially_set(), xfd, t[4], i, bad = 0;
	struct kvm_xbzrle_stats before, after;
	uint64_t a = (uintptr_t)mem;
	char why[256] = "";
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

	tap_result(caps->capabilities & KVM_XBZRLE_CAP_INVALIDATE &&
		   caps->capabilities & KVM_XBZRLE_CAP_HOST_PAGE_BASES &&
		   caps->max_batch == KVM_XBZRLE_MAX_BATCH &&
		   caps->max_regions >= KVM_XBZRLE_MAX_REGIONS,
		   "invalidate: GET_CAPS offers INVALIDATE and HOST_PAGE_BASES, max_batch %u, max_regions %u",
		   caps->max_batch, caps->max_regions);

	set_memslot(vm_fd, 1, GPA_A, N, mem);
	xfd = open_bound(vm_fd);
	add_region(xfd, 1, GPA_A, N, mem);
	memset(mem, 0x5a, N * PAGE);
	encode_apply(xfd, 0, GPA_A, N, PAGE, dest, why);
	xbz_get_stats(xfd, &before);
	/* the caller sends page 1 itself after changing it */
	mem[PAGE + 9] = 1;
	memcpy(dest + PAGE, mem + PAGE, PAGE);
	t[0] = invalidate(xfd, 40, 0, a + PAGE, PAGE, 0);
	mem[PAGE + 10] = 2;
	t[1] = encode_apply(xfd, 0, GPA_A, N, PAGE, dest, why);
	if (!tap_result(!t[0] && t[1] >= 0 && !pages_differing(mem, dest, N) &&
			!xbz_get_stats(xfd, &after) &&
			after.raw_pages == before.raw_pages + 1 &&
			after.unchanged_pages == before.unchanged_pages + 3,
			"invalidate: a page sent around the module is RAW next, the others keep their bases"))
		tap_diag("INVALIDATE %s; %s", errname(t[0]), why);

	t[2] = invalidate(xfd, 40, KVM_XBZRLE_INVALIDATE_ALL, 0, 0, 0);
	xbz_get_stats(xfd, &before);
	t[3] = encode_apply(xfd, 0, GPA_A, N, PAGE, dest, why);
	if (!tap_result(!t[2] && t[3] >= 0 && !xbz_get_stats(xfd, &after) &&
			after.raw_pages == before.raw_pages + N &&
			before.pages >= 2 * N,
			"invalidate: ALL drops every base and keeps the counters"))
		tap_diag("INVALIDATE ALL %s; %s", errname(t[2]), why);

	for (i = 0; i < (int)(sizeof(cases) / sizeof(cases[0])); i++) {
		int e = invalidate(xfd, cases[i].size, cases[i].flags,
				   cases[i].addr, cases[i].len,
				   cases[i].reserved);

		if (e != EINVAL) {
			tap_diag("%s: %s, not EINVAL", cases[i].what, errname(e));
			bad++;
		}
	}
	tap_result(!bad, "invalidate: %d bad arguments each give EINVAL",
		   (int)(sizeof(cases) / sizeof(cases[0])));

	/* max_delta 1: no delta fits, an unchanged page is still UNCHANGED */
	t[0] = encode_apply(xfd, 0, GPA_A, 1, 1, dest, why);
	if (!tap_result(t[0] == KVM_XBZRLE_RECORD_UNCHANGED,
			"max_delta 1: an unchanged page is UNCHANGED"))
		tap_diag("record %s %s", t[0] < 0 ? "none" :
			 xbz_record_type_name(t[0]), why);
	close(xfd);
	close(vm_fd);
	munmap(mem, N * PAGE);
	free(dest);
}

/* ------------------------------ userfaultfd ------------------------------- */

/* What a fault handler's action works on. */
struct fault_ctx {
	void *arg_page;			/* output fault: made read-only */
	int vm_fd;			/* slot replaced: the memslot's VM */
	void *new_mem;
};

/* A userfaultfd on the never-touched page at @addr, or a bail-out. */
static int uffd_page(void *addr)
{
	int fd = uffd_register_missing(addr, PAGE);

	if (fd < 0)
		tap_bail_out("userfaultfd on one page: %s", kvm_util_error());
	return fd;
}

static void make_read_only(struct uffd_job *job)
{
	struct fault_ctx *f = job->opaque;

	if (mprotect(f->arg_page, PAGE, PROT_READ))
		job->err = errno;
}

/*
 * The outputs cannot be written at the end of the call: the caller gets
 * -EFAULT and none of the records, so its destination lacks them.
 */
static void test_output_fault(const char *no_uffd)
{
	uint8_t *mem = map_pages(NPAGES), *dest = calloc(NPAGES, PAGE);
	struct kvm_xbzrle_encode *enc = map_pages(1);
	int vm_fd, xfd, ret, err, t;
	struct uffd_job job = { 0 };
	struct fault_ctx f = { .arg_page = enc };
	unsigned int i, diff;
	char why[256] = "";
	pthread_t thr;

	if (no_uffd) {
		tap_skip(no_uffd, "output fault: ENCODE fails with EFAULT");
		tap_skip(no_uffd, "output fault: no base moved on without the caller");
		return;
	}
	vm_fd = vm_create_initially_set();
	set_memslot(vm_fd, 1, GPA_A, NPAGES, mem);
	xfd = open_bound(vm_fd);
	add_region(xfd, 1, GPA_A, NPAGES, mem);
	for (i = 0; i < NPAGES; i++) {
		gpas[i] = GPA_A + i * PAGE;
		if (i != 100)
			memset(mem + i * PAGE, i + 1, PAGE);
	}
	job = (struct uffd_job) { .uffd = uffd_page(mem + 100 * PAGE),
				  .action = make_read_only, .opaque = &f };
	pthread_create(&thr, NULL, uffd_answer_one, &job);
	*enc = (struct kvm_xbzrle_encode) {
		.size = sizeof(*enc), .pages = (uintptr_t)gpas,
		.records = (uintptr_t)records, .npages = NPAGES,
		.records_size = sizeof(records), .max_delta = PAGE,
	};
	ret = ioctl(xfd, KVM_XBZRLE_ENCODE, enc);
	err = errno;
	pthread_join(thr, NULL);
	mprotect(enc, PAGE, PROT_READ | PROT_WRITE);
	if (!tap_result(ret < 0 && err == EFAULT && job.faults == 1 && !job.err,
			"output fault: ENCODE fails with EFAULT"))
		tap_diag("ENCODE %d (%s), %d faults, handler %s", ret,
			 errname(err), job.faults, errname(job.err));

	/* the destination got nothing of that call: the next must be whole */
	t = encode_apply(xfd, 0, GPA_A, NPAGES, PAGE, dest, why);
	diff = pages_differing(mem, dest, NPAGES);
	if (!tap_result(t >= 0 && !diff,
			"output fault: no base moved on without the caller (the next call's records make the destination equal)"))
		tap_diag("%s; %u of %u pages differ", why, diff, NPAGES);
	close(job.uffd);
	close(xfd);
	close(vm_fd);
	munmap(mem, NPAGES * PAGE);
	munmap(enc, PAGE);
	free(dest);
}

/* ------------------------------ slot replaced ----------------------------- */

static void replace_slot(struct uffd_job *job)
{
	struct fault_ctx *f = job->opaque;

	if (kvm_set_memslot(f->vm_fd, 1, 0, GPA_A, 0, NULL) ||
	    kvm_set_memslot(f->vm_fd, 1, KVM_MEM_LOG_DIRTY_PAGES, GPA_A,
			    NPAGES * PAGE, f->new_mem))
		job->err = EPROTO;
}

/*
 * Memslot 1 is replaced (same id and gpa, other memory, all pages dirty)
 * while ENCODE of its 128 pages waits in a fault: on page 10 of the guest
 * memory (@fault_in_records false: after the first chunk's clear) or on
 * the record buffer where the module writes the clear's argument (true:
 * before the clear).  Either way no dirty bit of the new memslot may be
 * cleared, and no page of it may be encoded.
 */
static void slot_replaced(const char *no_uffd, bool fault_in_records,
			  const char *what)
{
	uint64_t bitmap[NPAGES / 64];
	struct kvm_dirty_log log = { .slot = 1, .dirty_bitmap = bitmap };
	uint32_t want_done = fault_in_records ? 0 : 64;
	struct xbz_encode_result res = { 0 };
	uint8_t *mem, *new_mem, *recs;
	unsigned int i, lost = 0;
	struct uffd_job job;
	struct fault_ctx f;
	int vm_fd, xfd, ret, err;
	pthread_t thr;

	if (no_uffd) {
		tap_skip(no_uffd, "slot replaced %s: the call does no page of the new memslot", what);
		tap_skip(no_uffd, "slot replaced %s: no dirty bit of the new memslot is cleared", what);
		return;
	}
	mem = map_pages(NPAGES);
	new_mem = map_pages(NPAGES);
	recs = map_pages(sizeof(records) / PAGE);
	vm_fd = vm_create_initially_set();
	set_memslot(vm_fd, 1, GPA_A, NPAGES, mem);
	xfd = open_bound(vm_fd);
	add_region(xfd, 1, GPA_A, NPAGES, mem);
	for (i = 0; i < NPAGES; i++) {
		gpas[i] = GPA_A + i * PAGE;
		if (i != 10 || fault_in_records)
			memset(mem + i * PAGE, i + 1, PAGE);
	}
	f = (struct fault_ctx) { .vm_fd = vm_fd, .new_mem = new_mem };
	job = (struct uffd_job) {
		.uffd = uffd_page(fault_in_records ? recs : mem + 10 * PAGE),
		.action = replace_slot, .opaque = &f,
	};
	pthread_create(&thr, NULL, uffd_answer_one, &job);
	ret = xbz_encode(xfd, KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG, gpas, NPAGES,
			 recs, sizeof(records), PAGE, &res);
	err = ret ? errno : 0;
	pthread_join(thr, NULL);
	if (!tap_result(job.faults == 1 && !job.err &&
			(want_done ? !ret && res.npages_done == want_done :
			 ret && err == ENOENT),
			"slot replaced %s: the call does no page of the new memslot (%s)",
			what, want_done ? "64 pages done" : "ENOENT"))
		tap_diag("ENCODE %d (%s), %u pages done; %d faults, handler %s",
			 ret, errname(err), res.npages_done, job.faults,
			 errname(job.err));

	/* the new memslot starts all dirty: nothing of it was read */
	if (ioctl(vm_fd, KVM_GET_DIRTY_LOG, &log))
		tap_bail_out("KVM_GET_DIRTY_LOG");
	for (i = 0; i < NPAGES; i++)
		lost += !(bitmap[i / 64] & (1ULL << (i % 64)));
	if (!tap_result(!lost,
			"slot replaced %s: no dirty bit of the new memslot is cleared",
			what))
		tap_diag("%u of %u dirty bits of the new memslot were cleared",
			 lost, NPAGES);
	close(job.uffd);
	close(xfd);
	close(vm_fd);
	munmap(mem, NPAGES * PAGE);
	munmap(new_mem, NPAGES * PAGE);
	munmap(recs, sizeof(records));
}

int main(void)
{
	struct kvm_xbzrle_caps caps;
	const char *no_uffd = NULL;
	int fd;

	tap_timeout(TIMEOUT_S);
	xbz_require_offload(&caps, true);
	fd = syscall(SYS_userfaultfd, O_CLOEXEC);
	if (fd < 0)
		no_uffd = errno == ENOSYS ? "no userfaultfd in this kernel (CONFIG_USERFAULTFD)" :
			  "userfaultfd refused (vm.unprivileged_userfaultfd, not root?)";
	else
		close(fd);

	tap_plan(14);
	test_alias();
	test_invalidate(&caps);
	test_output_fault(no_uffd);
	slot_replaced(no_uffd, false, "while a guest page is read");
	slot_replaced(no_uffd, true, "while the clear's argument is written");
	tap_finish();
}
