// SPDX-License-Identifier: GPL-2.0
/*
 * offload_concurrency_test - KVM_XBZRLE_ENCODE from several threads at
 * once, on one context and on different contexts, while everything around
 * the contexts changes: the whole scenario, every thread at the same time.
 *
 * Two VMs, each with a vCPU thread running the guest loop of offload_test
 * (one byte incremented every KiB of a 2 MiB data slot, then an OUT), both
 * with manual dirty-log protection.  Three long-lived contexts:
 *
 *   A1  on VM A, shared by three threads that each own a disjoint set of
 *       pages: "A1/even" and "A1/odd" (even and odd pages of the code and
 *       data slots; dirty log + ENCODE with CLEAR_DIRTY_LOG), and
 *       "A1/hotplug" (a third memslot that it adds, fills, sends, changes,
 *       sends again and removes over and over: the region is removed
 *       explicitly, or dropped by the module's memslot check, or the same
 *       memory is re-added);
 *   A2  on VM A too, thread "A2/full": every page of the code and data
 *       slots each round, without the flag (it must not clear A1's bits);
 *   B   on VM B, thread "B": dirty log + ENCODE with CLEAR_DIRTY_LOG.
 *
 * Around them: thread "lifecycle" opens contexts on VM B, binds them,
 * registers the regions, encodes, and closes them (cached pages and all),
 * and now and then binds one to a scratch VM whose file it then closes
 * (ENCODE must say ENODEV); thread "cache" resizes A1, A2 and B
 * (KVM_XBZRLE_SET_CACHE with sizes from 0 to 64 MiB, and RESET) and runs
 * the shrinker through /proc/sys/vm/drop_caches.
 *
 * Every record is checked as it is applied to its destination (a ZERO
 * record for an all-zero snapshot only, an XBZRLE delta byte-identical to
 * xbzrle_encode() of the destination's copy and the snapshot); the
 * hotplug slot's destination is compared with memory after every send.
 * The phase lasts CONC_RUN_MS, longer on a slow kernel until every thread
 * did its minimum, at most CONC_RUN_MAX_MS; then the threads stop, the
 * vCPUs are kicked out of KVM_RUN, each owner runs a last round, and every
 * context's destination must equal guest memory.  After the contexts are
 * closed the module's context count and cache are back where they were;
 * on a lockdep kernel lockdep must still be on (only all the threads
 * together take every lock of the module in every order this scenario
 * can), and the kernel log of the run must hold no warning.
 *
 * The run, threads and checks are lib/concurrency_{util,threads,checks}.c's
 * (include/concurrency_util.h).  The variants run the whole scenario
 * (all_threads) and its parts, each behaviour with what it races against,
 * so that a failure of the whole can be placed:
 *
 *   owners_*     the owners alone: A1's two on one context, then beside
 *                A2's full resend without the flag (it must not clear
 *                A1's dirty bits), then with B on the other VM;
 *   hotplug_*    A1/hotplug beside A1's owners, then also under the cache
 *                thread's resizes, RESETs and shrinker runs;
 *   lifecycle_*  short-lived contexts on VM B beside its long-lived one,
 *                then also with the cache thread;
 *   cache_*      the cache thread against A1's owners, then every owner.
 *
 * A point whose thread a variant does not start is not checked there.  On
 * the kernel's kselftest harness; a missing module or manual dirty-log
 * protection fails the set-up.
 */
#include <stdio.h>

#include "kselftest_harness.h"

#include "concurrency_util.h"
#include "test_util.h"

FIXTURE(concurrency) {
	struct conc_run *run;
	char line[CONC_LINE];
};

FIXTURE_VARIANT(concurrency) {
	unsigned int threads;		/* CONC_* */
};

/*
 * Nine threads: two vCPUs, six calling ENCODE (three sharing A1), one
 * resizing caches and running the shrinker.
 */
FIXTURE_VARIANT_ADD(concurrency, all_threads) {
	.threads = CONC_ALL,
};

FIXTURE_VARIANT_ADD(concurrency, owners_one_context) {
	.threads = CONC_A1_OWNERS,
};

FIXTURE_VARIANT_ADD(concurrency, owners_beside_full_resend) {
	.threads = CONC_A1_OWNERS | CONC_A2_OWNER,
};

FIXTURE_VARIANT_ADD(concurrency, owners_two_vms) {
	.threads = CONC_OWNERS,
};

FIXTURE_VARIANT_ADD(concurrency, hotplug_beside_owners) {
	.threads = CONC_A1_OWNERS | CONC_HOTPLUG,
};

FIXTURE_VARIANT_ADD(concurrency, hotplug_under_cache_resets) {
	.threads = CONC_A1_OWNERS | CONC_HOTPLUG | CONC_CACHE,
};

FIXTURE_VARIANT_ADD(concurrency, lifecycle_beside_owner) {
	.threads = CONC_LIFECYCLE | CONC_B_OWNER,
};

FIXTURE_VARIANT_ADD(concurrency, lifecycle_with_shrinker) {
	.threads = CONC_LIFECYCLE | CONC_B_OWNER | CONC_CACHE,
};

FIXTURE_VARIANT_ADD(concurrency, cache_one_context) {
	.threads = CONC_A1_OWNERS | CONC_CACHE,
};

FIXTURE_VARIANT_ADD(concurrency, cache_all_owners) {
	.threads = CONC_OWNERS | CONC_CACHE,
};

FIXTURE_SETUP(concurrency)
{
	/* two VMs with a vCPU each, contexts A1 and A2 on VM A, B on VM B */
	ASSERT_EQ(0, conc_setup(&self->run, variant->threads))
		TH_LOG("%s", kvm_util_error());
}

FIXTURE_TEARDOWN(concurrency)
{
	conc_free(self->run);
}

TEST_F_TIMEOUT(concurrency, threads_at_once, CONC_TIMEOUT_S)
{
	struct conc_run *r = self->run;
	char *line = self->line;
	enum conc_point p;

	ASSERT_EQ(0, conc_run(r)) TH_LOG("%s", kvm_util_error());

	/*
	 * Each thread of the variant: every record valid, at least its
	 * minimum done; then, the last rounds having run with the guests
	 * stopped, every destination exact.
	 */
	for (p = 0; p < CONC_NPOINTS; p++)
		EXPECT_TRUE(!conc_applies(r, p) || conc_result(r, p, line))
			TH_LOG("%s", line);

	conc_close(r);
	conc_expect_closed_and_quiet(_metadata, r, line);
}

XBZRLE_SCALE_TIMEOUTS()

TEST_HARNESS_MAIN
