// SPDX-License-Identifier: GPL-2.0
/*
 * offload_ceiling_test - a lowered max_cache_mb is applied when it is
 * written, not by the next unlucky ENCODE call.
 *
 * One context fills a 16 MiB cache; the module-wide ceiling is then
 * lowered to 4 MiB through /sys/module/kvm_xbzrle/parameters/max_cache_mb:
 *
 *   at once     when the write returns, the caches together hold no more
 *               than the new ceiling (debugfs and GET_STATS agree);
 *   bounded     16 MiB of other pages, sent afterwards one per call (each
 *               a miss), make no call evict more than two bases (one to
 *               reuse, one to go below the ceiling), never a cache-full
 *               under the index lock;
 *   exact       every record of the rounds, applied to a destination's
 *               copy, gives the source's pages, also after a last round
 *               over all 32 MiB with each page changed.
 *
 * Then the sharing rule (Documentation/offload.rst): under an 8 MiB ceiling
 * that context fills it, and a second context, on another VM, starts
 * sending 16 MiB:
 *
 *   share       each ends with half of the ceiling (the newcomer took the
 *               first one's oldest bases as it missed), and both
 *               destinations stay exact.
 *
 * On the kernel's kselftest harness: the two parts are two cases, each
 * with fresh tenants and the parameter's value saved at the case's first
 * write and put back in the fixture's teardown.  Needs root (the parameter) and
 * debugfs; a missing module fails the set-up.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kselftest_harness.h"

#include "kvm_util.h"
#include "records.h"
#include "test_util.h"
#include "xbzrle_util.h"

#define PAGE		GUEST_PAGE_SIZE
#define NPAGES		4096U		/* 16 MiB: one cache-full */
#define MEM_PAGES	(2 * NPAGES)	/* the guest's RAM */
#define GPA		0x100000ULL
#define FULL_MB		64		/* the ceiling while the cache fills */
#define LOW_MB		4		/* the lowered ceiling */
#define SHARE_MB	8		/* the ceiling two contexts share */
#define BATCH		256U
#define EVICT_PER_MISS	2		/* kmod/cache.c */
#define TIMEOUT_S	100
#define MIB		(1024ULL * 1024)

static uint8_t records[BATCH * KVM_XBZRLE_RECORD_MAX_SIZE]
	__attribute__((aligned(8)));
static uint64_t gpas[BATCH];

static int set_param(unsigned int mb)
{
	char v[16];

	snprintf(v, sizeof(v), "%u", mb);
	return xbz_param_write("max_cache_mb", v);
}

/* The context's evictions or cache_bytes; UINT64_MAX if GET_STATS fails. */
static uint64_t ctx_stat(int xfd, const char *what)
{
	struct kvm_xbzrle_stats s = { .size = sizeof(s) };

	if (xbz_get_stats(xfd, &s))
		return UINT64_MAX;
	if (!strcmp(what, "evictions"))
		return s.evictions;
	return s.cache_bytes;
}

/*
 * Encodes pages [@first, @first + @n) and applies their records to @dest
 * (the destination's copy of all MEM_PAGES).  Returns 0, or -1 with *@why.
 */
static int encode_apply(int xfd, uint8_t *dest, unsigned int first,
			unsigned int n, char *why)
{
	struct xbz_encode_result res;
	struct xbz_record rec;
	uint32_t off = 0;
	unsigned int i, p;

	for (i = 0; i < n; i++)
		gpas[i] = GPA + (uint64_t)(first + i) * PAGE;
	if (xbz_encode(xfd, 0, gpas, n, records, sizeof(records), PAGE, &res))
		return set_why(why, 256, "ENCODE: %s", kvm_util_error());
	if (res.npages_done != n)
		return set_why(why, 256, "ENCODE did %u of %u pages",
			       res.npages_done, n);
	for (i = 0; i < n; i++) {
		if (xbz_next_record(records, res.records_used, &off, &rec) != 1)
			return set_why(why, 256, "record %u: %s", i,
				       kvm_util_error());
		p = (rec.gpa - GPA) / PAGE;
		if (rec.gpa != gpas[i] ||
		    xbz_apply_record(&rec, dest + (size_t)p * PAGE))
			return set_why(why, 256, "record %u (gpa 0x%llx): %s", i,
				       (unsigned long long)rec.gpa,
				       kvm_util_error());
	}
	return 0;
}

/* A VM with MEM_PAGES of random guest RAM and a context bound to it. */
struct tenant {
	uint8_t *mem;
	uint8_t *dest;		/* the destination's copy */
	int vm_fd;
	int xfd;
};

/* 0, or -1 with *@why; tenant_destroy() undoes what was done either way. */
static int tenant_init(struct tenant *t, unsigned int seed, char *why)
{
	t->vm_fd = t->xfd = -1;
	t->mem = mmap(NULL, (size_t)MEM_PAGES * PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	t->dest = calloc(MEM_PAGES, PAGE);
	if (t->mem == MAP_FAILED || !t->dest)
		return set_why(why, 256, "%u pages of guest memory and its destination",
			       MEM_PAGES);
	fill_random(t->mem, (size_t)MEM_PAGES * PAGE, &seed);
	t->vm_fd = ioctl(kvm_open(), KVM_CREATE_VM, 0);
	if (t->vm_fd < 0 ||
	    kvm_set_memslot(t->vm_fd, 0, 0, GPA, (uint64_t)MEM_PAGES * PAGE,
			    t->mem))
		return set_why(why, 256, "a VM with one %u-page memslot: %s",
			       MEM_PAGES, strerror(errno));
	t->xfd = xbz_open();
	if (t->xfd < 0 || xbz_bind(t->xfd, t->vm_fd) ||
	    xbz_set_region(t->xfd, 0, GPA, (uint64_t)MEM_PAGES * PAGE, t->mem) ||
	    xbz_set_cache(t->xfd, KVM_XBZRLE_CACHE_SET_SIZE,
			  (uint64_t)NPAGES * PAGE, NULL))
		return set_why(why, 256, "a context with a %u-page cache: %s",
			       NPAGES, kvm_util_error());
	return 0;
}

static void tenant_destroy(struct tenant *t)
{
	if (t->xfd >= 0)
		close(t->xfd);
	if (t->vm_fd >= 0)
		close(t->vm_fd);
	if (t->mem && t->mem != MAP_FAILED)
		munmap(t->mem, (size_t)MEM_PAGES * PAGE);
	free(t->dest);
}

/* Pages [@first, @first + @n) of @t, BATCH per call. */
static int send_pages(struct tenant *t, unsigned int first, unsigned int n,
		      char *why)
{
	unsigned int p;
	int ret = 0;

	for (p = first; p < first + n && !ret; p += BATCH)
		ret = encode_apply(t->xfd, t->dest, p, BATCH, why);
	return ret;
}

/* Every page changed by a byte, all sent: 0 if @t's destination is exact. */
static int round_exact(struct tenant *t, unsigned int *diff, char *why)
{
	unsigned int p;
	int ret;

	for (p = 0; p < MEM_PAGES; p++)
		t->mem[(size_t)p * PAGE + (p * 131) % PAGE] ^= 0x5a;
	ret = send_pages(t, 0, MEM_PAGES, why);
	*diff = xbz_pages_differing(t->mem, t->dest, MEM_PAGES);
	return ret || *diff ? -1 : 0;
}

FIXTURE(ceiling) {
	struct tenant a, b;
	char why[256];
};

FIXTURE_SETUP(ceiling)
{
	struct kvm_xbzrle_caps caps;

	if (geteuid())
		SKIP(return, "not root: max_cache_mb is root's");
	/* the module is what is tested: its absence is a failure */
	ASSERT_EQ(0, xbz_check_offload(&caps)) TH_LOG("%s", kvm_util_error());
	ASSERT_EQ(0, tenant_init(&self->a, 1, self->why)) TH_LOG("%s", self->why);
	ASSERT_EQ(0, tenant_init(&self->b, 2, self->why)) TH_LOG("%s", self->why);
}

FIXTURE_TEARDOWN(ceiling)
{
	tenant_destroy(&self->a);
	tenant_destroy(&self->b);
	/* the case's _exit() skips atexit() */
	EXPECT_EQ(0, xbz_param_restore_all()) TH_LOG("%s", kvm_util_error());
}

TEST_F_TIMEOUT(ceiling, lowered_ceiling_applies_at_once_and_bounded, TIMEOUT_S)
{
	unsigned int p, worst = 0, worst_page = 0, diff = 0;
	uint64_t before, cache, evict0, evict1, n;
	struct tenant *a = &self->a;
	long long module_cache;
	char *why = self->why;

	/* a full cache under a ceiling that allows it */
	ASSERT_EQ(0, set_param(FULL_MB)) TH_LOG("%s", kvm_util_error());
	ASSERT_EQ(0, send_pages(a, 0, NPAGES, why)) TH_LOG("%s", why);
	EXPECT_EQ((uint64_t)NPAGES * PAGE, ctx_stat(a->xfd, "cache_bytes"));

	/* the lowered ceiling holds when the write returns */
	evict0 = ctx_stat(a->xfd, "evictions");
	ASSERT_EQ(0, set_param(LOW_MB)) TH_LOG("%s", kvm_util_error());
	cache = ctx_stat(a->xfd, "cache_bytes");
	module_cache = xbz_debugfs_stat("cache_bytes");
	evict1 = ctx_stat(a->xfd, "evictions");
	EXPECT_GE(LOW_MB * MIB, cache);
	EXPECT_TRUE(module_cache >= 0 && (uint64_t)module_cache <= LOW_MB * MIB)
		TH_LOG("max_cache_mb %u -> %u: the module holds %lld KiB; %llu evicted",
		       FULL_MB, LOW_MB, module_cache < 0 ? module_cache : module_cache / 1024,
		       (unsigned long long)(evict1 - evict0));

	/* the other pages, one per call, each a miss: at most two evictions */
	for (p = NPAGES; p < MEM_PAGES; p++) {
		before = ctx_stat(a->xfd, "evictions");
		ASSERT_EQ(0, encode_apply(a->xfd, a->dest, p, 1, why))
			TH_LOG("page %u: %s", p, why);
		n = ctx_stat(a->xfd, "evictions") - before;
		if (n > worst) {
			worst = n;
			worst_page = p;
		}
	}
	EXPECT_GE((unsigned int)EVICT_PER_MISS, worst) TH_LOG("page %u evicted %u bases",
						 worst_page, worst);

	/* every page changed and sent again: the destination has the source's */
	EXPECT_EQ(0, round_exact(a, &diff, why))
		TH_LOG("%u of %u pages differ%s%s", diff, MEM_PAGES,
		       WHY_IF(!diff, why));

	/* and the caches stay under the ceiling */
	cache = ctx_stat(a->xfd, "cache_bytes");
	module_cache = xbz_debugfs_stat("cache_bytes");
	EXPECT_GE(LOW_MB * MIB, cache);
	EXPECT_TRUE(module_cache >= 0 && (uint64_t)module_cache <= LOW_MB * MIB)
		TH_LOG("after a round under it the module holds %lld KiB",
		       module_cache < 0 ? module_cache : module_cache / 1024);
}

TEST_F_TIMEOUT(ceiling, two_contexts_share_it, TIMEOUT_S)
{
	const uint64_t half = SHARE_MB * MIB / 2, slack = 2 * PAGE;
	unsigned int diff_a = 0, diff_b = 0;
	char *why = self->why;
	uint64_t ca, cb;

	/* the first context holds the whole ceiling */
	ASSERT_EQ(0, set_param(SHARE_MB)) TH_LOG("%s", kvm_util_error());
	ASSERT_EQ(0, send_pages(&self->a, 0, MEM_PAGES, why)) TH_LOG("%s", why);
	EXPECT_EQ(SHARE_MB * MIB, ctx_stat(self->a.xfd, "cache_bytes"));

	/* a newcomer gets half of it, within two pages */
	ASSERT_EQ(0, send_pages(&self->b, 0, MEM_PAGES, why)) TH_LOG("%s", why);
	ca = ctx_stat(self->a.xfd, "cache_bytes");
	cb = ctx_stat(self->b.xfd, "cache_bytes");
	EXPECT_TRUE(cb + slack >= half && ca + slack >= half &&
		    ca + cb <= SHARE_MB * MIB)
		TH_LOG("first %llu KiB, second %llu KiB (each %llu KiB)",
		       (unsigned long long)ca / 1024, (unsigned long long)cb / 1024,
		       (unsigned long long)half / 1024);

	/* both destinations stay exact */
	EXPECT_EQ(0, round_exact(&self->a, &diff_a, why))
		TH_LOG("first: %u of %u differ%s%s", diff_a, MEM_PAGES,
		       WHY_IF(!diff_a, why));
	EXPECT_EQ(0, round_exact(&self->b, &diff_b, why))
		TH_LOG("second: %u of %u differ%s%s", diff_b, MEM_PAGES,
		       WHY_IF(!diff_b, why));
}

XBZRLE_SCALE_TIMEOUTS()

TEST_HARNESS_MAIN
