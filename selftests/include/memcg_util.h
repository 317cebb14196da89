/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memcg_util - what the offload_memcg tests share (lib/memcg_util.c): a
 * migration of one memslot without vCPUs (struct mig: a VM, its
 * destination copy and a context, rounds that send every page and check
 * the destination), "key value" files (/proc/meminfo, /proc/vmstat,
 * memory.stat), cgroup v2 with the memory controller (mounted and enabled
 * for the test if need be, undone afterwards), and the cgroup scenario of
 * offload_memcg_test's two cases, which
 * offload_memcg_test --headroom-bench repeats.
 *
 * Error conventions: see test_util.h, except that struct mig keeps the
 * reason a call failed in its why[] and struct memcg_result in its own
 * why[] (written by a child process: kvm_util_error() is per process).
 */
#ifndef XBZRLE_MEMCG_UTIL_H
#define XBZRLE_MEMCG_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvm_util.h"
#include "records.h"

#define MiB		(1ULL << 20)

/* ------------------- a migration of one memslot (struct mig) -------------- */

struct mig {
	struct kvm_vm vm;
	struct xbz_dest dest;
	int xfd;
	uint64_t *gpas;		/* the order the pages are sent in */
	uint32_t npages;
	uint8_t *records;
	struct xbz_counts got;	/* of the last round */
	uint64_t calls;
	char why[384];
};

/*
 * A VM (no vCPU) with one memslot of @size bytes at GPA 0, its destination
 * and a context bound to it (no cache yet), all touched (charged to the
 * memory cgroup the caller is in now) and without transparent huge pages.
 * Every page differs from the others; with @zero, every @zero-th stays
 * zero.  0, or -1 with the reason in @m->why; mig_destroy() either way.
 */
int mig_setup(struct mig *m, uint64_t size, unsigned int zero);
void mig_destroy(struct mig *m);

/*
 * Sends every page (in @m->gpas order, a paused round: nothing else writes
 * guest memory), checks and applies each call's records
 * (xbz_check_apply_call(), counted in @m->got), then compares the
 * destination with guest memory.  0, or -1 with the reason in @m->why.
 */
int mig_round(struct mig *m);

/* A few bytes of every page change (not the @zero-th ones): deltas. */
void mig_touch_pages(struct mig *m, uint8_t salt, unsigned int zero);

/* Faults in (writes) @len bytes at @p: charged to the cgroup we are in. */
void mem_populate(void *p, size_t len);

/* -------------------------- "key value" files ----------------------------- */

/*
 * The numbers after "@keys[i] " (or "@keys[i]:") in the file @path, in one
 * read: @vals[i], -1 where a key is absent.  0, or -1 if unreadable.
 */
int read_keys(const char *path, const char *const *keys, long long *vals,
	      unsigned int n);
/* The number after "@key " in @path; -1 if absent or unreadable. */
long long read_key(const char *path, const char *key);
/* The number a file holds (memory.current); -1 if unreadable. */
long long read_num(const char *path);

/* ------------------------- cgroup v2, memory controller ------------------- */

#define MEMCG_ROOT	"/sys/fs/cgroup"

struct memcg {
	char dir[128];		/* the test's cgroup; "" when there is none */
	bool mounted;		/* memcg_env_setup() mounted cgroup2 */
	bool enabled;		/* ... and enabled the memory controller */
};

/*
 * Makes sure cgroup v2 is at MEMCG_ROOT (mounted if nothing is: the test
 * VM's initramfs mounts none) with the memory controller enabled for child
 * cgroups.  0; 1 if this machine cannot (a reason to skip, in @why, @len
 * bytes).  memcg_env_cleanup() undoes what it did.
 */
int memcg_env_setup(struct memcg *cg, char *why, size_t len);
/* Removes the cgroup if any, disables and unmounts what setup changed. */
void memcg_env_cleanup(struct memcg *cg);

/*
 * Creates MEMCG_ROOT/@name.<pid> with memory.max @max (and memory.swap.max
 * 0 where there is swap).  0, or -1 with errno and kvm_util_error().
 */
int memcg_create(struct memcg *cg, const char *name, uint64_t max);
/* rmdir of the cgroup (an absent one is fine).  0, or -1 with errno. */
int memcg_remove(struct memcg *cg);
/* @cg's @file, in @buf (@len bytes), which it returns. */
const char *memcg_path(const struct memcg *cg, const char *file, char *buf,
		       size_t len);

/* ------------------------------ the cgroup scenario ----------------------- */

#define MEMCG_MAX	(24 * MiB)	/* memory.max */
#define MEMCG_CACHE	(64 * MiB)	/* the cache asked for */
#define MEMCG_WS	(48 * MiB)	/* the working set */
#define MEMCG_ROUNDS	3		/* with the cache */
#define MEMCG_GROW	(8 * MiB)	/* more than the headroom */
#define MEMCG_HEADROOM	(MEMCG_MAX / 8)	/* what the cache leaves free */

/* Points the child got through: memcg_result.stage, its samples. */
enum {
	MEMCG_S_IN = 1,		/* moved into the cgroup */
	MEMCG_S_NOCACHE,	/* a round without a cache, exact */
	MEMCG_S_CACHE,		/* MEMCG_ROUNDS rounds with it, exact */
	MEMCG_S_GROWN,		/* grew past the headroom, a round, exact */
	MEMCG_S_CLOSED,		/* the context closed */
	MEMCG_S_NR,
};

/*
 * Shared (MAP_SHARED: memcg_result_alloc()) between the child that does
 * the rounds in the cgroup and the parent, which reads the cgroup's files
 * from outside it, so that nothing the child does but ENCODE allocates in
 * the cgroup: at the limit, an allocation there without __GFP_NORETRY
 * would invoke the OOM killer.
 */
struct memcg_result {
	int stage;		/* the last MEMCG_S_* the child got through */
	int want, done;		/* sample requests: child -> parent */
	char why[512];		/* why the child stopped short */
	/* memory.current and memory.stat at each stage */
	long long cur[MEMCG_S_NR], kernel[MEMCG_S_NR], slab[MEMCG_S_NR];
	long long percpu[MEMCG_S_NR], anon[MEMCG_S_NR];
	long long cur_max;	/* memory.current, sampled every 5 ms */
	uint64_t cache_size, cache_bytes, evictions;
	uint64_t raw[MEMCG_ROUNDS], xbzrle[MEMCG_ROUNDS];
	/* after the process grew past the headroom */
	uint64_t grown_cache_bytes, grown_reclaimed, grown_raw, grown_xbzrle;
	uint64_t grow_ns;	/* time to touch those MEMCG_GROW bytes */
	uint32_t npages;
	/* read when the child has exited */
	int status;
	long long ev_max, ev_oom, ev_kill;
	long long peak;		/* memory.peak, or cur_max before 5.19 */
	bool peak_sampled;	/* no memory.peak: cur_max */
};

/* A struct memcg_result a child shares, or NULL; memcg_result_free(). */
struct memcg_result *memcg_result_alloc(void);
void memcg_result_free(struct memcg_result *res);

/*
 * The scenario, in @cg (memcg_create() with MEMCG_MAX): a child sets up a
 * VM with a MEMCG_WS working set, its destination and its buffers while
 * still in our cgroup, moves itself into @cg and sends every page once
 * without a cache, then MEMCG_ROUNDS times with a MEMCG_CACHE cache
 * (reversing the order each round, a few bytes of each page changed), and
 * touches MEMCG_MAX / 16 of new memory (the headroom must take it).  With
 * @grow it then touches MEMCG_GROW more and keeps it (memcg reclaim must
 * take cache pages) and does one more round.  Last it closes the context.
 * Every round is checked exact.  Fills @res, memory.events and the peak
 * included.  0 when the child has exited (whatever it got through: see
 * @res->stage and @res->why), -1 if it could not be started.
 */
int memcg_scenario(const struct memcg *cg, struct memcg_result *res,
		   bool grow);

#endif /* XBZRLE_MEMCG_UTIL_H */
