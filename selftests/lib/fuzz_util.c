// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_util - offload_fuzz_test's PRNG, its shared state, and the call
 * itself: every ioctl counted and judged against the errnos
 * Documentation/uapi.rst lists for it.  See include/fuzz_util.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "fuzz_util.h"
#include "test_util.h"

/* ---------------------------------- PRNG ---------------------------------- */

uint64_t rng;

uint64_t rnd(void)
{
	return rand64(&rng);
}

uint32_t rn(uint32_t n)
{
	return rand_below(&rng, n);
}

bool chance(unsigned int percent)
{
	return rn(1000) < percent * 10;
}

bool permille(unsigned int n)
{
	return rn(1000) < n;
}

uint64_t interesting64(void)
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

uint64_t rval64(void)
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

uint32_t rval32(void)
{
	return (uint32_t)rval64();
}

/* ------------------------------ shared state ------------------------------ */

struct fvm vms[NVM];
struct fctx ctxs[NCTX];
int kvm_fd, foreign_vm_fd = -1, file_fd = -1, closed_fd = 1000;
uint64_t max_cache_bytes;	/* ceiling, UINT64_MAX unknown */

uint8_t *listbuf;		/* LIST_MAX gpas, then a guard page */
uint8_t *rolist;		/* a read-only page of gpas */
uint8_t *recbuf;		/* RECBUF_SIZE, then a guard */
uint8_t *robuf;			/* 2 read-only pages, then a guard */
uint8_t *argbuf;		/* ARGBUF_SIZE, then a guard */
uint8_t *roarg;			/* a read-only page */
size_t arg_dirty = ARGBUF_SIZE;	/* bytes of argbuf that may be non-zero */

/* --------------------------------- results -------------------------------- */

static const char *const vkind_name[V_NR] = {
	"errno", "records", "content", "valid call", "argument", "output",
};

unsigned long violations[V_NR];
static unsigned long printed;
unsigned long calls, calls_target, records_walked, content_checked,
	      strict_calls, rtype[5];

/* Errno histogram per ioctl. */
const char *const h_name[H_NR] = {
	"GET_CAPS", "BIND", "SET_REGION", "ENCODE", "SET_CACHE", "GET_STATS",
	"INVALIDATE", "unknown",
};
unsigned long hist[H_NR][MAXERR + 1];

/* The call being made, for the violation messages. */
struct fuzz_call cur;

void violation(enum vkind k, const char *fmt, ...)
{
	char msg[1024], hex[300];
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
int ioctl_kind(unsigned long cmd)
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
int fuzz_ioctl(unsigned int c, unsigned long cmd, void *arg,
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
