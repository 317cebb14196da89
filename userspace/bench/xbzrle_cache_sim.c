// SPDX-License-Identifier: GPL-2.0
/*
 * xbzrle-cache-sim: the module's cache policy against QEMU's, trace-driven,
 * at equal size.
 *
 * QEMU's policy is QEMU 7.2's own migration/page_cache.c (bookworm's
 * source package, fetched by fetch-qemu-xbzrle.sh into build/bench/qemu72/
 * and compiled with our stub headers): a direct-mapped cache, slot = page
 * index modulo the number of pages, where a page that misses may only take
 * a slot whose page was last sent (or hit) two or more dirty syncs ago.
 * It is driven as migration/ram.c drives it: the generation is
 * ram_counters.dirty_sync_count (1 after the setup's sync, +1 per sync);
 * the first pass sends every page without the cache and enables XBZRLE
 * when it wraps; from then on save_xbzrle_page() calls cache_is_cached()
 * (a hit, counted in xbzrle_counters.pages) or counts a cache_miss and
 * calls cache_insert(), which may refuse; a zero page is sent by
 * save_zero_page() and xbzrle_cache_zero_page() inserts zeros for it.
 *
 * Ours is lru_model.c, a model of kmod/cache.c: a base per guest frame on
 * one LRU list of the same number of pages; a page without a base is a
 * miss, sent RAW, and becomes a base, evicting the least recently sent
 * one; a zero page also becomes a base.  Like QEMU with the offload
 * (userspace/qemu/patches), the module sees pages only once XBZRLE is on,
 * and gets ram_counters.dirty_sync_count as the generation of every
 * ENCODE call (KVM_XBZRLE_ENCODE_GENERATION): a full cache then keeps a
 * least recently sent base that was sent in this round or the previous
 * one, and the new page goes uncached, QEMU's age rule on the LRU's tail.
 * "LRU" is the same model without the generation: the module as a QEMU
 * without it (or a module without KVM_XBZRLE_CAP_GENERATION) uses it.
 *
 * Page contents are not simulated: which pages have a base (and so can be
 * sent as a delta) depends only on the order pages are sent in.  A "hit"
 * is a page that had a base: its record is a delta, UNCHANGED, or an
 * overflow RAW, depending on the data.
 *
 * A trace is a sequence of rounds; a round is one dirty sync: the pages
 * written since the previous sync, sent in address order (QEMU's bitmap
 * walk).  Writes during the walk are in the next round.  The last stage
 * (after the VM stops, no cache inserts in QEMU) is not simulated.
 *
 * Environment:
 *   BENCH_CACHE_MB  cache size in MiB for both (default 64, QEMU's default
 *                   xbzrle-cache-size); QEMU needs a power-of-two number of
 *                   4 KiB pages (0.25 = 64 pages is fine); at most 1024
 *                   (QEMU's cache allocates its pages for real)
 *   BENCH_ROUNDS    XBZRLE rounds, dirty syncs after the first pass
 *                   (default 30)
 *   BENCH_SEED      the sampled traces (default 1)
 * The traces are sized in multiples of the cache (see traces[] below).
 *
 * Output (stdout) is the same for the same settings; the time taken goes
 * to stderr.  Exit status: 0; 1 when a consistency check fails (hits +
 * misses + zero pages != pages, fewer misses than pages sent for the first
 * time, the LRU model's structure, the closed-form miss counts of the
 * uniform traces, a page QEMU's cache took or hit without data); 2 on a
 * usage error (arguments, bad environment values, a cache size QEMU's
 * cache_init() refuses).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "page_cache.h"		/* QEMU 7.2's, build/bench/qemu72/migration/ */
#include "lru_model.h"
#include "env_num.h"
#include "xorshift.h"

#ifndef QEMU72_VERSION
#define QEMU72_VERSION "?"
#endif

#define PAGE		4096
#define PAGE_SHIFT	12
#define WS_START	256	/* 1 MiB: where e2e/bootsect.S's guest writes */

static int failures;

static void __attribute__((format(printf, 1, 2))) fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("CHECK FAILED: ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	failures++;
}

/* --- traces ------------------------------------------------------------------ */

enum trace_kind { UNIFORM, HOTCOLD, ZIPF };

struct trace {
	const char *name;
	enum trace_kind kind;
	double mem;		/* guest RAM, times the cache */
	double ws;		/* UNIFORM: working set, times the cache */
	double hot;		/* HOTCOLD: hot set, share of RAM */
	double hot_writes;	/* HOTCOLD: share of the writes to the hot set */
	unsigned int chunk;	/* HOTCOLD: hot set in chunks of this many pages
				   at random addresses; 0: one range */
	double s;		/* ZIPF: exponent */
	double writes;		/* HOTCOLD, ZIPF: writes per round, times the cache */
	double zero;		/* HOTCOLD: share of cold pages zero when sent */
};

/*
 * The seed load (every page of a working set rewritten between two syncs,
 * as e2e/'s guest does with 32 MiB) at three sizes, then database-like
 * loads over a guest of 8x the cache: a hot set of 10% of RAM (a buffer
 * pool's busy part) taking 90% of the writes, its pages where a guest's
 * allocator puts them (4 KiB pages at random), in 2 MiB huge pages at
 * random, or as one range (QEMU's best case: no two hot pages share a
 * slot); the same with a hot set twice the cache; and YCSB's Zipf 0.99
 * over all RAM.  Writes are sampled with replacement: a page written twice
 * in a round is sent once.
 */
static const struct trace traces[] = {
	{ "seed, WS 0.5x cache", UNIFORM, .mem = 8, .ws = 0.5 },
	{ "seed, WS 1.5x cache", UNIFORM, .mem = 8, .ws = 1.5 },
	{ "seed, WS 4x cache", UNIFORM, .mem = 8, .ws = 4 },
	{ "hot/cold, 4K scattered", HOTCOLD, .mem = 8, .hot = 0.10, .hot_writes = 0.90,
	  .chunk = 1, .writes = 0.5, .zero = 0.02 },
	{ "hot/cold, 2M scattered", HOTCOLD, .mem = 8, .hot = 0.10, .hot_writes = 0.90,
	  .chunk = 512, .writes = 0.5, .zero = 0.02 },
	{ "hot/cold, one range", HOTCOLD, .mem = 8, .hot = 0.10, .hot_writes = 0.90,
	  .chunk = 0, .writes = 0.5, .zero = 0.02 },
	{ "hot/cold, hot 2x cache", HOTCOLD, .mem = 8, .hot = 0.25, .hot_writes = 0.90,
	  .chunk = 1, .writes = 1, .zero = 0.02 },
	{ "zipf 0.99", ZIPF, .mem = 8, .s = 0.99, .writes = 0.5 },
};
#define NTRACES (sizeof(traces) / sizeof(traces[0]))

static uint64_t rng_state;

static uint64_t rnd(void)
{
	return xorshift64star(&rng_state);
}

/* each trace its own stream, whatever the others draw */
static void rnd_seed(uint64_t seed, uint64_t trace)
{
	uint64_t z = seed * 0x100000001b3ULL + (trace + 1) * 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	rng_state = (z ^ (z >> 31)) | 1;
}

/* uniform in [0, n) */
static uint64_t rnd_below(uint64_t n)
{
	return (uint64_t)(((unsigned __int128)rnd() * n) >> 64);
}

static double rnd_unit(void)
{
	return (rnd() >> 11) * 0x1p-53;
}

/* a trace's state: which pages are hot, the Zipf table, a round's pages */
struct gen {
	const struct trace *t;
	uint64_t mem_pages, ws_pages, ws_start, hot_pages, writes;
	uint64_t *perm;		/* HOTCOLD: hot pages first; ZIPF: page of each rank */
	uint8_t *is_hot;	/* HOTCOLD */
	double *cdf;		/* ZIPF */
	uint8_t *dirty;		/* this round's pages: DIRTY, or DIRTY_ZERO when zero */
};
#define DIRTY		1
#define DIRTY_ZERO	2

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p) {
		fprintf(stderr, "xbzrle-cache-sim: out of memory\n");
		exit(2);
	}
	return p;
}

static void gen_init(struct gen *g, const struct trace *t, uint64_t cache_pages,
		     uint64_t seed, uint64_t index)
{
	*g = (struct gen){ .t = t };
	g->mem_pages = (uint64_t)(t->mem * cache_pages);
	g->ws_pages = (uint64_t)(t->ws * cache_pages);
	g->writes = (uint64_t)(t->writes * cache_pages);
	/* at 1 MiB, unless a tiny cache makes RAM too small for that */
	g->ws_start = g->mem_pages - g->ws_pages >= WS_START ? WS_START : 0;
	g->dirty = xcalloc(g->mem_pages, 1);
	rnd_seed(seed, index);
	if (t->kind == UNIFORM)
		return;
	g->perm = xcalloc(g->mem_pages, sizeof(*g->perm));
	if (t->kind == ZIPF || t->chunk) {
		/* chunks (pages for ZIPF) in random order */
		uint64_t chunk = t->kind == ZIPF ? 1 : t->chunk, n;

		while (g->mem_pages % chunk)	/* a tiny cache: smaller chunks */
			chunk /= 2;
		n = g->mem_pages / chunk;
		for (uint64_t i = 0; i < n; i++)
			g->perm[i] = i;
		for (uint64_t i = n - 1; i > 0; i--) {
			uint64_t j = rnd_below(i + 1), x = g->perm[i];

			g->perm[i] = g->perm[j];
			g->perm[j] = x;
		}
		for (uint64_t i = g->mem_pages; i-- > 0;)
			g->perm[i] = g->perm[i / chunk] * chunk + i % chunk;
	} else {
		/* one range from 1 MiB, the cold pages around it */
		for (uint64_t i = 0; i < g->mem_pages; i++)
			g->perm[i] = (i + WS_START) % g->mem_pages;
	}
	if (t->kind == HOTCOLD) {
		g->hot_pages = (uint64_t)(t->hot * g->mem_pages);
		g->is_hot = xcalloc(g->mem_pages, 1);
		for (uint64_t i = 0; i < g->hot_pages; i++)
			g->is_hot[g->perm[i]] = 1;
	} else {
		double sum = 0;

		g->cdf = xcalloc(g->mem_pages, sizeof(*g->cdf));
		for (uint64_t r = 0; r < g->mem_pages; r++)
			g->cdf[r] = sum += pow((double)(r + 1), -t->s);
		for (uint64_t r = 0; r < g->mem_pages; r++)
			g->cdf[r] /= sum;
	}
}

static void gen_free(struct gen *g)
{
	free(g->dirty);
	free(g->perm);
	free(g->is_hot);
	free(g->cdf);
}

static uint64_t zipf_page(const struct gen *g)
{
	double u = rnd_unit();
	uint64_t lo = 0, hi = g->mem_pages - 1;

	while (lo < hi) {	/* the first rank whose cdf exceeds u */
		uint64_t mid = lo + (hi - lo) / 2;

		if (g->cdf[mid] > u)
			hi = mid;
		else
			lo = mid + 1;
	}
	return g->perm[lo];
}

/* the pages written between two syncs */
static void gen_round(struct gen *g)
{
	const struct trace *t = g->t;
	uint64_t cold = g->mem_pages - g->hot_pages;

	memset(g->dirty, 0, g->mem_pages);
	switch (t->kind) {
	case UNIFORM:
		memset(g->dirty + g->ws_start, DIRTY, g->ws_pages);
		break;
	case HOTCOLD:
		for (uint64_t w = 0; w < g->writes; w++) {
			if (g->hot_pages && (!cold || rnd_unit() < t->hot_writes))
				g->dirty[g->perm[rnd_below(g->hot_pages)]] = DIRTY;
			else
				g->dirty[g->perm[g->hot_pages + rnd_below(cold)]] = DIRTY;
		}
		if (t->zero > 0)	/* freed (zeroed) cold pages */
			for (uint64_t p = 0; p < g->mem_pages; p++)
				if (g->dirty[p] && !g->is_hot[p] && rnd_unit() < t->zero)
					g->dirty[p] = DIRTY_ZERO;
		break;
	case ZIPF:
		for (uint64_t w = 0; w < g->writes; w++)
			g->dirty[zipf_page(g)] = DIRTY;
		break;
	}
}

static void describe(const struct gen *g, uint64_t cache_pages)
{
	const struct trace *t = g->t;
	double mib = PAGE / 1048576.0;

	printf("  %-24s ", t->name);
	switch (t->kind) {
	case UNIFORM:
		printf("every page of %g MiB (%" PRIu64 " pages) at %g MiB written every round\n",
		       g->ws_pages * mib, g->ws_pages, g->ws_start * mib);
		break;
	case HOTCOLD:
		printf("%" PRIu64 " writes/round, %.0f%% to a hot set of %.0f%% of RAM\n"
		       "  %-24s (%" PRIu64 " pages, %.2fx cache) %s, the rest to the cold pages;\n"
		       "  %-24s %.0f%% of the cold pages sent are zero (freed memory)\n",
		       g->writes, 100 * t->hot_writes, 100 * t->hot, "", g->hot_pages,
		       (double)g->hot_pages / cache_pages,
		       t->chunk == 1 ? "in 4 KiB pages at random" :
		       t->chunk ? "in 2 MiB pages at random" : "in one range at 1 MiB",
		       "", 100 * t->zero);
		break;
	case ZIPF:
		printf("%" PRIu64 " writes/round over all RAM, page popularity Zipf(%.2f),\n"
		       "  %-24s ranks at random addresses\n", g->writes, t->s, "");
		break;
	}
}

/* --- QEMU 7.2: migration/ram.c around migration/page_cache.c ------------------ */

struct stats {
	uint64_t pages, zero, hits, misses;
	uint64_t late_pages, late_misses;	/* the second half of the rounds */
	uint64_t refused;	/* QEMU: cache_insert() returned -1 */
	uint64_t evictions;	/* QEMU: a miss took another page's slot; ours: evictions */
};

struct qemu_ram {
	PageCache *cache;		/* XBZRLE.cache */
	uint64_t dirty_sync_count;	/* ram_counters.dirty_sync_count */
	bool xbzrle_enabled;		/* rs->xbzrle_enabled */
	struct stats st;
};

static uint8_t page_data[PAGE];		/* the guest page: contents do not matter */
static uint8_t zero_target_page[PAGE];	/* XBZRLE.zero_target_page */

/* xbzrle_cache_zero_page() */
static void qemu_xbzrle_cache_zero_page(struct qemu_ram *q, uint64_t current_addr)
{
	if (!q->xbzrle_enabled)
		return;
	/* its return value is ignored: a refusal leaves the slot to another page */
	if (cache_insert(q->cache, current_addr, zero_target_page,
			 q->dirty_sync_count) == -1)
		q->st.refused++;
}

/*
 * save_xbzrle_page(), not the last stage: 1 when the page had a base (it
 * is then sent as a delta, skipped as unchanged or, on an overflow, sent
 * whole from the updated cache page), -1 when it goes out as a normal page.
 */
static int qemu_save_xbzrle_page(struct qemu_ram *q, uint64_t current_addr)
{
	if (!cache_is_cached(q->cache, current_addr, q->dirty_sync_count)) {
		/* not ram.c's, and no side effect: whether the slot holds a page */
		bool taken = get_cached_data(q->cache, current_addr);

		q->st.misses++;		/* xbzrle_counters.cache_miss++ */
		if (cache_insert(q->cache, current_addr, page_data,
				 q->dirty_sync_count) == -1) {
			q->st.refused++;
			return -1;
		}
		q->st.evictions += taken;
		if (!get_cached_data(q->cache, current_addr))
			fail("QEMU's cache took page %#" PRIx64 " and has no data for it",
			     current_addr);
		return -1;
	}
	q->st.hits++;			/* xbzrle_counters.pages++ */
	if (!get_cached_data(q->cache, current_addr))
		fail("QEMU's cache hit on page %#" PRIx64 " without data", current_addr);
	/* encode against it and copy the page in: contents are not simulated */
	return 1;
}

/* ram_save_target_page(): save_zero_page(), else ram_save_page() */
static void qemu_save_target_page(struct qemu_ram *q, uint64_t page, bool zero)
{
	uint64_t current_addr = page << PAGE_SHIFT;	/* one RAMBlock at 0 */

	if (q->xbzrle_enabled)
		q->st.pages++;
	if (zero) {
		if (q->xbzrle_enabled)
			q->st.zero++;
		qemu_xbzrle_cache_zero_page(q, current_addr);
		return;
	}
	if (q->xbzrle_enabled)
		qemu_save_xbzrle_page(q, current_addr);
	/* -1: save_normal_page() */
}

/* --- ours: the module, as QEMU with xbzrle-offload=on calls it ----------------- */

/*
 * xbzrle_encode_page(): ZERO, or a hit (XBZRLE, UNCHANGED, overflow RAW), or
 * RAW; with @generation non-NULL the call carries it (the patched QEMU on a
 * module with KVM_XBZRLE_CAP_GENERATION), else the plain LRU.
 */
static void ours_encode_page(struct lru_model *m, struct stats *st, uint64_t gfn,
			     bool zero, const uint64_t *generation)
{
	bool base = generation ? lru_model_send_gen(m, gfn, *generation) :
				 lru_model_send(m, gfn);

	st->pages++;
	if (zero)
		st->zero++;
	else if (base)
		st->hits++;
	else
		st->misses++;
}

/* --- one trace ----------------------------------------------------------------- */

struct result {
	struct stats q, o, l;	/* QEMU, ours (with generations), plain LRU */
	uint64_t first_sends;	/* pages first sent (not zero) in the XBZRLE phase */
};

static void run_trace(const struct trace *t, size_t index, uint64_t cache_bytes,
		      uint64_t cache_pages, unsigned int rounds, uint64_t seed,
		      struct result *res)
{
	struct qemu_ram q = { 0 };
	struct lru_model ours, lru;
	struct gen g;
	Error *err = NULL;
	uint8_t *seen;

	gen_init(&g, t, cache_pages, seed, index);
	describe(&g, cache_pages);
	q.cache = cache_init(cache_bytes, PAGE, &err);
	if (!q.cache) {
		fprintf(stderr, "xbzrle-cache-sim: QEMU's cache_init(%" PRIu64 "): %s\n",
			cache_bytes, error_get_pretty(err));
		error_free(err);
		exit(2);
	}
	if (lru_model_init(&ours, cache_pages) || lru_model_init(&lru, cache_pages)) {
		fprintf(stderr, "xbzrle-cache-sim: out of memory\n");
		exit(2);
	}
	seen = xcalloc(g.mem_pages, 1);
	memset(res, 0, sizeof(*res));

	/*
	 * ram_save_setup(): the first sync (dirty_sync_count 1) finds every
	 * page dirty; the first pass sends them all without XBZRLE (so
	 * without either cache); find_dirty_block() enables XBZRLE when the
	 * walk wraps.
	 */
	q.dirty_sync_count = 1;
	for (uint64_t p = 0; p < g.mem_pages; p++)
		qemu_save_target_page(&q, p, false);
	q.xbzrle_enabled = true;

	for (unsigned int r = 0; r < rounds; r++) {
		struct stats q0 = q.st, o0 = res->o, l0 = res->l;

		gen_round(&g);
		q.dirty_sync_count++;		/* migration_bitmap_sync() */
		for (uint64_t p = 0; p < g.mem_pages; p++) {
			bool zero = g.dirty[p] == DIRTY_ZERO;

			if (!g.dirty[p])
				continue;
			if (!seen[p]) {
				seen[p] = 1;
				if (!zero)
					res->first_sends++;
			}
			qemu_save_target_page(&q, p, zero);
			ours_encode_page(&ours, &res->o, p, zero, &q.dirty_sync_count);
			ours_encode_page(&lru, &res->l, p, zero, NULL);
		}
		if (r >= rounds / 2) {
			q.st.late_pages += q.st.pages - q0.pages;
			q.st.late_misses += q.st.misses - q0.misses;
			res->o.late_pages += res->o.pages - o0.pages;
			res->o.late_misses += res->o.misses - o0.misses;
			res->l.late_pages += res->l.pages - l0.pages;
			res->l.late_misses += res->l.misses - l0.misses;
		}
		if (lru_model_check(&ours) || lru_model_check(&lru))
			fail("%s: the LRU model is inconsistent after round %u", t->name, r + 1);
	}
	res->o.evictions = ours.evictions;
	res->o.refused = ours.refused;
	res->l.evictions = lru.evictions;
	if (lru.refused)
		fail("%s: the plain LRU refused %" PRIu64 " pages", t->name, lru.refused);
	res->q = q.st;

	cache_fini(q.cache);
	lru_model_destroy(&ours);
	lru_model_destroy(&lru);
	free(seen);
	gen_free(&g);
}

/* --- checks and the table ------------------------------------------------------ */

static void check(const struct trace *t, const struct result *res,
		  uint64_t cache_pages, unsigned int rounds)
{
	const struct stats *side[3] = { &res->q, &res->o, &res->l };
	static const char *const name[3] = { "QEMU", "ours", "LRU" };

	for (int i = 0; i < 3; i++) {
		const struct stats *st = side[i];

		if (st->hits + st->misses + st->zero != st->pages)
			fail("%s, %s: hits %" PRIu64 " + misses %" PRIu64 " + zero %" PRIu64
			     " != pages %" PRIu64, t->name, name[i], st->hits, st->misses,
			     st->zero, st->pages);
		if (st->misses < res->first_sends)
			fail("%s, %s: %" PRIu64 " misses, fewer than the %" PRIu64
			     " pages sent for the first time", t->name, name[i],
			     st->misses, res->first_sends);
	}
	if (res->q.pages != res->o.pages || res->q.zero != res->o.zero ||
	    res->l.pages != res->o.pages || res->l.zero != res->o.zero)
		fail("%s: QEMU saw %" PRIu64 " pages (%" PRIu64 " zero), ours %" PRIu64
		     " (%" PRIu64 "), LRU %" PRIu64 " (%" PRIu64 ")", t->name, res->q.pages,
		     res->q.zero, res->o.pages, res->o.zero, res->l.pages, res->l.zero);
	if (t->kind == UNIFORM) {
		/*
		 * A range of W pages sent in address order, every round.  QEMU:
		 * each slot goes to the first of its pages, which then hits
		 * every round and so is never older than 2 rounds: W misses in
		 * the first round, W - C in each later one.  Ours, the same:
		 * the first C pages fill the cache, every later page finds its
		 * tail sent in this round and is refused; from then on the
		 * first C hit (and so stay recent) and the others are refused.
		 * The plain LRU: W <= C all stay; W > C, a cyclic scan, evicts
		 * each page just before it comes round again: every send misses.
		 */
		uint64_t w = (uint64_t)(t->ws * cache_pages);
		uint64_t want_q = w + (rounds - 1) * (w > cache_pages ? w - cache_pages : 0);
		uint64_t want_l = w > cache_pages ? rounds * w : w;

		if (res->q.pages != rounds * w || res->q.misses != want_q ||
		    res->o.misses != want_q || res->l.misses != want_l)
			fail("%s: %" PRIu64 " pages, misses QEMU %" PRIu64 " ours %" PRIu64
			     " LRU %" PRIu64 "; expected %" PRIu64 ", %" PRIu64 ", %" PRIu64
			     " and %" PRIu64, t->name, res->q.pages, res->q.misses,
			     res->o.misses, res->l.misses, rounds * w, want_q, want_q, want_l);
	}
}

static double pct(uint64_t a, uint64_t b)
{
	return b ? 100.0 * a / b : 0;
}

static void print_table(const struct result *res)
{
	printf("\nMiss rate = cache misses / pages sent in the XBZRLE rounds (QEMU's cache-miss-rate);\n"
	       "delta = pages that had a base (a delta, unchanged or an overflow); 1st = pages\n"
	       "sent for the first time, misses under any policy; ours = the module as the\n"
	       "patched QEMU drives it (LRU + age rule, generation = dirty_sync_count); LRU =\n"
	       "the module without generations; ratio = ours / QEMU misses\n");
	printf("%-24s %9s %6s %8s | %-26s | %-26s | %-16s | %s\n", "trace", "pages", "zero",
	       "1st", "QEMU 7.2 direct-mapped", "ours (LRU + generation)", "LRU", "ratio");
	printf("%-24s %9s %6s %8s | %9s %7s %8s | %9s %7s %8s | %9s %6s |\n", "", "", "", "",
	       "misses", "miss%", "delta%", "misses", "miss%", "delta%", "misses", "miss%");
	for (size_t i = 0; i < NTRACES; i++) {
		const struct result *r = &res[i];
		char ratio[16] = "-";

		if (r->q.misses)
			snprintf(ratio, sizeof(ratio), "%.2f", (double)r->o.misses / r->q.misses);
		printf("%-24s %9" PRIu64 " %6" PRIu64 " %8" PRIu64 " | %9" PRIu64 " %6.1f%% %7.1f%%"
		       " | %9" PRIu64 " %6.1f%% %7.1f%% | %9" PRIu64 " %5.1f%% | %s\n",
		       traces[i].name, r->q.pages, r->q.zero, r->first_sends,
		       r->q.misses, pct(r->q.misses, r->q.pages), pct(r->q.hits, r->q.pages),
		       r->o.misses, pct(r->o.misses, r->o.pages), pct(r->o.hits, r->o.pages),
		       r->l.misses, pct(r->l.misses, r->l.pages), ratio);
	}
	printf("\nMiss rates in the second half of the rounds (after the start-up); inserts\n"
	       "refused by the 2-round age rule (the page stays uncached; QEMU's, and ours on\n"
	       "the LRU's tail), misses that took another page's slot (QEMU) and evictions\n"
	       "(all rounds, zero pages included)\n");
	printf("%-24s %10s %9s %9s | %10s %9s %9s | %9s %9s\n", "trace", "QEMU miss%",
	       "refused", "replaced", "ours miss%", "refused", "evicted", "LRU miss%",
	       "evicted");
	for (size_t i = 0; i < NTRACES; i++) {
		const struct result *r = &res[i];

		printf("%-24s %9.1f%% %9" PRIu64 " %9" PRIu64 " | %9.1f%% %9" PRIu64 " %9" PRIu64
		       " | %8.1f%% %9" PRIu64 "\n",
		       traces[i].name, pct(r->q.late_misses, r->q.late_pages), r->q.refused,
		       r->q.evictions, pct(r->o.late_misses, r->o.late_pages), r->o.refused,
		       r->o.evictions, pct(r->l.late_misses, r->l.late_pages), r->l.evictions);
	}
}

/* --- main ---------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f, "usage: xbzrle-cache-sim   (no arguments; environment: BENCH_CACHE_MB,"
		" BENCH_ROUNDS, BENCH_SEED)\n"
		"QEMU 7.2's XBZRLE page cache against the module's LRU, at equal size,"
		" on the traces\nof Documentation/cache-policy.rst\n");
}

int main(int argc, char **argv)
{
	double mb = env_num("xbzrle-cache-sim", "BENCH_CACHE_MB", 64, 0, 1024);
	double rounds_d = env_num("xbzrle-cache-sim", "BENCH_ROUNDS", 30, 1, 10000);
	double seed_d = env_num("xbzrle-cache-sim", "BENCH_SEED", 1, 0, 1e18);
	unsigned int rounds = (unsigned int)rounds_d;
	uint64_t seed = (uint64_t)seed_d;
	uint64_t cache_bytes = (uint64_t)llround(mb * 1048576);
	uint64_t cache_pages = cache_bytes / PAGE;
	struct result res[NTRACES];
	struct timespec t0, t1;
	Error *err = NULL;
	PageCache *probe;
	int n[3] = { 0 };
	char names[3][256] = { "", "", "" };

	if (argc > 1) {
		bool help = !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help");

		usage(help ? stdout : stderr);
		return help ? 0 : 2;
	}
	if (rounds != rounds_d || seed != seed_d) {
		fprintf(stderr, "xbzrle-cache-sim: BENCH_ROUNDS and BENCH_SEED are whole numbers\n");
		return 2;
	}
	/* QEMU's own check of the size: a power-of-two number of pages */
	probe = cache_init(cache_bytes, PAGE, &err);
	if (!probe) {
		fprintf(stderr, "xbzrle-cache-sim: BENCH_CACHE_MB=%g: QEMU's cache_init(): %s\n",
			mb, error_get_pretty(err));
		error_free(err);
		return 2;
	}
	cache_fini(probe);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	setvbuf(stdout, NULL, _IOLBF, 0);

	printf("command: %s   (BENCH_CACHE_MB=%s BENCH_ROUNDS=%s BENCH_SEED=%s)\n", argv[0],
	       getenv("BENCH_CACHE_MB") ?: "", getenv("BENCH_ROUNDS") ?: "",
	       getenv("BENCH_SEED") ?: "");
	printf("cache: %g MiB = %" PRIu64 " pages for both; %u XBZRLE rounds (dirty syncs after"
	       " the first pass); seed %" PRIu64 "\n", mb, cache_pages, rounds, seed);
	printf("QEMU 7.2:  %s (bookworm), migration/page_cache.c, driven as migration/ram.c does\n",
	       QEMU72_VERSION);
	printf("ours: userspace/bench/lru_model.c, kmod/cache.c's LRU at a fixed size"
	       " (no memcg headroom, ceiling or shrinker),\n"
	       "      with generation = dirty_sync_count (the patched QEMU); LRU: the same"
	       " without generations\n");
	printf("\ntraces (a round: the pages written since the last sync, sent in address order):\n");

	for (size_t i = 0; i < NTRACES; i++) {
		run_trace(&traces[i], i, cache_bytes, cache_pages, rounds, seed, &res[i]);
		check(&traces[i], &res[i], cache_pages, rounds);
	}
	printf("  (guest RAM %.0fx the cache, %.0f MiB, in every trace)\n", traces[0].mem,
	       traces[0].mem * cache_bytes / 1048576.0);
	print_table(res);

	/* the skewed traces: ours lower, within 1%, higher */
	for (size_t i = 0; i < NTRACES; i++) {
		double ratio = res[i].q.misses ? (double)res[i].o.misses / res[i].q.misses :
			       res[i].o.misses ? 2 : 1;
		int k = ratio < 0.99 ? 0 : ratio <= 1.01 ? 1 : 2;
		size_t len = strlen(names[k]);

		if (traces[i].kind == UNIFORM)
			continue;
		n[k]++;
		snprintf(names[k] + len, sizeof(names[k]) - len, "%s%s", len ? "; " : "",
			 traces[i].name);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("\nskewed traces, our miss rate against QEMU's: lower on %d (%s), within 1%% on %d"
	       " (%s), higher on %d (%s)\n", n[0], names[0], n[1], names[1], n[2], names[2]);
	printf("consistency checks: %s\n", failures ? "FAILED" : "passed");
	/* not on stdout, which is the same for the same settings */
	fprintf(stderr, "xbzrle-cache-sim: %.2f s\n",
		(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	return failures ? 1 : 0;
}
