// SPDX-License-Identifier: GPL-2.0
/*
 * offload_latency_test - dropping a large cache does not stall the CPU it
 * runs on.
 *
 * A context fills a cache of 1 GiB (less if the VM has not the memory for
 * it: the log says how much) and drops it the three ways the module does,
 * a case each:
 *
 *   region_removed   the whole cache filled (it holds every page sent),
 *                    then one of its two regions removed: its half of the
 *                    bases dropped, the other half left;
 *   cache_reset      half of it filled, then KVM_XBZRLE_CACHE_RESET:
 *                    nothing left;
 *   context_closed   a quarter filled, then the context closed (the path
 *                    RESET takes too, from the release of the file): the
 *                    module holds at most the second context's bases.
 *
 * Meanwhile a timer thread on the same CPU sleeps 1 ms at a time and
 * records how late it wakes, and a second context on another VM runs
 * ENCODE on the other CPU.  Each case's teardown closes what the case left
 * (a drop too), stops both threads and checks that every one of the second
 * context's calls succeeded and that the kernel log holds no problem
 * (kmsg_problems: soft lockups, RCU stalls and hung tasks among them).
 * The wake-up latencies are logged per phase, never asserted (TCG's timing
 * is not the host's).
 *
 * Guest memory is one 2 MiB memfd mapped again and again over the
 * memslots' address range: bases are per host page, so 2 MiB of memory
 * gives a cache of any size.  max_cache_mb is raised by each case and
 * restored by its teardown.  On the kernel's kselftest harness; needs root
 * (the module parameter; a skip otherwise) and the module (a failure
 * without).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"

#include "kvm_util.h"
#include "memcg_util.h"
#include "test_util.h"
#include "xbzrle_util.h"

#define PAGE		GUEST_PAGE_SIZE
#define MIB		(1024ULL * 1024)
#define CHUNK		(2 * MIB)	/* the memfd mapped over and over */
#define WANT_MB		1024ULL
#define BATCH		4096U
#define GPA		0x100000000ULL	/* 4 GiB: room for two regions */
#define SMALL_PAGES	4096U
#define OTHER_BATCH	64U		/* pages per call of the second context */
#define TIMEOUT_S	110		/* a case: its fill, its drop, the close */

enum phase { P_IDLE, P_FILL, P_REGION, P_RESET, P_CLOSE, P_NR };

static const char *const phase_names[P_NR] = {
	"idle", "fill", "region removed", "CACHE_RESET", "context closed",
};

/* The second context, on its own VM, and its thread's outcome. */
struct other {
	int vm_fd;
	int xfd;
	uint8_t *mem;			/* SMALL_PAGES pages */
	uint8_t *records;		/* OTHER_BATCH records */
	uint64_t gpas[OTHER_BATCH];
	unsigned long calls;
	unsigned long failed;
	char why[256];
};

FIXTURE(latency) {
	uint64_t size, half;		/* of the cache, of each region */
	uint8_t *mem;			/* @size bytes: the memfd again and again */
	int vm_fd;
	int xfd;
	int kmsg;			/* /dev/kmsg from the set-up on */
	uint8_t *records;		/* BATCH records */
	uint64_t gpas[BATCH];
	struct other o;
	pthread_t timer, worker;
	bool timer_on, worker_on;
	atomic_bool stop;
	atomic_int phase;		/* enum phase */
	atomic_int pin_err;		/* a thread's sched_setaffinity() errno */
	atomic_ullong worst_us[P_NR];	/* written by the timer thread */
	uint64_t phase_us;		/* when the phase began */
	char why[256];
};

static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? errno : 0;
}

/* Sleeps 1 ms at a time on CPU 0 and records the worst lateness. */
static void *timer_thread(void *arg)
{
	FIXTURE_DATA(latency) *self = arg;
	struct timespec ms = { .tv_nsec = 1000000 };
	uint64_t t0, late;
	int p, e = pin(0);

	if (e)
		atomic_store(&self->pin_err, e);
	while (!e && !atomic_load(&self->stop)) {
		t0 = now_ns() / 1000;
		nanosleep(&ms, NULL);
		late = now_ns() / 1000 - t0 - 1000;
		p = atomic_load(&self->phase);
		if ((int64_t)late > 0 && late > atomic_load(&self->worst_us[p]))
			atomic_store(&self->worst_us[p], late);
	}
	return NULL;
}

/* The second context: ENCODE of 64 changed pages at a time, on CPU 1. */
static void *other_thread(void *arg)
{
	FIXTURE_DATA(latency) *self = arg;
	struct other *o = &self->o;
	struct xbz_encode_result res;
	unsigned int i, first = 0;
	int e = pin(1);

	if (e)
		atomic_store(&self->pin_err, e);
	while (!e && !atomic_load(&self->stop)) {
		for (i = 0; i < OTHER_BATCH; i++) {
			o->gpas[i] = (uint64_t)(first + i) * PAGE;
			o->mem[(size_t)(first + i) * PAGE + o->calls % PAGE]++;
		}
		if (xbz_encode(o->xfd, 0, o->gpas, OTHER_BATCH, o->records,
			       OTHER_BATCH * KVM_XBZRLE_RECORD_MAX_SIZE, PAGE,
			       &res) ||
		    res.npages_done != OTHER_BATCH) {
			if (!o->failed++)
				snprintf(o->why, sizeof(o->why), "%s",
					 kvm_util_error());
		}
		o->calls++;
		first = (first + OTHER_BATCH) % SMALL_PAGES;
	}
	return NULL;
}

/* @size bytes of address space, every CHUNK of it the same memfd; or NULL. */
static uint8_t *map_repeated(size_t size, char *why)
{
	unsigned int seed = 7;
	uint8_t *base, *p;
	size_t off;
	int fd;

	fd = memfd_create("offload_latency_test", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, CHUNK)) {
		set_why(why, 256, "a %llu MiB memfd: %s", CHUNK / MIB,
			strerror(errno));
		goto out;
	}
	base = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
		    MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED) {
		set_why(why, 256, "reserve %zu MiB of address space: %s",
			size >> 20, strerror(errno));
		goto out;
	}
	for (off = 0; off < size; off += CHUNK) {
		p = mmap(base + off, CHUNK, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, fd, 0);
		if (p == MAP_FAILED) {
			set_why(why, 256, "map the memfd at +%zu MiB: %s",
				off >> 20, strerror(errno));
			munmap(base, size);
			goto out;
		}
	}
	close(fd);
	fill_random(base, CHUNK, &seed);	/* no zero page: all cached */
	return base;
out:
	if (fd >= 0)
		close(fd);
	return NULL;
}

/*
 * Cache size: 1 GiB, or what the VM can spare (the log says); a quarter
 * of that on a kernel whose time limits are scaled (XBZRLE_TIMEOUT_SCALE
 * > 1: KASAN and lockdep fill 1 GiB in five minutes there, and the test
 * is about their reports, not the size).  0 without MemAvailable.
 */
static uint64_t cache_size(void)
{
	uint64_t want = WANT_MB * MIB;
	long long avail = read_key("/proc/meminfo", "MemAvailable");

	if (xbzrle_timeout_scale() > 1)
		want /= 4;
	if (avail < 0)
		return 0;
	avail *= 1024;
	if (avail >= (long long)(want * 3 / 2))
		return want;
	return (uint64_t)avail * 2 / 3 / (64 * MIB) * (64 * MIB);
}

/* A new phase; the one before it logged with its worst lateness. */
static void set_phase(struct __test_metadata *_metadata,
		      FIXTURE_DATA(latency) *self, int p)
{
	uint64_t now = now_ns() / 1000;
	int old = atomic_load(&self->phase);

	if (old != P_IDLE)
		TH_LOG("%s took %.2f s; the timer thread woke at most %.2f ms late",
		       phase_names[old], (now - self->phase_us) / 1e6,
		       atomic_load(&self->worst_us[old]) / 1000.0);
	atomic_store(&self->phase, p);
	self->phase_us = now;
}

FIXTURE_SETUP(latency)
{
	struct kvm_xbzrle_caps caps;
	struct other *o = &self->o;

	self->xfd = self->vm_fd = self->kmsg = -1;
	o->xfd = o->vm_fd = -1;
	if (geteuid())
		SKIP(return, "not root: max_cache_mb is root's");
	/* the module is what is tested: its absence is a failure */
	ASSERT_EQ(0, xbz_check_offload(&caps)) TH_LOG("%s", kvm_util_error());
	self->kmsg = kmsg_open();
	ASSERT_LE(0, self->kmsg) TH_LOG("open /dev/kmsg: %s", strerror(errno));
	self->size = cache_size();
	ASSERT_LT(0ULL, self->size) TH_LOG("MemAvailable from /proc/meminfo");
	self->half = self->size / 2;
	TH_LOG("a cache of %llu MiB (1024 wanted, 256 on a slow kernel; two thirds of MemAvailable at most)",
	       (unsigned long long)(self->size / MIB));
	self->records = malloc(BATCH * KVM_XBZRLE_RECORD_MAX_SIZE);
	o->records = malloc(OTHER_BATCH * KVM_XBZRLE_RECORD_MAX_SIZE);
	ASSERT_TRUE(self->records && o->records);

	/* the drops run on CPU 0, beside the timer thread */
	ASSERT_EQ(0, pin(0)) TH_LOG("sched_setaffinity to CPU 0");
	self->mem = map_repeated(self->size, self->why);
	ASSERT_NE(NULL, self->mem) TH_LOG("%s", self->why);
	self->vm_fd = ioctl(kvm_open(), KVM_CREATE_VM, 0);
	ASSERT_LE(0, self->vm_fd) TH_LOG("KVM_CREATE_VM: %s", strerror(errno));
	ASSERT_EQ(0, kvm_set_memslot(self->vm_fd, 0, 0, GPA, self->half,
				     self->mem) ||
		     kvm_set_memslot(self->vm_fd, 1, 0, GPA + self->half,
				     self->half, self->mem + self->half))
		TH_LOG("two %llu MiB memslots: %s",
		       (unsigned long long)(self->half / MIB), kvm_util_error());
	self->xfd = xbz_open();
	ASSERT_LE(0, self->xfd) TH_LOG("%s", kvm_util_error());
	ASSERT_EQ(0, xbz_bind(self->xfd, self->vm_fd) ||
		     xbz_set_region(self->xfd, 0, GPA, self->half, self->mem) ||
		     xbz_set_region(self->xfd, 1, GPA + self->half, self->half,
				    self->mem + self->half))
		TH_LOG("a context with two regions: %s", kvm_util_error());

	o->mem = mmap(NULL, SMALL_PAGES * PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, o->mem) TH_LOG("the second VM's memory");
	o->vm_fd = ioctl(kvm_open(), KVM_CREATE_VM, 0);
	ASSERT_LE(0, o->vm_fd) TH_LOG("KVM_CREATE_VM: %s", strerror(errno));
	ASSERT_EQ(0, kvm_set_memslot(o->vm_fd, 0, 0, 0, SMALL_PAGES * PAGE,
				     o->mem))
		TH_LOG("the second VM: %s", kvm_util_error());
	o->xfd = xbz_open();
	ASSERT_LE(0, o->xfd) TH_LOG("%s", kvm_util_error());
	ASSERT_EQ(0, xbz_bind(o->xfd, o->vm_fd) ||
		     xbz_set_region(o->xfd, 0, 0, SMALL_PAGES * PAGE, o->mem))
		TH_LOG("the second context: %s", kvm_util_error());
}

FIXTURE_TEARDOWN(latency)
{
	struct other *o = &self->o;
	unsigned int lines = 0;
	int bad;

	/* what the case left is dropped too, under the same watch */
	if (self->xfd >= 0) {
		set_phase(_metadata, self, P_CLOSE);
		close(self->xfd);
	}
	set_phase(_metadata, self, P_IDLE);
	atomic_store(&self->stop, true);
	if (self->worker_on)
		pthread_join(self->worker, NULL);
	if (self->timer_on)
		pthread_join(self->timer, NULL);
	EXPECT_EQ(0, atomic_load(&self->pin_err))
		TH_LOG("a thread's sched_setaffinity: %s",
		       strerror(atomic_load(&self->pin_err)));
	if (self->worker_on) {
		TH_LOG("the second context's ENCODE calls meanwhile: %lu, %lu failed%s%s",
		       o->calls, o->failed, WHY_IF(o->failed, o->why));
		EXPECT_LT(0UL, o->calls);
		EXPECT_EQ(0UL, o->failed) TH_LOG("%s", o->why);
	}
	/* soft lockups, RCU stalls, hung tasks and any other kernel report */
	bad = kmsg_count(self->kmsg, kmsg_problems, &lines);
	EXPECT_EQ(0, bad) TH_LOG("%u kernel log lines, %d problems: %s",
				 lines, bad, kvm_util_error());
	/* the case's _exit() skips atexit(): max_cache_mb goes back here */
	EXPECT_EQ(0, xbz_param_restore_all()) TH_LOG("%s", kvm_util_error());

	close(o->xfd);
	close(o->vm_fd);
	close(self->vm_fd);
	close(self->kmsg);
	munmap(o->mem, SMALL_PAGES * PAGE);
	munmap(self->mem, self->size);
	free(o->records);
	free(self->records);
}

/* Every page of [GPA, GPA + @size) once: all of them cached. */
static void fill(struct __test_metadata *_metadata,
		 FIXTURE_DATA(latency) *self, uint64_t size)
{
	struct xbz_encode_result res;
	uint64_t done = 0;
	unsigned int i, n;

	set_phase(_metadata, self, P_FILL);
	while (done < size / PAGE) {
		n = size / PAGE - done < BATCH ? size / PAGE - done : BATCH;
		for (i = 0; i < n; i++)
			self->gpas[i] = GPA + (done + i) * PAGE;
		ASSERT_EQ(0, xbz_encode(self->xfd, 0, self->gpas, n,
					self->records,
					BATCH * KVM_XBZRLE_RECORD_MAX_SIZE,
					PAGE, &res))
			TH_LOG("ENCODE: %s", kvm_util_error());
		ASSERT_EQ(n, res.npages_done)
			TH_LOG("ENCODE did %u of %u pages", res.npages_done, n);
		done += n;
	}
}

static uint64_t cache_bytes(struct __test_metadata *_metadata,
			    FIXTURE_DATA(latency) *self)
{
	struct kvm_xbzrle_stats s;

	ASSERT_EQ(0, xbz_get_stats(self->xfd, &s))
		TH_LOG("GET_STATS: %s", kvm_util_error());
	return s.cache_bytes;
}

/*
 * max_cache_mb raised for the cache, its size set, both threads started,
 * then [GPA, GPA + @size) sent: the cache holds all of it.
 */
static void start_filled(struct __test_metadata *_metadata,
			 FIXTURE_DATA(latency) *self, uint64_t size)
{
	char v[32];
	uint64_t c;

	snprintf(v, sizeof(v), "%llu", (unsigned long long)(self->size / MIB + 64));
	ASSERT_EQ(0, xbz_param_write("max_cache_mb", v))
		TH_LOG("%s", kvm_util_error());
	ASSERT_EQ(0, xbz_set_cache(self->xfd, KVM_XBZRLE_CACHE_SET_SIZE,
				   self->size, NULL))
		TH_LOG("a %llu MiB cache: %s",
		       (unsigned long long)(self->size / MIB), kvm_util_error());
	ASSERT_EQ(0, pthread_create(&self->timer, NULL, timer_thread, self));
	self->timer_on = true;
	ASSERT_EQ(0, pthread_create(&self->worker, NULL, other_thread, self));
	self->worker_on = true;

	fill(_metadata, self, size);
	c = cache_bytes(_metadata, self);
	EXPECT_EQ(size, c) TH_LOG("filled: the cache holds %llu MiB of %llu",
				  (unsigned long long)(c / MIB),
				  (unsigned long long)(size / MIB));
}

TEST_F_TIMEOUT(latency, region_removed, TIMEOUT_S)
{
	uint64_t c;

	start_filled(_metadata, self, self->size);
	set_phase(_metadata, self, P_REGION);
	ASSERT_EQ(0, xbz_set_region(self->xfd, 1, 0, 0, NULL))
		TH_LOG("SET_REGION removing slot 1: %s", kvm_util_error());
	c = cache_bytes(_metadata, self);
	EXPECT_EQ(self->half, c)
		TH_LOG("region removed: its %llu MiB of bases dropped, %llu MiB left",
		       (unsigned long long)(self->half / MIB),
		       (unsigned long long)(c / MIB));
}

TEST_F_TIMEOUT(latency, cache_reset, TIMEOUT_S)
{
	uint64_t c;

	start_filled(_metadata, self, self->half);
	set_phase(_metadata, self, P_RESET);
	ASSERT_EQ(0, xbz_set_cache(self->xfd, KVM_XBZRLE_CACHE_RESET, 0, NULL))
		TH_LOG("CACHE_RESET: %s", kvm_util_error());
	c = cache_bytes(_metadata, self);
	EXPECT_EQ(0ULL, c) TH_LOG("CACHE_RESET: %llu bytes left",
				  (unsigned long long)c);
}

TEST_F_TIMEOUT(latency, context_closed, TIMEOUT_S)
{
	long long module;

	start_filled(_metadata, self, self->half / 2);
	set_phase(_metadata, self, P_CLOSE);
	close(self->xfd);
	self->xfd = -1;
	module = xbz_debugfs_stat("cache_bytes");
	ASSERT_LE(0, module) TH_LOG("debugfs kvm_xbzrle/stats: no cache_bytes");
	/* the second context, still running, holds at most its own pages */
	EXPECT_GE((long long)(SMALL_PAGES * PAGE), module)
		TH_LOG("closed: the module holds %lld KiB", module / 1024);
}

XBZRLE_SCALE_TIMEOUTS()

TEST_HARNESS_MAIN
