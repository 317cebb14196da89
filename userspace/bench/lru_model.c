// SPDX-License-Identifier: GPL-2.0
/*
 * The module's cache policy (kmod/cache.c) as a model, for the cache
 * simulation (xbzrle-cache-sim) and for any test that wants to predict
 * which pages the module has a base for.
 *
 * What it follows: per page, xbzrle_encode_page() takes the page's base
 * off the LRU (xbzrle_cache_take()) and, once the record is written,
 * commits the snapshot as the page's base at the head of the LRU
 * (xbzrle_cache_commit()); without a previous base that is a new entry,
 * and while the cache holds max_pages bases the least recently sent one
 * is evicted first, except that with KVM_XBZRLE_ENCODE_GENERATION a least
 * recently sent base sent in the call's generation or the one before is
 * kept and the page goes uncached (XS_REFUSED).  Every base sent gets the
 * context's generation (page->index in the module).  Zero pages go the
 * same way.
 *
 * What it leaves out, so that it is a cache of exactly max_pages:
 * - the memory cgroup's headroom (xbzrle_memcg_has_room()), the module-wide
 *   ceiling max_cache_mb and failed allocations, which stop the cache from
 *   growing before max_pages (the module then evicts its own oldest base
 *   instead, or sends RAW without caching);
 * - the shrinker and drop_caches, which free the oldest bases at any time;
 * - resizing (KVM_XBZRLE_SET_CACHE), dropping a region's bases
 *   (SET_REGION) and KVM_XBZRLE_CACHE_RESET;
 * - the spare page (one page more than max_pages in the module) and the
 *   untake of a base whose record could not be copied to userspace.
 * Every one of them only removes bases or keeps the cache smaller, so on
 * a host without memory pressure the model and the module agree.
 */
#include <stdio.h>
#include <stdlib.h>

#include "lru_model.h"

#define NIL	UINT32_MAX

static inline uint32_t head(const struct lru_model *m)
{
	return (uint32_t)m->max_pages;
}

static inline size_t hash(const struct lru_model *m, uint64_t gfn)
{
	return (gfn * 0x9e3779b97f4a7c15ULL) >> (64 - m->hash_shift);
}

int lru_model_init(struct lru_model *m, size_t max_pages)
{
	size_t nb;

	*m = (struct lru_model){ .max_pages = max_pages, .hash_shift = 1,
				 .free = NIL };
	if (max_pages >= NIL - 1)
		return -1;
	while (((size_t)1 << m->hash_shift) < 2 * max_pages)
		m->hash_shift++;
	nb = (size_t)1 << m->hash_shift;
	m->node = calloc(max_pages + 1, sizeof(*m->node));
	m->bucket = malloc(nb * sizeof(*m->bucket));
	if (!m->node || !m->bucket) {
		lru_model_destroy(m);
		return -1;
	}
	for (size_t i = 0; i < nb; i++)
		m->bucket[i] = NIL;
	m->node[head(m)].prev = m->node[head(m)].next = head(m);
	return 0;
}

void lru_model_destroy(struct lru_model *m)
{
	free(m->node);
	free(m->bucket);
	m->node = NULL;
	m->bucket = NULL;
}

static uint32_t lookup(const struct lru_model *m, uint64_t gfn)
{
	uint32_t i = m->bucket[hash(m, gfn)];

	while (i != NIL && m->node[i].gfn != gfn)
		i = m->node[i].hnext;
	return i;
}

static void list_del(struct lru_model *m, uint32_t i)
{
	struct lru_model_node *n = &m->node[i];

	m->node[n->prev].next = n->next;
	m->node[n->next].prev = n->prev;
}

/* at the head: the most recently sent */
static void list_add(struct lru_model *m, uint32_t i)
{
	uint32_t h = head(m), first = m->node[h].next;

	m->node[i].prev = h;
	m->node[i].next = first;
	m->node[first].prev = i;
	m->node[h].next = i;
}

static void index_del(struct lru_model *m, uint32_t i)
{
	uint32_t *p = &m->bucket[hash(m, m->node[i].gfn)];

	while (*p != i)
		p = &m->node[*p].hnext;
	*p = m->node[i].hnext;
}

static void index_add(struct lru_model *m, uint32_t i)
{
	uint32_t *p = &m->bucket[hash(m, m->node[i].gfn)];

	m->node[i].hnext = *p;
	*p = i;
}

/* XBZRLE_GEN_LIFETIME: this generation and the one before */
#define GEN_LIFETIME	2

static bool send(struct lru_model *m, uint64_t gfn, bool keep_recent)
{
	uint32_t i = lookup(m, gfn);

	if (i != NIL) {
		/* take, then commit with a base: the slot moves to the head */
		list_del(m, i);
		list_add(m, i);
		m->node[i].gen = m->generation;
		return true;
	}
	/* commit without a base: a full cache evicts its LRU end first */
	if (!m->max_pages)
		return false;	/* never room: the page is not cached */
	if (m->nr_pages >= m->max_pages) {
		i = m->node[head(m)].prev;
		if (keep_recent && m->generation - m->node[i].gen < GEN_LIFETIME) {
			m->refused++;	/* too recent to evict: not cached */
			return false;
		}
		list_del(m, i);
		index_del(m, i);
		m->nr_pages--;
		m->evictions++;
	} else if (m->free != NIL) {
		i = m->free;			/* a node lru_model_drop() freed */
		m->free = m->node[i].hnext;
	} else {
		i = (uint32_t)m->used++;
	}
	m->node[i].gfn = gfn;
	m->node[i].gen = m->generation;
	index_add(m, i);
	list_add(m, i);
	m->nr_pages++;
	return false;
}

bool lru_model_send(struct lru_model *m, uint64_t gfn)
{
	return send(m, gfn, false);
}

bool lru_model_send_gen(struct lru_model *m, uint64_t gfn, uint64_t generation)
{
	/* the module refuses a lower one (EINVAL) before any page */
	if (generation > m->generation)
		m->generation = generation;
	return send(m, gfn, true);
}

bool lru_model_drop(struct lru_model *m, uint64_t gfn)
{
	uint32_t i = lookup(m, gfn);

	if (i == NIL)
		return false;
	list_del(m, i);
	index_del(m, i);
	m->nr_pages--;
	m->node[i].hnext = m->free;
	m->free = i;
	return true;
}

bool lru_model_cached(const struct lru_model *m, uint64_t gfn)
{
	return lookup(m, gfn) != NIL;
}

bool lru_model_oldest(const struct lru_model *m, uint64_t *gfn)
{
	uint32_t i = m->node[head(m)].prev;

	if (i == head(m))
		return false;
	*gfn = m->node[i].gfn;
	return true;
}

int lru_model_check(const struct lru_model *m)
{
	size_t n = 0, chained = 0, nb = (size_t)1 << m->hash_shift;
	uint32_t i, prev = head(m);

	for (i = m->node[head(m)].next; i != head(m); prev = i, i = m->node[i].next) {
		if (i >= m->max_pages || m->node[i].prev != prev ||
		    ++n > m->nr_pages || lookup(m, m->node[i].gfn) != i) {
			fprintf(stderr, "lru_model: list broken at node %u (%zu of %zu)\n",
				i, n, m->nr_pages);
			return -1;
		}
	}
	for (size_t b = 0; b < nb; b++)
		for (i = m->bucket[b]; i != NIL && chained <= m->nr_pages; i = m->node[i].hnext)
			chained++;
	if (n != m->nr_pages || chained != n || n > m->max_pages ||
	    m->node[head(m)].prev != prev) {
		fprintf(stderr, "lru_model: %zu on the list, %zu in the index, nr_pages %zu, max_pages %zu\n",
			n, chained, m->nr_pages, m->max_pages);
		return -1;
	}
	return 0;
}
