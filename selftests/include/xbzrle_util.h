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
 * Writes @value to the module parameter @name (bails out on failure); the
 * value it had before the first such write is written back at exit.
 */
void xbz_param_set(const char *name, const char *value);
/* Value @name of debugfs kvm_xbzrle/stats; -1 if unreadable or absent. */
long long xbz_debugfs_stat(const char *name);

#endif /* XBZRLE_XBZRLE_UTIL_H */
