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
#include "xbzrle_tap.h"

#define PAGE		GUEST_PAGE_SIZE
#define NPAGES		4096U		/* 16 MiB: one cache-full */
#define MEM_PAGES	(2 * NPAGES)	/* the guest's RAM */
#define GPA		0x100000ULL
#define FULL_MB		64		/* the ceiling while the cache fills */
#define LOW_MB		4		/* the lowered ceiling */
#define BATCH		256U
#define EVICT_PER_MISS	2		/* kmod/cache.c */
#define TIMEOUT_S	100
#define PARAM		"/sys/module/kvm_xbzrle/parameters/max_cache_mb"
#define MIB		(1024ULL * 1024)

static uint8_t records[BATCH * KVM_XBZRLE_RECORD_MAX_SIZE]
	__attribute__((aligned(8)));
static uint64_t gpas[BATCH];
static char saved_param[32];

static void restore_param(void)
{
	if (saved_param[0] && write_file(PARAM, saved_param))
		printf("# could not restore %s to %s\n", PARAM, saved_param);
}

static void set_param(unsigned int mb)
{
	char v[16];

	snprintf(v, sizeof(v), "%u", mb);
	if (write_file(PARAM, v))
		tap_bail_out("write %s to %s", v, PARAM);
}

static uint64_t ctx_stat(int xfd, const char *what)
{
	struct kvm_xbzrle_stats s;

	if (xbz_get_stats(xfd, &s))
		tap_bail_out("GET_STATS: %s", kvm_util_error());
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

int main(void)
{
	struct kvm_xbzrle_caps caps;
	unsigned int p, seed = 1, worst = 0, worst_page = 0, diff;
	uint64_t before, cache, evict0, evict1, n;
	long long module_cache;
	uint8_t *mem, *dest;
	char why[256] = "";
	int vm_fd, xfd, ret = 0;

	tap_timeout(TIMEOUT_S);
	xbz_require_offload(&caps, false);
	if (read_file(PARAM, saved_param, sizeof(saved_param)) < 0)
		tap_bail_out("read %s", PARAM);
	saved_param[strcspn(saved_param, "\n")] = 0;
	atexit(restore_param);
	tap_plan(5);

	mem = mmap(NULL, (size_t)MEM_PAGES * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	dest = calloc(MEM_PAGES, PAGE);
	if (mem == MAP_FAILED || !dest)
		tap_bail_out("%u pages of guest memory and its destination",
			     MEM_PAGES);
	fill_random(mem, (size_t)MEM_PAGES * PAGE, &seed);
	vm_fd = ioctl(kvm_open(), KVM_CREATE_VM, 0);
	if (vm_fd < 0 || kvm_set_memslot(vm_fd, 0, 0, GPA,
					 (uint64_t)MEM_PAGES * PAGE, mem))
		tap_bail_out("a VM with one %u-page memslot", MEM_PAGES);
	xfd = xbz_open();
	if (xfd < 0 || xbz_bind(xfd, vm_fd) ||
	    xbz_set_region(xfd, 0, GPA, (uint64_t)MEM_PAGES * PAGE, mem) ||
	    xbz_set_cache(xfd, KVM_XBZRLE_CACHE_SET_SIZE,
			  (uint64_t)NPAGES * PAGE, NULL))
		tap_bail_out("a context with a %u-page cache: %s", NPAGES,
			     kvm_util_error());

	/* 1: a full cache under a ceiling that allows it */
	set_param(FULL_MB);
	for (p = 0; p < NPAGES && !ret; p += BATCH)
		ret = encode_apply(xfd, dest, p, BATCH, why);
	cache = ctx_stat(xfd, "cache_bytes");
	tap_result(!ret && cache == (uint64_t)NPAGES * PAGE,
		   "every page sent once: the cache holds all %u pages (%llu KiB)%s%s",
		   NPAGES, (unsigned long long)cache / 1024, ret ? ": " : "",
		   ret ? why : "");

	/* 2: the lowered ceiling holds when the write returns */
	evict0 = ctx_stat(xfd, "evictions");
	set_param(LOW_MB);
	cache = ctx_stat(xfd, "cache_bytes");
	module_cache = xbz_debugfs_stat("cache_bytes");
	evict1 = ctx_stat(xfd, "evictions");
	tap_result(cache <= LOW_MB * MIB && module_cache >= 0 &&
		   (uint64_t)module_cache <= LOW_MB * MIB,
		   "max_cache_mb %u -> %u: when the write returns the cache holds %llu KiB, the module %lld KiB (<= %u MiB); %llu evicted",
		   FULL_MB, LOW_MB, (unsigned long long)cache / 1024,
		   module_cache < 0 ? module_cache : module_cache / 1024,
		   LOW_MB, (unsigned long long)(evict1 - evict0));

	/* 3: the other pages, one per call, each a miss */
	ret = 0;
	for (p = NPAGES; p < MEM_PAGES && !ret; p++) {
		before = ctx_stat(xfd, "evictions");
		ret = encode_apply(xfd, dest, p, 1, why);
		n = ctx_stat(xfd, "evictions") - before;
		if (n > worst) {
			worst = n;
			worst_page = p;
		}
	}
	tap_result(!ret && worst <= EVICT_PER_MISS,
		   "under the lowered ceiling %u misses, one per call: none evicts more than %d bases (most: %u, page %u)%s%s",
		   NPAGES,
		   EVICT_PER_MISS, worst, worst_page, ret ? ": " : "",
		   ret ? why : "");

	/* 4: every page changed, all sent: the destination has the source's */
	for (p = 0; p < MEM_PAGES; p++)
		mem[(size_t)p * PAGE + (p * 131) % PAGE] ^= 0x5a;
	for (p = 0; p < MEM_PAGES && !ret; p += BATCH)
		ret = encode_apply(xfd, dest, p, BATCH, why);
	diff = pages_differing(mem, dest);
	tap_result(!ret && !diff,
		   "every page changed and sent again: records applied to the destination give the source's pages (%u of %u differ)%s%s",
		   diff, MEM_PAGES, ret ? ": " : "", ret ? why : "");

	/* 5: and the caches stay under the ceiling */
	cache = ctx_stat(xfd, "cache_bytes");
	module_cache = xbz_debugfs_stat("cache_bytes");
	tap_result(cache <= LOW_MB * MIB && module_cache >= 0 &&
		   (uint64_t)module_cache <= LOW_MB * MIB,
		   "after a round under it: the cache holds %llu KiB, the module %lld KiB (<= %u MiB)",
		   (unsigned long long)cache / 1024,
		   module_cache < 0 ? module_cache : module_cache / 1024,
		   LOW_MB);

	close(xfd);
	close(vm_fd);
	munmap(mem, (size_t)MEM_PAGES * PAGE);
	free(dest);
	tap_finish();
}
