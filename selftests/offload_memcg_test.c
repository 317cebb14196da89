// SPDX-License-Identifier: GPL-2.0
/*
 * offload_memcg_test - the module's cache under memory pressure.
 *
 * (a) A memory cgroup (v2) smaller than the cache asked for.  A child
 *     process sets up a VM with a 48 MiB working set, its destination copy
 *     and its buffers (all touched while it is still in the parent's
 *     cgroup, so they are charged there), then moves itself into a new
 *     cgroup with memory.max 24 MiB and sends every page four times: once
 *     without a cache, then three times with a 64 MiB cache.  The cache
 *     pages are allocated with __GFP_ACCOUNT | __GFP_NORETRY in the
 *     caller's context, so they must show up in the cgroup's
 *     memory.current, the cache must stop growing an eighth short of the
 *     limit (the module leaves that headroom, since its shrinker cannot
 *     act for a cgroup) instead of invoking the OOM killer, the process
 *     must still be able to allocate in the cgroup afterwards (oom and
 *     oom_kill 0, the child exits normally), pages without a base go RAW,
 *     and the destination must equal guest memory after every round.
 *     Then the process touches 8 MiB more, past the headroom, and keeps
 *     it, as a guest touching new RAM during a migration does: the cache
 *     must give pages back to memcg reclaim (the module's shrinker is
 *     memcg aware), nothing may be OOM-killed, and the next round must be
 *     exact.  Closing the context must give the charge back.
 *
 * (b) The whole (test) machine short of memory.  The test fills a large
 *     cache (128 MiB of guest RAM sent once, within the module's ceiling
 *     max_cache_mb), then a child allocates and touches anonymous memory
 *     until the module's shrinker gives cached pages back.  It does not aim
 *     at a size computed from MemAvailable: that is an estimate, and free
 *     pages it does not count (per-CPU lists, memory still being given
 *     back) once let the hog reach such a target with the watermarks
 *     untouched.  It takes the zones below their low watermarks (waking
 *     kswapd) and stops half way to the min watermarks if the cache does
 *     not shrink, so that a broken shrinker fails the test instead of
 *     OOMing the machine (and it runs with oom_score_adj 1000 in case); it
 *     also stops, failing, when it holds what was available plus the whole
 *     cache.  Then: the context's reclaimed counter grew by what
 *     cache_bytes lost, no process was OOM-killed (/proc/vmstat oom_kill
 *     where the kernel counts it, the kernel log, the hog's exit status),
 *     and the next round is exact, with exactly the reclaimed pages sent
 *     RAW.
 *
 * cgroup2 is mounted at /sys/fs/cgroup if nothing is mounted there (the
 * test VM's initramfs does not mount it), and unmounted afterwards.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kvm_util.h"
#include "records.h"
#include "test_util.h"
#include "xbzrle_tap.h"
#include "xbzrle_util.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC	0x63677270
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE	23
#endif

#define PAGE		GUEST_PAGE_SIZE
#define REC_MAX		KVM_XBZRLE_RECORD_MAX_SIZE
#define REC_PAGES	64
#define TIMEOUT_S	170
#define MiB		(1ULL << 20)

#define CG_ROOT		"/sys/fs/cgroup"
#define CG_MAX		(24 * MiB)
#define CG_CACHE	(64 * MiB)
#define CG_WS		(48 * MiB)
#define CG_ROUNDS	3	/* with the cache */
#define CG_GROW		(8 * MiB)	/* more than the headroom */

#define BIG_SIZE	(128 * MiB)
#define HOG_STEP	(1 * MiB)

/* ------------------------------- helpers ---------------------------------- */

struct mig {
	struct kvm_vm vm;
	struct xbz_dest dest;
	int xfd;
	uint64_t *gpas;
	uint32_t npages;
	uint8_t *records;
	struct xbz_counts got;
	uint64_t calls;
	char why[384];
};

#define why(m, ...)	set_why((m)->why, sizeof((m)->why), __VA_ARGS__)

/* Touches (faults in) @len bytes: charged to the cgroup we are in now. */
static void populate(void *p, size_t len)
{
	size_t off;

	if (!madvise(p, len, MADV_POPULATE_WRITE))
		return;
	for (off = 0; off < len; off += PAGE)
		((volatile uint8_t *)p)[off] = ((volatile uint8_t *)p)[off];
}

/*
 * No transparent huge pages in [@p, @p + @len): khugepaged would otherwise
 * collapse the test's small pages in the background and charge the
 * cgroup up to 2 MiB more at moments the test does not choose (seen as an
 * OOM kill in a slow run).  Like the hog's memory.
 */
static void no_thp(void *p, size_t len)
{
	uintptr_t start = ((uintptr_t)p + PAGE - 1) & ~(uintptr_t)(PAGE - 1);
	uintptr_t end = ((uintptr_t)p + len) & ~(uintptr_t)(PAGE - 1);

	if (end > start)
		madvise((void *)start, end - start, MADV_NOHUGEPAGE);
}

/* Distinct pages, a word every 256 bytes; every @zero-th page stays zero. */
static void fill_pages(uint8_t *mem, uint64_t npages, uint64_t salt,
		       unsigned int zero)
{
	uint64_t i, k;

	for (i = 0; i < npages; i++) {
		if (zero && i % zero == zero - 1)
			continue;
		for (k = 0; k < PAGE; k += 256)
			*(uint64_t *)(mem + i * PAGE + k) =
				(i * 0x9e3779b97f4a7c15ULL) ^ (k << 40) ^ salt;
	}
}

/* A few bytes of every non-zero page change: deltas. */
static void touch_pages(uint8_t *mem, uint64_t npages, uint8_t salt,
			unsigned int zero)
{
	uint64_t i;

	for (i = 0; i < npages; i++)
		if (!zero || i % zero != zero - 1)
			mem[i * PAGE + 8 + salt] ^= 0x5a;
}

/* A VM (no vCPU) with one memslot of @size, its destination and a context. */
static int mig_setup(struct mig *m, uint64_t size, unsigned int zero)
{
	uint32_t i;

	memset(m, 0, sizeof(*m));
	m->xfd = -1;
	m->vm.fd = -1;
	m->npages = size / PAGE;
	if (vm_create(&m->vm, 0) || vm_add_memslot(&m->vm, 0, 0, size) ||
	    xbz_dest_init(&m->dest, &m->vm))
		return why(m, "%s", kvm_util_error());
	m->gpas = calloc(m->npages, sizeof(*m->gpas));
	m->records = aligned_alloc(PAGE, REC_PAGES * REC_MAX);
	if (!m->gpas || !m->records)
		return why(m, "out of memory");
	for (i = 0; i < m->npages; i++)
		m->gpas[i] = (uint64_t)i * PAGE;
	no_thp(vm_gpa_to_hva(&m->vm, 0), size);
	no_thp(m->dest.slots[0].mem, size);
	no_thp(m->records, REC_PAGES * REC_MAX);
	populate(vm_gpa_to_hva(&m->vm, 0), size);
	populate(m->dest.slots[0].mem, size);
	populate(m->records, REC_PAGES * REC_MAX);
	fill_pages(vm_gpa_to_hva(&m->vm, 0), m->npages, 1, zero);
	m->xfd = xbz_open_bound(&m->vm);
	if (m->xfd < 0)
		return why(m, "%s", kvm_util_error());
	return 0;
}

static void mig_destroy(struct mig *m)
{
	if (m->xfd >= 0)
		close(m->xfd);
	m->xfd = -1;
	vm_destroy(&m->vm);
	xbz_dest_free(&m->dest);
	free(m->gpas);
	free(m->records);
	m->gpas = NULL;
	m->records = NULL;
}

/*
 * Sends every page (the host wrote them, nothing else runs: a paused
 * round), checks and applies each call's records (xbz_check_apply_call()),
 * then compares the destination with guest memory.
 */
static int mig_round(struct mig *m)
{
	/* on the stack touch_stack() faulted in: no new page in the cgroup */
	uint8_t scratch[2 * PAGE];
	struct xbz_encode_result res;
	uint32_t done = 0;
	int bad;

	memset(&m->got, 0, sizeof(m->got));
	while (done < m->npages) {
		if (xbz_encode(m->xfd, 0, m->gpas + done, m->npages - done,
			       m->records, REC_PAGES * REC_MAX, PAGE, &res))
			return why(m, "after %u of %u pages: %s", done,
				   m->npages, kvm_util_error());
		m->calls++;
		if (!res.npages_done)
			return why(m, "ENCODE did no page");
		if (xbz_check_apply_call(m->records, res.records_used,
					 m->gpas + done, res.npages_done, NULL,
					 &m->dest, scratch, &m->got))
			return why(m, "%s", kvm_util_error());
		done += res.npages_done;
	}
	bad = xbz_dest_compare(&m->dest, &m->vm);
	if (bad)
		return why(m, "destination differs: %s", kvm_util_error());
	return 0;
}

/*
 * The values after "@keys[i] " in a "key value" file, in one read:
 * @vals[i], -1 where a key is absent.  0, or -1 if the file cannot be read.
 */
static int read_keys(const char *path, const char *const *keys,
		     long long *vals, unsigned int n)
{
	char buf[16384], *p;
	unsigned int i;
	size_t kl;

	for (i = 0; i < n; i++)
		vals[i] = -1;
	if (read_file(path, buf, sizeof(buf)))
		return -1;
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		for (i = 0; i < n; i++) {
			kl = strlen(keys[i]);
			if (!strncmp(p, keys[i], kl) && (p[kl] == ' ' || p[kl] == ':'))
				vals[i] = strtoll(p + kl + 1, NULL, 10);
		}
	}
	return 0;
}

/* The value after "@key " in a "key value" file; -1 if absent. */
static long long read_key(const char *path, const char *key)
{
	long long v;

	read_keys(path, &key, &v, 1);
	return v;
}

static long long read_u64(const char *path)
{
	char buf[64];

	if (read_file(path, buf, sizeof(buf)))
		return -1;
	return strtoll(buf, NULL, 10);
}

/* ------------------------------ (a) cgroup -------------------------------- */

static char cg_dir[128];
static bool cg_mounted_here;

/*
 * Shared with the child that does the rounds.  The parent (outside the
 * cgroup) reads the cgroup's files, so that nothing the child does but
 * ENCODE allocates inside the cgroup: at the limit, an allocation without
 * __GFP_NORETRY there would invoke the OOM killer.
 */
enum { S_IN = 1, S_NOCACHE, S_CACHE, S_GROWN, S_CLOSED, S_NR };
struct cg_result {
	int stage;		/* points the child got through */
	int want, done;		/* sample requests: child -> parent */
	char why[512];
	long long cur[S_NR], kernel[S_NR], slab[S_NR], percpu[S_NR], anon[S_NR];
	long long cur_max;
	uint64_t cache_size, cache_bytes, evictions;
	uint64_t raw[CG_ROUNDS], xbzrle[CG_ROUNDS];
	/* after the process grew past the headroom */
	uint64_t grown_cache_bytes, grown_reclaimed, grown_raw, grown_xbzrle;
	uint64_t grow_ns;	/* time to touch those CG_GROW bytes */
	uint32_t npages;
	/* read when the child has exited */
	int status;
	long long ev_max, ev_oom, ev_kill, peak;
};

static char cg_path_buf[256];

static const char *cg_path(const char *file)
{
	snprintf(cg_path_buf, sizeof(cg_path_buf), "%s/%s", cg_dir, file);
	return cg_path_buf;
}

/* Child: waits until the parent has sampled the cgroup for stage @k. */
static void cg_sync(struct cg_result *res, int k)
{
	__atomic_store_n(&res->want, k, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&res->done, __ATOMIC_SEQ_CST) != k)
		sleep_ms(1);
}

/* Parent: samples memory.current; answers the child's requests. */
static void cg_poll(struct cg_result *res)
{
	long long cur = read_u64(cg_path("memory.current"));
	int k = __atomic_load_n(&res->want, __ATOMIC_SEQ_CST);

	if (cur > res->cur_max)
		res->cur_max = cur;
	if (k > 0 && k < S_NR && k != __atomic_load_n(&res->done, __ATOMIC_SEQ_CST)) {
		res->cur[k] = cur;
		res->kernel[k] = read_key(cg_path("memory.stat"), "kernel");
		res->slab[k] = read_key(cg_path("memory.stat"), "slab");
		res->percpu[k] = read_key(cg_path("memory.stat"), "percpu");
		res->anon[k] = read_key(cg_path("memory.stat"), "anon");
		__atomic_store_n(&res->done, k, __ATOMIC_SEQ_CST);
	}
}

/* Maps and touches @len new bytes of anonymous memory (then unmaps). */
static int touch_new_memory(size_t len)
{
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t i;

	if (p == MAP_FAILED)
		return -1;
	for (i = 0; i < len; i += 4096)
		p[i] = 1;
	munmap(p, len);
	return 0;
}

/* The stack the rounds will use, faulted in before moving. */
static void __attribute__((noinline)) touch_stack(void)
{
	volatile uint8_t buf[256 * 1024];
	size_t i;

	for (i = 0; i < sizeof(buf); i += 1024)
		buf[i] = 0;
}

static int cg_child(struct cg_result *res)
{
	struct kvm_xbzrle_stats st;
	struct mig m;
	char pid[32], path[256];
	uint8_t *grow;
	uint64_t t0;
	int k;

	if (mig_setup(&m, CG_WS, 8)) {
		snprintf(res->why, sizeof(res->why), "setup: %s", m.why);
		return 1;
	}
	res->npages = m.npages;
	if (xbz_set_cache(m.xfd, KVM_XBZRLE_CACHE_SET_SIZE, 0, NULL) ||
	    xbz_get_stats(m.xfd, &st)) {
		snprintf(res->why, sizeof(res->why), "%s", kvm_util_error());
		return 1;
	}
	touch_stack();
	/* everything above is charged where we were; the cache will be here */
	snprintf(pid, sizeof(pid), "%d\n", getpid());
	snprintf(path, sizeof(path), "%s/cgroup.procs", cg_dir);
	if (write_file(path, pid)) {
		snprintf(res->why, sizeof(res->why),
			 "moving into %s: %s", cg_dir, strerror(errno));
		return 1;
	}
	cg_sync(res, S_IN);
	res->stage = 1;

	if (mig_round(&m)) {
		snprintf(res->why, sizeof(res->why), "round without cache: %s",
			 m.why);
		return 1;
	}
	cg_sync(res, S_NOCACHE);
	res->stage = 2;

	if (xbz_set_cache(m.xfd, KVM_XBZRLE_CACHE_SET_SIZE, CG_CACHE,
			  &res->cache_size)) {
		snprintf(res->why, sizeof(res->why), "%s", kvm_util_error());
		return 1;
	}
	for (k = 0; k < CG_ROUNDS; k++) {
		uint32_t i;

		/*
		 * The cache holds half the pages: sweeping the other way each
		 * round, the pages sent last are the first ones sent again.
		 */
		for (i = 0; k && i < m.npages / 2; i++) {
			uint64_t t = m.gpas[i];

			m.gpas[i] = m.gpas[m.npages - 1 - i];
			m.gpas[m.npages - 1 - i] = t;
		}
		if (k)
			touch_pages(vm_gpa_to_hva(&m.vm, 0), m.npages, k, 8);
		if (mig_round(&m)) {
			snprintf(res->why, sizeof(res->why),
				 "round %d with the cache: %s", k + 1, m.why);
			return 1;
		}
		res->raw[k] = m.got.raw;
		res->xbzrle[k] = m.got.xbzrle;
	}
	if (xbz_get_stats(m.xfd, &st)) {
		snprintf(res->why, sizeof(res->why), "%s", kvm_util_error());
		return 1;
	}
	cg_sync(res, S_CACHE);
	res->cache_bytes = st.cache_bytes;
	res->evictions = st.evictions;
	res->stage = 3;

	/*
	 * The VM's process allocates after the cache filled what it could:
	 * the headroom the cache left takes it (without it: an OOM kill).
	 */
	if (touch_new_memory(CG_MAX / 16)) {
		snprintf(res->why, sizeof(res->why), "allocating %llu KiB after the cache: %s",
			 (unsigned long long)CG_MAX / 16 / 1024, strerror(errno));
		return 1;
	}

	/*
	 * Then it grows by more than the headroom and keeps the memory, as a
	 * guest touching new RAM during the migration does: only reclaim of
	 * cache pages in the cgroup (the module's memcg-aware shrinker) can
	 * make the room; without it the cgroup OOM-kills the process.  The
	 * next round must be exact all the same.
	 */
	grow = mmap(NULL, CG_GROW, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (grow == MAP_FAILED) {
		snprintf(res->why, sizeof(res->why), "mmap %llu MiB: %s",
			 CG_GROW / MiB, strerror(errno));
		return 1;
	}
	t0 = now_ns();
	for (k = 0; k < (int)(CG_GROW / PAGE); k++)
		grow[(size_t)k * PAGE] = 1;
	res->grow_ns = now_ns() - t0;
	if (xbz_get_stats(m.xfd, &st)) {
		snprintf(res->why, sizeof(res->why), "%s", kvm_util_error());
		return 1;
	}
	res->grown_cache_bytes = st.cache_bytes;
	res->grown_reclaimed = st.reclaimed;
	touch_pages(vm_gpa_to_hva(&m.vm, 0), m.npages, CG_ROUNDS, 8);
	if (mig_round(&m)) {
		snprintf(res->why, sizeof(res->why),
			 "round after growing by %llu MiB: %s", CG_GROW / MiB,
			 m.why);
		return 1;
	}
	res->grown_raw = m.got.raw;
	res->grown_xbzrle = m.got.xbzrle;
	cg_sync(res, S_GROWN);
	res->stage = 4;
	munmap(grow, CG_GROW);

	close(m.xfd);
	m.xfd = -1;
	cg_sync(res, S_CLOSED);
	res->stage = 5;
	mig_destroy(&m);
	return 0;
}

#define CG_POINTS	8

/*
 * Runs cg_child() in a new cgroup with memory.max CG_MAX, fills @res
 * (memory.events and peak included); the cgroup is left for the caller to
 * read and remove (cg_remove()).  Returns 0, or -1 with errno if the cgroup
 * could not be made.
 */
static int cg_run(struct cg_result *res)
{
	char buf[32];
	pid_t pid;

	snprintf(cg_dir, sizeof(cg_dir), CG_ROOT "/kvm_xbzrle_memcg_test.%d",
		 getpid());
	memset(res, 0, sizeof(*res));
	snprintf(buf, sizeof(buf), "%llu\n", CG_MAX);
	if (mkdir(cg_dir, 0755) || write_file(cg_path("memory.max"), buf))
		return -1;
	/* no swap in the test VM; where there is, keep the cache honest */
	write_file(cg_path("memory.swap.max"), "0\n");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		tap_bail_out("fork");
	if (!pid)
		_exit(cg_child(res));
	while (waitpid(pid, &res->status, WNOHANG) == 0) {
		cg_poll(res);
		sleep_ms(5);
	}
	res->ev_max = read_key(cg_path("memory.events"), "max");
	res->ev_oom = read_key(cg_path("memory.events"), "oom");
	res->ev_kill = read_key(cg_path("memory.events"), "oom_kill");
	res->peak = read_u64(cg_path("memory.peak"));
	if (res->peak < 0)
		res->peak = res->cur_max;	/* before 5.19: sampled */
	return 0;
}

static void cg_remove(void)
{
	if (rmdir(cg_dir) && errno != ENOENT)
		tap_diag("rmdir %s: %s", cg_dir, strerror(errno));
}

static void test_cgroup(void)
{
	struct cg_result *res;
	long long ev_max, ev_oom, ev_kill, peak;
	unsigned int start = tap.run;
	int status, k;
	bool ok;

	res = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED)
		tap_bail_out("mmap");
	if (cg_run(res)) {
		tap_result(0, "cgroup %s with memory.max %llu: %s", cg_dir,
			   CG_MAX, strerror(errno));
		goto out;
	}
	status = res->status;
	ev_max = res->ev_max;
	ev_oom = res->ev_oom;
	ev_kill = res->ev_kill;
	peak = res->peak;

	tap_result(res->stage >= 1,
		   "cgroup: child with a %u-page (48 MiB) working set moved into a cgroup with memory.max %llu MiB (memory.current %lld)%s%s",
		   res->npages, CG_MAX / MiB, res->cur[S_IN],
		   res->stage < 1 ? ": " : "", res->stage < 1 ? res->why : "");
	tap_result(res->stage >= 2,
		   "cgroup: round without a cache: destination == guest memory (memory.current %lld)%s%s",
		   res->cur[S_NOCACHE], res->stage < 2 ? ": " : "",
		   res->stage < 2 ? res->why : "");
	tap_result(res->stage >= 3 && res->xbzrle[1] && res->xbzrle[2],
		   "cgroup: %d rounds with a %llu MiB cache (in effect %llu MiB): destination == guest memory after each; RAW/XBZRLE %llu/%llu, %llu/%llu, %llu/%llu%s%s",
		   CG_ROUNDS, CG_CACHE / MiB,
		   (unsigned long long)res->cache_size / MiB,
		   (unsigned long long)res->raw[0], (unsigned long long)res->xbzrle[0],
		   (unsigned long long)res->raw[1], (unsigned long long)res->xbzrle[1],
		   (unsigned long long)res->raw[2], (unsigned long long)res->xbzrle[2],
		   res->stage < 3 ? ": " : "", res->stage < 3 ? res->why : "");


	/*
	 * The cache grew until the cgroup (the cache plus whatever else the
	 * process has charged there) reached its limit less an eighth, the
	 * headroom the module leaves the VM's process, stayed there by
	 * evicting, and never had what it was allowed.
	 */
	tap_result(res->stage >= 3 && res->cache_size == CG_CACHE &&
		   res->cache_bytes && res->evictions > 0 &&
		   res->cur[S_CACHE] + (long long)MiB >= (long long)(CG_MAX - CG_MAX / 8) &&
		   res->cur[S_CACHE] <= (long long)(CG_MAX - CG_MAX / 8 + MiB),
		   "cgroup: the cache grew to the cgroup's limit less an eighth (memory.current %lld KiB, headroom at %llu KiB): cache_bytes %llu MiB (%llu KiB) of %llu MiB allowed, %llu evictions, memory.events max %lld",
		   res->cur[S_CACHE] / 1024,
		   (unsigned long long)(CG_MAX - CG_MAX / 8) / 1024,
		   (unsigned long long)res->cache_bytes / MiB,
		   (unsigned long long)res->cache_bytes / 1024,
		   CG_CACHE / MiB, (unsigned long long)res->evictions, ev_max);
	/* the process grew past the headroom: reclaim took cache pages */
	tap_result(res->stage >= 4 && res->grown_reclaimed > 0 &&
		   res->grown_cache_bytes < res->cache_bytes,
		   "cgroup: the process then touched %llu MiB more and kept it: memcg reclaim took cache pages (cache_bytes %llu -> %llu KiB, reclaimed %llu pages), memory.current %lld KiB; the next round exact (RAW/XBZRLE %llu/%llu)%s%s",
		   CG_GROW / MiB, (unsigned long long)res->cache_bytes / 1024,
		   (unsigned long long)res->grown_cache_bytes / 1024,
		   (unsigned long long)res->grown_reclaimed, res->cur[S_GROWN] / 1024,
		   (unsigned long long)res->grown_raw,
		   (unsigned long long)res->grown_xbzrle,
		   res->stage < 4 ? ": " : "", res->stage < 4 ? res->why : "");
	/* ... and it was charged there, and given back */
	ok = res->stage >= 5 && res->cache_bytes &&
	     res->cur[S_CACHE] - res->cur[S_NOCACHE] >= (long long)res->cache_bytes * 9 / 10 &&
	     res->cur[S_CACHE] - res->cur[S_CLOSED] >= (long long)res->cache_bytes * 9 / 10;
	tap_result(ok,
		   "cgroup: cache pages charged to the cgroup: memory.current %lld KiB without the cache, %lld KiB with it (cache_bytes %llu KiB), %lld KiB after closing the context",
		   res->cur[S_NOCACHE] / 1024, res->cur[S_CACHE] / 1024,
		   (unsigned long long)res->cache_bytes / 1024,
		   res->cur[S_CLOSED] / 1024);
	for (k = S_IN; k < S_NR; k++)
		tap_diag("memory.stat %s: kernel %lld KiB, slab %lld KiB, percpu %lld KiB, anon %lld KiB",
			 (const char *[]){ "", "moved in", "no cache", "with the cache",
					   "grown", "context closed" }[k],
			 res->kernel[k] / 1024, res->slab[k] / 1024,
			 res->percpu[k] / 1024, res->anon[k] / 1024);
	tap_result(WIFEXITED(status) && !WEXITSTATUS(status) && ev_oom == 0 &&
		   ev_kill == 0,
		   "cgroup: no OOM: child %s %d, memory.events oom %lld oom_kill %lld",
		   WIFEXITED(status) ? "exited with" : "killed by signal",
		   WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
		   ev_oom, ev_kill);
	tap_result(peak > 0 && peak <= (long long)CG_MAX,
		   "cgroup: peak charged memory %lld KiB (%s) <= memory.max %llu KiB",
		   peak / 1024,
		   read_u64(cg_path("memory.peak")) < 0 ? "sampled memory.current" : "memory.peak",
		   CG_MAX / 1024);
out:
	while (tap.run - start < CG_POINTS)
		tap_result(0, "cgroup: not reached (earlier failure)");
	cg_remove();
	munmap(res, sizeof(*res));
}

/* --------------------------- (b) host-wide squeeze ------------------------ */

static long long meminfo(const char *key)
{
	long long kb = read_key("/proc/meminfo", key);

	return kb < 0 ? -1 : kb * 1024;
}

/* The zones, when the hog stops: why reclaim did not come. */
static void zone_diag(const char *when)
{
	FILE *f = fopen("/proc/zoneinfo", "r");
	char line[256], out[2048] = "";
	long long v;
	char name[32];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *p = line;

		while (*p == ' ')
			p++;
		if (sscanf(line, "Node %*d, zone %31s", name) == 1)
			snprintf(out + strlen(out), sizeof(out) - strlen(out), " [%s", name);
		else if (!strncmp(p, "pages free", 10) && sscanf(p, "pages free %lld", &v) == 1)
			snprintf(out + strlen(out), sizeof(out) - strlen(out), " free %lld", v);
		else if (!strncmp(p, "min ", 4) || !strncmp(p, "low ", 4) || !strncmp(p, "high ", 5) || !strncmp(p, "managed", 7) || !strncmp(p, "node_unreclaimable", 18) || !strncmp(p, "protection", 10) || !strncmp(p, "nr_slab_reclaimable", 19) || !strncmp(p, "nr_file_pages", 13)) {
			p[strcspn(p, "\n")] = 0;
			snprintf(out + strlen(out), sizeof(out) - strlen(out), " %s;", p);
		}
	}
	fclose(f);
	tap_diag("zoneinfo %s (pages):%s", when, out);
	tap_diag("meminfo %s: MemFree %lld MemAvailable %lld Cached %lld Shmem %lld SReclaimable %lld Unevictable %lld SwapTotal %lld", when,
		 read_key("/proc/meminfo", "MemFree"), read_key("/proc/meminfo", "MemAvailable"),
		 read_key("/proc/meminfo", "Cached"), read_key("/proc/meminfo", "Shmem"),
		 read_key("/proc/meminfo", "SReclaimable"), read_key("/proc/meminfo", "Unevictable"),
		 read_key("/proc/meminfo", "SwapTotal"));
}

struct hog_result {
	long long cap, held, avail0, cache0, free_min;
	int waited;		/* longest wait for reclaim, in polls */
	int reason;		/* 1 cache shrank, 2 no reclaim, 3 failed, 4 cap */
};

/*
 * Free memory the hog's allocations can use, per zone, above each zone's
 * low and min watermarks (bytes, summed over the zones).  Per zone, not
 * MemFree against summed watermarks: kswapd is woken only when a zone's
 * free pages drop below its low watermark, and a zone that lowmem_reserve
 * protects (ZONE_DMA for a user allocation) counts in MemFree but is of
 * no use to the hog.  Without ZONE_DMA (the debug kernel's config),
 * MemFree minus a 4 MiB margin over the summed watermarks stayed above
 * the one zone's low watermark: kswapd never ran, the shrinker never got
 * called.
 */
static void zone_headroom(long long *above_low, long long *above_min,
			  long long *gap)
{
	FILE *f = fopen("/proc/zoneinfo", "r");
	long long free = -1, min = 0, low = 0, managed = 0, prot, v;
	char line[512], *p;

	*above_low = *above_min = *gap = 0;
	if (!f)
		return;
	for (;;) {
		bool eof = !fgets(line, sizeof(line), f);

		if (eof || !strncmp(line, "Node ", 5)) {
			if (free >= 0 && managed > 0) {
				*above_low += (free - low > 0 ? free - low : 0) * PAGE;
				*above_min += (free - min > 0 ? free - min : 0) * PAGE;
				if (free - min > 0)
					*gap += (low - min) * PAGE;
			}
			free = -1;
			min = low = managed = 0;
			if (eof)
				break;
			continue;
		}
		for (p = line; *p == ' '; p++)
			;
		if (sscanf(p, "pages free %lld", &v) == 1)
			free = v;
		else if (sscanf(p, "min %lld", &v) == 1)
			min = v;
		else if (sscanf(p, "low %lld", &v) == 1)
			low = v;
		else if (sscanf(p, "managed %lld", &v) == 1)
			managed = v;
		else if (!strncmp(p, "protection: (", 13)) {
			/* the reserve against the highest zone's allocations */
			char *q = p + 13;

			prot = 0;
			while (sscanf(q, "%lld", &v) == 1) {
				prot = v;
				q = strchr(q, ',');
				if (!q)
					break;
				q++;
			}
			min += prot;
			low += prot;
		}
	}
	fclose(f);
}

/*
 * What kswapd has done so far: balance runs, pages and objects scanned,
 * in one read of /proc/vmstat (slow on the debug kernel under TCG).  A
 * kernel without CONFIG_VM_EVENT_COUNTERS (the debug kernel's config) has
 * none of them: 0, and the hog waits 3 s, as it did before it watched.
 */
static long long kswapd_work(void)
{
	static const char *const keys[] = {
		"pageoutrun", "pgscan_kswapd", "slabs_scanned",
	};
	long long v[3], sum = 0;
	unsigned int i;

	read_keys("/proc/vmstat", keys, v, 3);
	for (i = 0; i < 3; i++)
		sum += v[i] > 0 ? v[i] : 0;
	return sum;
}

/*
 * Runs in a child: allocates until the module's cache shrinks.  It takes
 * the zones below their low watermarks (that wakes kswapd, whose reclaim
 * must reach the module's shrinker: without swap and with little page
 * cache, the cache is most of what is reclaimable), in small steps once it
 * is close, and stops before the min watermarks (where its own allocations
 * would go into direct reclaim, and with a broken shrinker the OOM killer)
 * if kswapd stops working (3 s without progress) before anything comes back.
 */
static int hog(struct hog_result *h, int xfd)
{
	struct kvm_xbzrle_stats st;
	long long above_low, above_min, gap, step, work, last;
	uint8_t *mem;
	int fd, waited, idle;

	h->reason = 3;
	fd = open("/proc/self/oom_score_adj", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "1000\n", 5) < 0)
			return 1;
		close(fd);
	}
	mem = mmap(NULL, h->cap + HOG_STEP, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		return 1;
	madvise(mem, h->cap + HOG_STEP, MADV_NOHUGEPAGE);
	h->free_min = meminfo("MemFree");
	zone_headroom(&above_low, &above_min, &gap);
	while (h->held < h->cap) {
		/* 1 MiB steps far from the watermarks, 64 KiB close to them */
		step = above_low > 32 * (long long)MiB ? HOG_STEP : 64 * 1024;
		if (step > h->cap - h->held)
			step = h->cap - h->held;
		populate(mem + h->held, step);
		h->held += step;
		if (above_low > 128 * (long long)MiB && h->held % (16 * MiB))
			continue;
		if (meminfo("MemFree") < h->free_min)
			h->free_min = meminfo("MemFree");
		/*
		 * Below the low watermarks, half way to min: kswapd must get
		 * memory back from the cache.  Wait while kswapd is working
		 * (its counters move); stop here when it has done nothing for
		 * 3 s, or after 30 s.  A fixed 3 s was too short for a VM
		 * whose vCPUs the host starves: kswapd reached the shrinker
		 * after the hog had given up.
		 */
		/* kswapd's counters only once a wait begins */
		for (waited = idle = 0, work = -1; waited < 3000 && idle < 300;
		     waited++) {
			if (xbz_get_stats(xfd, &st))
				return 1;
			if (waited > h->waited)
				h->waited = waited;
			if ((long long)st.cache_bytes < h->cache0) {
				h->reason = 1;
				return 0;
			}
			zone_headroom(&above_low, &above_min, &gap);
			if (above_low > 0 || above_min > gap / 2)
				break;
			if (work < 0)
				work = kswapd_work();
			sleep_ms(10);
			last = work;
			work = kswapd_work();
			idle = work == last ? idle + 1 : 0;
		}
		if (waited == 3000 || idle == 300) {
			zone_diag("when the hog stopped");
			h->reason = 2;
			return 0;
		}
	}
	zone_diag("when the hog reached its cap");
	h->reason = 4;
	return 0;
}

/*
 * kswapd may still be in the shrinker when the hog exits: wait until the
 * reclaimed counter stands still for 200 ms (at most 3 s), so that the
 * next round's misses are compared with the final count.
 */
static int settle(int xfd, struct kvm_xbzrle_stats *st)
{
	uint64_t last;
	int i, still = 0;

	if (xbz_get_stats(xfd, st))
		return -1;
	for (i = 0; i < 300 && still < 20; i++) {
		last = st->reclaimed;
		sleep_ms(10);
		if (xbz_get_stats(xfd, st))
			return -1;
		still = st->reclaimed == last ? still + 1 : 0;
	}
	return 0;
}

static long long vmstat(const char *key)
{
	return read_key("/proc/vmstat", key);
}

/* New kernel log lines of the OOM killer since kmsg_open(); -1: no log. */
static int kmsg_oom_lines(int fd)
{
	static const char *const oom[] = {
		"invoked oom-killer", "Out of memory", "oom-kill:",
		"Killed process", NULL,
	};
	int found;

	if (fd < 0)
		return -1;
	found = kmsg_count(fd, oom, NULL);
	close(fd);
	return found;
}

#define SQ_POINTS	5

static void test_squeeze(void)
{
	struct kvm_xbzrle_stats s0, s1;
	struct hog_result *h;
	unsigned int start = tap.run;
	long long ceiling, avail, oom0, oom1;
	int kmsg, oom_lines;
	uint64_t size = BIG_SIZE, reclaimed;
	time_t t0 = time(NULL);
	struct mig m;
	int status = 0, r;
	pid_t pid;

	memset(&m, 0, sizeof(m));
	m.xfd = -1;
	m.vm.fd = -1;
	ceiling = xbz_debugfs_stat("max_cache_bytes");
	if (ceiling < 0) {
		long long mb = read_u64("/sys/module/kvm_xbzrle/parameters/max_cache_mb");

		ceiling = mb > 0 ? mb * (long long)MiB : meminfo("MemTotal") / 8;
	}
	avail = meminfo("MemAvailable");
	/* the slot, its destination and the cache: 3 copies, and room left */
	while (size > 32 * MiB &&
	       ((long long)size > ceiling * 9 / 10 ||
		(long long)size * 3 + 256 * (long long)MiB > avail))
		size /= 2;
	h = mmap(NULL, sizeof(*h), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (h == MAP_FAILED)
		tap_bail_out("mmap");
	memset(h, 0, sizeof(*h));

	r = mig_setup(&m, size, 0);	/* no zero page: every base is a miss */
	if (!r && xbz_set_cache(m.xfd, KVM_XBZRLE_CACHE_SET_SIZE, size, NULL))
		r = why(&m, "%s", kvm_util_error());
	if (!r)
		r = mig_round(&m);
	if (!r && xbz_get_stats(m.xfd, &s0))
		r = why(&m, "%s", kvm_util_error());
	if (!tap_result(!r && s0.cache_bytes >= size * 7 / 8 * 7 / 8,
			"squeeze: %llu MiB of guest RAM sent once: cache_bytes %llu MiB (module ceiling %lld MiB, MemAvailable %lld MiB before)%s%s",
			(unsigned long long)size / MiB,
			(unsigned long long)s0.cache_bytes / MiB,
			ceiling / (long long)MiB, avail / (long long)MiB,
			WHY_IF(r, m.why)))
		goto out;

	tap_diag("squeeze: VM, destination and first round took %lld s",
		 (long long)(time(NULL) - t0));
	t0 = time(NULL);
	/* what is free now, and half of the cache on top */
	oom0 = vmstat("oom_kill");
	kmsg = kmsg_open();
	h->avail0 = meminfo("MemAvailable");
	h->cache0 = s0.cache_bytes;
	/* a cap: everything available and the whole cache */
	h->cap = (h->avail0 + h->cache0) / HOG_STEP * HOG_STEP;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		tap_bail_out("fork");
	if (!pid)
		_exit(hog(h, m.xfd));
	waitpid(pid, &status, 0);
	oom1 = vmstat("oom_kill");
	oom_lines = kmsg_oom_lines(kmsg);
	tap_diag("squeeze: the hog took %lld s, its longest wait for reclaim %d polls 10 ms apart",
		 (long long)(time(NULL) - t0), h->waited);
	/*
	 * The hog stopped when the cache shrank, without being killed; only
	 * reclaim could give it more than was available before it.
	 */
	tap_result(WIFEXITED(status) && !WEXITSTATUS(status) && h->reason == 1,
		   "squeeze: memory hog took %lld MiB until the cache shrank (MemAvailable was %lld MiB, cap %lld MiB), lowest MemFree %lld MiB; %s",
		   h->held / (long long)MiB, h->avail0 / (long long)MiB,
		   h->cap / (long long)MiB, h->free_min / (long long)MiB,
		   !WIFEXITED(status) ? "the hog was killed" :
		   h->reason == 1 ? "the cache shrank" :
		   h->reason == 2 ? "stopped when reclaim paused" :
		   h->reason == 4 ? "reached its cap, the cache whole" :
		   "failed");

	r = settle(m.xfd, &s1);
	reclaimed = r ? 0 : s1.reclaimed - s0.reclaimed;
	tap_result(!r && reclaimed && s1.cache_bytes < s0.cache_bytes &&
		   reclaimed * PAGE == s0.cache_bytes - s1.cache_bytes,
		   "squeeze: the shrinker gave back %.1f MiB: reclaimed %llu -> %llu pages, cache_bytes %llu -> %llu MiB",
		   (double)reclaimed * PAGE / MiB,
		   (unsigned long long)s0.reclaimed,
		   (unsigned long long)s1.reclaimed,
		   (unsigned long long)s0.cache_bytes / MiB,
		   (unsigned long long)s1.cache_bytes / MiB);
	/*
	 * /proc/vmstat has oom_kill only with CONFIG_VM_EVENT_COUNTERS (the
	 * debug kernel's tinyconfig has none): then the kernel log and the
	 * hog's exit status say it.  No signal at all: a skip.
	 */
	if (oom0 < 0 && oom_lines < 0)
		tap_skip("neither /proc/vmstat oom_kill (no CONFIG_VM_EVENT_COUNTERS) nor /dev/kmsg",
			 "squeeze: nothing OOM-killed");
	else
		tap_result((oom0 < 0 || oom1 == oom0) && oom_lines <= 0 &&
			   !(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL),
			   "squeeze: nothing OOM-killed (/proc/vmstat oom_kill %s%lld -> %lld, %d OOM-killer lines in the kernel log, hog %s %d)",
			   oom0 < 0 ? "absent: no CONFIG_VM_EVENT_COUNTERS, " : "",
			   oom0, oom1, oom_lines,
			   WIFSIGNALED(status) ? "killed by signal" : "exited with",
			   WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));

	/* the next round: the reclaimed pages go RAW, the rest as deltas */
	touch_pages(vm_gpa_to_hva(&m.vm, 0), m.npages, 3, 0);
	r = mig_round(&m);
	if (!r && xbz_get_stats(m.xfd, &s0))
		r = why(&m, "%s", kvm_util_error());
	tap_result(!r && m.got.raw == s0.cache_misses - s1.cache_misses &&
		   s0.cache_misses - s1.cache_misses == reclaimed,
		   "squeeze: next round exact, destination == guest memory; %llu RAW (cache misses %llu, pages reclaimed %llu), %llu XBZRLE%s%s",
		   (unsigned long long)m.got.raw,
		   (unsigned long long)(s0.cache_misses - s1.cache_misses),
		   (unsigned long long)reclaimed,
		   (unsigned long long)m.got.xbzrle, WHY_IF(r, m.why));
out:
	while (tap.run - start < SQ_POINTS)
		tap_result(0, "squeeze: not reached (earlier failure)");
	mig_destroy(&m);
	munmap(h, sizeof(*h));
}

/* -------------------------------------------------------------------------- */

static void cleanup(void)
{
	if (cg_mounted_here && umount2(CG_ROOT, MNT_DETACH))
		tap_diag("umount %s: %s", CG_ROOT, strerror(errno));
}

static void check_environment(void)
{
	struct kvm_xbzrle_caps caps;
	struct statfs sfs;
	char buf[512];

	xbz_require_offload(&caps, false);
	if (statfs(CG_ROOT, &sfs) || sfs.f_type != CGROUP2_SUPER_MAGIC) {
		if (mount("cgroup2", CG_ROOT, "cgroup2", 0, NULL))
			tap_skip_all("no cgroup v2 at " CG_ROOT " and mounting it failed: %s",
				     strerror(errno));
		cg_mounted_here = true;
		atexit(cleanup);
	}
	if (read_file(CG_ROOT "/cgroup.controllers", buf, sizeof(buf)) ||
	    !strstr(buf, "memory"))
		tap_skip_all("cgroup v2 has no memory controller (kernel without CONFIG_MEMCG, or cgroup_disable=memory)");
	if (read_file(CG_ROOT "/cgroup.subtree_control", buf, sizeof(buf)) ||
	    (!strstr(buf, "memory") &&
	     write_file(CG_ROOT "/cgroup.subtree_control", "+memory")))
		tap_skip_all("cannot enable the memory controller for child cgroups: %s",
			     strerror(errno));
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
 * offload_memcg_test --headroom-bench N: the cgroup scenario of (a), N
 * times with the module's memcg_headroom rule on and N times off, the
 * order alternating, and what the rule changes for the VM's process: the
 * time to touch CG_GROW of new memory once the cache has filled what it
 * could (page faults that wait for memcg reclaim of cache pages), how
 * often the cgroup hit memory.max, and what the cache held and hit.  Every
 * round of every run is still checked exact; a failed run fails the bench.
 * A benchmark, not a test: not in tests.list (Documentation/benchmark.rst).
 */
static int bench_headroom(int reps)
{
	static const char * const names[] = { "off", "on" };
	double grow[2][BENCH_MAX], fill_kib[2][BENCH_MAX], hits[2][BENCH_MAX];
	double grown_hits[2][BENCH_MAX], evmax[2][BENCH_MAX];
	char a[64], b[64], c[64], d[64], e[64];
	struct cg_result *res;
	int r, i, on, failed = 0;

	if (reps < 1 || reps > BENCH_MAX) {
		fprintf(stderr, "--headroom-bench: 1 to %d runs per setting\n", BENCH_MAX);
		return 2;
	}
	res = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED)
		tap_bail_out("mmap");
	printf("# memcg_headroom bench: memory.max %llu MiB, a %llu MiB working set sent %d times with a %llu MiB cache, then %llu MiB of new memory touched and one more round\n",
	       CG_MAX / MiB, CG_WS / MiB, CG_ROUNDS, CG_CACHE / MiB, CG_GROW / MiB);
	for (r = 0; r < reps; r++) {
		for (i = 0; i < 2; i++) {
			on = (r + i) % 2;
			xbz_param_set("memcg_headroom", on ? "Y" : "N");
			if (cg_run(res)) {
				fprintf(stderr, "cgroup %s: %s\n", cg_dir, strerror(errno));
				return 1;
			}
			cg_remove();
			if (res->stage < 5 || !WIFEXITED(res->status) ||
			    WEXITSTATUS(res->status) || res->ev_kill) {
				printf("# run %d, rule %s: FAILED at stage %d (%s), oom_kill %lld\n",
				       r + 1, names[on], res->stage, res->why, res->ev_kill);
				failed++;
				continue;
			}
			grow[on][r] = res->grow_ns / 1e6;
			fill_kib[on][r] = res->cache_bytes / 1024.0;
			hits[on][r] = res->xbzrle[CG_ROUNDS - 1];
			grown_hits[on][r] = res->grown_xbzrle;
			evmax[on][r] = res->ev_max;
			printf("# run %d, rule %s: grow %.1f ms, cache %.0f KiB, last round %llu XBZRLE of %u, after growing %llu XBZRLE (reclaimed %llu), memory.events max %lld\n",
			       r + 1, names[on], grow[on][r], fill_kib[on][r],
			       (unsigned long long)res->xbzrle[CG_ROUNDS - 1], res->npages,
			       (unsigned long long)res->grown_xbzrle,
			       (unsigned long long)res->grown_reclaimed, res->ev_max);
		}
	}
	munmap(res, sizeof(*res));
	if (failed) {
		printf("# %d runs failed\n", failed);
		return 1;
	}
	printf("# rule  grow %llu MiB (ms)       cache (KiB)              XBZRLE last round      XBZRLE after growing   memory.events max\n",
	       CG_GROW / MiB);
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

int main(int argc, char **argv)
{
	time_t start = time(NULL);

	if (argc == 3 && !strcmp(argv[1], "--headroom-bench")) {
		check_environment();
		return bench_headroom(atoi(argv[2]));
	}
	if (argc != 1) {
		fprintf(stderr, "usage: %s [--headroom-bench RUNS]\n", argv[0]);
		return 2;
	}
	check_environment();
	tap_timeout(TIMEOUT_S);
	tap_plan(CG_POINTS + SQ_POINTS);
	test_cgroup();
	tap_diag("cgroup part took %lld s", (long long)(time(NULL) - start));
	test_squeeze();
	tap_diag("offload_memcg_test took %lld s", (long long)(time(NULL) - start));
	tap_finish();
}
