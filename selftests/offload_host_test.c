// SPDX-License-Identifier: GPL-2.0
/*
 * offload_host_test - KVM_XBZRLE_ENCODE of guest memory the host writes:
 * every record kind, max_delta, the cache's size, the shrinker, RESET, a
 * small record buffer and two contexts side by side.
 *
 * Each case makes a VM of HOST_PAGES pages without vCPU (the first
 * HOST_ZERO pages zero, the rest random), binds a context to it and sends
 * pages to a destination copy through lib/guest_util.c, which checks every
 * record against the contract (ZERO for an all-zero page, UNCHANGED and
 * XBZRLE only with a base, an XBZRLE delta byte for byte the userspace
 * encoder's, RAW without a base or on overflow) and after each round the
 * destination must equal guest memory.  The cases:
 *
 *   record_kinds             first send ZERO/RAW, a resend UNCHANGED, a
 *                            few bytes changed XBZRLE, every byte changed
 *                            RAW (overflows), a 3 KiB delta RAW at
 *                            max_delta 1024 and XBZRLE at 4096;
 *   small_cache              SET_CACHE to 16 pages evicts at once and
 *                            makes most pages RAW; the default size back,
 *                            everything is cached again;
 *   shrinker                 drop_caches gives cached pages back, counted
 *                            as reclaimed;
 *   reset                    KVM_XBZRLE_CACHE_RESET empties the cache and
 *                            zeroes the counters: everything RAW/ZERO;
 *   small_buffer             a record buffer of 3 pages: every call stops
 *                            after 3 RAW pages, 7 calls for 20;
 *   two_contexts             two VMs, a context each, used alternately:
 *                            each counts its own pages only.
 *
 * After each case the context's counters must match the records seen.
 * On the kernel's kselftest harness, a fixture per case; a missing module
 * fails the set-up.
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
#define REC_MAX		KVM_XBZRLE_RECORD_MAX_SIZE
#define TIMEOUT_S	60

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

/*
 * One round: pages [@first, @first + @n) sent with @max_delta, records
 * checked and counted in @t, then the destination compared.  0 or -1.
 */
static int host_round(struct mig *m, const char *what, unsigned int first,
		      unsigned int n, uint32_t max_delta, struct tally *t)
{
	int r;

	memset(t, 0, sizeof(*t));
	m->why[0] = 0;
	r = gmig_send(m, gmig_host_range(m, first, n), n, 0, max_delta,
		      m->records_cap, true, t, NULL);
	if (!r)
		r = gmig_compare(m);
	gmig_tally_diag(m, what, t);
	return r;
}

/* host_round() must succeed (a check, the test goes on). */
static void expect_round(struct __test_metadata *_metadata, struct mig *m,
			 const char *what, unsigned int first, unsigned int n,
			 uint32_t max_delta, struct tally *t)
{
	EXPECT_EQ(0, host_round(m, what, first, n, max_delta, t))
		TH_LOG("%s: %s: records exact, destination == guest memory: %s",
		       m->name, what, m->why);
}

/* The context's counters match the records seen (a check). */
static void expect_stats(struct __test_metadata *_metadata, struct mig *m,
			 const char *what)
{
	EXPECT_EQ(0, gmig_check_stats(m))
		TH_LOG("%s: %s: counters match the records: %s", m->name,
		       what, m->why);
}

/*
 * Every page sent once with the default cache (a precondition): pages
 * from HOST_ZERO on are cached.  The test ends if it fails.
 */
static void first_send(struct __test_metadata *_metadata, struct mig *m,
		       struct tally *t)
{
	ASSERT_EQ(0, host_round(m, "first send", 0, HOST_PAGES, PAGE, t))
		TH_LOG("%s: first send: %s", m->name, m->why);
	ASSERT_EQ((uint64_t)HOST_PAGES - HOST_ZERO, t->raw);
}

FIXTURE(host) {
	struct mig m;
	uint64_t default_cache;	/* the context's cache size at first */
};

FIXTURE_SETUP(host)
{
	self->m.xfd = -1;
	/* the module is what is tested: its absence is a failure */
	ASSERT_EQ(0, gmig_check_offload(false)) TH_LOG("%s", kvm_util_error());
	ASSERT_EQ(0, gmig_host_setup(&self->m, "host", 3, HOST_PAGES))
		TH_LOG("VM with %u pages, no vCPU, context bound: %s",
		       HOST_PAGES, self->m.why);
	self->default_cache = gmig_cache_size(&self->m);
	ASSERT_NE(0ULL, self->default_cache) TH_LOG("%s", self->m.why);
}

FIXTURE_TEARDOWN(host)
{
	gmig_destroy(&self->m);
}

TEST_F_TIMEOUT(host, record_kinds, TIMEOUT_S)
{
	struct mig *m = &self->m;
	struct tally t;
	unsigned int i;

	/* 1: first send: zero pages ZERO, the rest RAW (no base yet). */
	expect_round(_metadata, m, "first send", 0, HOST_PAGES, PAGE, &t);
	EXPECT_EQ((uint64_t)HOST_ZERO, t.zero)
		TH_LOG("first send: ZERO records");
	EXPECT_EQ((uint64_t)HOST_PAGES - HOST_ZERO, t.raw)
		TH_LOG("first send: RAW records");

	/* 2: nothing changed: ZERO stays ZERO, the rest UNCHANGED. */
	expect_round(_metadata, m, "resend unchanged", 0, HOST_PAGES, PAGE,
		     &t);
	EXPECT_EQ((uint64_t)HOST_PAGES - HOST_ZERO, t.unchanged)
		TH_LOG("resend: UNCHANGED records");
	EXPECT_EQ((uint64_t)HOST_ZERO, t.zero) TH_LOG("resend: ZERO records");

	/* 3: a few bytes per page: XBZRLE, checked byte for byte. */
	gmig_touch_sparse(m, 16, 16, 0);
	expect_round(_metadata, m, "sparse changes", 16, 16, PAGE, &t);
	EXPECT_EQ((uint64_t)16, t.xbzrle)
		TH_LOG("sparse changes: XBZRLE records");

	/* 4: every byte changed: the delta never fits, RAW overflows. */
	for (i = 32; i < 40; i++)
		touch_dense(gmig_host_page(m, i));
	expect_round(_metadata, m, "dense changes", 32, 8, PAGE, &t);
	EXPECT_EQ((uint64_t)8, t.raw)
		TH_LOG("dense changes: RAW records (overflows)");
	EXPECT_EQ((uint64_t)8, t.overflow_min)
		TH_LOG("dense changes: counted as overflows");

	/* 5: a ~3 KiB delta: RAW at max_delta 1024, XBZRLE at 4096. */
	touch_every_4th(gmig_host_page(m, 40));
	expect_round(_metadata, m, "3 KiB delta, max_delta 1024", 40, 1, 1024,
		     &t);
	EXPECT_EQ((uint64_t)1, t.overflow_min)
		TH_LOG("max_delta 1024: RAW overflow");
	touch_every_4th(gmig_host_page(m, 40));
	expect_round(_metadata, m, "3 KiB delta, max_delta 4096", 40, 1, PAGE,
		     &t);
	EXPECT_TRUE(t.xbzrle == 1 && t.delta_bytes > 1024)
		TH_LOG("max_delta 4096: %llu XBZRLE records of %llu bytes, expected one of more than 1024",
		       (unsigned long long)t.xbzrle,
		       (unsigned long long)t.delta_bytes);
	expect_stats(_metadata, m, "after host rounds");
}

TEST_F_TIMEOUT(host, small_cache, TIMEOUT_S)
{
	struct kvm_xbzrle_stats s0, s1;
	struct mig *m = &self->m;
	uint64_t eff = 0;
	struct tally t;
	int r;

	first_send(_metadata, m, &t);

	/* a cache of 16 pages for 48 non-zero pages */
	ASSERT_EQ(0, xbz_get_stats(m->xfd, &s0)) TH_LOG("%s", kvm_util_error());
	r = xbz_set_cache(m->xfd, KVM_XBZRLE_CACHE_SET_SIZE, 16 * PAGE + 100,
			  &eff);
	if (!r)
		r = xbz_get_stats(m->xfd, &s1);
	ASSERT_EQ(0, r) TH_LOG("SET_CACHE 16 pages + 100 bytes: %s",
			       kvm_util_error());
	EXPECT_TRUE(eff == 16 * PAGE && s1.cache_size == 16 * PAGE &&
		    s1.cache_bytes <= 16 * PAGE &&
		    s0.cache_bytes > 16 * PAGE &&
		    s1.evictions >= s0.evictions +
				    (s0.cache_bytes - 16 * PAGE) / PAGE)
		TH_LOG("SET_CACHE 16 pages + 100 bytes: size in effect %llu (16 pages), cache_size %llu, cache_bytes %llu -> %llu, evictions %llu -> %llu",
		       (unsigned long long)eff,
		       (unsigned long long)s1.cache_size,
		       (unsigned long long)s0.cache_bytes,
		       (unsigned long long)s1.cache_bytes,
		       (unsigned long long)s0.evictions,
		       (unsigned long long)s1.evictions);
	gmig_forget_bases(m);
	m->may_evict = true;
	gmig_touch_sparse(m, HOST_ZERO, HOST_PAGES - HOST_ZERO, 1);
	expect_round(_metadata, m, "small cache, all pages changed",
		     HOST_ZERO, HOST_PAGES - HOST_ZERO, PAGE, &t);
	EXPECT_LE((uint64_t)HOST_PAGES - HOST_ZERO - 16, t.raw)
		TH_LOG("small cache: %llu RAW of %u pages (at most 16 bases fit)",
		       (unsigned long long)t.raw, HOST_PAGES - HOST_ZERO);
	r = xbz_get_stats(m->xfd, &s1);
	EXPECT_TRUE(!r && s1.evictions > s0.evictions &&
		    s1.cache_bytes <= 16 * PAGE)
		TH_LOG("small cache: evictions %llu -> %llu, cache_bytes %llu%s%s",
		       (unsigned long long)s0.evictions,
		       (unsigned long long)s1.evictions,
		       (unsigned long long)s1.cache_bytes,
		       WHY_IF(r, kvm_util_error()));
	expect_stats(_metadata, m, "after the small-cache round");

	/* back to the default size; two sends fill the cache again */
	r = xbz_set_cache(m->xfd, KVM_XBZRLE_CACHE_SET_SIZE,
			  self->default_cache, &eff);
	/* pages sent while the cache was small may have lost their base */
	gmig_forget_bases(m);
	m->may_evict = false;
	if (r)
		why(m, "%s", kvm_util_error());
	if (!r)
		r = gmig_send(m, gmig_host_range(m, 0, HOST_PAGES), HOST_PAGES,
			      0, PAGE, m->records_cap, true, NULL, NULL);
	memset(&t, 0, sizeof(t));
	if (!r)
		r = gmig_send(m, gmig_host_range(m, 0, HOST_PAGES), HOST_PAGES,
			      0, PAGE, m->records_cap, true, &t, NULL);
	if (!r && xbz_get_stats(m->xfd, &s0))
		r = why(m, "%s", kvm_util_error());
	EXPECT_TRUE(!r && t.unchanged == HOST_PAGES - HOST_ZERO &&
		    s0.cache_bytes >= (HOST_PAGES - HOST_ZERO) * PAGE)
		TH_LOG("default cache size again: everything cached (%llu UNCHANGED, cache_bytes %llu)%s%s",
		       (unsigned long long)t.unchanged,
		       (unsigned long long)(r ? 0 : s0.cache_bytes),
		       WHY_IF(r, m->why));
}

TEST_F_TIMEOUT(host, shrinker, TIMEOUT_S)
{
	struct kvm_xbzrle_stats s0, s1;
	struct mig *m = &self->m;
	bool no_drop;
	struct tally t;
	int r;

	/* everything cached: two sends, the second all UNCHANGED */
	first_send(_metadata, m, &t);
	ASSERT_EQ(0, host_round(m, "resend unchanged", 0, HOST_PAGES, PAGE, &t))
		TH_LOG("%s", m->why);
	ASSERT_EQ((uint64_t)HOST_PAGES - HOST_ZERO, t.unchanged);
	ASSERT_EQ(0, xbz_get_stats(m->xfd, &s0)) TH_LOG("%s", kvm_util_error());

	/* the shrinker gives cached pages back */
	no_drop = drop_caches();
	if (!no_drop) {
		r = xbz_get_stats(m->xfd, &s1);
		EXPECT_TRUE(!r && s1.cache_bytes < s0.cache_bytes &&
			    s1.reclaimed > s0.reclaimed &&
			    (s1.reclaimed - s0.reclaimed) * PAGE ==
				s0.cache_bytes - s1.cache_bytes)
			TH_LOG("drop_caches: cache_bytes %llu -> %llu, reclaimed %llu -> %llu%s%s",
			       (unsigned long long)s0.cache_bytes,
			       (unsigned long long)s1.cache_bytes,
			       (unsigned long long)s0.reclaimed,
			       (unsigned long long)s1.reclaimed,
			       WHY_IF(r, kvm_util_error()));
	}
	gmig_forget_bases(m);
	gmig_touch_sparse(m, HOST_ZERO, HOST_PAGES - HOST_ZERO, 2);
	expect_round(_metadata, m, "after the shrinker", 0, HOST_PAGES, PAGE,
		     &t);
	expect_stats(_metadata, m, "after the shrinker");
	/* the rest ran; the shrinker's check could not (no failure hidden) */
	if (no_drop)
		SKIP_UNLESS_FAILED(return, "cannot write /proc/sys/vm/drop_caches");
}

TEST_F_TIMEOUT(host, reset, TIMEOUT_S)
{
	struct kvm_xbzrle_stats s;
	char str[512];
	struct mig *m = &self->m;
	struct tally t;
	int r;

	/* something to forget: bases cached, counters not zero */
	first_send(_metadata, m, &t);
	gmig_touch_sparse(m, HOST_ZERO, 8, 1);
	ASSERT_EQ(0, host_round(m, "sparse changes", 0, HOST_PAGES, PAGE, &t))
		TH_LOG("%s", m->why);
	ASSERT_EQ((uint64_t)8, t.xbzrle);

	/* RESET: no bases, counters zero, then everything RAW/ZERO */
	r = xbz_set_cache(m->xfd, KVM_XBZRLE_CACHE_RESET, 0, NULL);
	if (!r)
		r = xbz_get_stats(m->xfd, &s);
	ASSERT_EQ(0, r) TH_LOG("RESET: %s", kvm_util_error());
	EXPECT_TRUE(!s.cache_bytes && !s.pages && !s.cache_hits &&
		    !s.cache_misses && !s.overflows && !s.zero_pages &&
		    !s.unchanged_pages && !s.xbzrle_pages && !s.raw_pages &&
		    !s.delta_bytes && !s.evictions && !s.reclaimed &&
		    s.cache_size == self->default_cache)
		TH_LOG("RESET: cache empty, counters zero, size kept (was %llu): %s",
		       (unsigned long long)self->default_cache,
		       xbz_stats_str(&s, str, sizeof(str)));
	gmig_reset(m);
	gmig_touch_sparse(m, HOST_ZERO, 8, 3);
	expect_round(_metadata, m, "after RESET", 0, HOST_PAGES, PAGE, &t);
	EXPECT_TRUE(t.raw == HOST_PAGES - HOST_ZERO && t.zero == HOST_ZERO)
		TH_LOG("after RESET: %llu RAW + %llu ZERO, expected %u + %u, nothing else",
		       (unsigned long long)t.raw, (unsigned long long)t.zero,
		       HOST_PAGES - HOST_ZERO, HOST_ZERO);
	expect_stats(_metadata, m, "after RESET");
}

/* ------------------------------ small buffer ----------------------------- */

FIXTURE(small_buffer) {
	struct mig m;
};

FIXTURE_SETUP(small_buffer)
{
	self->m.xfd = -1;
	ASSERT_EQ(0, gmig_check_offload(false)) TH_LOG("%s", kvm_util_error());
	/* a record buffer for 3 pages */
	ASSERT_EQ(0, gmig_host_setup(&self->m, "small-buffer", 4, 3))
		TH_LOG("VM set up: %s", self->m.why);
}

FIXTURE_TEARDOWN(small_buffer)
{
	gmig_destroy(&self->m);
}

/* 20 RAW pages: every call stops after 3 pages, continuing finishes. */
TEST_F_TIMEOUT(small_buffer, calls_continue, TIMEOUT_S)
{
	struct mig *m = &self->m;
	struct tally t = { 0 };
	unsigned int i, calls = 0;
	int r;

	ASSERT_EQ(0, gmig_send(m, gmig_host_range(m, 0, HOST_PAGES), HOST_PAGES,
			       0, PAGE, m->records_cap, true, NULL, NULL))
		TH_LOG("first send with a 3-page buffer: %s", m->why);

	for (i = 20; i < 40; i++)
		touch_dense(gmig_host_page(m, i));
	r = gmig_send(m, gmig_host_range(m, 20, 20), 20, 0, PAGE, 3 * REC_MAX,
		      true, &t, &calls);
	if (!r)
		r = gmig_compare(m);
	EXPECT_TRUE(!r && t.raw == 20 && calls == 7)
		TH_LOG("20 RAW pages (%llu), buffer of 3 * %zu bytes: %u calls (expected 7: 6 x 3 + 2), destination == guest memory%s%s",
		       (unsigned long long)t.raw, REC_MAX, calls,
		       WHY_IF(r, m->why));
	expect_stats(_metadata, m, "after the small-buffer rounds");
}

/* ------------------------------ two contexts ----------------------------- */

FIXTURE(two_contexts) {
	struct mig a, b;
};

FIXTURE_SETUP(two_contexts)
{
	self->a.xfd = -1;
	self->b.xfd = -1;
	ASSERT_EQ(0, gmig_check_offload(false)) TH_LOG("%s", kvm_util_error());
	/* same layout, different content */
	ASSERT_EQ(0, gmig_host_setup(&self->a, "two-contexts/A", 5, HOST_PAGES))
		TH_LOG("two VMs, a context bound to each: %s", self->a.why);
	ASSERT_EQ(0, gmig_host_setup(&self->b, "two-contexts/B", 6, HOST_PAGES))
		TH_LOG("two VMs, a context bound to each: %s", self->b.why);
}

FIXTURE_TEARDOWN(two_contexts)
{
	gmig_destroy(&self->b);
	gmig_destroy(&self->a);
}

/* Used alternately, each context counts its own pages only. */
TEST_F_TIMEOUT(two_contexts, own_pages_only, TIMEOUT_S)
{
	struct mig *both[2] = { &self->a, &self->b };
	struct tally t;
	char what[64];
	int round, k;

	for (round = 0; round < 2; round++) {
		for (k = 0; k < 2; k++) {
			if (round)
				gmig_touch_sparse(both[k], HOST_ZERO + 8 * k, 8,
						  round + k);
			snprintf(what, sizeof(what), "round %d", round);
			expect_round(_metadata, both[k], what, 0, HOST_PAGES,
				     PAGE, &t);
		}
	}
	expect_stats(_metadata, &self->a, "own pages only");
	expect_stats(_metadata, &self->b, "own pages only");
}

XBZRLE_SCALE_TIMEOUTS()

TEST_HARNESS_MAIN
