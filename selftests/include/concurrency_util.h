/* SPDX-License-Identifier: GPL-2.0 */
/*
 * concurrency_util - the scenario of the offload_concurrency_*_test
 * selftests (lib/concurrency_util.c the run, lib/concurrency_threads.c
 * the threads, lib/concurrency_checks.c the points; their shared state in
 * lib/concurrency_internal.h): KVM_XBZRLE_ENCODE from several
 * threads at once, on one context and on different contexts, while
 * everything around the contexts changes.
 *
 * conc_setup() makes two VMs, each with a vCPU running the guest loop of
 * offload_test (one byte incremented every KiB of a 2 MiB data slot, then
 * an OUT), both with manual dirty-log protection, and three long-lived
 * contexts:
 *
 *   A1  on VM A, shared by up to three threads that each own a disjoint
 *       set of pages: "A1/even" and "A1/odd" (even and odd pages of the
 *       code and data slots; dirty log + ENCODE with CLEAR_DIRTY_LOG;
 *       CONC_A1_OWNERS), and "A1/hotplug" (a third memslot that it adds,
 *       fills, sends, changes, sends again and removes over and over: the
 *       region is removed explicitly, or dropped by the module's memslot
 *       check, or the same memory is re-added; CONC_HOTPLUG);
 *   A2  on VM A too, thread "A2/full": every page of the code and data
 *       slots each round, without the flag (it must not clear A1's bits;
 *       CONC_A2_OWNER);
 *   B   on VM B, thread "B": dirty log + ENCODE with CLEAR_DIRTY_LOG
 *       (CONC_B_OWNER).
 *
 * Around them: thread "lifecycle" (CONC_LIFECYCLE) opens contexts on VM B,
 * binds them, registers the regions, encodes, and closes them (cached
 * pages and all), and now and then binds one to a scratch VM whose file it
 * then closes (ENCODE must say ENODEV); thread "cache" (CONC_CACHE)
 * resizes A1, A2 and B (KVM_XBZRLE_SET_CACHE with sizes from 0 to 64 MiB,
 * and RESET) and runs the shrinker through /proc/sys/vm/drop_caches.
 *
 * Per-page order: each page of a context has exactly one owner thread,
 * whose calls are sequential, so applying each call's records as it
 * returns keeps the module's order.  Every record is checked as it is
 * applied (xbz_check_apply_call(): a ZERO record for an all-zero snapshot
 * only, an XBZRLE delta byte-identical to xbzrle_encode() of the
 * destination's copy and the snapshot).  The hotplug slot is written by
 * its owner thread only, so its destination is compared with memory after
 * every send.  conc_run() runs the chosen threads for CONC_RUN_MS, longer
 * on a slow kernel until every thread did its minimum, at most
 * CONC_RUN_MAX_MS; then the threads stop, the vCPUs are kicked out of
 * KVM_RUN, each owner runs a last round with the guests stopped.
 *
 * The checks of a run are its points (enum conc_point): conc_result()
 * says whether one holds and formats the line the test reports; after
 * conc_close(), conc_contexts_result() and conc_kmsg_result() say whether
 * the module's contexts and cache are back where they were and whether
 * the kernel log stayed quiet (and lockdep on).  Error conventions: see
 * test_util.h.  Not thread-safe across runs; one run per process.
 */
#ifndef XBZRLE_CONCURRENCY_UTIL_H
#define XBZRLE_CONCURRENCY_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#include "test_util.h"	/* SKIP_UNLESS_FAILED() */

/*
 * How long the threads run together, and what each must at least do.  On
 * a slow kernel (KASAN, lockdep, nested under TCG) the phase goes on past
 * CONC_RUN_MS until every thread has done its minimum, but never past
 * CONC_RUN_MAX_MS: the phase ends by time, and the threads stop when it
 * does.
 */
#define CONC_RUN_MS		5000
#define CONC_RUN_MAX_MS		45000
#define CONC_MIN_ROUNDS		3
/* A case's time limit, multiplied by XBZRLE_TIMEOUT_SCALE. */
#define CONC_TIMEOUT_S		110
/* Room for the text of one point. */
#define CONC_LINE		1024

/* The threads of a run, for conc_setup() (the two vCPUs always run). */
#define CONC_A1_OWNERS		(1U << 0)	/* A1/even and A1/odd */
#define CONC_A2_OWNER		(1U << 1)	/* A2/full */
#define CONC_B_OWNER		(1U << 2)	/* B */
#define CONC_HOTPLUG		(1U << 3)	/* A1/hotplug */
#define CONC_LIFECYCLE		(1U << 4)	/* lifecycle, on VM B */
#define CONC_CACHE		(1U << 5)	/* cache: A1, A2 and B */
#define CONC_OWNERS		(CONC_A1_OWNERS | CONC_A2_OWNER | CONC_B_OWNER)
#define CONC_ALL		(CONC_OWNERS | CONC_HOTPLUG | CONC_LIFECYCLE | \
				 CONC_CACHE)

/* The checks of a run, after conc_run(). */
enum conc_point {
	CONC_P_A1_EVEN,		/* every record valid, >= CONC_MIN_ROUNDS */
	CONC_P_A1_ODD,
	CONC_P_A2_FULL,
	CONC_P_B,
	CONC_P_HOTPLUG,		/* valid, >= MIN cycles, dest == memory */
	CONC_P_LIFECYCLE,	/* valid, >= MIN contexts, an ENODEV */
	CONC_P_CACHE,		/* resizes, RESETs, drops, bytes <= size */
	CONC_P_VCPUS,		/* two passes each, no error */
	CONC_P_DEST_A1,		/* A1's destination == VM A (+ hot slot) */
	CONC_P_DEST_A2,
	CONC_P_DEST_B,
	CONC_NPOINTS
};

struct conc_run;

/*
 * Two VMs with a vCPU each, contexts A1 and A2 on VM A, B on VM B, and
 * the state of the chosen @threads (CONC_*); records where the kernel log,
 * lockdep and the module's debugfs counters stand.  0 with *@runp set, or
 * -1 with the reason in kvm_util_error() (*@runp may then be set, for
 * conc_free()).
 */
int conc_setup(struct conc_run **runp, unsigned int threads);
/*
 * Runs the vCPUs and the chosen threads together (see the top), stops
 * them and runs the owners' last round.  0, or -1 if a thread could not
 * be started (kvm_util_error() says which).
 */
int conc_run(struct conc_run *run);
/* Whether point @p is about a thread of this run. */
bool conc_applies(const struct conc_run *run, enum conc_point p);
/*
 * Whether point @p holds; @line (CONC_LINE bytes) receives its text,
 * which is also printed as a "# " diagnostic.
 */
bool conc_result(struct conc_run *run, enum conc_point p, char *line);
/* Closes the contexts, stops what still runs and destroys the VMs. */
void conc_close(struct conc_run *run);
/*
 * After conc_close(): 1 if the module's context count and cache_bytes
 * are back where they were, 0 if not, -1 without debugfs kvm_xbzrle/stats
 * (@line: the reason to skip).
 */
int conc_contexts_result(struct conc_run *run, char *line);
/*
 * After conc_close(): 1 if the kernel log of the run holds no problem
 * (kmsg_problems) and lockdep, if in the kernel, is still on; 0 if not;
 * -1 if /dev/kmsg cannot be read (@line: the reason to skip).
 */
int conc_kmsg_result(struct conc_run *run, char *line);
/* Frees everything of @run (closing what conc_close() did not). */
void conc_free(struct conc_run *run);

#ifdef __KSELFTEST_HARNESS_H
/*
 * The last checks of a case, after conc_close(): the module's contexts
 * and cache are back, the kernel log is quiet.  Where debugfs or
 * /dev/kmsg is missing, the case is skipped with the reason, unless a
 * check already failed (a skip would hide it).  The case's last call.
 */
static inline void conc_expect_closed_and_quiet(struct __test_metadata *_metadata,
						struct conc_run *run,
						char *line)
{
	char why_c[CONC_LINE];
	int c, k;

	c = conc_contexts_result(run, line);
	EXPECT_NE(0, c) TH_LOG("%s", line);
	snprintf(why_c, sizeof(why_c), "%s", line);
	k = conc_kmsg_result(run, line);
	EXPECT_NE(0, k) TH_LOG("%s", line);
	if (c < 0 || k < 0)
		SKIP_UNLESS_FAILED(return, "%s", c < 0 ? why_c : line);
}
#endif /* __KSELFTEST_HARNESS_H */

#endif /* XBZRLE_CONCURRENCY_UTIL_H */
