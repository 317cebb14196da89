// SPDX-License-Identifier: GPL-2.0
/*
 * offload_abi_encode_test - KVM_XBZRLE_ENCODE's refused inputs and its
 * partial progress, on the ABI fixture (a context bound to a VM whose
 * memslot 0 is its region; no vCPU runs).
 *
 *   refused          a bad max_delta, records_size or records alignment,
 *                    an unaligned gpa: EINVAL; a gpa outside every region
 *                    or just past one: ENOENT; unreadable pages, an
 *                    unmapped or read-only record buffer, a region whose
 *                    memory is unmapped, an argument in a read-only page:
 *                    EFAULT.  None of them changes a counter, and the
 *                    next valid call returns correct records;
 *   stale_outputs    npages_done and records_used left from an earlier
 *                    call are overwritten;
 *   bad_unaligned,   a bad page at index 2 of 4 (an unaligned gpa, a gpa
 *   bad_outside,     outside every region, a page whose memory is
 *   bad_unmapped     unmapped): the call does pages 0 and 1 and returns 0
 *                    with their records; the next call, starting at the
 *                    bad page, gets its errno;
 *   npages_zero      npages 0 succeeds and does nothing;
 *   buffer_limit     a page is started only with RECORD_MAX_SIZE bytes
 *                    left in the record buffer, and the call stops only
 *                    when fewer are left;
 *   batch_limit      npages MAX_BATCH + 1: success, between 1 and
 *                    MAX_BATCH pages done, correct records.
 *
 * Records of valid calls are checked against a model of the context's
 * cache and applied to a destination copy with the project's codec.  On
 * the kernel's kselftest harness; a missing module fails the set-up.
 * Contract: <linux/kvm_xbzrle.h>.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/kvm_xbzrle.h>

#include "kselftest_harness.h"

#include "abi_util.h"
#include "kvm_util.h"
#include "records.h"
#include "test_util.h"
#include "xbzrle_util.h"

#define GPA1		(FX_GPA + PG)		/* fixture page 1 */
#define PAST_GPA	(FX_GPA + FX_NP * PG)	/* just past the region */

FIXTURE(encode) {
	struct abi_fx fx;
	uint64_t *batch;
	uint8_t *big;
	size_t big_size;
};

FIXTURE_SETUP(encode)
{
	ASSERT_EQ(0, abi_fx_init(&self->fx)) TH_LOG("%s", kvm_util_error());
}

FIXTURE_TEARDOWN(encode)
{
	if (self->big)
		munmap(self->big, self->big_size);
	free(self->batch);
	abi_fx_destroy(&self->fx);
}

/* A call with one bad thing: refused with @want. */
#define ENCODE_REFUSED(want, pages, records, size, max_delta, what)	\
	EXPECT_ERRNO(want, abi_encode(self->fx.xfd, 0, pages, 1, records,	\
				      size, max_delta, NULL),		\
		     "ENCODE: %s", what)

TEST_F(encode, refused)
{
	uint64_t gpa1 = GPA1, odd = GPA1 + 0x10, gone = GONE_GPA;
	uint64_t nowhere = NOWHERE_GPA, past = PAST_GPA;
	uint8_t *recbuf = self->fx.recbuf, *ro_buf = self->fx.ro_buf;
	struct kvm_xbzrle_stats s0, s1;
	struct kvm_xbzrle_encode e = {
		.size = sizeof(e), .pages = (uintptr_t)&gpa1,
		.records = (uintptr_t)recbuf, .npages = 1,
		.records_size = RECBUF_SIZE, .max_delta = 4096,
	};
	void *ro_arg;
	const char *why;
	char diff[512];

	/* no mmap() after the munmap(): it could reuse the hole */
	ro_arg = abi_map_pages(1, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, ro_arg) TH_LOG("ENCODE: argument struct in a read-only page: mmap failed");
	memcpy(ro_arg, &e, sizeof(e));
	ASSERT_EQ(0, mprotect(ro_arg, PG, PROT_READ));
	ASSERT_EQ(0, munmap(self->fx.gone_mem, 2 * PG));
	self->fx.gone_mem = NULL;
	ASSERT_EQ(0, abi_stats(self->fx.xfd, &s0));

	ENCODE_REFUSED(EINVAL, &gpa1, recbuf, RECBUF_SIZE, 0, "max_delta 0");
	ENCODE_REFUSED(EINVAL, &gpa1, recbuf, RECBUF_SIZE, 4097, "max_delta 4097");
	ENCODE_REFUSED(EINVAL, &gpa1, recbuf, REC_MAX - 1, 4096,
		       "records_size RECORD_MAX_SIZE - 1");
	ENCODE_REFUSED(EINVAL, &gpa1, recbuf + 4, RECBUF_SIZE - 8, 4096,
		       "records not 8-byte aligned");
	ENCODE_REFUSED(EINVAL, &odd, recbuf, RECBUF_SIZE, 4096, "gpa not page aligned");
	ENCODE_REFUSED(ENOENT, &nowhere, recbuf, RECBUF_SIZE, 4096,
		       "gpa outside every region");
	ENCODE_REFUSED(ENOENT, &past, recbuf, RECBUF_SIZE, 4096,
		       "gpa just past the end of a region");
	ENCODE_REFUSED(EFAULT, NULL, recbuf, RECBUF_SIZE, 4096, "pages NULL");
	ENCODE_REFUSED(EFAULT, ABI_UNMAPPED, recbuf, RECBUF_SIZE, 4096,
		       "pages unmapped");
	ENCODE_REFUSED(EFAULT, &gpa1, ABI_UNMAPPED, 2 * REC_MAX, 4096,
		       "records unmapped");
	ENCODE_REFUSED(EFAULT, &gpa1, ro_buf, 2 * REC_MAX, 4096, "records read-only");
	ENCODE_REFUSED(EFAULT, &gone, recbuf, RECBUF_SIZE, 4096,
		       "a page of a region whose memory is unmapped");
	EXPECT_ERRNO(EFAULT, abi_ioctl(self->fx.xfd, KVM_XBZRLE_ENCODE, ro_arg),
		     "ENCODE: argument struct in a read-only page");

	ASSERT_EQ(0, abi_stats(self->fx.xfd, &s1));
	EXPECT_TRUE(abi_stats_equal(&s0, &s1, ABI_STATS_ALL, diff, sizeof(diff)))
		TH_LOG("ENCODE: the refused calls changed the counters: %s", diff);
	why = abi_fx_encode_good(&self->fx, 0, &gpa1, 1, 3);
	EXPECT_EQ(NULL, why) TH_LOG("ENCODE: a valid call after them: %s", why);
	munmap(ro_arg, PG);
}

TEST_F(encode, stale_outputs)
{
	uint64_t gpa1 = GPA1;
	/* outputs left from a previous call are overwritten */
	struct kvm_xbzrle_encode e = {
		.size = sizeof(e), .pages = (uintptr_t)&gpa1,
		.records = (uintptr_t)self->fx.recbuf, .npages = 1,
		.records_size = RECBUF_SIZE, .max_delta = 4096,
		.npages_done = 7, .records_used = 8,
	};
	const char *why;
	int r;

	abi_fx_touch(&self->fx, abi_fx_index(gpa1), 11);
	r = abi_ioctl(self->fx.xfd, KVM_XBZRLE_ENCODE, &e);
	EXPECT_ERRNO(0, r,
		     "ENCODE: stale npages_done 7, records_used 8 on input");
	EXPECT_EQ(1U, e.npages_done);
	why = r ? "call failed" : abi_fx_records_bad(&self->fx, &gpa1, e.npages_done,
						     self->fx.recbuf,
						     e.records_used, 4096);
	EXPECT_EQ(NULL, why) TH_LOG("ENCODE: stale outputs on input: %s", why);
}

/*
 * A page list with a bad entry at index 2: the first call does pages 0
 * and 1 and returns 0, the next, from the bad entry, returns @want.
 */
static void bad_middle(struct __test_metadata *_metadata,
		       FIXTURE_DATA(encode) *self, uint64_t bad, int want,
		       const char *what, unsigned int gen)
{
	uint64_t gpas[4] = { FX_GPA + PG, FX_GPA + 3 * PG, bad, FX_GPA + 4 * PG };
	struct abi_fx *fx = &self->fx;
	struct kvm_xbzrle_stats s0, s1;
	struct abi_enc_out out = { 0 };
	const char *why = NULL;
	int r;

	abi_fx_touch(fx, 1, gen);
	abi_fx_touch(fx, 3, gen);
	ASSERT_EQ(0, abi_stats(fx->xfd, &s0));
	r = abi_encode(fx->xfd, 0, gpas, 4, fx->recbuf, RECBUF_SIZE, 4096, &out);
	EXPECT_ERRNO(0, r, "ENCODE: %s at index 2 of 4: the call", what);
	if (!r) {
		EXPECT_EQ(2U, out.done)
			TH_LOG("ENCODE: %s at index 2: npages_done %u (expected 2)",
			       what, out.done);
		if (out.done == 2)
			why = abi_fx_records_bad(fx, gpas, 2, fx->recbuf, out.used,
						 4096);
		ASSERT_EQ(0, abi_stats(fx->xfd, &s1));
		if (!why && s1.pages != s0.pages + 2)
			why = "stats.pages did not grow by 2";
		EXPECT_EQ(NULL, why)
			TH_LOG("ENCODE: %s at index 2: records bad: %s", what, why);
	}
	EXPECT_ERRNO(want, abi_encode(fx->xfd, 0, gpas + 2, 2, fx->recbuf,
				      RECBUF_SIZE, 4096, NULL),
		     "ENCODE: %s: the next call, starting at it", what);
}

TEST_F(encode, bad_unaligned)
{
	bad_middle(_metadata, self, GPA1 + 0x10, EINVAL, "an unaligned gpa", 4);
}

TEST_F(encode, bad_outside)
{
	bad_middle(_metadata, self, NOWHERE_GPA, ENOENT,
		   "a gpa outside every region", 5);
}

TEST_F(encode, bad_unmapped)
{
	ASSERT_EQ(0, munmap(self->fx.gone_mem, 2 * PG));
	self->fx.gone_mem = NULL;
	bad_middle(_metadata, self, GONE_GPA, EFAULT,
		   "a page whose memory is unmapped", 6);
}

TEST_F(encode, npages_zero)
{
	uint64_t gpa1 = GPA1;
	struct abi_enc_out out = { 1, 1 };
	int r;

	r = abi_encode(self->fx.xfd, 0, &gpa1, 0, self->fx.recbuf, RECBUF_SIZE,
		       4096, &out);
	EXPECT_ERRNO(0, r, "ENCODE: npages 0");
	EXPECT_EQ(0U, out.done);
	EXPECT_EQ(0U, out.used);
}

/*
 * The buffer limit: a page is started only with RECORD_MAX_SIZE bytes
 * left.  Fresh content (no base) on every page after a RESET.
 */
TEST_F(encode, buffer_limit)
{
	struct abi_enc_out out = { 0 };
	uint64_t gpas[FX_NP];
	struct xbz_record rec;
	const char *why;
	uint32_t i, off;
	int r;

	for (i = 0; i < FX_NP; i++)
		gpas[i] = FX_GPA + i * PG;
	ASSERT_EQ(0, abi_cache(self->fx.xfd, KVM_XBZRLE_CACHE_RESET, 0, NULL))
		TH_LOG("SET_CACHE RESET failed");
	memset(self->fx.based, 0, sizeof(self->fx.based));
	for (i = 1; i < FX_NP; i++)
		abi_fx_touch(&self->fx, i, 7);
	r = abi_encode(self->fx.xfd, 0, gpas, FX_NP, self->fx.recbuf, 3 * REC_MAX,
		       4096, &out);
	EXPECT_ERRNO(0, r, "ENCODE: records_size 3 * RECORD_MAX_SIZE, %u pages",
		     FX_NP);
	if (r)
		return;
	EXPECT_TRUE(out.done > 0 && out.done <= FX_NP)
		TH_LOG("npages_done %u out of range", out.done);
	if (out.done == 0 || out.done > FX_NP)
		return;
	why = abi_fx_records_bad(&self->fx, gpas, out.done, self->fx.recbuf,
				 out.used, 4096);
	EXPECT_EQ(NULL, why) TH_LOG("records: %s", why);
	/* each record started with REC_MAX left; stopped only when full */
	off = 0;
	while (xbz_next_record(self->fx.recbuf, out.used, &off, &rec) > 0)
		EXPECT_LE(REC_MAX, 3 * REC_MAX - rec.offset)
			TH_LOG("a page started with less than RECORD_MAX_SIZE left");
	if (out.done < FX_NP)
		EXPECT_GT(REC_MAX, 3 * REC_MAX - out.used)
			TH_LOG("stopped after %u pages with RECORD_MAX_SIZE bytes still free",
			       out.done);
}

/* The batch limit: MAX_BATCH + 1 entries, the zero page over and over. */
TEST_F_TIMEOUT(encode, batch_limit, 120)
{
	struct abi_enc_out out = { 0 };
	const char *why;
	uint32_t i;
	int r;

	self->batch = calloc(KVM_XBZRLE_MAX_BATCH + 1, sizeof(*self->batch));
	ASSERT_NE(NULL, self->batch) TH_LOG("ENCODE: MAX_BATCH + 1: allocation failed");
	self->big_size = (size_t)(KVM_XBZRLE_MAX_BATCH + 1) * REC_MAX;
	self->big = mmap(NULL, self->big_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (self->big == MAP_FAILED)
		self->big = NULL;
	ASSERT_NE(NULL, self->big) TH_LOG("ENCODE: MAX_BATCH + 1: allocation failed");
	for (i = 0; i <= KVM_XBZRLE_MAX_BATCH; i++)
		self->batch[i] = FX_GPA;	/* page 0 stays zero */
	r = abi_encode(self->fx.xfd, 0, self->batch, KVM_XBZRLE_MAX_BATCH + 1,
		       self->big, self->big_size, 4096, &out);
	EXPECT_ERRNO(0, r, "ENCODE: npages MAX_BATCH + 1 (%u)",
		     KVM_XBZRLE_MAX_BATCH + 1);
	if (r)
		return;
	EXPECT_TRUE(out.done > 0 && out.done <= KVM_XBZRLE_MAX_BATCH)
		TH_LOG("ENCODE: MAX_BATCH + 1 pages: npages_done %u (1..%u)",
		       out.done, KVM_XBZRLE_MAX_BATCH);
	if (out.done == 0 || out.done > KVM_XBZRLE_MAX_BATCH)
		return;
	why = abi_fx_records_bad(&self->fx, self->batch, out.done, self->big,
				 out.used, 4096);
	EXPECT_EQ(NULL, why) TH_LOG("ENCODE: MAX_BATCH + 1 pages: %s", why);
}

XBZRLE_SCALE_TIMEOUTS()

TEST_HARNESS_MAIN
