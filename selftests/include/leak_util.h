/* SPDX-License-Identifier: GPL-2.0 */
/*
 * leak_util - the scenario of the offload_leak_*_test selftests
 * (lib/leak_util.c): no host memory in what the module hands to
 * userspace, with freed kernel memory churned full of a marker.
 *
 * leak_setup() makes the VM under test (LEAK_NP pages of bytes below
 * LEAK_ALPHABET, manual dirty-log protection), a "poison" VM whose pages
 * are full of LEAK_MARKER (0xC3), a record buffer, a page for argument
 * structures and the context under test.  leak_run() then runs
 * LEAK_ROUNDS rounds, each of them:
 *
 *  - churning kernel memory so that freed pages and slab objects hold the
 *    marker: a memfd filled with the marker and closed, pipe buffers of
 *    it, fsetxattr() values of it of several sizes (kmalloc-64 to
 *    kmalloc-4k, freed right away), contexts that encode the poison VM's
 *    pages (RAW records, XBZRLE deltas of 0xC3-ish data, cache pages full
 *    of 0xC3) and are closed, and drop_caches, whose shrinker frees the
 *    cache pages of every context (also the one under test, whose next
 *    pages then come from the allocator again); now and then a new
 *    context under test (a new delta buffer, from poisoned slab);
 *  - changing the guest's pages (kept, touched, zeroed, rewritten) and
 *    sending every page in batches of up to LEAK_NREC, with and without
 *    KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG, small max_delta now and then
 *    (overflows), a small cache for a while (evictions), duplicates
 *    (UNCHANGED);
 *  - calling GET_STATS (of several sizes), SET_CACHE and GET_CAPS.
 *
 * then a last pass, so that a destination holds every page as it is now.
 * Every call's argument structure sits at the start of a page of
 * LEAK_SENTINEL (0xA5) bytes, the record buffer is filled with the
 * sentinel before each ENCODE, and the ENCODE argument's outputs are set
 * to 0x5a5a5a5a: the tests check what the module wrote, in the hooks
 * (struct leak_hooks) that leak_run() calls after each call.  The
 * workload is the same in every test (one seed), whichever hooks it has.
 *
 * Error conventions: see test_util.h (0, or -1 with kvm_util_error()).
 */
#ifndef XBZRLE_LEAK_UTIL_H
#define XBZRLE_LEAK_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm_xbzrle.h>

#include "kvm_util.h"

#define LEAK_PG		4096ULL
#define LEAK_REC_MAX	((uint32_t)KVM_XBZRLE_RECORD_MAX_SIZE)

#define LEAK_SENTINEL	0xA5
#define LEAK_MARKER	0xC3
#define LEAK_ALPHABET	0x40	/* guest bytes are below */

#define LEAK_SLOT	0
#define LEAK_GPA	0x100000ULL
#define LEAK_NP		128	/* guest pages */

#define LEAK_NREC	64	/* one chunk of the module, at most */
#define LEAK_RECBUF_SIZE (LEAK_NREC * LEAK_REC_MAX + 4096)
#define LEAK_ROUNDS	48
/* A case's time limit, multiplied by XBZRLE_TIMEOUT_SCALE. */
#define LEAK_TIMEOUT_S	120

struct leak;

/* What a test checks, called by leak_run() after each call; any may be NULL. */
struct leak_hooks {
	/*
	 * After KVM_XBZRLE_ENCODE of @gpas[0..n): @in is the argument as
	 * passed (outputs 0x5a5a5a5a), @e the argument page as the call left
	 * it, the records in l->recbuf.
	 */
	void (*encoded)(struct leak *l, const struct kvm_xbzrle_encode *in,
			const struct kvm_xbzrle_encode *e, const uint64_t *gpas,
			unsigned int n, bool clear, uint32_t max_delta);
	/* After GET_STATS with a structure of @size bytes (l->argpage). */
	void (*stats)(struct leak *l, size_t size);
	/* After SET_CACHE of @bytes with @flags, a structure of @size bytes. */
	void (*set_cache)(struct leak *l, uint32_t flags, uint64_t bytes,
			  size_t size);
	/* After GET_CAPS with a structure of @size bytes. */
	void (*caps)(struct leak *l, size_t size);
	/* A new context under test: the old one's bases went with it. */
	void (*reopened)(struct leak *l);
};

struct leak {
	struct kvm_vm vm, pvm;		/* under test; poison */
	uint8_t *mem;			/* guest memory of @vm */
	uint8_t *recbuf;		/* LEAK_RECBUF_SIZE, page aligned */
	uint8_t *argpage;		/* a page for argument structures */
	int xfd;			/* the context under test */
	int kmsg;			/* /dev/kmsg from the set-up on, or -1 */
	uint64_t rng;
	bool drop_caches_ok;		/* /proc/sys/vm/drop_caches writable */
	unsigned int encodes;		/* ENCODE calls of the context(s) */
	/* rounds whose context had evictions, reclaimed bases, overflows */
	unsigned long evictions, reclaimed, overflows;
	unsigned long printed;		/* violations printed */
	const struct leak_hooks *hooks;
	void *priv;			/* the test's */
};

/*
 * The VMs, buffers and the first context, once xbz_check_offload() found
 * KVM, the module and its offload (their absence is a failure too, the
 * module being what the tests test); reports whether the kernel zeroes
 * allocations (mem auto-init) and starts reading the kernel log.  0, or
 * -1 (leak_free() then frees what was made).
 */
int leak_setup(struct leak *l);
/* Runs the rounds and the last pass (see the top).  0, or -1. */
int leak_run(struct leak *l, const struct leak_hooks *hooks, void *priv);
/* Closes the context under test and churns the poison contexts again. */
int leak_close_and_churn(struct leak *l);
/*
 * Lines of the kernel log since leak_setup() that look like a kernel
 * problem (kmsg_problems; kvm_util_error() has the first), or -1 if
 * /dev/kmsg cannot be read.
 */
int leak_kmsg_problems(struct leak *l);
void leak_free(struct leak *l);

/* A violation: counted in *@count, printed (the first 12 of a run). */
void __attribute__((format(printf, 3, 4)))
leak_violation(struct leak *l, unsigned long *count, const char *fmt, ...);
/*
 * A point of a test: prints "ok: " or "FAILED: " and its text as a
 * diagnostic, whatever the outcome; returns @ok (for EXPECT_TRUE()).
 */
bool leak_point(bool ok, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Hex of @len bytes at @p, for the messages (a static buffer). */
const char *leak_hex(const uint8_t *p, size_t len);

#endif /* XBZRLE_LEAK_UTIL_H */
