// SPDX-License-Identifier: GPL-2.0
/*
 * offload_fuzz_test - random and mutated ioctls on /dev/kvm_xbzrle.
 *
 * A deterministic PRNG (seed printed; XBZRLE_FUZZ_SEED overrides it,
 * XBZRLE_FUZZ_CALLS the number of calls, default 100000) drives calls on
 * four contexts (unbound, bound to one of two VMs, bound to a VM that was
 * closed since; closed and reopened now and then) while the VMs' memslots
 * come and go (new mappings, other sizes and addresses, dirty logging on and
 * off) and one VM is now and then closed and created again:
 *
 *  - random ioctl numbers of type 0xBD (every nr, direction and size) and
 *    of a few other types;
 *  - GET_CAPS, BIND, SET_REGION, ENCODE, SET_CACHE and GET_STATS with
 *    mutated sizes (in the argument and in the number), flags, reserved
 *    fields and values: vm_fd of every kind of file, regions off by a page
 *    or a byte, overflowing, of other slots; page lists with aligned and
 *    unaligned addresses inside and outside the regions, duplicates, huge
 *    npages, in unmapped, read-only or guest memory or running into a guard
 *    page; record buffers of any size, misaligned, read-only, unmapped, in
 *    guest memory (the VM's own memslot mappings) or running into a guard
 *    page; cache sizes from 0 to far above the ceiling;
 *  - the argument itself at NULL, unmapped, read-only, or running into a
 *    guard page.
 *
 * Every call must succeed or fail with an errno Documentation/uapi.rst
 * lists for that ioctl (ENOTTY alone for numbers that are none of them).
 * Beyond that, the test keeps a model of each context (binding, regions,
 * record count, cache size, and a destination copy of every page it
 * returned) and checks:
 *
 *  - calls built to be valid (a quarter of the ENCODE and SET_REGION calls,
 *    and the BINDs of unbound contexts) succeed, ENCODE with the documented
 *    progress (every page, or until less than 4112 bytes of the buffer are
 *    left);
 *  - a successful ENCODE returns well-formed records: npages_done and
 *    records_used in range, each record's gpa the list's, a known type,
 *    reserved 0, the length of its type, records 8-byte aligned and
 *    records_used the end of the last one; an XBZRLE or UNCHANGED record
 *    only for a page the context returned before; applied to the
 *    destination copy, the page equals guest memory (when the record
 *    buffer was not itself in guest memory), a zero page is ZERO and an
 *    XBZRLE delta is byte for byte the project's encoder's;
 *  - argument structures are written only where documented (nothing for
 *    _IOW ioctls and failures, npages_done/records_used for ENCODE, the
 *    structure up to min(size, the module's size) otherwise) and outputs
 *    are consistent (GET_CAPS values, GET_STATS identities and the record
 *    count, SET_CACHE's size in effect);
 *
 * and, after the fuzzing, that a fresh context still encodes a VM exactly,
 * that no context is left open once they are closed, and that the kernel
 * logged no warning during the run (the harness also checks dmesg).
 *
 * Calls made and an errno histogram per ioctl are printed as diagnostics,
 * and each check's line, held or not; the first violations are printed
 * with the call's arguments.
 *
 * The fuzzer (PRNG, model, argument placement, one function per ioctl) is
 * lib/fuzz_*.c's, described in include/fuzz_util.h; this file sets it up,
 * runs it and judges the run.  On the kernel's kselftest harness: one
 * case, every check an expectation of it (they are all of one run); a
 * missing module fails the set-up; without debugfs or /dev/kmsg the case
 * is skipped with the reason, unless a check failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <linux/kvm_xbzrle.h>

#include "kselftest_harness.h"

#include "fuzz_util.h"
#include "kvm_util.h"
#include "records.h"
#include "test_util.h"
#include "xbzrle_util.h"

/* the old test's whole budget, times XBZRLE_TIMEOUT_SCALE */
#define TIMEOUT_S	170
/* Room for the text of one check. */
#define CHECK_LINE		400

/* --------------------------- the known-good round ------------------------- */

static uint8_t goodrec[64 * KVM_XBZRLE_RECORD_MAX_SIZE];

static bool good_round(void)
{
	static uint64_t gpas[NSLOT * MAX_SLOT_PAGES];
	struct xbz_dest dest;
	struct kvm_vm kv;
	unsigned int s, n = 0, i, round, done;
	bool ok = true, logged = true;
	int xfd, r;

	/* a kvm_util view of VM 0 for the destination helpers */
	memset(&kv, 0, sizeof(kv));
	kv.fd = vms[0].fd;
	for (s = 0; s < NSLOT; s++) {
		struct fslot *sl = &vms[0].slot[s];

		if (!sl->used)
			continue;
		kv.slots[s] = (struct vm_memslot){ true, s, sl->flags, sl->gpa,
						   sl->npages * PG, sl->hva };
		for (i = 0; i < sl->npages; i++)
			gpas[n++] = sl->gpa + i * PG;
		if (!(sl->flags & KVM_MEM_LOG_DIRTY_PAGES))
			logged = false;
	}
	if (xbz_dest_init(&dest, &kv))
		return false;
	xfd = xbz_open();
	if (xfd < 0 || xbz_bind(xfd, kv.fd) || xbz_set_regions(xfd, &kv)) {
		tap_diag("known-good round: %s", kvm_util_error());
		ok = false;
		goto out;
	}
	for (round = 0; round < 3 && ok; round++) {
		if (round)
			for (i = 0; i < n; i += 3)
				vm_gpa_to_hva(&kv, gpas[i])[rn(PG)] ^= 1 + rn(255);
		for (done = 0; done < n && ok;) {
			struct xbz_encode_result res;

			r = xbz_encode(xfd, logged && vms[0].manual ?
				       KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG : 0,
				       gpas + done, n - done, goodrec,
				       sizeof(goodrec), PG, &res);
			if (r || !res.npages_done ||
			    xbz_walk_records(&dest, goodrec, res.records_used,
					     NULL, NULL) != (int)res.npages_done) {
				tap_diag("known-good round %u: %s", round,
					 kvm_util_error());
				ok = false;
			}
			done += res.npages_done;
		}
		if (ok && xbz_dest_compare(&dest, &kv)) {
			tap_diag("known-good round %u: %s", round, kvm_util_error());
			ok = false;
		}
	}
	tap_diag("known-good round: %u pages of %u memslots, 3 rounds", n,
		 dest.nslots);
out:
	if (xfd >= 0)
		close(xfd);
	xbz_dest_free(&dest);
	return ok;
}

/* --------------------------- set-up and the run --------------------------- */

static void *map_or_die(size_t len, int prot)
{
	void *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		tap_bail_out("mmap");
	return p;
}

/* len bytes (a multiple of 8) ending right before a PROT_NONE guard page. */
static uint8_t *map_guarded(size_t len)
{
	size_t rounded = (len + PG - 1) & ~(PG - 1);
	uint8_t *p = map_or_die(rounded + 2 * PG, PROT_READ | PROT_WRITE);

	TEST_ASSERT(!mprotect(p + rounded, 2 * PG, PROT_NONE), "mprotect");
	return p + (rounded - len);
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *s = getenv(name);
	char *end;
	uint64_t v;

	if (!s || !*s)
		return def;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end)
		tap_bail_out("%s=%s is not a number", name, s);
	return v;
}

static void setup(void)
{
	long long max_cache;
	unsigned int c;

	listbuf = map_guarded(LIST_MAX * 8);
	recbuf = map_guarded(RECBUF_SIZE);
	argbuf = map_guarded(ARGBUF_SIZE);
	robuf = map_guarded(2 * PG);
	mprotect(robuf, 2 * PG, PROT_READ);
	rolist = map_or_die(PG, PROT_READ);
	roarg = map_or_die(PG, PROT_READ);
	file_fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	while (fcntl(closed_fd, F_GETFD) != -1)
		closed_fd++;

	max_cache = xbz_debugfs_stat("max_cache_bytes");
	max_cache_bytes = max_cache < 0 ? UINT64_MAX : (uint64_t)max_cache;

	foreign_vm_fd = foreign_vm();
	if (foreign_vm_fd < 0)
		tap_diag("no VM of another process: EIO cases not covered");
	vm_new(0);
	vm_new(1);
	for (c = 0; c < NCTX; c++) {
		ctxs[c].dest = map_or_die(DEST_PAGES * PG, PROT_READ | PROT_WRITE);
		ctx_open(c);
		if (c)
			do_reopen(c);
	}
}

static void fuzz(void)
{
	unsigned int c, k;

	while (calls < calls_target) {
		c = rn(NCTX);
		if (permille(2)) {
			do_reopen(c);
			continue;
		}
		if (permille(1)) {
			slot_churn();
			continue;
		}
		if (rn(20000) == 0) {
			/* VM 1 goes; the contexts bound to it keep it */
			vm_drop(1);
			vm_new(1);
			continue;
		}
		k = rn(100);
		if (k < 10)
			do_random_ioctl(c);
		else if (k < 18)
			do_caps(c);
		else if (k < 23)
			do_bind(c, ctxs[c].vm < 0 && chance(50));
		else if (k < 35)
			do_region(c, chance(30));
		else if (k < 75)
			do_encode(c, chance(25));
		else if (k < 88)
			do_cache(c);
		else
			do_stats(c);
	}
}

/* ------------------------------ the harness ------------------------------- */

/*
 * One check of the run: its line (@line, CHECK_LINE bytes) printed as a
 * diagnostic whether it holds or not; returns @ok.
 */
static __printf(3, 4) bool check(bool ok, char *line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, CHECK_LINE, fmt, ap);
	va_end(ap);
	tap_diag("%s: %s", ok ? "ok" : "not ok", line);
	return ok;
}

/* Calls made, records walked, and the errno histogram per ioctl. */
static void print_counts(double secs)
{
	unsigned long total;
	unsigned int i, e;

	tap_diag("%lu calls in %.1f s: %lu records walked (ZERO %lu UNCHANGED %lu XBZRLE %lu RAW %lu), %lu compared with guest memory, %lu valid calls",
		 calls, secs, records_walked, rtype[1], rtype[2],
		 rtype[3], rtype[4], content_checked, strict_calls);
	for (i = 0; i < H_NR; i++) {
		char line[600];
		int len;

		total = 0;
		for (e = 0; e <= MAXERR; e++)
			total += hist[i][e];
		len = snprintf(line, sizeof(line), "%-10s %6lu calls:", h_name[i], total);
		for (e = 0; e <= MAXERR && len < (int)sizeof(line); e++)
			if (hist[i][e])
				len += snprintf(line + len, sizeof(line) - len, " %s %lu",
						e ? errname(e) : "ok", hist[i][e]);
		tap_diag("%s", line);
	}
}

FIXTURE(fuzz) {
	int kmsg_fd;
	char line[CHECK_LINE];
};

FIXTURE_SETUP(fuzz)
{
	struct kvm_xbzrle_caps caps;
	uint64_t seed;

	/* the module is what is tested: its absence is a failure */
	ASSERT_EQ(0, xbz_check_offload(&caps)) TH_LOG("%s", kvm_util_error());
	kvm_fd = kvm_open();

	seed = env_u64("XBZRLE_FUZZ_SEED",
		       (uint64_t)time(NULL) * 1000003 ^ (uint64_t)getpid());
#ifdef FUZZ_SEED	/* -DFUZZ_SEED=N: a build that repeats a run in the VM */
	seed = env_u64("XBZRLE_FUZZ_SEED", FUZZ_SEED);
#endif
	calls_target = env_u64("XBZRLE_FUZZ_CALLS", 100000);
	rng = seed;
	tap_diag("seed %" PRIu64 " (XBZRLE_FUZZ_SEED=%" PRIu64 " repeats this run), %lu calls",
		 seed, seed, calls_target);
	self->kmsg_fd = kmsg_open();
	setup();
}

FIXTURE_TEARDOWN(fuzz)
{
	if (self->kmsg_fd >= 0)
		close(self->kmsg_fd);
}

TEST_F_TIMEOUT(fuzz, ioctls_against_the_model, TIMEOUT_S)
{
	char *line = self->line, why[CHECK_LINE] = "";
	struct timespec t0, t1;
	unsigned int c;
	long long n;
	int bad;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	fuzz();
	clock_gettime(CLOCK_MONOTONIC, &t1);
	print_counts(t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9);

	EXPECT_TRUE(check(calls >= calls_target && !violations[V_ERRNO], line,
			  "%lu calls: every call succeeded or failed with an errno documented for its ioctl (%lu violations)",
			  calls, violations[V_ERRNO]))
		TH_LOG("%s", line);
	EXPECT_TRUE(check(!violations[V_RECORDS], line,
			  "successful ENCODE calls returned well-formed records: %lu walked (%lu violations)",
			  records_walked, violations[V_RECORDS]))
		TH_LOG("%s", line);
	EXPECT_TRUE(check(!violations[V_CONTENT] && content_checked, line,
			  "records applied to the destination copies equal guest memory, XBZRLE deltas are the encoder's: %lu pages (%lu violations)",
			  content_checked, violations[V_CONTENT]))
		TH_LOG("%s", line);
	EXPECT_TRUE(check(!violations[V_STRICT] && strict_calls, line,
			  "valid calls succeeded with the documented progress: %lu calls (%lu violations)",
			  strict_calls, violations[V_STRICT]))
		TH_LOG("%s", line);
	EXPECT_TRUE(check(!violations[V_ARGWRITE], line,
			  "argument structures written only where documented (%lu violations)",
			  violations[V_ARGWRITE]))
		TH_LOG("%s", line);
	EXPECT_TRUE(check(!violations[V_OUTPUT], line,
			  "outputs consistent: GET_CAPS values, GET_STATS identities and record counts, SET_CACHE sizes, accepted BINDs and regions (%lu violations)",
			  violations[V_OUTPUT]))
		TH_LOG("%s", line);

	for (c = 0; c < NCTX; c++)
		ctx_close(c);
	EXPECT_TRUE(check(good_round(), line,
			  "after the fuzzing, a fresh context encodes VM 0 exactly (3 rounds)"))
		TH_LOG("%s", line);
	vm_drop(0);
	vm_drop(1);
	if (foreign_vm_fd >= 0)
		close(foreign_vm_fd);

	n = xbz_debugfs_stat("contexts");
	if (n < 0)
		snprintf(why, sizeof(why), "no debugfs: no context left open");
	else
		EXPECT_TRUE(check(n == 0, line,
				  "no context left open after closing them all: debugfs contexts %lld",
				  n))
			TH_LOG("%s", line);

	bad = self->kmsg_fd < 0 ? -1 : kmsg_count(self->kmsg_fd, kmsg_problems, NULL);
	if (bad > 0)
		tap_diag("%s", kvm_util_error());
	if (bad < 0)
		snprintf(why + strlen(why), sizeof(why) - strlen(why), "%s%s",
			 *why ? "; " : "",
			 "/dev/kmsg not readable: no kernel warning during the run");
	else
		EXPECT_TRUE(check(!bad, line,
				  "no kernel warning logged during the run (%d lines)",
				  bad))
			TH_LOG("%s", line);

	if (*why)
		SKIP_UNLESS_FAILED(return, "%s", why);
}

XBZRLE_SCALE_TIMEOUTS()

TEST_HARNESS_MAIN
