// SPDX-License-Identifier: GPL-2.0
/*
 * The per-context cache of page copies: the bytes each page had when it was
 * last returned, i.e. what the destination holds.  An LRU by host page
 * (the caller's address, so aliased memslots share a base),
 * charged to the memory cgroup of the process that fills it, with a
 * module-wide ceiling and a memcg-aware shrinker.  Losing a copy is always
 * safe: the page is then sent whole (RAW) the next time.
 *
 * Every cached page has an entry (struct xbzrle_entry, page_private of the
 * page), a small object charged to the same memory cgroup, on
 * xbzrle_lru: a list_lru per memory cgroup and node, in the order pages
 * entered the cache.  The shrinker takes pages from there for the cgroup
 * that is being reclaimed, so memory.high and memory.max reclaim (and
 * global reclaim, per node) reach the cache; the context's own LRU
 * (xbzrle_cache.lru) orders its own evictions.
 *
 * With KVM_XBZRLE_ENCODE_GENERATION (QEMU's dirty-sync round) a full cache
 * does not evict a base sent in this round or the previous one to make
 * room for a new page, which then goes uncached, as QEMU's own cache
 * (CACHED_PAGE_LIFETIME): a working set larger than the cache, rewritten
 * every round, keeps a cache-full of bases instead of evicting each just
 * before its page comes round again.
 *
 * With KVM_XBZRLE_ENCODE_GENERATION the per-page rule of adapt.h applies
 * too: a base whose page keeps overflowing is given back, and its slot in
 * the index holds a marker instead (an xarray value entry: the generation
 * from which the page is probed), which costs no cache page.  Markers are
 * not on any LRU and are not counted in nr_pages; a new one is made only
 * while fewer than max_pages exist, and dropping a range drops its markers
 * with its bases.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/gfp.h>
#include <linux/list_lru.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "kvm_xbzrle.h"
#include "trace.h"

static unsigned int xbzrle_cache_size_mb = 64;
module_param_named(cache_size_mb, xbzrle_cache_size_mb, uint, 0644);
MODULE_PARM_DESC(cache_size_mb, "Cache size of a new context, MiB (default 64, as QEMU's xbzrle-cache-size)");

static unsigned long xbzrle_max_cache_mb;
static int xbzrle_max_cache_mb_set(const char *val,
				   const struct kernel_param *kp);
static const struct kernel_param_ops xbzrle_max_cache_mb_ops = {
	.set	= xbzrle_max_cache_mb_set,
	.get	= param_get_ulong,
};
module_param_cb(max_cache_mb, &xbzrle_max_cache_mb_ops, &xbzrle_max_cache_mb,
		0644);
MODULE_PARM_DESC(max_cache_mb, "Ceiling of all contexts' caches together, MiB (0, the default: an eighth of RAM); a lower value is applied at once");

static bool xbzrle_memcg_headroom = true;
module_param_named(memcg_headroom, xbzrle_memcg_headroom, bool, 0644);
MODULE_PARM_DESC(memcg_headroom, "Stop growing a cache while its memory cgroup has less than an eighth of its limit free (default Y)");

atomic_long_t xbzrle_cached_pages;

/*
 * Bases a miss may evict from its own context when the caches together are
 * over the ceiling: one to reuse, one to go below it.  A lowered ceiling is
 * applied when it is set (xbzrle_max_cache_mb_set()), not by the next
 * misses, so no ENCODE call frees a whole cache with the index lock held.
 */
#define XBZRLE_EVICT_PER_MISS	2

/* Pages taken from the caches per hold of the contexts lock. */
#define XBZRLE_RECLAIM_BATCH	64

/*
 * Charged to the caller's memory cgroup.  NORETRY: at a cgroup's limit the
 * cache stops growing (the page goes out RAW) instead of invoking the OOM
 * killer on the VM's process.
 */
#define XBZRLE_PAGE_GFP	(GFP_KERNEL_ACCOUNT | __GFP_NORETRY | __GFP_NOWARN)

/* Rounds a base is kept from eviction after it was sent: this one and the next. */
#define XBZRLE_GEN_LIFETIME	2

/*
 * A cached page's place on xbzrle_lru.  Allocated (from
 * xbzrle_entry_cache, SLAB_ACCOUNT) by the context's ENCODE caller, so
 * list_lru files it under that caller's memory cgroup, which the page is
 * charged to as well.  Freed when the page leaves the cache.
 */
struct xbzrle_entry {
	struct list_head lru;		/* on xbzrle_lru */
	struct page *page;		/* under the index lock */
	struct xbzrle_ctx *ctx;
	unsigned long key;
	unsigned int streak;		/* overflows in a row; under ctx->lock */
};

static struct kmem_cache *xbzrle_entry_cache;
static struct list_lru xbzrle_lru;

/* 6.8 added a memcg and node to list_lru_add(); _obj takes them from @item */
#ifdef XBZRLE_HAVE_LIST_LRU_ADD_OBJ
#define xbzrle_lru_add(item)	list_lru_add_obj(&xbzrle_lru, (item))
#define xbzrle_lru_del(item)	list_lru_del_obj(&xbzrle_lru, (item))
#else
#define xbzrle_lru_add(item)	list_lru_add(&xbzrle_lru, (item))
#define xbzrle_lru_del(item)	list_lru_del(&xbzrle_lru, (item))
#endif

static struct xbzrle_entry *xbzrle_page_entry(const struct page *page)
{
	return (struct xbzrle_entry *)page_private(page);
}

/*
 * The generation a base was last sent in (ctx->generation then) is kept
 * in page->index: the pages are the module's own, from alloc_page(), with
 * no mapping; page_private holds the entry.  On 32-bit only the low bits
 * are kept; generations are compared by difference, which is exact while
 * they only grow.
 */
static void xbzrle_base_set_gen(struct page *page, u64 gen)
{
	page->index = (pgoff_t)gen;
}

/* @page was sent in generation @gen or the one before. */
static bool xbzrle_base_recent(const struct page *page, u64 gen)
{
	return (pgoff_t)gen - page->index < XBZRLE_GEN_LIFETIME;
}

/*
 * Per context only: the module-wide counters are the contexts' sums
 * (xbzrle_retire_stats()), so the per-page path shares no cache line
 * with other VMs' migrations.
 */
void xbzrle_count(struct xbzrle_ctx *ctx, enum xbzrle_stat s, u64 n)
{
	WRITE_ONCE(ctx->stat[s], ctx->stat[s] + n);
}

/* The size of a new context's cache, in pages. */
unsigned long xbzrle_default_cache_pages(void)
{
	return min_t(unsigned long,
		     (unsigned long)READ_ONCE(xbzrle_cache_size_mb) <<
		     (20 - PAGE_SHIFT), xbzrle_max_cache_pages());
}

unsigned long xbzrle_max_cache_pages(void)
{
	unsigned long mb = READ_ONCE(xbzrle_max_cache_mb);

	if (!mb)
		return totalram_pages() / 8;
	return mb << (20 - PAGE_SHIFT);
}

void xbzrle_cache_init(struct xbzrle_cache *c, unsigned long max_pages)
{
	xa_init_flags(&c->index, XA_FLAGS_ACCOUNT);
	INIT_LIST_HEAD(&c->lru);
	c->nr_pages = 0;
	c->max_pages = max_pages;
	c->nr_markers = 0;
}

/*
 * Takes @page, off the context's LRU already, out of the index (its slot
 * then holds @marker, or nothing) and frees its entry, with the index lock
 * held; @on_lru: the entry is still on xbzrle_lru (the shrinker's walk has
 * isolated it otherwise).  Replacing an existing slot allocates nothing.
 */
static void xbzrle_cache_unlink_to(struct xbzrle_cache *c, struct page *page,
				   bool on_lru, void *marker)
{
	struct xbzrle_entry *e = xbzrle_page_entry(page);

	lockdep_assert_held(&c->index.xa_lock);
	__xa_store(&c->index, e->key, marker, 0);
	if (on_lru)
		xbzrle_lru_del(&e->lru);
	kmem_cache_free(xbzrle_entry_cache, e);
	set_page_private(page, 0);
	c->nr_pages--;
	atomic_long_dec(&xbzrle_cached_pages);
}

static void xbzrle_cache_unlink(struct xbzrle_cache *c, struct page *page,
				bool on_lru)
{
	xbzrle_cache_unlink_to(c, page, on_lru, NULL);
}

/* With the index lock held; the page is returned off the cache. */
static struct page *xbzrle_cache_pop_lru(struct xbzrle_cache *c)
{
	struct page *page;

	lockdep_assert_held(&c->index.xa_lock);
	if (list_empty(&c->lru))
		return NULL;
	page = list_last_entry(&c->lru, struct page, lru);
	list_del(&page->lru);
	xbzrle_cache_unlink(c, page, true);
	return page;
}

/*
 * Takes @key's base off the LRU for the encoder into @b; it stays in the
 * index, so the slot can be replaced without allocating.  A marker says
 * the page gave its base back: with the rule @a on (NULL: a call without
 * KVM_XBZRLE_ENCODE_GENERATION) it is skipped until its probe generation,
 * then the marker goes and the page is probed; with the rule off the
 * marker just goes.
 */
void xbzrle_cache_take(struct xbzrle_ctx *ctx, unsigned long key,
		       const struct xbzrle_adapt *a, struct xbzrle_base *b)
{
	struct xbzrle_cache *c = &ctx->cache;
	void *entry;

	lockdep_assert_held(&ctx->lock);
	memset(b, 0, sizeof(*b));
	xa_lock(&c->index);
	entry = xa_load(&c->index, key);
	if (xa_is_value(entry)) {
		xbzrle_adapt_marker(a, xa_to_value(entry), ctx->generation,
				    &b->found);
		if (!b->found.skip) {
			__xa_erase(&c->index, key);
			c->nr_markers--;
		}
	} else if (entry) {
		b->page = entry;
		b->found.base = true;
		b->found.streak = xbzrle_page_entry(b->page)->streak;
		list_del_init(&b->page->lru);
	}
	xa_unlock(&c->index);
}

/*
 * @base goes back to the head of the LRU unchanged: its page was @sent
 * UNCHANGED (a hit, so it counts as sent in this generation, and ends an
 * overflow streak), or its record was not returned.
 */
void xbzrle_cache_untake(struct xbzrle_ctx *ctx, struct page *base, bool sent)
{
	struct xbzrle_cache *c = &ctx->cache;

	lockdep_assert_held(&ctx->lock);
	if (!base)
		return;
	if (sent) {
		xbzrle_base_set_gen(base, ctx->generation);
		xbzrle_page_entry(base)->streak = 0;
	}
	xa_lock(&c->index);
	list_add(&base->lru, &c->lru);
	xa_unlock(&c->index);
}

/*
 * With memcg_headroom (the default), the cache grows only while every
 * cgroup up the hierarchy keeps an eighth of its limit (memory.high or
 * memory.max) free: the VM's own allocations there then find room without
 * first waiting for reclaim of cache pages (which the memcg-aware shrinker
 * does when they grow past it).
 */
static bool xbzrle_memcg_has_room(void)
{
	bool room = true;
#ifdef CONFIG_MEMCG
	struct mem_cgroup *memcg, *m;
	unsigned long limit;

	if (!READ_ONCE(xbzrle_memcg_headroom) || mem_cgroup_disabled())
		return true;
	memcg = get_mem_cgroup_from_mm(current->mm);
	/* the root cgroup's limit is PAGE_COUNTER_MAX: never a stop */
	for (m = memcg; m; m = parent_mem_cgroup(m)) {
		limit = min(READ_ONCE(m->memory.max), READ_ONCE(m->memory.high));
		if (limit != PAGE_COUNTER_MAX &&
		    page_counter_read(&m->memory) + limit / 8 >= limit) {
			room = false;
			break;
		}
	}
	mem_cgroup_put(memcg);
#endif
	return room;
}

static bool xbzrle_cache_full(struct xbzrle_cache *c, bool memcg_room)
{
	return c->nr_pages >= c->max_pages || !memcg_room ||
	       atomic_long_read(&xbzrle_cached_pages) >= xbzrle_max_cache_pages();
}

/*
 * The sharing rule between contexts.  When the caches together are at the
 * ceiling, a context holding less than its share (the ceiling divided by
 * the contexts that hold pages, itself included) takes the oldest base of
 * the context that holds the most; otherwise it evicts its own oldest.  So
 * a migration that starts while another one holds the whole ceiling gets
 * half of it, page by page as it misses, instead of nothing.
 *
 * Returns a page taken from another context (to be freed by the caller:
 * it is charged to that context's memory cgroup), or NULL when @ctx is at
 * its share or no other context holds more than its own.
 */
static struct page *xbzrle_cache_steal(struct xbzrle_ctx *ctx)
{
	unsigned long share, most = 0, mine = READ_ONCE(ctx->cache.nr_pages);
	struct xbzrle_ctx *other, *victim = NULL;
	unsigned int holders = 1;
	struct page *page = NULL;

	lockdep_assert_held(&ctx->lock);
	spin_lock(&xbzrle_contexts_lock);
	list_for_each_entry(other, &xbzrle_contexts, node) {
		unsigned long n = READ_ONCE(other->cache.nr_pages);

		if (other == ctx || !n)
			continue;
		holders++;
		if (n > most) {
			most = n;
			victim = other;
		}
	}
	share = xbzrle_max_cache_pages() / holders;
	if (victim && mine < share && most > mine + 1) {
		xa_lock(&victim->cache.index);
		page = xbzrle_cache_pop_lru(&victim->cache);
		xa_unlock(&victim->cache.index);
		if (page)
			xbzrle_count(victim, XS_EVICTIONS, 1);
	}
	spin_unlock(&xbzrle_contexts_lock);
	return page;
}

/*
 * @base, taken for @key, goes back to the kernel and a marker takes its
 * slot: the page is skipped until generation @probe_gen (adapt.h).  Past
 * max_pages markers the slot is just emptied: the page is then an
 * ordinary miss next time.  The snapshot stays the spare.
 */
void xbzrle_cache_give_back(struct xbzrle_ctx *ctx, unsigned long key,
			    struct page *base, u64 probe_gen)
{
	struct xbzrle_cache *c = &ctx->cache;
	void *marker = NULL;

	lockdep_assert_held(&ctx->lock);
	xa_lock(&c->index);
	if (c->nr_markers < c->max_pages) {
		marker = xa_mk_value(min_t(u64, probe_gen, LONG_MAX));
		c->nr_markers++;
	}
	xbzrle_cache_unlink_to(c, base, true, marker);
	xa_unlock(&c->index);
	__free_page(base);
}

/*
 * The snapshot in ctx->spare was returned for @key: it becomes the page's
 * base, sent in ctx->generation, with overflow streak @streak.  @base, the
 * previous base from xbzrle_cache_take(), becomes the spare.  Without a
 * previous base a slot
 * is made by evicting the least recently sent page, whose page becomes the
 * spare; if there is none, or with @keep_recent if it was sent in this
 * generation or the one before (counted in XS_REFUSED), the page is not
 * cached.  ctx->spare may be NULL afterwards.
 */
void xbzrle_cache_commit(struct xbzrle_ctx *ctx, unsigned long key,
			 struct page *base, bool keep_recent,
			 unsigned int streak)
{
	struct xbzrle_cache *c = &ctx->cache;
	struct page *snap = ctx->spare;
	struct xbzrle_entry *e = NULL;
	struct page *victim = NULL;
	unsigned int evicted = 0;
	bool room;
	int ret;

	lockdep_assert_held(&ctx->lock);
	xbzrle_base_set_gen(snap, ctx->generation);
	if (base) {
		/*
		 * The slot and its entry exist: no allocation, cannot fail.
		 * ctx->lock keeps resizes out, so the cache is within its
		 * size.  The entry keeps its place on xbzrle_lru.
		 */
		e = xbzrle_page_entry(base);
		e->streak = streak;
		xa_lock(&c->index);
		__xa_store(&c->index, key, snap, 0);
		e->page = snap;
		set_page_private(snap, (unsigned long)e);
		set_page_private(base, 0);
		list_add(&snap->lru, &c->lru);
		ctx->spare = base;
		xa_unlock(&c->index);
		return;
	}
	room = xbzrle_memcg_has_room();
	if (room && c->nr_pages < c->max_pages &&
	    atomic_long_read(&xbzrle_cached_pages) >= xbzrle_max_cache_pages()) {
		struct page *stolen = xbzrle_cache_steal(ctx);

		if (stolen)
			__free_page(stolen);
	}
	/* in the caller's memory cgroup; without it the page goes uncached */
	e = kmem_cache_alloc_lru(xbzrle_entry_cache, &xbzrle_lru,
				 XBZRLE_PAGE_GFP);
	if (!e)
		return;
	e->page = snap;
	e->ctx = ctx;
	e->key = key;
	e->streak = streak;
	INIT_LIST_HEAD(&e->lru);
	xa_lock(&c->index);
	while (xbzrle_cache_full(c, room)) {
		struct page *old;

		if (evicted == XBZRLE_EVICT_PER_MISS)
			break;

		if (keep_recent && !list_empty(&c->lru) &&
		    xbzrle_base_recent(list_last_entry(&c->lru, struct page, lru),
				       ctx->generation)) {
			xbzrle_count(ctx, XS_REFUSED, 1);
			break;
		}
		old = xbzrle_cache_pop_lru(c);
		if (!old)
			break;
		xbzrle_count(ctx, XS_EVICTIONS, 1);
		evicted++;
		if (victim)
			__free_page(old);
		else
			victim = old;
		room = true;
	}
	if (xbzrle_cache_full(c, room))
		goto out_free;		/* not cached: @snap stays the spare */
	/* may drop the lock to allocate; the shrinker cannot see @snap yet */
	ret = xa_err(__xa_store(&c->index, key, snap, XBZRLE_PAGE_GFP));
	if (ret)
		goto out_free;
	set_page_private(snap, (unsigned long)e);
	list_add(&snap->lru, &c->lru);
	xbzrle_lru_add(&e->lru);
	e = NULL;
	c->nr_pages++;
	atomic_long_inc(&xbzrle_cached_pages);
	ctx->spare = victim;
	victim = NULL;
out_free:
	xa_unlock(&c->index);
	if (e)
		kmem_cache_free(xbzrle_entry_cache, e);
	if (victim)
		__free_page(victim);
}

/* Makes sure ctx->spare can take the next snapshot. */
int xbzrle_cache_get_spare(struct xbzrle_ctx *ctx)
{
	struct xbzrle_cache *c = &ctx->cache;

	lockdep_assert_held(&ctx->lock);
	if (ctx->spare)
		return 0;
	ctx->spare = alloc_page(XBZRLE_PAGE_GFP);
	if (ctx->spare)
		return 0;
	/* at the memory cgroup's limit: reuse the oldest base */
	xa_lock(&c->index);
	ctx->spare = xbzrle_cache_pop_lru(c);
	xa_unlock(&c->index);
	if (!ctx->spare)
		return -ENOMEM;
	xbzrle_count(ctx, XS_EVICTIONS, 1);
	return 0;
}

/*
 * Entries erased per hold of the index lock when a range is dropped.  On
 * the debug kernel (KASAN, lockdep) under TCG, 256 kept a thread on the
 * same CPU waiting up to 242 ms; 64, up to 81 ms (offload_latency_test).
 */
#define XBZRLE_DROP_BATCH	64

/*
 * Drops the bases and markers of keys [@first, @last], XBZRLE_DROP_BATCH
 * at a time so the index lock is never held long.  ctx->lock keeps the
 * encoder out, so no base in the range is off the LRU.
 */
static void xbzrle_cache_drop(struct xbzrle_ctx *ctx, unsigned long first,
			      unsigned long last)
{
	struct xbzrle_cache *c = &ctx->cache;
	unsigned long i, start = first, total = 0;
	struct page *page;
	unsigned int n;
	void *entry;
	LIST_HEAD(dropped);

	lockdep_assert_held(&ctx->lock);
	do {
		n = 0;
		xa_lock(&c->index);
		xa_for_each_range(&c->index, i, entry, first, last) {
			if (xa_is_value(entry)) {
				__xa_erase(&c->index, i);
				c->nr_markers--;
			} else {
				page = entry;
				xbzrle_cache_unlink(c, page, true);
				list_move(&page->lru, &dropped);
			}
			if (++n == XBZRLE_DROP_BATCH)
				break;
		}
		xa_unlock(&c->index);
		while ((page = list_first_entry_or_null(&dropped, struct page,
							lru))) {
			list_del(&page->lru);
			__free_page(page);
		}
		total += n;
		cond_resched();
		/* a full batch ended at i: go on after it */
		first = i + 1;
	} while (n == XBZRLE_DROP_BATCH && i != last);
	if (total)
		trace_kvm_xbzrle_cache_drop(ctx->id, start, last, total);
}

/* Drops the bases and markers of keys [@key, @key + @npages). */
void xbzrle_cache_drop_range(struct xbzrle_ctx *ctx, unsigned long key,
			     unsigned long npages)
{
	if (npages)
		xbzrle_cache_drop(ctx, key, key + npages - 1);
}

/* Drops every base and marker; the spare stays. */
void xbzrle_cache_drop_all(struct xbzrle_ctx *ctx)
{
	xbzrle_cache_drop(ctx, 0, ULONG_MAX);
}

/* Drops every base and the spare page. */
void xbzrle_cache_destroy(struct xbzrle_ctx *ctx)
{
	lockdep_assert_held(&ctx->lock);
	xbzrle_cache_drop_all(ctx);
	if (ctx->spare) {
		__free_page(ctx->spare);
		ctx->spare = NULL;
	}
}

/* Sets the size and evicts down to it. */
void xbzrle_cache_resize(struct xbzrle_ctx *ctx, unsigned long max_pages)
{
	struct xbzrle_cache *c = &ctx->cache;
	struct page *page;

	lockdep_assert_held(&ctx->lock);
	xa_lock(&c->index);
	c->max_pages = max_pages;
	xa_unlock(&c->index);
	for (;;) {
		xa_lock(&c->index);
		page = c->nr_pages > c->max_pages ? xbzrle_cache_pop_lru(c) : NULL;
		xa_unlock(&c->index);
		if (!page)
			break;
		xbzrle_count(ctx, XS_EVICTIONS, 1);
		__free_page(page);
		cond_resched();
	}
}

/*
 * The shrinker's view: the entries of the memory cgroup and node being
 * reclaimed (all of them under global reclaim, node by node).
 */
static unsigned long xbzrle_shrink_count(struct shrinker *s,
					 struct shrink_control *sc)
{
	unsigned long n = list_lru_shrink_count(&xbzrle_lru, sc);

	return n ? n : SHRINK_EMPTY;
}

/*
 * Called by the list_lru walk with the list's lock held, which comes
 * before a context's index lock here but after it everywhere else: so the
 * index lock is only tried.  A page the encoder holds (off its context's
 * LRU) is skipped.  Freed pages go on @arg, linked by page->lru.
 */
static enum lru_status xbzrle_lru_isolate(struct list_head *item,
					  struct list_lru_one *list,
					  spinlock_t *lru_lock, void *arg)
{
	struct xbzrle_entry *e = container_of(item, struct xbzrle_entry, lru);
	struct xbzrle_ctx *ctx = e->ctx;
	struct xbzrle_cache *c = &ctx->cache;
	struct list_head *freeable = arg;
	struct page *page;

	if (!spin_trylock(&c->index.xa_lock))
		return LRU_SKIP;
	/*
	 * Only now: a commit moves the entry to the new snapshot under the
	 * index lock, and the old page, as the spare, may already be cached
	 * again under another entry.
	 */
	page = e->page;
	if (list_empty(&page->lru)) {
		spin_unlock(&c->index.xa_lock);
		return LRU_SKIP;
	}
	list_lru_isolate(list, item);
	list_del(&page->lru);
	xbzrle_cache_unlink(c, page, false);
	xbzrle_count(ctx, XS_RECLAIMED, 1);
	spin_unlock(&c->index.xa_lock);
	list_add(&page->lru, freeable);
	return LRU_REMOVED;
}

static unsigned long xbzrle_shrink_scan(struct shrinker *s,
					struct shrink_control *sc)
{
	unsigned long freed;
	LIST_HEAD(freeable);
	struct page *page;

	freed = list_lru_shrink_walk(&xbzrle_lru, sc, xbzrle_lru_isolate,
				     &freeable);
	while ((page = list_first_entry_or_null(&freeable, struct page, lru))) {
		list_del(&page->lru);
		__free_page(page);
	}
	trace_kvm_xbzrle_shrink(sc->nid, sc->nr_to_scan, freed);
	return freed ? freed : SHRINK_STOP;
}

/*
 * Evicts up to @nr of the least recently sent bases, context after
 * context; at most XBZRLE_RECLAIM_BATCH per call, so the contexts lock is
 * held briefly.  Returns how many were freed.  For a lowered ceiling;
 * memory reclaim goes through xbzrle_shrink_scan().
 */
static unsigned long xbzrle_reclaim(unsigned long nr)
{
	struct xbzrle_ctx *ctx;
	unsigned long freed = 0;
	LIST_HEAD(pages);
	struct page *page;

	nr = min_t(unsigned long, nr, XBZRLE_RECLAIM_BATCH);
	spin_lock(&xbzrle_contexts_lock);
	list_for_each_entry(ctx, &xbzrle_contexts, node) {
		struct xbzrle_cache *c = &ctx->cache;

		xa_lock(&c->index);
		while (freed < nr && (page = xbzrle_cache_pop_lru(c))) {
			list_add(&page->lru, &pages);
			xbzrle_count(ctx, XS_EVICTIONS, 1);
			freed++;
		}
		xa_unlock(&c->index);
		if (freed >= nr)
			break;
	}
	/* start with the next context the next time */
	if (!list_empty(&xbzrle_contexts))
		list_rotate_left(&xbzrle_contexts);
	spin_unlock(&xbzrle_contexts_lock);

	while ((page = list_first_entry_or_null(&pages, struct page, lru))) {
		list_del(&page->lru);
		__free_page(page);
	}
	return freed;
}

/*
 * A new max_cache_mb takes effect at once: the caches together are brought
 * under it here, in the writer's context, a batch per hold of the locks.
 */
static int xbzrle_max_cache_mb_set(const char *val,
				   const struct kernel_param *kp)
{
	unsigned long max, cached;
	int ret;

	ret = param_set_ulong(val, kp);
	if (ret)
		return ret;
	max = xbzrle_max_cache_pages();
	for (;;) {
		cached = atomic_long_read(&xbzrle_cached_pages);
		if (cached <= max || !xbzrle_reclaim(cached - max))
			break;
		cond_resched();
	}
	return 0;
}

#define XBZRLE_SHRINKER_FLAGS	(SHRINKER_MEMCG_AWARE | SHRINKER_NUMA_AWARE)

#ifdef XBZRLE_HAVE_SHRINKER_ALLOC
static struct shrinker *xbzrle_shrinker;

/* The shrinker's id exists from shrinker_alloc() on: the list_lru needs it. */
static int xbzrle_shrinker_register(void)
{
	int ret;

	xbzrle_shrinker = shrinker_alloc(XBZRLE_SHRINKER_FLAGS, "kvm_xbzrle");
	if (!xbzrle_shrinker)
		return -ENOMEM;
	ret = list_lru_init_memcg(&xbzrle_lru, xbzrle_shrinker);
	if (ret) {
		shrinker_free(xbzrle_shrinker);
		return ret;
	}
	xbzrle_shrinker->count_objects = xbzrle_shrink_count;
	xbzrle_shrinker->scan_objects = xbzrle_shrink_scan;
	shrinker_register(xbzrle_shrinker);
	return 0;
}

static void xbzrle_shrinker_unregister(void)
{
	shrinker_free(xbzrle_shrinker);
	list_lru_destroy(&xbzrle_lru);
}
#else
/*
 * register_shrinker() gives a memcg-aware shrinker its id; the list_lru
 * is set up after it, so the callbacks wait for xbzrle_lru_ready.
 */
static bool xbzrle_lru_ready;

static unsigned long xbzrle_shrink_count_early(struct shrinker *s,
					       struct shrink_control *sc)
{
	/* pairs with the release in xbzrle_shrinker_register() */
	if (!smp_load_acquire(&xbzrle_lru_ready))
		return SHRINK_EMPTY;
	return xbzrle_shrink_count(s, sc);
}

static unsigned long xbzrle_shrink_scan_early(struct shrinker *s,
					      struct shrink_control *sc)
{
	/* pairs with the release in xbzrle_shrinker_register() */
	if (!smp_load_acquire(&xbzrle_lru_ready))
		return SHRINK_STOP;
	return xbzrle_shrink_scan(s, sc);
}

static struct shrinker xbzrle_shrinker_static = {
	.count_objects	= xbzrle_shrink_count_early,
	.scan_objects	= xbzrle_shrink_scan_early,
	.seeks		= DEFAULT_SEEKS,
	.flags		= XBZRLE_SHRINKER_FLAGS,
};

static int xbzrle_shrinker_register(void)
{
	int ret;

	ret = register_shrinker(&xbzrle_shrinker_static, "kvm_xbzrle");
	if (ret)
		return ret;
	ret = list_lru_init_memcg(&xbzrle_lru, &xbzrle_shrinker_static);
	if (ret) {
		unregister_shrinker(&xbzrle_shrinker_static);
		return ret;
	}
	/* the list_lru is set up before the callbacks may use it */
	smp_store_release(&xbzrle_lru_ready, true);
	return 0;
}

static void xbzrle_shrinker_unregister(void)
{
	unregister_shrinker(&xbzrle_shrinker_static);
	list_lru_destroy(&xbzrle_lru);
}
#endif

int xbzrle_shrinker_init(void)
{
	int ret;

	xbzrle_entry_cache = KMEM_CACHE(xbzrle_entry, SLAB_ACCOUNT);
	if (!xbzrle_entry_cache)
		return -ENOMEM;
	ret = xbzrle_shrinker_register();
	if (ret)
		kmem_cache_destroy(xbzrle_entry_cache);
	return ret;
}

/* After the last context is gone: every entry was freed with its page. */
void xbzrle_shrinker_exit(void)
{
	xbzrle_shrinker_unregister();
	kmem_cache_destroy(xbzrle_entry_cache);
}
