/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xbzrle_util - the module's side for the kvm_xbzrle selftests
 * (lib/xbzrle_util.c): whether KVM, the module and its offload are there
 * (skipping the test if not), wrappers of the ioctls of <linux/kvm_xbzrle.h>
 * on /dev/kvm_xbzrle (open, BIND, SET_REGION, ENCODE, GET_STATS,
 * SET_CACHE), the module's parameters and its debugfs statistics.  Error
 * conventions: see test_util.h.
 */
#ifndef XBZRLE_XBZRLE_UTIL_H
#define XBZRLE_XBZRLE_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm_xbzrle.h>

#include "kvm_util.h"

/*
 * Whether KVM, the module and its offload are there: 0 and @caps filled,
 * 1 if not (a reason to skip, in kvm_util_error()), -1 on an unexpected
 * error (message likewise).
 */
int xbz_check_offload(struct kvm_xbzrle_caps *caps);
/* open("/dev/kvm_xbzrle"): a new context.  fd, or -1 with errno. */
int xbz_open(void);
/* KVM_XBZRLE_BIND @vm_fd. */
int xbz_bind(int xfd, int vm_fd);
/* KVM_XBZRLE_SET_REGION; @size 0 removes the region of @slot. */
int xbz_set_region(int xfd, uint32_t slot, uint64_t gpa, uint64_t size,
		   const void *hva);
/* One region per used memslot of @vm. */
int xbz_set_regions(int xfd, struct kvm_vm *vm);
/* Opens a context, binds it to @vm and registers all memslots.  fd or -1. */
int xbz_open_bound(struct kvm_vm *vm);

struct xbz_encode_result {
	uint32_t npages_done;
	uint32_t records_used;
};

/* One KVM_XBZRLE_ENCODE call; fills @res on success. */
int xbz_encode(int xfd, uint32_t flags, const uint64_t *gpas, uint32_t npages,
	       void *records, uint32_t records_size, uint32_t max_delta,
	       struct xbz_encode_result *res);
/* The same with @generation (valid with KVM_XBZRLE_ENCODE_GENERATION). */
int xbz_encode_gen(int xfd, uint32_t flags, uint64_t generation,
		   const uint64_t *gpas, uint32_t npages, void *records,
		   uint32_t records_size, uint32_t max_delta,
		   struct xbz_encode_result *res);
int xbz_get_stats(int xfd, struct kvm_xbzrle_stats *stats);
/*
 * The counters of struct kvm_xbzrle_stats, in its order from pages on:
 * counter i is (&s->pages)[i], named xbz_stats_names[i].
 */
#define XBZ_STATS_NR	18
extern const char *const xbz_stats_names[XBZ_STATS_NR];
/*
 * Every counter of @s as "name value ...", into @buf of @len bytes
 * (truncated to fit; 512 hold them all unless counters pass 10^12);
 * returns @buf, for diagnostics.
 */
const char *xbz_stats_str(const struct kvm_xbzrle_stats *s, char *buf,
			  size_t len);
/*
 * KVM_XBZRLE_SET_CACHE with @flags (KVM_XBZRLE_CACHE_*); *@in_effect (if
 * not NULL) receives the cache size in effect.
 */
int xbz_set_cache(int xfd, uint32_t flags, uint64_t cache_size,
		  uint64_t *in_effect);

/*
 * The environment check of the offload tests: skips the whole test (exit
 * 4) without KVM, the module or its offload, or, with @manual_protect,
 * without manual dirty-log protection (of KVM and of the module); bails out
 * on an unexpected error.  Fills @caps.
 */
void xbz_require_offload(struct kvm_xbzrle_caps *caps, bool manual_protect);

/*
 * Module parameters a test changes, put back when it is done.
 * xbz_param_write() writes @value to the module parameter @name after
 * saving the value it had (at the first write of @name since the last
 * restore; up to 4 parameters): 0 or -1.  xbz_param_restore_all() writes
 * every saved value back, newest first, and forgets them: 0, or -1 if one
 * could not be written (the others still are).  The saved values are also
 * written back at exit (atexit()).
 *
 * A test on kselftest_harness.h calls xbz_param_restore_all() in its
 * FIXTURE_TEARDOWN: each case runs in a child that ends with _exit(),
 * which skips atexit() (a case that sets parameters in FIXTURE_SETUP
 * gets no teardown if the set-up fails, nor one killed by its timeout).
 * xbz_param_set() is xbz_param_write() that bails out on failure, for
 * tests on xbzrle_tap.h, whose exit() restores the values.
 */
int xbz_param_write(const char *name, const char *value);
int xbz_param_restore_all(void);
void xbz_param_set(const char *name, const char *value);
/* Value @name of debugfs kvm_xbzrle/stats; -1 if unreadable or absent. */
long long xbz_debugfs_stat(const char *name);

#endif /* XBZRLE_XBZRLE_UTIL_H */
