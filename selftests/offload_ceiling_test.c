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
 * The parameter's value is restored on exit.  Needs root (the parameter)
 * and debugfs.
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

#include "kvm_util.h"
#include "records.h"
#include "test_util.h"
#include "xbzrle_tap.h"
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
static void set_param(unsigned int mb)
{
	char v[16];

	snprintf(v, sizeof(v), "%u", mb);
	xbz_param_set("max_cache_mb", v);
}

static uint64_t ctx_stat(int xfd, const char *what)
{
	struct kvm_xbzrle_stats s;

	TEST_ASSERT(!xbz_get_stats(xfd, &s), "GET_STATS: %s", kvm_util_error());
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

static unsigned int pages_differing(const uint8_t *a, const uint8_t *b)
{
	unsigned int i, d = 0;

	for (i = 0; i < MEM_PAGES; i++)
		d += !!memcmp(a + (size_t)i * PAGE, b + (size_t)i * PAGE, PAGE);
	return d;
}

/* A VM with MEM_PAGES of random guest RAM and a context bound to it. */
struct tenant {
	uint8_t *mem;
	uint8_t *dest;		/* the destination's copy */
	int vm_fd;
	int xfd;
};

static void tenant_init(struct tenant *t, unsigned int seed)
{
	t->mem = mmap(NULL, (size_t)MEM_PAGES * PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	t->dest = calloc(MEM_PAGES, PAGE);
	if (t->mem == MAP_FAILED || !t->dest)
		tap_bail_out("%u pages of guest memory and its destination",
			     MEM_PAGES);
	fill_random(t->mem, (size_t)MEM_PAGES * PAGE, &seed);
	t->vm_fd = ioctl(kvm_open(), KVM_CREATE_VM, 0);
	TEST_ASSERT(t->vm_fd >= 0 &&
		    !kvm_set_memslot(t->vm_fd, 0, 0, GPA,
				     (uint64_t)MEM_PAGES * PAGE, t->mem),
		    "a VM with one %u-page memslot", MEM_PAGES);
	t->xfd = xbz_open();
	TEST_ASSERT(t->xfd >= 0 && !xbz_bind(t->xfd, t->vm_fd) &&
		    !xbz_set_region(t->xfd, 0, GPA, (uint64_t)MEM_PAGES * PAGE,
				    t->mem) &&
		    !xbz_set_cache(t->xfd, KVM_XBZRLE_CACHE_SET_SIZE,
				   (uint64_t)NPAGES * PAGE, NULL),
		    "a context with a %u-page cache: %s", NPAGES,
		    kvm_util_error());
}

static void tenant_destroy(struct tenant *t)
{
	close(t->xfd);
	close(t->vm_fd);
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
	*diff = pages_differing(t->mem, t->dest);
	return ret || *diff ? -1 : 0;
}

static void test_ceiling(struct tenant *a)
{
	unsigned int p, worst = 0, worst_page = 0, diff = 0;
	uint64_t before, cache, evict0, evict1, n;
	long long module_cache;
	char why[256] = "";
	int ret;

	/* 1: a full cache under a ceiling that allows it */
	set_param(FULL_MB);
	ret = send_pages(a, 0, NPAGES, why);
	cache = ctx_stat(a->xfd, "cache_bytes");
	tap_result(!ret && cache == (uint64_t)NPAGES * PAGE,
		   "every page sent once: the cache holds all %u pages (%llu KiB)%s%s",
		   NPAGES, (unsigned long long)cache / 1024, WHY_IF(ret, why));

	/* 2: the lowered ceiling holds when the write returns */
	evict0 = ctx_stat(a->xfd, "evictions");
	set_param(LOW_MB);
	cache = ctx_stat(a->xfd, "cache_bytes");
	module_cache = xbz_debugfs_stat("cache_bytes");
	evict1 = ctx_stat(a->xfd, "evictions");
	tap_result(cache <= LOW_MB * MIB && module_cache >= 0 &&
		   (uint64_t)module_cache <= LOW_MB * MIB,
		   "max_cache_mb %u -> %u: when the write returns the cache holds %llu KiB, the module %lld KiB (<= %u MiB); %llu evicted",
		   FULL_MB, LOW_MB, (unsigned long long)cache / 1024,
		   module_cache < 0 ? module_cache : module_cache / 1024,
		   LOW_MB, (unsigned long long)(evict1 - evict0));

	/* 3: the other pages, one per call, each a miss */
	ret = 0;
	for (p = NPAGES; p < MEM_PAGES && !ret; p++) {
		before = ctx_stat(a->xfd, "evictions");
		ret = encode_apply(a->xfd, a->dest, p, 1, why);
		n = ctx_stat(a->xfd, "evictions") - before;
		if (n > worst) {
			worst = n;
			worst_page = p;
		}
	}
	tap_result(!ret && worst <= EVICT_PER_MISS,
		   "under the lowered ceiling %u misses, one per call: none evicts more than %d bases (most: %u, page %u)%s%s",
		   NPAGES, EVICT_PER_MISS, worst, worst_page, WHY_IF(ret, why));

	/* 4: every page changed, all sent: the destination has the source's */
	if (!ret)
		ret = round_exact(a, &diff, why);
	tap_result(!ret,
		   "every page changed and sent again: records applied to the destination give the source's pages (%u of %u differ)%s%s",
		   diff, MEM_PAGES, ret && !diff ? ": " : "",
		   ret && !diff ? why : "");

	/* 5: and the caches stay under the ceiling */
	cache = ctx_stat(a->xfd, "cache_bytes");
	module_cache = xbz_debugfs_stat("cache_bytes");
	tap_result(cache <= LOW_MB * MIB && module_cache >= 0 &&
		   (uint64_t)module_cache <= LOW_MB * MIB,
		   "after a round under it: the cache holds %llu KiB, the module %lld KiB (<= %u MiB)",
		   (unsigned long long)cache / 1024,
		   module_cache < 0 ? module_cache : module_cache / 1024,
		   LOW_MB);
}

static void test_share(struct tenant *a, struct tenant *b)
{
	const uint64_t half = SHARE_MB * MIB / 2, slack = 2 * PAGE;
	unsigned int diff_a = 0, diff_b = 0;
	uint64_t ca, cb;
	char why[256] = "";
	int ret;

	/* 6: the first context holds the whole ceiling */
	set_param(SHARE_MB);
	ret = send_pages(a, 0, MEM_PAGES, why);
	ca = ctx_stat(a->xfd, "cache_bytes");
	tap_result(!ret && ca == SHARE_MB * MIB,
		   "share: alone, the first context fills the %u MiB ceiling (%llu KiB)%s%s",
		   SHARE_MB, (unsigned long long)ca / 1024, WHY_IF(ret, why));

	/* 7: a newcomer gets half of it */
	ret = send_pages(b, 0, MEM_PAGES, why);
	ca = ctx_stat(a->xfd, "cache_bytes");
	cb = ctx_stat(b->xfd, "cache_bytes");
	tap_result(!ret && cb + slack >= half && ca + slack >= half &&
		   ca + cb <= SHARE_MB * MIB,
		   "share: a second context sending %u MiB gets half: first %llu KiB, second %llu KiB (each %llu KiB, within two pages)%s%s",
		   MEM_PAGES * PAGE / (unsigned int)MIB,
		   (unsigned long long)ca / 1024, (unsigned long long)cb / 1024,
		   (unsigned long long)half / 1024, WHY_IF(ret, why));

	/* 8: both destinations stay exact */
	ret = round_exact(a, &diff_a, why);
	if (!ret)
		ret = round_exact(b, &diff_b, why);
	tap_result(!ret,
		   "share: every page of both changed and sent again, both destinations exact (%u and %u of %u differ)%s%s",
		   diff_a, diff_b, MEM_PAGES, ret && !diff_a && !diff_b ? ": " : "",
		   ret && !diff_a && !diff_b ? why : "");
}

int main(void)
{
	struct kvm_xbzrle_caps caps;
	struct tenant a, b;

	tap_timeout(TIMEOUT_S);
	xbz_require_offload(&caps, false);
	tap_plan(8);

	tenant_init(&a, 1);
	tenant_init(&b, 2);
	test_ceiling(&a);
	test_share(&a, &b);
	tenant_destroy(&a);
	tenant_destroy(&b);
	tap_finish();
}
