// SPDX-License-Identifier: GPL-2.0
/*
 * offload_abi_test - every refused input of the kvm_xbzrle offload ioctls
 * (BIND, SET_REGION, ENCODE, SET_CACHE, GET_STATS) gets its documented
 * errno, and nothing else happens: a refused call leaves the context's
 * regions, cache size and counters as they were, and the next valid call
 * works and returns correct records.
 *
 * Also: partial progress (a bad page in the middle of a list, a full record
 * buffer, the batch limit), a VM or a context used from another process, a
 * VM whose owner closed it, the cache size ceiling, the module's unload
 * refusal while a context is open and the read-only debugfs files.
 *
 * No vCPU runs: guest memory is written through the host mapping, which is
 * what the module reads.  Every region is one of its VM's KVM memslots, as
 * the module requires.  Records of valid calls are checked against a model
 * of the context's cache (which pages have a base) and applied to a
 * destination copy with the project's codec.
 *
 * Contract: /work/notes/offload-design.md and <linux/kvm_xbzrle.h>.  One
 * deliberate difference: delete_module(O_NONBLOCK) of a module in use
 * fails with EWOULDBLOCK (the kernel's try_stop_module()), not EBUSY.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysinfo.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <linux/kvm_xbzrle.h>

#include "kvm_util.h"
#include "records.h"
#include "test_util.h"
#include "xbzrle.h"
#include "xbzrle_tap.h"
#include "xbzrle_util.h"

#define DEV_PATH	"/dev/kvm_xbzrle"
#define PARAM_DIR	"/sys/module/kvm_xbzrle/parameters/"
#define DEBUGFS		"/sys/kernel/debug"
#define DBG_DIR		DEBUGFS "/kvm_xbzrle"
#define DEBUGFS_MAGIC	0x64626720

#define PG		4096ULL
#define MAX_ARG		4096	/* largest argument size the module accepts */
#define BIG_SIZE	8192	/* > MAX_ARG, fits the 14-bit ioctl size */
#define REC_MAX		((uint32_t)KVM_XBZRLE_RECORD_MAX_SIZE)
#define MIB		(1ULL << 20)
#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

/* The fixture: a bound context, its main region over KVM memslot 0. */
#define FX_SLOT		0
#define FX_GPA		0x100000ULL
#define FX_NP		8
/* A memslot and region of the fixture whose memory test_encode() unmaps. */
#define GONE_SLOT	2
#define GONE_GPA	0x200000ULL
/* A memslot whose region the SET_REGION argument tests try to add. */
#define SR_SLOT		5
#define SR_GPA		0x300000ULL
/* A memslot without dirty logging (a region of the fixture context). */
#define NOLOG_SLOT	3
#define NOLOG_GPA	0x400000ULL
/* Outside every region. */
#define NOWHERE_GPA	0x40000000ULL
/* The ENOSPC test's regions. */
#define MANY_GPA	0x10000000ULL

/* Test points per part; main() checks the total through tap_finish(). */
#define COMMON_BASE	15	/* per ioctl, plus one per reserved field */
#define COMMON_RESERVED	11
#define COMMON_TESTS	(5 * COMMON_BASE + COMMON_RESERVED + 2)
#define BIND_TESTS	16
#define REGION_TESTS	30
#define ENCODE_TESTS	30
#define CLEAR_TESTS	13
#define GEN_TESTS	11
#define FOREIGN_TESTS	3
#define GONE_TESTS	4
#define CACHE_TESTS	7
#define DEBUGFS_TESTS	8
#define UNLOAD_TESTS	1
#define NTESTS		(COMMON_TESTS + BIND_TESTS + REGION_TESTS + \
			 ENCODE_TESTS + CLEAR_TESTS + GEN_TESTS + \
			 FOREIGN_TESTS + \
			 GONE_TESTS + CACHE_TESTS + DEBUGFS_TESTS + UNLOAD_TESTS)

_Static_assert(sizeof(struct kvm_xbzrle_bind) == KVM_XBZRLE_BIND_SIZE_VER1, "bind");
_Static_assert(sizeof(struct kvm_xbzrle_region) == KVM_XBZRLE_REGION_SIZE_VER1, "region");
_Static_assert(sizeof(struct kvm_xbzrle_encode) == KVM_XBZRLE_ENCODE_SIZE_VER1, "encode");
_Static_assert(sizeof(struct kvm_xbzrle_cache) == KVM_XBZRLE_CACHE_SIZE_VER1, "cache");
_Static_assert(sizeof(struct kvm_xbzrle_stats) == KVM_XBZRLE_STATS_SIZE_VER3, "stats");
_Static_assert(offsetof(struct kvm_xbzrle_stats, refused) == KVM_XBZRLE_STATS_SIZE_VER1,
	       "stats VER2 appends refused");
_Static_assert(offsetof(struct kvm_xbzrle_stats, skipped) == KVM_XBZRLE_STATS_SIZE_VER2,
	       "stats VER3 appends skipped, given_back, probes");

static int open_contexts;	/* of this process, for debugfs */

/* The fixture. */
static struct kvm_vm fx_vm;
static int fx_xfd = -1;
static struct xbz_dest fx_dest;
static bool fx_based[FX_NP];	/* the context has a base for the page */
static uint8_t *fx_mem;		/* host mapping of FX_GPA */
static uint8_t *gone_mem;	/* GONE_GPA's memory, unmapped by test_encode() */
static uint8_t *sr_mem;		/* one mapped page for SR_SLOT */

/* Record buffers: 16 records, page aligned, and a read-only one. */
#define RECBUF_SIZE	(16 * REC_MAX)
static uint8_t *recbuf;
static uint8_t *ro_buf;
/*
 * Below mmap_min_addr and the executable: never mapped (a munmap()ed hole
 * would be reused by the next mmap()).
 */
static void *const unmapped = (void *)0x8000;
static uint8_t *edge;		/* a page followed by a PROT_NONE page */

/* Argument buffer for the size tests. */
static uint8_t argbuf[BIG_SIZE] __attribute__((aligned(4096)));

/* -------------------------------------------------------------------------- */

/* 0 on success, else errno; -1 for a positive return value. */
static int xioctl(int fd, unsigned long cmd, void *arg)
{
	int r;

	errno = 0;
	r = ioctl(fd, cmd, arg);
	if (r == 0)
		return 0;
	return r < 0 ? errno : -1;
}

static int __attribute__((format(printf, 3, 4)))
expect(int got, int want, const char *fmt, ...)
{
	char name[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	if (got == want)
		return tap_result(1, "%s -> %s", name, errname(want));
	return tap_result(0, "%s: got %s (%d), expected %s", name,
			  errname(got), got, errname(want));
}

static void fail_points(unsigned int n, const char *why)
{
	while (n--)
		tap_result(0, "%s", why);
}

static void skip_points(unsigned int n, const char *why, const char *what)
{
	while (n--)
		tap_skip(why, "%s", what);
}

static int ctx_open(void)
{
	int fd = xbz_open();

	if (fd >= 0)
		open_contexts++;
	return fd;
}

static void ctx_close(int fd)
{
	if (fd >= 0 && !close(fd))
		open_contexts--;
}

static void *map_pages(size_t n, int prot)
{
	void *p = mmap(NULL, n * PG, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* ------------------------------ ioctl wrappers ---------------------------- */

static int do_bind(int xfd, int vm_fd)
{
	struct kvm_xbzrle_bind b = { .size = sizeof(b), .vm_fd = vm_fd };

	return xioctl(xfd, KVM_XBZRLE_BIND, &b);
}

static int do_region(int xfd, uint32_t slot, uint64_t gpa, uint64_t size,
		     uint64_t uaddr)
{
	struct kvm_xbzrle_region r = {
		.size = sizeof(r), .slot = slot, .guest_phys_addr = gpa,
		.memory_size = size, .userspace_addr = uaddr,
	};

	return xioctl(xfd, KVM_XBZRLE_SET_REGION, &r);
}

struct enc_out {
	uint32_t done;
	uint32_t used;
};

static int do_encode(int xfd, uint32_t flags, const void *pages,
		     uint32_t npages, void *records, uint32_t records_size,
		     uint32_t max_delta, struct enc_out *out)
{
	struct kvm_xbzrle_encode e = {
		.size = sizeof(e), .flags = flags,
		.pages = (uintptr_t)pages, .records = (uintptr_t)records,
		.npages = npages, .records_size = records_size,
		.max_delta = max_delta,
	};
	int r = xioctl(xfd, KVM_XBZRLE_ENCODE, &e);

	if (out) {
		out->done = e.npages_done;
		out->used = e.records_used;
	}
	return r;
}

static int do_stats(int xfd, struct kvm_xbzrle_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->size = sizeof(*s);
	return xioctl(xfd, KVM_XBZRLE_GET_STATS, s);
}

static int do_cache(int xfd, uint32_t flags, uint64_t size, uint64_t *out)
{
	struct kvm_xbzrle_cache c = {
		.size = sizeof(c), .flags = flags, .cache_size = size,
	};
	int r = xioctl(xfd, KVM_XBZRLE_SET_CACHE, &c);

	if (out)
		*out = c.cache_size;
	return r;
}

static const char *const stats_names[] = {
	"pages", "cache_hits", "cache_misses", "overflows", "zero_pages",
	"unchanged_pages", "xbzrle_pages", "raw_pages", "delta_bytes",
	"evictions", "reclaimed", "cache_bytes", "cache_size", "refused",
};

/*
 * The first @n counters equal (all 13, or the 9 that count records),
 * ignoring size and flags; a difference goes to the diagnostics.
 */
static bool stats_equal(const struct kvm_xbzrle_stats *a,
			const struct kvm_xbzrle_stats *b, unsigned int n)
{
	const __u64 *x = &a->pages, *y = &b->pages;
	bool same = true;
	unsigned int i;

	for (i = 0; i < n; i++)
		if (x[i] != y[i]) {
			tap_diag("%s: %llu -> %llu", stats_names[i],
				 (unsigned long long)x[i], (unsigned long long)y[i]);
			same = false;
		}
	return same;
}

#define stats_same(a, b)	stats_equal(a, b, 13)
#define records_same(a, b)	stats_equal(a, b, 9)

/* ------------------------------ record checks ----------------------------- */

struct rec_check {
	const uint64_t *gpas;	/* the pages asked for, in order */
	unsigned int n;		/* records expected */
	unsigned int i;		/* records seen */
	uint32_t max_delta;
	char why[200];
};

static int fx_index(uint64_t gpa)
{
	if (gpa < FX_GPA || gpa >= FX_GPA + FX_NP * PG || gpa % PG)
		return -1;
	return (gpa - FX_GPA) / PG;
}

/* Records why a record is wrong; the walk stops with -100. */
#define bad(c, ...)	(set_why((c)->why, sizeof((c)->why), __VA_ARGS__), -100)

/*
 * One record of the fixture against the model: its gpa is the next one
 * asked for, its type fits the snapshot (the page, unchanged during the
 * call) and whether the context holds a base (the destination's page),
 * and an XBZRLE delta is byte-identical to the project's encoder.
 */
static int check_fx_record(const struct xbz_record *rec, const uint8_t *base,
			   void *opaque)
{
	static uint8_t delta[4096];
	struct rec_check *c = opaque;
	const uint8_t *cur;
	int idx, n;
	bool zero;

	if (c->i >= c->n)
		return bad(c, "more records than pages done (%u)", c->n);
	if (rec->gpa != c->gpas[c->i])
		return bad(c, "record %u: gpa 0x%" PRIx64 ", expected 0x%" PRIx64,
		    c->i, (uint64_t)rec->gpa, (uint64_t)c->gpas[c->i]);
	idx = fx_index(rec->gpa);
	if (idx < 0)
		return bad(c, "record %u: gpa 0x%" PRIx64 " not a fixture page", c->i,
		    (uint64_t)rec->gpa);
	if (rec->reserved)
		return bad(c, "record %u: reserved %u", c->i, rec->reserved);
	cur = fx_mem + idx * PG;
	zero = page_is_zero(cur, PG);
	switch (rec->type) {
	case KVM_XBZRLE_RECORD_ZERO:
		if (!zero || rec->len)
			return bad(c, "record %u: ZERO, len %u, page %szero", c->i,
			    rec->len, zero ? "" : "not ");
		break;
	case KVM_XBZRLE_RECORD_UNCHANGED:
		if (zero || !fx_based[idx] || rec->len || memcmp(base, cur, PG))
			return bad(c, "record %u: UNCHANGED, len %u, base %s, page %s",
			    c->i, rec->len, fx_based[idx] ? "held" : "none",
			    memcmp(base, cur, PG) ? "changed" : "unchanged");
		break;
	case KVM_XBZRLE_RECORD_XBZRLE:
		if (zero || !fx_based[idx])
			return bad(c, "record %u: XBZRLE, page %szero, base %s", c->i,
			    zero ? "" : "not ", fx_based[idx] ? "held" : "none");
		n = xbzrle_encode(base, cur, PG, delta, c->max_delta);
		if (n <= 0 || (uint32_t)n != rec->len || memcmp(delta, rec->data, n))
			return bad(c, "record %u: XBZRLE delta of %u bytes differs from xbzrle_encode() (%d)",
			    c->i, rec->len, n);
		break;
	case KVM_XBZRLE_RECORD_RAW:
		if (zero || rec->len != PG || memcmp(rec->data, cur, PG))
			return bad(c, "record %u: RAW, len %u, page %szero, data %s", c->i,
			    rec->len, zero ? "" : "not ",
			    rec->len == PG && !memcmp(rec->data, cur, PG) ?
			    "right" : "wrong");
		if (fx_based[idx]) {
			n = xbzrle_encode(base, cur, PG, delta, c->max_delta);
			if (n >= 0)
				return bad(c, "record %u: RAW with a base, but the delta fits (%d bytes)",
				    c->i, n);
		}
		break;
	default:
		return bad(c, "record %u: type %u", c->i, rec->type);
	}
	c->i++;
	return 0;
}

/*
 * The first @done pages of @gpas have correct records in @buf (@used
 * bytes), the destination follows them and the model learns the bases.
 * Returns NULL or why not.
 */
static const char *fx_records_bad(const uint64_t *gpas, uint32_t done,
				  const void *buf, uint32_t used,
				  uint32_t max_delta)
{
	static char why[256];
	struct rec_check c = {
		.gpas = gpas, .n = done, .max_delta = max_delta,
	};
	uint32_t i;
	int r;

	r = xbz_walk_records(&fx_dest, buf, used, check_fx_record, &c);
	if (r == -100) {
		snprintf(why, sizeof(why), "%s", c.why);
		return why;
	}
	if (r < 0) {
		snprintf(why, sizeof(why), "%s", kvm_util_error());
		return why;
	}
	if ((uint32_t)r != done) {
		snprintf(why, sizeof(why), "%d records for %u pages done", r, done);
		return why;
	}
	for (i = 0; i < done; i++) {
		int idx = fx_index(gpas[i]);

		fx_based[idx] = true;
		if (memcmp(xbz_dest_page(&fx_dest, gpas[i]), fx_mem + idx * PG, PG)) {
			snprintf(why, sizeof(why),
				 "destination page 0x%" PRIx64 " differs after applying the records",
				 gpas[i]);
			return why;
		}
	}
	return NULL;
}

/* Gives fixture page @idx new content (@gen varies it; page 0 stays zero). */
static void fx_touch(unsigned int idx, unsigned int gen)
{
	uint8_t *p = fx_mem + idx * PG;
	unsigned int i;

	if (idx == 0)
		return;
	if (page_is_zero(p, PG)) {
		for (i = 0; i < PG; i++)
			p[i] = (uint8_t)(i * 7 + idx * 13 + 1);
		return;
	}
	for (i = 0; i < 16; i++)
		p[(gen * 97 + i * 251) % PG] ^= (uint8_t)(0x5a + gen + i);
}

/*
 * A valid ENCODE of @n fixture pages (each touched first), all into
 * recbuf: the call succeeds, does all pages, records and stats are right.
 * Returns NULL or why not.
 */
static const char *fx_encode_good(int xfd, uint32_t flags, const uint64_t *gpas,
				  uint32_t n, unsigned int gen)
{
	static char why[256];
	struct kvm_xbzrle_stats s0, s1;
	struct enc_out out;
	const char *bad;
	uint32_t i;
	int r;

	for (i = 0; i < n; i++)
		fx_touch(fx_index(gpas[i]), gen);
	if (do_stats(xfd, &s0))
		return "GET_STATS failed";
	r = do_encode(xfd, flags, gpas, n, recbuf, RECBUF_SIZE, 4096, &out);
	if (r) {
		snprintf(why, sizeof(why), "ENCODE failed: %s", errname(r));
		return why;
	}
	if (out.done != n) {
		snprintf(why, sizeof(why), "npages_done %u of %u", out.done, n);
		return why;
	}
	bad = fx_records_bad(gpas, out.done, recbuf, out.used, 4096);
	if (bad)
		return bad;
	if (do_stats(xfd, &s1))
		return "GET_STATS failed";
	if (s1.pages != s0.pages + n) {
		snprintf(why, sizeof(why), "stats.pages %llu -> %llu for %u pages",
			 (unsigned long long)s0.pages,
			 (unsigned long long)s1.pages, n);
		return why;
	}
	return NULL;
}

static int fx_good_point(int xfd, uint32_t flags, const uint64_t *gpas,
			 uint32_t n, unsigned int gen, const char *what)
{
	const char *bad = fx_encode_good(xfd, flags, gpas, n, gen);

	return tap_result(!bad, "%s%s%s", what, WHY_IF(bad, bad));
}

/* -------------------------- common argument rules ------------------------- */

struct resv {
	const char *name;
	unsigned int off;
	unsigned int len;	/* 4 or 8 */
};

struct ioc_desc {
	const char *name;
	unsigned int nr;
	unsigned int dir;
	unsigned int size;
	uint32_t first_unknown_flag;
	const struct resv *resv;
	unsigned int nresv;
	int *xfd;
	void (*fill)(void *arg);	/* a valid argument */
	void (*before)(void);		/* state before the refused calls */
	void (*after)(const struct ioc_desc *d);	/* two points */
};

static unsigned long ioc(const struct ioc_desc *d, unsigned int dir,
			 unsigned int size)
{
	return _IOC(dir, KVM_XBZRLE_IOCTL_TYPE, d->nr, size);
}

static const char *dir_name(unsigned int dir)
{
	switch (dir) {
	case _IOC_NONE:			return "_IO";
	case _IOC_READ:			return "_IOR";
	case _IOC_WRITE:		return "_IOW";
	default:			return "_IOWR";
	}
}

/* BIND: an unbound context, a VM of this process. */
static struct kvm_vm vm_b;
static int bind_xfd = -1;

static void bind_fill(void *arg)
{
	struct kvm_xbzrle_bind *b = arg;

	memset(b, 0, sizeof(*b));
	b->size = sizeof(*b);
	b->vm_fd = vm_b.fd;
}

static void bind_after(const struct ioc_desc *d)
{
	expect(do_region(bind_xfd, 0, 0, PG, (uintptr_t)sr_mem), ENOTCONN,
	       "%s: after the refused calls, the context is still unbound: SET_REGION",
	       d->name);
	expect(do_bind(bind_xfd, vm_b.fd), 0,
	       "%s: a valid BIND after the refused calls", d->name);
}

/* SET_REGION: the fixture context, a new region SR_SLOT. */
static void region_fill(void *arg)
{
	struct kvm_xbzrle_region *r = arg;

	memset(r, 0, sizeof(*r));
	r->size = sizeof(*r);
	r->slot = SR_SLOT;
	r->guest_phys_addr = SR_GPA;
	r->memory_size = PG;
	r->userspace_addr = (uintptr_t)sr_mem;
}

static void region_after(const struct ioc_desc *d)
{
	uint64_t gpa = SR_GPA;

	expect(do_encode(fx_xfd, 0, &gpa, 1, recbuf, RECBUF_SIZE, 4096, NULL),
	       ENOENT, "%s: after the refused calls, no region holds gpa 0x%llx: ENCODE",
	       d->name, (unsigned long long)gpa);
	expect(do_region(fx_xfd, SR_SLOT, SR_GPA, PG, (uintptr_t)sr_mem), 0,
	       "%s: a valid SET_REGION after the refused calls", d->name);
	do_region(fx_xfd, SR_SLOT, 0, 0, 0);
}

/* ENCODE: the fixture context, fixture page 1. */
static const uint64_t enc_gpa1 = FX_GPA + PG;
static struct kvm_xbzrle_stats enc_stats;

static void encode_fill(void *arg)
{
	struct kvm_xbzrle_encode *e = arg;

	memset(e, 0, sizeof(*e));
	e->size = sizeof(*e);
	e->pages = (uintptr_t)&enc_gpa1;
	e->records = (uintptr_t)recbuf;
	e->npages = 1;
	e->records_size = 2 * REC_MAX;
	e->max_delta = 4096;
}

static void encode_before(void)
{
	do_stats(fx_xfd, &enc_stats);
}

static void encode_after(const struct ioc_desc *d)
{
	struct kvm_xbzrle_stats s;
	int r = do_stats(fx_xfd, &s);

	tap_result(!r && stats_same(&s, &enc_stats),
		   "%s: the refused calls left the counters alone (pages %llu -> %llu)",
		   d->name, (unsigned long long)enc_stats.pages,
		   (unsigned long long)s.pages);
	fx_good_point(fx_xfd, 0, &enc_gpa1, 1, 1,
		      "ENCODE: a valid ENCODE after the refused calls: correct records");
}

/* SET_CACHE and GET_STATS: an unbound context. */
static int cache_xfd = -1;
static struct kvm_xbzrle_stats cache_stats;

static void cache_fill(void *arg)
{
	struct kvm_xbzrle_cache *c = arg;

	memset(c, 0, sizeof(*c));
	c->size = sizeof(*c);
	c->flags = KVM_XBZRLE_CACHE_SET_SIZE;
	c->cache_size = 64 * PG;
}

static void cache_before(void)
{
	do_stats(cache_xfd, &cache_stats);
}

static void cache_after(const struct ioc_desc *d)
{
	struct kvm_xbzrle_stats s;
	uint64_t out = 0;
	int r;

	r = do_stats(cache_xfd, &s);
	tap_result(!r && s.cache_size == cache_stats.cache_size &&
		   s.cache_size != 64 * PG,
		   "%s: the refused calls left the cache size alone (%llu -> %llu)",
		   d->name, (unsigned long long)cache_stats.cache_size,
		   (unsigned long long)s.cache_size);
	r = do_cache(cache_xfd, KVM_XBZRLE_CACHE_SET_SIZE, 64 * PG, &out);
	if (!r)
		r = do_stats(cache_xfd, &s);
	tap_result(!r && out == 64 * PG && s.cache_size == 64 * PG,
		   "%s: a valid SET_CACHE after the refused calls sets 64 pages (%s, out %llu, stats %llu)",
		   d->name, errname(r), (unsigned long long)out,
		   (unsigned long long)s.cache_size);
}

static void stats_fill(void *arg)
{
	struct kvm_xbzrle_stats *s = arg;

	memset(s, 0, sizeof(*s));
	/* the size rules of version 1, the smallest (version 2 appends refused) */
	s->size = KVM_XBZRLE_STATS_SIZE_VER1;
}

static void stats_after(const struct ioc_desc *d)
{
	struct kvm_xbzrle_stats s;
	int r = do_stats(cache_xfd, &s);

	expect(r, 0, "%s: a valid GET_STATS after the refused calls", d->name);
	tap_result(!r && stats_same(&s, &cache_stats),
		   "%s: counters as before the refused calls", d->name);
}

static const struct resv bind_resv[] = {
	{ "reserved0", offsetof(struct kvm_xbzrle_bind, reserved0), 4 },
	{ "reserved[0]", offsetof(struct kvm_xbzrle_bind, reserved[0]), 8 },
	{ "reserved[1]", offsetof(struct kvm_xbzrle_bind, reserved[1]), 8 },
};
static const struct resv region_resv[] = {
	{ "reserved0", offsetof(struct kvm_xbzrle_region, reserved0), 4 },
	{ "reserved[0]", offsetof(struct kvm_xbzrle_region, reserved[0]), 8 },
	{ "reserved[1]", offsetof(struct kvm_xbzrle_region, reserved[1]), 8 },
};
static const struct resv encode_resv[] = {
	{ "reserved0", offsetof(struct kvm_xbzrle_encode, reserved0), 4 },
	{ "generation without ENCODE_GENERATION",
	  offsetof(struct kvm_xbzrle_encode, generation), 8 },
	{ "reserved", offsetof(struct kvm_xbzrle_encode, reserved), 8 },
};
static const struct resv cache_resv[] = {
	{ "reserved[0]", offsetof(struct kvm_xbzrle_cache, reserved[0]), 8 },
	{ "reserved[1]", offsetof(struct kvm_xbzrle_cache, reserved[1]), 8 },
};

static const struct ioc_desc iocs[] = {
	{ "BIND", 0x01, _IOC_WRITE, KVM_XBZRLE_BIND_SIZE_VER1, 1U << 0,
	  bind_resv, 3, &bind_xfd, bind_fill, NULL, bind_after },
	{ "SET_REGION", 0x02, _IOC_WRITE, KVM_XBZRLE_REGION_SIZE_VER1, 1U << 0,
	  region_resv, 3, &fx_xfd, region_fill, NULL, region_after },
	{ "ENCODE", 0x03, _IOC_READ | _IOC_WRITE, KVM_XBZRLE_ENCODE_SIZE_VER1,
	  1U << 2, encode_resv, 3, &fx_xfd, encode_fill, encode_before,
	  encode_after },
	{ "SET_CACHE", 0x04, _IOC_READ | _IOC_WRITE, KVM_XBZRLE_CACHE_SIZE_VER1,
	  1U << 2, cache_resv, 2, &cache_xfd, cache_fill, cache_before,
	  cache_after },
	{ "GET_STATS", 0x05, _IOC_READ | _IOC_WRITE, KVM_XBZRLE_STATS_SIZE_VER1,
	  1U << 0, NULL, 0, &cache_xfd, stats_fill, cache_before, stats_after },
};

_Static_assert(3 + 3 + 3 + 2 + 0 == COMMON_RESERVED, "reserved fields");

static int arg_call(const struct ioc_desc *d, unsigned long cmd, void *arg)
{
	return xioctl(*d->xfd, cmd, arg);
}

static void test_common_one(const struct ioc_desc *d)
{
	unsigned long std = ioc(d, d->dir, d->size);
	unsigned int dirs[3], i, n = 0;
	uint32_t *size = (uint32_t *)argbuf;
	uint32_t *flags = size + 1;
	uint8_t *e;

	if (d->before)
		d->before();

	/* Sizes. */
	memset(argbuf, 0, sizeof(argbuf));
	d->fill(argbuf);
	*size = 0;
	expect(arg_call(d, std, argbuf), EINVAL, "%s: size 0", d->name);

	memset(argbuf, 0, sizeof(argbuf));
	d->fill(argbuf);
	*size = d->size - 8;
	expect(arg_call(d, ioc(d, d->dir, d->size - 8), argbuf), EINVAL,
	       "%s: size %u (< VER1 %u) with a matching ioctl size", d->name,
	       d->size - 8, d->size);

	memset(argbuf, 0, sizeof(argbuf));
	d->fill(argbuf);
	*size = d->size + 8;
	expect(arg_call(d, std, argbuf), EINVAL,
	       "%s: size %u with ioctl size %u", d->name, d->size + 8, d->size);

	memset(argbuf, 0, sizeof(argbuf));
	d->fill(argbuf);
	expect(arg_call(d, ioc(d, d->dir, d->size + 8), argbuf), EINVAL,
	       "%s: size %u with ioctl size %u", d->name, d->size, d->size + 8);

	memset(argbuf, 0, sizeof(argbuf));
	d->fill(argbuf);
	*size = BIG_SIZE;
	expect(arg_call(d, ioc(d, d->dir, BIG_SIZE), argbuf), E2BIG,
	       "%s: size %u (> %u) with a matching ioctl size", d->name,
	       BIG_SIZE, MAX_ARG);

	/* Flags and reserved fields. */
	memset(argbuf, 0, sizeof(argbuf));
	d->fill(argbuf);
	*flags |= d->first_unknown_flag;
	expect(arg_call(d, std, argbuf), EINVAL, "%s: unknown flag 0x%x",
	       d->name, d->first_unknown_flag);

	memset(argbuf, 0, sizeof(argbuf));
	d->fill(argbuf);
	*flags |= 1U << 31;
	expect(arg_call(d, std, argbuf), EINVAL, "%s: unknown flag 0x%x",
	       d->name, 1U << 31);

	for (i = 0; i < d->nresv; i++) {
		memset(argbuf, 0, sizeof(argbuf));
		d->fill(argbuf);
		if (d->resv[i].len == 4) {
			uint32_t v = 1U << 31;

			memcpy(argbuf + d->resv[i].off, &v, 4);
		} else {
			uint64_t v = 1ULL << 40;

			memcpy(argbuf + d->resv[i].off, &v, 8);
		}
		expect(arg_call(d, std, argbuf), EINVAL, "%s: %s non-zero",
		       d->name, d->resv[i].name);
	}

	/* Unreadable arguments. */
	expect(arg_call(d, std, NULL), EFAULT, "%s: NULL argument", d->name);
	expect(arg_call(d, std, unmapped), EFAULT, "%s: unmapped argument",
	       d->name);
	/* The size field readable, the rest in the hole after the page. */
	e = edge + PG - 16;
	memset(argbuf, 0, sizeof(argbuf));
	d->fill(argbuf);
	memcpy(e, argbuf, 16);
	expect(arg_call(d, std, e), EFAULT,
	       "%s: argument running into an unmapped page", d->name);

	/* Other directions. */
	if (d->dir != _IOC_READ)
		dirs[n++] = _IOC_READ;
	if (d->dir != _IOC_WRITE)
		dirs[n++] = _IOC_WRITE;
	if (d->dir != (_IOC_READ | _IOC_WRITE))
		dirs[n++] = _IOC_READ | _IOC_WRITE;
	for (i = 0; i < n; i++) {
		memset(argbuf, 0, sizeof(argbuf));
		d->fill(argbuf);
		expect(arg_call(d, ioc(d, dirs[i], d->size), argbuf), ENOTTY,
		       "%s: number 0x%02x with %s", d->name, d->nr,
		       dir_name(dirs[i]));
	}
	memset(argbuf, 0, sizeof(argbuf));
	d->fill(argbuf);
	expect(arg_call(d, ioc(d, _IOC_NONE, 0), argbuf), ENOTTY,
	       "%s: number 0x%02x with _IO", d->name, d->nr);

	d->after(d);
}

static void test_common(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(iocs); i++)
		test_common_one(&iocs[i]);

	memset(argbuf, 0, sizeof(argbuf));
	*(uint32_t *)argbuf = 64;
	expect(xioctl(fx_xfd, _IOWR(KVM_XBZRLE_IOCTL_TYPE, 0x07, char[64]), argbuf),
	       ENOTTY, "unknown ioctl number 0x07");
	expect(xioctl(fx_xfd, _IOWR(KVM_XBZRLE_IOCTL_TYPE, 0x3f, char[64]), argbuf),
	       ENOTTY, "unknown ioctl number 0x3f");
}

/* ------------------------------ child helpers ----------------------------- */

/*
 * Runs @fn in a child; it fills up to 8 results (0 or errno), which come
 * back through a pipe.  Returns the number received, -1 if the child died.
 */
static int in_child(void (*fn)(int *res, void *arg), void *arg, int *res,
		    int nres)
{
	int p[2], status, n;
	pid_t pid;

	if (pipe(p))
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		int out[8];

		close(p[0]);
		memset(out, 0xff, sizeof(out));
		fn(out, arg);
		if (write(p[1], out, sizeof(int) * nres) < 0)
			_exit(2);
		_exit(0);
	}
	close(p[1]);
	n = read(p[0], res, sizeof(int) * nres);
	close(p[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		return -1;
	return n / (int)sizeof(int);
}

static int send_fd(int sock, int fd)
{
	char c = 'v';
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cm;

	memset(&u, 0, sizeof(u));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	char c;
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cm;
	int fd;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/*
 * A VM created by a child process, received over a unix socket; the child
 * waits for a byte on @*sock before it exits.  Returns the fd or -1.
 */
static int foreign_vm(int *sock, pid_t *child)
{
	int sv[2], fd;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		char c;
		int vm;

		close(sv[0]);
		vm = ioctl(kvm_open(), KVM_CREATE_VM, 0);
		if (vm < 0 || send_fd(sv[1], vm))
			_exit(1);
		if (read(sv[1], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(sv[1]);
	fd = recv_fd(sv[0]);
	*sock = sv[0];
	*child = pid;
	return fd;
}

static void foreign_vm_done(int sock, pid_t child)
{
	char c = 'x';
	int status;

	if (write(sock, &c, 1) < 0)
		tap_diag("cannot tell the VM's child to exit");
	close(sock);
	waitpid(child, &status, 0);
}

/* ---------------------------------- BIND ---------------------------------- */

static struct kvm_vm vm_c;
static struct kvm_vcpu vcpu_c;
static int ctx_c = -1;		/* bound to vm_c; the ENODEV test closes vm_c */

static void child_bind_inherited(int *res, void *arg)
{
	int xfd = xbz_open();

	(void)arg;
	res[0] = xfd < 0 ? -2 : do_bind(xfd, vm_c.fd);
}

static void test_bind(void)
{
	struct kvm_xbzrle_stats s;
	int fd, r, res[1], sock;
	uint64_t gpa = FX_GPA;
	pid_t child;

	ctx_c = ctx_open();
	if (ctx_c < 0 || vm_create(&vm_c, 0) || vm_add_memslot(&vm_c, 0, FX_GPA, PG) ||
	    vcpu_create(&vm_c, &vcpu_c, 0, FX_GPA)) {
		fail_points(BIND_TESTS, "BIND: setup failed");
		tap_diag("%s", kvm_util_error());
		return;
	}
	memset(vm_gpa_to_hva(&vm_c, FX_GPA), 0x42, PG);

	expect(do_bind(ctx_c, -1), EBADF, "BIND: vm_fd -1");
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	close(fd);
	expect(do_bind(ctx_c, fd), EBADF, "BIND: a closed fd");

	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	expect(do_bind(ctx_c, fd), EINVAL, "BIND: /dev/null");
	close(fd);
	expect(do_bind(ctx_c, kvm_open()), EINVAL, "BIND: the /dev/kvm fd (not a VM)");
	expect(do_bind(ctx_c, cache_xfd), EINVAL, "BIND: a /dev/kvm_xbzrle fd");
	expect(do_bind(ctx_c, vcpu_c.fd), EINVAL, "BIND: a vCPU fd");

	fd = foreign_vm(&sock, &child);
	if (fd < 0) {
		tap_result(0, "BIND: a VM created by another process: could not get one (%s)",
			   strerror(errno));
	} else {
		expect(do_bind(ctx_c, fd), EIO,
		       "BIND: a VM created by another process (passed with SCM_RIGHTS)");
		close(fd);
		foreign_vm_done(sock, child);
	}

	r = in_child(child_bind_inherited, NULL, res, 1);
	if (r != 1 || res[0] == -2)
		tap_result(0, "BIND: a child binds the parent's VM fd: child failed");
	else
		expect(res[0], EIO, "BIND: a child binds the parent's VM fd (another mm)");

	expect(do_region(ctx_c, 0, FX_GPA, PG, (uintptr_t)vm_gpa_to_hva(&vm_c, FX_GPA)),
	       ENOTCONN, "SET_REGION on an unbound context (after refused BINDs)");
	expect(do_encode(ctx_c, 0, &gpa, 1, recbuf, RECBUF_SIZE, 4096, NULL),
	       ENOTCONN, "ENCODE on an unbound context");
	expect(do_cache(ctx_c, KVM_XBZRLE_CACHE_SET_SIZE, 128 * PG, NULL), 0,
	       "SET_CACHE on an unbound context");
	expect(do_stats(ctx_c, &s), 0, "GET_STATS on an unbound context");

	expect(do_bind(ctx_c, vm_c.fd), 0, "BIND: a VM of this process");
	expect(do_bind(ctx_c, vm_c.fd), EBUSY, "BIND: the same VM again");
	expect(do_bind(ctx_c, vm_b.fd), EBUSY, "BIND: another VM");

	r = do_region(ctx_c, 0, FX_GPA, PG, (uintptr_t)vm_gpa_to_hva(&vm_c, FX_GPA));
	if (!r) {
		struct enc_out out;

		r = do_encode(ctx_c, 0, &gpa, 1, recbuf, RECBUF_SIZE, 4096, &out);
		if (!r && (out.done != 1 || out.used < 16 + PG ||
			   ((struct kvm_xbzrle_record *)recbuf)->type != KVM_XBZRLE_RECORD_RAW ||
			   memcmp(recbuf + 16, vm_gpa_to_hva(&vm_c, FX_GPA), PG)))
			r = -1;
	}
	tap_result(!r, "BIND: after EBUSY the context still serves its VM (SET_REGION + ENCODE: %s)",
		   r == -1 ? "wrong record" : errname(r));
}

/* ------------------------------- SET_REGION ------------------------------- */

#define AS1(id)		((1U << 16) | (id))	/* KVM's second address space (SMM) */
#define MANY_FIRST	10			/* first slot of the ENOSPC test */

/*
 * A KVM memslot in address space 1 over [@gpa, +@npages): its region
 * would overlap the fixture's, which KVM allows across address spaces.
 */
static void overlap_case(uint64_t gpa, unsigned int npages, uint8_t *mem,
			 const char *what)
{
	int r = kvm_set_memslot(fx_vm.fd, AS1(1), 0, gpa, npages * PG, mem);

	if (r) {
		tap_result(0, "SET_REGION: %s: KVM memslot in address space 1: %s",
			   what, strerror(r));
		return;
	}
	expect(do_region(fx_xfd, AS1(1), gpa, npages * PG, (uintptr_t)mem), EEXIST,
	       "SET_REGION: %s (slot 0x%x, a memslot of address space 1)", what, AS1(1));
	kvm_set_memslot(fx_vm.fd, AS1(1), 0, gpa, 0, mem);
}

/* Re-creates the fixture's KVM memslot with @npages pages. */
static int fx_memslot(unsigned int npages)
{
	int r = kvm_set_memslot(fx_vm.fd, FX_SLOT, 0, FX_GPA, 0, fx_mem);

	if (!r)
		r = kvm_set_memslot(fx_vm.fd, FX_SLOT, KVM_MEM_LOG_DIRTY_PAGES, FX_GPA,
				    npages * PG, fx_mem);
	return r;
}

#define MAX_REGIONS_PARAM	"/sys/module/kvm_xbzrle/parameters/max_regions"
#define XBZ_STR2(x)		#x
#define XBZ_STR(x)		XBZ_STR2(x)

static void test_set_region(void)
{
	char max_regions_was[32];
	const unsigned int nmany = KVM_XBZRLE_MAX_REGIONS + 1;
	uint64_t fx_uaddr = (uintptr_t)fx_mem;
	uint8_t *many, *ovl, *adj;
	uint64_t gpa;
	unsigned int i;
	int r;

	expect(do_region(fx_xfd, 1, 0x800000 + 0x800, PG, (uintptr_t)sr_mem), EINVAL,
	       "SET_REGION: gpa not page aligned");
	expect(do_region(fx_xfd, 1, 0x800000, PG + 0x800, (uintptr_t)sr_mem), EINVAL,
	       "SET_REGION: memory_size not page aligned");
	expect(do_region(fx_xfd, 1, 0x800000, PG, (uintptr_t)sr_mem + 0x10), EINVAL,
	       "SET_REGION: userspace_addr not page aligned");
	expect(do_region(fx_xfd, 1, 0xfffffffffffff000ULL, 2 * PG, (uintptr_t)sr_mem),
	       EINVAL, "SET_REGION: guest_phys_addr + memory_size overflows");
	expect(do_region(fx_xfd, 1, 0x800000, 2 * PG, 0xfffffffffffff000ULL),
	       EINVAL, "SET_REGION: userspace_addr + memory_size overflows");
	expect(do_region(fx_xfd, 1, 0x800000, PG, 0xffff888000000000ULL),
	       EFAULT, "SET_REGION: userspace_addr in the kernel half");
	expect(do_region(fx_xfd, 1, 0x800000, 2 * PG, 0x7ffffffffffff000ULL),
	       EFAULT, "SET_REGION: userspace range running into the kernel half");

	/* Argument checks come before the binding's (cache_xfd is unbound). */
	expect(do_region(cache_xfd, 1, 0x800000 + 0x800, PG, (uintptr_t)sr_mem), EINVAL,
	       "SET_REGION on an unbound context: gpa not page aligned");
	expect(do_region(cache_xfd, 1, 0x800000, PG, 0xffff888000000000ULL), EFAULT,
	       "SET_REGION on an unbound context: userspace_addr in the kernel half");

	/* A region must be one of the VM's memslots exactly as KVM has it. */
	expect(do_region(fx_xfd, 1, 0x800000, PG, (uintptr_t)sr_mem), EINVAL,
	       "SET_REGION: no memslot there");
	expect(do_region(fx_xfd, SR_SLOT, SR_GPA, PG, (uintptr_t)fx_mem), EINVAL,
	       "SET_REGION: a memslot's slot and range, another userspace_addr");
	expect(do_region(fx_xfd, SR_SLOT, SR_GPA, 2 * PG, (uintptr_t)sr_mem), EINVAL,
	       "SET_REGION: a memslot's slot, gpa and userspace_addr, larger memory_size");
	expect(do_region(fx_xfd, FX_SLOT, FX_GPA, (FX_NP - 1) * PG, fx_uaddr), EINVAL,
	       "SET_REGION: the fixture's slot, one page short of its memslot");
	expect(do_region(fx_xfd, 9, SR_GPA, PG, (uintptr_t)sr_mem), EINVAL,
	       "SET_REGION: a memslot's range under another slot id");

	/*
	 * Overlaps with the fixture's slot 0 at [FX_GPA, FX_GPA + FX_NP pages).
	 * KVM's memslots of one address space never overlap, so the other
	 * slot is a memslot of address space 1 (x86 SMM).
	 */
	ovl = map_pages(FX_NP + 2, PROT_READ | PROT_WRITE);
	if (!ovl || kvm_check_cap(KVM_CAP_MULTI_ADDRESS_SPACE) < 2) {
		skip_points(3, ovl ? "KVM has one address space" : "mmap failed",
			    "SET_REGION: overlap with another slot's region");
	} else {
		overlap_case(FX_GPA + (FX_NP - 1) * PG, 2, ovl,
			     "overlaps the last page of another slot's region");
		overlap_case(FX_GPA - PG, FX_NP + 2, ovl,
			     "contains another slot's region");
		overlap_case(FX_GPA, FX_NP, ovl, "the same range as another slot");
	}
	if (ovl)
		munmap(ovl, (FX_NP + 2) * PG);

	adj = map_pages(1, PROT_READ | PROT_WRITE);
	r = adj ? kvm_set_memslot(fx_vm.fd, 1, 0, FX_GPA + FX_NP * PG, PG, adj) : ENOMEM;
	if (!r)
		r = do_region(fx_xfd, 1, FX_GPA + FX_NP * PG, PG, (uintptr_t)adj);
	expect(r, 0, "SET_REGION: adjacent to another slot's region");
	expect(do_region(fx_xfd, 1, 0, 0, 0), r ? ENOENT : 0,
	       "SET_REGION: remove it (memory_size 0)");
	expect(do_region(fx_xfd, 1, 0, 0, 0), ENOENT,
	       "SET_REGION: remove a slot without a region");
	expect(do_region(fx_xfd, 77, 0, 0, 0), ENOENT,
	       "SET_REGION: remove a slot never used");
	gpa = FX_GPA + FX_NP * PG;
	expect(do_encode(fx_xfd, 0, &gpa, 1, recbuf, RECBUF_SIZE, 4096, NULL), ENOENT,
	       "SET_REGION: the removed region is gone (ENCODE of 0x%llx)",
	       (unsigned long long)gpa);
	if (adj) {
		kvm_set_memslot(fx_vm.fd, 1, 0, FX_GPA + FX_NP * PG, 0, adj);
		munmap(adj, PG);
	}

	{
		uint64_t gpas[] = { FX_GPA, FX_GPA + 2 * PG, FX_GPA + (FX_NP - 1) * PG };

		fx_good_point(fx_xfd, 0, gpas, 3, 2,
			      "SET_REGION: after the refused calls the fixture's region works (ENCODE: correct records)");

		/*
		 * Setting a slot again with the same values (QEMU does, when
		 * KVM flags change) keeps its pages' bases.
		 */
		r = do_region(fx_xfd, FX_SLOT, FX_GPA, FX_NP * PG, fx_uaddr);
		expect(r, 0, "SET_REGION: set an existing slot again, same values");
		fx_good_point(fx_xfd, 0, gpas + 1, 2, 3,
			      "SET_REGION: the same region again keeps its bases (deltas, not RAW)");
	}

	/*
	 * Replacing a slot's region by one overlapping it is not an overlap
	 * (the memslot changes first, as QEMU would do it).
	 */
	r = fx_memslot(FX_NP - 1);
	if (!r)
		r = do_region(fx_xfd, FX_SLOT, FX_GPA, (FX_NP - 1) * PG, fx_uaddr);
	if (!r)
		r = fx_memslot(FX_NP);
	if (!r)
		r = do_region(fx_xfd, FX_SLOT, FX_GPA, FX_NP * PG, fx_uaddr);
	memset(fx_based, 0, sizeof(fx_based));	/* bases dropped */
	expect(r, 0, "SET_REGION: replace a slot's region by an overlapping one, twice");

	/*
	 * ENOSPC, on the context of the BIND argument tests (bound to vm_b),
	 * with one KVM memslot per region.  The module's limit (KVM's user
	 * memslots by default, 32764 on x86) is lowered to
	 * KVM_XBZRLE_MAX_REGIONS for it through its max_regions parameter.
	 */
	if (read_file(MAX_REGIONS_PARAM, max_regions_was, sizeof(max_regions_was)) ||
	    write_file(MAX_REGIONS_PARAM, XBZ_STR(KVM_XBZRLE_MAX_REGIONS))) {
		tap_diag("%s: %s", MAX_REGIONS_PARAM, kvm_util_error());
		fail_points(4, "SET_REGION: ENOSPC: cannot set the module's max_regions");
		return;
	}
	many = map_pages(nmany, PROT_READ | PROT_WRITE);
	r = many ? 0 : ENOMEM;
	for (i = 0; i < nmany && !r; i++)
		r = kvm_set_memslot(vm_b.fd, MANY_FIRST + i, 0, MANY_GPA + i * PG, PG,
				    many + i * PG);
	if (r) {
		tap_diag("%u KVM memslots: %s", nmany, strerror(r));
		fail_points(4, "SET_REGION: ENOSPC: cannot create the KVM memslots");
		if (many)
			munmap(many, nmany * PG);
		write_file(MAX_REGIONS_PARAM, max_regions_was);
		return;
	}
	for (i = 0; i < nmany - 1 && !r; i++)
		r = do_region(bind_xfd, MANY_FIRST + i, MANY_GPA + i * PG, PG,
			      (uintptr_t)(many + i * PG));
	tap_result(!r, "SET_REGION: %d regions accepted%s%s", KVM_XBZRLE_MAX_REGIONS,
		   r ? ": refused with " : "", r ? errname(r) : "");
	i = nmany - 1;
	expect(do_region(bind_xfd, MANY_FIRST + i, MANY_GPA + i * PG, PG,
			 (uintptr_t)(many + i * PG)),
	       ENOSPC, "SET_REGION: region %d", KVM_XBZRLE_MAX_REGIONS + 1);
	expect(do_region(bind_xfd, MANY_FIRST, MANY_GPA, PG, (uintptr_t)many), 0,
	       "SET_REGION: setting an existing slot again with %d regions",
	       KVM_XBZRLE_MAX_REGIONS);
	r = do_region(bind_xfd, MANY_FIRST + 7, 0, 0, 0);
	if (!r)
		r = do_region(bind_xfd, MANY_FIRST + i, MANY_GPA + i * PG, PG,
			      (uintptr_t)(many + i * PG));
	expect(r, 0, "SET_REGION: after removing one, region %d fits",
	       KVM_XBZRLE_MAX_REGIONS + 1);
	if (write_file(MAX_REGIONS_PARAM, max_regions_was))
		tap_diag("cannot restore %s: %s", MAX_REGIONS_PARAM, kvm_util_error());
	/* vm_destroy() deletes the memslots with the VM; keep the memory */
}

/* --------------------------------- ENCODE --------------------------------- */

/* A call with one bad thing: refused with @want, no record, no counter. */
static void encode_refused(int want, uint32_t flags, const void *pages,
			   uint32_t npages, void *records, uint32_t size,
			   uint32_t max_delta, const char *what)
{
	expect(do_encode(fx_xfd, flags, pages, npages, records, size, max_delta, NULL),
	       want, "ENCODE: %s", what);
}

/*
 * A page list with a bad entry at index 2: the first call does pages 0
 * and 1 and returns 0, the next, from the bad entry, returns @want.
 */
static void encode_bad_middle(uint64_t bad, int want, const char *what,
			      unsigned int gen)
{
	uint64_t gpas[4] = { FX_GPA + PG, FX_GPA + 3 * PG, bad, FX_GPA + 4 * PG };
	struct kvm_xbzrle_stats s0, s1;
	struct enc_out out;
	const char *why = NULL;
	int r;

	fx_touch(1, gen);
	fx_touch(3, gen);
	do_stats(fx_xfd, &s0);
	r = do_encode(fx_xfd, 0, gpas, 4, recbuf, RECBUF_SIZE, 4096, &out);
	expect(r, 0, "ENCODE: %s at index 2 of 4: the call", what);
	if (r) {
		tap_result(0, "ENCODE: %s at index 2: npages_done 2 (call failed)", what);
	} else {
		if (out.done == 2)
			why = fx_records_bad(gpas, 2, recbuf, out.used, 4096);
		do_stats(fx_xfd, &s1);
		if (!why && s1.pages != s0.pages + 2)
			why = "stats.pages did not grow by 2";
		tap_result(out.done == 2 && !why,
			   "ENCODE: %s at index 2: npages_done %u (expected 2), records %s%s",
			   what, out.done, why ? "bad: " : "correct", why ? why : "");
	}
	expect(do_encode(fx_xfd, 0, gpas + 2, 2, recbuf, RECBUF_SIZE, 4096, NULL),
	       want, "ENCODE: %s: the next call, starting at it", what);
}

static void test_encode(void)
{
	struct kvm_xbzrle_stats s0, s1;
	void *ro_arg = NULL;
	uint64_t gpa1 = FX_GPA + PG, odd = FX_GPA + PG + 0x10, gone = GONE_GPA;
	uint64_t nowhere = NOWHERE_GPA, past = FX_GPA + FX_NP * PG;
	uint64_t gpas[FX_NP], *batch;
	struct enc_out out;
	uint8_t *big;
	size_t big_size;
	const char *why;
	uint32_t i, off;
	int r;

	/* no mmap() from here until gone_mem is reserved again below */
	ro_arg = map_pages(1, PROT_READ | PROT_WRITE);
	munmap(gone_mem, 2 * PG);
	do_stats(fx_xfd, &s0);
	encode_refused(EINVAL, 0, &gpa1, 1, recbuf, RECBUF_SIZE, 0, "max_delta 0");
	encode_refused(EINVAL, 0, &gpa1, 1, recbuf, RECBUF_SIZE, 4097, "max_delta 4097");
	encode_refused(EINVAL, 0, &gpa1, 1, recbuf, REC_MAX - 1, 4096,
		       "records_size RECORD_MAX_SIZE - 1");
	encode_refused(EINVAL, 0, &gpa1, 1, recbuf + 4, RECBUF_SIZE - 8, 4096,
		       "records not 8-byte aligned");
	encode_refused(EINVAL, 0, &odd, 1, recbuf, RECBUF_SIZE, 4096,
		       "gpa not page aligned");
	encode_refused(ENOENT, 0, &nowhere, 1, recbuf, RECBUF_SIZE, 4096,
		       "gpa outside every region");
	encode_refused(ENOENT, 0, &past, 1, recbuf, RECBUF_SIZE, 4096,
		       "gpa just past the end of a region");
	encode_refused(EFAULT, 0, NULL, 1, recbuf, RECBUF_SIZE, 4096, "pages NULL");
	encode_refused(EFAULT, 0, unmapped, 1, recbuf, RECBUF_SIZE, 4096,
		       "pages unmapped");
	encode_refused(EFAULT, 0, &gpa1, 1, unmapped, 2 * REC_MAX, 4096, "records unmapped");
	encode_refused(EFAULT, 0, &gpa1, 1, ro_buf, 2 * REC_MAX, 4096, "records read-only");
	encode_refused(EFAULT, 0, &gone, 1, recbuf, RECBUF_SIZE, 4096,
		       "a page of a region whose memory is unmapped");
	{
		struct kvm_xbzrle_encode e = {
			.size = sizeof(e), .pages = (uintptr_t)&gpa1,
			.records = (uintptr_t)recbuf, .npages = 1,
			.records_size = RECBUF_SIZE, .max_delta = 4096,
		};

		if (!ro_arg) {
			tap_result(0, "ENCODE: argument struct in a read-only page: mmap failed");
		} else {
			memcpy(ro_arg, &e, sizeof(e));
			mprotect(ro_arg, PG, PROT_READ);
			expect(xioctl(fx_xfd, KVM_XBZRLE_ENCODE, ro_arg), EFAULT,
			       "ENCODE: argument struct in a read-only page");
		}
	}
	do_stats(fx_xfd, &s1);
	tap_result(stats_same(&s0, &s1),
		   "ENCODE: the refused calls left the counters alone (pages %llu -> %llu)",
		   (unsigned long long)s0.pages, (unsigned long long)s1.pages);
	fx_good_point(fx_xfd, 0, &gpa1, 1, 3,
		      "ENCODE: a valid call after them: correct records");
	{
		/* outputs left from a previous call are overwritten */
		struct kvm_xbzrle_encode e = {
			.size = sizeof(e), .pages = (uintptr_t)&gpa1,
			.records = (uintptr_t)recbuf, .npages = 1,
			.records_size = RECBUF_SIZE, .max_delta = 4096,
			.npages_done = 7, .records_used = 8,
		};

		fx_touch(fx_index(gpa1), 11);
		r = xioctl(fx_xfd, KVM_XBZRLE_ENCODE, &e);
		why = r ? strerror(errno) :
		      fx_records_bad(&gpa1, e.npages_done, recbuf,
				     e.records_used, 4096);
		tap_result(!r && e.npages_done == 1 && !why,
			   "ENCODE: stale npages_done 7, records_used 8 on input -> success, npages_done %u%s%s",
			   e.npages_done, WHY_IF(why, why));
	}

	encode_bad_middle(odd, EINVAL, "an unaligned gpa", 4);
	encode_bad_middle(nowhere, ENOENT, "a gpa outside every region", 5);
	encode_bad_middle(gone, EFAULT, "a page whose memory is unmapped", 6);
	/* keep later mmap()s out of the region: inaccessible, still EFAULT */
	if (mmap(gone_mem, 2 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
		 MAP_FIXED_NOREPLACE, -1, 0) == MAP_FAILED)
		tap_diag("cannot reserve the unmapped region again: %s", strerror(errno));

	/* npages 0. */
	r = do_encode(fx_xfd, 0, &gpa1, 0, recbuf, RECBUF_SIZE, 4096, &out);
	expect(r, 0, "ENCODE: npages 0");
	tap_result(!r && out.done == 0 && out.used == 0,
		   "ENCODE: npages 0: npages_done %u, records_used %u (0, 0)",
		   out.done, out.used);

	/*
	 * The buffer limit: a page is started only with RECORD_MAX_SIZE bytes
	 * left.  Fresh content (no base) on every page after a RESET.
	 */
	for (i = 0; i < FX_NP; i++)
		gpas[i] = FX_GPA + i * PG;
	r = do_cache(fx_xfd, KVM_XBZRLE_CACHE_RESET, 0, NULL);
	memset(fx_based, 0, sizeof(fx_based));
	for (i = 1; i < FX_NP; i++)
		fx_touch(i, 7);
	why = r ? "SET_CACHE RESET failed" : NULL;
	if (!why)
		r = do_encode(fx_xfd, 0, gpas, FX_NP, recbuf, 3 * REC_MAX, 4096, &out);
	if (!why && r)
		why = errname(r);
	if (!why && (out.done == 0 || out.done > FX_NP))
		why = "npages_done out of range";
	if (!why)
		why = fx_records_bad(gpas, out.done, recbuf, out.used, 4096);
	if (!why) {
		/* each record started with REC_MAX left; stopped only when full */
		struct xbz_record rec;

		off = 0;
		while (xbz_next_record(recbuf, out.used, &off, &rec) > 0)
			if (3 * REC_MAX - rec.offset < REC_MAX)
				why = "a page started with less than RECORD_MAX_SIZE left";
		if (out.done < FX_NP && 3 * REC_MAX - out.used >= REC_MAX)
			why = "stopped with RECORD_MAX_SIZE bytes still free";
	}
	tap_result(!why, "ENCODE: records_size 3 * RECORD_MAX_SIZE, %u pages: npages_done %u%s%s",
		   FX_NP, r ? 0 : out.done, WHY_IF(why, why));

	/* The batch limit: MAX_BATCH + 1 entries, the zero page over and over. */
	batch = calloc(KVM_XBZRLE_MAX_BATCH + 1, sizeof(*batch));
	big_size = (size_t)(KVM_XBZRLE_MAX_BATCH + 1) * REC_MAX;
	big = mmap(NULL, big_size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (!batch || big == MAP_FAILED) {
		fail_points(2, "ENCODE: MAX_BATCH + 1: allocation failed");
	} else {
		for (i = 0; i <= KVM_XBZRLE_MAX_BATCH; i++)
			batch[i] = FX_GPA;	/* page 0 stays zero */
		r = do_encode(fx_xfd, 0, batch, KVM_XBZRLE_MAX_BATCH + 1, big,
			      big_size, 4096, &out);
		expect(r, 0, "ENCODE: npages MAX_BATCH + 1 (%u)", KVM_XBZRLE_MAX_BATCH + 1);
		why = NULL;
		if (!r && (out.done == 0 || out.done > KVM_XBZRLE_MAX_BATCH))
			why = "npages_done out of range";
		if (!r && !why)
			why = fx_records_bad(batch, out.done, big, out.used, 4096);
		tap_result(!r && !why, "ENCODE: MAX_BATCH + 1 pages: npages_done %u (1..%u)%s%s",
			   r ? 0 : out.done, KVM_XBZRLE_MAX_BATCH, why ? ", " : "",
			   why ? why : "");
	}
	if (big != MAP_FAILED)
		munmap(big, big_size);
	free(batch);
	if (ro_arg)
		munmap(ro_arg, PG);
}

/* -------------------------- ENCODE_GENERATION ---------------------------- */

static int do_encode_gen(int xfd, uint32_t flags, uint64_t generation,
			 const uint64_t *gpas, uint32_t npages,
			 struct enc_out *out)
{
	struct kvm_xbzrle_encode e = {
		.size = sizeof(e), .flags = flags,
		.pages = (uintptr_t)gpas, .records = (uintptr_t)recbuf,
		.npages = npages, .records_size = RECBUF_SIZE,
		.max_delta = 4096, .generation = generation,
	};
	int r = xioctl(xfd, KVM_XBZRLE_ENCODE, &e);

	if (out) {
		out->done = e.npages_done;
		out->used = e.records_used;
	}
	return r;
}

/*
 * The generation's contract, on a context of its own bound to the fixture
 * VM (the fixture context's bases are left alone).  GEN_TESTS points.
 */
static void test_generation(void)
{
	const uint32_t gen = KVM_XBZRLE_ENCODE_GENERATION;
	struct kvm_xbzrle_caps caps = { .size = sizeof(caps) };
	uint64_t gpas[2] = { FX_GPA + PG, FX_GPA + 2 * PG };
	struct kvm_xbzrle_stats s0, s1, *s112;
	struct enc_out out = { 1, 1 };
	bool cap;
	int r, xfd;
	unsigned int i;

	r = xioctl(fx_xfd, KVM_XBZRLE_GET_CAPS, &caps);
	cap = !r && caps.capabilities & KVM_XBZRLE_CAP_GENERATION;
	tap_result(cap, "GET_CAPS reports KVM_XBZRLE_CAP_GENERATION (capabilities 0x%llx)",
		   (unsigned long long)caps.capabilities);

	xfd = ctx_open();
	r = xfd < 0 ? errno : do_bind(xfd, fx_vm.fd);
	if (!r)
		r = do_region(xfd, FX_SLOT, FX_GPA, FX_NP * PG, (uintptr_t)fx_mem);
	if (r) {
		fail_points(GEN_TESTS - 1, "ENCODE_GENERATION: context setup failed");
		ctx_close(xfd);
		return;
	}
	/* with the capability the flag is valid, without it unknown */
	expect(do_encode_gen(xfd, gen, 5, gpas, 1, NULL), cap ? 0 : EINVAL,
	       "ENCODE_GENERATION, generation 5 (%s the capability)",
	       cap ? "with" : "without");
	expect(do_encode_gen(xfd, 0, 5, gpas, 1, NULL), EINVAL,
	       "ENCODE: generation 5 without ENCODE_GENERATION");
	expect(do_encode_gen(xfd, gen, 5, gpas, 1, NULL), 0,
	       "ENCODE_GENERATION: the same generation 5 again");
	do_stats(xfd, &s0);
	r = do_encode_gen(xfd, gen, 4, gpas, 2, &out);
	do_stats(xfd, &s1);
	tap_result(r == EINVAL && !out.done && !out.used && stats_same(&s0, &s1),
		   "ENCODE_GENERATION: generation 4 after 5 -> %s (expected EINVAL), npages_done %u, counters unchanged",
		   errname(r), out.done);
	expect(do_encode_gen(xfd, gen, 6, gpas, 2, NULL), 0,
	       "ENCODE_GENERATION: generation 6 after 5");
	expect(do_encode_gen(xfd, 0, 0, gpas, 2, NULL), 0,
	       "ENCODE without the flag after generation 6 (plain LRU)");
	expect(do_encode_gen(xfd, gen, 5, gpas, 1, NULL), EINVAL,
	       "ENCODE_GENERATION: generation 5 after 6 and a call without the flag");
	r = do_cache(xfd, KVM_XBZRLE_CACHE_RESET | KVM_XBZRLE_CACHE_SET_SIZE,
		     PG, NULL);
	if (!r)
		r = do_encode_gen(xfd, gen, 1, gpas, 1, NULL);
	tap_result(!r, "ENCODE_GENERATION: generation 1 after RESET -> %s",
		   errname(r));

	/* a cache of one page, full: the second page is refused */
	r = do_encode_gen(xfd, gen, 1, gpas, 2, &out);
	do_stats(xfd, &s1);
	tap_result(!r && out.done == 2 && s1.refused == 1 && !s1.evictions &&
		   s1.cache_bytes == PG,
		   "ENCODE_GENERATION: cache of one page, two pages in generation 1: refused %llu (1), evictions %llu (0), cache_bytes %llu (4096)",
		   (unsigned long long)s1.refused,
		   (unsigned long long)s1.evictions,
		   (unsigned long long)s1.cache_bytes);

	/* GET_STATS of version 1 still works and writes only its 112 bytes */
	s112 = (void *)recbuf;
	memset(recbuf, 0xa5, sizeof(*s112));
	memset(recbuf, 0, KVM_XBZRLE_STATS_SIZE_VER1);
	s112->size = KVM_XBZRLE_STATS_SIZE_VER1;
	r = xioctl(xfd, _IOWR(KVM_XBZRLE_IOCTL_TYPE, 0x05,
			      uint8_t[KVM_XBZRLE_STATS_SIZE_VER1]), s112);
	for (i = KVM_XBZRLE_STATS_SIZE_VER1; i < sizeof(*s112); i++)
		if (recbuf[i] != 0xa5)
			break;
	tap_result(!r && i == sizeof(*s112) && s112->pages == s1.pages &&
		   s112->cache_size == PG,
		   "GET_STATS of size VER1 (112) -> %s, pages %llu, nothing written past 112 bytes",
		   errname(r), (unsigned long long)s112->pages);
	ctx_close(xfd);
}

/* ------------------------- ENCODE_CLEAR_DIRTY_LOG ------------------------- */

static void test_clear_dirty_log(void)
{
	struct kvm_xbzrle_caps caps = { .size = sizeof(caps) };
	uint64_t gpas[2] = { FX_GPA + 2 * PG, FX_GPA + 5 * PG };
	uint64_t nolog = NOLOG_GPA;
	struct kvm_xbzrle_stats s0, s1;
	long long c0, c1;
	struct kvm_vm ring;
	uint8_t *mem;
	int r, xfd;

	/* two pages of one memslot, 3 apart: one KVM_CLEAR_DIRTY_LOG */
	c0 = xbz_debugfs_stat("dirty_log_clears");
	fx_good_point(fx_xfd, KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG, gpas, 2, 8,
		      "ENCODE_CLEAR_DIRTY_LOG: valid call: correct records");
	c1 = xbz_debugfs_stat("dirty_log_clears");
	tap_result(c0 >= 0 && c1 == c0 + 1,
		   "ENCODE_CLEAR_DIRTY_LOG: debugfs dirty_log_clears counts the one KVM_CLEAR_DIRTY_LOG (%lld -> %lld)",
		   c0, c1);

	/*
	 * The module parameter clear_dirty_log=N withdraws the capability
	 * and the flag; ENCODE without the flag goes on.
	 */
	xbz_param_set("clear_dirty_log", "N");
	r = xioctl(fx_xfd, KVM_XBZRLE_GET_CAPS, &caps);
	tap_result(!r && !(caps.capabilities & KVM_XBZRLE_CAP_CLEAR_DIRTY_LOG),
		   "clear_dirty_log=N: GET_CAPS leaves out CLEAR_DIRTY_LOG (%s, capabilities 0x%llx)",
		   errname(r), (unsigned long long)caps.capabilities);
	do_stats(fx_xfd, &s0);
	expect(do_encode(fx_xfd, KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG, gpas, 2,
			 recbuf, RECBUF_SIZE, 4096, NULL), EINVAL,
	       "clear_dirty_log=N: ENCODE with the flag");
	do_stats(fx_xfd, &s1);
	tap_result(records_same(&s0, &s1),
		   "clear_dirty_log=N: the refused call counted no record");
	c0 = xbz_debugfs_stat("dirty_log_clears");
	fx_good_point(fx_xfd, 0, gpas, 2, 10,
		      "clear_dirty_log=N: ENCODE without the flag: correct records");
	c1 = xbz_debugfs_stat("dirty_log_clears");
	tap_result(c0 >= 0 && c1 == c0,
		   "ENCODE without the flag: dirty_log_clears unchanged (%lld -> %lld)",
		   c0, c1);
	xbz_param_set("clear_dirty_log", "Y");
	r = xioctl(fx_xfd, KVM_XBZRLE_GET_CAPS, &caps);
	tap_result(!r && caps.capabilities & KVM_XBZRLE_CAP_CLEAR_DIRTY_LOG,
		   "clear_dirty_log=Y: GET_CAPS offers CLEAR_DIRTY_LOG again (%s)", errname(r));

	/*
	 * The KVM memslot goes away (its memory stays mapped): KVM's
	 * KVM_CLEAR_DIRTY_LOG, or the module itself, says ENOENT.
	 */
	r = kvm_set_memslot(fx_vm.fd, FX_SLOT, 0, FX_GPA, 0, fx_mem);
	if (r) {
		fail_points(3, "ENCODE_CLEAR_DIRTY_LOG: cannot delete the KVM memslot");
	} else {
		do_stats(fx_xfd, &s0);
		fx_touch(2, 9);
		expect(do_encode(fx_xfd, KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG, gpas, 2,
				 recbuf, RECBUF_SIZE, 4096, NULL), ENOENT,
		       "ENCODE_CLEAR_DIRTY_LOG: memslot deleted from KVM");
		do_stats(fx_xfd, &s1);
		/* (the bases may go: the region no longer matches a memslot) */
		tap_result(records_same(&s0, &s1),
			   "ENCODE_CLEAR_DIRTY_LOG: the refused call counted no record");
		r = kvm_set_memslot(fx_vm.fd, FX_SLOT, KVM_MEM_LOG_DIRTY_PAGES, FX_GPA,
				    FX_NP * PG, fx_mem);
		if (!r)
			r = do_region(fx_xfd, FX_SLOT, FX_GPA, FX_NP * PG,
				      (uintptr_t)fx_mem);
		memset(fx_based, 0, sizeof(fx_based));	/* region set anew */
		if (r)
			tap_result(0, "ENCODE_CLEAR_DIRTY_LOG: memslot and region re-added: %s",
				   errname(r));
		else
			fx_good_point(fx_xfd, KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG, gpas, 2, 11,
				      "ENCODE_CLEAR_DIRTY_LOG: memslot and region re-added: correct records");
	}

	/* A memslot without dirty logging. */
	mem = map_pages(1, PROT_READ | PROT_WRITE);
	r = mem ? kvm_set_memslot(fx_vm.fd, NOLOG_SLOT, 0, NOLOG_GPA, PG, mem) : ENOMEM;
	if (!r)
		r = do_region(fx_xfd, NOLOG_SLOT, NOLOG_GPA, PG, (uintptr_t)mem);
	if (r) {
		tap_result(0, "ENCODE_CLEAR_DIRTY_LOG: memslot without dirty logging: setup: %s",
			   errname(r));
	} else {
		mem[0] = 1;
		expect(do_encode(fx_xfd, KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG, &nolog, 1,
				 recbuf, RECBUF_SIZE, 4096, NULL), ENOENT,
		       "ENCODE_CLEAR_DIRTY_LOG: memslot without dirty logging");
	}
	do_region(fx_xfd, NOLOG_SLOT, 0, 0, 0);
	kvm_set_memslot(fx_vm.fd, NOLOG_SLOT, 0, NOLOG_GPA, 0, mem);
	if (mem)
		munmap(mem, PG);

	/* A VM with the dirty ring. */
	if (kvm_check_cap(KVM_CAP_DIRTY_LOG_RING) <= 0) {
		tap_skip("KVM_CAP_DIRTY_LOG_RING not supported",
			 "ENCODE_CLEAR_DIRTY_LOG: a dirty-ring VM");
		return;
	}
	xfd = -1;
	r = vm_create(&ring, 0);
	if (!r) {
		struct kvm_enable_cap cap = {
			.cap = KVM_CAP_DIRTY_LOG_RING, .args[0] = 65536,
		};

		r = ioctl(ring.fd, KVM_ENABLE_CAP, &cap) ? -1 : 0;
	}
	if (!r)
		r = vm_add_memslot(&ring, 0, FX_GPA, PG);
	if (!r)
		r = (xfd = ctx_open()) < 0 ? -1 : 0;
	if (!r)
		r = do_bind(xfd, ring.fd);
	if (!r)
		r = xbz_set_regions(xfd, &ring);
	if (r) {
		tap_result(0, "ENCODE_CLEAR_DIRTY_LOG: a dirty-ring VM: setup failed (%s)",
			   strerror(errno));
	} else {
		uint64_t g = FX_GPA;

		vm_gpa_to_hva(&ring, FX_GPA)[0] = 1;
		expect(do_encode(xfd, KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG, &g, 1, recbuf,
				 RECBUF_SIZE, 4096, NULL), ENXIO,
		       "ENCODE_CLEAR_DIRTY_LOG: a dirty-ring VM");
	}
	ctx_close(xfd);
	vm_destroy(&ring);
}

/* ----------------------------- other processes ---------------------------- */

static void child_use_ctx(int *res, void *arg)
{
	uint64_t gpa = FX_GPA + PG;

	(void)arg;
	res[0] = do_encode(fx_xfd, 0, &gpa, 1, recbuf, RECBUF_SIZE, 4096, NULL);
	res[1] = do_region(fx_xfd, FX_SLOT, 0, 0, 0);
}

static void test_foreign(void)
{
	uint64_t gpas[2] = { FX_GPA + PG, FX_GPA + 6 * PG };
	int res[2], n;

	n = in_child(child_use_ctx, NULL, res, 2);
	if (n != 2) {
		fail_points(2, "context used by a forked child: the child failed");
	} else {
		expect(res[0], EIO, "ENCODE from a forked child (context inherited)");
		expect(res[1], EIO, "SET_REGION (remove) from a forked child");
	}
	fx_good_point(fx_xfd, 0, gpas, 2, 12,
		      "after the child's refused calls: region kept, counters only the parent's, correct records");
}

/* ------------------------ the VM's owner closes it ------------------------ */

static void test_vm_gone(void)
{
	struct kvm_xbzrle_stats s;
	uint64_t gpa = FX_GPA;
	struct enc_out out;
	int r;

	vm_gpa_to_hva(&vm_c, FX_GPA)[1] ^= 0xff;
	r = do_encode(ctx_c, 0, &gpa, 1, recbuf, RECBUF_SIZE, 4096, &out);
	tap_result(!r && out.done == 1,
		   "VM with a vCPU, bound: ENCODE works (%s, npages_done %u)",
		   errname(r), out.done);

	vcpu_destroy(&vcpu_c);
	close(vm_c.fd);
	vm_c.fd = -1;	/* memory stays mapped until vm_destroy() */
	vm_gpa_to_hva(&vm_c, FX_GPA)[1] ^= 0xff;
	expect(do_encode(ctx_c, 0, &gpa, 1, recbuf, RECBUF_SIZE, 4096, NULL),
	       ENODEV, "ENCODE after the VM's vCPU and VM fds were closed");
	r = do_stats(ctx_c, &s);
	expect(r, 0, "GET_STATS after ENODEV");
	tap_result(!r && s.cache_bytes == 0,
		   "after ENODEV the context dropped its cache (cache_bytes %llu)",
		   (unsigned long long)s.cache_bytes);
	r = do_encode(ctx_c, 0, &gpa, 1, recbuf, RECBUF_SIZE, 4096, NULL);
	tap_diag("a second ENCODE after ENODEV: %s", errname(r));
}

/* -------------------------------- SET_CACHE ------------------------------- */

static long read_param(const char *name)
{
	char path[128];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static void test_set_cache(void)
{
	struct kvm_xbzrle_stats s;
	long max = read_param("max_cache_mb");
	uint64_t out = 0, limit;
	struct sysinfo si;
	int r;

	if (max < 0) {
		fail_points(CACHE_TESTS, "SET_CACHE: cannot read " PARAM_DIR "max_cache_mb");
		return;
	}
	limit = (uint64_t)max * MIB;
	if (!max) {
		/* 0 reads as the default: an eighth of RAM, in pages */
		if (sysinfo(&si)) {
			fail_points(CACHE_TESTS, "SET_CACHE: sysinfo failed");
			return;
		}
		limit = (uint64_t)si.totalram * si.mem_unit / PG / 8 * PG;
		tap_diag("max_cache_mb reads 0: the ceiling is an eighth of RAM, %llu bytes",
			 (unsigned long long)limit);
	}
	expect(do_cache(cache_xfd, KVM_XBZRLE_CACHE_SET_SIZE, 64 * PG, NULL), 0,
	       "SET_CACHE: 64 pages");
	expect(do_cache(cache_xfd, KVM_XBZRLE_CACHE_SET_SIZE, limit + PG, NULL), E2BIG,
	       "SET_CACHE: the max_cache_mb ceiling (%llu bytes) + one page",
	       (unsigned long long)limit);
	expect(do_cache(cache_xfd, KVM_XBZRLE_CACHE_SET_SIZE, ~0ULL, NULL), E2BIG,
	       "SET_CACHE: 2^64 - 1 bytes");
	expect(do_cache(cache_xfd, 0, 128 * PG, NULL), EINVAL,
	       "SET_CACHE: cache_size non-zero without SET_SIZE");
	expect(do_cache(cache_xfd, KVM_XBZRLE_CACHE_RESET, 128 * PG, NULL), EINVAL,
	       "SET_CACHE: cache_size non-zero with RESET only");
	r = do_stats(cache_xfd, &s);
	tap_result(!r && s.cache_size == 64 * PG,
		   "SET_CACHE: the refused calls left the size alone (%llu)",
		   (unsigned long long)s.cache_size);
	r = do_cache(cache_xfd, KVM_XBZRLE_CACHE_SET_SIZE, limit, &out);
	tap_result(!r && out == limit,
		   "SET_CACHE: exactly max_cache_mb is accepted (%s, in effect %llu)",
		   errname(r), (unsigned long long)out);
	do_cache(cache_xfd, KVM_XBZRLE_CACHE_SET_SIZE, 64 * PG, NULL);
}

/* --------------------------------- debugfs -------------------------------- */

static const char *const stat_names[] = {
	"contexts", "pages", "cache_hits", "cache_misses", "overflows",
	"zero_pages", "unchanged_pages", "xbzrle_pages", "raw_pages",
	"delta_bytes", "evictions", "reclaimed", "refused", "cache_bytes",
	"max_cache_bytes",
};

static const char *const ctx_fields[] = {
	"id=", "pid=", "bound=", "pages=", "cache_hits=", "cache_misses=",
	"overflows=", "zero_pages=", "unchanged_pages=", "xbzrle_pages=",
	"raw_pages=", "delta_bytes=", "evictions=", "reclaimed=",
	"refused=", "cache_bytes=", "cache_size=",
};

static char *slurp(const char *path)
{
	static char buf[65536];
	ssize_t n, total = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	while ((n = read(fd, buf + total, sizeof(buf) - 1 - total)) > 0)
		total += n;
	close(fd);
	if (n < 0)
		return NULL;
	buf[total] = '\0';
	return buf;
}

/* The file exists without write permission bits, and writing it fails. */
static void check_read_only(const char *path)
{
	struct stat st;
	int fd, wrote = 0;

	if (stat(path, &st)) {
		tap_result(0, "%s exists: %s", path, strerror(errno));
		tap_result(0, "%s: writing fails (no file)", path);
		return;
	}
	tap_result(S_ISREG(st.st_mode) && !(st.st_mode & 0222),
		   "%s exists without write permission (mode 0%o)", path,
		   st.st_mode & 07777);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		wrote = write(fd, "0\n", 2) >= 0;
		close(fd);
	}
	tap_result(!wrote, "%s: writing fails", path);
}

/* Value of " name=" (or line start) in @line, -1 if absent. */
static long long field(const char *line, const char *name)
{
	size_t n = strlen(name);
	const char *p = line;

	while ((p = strstr(p, name))) {
		if (p == line || p[-1] == ' ')
			return strtoll(p + n, NULL, 10);
		p += n;
	}
	return -1;
}

static void test_debugfs(void)
{
	struct kvm_xbzrle_stats fx;
	struct statfs sfs;
	char *text, *line, *save;
	unsigned int i, mine = 0, missing = 0, found = 0;
	long long contexts = -1;
	char pidstr[32];

	if (statfs(DEBUGFS, &sfs) || sfs.f_type != DEBUGFS_MAGIC) {
		if (mount("debugfs", DEBUGFS, "debugfs", 0, NULL) ||
		    statfs(DEBUGFS, &sfs) || sfs.f_type != DEBUGFS_MAGIC) {
			skip_points(DEBUGFS_TESTS, "debugfs not available",
				    "debugfs " DBG_DIR);
			return;
		}
	}

	if (access(DEBUGFS, X_OK) && errno == EACCES) {
		skip_points(DEBUGFS_TESTS, "debugfs not accessible (not root)",
			    "debugfs " DBG_DIR);
		return;
	}
	check_read_only(DBG_DIR "/stats");
	text = slurp(DBG_DIR "/stats");
	if (text) {
		for (i = 0; i < ARRAY_SIZE(stat_names); i++) {
			char *p = text;
			size_t n = strlen(stat_names[i]);
			bool ok = false;

			while ((p = strstr(p, stat_names[i]))) {
				if ((p == text || p[-1] == '\n') && p[n] == ' ' &&
				    p[n + 1] >= '0' && p[n + 1] <= '9') {
					ok = true;
					if (i == 0)
						contexts = strtoll(p + n + 1, NULL, 10);
					break;
				}
				p += n;
			}
			if (!ok) {
				tap_diag("stats: no line \"%s N\"", stat_names[i]);
				missing++;
			}
		}
	}
	tap_result(text && !missing, DBG_DIR "/stats has a \"name value\" line for all %zu counters",
		   ARRAY_SIZE(stat_names));

	check_read_only(DBG_DIR "/contexts");
	do_stats(fx_xfd, &fx);
	text = slurp(DBG_DIR "/contexts");
	snprintf(pidstr, sizeof(pidstr), "%d", getpid());
	missing = 0;
	for (line = text ? strtok_r(text, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (field(line, "pid=") != getpid())
			continue;
		mine++;
		for (i = 0; i < ARRAY_SIZE(ctx_fields); i++)
			if (field(line, ctx_fields[i]) < 0)
				missing++;
		if (field(line, "bound=") == 1 &&
		    field(line, "pages=") == (long long)fx.pages &&
		    field(line, "cache_size=") == (long long)fx.cache_size)
			found++;
	}
	tap_result(text && mine == (unsigned int)open_contexts && !missing,
		   DBG_DIR "/contexts: %u lines with pid=%s, all fields (%d contexts open)",
		   mine, pidstr, open_contexts);
	tap_result(found >= 1,
		   DBG_DIR "/contexts: a bound=1 line with the fixture's pages=%llu cache_size=%llu",
		   (unsigned long long)fx.pages, (unsigned long long)fx.cache_size);
	tap_result(contexts >= open_contexts,
		   DBG_DIR "/stats: contexts %lld >= the %d this process has open",
		   contexts, open_contexts);
}

/* ---------------------------------- unload -------------------------------- */

static void test_unload(void)
{
	int r;

	if (access("/sys/module/kvm_xbzrle/refcnt", F_OK)) {
		tap_skip("kvm_xbzrle is not a loaded module", "delete_module while open");
		return;
	}
	errno = 0;
	r = syscall(SYS_delete_module, "kvm_xbzrle", O_NONBLOCK);
	if (r && errno == EPERM) {
		tap_skip("no CAP_SYS_MODULE", "delete_module while open");
		return;
	}
	/*
	 * The kernel's answer for a module in use with O_NONBLOCK is
	 * EWOULDBLOCK (try_stop_module()), not EBUSY.
	 */
	tap_result(r && errno == EWOULDBLOCK &&
		   !access("/sys/module/kvm_xbzrle/refcnt", F_OK),
		   "delete_module(kvm_xbzrle, O_NONBLOCK) with %d contexts open: %s (expected EWOULDBLOCK), module still loaded",
		   open_contexts, r ? errname(errno) : "success");
}

/* ---------------------------------- setup --------------------------------- */

/* Whether /proc/self/maps has a mapping holding @addr. */
static bool maps_has(const void *addr)
{
	unsigned long a = (uintptr_t)addr, lo, hi;
	char line[512];
	bool found = false;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && a >= lo && a < hi)
			found = true;
	fclose(f);
	return found;
}

static void setup(void)
{
	int r;

	recbuf = map_pages(RECBUF_SIZE / PG + 1, PROT_READ | PROT_WRITE);
	ro_buf = map_pages(3, PROT_READ);
	sr_mem = map_pages(1, PROT_READ | PROT_WRITE);
	gone_mem = map_pages(2, PROT_READ | PROT_WRITE);
	edge = map_pages(2, PROT_READ | PROT_WRITE);
	if (!recbuf || !ro_buf || !sr_mem || !gone_mem || !edge ||
	    mprotect(edge + PG, PG, PROT_NONE))
		tap_bail_out("mmap");
	TEST_ASSERT(access("/proc/self/maps", R_OK) || !maps_has(unmapped),
		    "address %p is mapped", unmapped);

	TEST_ASSERT(!vm_create(&fx_vm, VM_MANUAL_PROTECT) &&
		    !vm_add_memslot(&fx_vm, FX_SLOT, FX_GPA, FX_NP * PG),
		    "fixture VM: %s", kvm_util_error());
	fx_mem = vm_gpa_to_hva(&fx_vm, FX_GPA);
	TEST_ASSERT(!xbz_dest_init(&fx_dest, &fx_vm),
		    "destination: %s", kvm_util_error());
	/* every region is a KVM memslot, as the contract has it */
	r = kvm_set_memslot(fx_vm.fd, GONE_SLOT, 0, GONE_GPA, 2 * PG, gone_mem);
	if (!r)
		r = kvm_set_memslot(fx_vm.fd, SR_SLOT, 0, SR_GPA, PG, sr_mem);
	if (!r)
		r = do_bind(fx_xfd, fx_vm.fd);
	if (!r)
		r = do_region(fx_xfd, FX_SLOT, FX_GPA, FX_NP * PG, (uintptr_t)fx_mem);
	if (!r)
		r = do_region(fx_xfd, GONE_SLOT, GONE_GPA, 2 * PG, (uintptr_t)gone_mem);
	if (r) {
		errno = r;
		tap_bail_out("binding the fixture context");
	}

	if (vm_create(&vm_b, 0))
		tap_bail_out("VM B: %s", kvm_util_error());
	bind_xfd = ctx_open();
	cache_xfd = ctx_open();
	TEST_ASSERT(bind_xfd >= 0 && cache_xfd >= 0, "open " DEV_PATH);
}

int main(void)
{
	struct kvm_xbzrle_caps caps;

	xbz_require_offload(&caps, false);
	fx_xfd = ctx_open();
	TEST_ASSERT(fx_xfd >= 0, "open " DEV_PATH);
	setup();

	tap_plan(NTESTS);
	test_common();
	test_bind();
	test_set_region();
	test_encode();
	test_clear_dirty_log();
	test_generation();
	test_foreign();
	test_vm_gone();
	test_set_cache();
	test_debugfs();
	test_unload();

	ctx_close(ctx_c);
	ctx_close(bind_xfd);
	ctx_close(cache_xfd);
	ctx_close(fx_xfd);
	vm_destroy(&vm_c);
	vm_destroy(&vm_b);
	xbz_dest_free(&fx_dest);
	vm_destroy(&fx_vm);
	tap_finish();
}
