// SPDX-License-Identifier: GPL-2.0
/*
 * offload_generation_test - the cache policy of KVM_XBZRLE_ENCODE with and
 * without KVM_XBZRLE_ENCODE_GENERATION, on QEMU's worst case for an LRU: a
 * working set of twice the cache, every page rewritten and sent in the
 * same order every round (a cyclic scan).  Cache of GEN_CACHE pages,
 * working set pages HOST_ZERO .. HOST_ZERO + 2 * GEN_CACHE - 1 of a host VM
 * (lib/guest_util.c; none zero), every record checked against the
 * contract and the destination compared after each round.
 *
 *   with_generations  generation r in round r: round 1 fills the cache
 *                     with the first GEN_CACHE pages; the other GEN_CACHE
 *                     find the cache full and its least recently sent base
 *                     sent in this round, so they are refused (RAW, not
 *                     cached).  From round 2 on the first half hits
 *                     (XBZRLE, its bases sent again in this round), the
 *                     second half is refused: exactly GEN_CACHE hits,
 *                     GEN_CACHE RAW and GEN_CACHE refusals per round, no
 *                     eviction.  Then rounds of the second half only: in
 *                     the next generation the first half's bases, sent in
 *                     the previous one, are still kept (GEN_CACHE
 *                     refusals); a generation later they are two
 *                     generations old and give way (GEN_CACHE evictions,
 *                     no refusal), and the next round of the second half
 *                     hits.
 *   plain_lru         without the flag the LRU evicts every base just
 *                     before its page comes round again: no hit in any
 *                     round, GEN_CACHE evictions in the first round and
 *                     2 * GEN_CACHE in every later one, never a refusal.
 *
 * The counters must match the records after each scan.  On the kernel's
 * kselftest harness; the set-up sends every page once (the destination
 * has them all), then RESETs to an empty cache of GEN_CACHE pages.  A
 * missing module fails the set-up.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"

#include "guest_util.h"
#include "kvm_util.h"
#include "test_util.h"
#include "xbzrle_util.h"

#define PAGE		GUEST_PAGE_SIZE
#define GEN_CACHE	16
#define GEN_ROUNDS	4
#define GEN_LRU_ROUNDS	3
#define TIMEOUT_S	60

FIXTURE(generation) {
	struct mig m;
};

FIXTURE_SETUP(generation)
{
	struct mig *m = &self->m;
	uint64_t eff = 0;
	int r;

	m->xfd = -1;
	/* the module is what is tested: its absence is a failure */
	ASSERT_EQ(0, gmig_check_offload(false)) TH_LOG("%s", kvm_util_error());
	r = gmig_host_setup(m, "generation", 7, HOST_PAGES);
	/* the destination gets every page, then the cache starts empty */
	if (!r)
		r = gmig_send(m, gmig_host_range(m, 0, HOST_PAGES), HOST_PAGES,
			      0, PAGE, m->records_cap, true, NULL, NULL);
	if (!r && xbz_set_cache(m->xfd, KVM_XBZRLE_CACHE_RESET |
				KVM_XBZRLE_CACHE_SET_SIZE, GEN_CACHE * PAGE,
				&eff))
		r = why(m, "%s", kvm_util_error());
	ASSERT_TRUE(!r && eff == GEN_CACHE * PAGE)
		TH_LOG("VM with %u pages sent, RESET, cache of %u pages (size in effect %llu), working set %u pages%s%s",
		       HOST_PAGES, GEN_CACHE, (unsigned long long)eff,
		       2 * GEN_CACHE, WHY_IF(r, m->why));
	gmig_reset(m);
	m->may_evict = true;
}

FIXTURE_TEARDOWN(generation)
{
	gmig_destroy(&self->m);
}

/*
 * One round of the scan: pages [@first, @first + @n) rewritten and sent
 * with @flags (m->generation with KVM_XBZRLE_ENCODE_GENERATION); the
 * records must be exact and the destination equal guest memory, and the
 * round must count @want_hits hits (the rest RAW), @want_refused refusals
 * and @want_evicted evictions.
 */
static void gen_round(struct __test_metadata *_metadata, struct mig *m,
		      const char *what, unsigned int first, unsigned int n,
		      uint32_t flags, uint64_t want_hits,
		      uint64_t want_refused, uint64_t want_evicted)
{
	struct kvm_xbzrle_stats s0, s1;
	struct tally t = { 0 };
	int r;

	m->why[0] = 0;
	gmig_touch_sparse(m, first, n, (uint8_t)m->generation);
	r = xbz_get_stats(m->xfd, &s0);
	if (!r)
		r = gmig_send(m, gmig_host_range(m, first, n), n, flags, PAGE,
			      m->records_cap, true, &t, NULL);
	else
		why(m, "%s", kvm_util_error());
	if (!r)
		r = gmig_compare(m);
	if (!r && xbz_get_stats(m->xfd, &s1))
		r = why(m, "%s", kvm_util_error());
	gmig_tally_diag(m, what, &t);
	EXPECT_EQ(0, r)
		TH_LOG("%s: records exact, destination == guest memory: %s",
		       what, m->why);
	if (r)
		memset(&s1, 0, sizeof(s1));
	EXPECT_TRUE(!r && t.unchanged + t.xbzrle == want_hits &&
		    t.raw == n - want_hits &&
		    s1.refused - s0.refused == want_refused &&
		    s1.evictions - s0.evictions == want_evicted)
		TH_LOG("%s: %llu hits, %llu RAW, %llu refused, %llu evicted (expected %llu, %llu, %llu, %llu)",
		       what, (unsigned long long)(t.unchanged + t.xbzrle),
		       (unsigned long long)t.raw,
		       (unsigned long long)(s1.refused - s0.refused),
		       (unsigned long long)(s1.evictions - s0.evictions),
		       (unsigned long long)want_hits,
		       (unsigned long long)(n - want_hits),
		       (unsigned long long)want_refused,
		       (unsigned long long)want_evicted);
}

TEST_F_TIMEOUT(generation, with_generations, TIMEOUT_S)
{
	const uint32_t gen = KVM_XBZRLE_ENCODE_GENERATION;
	const unsigned int ws = 2 * GEN_CACHE, half = HOST_ZERO + GEN_CACHE;
	struct mig *m = &self->m;
	unsigned int round;
	char what[64];

	for (round = 1; round <= GEN_ROUNDS; round++) {
		m->generation = round;
		snprintf(what, sizeof(what), "scan with generation %u", round);
		gen_round(_metadata, m, what, HOST_ZERO, ws, gen,
			  round == 1 ? 0 : GEN_CACHE, GEN_CACHE, 0);
	}
	/* the next generation: the first half's bases are still kept */
	m->generation = GEN_ROUNDS + 1;
	gen_round(_metadata, m, "second half, the next generation", half,
		  GEN_CACHE, gen, 0, GEN_CACHE, 0);
	/* one more: the first half's bases are two generations old */
	m->generation = GEN_ROUNDS + 2;
	gen_round(_metadata, m, "second half, a generation later", half,
		  GEN_CACHE, gen, 0, 0, GEN_CACHE);
	gen_round(_metadata, m, "second half again", half, GEN_CACHE, gen,
		  GEN_CACHE, 0, 0);
	EXPECT_EQ(0, gmig_check_stats(m))
		TH_LOG("after the scan with generations: counters match the records: %s",
		       m->why);
}

TEST_F_TIMEOUT(generation, plain_lru, TIMEOUT_S)
{
	const unsigned int ws = 2 * GEN_CACHE;
	struct kvm_xbzrle_stats s;
	struct mig *m = &self->m;
	unsigned int round;
	char what[64];
	int r;

	m->generation = 0;
	for (round = 1; round <= GEN_LRU_ROUNDS; round++) {
		snprintf(what, sizeof(what), "scan without generation, round %u",
			 round);
		gen_round(_metadata, m, what, HOST_ZERO, ws, 0, 0, 0,
			  round == 1 ? GEN_CACHE : ws);
	}
	EXPECT_EQ(0, gmig_check_stats(m))
		TH_LOG("after the plain LRU scan: counters match the records: %s",
		       m->why);
	r = xbz_get_stats(m->xfd, &s);
	EXPECT_TRUE(!r && !s.refused)
		TH_LOG("plain LRU: no refusal (refused %llu)%s%s",
		       r ? 0ULL : (unsigned long long)s.refused,
		       WHY_IF(r, kvm_util_error()));
}

XBZRLE_SCALE_TIMEOUTS()

TEST_HARNESS_MAIN
