// SPDX-License-Identifier: GPL-2.0
/*
 * offload_adapt_test - the per-page rule of KVM_XBZRLE_CAP_ADAPT, with an
 * exact destination throughout.
 *
 * With KVM_XBZRLE_ENCODE_GENERATION, a page whose delta overflowed
 * max_delta adapt_overflows times in a row gives its base back, is sent
 * RAW (or ZERO) without the encoder until adapt_probe_rounds generations
 * have passed, and is then cached again (probed); a probed page that
 * overflows once more goes straight back.  Each case sets the parameters
 * to 2 and 3, makes a VM with one memslot of NPAGES pages and a context
 * bound to it, and runs generations in which every page is written the
 * same way (dense: every byte; sparse: four bytes; none; zeros) and then
 * encoded.  After each generation the records are checked as a receiver
 * can (lib/records.c) and applied to a destination copy, which must equal
 * guest memory; the counters of GET_STATS say which way each page went.
 *
 * On the kernel's kselftest harness: one fixture per case.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "xbzrle_tap.h"

#include "kvm_util.h"
#include "records.h"
#include "xbzrle_util.h"

#define NPAGES		16ULL
#define SLOT_GPA	0x100000ULL
#define MAX_DELTA	256		/* a dense page's delta is ~4 KiB */
#define OVERFLOWS	"2"
#define PROBE_ROUNDS	"3"
#define RECBUF_SIZE	(NPAGES * KVM_XBZRLE_RECORD_MAX_SIZE)

enum writer { W_DENSE, W_SPARSE, W_NONE, W_ZERO };

FIXTURE(adapt) {
	struct kvm_vm vm;
	struct xbz_dest dest;
	int xfd;
	uint64_t gpas[NPAGES];
	uint8_t *recbuf;
	uint8_t scratch[2 * GUEST_PAGE_SIZE];
	struct kvm_xbzrle_stats s;	/* after the last generation */
	unsigned int writes;		/* generations written so far */
};

FIXTURE_SETUP(adapt)
{
	struct kvm_xbzrle_caps caps;
	unsigned int i;
	int r;

	self->xfd = -1;
	if (geteuid())
		SKIP(return, "not root: the module's parameters are root's");
	/* the module is what is tested: its absence is a failure */
	r = xbz_check_offload(&caps);
	ASSERT_EQ(0, r) TH_LOG("%s", kvm_util_error());
	ASSERT_TRUE(!!(caps.capabilities & KVM_XBZRLE_CAP_ADAPT))
		TH_LOG("capabilities 0x%llx: no KVM_XBZRLE_CAP_ADAPT",
		       (unsigned long long)caps.capabilities);

	/* put back by the teardown */
	ASSERT_EQ(0, xbz_param_write("adapt_overflows", OVERFLOWS))
		TH_LOG("%s", kvm_util_error());
	ASSERT_EQ(0, xbz_param_write("adapt_probe_rounds", PROBE_ROUNDS))
		TH_LOG("%s", kvm_util_error());

	ASSERT_EQ(0, vm_create(&self->vm, 0)) TH_LOG("%s", kvm_util_error());
	ASSERT_EQ(0, vm_add_memslot(&self->vm, 0, SLOT_GPA,
				    NPAGES * GUEST_PAGE_SIZE))
		TH_LOG("%s", kvm_util_error());
	ASSERT_EQ(0, xbz_dest_init(&self->dest, &self->vm))
		TH_LOG("%s", kvm_util_error());
	self->xfd = xbz_open_bound(&self->vm);
	ASSERT_LE(0, self->xfd) TH_LOG("%s", kvm_util_error());
	ASSERT_EQ(0, xbz_set_cache(self->xfd, KVM_XBZRLE_CACHE_SET_SIZE,
				   4 * NPAGES * GUEST_PAGE_SIZE, NULL))
		TH_LOG("%s", kvm_util_error());
	self->recbuf = malloc(RECBUF_SIZE);
	ASSERT_NE(NULL, self->recbuf);
	for (i = 0; i < NPAGES; i++)
		self->gpas[i] = SLOT_GPA + i * GUEST_PAGE_SIZE;
}

FIXTURE_TEARDOWN(adapt)
{
	/* the case's _exit() skips atexit() */
	EXPECT_EQ(0, xbz_param_restore_all()) TH_LOG("%s", kvm_util_error());
	if (self->xfd >= 0)
		close(self->xfd);
	free(self->recbuf);
	xbz_dest_free(&self->dest);
	vm_destroy(&self->vm);
}

/* The @n-th write: each write's bytes differ from the one before's. */
static void write_pages(struct kvm_vm *vm, enum writer w, unsigned int n)
{
	uint8_t *p;
	unsigned int i;

	for (i = 0; i < NPAGES; i++) {
		p = vm_gpa_to_hva(vm, SLOT_GPA + i * GUEST_PAGE_SIZE);
		switch (w) {
		case W_DENSE:	/* every byte other than last generation's */
			memset(p, 1 + (n + i) % 251, GUEST_PAGE_SIZE);
			break;
		case W_SPARSE:
			memset(p + 64, (uint8_t)(n * 16 + 1), 4);
			break;
		case W_ZERO:
			memset(p, 0, GUEST_PAGE_SIZE);
			break;
		case W_NONE:
			break;
		}
	}
}

/*
 * One generation: every page written as @w, encoded (with @gen, or without
 * KVM_XBZRLE_ENCODE_GENERATION when @gen is 0), the records checked and
 * applied, the destination compared with guest memory.  @want is the type
 * every record must have; the counters land in self->s.
 */
static void generation(struct __test_metadata *_metadata,
		       FIXTURE_DATA(adapt) *self, uint64_t gen, enum writer w,
		       uint16_t want)
{
	struct xbz_encode_result res;
	struct xbz_counts c = { 0 };
	uint64_t got;
	int r;

	write_pages(&self->vm, w, ++self->writes);
	if (gen)
		r = xbz_encode_gen(self->xfd, KVM_XBZRLE_ENCODE_GENERATION, gen,
				   self->gpas, NPAGES, self->recbuf,
				   RECBUF_SIZE, MAX_DELTA, &res);
	else
		r = xbz_encode(self->xfd, 0, self->gpas, NPAGES, self->recbuf,
			       RECBUF_SIZE, MAX_DELTA, &res);
	ASSERT_EQ(0, r) TH_LOG("generation %llu: %s",
			       (unsigned long long)gen, kvm_util_error());
	ASSERT_EQ(NPAGES, res.npages_done);
	ASSERT_EQ(0, xbz_check_apply_call(self->recbuf, res.records_used,
					  self->gpas, NPAGES, NULL,
					  &self->dest, self->scratch, &c))
		TH_LOG("generation %llu: %s", (unsigned long long)gen,
		       kvm_util_error());
	ASSERT_EQ(0, xbz_dest_compare(&self->dest, &self->vm))
		TH_LOG("generation %llu: %s", (unsigned long long)gen,
		       kvm_util_error());
	switch (want) {
	case KVM_XBZRLE_RECORD_ZERO:
		got = c.zero;
		break;
	case KVM_XBZRLE_RECORD_UNCHANGED:
		got = c.unchanged;
		break;
	case KVM_XBZRLE_RECORD_XBZRLE:
		got = c.xbzrle;
		break;
	default:
		got = c.raw;
		break;
	}
	ASSERT_EQ(NPAGES, got)
		TH_LOG("generation %llu: want %s, got ZERO %llu, UNCHANGED %llu, XBZRLE %llu, RAW %llu",
		       (unsigned long long)gen, xbz_record_type_name(want),
		       (unsigned long long)c.zero,
		       (unsigned long long)c.unchanged,
		       (unsigned long long)c.xbzrle, (unsigned long long)c.raw);
	self->s.size = sizeof(self->s);
	ASSERT_EQ(0, xbz_get_stats(self->xfd, &self->s))
		TH_LOG("%s", kvm_util_error());
}

#define RAW		KVM_XBZRLE_RECORD_RAW
#define CACHED(n)	((n) * GUEST_PAGE_SIZE)

/* Generations 1-3 of a dense page: a miss, an overflow, an overflow. */
static void give_back(struct __test_metadata *_metadata,
		      FIXTURE_DATA(adapt) *self)
{
	generation(_metadata, self, 1, W_DENSE, RAW);
	EXPECT_EQ(NPAGES, self->s.cache_misses);
	EXPECT_EQ(CACHED(NPAGES), self->s.cache_bytes);
	generation(_metadata, self, 2, W_DENSE, RAW);
	EXPECT_EQ(NPAGES, self->s.overflows);
	EXPECT_EQ(0ULL, self->s.given_back);
	EXPECT_EQ(CACHED(NPAGES), self->s.cache_bytes);
	generation(_metadata, self, 3, W_DENSE, RAW);
	EXPECT_EQ(2 * NPAGES, self->s.overflows);
	EXPECT_EQ(NPAGES, self->s.given_back);
	EXPECT_EQ(0ULL, self->s.cache_bytes);
}

/* Generations @first to @last, every page written densely, all RAW. */
static void dense_gens(struct __test_metadata *_metadata,
		       FIXTURE_DATA(adapt) *self, uint64_t first, uint64_t last)
{
	uint64_t gen;

	for (gen = first; gen <= last; gen++)
		generation(_metadata, self, gen, W_DENSE, RAW);
}

TEST_F(adapt, overflow_streak_gives_base_back)
{
	give_back(_metadata, self);
	EXPECT_EQ(0ULL, self->s.skipped);
	EXPECT_EQ(0ULL, self->s.probes);
}

/* Given back in generation 3: skipped in 4 to 6, not encoded (no overflow). */
TEST_F(adapt, skipped_pages_are_not_encoded)
{
	uint64_t gen;

	give_back(_metadata, self);
	for (gen = 4; gen <= 6; gen++) {
		generation(_metadata, self, gen, W_DENSE, RAW);
		EXPECT_EQ((gen - 3) * NPAGES, self->s.skipped);
		EXPECT_EQ(2 * NPAGES, self->s.overflows);
		EXPECT_EQ(0ULL, self->s.cache_bytes);
		EXPECT_EQ(0ULL, self->s.probes);
	}
}

/* Probed in generation 7, cached again; sparse writes: deltas are back. */
TEST_F(adapt, probe_brings_deltas_back)
{
	give_back(_metadata, self);
	dense_gens(_metadata, self, 4, 7);
	EXPECT_EQ(NPAGES, self->s.probes);
	EXPECT_EQ(3 * NPAGES, self->s.skipped);
	EXPECT_EQ(CACHED(NPAGES), self->s.cache_bytes);
	generation(_metadata, self, 8, W_SPARSE, KVM_XBZRLE_RECORD_XBZRLE);
	generation(_metadata, self, 9, W_DENSE, RAW);
	/* the delta ended the streak: one overflow keeps the base */
	EXPECT_EQ(NPAGES, self->s.given_back);
	EXPECT_EQ(CACHED(NPAGES), self->s.cache_bytes);
}

/* A probed page that overflows again gives its base back at once. */
TEST_F(adapt, probed_page_that_overflows_goes_back_at_once)
{
	give_back(_metadata, self);
	dense_gens(_metadata, self, 4, 8);
	EXPECT_EQ(2 * NPAGES, self->s.given_back);
	EXPECT_EQ(0ULL, self->s.cache_bytes);
	/* given back in 8: skipped in 9 to 11 */
	generation(_metadata, self, 9, W_DENSE, RAW);
	EXPECT_EQ(4 * NPAGES, self->s.skipped);
}

/* A delta, or an unchanged page, between two overflows ends the streak. */
TEST_F(adapt, delta_or_unchanged_ends_streak)
{
	generation(_metadata, self, 1, W_DENSE, RAW);
	generation(_metadata, self, 2, W_DENSE, RAW);
	generation(_metadata, self, 3, W_SPARSE, KVM_XBZRLE_RECORD_XBZRLE);
	generation(_metadata, self, 4, W_DENSE, RAW);
	generation(_metadata, self, 5, W_NONE, KVM_XBZRLE_RECORD_UNCHANGED);
	generation(_metadata, self, 6, W_DENSE, RAW);
	EXPECT_EQ(3 * NPAGES, self->s.overflows);
	EXPECT_EQ(0ULL, self->s.given_back);
	EXPECT_EQ(CACHED(NPAGES), self->s.cache_bytes);
}

/* A skipped page that turns to zeros is a ZERO record and stays skipped. */
TEST_F(adapt, zero_page_while_skipped)
{
	give_back(_metadata, self);
	generation(_metadata, self, 4, W_ZERO, KVM_XBZRLE_RECORD_ZERO);
	EXPECT_EQ(NPAGES, self->s.skipped);
	EXPECT_EQ(0ULL, self->s.cache_bytes);
	generation(_metadata, self, 5, W_DENSE, RAW);
	EXPECT_EQ(2 * NPAGES, self->s.skipped);
	EXPECT_EQ(2 * NPAGES, self->s.overflows);
}

/* adapt_overflows=0: never given back; pages given back before are misses. */
TEST_F(adapt, rule_off)
{
	give_back(_metadata, self);
	ASSERT_EQ(0, xbz_param_write("adapt_overflows", "0"))
		TH_LOG("%s", kvm_util_error());
	generation(_metadata, self, 4, W_DENSE, RAW);
	EXPECT_EQ(0ULL, self->s.skipped);
	EXPECT_EQ(0ULL, self->s.probes);
	EXPECT_EQ(2 * NPAGES, self->s.cache_misses);
	EXPECT_EQ(CACHED(NPAGES), self->s.cache_bytes);
	dense_gens(_metadata, self, 5, 8);
	EXPECT_EQ(6 * NPAGES, self->s.overflows);
	EXPECT_EQ(NPAGES, self->s.given_back);
}

/* Calls without KVM_XBZRLE_ENCODE_GENERATION keep QEMU's rule. */
TEST_F(adapt, no_generation_no_rule)
{
	int i;

	for (i = 0; i < 5; i++)
		generation(_metadata, self, 0, W_DENSE, RAW);
	EXPECT_EQ(4 * NPAGES, self->s.overflows);
	EXPECT_EQ(0ULL, self->s.given_back);
	EXPECT_EQ(0ULL, self->s.skipped);
	EXPECT_EQ(CACHED(NPAGES), self->s.cache_bytes);
}

/* CACHE_RESET and INVALIDATE drop the markers with the bases. */
TEST_F(adapt, reset_and_invalidate_forget_given_back_pages)
{
	struct kvm_xbzrle_invalidate inv = {
		.size = sizeof(inv), .flags = KVM_XBZRLE_INVALIDATE_ALL,
	};

	give_back(_metadata, self);
	ASSERT_EQ(0, ioctl(self->xfd, KVM_XBZRLE_INVALIDATE, &inv));
	generation(_metadata, self, 4, W_DENSE, RAW);
	EXPECT_EQ(0ULL, self->s.skipped);
	EXPECT_EQ(2 * NPAGES, self->s.cache_misses);
	EXPECT_EQ(CACHED(NPAGES), self->s.cache_bytes);

	generation(_metadata, self, 5, W_DENSE, RAW);
	generation(_metadata, self, 6, W_DENSE, RAW);
	EXPECT_EQ(2 * NPAGES, self->s.given_back);
	ASSERT_EQ(0, xbz_set_cache(self->xfd, KVM_XBZRLE_CACHE_RESET, 0, NULL))
		TH_LOG("%s", kvm_util_error());
	/* the destination keeps its pages: a reset only forgets bases */
	generation(_metadata, self, 1, W_DENSE, RAW);
	EXPECT_EQ(0ULL, self->s.skipped);
	EXPECT_EQ(NPAGES, self->s.cache_misses);
	EXPECT_EQ(CACHED(NPAGES), self->s.cache_bytes);
}

/*
 * INVALIDATE with STOP: QEMU gives XBZRLE up for the rest of the migration
 * (its per-migration switch).  It drops every base as ALL alone does and
 * counts one stop, in GET_STATS and debugfs; ALL alone counts none, and
 * STOP without ALL is refused.  The destination stays exact: the pages
 * after it are RAW.
 */
TEST_F(adapt, stop_drops_every_base_and_is_counted)
{
	struct kvm_xbzrle_invalidate inv = {
		.size = sizeof(inv), .flags = KVM_XBZRLE_INVALIDATE_ALL,
	};
	long long stops0 = xbz_debugfs_stat("stops");

	ASSERT_LE(0, stops0) TH_LOG("no stops in debugfs kvm_xbzrle/stats");
	generation(_metadata, self, 1, W_SPARSE, RAW);
	generation(_metadata, self, 2, W_SPARSE, KVM_XBZRLE_RECORD_XBZRLE);
	EXPECT_EQ(0ULL, self->s.stops);

	ASSERT_EQ(0, ioctl(self->xfd, KVM_XBZRLE_INVALIDATE, &inv));
	generation(_metadata, self, 3, W_SPARSE, RAW);
	EXPECT_EQ(0ULL, self->s.stops);

	inv.flags = KVM_XBZRLE_INVALIDATE_STOP;
	inv.userspace_addr = (uintptr_t)vm_gpa_to_hva(&self->vm, SLOT_GPA);
	inv.memory_size = GUEST_PAGE_SIZE;
	EXPECT_EQ(-1, ioctl(self->xfd, KVM_XBZRLE_INVALIDATE, &inv));
	EXPECT_EQ(EINVAL, errno);

	inv.flags = KVM_XBZRLE_INVALIDATE_ALL | KVM_XBZRLE_INVALIDATE_STOP;
	inv.userspace_addr = 0;
	inv.memory_size = 0;
	ASSERT_EQ(0, ioctl(self->xfd, KVM_XBZRLE_INVALIDATE, &inv));
	generation(_metadata, self, 4, W_SPARSE, RAW);
	EXPECT_EQ(1ULL, self->s.stops);
	EXPECT_EQ(1LL, xbz_debugfs_stat("stops") - stops0);
}

/*
 * A caller of GET_STATS with an older, smaller structure of @size bytes
 * gets its counters and nothing past them.
 */
static void older_stats_caller(struct __test_metadata *_metadata,
			       FIXTURE_DATA(adapt) *self, size_t size)
{
	uint8_t buf[sizeof(struct kvm_xbzrle_stats)];
	struct kvm_xbzrle_stats *s = (void *)buf;
	size_t i;

	give_back(_metadata, self);
	memset(buf, 0xa5, sizeof(buf));
	memset(buf, 0, size);
	s->size = size;
	ASSERT_EQ(0, ioctl(self->xfd, _IOC(_IOC_READ | _IOC_WRITE,
					   KVM_XBZRLE_IOCTL_TYPE, 0x05, size), s));
	EXPECT_EQ(self->s.pages, s->pages);
	EXPECT_EQ(self->s.overflows, s->overflows);
	if (size >= KVM_XBZRLE_STATS_SIZE_VER3) {
		EXPECT_EQ(self->s.given_back, s->given_back);
		EXPECT_EQ(self->s.probes, s->probes);
	}
	for (i = size; i < sizeof(buf); i++)
		ASSERT_EQ(0xa5, buf[i]) TH_LOG("byte %zu written", i);
}

/* Version 2 (before the per-page rule): its 120 bytes. */
TEST_F(adapt, stats_ver2_caller)
{
	older_stats_caller(_metadata, self, KVM_XBZRLE_STATS_SIZE_VER2);
}

/* Version 3 (the per-page rule's counters, before stops): its 144 bytes. */
TEST_F(adapt, stats_ver3_caller)
{
	older_stats_caller(_metadata, self, KVM_XBZRLE_STATS_SIZE_VER3);
}

/* debugfs: module-wide skipped, given_back and probes. */
TEST_F(adapt, debugfs_counts_decisions)
{
	long long skipped0 = xbz_debugfs_stat("skipped");
	long long back0 = xbz_debugfs_stat("given_back");
	long long probes0 = xbz_debugfs_stat("probes");

	ASSERT_LE(0, skipped0) TH_LOG("no skipped in debugfs kvm_xbzrle/stats");
	ASSERT_LE(0, back0);
	ASSERT_LE(0, probes0);
	give_back(_metadata, self);
	dense_gens(_metadata, self, 4, 7);
	EXPECT_EQ(3 * (long long)NPAGES, xbz_debugfs_stat("skipped") - skipped0);
	EXPECT_EQ((long long)NPAGES, xbz_debugfs_stat("given_back") - back0);
	EXPECT_EQ((long long)NPAGES, xbz_debugfs_stat("probes") - probes0);
}

XBZRLE_SCALE_TIMEOUTS()

TEST_HARNESS_MAIN
