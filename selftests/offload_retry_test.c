// SPDX-License-Identifier: GPL-2.0
/*
 * offload_retry_test - KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG when KVM's
 * memslots change around a chunk's dirty-log clear.
 *
 * The clear of a chunk names a slot id, which the module only trusts
 * while KVM's memslot generation is the one it checked its regions
 * against: it compares the generation right before KVM_CLEAR_DIRTY_LOG
 * and right after.  If it changed, the chunk is done again against the
 * new memslots, up to the module parameter chunk_retries times; then the
 * call ends, with EAGAIN if no page was done (Documentation/uapi.rst).
 *
 * The change is made at a point the test chooses: the module writes the
 * clear's argument into the record buffer, whose first page is left
 * untouched and registered with userfaultfd; the fault handler adds a
 * memslot the context has no region for (the generation moves, the pages
 * encoded keep their memslot), then lets the write go on.  The cases:
 *
 *   redone             one change, default retries: the chunk is done
 *                      again, every page done and exact, its dirty bits
 *                      cleared;
 *   eagain             one change with chunk_retries 0: EAGAIN, the
 *                      outputs 0, no dirty bit cleared, and the next call
 *                      makes the destination equal (no base moved on);
 *   memslots_churning  a thread adds and deletes a memslot as fast as KVM
 *                      lets it: every call is exact or ends in EAGAIN
 *                      with nothing done;
 *   param_bounds       chunk_retries refuses more than 16.
 *
 * The change comes before KVM_CLEAR_DIRTY_LOG, so these cases take the
 * module's check before the clear; its check after the clear (a change
 * while KVM waited for its slots_lock, the cleared bits set again) is
 * not reached deterministically from userspace, and memslots_churning
 * only gives it a chance.
 *
 * On the kernel's kselftest harness; needs root (the module parameter,
 * a skip otherwise), and fails without the module or userfaultfd.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"

#include "kvm_util.h"
#include "records.h"
#include "test_util.h"
#include "uffd_util.h"
#include "xbzrle_util.h"

#define PAGE		GUEST_PAGE_SIZE
#define NPAGES		16ULL
#define SLOT_GPA	0x100000ULL
#define EXTRA_SLOT	5		/* the memslot that comes and goes */
#define EXTRA_GPA	0x40000000ULL
#define RECBUF_SIZE	(NPAGES * KVM_XBZRLE_RECORD_MAX_SIZE)
#define RETRIES		"chunk_retries"
#define RETRIES_PARAM	"/sys/module/kvm_xbzrle/parameters/" RETRIES
#define RETRIES_MAX	16		/* XBZRLE_CHUNK_RETRIES_MAX */
#define CHURN_CALLS	3000

FIXTURE(retry) {
	struct kvm_vm vm;
	struct xbz_dest dest;
	int xfd;
	uint64_t gpas[NPAGES];
	uint8_t *recbuf;		/* mmap()ed: first page never touched */
	uint8_t *extra_mem;		/* EXTRA_SLOT's page */
	uint8_t scratch[2 * PAGE];
	/* memslots_churning */
	pthread_t churner;
	bool churning;
	atomic_bool stop;
	atomic_ulong churns;
	atomic_int churn_err;
};

FIXTURE_SETUP(retry)
{
	struct kvm_xbzrle_caps caps;
	unsigned int i;
	uint8_t *p;

	self->xfd = -1;
	if (geteuid())
		SKIP(return, "not root: the module's parameters are root's");
	/* the module is what is tested: its absence is a failure */
	ASSERT_EQ(0, xbz_check_offload(&caps)) TH_LOG("%s", kvm_util_error());
	ASSERT_TRUE(!!(caps.capabilities & KVM_XBZRLE_CAP_CLEAR_DIRTY_LOG))
		TH_LOG("capabilities 0x%llx: no KVM_XBZRLE_CAP_CLEAR_DIRTY_LOG (module parameter clear_dirty_log=N?)",
		       (unsigned long long)caps.capabilities);

	/* every page of the memslot starts dirty, as a migration's first round */
	ASSERT_EQ(0, vm_create(&self->vm, VM_MANUAL_PROTECT | VM_INITIALLY_SET))
		TH_LOG("%s", kvm_util_error());
	ASSERT_EQ(0, vm_add_memslot(&self->vm, 0, SLOT_GPA, NPAGES * PAGE))
		TH_LOG("%s", kvm_util_error());
	for (i = 0; i < NPAGES; i++) {
		self->gpas[i] = SLOT_GPA + i * PAGE;
		p = vm_gpa_to_hva(&self->vm, self->gpas[i]);
		memset(p, i + 1, PAGE);
	}
	ASSERT_EQ(0, xbz_dest_init(&self->dest, &self->vm))
		TH_LOG("%s", kvm_util_error());
	self->xfd = xbz_open_bound(&self->vm);
	ASSERT_LE(0, self->xfd) TH_LOG("%s", kvm_util_error());
	self->recbuf = mmap(NULL, RECBUF_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->recbuf);
	/* EINVAL: a kernel without transparent huge pages */
	ASSERT_TRUE(!madvise(self->recbuf, RECBUF_SIZE, MADV_NOHUGEPAGE) ||
		    errno == EINVAL);
	self->extra_mem = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->extra_mem);
}

FIXTURE_TEARDOWN(retry)
{
	atomic_store(&self->stop, true);
	if (self->churning)
		pthread_join(self->churner, NULL);
	/* the case's _exit() skips atexit(): put chunk_retries back here */
	EXPECT_EQ(0, xbz_param_restore_all()) TH_LOG("%s", kvm_util_error());
	if (self->xfd >= 0)
		close(self->xfd);
	if (self->recbuf && self->recbuf != MAP_FAILED)
		munmap(self->recbuf, RECBUF_SIZE);
	xbz_dest_free(&self->dest);
	vm_destroy(&self->vm);
	if (self->extra_mem && self->extra_mem != MAP_FAILED)
		munmap(self->extra_mem, PAGE);
}

/* Adds EXTRA_SLOT if @add, else deletes it: 0 or KVM's errno. */
static int extra_slot(FIXTURE_DATA(retry) *self, bool add)
{
	return add ? kvm_set_memslot(self->vm.fd, EXTRA_SLOT, 0, EXTRA_GPA,
				     PAGE, self->extra_mem)
		   : kvm_set_memslot(self->vm.fd, EXTRA_SLOT, 0, EXTRA_GPA, 0,
				     NULL);
}

/* The fault handler's action: the memslot generation moves. */
static void add_extra_slot(struct uffd_job *job)
{
	job->err = extra_slot(job->opaque, true);
}

/* Dirty bits still set among the memslot's NPAGES pages. */
static unsigned int dirty_pages(struct __test_metadata *_metadata,
				FIXTURE_DATA(retry) *self)
{
	uint64_t bitmap[(NPAGES + 63) / 64] = { 0 };
	unsigned int i, n = 0;

	EXPECT_EQ(0, vm_get_dirty_log(&self->vm, 0, bitmap))
		TH_LOG("%s", kvm_util_error());
	for (i = 0; i < NPAGES; i++)
		n += !!(bitmap[i / 64] & (1ULL << (i % 64)));
	return n;
}

/*
 * ENCODE of all NPAGES pages with the clear; on success the records are
 * checked as a receiver can and applied to the destination, which must
 * then equal guest memory.  Returns the ioctl's result (errno kept).
 */
static int encode_all(struct __test_metadata *_metadata,
		      FIXTURE_DATA(retry) *self,
		      struct kvm_xbzrle_encode *enc)
{
	struct xbz_counts c = { 0 };
	int ret, err;

	*enc = (struct kvm_xbzrle_encode) {
		.size = sizeof(*enc),
		.flags = KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG,
		.pages = (uintptr_t)self->gpas,
		.records = (uintptr_t)self->recbuf,
		.npages = NPAGES,
		.records_size = RECBUF_SIZE,
		.max_delta = PAGE,
		/* outputs the call must overwrite */
		.npages_done = 0xdead,
		.records_used = 0xbeef,
	};
	ret = ioctl(self->xfd, KVM_XBZRLE_ENCODE, enc);
	err = errno;
	if (!ret) {
		EXPECT_EQ(0, xbz_check_apply_call(self->recbuf,
						  enc->records_used, self->gpas,
						  enc->npages_done, NULL,
						  &self->dest, self->scratch,
						  &c))
			TH_LOG("%s", kvm_util_error());
	}
	errno = err;
	return ret;
}

/* One ENCODE whose clear's argument faults; the handler adds a memslot. */
static int encode_with_change(struct __test_metadata *_metadata,
			      FIXTURE_DATA(retry) *self,
			      struct kvm_xbzrle_encode *enc)
{
	struct uffd_job job = { .action = add_extra_slot, .opaque = self };
	pthread_t thr;
	int ret, err;

	job.uffd = uffd_register_missing(self->recbuf, PAGE);
	/* a kernel without userfaultfd cannot run the case: a failure */
	ASSERT_LE(0, job.uffd) TH_LOG("%s", kvm_util_error());
	ASSERT_EQ(0, pthread_create(&thr, NULL, uffd_answer_one, &job));
	ret = encode_all(_metadata, self, enc);
	err = errno;
	pthread_join(thr, NULL);
	close(job.uffd);
	/* the change happened, once, between the call's check and its clear */
	EXPECT_EQ(1, job.faults);
	EXPECT_EQ(0, job.err) TH_LOG("handler: %s", strerror(job.err));
	errno = err;
	return ret;
}

/*
 * After an ENCODE of every page that returned 0: it did all NPAGES, the
 * destination equals guest memory, and its clear left no page dirty.
 */
static void expect_all_sent(struct __test_metadata *_metadata,
			    FIXTURE_DATA(retry) *self,
			    const struct kvm_xbzrle_encode *enc)
{
	EXPECT_EQ(NPAGES, enc->npages_done);
	EXPECT_EQ(0, xbz_dest_compare(&self->dest, &self->vm))
		TH_LOG("%s", kvm_util_error());
	EXPECT_EQ(0U, dirty_pages(_metadata, self));
}

/* the handler waits 10 s for its fault: a case never outlives it */
#define CASE_TIMEOUT_S	60

TEST_F_TIMEOUT(retry, redone, CASE_TIMEOUT_S)
{
	struct kvm_xbzrle_encode enc;

	ASSERT_EQ(0, xbz_param_write(RETRIES, "4"))
		TH_LOG("%s", kvm_util_error());
	ASSERT_EQ(0, encode_with_change(_metadata, self, &enc))
		TH_LOG("ENCODE: %s", strerror(errno));
	/* the clear of the chunk done again went through */
	expect_all_sent(_metadata, self, &enc);
}

TEST_F_TIMEOUT(retry, eagain, CASE_TIMEOUT_S)
{
	struct kvm_xbzrle_encode enc;

	ASSERT_EQ(0, xbz_param_write(RETRIES, "0"))
		TH_LOG("%s", kvm_util_error());
	ASSERT_EQ(-1, encode_with_change(_metadata, self, &enc));
	ASSERT_EQ(EAGAIN, errno) TH_LOG("ENCODE: %s, not EAGAIN",
					 strerror(errno));
	EXPECT_EQ(0U, enc.npages_done);
	EXPECT_EQ(0U, enc.records_used);
	/* nothing was cleared: every write is still to be sent */
	EXPECT_EQ(NPAGES, dirty_pages(_metadata, self));

	/* the next call, with the memslots still, does every page whole */
	ASSERT_EQ(0, encode_all(_metadata, self, &enc))
		TH_LOG("ENCODE after EAGAIN: %s", strerror(errno));
	expect_all_sent(_metadata, self, &enc);
}

/* Adds and deletes EXTRA_SLOT until told to stop. */
static void *churn(void *arg)
{
	FIXTURE_DATA(retry) *self = arg;
	int e = 0;

	while (!e && !atomic_load(&self->stop)) {
		e = extra_slot(self, true);
		if (!e)
			e = extra_slot(self, false);
		if (!e)
			atomic_fetch_add(&self->churns, 1);
	}
	atomic_store(&self->churn_err, e);
	return NULL;
}

TEST_F_TIMEOUT(retry, memslots_churning, CASE_TIMEOUT_S)
{
	struct kvm_xbzrle_encode enc;
	unsigned long calls, done = 0, eagain = 0;
	uint8_t *p;

	/* the default bound, whatever an earlier run left */
	ASSERT_EQ(0, xbz_param_write(RETRIES, "4"))
		TH_LOG("%s", kvm_util_error());
	/* the record buffer is touched at once: no fault here */
	memset(self->recbuf, 0, RECBUF_SIZE);
	ASSERT_EQ(0, pthread_create(&self->churner, NULL, churn, self));
	self->churning = true;
	for (calls = 0; calls < CHURN_CALLS; calls++) {
		p = vm_gpa_to_hva(&self->vm, self->gpas[calls % NPAGES]);
		p[(calls * 8) % PAGE] ^= 0x5a;
		if (encode_all(_metadata, self, &enc)) {
			ASSERT_EQ(EAGAIN, errno)
				TH_LOG("call %lu: %s", calls, strerror(errno));
			EXPECT_EQ(0U, enc.npages_done);
			EXPECT_EQ(0U, enc.records_used);
			eagain++;
			continue;
		}
		ASSERT_EQ(NPAGES, enc.npages_done) TH_LOG("call %lu", calls);
		ASSERT_EQ(0, xbz_dest_compare(&self->dest, &self->vm))
			TH_LOG("call %lu: %s", calls, kvm_util_error());
		done++;
	}
	atomic_store(&self->stop, true);
	pthread_join(self->churner, NULL);
	self->churning = false;
	EXPECT_EQ(0, atomic_load(&self->churn_err))
		TH_LOG("KVM_SET_USER_MEMORY_REGION: %s",
		       strerror(atomic_load(&self->churn_err)));
	TH_LOG("%lu calls under %lu memslot changes: %lu done, %lu EAGAIN",
	       calls, atomic_load(&self->churns), done, eagain);
	EXPECT_LT(0UL, atomic_load(&self->churns));
	EXPECT_LT(0UL, done);
}

TEST_F_TIMEOUT(retry, param_bounds, CASE_TIMEOUT_S)
{
	char buf[32];

	ASSERT_EQ(0, xbz_param_write(RETRIES, "16"))
		TH_LOG("%s", kvm_util_error());
	ASSERT_EQ(0, read_file(RETRIES_PARAM, buf, sizeof(buf)))
		TH_LOG("%s: %s", RETRIES_PARAM, strerror(errno));
	EXPECT_EQ(RETRIES_MAX, atoi(buf));
	EXPECT_EQ(-1, write_file(RETRIES_PARAM, "17"));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, write_file(RETRIES_PARAM, "-1"));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, read_file(RETRIES_PARAM, buf, sizeof(buf)))
		TH_LOG("%s: %s", RETRIES_PARAM, strerror(errno));
	EXPECT_EQ(RETRIES_MAX, atoi(buf));
}

XBZRLE_SCALE_TIMEOUTS()

TEST_HARNESS_MAIN
