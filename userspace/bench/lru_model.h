/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A userspace model of the module's cache policy (kmod/cache.c): the bases
 * of pages by guest frame, on one LRU list, at most a fixed number of
 * them, with the generation each was last sent in (QEMU's dirty-sync round,
 * KVM_XBZRLE_ENCODE_GENERATION).  It keeps no page contents, only which
 * frames have a base and in which order they were sent; see lru_model.c
 * for what it leaves out.
 */
#ifndef BENCH_LRU_MODEL_H
#define BENCH_LRU_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lru_model_node {
	uint64_t gfn;
	uint64_t gen;		/* the generation it was last sent in (page->index) */
	uint32_t prev, next;	/* the LRU list, most recently sent first */
	uint32_t hnext;		/* the index's hash chain */
};

struct lru_model {
	size_t max_pages;	/* xbzrle_cache.max_pages */
	size_t nr_pages;	/* xbzrle_cache.nr_pages */
	uint64_t evictions;	/* XS_EVICTIONS */
	uint64_t refused;	/* XS_REFUSED */
	uint64_t generation;	/* ctx->generation: the last call's, 0 at first */
	size_t used;		/* nodes ever taken from node[] */
	uint32_t free;		/* nodes lru_model_drop() freed, by hnext */
	struct lru_model_node *node;	/* max_pages + 1: the last is the list head */
	uint32_t *bucket;	/* the index (the module's xarray): hash chains */
	unsigned int hash_shift;
};

/* An empty cache of @max_pages bases (0: nothing is cached).  -1: no memory. */
int lru_model_init(struct lru_model *m, size_t max_pages);
void lru_model_destroy(struct lru_model *m);

/*
 * One page through xbzrle_encode_page(): returns whether @gfn had a base
 * (xbzrle_cache_take()).  Afterwards the page's snapshot is its base and
 * the most recently used one (xbzrle_cache_commit()): a page without a
 * base is inserted, evicting the least recently used base when the cache
 * is full.  The same for a zero page (its base becomes zeros); the module
 * counts neither a hit nor a miss for it, which is the caller's business.
 */
bool lru_model_send(struct lru_model *m, uint64_t gfn);

/*
 * The same for a page of an ENCODE call with KVM_XBZRLE_ENCODE_GENERATION
 * and @generation (not below the previous call's): a page without a base
 * finding the cache full is not cached (refused, counted) when the least
 * recently used base was sent in @generation or the one before; else that
 * base is evicted as above.  Every base sent (hit or new) gets the
 * generation.  lru_model_send() is a call without the flag: the plain LRU,
 * bases sent then get the last generation seen.
 */
bool lru_model_send_gen(struct lru_model *m, uint64_t gfn, uint64_t generation);

/*
 * @gfn's base leaves the cache, uncounted (xbzrle_cache_give_back(), and
 * the bases KVM_XBZRLE_INVALIDATE drops).  Whether it had one.
 */
bool lru_model_drop(struct lru_model *m, uint64_t gfn);

/* Whether @gfn has a base, without touching the order. */
bool lru_model_cached(const struct lru_model *m, uint64_t gfn);

/* The base the next eviction would drop; false when the cache is empty. */
bool lru_model_oldest(const struct lru_model *m, uint64_t *gfn);

/*
 * Checks the structure: the list and the index hold the same nr_pages <=
 * max_pages frames, each once.  0 when consistent, -1 (and a message on
 * stderr) otherwise.
 */
int lru_model_check(const struct lru_model *m);

#endif
