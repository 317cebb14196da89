// SPDX-License-Identifier: GPL-2.0
/*
 * xbzrle-bench: the project's XBZRLE encoder and per-page path against
 * QEMU's, in one process.
 *
 * Encoders: QEMU 7.2's migration/xbzrle.c (bookworm, plain C), QEMU 10.0's
 * (trixie: its plain encoder and its AVX-512BW one, called directly), and
 * every variant of kmod/codec/xbzrle.c the module can select on this CPU.
 * Per-page paths: what the module does per page (copy the live page into
 * the spare page, zero check, encode against the base, the snapshot
 * becomes the base) and what QEMU's save_zero_page + save_xbzrle_page do
 * (buffer_is_zero, copy into current_buf, encode, copy into the cache).
 *
 * Every encoder's return value and bytes are checked against QEMU 7.2's
 * plain encoder on every page of every workload, both directions, before
 * anything is timed; timed passes check the sum of their return values.
 * Exit status 1 on any difference (or on an encoder of ours writing past
 * dlen), 0 otherwise.
 *
 * Environment: BENCH_REPS (default 7, at least 5 for a median worth the
 * name), BENCH_SECONDS (seconds of timed passes over all, in the
 * clock below, default 45), BENCH_SEED
 * (data), BENCH_CLOCK=wall (wall-clock instead of thread CPU time).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "xbzrle.h"
#include "xbzrle_variants.h"
#include "env_num.h"
#include "xorshift.h"
#include "qemu100_glue.h"

#define PAGE		4096
#define DLEN		4096	/* QEMU passes TARGET_PAGE_SIZE; the module max_delta */
#define SLACK		64	/* canary bytes after dlen */
#define CANARY		0xa5
#define ZERO_PAGE	(-2)	/* "return value" of a path for a zero page */

#define L2_SET		(512u << 10)
#define DRAM_SET	(64u << 20)

#ifndef QEMU72_VERSION
#define QEMU72_VERSION "?"
#endif
#ifndef QEMU100_VERSION
#define QEMU100_VERSION "?"
#endif

typedef int (*enc_fn)(uint8_t *old_buf, uint8_t *new_buf, int slen,
		      uint8_t *dst, int dlen);

/* QEMU's, renamed by the Makefile */
int qemu72_xbzrle_encode_buffer(uint8_t *old_buf, uint8_t *new_buf, int slen,
				uint8_t *dst, int dlen);
int qemu100_xbzrle_encode_buffer(uint8_t *old_buf, uint8_t *new_buf, int slen,
				 uint8_t *dst, int dlen);

/*
 * Ours: every variant of xbzrle_variants.c (the module's encoders), with
 * QEMU's signature and -1 for -ENOSPC.  Called through the table, as
 * QEMU 10.0 calls its encoder through a function pointer.
 */
static int ours_call(size_t v, uint8_t *old_buf, uint8_t *new_buf, int slen,
		     uint8_t *dst, int dlen)
{
	int ret = xbzrle_variants[v].encode(old_buf, new_buf, slen, dst, dlen);

	return ret == -ENOSPC ? -1 : ret;
}

#define OURS_VARIANT(v)								\
static int ours_##v(uint8_t *old_buf, uint8_t *new_buf, int slen,		\
		    uint8_t *dst, int dlen)					\
{										\
	return ours_call(v, old_buf, new_buf, slen, dst, dlen);			\
}
OURS_VARIANT(0)
OURS_VARIANT(1)
OURS_VARIANT(2)
#define NOURS 3		/* at least xbzrle_nr_variants */

static bool always(void) { return true; }
static bool has_avx512bw(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512bw");
}

struct variant {
	char name[32];		/* column heading, two words */
	enc_fn fn;
	bool (*usable)(void);	/* QEMU's; ours: xbzrle_variant_usable() */
	int ours_idx;		/* index in xbzrle_variants, or -1 */
	bool avail;
};

/*
 * The encoders.  The first is the reference.  Ours: one entry per
 * variant in xbzrle_variants.c (the module's, kmod/codec/encoder.c), named
 * "ours <variant>"; filled in by main().
 */
static struct variant encoders[] = {
	{ .name = "QEMU7.2 plain", .fn = qemu72_xbzrle_encode_buffer, .usable = always, .ours_idx = -1 },
	{ .name = "QEMU10.0 plain", .fn = qemu100_encode_plain, .usable = always, .ours_idx = -1 },
	{ .name = "QEMU10.0 AVX-512", .fn = qemu100_encode_avx512, .usable = has_avx512bw, .ours_idx = -1 },
	{ .fn = ours_0, .ours_idx = 0 },
	{ .fn = ours_1, .ours_idx = 1 },
	{ .fn = ours_2, .ours_idx = 2 },
};
#define NENC (sizeof(encoders) / sizeof(encoders[0]))
#define AVX512 2	/* QEMU 10.0 AVX-512, the other column ours are compared with */

enum path_kind { PATH_QEMU, PATH_OURS };

struct path {
	const char *name;
	enum path_kind kind;
	enc_fn fn;
	bool (*usable)(void);
	bool avail;
};

/* the QEMU paths, then one path per encoder of ours (set up in main) */
static struct path paths[2 + NENC] = {
	{ .name = "QEMU7.2", .kind = PATH_QEMU, .fn = qemu72_xbzrle_encode_buffer, .usable = always },
	/* QEMU 10.0 through its run-time selection, as ram.c calls it */
	{ .name = "QEMU10.0", .kind = PATH_QEMU, .fn = qemu100_xbzrle_encode_buffer, .usable = always },
};
static size_t NPATH = 2;

/* --- workloads ------------------------------------------------------------ */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	return xorshift64star(&rng_state);
}

static void fill_random(uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = rnd();

		memcpy(p + i, &v, 8);
	}
}

/* a different value for one byte */
static uint8_t flip(uint8_t v)
{
	return v ^ (uint8_t)(1 + rnd() % 255);
}

static void gen_per_kib(uint8_t *a, uint8_t *b)
{
	for (int k = 0; k < PAGE; k += 1024) {
		int i = k + rnd() % 1024;

		b[i] = flip(a[i]);
	}
}

static void gen_per_page(uint8_t *a, uint8_t *b)
{
	int i = rnd() % PAGE;

	b[i] = flip(a[i]);
}

static void gen_10pct(uint8_t *a, uint8_t *b)
{
	int n = 0;

	/* exactly 10% of the bytes (410), at distinct random positions */
	while (n < PAGE / 10) {
		int i = rnd() % PAGE;

		if (a[i] == b[i]) {
			b[i] = flip(a[i]);
			n++;
		}
	}
}

static void gen_all(uint8_t *a, uint8_t *b)
{
	for (int i = 0; i < PAGE; i++)
		b[i] = flip(a[i]);
}

static void gen_same(uint8_t *a, uint8_t *b)
{
	(void)a;
	(void)b;
}

static void gen_random(uint8_t *a, uint8_t *b)
{
	(void)a;
	fill_random(b, PAGE);
}

struct workload {
	const char *name;
	void (*gen)(uint8_t *a, uint8_t *b);	/* b starts as a copy of a */
};

static const struct workload workloads[] = {
	{ "1 byte per KiB (seed)", gen_per_kib },
	{ "1 byte per page", gen_per_page },
	{ "10% bytes at random", gen_10pct },
	{ "every byte changed", gen_all },
	{ "identical pages", gen_same },
	{ "random vs random", gen_random },
};
#define NWL (sizeof(workloads) / sizeof(workloads[0]))
#define SEED 0		/* workloads[] index of the seed load */
#define IDENTICAL 4	/* ... of identical pages, compared with memcmp */

/*
 * A pass over the L2 set reads 0.5 MiB, but each pass takes the next of
 * L2_WINDOWS windows of distinct pages, read once (untimed) just before
 * it.  Passes over the same 64 page pairs again and again let the branch
 * predictor learn where their bytes differ: 10% random ran 25% faster on
 * 64 pages repeated than on 512 distinct ones, for QEMU's encoders and
 * ours alike, and a migration never sends the same change twice.  The
 * DRAM set (8192 page pairs) is too large for that.
 */
#define L2_WINDOWS	32

static const struct {
	const char *name;
	size_t bytes;		/* read by one pass */
	unsigned int windows;	/* of distinct pages, one per pass in turn */
} sets[] = {
	{ "L2", L2_SET, L2_WINDOWS },
	{ "DRAM", DRAM_SET, 1 },
};
#define NSET 2

/*
 * One workload on one working set: N page pairs A[i], B[i] (the working
 * set is both), and for the paths a cache of N pages plus a spare, in
 * which base[i] holds what was sent last for page i.  The paths send B
 * over A, then A over B, and so on: cur says which the cache holds.  The
 * L2 set has that for each of its windows; a pass uses window win.
 */
struct cell {
	int wl, set;
	size_t n;		/* page pairs a pass reads */
	unsigned int nwin, win;
	size_t total;		/* n * nwin */
	uint8_t *a, *b;
	uint8_t *pool, **base, *spare;
	uint8_t *cur;		/* per window; 0: cache holds A, 1: cache holds B */
	long long (*ref_sum)[2];	/* per window, sum of QEMU 7.2's returns, A->B and B->A */
	long long delta_bytes, ovf, same;	/* A->B, all windows */
};

/* index of the first page of the pass's window */
static size_t first(const struct cell *c)
{
	return (size_t)c->win * c->n;
}

static struct cell cells[NWL][NSET];

static void *alloc_pages(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	return p;
}

static void setup_cell(struct cell *c, int wl, int set)
{
	c->wl = wl;
	c->set = set;
	c->n = sets[set].bytes / (2 * PAGE);
	c->nwin = sets[set].windows;
	c->total = c->n * c->nwin;
	c->a = alloc_pages(c->total * PAGE);
	c->b = alloc_pages(c->total * PAGE);
	c->pool = alloc_pages((c->total + 1) * PAGE);
	c->base = calloc(c->total, sizeof(*c->base));
	c->cur = calloc(c->nwin, sizeof(*c->cur));
	c->ref_sum = calloc(c->nwin, sizeof(*c->ref_sum));
	if (!c->base || !c->cur || !c->ref_sum)
		exit(2);
	fill_random(c->a, c->total * PAGE);
	memcpy(c->b, c->a, c->total * PAGE);
	for (size_t i = 0; i < c->total; i++) {
		workloads[wl].gen(c->a + i * PAGE, c->b + i * PAGE);
		c->base[i] = c->pool + i * PAGE;
		memcpy(c->base[i], c->a + i * PAGE, PAGE);
	}
	c->spare = c->pool + c->total * PAGE;
}

/* --- the per-page paths ------------------------------------------------------ */

/* The kernel's memchr_inv(p, 0, len) == NULL, for the module's zero check. */
static bool ours_page_is_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)p;

	for (size_t i = 0; i < PAGE / 8; i++)
		if (w[i])
			return false;
	return true;
}

/*
 * Stand-in for QEMU's buffer_is_zero() (util/bufferiszero.c, not built
 * here): both stop at the first non-zero vector, which for the pages of
 * these workloads is the first one.
 */
static bool qemu_buffer_is_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)p;

	if (w[0] | w[PAGE / 8 - 1])
		return false;
	for (size_t i = 0; i < PAGE / 8; i += 8) {
		uint64_t t = w[i] | w[i + 1] | w[i + 2] | w[i + 3] |
			     w[i + 4] | w[i + 5] | w[i + 6] | w[i + 7];
		if (t)
			return false;
	}
	return true;
}

static uint8_t *qemu_current_buf, *qemu_encoded_buf, *ours_delta;

/* kmod/encode.c xbzrle_encode_page() for page i, without the ioctl around it */
static inline int ours_step(struct cell *c, size_t i, const uint8_t *live,
			    enc_fn enc)
{
	uint8_t *snap = c->spare;
	int ret;

	memcpy(snap, live, PAGE);		/* copy_from_user into the spare */
	if (ours_page_is_zero(snap))
		ret = ZERO_PAGE;
	else
		ret = enc(c->base[i], snap, PAGE, ours_delta, DLEN);
	/* the snapshot becomes the base; unchanged, the base already holds it */
	if (ret != 0) {
		c->spare = c->base[i];
		c->base[i] = snap;
	}
	return ret;
}

/* QEMU's ram.c: save_zero_page, then save_xbzrle_page (not last stage) */
static inline int qemu_step(struct cell *c, size_t i, const uint8_t *live,
			    enc_fn enc)
{
	uint8_t *cached = c->base[i];
	int ret;

	if (qemu_buffer_is_zero(live)) {
		memset(cached, 0, PAGE);	/* xbzrle_cache_zero_page */
		return ZERO_PAGE;
	}
	memcpy(qemu_current_buf, live, PAGE);
	ret = enc(cached, qemu_current_buf, PAGE, qemu_encoded_buf, DLEN);
	if (ret != 0)
		memcpy(cached, qemu_current_buf, PAGE);
	return ret;
}

static long long path_pass(struct cell *c, const struct path *p)
{
	const uint8_t *live = c->cur[c->win] ? c->a : c->b;
	size_t i0 = first(c);
	long long sum = 0;

	if (p->kind == PATH_OURS)
		for (size_t i = i0; i < i0 + c->n; i++)
			sum += ours_step(c, i, live + i * PAGE, p->fn);
	else
		for (size_t i = i0; i < i0 + c->n; i++)
			sum += qemu_step(c, i, live + i * PAGE, p->fn);
	c->cur[c->win] ^= 1;
	return sum;
}

static long long enc_pass(struct cell *c, enc_fn fn, uint8_t *dst)
{
	size_t i0 = first(c);
	long long sum = 0;

	for (size_t i = i0; i < i0 + c->n; i++)
		sum += fn(c->a + i * PAGE, c->b + i * PAGE, PAGE, dst, DLEN);
	return sum;
}

static uint8_t *memcpy_src[NSET], *memcpy_dst[NSET];

/* glibc's memcmp over the identical pages: the floor for "unchanged" */
static long long memcmp_pass(struct cell *c)
{
	size_t i0 = first(c);
	long long sum = 0;

	for (size_t i = i0; i < i0 + c->n; i++)
		sum += memcmp(c->a + i * PAGE, c->b + i * PAGE, PAGE) != 0;
	return sum;
}

static long long memcpy_pass(int set)
{
	size_t n = sets[set].bytes / (2 * PAGE);

	for (size_t i = 0; i < n; i++)
		memcpy(memcpy_dst[set] + i * PAGE, memcpy_src[set] + i * PAGE, PAGE);
	return 0;
}

/* --- checks ---------------------------------------------------------------- */

static int failures;
static int qemu_overruns[NENC];

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...)
{
	va_list ap;

	if (++failures > 20)
		return;
	va_start(ap, fmt);
	fputs("MISMATCH: ", stdout);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void check_one(const struct cell *c, int dir, size_t i, const char *who,
		      int ret, const uint8_t *out, int ref, const uint8_t *refout)
{
	if (ret == ref && (ret <= 0 || !memcmp(out, refout, ret)))
		return;
	if (ret != ref) {
		report("%s, %s, %s set, %s, page %zu: returned %d, QEMU 7.2 plain %d",
		       who, workloads[c->wl].name, sets[c->set].name,
		       dir ? "B->A" : "A->B", i, ret, ref);
	} else {
		int k = 0;

		while (out[k] == refout[k])
			k++;
		report("%s, %s, %s set, %s, page %zu: %d bytes, first difference at byte %d",
		       who, workloads[c->wl].name, sets[c->set].name,
		       dir ? "B->A" : "A->B", i, ret, k);
	}
}

/* Every encoder on every page of the cell, both directions. */
static void verify_encoders(struct cell *c)
{
	static uint8_t ref[DLEN + SLACK], out[DLEN + SLACK];

	for (int dir = 0; dir < 2; dir++) {
		uint8_t *olds = dir ? c->b : c->a, *news = dir ? c->a : c->b;

		for (size_t i = 0; i < c->total; i++) {
			uint8_t *o = olds + i * PAGE, *nw = news + i * PAGE;
			int r = encoders[0].fn(o, nw, PAGE, ref, DLEN);

			c->ref_sum[i / c->n][dir] += r;
			if (!dir) {
				c->delta_bytes += r > 0 ? r : 0;
				c->ovf += r < 0;
				c->same += r == 0;
			}
			for (size_t v = 1; v < NENC; v++) {
				int ret;

				if (!encoders[v].avail)
					continue;
				memset(out, CANARY, sizeof(out));
				ret = encoders[v].fn(o, nw, PAGE, out, DLEN);
				check_one(c, dir, i, encoders[v].name, ret, out, r, ref);
				for (int k = DLEN; k < DLEN + SLACK; k++) {
					if (out[k] == CANARY)
						continue;
					if (encoders[v].ours_idx >= 0)
						report("%s, %s, %s set, page %zu: wrote past dlen",
						       encoders[v].name, workloads[c->wl].name,
						       sets[c->set].name, i);
					else
						qemu_overruns[v]++;
					break;
				}
			}
		}
	}
}

/*
 * Every path over every page of the cell, both directions: each page's
 * encoder output must be QEMU 7.2's for the base it had, and afterwards
 * the cache must hold the page as sent.
 */
static void verify_paths(struct cell *c)
{
	static uint8_t ref[DLEN + SLACK];

	for (size_t p = 0; p < NPATH; p++) {
		if (!paths[p].avail)
			continue;
		for (int pass = 0; pass < 2 * (int)c->nwin; pass++) {
			unsigned int w = pass % c->nwin;
			int dir = c->cur[w];
			const uint8_t *live = dir ? c->a : c->b;

			for (size_t i = w * c->n; i < (w + 1) * c->n; i++) {
				const uint8_t *lp = live + i * PAGE;
				int r, ret;

				r = qemu72_xbzrle_encode_buffer(c->base[i], (uint8_t *)lp,
								PAGE, ref, DLEN);
				if (paths[p].kind == PATH_OURS) {
					ret = ours_step(c, i, lp, paths[p].fn);
					check_one(c, dir, i, paths[p].name, ret, ours_delta, r, ref);
				} else {
					ret = qemu_step(c, i, lp, paths[p].fn);
					check_one(c, dir, i, paths[p].name, ret,
						  qemu_encoded_buf, r, ref);
				}
				if (memcmp(c->base[i], lp, PAGE))
					report("%s, %s, %s set, page %zu: cache does not hold the page sent",
					       paths[p].name, workloads[c->wl].name,
					       sets[c->set].name, i);
			}
			c->cur[w] ^= 1;
		}
	}
}

/* --- timing ------------------------------------------------------------------ */

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double now(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

/*
 * Timed passes are measured in this thread's CPU time by default: the
 * machines are shared, and time spent preempted is not the code's.
 * BENCH_CLOCK=wall measures wall-clock time instead.
 */
static clockid_t bench_clock = CLOCK_THREAD_CPUTIME_ID;
static double timed_cpu, timed_wall;

enum kind { K_ENC, K_PATH, K_MEMCPY, K_MEMCMP };

struct meas {
	enum kind kind;
	struct cell *c;
	int set;
	size_t idx;		/* encoder or path */
	unsigned int iters;
	double *t;		/* seconds per pass, one per rep */
	double bytes;		/* input bytes per pass */
};

static uint8_t *timed_dst;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *t, int n)
{
	double s[n];

	memcpy(s, t, sizeof(s));
	qsort(s, n, sizeof(double), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* One pass of @m over the cell's window; adds QEMU 7.2's sum for it to @want. */
static long long pass(struct meas *m, long long *want)
{
	struct cell *c = m->c;

	switch (m->kind) {
	case K_ENC:
		*want += c->ref_sum[c->win][0];
		return enc_pass(c, encoders[m->idx].fn, timed_dst);
	case K_PATH:
		*want += c->ref_sum[c->win][c->cur[c->win]];
		return path_pass(c, &paths[m->idx]);
	case K_MEMCPY:
		return memcpy_pass(m->set);
	case K_MEMCMP:
		return memcmp_pass(c);
	}
	return 0;
}

static volatile uint64_t warm_sink;

/* Reads a line of each page the next pass reads (the window's). */
static void warm(const struct meas *m)
{
	const struct cell *c = m->c;
	const uint8_t *live = c->cur[c->win] ? c->a : c->b;
	size_t i0 = first(c);
	uint64_t x = 0;

	for (size_t i = i0; i < i0 + c->n; i++) {
		const uint8_t *p = m->kind == K_PATH ? live + i * PAGE : c->a + i * PAGE;
		const uint8_t *q = m->kind == K_PATH ? c->base[i] : c->b + i * PAGE;

		for (size_t k = 0; k < PAGE; k += 64)
			x += *(const uint64_t *)(p + k) + *(const uint64_t *)(q + k);
	}
	if (m->kind == K_PATH)
		for (size_t k = 0; k < PAGE; k += 64)
			x += *(const uint64_t *)(c->spare + k);
	warm_sink = x;
}

/*
 * @iters passes; returns seconds per pass; checks the sums.  A cell with
 * windows (the L2 set) moves to the next window and reads it before each
 * pass, untimed, so each pass is timed on its own: with CLOCK_MONOTONIC
 * (read in the vDSO, ~25 ns; the thread CPU clock is a system call,
 * ~0.5 us, too much next to a 10 us pass), and the median pass stands
 * for the @iters, which keeps a pass that was preempted out of it.
 */
static double run(struct meas *m, unsigned int iters)
{
	bool windows = m->c->nwin > 1 && m->kind != K_MEMCPY;
	double w0 = now(), c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
	double t0, t, *per_pass = NULL;
	long long sum = 0, want = 0;

	if (windows) {
		per_pass = malloc(iters * sizeof(*per_pass));
		if (!per_pass)
			exit(2);
		for (unsigned int k = 0; k < iters; k++) {
			m->c->win = (m->c->win + 1) % m->c->nwin;
			warm(m);
			t0 = now();
			sum += pass(m, &want);
			per_pass[k] = now() - t0;
		}
		t = median(per_pass, iters);
		free(per_pass);
	} else {
		t0 = clock_s(bench_clock);
		for (unsigned int k = 0; k < iters; k++)
			sum += pass(m, &want);
		t = (clock_s(bench_clock) - t0) / iters;
	}
	timed_cpu += clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
	timed_wall += now() - w0;
	if (sum != want)
		report("%s, %s, %s set: timed passes returned %lld in all, QEMU 7.2 plain %lld",
		       m->kind == K_ENC ? encoders[m->idx].name : paths[m->idx].name,
		       workloads[m->c->wl].name, sets[m->c->set].name, sum, want);
	return t;
}

/* --- machine ------------------------------------------------------------------ */

static void print_loadavg(const char *when)
{
	FILE *f = fopen("/proc/loadavg", "r");
	char line[256];

	if (f && fgets(line, sizeof(line), f))
		printf("load average at %s: %s", when, line);
	if (f)
		fclose(f);
}

static void print_machine(int argc, char **argv)
{
	char line[4096], model[256] = "?";
	bool avx2 = false, avx512bw = false;
	struct utsname u;
	FILE *f;

	printf("command:");
	for (int i = 0; i < argc; i++)
		printf(" %s", argv[i]);
	printf("   (BENCH_REPS=%s BENCH_SECONDS=%s BENCH_SEED=%s BENCH_CLOCK=%s)\n",
	       getenv("BENCH_REPS") ?: "", getenv("BENCH_SECONDS") ?: "",
	       getenv("BENCH_SEED") ?: "", getenv("BENCH_CLOCK") ?: "");
	f = fopen("/proc/cpuinfo", "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "model name", 10) && model[0] == '?')
			sscanf(line, "model name : %255[^\n]", model);
		if (!strncmp(line, "flags", 5)) {
			avx2 = strstr(line, " avx2 ") || strstr(line, " avx2\n");
			avx512bw = strstr(line, " avx512bw ") || strstr(line, " avx512bw\n");
		}
	}
	if (f)
		fclose(f);
	uname(&u);
	printf("cpu: %s, %ld online; avx2 %s, avx512bw %s\n", model,
	       sysconf(_SC_NPROCESSORS_ONLN), avx2 ? "yes" : "no",
	       avx512bw ? "yes" : "no");
	printf("caches (cpu0):");
	for (int i = 0; i < 8; i++) {
		char path[128], level[16] = "", type[32] = "", size[32] = "";

		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
		if (!(f = fopen(path, "r")))
			break;
		if (!fscanf(f, "%15s", level))
			level[0] = 0;
		fclose(f);
		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
		if ((f = fopen(path, "r"))) {
			if (!fscanf(f, "%31s", type))
				type[0] = 0;
			fclose(f);
		}
		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
		if ((f = fopen(path, "r"))) {
			if (!fscanf(f, "%31s", size))
				size[0] = 0;
			fclose(f);
		}
		printf(" L%s%s %s", level, !strcmp(type, "Data") ? "d" :
		       !strcmp(type, "Instruction") ? "i" : "", size);
	}
	printf("\nkernel: %s %s; compiler: gcc %s\n", u.sysname, u.release, __VERSION__);
	print_loadavg("start");
	printf("QEMU 7.2:  %s (bookworm), migration/xbzrle.c\n", QEMU72_VERSION);
	printf("QEMU 10.0: %s (trixie), migration/xbzrle.c; its run-time selection picked %s\n",
	       QEMU100_VERSION, qemu100_selected_avx512() ? "AVX-512BW" : "plain C");
	printf("ours: kmod/codec/xbzrle*.c built with the kernel's x86 flags (-O2 -mno-sse ... -mno-avx;"
	       " the SIMD variants enable AVX2 / AVX-512BW by target attribute)\n");
}

/* --- main ------------------------------------------------------------------------ */

static void cell_label(char *buf, size_t len, const struct cell *c)
{
	snprintf(buf, len, "%-22s %-4s", workloads[c->wl].name, sets[c->set].name);
}

static const char *delta_desc(const struct cell *c, char *buf, size_t len)
{
	long long n = c->total;

	if (c->same == n)
		snprintf(buf, len, "unchanged");
	else if (c->ovf == n)
		snprintf(buf, len, "overflow");
	else if (c->ovf)
		snprintf(buf, len, "%lld B,%lld%%ovf", c->delta_bytes / (n - c->ovf),
			 100 * c->ovf / n);
	else
		snprintf(buf, len, "%lld B", c->delta_bytes / n);
	return buf;
}

/* A table row's first two columns: the workload and set, the delta per page. */
static void print_row_head(const struct cell *c)
{
	char label[64], dd[32];

	cell_label(label, sizeof(label), c);
	printf("%-27s %-15s", label, delta_desc(c, dd, sizeof(dd)));
}

static double median_gbs(const struct meas *m, size_t nm, int reps, enum kind kind,
			 const struct cell *c, size_t idx)
{
	bool by_idx = kind == K_ENC || kind == K_PATH;

	for (size_t k = 0; k < nm; k++)
		if (m[k].kind == kind && m[k].c == c && (!by_idx || m[k].idx == idx))
			return m[k].bytes / median(m[k].t, reps) / 1e9;
	return 0;
}

/*
 * Bytes each path moves between the core and DRAM per page when the
 * working set is out of cache: QEMU reads the live page and the cache
 * page and writes the cache page back unless the page is unchanged; the
 * module reads the live page and the base and writes the snapshot back
 * (the spare it is copied into is the base read for the previous page,
 * still in cache) unless the page is unchanged, when the snapshot stays
 * the spare.  Zero pages: QEMU reads the live page and writes the cache
 * page; the module reads the live page, writes the snapshot back, and
 * drops the base.
 */
static double dram_bytes_per_page(const struct cell *c)
{
	double changed = (double)(c->total - c->same) / c->total;

	return 2 * PAGE + changed * PAGE;
}

static void report_references(const struct meas *m, size_t nm, int reps)
{
	double copy[NSET];

	printf("\nReference: memcpy of 4 KiB pages, GB/s copied, median of %d:", reps);
	for (int s = 0; s < NSET; s++) {
		copy[s] = median_gbs(m, nm, reps, K_MEMCPY, &cells[0][s], 0);
		printf("  %s %.2f", sets[s].name, copy[s]);
	}
	printf("\n");

	printf("\nIdentical pages against glibc memcmp (GB/s; time ratio = encoder / memcmp):\n");
	for (int s = 0; s < NSET; s++) {
		const struct cell *c = &cells[IDENTICAL][s];
		double cmp = median_gbs(m, nm, reps, K_MEMCMP, c, 0);

		printf("  %-4s memcmp %.2f", sets[s].name, cmp);
		for (size_t v = 0; v < NENC; v++) {
			double g;

			if (!encoders[v].avail)
				continue;
			g = median_gbs(m, nm, reps, K_ENC, c, v);
			printf(";  %s %.2f (%.2fx)", encoders[v].name, g, cmp / g);
		}
		printf("\n");
	}

	/*
	 * memcpy into a destination out of cache moves 3 bytes per byte
	 * copied: the source read, the destination read for ownership and
	 * written back.  The paths write only into lines they have just read.
	 */
	printf("\nDRAM set, memory traffic: bytes moved between core and DRAM per page"
	       " (see the path notes), the traffic that gives at each path's speed,\n"
	       "and that as a share of memcpy's (%.2f GB/s copied = %.2f GB/s of traffic:"
	       " source read, destination read for ownership and written back;\n"
	       "the machine's practical limit for a read-modify-write stream)\n",
	       copy[1], 3 * copy[1]);
	printf("%-27s %9s", "workload              set", "B/page");
	for (size_t p = 0; p < NPATH; p++)
		if (paths[p].avail)
			printf(" %22s", paths[p].name);
	printf("\n");
	for (size_t w = 0; w < NWL; w++) {
		const struct cell *c = &cells[w][1];
		double bytes = dram_bytes_per_page(c);
		char label[64];

		cell_label(label, sizeof(label), c);
		printf("%-27s %9.0f", label, bytes);
		for (size_t p = 0; p < NPATH; p++) {
			double pages_s, traffic;

			if (!paths[p].avail)
				continue;
			pages_s = median_gbs(m, nm, reps, K_PATH, c, p) * 1e9 / PAGE;
			traffic = pages_s * bytes / 1e9;
			printf("   %7.2f GB/s = %4.0f%%", traffic, 100 * traffic / (3 * copy[1]));
		}
		printf("\n");
	}
}

int main(int argc, char **argv)
{
	int reps = env_num("xbzrle-bench", "BENCH_REPS", 7, 1, 1000);
	double budget = env_num("xbzrle-bench", "BENCH_SECONDS", 45, 0.1, 36000);
	struct meas *m;
	size_t nm = 0, cap;
	double t_start = now(), target;

	if (getenv("BENCH_CLOCK") && !strcmp(getenv("BENCH_CLOCK"), "wall"))
		bench_clock = CLOCK_MONOTONIC;
	rng_state ^= (uint64_t)env_num("xbzrle-bench", "BENCH_SEED", 1, 0, 1e18) * 0x100000001b3ULL;
	setvbuf(stdout, NULL, _IOLBF, 0);
	print_machine(argc, argv);
	if (reps < 5)
		printf("warning: BENCH_REPS=%d: medians of fewer than 5 runs\n", reps);

	if (xbzrle_nr_variants > NOURS) {
		fprintf(stderr, "xbzrle-bench: %zu encoder variants, room for %d\n",
			xbzrle_nr_variants, NOURS);
		return 2;
	}
	for (size_t v = 0; v < NENC; v++) {
		int k = encoders[v].ours_idx;

		if (k < 0) {
			encoders[v].avail = encoders[v].usable();
		} else if ((size_t)k < xbzrle_nr_variants) {
			snprintf(encoders[v].name, sizeof(encoders[v].name), "ours %s",
				 xbzrle_variants[k].name);
			encoders[v].avail = xbzrle_variant_usable(&xbzrle_variants[k]);
		}
	}
	for (size_t v = 0; v < NENC; v++)
		if (encoders[v].ours_idx >= 0 && encoders[v].name[0])
			paths[NPATH++] = (struct path){ .name = encoders[v].name,
				.kind = PATH_OURS, .fn = encoders[v].fn,
				.avail = encoders[v].avail };
	for (size_t p = 0; p < NPATH; p++)
		if (paths[p].usable)
			paths[p].avail = paths[p].usable();
	for (size_t v = 0; v < NENC; v++)
		if (!encoders[v].avail && encoders[v].name[0])
			printf("%s: not run, the CPU lacks what it needs\n", encoders[v].name);

	qemu_current_buf = alloc_pages(PAGE);
	qemu_encoded_buf = alloc_pages(2 * PAGE);	/* room for overruns */
	ours_delta = alloc_pages(2 * PAGE);
	timed_dst = alloc_pages(2 * PAGE);

	/* data, and the checks against QEMU 7.2 plain */
	for (size_t w = 0; w < NWL; w++)
		for (int s = 0; s < NSET; s++) {
			setup_cell(&cells[w][s], w, s);
			verify_encoders(&cells[w][s]);
			verify_paths(&cells[w][s]);
		}
	for (int s = 0; s < NSET; s++) {
		memcpy_src[s] = alloc_pages(sets[s].bytes / 2);
		memcpy_dst[s] = alloc_pages(sets[s].bytes / 2);
		fill_random(memcpy_src[s], sets[s].bytes / 2);
	}
	printf("checked: every encoder and path on every page (%zu pages per workload, both"
	       " directions) against QEMU 7.2 plain: %s (%.1fs)\n",
	       cells[0][0].total + cells[0][1].total, failures ? "DIFFERENCES" : "identical",
	       now() - t_start);
	for (size_t v = 0; v < NENC; v++)
		if (qemu_overruns[v])
			printf("note: %s wrote past dlen on %d pages (QEMU's bug, seen before)\n",
			       encoders[v].name, qemu_overruns[v]);

	/* the measurements, in the order each rep runs them */
	cap = NWL * NSET * (NENC + 2 + NENC) + 2 * NSET;
	m = calloc(cap, sizeof(*m));
	for (size_t w = 0; w < NWL; w++)
		for (int s = 0; s < NSET; s++) {
			for (size_t v = 0; v < NENC; v++)
				if (encoders[v].avail)
					m[nm++] = (struct meas){ .kind = K_ENC, .c = &cells[w][s], .set = s, .idx = v };
			for (size_t p = 0; p < NPATH; p++)
				if (paths[p].avail)
					m[nm++] = (struct meas){ .kind = K_PATH, .c = &cells[w][s], .set = s, .idx = p };
		}
	for (int s = 0; s < NSET; s++) {
		m[nm++] = (struct meas){ .kind = K_MEMCPY, .c = &cells[0][s], .set = s, .idx = 0 };
		m[nm++] = (struct meas){ .kind = K_MEMCMP, .c = &cells[IDENTICAL][s], .set = s };
	}

	/*
	 * calibration: passes per measurement so that all takes ~budget,
	 * counting the untimed reads before each pass over a window
	 */
	target = budget / reps / nm;
	for (size_t k = 0; k < nm; k++) {
		double t;

		run(&m[k], 1);		/* warm */
		t = now();
		run(&m[k], 3);
		t = (now() - t) / 3;
		m[k].iters = t > 0 && target / t > 1 ? (unsigned int)(target / t + 0.5) : 1;
		m[k].t = calloc(reps, sizeof(double));
		m[k].bytes = (double)m[k].c->n * PAGE;
	}
	printf("timing: %d reps x %zu measurements, ~%.0f ms each, interleaved"
	       " (each rep runs every cell's variants back to back, the order rotated);"
	       " DRAM set: the passes in %s time; L2 set: each pass on the next of %d"
	       " windows of distinct pages (%.0f MiB in all), read just before it, the"
	       " median pass in wall-clock time\n", reps, nm, target * 1e3,
	       bench_clock == CLOCK_MONOTONIC ? "wall-clock" : "thread CPU",
	       L2_WINDOWS, (double)L2_SET * L2_WINDOWS / (1 << 20));
	timed_cpu = timed_wall = 0;

	for (int r = 0; r < reps; r++) {
		/* a cell's variants are consecutive: rotate them per rep */
		size_t k = 0;

		while (k < nm) {
			size_t e = k;

			while (e < nm && m[e].c == m[k].c && m[e].kind == m[k].kind)
				e++;
			for (size_t j = 0; j < e - k; j++) {
				struct meas *x = &m[k + (j + r) % (e - k)];

				x->t[r] = run(x, x->iters);
			}
			k = e;
		}
	}

	/* table 1: encoders */
	printf("\nEncoder: GB/s of new-page input (4 KiB pages, dlen 4096), median of %d;"
	       " ratio = ours / QEMU\n", reps);
	printf("%-27s %-15s", "workload              set", "delta/page");
	for (size_t v = 0; v < NENC; v++)
		if (encoders[v].avail)
			printf(" %17s", encoders[v].name);
	for (size_t v = 0; v < NENC; v++) {
		if (!encoders[v].avail || encoders[v].ours_idx < 0)
			continue;
		printf(" %10s", "/7.2plain");
		if (encoders[AVX512].avail)
			printf(" %10s", "/AVX-512");
	}
	printf("\n");
	for (size_t w = 0; w < NWL; w++)
		for (int s = 0; s < NSET; s++) {
			double gbs[NENC];

			for (size_t v = 0; v < NENC; v++)
				gbs[v] = median_gbs(m, nm, reps, K_ENC, &cells[w][s], v);
			print_row_head(&cells[w][s]);
			for (size_t v = 0; v < NENC; v++)
				if (encoders[v].avail)
					printf(" %17.2f", gbs[v]);
			for (size_t v = 0; v < NENC; v++) {
				if (!encoders[v].avail || encoders[v].ours_idx < 0)
					continue;
				printf(" %10.2f", gbs[v] / gbs[0]);
				if (encoders[AVX512].avail)
					printf(" %10.2f", gbs[v] / gbs[AVX512]);
			}
			printf("\n");
		}

	/* table 2: per-page paths */
	printf("\nPer-page path: GB/s of pages processed, median of %d; ratio = ours / QEMU\n", reps);
	printf("  columns: QEMU's path with QEMU 7.2's encoder, with QEMU 10.0's; the module's path\n"
	       "  with each encoder of ours.\n");
	printf("  QEMU path: buffer_is_zero(live); memcpy live -> current_buf; encode(cache page,\n"
	       "    current_buf); memcpy current_buf -> cache page (not when unchanged).  QEMU 7.2 with\n"
	       "    its plain encoder, QEMU 10.0 through its run-time selection (%s here).\n"
	       "    Bytes moved per page: ~24 KiB through the core (4K+4K copy, 4K+4K encode reads,\n"
	       "    4K+4K copy; the zero check stops at the first non-zero word) + the delta;\n"
	       "    from/to DRAM when out of cache: live read, cache page read, cache page written\n"
	       "    back (not when unchanged).\n"
	       "  ours path (kmod/encode.c per page): memcpy live -> spare page (the snapshot);\n"
	       "    memchr_inv zero check; encode(base, snapshot); the snapshot becomes the base\n"
	       "    (unchanged: the base stays, the snapshot stays the spare).  In the kernel the\n"
	       "    copy is copy_from_user and a SIMD encoder runs in a kernel_fpu_begin/end section\n"
	       "    per page (not measured here).\n"
	       "    Bytes moved per page: ~16 KiB through the core (4K+4K copy, 4K+4K encode reads)\n"
	       "    + the delta; from/to DRAM when out of cache: live read, base read, snapshot\n"
	       "    written back, not when unchanged (the spare is the base the encoder read for\n"
	       "    the previous page, still in cache).\n"
	       "  Both encoders stop reading at an overflow.\n",
	       qemu100_selected_avx512() ? "AVX-512BW" : "plain C");
	printf("%-27s %-15s", "workload              set", "delta/page");
	for (size_t p = 0; p < NPATH; p++)
		if (paths[p].avail)
			printf(" %14s", paths[p].name);
	for (size_t p = 2; p < NPATH; p++)
		if (paths[p].avail)
			printf(" %10s %10s", "/QEMU7.2", "/QEMU10.0");
	printf("\n");
	for (size_t w = 0; w < NWL; w++)
		for (int s = 0; s < NSET; s++) {
			double gbs[2 + NENC];

			for (size_t p = 0; p < NPATH; p++)
				gbs[p] = median_gbs(m, nm, reps, K_PATH, &cells[w][s], p);
			print_row_head(&cells[w][s]);
			for (size_t p = 0; p < NPATH; p++)
				if (paths[p].avail)
					printf(" %14.2f", gbs[p]);
			for (size_t p = 2; p < NPATH; p++)
				if (paths[p].avail)
					printf(" %10.2f %10.2f", gbs[p] / gbs[0], gbs[p] / gbs[1]);
			printf("\n");
		}

	report_references(m, nm, reps);

	print_loadavg("end");
	printf("timed passes: %.1fs wall, %.1fs on the CPU (%.0f%%: the rest this process"
	       " waited for a CPU)\n", timed_wall, timed_cpu,
	       timed_wall > 0 ? 100 * timed_cpu / timed_wall : 0);
	printf("total %.1fs\n", now() - t_start);
	if (failures) {
		printf("FAIL: %d difference(s) from QEMU 7.2's plain encoder (first 20 shown above)\n",
		       failures);
		return 1;
	}
	printf("PASS: every variant's output equals QEMU 7.2's plain encoder on every page it ran\n");
	return 0;
}
