// SPDX-License-Identifier: GPL-2.0
/*
 * offload_memcg_squeeze_test - the module's shrinker when the whole (test)
 * machine is short of memory.
 *
 * The test fills a large cache (128 MiB of guest RAM sent once, within the
 * module's ceiling max_cache_mb and what is available: halved until it
 * fits), then a child allocates and touches anonymous memory until the
 * module's shrinker gives cached pages back.  It does not aim at a size
 * computed from MemAvailable: that is an estimate, and free pages it does
 * not count (per-CPU lists, memory still being given back) once let the
 * hog reach such a target with the watermarks untouched.  It takes the
 * zones below their low watermarks (waking kswapd) and stops half way to
 * the min watermarks if the cache does not shrink, so that a broken
 * shrinker fails the test instead of OOMing the machine (and it runs with
 * oom_score_adj 1000 in case); it also stops, failing, when it holds what
 * was available plus the whole cache.  Then:
 *
 *   shrank      the hog stopped because the cache shrank, and was not
 *               killed;
 *   counted     the context's reclaimed counter grew by what cache_bytes
 *               lost (in pages);
 *   no OOM      no process was OOM-killed (/proc/vmstat oom_kill where the
 *               kernel counts it, the kernel log, the hog's exit status;
 *               a skip if the kernel has neither counter nor log);
 *   exact       the next round is exact, with exactly the reclaimed pages
 *               sent RAW (cache misses == pages reclaimed).
 *
 * The cache in a memory cgroup is offload_memcg_test (both its cases).
 * On the kernel's kselftest harness: one case
 * (one hog: 12 s on 6.12 under TCG, 42 s on the debug kernel), its VM and
 * context made in the set-up; a missing module fails the set-up.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"

#include "kvm_util.h"
#include "memcg_util.h"
#include "test_util.h"
#include "xbzrle_util.h"

#define PAGE		GUEST_PAGE_SIZE
/* the old test's whole budget, times XBZRLE_TIMEOUT_SCALE */
#define TIMEOUT_S	170
#define BIG_SIZE	(128 * MiB)
#define HOG_STEP	(1 * MiB)
/* polls 10 ms apart without kswapd progress after which the hog stops */
#define HOG_IDLE_POLLS	1000
#define MAX_CACHE_MB	"/sys/module/kvm_xbzrle/parameters/max_cache_mb"

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
	ksft_print_msg("zoneinfo %s (pages):%s\n", when, out);
	ksft_print_msg("meminfo %s: MemFree %lld MemAvailable %lld Cached %lld Shmem %lld SReclaimable %lld Unevictable %lld SwapTotal %lld\n", when,
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
 * none of them: 0, and the hog waits HOG_IDLE_POLLS (10 s) each time.
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
 * if kswapd stops working (10 s without progress) before anything comes back.
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
		mem_populate(mem + h->held, step);
		h->held += step;
		if (above_low > 128 * (long long)MiB && h->held % (16 * MiB))
			continue;
		if (meminfo("MemFree") < h->free_min)
			h->free_min = meminfo("MemFree");
		/*
		 * Below the low watermarks, half way to min: kswapd must get
		 * memory back from the cache.  Wait while kswapd is working
		 * (its counters move); stop here when it has done nothing for
		 * 10 s, or after 30 s.  A fixed 3 s was too short for a VM
		 * whose vCPUs the host starves: kswapd reached the shrinker
		 * after the hog had given up.  So was 3 s without progress
		 * once in a VM beside a cold build (Debian 13's kernel): the
		 * shrinker gave back its pages after the hog had stopped.
		 */
		/* kswapd's counters only once a wait begins */
		for (waited = idle = 0, work = -1;
		     waited < 3000 && idle < HOG_IDLE_POLLS; waited++) {
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
		if (waited == 3000 || idle == HOG_IDLE_POLLS) {
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

FIXTURE(squeeze) {
	struct mig m;
	struct hog_result *h;	/* shared with the hog */
	uint64_t size;		/* guest RAM, all of it cached */
	long long ceiling;	/* the module's max_cache_mb, in bytes */
	long long avail;	/* MemAvailable before the VM */
	time_t t0;
};

FIXTURE_SETUP(squeeze)
{
	struct kvm_xbzrle_caps caps;
	long long mb;

	self->m.xfd = -1;
	self->m.vm.fd = -1;
	self->h = MAP_FAILED;
	self->t0 = time(NULL);
	/* the module is what is tested: its absence is a failure */
	ASSERT_EQ(0, xbz_check_offload(&caps)) TH_LOG("%s", kvm_util_error());
	self->ceiling = xbz_debugfs_stat("max_cache_bytes");
	if (self->ceiling < 0) {
		mb = read_num(MAX_CACHE_MB);
		self->ceiling = mb > 0 ? mb * (long long)MiB : meminfo("MemTotal") / 8;
	}
	self->avail = meminfo("MemAvailable");
	/* the slot, its destination and the cache: 3 copies, and room left */
	self->size = BIG_SIZE;
	while (self->size > 32 * MiB &&
	       ((long long)self->size > self->ceiling * 9 / 10 ||
		(long long)self->size * 3 + 256 * (long long)MiB > self->avail))
		self->size /= 2;
	self->h = mmap(NULL, sizeof(*self->h), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->h) TH_LOG("mmap: %s", strerror(errno));
	memset(self->h, 0, sizeof(*self->h));
	/* no zero page: every base is a miss */
	ASSERT_EQ(0, mig_setup(&self->m, self->size, 0))
		TH_LOG("a VM with %llu MiB of guest RAM: %s",
		       (unsigned long long)self->size / MiB, self->m.why);
}

FIXTURE_TEARDOWN(squeeze)
{
	mig_destroy(&self->m);
	if (self->h != MAP_FAILED)
		munmap(self->h, sizeof(*self->h));
}

TEST_F_TIMEOUT(squeeze, hog_gets_memory_from_the_cache,
	       TIMEOUT_S)
{
	struct kvm_xbzrle_stats s0, s1;
	struct hog_result *h = self->h;
	struct mig *m = &self->m;
	uint64_t size = self->size, reclaimed;
	long long oom0, oom1;
	int kmsg, oom_lines;
	int status = 0, r = 0;
	time_t t0;
	pid_t pid;

	memset(&s0, 0, sizeof(s0));
	memset(&s1, 0, sizeof(s1));
	if (xbz_set_cache(m->xfd, KVM_XBZRLE_CACHE_SET_SIZE, size, NULL))
		r = set_why(m->why, sizeof(m->why), "%s", kvm_util_error());
	if (!r)
		r = mig_round(m);
	if (!r && xbz_get_stats(m->xfd, &s0))
		r = set_why(m->why, sizeof(m->why), "%s", kvm_util_error());
	TH_LOG("%llu MiB of guest RAM sent once: cache_bytes %llu MiB (module ceiling %lld MiB, MemAvailable %lld MiB before); VM, destination and first round took %lld s",
	       (unsigned long long)size / MiB,
	       (unsigned long long)s0.cache_bytes / MiB,
	       self->ceiling / (long long)MiB, self->avail / (long long)MiB,
	       (long long)(time(NULL) - self->t0));
	ASSERT_TRUE(!r && s0.cache_bytes >= size * 7 / 8 * 7 / 8)
		TH_LOG("the cache did not fill%s%s", WHY_IF(r, m->why));

	t0 = time(NULL);
	/* what is free now, and half of the cache on top */
	oom0 = vmstat("oom_kill");
	kmsg = kmsg_open();
	h->avail0 = meminfo("MemAvailable");
	h->cache0 = s0.cache_bytes;
	/* a cap: everything available and the whole cache */
	h->cap = (h->avail0 + h->cache0) / HOG_STEP * HOG_STEP;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ASSERT_LE(0, pid) TH_LOG("fork: %s", strerror(errno));
	if (!pid)
		_exit(hog(h, m->xfd));
	waitpid(pid, &status, 0);
	oom1 = vmstat("oom_kill");
	oom_lines = kmsg_oom_lines(kmsg);
	TH_LOG("the hog took %lld s, its longest wait for reclaim %d polls 10 ms apart",
	       (long long)(time(NULL) - t0), h->waited);

	/*
	 * The hog stopped when the cache shrank, without being killed; only
	 * reclaim could give it more than was available before it.
	 */
	TH_LOG("memory hog took %lld MiB until the cache shrank (MemAvailable was %lld MiB, cap %lld MiB), lowest MemFree %lld MiB; %s",
	       h->held / (long long)MiB, h->avail0 / (long long)MiB,
	       h->cap / (long long)MiB, h->free_min / (long long)MiB,
	       !WIFEXITED(status) ? "the hog was killed" :
	       h->reason == 1 ? "the cache shrank" :
	       h->reason == 2 ? "stopped when reclaim paused" :
	       h->reason == 4 ? "reached its cap, the cache whole" :
	       "failed");
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status) && h->reason == 1)
		TH_LOG("the hog did not stop because the cache shrank");

	r = settle(m->xfd, &s1);
	reclaimed = r ? 0 : s1.reclaimed - s0.reclaimed;
	TH_LOG("the shrinker gave back %.1f MiB: reclaimed %llu -> %llu pages, cache_bytes %llu -> %llu MiB",
	       (double)reclaimed * PAGE / MiB,
	       (unsigned long long)s0.reclaimed,
	       (unsigned long long)s1.reclaimed,
	       (unsigned long long)s0.cache_bytes / MiB,
	       (unsigned long long)s1.cache_bytes / MiB);
	EXPECT_TRUE(!r && reclaimed && s1.cache_bytes < s0.cache_bytes &&
		    reclaimed * PAGE == s0.cache_bytes - s1.cache_bytes)
		TH_LOG("reclaimed pages != what cache_bytes lost%s%s",
		       WHY_IF(r, kvm_util_error()));

	/* the next round: the reclaimed pages go RAW, the rest as deltas */
	mig_touch_pages(m, 3, 0);
	r = mig_round(m);
	if (!r && xbz_get_stats(m->xfd, &s0))
		r = set_why(m->why, sizeof(m->why), "%s", kvm_util_error());
	EXPECT_TRUE(!r && m->got.raw == s0.cache_misses - s1.cache_misses &&
		    s0.cache_misses - s1.cache_misses == reclaimed)
		TH_LOG("next round: %llu RAW (cache misses %llu, pages reclaimed %llu), %llu XBZRLE%s%s",
		       (unsigned long long)m->got.raw,
		       (unsigned long long)(s0.cache_misses - s1.cache_misses),
		       (unsigned long long)reclaimed,
		       (unsigned long long)m->got.xbzrle, WHY_IF(r, m->why));

	/*
	 * /proc/vmstat has oom_kill only with CONFIG_VM_EVENT_COUNTERS (the
	 * debug kernel's tinyconfig has none): then the kernel log and the
	 * hog's exit status say it.  No signal at all: a skip, last, and only
	 * if nothing above failed (a skip must not hide a failure).
	 */
	TH_LOG("/proc/vmstat oom_kill %s%lld -> %lld, %d OOM-killer lines in the kernel log, hog %s %d",
	       oom0 < 0 ? "absent: no CONFIG_VM_EVENT_COUNTERS, " : "",
	       oom0, oom1, oom_lines,
	       WIFSIGNALED(status) ? "killed by signal" : "exited with",
	       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	if (oom0 < 0 && oom_lines < 0)
		SKIP_UNLESS_FAILED(return, "whether a process was OOM-killed is not known: neither /proc/vmstat oom_kill (no CONFIG_VM_EVENT_COUNTERS) nor /dev/kmsg");
	EXPECT_TRUE((oom0 < 0 || oom1 == oom0) && oom_lines <= 0 &&
		    !(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
		TH_LOG("a process was OOM-killed");
}

XBZRLE_SCALE_TIMEOUTS()

TEST_HARNESS_MAIN
