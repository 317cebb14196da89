/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Run scanning on 64-byte blocks, for the SIMD encoders.
 *
 * The file including this one defines XBZRLE_TARGET before it, and after
 * it xbzrle_eq_mask(a, b): a 64-bit mask of the 64 bytes at @a and @b, bit
 * k set when a[k] == b[k].  Blocks are taken at multiples of 64 from the
 * start of the page and each is compared once; a page whose length is not
 * a multiple of 64 finishes its last partial block a byte at a time, and
 * nothing past @slen is read.
 */
#ifndef _KVM_XBZRLE_SIMD_H
#define _KVM_XBZRLE_SIMD_H

#include <linux/compiler.h>
#include <linux/limits.h>
#include <linux/string.h>

#define XBZRLE_BLOCK	64

/*
 * A vector of @bytes chars, in one register.  Buffers are loaded into and
 * stored from such variables with memcpy(), which the compiler turns into
 * one unaligned load or store.
 */
#define XBZRLE_VEC(bytes)	__attribute__((vector_size(bytes)))

XBZRLE_TARGET
static __always_inline u64 xbzrle_eq_mask(const u8 *a, const u8 *b);

/*
 * Run ends are found from a block's transitions: the bytes where equality
 * changes from the byte before.  Each block is compared once; from one run
 * end to the next only the lowest transition bit is taken and cleared, so
 * a load and a variable shift are not in the dependency chain between
 * runs.  Every call starts where the previous one ended, at a transition,
 * so the transitions left in the block are the ones after it.  A final
 * block shorter than 64 bytes is scanned a byte at a time.
 */
struct xbzrle_scan {
	size_t b;	/* the block's offset */
	u64 t;		/* its transitions not yet returned */
};
/* the first block is at b + 64 = 0 */
#define XBZRLE_SCAN_INIT	{ .b = -(size_t)XBZRLE_BLOCK }

XBZRLE_TARGET
static __always_inline size_t run_end(struct xbzrle_scan *sc, const u8 *old,
				      const u8 *new, size_t i, size_t slen,
				      bool equal)
{
	size_t b;
	u64 eq;

	/* most runs end in the block where they start */
	while (unlikely(!sc->t)) {
		/* the run goes on to the end of this block */
		b = sc->b + XBZRLE_BLOCK;
		if (b + XBZRLE_BLOCK > slen) {
			/* sc stays: later calls come here again */
			if (i < b)
				i = b;
			goto tail;
		}
		eq = xbzrle_eq_mask(old + b, new + b);
		sc->b = b;
		/* the byte before the block is in the run: equal if @equal */
		sc->t = eq ^ (eq << 1 | equal);
	}
	i = sc->b + (size_t)__builtin_ctzll(sc->t);
	sc->t &= sc->t - 1;
	return i;

tail:
	while (i < slen && (old[i] == new[i]) == equal)
		i++;
	return i;
}

/*
 * Differing runs are mostly short: one 32-byte move is cheaper than a call
 * to memcpy, where both buffers have room for it.
 */
XBZRLE_TARGET
static __always_inline void copy_run(u8 *dst, const u8 *src, size_t n,
				     size_t dst_room, size_t src_room)
{
	char XBZRLE_VEC(32) v;

	if (likely(n <= 32 && dst_room >= 32 && src_room >= 32)) {
		memcpy(&v, src, sizeof(v));
		memcpy(dst, &v, sizeof(v));
	} else {
		memcpy(dst, src, n);
	}
}

#endif /* _KVM_XBZRLE_SIMD_H */
