// SPDX-License-Identifier: GPL-2.0
/*
 * offload_bench - KVM_XBZRLE_ENCODE throughput next to QEMU's per-page
 * work done in userspace with the same codec, on the same pages, in the
 * same machine (the harness's TCG guest).  Prints pages per second and the
 * ratio; its one assertion is that both produce the same bytes.
 *
 * The load is the seed's: one byte changed every 1 KiB of every page,
 * written by the host through its mapping between rounds.  The module's
 * side includes KVM_CLEAR_DIRTY_LOG (manual-protect), as QEMU would use it.
 * The userspace side is what QEMU's save_xbzrle_page() does per page: a
 * zero check, copy the page, encode against the cached copy, copy the
 * snapshot into the cache.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kvm_util.h"
#include "records.h"
#include "test_util.h"
#include "xbzrle.h"
#include "xbzrle_tap.h"
#include "xbzrle_util.h"

#define BENCH_PAGES	1024		/* 4 MiB */
#define BENCH_ROUNDS	5
#define BATCH		256
#define SLOT_GPA	0x100000ULL

static uint64_t gpas[BENCH_PAGES];
static uint8_t cache[BENCH_PAGES][GUEST_PAGE_SIZE];
static uint8_t snap[GUEST_PAGE_SIZE];
static uint8_t out[BENCH_PAGES][GUEST_PAGE_SIZE];
static int out_len[BENCH_PAGES];
static uint8_t records[BATCH * KVM_XBZRLE_RECORD_MAX_SIZE]
	__attribute__((aligned(8)));

static int is_zero(const uint8_t *p)
{
	static const uint8_t zero[GUEST_PAGE_SIZE];

	return !memcmp(p, zero, GUEST_PAGE_SIZE);
}

/* The seed's load: one byte in every KiB of every page changes. */
static void dirty_pages(uint8_t *mem, unsigned int round)
{
	size_t off;

	for (off = 0; off < BENCH_PAGES * GUEST_PAGE_SIZE; off += 1024)
		mem[off + (round * 7) % 1024] += 1;
}

/* QEMU's save_xbzrle_page() work for every page; returns seconds. */
static double userspace_round(const uint8_t *mem)
{
	double t = now_ns() / 1e9;
	unsigned int i;

	for (i = 0; i < BENCH_PAGES; i++) {
		const uint8_t *page = mem + (size_t)i * GUEST_PAGE_SIZE;

		if (is_zero(page)) {
			out_len[i] = -1;
			continue;
		}
		memcpy(snap, page, GUEST_PAGE_SIZE);
		out_len[i] = xbzrle_encode(cache[i], snap, GUEST_PAGE_SIZE,
					   out[i], GUEST_PAGE_SIZE);
		memcpy(cache[i], snap, GUEST_PAGE_SIZE);
	}
	return now_ns() / 1e9 - t;
}

/*
 * All pages through the module in batches; checks every XBZRLE record
 * against the userspace output of the same round.  Returns seconds, or
 * a negative value on error.
 */
static double module_round(int xfd, uint32_t flags, int check,
			   unsigned int *mismatch)
{
	struct xbz_encode_result res;
	struct xbz_record rec;
	double t = now_ns() / 1e9, spent;
	unsigned int done = 0, i;
	uint32_t off;

	while (done < BENCH_PAGES) {
		if (xbz_encode(xfd, flags, gpas + done, BENCH_PAGES - done < BATCH ?
			       BENCH_PAGES - done : BATCH, records,
			       sizeof(records), GUEST_PAGE_SIZE, &res)) {
			tap_diag("KVM_XBZRLE_ENCODE: %s", kvm_util_error());
			return -1;
		}
		if (check) {
			spent = now_ns() / 1e9;
			off = 0;
			for (i = 0; i < res.npages_done; i++) {
				unsigned int p = done + i;

				if (xbz_next_record(records, res.records_used,
						    &off, &rec) != 1)
					return -1;
				if (rec.type != KVM_XBZRLE_RECORD_XBZRLE ||
				    (int)rec.len != out_len[p] ||
				    memcmp(rec.data, out[p], rec.len))
					(*mismatch)++;
			}
			t += now_ns() / 1e9 - spent;	/* checking is not the module's time */
		}
		done += res.npages_done;
	}
	return now_ns() / 1e9 - t;
}

int main(void)
{
	double user_s = 0, mod_s[2] = { 0, 0 }, s;
	struct kvm_xbzrle_caps caps;
	uint32_t flags;
	unsigned int mismatch = 0, r, i;
	struct kvm_vm vm;
	uint8_t *mem;
	int xfd;

	xbz_require_offload(&caps, true);
	tap_plan(1);
	if (vm_create(&vm, VM_MANUAL_PROTECT) ||
	    vm_add_memslot(&vm, 0, SLOT_GPA, BENCH_PAGES * GUEST_PAGE_SIZE))
		tap_bail_out("VM setup: %s", kvm_util_error());
	xfd = xbz_open_bound(&vm);
	TEST_ASSERT(xfd >= 0, "offload context: %s", kvm_util_error());
	mem = vm_gpa_to_hva(&vm, SLOT_GPA);
	for (i = 0; i < BENCH_PAGES; i++)
		gpas[i] = SLOT_GPA + (uint64_t)i * GUEST_PAGE_SIZE;

	/* first pass: every page sent whole, both caches filled */
	dirty_pages(mem, 0);
	for (i = 0; i < BENCH_PAGES; i++)
		memcpy(cache[i], mem + (size_t)i * GUEST_PAGE_SIZE,
		       GUEST_PAGE_SIZE);
	TEST_ASSERT(module_round(xfd, 0, 0, &mismatch) >= 0,
		    "first pass failed");

	/* odd rounds with KVM_CLEAR_DIRTY_LOG, even ones without */
	for (r = 1; r <= 2 * BENCH_ROUNDS; r++) {
		dirty_pages(mem, r);
		/* interleaved, userspace first: it produces the reference */
		user_s += userspace_round(mem);
		flags = r % 2 ? KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG : 0;
		s = module_round(xfd, flags, 1, &mismatch);
		TEST_ASSERT(s >= 0, "round %u failed", r);
		mod_s[r % 2] += s;
	}
	user_s /= 2;

	tap_result(mismatch == 0,
		   "every module record is the userspace codec's delta (%u of %u differ)",
		   mismatch, 2 * BENCH_PAGES * BENCH_ROUNDS);
	tap_diag("seed load, %u pages x %u rounds, in this guest:",
		 BENCH_PAGES, BENCH_ROUNDS);
	tap_diag("  userspace, QEMU's per-page work: %8.0f pages/s",
		 BENCH_PAGES * BENCH_ROUNDS / user_s);
	tap_diag("  KVM_XBZRLE_ENCODE:               %8.0f pages/s (%.2fx)",
		 BENCH_PAGES * BENCH_ROUNDS / mod_s[0], user_s / mod_s[0]);
	tap_diag("  KVM_XBZRLE_ENCODE + clear:       %8.0f pages/s (%.2fx)",
		 BENCH_PAGES * BENCH_ROUNDS / mod_s[1], user_s / mod_s[1]);
	close(xfd);
	vm_destroy(&vm);
	return tap_finish();
}
