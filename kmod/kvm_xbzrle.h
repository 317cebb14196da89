/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _KVM_XBZRLE_H
#define _KVM_XBZRLE_H

#include <linux/compiler_types.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/string.h>
#include <linux/types.h>
#include <linux/xarray.h>

#include "adapt.h"

struct file;
struct kvm;
struct mm_struct;
struct page;

/* Argument structures may grow up to this size, on every page size. */
#define XBZRLE_MAX_ARG_SIZE	4096

/* Pages read from the page list, cleared and encoded as one group. */
#define XBZRLE_CHUNK		64

/*
 * Counters of a context and of the module, in struct kvm_xbzrle_stats
 * order up to XS_RECLAIMED; XS_REFUSED to XS_STOPS are that structure's
 * refused to stops, in its order.
 * XS_DIRTY_LOG_CLEARS (KVM_CLEAR_DIRTY_LOG calls ENCODE made, each one
 * TLB flush of every vCPU when it found a bit set) is in debugfs only.
 */
enum xbzrle_stat {
	XS_PAGES,
	XS_CACHE_HITS,
	XS_CACHE_MISSES,
	XS_OVERFLOWS,
	XS_ZERO_PAGES,
	XS_UNCHANGED_PAGES,
	XS_XBZRLE_PAGES,
	XS_RAW_PAGES,
	XS_DELTA_BYTES,
	XS_EVICTIONS,
	XS_RECLAIMED,
	XS_REFUSED,
	XS_SKIPPED,
	XS_GIVEN_BACK,
	XS_PROBES,
	XS_STOPS,
	XS_DIRTY_LOG_CLEARS,
	XS_NR
};

extern const char *const xbzrle_stat_names[XS_NR];

/*
 * One KVM memslot of guest RAM, as the caller maps it.  Bases are keyed by
 * the caller's host page (hva >> PAGE_SHIFT), so two memslots that alias
 * the same memory share them: a destination keeps pages per host page
 * (QEMU's RAMBlock and offset), whatever guest address carried them.
 */
struct xbzrle_region {
	u32 slot;
	u64 gfn;		/* first guest frame */
	u64 npages;
	unsigned long hva;	/* caller's address of the first page */
};

/* The cache key of page @offset of @r. */
static inline unsigned long xbzrle_region_key(const struct xbzrle_region *r,
					      u64 offset)
{
	return (r->hva >> PAGE_SHIFT) + offset;
}

/* What happened to a region, for the kvm_xbzrle_region tracepoint. */
enum xbzrle_region_op {
	XBZRLE_REGION_ADD,		/* SET_REGION: new, or other memory */
	XBZRLE_REGION_SAME,		/* SET_REGION with its values: kept */
	XBZRLE_REGION_REMOVE,		/* SET_REGION with size 0 */
	XBZRLE_REGION_STALE,		/* its memslot changed: dropped */
};

/* A page of the ENCODE call's current chunk, checked against the regions. */
struct xbzrle_page_ref {
	u64 gpa;
	u64 offset;			/* page index in its region */
	const struct xbzrle_region *region;
};

/*
 * Lock order: ctx->lock, then xbzrle_contexts_lock, then the cache's
 * index lock (xa_lock), then the locks of the entries' list_lru (cache.c).
 * The shrinker's list_lru walk holds a list lock and only tries an index
 * lock.  KVM's own locks (kvm->slots_lock, taken inside
 * KVM_CLEAR_DIRTY_LOG; kvm->srcu) are taken under ctx->lock only.
 * ioctls take ctx->lock killably: ENCODE holds it across faults in guest
 * memory, which a userfaultfd handler can make last indefinitely.
 *
 * Copies of the pages last returned, by host page (xbzrle_region_key()).  @index's lock
 * protects @index, @lru, @nr_pages and @nr_markers, so the shrinker can take
 * pages while an ENCODE call is running.  A page the encoder is using is off
 * @lru: the shrinker only frees pages it finds there.
 */
struct xbzrle_cache {
	struct xarray index;		/* host page -> struct page *, or marker */
	struct list_head lru;		/* most recently sent first */
	unsigned long nr_pages;
	unsigned long max_pages;
	unsigned long nr_markers;	/* pages that gave their base back */
};

/* What xbzrle_cache_take() found for a page. */
struct xbzrle_base {
	struct page *page;		/* its base, off the LRU; or NULL */
	struct xbzrle_adapt_page found;	/* for the rule of adapt.h */
};

struct xbzrle_ctx {
	struct mutex lock;		/* serialises the context's ioctls */
	struct file *vm_file;		/* the bound VM, or NULL */
	struct mm_struct *mm;		/* the VM's; alive while vm_file is */
	bool vm_gone;			/* the VM's owner closed it */

	/* under @lock: */
	struct xbzrle_region *regions;	/* sorted by gfn, disjoint */
	unsigned int nr_regions;
	unsigned int max_regions;	/* room in @regions */
	u64 memslots_gen;		/* KVM's, when the regions were checked */

	struct xbzrle_cache cache;
	u64 generation;			/* the last ENCODE_GENERATION's */
	struct page *spare;		/* receives the next snapshot */
	u8 *delta;			/* encoder output, one page */
	struct xbzrle_page_ref *refs;	/* XBZRLE_CHUNK entries */

	u64 stat[XS_NR];		/* read racily by debugfs */
	struct list_head node;		/* in xbzrle_contexts */
	unsigned int id;
	pid_t pid;
};

/* All open contexts, for debugfs and the shrinker. */
extern struct list_head xbzrle_contexts;
extern spinlock_t xbzrle_contexts_lock;
/* Counters of closed and reset contexts; under xbzrle_contexts_lock. */
extern u64 xbzrle_retired_stat[XS_NR];

/* main.c */
/* Reserved fields of an argument: all must be zero. */
static inline bool xbzrle_all_zero(const void *p, size_t len)
{
	return !memchr_inv(p, 0, len);
}

int xbzrle_get_arg(void *karg, size_t ksize, const void __user *uarg,
		   unsigned int cmd, u32 min_size);
int xbzrle_put_arg(void __user *uarg, const void *karg, size_t ksize);

/* caps.c */
long xbzrle_ioctl_get_caps(void __user *uarg, unsigned int cmd);
struct file *xbzrle_get_vm_file(int fd);

/* context.c */
struct xbzrle_ctx *xbzrle_ctx_create(void);
void xbzrle_ctx_destroy(struct xbzrle_ctx *ctx);
void xbzrle_retire_stats(struct xbzrle_ctx *ctx);
int xbzrle_ctx_check_vm(struct xbzrle_ctx *ctx);
bool xbzrle_revalidate_regions(struct xbzrle_ctx *ctx);
u64 xbzrle_memslots_gen(struct kvm *kvm);
const struct xbzrle_region *xbzrle_find_region(struct xbzrle_ctx *ctx,
						u64 gfn);
long xbzrle_ioctl_bind(struct xbzrle_ctx *ctx, void __user *uarg,
		       unsigned int cmd);
long xbzrle_ioctl_set_region(struct xbzrle_ctx *ctx, void __user *uarg,
			     unsigned int cmd);
long xbzrle_ioctl_set_cache(struct xbzrle_ctx *ctx, void __user *uarg,
			    unsigned int cmd);
long xbzrle_ioctl_get_stats(struct xbzrle_ctx *ctx, void __user *uarg,
			    unsigned int cmd);
long xbzrle_ioctl_invalidate(struct xbzrle_ctx *ctx, void __user *uarg,
			     unsigned int cmd);
unsigned int xbzrle_max_regions(void);

/* encode.c */
long xbzrle_ioctl_encode(struct xbzrle_ctx *ctx, void __user *uarg,
			 unsigned int cmd);
bool xbzrle_clear_dirty_log_offered(void);

/* cache.c */
extern atomic_long_t xbzrle_cached_pages;

void xbzrle_count(struct xbzrle_ctx *ctx, enum xbzrle_stat s, u64 n);
void xbzrle_cache_init(struct xbzrle_cache *c, unsigned long max_pages);
void xbzrle_cache_take(struct xbzrle_ctx *ctx, unsigned long key,
		       const struct xbzrle_adapt *a, struct xbzrle_base *b);
void xbzrle_cache_untake(struct xbzrle_ctx *ctx, struct page *base, bool sent);
void xbzrle_cache_commit(struct xbzrle_ctx *ctx, unsigned long key,
			 struct page *base, bool keep_recent,
			 unsigned int streak);
void xbzrle_cache_give_back(struct xbzrle_ctx *ctx, unsigned long key,
			    struct page *base, u64 probe_gen);
void xbzrle_cache_drop_range(struct xbzrle_ctx *ctx, unsigned long key,
			     unsigned long npages);
void xbzrle_cache_drop_all(struct xbzrle_ctx *ctx);
void xbzrle_cache_destroy(struct xbzrle_ctx *ctx);
void xbzrle_cache_resize(struct xbzrle_ctx *ctx, unsigned long max_pages);
int xbzrle_cache_get_spare(struct xbzrle_ctx *ctx);
unsigned long xbzrle_max_cache_pages(void);
unsigned long xbzrle_default_cache_pages(void);
int xbzrle_shrinker_init(void);
void xbzrle_shrinker_exit(void);

/* debugfs.c */
void xbzrle_debugfs_init(void);
void xbzrle_debugfs_exit(void);

#endif /* _KVM_XBZRLE_H */
