// SPDX-License-Identifier: GPL-2.0
/*
 * xbzrle-adapt-sim: the per-page rule of kmod/adapt.h against QEMU 7.2's
 * own XBZRLE and against the offload without the rule, on page-change
 * traces with real page contents.
 *
 * Three senders see the same pages, round after round:
 *  - QEMU: 7.2's migration/page_cache.c and migration/xbzrle.c (bookworm's
 *    source package, fetched by fetch-qemu-xbzrle.sh), driven as
 *    save_xbzrle_page() drives them: a miss inserts the page (the age rule
 *    may refuse it) and goes out whole; a hit is encoded against the
 *    cached copy, which the page then overwrites; an overflow goes out
 *    whole.
 *  - offload: the module's flow of kmod/encode.c (xbzrle_cache_take(),
 *    the record, xbzrle_settle_page()) on lru_model.c, a model of
 *    kmod/cache.c, with the project's codec (kmod/codec/xbzrle.c) and the
 *    generation of every call (KVM_XBZRLE_ENCODE_GENERATION), the rule off
 *    (adapt_overflows 0).
 *  - adapt: the same with the rule on: the functions of kmod/adapt.h
 *    themselves decide, with adapt_overflows and adapt_probe_rounds.
 * Each sender's records are applied to its own destination copy with the
 * project's decoder, and every destination page must equal its source
 * page after every round (exit status 1 otherwise).
 *
 * A round is one dirty sync (generation = round + 1, as QEMU's
 * dirty_sync_count); round 0 is the first pass, every page sent whole
 * without XBZRLE; then every page of the hot set is written and sent in
 * each of BENCH_ROUNDS rounds.  Writes per trace:
 *   dense   every byte of the page changes (fresh random bytes)
 *   sparse  8 random dwords of the page change (the seed's pattern)
 *   mixed   even pages dense, odd pages sparse
 *   switch  dense until half the rounds, then sparse
 *   bursty  sparse, but each page is rewritten whole in one round of 16
 *           (a fixed pseudo-random choice): the price of an overflow
 *           that does not repeat
 *   mixed-small  mixed with a cache of half the hot set: the cache the
 *           rule takes from dense pages goes to sparse ones
 *
 * Figures per trace and sender: bytes that would be sent (a page header
 * of 8 bytes, plus 4096 for a whole page or 1 + 2 + the delta for an
 * XBZRLE page, 0 for an unchanged one, as ram.c counts), encoder
 * invocations, cache pages at the end of each round (peak over all
 * rounds, and mean), and for adapt the first round after the switch from
 * which every page of the switch trace is a delta again.
 *
 * Environment: BENCH_HOT_PAGES (default 4096), BENCH_ROUNDS (default 30),
 * BENCH_SEED (default 1), BENCH_ADAPT_OVERFLOWS and BENCH_ADAPT_PROBE
 * (defaults 2 and 16, the module's parameters' defaults); the cache is
 * twice the hot set unless the trace says otherwise.  The output is the
 * same for the same settings.  Exit status: 0; 1 when a destination
 * differs from its source or a model check fails; 2 on a usage error.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "page_cache.h"		/* QEMU 7.2's, build/bench/qemu72/migration/ */

#include <linux/types.h>
#include "adapt.h"		/* kmod/adapt.h: the rule itself */
#include "xbzrle.h"		/* kmod/codec/xbzrle.h: the project's codec */
#include "lru_model.h"
#include "env_num.h"
#include "xorshift.h"

#define PROG		"xbzrle-adapt-sim"
#define PAGE		4096
#define HDR		8		/* save_page_header() */

int qemu72_xbzrle_encode_buffer(uint8_t *old_buf, uint8_t *new_buf, int slen,
				uint8_t *dst, int dlen);

enum pattern { P_DENSE, P_SPARSE, P_MIXED, P_SWITCH, P_BURSTY };

struct trace {
	const char *name;
	enum pattern pattern;
	double cache;			/* cache size / hot set */
};

static const struct trace traces[] = {
	{ "dense", P_DENSE, 2 },
	{ "sparse", P_SPARSE, 2 },
	{ "mixed", P_MIXED, 2 },
	{ "switch", P_SWITCH, 2 },
	{ "mixed-small", P_MIXED, 0.5 },
	{ "bursty", P_BURSTY, 2 },
};

enum { S_QEMU, S_OFFLOAD, S_ADAPT, NSENDERS };
static const char *const sender_names[NSENDERS] = { "QEMU 7.2", "offload", "adapt" };

struct sender {
	uint8_t *dest;			/* the destination's pages */
	uint64_t bytes, encodes, raw, deltas, unchanged;
	uint64_t skipped, given_back, probes;
	uint64_t cache_peak, cache_sum;
	/* QEMU */
	PageCache *cache;
	uint64_t slots_taken;
	/* offload, adapt */
	struct lru_model m;
	uint8_t *streak;		/* xbzrle_entry.streak, per page */
	uint64_t *marker;		/* probe generation, 0: none */
	uint64_t nr_markers;
	struct xbzrle_adapt a;
	unsigned int back_round;	/* switch: first all-delta round */
};

static unsigned int hot, rounds;
static uint8_t *src;
static uint8_t delta[PAGE];
static int status;

/* The first few failures are told; any makes the exit status 1. */
static void __attribute__((format(printf, 1, 2))) fail(const char *fmt, ...)
{
	static unsigned int told;
	va_list ap;

	status = 1;
	if (++told > 10)
		return;
	va_start(ap, fmt);
	fprintf(stderr, PROG ": ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (!p) {
		fprintf(stderr, PROG ": out of memory\n");
		exit(2);
	}
	return p;
}

static bool dense_write(enum pattern p, unsigned int page, unsigned int round)
{
	switch (p) {
	case P_DENSE:
		return true;
	case P_MIXED:
		return !(page & 1);
	case P_SWITCH:
		return round <= rounds / 2;
	case P_BURSTY:
		return ((page * 0x9e3779b1U + round * 0x85ebca6bU) >> 12) % 16 == 0;
	default:
		return false;
	}
}

static void write_page(uint8_t *pg, bool dense, uint64_t *rng)
{
	uint64_t v;
	unsigned int i;

	if (dense) {
		for (i = 0; i < PAGE; i += 8) {
			v = xorshift64star(rng);
			memcpy(pg + i, &v, 8);
		}
		return;
	}
	for (i = 0; i < 8; i++) {
		v = xorshift64star(rng);
		memcpy(pg + (v % (PAGE / 4)) * 4, &v, 4);
	}
}

/* --- QEMU: save_xbzrle_page() of 7.2, not the last stage ------------------- */

static void qemu_send(struct sender *s, unsigned int page, uint64_t gen)
{
	uint8_t *cur = src + (size_t)page * PAGE, *dst = s->dest + (size_t)page * PAGE;
	uint64_t addr = (uint64_t)page * PAGE;
	uint8_t *prev;
	int len;

	if (!cache_is_cached(s->cache, addr, gen)) {
		bool taken = get_cached_data(s->cache, addr);

		if (cache_insert(s->cache, addr, cur, gen) == 0 && !taken)
			s->slots_taken++;
		goto raw;
	}
	prev = get_cached_data(s->cache, addr);
	len = qemu72_xbzrle_encode_buffer(prev, cur, PAGE, delta, PAGE);
	s->encodes++;
	if (len == 0) {
		s->unchanged++;
		return;
	}
	memcpy(prev, cur, PAGE);
	if (len < 0)
		goto raw;
	if (xbzrle_decode(delta, len, dst, PAGE) < 0)
		fail("QEMU's delta of page %u does not decode", page);
	s->bytes += HDR + 1 + 2 + len;
	s->deltas++;
	return;
raw:
	memcpy(dst, cur, PAGE);
	s->bytes += HDR + PAGE;
	s->raw++;
}

/* --- the module: xbzrle_encode_page() and xbzrle_settle_page() --------------- */

static void module_send(struct sender *s, unsigned int page, uint64_t gen)
{
	uint8_t *cur = src + (size_t)page * PAGE, *dst = s->dest + (size_t)page * PAGE;
	struct xbzrle_adapt_page pg = { 0 };
	bool overflowed = false;
	unsigned int streak;
	int len = -1;

	/* xbzrle_cache_take() */
	if (lru_model_cached(&s->m, page)) {
		pg.base = true;
		pg.streak = s->streak[page];
	} else if (s->marker[page]) {
		xbzrle_adapt_marker(&s->a, s->marker[page], gen, &pg);
		if (!pg.skip) {
			s->marker[page] = 0;
			s->nr_markers--;
		}
	}
	/* the record; the base is what the destination holds */
	if (pg.base) {
		len = xbzrle_encode(dst, cur, PAGE, delta, PAGE);
		s->encodes++;
		overflowed = len < 0;
	}
	if (pg.base && len == 0) {
		s->unchanged++;
	} else if (pg.base && len > 0) {
		if (xbzrle_decode(delta, len, dst, PAGE) < 0)
			fail("the module's delta of page %u does not decode", page);
		s->bytes += HDR + 1 + 2 + len;
		s->deltas++;
	} else {
		memcpy(dst, cur, PAGE);
		s->bytes += HDR + PAGE;
		s->raw++;
	}

	/* xbzrle_settle_page() */
	s->probes += pg.probe;
	switch (xbzrle_adapt_settle(&s->a, &pg, pg.base && len == 0, overflowed,
				    &streak)) {
	case XBZRLE_SETTLE_NOTHING:
		s->skipped++;
		break;
	case XBZRLE_SETTLE_KEEP:
		lru_model_send_gen(&s->m, page, gen);	/* untake(sent) */
		s->streak[page] = 0;
		break;
	case XBZRLE_SETTLE_GIVE_BACK:
		lru_model_drop(&s->m, page);
		if (s->nr_markers < s->m.max_pages) {
			s->marker[page] = xbzrle_adapt_probe_gen(&s->a, gen);
			s->nr_markers++;
		}
		s->given_back++;
		break;
	case XBZRLE_SETTLE_COMMIT:
		lru_model_send_gen(&s->m, page, gen);
		s->streak[page] = streak;
		break;
	}
}

/* --- one trace ----------------------------------------------------------------- */

static void run_trace(const struct trace *t, uint64_t seed, unsigned int overflows,
		      unsigned int probe, struct sender *out)
{
	uint64_t cache_pages = (uint64_t)(hot * t->cache);
	uint64_t rng = seed * 0x9e3779b97f4a7c15ULL + 1;
	unsigned int r, p, i;
	Error *err = NULL;

	src = xcalloc(hot, PAGE);
	for (i = 0; i < NSENDERS; i++) {
		struct sender *s = &out[i];

		memset(s, 0, sizeof(*s));
		s->dest = xcalloc(hot, PAGE);
		if (i == S_QEMU) {
			/* cache_init() wants a power of two number of pages */
			uint64_t n = 1;

			while (n * 2 <= cache_pages)
				n *= 2;
			s->cache = cache_init(n * PAGE, PAGE, &err);
			if (!s->cache) {
				fprintf(stderr, PROG ": QEMU's cache_init(%" PRIu64 " pages) failed\n", n);
				exit(2);
			}
			continue;
		}
		if (lru_model_init(&s->m, cache_pages)) {
			fprintf(stderr, PROG ": out of memory\n");
			exit(2);
		}
		s->streak = xcalloc(hot, 1);
		s->marker = xcalloc(hot, sizeof(*s->marker));
		s->a.overflows = i == S_ADAPT ? overflows : 0;
		s->a.probe_rounds = probe;
	}

	for (r = 0; r <= rounds; r++) {
		uint64_t gen = r + 1;
		bool all_deltas = true;

		for (p = 0; p < hot; p++)
			write_page(src + (size_t)p * PAGE, r == 0 || dense_write(t->pattern, p, r),
				   &rng);
		for (i = 0; i < NSENDERS; i++) {
			struct sender *s = &out[i];
			uint64_t raw0 = s->raw, cached;

			for (p = 0; p < hot; p++) {
				if (r == 0) {	/* the first pass: no XBZRLE */
					memcpy(s->dest + (size_t)p * PAGE, src + (size_t)p * PAGE, PAGE);
					s->bytes += HDR + PAGE;
				} else if (i == S_QEMU) {
					qemu_send(s, p, gen);
				} else {
					module_send(s, p, gen);
				}
			}
			if (memcmp(s->dest, src, (size_t)hot * PAGE))
				fail("%s, %s: the destination differs after round %u",
				     t->name, sender_names[i], r);
			if (i != S_QEMU && lru_model_check(&s->m))
				fail("%s, %s: lru_model broken", t->name, sender_names[i]);
			if (r == 0)
				continue;
			cached = i == S_QEMU ? s->slots_taken : s->m.nr_pages;
			s->cache_sum += cached;
			if (cached > s->cache_peak)
				s->cache_peak = cached;
			all_deltas = s->raw == raw0;
			if (i == S_ADAPT && t->pattern == P_SWITCH && r > rounds / 2 &&
			    all_deltas && !s->back_round)
				s->back_round = r;
		}
	}
	for (i = 0; i < NSENDERS; i++) {
		free(out[i].dest);
		if (i == S_QEMU) {
			cache_fini(out[i].cache);
		} else {
			lru_model_destroy(&out[i].m);
			free(out[i].streak);
			free(out[i].marker);
		}
	}
	free(src);
}

static double pct_less(uint64_t ours, uint64_t theirs)
{
	return theirs ? 100.0 * ((double)theirs - (double)ours) / (double)theirs : 0;
}

int main(int argc, char **argv)
{
	unsigned int overflows, probe, seed;
	struct sender res[NSENDERS];
	size_t t;
	int i;

	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "usage: " PROG " (settings in the environment, see the source)\n");
		return 2;
	}
	hot = (unsigned int)env_num(PROG, "BENCH_HOT_PAGES", 4096, 64, 1 << 20);
	rounds = (unsigned int)env_num(PROG, "BENCH_ROUNDS", 30, 2, 10000);
	seed = (unsigned int)env_num(PROG, "BENCH_SEED", 1, 0, 1e9);
	overflows = (unsigned int)env_num(PROG, "BENCH_ADAPT_OVERFLOWS", 2, 0,
					  XBZRLE_ADAPT_STREAK_MAX);
	probe = (unsigned int)env_num(PROG, "BENCH_ADAPT_PROBE", 16, 0, 1e6);

	printf("xbzrle-adapt-sim: %u hot pages, %u rounds after the first pass, seed %u;"
	       " rule: adapt_overflows %u, adapt_probe_rounds %u\n",
	       hot, rounds, seed, overflows, probe);
	printf("%-12s %-9s %12s %9s %8s %8s %8s %9s %9s %9s\n", "trace", "sender",
	       "bytes", "encodes", "deltas", "raw", "same", "cachepeak", "cachemean",
	       "skipped");
	for (t = 0; t < sizeof(traces) / sizeof(traces[0]); t++) {
		run_trace(&traces[t], seed, overflows, probe, res);
		for (i = 0; i < NSENDERS; i++)
			printf("%-12s %-9s %12" PRIu64 " %9" PRIu64 " %8" PRIu64 " %8" PRIu64
			       " %8" PRIu64 " %9" PRIu64 " %9.0f %9" PRIu64 "\n",
			       traces[t].name, sender_names[i], res[i].bytes, res[i].encodes,
			       res[i].deltas, res[i].raw, res[i].unchanged, res[i].cache_peak,
			       (double)res[i].cache_sum / rounds, res[i].skipped);
		printf("%-12s adapt against offload: bytes %+.2f%%, encodes -%.1f%%,"
		       " cache mean -%.1f%%; given back %" PRIu64 ", probes %" PRIu64,
		       traces[t].name,
		       -pct_less(res[S_ADAPT].bytes, res[S_OFFLOAD].bytes),
		       pct_less(res[S_ADAPT].encodes, res[S_OFFLOAD].encodes),
		       pct_less(res[S_ADAPT].cache_sum, res[S_OFFLOAD].cache_sum),
		       res[S_ADAPT].given_back, res[S_ADAPT].probes);
		if (traces[t].pattern == P_SWITCH) {
			if (res[S_ADAPT].back_round)
				printf("; all deltas again from round %u (switch after %u)",
				       res[S_ADAPT].back_round, rounds / 2);
			else
				printf("; never all deltas again after round %u", rounds / 2);
		}
		printf("\n");
	}
	return status;
}
