// SPDX-License-Identifier: GPL-2.0
/*
 * offload_latency_test - dropping a large cache does not stall the CPU it
 * runs on.
 *
 * A context fills a cache of 1 GiB (less if the VM has not the memory for
 * it: the diagnostics say how much), then drops it the three ways the
 * module does: a region removed (half of it), KVM_XBZRLE_CACHE_RESET (the
 * other half), and, with a quarter filled again, the context closed (the
 * path RESET takes too, from the release of the file).  Meanwhile a timer
 * thread on the same CPU sleeps 1 ms at a time and records how late it
 * wakes, and a second context on another VM runs ENCODE on the other CPU.
 *
 * The points are outcomes (the cache sizes after each drop, the second
 * context's calls, the kernel's soft-lockup, RCU-stall and hung-task
 * detectors quiet); the wake-up latencies are diagnostics, never an
 * assertion (TCG's timing is not the host's).
 *
 * Guest memory is one 2 MiB memfd mapped again and again over the
 * memslots' address range: bases are per host page, so 2 MiB of memory
 * gives a cache of any size.  max_cache_mb is raised for the test and
 * restored on exit.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kvm_util.h"
#include "test_util.h"
#include "xbzrle_tap.h"
#include "xbzrle_util.h"

#define PAGE		GUEST_PAGE_SIZE
#define MIB		(1024ULL * 1024)
#define CHUNK		(2 * MIB)	/* the memfd mapped over and over */
#define WANT_MB		1024ULL
#define BATCH		4096U
#define GPA		0x100000000ULL	/* 4 GiB: room for two regions */
#define SMALL_PAGES	4096U
#define TIMEOUT_S	110

enum phase { P_IDLE, P_FILL, P_REGION, P_RESET, P_REFILL, P_CLOSE, P_NR };

static const char *const phase_names[P_NR] = {
	"idle", "fill", "region removed", "CACHE_RESET", "a quarter filled again",
	"context closed",
};

static volatile int phase;
static volatile bool stop;
static uint64_t worst_us[P_NR];		/* written by the timer thread */

static uint8_t records[BATCH * KVM_XBZRLE_RECORD_MAX_SIZE]
	__attribute__((aligned(8)));
static uint64_t gpas[BATCH];

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	TEST_ASSERT(!sched_setaffinity(0, sizeof(set), &set),
		    "sched_setaffinity to CPU %d", cpu);
}

/* Sleeps 1 ms at a time on CPU 0 and records the worst lateness. */
static void *timer_thread(void *arg)
{
	struct timespec ms = { .tv_nsec = 1000000 };
	uint64_t t0, late;

	(void)arg;
	pin(0);
	while (!stop) {
		t0 = now_ns() / 1000;
		nanosleep(&ms, NULL);
		late = now_ns() / 1000 - t0 - 1000;
		if ((int64_t)late > 0 && late > worst_us[phase])
			worst_us[phase] = late;
	}
	return NULL;
}

struct other {
	int vm_fd;
	int xfd;
	uint8_t *mem;
	unsigned long calls;
	unsigned long failed;
	char why[256];
};

static uint64_t other_gpas[64];
static uint8_t other_records[64 * KVM_XBZRLE_RECORD_MAX_SIZE]
	__attribute__((aligned(8)));

/* The second context: ENCODE of 64 changed pages at a time, on CPU 1. */
static void *other_thread(void *arg)
{
	struct other *o = arg;
	struct xbz_encode_result res;
	unsigned int i, first = 0;

	pin(1);
	while (!stop) {
		for (i = 0; i < 64; i++) {
			other_gpas[i] = (uint64_t)(first + i) * PAGE;
			o->mem[(size_t)(first + i) * PAGE + o->calls % PAGE]++;
		}
		if (xbz_encode(o->xfd, 0, other_gpas, 64, other_records,
			       sizeof(other_records), PAGE, &res) ||
		    res.npages_done != 64) {
			if (!o->failed++)
				snprintf(o->why, sizeof(o->why), "%s",
					 kvm_util_error());
		}
		o->calls++;
		first = (first + 64) % SMALL_PAGES;
	}
	return NULL;
}

/* @size bytes of address space, every CHUNK of it the same memfd. */
static uint8_t *map_repeated(size_t size)
{
	static unsigned int seed = 7;
	uint8_t *base, *p;
	size_t off;
	int fd;

	fd = memfd_create("offload_latency_test", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, CHUNK))
		tap_bail_out("a %llu MiB memfd", CHUNK / MIB);
	base = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
		    MAP_NORESERVE, -1, 0);
	TEST_ASSERT(base != MAP_FAILED,
		    "reserve %zu MiB of address space", size >> 20);
	for (off = 0; off < size; off += CHUNK) {
		p = mmap(base + off, CHUNK, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, fd, 0);
		TEST_ASSERT(p != MAP_FAILED,
			    "map the memfd at +%zu MiB", off >> 20);
	}
	close(fd);
	fill_random(base, CHUNK, &seed);	/* no zero page: all cached */
	return base;
}

/* Every page of [@gpa, @gpa + @size) once; 0 or -1 with *@why. */
static int send_all(int xfd, uint64_t gpa, uint64_t size, char *why)
{
	struct xbz_encode_result res;
	uint64_t done = 0;
	unsigned int i, n;

	while (done < size / PAGE) {
		n = size / PAGE - done < BATCH ? size / PAGE - done : BATCH;
		for (i = 0; i < n; i++)
			gpas[i] = gpa + (done + i) * PAGE;
		if (xbz_encode(xfd, 0, gpas, n, records, sizeof(records), PAGE,
			       &res))
			return set_why(why, 256, "ENCODE: %s", kvm_util_error());
		if (res.npages_done != n)
			return set_why(why, 256, "ENCODE did %u of %u pages",
				       res.npages_done, n);
		done += n;
	}
	return 0;
}

static uint64_t cache_bytes(int xfd)
{
	struct kvm_xbzrle_stats s;

	if (xbz_get_stats(xfd, &s))
		tap_bail_out("GET_STATS: %s", kvm_util_error());
	return s.cache_bytes;
}

static void set_phase(int p, uint64_t *t)
{
	uint64_t now = now_ns() / 1000;

	if (phase != P_IDLE)
		tap_diag("%s took %.2f s; the timer thread woke at most %.2f ms late",
			 phase_names[phase], (now - *t) / 1e6,
			 worst_us[phase] / 1000.0);
	phase = p;
	*t = now;
}

/*
 * Cache size: 1 GiB, or what the VM can spare (the diagnostics say); a
 * quarter of that on a kernel whose time limits are scaled
 * (XBZRLE_TIMEOUT_SCALE > 1: KASAN and lockdep fill 1 GiB in five minutes
 * there, and the test is about their reports, not the size).
 */
static uint64_t cache_size(void)
{
	uint64_t want = WANT_MB * MIB;
	long long avail = -1;
	char buf[4096], *p;

	if (xbzrle_timeout_scale() > 1)
		want /= 4;

	if (read_file("/proc/meminfo", buf, sizeof(buf)) == 0 &&
	    (p = strstr(buf, "MemAvailable:")))
		avail = strtoll(p + 13, NULL, 10) * 1024;
	if (avail < 0)
		tap_bail_out("MemAvailable from /proc/meminfo");
	if (avail >= (long long)(want * 3 / 2))
		return want;
	return (uint64_t)avail * 2 / 3 / (64 * MIB) * (64 * MIB);
}

int main(void)
{
	static const char *const stalls[] = {
		"soft lockup", "rcu_", "blocked for more than", "hung_task",
		NULL,
	};
	struct kvm_xbzrle_caps caps;
	pthread_t timer, worker;
	struct other o = { 0 };
	uint64_t size, half, t = 0, c;
	char why[256] = "", v[32];
	int vm_fd, xfd, kmsg, ret;
	long long module;
	uint8_t *mem;

	tap_timeout(TIMEOUT_S);
	xbz_require_offload(&caps, false);
	kmsg = kmsg_open();
	if (kmsg < 0)
		tap_bail_out("open /dev/kmsg");
	tap_plan(6);

	size = cache_size();
	half = size / 2;
	tap_diag("cache of %llu MiB (1024 wanted, 256 on a slow kernel; two thirds of MemAvailable at most)",
		 (unsigned long long)(size / MIB));
	snprintf(v, sizeof(v), "%llu", (unsigned long long)(size / MIB + 64));
	xbz_param_set("max_cache_mb", v);

	pin(0);
	mem = map_repeated(size);
	vm_fd = ioctl(kvm_open(), KVM_CREATE_VM, 0);
	TEST_ASSERT(vm_fd >= 0 &&
		    !kvm_set_memslot(vm_fd, 0, 0, GPA, half, mem) &&
		    !kvm_set_memslot(vm_fd, 1, 0, GPA + half, half, mem + half),
		    "a VM with two %llu MiB memslots",
		    (unsigned long long)(half / MIB));
	xfd = xbz_open();
	TEST_ASSERT(xfd >= 0 && !xbz_bind(xfd, vm_fd) &&
		    !xbz_set_region(xfd, 0, GPA, half, mem) &&
		    !xbz_set_region(xfd, 1, GPA + half, half, mem + half) &&
		    !xbz_set_cache(xfd, KVM_XBZRLE_CACHE_SET_SIZE, size, NULL),
		    "a context with a %llu MiB cache: %s",
		    (unsigned long long)(size / MIB), kvm_util_error());

	o.mem = mmap(NULL, SMALL_PAGES * PAGE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	o.vm_fd = ioctl(kvm_open(), KVM_CREATE_VM, 0);
	TEST_ASSERT(o.mem != MAP_FAILED && o.vm_fd >= 0 &&
		    !kvm_set_memslot(o.vm_fd, 0, 0, 0, SMALL_PAGES * PAGE,
				     o.mem),
		    "the second VM");
	o.xfd = xbz_open();
	TEST_ASSERT(o.xfd >= 0 && !xbz_bind(o.xfd, o.vm_fd) &&
		    !xbz_set_region(o.xfd, 0, 0, SMALL_PAGES * PAGE, o.mem),
		    "the second context: %s", kvm_util_error());

	TEST_ASSERT(!pthread_create(&timer, NULL, timer_thread, NULL) &&
		    !pthread_create(&worker, NULL, other_thread, &o),
		    "pthread_create");

	set_phase(P_FILL, &t);
	ret = send_all(xfd, GPA, size, why);
	c = cache_bytes(xfd);
	tap_result(!ret && c == size, "filled: the cache holds %llu MiB%s%s",
		   (unsigned long long)(c / MIB), WHY_IF(ret, why));

	set_phase(P_REGION, &t);
	ret = xbz_set_region(xfd, 1, 0, 0, NULL);
	c = cache_bytes(xfd);
	tap_result(!ret && c == half,
		   "region removed: its %llu MiB of bases dropped, %llu MiB left%s%s",
		   (unsigned long long)(half / MIB),
		   (unsigned long long)(c / MIB),
		   WHY_IF(ret, kvm_util_error()));

	set_phase(P_RESET, &t);
	ret = xbz_set_cache(xfd, KVM_XBZRLE_CACHE_RESET, 0, NULL);
	c = cache_bytes(xfd);
	tap_result(!ret && c == 0, "CACHE_RESET: %llu bytes left%s%s",
		   (unsigned long long)c, WHY_IF(ret, kvm_util_error()));

	set_phase(P_REFILL, &t);
	ret = send_all(xfd, GPA, half / 2, why);
	c = cache_bytes(xfd);
	set_phase(P_CLOSE, &t);
	close(xfd);
	module = xbz_debugfs_stat("cache_bytes");
	set_phase(P_IDLE, &t);
	stop = true;
	pthread_join(worker, NULL);
	pthread_join(timer, NULL);
	tap_result(!ret && c == half / 2 && module >= 0 &&
		   (uint64_t)module <= SMALL_PAGES * PAGE,
		   "a quarter filled again (%llu MiB) and closed: the module holds %lld KiB, at most the second context's",
		   (unsigned long long)(c / MIB),
		   module < 0 ? module : module / 1024);
	tap_result(o.calls > 0 && !o.failed,
		   "the second context's ENCODE calls meanwhile: %lu, %lu failed%s%s",
		   o.calls, o.failed, o.failed ? ": " : "", o.why);
	ret = kmsg_count(kmsg, stalls, NULL);
	tap_result(!ret,
		   "no soft lockup, RCU stall or hung task reported%s%s",
		   WHY_IF(ret, kvm_util_error()));

	close(o.xfd);
	close(o.vm_fd);
	close(vm_fd);
	tap_finish();
}
