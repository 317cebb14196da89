// SPDX-License-Identifier: GPL-2.0
/*
 * The XBZRLE encoder with AVX2: 64 bytes compared per step as two 32-byte
 * halves.  Byte-identical to xbzrle_encode(), whose body it shares.  The
 * caller checks that the CPU has AVX2 and, in the kernel, holds the FPU
 * (kernel_fpu_begin()).
 */
#include <linux/string.h>
#include <linux/types.h>

#include "xbzrle.h"

#define XBZRLE_TARGET	__attribute__((target("avx2")))
#include "xbzrle_simd.h"

XBZRLE_TARGET
static __always_inline u64 xbzrle_eq_mask(const u8 *a, const u8 *b)
{
	char XBZRLE_VEC(32) a0, a1, b0, b1;
	u32 lo, hi;

	memcpy(&a0, a, 32);
	memcpy(&a1, a + 32, 32);
	memcpy(&b0, b, 32);
	memcpy(&b1, b + 32, 32);
	/* VPMOVMSKB: the comparison's result, 0 or -1 per byte, as bits */
	lo = __builtin_ia32_pmovmskb256((char XBZRLE_VEC(32))(a0 == b0));
	hi = __builtin_ia32_pmovmskb256((char XBZRLE_VEC(32))(a1 == b1));
	return lo | (u64)hi << 32;
}

#define XBZRLE_ENCODER	xbzrle_encode_avx2
#include "xbzrle_encode_body.h"
