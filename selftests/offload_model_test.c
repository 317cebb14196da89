// SPDX-License-Identifier: GPL-2.0
/*
 * offload_model_test - the cache model of the benchmarks is the module.
 *
 * make bench's cache simulation (userspace/bench/xbzrle_cache_sim.c) and
 * Documentation/cache-policy.rst judge the module's cache policy through a
 * hand-written model of kmod/cache.c, userspace/bench/lru_model.c.  A model
 * that drifts from the module makes those numbers about a policy nobody
 * runs.  Here one seeded trace goes through both: rounds of a skewed
 * hot/warm/cold write pattern over 512 pages (all of them in the first
 * round), in an order shuffled each round, each page written sparsely
 * and then sent by ENCODE, through a
 * cache of 64 pages.  For every page, whether the module had a base (its
 * record is a delta, not RAW) must be what the model says; after every
 * round the module's hits, misses, evictions, refusals and cached bytes
 * must be the model's.  The destination the records build must equal
 * guest memory throughout.
 *
 * Variants: "plain", calls without KVM_XBZRLE_ENCODE_GENERATION (the LRU
 * of lru_model_send()), and "generation", with it (the age rule of
 * lru_model_send_gen(): the rounds overflow the cache, so bases are
 * refused).  The model leaves out memory pressure (memcg headroom, the
 * module-wide ceiling, the shrinker): none of them acts on 64 pages.
 *
 * On the kernel's kselftest harness; fails without the module.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"

#include "kvm_util.h"
#include "lru_model.h"
#include "records.h"
#include "test_util.h"
#include "xbzrle_util.h"

#define PAGE		GUEST_PAGE_SIZE
#define NPAGES		512U
#define HOT		32U		/* written every round */
#define WARM		96U		/* each written with probability 1/2 */
					/* the rest: probability 1/16 */
#define CACHE_PAGES	64U
#define ROUNDS		40U
#define SLOT_GPA	0x100000ULL
#define BATCH		256U		/* pages per ENCODE, as QEMU's batch */
#define RECBUF_SIZE	(BATCH * KVM_XBZRLE_RECORD_MAX_SIZE)
#define SEED		0x5eed2026ULL

FIXTURE(model) {
	struct kvm_vm vm;
	struct xbz_dest dest;
	struct lru_model m;
	bool model_ready;
	int xfd;
	uint8_t *recbuf;
	uint8_t scratch[2 * PAGE];
	uint64_t gpas[NPAGES];		/* this round's pages, in send order */
	uint64_t hits, misses;		/* the model's, as GET_STATS counts */
};

FIXTURE_VARIANT(model) {
	bool generation;		/* KVM_XBZRLE_ENCODE_GENERATION */
};

FIXTURE_VARIANT_ADD(model, plain) {
	.generation = false,
};

FIXTURE_VARIANT_ADD(model, generation) {
	.generation = true,
};

FIXTURE_SETUP(model)
{
	struct kvm_xbzrle_caps caps;
	struct kvm_xbzrle_stats s;
	unsigned int i;

	self->xfd = -1;
	/* the module is what is tested: its absence is a failure */
	ASSERT_EQ(0, xbz_check_offload(&caps)) TH_LOG("%s", kvm_util_error());
	if (variant->generation)
		ASSERT_TRUE(!!(caps.capabilities & KVM_XBZRLE_CAP_GENERATION))
			TH_LOG("capabilities 0x%llx: no KVM_XBZRLE_CAP_GENERATION",
			       (unsigned long long)caps.capabilities);
	ASSERT_EQ(0, vm_create(&self->vm, 0)) TH_LOG("%s", kvm_util_error());
	ASSERT_EQ(0, vm_add_memslot(&self->vm, 0, SLOT_GPA, NPAGES * PAGE))
		TH_LOG("%s", kvm_util_error());
	/* no page is ever all zeros: a ZERO record would not say hit or miss */
	for (i = 0; i < NPAGES; i++)
		memset(vm_gpa_to_hva(&self->vm, SLOT_GPA + i * PAGE), 0x11, PAGE);
	ASSERT_EQ(0, xbz_dest_init(&self->dest, &self->vm))
		TH_LOG("%s", kvm_util_error());
	self->xfd = xbz_open_bound(&self->vm);
	ASSERT_LE(0, self->xfd) TH_LOG("%s", kvm_util_error());
	ASSERT_EQ(0, xbz_set_cache(self->xfd, KVM_XBZRLE_CACHE_SET_SIZE,
				   CACHE_PAGES * PAGE, NULL))
		TH_LOG("%s", kvm_util_error());
	ASSERT_EQ(0, xbz_get_stats(self->xfd, &s)) TH_LOG("%s", kvm_util_error());
	ASSERT_EQ(CACHE_PAGES * PAGE, s.cache_size);
	ASSERT_EQ(0, lru_model_init(&self->m, CACHE_PAGES));
	self->model_ready = true;
	self->recbuf = malloc(RECBUF_SIZE);
	ASSERT_NE(NULL, self->recbuf);
}

FIXTURE_TEARDOWN(model)
{
	if (self->model_ready)
		lru_model_destroy(&self->m);
	if (self->xfd >= 0)
		close(self->xfd);
	free(self->recbuf);
	xbz_dest_free(&self->dest);
	vm_destroy(&self->vm);
}

/*
 * Round @round's pages into self->gpas, shuffled; each written (a byte
 * that differs from every earlier round's at that offset).  Their number.
 */
static unsigned int write_round(FIXTURE_DATA(model) *self, unsigned int round,
				uint64_t *rng)
{
	unsigned int i, j, n = 0;
	uint64_t t;
	uint8_t *p;

	for (i = 0; i < NPAGES; i++) {
		/* round 1 sends every page, as a migration's first pass */
		if (round > 1 && i >= HOT &&
		    (i < HOT + WARM ? rand_below(rng, 2) : rand_below(rng, 16)))
			continue;
		p = vm_gpa_to_hva(&self->vm, SLOT_GPA + i * PAGE);
		p[(round * 8) % PAGE] ^= round + 1;
		self->gpas[n++] = SLOT_GPA + i * PAGE;
	}
	for (i = n - 1; i > 0; i--) {
		j = rand_below(rng, i + 1);
		t = self->gpas[i];
		self->gpas[i] = self->gpas[j];
		self->gpas[j] = t;
	}
	return n;
}

/*
 * One ENCODE of @n pages from @gpas in round @round; each record against
 * the model's answer for its page.
 */
static void send_batch(struct __test_metadata *_metadata,
		       FIXTURE_DATA(model) *self, bool generation,
		       unsigned int round, const uint64_t *gpas, unsigned int n)
{
	struct xbz_encode_result res = { 0 };
	struct xbz_counts c = { 0 };
	struct xbz_record rec;
	uint32_t off = 0;
	unsigned int i;
	bool had_base;
	int r;

	r = generation ?
	    xbz_encode_gen(self->xfd, KVM_XBZRLE_ENCODE_GENERATION, round,
			   gpas, n, self->recbuf, RECBUF_SIZE, PAGE, &res) :
	    xbz_encode(self->xfd, 0, gpas, n, self->recbuf, RECBUF_SIZE, PAGE,
		       &res);
	ASSERT_EQ(0, r) TH_LOG("round %u: %s", round, kvm_util_error());
	ASSERT_EQ(n, res.npages_done) TH_LOG("round %u", round);
	ASSERT_EQ(0, xbz_check_apply_call(self->recbuf, res.records_used, gpas,
					  n, NULL, &self->dest, self->scratch,
					  &c))
		TH_LOG("round %u: %s", round, kvm_util_error());
	for (i = 0; i < n; i++) {
		ASSERT_EQ(1, xbz_next_record(self->recbuf, res.records_used,
					     &off, &rec))
			TH_LOG("round %u, page %u: %s", round, i,
			       kvm_util_error());
		had_base = generation ?
			   lru_model_send_gen(&self->m, gpas[i] / PAGE, round) :
			   lru_model_send(&self->m, gpas[i] / PAGE);
		self->hits += had_base;
		self->misses += !had_base;
		/* sparse writes: a page with a base always gives a delta */
		ASSERT_EQ(had_base, rec.type != KVM_XBZRLE_RECORD_RAW)
			TH_LOG("round %u, page 0x%llx (%u of the call): the model says %s, the module sent %s",
			       round, (unsigned long long)gpas[i], i,
			       had_base ? "a base" : "no base",
			       xbz_record_type_name(rec.type));
	}
}

TEST_F(model, replay)
{
	struct kvm_xbzrle_stats s;
	uint64_t rng = SEED;
	unsigned int round, n, done;

	for (round = 1; round <= ROUNDS; round++) {
		n = write_round(self, round, &rng);
		for (done = 0; done < n; done += BATCH)
			send_batch(_metadata, self, variant->generation, round,
				   self->gpas + done,
				   n - done < BATCH ? n - done : BATCH);
		ASSERT_EQ(0, xbz_dest_compare(&self->dest, &self->vm))
			TH_LOG("round %u: %s", round, kvm_util_error());
		ASSERT_EQ(0, lru_model_check(&self->m));
		ASSERT_EQ(0, xbz_get_stats(self->xfd, &s))
			TH_LOG("%s", kvm_util_error());
		ASSERT_EQ(self->hits, s.cache_hits) TH_LOG("round %u", round);
		ASSERT_EQ(self->misses, s.cache_misses) TH_LOG("round %u", round);
		ASSERT_EQ(self->m.evictions, s.evictions) TH_LOG("round %u", round);
		ASSERT_EQ(self->m.refused, s.refused) TH_LOG("round %u", round);
		ASSERT_EQ(self->m.nr_pages * PAGE, s.cache_bytes)
			TH_LOG("round %u", round);
		ASSERT_EQ(0ULL, s.reclaimed) TH_LOG("the shrinker ran: the model has no shrinker");
	}
	TH_LOG("%u rounds: %llu hits, %llu misses, %llu evictions, %llu refused",
	       ROUNDS, (unsigned long long)s.cache_hits,
	       (unsigned long long)s.cache_misses,
	       (unsigned long long)s.evictions,
	       (unsigned long long)s.refused);
	/* the trace reaches what it is for */
	EXPECT_LT(0ULL, s.evictions);
	if (variant->generation)
		EXPECT_LT(0ULL, s.refused);
}

XBZRLE_SCALE_TIMEOUTS()

TEST_HARNESS_MAIN
