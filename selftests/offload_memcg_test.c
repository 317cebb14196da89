// SPDX-License-Identifier: GPL-2.0
/*
 * offload_memcg_test - the module's cache in a memory cgroup (v2) smaller
 * than the cache asked for: charged there, bounded by the headroom rule,
 * given back on close.
 *
 * A child process sets up a VM with a 48 MiB working set, its destination
 * copy and its buffers (all touched while it is still in the test's
 * cgroup, so they are charged there), then moves itself into a new cgroup
 * with memory.max 24 MiB and sends every page four times: once without a
 * cache, then three times with a 64 MiB cache (lib/memcg_util.c,
 * memcg_scenario()).  The cache pages are allocated with __GFP_ACCOUNT |
 * __GFP_NORETRY in the caller's context, so:
 *
 *   charged     they show up in the cgroup's memory.current, and closing
 *               the context gives the charge back;
 *   headroom    the cache stops growing an eighth short of the limit (the
 *               module leaves that headroom, since its shrinker cannot act
 *               for a cgroup) instead of invoking the OOM killer, and the
 *               process can still allocate in the cgroup afterwards: oom
 *               and oom_kill 0, the child exits normally, the peak stays
 *               within memory.max;
 *   exact       pages without a base go RAW, and the destination equals
 *               guest memory after every round.
 *
 * Cases: charged_within_headroom, the above; and
 * growth_past_headroom_reclaims_cache, the same and then the process
 * touches 8 MiB more, past the headroom, and keeps it: memcg reclaim must
 * take cache pages through the module's memcg-aware shrinker (reclaimed
 * grows, cache_bytes falls), nothing is OOM-killed, the next round is
 * exact and closing the context still gives the charge back.  The whole
 * machine short of memory is offload_memcg_squeeze_test.
 *
 * offload_memcg_test --headroom-bench RUNS is not a test but a benchmark
 * (Documentation/benchmark.rst): the scenario with growth, RUNS times with
 * the module parameter memcg_headroom on and RUNS times off.
 *
 * On the kernel's kselftest harness.  cgroup2 is mounted at /sys/fs/cgroup
 * if nothing is mounted there (the test VM's initramfs does not mount it)
 * and unmounted in the teardown; a kernel without the memory controller
 * skips, a missing module fails the set-up.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"

#include "kvm_util.h"
#include "memcg_util.h"
#include "test_util.h"
#include "xbzrle_util.h"

/* 2 s on 6.12 under TCG; KASAN is slower (XBZRLE_TIMEOUT_SCALE) */
#define TIMEOUT_S	90
#define CG_NAME		"kvm_xbzrle_memcg_test"
#define HEADROOM_AT	((long long)(MEMCG_MAX - MEMCG_HEADROOM))

FIXTURE(memcg) {
	struct memcg cg;
	struct memcg_result *res;
};

FIXTURE_SETUP(memcg)
{
	struct kvm_xbzrle_caps caps;
	char why[256];
	int ret;

	/* the module is what is tested: its absence is a failure */
	ASSERT_EQ(0, xbz_check_offload(&caps)) TH_LOG("%s", kvm_util_error());
	self->res = memcg_result_alloc();
	ASSERT_NE(NULL, self->res) TH_LOG("%s", kvm_util_error());
	if (memcg_env_setup(&self->cg, why, sizeof(why))) {
		/* no teardown after a skip in the set-up */
		memcg_env_cleanup(&self->cg);
		memcg_result_free(self->res);
		SKIP(return, "%s", why);
	}
	ret = memcg_create(&self->cg, CG_NAME, MEMCG_MAX);
	snprintf(why, sizeof(why), "%s", kvm_util_error());
	if (ret)
		memcg_env_cleanup(&self->cg);
	ASSERT_EQ(0, ret) TH_LOG("cgroup with memory.max %llu: %s",
				 MEMCG_MAX, why);
}

FIXTURE_TEARDOWN(memcg)
{
	memcg_env_cleanup(&self->cg);
	memcg_result_free(self->res);
}

/*
 * Nothing OOM-killed (the child exited normally, memory.events oom and
 * oom_kill 0), and the peak charge within memory.max.
 */
static void expect_no_oom(struct __test_metadata *_metadata,
			  const struct memcg_result *res)
{
	int status = res->status;

	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status) &&
		    res->ev_oom == 0 && res->ev_kill == 0)
		TH_LOG("OOM: child %s %d, memory.events oom %lld oom_kill %lld",
		       WIFEXITED(status) ? "exited with" : "killed by signal",
		       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
		       res->ev_oom, res->ev_kill);
	EXPECT_TRUE(res->peak > 0 && res->peak <= (long long)MEMCG_MAX)
		TH_LOG("peak charged memory %lld KiB (%s) > memory.max %llu KiB",
		       res->peak / 1024,
		       res->peak_sampled ? "sampled memory.current" : "memory.peak",
		       MEMCG_MAX / 1024);
}

/*
 * The cache's pages were charged to the cgroup and given back on close:
 * memory.current rose by at least 9/10 of cache_bytes with the cache, and
 * was as much lower after closing the context.
 */
static bool cache_charged_and_given_back(const struct memcg_result *res)
{
	long long rise = res->cur[MEMCG_S_CACHE] - res->cur[MEMCG_S_NOCACHE];
	long long fall = res->cur[MEMCG_S_CACHE] - res->cur[MEMCG_S_CLOSED];
	long long least = (long long)res->cache_bytes * 9 / 10;

	return res->stage >= MEMCG_S_CLOSED && res->cache_bytes &&
	       rise >= least && fall >= least;
}

TEST_F_TIMEOUT(memcg, charged_within_headroom, TIMEOUT_S)
{
	static const char *const stage_names[MEMCG_S_NR] = {
		"", "moved in", "no cache", "with the cache", "grown",
		"context closed",
	};
	struct memcg_result *res = self->res;
	int k;

	ASSERT_EQ(0, memcg_scenario(&self->cg, res, false))
		TH_LOG("%s", kvm_util_error());

	EXPECT_LE(MEMCG_S_IN, res->stage)
		TH_LOG("child with a %u-page (48 MiB) working set moved into a cgroup with memory.max %llu MiB (memory.current %lld): %s",
		       res->npages, MEMCG_MAX / MiB, res->cur[MEMCG_S_IN], res->why);
	EXPECT_LE(MEMCG_S_NOCACHE, res->stage)
		TH_LOG("round without a cache: destination == guest memory (memory.current %lld): %s",
		       res->cur[MEMCG_S_NOCACHE], res->why);
	TH_LOG("%d rounds with a %llu MiB cache (in effect %llu MiB): RAW/XBZRLE %llu/%llu, %llu/%llu, %llu/%llu",
	       MEMCG_ROUNDS, MEMCG_CACHE / MiB,
	       (unsigned long long)res->cache_size / MiB,
	       (unsigned long long)res->raw[0], (unsigned long long)res->xbzrle[0],
	       (unsigned long long)res->raw[1], (unsigned long long)res->xbzrle[1],
	       (unsigned long long)res->raw[2], (unsigned long long)res->xbzrle[2]);
	EXPECT_TRUE(res->stage >= MEMCG_S_CACHE && res->xbzrle[1] && res->xbzrle[2])
		TH_LOG("the rounds with the cache: destination == guest memory after each, XBZRLE pages in the 2nd and 3rd: %s",
		       res->stage < MEMCG_S_CACHE ? res->why : "no XBZRLE page");

	/*
	 * The cache grew until the cgroup (the cache plus whatever else the
	 * process has charged there) reached its limit less an eighth, the
	 * headroom the module leaves the VM's process, stayed there by
	 * evicting, and never had what it was allowed.
	 */
	TH_LOG("memory.current %lld KiB, headroom at %llu KiB: cache_bytes %llu MiB (%llu KiB) of %llu MiB allowed, %llu evictions, memory.events max %lld",
	       res->cur[MEMCG_S_CACHE] / 1024, HEADROOM_AT / 1024,
	       (unsigned long long)res->cache_bytes / MiB,
	       (unsigned long long)res->cache_bytes / 1024,
	       MEMCG_CACHE / MiB, (unsigned long long)res->evictions, res->ev_max);
	EXPECT_TRUE(res->stage >= MEMCG_S_CACHE && res->cache_size == MEMCG_CACHE &&
		    res->cache_bytes && res->evictions > 0 &&
		    res->cur[MEMCG_S_CACHE] + (long long)MiB >= HEADROOM_AT &&
		    res->cur[MEMCG_S_CACHE] <= HEADROOM_AT + (long long)MiB)
		TH_LOG("the cache did not grow to the cgroup's limit less an eighth (within 1 MiB) with evictions");

	/* ... and it was charged there, and given back */
	TH_LOG("memory.current %lld KiB without the cache, %lld KiB with it (cache_bytes %llu KiB), %lld KiB after closing the context",
	       res->cur[MEMCG_S_NOCACHE] / 1024, res->cur[MEMCG_S_CACHE] / 1024,
	       (unsigned long long)res->cache_bytes / 1024,
	       res->cur[MEMCG_S_CLOSED] / 1024);
	EXPECT_TRUE(cache_charged_and_given_back(res))
		TH_LOG("cache pages not charged to the cgroup, or not given back on close%s%s",
		       WHY_IF(res->stage < MEMCG_S_CLOSED, res->why));
	for (k = MEMCG_S_IN; k < MEMCG_S_NR; k++)
		if (k != MEMCG_S_GROWN)
			TH_LOG("memory.stat %s: kernel %lld KiB, slab %lld KiB, percpu %lld KiB, anon %lld KiB",
			       stage_names[k],
			       res->kernel[k] / 1024, res->slab[k] / 1024,
			       res->percpu[k] / 1024, res->anon[k] / 1024);

	expect_no_oom(_metadata, res);
}

/*
 * The same, then the process touches MEMCG_GROW more, past the headroom,
 * and keeps it: memcg reclaim takes cache pages through the module's
 * memcg-aware shrinker, nothing is OOM-killed, the next round is exact.
 */
TEST_F_TIMEOUT(memcg, growth_past_headroom_reclaims_cache,
	       TIMEOUT_S)
{
	struct memcg_result *res = self->res;

	ASSERT_EQ(0, memcg_scenario(&self->cg, res, true))
		TH_LOG("%s", kvm_util_error());

	/* an OOM kill, if any, is the first thing to know */
	expect_no_oom(_metadata, res);

	/* where the growth starts: charged_within_headroom's checks */
	ASSERT_LE(MEMCG_S_IN, res->stage)
		TH_LOG("child with a %u-page working set moved into the cgroup: %s",
		       res->npages, res->why);
	ASSERT_LE(MEMCG_S_NOCACHE, res->stage)
		TH_LOG("round without a cache: %s", res->why);
	ASSERT_TRUE(res->stage >= MEMCG_S_CACHE && res->xbzrle[1] && res->xbzrle[2])
		TH_LOG("%d rounds with a %llu MiB cache: %s", MEMCG_ROUNDS,
		       MEMCG_CACHE / MiB,
		       res->stage < MEMCG_S_CACHE ? res->why : "no XBZRLE page");

	/* the process grew past the headroom: reclaim took cache pages */
	TH_LOG("touched %llu MiB more in %.1f ms and kept it: cache_bytes %llu -> %llu KiB, reclaimed %llu pages, memory.current %lld KiB; the next round RAW/XBZRLE %llu/%llu",
	       MEMCG_GROW / MiB, res->grow_ns / 1e6,
	       (unsigned long long)res->cache_bytes / 1024,
	       (unsigned long long)res->grown_cache_bytes / 1024,
	       (unsigned long long)res->grown_reclaimed,
	       res->cur[MEMCG_S_GROWN] / 1024,
	       (unsigned long long)res->grown_raw,
	       (unsigned long long)res->grown_xbzrle);
	EXPECT_TRUE(res->stage >= MEMCG_S_GROWN && res->grown_reclaimed > 0 &&
		    res->grown_cache_bytes < res->cache_bytes)
		TH_LOG("memcg reclaim took no cache page, or the next round was not exact%s%s",
		       WHY_IF(res->stage < MEMCG_S_GROWN, res->why));
	TH_LOG("memory.stat grown: kernel %lld KiB, slab %lld KiB, percpu %lld KiB, anon %lld KiB",
	       res->kernel[MEMCG_S_GROWN] / 1024, res->slab[MEMCG_S_GROWN] / 1024,
	       res->percpu[MEMCG_S_GROWN] / 1024, res->anon[MEMCG_S_GROWN] / 1024);

	/* ... and closing the context gives what is left of the charge back */
	EXPECT_TRUE(cache_charged_and_given_back(res))
		TH_LOG("memory.current %lld KiB without the cache, %lld KiB with it (cache_bytes %llu KiB), %lld KiB after closing the context%s%s",
		       res->cur[MEMCG_S_NOCACHE] / 1024,
		       res->cur[MEMCG_S_CACHE] / 1024,
		       (unsigned long long)res->cache_bytes / 1024,
		       res->cur[MEMCG_S_CLOSED] / 1024,
		       WHY_IF(res->stage < MEMCG_S_CLOSED, res->why));
}

/* ------------------- --headroom-bench: is the rule worth it ---------------- */

#define BENCH_MAX	25

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* "median (min-max)" of @n values */
static void spread(char *buf, size_t len, const double *v, int n)
{
	double s[BENCH_MAX];

	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	snprintf(buf, len, "%.1f (%.1f-%.1f)",
		 n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2, s[0], s[n - 1]);
}

/*
 * offload_memcg_test --headroom-bench N: the cgroup scenario with growth
 * (memcg_scenario(), as growth_past_headroom_reclaims_cache runs it), N times with
 * the module's memcg_headroom rule on and N times off, the order
 * alternating, and what the rule changes for the VM's process: the time
 * to touch MEMCG_GROW of new memory once the cache has filled what it
 * could (page faults that wait for memcg reclaim of cache pages), how
 * often the cgroup hit memory.max, and what the cache held and hit.  Every
 * round of every run is still checked exact; a failed run fails the bench.
 * A benchmark, not a test: not in tests.list (Documentation/benchmark.rst).
 * Exit 0, 1 failed, 2 bad usage, 4 (skip) without cgroup v2 memory.
 */
static int bench_headroom(int reps)
{
	static const char * const names[] = { "off", "on" };
	double grow[2][BENCH_MAX], fill_kib[2][BENCH_MAX], hits[2][BENCH_MAX];
	double grown_hits[2][BENCH_MAX], evmax[2][BENCH_MAX];
	char a[64], b[64], c[64], d[64], e[64], why[256];
	struct kvm_xbzrle_caps caps;
	struct memcg_result *res;
	struct memcg cg;
	int r, i, on, failed = 0;

	if (reps < 1 || reps > BENCH_MAX) {
		fprintf(stderr, "--headroom-bench: 1 to %d runs per setting\n", BENCH_MAX);
		return 2;
	}
	xbz_require_offload(&caps, false);
	if (memcg_env_setup(&cg, why, sizeof(why))) {
		memcg_env_cleanup(&cg);
		tap_skip_all("%s", why);
	}
	res = memcg_result_alloc();
	if (!res)
		tap_bail_out("%s", kvm_util_error());
	printf("# memcg_headroom bench: memory.max %llu MiB, a %llu MiB working set sent %d times with a %llu MiB cache, then %llu MiB of new memory touched and one more round\n",
	       MEMCG_MAX / MiB, MEMCG_WS / MiB, MEMCG_ROUNDS, MEMCG_CACHE / MiB,
	       MEMCG_GROW / MiB);
	for (r = 0; r < reps; r++) {
		for (i = 0; i < 2; i++) {
			on = (r + i) % 2;
			/* put back at exit */
			xbz_param_set("memcg_headroom", on ? "Y" : "N");
			if (memcg_create(&cg, CG_NAME, MEMCG_MAX) ||
			    memcg_scenario(&cg, res, true)) {
				fprintf(stderr, "%s\n", kvm_util_error());
				memcg_env_cleanup(&cg);
				return 1;
			}
			memcg_remove(&cg);
			if (res->stage < MEMCG_S_CLOSED || !WIFEXITED(res->status) ||
			    WEXITSTATUS(res->status) || res->ev_kill) {
				printf("# run %d, rule %s: FAILED at stage %d (%s), oom_kill %lld\n",
				       r + 1, names[on], res->stage, res->why, res->ev_kill);
				failed++;
				continue;
			}
			grow[on][r] = res->grow_ns / 1e6;
			fill_kib[on][r] = res->cache_bytes / 1024.0;
			hits[on][r] = res->xbzrle[MEMCG_ROUNDS - 1];
			grown_hits[on][r] = res->grown_xbzrle;
			evmax[on][r] = res->ev_max;
			printf("# run %d, rule %s: grow %.1f ms, cache %.0f KiB, last round %llu XBZRLE of %u, after growing %llu XBZRLE (reclaimed %llu), memory.events max %lld\n",
			       r + 1, names[on], grow[on][r], fill_kib[on][r],
			       (unsigned long long)res->xbzrle[MEMCG_ROUNDS - 1], res->npages,
			       (unsigned long long)res->grown_xbzrle,
			       (unsigned long long)res->grown_reclaimed, res->ev_max);
		}
	}
	memcg_result_free(res);
	memcg_env_cleanup(&cg);
	if (failed) {
		printf("# %d runs failed\n", failed);
		return 1;
	}
	printf("# rule  grow %llu MiB (ms)       cache (KiB)              XBZRLE last round      XBZRLE after growing   memory.events max\n",
	       MEMCG_GROW / MiB);
	for (on = 1; on >= 0; on--) {
		spread(a, sizeof(a), grow[on], reps);
		spread(b, sizeof(b), fill_kib[on], reps);
		spread(c, sizeof(c), hits[on], reps);
		spread(d, sizeof(d), grown_hits[on], reps);
		spread(e, sizeof(e), evmax[on], reps);
		printf("# %-4s  %-22s  %-22s  %-22s  %-22s  %s\n", names[on], a, b, c, d, e);
	}
	printf("# median (min-max) of %d runs each\n", reps);
	return 0;
}

XBZRLE_SCALE_TIMEOUTS()

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--headroom-bench")) {
		if (argc != 3) {
			fprintf(stderr, "usage: %s [--headroom-bench RUNS | harness options]\n",
				argv[0]);
			return 2;
		}
		return bench_headroom(atoi(argv[2]));
	}
	return test_harness_run(argc, argv);
}
