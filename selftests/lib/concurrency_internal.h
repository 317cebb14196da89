/* SPDX-License-Identifier: GPL-2.0 */
/*
 * concurrency_internal - shared by the files of the concurrency library
 * (lib/concurrency_util.c the run, lib/concurrency_threads.c the threads,
 * lib/concurrency_checks.c the points), not for tests: the state of a
 * run and what one file calls of another.  The API is
 * include/concurrency_util.h.
 */
#ifndef XBZRLE_CONCURRENCY_INTERNAL_H
#define XBZRLE_CONCURRENCY_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "concurrency_util.h"
#include "guest_util.h"
#include "kvm_util.h"
#include "records.h"
#include "test_util.h"

#define PAGE		GUEST_PAGE_SIZE
#define REC_MAX		KVM_XBZRLE_RECORD_MAX_SIZE

#define CODE_SLOT	0
#define CODE_GPA	0x0ULL
#define CODE_SIZE	(64 * 1024ULL)
#define DATA_SLOT	1
#define DATA_GPA	0x100000ULL
#define DATA_SIZE	(2 * 1024 * 1024ULL)
#define DATA_PAGES	(DATA_SIZE / PAGE)
#define HOT_SLOT	2
#define HOT_GPA		0x1000000ULL
#define HOT_SIZE	(256 * 1024ULL)
#define HOT_PAGES	(HOT_SIZE / PAGE)
#define STRIDE		1024
#define OUT_PORT	GMIG_OUT_PORT
#define REC_PAGES	64	/* record buffer of each thread, in pages */
#define DEFAULT_CACHE	(64ULL << 20)
#define MAX_THREADS	16

/* A thread's name and phase, shown when stopping is slow. */
struct tinfo {
	const char *name;
	pid_t tid;
	const char *volatile phase;
};

/* One thread's view of one context. */
struct sender {
	struct conc_run *run;
	const char *name;
	int xfd;
	uint8_t *records;
	xbz_dest_page_fn dest_page;	/* NULL: @dest is a struct xbz_dest */
	void *dest;
	uint64_t calls, pages;
	struct xbz_counts got;
	char why[384];
};

struct guest {
	struct conc_run *run;
	const char *name;
	struct kvm_vm vm;
	struct kvm_vcpu vcpu;
	pthread_t thread;
	bool running;
	atomic_uint passes;
	atomic_bool stop;
	atomic_bool exited;
	char error[256];
};

/* Dirty-log owner (CLEAR_DIRTY_LOG) or full-resend owner. */
struct owner {
	struct sender s;
	struct guest *g;
	unsigned int mod, rem;	/* owned pages: index % mod == rem */
	bool full;		/* every owned page each round, no flag */
	unsigned int rounds;
	uint64_t *gpas;
	pthread_t thread;
	bool started;
};

/* The memslot that comes and goes, on VM A, sent through A1. */
struct hotplug {
	struct sender s;
	struct kvm_vm *vm;
	uint8_t *mem;		/* mapped at HOT_GPA now, or NULL */
	uint8_t dest[HOT_SIZE];
	uint64_t gpas[HOT_PAGES];
	unsigned int cycles, removed_explicitly, dropped_by_check, readded_same;
	unsigned int compares;
	bool present;
};

/* Opens, binds, uses and closes contexts on VM B; scratch VMs now and then. */
struct lifecycle {
	struct sender s;
	struct kvm_vm *vm;
	struct xbz_dest dest;
	uint64_t gpas[DATA_PAGES];
	unsigned int opened, enodev;
};

/* Resizes and resets the shared contexts; runs the shrinker. */
struct cacher {
	struct conc_run *run;
	int xfds[3];
	unsigned int set_size, resets, drops, samples;
	char why[256];
};

struct conc_run {
	unsigned int threads;		/* CONC_* */
	struct guest ga, gb;
	struct xbz_dest dest_a1, dest_a2, dest_b;
	int xa1, xa2, xb;
	struct owner owners[4];		/* A1/even, A1/odd, A2/full, B */
	struct hotplug hot;
	struct lifecycle life;
	struct cacher cacher;
	pthread_t t_hot, t_life, t_cache, t_mon;
	bool hot_started, life_started, cache_started, start_failed;
	bool monitoring, closed;
	atomic_bool stop_run;		/* end of the concurrent phase */
	atomic_bool vcpus_stopped;	/* owners may run their last round */
	atomic_bool mon_done;
	const char *volatile main_phase;
	double t_stop;
	struct timespec t_start;
	struct tinfo tinfos[MAX_THREADS];
	atomic_uint ntinfo;
	int kmsg, ld0;
	long long ctx0, bytes0;
};

/*
 * The threads (CONC_*) each point checks: it applies to a run of any of
 * them (conc_applies()).  Owner k's point is point k (CONC_P_A1_EVEN + k),
 * so entry k is the bit of owner k's thread.  The vCPU threads run in every
 * run: CONC_P_VCPUS always applies, and has no entry.
 */
extern const unsigned int conc_point_threads[CONC_NPOINTS];

/* The reason @s failed, -1; the first reason stays. */
#define fail_why(s, ...)						\
	((s)->why[0] ? -1 : set_why((s)->why, sizeof((s)->why), __VA_ARGS__))

/* lib/concurrency_util.c: registers the calling thread for the dumps. */
struct tinfo *conc_treg(struct conc_run *r, const char *name);

/* lib/concurrency_threads.c: a sender's buffer, and the threads. */
int conc_sender_init(struct sender *s, struct conc_run *r, const char *name,
		     int xfd, xbz_dest_page_fn fn, void *dest);
void *conc_owner_thread(void *arg);
/* The destination of A1/hotplug's sender: its slot's copy. */
uint8_t *conc_dest_of_hot(void *opaque, uint64_t gpa);
void *conc_hotplug_thread(void *arg);
void *conc_lifecycle_thread(void *arg);
void *conc_cache_thread(void *arg);

/* lib/concurrency_checks.c: "debug_locks: N" of /proc/lockdep_stats, or -1. */
int conc_lockdep_debug_locks(void);

#endif /* XBZRLE_CONCURRENCY_INTERNAL_H */
