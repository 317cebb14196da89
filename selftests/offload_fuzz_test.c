// SPDX-License-Identifier: GPL-2.0
/*
 * offload_fuzz_test - random and mutated ioctls on /dev/kvm_xbzrle.
 *
 * A deterministic PRNG (seed printed; XBZRLE_FUZZ_SEED overrides it,
 * XBZRLE_FUZZ_CALLS the number of calls, default 100000) drives calls on
 * four contexts (unbound, bound to one of two VMs, bound to a VM that was
 * closed since; closed and reopened now and then) while the VMs' memslots
 * come and go (new mappings, other sizes and addresses, dirty logging on and
 * off) and one VM is now and then closed and created again:
 *
 *  - random ioctl numbers of type 0xBD (every nr, direction and size) and
 *    of a few other types;
 *  - GET_CAPS, BIND, SET_REGION, ENCODE, SET_CACHE and GET_STATS with
 *    mutated sizes (in the argument and in the number), flags, reserved
 *    fields and values: vm_fd of every kind of file, regions off by a page
 *    or a byte, overflowing, of other slots; page lists with aligned and
 *    unaligned addresses inside and outside the regions, duplicates, huge
 *    npages, in unmapped, read-only or guest memory or running into a guard
 *    page; record buffers of any size, misaligned, read-only, unmapped, in
 *    guest memory (the VM's own memslot mappings) or running into a guard
 *    page; cache sizes from 0 to far above the ceiling;
 *  - the argument itself at NULL, unmapped, read-only, or running into a
 *    guard page.
 *
 * Every call must succeed or fail with an errno Documentation/uapi.rst
 * lists for that ioctl (ENOTTY alone for numbers that are none of them).
 * Beyond that, the test keeps a model of each context (binding, regions,
 * record count, cache size, and a destination copy of every page it
 * returned) and checks:
 *
 *  - calls built to be valid (a quarter of the ENCODE and SET_REGION calls,
 *    and the BINDs of unbound contexts) succeed, ENCODE with the documented
 *    progress (every page, or until less than 4112 bytes of the buffer are
 *    left);
 *  - a successful ENCODE returns well-formed records: npages_done and
 *    records_used in range, each record's gpa the list's, a known type,
 *    reserved 0, the length of its type, records 8-byte aligned and
 *    records_used the end of the last one; an XBZRLE or UNCHANGED record
 *    only for a page the context returned before; applied to the
 *    destination copy, the page equals guest memory (when the record
 *    buffer was not itself in guest memory), a zero page is ZERO and an
 *    XBZRLE delta is byte for byte the project's encoder's;
 *  - argument structures are written only where documented (nothing for
 *    _IOW ioctls and failures, npages_done/records_used for ENCODE, the
 *    structure up to min(size, the module's size) otherwise) and outputs
 *    are consistent (GET_CAPS values, GET_STATS identities and the record
 *    count, SET_CACHE's size in effect);
 *
 * and, after the fuzzing, that a fresh context still encodes a VM exactly
 * and that the kernel logged no warning during the run (the harness also
 * checks dmesg).
 *
 * Calls made and an errno histogram per ioctl are printed as diagnostics;
 * the first violations are printed with the call's arguments.
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
#include <time.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
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

#define PG		4096ULL
#define REC_MAX		((uint32_t)KVM_XBZRLE_RECORD_MAX_SIZE)
#define NTESTS		9
#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

/* Guest physical layout: memslot id s lives in window s. */
#define NVM		2
#define NSLOT		6
#define WIN_PAGES	64
#define WIN_BASE	0x1000000ULL
#define DEST_PAGES	(NSLOT * WIN_PAGES)
#define MAX_SLOT_PAGES	24

#define NCTX		4

/* Buffers. */
#define LIST_MAX	8192			/* gpas in the list buffer */
#define RECBUF_RECS	48
#define RECBUF_SIZE	(RECBUF_RECS * REC_MAX)
#define ARGBUF_SIZE	8192
/* Never mapped: below mmap_min_addr. */
#define UNMAPPED	((void *)0x8000)
#define KERNEL_ADDR	((void *)0xffff888000000000ULL)

/* ---------------------------------- PRNG ---------------------------------- */

static uint64_t rng;

static uint64_t rnd(void)
{
	return rand64(&rng);
}

static uint32_t rn(uint32_t n)
{
	return rand_below(&rng, n);
}

static bool chance(unsigned int percent)
{
	return rn(1000) < percent * 10;
}

static bool permille(unsigned int n)
{
	return rn(1000) < n;
}

static uint64_t interesting64(void)
{
	static const uint64_t v[] = {
		0, 1, 2, 7, 8, 63, 64, 0xff, 0x100, 0xfff, 0x1000, 0x1001,
		0x1010, 0x2000, 4112, 4111, 0x7fff, 0x8000, 0xffff, 0x10000,
		0x7fffffff, 0x80000000, 0xfffff000, 0xffffffff, 0x100000000ULL,
		0x7ffffffff000ULL, 0x800000000000ULL, 0xffff800000000000ULL,
		0x7fffffffffffffffULL, 0x8000000000000000ULL,
		0xfffffffffffff000ULL, 0xffffffffffffffffULL,
	};

	return v[rn(ARRAY_SIZE(v))];
}

static uint64_t rval64(void)
{
	switch (rn(5)) {
	case 0:
		return interesting64();
	case 1:
		return rnd();
	case 2:
		return rn(64);
	case 3:
		return (uint64_t)rn(1 << 20) * PG;
	default:
		return interesting64() + (int)(rn(3)) - 1;
	}
}

static uint32_t rval32(void)
{
	return (uint32_t)rval64();
}

/* ------------------------------- the model -------------------------------- */

struct fslot {
	bool used;
	uint32_t flags;		/* KVM_MEM_* */
	uint64_t gpa;
	uint64_t npages;
	uint8_t *map;		/* guard, memory, guard */
	uint8_t *hva;
};

struct fvm {
	int fd;			/* -1: none */
	unsigned int gen;	/* bumped when the VM is replaced */
	bool manual;
	struct fslot slot[NSLOT];
};

struct fregion {
	bool set;
	uint64_t gpa, npages, hva;
};

struct fctx {
	int fd;			/* -1: closed */
	int vm;			/* -1: unbound */
	unsigned int vm_gen;
	struct fregion reg[NSLOT];
	uint8_t *dest;		/* DEST_PAGES pages */
	bool dvalid[DEST_PAGES];
	bool dest_lost;		/* records we did not see: no base checks */
	uint64_t records;	/* returned since open or RESET */
	bool records_known;
	uint64_t cache_size;	/* in effect; UINT64_MAX unknown */
};

static struct fvm vms[NVM];
static struct fctx ctxs[NCTX];
static int kvm_fd, foreign_vm_fd = -1, file_fd = -1, closed_fd = 1000;
static uint64_t max_cache_bytes;	/* ceiling, UINT64_MAX unknown */

static uint8_t *listbuf;	/* LIST_MAX gpas, then a guard page */
static uint8_t *rolist;		/* a read-only page of gpas */
static uint8_t *recbuf;		/* RECBUF_SIZE, then a guard */
static uint8_t *robuf;		/* 2 read-only pages, then a guard */
static uint8_t *argbuf;		/* ARGBUF_SIZE, then a guard */
static uint8_t *roarg;		/* a read-only page */
static uint8_t argsave[ARGBUF_SIZE];
static size_t arg_dirty = ARGBUF_SIZE;	/* bytes of argbuf that may be non-zero */

static void arg_clear(void)
{
	memset(argbuf, 0, arg_dirty);
	arg_dirty = 256;
}

/* --------------------------------- results -------------------------------- */

enum vkind {
	V_ERRNO, V_RECORDS, V_CONTENT, V_STRICT, V_ARGWRITE, V_OUTPUT, V_NR
};

static const char *const vkind_name[V_NR] = {
	"errno", "records", "content", "valid call", "argument", "output",
};

static unsigned long violations[V_NR];
static unsigned long printed;
static unsigned long calls, calls_target, records_walked, content_checked,
		     strict_calls, rtype[5];

/* Errno histogram per ioctl. */
enum {
	H_CAPS, H_BIND, H_REGION, H_ENCODE, H_CACHE, H_STATS, H_INVALIDATE,
	H_OTHER, H_NR
};
static const char *const h_name[H_NR] = {
	"GET_CAPS", "BIND", "SET_REGION", "ENCODE", "SET_CACHE", "GET_STATS",
	"INVALIDATE", "unknown",
};
#define MAXERR	140
static unsigned long hist[H_NR][MAXERR + 1];

/* The call being made, for the violation messages. */
static struct {
	unsigned long n;
	unsigned int ctx;
	unsigned long cmd;
	const void *arg;
	const char *argwhere;
	uint8_t argcopy[128];
	char extra[200];
} cur;

static void __attribute__((format(printf, 2, 3)))
violation(enum vkind k, const char *fmt, ...)
{
	char msg[300], hex[300];
	unsigned int i, n;
	va_list ap;

	violations[k]++;
	if (++printed > 12)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n = 0;
	for (i = 0; i < 64 && n < sizeof(hex) - 3; i++)
		n += snprintf(hex + n, sizeof(hex) - n, "%02x%s", cur.argcopy[i],
			      i % 8 == 7 ? " " : "");
	tap_diag("VIOLATION (%s) call %lu on context %u: %s", vkind_name[k],
		 cur.n, cur.ctx, msg);
	tap_diag("  cmd 0x%08lx (dir %lu nr 0x%02lx size %lu) arg %p (%s)%s%s",
		 cur.cmd, (unsigned long)_IOC_DIR(cur.cmd),
		 (unsigned long)_IOC_NR(cur.cmd),
		 (unsigned long)_IOC_SIZE(cur.cmd), cur.arg, cur.argwhere,
		 cur.extra[0] ? ", " : "", cur.extra);
	tap_diag("  arg bytes: %s", hex);
}

/* Documented errnos per ioctl (Documentation/uapi.rst). */
static const int caps_errs[] = { EFAULT, EINVAL, E2BIG, EBADF, EIO };
static const int bind_errs[] = { EFAULT, EINVAL, E2BIG, EBADF, EIO, EBUSY };
static const int region_errs[] = {
	EFAULT, EINVAL, E2BIG, ENOTCONN, ENODEV, EIO, EEXIST, ENOENT, ENOSPC,
	ENOMEM, EAGAIN,
};
/* ENCODE's own, and KVM_CLEAR_DIRTY_LOG's (EFAULT, EINVAL, ENOENT, ENXIO, EIO) */
static const int encode_errs[] = {
	EFAULT, EINVAL, E2BIG, ENOTCONN, ENODEV, EIO, ENOENT, ENXIO, EINTR,
	ENOMEM,
};
static const int cache_errs[] = { EFAULT, EINVAL, E2BIG };
static const int stats_errs[] = { EFAULT, EINVAL, E2BIG };
static const int invalidate_errs[] = { EFAULT, EINVAL, E2BIG };
static const int other_errs[] = { ENOTTY };

static const struct {
	const int *errs;
	unsigned int n;
} allowed[H_NR] = {
	[H_CAPS] = { caps_errs, ARRAY_SIZE(caps_errs) },
	[H_BIND] = { bind_errs, ARRAY_SIZE(bind_errs) },
	[H_REGION] = { region_errs, ARRAY_SIZE(region_errs) },
	[H_ENCODE] = { encode_errs, ARRAY_SIZE(encode_errs) },
	[H_CACHE] = { cache_errs, ARRAY_SIZE(cache_errs) },
	[H_STATS] = { stats_errs, ARRAY_SIZE(stats_errs) },
	[H_INVALIDATE] = { invalidate_errs, ARRAY_SIZE(invalidate_errs) },
	[H_OTHER] = { other_errs, ARRAY_SIZE(other_errs) },
};

/* Which ioctl a number is, as the module matches it: type, nr, direction. */
static int ioctl_kind(unsigned long cmd)
{
	static const unsigned long known[] = {
		[H_CAPS] = KVM_XBZRLE_GET_CAPS, [H_BIND] = KVM_XBZRLE_BIND,
		[H_REGION] = KVM_XBZRLE_SET_REGION,
		[H_ENCODE] = KVM_XBZRLE_ENCODE,
		[H_CACHE] = KVM_XBZRLE_SET_CACHE,
		[H_STATS] = KVM_XBZRLE_GET_STATS,
		[H_INVALIDATE] = KVM_XBZRLE_INVALIDATE,
	};
	const unsigned long mask = ~((unsigned long)_IOC_SIZEMASK << _IOC_SIZESHIFT);
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(known); i++)
		if ((cmd & mask) == (known[i] & mask))
			return i;
	return H_OTHER;
}

/*
 * One ioctl on a context, counted and judged against the errno table.
 * Returns 0 or the errno (-1 for a positive return, itself a violation).
 */
static int fuzz_ioctl(unsigned int c, unsigned long cmd, void *arg,
		      const char *where)
{
	int kind = ioctl_kind(cmd), r, e;
	unsigned int i;

	cur.n = ++calls;
	cur.ctx = c;
	cur.cmd = cmd;
	cur.arg = arg;
	cur.argwhere = where;
	if (arg == argbuf)
		memcpy(cur.argcopy, arg, sizeof(cur.argcopy));
	else
		memset(cur.argcopy, 0, sizeof(cur.argcopy));

	errno = 0;
	r = ioctl(ctxs[c].fd, cmd, arg);
	e = r < 0 ? errno : 0;
	if (r > 0) {
		violation(V_ERRNO, "returned %d", r);
		return -1;
	}
	hist[kind][e > MAXERR ? MAXERR : e]++;
	if (!e) {
		if (kind == H_OTHER)
			violation(V_ERRNO, "%s number succeeded", h_name[kind]);
		return 0;
	}
	for (i = 0; i < allowed[kind].n; i++)
		if (allowed[kind].errs[i] == e)
			return e;
	violation(V_ERRNO, "%s failed with %s (%d), not documented for it",
		  h_name[kind], errname(e), e);
	return e;
}

/* ------------------------------ VMs and slots ----------------------------- */

static void fill_guest(uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i += 8) {
		uint64_t v = rnd();

		switch (rn(4)) {
		case 0:
			v = 0;
			break;
		case 1:
			v &= 0x0101010101010101ULL;
			break;
		}
		memcpy(p + i, &v, 8);
	}
}

static bool region_matches(const struct fregion *r, const struct fslot *s)
{
	return s->used && r->gpa == s->gpa && r->npages == s->npages &&
	       r->hva == (uintptr_t)s->hva;
}

static bool ctx_live(const struct fctx *x)
{
	return x->fd >= 0 && x->vm >= 0 && vms[x->vm].fd >= 0 &&
	       x->vm_gen == vms[x->vm].gen;
}

/* The memslots of @v changed: drop regions the module will drop. */
static void vm_changed(int v)
{
	unsigned int c, s;

	for (c = 0; c < NCTX; c++) {
		struct fctx *x = &ctxs[c];

		if (!ctx_live(x) || x->vm != v)
			continue;
		for (s = 0; s < NSLOT; s++)
			if (x->reg[s].set &&
			    !region_matches(&x->reg[s], &vms[v].slot[s]))
				x->reg[s].set = false;
	}
}

static void slot_remove(int v, unsigned int s)
{
	struct fslot *sl = &vms[v].slot[s];

	if (!sl->used)
		return;
	if (kvm_set_memslot(vms[v].fd, s, 0, 0, 0, NULL))
		tap_bail_out("deleting memslot %u", s);
	munmap(sl->map, (sl->npages + 2) * PG);
	memset(sl, 0, sizeof(*sl));
	vm_changed(v);
}

static void slot_add(int v, unsigned int s)
{
	struct fslot *sl = &vms[v].slot[s];
	uint64_t np = 1 + rn(MAX_SLOT_PAGES), off = rn(WIN_PAGES - np + 1);
	uint8_t *map;

	map = mmap(NULL, (np + 2) * PG, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	TEST_ASSERT(map != MAP_FAILED &&
		    !mprotect(map + PG, np * PG, PROT_READ | PROT_WRITE),
		    "mmap guest memory");
	sl->used = true;
	sl->flags = chance(85) ? KVM_MEM_LOG_DIRTY_PAGES : 0;
	sl->gpa = WIN_BASE + (s * WIN_PAGES + off) * PG;
	sl->npages = np;
	sl->map = map;
	sl->hva = map + PG;
	fill_guest(sl->hva, np * PG);
	TEST_ASSERT(!kvm_set_memslot(vms[v].fd, s, sl->flags, sl->gpa, np * PG,
				     sl->hva),
		    "adding memslot %u", s);
	vm_changed(v);
}

static void vm_new(int v)
{
	struct kvm_vm tmp;
	unsigned int s;

	vms[v].manual = v == 0 || chance(50);
	TEST_ASSERT(!vm_create(&tmp, vms[v].manual ? VM_MANUAL_PROTECT : 0),
		    "VM %d: %s", v, kvm_util_error());
	vms[v].fd = tmp.fd;
	vms[v].gen++;
	for (s = 0; s < NSLOT; s++)
		if (s < 3 || chance(50))
			slot_add(v, s);
}

/* Closes the VM: contexts bound to it keep it alive, it is gone for us. */
static void vm_drop(int v)
{
	unsigned int s;

	for (s = 0; s < NSLOT; s++) {
		struct fslot *sl = &vms[v].slot[s];

		if (sl->used)
			munmap(sl->map, (sl->npages + 2) * PG);
		memset(sl, 0, sizeof(*sl));
	}
	close(vms[v].fd);
	vms[v].fd = -1;
}

static void slot_churn(void)
{
	int v = rn(NVM);
	unsigned int s = rn(NSLOT);
	struct fslot *sl = &vms[v].slot[s];

	if (sl->used && chance(30)) {
		/* dirty logging on or off: the same region */
		sl->flags ^= KVM_MEM_LOG_DIRTY_PAGES;
		if (kvm_set_memslot(vms[v].fd, s, sl->flags, sl->gpa,
				    sl->npages * PG, sl->hva))
			tap_bail_out("changing memslot %u flags", s);
		return;
	}
	if (sl->used)
		slot_remove(v, s);
	if (chance(70))
		slot_add(v, s);
}

/* The slot of @v holding @gpa, or NULL. */
static struct fslot *slot_of(int v, uint64_t gpa)
{
	unsigned int s;

	for (s = 0; s < NSLOT; s++) {
		struct fslot *sl = &vms[v].slot[s];

		if (sl->used && gpa >= sl->gpa && gpa < sl->gpa + sl->npages * PG)
			return sl;
	}
	return NULL;
}

/* A random page of guest memory (any VM), or NULL. */
static struct fslot *random_slot(int v)
{
	unsigned int s, i;

	for (i = 0, s = rn(NSLOT); i < NSLOT; i++, s = (s + 1) % NSLOT)
		if (vms[v].slot[s].used)
			return &vms[v].slot[s];
	return NULL;
}

/* -------------------------------- contexts -------------------------------- */

static void ctx_reset_model(struct fctx *x)
{
	memset(x->reg, 0, sizeof(x->reg));
	memset(x->dvalid, 0, sizeof(x->dvalid));
	x->dest_lost = false;
	x->vm = -1;
	x->records = 0;
	x->records_known = true;
	x->cache_size = UINT64_MAX;
}

static void ctx_open(unsigned int c)
{
	struct fctx *x = &ctxs[c];

	x->fd = xbz_open();
	if (x->fd < 0)
		tap_bail_out("open /dev/kvm_xbzrle");
	ctx_reset_model(x);
}

static void ctx_close(unsigned int c)
{
	if (ctxs[c].fd >= 0)
		close(ctxs[c].fd);
	ctxs[c].fd = -1;
}

/* --------------------------- argument placement --------------------------- */

enum { W_ARG = 0, W_NULL, W_UNMAPPED, W_RO, W_EDGE, W_KERNEL };

/*
 * Where the argument goes: mostly argbuf (filled by the caller), sometimes
 * somewhere it cannot be read or written.
 */
static void *place_arg(const void *arg, size_t len, const char **where, int *w)
{
	unsigned int k = rn(100);

	if (k < 92) {
		*where = "argbuf";
		*w = W_ARG;
		return argbuf;
	}
	if (k < 94) {
		*where = "NULL";
		*w = W_NULL;
		return NULL;
	}
	if (k < 95) {
		*where = "unmapped";
		*w = W_UNMAPPED;
		return UNMAPPED;
	}
	if (k < 96) {
		*where = "kernel address";
		*w = W_KERNEL;
		return KERNEL_ADDR;
	}
	if (k < 98) {
		/* read-only: the input readable, the output not writable */
		if (mprotect(roarg, PG, PROT_READ | PROT_WRITE))
			tap_bail_out("mprotect");
		memcpy(roarg, arg, len > PG ? PG : len);
		mprotect(roarg, PG, PROT_READ);
		*where = "read-only";
		*w = W_RO;
		return roarg;
	}
	/* the first bytes readable, the rest in the guard page */
	{
		size_t keep = rn(len ? (unsigned int)(len > 256 ? 256 : len) : 1);
		uint8_t *p = argbuf + ARGBUF_SIZE - keep;

		memmove(p, arg, keep);
		arg_dirty = ARGBUF_SIZE;
		*where = "running into a guard page";
		*w = W_EDGE;
		return p;
	}
}

/* A size for the argument and the number: mostly right. */
static uint32_t pick_size(uint32_t ver1, uint32_t *ioc_size)
{
	uint32_t s = ver1;

	switch (rn(16)) {
	case 0:
		s = rn(ver1 + 16);
		break;
	case 1:
		s = ver1 + 8 * (1 + rn(4));
		break;
	case 2:
		s = rn(2) ? 4096 : 4104;
		break;
	case 3:
		s = rn(0x3fff + 1);
		break;
	case 4:
		/* the number disagrees */
		*ioc_size = rn(2) ? ver1 + 8 : rn(0x3fff + 1);
		return rval32();
	}
	*ioc_size = s > 0x3fff ? s & 0x3fff : s;
	return s;
}

/* Mutates the common header and tail: size, flags, reserved, zero tail. */
static void mutate_tail(uint8_t *a, uint32_t size, uint32_t ver1)
{
	/* bytes past the structure: mostly zero (accepted), else junk */
	if (size > ver1 && size <= ARGBUF_SIZE && chance(20)) {
		a[ver1 + rn(size - ver1)] = 1 + rn(255);
		arg_dirty = ARGBUF_SIZE;
	}
}

/* Records whether the argument was written where it must not be. */
struct argcheck {
	bool on;
	uint32_t len;		/* bytes compared */
	uint32_t wlo, whi;	/* may be written: [wlo, whi) */
};

/*
 * The module reads at most 4096 bytes and writes at most its structure:
 * compare the argument's own size and a margin.
 */
static void arg_snapshot(struct argcheck *ac, int w, uint32_t len)
{
	uint32_t size = *(uint32_t *)argbuf;

	len = size > 4096 ? 4096 + 64 : size + 64 > 256 ? size + 64 : 256;
	ac->on = w == W_ARG;
	ac->len = len > ARGBUF_SIZE ? ARGBUF_SIZE : len;
	ac->wlo = ac->whi = 0;
	if (ac->on)
		memcpy(argsave, argbuf, ac->len);
}

static void arg_verify(const struct argcheck *ac, const char *what)
{
	uint32_t i;

	if (!ac->on)
		return;
	for (i = 0; i < ac->len; i++) {
		if (i >= ac->wlo && i < ac->whi)
			continue;
		if (argbuf[i] != argsave[i]) {
			violation(V_ARGWRITE, "%s: byte %u of the argument changed 0x%02x -> 0x%02x (writable: [%u, %u))",
				  what, i, argsave[i], argbuf[i], ac->wlo,
				  ac->whi);
			return;
		}
	}
}

/* ------------------------------- the ioctls ------------------------------- */

static int pick_vm_fd(void)
{
	switch (rn(12)) {
	case 0: case 1: case 2: case 3:
		return vms[0].fd;
	case 4: case 5: case 6:
		return vms[1].fd;
	case 7:
		return foreign_vm_fd;
	case 8:
		return rn(2) ? kvm_fd : file_fd;
	case 9:
		return ctxs[rn(NCTX)].fd;
	case 10:
		return rn(2) ? -1 : closed_fd;
	default:
		return (int)rval32();
	}
}

static int vm_of_fd(int fd)
{
	int v;

	for (v = 0; v < NVM; v++)
		if (fd >= 0 && vms[v].fd == fd)
			return v;
	return -1;
}

static void do_caps(unsigned int c)
{
	struct kvm_xbzrle_caps *a = (void *)argbuf;
	uint32_t ioc = sizeof(*a), size = sizeof(*a);
	struct argcheck ac;
	const char *where;
	void *p;
	int w, r;

	arg_clear();
	if (chance(70)) {
		a->flags = KVM_XBZRLE_CAPS_VM_FD;
		a->vm_fd = pick_vm_fd();
	}
	if (chance(20)) {
		size = pick_size(KVM_XBZRLE_CAPS_SIZE_VER1, &ioc);
		a->size = size;
	} else {
		a->size = size;
	}
	if (chance(10))
		a->flags = rval32();
	if (chance(5))
		a->reserved[rn(4)] = rval64();
	if (chance(5))
		a->vm_fd = pick_vm_fd();
	if (chance(5)) {
		a->api_version = rval32();
		a->capabilities = rval64();
	}
	mutate_tail(argbuf, size, sizeof(*a));
	p = place_arg(argbuf, size, &where, &w);
	arg_snapshot(&ac, w, ARGBUF_SIZE);
	r = fuzz_ioctl(c, _IOC(_IOC_READ | _IOC_WRITE, KVM_XBZRLE_IOCTL_TYPE, 0, ioc),
		       p, where);
	if (!r && w == W_ARG) {
		ac.wlo = offsetof(struct kvm_xbzrle_caps, api_version);
		ac.whi = size < sizeof(*a) ? size : sizeof(*a);
		if (a->api_version != KVM_XBZRLE_API_VERSION ||
		    (a->capabilities & 7) != 7 ||
		    a->formats != 1ULL << KVM_XBZRLE_FORMAT_QEMU_V1 ||
		    a->page_size != PG || a->max_delta_size != PG ||
		    a->max_batch != KVM_XBZRLE_MAX_BATCH || !a->max_regions ||
		    a->reserved[0] || a->reserved[1] || a->reserved[2])
			violation(V_OUTPUT, "GET_CAPS: api %u caps 0x%llx formats 0x%llx page %u max_delta %u max_batch %u reserved %llx/%llx/%llx",
				  a->api_version,
				  (unsigned long long)a->capabilities,
				  (unsigned long long)a->formats, a->page_size,
				  a->max_delta_size, a->max_batch,
				  (unsigned long long)a->reserved[0],
				  (unsigned long long)a->reserved[1],
				  (unsigned long long)a->reserved[2]);
		/* the reserved input was zero, so writing zero there is fine */
		ac.whi = ac.whi > 48 ? 48 : ac.whi;
	}
	if (r == EFAULT)
		return;
	arg_verify(&ac, "GET_CAPS");
	if (r == 0 && w == W_ARG && a->flags & KVM_XBZRLE_CAPS_VM_FD &&
	    vm_of_fd(a->vm_fd) < 0)
		violation(V_OUTPUT, "GET_CAPS accepted vm_fd %d, not a VM of this process",
			  a->vm_fd);
}

static void do_bind(unsigned int c, bool valid)
{
	struct kvm_xbzrle_bind *a = (void *)argbuf;
	uint32_t ioc = sizeof(*a), size = sizeof(*a);
	struct fctx *x = &ctxs[c];
	struct argcheck ac;
	const char *where = "argbuf";
	void *p = argbuf;
	int w = W_ARG, r, v;

	arg_clear();
	a->size = size;
	a->vm_fd = valid ? vms[rn(NVM)].fd : pick_vm_fd();
	if (!valid) {
		if (chance(15)) {
			size = pick_size(KVM_XBZRLE_BIND_SIZE_VER1, &ioc);
			a->size = size;
		}
		if (chance(8))
			a->flags = rval32();
		if (chance(5))
			a->reserved0 = rval32();
		if (chance(5))
			a->reserved[rn(2)] = rval64();
		mutate_tail(argbuf, size, sizeof(*a));
		p = place_arg(argbuf, size, &where, &w);
	}
	valid = valid && x->vm < 0;
	arg_snapshot(&ac, w, ARGBUF_SIZE);
	r = fuzz_ioctl(c, _IOC(_IOC_WRITE, KVM_XBZRLE_IOCTL_TYPE, 1, ioc), p,
		       where);
	arg_verify(&ac, "BIND");
	if (valid) {
		strict_calls++;
		if (r)
			violation(V_STRICT, "BIND of an unbound context to VM fd %d: %s",
				  a->vm_fd, errname(r));
	}
	if (r)
		return;
	v = vm_of_fd(a->vm_fd);
	if (x->vm >= 0)
		violation(V_OUTPUT, "BIND succeeded on a context already bound");
	if (v < 0 && w == W_ARG) {
		violation(V_OUTPUT, "BIND succeeded with vm_fd %d, not a VM of this process",
			  a->vm_fd);
		return;
	}
	if (v < 0) {
		/* bound, but we cannot tell to what: treat it as gone */
		x->vm = 0;
		x->vm_gen = 0;
		return;
	}
	x->vm = v;
	x->vm_gen = vms[v].gen;
	memset(x->reg, 0, sizeof(x->reg));
}

static void region_model_success(struct fctx *x,
				 const struct kvm_xbzrle_region *a)
{
	struct fslot *sl;

	if (!ctx_live(x))
		return;
	if (a->slot >= NSLOT) {
		if (a->memory_size)
			violation(V_OUTPUT, "SET_REGION succeeded for slot 0x%x, no memslot of ours",
				  a->slot);
		return;
	}
	if (!a->memory_size) {
		x->reg[a->slot].set = false;
		return;
	}
	sl = &vms[x->vm].slot[a->slot];
	if (!sl->used || sl->gpa != a->guest_phys_addr ||
	    sl->npages * PG != a->memory_size ||
	    (uintptr_t)sl->hva != a->userspace_addr) {
		violation(V_OUTPUT, "SET_REGION accepted slot %u gpa 0x%llx size 0x%llx hva 0x%llx: not the memslot",
			  a->slot, (unsigned long long)a->guest_phys_addr,
			  (unsigned long long)a->memory_size,
			  (unsigned long long)a->userspace_addr);
		return;
	}
	x->reg[a->slot] = (struct fregion){ true, sl->gpa, sl->npages,
					    (uintptr_t)sl->hva };
}

static void do_region(unsigned int c, bool valid)
{
	struct kvm_xbzrle_region *a = (void *)argbuf;
	uint32_t ioc = sizeof(*a), size = sizeof(*a);
	struct fctx *x = &ctxs[c];
	int v = x->vm >= 0 && ctx_live(x) ? x->vm : (int)rn(NVM);
	unsigned int s = rn(NSLOT);
	struct fslot *sl = &vms[v].slot[s];
	struct argcheck ac;
	const char *where = "argbuf";
	void *p = argbuf;
	int w = W_ARG, r;

	arg_clear();
	a->size = size;
	a->slot = s;
	if (sl->used) {
		a->guest_phys_addr = sl->gpa;
		a->memory_size = sl->npages * PG;
		a->userspace_addr = (uintptr_t)sl->hva;
	} else {
		valid = false;
		a->guest_phys_addr = WIN_BASE + s * WIN_PAGES * PG;
		a->memory_size = rn(2) ? 0 : PG;
		a->userspace_addr = (uintptr_t)recbuf;
	}
	if (!valid) {
		switch (rn(12)) {
		case 0:
			a->slot = rn(2) ? rval32() : (1U << 16) | s;
			break;
		case 1:
			a->guest_phys_addr += (int64_t)(rn(3) - 1) * (rn(2) ? PG : 1);
			break;
		case 2:
			a->memory_size = rn(2) ? 0 : a->memory_size + (rn(2) ? PG : 1);
			break;
		case 3:
			a->userspace_addr += (int64_t)(rn(3) - 1) * (rn(2) ? PG : 1);
			break;
		case 4:
			a->guest_phys_addr = rval64();
			break;
		case 5:
			a->memory_size = rval64();
			break;
		case 6:
			a->userspace_addr = rn(2) ? rval64() : (uintptr_t)KERNEL_ADDR;
			break;
		case 7:
			/* another slot's values, or another VM's */
			sl = random_slot(rn(NVM));
			if (sl) {
				a->guest_phys_addr = sl->gpa;
				a->memory_size = sl->npages * PG;
				a->userspace_addr = (uintptr_t)sl->hva;
			}
			break;
		case 8:
			a->flags = rval32();
			break;
		case 9:
			if (rn(2))
				a->reserved0 = rval32();
			else
				a->reserved[rn(2)] = rval64();
			break;
		case 10:
			size = pick_size(KVM_XBZRLE_REGION_SIZE_VER1, &ioc);
			a->size = size;
			mutate_tail(argbuf, size, sizeof(*a));
			break;
		default:
			break;	/* as it is: maybe valid, maybe not bound */
		}
		p = place_arg(argbuf, size, &where, &w);
	}
	valid = valid && ctx_live(x);
	arg_snapshot(&ac, w, ARGBUF_SIZE);
	r = fuzz_ioctl(c, _IOC(_IOC_WRITE, KVM_XBZRLE_IOCTL_TYPE, 2, ioc), p,
		       where);
	arg_verify(&ac, "SET_REGION");
	if (valid) {
		strict_calls++;
		if (r)
			violation(V_STRICT, "SET_REGION of memslot %u as KVM has it: %s",
				  s, errname(r));
	}
	if (!r && w == W_ARG && size == sizeof(*a))
		region_model_success(x, a);
	else if (!r && ctx_live(x))
		/* from a copy we no longer have: forget what we knew */
		memset(x->reg, 0, sizeof(x->reg));
}

static bool page_zero(const uint8_t *p)
{
	static const uint8_t zero[PG];

	return !memcmp(p, zero, PG);
}

/* Gpas of the regions of a live context, for valid lists. */
static unsigned int valid_gpas(const struct fctx *x, uint64_t *out,
			       unsigned int max, bool *all_logged)
{
	unsigned int s, n = 0;
	uint64_t i;

	*all_logged = true;
	if (!ctx_live(x))
		return 0;
	for (s = 0; s < NSLOT; s++) {
		const struct fslot *sl = &vms[x->vm].slot[s];

		if (!x->reg[s].set || !region_matches(&x->reg[s], sl))
			continue;
		for (i = 0; i < sl->npages && n < max; i++)
			out[n++] = sl->gpa + i * PG;
	}
	return n;
}

static bool slot_logged(int v, uint64_t gpa)
{
	struct fslot *sl = slot_of(v, gpa);

	return sl && sl->flags & KVM_MEM_LOG_DIRTY_PAGES;
}

/* Changes a few guest pages the next ENCODE will read. */
static void touch_pages(int v, const uint64_t *gpas, unsigned int n)
{
	unsigned int i, k;

	for (i = 0; i < n && i < 4; i++) {
		uint64_t g = gpas[rn(n)] & ~(PG - 1);
		struct fslot *sl = slot_of(v, g);
		uint8_t *pg;

		if (!sl)
			continue;
		pg = sl->hva + (g - sl->gpa);
		switch (rn(6)) {
		case 0:
			memset(pg, 0, PG);
			break;
		case 1:
			fill_guest(pg, PG);
			break;
		case 2:
			break;
		default:
			for (k = 1 + rn(40); k; k--)
				pg[rn(PG)] = rnd();
		}
	}
}

struct enc_plan {
	const uint64_t *list;		/* the page list, as passed */
	bool list_known;		/* list[] still holds what was read */
	uint32_t readable;		/* entries the module can read */
	bool records_in_guest;
	uint32_t max_delta;
	uint32_t records_size;
	void *records;
};

static struct enc_plan plan;
static uint8_t delta_buf[PG];

/*
 * Walks the records of a successful ENCODE and applies them to the
 * context's destination copy.
 */
static void check_records(struct fctx *x, uint32_t npages, uint32_t done,
			  uint32_t used)
{
	const uint8_t *buf = plan.records;
	uint32_t off = 0, i, limit;
	bool content = ctx_live(x) && !plan.records_in_guest && !x->dest_lost;
	uint8_t before[PG];

	limit = npages < KVM_XBZRLE_MAX_BATCH ? npages : KVM_XBZRLE_MAX_BATCH;
	if (done > limit || used > plan.records_size || used % 8 ||
	    (npages && !done) || (!npages && (done || used))) {
		violation(V_RECORDS, "ENCODE of %u pages into %u bytes: npages_done %u records_used %u",
			  npages, plan.records_size, done, used);
		return;
	}
	if (done > plan.readable) {
		violation(V_RECORDS, "ENCODE returned %u records, the page list has %u readable entries",
			  done, plan.readable);
		return;
	}
	for (i = 0; i < done; i++) {
		struct kvm_xbzrle_record h;
		const uint8_t *data;
		uint8_t *dp;
		uint64_t di;
		int n;

		if (off + sizeof(h) > used) {
			violation(V_RECORDS, "record %u at offset %u: past records_used %u",
				  i, off, used);
			return;
		}
		memcpy(&h, buf + off, sizeof(h));
		data = buf + off + sizeof(h);
		if ((plan.list_known && h.gpa != plan.list[i]) || h.reserved ||
		    h.type < KVM_XBZRLE_RECORD_ZERO ||
		    h.type > KVM_XBZRLE_RECORD_RAW ||
		    off + sizeof(h) + h.len > used ||
		    ((h.type == KVM_XBZRLE_RECORD_ZERO ||
		      h.type == KVM_XBZRLE_RECORD_UNCHANGED) && h.len) ||
		    (h.type == KVM_XBZRLE_RECORD_RAW && h.len != PG) ||
		    (h.type == KVM_XBZRLE_RECORD_XBZRLE &&
		     (!h.len || h.len > plan.max_delta))) {
			violation(V_RECORDS, "record %u at offset %u: gpa 0x%llx (list 0x%llx) type %u reserved %u len %u (max_delta %u, used %u)",
				  i, off, (unsigned long long)h.gpa,
				  (unsigned long long)(plan.list_known ? plan.list[i] : 0), h.type,
				  h.reserved, h.len, plan.max_delta, used);
			return;
		}
		records_walked++;
		rtype[h.type]++;
		x->records++;
		off = (off + sizeof(h) + h.len + 7) & ~7U;
		if (h.gpa % PG || h.gpa < WIN_BASE ||
		    (di = (h.gpa - WIN_BASE) / PG) >= DEST_PAGES) {
			violation(V_RECORDS, "record %u: gpa 0x%llx is no page of any region",
				  i, (unsigned long long)h.gpa);
			return;
		}
		dp = x->dest + di * PG;
		if (h.type == KVM_XBZRLE_RECORD_XBZRLE)
			memcpy(before, dp, PG);
		switch (h.type) {
		case KVM_XBZRLE_RECORD_ZERO:
			memset(dp, 0, PG);
			break;
		case KVM_XBZRLE_RECORD_UNCHANGED:
		case KVM_XBZRLE_RECORD_XBZRLE:
			if (!x->dvalid[di] && !x->dest_lost) {
				violation(V_RECORDS, "record %u: %s for gpa 0x%llx, which this context never returned",
					  i, xbz_record_type_name(h.type),
					  (unsigned long long)h.gpa);
				return;
			}
			if (h.type == KVM_XBZRLE_RECORD_XBZRLE &&
			    xbzrle_decode(data, h.len, dp, PG) < 0) {
				violation(V_RECORDS, "record %u: XBZRLE delta of %u bytes does not decode",
					  i, h.len);
				return;
			}
			break;
		case KVM_XBZRLE_RECORD_RAW:
			memcpy(dp, data, PG);
			break;
		}
		x->dvalid[di] = true;
		if (!content)
			continue;
		{
			struct fslot *sl = slot_of(x->vm, h.gpa);
			const uint8_t *g = sl ? sl->hva + (h.gpa - sl->gpa) : NULL;

			if (!g) {
				violation(V_CONTENT, "record %u: gpa 0x%llx in no memslot of the bound VM",
					  i, (unsigned long long)h.gpa);
				continue;
			}
			content_checked++;
			if (memcmp(dp, g, PG)) {
				violation(V_CONTENT, "record %u (%s, len %u): gpa 0x%llx applied to the destination differs from guest memory",
					  i, xbz_record_type_name(h.type), h.len,
					  (unsigned long long)h.gpa);
				continue;
			}
			if ((h.type == KVM_XBZRLE_RECORD_ZERO) != page_zero(g))
				violation(V_CONTENT, "record %u: %s for a %szero page",
					  i, xbz_record_type_name(h.type),
					  page_zero(g) ? "" : "non-");
			if (h.type == KVM_XBZRLE_RECORD_XBZRLE) {
				n = xbzrle_encode(before, g, PG, delta_buf,
						  plan.max_delta);
				if (n != (int)h.len || memcmp(delta_buf, data, h.len))
					violation(V_CONTENT, "record %u: XBZRLE delta (%u bytes) is not xbzrle_encode()'s (%d)",
						  i, h.len, n);
			}
		}
	}
	if (off != used)
		violation(V_RECORDS, "records_used %u, the %u records end at %u",
			  used, done, off);
}

/* A gpa for a list: valid, or one of the ways to be wrong. */
static uint64_t pick_gpa(const uint64_t *valid, unsigned int nvalid,
			 const uint64_t *prev, unsigned int nprev)
{
	unsigned int k = rn(100);

	if (nvalid && k < 70)
		return valid[rn(nvalid)];
	if (nprev && k < 78)
		return prev[rn(nprev)];		/* a duplicate */
	if (k < 84)
		return WIN_BASE + rn(DEST_PAGES) * PG;	/* maybe no region */
	if (k < 90)
		return (nvalid ? valid[rn(nvalid)] : WIN_BASE) + 1 + rn(PG - 1);
	if (k < 95)
		return rval64() & ~(PG - 1);
	return rval64();
}

static void do_encode(unsigned int c, bool valid)
{
	struct kvm_xbzrle_encode *a = (void *)argbuf;
	struct fctx *x = &ctxs[c];
	static uint64_t vg[NSLOT * MAX_SLOT_PAGES];
	uint32_t ioc = sizeof(*a), size = sizeof(*a), npages, k, avail;
	unsigned int nvalid, i, n;
	bool all_logged, logged;
	uint64_t *list = (uint64_t *)listbuf;
	const uint64_t *pages = list;
	struct argcheck ac;
	const char *where = "argbuf";
	void *p = argbuf;
	int w = W_ARG, r;

	nvalid = valid_gpas(x, vg, ARRAY_SIZE(vg), &all_logged);
	if (!nvalid)
		valid = false;
	memset(&plan, 0, sizeof(plan));
	plan.list_known = true;

	/* the list: n entries in listbuf */
	n = valid || chance(80) ? 1 + rn(chance(90) ? 4 : 64) : rn(2) ? 0 : rn(LIST_MAX);
	logged = true;
	for (i = 0; i < n; i++) {
		list[i] = valid ? vg[rn(nvalid)] : pick_gpa(vg, nvalid, list, i);
		if (ctx_live(x) && !slot_logged(x->vm, list[i]))
			logged = false;
	}
	if (ctx_live(x) && chance(60))
		touch_pages(x->vm, list, n);
	npages = n;
	plan.max_delta = valid ? 1 + rn(PG) : PG;
	plan.records = recbuf;
	k = 1 + rn(RECBUF_RECS);
	plan.records_size = (valid ? k : 1 + rn(16)) * REC_MAX;

	arg_clear();
	if (!valid) {
		/* the list */
		switch (rn(16)) {
		case 0:
			npages = rval32();
			break;
		case 1:
			npages = n + rn(3);	/* past the entries we wrote */
			break;
		case 2:
			pages = NULL;
			break;
		case 3:
			pages = UNMAPPED;
			break;
		case 4: {
			/* a read-only page */
			uint32_t m = n < PG / 8 ? n : PG / 8;

			mprotect(rolist, PG, PROT_READ | PROT_WRITE);
			memcpy(rolist, list, m * 8);
			mprotect(rolist, PG, PROT_READ);
			pages = (uint64_t *)rolist;
			npages = m;
			break;
		}
		case 5: {
			/* the last entries before the guard page */
			uint32_t m = 1 + rn(n < 16 ? n + 1 : 16);

			if (m > n)
				m = n;
			pages = list + LIST_MAX - m;
			memmove((uint64_t *)pages, list, m * 8);
			npages = m + (rn(2) ? rn(100) : rval32());
			break;
		}
		case 6: {
			/* in guest memory */
			struct fslot *sl = random_slot(rn(NVM));
			uint32_t m = sl ? (uint32_t)(sl->npages * PG / 8) : 0;

			if (!sl)
				break;
			m = n < m ? n : m;
			pages = (uint64_t *)sl->hva;
			memcpy((void *)pages, list, m * 8);
			npages = m + rn(2) * rn(1000);
			break;
		}
		case 7:
			/* misaligned */
			memmove((uint8_t *)list + 4, list, n * 8);
			pages = (uint64_t *)((uint8_t *)list + 4);
			break;
		}
		/* the records */
		switch (rn(16)) {
		case 0:
			plan.records = (uint8_t *)recbuf + 1 + rn(7);
			break;
		case 1:
			plan.records = NULL;
			break;
		case 2:
			plan.records = UNMAPPED;
			break;
		case 3:
			plan.records = robuf;
			break;
		case 4: case 5: {
			struct fslot *sl = random_slot(rn(NVM));

			if (sl) {
				plan.records = sl->hva + (rn((uint32_t)(sl->npages * PG)) & ~7U);
				plan.records_in_guest = true;
			}
			break;
		}
		case 6:
			/* running into the guard page */
			plan.records = recbuf + RECBUF_SIZE - 8 * rn(2 * REC_MAX / 8);
			break;
		case 7:
			plan.records = KERNEL_ADDR;
			break;
		}
		switch (rn(12)) {
		case 0:
			plan.records_size = rval32();
			break;
		case 1:
			plan.records_size = REC_MAX - 1 + rn(3);
			break;
		case 2:
			plan.records_size = rn(2) ? UINT32_MAX : rn(REC_MAX);
			break;
		}
		switch (rn(10)) {
		case 0:
			plan.max_delta = rval32();
			break;
		case 1:
			plan.max_delta = rn(3) ? 1 + rn(PG) : rn(2) ? 0 : PG + 1;
			break;
		}
		if (chance(10))
			a->flags = rval32();
		else
			a->flags = chance(40) ? KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG : 0;
		if (chance(4))
			a->reserved0 = rval32();
		if (chance(4)) {
			/* generation without its flag is refused as reserved */
			if (rn(2))
				a->reserved = rval64();
			else
				a->generation = rval64();
		}
		if (chance(5)) {
			a->npages_done = rval32();
			a->records_used = rval32();
		}
		if (chance(10)) {
			size = pick_size(KVM_XBZRLE_ENCODE_SIZE_VER1, &ioc);
			mutate_tail(argbuf, size, sizeof(*a));
		}
	} else {
		a->flags = logged && rn(2) ?
			   KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG : 0;
	}
	/* what the module can read of the list: up to the next guard page */
	avail = 0;
	if ((const uint8_t *)pages >= listbuf &&
	    (const uint8_t *)pages < listbuf + LIST_MAX * 8) {
		avail = (listbuf + LIST_MAX * 8 - (const uint8_t *)pages) / 8;
	} else if (pages == (uint64_t *)rolist) {
		avail = PG / 8;
	} else if (pages && pages != UNMAPPED) {
		struct fslot *sl = NULL;
		unsigned int v, s;

		for (v = 0; v < NVM; v++)
			for (s = 0; s < NSLOT; s++)
				if (vms[v].slot[s].used &&
				    vms[v].slot[s].hva == (const uint8_t *)pages)
					sl = &vms[v].slot[s];
		avail = sl ? sl->npages * PG / 8 : 0;
		/* the records may overwrite a list in guest memory */
		plan.list_known = !plan.records_in_guest;
	}
	plan.list = pages;
	plan.readable = npages < avail ? npages : avail;

	a->size = size;
	a->pages = (uintptr_t)pages;
	a->records = (uintptr_t)plan.records;
	a->npages = npages;
	a->records_size = plan.records_size;
	a->max_delta = plan.max_delta;
	if (!valid)
		p = place_arg(argbuf, size, &where, &w);
	valid = valid && ctx_live(x);
	snprintf(cur.extra, sizeof(cur.extra),
		 "pages %p (%u readable) npages %u records %p size %u max_delta %u flags 0x%x",
		 (void *)pages, plan.readable, npages, plan.records,
		 plan.records_size, plan.max_delta, a->flags);
	arg_snapshot(&ac, w, ARGBUF_SIZE);
	ac.wlo = offsetof(struct kvm_xbzrle_encode, npages_done);
	ac.whi = offsetof(struct kvm_xbzrle_encode, reserved0);
	r = fuzz_ioctl(c, _IOC(_IOC_READ | _IOC_WRITE, KVM_XBZRLE_IOCTL_TYPE, 3, ioc),
		       p, where);
	arg_verify(&ac, "ENCODE");
	if (valid) {
		/* the module starts a page while a whole record fits */
		strict_calls++;
		if (r || !a->npages_done || a->npages_done > npages ||
		    a->records_used > plan.records_size ||
		    (a->npages_done < npages &&
		     plan.records_size - a->records_used >= REC_MAX))
			violation(V_STRICT, "valid ENCODE of %u pages into %u bytes: %s, npages_done %u records_used %u",
				  npages, plan.records_size, errname(r),
				  a->npages_done, a->records_used);
	}
	if (!r && w == W_ARG)
		check_records(x, npages, a->npages_done, a->records_used);
	else if (!r)
		/* records we cannot see: the destination model is lost */
		x->dest_lost = true, x->records_known = false;
	cur.extra[0] = 0;
}

static void do_cache(unsigned int c)
{
	struct kvm_xbzrle_cache *a = (void *)argbuf;
	uint32_t ioc = sizeof(*a), size = sizeof(*a);
	struct fctx *x = &ctxs[c];
	struct argcheck ac;
	const char *where;
	uint64_t want;
	void *p;
	int w, r;

	arg_clear();
	a->size = size;
	a->flags = rn(4);
	if (a->flags & KVM_XBZRLE_CACHE_SET_SIZE) {
		switch (rn(4)) {
		case 0:
			a->cache_size = rval64();
			break;
		case 1:
			a->cache_size = max_cache_bytes != UINT64_MAX ?
					max_cache_bytes + (rn(3) - 1) * PG : 0;
			break;
		default:
			a->cache_size = rn(64) * PG + (rn(4) ? 0 : rn(PG));
		}
	} else if (chance(5)) {
		a->cache_size = rval64();
	}
	if (chance(8))
		a->flags = rval32();
	if (chance(5))
		a->reserved[rn(2)] = rval64();
	if (chance(8)) {
		size = pick_size(KVM_XBZRLE_CACHE_SIZE_VER1, &ioc);
		a->size = size;
		mutate_tail(argbuf, size, sizeof(*a));
	}
	p = place_arg(argbuf, size, &where, &w);
	arg_snapshot(&ac, w, ARGBUF_SIZE);
	want = a->cache_size & ~(PG - 1);
	r = fuzz_ioctl(c, _IOC(_IOC_READ | _IOC_WRITE, KVM_XBZRLE_IOCTL_TYPE, 4, ioc),
		       p, where);
	if (r == EFAULT) {
		/* maybe done, maybe not */
		if (a->flags & KVM_XBZRLE_CACHE_RESET || w != W_ARG)
			x->records_known = false;
		x->cache_size = UINT64_MAX;
		return;
	}
	if (r) {
		arg_verify(&ac, "SET_CACHE");
		return;
	}
	if (w != W_ARG) {
		x->records_known = false;
		x->cache_size = UINT64_MAX;
		return;
	}
	ac.wlo = offsetof(struct kvm_xbzrle_cache, cache_size);
	ac.whi = offsetof(struct kvm_xbzrle_cache, reserved);
	arg_verify(&ac, "SET_CACHE");
	if (a->flags & KVM_XBZRLE_CACHE_RESET) {
		/* no base left: the destination model starts again */
		x->records = 0;
		x->records_known = true;
		x->dest_lost = false;
		memset(x->dvalid, 0, sizeof(x->dvalid));
	}
	if (a->flags & KVM_XBZRLE_CACHE_SET_SIZE) {
		if (a->cache_size != want)
			violation(V_OUTPUT, "SET_CACHE to %llu: %llu in effect",
				  (unsigned long long)want,
				  (unsigned long long)a->cache_size);
		x->cache_size = want;
	} else if (x->cache_size != UINT64_MAX && a->cache_size != x->cache_size) {
		violation(V_OUTPUT, "SET_CACHE without SET_SIZE: %llu in effect, %llu set",
			  (unsigned long long)a->cache_size,
			  (unsigned long long)x->cache_size);
	}
	x->cache_size = a->cache_size;
}

static void do_stats(unsigned int c)
{
	struct kvm_xbzrle_stats *a = (void *)argbuf;
	uint32_t ioc = sizeof(*a), size = sizeof(*a);
	struct fctx *x = &ctxs[c];
	struct argcheck ac;
	const char *where;
	void *p;
	int w, r;

	arg_clear();
	a->size = size;
	if (chance(5))
		a->flags = rval32();
	if (chance(10))
		a->pages = rval64();	/* out fields are ignored on input */
	if (chance(10)) {
		size = pick_size(KVM_XBZRLE_STATS_SIZE_VER1, &ioc);
		a->size = size;
		mutate_tail(argbuf, size, sizeof(*a));
	}
	p = place_arg(argbuf, size, &where, &w);
	arg_snapshot(&ac, w, ARGBUF_SIZE);
	r = fuzz_ioctl(c, _IOC(_IOC_READ | _IOC_WRITE, KVM_XBZRLE_IOCTL_TYPE, 5, ioc),
		       p, where);
	if (r == EFAULT || (!r && w != W_ARG))
		return;
	if (!r) {
		ac.wlo = offsetof(struct kvm_xbzrle_stats, pages);
		ac.whi = size < sizeof(*a) ? size : sizeof(*a);
	}
	arg_verify(&ac, "GET_STATS");
	if (r || size < sizeof(*a))
		return;
	if (a->pages != a->zero_pages + a->unchanged_pages + a->xbzrle_pages +
			a->raw_pages ||
	    a->cache_hits + a->cache_misses != a->pages - a->zero_pages ||
	    a->raw_pages != a->cache_misses + a->overflows ||
	    a->cache_bytes > a->cache_size || a->cache_bytes % PG ||
	    (x->records_known && a->pages != x->records) ||
	    (x->cache_size != UINT64_MAX && a->cache_size != x->cache_size))
		violation(V_OUTPUT, "GET_STATS: pages %llu (records seen %llu%s) zero %llu unchanged %llu xbzrle %llu raw %llu hits %llu misses %llu overflows %llu cache %llu/%llu (set %llu)",
			  (unsigned long long)a->pages,
			  (unsigned long long)x->records,
			  x->records_known ? "" : ", unknown",
			  (unsigned long long)a->zero_pages,
			  (unsigned long long)a->unchanged_pages,
			  (unsigned long long)a->xbzrle_pages,
			  (unsigned long long)a->raw_pages,
			  (unsigned long long)a->cache_hits,
			  (unsigned long long)a->cache_misses,
			  (unsigned long long)a->overflows,
			  (unsigned long long)a->cache_bytes,
			  (unsigned long long)a->cache_size,
			  (unsigned long long)x->cache_size);
	x->cache_size = a->cache_size;
}

/* Any number: mostly type 0xBD, all directions and sizes. */
static void do_random_ioctl(unsigned int c)
{
	static const unsigned int types[] = { 0xAE, 0xBA, 0xBC, 0xBE, 0xFF, 0x01 };
	unsigned int dir = rn(4), nr = rn(8) ? rn(8) : rn(256);
	unsigned int size = rn(4) ? rn(0x3fff + 1) : rn(200);
	unsigned int type = rn(10) ? KVM_XBZRLE_IOCTL_TYPE : types[rn(ARRAY_SIZE(types))];
	unsigned long cmd = _IOC(dir, type, nr, size);
	uint32_t *a = (uint32_t *)argbuf;
	struct argcheck ac;
	const char *where;
	unsigned int i;
	void *p;
	int w, r, kind = ioctl_kind(cmd);

	arg_clear();
	/* mostly zeros, some random words, a size that may match */
	for (i = 0; i < 32; i++)
		if (chance(10))
			a[i] = rval32();
	a[0] = rn(3) ? size : rval32();
	if (rn(2))
		a[1] = 0;
	/* never a record buffer in our own memory */
	a[4] = a[5] = 0;
	p = place_arg(argbuf, size, &where, &w);
	arg_snapshot(&ac, w, ARGBUF_SIZE);
	if (kind == H_ENCODE) {
		ac.wlo = offsetof(struct kvm_xbzrle_encode, npages_done);
		ac.whi = offsetof(struct kvm_xbzrle_encode, reserved0);
	}
	r = fuzz_ioctl(c, cmd, p, where);
	if (kind == H_OTHER || kind == H_BIND || kind == H_REGION ||
	    (r && r != EFAULT))
		arg_verify(&ac, "random number");
	if (!r && kind == H_BIND) {
		int v = vm_of_fd((int)a[2]);

		if (v < 0 && w == W_ARG)
			violation(V_OUTPUT, "BIND succeeded with vm_fd %d, not a VM of this process",
				  (int)a[2]);
		ctxs[c].vm = v < 0 ? 0 : v;
		ctxs[c].vm_gen = v < 0 ? 0 : vms[v].gen;
		memset(ctxs[c].reg, 0, sizeof(ctxs[c].reg));
	}
	if (!r && kind == H_REGION && ctx_live(&ctxs[c]))
		memset(ctxs[c].reg, 0, sizeof(ctxs[c].reg));
	if (!r && (kind == H_ENCODE || kind == H_CACHE || kind == H_INVALIDATE)) {
		ctxs[c].dest_lost = true;
		ctxs[c].records_known = false;
		ctxs[c].cache_size = UINT64_MAX;
	}
}

/* Opens a context again, maybe bound with all its VM's memslots. */
static void do_reopen(unsigned int c)
{
	unsigned int s;

	ctx_close(c);
	ctx_open(c);
	if (chance(30))
		return;
	do_bind(c, true);
	for (s = 0; s < NSLOT; s++)
		if (ctxs[c].vm >= 0 && vms[ctxs[c].vm].slot[s].used) {
			/* do_region picks a random slot: call the valid one directly */
			struct kvm_xbzrle_region *a = (void *)argbuf;
			struct fslot *sl = &vms[ctxs[c].vm].slot[s];
			int r;

			arg_clear();
			a->size = sizeof(*a);
			a->slot = s;
			a->guest_phys_addr = sl->gpa;
			a->memory_size = sl->npages * PG;
			a->userspace_addr = (uintptr_t)sl->hva;
			r = fuzz_ioctl(c, KVM_XBZRLE_SET_REGION, argbuf, "argbuf");
			strict_calls++;
			if (r)
				violation(V_STRICT, "SET_REGION of memslot %u after BIND: %s",
					  s, errname(r));
			else
				region_model_success(&ctxs[c], a);
		}
}

/* ------------------------------ foreign VM fd ----------------------------- */

static int foreign_vm(void)
{
	int sv[2], fd, st;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		struct kvm_vm vm;

		close(sv[0]);
		if (vm_create(&vm, 0))
			_exit(1);
		_exit(send_fd(sv[1], vm.fd) ? 1 : 0);
	}
	close(sv[1]);
	fd = recv_fd(sv[0]);
	close(sv[0]);
	waitpid(pid, &st, 0);
	return fd;
}

/* ---------------------------------- dmesg --------------------------------- */

static int kmsg_fd = -1;

/* --------------------------- the known-good round ------------------------- */

static uint8_t goodrec[64 * KVM_XBZRLE_RECORD_MAX_SIZE];

static bool good_round(void)
{
	static uint64_t gpas[NSLOT * MAX_SLOT_PAGES];
	struct xbz_dest dest;
	struct kvm_vm kv;
	unsigned int s, n = 0, i, round, done;
	bool ok = true, logged = true;
	int xfd, r;

	/* a kvm_util view of VM 0 for the destination helpers */
	memset(&kv, 0, sizeof(kv));
	kv.fd = vms[0].fd;
	for (s = 0; s < NSLOT; s++) {
		struct fslot *sl = &vms[0].slot[s];

		if (!sl->used)
			continue;
		kv.slots[s] = (struct vm_memslot){ true, s, sl->flags, sl->gpa,
						   sl->npages * PG, sl->hva };
		for (i = 0; i < sl->npages; i++)
			gpas[n++] = sl->gpa + i * PG;
		if (!(sl->flags & KVM_MEM_LOG_DIRTY_PAGES))
			logged = false;
	}
	if (xbz_dest_init(&dest, &kv))
		return false;
	xfd = xbz_open();
	if (xfd < 0 || xbz_bind(xfd, kv.fd) || xbz_set_regions(xfd, &kv)) {
		tap_diag("known-good round: %s", kvm_util_error());
		ok = false;
		goto out;
	}
	for (round = 0; round < 3 && ok; round++) {
		if (round)
			for (i = 0; i < n; i += 3)
				vm_gpa_to_hva(&kv, gpas[i])[rn(PG)] ^= 1 + rn(255);
		for (done = 0; done < n && ok;) {
			struct xbz_encode_result res;

			r = xbz_encode(xfd, logged && vms[0].manual ?
				       KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG : 0,
				       gpas + done, n - done, goodrec,
				       sizeof(goodrec), PG, &res);
			if (r || !res.npages_done ||
			    xbz_walk_records(&dest, goodrec, res.records_used,
					     NULL, NULL) != (int)res.npages_done) {
				tap_diag("known-good round %u: %s", round,
					 kvm_util_error());
				ok = false;
			}
			done += res.npages_done;
		}
		if (ok && xbz_dest_compare(&dest, &kv)) {
			tap_diag("known-good round %u: %s", round, kvm_util_error());
			ok = false;
		}
	}
	tap_diag("known-good round: %u pages of %u memslots, 3 rounds", n,
		 dest.nslots);
out:
	if (xfd >= 0)
		close(xfd);
	xbz_dest_free(&dest);
	return ok;
}

/* ---------------------------------- main ---------------------------------- */

static void *map_or_die(size_t len, int prot)
{
	void *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		tap_bail_out("mmap");
	return p;
}

/* len bytes (a multiple of 8) ending right before a PROT_NONE guard page. */
static uint8_t *map_guarded(size_t len)
{
	size_t rounded = (len + PG - 1) & ~(PG - 1);
	uint8_t *p = map_or_die(rounded + 2 * PG, PROT_READ | PROT_WRITE);

	TEST_ASSERT(!mprotect(p + rounded, 2 * PG, PROT_NONE), "mprotect");
	return p + (rounded - len);
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *s = getenv(name);
	char *end;
	uint64_t v;

	if (!s || !*s)
		return def;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end)
		tap_bail_out("%s=%s is not a number", name, s);
	return v;
}

static void setup(void)
{
	long long max_cache;
	unsigned int c;

	listbuf = map_guarded(LIST_MAX * 8);
	recbuf = map_guarded(RECBUF_SIZE);
	argbuf = map_guarded(ARGBUF_SIZE);
	robuf = map_guarded(2 * PG);
	mprotect(robuf, 2 * PG, PROT_READ);
	rolist = map_or_die(PG, PROT_READ);
	roarg = map_or_die(PG, PROT_READ);
	file_fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	while (fcntl(closed_fd, F_GETFD) != -1)
		closed_fd++;

	max_cache = xbz_debugfs_stat("max_cache_bytes");
	max_cache_bytes = max_cache < 0 ? UINT64_MAX : (uint64_t)max_cache;

	foreign_vm_fd = foreign_vm();
	if (foreign_vm_fd < 0)
		tap_diag("no VM of another process: EIO cases not covered");
	vm_new(0);
	vm_new(1);
	for (c = 0; c < NCTX; c++) {
		ctxs[c].dest = map_or_die(DEST_PAGES * PG, PROT_READ | PROT_WRITE);
		ctx_open(c);
		if (c)
			do_reopen(c);
	}
}

static void fuzz(void)
{
	unsigned int c, k;

	while (calls < calls_target) {
		c = rn(NCTX);
		if (permille(2)) {
			do_reopen(c);
			continue;
		}
		if (permille(1)) {
			slot_churn();
			continue;
		}
		if (rn(20000) == 0) {
			/* VM 1 goes; the contexts bound to it keep it */
			vm_drop(1);
			vm_new(1);
			continue;
		}
		k = rn(100);
		if (k < 10)
			do_random_ioctl(c);
		else if (k < 18)
			do_caps(c);
		else if (k < 23)
			do_bind(c, ctxs[c].vm < 0 && chance(50));
		else if (k < 35)
			do_region(c, chance(30));
		else if (k < 75)
			do_encode(c, chance(25));
		else if (k < 88)
			do_cache(c);
		else
			do_stats(c);
	}
}

int main(void)
{
	struct kvm_xbzrle_caps caps;
	long long n;
	uint64_t seed;
	struct timespec t0, t1;
	unsigned int i, e, c;
	unsigned long total;
	double secs;
	int bad;

	xbz_require_offload(&caps, false);
	kvm_fd = kvm_open();

	seed = env_u64("XBZRLE_FUZZ_SEED",
		       (uint64_t)time(NULL) * 1000003 ^ (uint64_t)getpid());
#ifdef FUZZ_SEED	/* -DFUZZ_SEED=N: a build that repeats a run in the VM */
	seed = env_u64("XBZRLE_FUZZ_SEED", FUZZ_SEED);
#endif
	calls_target = env_u64("XBZRLE_FUZZ_CALLS", 100000);
	rng = seed;
	tap_plan(NTESTS);
	tap_diag("seed %" PRIu64 " (XBZRLE_FUZZ_SEED=%" PRIu64 " repeats this run), %lu calls",
		 seed, seed, calls_target);
	kmsg_fd = kmsg_open();
	setup();

	clock_gettime(CLOCK_MONOTONIC, &t0);
	fuzz();
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	tap_diag("%lu calls in %.1f s: %lu records walked (ZERO %lu UNCHANGED %lu XBZRLE %lu RAW %lu), %lu compared with guest memory, %lu valid calls",
		 calls, secs, records_walked, rtype[1], rtype[2],
		 rtype[3], rtype[4], content_checked, strict_calls);
	for (i = 0; i < H_NR; i++) {
		char line[600];
		int len;

		total = 0;
		for (e = 0; e <= MAXERR; e++)
			total += hist[i][e];
		len = snprintf(line, sizeof(line), "%-10s %6lu calls:", h_name[i], total);
		for (e = 0; e <= MAXERR && len < (int)sizeof(line); e++)
			if (hist[i][e])
				len += snprintf(line + len, sizeof(line) - len, " %s %lu",
						e ? errname(e) : "ok", hist[i][e]);
		tap_diag("%s", line);
	}

	tap_result(calls >= calls_target && !violations[V_ERRNO],
		   "%lu calls: every call succeeded or failed with an errno documented for its ioctl (%lu violations)",
		   calls, violations[V_ERRNO]);
	tap_result(!violations[V_RECORDS],
		   "successful ENCODE calls returned well-formed records: %lu walked (%lu violations)",
		   records_walked, violations[V_RECORDS]);
	tap_result(!violations[V_CONTENT] && content_checked,
		   "records applied to the destination copies equal guest memory, XBZRLE deltas are the encoder's: %lu pages (%lu violations)",
		   content_checked, violations[V_CONTENT]);
	tap_result(!violations[V_STRICT] && strict_calls,
		   "valid calls succeeded with the documented progress: %lu calls (%lu violations)",
		   strict_calls, violations[V_STRICT]);
	tap_result(!violations[V_ARGWRITE],
		   "argument structures written only where documented (%lu violations)",
		   violations[V_ARGWRITE]);
	tap_result(!violations[V_OUTPUT],
		   "outputs consistent: GET_CAPS values, GET_STATS identities and record counts, SET_CACHE sizes, accepted BINDs and regions (%lu violations)",
		   violations[V_OUTPUT]);

	for (c = 0; c < NCTX; c++)
		ctx_close(c);
	tap_result(good_round(),
		   "after the fuzzing, a fresh context encodes VM 0 exactly (3 rounds)");
	vm_drop(0);
	vm_drop(1);
	if (foreign_vm_fd >= 0)
		close(foreign_vm_fd);
	n = xbz_debugfs_stat("contexts");
	if (n < 0)
		tap_skip("no debugfs", "no context left open");
	else
		tap_result(n == 0, "no context left open after closing them all: debugfs contexts %lld",
			   n);
	bad = kmsg_fd < 0 ? -1 : kmsg_count(kmsg_fd, kmsg_problems, NULL);
	if (bad > 0)
		tap_diag("%s", kvm_util_error());
	if (bad < 0)
		tap_skip("/dev/kmsg not readable", "no kernel warning during the run");
	else
		tap_result(!bad, "no kernel warning logged during the run (%d lines)",
			   bad);
	tap_finish();
}
